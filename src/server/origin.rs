//! Cross-site request checks: a browser page from another site must not open the
//! WebSocket routes or change state (a WebSocket upgrade is not subject to CORS, and a
//! `text/plain` POST needs no preflight), even on a loopback server without tokens.
//!
//! Every WebSocket upgrade and every request that is not `GET`, `HEAD` or `OPTIONS` is
//! checked: one without an `Origin` header (a platform's or a tool's client: browsers
//! always send one) passes; one whose Origin is the server's own (the same host and
//! port as its `Host` header) or is listed in `auth.allowed_origins` passes; the rest
//! are refused with 403 and counted in `liveguard_auth_denied_total{reason="origin"}`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::access::Refused;
use crate::telemetry as t;

/// Middleware: refuse cross-site upgrades and state changes.
pub(super) async fn check(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let guarded = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || req.headers().contains_key(header::UPGRADE);
    if guarded
        && let Some(origin) = foreign_origin(req.headers(), &state.config.auth.allowed_origins)
    {
        metrics::counter!(t::AUTH_DENIED, "reason" => "origin").increment(1);
        // Counted; a page hammering the server must not flood the log.
        tracing::debug!(%origin, path = %req.uri().path(), "Cross-origin request refused.");
        return Refused {
            status: StatusCode::FORBIDDEN,
            error: format!("origin {origin} is not allowed (same origin, or auth.allowed_origins)"),
        }
        .into_response();
    }
    next.run(req).await
}

/// The request's Origin if it is neither absent, nor the server's own, nor allowed.
fn foreign_origin(headers: &HeaderMap, allowed: &[String]) -> Option<String> {
    let origin = headers.get(header::ORIGIN)?;
    let Ok(origin) = origin.to_str() else {
        return Some(String::from_utf8_lossy(origin.as_bytes()).into_owned());
    };
    let origin = origin.trim();
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return None;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    if host.is_some_and(|host| same_authority(origin, host)) {
        return None;
    }
    Some(origin.to_owned())
}

/// Whether `origin` (`scheme://host[:port]`) names the authority `host` (`host[:port]`,
/// the Host header), default ports included.
fn same_authority(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null", or not an origin at all
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let with_port = |a: &str| -> String {
        let a = a.to_ascii_lowercase();
        // An IPv6 literal ends in `]` without a port.
        match a.rsplit_once(':') {
            Some((_, port)) if !a.ends_with(']') && port.bytes().all(|b| b.is_ascii_digit()) => a,
            _ => format!("{a}:{default_port}"),
        }
    };
    with_port(authority) == with_port(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn own_origin_absent_origin_and_listed_origins_pass() {
        let none: &[String] = &[];
        assert_eq!(foreign_origin(&headers(None, "127.0.0.1:8080"), none), None);
        for (origin, host) in [
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("http://LOCALHOST:8080", "localhost:8080"),
            ("https://mod.example", "mod.example"),
            ("https://mod.example:443", "mod.example"),
            ("http://[::1]:8080", "[::1]:8080"),
        ] {
            assert_eq!(
                foreign_origin(&headers(Some(origin), host), none),
                None,
                "{origin}"
            );
        }
        let allowed = vec!["https://console.example/".to_owned()];
        assert_eq!(
            foreign_origin(
                &headers(Some("https://console.example"), "10.0.0.2:8080"),
                &allowed
            ),
            None
        );
    }

    #[test]
    fn other_sites_null_and_other_ports_are_foreign() {
        let none: &[String] = &[];
        for (origin, host) in [
            ("https://evil.example", "127.0.0.1:8080"),
            ("http://127.0.0.1:9999", "127.0.0.1:8080"),
            ("https://127.0.0.1:8080", "127.0.0.1:8080:1"),
            ("http://localhost:8080", "127.0.0.1:8080"),
            ("null", "127.0.0.1:8080"),
            ("http://127.0.0.1.evil.example:8080", "127.0.0.1:8080"),
        ] {
            assert!(
                foreign_origin(&headers(Some(origin), host), none).is_some(),
                "{origin}"
            );
        }
    }
}
