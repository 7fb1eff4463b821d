//! Who may do what: scoped bearer tokens.
//!
//! Three scopes, each a separate token:
//!
//! | scope | may |
//! |---|---|
//! | `ingest` | send events (`/v1/ingest`), for its rooms only; its `name` is the tenant |
//! | `moderate` | subscribe to alerts, review holds and replay history (`/v1/alerts`), for its rooms only |
//! | `admin` | reload the lexicon, set room tiers, read the stored actions |
//!
//! A token's rooms are exact names (`rooms`) and prefixes (`room_prefixes`); with
//! neither, it covers every room. Tokens are configured by their SHA-256 (hex), never
//! in plain text, or read from an environment variable at startup and hashed at once.
//! A plain hash (not a password hash) is right here: tokens are 32 random bytes from
//! `liveguard token`, not something a person chose, so there is nothing to guess.
//! Lookups go by hash, so comparing a presented token leaks nothing about the others.
//!
//! With no token configured the server is open (anyone who can connect has every
//! scope) and [`check_exposure`] keeps it on loopback unless `--insecure` is given.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};

crate::wire_names! {
    /// What a token may do.
    pub enum Scope {
        /// Send events.
        Ingest = "ingest",
        /// Read alerts and review holds.
        Moderate = "moderate",
        /// Operate the server.
        Admin = "admin",
    }
}

impl Scope {
    /// `scope` alone, as a set of scopes.
    pub fn one(scope: Scope) -> &'static [Scope] {
        match scope {
            Scope::Ingest => &[Scope::Ingest],
            Scope::Moderate => &[Scope::Moderate],
            Scope::Admin => &[Scope::Admin],
        }
    }
}

/// `` `moderate` or `admin` ``: the scopes a refused token lacked.
fn scope_names(scopes: &[Scope]) -> String {
    let names: Vec<String> = scopes.iter().map(|s| format!("`{}`", s.as_str())).collect();
    names.join(" or ")
}

/// One `[[auth.tokens]]` entry of the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Who holds it: the tenant of an ingest token, the moderator of a moderate token.
    /// Shown in logs and recorded as the reviewer; unique.
    pub name: String,
    /// What it may do.
    pub scope: Option<Scope>,
    /// SHA-256 of the token, 64 hex digits (`liveguard token` prints it).
    pub sha256: Option<String>,
    /// Or: the environment variable holding the token itself.
    pub env: Option<String>,
    /// Rooms it covers, by exact name.
    #[serde(default)]
    pub rooms: Vec<String>,
    /// Rooms it covers, by prefix.
    #[serde(default)]
    pub room_prefixes: Vec<String>,
    /// Connections it may hold open at once (default: `limits.connections_per_token`).
    pub max_connections: Option<usize>,
    /// Distinct active rooms an ingest token may send events for
    /// (default: `limits.rooms_per_tenant`).
    pub max_rooms: Option<usize>,
}

/// Environment variables that each define an all-rooms token of one scope, for
/// deployments configured through the environment alone.
pub const ENV_TOKENS: [(&str, Scope); 3] = [
    ("LIVEGUARD_INGEST_TOKEN", Scope::Ingest),
    ("LIVEGUARD_MODERATE_TOKEN", Scope::Moderate),
    ("LIVEGUARD_ADMIN_TOKEN", Scope::Admin),
];

/// Shortest token accepted from the environment (bytes).
const MIN_TOKEN_LEN: usize = 16;

/// An authenticated caller.
#[derive(Debug)]
pub struct Principal {
    /// Its name (the tenant or moderator); `anonymous` on an open server.
    pub name: Arc<str>,
    /// Its scope; `None` on an open server (every scope).
    pub scope: Option<Scope>,
    rooms: HashSet<String>,
    prefixes: Vec<String>,
    /// Its own connection limit, if set.
    pub max_connections: Option<usize>,
    /// Its own active-room limit, if set.
    pub max_rooms: Option<usize>,
}

impl Principal {
    /// The caller of an open server: every scope, every room.
    pub fn anonymous() -> Principal {
        Principal {
            name: "anonymous".into(),
            scope: None,
            rooms: HashSet::new(),
            prefixes: Vec::new(),
            max_connections: None,
            max_rooms: None,
        }
    }

    /// Whether it covers every room.
    pub fn all_rooms(&self) -> bool {
        self.rooms.is_empty() && self.prefixes.is_empty()
    }

    /// Whether it may see or send events of `room`.
    pub fn may_access(&self, room: &str) -> bool {
        self.all_rooms()
            || self.rooms.contains(room)
            || self.prefixes.iter().any(|p| room.starts_with(p.as_str()))
    }

    fn has(&self, scope: Scope) -> bool {
        self.scope.is_none_or(|s| s == scope)
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No token was presented to a server that needs one.
    #[error("a bearer token is required")]
    Missing,
    /// The token is not one of the configured tokens.
    #[error("the token is not valid")]
    Invalid,
    /// The token is valid but for another scope.
    #[error("the token does not have the {} scope", scope_names(.0))]
    Scope(&'static [Scope]),
}

/// A token configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A token entry is malformed.
    #[error("auth.tokens `{name}`: {why}")]
    Token {
        /// The entry's name.
        name: String,
        /// What is wrong.
        why: String,
    },
    /// The server would be reachable from other machines with no token.
    #[error(
        "refusing to serve {0} without tokens: anyone who can reach it could read every room's \
         chat and silence users. Configure [[auth.tokens]] (see `liveguard token`) or pass \
         --insecure"
    )]
    Exposed(SocketAddr),
}

/// The configured tokens, by hash.
#[derive(Debug)]
pub struct Auth {
    by_hash: HashMap<[u8; 32], Arc<Principal>>,
    anonymous: Arc<Principal>,
}

impl Auth {
    /// Build from the configured entries and [`ENV_TOKENS`], reading variables through
    /// `env` (the process environment in production, a map in tests).
    ///
    /// # Errors
    /// [`AuthError::Token`] for a malformed entry, a duplicate name or hash, or an
    /// environment variable that is unset or too short.
    pub fn new(
        specs: &[TokenSpec],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Auth, AuthError> {
        let mut auth = Auth {
            by_hash: HashMap::new(),
            anonymous: Arc::new(Principal::anonymous()),
        };
        let mut names = HashSet::new();
        for spec in specs {
            let bad = |why: &str| AuthError::Token {
                name: spec.name.clone(),
                why: why.to_owned(),
            };
            if spec.name.is_empty() || !names.insert(spec.name.as_str()) {
                return Err(bad("every token needs a unique, non-empty `name`"));
            }
            let scope = spec
                .scope
                .ok_or_else(|| bad("`scope` must be ingest, moderate or admin"))?;
            if scope == Scope::Admin && !(spec.rooms.is_empty() && spec.room_prefixes.is_empty()) {
                return Err(bad("admin tokens cover the whole server: no rooms"));
            }
            if spec.room_prefixes.iter().any(String::is_empty) {
                return Err(bad("an empty room prefix would cover every room"));
            }
            let hash = match (&spec.sha256, &spec.env) {
                (Some(hex), None) => parse_hex(hex).ok_or_else(|| {
                    bad("`sha256` must be 64 hex digits (`liveguard token` prints one)")
                })?,
                (None, Some(var)) => digest(&env_token(var, &env).map_err(|why| bad(&why))?),
                _ => return Err(bad("give exactly one of `sha256` and `env`")),
            };
            let principal = Principal {
                name: spec.name.as_str().into(),
                scope: Some(scope),
                rooms: spec.rooms.iter().cloned().collect(),
                prefixes: spec.room_prefixes.clone(),
                max_connections: spec.max_connections,
                max_rooms: spec.max_rooms,
            };
            if auth.by_hash.insert(hash, Arc::new(principal)).is_some() {
                return Err(bad("the same token is configured twice"));
            }
        }
        for (var, scope) in ENV_TOKENS {
            if env(var).is_none() {
                continue;
            }
            let name = format!("env:{}", scope.as_str());
            let token = env_token(var, &env).map_err(|why| AuthError::Token {
                name: name.clone(),
                why,
            })?;
            let principal = Principal {
                name: name.into(),
                scope: Some(scope),
                ..Principal::anonymous()
            };
            if auth
                .by_hash
                .insert(digest(&token), Arc::new(principal))
                .is_some()
            {
                return Err(AuthError::Token {
                    name: var.to_owned(),
                    why: "the same token is configured twice".into(),
                });
            }
        }
        Ok(auth)
    }

    /// Build from the process environment.
    ///
    /// # Errors
    /// As [`Auth::new`].
    pub fn from_env(specs: &[TokenSpec]) -> Result<Auth, AuthError> {
        Auth::new(specs, |var| std::env::var(var).ok())
    }

    /// Whether no token is configured (every caller has every scope).
    pub fn is_open(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The caller presenting `token`, if it may act with `scope`.
    ///
    /// # Errors
    /// [`Denied`] when the token is missing, unknown or of another scope.
    pub fn authorize(&self, token: Option<&str>, scope: Scope) -> Result<Arc<Principal>, Denied> {
        self.authorize_any(token, Scope::one(scope))
    }

    /// The caller presenting `token`, if it may act with any of `scopes` (a route
    /// that moderators and admins may both read).
    ///
    /// # Errors
    /// [`Denied`] when the token is missing, unknown or of none of `scopes`.
    pub fn authorize_any(
        &self,
        token: Option<&str>,
        scopes: &'static [Scope],
    ) -> Result<Arc<Principal>, Denied> {
        if self.is_open() {
            return Ok(self.anonymous.clone());
        }
        let token = token.ok_or(Denied::Missing)?;
        let principal = self.by_hash.get(&digest(token)).ok_or(Denied::Invalid)?;
        if scopes.iter().any(|&s| principal.has(s)) {
            Ok(principal.clone())
        } else {
            Err(Denied::Scope(scopes))
        }
    }
}

/// Refuse to serve a non-loopback address without tokens, unless `insecure`.
///
/// # Errors
/// [`AuthError::Exposed`].
pub fn check_exposure(addr: SocketAddr, auth: &Auth, insecure: bool) -> Result<(), AuthError> {
    if auth.is_open() && !addr.ip().is_loopback() && !insecure {
        return Err(AuthError::Exposed(addr));
    }
    Ok(())
}

/// SHA-256 of a token, as configured in `sha256` (lowercase hex).
pub fn hash_hex(token: &str) -> String {
    digest(token).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token (32 bytes from the OS, hex) for `liveguard token`.
///
/// # Errors
/// When the operating system's random source cannot be read.
pub fn generate() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn env_token(var: &str, env: &impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let token = env(var).ok_or_else(|| format!("environment variable {var} is not set"))?;
    let token = token.trim().to_owned();
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "the token in {var} is shorter than {MIN_TOKEN_LEN} characters"
        ));
    }
    Ok(token)
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn spec(name: &str, scope: Scope, token: &str) -> TokenSpec {
        TokenSpec {
            name: name.into(),
            scope: Some(scope),
            sha256: Some(hash_hex(token)),
            ..TokenSpec::default()
        }
    }

    #[test]
    fn tokens_are_checked_by_hash_and_scope() {
        let auth = Auth::new(&[spec("shop", Scope::Ingest, TOKEN)], |_| None).unwrap();
        assert!(!auth.is_open());
        assert_eq!(
            &*auth.authorize(Some(TOKEN), Scope::Ingest).unwrap().name,
            "shop"
        );
        assert_eq!(
            auth.authorize(Some(TOKEN), Scope::Moderate).unwrap_err(),
            Denied::Scope(&[Scope::Moderate])
        );
        assert_eq!(
            auth.authorize(Some("guess"), Scope::Ingest).unwrap_err(),
            Denied::Invalid
        );
        assert_eq!(
            auth.authorize(None, Scope::Ingest).unwrap_err(),
            Denied::Missing
        );
    }

    #[test]
    fn an_open_server_admits_anyone_but_only_on_loopback() {
        let auth = Auth::new(&[], |_| None).unwrap();
        assert!(auth.authorize(None, Scope::Admin).unwrap().all_rooms());
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(matches!(
            check_exposure(public, &auth, false),
            Err(AuthError::Exposed(_))
        ));
        check_exposure(public, &auth, true).unwrap();
        check_exposure(local, &auth, false).unwrap();
        let closed = Auth::new(&[spec("a", Scope::Admin, TOKEN)], |_| None).unwrap();
        check_exposure(public, &closed, false).unwrap();
    }

    #[test]
    fn rooms_are_exact_names_or_prefixes() {
        let mut s = spec("shop", Scope::Ingest, TOKEN);
        s.rooms = vec!["r-1".into()];
        s.room_prefixes = vec!["shop-a/".into()];
        let auth = Auth::new(&[s], |_| None).unwrap();
        let p = auth.authorize(Some(TOKEN), Scope::Ingest).unwrap();
        assert!(p.may_access("r-1") && p.may_access("shop-a/7"));
        assert!(!p.may_access("r-10") && !p.may_access("shop-b/7") && !p.all_rooms());
    }

    #[test]
    fn environment_tokens_are_hashed_at_startup() {
        let env = |var: &str| match var {
            "MOD_TOKEN" => Some(format!("{TOKEN}\n")),
            "LIVEGUARD_ADMIN_TOKEN" => Some("fedcba9876543210fedcba".to_owned()),
            _ => None,
        };
        let s = TokenSpec {
            name: "ops".into(),
            scope: Some(Scope::Moderate),
            env: Some("MOD_TOKEN".into()),
            ..TokenSpec::default()
        };
        let auth = Auth::new(&[s], env).unwrap();
        assert_eq!(
            &*auth.authorize(Some(TOKEN), Scope::Moderate).unwrap().name,
            "ops"
        );
        let admin = auth
            .authorize(Some("fedcba9876543210fedcba"), Scope::Admin)
            .unwrap();
        assert_eq!(&*admin.name, "env:admin");
    }

    #[test]
    fn malformed_entries_are_refused() {
        let cases = [
            TokenSpec {
                sha256: Some("abc".into()),
                ..spec("a", Scope::Ingest, TOKEN)
            },
            TokenSpec {
                env: Some("X".into()),
                ..spec("a", Scope::Ingest, TOKEN)
            },
            TokenSpec {
                scope: None,
                ..spec("a", Scope::Ingest, TOKEN)
            },
            TokenSpec {
                rooms: vec!["r".into()],
                ..spec("a", Scope::Admin, TOKEN)
            },
            TokenSpec {
                sha256: None,
                env: Some("UNSET".into()),
                ..spec("a", Scope::Ingest, TOKEN)
            },
            TokenSpec {
                room_prefixes: vec![String::new()],
                ..spec("a", Scope::Ingest, TOKEN)
            },
        ];
        for case in cases {
            assert!(
                Auth::new(std::slice::from_ref(&case), |_| None).is_err(),
                "{case:?}"
            );
        }
        let twice = [
            spec("a", Scope::Ingest, TOKEN),
            spec("b", Scope::Moderate, TOKEN),
        ];
        assert!(Auth::new(&twice, |_| None).is_err());
        let same_name = [
            spec("a", Scope::Ingest, TOKEN),
            spec("a", Scope::Moderate, "another-token-of-enough-length"),
        ];
        assert!(Auth::new(&same_name, |_| None).is_err());
    }
}
