//! Wire protocol v1, inbound: ingest events, their vocabulary and their parser (what
//! liveguard writes back, verdicts and error frames included, is in [`crate::wire`]).
//!
//! Events are parsed with borrowed strings where the JSON allows it (no escapes), so a
//! typical chat line costs no allocation. Parsing is lenient about unknown fields and
//! strict about required ones; every failure is an [`EventError`] that names the event
//! when its id could be read.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::price::Fen;

crate::wire_names! {
    /// Who is speaking.
    pub enum Role {
        /// A viewer in the room's chat (the default).
        Viewer = "viewer",
        /// The host: their chat messages and every transcript.
        Host = "host",
        /// The room operator or its staff.
        Operator = "operator",
    }
}

crate::wire_names! {
    /// What kind of event this is.
    pub enum EventKind {
        /// A chat message (danmaku, comment).
        Chat = "chat",
        /// A segment of the host's speech, from ASR.
        Transcript = "transcript",
        /// An item put up for sale or changed: its title (moderated as text) and
        /// prices ([`Pricing`]).
        Listing = "listing",
        /// A sale of a listed item, at the price paid.
        Sale = "sale",
    }
}

crate::wire_names! {
    /// Violation categories, as in the lexicon files.
    pub enum Category {
        /// 虚假宣传: absolute terms, efficacy and endorsement claims.
        FalsePublicity = "false_publicity",
        /// 商业诋毁: disparaging another business.
        Slander = "slander",
        /// 禁售/违禁商品.
        ProhibitedProduct = "prohibited_product",
        /// 价格欺诈.
        PriceFraud = "price_fraud",
        /// 站外导流: moving buyers off the platform.
        Diversion = "diversion",
        /// 流量造假: fake orders, reviews, followers.
        TrafficFraud = "traffic_fraud",
    }
}

crate::wire_names! {
    /// How serious a hit is; ordered from least to most.
    pub enum Severity {
        /// Context only: recorded, never blocks alone.
        Low = "low",
        /// Hold for review, or prompt the host.
        Medium = "medium",
        /// Hide and warn.
        High = "high",
        /// Hide, escalate, propose suspending the stream.
        Critical = "critical",
    }
}

crate::wire_names! {
    /// What the platform should do with the event; ordered from least to most
    /// restrictive.
    pub enum Decision {
        /// Show it.
        Allow = "allow",
        /// Show the `masked` text instead.
        Mask = "mask",
        /// Show it only after a moderator approves.
        Hold = "hold",
        /// Do not show it.
        Block = "block",
    }
}

crate::wire_names! {
    /// Disposal actions, in ladder order (regulation.md section 3).
    pub enum ActionKind {
        /// Keep the record only.
        Record = "record",
        /// Hide one message (Art 31 ¶2).
        HideMessage = "hide_message",
        /// Hold one message for review.
        HoldMessage = "hold_message",
        /// Prompt the host to correct a slip on the spot (Art 31 ¶1).
        PromptHostCorrection = "prompt_host_correction",
        /// Warn the sender.
        WarnUser = "warn_user",
        /// Warn the room (Art 12, 13).
        WarnRoom = "warn_room",
        /// Mute the sender for a while.
        MuteUser = "mute_user",
        /// Restrict the room's functions.
        RestrictRoom = "restrict_room",
        /// Take a product link down.
        DelistProduct = "delist_product",
        /// Limit the room's traffic (Art 12, 13).
        LimitTraffic = "limit_traffic",
        /// Suspend the stream now (Art 13).
        SuspendStream = "suspend_stream",
        /// Report to the regulator (Art 12 ¶3).
        ReportToRegulator = "report_to_regulator",
    }
}

crate::wire_names! {
    /// A room's monitoring tier (Art 11: rooms with many followers, large sales, repeat
    /// violations or products affecting life and health get enhanced monitoring).
    #[derive(Default)]
    pub enum Tier {
        /// Ordinary rooms.
        #[default]
        Standard = "standard",
        /// Enhanced monitoring: thresholds tighten.
        Enhanced = "enhanced",
    }
}

/// A validated ingest event. Strings borrow from the input line where they can.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// Chat or transcript.
    pub kind: EventKind,
    /// The platform's event id, echoed in the verdict.
    pub id: Cow<'a, str>,
    /// Room the event belongs to.
    pub room: Cow<'a, str>,
    /// The sender: `user` for chat, `speaker` for transcripts. May be absent.
    pub user: Option<Cow<'a, str>>,
    /// The sender's role; transcripts are always host speech.
    pub role: Role,
    /// Milliseconds since the epoch, if the platform sent it.
    pub ts: Option<u64>,
    /// The text to moderate.
    pub text: Cow<'a, str>,
    /// For transcripts: whether the ASR segment is final (partials are not windowed).
    pub is_final: bool,
    /// For listings and sales: the item and its prices.
    pub pricing: Option<Box<Pricing<'a>>>,
}

/// The item and prices of a `listing` or `sale` event. Prices are in yuan on the wire
/// and kept exactly, in fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pricing<'a> {
    /// The platform's item (product link) id, unique within the room.
    pub item: Cow<'a, str>,
    /// The listed price, or the price paid. A listing may lack it (and is flagged
    /// for it); a sale may not.
    pub price: Option<Fen>,
    /// The unit priced (件, 盒, 500g): a listing must state it.
    pub unit: Option<Cow<'a, str>>,
    /// A listing's compared price (划线价, 原价, …).
    pub compared_price: Option<Fen>,
    /// What the compared price is (划线价, 原价, 吊牌价, 日常价).
    pub compared_label: Option<Cow<'a, str>>,
    /// The stated details of the compared price (where and when it was charged); a
    /// compared price without them must not exceed the 7-day low (规定 Art 16).
    pub compared_basis: Option<Cow<'a, str>>,
    /// A sale's quantity (1 when absent).
    pub quantity: u32,
}

impl Pricing<'_> {
    fn into_owned(self) -> Pricing<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        Pricing {
            item: own(self.item),
            price: self.price,
            unit: self.unit.map(own),
            compared_price: self.compared_price,
            compared_label: self.compared_label.map(own),
            compared_basis: self.compared_basis.map(own),
            quantity: self.quantity,
        }
    }
}

impl Event<'_> {
    /// Copy every borrowed string, for keeping the event beyond its input buffer.
    pub fn into_owned(self) -> Event<'static> {
        Event {
            kind: self.kind,
            id: Cow::Owned(self.id.into_owned()),
            room: Cow::Owned(self.room.into_owned()),
            user: self.user.map(|u| Cow::Owned(u.into_owned())),
            role: self.role,
            ts: self.ts,
            text: Cow::Owned(self.text.into_owned()),
            is_final: self.is_final,
            pricing: self.pricing.map(|p| Box::new(p.into_owned())),
        }
    }
}

/// Why an event was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventErrorKind {
    /// The bytes are not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The line is not JSON, or not shaped like an event.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// The JSON is valid but not an object.
    #[error("event must be a JSON object")]
    NotAnObject,
    /// A required field is absent or null.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// `kind` is neither chat nor transcript.
    #[error("unknown kind `{0}`")]
    UnknownKind(String),
    /// `role` is not viewer, host or operator.
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    /// A field is longer than the configured limit.
    #[error("field `{field}` is {len} bytes, over the limit of {limit}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A number the evidence cannot hold (`ts` past the year 9999).
    #[error("field `{field}` is {value}, out of range (at most {max})")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// The connection's token does not cover the event's room.
    #[error("room `{0}` is not among this token's rooms")]
    RoomForbidden(String),
    /// The tenant already sends for as many rooms as it may.
    #[error("this token already has {0} active rooms, its limit")]
    RoomLimit(usize),
    /// The connection sends faster than it may.
    #[error("over {0} events per second on this connection: slow down")]
    RateLimited(u32),
    /// A price or quantity that is not an amount the book can keep.
    #[error("field `{field}` {problem}")]
    InvalidNumber {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A price in a currency other than yuan.
    #[error("currency `{0}` is not accepted: prices are in yuan (CNY)")]
    UnknownCurrency(String),
    /// A sale of an item the room never listed.
    #[error("item `{0}` has no listing in this room: send its listing first")]
    UnknownItem(String),
    /// A cluster gateway could not get the event judged (the messaging or its
    /// partition's worker did not answer in time): resend it with the same id.
    #[error("not judged: {0}")]
    Unavailable(String),
}

crate::wire_names! {
    /// Why input was refused: the error frame's `code` and the `reason` label of
    /// `liveguard_ingest_errors_total`.
    pub enum ErrorCode {
        /// Not UTF-8.
        Utf8 = "utf8",
        /// Not JSON.
        Json = "json",
        /// JSON, but not an object.
        NotAnObject = "not_an_object",
        /// A required field is missing.
        MissingField = "missing_field",
        /// `kind` is neither chat nor transcript.
        UnknownKind = "unknown_kind",
        /// `role` is not viewer, host or operator.
        UnknownRole = "unknown_role",
        /// A field is over its limit.
        TooLong = "too_long",
        /// A number the evidence cannot hold.
        OutOfRange = "out_of_range",
        /// The token does not cover the room.
        RoomForbidden = "room_forbidden",
        /// The tenant has as many rooms as it may.
        RoomLimit = "room_limit",
        /// The connection sends too fast.
        RateLimited = "rate_limited",
        /// Not judged: a cluster's messaging or worker did not answer (resend it).
        Unavailable = "unavailable",
        /// A price or quantity that is not a valid amount.
        InvalidNumber = "invalid_number",
        /// A price in a currency other than yuan.
        UnknownCurrency = "unknown_currency",
        /// A sale of an item the room never listed.
        UnknownItem = "unknown_item",
        /// A whole frame over the size limit (closed with 1009; never an error frame).
        TooLarge = "too_large",
    }
}

impl EventErrorKind {
    /// The stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            EventErrorKind::InvalidUtf8 => ErrorCode::Utf8,
            EventErrorKind::InvalidJson(_) => ErrorCode::Json,
            EventErrorKind::NotAnObject => ErrorCode::NotAnObject,
            EventErrorKind::MissingField(_) => ErrorCode::MissingField,
            EventErrorKind::UnknownKind(_) => ErrorCode::UnknownKind,
            EventErrorKind::UnknownRole(_) => ErrorCode::UnknownRole,
            EventErrorKind::TooLong { .. } => ErrorCode::TooLong,
            EventErrorKind::OutOfRange { .. } => ErrorCode::OutOfRange,
            EventErrorKind::RoomForbidden(_) => ErrorCode::RoomForbidden,
            EventErrorKind::RoomLimit(_) => ErrorCode::RoomLimit,
            EventErrorKind::RateLimited(_) => ErrorCode::RateLimited,
            EventErrorKind::Unavailable(_) => ErrorCode::Unavailable,
            EventErrorKind::InvalidNumber { .. } => ErrorCode::InvalidNumber,
            EventErrorKind::UnknownCurrency(_) => ErrorCode::UnknownCurrency,
            EventErrorKind::UnknownItem(_) => ErrorCode::UnknownItem,
        }
    }
}

/// A rejected event: the reason, and the event id when it could be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    /// The event's id, if the input had a readable one.
    pub id: Option<String>,
    /// What was wrong.
    pub kind: EventErrorKind,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "event {id}: {}", self.kind),
            None => self.kind.fmt(f),
        }
    }
}

impl std::error::Error for EventError {}

/// A string that borrows from the input when it has no escapes. (serde's own `Cow`
/// impl always copies when wrapped in an `Option`.)
struct Str<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Str<'a>, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visitor)
    }
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    id: Option<Str<'a>>,
    #[serde(borrow, default)]
    room: Option<Str<'a>>,
    #[serde(borrow, default)]
    user: Option<Str<'a>>,
    #[serde(borrow, default)]
    speaker: Option<Str<'a>>,
    #[serde(borrow, default)]
    role: Option<Str<'a>>,
    #[serde(default)]
    ts: Option<u64>,
    #[serde(borrow, default)]
    text: Option<Str<'a>>,
    #[serde(default, rename = "final")]
    is_final: Option<bool>,
    #[serde(borrow, default)]
    item: Option<Str<'a>>,
    #[serde(borrow, default)]
    title: Option<Str<'a>>,
    #[serde(borrow, default)]
    price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    unit: Option<Str<'a>>,
    #[serde(borrow, default)]
    currency: Option<Str<'a>>,
    #[serde(borrow, default)]
    compared_price: Option<&'a RawValue>,
    #[serde(borrow, default)]
    compared_label: Option<Str<'a>>,
    #[serde(borrow, default)]
    compared_basis: Option<Str<'a>>,
    #[serde(borrow, default)]
    quantity: Option<&'a RawValue>,
}

/// Parse one JSON event (one line of NDJSON, without the newline).
///
/// # Errors
/// Returns an [`EventError`] for invalid JSON, a non-object, a missing required field
/// (`kind`, `id`, `room`, `text`), an unknown kind or role.
pub fn parse_event<'a>(line: &'a str) -> Result<Event<'a>, EventError> {
    let raw: RawEvent<'a> = match serde_json::from_str(line) {
        Ok(raw) => raw,
        Err(e) => return Err(recover_error(line, e)),
    };
    let str = |f: Option<Str<'a>>| f.map(|s| s.0);
    let id = str(raw.id);
    let fail = |kind| EventError {
        id: id.as_deref().map(str::to_owned),
        kind,
    };
    let kind = match raw.kind.as_ref().map(|k| k.0.as_ref()) {
        None => return Err(fail(EventErrorKind::MissingField("kind"))),
        Some("chat") => EventKind::Chat,
        Some("transcript") => EventKind::Transcript,
        Some("listing") => EventKind::Listing,
        Some("sale") => EventKind::Sale,
        Some(other) => return Err(fail(EventErrorKind::UnknownKind(truncate(other)))),
    };
    let role = match kind {
        EventKind::Transcript => Role::Host,
        // A listing is the seller's copy; a sale has no speaker.
        EventKind::Listing | EventKind::Sale => Role::Operator,
        EventKind::Chat => match raw.role.as_ref().map(|r| r.0.as_ref()) {
            None => Role::Viewer,
            Some(r) => {
                Role::parse(r).ok_or_else(|| fail(EventErrorKind::UnknownRole(truncate(r))))?
            }
        },
    };
    let required = |f: Option<Str<'a>>, name| {
        f.map(|s| s.0)
            .ok_or_else(|| fail(EventErrorKind::MissingField(name)))
    };
    let room = required(raw.room, "room")?;
    let text = match kind {
        EventKind::Chat | EventKind::Transcript => required(raw.text, "text")?,
        // A listing's title is its text: scanned like any other.
        EventKind::Listing => required(raw.title, "title")?,
        EventKind::Sale => Cow::Borrowed(""),
    };
    let user = match kind {
        EventKind::Chat | EventKind::Listing | EventKind::Sale => str(raw.user),
        EventKind::Transcript => str(raw.speaker).or(str(raw.user)),
    };
    let pricing = match kind {
        EventKind::Chat | EventKind::Transcript => None,
        EventKind::Listing | EventKind::Sale => {
            let item = required(raw.item, "item")?;
            if item.len() > MAX_ITEM_BYTES {
                return Err(fail(EventErrorKind::TooLong {
                    field: "item",
                    len: item.len(),
                    limit: MAX_ITEM_BYTES,
                }));
            }
            if let Some(c) = raw.currency.as_ref().map(|c| c.0.as_ref())
                && !is_yuan(c)
            {
                return Err(fail(EventErrorKind::UnknownCurrency(truncate(c))));
            }
            let unit = str(raw.unit);
            if let Some(currency) = unit.as_deref().and_then(unit_currency)
                && !is_yuan(currency)
            {
                return Err(fail(EventErrorKind::UnknownCurrency(truncate(currency))));
            }
            let amount = |field, v: Option<&RawValue>| {
                v.filter(|v| v.get() != "null")
                    .map(|v| Fen::from_json_number(v.get()))
                    .transpose()
                    .map_err(|problem| fail(EventErrorKind::InvalidNumber { field, problem }))
            };
            let price = amount("price", raw.price)?;
            if kind == EventKind::Sale && price.is_none() {
                return Err(fail(EventErrorKind::MissingField("price")));
            }
            let quantity = match raw.quantity.filter(|v| v.get() != "null") {
                None => 1,
                Some(v) => v
                    .get()
                    .parse::<u32>()
                    .ok()
                    .filter(|q| (1..=MAX_QUANTITY).contains(q))
                    .ok_or_else(|| {
                        fail(EventErrorKind::InvalidNumber {
                            field: "quantity",
                            problem: "must be a whole number from 1 to 1000000",
                        })
                    })?,
            };
            Some(Box::new(Pricing {
                item,
                price,
                unit,
                compared_price: amount("compared_price", raw.compared_price)?,
                compared_label: str(raw.compared_label),
                compared_basis: str(raw.compared_basis),
                quantity,
            }))
        }
    };
    let Some(id) = id else {
        return Err(EventError {
            id: None,
            kind: EventErrorKind::MissingField("id"),
        });
    };
    if let Some(ts) = raw.ts.filter(|&ts| ts > MAX_TS) {
        return Err(EventError {
            id: Some(id.into_owned()),
            kind: EventErrorKind::OutOfRange {
                field: "ts",
                value: ts,
                max: MAX_TS,
            },
        });
    }
    Ok(Event {
        kind,
        id,
        room,
        user,
        role,
        ts: raw.ts,
        text,
        is_final: raw.is_final.unwrap_or(true),
        pricing,
    })
}

/// The longest item id accepted: the price book keeps it per item.
pub const MAX_ITEM_BYTES: usize = 256;

/// The most items one sale may carry.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// Whether `currency` names the yuan.
fn is_yuan(currency: &str) -> bool {
    let c = currency.trim();
    ["CNY", "RMB"].iter().any(|y| c.eq_ignore_ascii_case(y))
        || ["元", "块", "人民币", "¥", "￥", "圆"].contains(&c)
}

/// The currency a unit names: `元/件` names 元, `USD` and `美元/件` name the dollar;
/// `件`, `500g/袋` and `盒` name none.
fn unit_currency(unit: &str) -> Option<&str> {
    const FOREIGN: &[&str] = &[
        "USD",
        "US$",
        "$",
        "美元",
        "美金",
        "EUR",
        "€",
        "欧元",
        "HKD",
        "HK$",
        "港币",
        "港元",
        "JPY",
        "日元",
        "円",
        "GBP",
        "£",
        "英镑",
        "KRW",
        "韩元",
        "TWD",
        "台币",
        "新台币",
    ];
    let unit = unit.trim();
    let named = unit.split_once('/').map_or(unit, |(c, _)| c.trim());
    (is_yuan(named) || FOREIGN.iter().any(|f| named.eq_ignore_ascii_case(f))).then_some(named)
}

/// The latest event time accepted: 9999-12-31T23:59:59.999Z in ms since the epoch. The
/// evidence store keeps times as signed 64-bit integers and exports them as dates; a
/// larger `ts` would be stored wrong or not at all.
pub const MAX_TS: u64 = 253_402_300_799_999;

/// Parse one line of bytes: checks UTF-8 first, then [`parse_event`].
///
/// # Errors
/// As [`parse_event`], plus [`EventErrorKind::InvalidUtf8`].
pub fn parse_event_bytes(line: &[u8]) -> Result<Event<'_>, EventError> {
    match std::str::from_utf8(line) {
        Ok(s) => parse_event(s),
        Err(_) => Err(EventError {
            id: None,
            kind: EventErrorKind::InvalidUtf8,
        }),
    }
}

/// On the slow path, find what we can say about a line serde rejected: whether it was
/// JSON at all, and the event id if one is readable.
fn recover_error(line: &str, e: serde_json::Error) -> EventError {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(serde_json::Value::Object(map)) => EventError {
            id: map.get("id").and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            }),
            kind: EventErrorKind::InvalidJson(e.to_string()),
        },
        Ok(_) => EventError {
            id: None,
            kind: EventErrorKind::NotAnObject,
        },
        Err(_) => EventError {
            id: None,
            kind: EventErrorKind::InvalidJson(e.to_string()),
        },
    }
}

/// Echo at most a short prefix of untrusted input in error messages.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_design_examples() {
        let e = parse_event(r#"{"kind":"chat","id":"e-1","room":"r-42","user":"u-9","role":"viewer","ts":1767750000123,"text":"加v信私聊"}"#).unwrap();
        assert_eq!(e.kind, EventKind::Chat);
        assert_eq!(e.role, Role::Viewer);
        assert!(matches!(e.text, Cow::Borrowed(_)));
        let t = parse_event(r#"{"kind":"transcript","id":"t-7","room":"r-42","speaker":"host-1","ts":1767750000456,"text":"全网最低价","final":true}"#).unwrap();
        assert_eq!(t.role, Role::Host);
        assert_eq!(t.user.as_deref(), Some("host-1"));
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let e =
            parse_event(r#"{"kind":"chat","id":"1","room":"r","text":"hi","extra":{"x":[1,2]}}"#)
                .unwrap();
        assert_eq!(e.role, Role::Viewer);
        assert_eq!(e.ts, None);
        assert!(e.is_final);
    }

    #[test]
    fn errors_name_the_event_and_the_reason() {
        let err = parse_event(r#"{"kind":"chat","id":"e-2","text":"x"}"#).unwrap_err();
        assert_eq!(err.id.as_deref(), Some("e-2"));
        assert_eq!(err.kind, EventErrorKind::MissingField("room"));

        let err = parse_event(r#"{"kind":"gift","id":"e-3","room":"r","text":"x"}"#).unwrap_err();
        assert_eq!(err.kind, EventErrorKind::UnknownKind("gift".into()));

        let err = parse_event(r#"{"kind":"chat","id":"e-4","room":"r","text":"x","role":"admin"}"#)
            .unwrap_err();
        assert_eq!(err.kind, EventErrorKind::UnknownRole("admin".into()));

        let err = parse_event(
            r#"{"kind":"chat","id":"e-6","room":"r","text":"x","ts":9223372036854775808}"#,
        )
        .unwrap_err();
        assert_eq!(err.id.as_deref(), Some("e-6"));
        assert_eq!(err.kind.code(), ErrorCode::OutOfRange);
        assert!(
            parse_event(&format!(
                r#"{{"kind":"chat","id":"e-7","room":"r","text":"x","ts":{MAX_TS}}}"#
            ))
            .is_ok()
        );
        let err = parse_event(r#"{"kind":"chat","id":"e-5","room":"r","text":"x","ts":"soon"}"#)
            .unwrap_err();
        assert_eq!(err.id.as_deref(), Some("e-5"));
        assert!(matches!(err.kind, EventErrorKind::InvalidJson(_)));

        assert!(matches!(
            parse_event("{not json").unwrap_err().kind,
            EventErrorKind::InvalidJson(_)
        ));
        assert_eq!(
            parse_event("[1,2]").unwrap_err().kind,
            EventErrorKind::NotAnObject
        );
        assert_eq!(
            parse_event_bytes(b"{\"kind\":\"chat\",\"text\":\"\xff\"}")
                .unwrap_err()
                .kind,
            EventErrorKind::InvalidUtf8
        );
        let err = parse_event(r#"{"kind":"chat","id":null,"room":"r","text":"x"}"#).unwrap_err();
        assert_eq!(err.kind, EventErrorKind::MissingField("id"));
    }

    #[test]
    fn escaped_strings_are_owned_and_unescaped() {
        let e =
            parse_event(r#"{"kind":"chat","id":"e","room":"r","text":"加\u5fae\"信"}"#).unwrap();
        assert_eq!(e.text, "加微\"信");
    }
}
