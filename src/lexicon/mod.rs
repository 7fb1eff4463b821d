//! Lexicons: the human-edited TOML files that say what to look for, and the policy that
//! says what to do about it.
//!
//! A lexicon directory holds one file per category (`false_publicity.toml`, …), shared
//! context groups (`groups.toml`), benign sentences that must never be flagged
//! (`traps.toml`) and the decision table (`policy.toml`, which also carries the version
//! stamped on every verdict). The default directory is compiled into the binary;
//! `--lexicons DIR` replaces it. See `docs/LEXICON.md` for the format.
//!
//! This module parses and validates; [`crate::matcher`] compiles the result.

mod embedded;
pub mod pinyin;
pub mod template;

use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::channel::{ChannelSet, Via};
use crate::context::Context;
use crate::event::{ActionKind, Category, Decision, EventKind, Role, Severity, Tier};

/// The raw files of a lexicon directory: (file name, contents).
#[derive(Clone, Debug)]
pub struct LexiconSource {
    /// Where the files came from, for messages: `embedded` or the directory path.
    pub origin: String,
    /// File name and contents, sorted by name.
    pub files: Vec<(String, String)>,
}

impl LexiconSource {
    /// Files given in memory, for tools and tests: (file name, contents).
    pub fn from_files(origin: &str, files: &[(&str, &str)]) -> LexiconSource {
        let mut files: Vec<(String, String)> = files
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect();
        files.sort();
        LexiconSource {
            origin: origin.to_owned(),
            files,
        }
    }

    /// The default lexicons compiled into the binary.
    pub fn embedded() -> LexiconSource {
        LexiconSource::from_files("embedded", embedded::FILES)
    }

    /// Every `*.toml` file of `dir`.
    ///
    /// # Errors
    /// [`LexiconError::Io`] when the directory or a file cannot be read, or is not UTF-8.
    pub fn from_dir(dir: &Path) -> Result<LexiconSource, LexiconError> {
        let io = |e: std::io::Error| LexiconError::Io {
            path: dir.display().to_string(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| LexiconError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            })?;
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            files.push((name, text));
        }
        files.sort();
        Ok(LexiconSource {
            origin: dir.display().to_string(),
            files,
        })
    }

    /// A short content hash of all files (FNV-1a over names and contents), so that two
    /// deployments can tell whether they run the same lexicon whatever its version says.
    pub fn content_hash(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (name, text) in &self.files {
            for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }
}

/// Failure to read a lexicon at all (as opposed to [`Problem`]s in its content).
#[derive(Debug, thiserror::Error)]
pub enum LexiconError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The content has errors; see the list.
    #[error("lexicon has {} error(s):\n{}", .0.iter().filter(|p| p.is_error()).count(), ProblemList(.0))]
    Invalid(Vec<Problem>),
}

/// One finding of validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error (the lexicon is refused) or warning.
    pub level: Level,
    /// The file it is in.
    pub file: String,
    /// The entry or group id, when there is one.
    pub id: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// How bad a [`Problem`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The lexicon cannot be used.
    Error,
    /// Worth fixing; the lexicon still loads.
    Warning,
}

impl Problem {
    /// Whether this problem refuses the lexicon.
    pub fn is_error(&self) -> bool {
        self.level == Level::Error
    }

    pub(crate) fn error(file: &str, id: Option<&str>, message: impl Into<String>) -> Problem {
        Problem {
            level: Level::Error,
            file: file.to_owned(),
            id: id.map(str::to_owned),
            message: message.into(),
        }
    }

    pub(crate) fn warning(file: &str, id: Option<&str>, message: impl Into<String>) -> Problem {
        Problem {
            level: Level::Warning,
            ..Problem::error(file, id, message)
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        match &self.id {
            Some(id) => write!(f, "{level}: {} [{id}]: {}", self.file, self.message),
            None => write!(f, "{level}: {}: {}", self.file, self.message),
        }
    }
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0.iter().filter(|p| p.is_error()) {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

// === file formats ===

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: Category,
    /// Legal basis used by entries that do not give their own.
    #[serde(default)]
    basis: Option<String>,
    /// Allow-list phrases that apply to every entry of the file.
    #[serde(default)]
    allow: Vec<AllowItem>,
    #[serde(default, rename = "group")]
    groups: Vec<GroupDef>,
    #[serde(default, rename = "entry")]
    entries: Vec<EntryDef>,
    /// Benign sentences that guard this file's entries (as in `traps.toml`).
    #[serde(default, rename = "trap")]
    traps: Vec<Trap>,
    /// Channel switches for every entry of the file that does not set its own.
    #[serde(default)]
    channels: FileChannels,
}

/// `[channels]` of a category file: defaults for its entries' channel switches.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChannels {
    pinyin: Option<bool>,
    initials: Option<bool>,
    lookalike: Option<bool>,
    emoji: Option<bool>,
    homophone: Option<bool>,
    clause: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsFile {
    #[serde(default, rename = "group")]
    groups: Vec<GroupDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrapsFile {
    #[serde(default, rename = "trap")]
    traps: Vec<Trap>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupDef {
    id: String,
    words: Vec<String>,
    #[serde(default)]
    roles: Option<Vec<Role>>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryDef {
    id: String,
    #[serde(default)]
    term: Option<String>,
    #[serde(default)]
    variants: Vec<String>,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    anchors: Vec<String>,
    #[serde(default)]
    min_digits: usize,
    severity: Severity,
    #[serde(default)]
    roles: Option<Vec<Role>>,
    #[serde(default)]
    allow: Vec<AllowItem>,
    #[serde(default)]
    requires: Vec<String>,
    #[serde(default)]
    unless: Vec<String>,
    #[serde(default)]
    pinyin: Option<bool>,
    #[serde(default)]
    initials: Option<bool>,
    #[serde(default)]
    lookalike: Option<bool>,
    #[serde(default)]
    emoji: Option<bool>,
    #[serde(default)]
    homophone: Option<bool>,
    #[serde(default)]
    clause: Option<bool>,
    #[serde(default)]
    review: bool,
    note: String,
    #[serde(default)]
    basis: Option<String>,
    #[serde(default)]
    suggest: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
enum AllowItem {
    Phrase(String),
    Scoped { phrase: String, roles: Vec<Role> },
}

/// A benign sentence that the lexicon must never flag (`lexicon check` verifies it).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Trap {
    /// The sentence.
    pub text: String,
    /// Who says it (default: viewer).
    #[serde(default = "default_role")]
    pub role: Role,
    /// Why it is a trap, for the reader.
    #[serde(default)]
    pub note: Option<String>,
}

fn default_role() -> Role {
    Role::Viewer
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: String,
    #[serde(default)]
    channels: ChannelSwitches,
    #[serde(default, rename = "decide")]
    rules: Vec<DecideRule>,
    #[serde(default, rename = "escalate")]
    escalate: Vec<EscalateRule>,
}

/// `[channels]` in `policy.toml`: which match channels the whole lexicon uses (all by
/// default). An entry can switch a channel off for itself (`homophone = false`).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
struct ChannelSwitches {
    pinyin: bool,
    initials: bool,
    lookalike: bool,
    emoji: bool,
    homophone: bool,
    clause: bool,
}

impl Default for ChannelSwitches {
    fn default() -> ChannelSwitches {
        ChannelSwitches {
            pinyin: true,
            initials: true,
            lookalike: true,
            emoji: true,
            homophone: true,
            clause: true,
        }
    }
}

impl ChannelSwitches {
    fn set(self) -> ChannelSet {
        ChannelSet::all()
            .with(Via::Pinyin, self.pinyin)
            .with(Via::Initials, self.initials)
            .with(Via::Lookalike, self.lookalike)
            .with(Via::Emoji, self.emoji)
            .with(Via::Homophone, self.homophone)
            .with(Via::Clause, self.clause)
    }
}

/// One row of the decision table in `policy.toml`: the first row whose every given
/// field matches a hit decides it; an absent field matches anything.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DecideRule {
    /// Categories this row applies to.
    #[serde(default)]
    pub category: Option<Vec<Category>>,
    /// Severities this row applies to.
    #[serde(default)]
    pub severity: Option<Vec<Severity>>,
    /// Speaker roles this row applies to.
    #[serde(default)]
    pub role: Option<Vec<Role>>,
    /// Event kinds this row applies to.
    #[serde(default)]
    pub kind: Option<Vec<EventKind>>,
    /// Room tiers this row applies to.
    #[serde(default)]
    pub tier: Option<Vec<Tier>>,
    /// Match channels this row applies to (`exact`, `pinyin`, `initials`, `lookalike`,
    /// `emoji`, `homophone`).
    #[serde(default)]
    pub via: Option<Vec<Via>>,
    /// Contexts this row applies to: the row matches a hit marked with any of them
    /// (`negated`, `questioned`, `quoted`, `reported`), or, with `none`, a hit with no
    /// context.
    #[serde(default)]
    pub context: Option<Vec<Context>>,
    /// With `true`, the row applies only to hits of `review` entries (claims lawful
    /// when true); with `false`, only to the others.
    #[serde(default)]
    pub review: Option<bool>,
    /// The decision.
    pub decision: Decision,
}

/// One rung of the escalation ladder in `policy.toml`: when `count` hits that match
/// the filter fall within `window_s` in one scope, take `action`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EscalateRule {
    /// Stable id, part of every action id this rule produces.
    pub id: String,
    /// The action to take.
    pub action: ActionKind,
    /// Where strikes are counted: per sender, per room, or per event (immediate).
    #[serde(default)]
    pub scope: Scope,
    /// Categories counted (absent: all).
    #[serde(default)]
    pub category: Option<Vec<Category>>,
    /// Speaker roles counted (absent: all).
    #[serde(default)]
    pub role: Option<Vec<Role>>,
    /// Least severity counted.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Strikes within the window that trigger the action.
    #[serde(default = "one")]
    pub count: usize,
    /// The count in enhanced-monitoring rooms (default: one less, at least 1).
    #[serde(default)]
    pub enhanced_count: Option<usize>,
    /// The sliding window, in seconds.
    #[serde(default = "default_window_s")]
    pub window_s: u64,
    /// Duration of the action (mute, restriction), in seconds; doubles with every
    /// strike beyond `count`, up to `max_duration_s`.
    #[serde(default)]
    pub duration_s: Option<u64>,
    /// Upper bound of the doubling duration.
    #[serde(default)]
    pub max_duration_s: Option<u64>,
    /// Why, for the record (the count and category are added for counted rules).
    pub reason: String,
    /// Legal basis cited by the action (default: the basis of the hit's entry).
    #[serde(default)]
    pub basis: Option<String>,
}

fn default_min_severity() -> Severity {
    Severity::Medium
}

fn one() -> usize {
    1
}

fn default_window_s() -> u64 {
    600
}

/// Where an escalation rule counts strikes.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Each event on its own: the action follows every matching hit.
    #[default]
    Event,
    /// Per sender in a room.
    User,
    /// Per room (all speakers).
    Room,
}

// === validated model ===

/// A context group: words whose presence an entry may require (`requires`) or that
/// veto it (`unless`), and that `{id}` expands to inside terms and allow phrases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// The id used in `requires`, `unless` and `{templates}`.
    pub id: String,
    /// The file it is defined in.
    pub file: String,
    /// What the group is for, for reviewers.
    pub note: Option<String>,
    /// The words.
    pub words: Vec<String>,
    /// When set, the group only counts for these speakers (for `requires`/`unless`).
    pub roles: Option<Vec<Role>>,
}

/// An allow-list phrase: a hit inside an occurrence of it is dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allow {
    /// The phrase (templates allowed).
    pub phrase: String,
    /// When set, the phrase only allows for these speakers.
    pub roles: Option<Vec<Role>>,
}

/// How an entry finds its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Matching {
    /// Literal terms (the term and its variants; templates allowed).
    Terms {
        /// The canonical term, reported in hits.
        term: String,
        /// Other spellings: homophones, abbreviations. Which generated spellings are
        /// added (pinyin, initials, …) is [`Entry::channels`].
        variants: Vec<String>,
    },
    /// A regular expression over the normalized text.
    Pattern {
        /// The regex source.
        pattern: String,
        /// Literals of which one must be present before the regex runs.
        anchors: Vec<String>,
        /// Digits that must be present before the regex runs.
        min_digits: usize,
        /// Label reported as the hit's term.
        label: String,
    },
}

/// One lexicon entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Stable id (`dv.wechat`), reported as the hit's rule.
    pub id: String,
    /// The file it came from.
    pub file: String,
    /// Category (from the file).
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Speakers it applies to.
    pub roles: Vec<Role>,
    /// Terms or pattern.
    pub matching: Matching,
    /// Allow-list phrases (the entry's own and its file's).
    pub allow: Vec<Allow>,
    /// Groups of which at least one must be present.
    pub requires: Vec<String>,
    /// Groups of which none may be present.
    pub unless: Vec<String>,
    /// Explanation and legal basis, for reviewers.
    pub note: String,
    /// Legal basis cited in actions.
    pub basis: String,
    /// The match channels this entry uses (the lexicon's `[channels]` less the entry's
    /// own switches and its file's defaults).
    pub channels: ChannelSet,
    /// The channels whose read-back views (the emoji reading views, the look-alike
    /// channel's recomposed view) may report this entry: the lexicon's `[channels]`
    /// less the entry's own switches. A file's `[channels]` defaults only save
    /// spellings (automaton size); a view reads the event, not the terms, and costs
    /// nothing per entry, so it still reads the file's entries.
    pub read_back: ChannelSet,
    /// A claim that is lawful when true (独家, 老字号, 获奖): a moderator verifies it
    /// rather than the engine correcting it. Decision rows can select these with
    /// `review = true`.
    pub review: bool,
    /// Compliant wordings to offer instead (最好 → 很好用), shown by the pre-live
    /// script check.
    pub suggest: Vec<String>,
}

/// A parsed, validated lexicon directory.
#[derive(Clone, Debug)]
pub struct Lexicon {
    /// Version stamped on every verdict (from `policy.toml`).
    pub version: String,
    /// Content hash of the source files.
    pub hash: String,
    /// Where it was loaded from.
    pub origin: String,
    /// Entries of every category file.
    pub entries: Vec<Entry>,
    /// Context groups from every file.
    pub groups: Vec<Group>,
    /// Benign sentences that must not be flagged.
    pub traps: Vec<Trap>,
    /// The decision table, in order.
    pub decide: Vec<DecideRule>,
    /// The escalation ladder.
    pub escalate: Vec<EscalateRule>,
    /// Warnings found while loading.
    pub warnings: Vec<Problem>,
}

const POLICY_FILE: &str = "policy.toml";
const GROUPS_FILE: &str = "groups.toml";
const TRAPS_FILE: &str = "traps.toml";
const DEFAULT_BASIS: &str = "直播电商监督管理办法 第31条";

impl Lexicon {
    /// The embedded default lexicon. It is validated by the test suite, so failure here
    /// is a build defect.
    ///
    /// # Panics
    /// If the embedded lexicon is invalid.
    pub fn embedded() -> Lexicon {
        Lexicon::parse(&LexiconSource::embedded()).expect("the embedded lexicon is valid")
    }

    /// Load from `dir`, or the embedded default when `dir` is `None`.
    ///
    /// # Errors
    /// As [`LexiconSource::from_dir`] and [`Lexicon::parse`].
    pub fn load(dir: Option<&Path>) -> Result<Lexicon, LexiconError> {
        match dir {
            Some(d) => Lexicon::parse(&LexiconSource::from_dir(d)?),
            None => Ok(Lexicon::embedded()),
        }
    }

    /// Parse and validate the files of `src`.
    ///
    /// # Errors
    /// [`LexiconError::Invalid`] with every problem found, when any is an error.
    pub fn parse(src: &LexiconSource) -> Result<Lexicon, LexiconError> {
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        let mut groups = Vec::new();
        let mut traps = Vec::new();
        let mut policy = None;

        for (name, text) in &src.files {
            let parsed = match name.as_str() {
                POLICY_FILE => toml::from_str::<PolicyFile>(text).map(|p| policy = Some(p)),
                GROUPS_FILE => toml::from_str::<GroupsFile>(text)
                    .map(|g| collect_groups(name, g.groups, &mut groups)),
                TRAPS_FILE => toml::from_str::<TrapsFile>(text).map(|t| traps.extend(t.traps)),
                _ => toml::from_str::<CategoryFile>(text).map(|f| {
                    collect_groups(name, f.groups, &mut groups);
                    let file_basis = f.basis.unwrap_or_else(|| DEFAULT_BASIS.to_owned());
                    let file_allow: Vec<Allow> = f.allow.into_iter().map(Allow::from).collect();
                    traps.extend(f.traps);
                    for e in f.entries {
                        entries.push(entry_from_def(
                            name,
                            f.category,
                            &file_basis,
                            &file_allow,
                            f.channels,
                            e,
                        ));
                    }
                }),
            };
            if let Err(e) = parsed {
                problems.push(Problem::error(name, None, e.to_string()));
            }
        }

        let policy = match policy {
            Some(p) => p,
            None => {
                problems.push(Problem::error(POLICY_FILE, None, "missing policy.toml"));
                PolicyFile {
                    version: String::new(),
                    channels: ChannelSwitches::default(),
                    rules: Vec::new(),
                    escalate: Vec::new(),
                }
            }
        };
        if policy.version.trim().is_empty() && !problems.iter().any(|p| p.file == POLICY_FILE) {
            problems.push(Problem::error(POLICY_FILE, None, "`version` is empty"));
        }
        let lexicon_channels = policy.channels.set();
        for e in &mut entries {
            e.channels = e.channels.intersect(lexicon_channels);
            e.read_back = e.read_back.intersect(lexicon_channels);
        }
        validate(&entries, &groups, &mut problems);
        validate_escalation(&policy.escalate, &mut problems);

        let (errors, warnings): (Vec<Problem>, Vec<Problem>) =
            problems.into_iter().partition(Problem::is_error);
        if !errors.is_empty() {
            return Err(LexiconError::Invalid(
                errors.into_iter().chain(warnings).collect(),
            ));
        }
        Ok(Lexicon {
            version: policy.version,
            hash: src.content_hash(),
            origin: src.origin.clone(),
            entries,
            groups,
            traps,
            decide: policy.rules,
            escalate: policy.escalate,
            warnings,
        })
    }

    /// The group with this id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }
}

impl From<AllowItem> for Allow {
    fn from(a: AllowItem) -> Allow {
        match a {
            AllowItem::Phrase(phrase) => Allow {
                phrase,
                roles: None,
            },
            AllowItem::Scoped { phrase, roles } => Allow {
                phrase,
                roles: Some(roles),
            },
        }
    }
}

fn collect_groups(file: &str, defs: Vec<GroupDef>, groups: &mut Vec<Group>) {
    for g in defs {
        groups.push(Group {
            id: g.id,
            file: file.to_owned(),
            words: g.words,
            roles: g.roles,
            note: g.note,
        });
    }
}

fn entry_from_def(
    file: &str,
    category: Category,
    file_basis: &str,
    file_allow: &[Allow],
    file_channels: FileChannels,
    e: EntryDef,
) -> Entry {
    // The entry's own switch, else the file's, else on.
    let on = |entry: Option<bool>, file: Option<bool>| entry.or(file).unwrap_or(true);
    let f = file_channels;
    let channels = ChannelSet::all()
        .with(Via::Pinyin, on(e.pinyin, f.pinyin))
        .with(Via::Initials, on(e.initials, f.initials))
        .with(Via::Lookalike, on(e.lookalike, f.lookalike))
        .with(Via::Emoji, on(e.emoji, f.emoji))
        .with(Via::Homophone, on(e.homophone, f.homophone))
        .with(Via::Clause, on(e.clause, f.clause));
    let read_back = ChannelSet::all()
        .with(Via::Lookalike, e.lookalike.unwrap_or(true))
        .with(Via::Emoji, e.emoji.unwrap_or(true));
    let matching = match (e.term, e.pattern) {
        (Some(term), _) => Matching::Terms {
            term,
            variants: e.variants,
        },
        (None, Some(pattern)) => Matching::Pattern {
            label: e.variants.first().cloned().unwrap_or_else(|| e.id.clone()),
            pattern,
            anchors: e.anchors,
            min_digits: e.min_digits,
        },
        (None, None) => Matching::Terms {
            term: String::new(),
            variants: e.variants,
        },
    };
    let mut allow: Vec<Allow> = e.allow.into_iter().map(Allow::from).collect();
    allow.extend(file_allow.iter().cloned());
    Entry {
        id: e.id,
        file: file.to_owned(),
        category,
        severity: e.severity,
        roles: e.roles.unwrap_or_else(|| Role::ALL.to_vec()),
        matching,
        allow,
        requires: e.requires,
        unless: e.unless,
        note: e.note,
        basis: e.basis.unwrap_or_else(|| file_basis.to_owned()),
        channels,
        read_back,
        review: e.review,
        suggest: e.suggest,
    }
}

fn validate_escalation(rules: &[EscalateRule], problems: &mut Vec<Problem>) {
    let mut ids = HashSet::new();
    for r in rules {
        let id = Some(r.id.as_str());
        if !ids.insert(r.id.as_str()) {
            problems.push(Problem::error(POLICY_FILE, id, "duplicate escalation id"));
        }
        if r.count == 0 || r.enhanced_count == Some(0) {
            problems.push(Problem::error(
                POLICY_FILE,
                id,
                "`count` must be at least 1",
            ));
        }
        if r.scope == Scope::Event && r.count > 1 {
            problems.push(Problem::error(
                POLICY_FILE,
                id,
                "an event-scoped rule counts one event: use scope \"user\" or \"room\"",
            ));
        }
        if r.window_s == 0 {
            problems.push(Problem::error(
                POLICY_FILE,
                id,
                "`window_s` must be positive",
            ));
        }
        if let (Some(d), Some(max)) = (r.duration_s, r.max_duration_s)
            && max < d
        {
            problems.push(Problem::error(
                POLICY_FILE,
                id,
                "`max_duration_s` is below `duration_s`",
            ));
        }
    }
}

/// Checks that need the whole lexicon; the matcher adds the ones that need it compiled
/// (a term swallowed by its own allow-list, a trap the lexicon flags).
fn validate(entries: &[Entry], groups: &[Group], problems: &mut Vec<Problem>) {
    let mut group_ids = HashSet::new();
    for g in groups {
        if !group_ids.insert(g.id.as_str()) {
            problems.push(Problem::error(&g.file, Some(&g.id), "duplicate group id"));
        }
        if g.words.is_empty() {
            problems.push(Problem::error(&g.file, Some(&g.id), "group has no words"));
        }
        // Group words are matched as normalized substrings: 谢谢 is 谢, and counts
        // wherever 谢 stands (感谢, 谢绝). Write such a word as what it matches.
        for w in &g.words {
            let n = crate::normalize::NormText::normalized(w);
            if n.as_str().chars().count() == 1 && w.chars().count() > 1 {
                problems.push(Problem::warning(
                    &g.file,
                    Some(&g.id),
                    format!(
                        "group word `{w}` normalizes to `{}` and counts wherever that \
                         character stands: write `{}` if that is meant",
                        n.as_str(),
                        n.as_str()
                    ),
                ));
            }
        }
    }
    let mut ids = HashSet::new();
    for e in entries {
        let id = Some(e.id.as_str());
        if e.id.trim().is_empty() {
            problems.push(Problem::error(&e.file, None, "entry with an empty id"));
        }
        if !ids.insert(e.id.as_str()) {
            problems.push(Problem::error(&e.file, id, "duplicate entry id"));
        }
        if e.note.trim().is_empty() {
            problems.push(Problem::error(&e.file, id, "`note` (legal basis) is empty"));
        }
        if e.roles.is_empty() {
            problems.push(Problem::error(
                &e.file,
                id,
                "`roles` is empty: the entry can never hit",
            ));
        }
        for g in e.requires.iter().chain(&e.unless) {
            if !group_ids.contains(g.as_str()) {
                problems.push(Problem::error(&e.file, id, format!("unknown group `{g}`")));
            }
        }
        let mut strings: Vec<&str> = e.allow.iter().map(|a| a.phrase.as_str()).collect();
        match &e.matching {
            Matching::Terms { term, variants, .. } => {
                if term.trim().is_empty() {
                    problems.push(Problem::error(
                        &e.file,
                        id,
                        "entry needs `term` or `pattern`",
                    ));
                }
                strings.push(term);
                strings.extend(variants.iter().map(String::as_str));
            }
            Matching::Pattern {
                pattern, anchors, ..
            } => {
                for (_, g) in template::pattern_refs(pattern) {
                    if !group_ids.contains(g) {
                        problems.push(Problem::error(
                            &e.file,
                            id,
                            format!("pattern names unknown group `{{{g}}}`"),
                        ));
                    }
                }
                let words = |g: &str| groups.iter().find(|x| x.id == g).map(|x| x.words.clone());
                if let Err(err) = regex::Regex::new(&template::expand_pattern(pattern, words)) {
                    problems.push(Problem::error(&e.file, id, format!("bad regex: {err}")));
                }
                // Group words are normalized before they reach a pattern: only the
                // pattern's own literals can hold a dead doubled character.
                let own = template::expand_pattern(pattern, |_| Some(Vec::new()));
                if let Some(pair) = doubled_literal(&own) {
                    problems.push(Problem::error(
                        &e.file,
                        id,
                        format!(
                            "pattern spells `{pair}`, which normalized text never holds \
                             (repeats collapse): write it once"
                        ),
                    ));
                }
                strings.extend(anchors.iter().map(String::as_str));
            }
        }
        for s in strings {
            if let Err(msg) = template::check(s, &group_ids) {
                problems.push(Problem::error(&e.file, id, msg));
            }
        }
    }
}

/// A character written twice in a row in a regex, outside a character class: the
/// normalizer collapses repeats (`瘦瘦针` is `瘦针`, `app` is `ap`), so such a literal
/// never matches. Chinese numerals are spelled out again for rules and may repeat.
fn doubled_literal(pattern: &str) -> Option<String> {
    const NUMERALS: &str = "〇零一二三四五六七八九十百千万两";
    let mut class = false;
    let mut escaped = false;
    let mut last: Option<char> = None;
    for c in pattern.chars() {
        if escaped {
            escaped = false;
            last = None;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '[' if !class => class = true,
            ']' if class => class = false,
            _ if class => {}
            _ => {
                let letter =
                    c.is_ascii_lowercase() || (crate::channel::is_han(c) && !NUMERALS.contains(c));
                if letter && last == Some(c) {
                    return Some(format!("{c}{c}"));
                }
                last = Some(c);
                continue;
            }
        }
        last = None;
    }
    None
}

#[cfg(test)]
mod tests;
