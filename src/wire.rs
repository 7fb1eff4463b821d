//! The frames liveguard writes, as serde types: verdicts and error frames (ingest and
//! `scan`), the alert feed's records and replies, the HTTP API's bodies and the export
//! lines, and the disposal actions the dispatcher takes, so that no handler builds JSON
//! by hand. Events are parsed in [`crate::event`].
//! docs/PROTOCOL.md documents every frame, and `tests/protocol_doc.rs` holds its
//! examples to these types.
//!
//! A feed record is stored once, as its body (the fields after `kind` and `seq`), and
//! replayed byte for byte; [`feed_frame`] is the one place that puts the head on.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::channel::Via;
use crate::config::ReviewDecision;
use crate::context::Context;
use crate::event::{ActionKind, Category, Decision, ErrorCode, Event, EventError, Role, Severity};
use crate::policy::{Hit, WindowPart};

/// The body of an alert (the fields after `kind` and `seq`): the room, the flagged
/// event as received, its verdict and its actions.
#[derive(Serialize)]
struct AlertBody<'a> {
    room: &'a str,
    event: AlertEvent<'a>,
    verdict: Verdict<'a>,
    actions: &'a [Action],
}

/// The flagged event inside an alert.
#[derive(Serialize)]
struct AlertEvent<'a> {
    id: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    role: &'static str,
    ts: u64,
    text: &'a str,
    /// A listing's item.
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a str>,
}

/// The stored body of an alert: the room, the flagged event `ev` (at event time `ts`),
/// its verdict and its actions.
pub fn alert_body(ev: &Event<'_>, ts: u64, verdict: Verdict<'_>, actions: &[Action]) -> String {
    serde_json::to_string(&AlertBody {
        room: &ev.room,
        event: AlertEvent {
            id: &ev.id,
            kind: ev.kind.as_str(),
            user: ev.user.as_deref(),
            role: ev.role.as_str(),
            ts,
            text: &ev.text,
            item: ev.pricing.as_deref().map(|p| &*p.item),
        },
        verdict,
        actions,
    })
    .expect("an alert serializes")
}

/// A frame the server sends a moderator on `/v1/alerts`, other than a feed record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModeratorReply {
    /// Something the moderator should know that is not a record (a gap in replay).
    Notice {
        /// What happened.
        message: String,
    },
    /// A review was applied.
    ReviewAck {
        /// The held record's seq.
        seq: u64,
        /// The decision applied.
        decision: ReviewDecision,
    },
    /// A moderator frame was refused.
    Error {
        /// The seq the refused frame named, when it named one.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// Why.
        reason: String,
        /// How the hold was decided, when a review came after the decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        decided: Option<DecidedBy>,
    },
}

/// `GET /v1/holds`: the held messages awaiting a decision, as their alert records
/// (oldest first), and the feed seq they were read at: resume the feed with
/// `since=seq` and no hold or decision falls in between.
#[derive(Debug, Serialize, Deserialize)]
pub struct HoldsBody {
    /// The last feed seq delivered when the holds were read.
    pub seq: u64,
    /// The alert records of the pending holds, as the feed sent them.
    pub holds: Vec<Box<serde_json::value::RawValue>>,
}

/// `GET /v1/rooms/{room}/alerts`: a room's (or one sender's) latest alert records,
/// newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomAlerts {
    /// The last feed seq delivered when they were read.
    pub seq: u64,
    /// Alert records as the feed sent them.
    pub alerts: Vec<Box<serde_json::value::RawValue>>,
}

/// `GET /v1/rooms/{room}/actions`: a room's latest actions, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomActions {
    /// The last feed seq delivered when they were read.
    pub seq: u64,
    /// Actions as the feed's alerts carried them.
    pub actions: Vec<Box<serde_json::value::RawValue>>,
}

/// `POST /v1/check`: a script or product copy to check before going live. A body
/// that is not JSON is taken as the text itself, said by the host.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptRequest {
    /// The script; lines are judged one by one, in order.
    pub text: String,
    /// Who will say it (`host` by default; `operator` for a seller's typed copy).
    #[serde(default = "host")]
    pub role: Role,
}

fn host() -> Role {
    Role::Host
}

/// The answer to `POST /v1/check`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScriptCheck {
    /// The lexicon version that judged it.
    pub lexicon: String,
    /// Lines read (blank ones counted).
    pub lines: usize,
    /// The strictest decision of any line, as if said live.
    pub decision: Decision,
    /// Every hit, in script order.
    pub hits: Vec<ScriptHit>,
}

/// One hit of a script check.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScriptHit {
    /// The line (1-based) whose saying completes the term.
    pub line: usize,
    /// Byte range in the whole script.
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
    /// The script's text in that range.
    pub matched: String,
    /// The lexicon entry.
    pub rule: String,
    /// Its canonical term.
    pub term: String,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// How it matched.
    pub via: Via,
    /// How the term stands in its sentence (negated, quoted, …); empty when asserted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<Context>,
    /// What the line would get live.
    pub decision: Decision,
    /// The legal basis.
    pub basis: String,
    /// Why it is a problem (the lexicon's note).
    pub note: String,
    /// Compliant wordings to use instead (may be empty).
    pub suggest: Vec<String>,
    /// Earlier lines holding the rest of a term split over lines.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_lines: Vec<usize>,
}

/// How a hold was decided, told to a moderator whose review came second.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecidedBy {
    /// The decision that stands.
    pub decision: ReviewDecision,
    /// Who made it: a moderator, or `expiry`.
    pub by: String,
    /// The seq of the review record that resolved the hold.
    pub review_seq: u64,
}

impl ModeratorReply {
    /// The frame as one JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a reply serializes")
    }
}

/// A frame a moderator sends on `/v1/alerts`: `{"kind":"review","seq":N,"decision":…}`.
/// Fields are optional here so that a missing one gets its own error message.
#[derive(Debug, Deserialize)]
pub struct ModeratorFrame {
    /// Must be `review`.
    pub kind: String,
    /// The held record's seq.
    pub seq: Option<u64>,
    /// approve or reject.
    pub decision: Option<ReviewDecision>,
    /// Free text, stored with the review.
    pub note: Option<String>,
}

/// The fields of a review record, after `kind` (and, in the feed, `seq`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewFields<'a> {
    /// The held record's seq.
    #[serde(rename = "ref")]
    pub held: u64,
    /// The held event's id.
    pub id: &'a str,
    /// Its room.
    pub room: &'a str,
    /// The outcome.
    pub decision: ReviewDecision,
    /// The moderator, or `expiry`.
    pub by: &'a str,
    /// The moderator's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    /// When it was decided, ms since the epoch.
    pub ts: u64,
    /// What the decision sets off: a rejected message of a coordinated burst
    /// confirms the burst, and the room's traffic is limited.
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// What the platform hears on the ingest connection when a hold is resolved:
/// `{"kind":"review",…}` with the review's fields.
#[derive(Serialize)]
struct PlatformReview<'a> {
    kind: &'static str,
    #[serde(flatten)]
    fields: &'a ReviewFields<'a>,
}

impl ReviewFields<'_> {
    /// The body stored in the feed (the fields without `kind` and `seq`).
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("review fields serialize")
    }

    /// The frame for the platform.
    pub fn platform_frame(&self) -> String {
        serde_json::to_string(&PlatformReview {
            kind: "review",
            fields: self,
        })
        .expect("a review frame serializes")
    }
}

/// A feed record as subscribers receive it: `{"kind":…,"seq":…,` (and
/// `"stored":false,` when the store could not keep it) followed by the fields of
/// `body`, a JSON object as stored.
pub fn feed_frame(kind: &str, seq: u64, stored: bool, body: &str) -> String {
    let fields = body.strip_prefix('{').unwrap_or("}");
    let unstored = if stored { "" } else { "\"stored\":false," };
    // `kind` is one of the feed's own names (alert, review), never user text.
    format!("{{\"kind\":\"{kind}\",\"seq\":{seq},{unstored}{fields}")
}

/// An evidence event in a `liveguard export` line (`evidence_events`): the event as
/// stored with its verdict's hits, or a note that it was not stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
// One short-lived value per evidence id of an exported line: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum EvidenceEvent {
    /// The stored event.
    Stored {
        /// Platform event id.
        id: String,
        /// Event time, ms since the epoch.
        ts: i64,
        /// chat or transcript.
        kind: String,
        /// The sender.
        user: Option<String>,
        /// The sender's role.
        role: String,
        /// The text as received (JSON copied from the stored alert, not re-parsed).
        text: Box<serde_json::value::RawValue>,
        /// The normalized text the matcher saw.
        normalized: String,
        /// The decision.
        decision: String,
        /// The verdict's hits (JSON copied from the stored alert).
        hits: Box<serde_json::value::RawValue>,
        /// The lexicon version that judged it.
        lexicon: String,
    },
    /// An earlier event that held part of a term split across messages. It was
    /// allowed on its own and so not stored as an event; the alert that completed the
    /// term recorded its part.
    Fragment {
        /// The earlier event's id.
        id: String,
        /// Its part of the term, as normalized.
        fragment: String,
        /// The seq of the alert that recorded it.
        recorded_in: u64,
    },
    /// An earlier listing or sale that a price check compared (see
    /// [`crate::price`]): judged on its own without a hit, so not stored as an event;
    /// the alert of the check recorded it.
    Price {
        /// Its event id.
        id: String,
        /// `listing` or `sale`.
        kind: crate::event::EventKind,
        /// The item.
        item: String,
        /// The listed or sold price, in yuan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<crate::price::Fen>,
        /// A listing's compared price, in yuan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        compared_price: Option<crate::price::Fen>,
        /// Its time, ms since the epoch.
        ts: u64,
        /// The seq of the alert that recorded it.
        recorded_in: u64,
    },
    /// An evidence id the store has no event for.
    Missing {
        /// The id.
        id: String,
        /// Always `false`.
        stored: bool,
    },
}

/// One line of `liveguard export`: the action as stored (its fields copied as JSON,
/// `lexicon` excepted), its evidence events and its lexicon.
#[derive(Debug, Serialize)]
pub struct ExportLine<'a> {
    /// The stored action's fields, without `lexicon`.
    #[serde(flatten)]
    pub action: std::collections::BTreeMap<&'a str, &'a serde_json::value::RawValue>,
    /// The events the action cites, in its `evidence` order.
    pub evidence_events: Vec<EvidenceEvent>,
    /// The lexicon that decided it.
    pub lexicon: ExportedLexicon,
}

/// The lexicon of a `liveguard export` line: its version, and what the store knows of
/// it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportedLexicon {
    /// The version.
    pub version: String,
    /// Content hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// Where it was loaded from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// When it was loaded, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<i64>,
    /// Its matcher statistics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<serde_json::Value>,
}

/// `GET /v1/lexicon`.
#[derive(Debug, Serialize)]
pub struct LexiconInfo {
    /// The version.
    pub version: String,
    /// The content hash.
    pub hash: String,
    /// Where it was loaded from.
    pub origin: String,
    /// Sizes of the compiled matcher.
    #[serde(flatten)]
    pub stats: crate::matcher::MatcherStats,
}

/// One page of actions.
#[derive(Debug, Serialize)]
pub struct ActionPage {
    /// The actions, as JSON objects.
    pub actions: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/lexicon/reload` accepted: the new lexicon, and the entries it added and
/// removed per category (categories without changes are left out).
#[derive(Debug, Serialize)]
pub struct ReloadAnswer {
    /// The lexicon now running.
    #[serde(flatten)]
    pub lexicon: LexiconInfo,
    /// Entry ids added and removed, by category.
    pub changes: std::collections::BTreeMap<Category, EntryChanges>,
    /// On a cluster gateway: what each live worker did (each reloads its own
    /// lexicon directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<WorkerReload>>,
}

/// A cluster worker's answer to a reload: the lexicon version it runs now, or why it
/// kept the old one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReload {
    /// The worker's name.
    pub worker: String,
    /// The lexicon version it runs after the reload.
    pub lexicon: String,
    /// Why the reload failed there (its previous lexicon stays in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Entry ids a reload added and removed in one category.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryChanges {
    /// Ids new in this lexicon.
    pub added: Vec<String>,
    /// Ids gone from it.
    pub removed: Vec<String>,
}

/// `{"error": …}`: the body of every refused HTTP request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for the caller.
    pub error: String,
}

/// `GET`/`PUT /v1/rooms/{room}/tier`: a room's monitoring tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierBody {
    /// `standard` or `enhanced`.
    pub tier: crate::event::Tier,
}

/// `GET /healthz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health<'a> {
    /// `ok`, or `stopping` during shutdown.
    pub status: &'a str,
    /// The lexicon version in use.
    pub lexicon: &'a str,
}

/// `GET /readyz`: whether the server does all it should (200 `ready`), or what it
/// lacks (503 `not_ready`). It moderates either way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    /// What is wrong, for example `store: disk I/O error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
}

/// `POST /v1/lexicon/reload` refused: the problems, and the version still running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadRefused<'a> {
    /// What went wrong.
    pub error: String,
    /// Each problem of the refused lexicon.
    pub problems: Vec<String>,
    /// The lexicon that keeps running.
    pub lexicon: &'a str,
}

/// An event as a platform sends it (`{"kind":"chat",…}`, `transcript`, `listing`,
/// `sale`): what [`crate::event::parse_event`] reads, written back. The sender is
/// `user` for chat, listings and sales and `speaker` for transcripts; a transcript
/// carries `final`, a listing its `title` and prices, a sale its price and quantity.
impl Serialize for Event<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use crate::event::EventKind;
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", &self.kind)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("room", &self.room)?;
        if let Some(user) = &self.user {
            let field = match self.kind {
                EventKind::Transcript => "speaker",
                _ => "user",
            };
            m.serialize_entry(field, user)?;
        }
        if self.kind == EventKind::Chat {
            m.serialize_entry("role", &self.role)?;
        }
        if let Some(ts) = self.ts {
            m.serialize_entry("ts", &ts)?;
        }
        match self.kind {
            EventKind::Chat => m.serialize_entry("text", &self.text)?,
            EventKind::Transcript => {
                m.serialize_entry("text", &self.text)?;
                m.serialize_entry("final", &self.is_final)?;
            }
            EventKind::Listing => m.serialize_entry("title", &self.text)?,
            EventKind::Sale => {}
        }
        if let Some(p) = self.pricing.as_deref() {
            m.serialize_entry("item", &p.item)?;
            if let Some(price) = p.price {
                m.serialize_entry("price", &price)?;
            }
            if let Some(unit) = &p.unit {
                m.serialize_entry("unit", unit)?;
            }
            if let Some(compared) = p.compared_price {
                m.serialize_entry("compared_price", &compared)?;
            }
            if let Some(label) = &p.compared_label {
                m.serialize_entry("compared_label", label)?;
            }
            if let Some(basis) = &p.compared_basis {
                m.serialize_entry("compared_basis", basis)?;
            }
            if self.kind == EventKind::Sale {
                m.serialize_entry("quantity", &p.quantity)?;
            }
        }
        m.end()
    }
}

/// What liveguard writes for one event, on an ingest connection and from `scan`
/// alike: its verdict followed by its actions, one per line, or an error frame.
#[derive(Debug)]
pub enum Answer<'a> {
    /// The event was judged.
    Judged {
        /// Its verdict.
        verdict: Verdict<'a>,
        /// The actions it triggered.
        actions: &'a [Action],
    },
    /// The event was refused.
    Refused(ErrorFrame<'a>),
}

impl Answer<'_> {
    /// Write the answer's lines, separated by `\n`, without a trailing newline.
    ///
    /// # Errors
    /// The writer's error.
    pub fn write_to<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        match self {
            Answer::Judged { verdict, actions } => {
                serde_json::to_writer(&mut *out, verdict)?;
                for action in *actions {
                    out.write_all(b"\n")?;
                    serde_json::to_writer(&mut *out, action)?;
                }
            }
            Answer::Refused(error) => serde_json::to_writer(&mut *out, error)?,
        }
        Ok(())
    }
}

/// How every verdict line begins, up to its id: readers that need only the id and
/// the decision of many verdicts a second (`liveguard loadgen`) match this prefix
/// instead of parsing the line; a test keeps it true.
pub const VERDICT_LINE_PREFIX: &str = "{\"kind\":\"verdict\",\"id\":\"";

/// How every error frame begins.
pub const ERROR_LINE_PREFIX: &str = "{\"kind\":\"error\"";

/// A verdict on the wire (`{"kind":"verdict",...}`), borrowing from the event and its
/// outcome.
#[derive(Debug, Serialize)]
pub struct Verdict<'a> {
    kind: &'static str,
    id: &'a str,
    room: &'a str,
    decision: Decision,
    lexicon: &'a str,
    hits: Vec<HitFrame<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked: Option<&'a str>,
    actions: Vec<&'a str>,
}

#[derive(Debug, Serialize)]
struct HitFrame<'a> {
    rule: &'a str,
    term: &'a str,
    category: Category,
    severity: Severity,
    start: usize,
    end: usize,
    matched: &'a str,
    /// Ids of the earlier events (kept as ids for platforms that read it so).
    #[serde(skip_serializing_if = "WindowIds::is_empty")]
    window: WindowIds<'a>,
    /// The same events with their part of the term: the evidence of the split.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    fragments: &'a [WindowPart],
    via: Via,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    context: Vec<Context>,
    /// For `via: burst`: the coordinated burst the message is part of.
    #[serde(skip_serializing_if = "Option::is_none")]
    burst: Option<&'a crate::burst::BurstFinding>,
    /// For `via: price`: what the price check found and compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<&'a crate::price::PriceFinding>,
}

/// A hit's window as the list of its event ids.
#[derive(Debug)]
struct WindowIds<'a>(&'a [WindowPart]);

impl WindowIds<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for WindowIds<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|p| &p.id))
    }
}

impl<'a> Verdict<'a> {
    /// The verdict for `ev`: its decision by lexicon `lexicon`, its hits (spans of
    /// `ev.text`), the masked text of a `mask` decision, and the ids of its actions.
    pub fn new(
        ev: &'a Event<'_>,
        decision: Decision,
        lexicon: &'a str,
        hits: &'a [Hit],
        masked: Option<&'a str>,
        actions: &'a [Action],
    ) -> Verdict<'a> {
        Verdict {
            kind: "verdict",
            id: &ev.id,
            room: &ev.room,
            decision,
            lexicon,
            hits: hits
                .iter()
                .map(|h| HitFrame {
                    rule: &h.rule,
                    term: &h.term,
                    category: h.category,
                    severity: h.severity,
                    start: h.start,
                    end: h.end,
                    matched: ev.text.get(h.start..h.end).unwrap_or_default(),
                    window: WindowIds(&h.window),
                    fragments: &h.window,
                    via: h.via,
                    context: h.context.iter().collect(),
                    burst: h.burst.as_deref(),
                    price: h.price.as_deref(),
                })
                .collect(),
            masked,
            actions: actions.iter().map(|a| a.action_id.as_str()).collect(),
        }
    }
}

/// One disposal action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Always `"action"` on the wire.
    pub kind: &'static str,
    /// Stable id: the same event (its sender and id) and rung always give the same id
    /// (a retried event repeats it); two senders' events never share one.
    pub action_id: String,
    /// The room.
    pub room: String,
    /// What to do.
    #[serde(rename = "type")]
    pub action: ActionKind,
    /// Whom to do it to.
    pub target: Target,
    /// How long (mute, restriction), in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<u64>,
    /// Why, in words.
    pub reason: String,
    /// The lexicon rules that hit.
    pub rules: Vec<Arc<str>>,
    /// The legal basis.
    pub basis: Arc<str>,
    /// Ids of the events that are its evidence, oldest first.
    pub evidence: Vec<String>,
    /// The escalation rung (`policy.toml`) or `message` for the message's own disposal.
    pub ladder: Arc<str>,
    /// The lexicon version.
    pub lexicon: Arc<str>,
    /// When (the triggering event's time), milliseconds since the epoch.
    pub ts: u64,
}

/// The target of an action: one message, a sender, or the room. On the wire it is an
/// object with the fields of its kind (`{"user","event"}`, `{"user"}`, `{"room"}`, `{"room","item"}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Target {
    /// One message (hide, hold), and its sender when the event named one.
    Message {
        /// The sender.
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
        /// The event.
        event: String,
    },
    /// A sender (warn, mute); absent when the event named none.
    User {
        /// The sender.
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
    /// The room (warn, restrict, limit, suspend, report).
    Room {
        /// The room.
        room: String,
    },
    /// One of the room's items (delist).
    Product {
        /// The room.
        room: String,
        /// The item.
        item: String,
    },
}

impl Target {
    /// The sender, for message and user actions.
    pub fn user(&self) -> Option<&str> {
        match self {
            Target::Message { user, .. } | Target::User { user } => user.as_deref(),
            Target::Room { .. } | Target::Product { .. } => None,
        }
    }

    /// The event, for message actions.
    pub fn event(&self) -> Option<&str> {
        match self {
            Target::Message { event, .. } => Some(event),
            _ => None,
        }
    }

    /// The room, for room and product actions.
    pub fn room(&self) -> Option<&str> {
        match self {
            Target::Room { room } | Target::Product { room, .. } => Some(room),
            _ => None,
        }
    }
}

/// The error object written for a rejected event (`scan` adds the line number).
#[derive(Debug, Serialize)]
pub struct ErrorFrame<'a> {
    /// Always `"error"`.
    pub kind: &'static str,
    /// Input line number (1-based), for `scan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Position of the line in a batched frame (0-based), on ingest connections.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The event id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// Machine-readable reason ([`crate::event::EventErrorKind::code`]).
    pub code: ErrorCode,
    /// Human-readable reason.
    pub reason: String,
}

impl<'a> ErrorFrame<'a> {
    /// The frame for `err`, optionally at input line `line`.
    pub fn new(err: &'a EventError, line: Option<u64>) -> ErrorFrame<'a> {
        ErrorFrame {
            kind: "error",
            line,
            index: None,
            id: err.id.as_deref(),
            code: err.kind.code(),
            reason: err.kind.to_string(),
        }
    }

    /// The same frame, naming the line's position in a batched frame.
    pub fn at_index(mut self, index: usize) -> ErrorFrame<'a> {
        self.index = Some(index);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_written_back_parse_as_the_same_events() {
        for line in [
            r#"{"kind":"chat","id":"e-1","room":"r","user":"u-9","role":"host","ts":7,"text":"加v信"}"#,
            r#"{"kind":"chat","id":"e-2","room":"r","text":"no sender"}"#,
            r#"{"kind":"transcript","id":"t-1","room":"r","speaker":"h","text":"全网最低价","final":false}"#,
        ] {
            let ev = crate::event::parse_event(line).unwrap();
            let written = serde_json::to_string(&ev).unwrap();
            assert_eq!(
                crate::event::parse_event(&written).unwrap(),
                ev,
                "{written}"
            );
        }
    }

    #[test]
    fn verdict_and_error_lines_begin_as_their_prefixes_say() {
        let ev = crate::event::parse_event(
            r#"{"kind":"chat","id":"c1-2-3","room":"r","user":"u","text":"hi"}"#,
        )
        .unwrap();
        let verdict = Verdict::new(&ev, Decision::Allow, "v1", &[], None, &[]);
        let line = serde_json::to_string(&verdict).unwrap();
        assert!(
            line.starts_with(&format!("{VERDICT_LINE_PREFIX}c1-2-3\"")),
            "{line}"
        );
        let err = crate::event::parse_event("{").unwrap_err();
        let line = serde_json::to_string(&ErrorFrame::new(&err, None)).unwrap();
        assert!(line.starts_with(ERROR_LINE_PREFIX), "{line}");
    }

    #[test]
    fn moderator_replies_keep_their_documented_shapes() {
        let ack = ModeratorReply::ReviewAck {
            seq: 124,
            decision: ReviewDecision::Approve,
        };
        assert_eq!(
            ack.to_json(),
            r#"{"kind":"review_ack","seq":124,"decision":"approve"}"#
        );
        let err = ModeratorReply::Error {
            seq: None,
            reason: "send review frames as text".into(),
            decided: None,
        };
        assert_eq!(
            err.to_json(),
            r#"{"kind":"error","reason":"send review frames as text"}"#
        );
        let back: ModeratorReply = serde_json::from_str(&ack.to_json()).unwrap();
        assert_eq!(back, ack);
    }

    #[test]
    fn a_review_reads_the_same_in_the_feed_and_for_the_platform() {
        let f = ReviewFields {
            held: 124,
            id: "e-5",
            room: "r-42",
            decision: ReviewDecision::Reject,
            by: "mod-1",
            note: None,
            ts: 7,
            actions: Vec::new(),
        };
        let feed = feed_frame("review", 125, true, &f.body());
        assert_eq!(
            feed,
            r#"{"kind":"review","seq":125,"ref":124,"id":"e-5","room":"r-42","decision":"reject","by":"mod-1","ts":7}"#
        );
        assert_eq!(
            f.platform_frame(),
            r#"{"kind":"review","ref":124,"id":"e-5","room":"r-42","decision":"reject","by":"mod-1","ts":7}"#
        );
        assert_eq!(
            feed_frame("alert", 3, false, r#"{"room":"r"}"#),
            r#"{"kind":"alert","seq":3,"stored":false,"room":"r"}"#
        );
    }
}
