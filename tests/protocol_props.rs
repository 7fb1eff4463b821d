//! Property tests of the wire-protocol parser (`liveguard::event`): any event that
//! serde_json writes parses back to the same fields, whatever its strings hold; any
//! input is either an event or an error with a reason; each required field, when
//! absent or null, is named as missing; unknown kinds and roles are named (cut short);
//! JSON whitespace around the object is accepted and other whitespace is rejected.

use std::borrow::Cow;

use liveguard::event::{Event, EventErrorKind, EventKind, Role, parse_event, parse_event_bytes};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Pieces that stress JSON escaping and UTF-8: quotes, backslashes, control
/// characters, escape look-alikes, separators JavaScript treats as line ends,
/// non-BMP characters, bidi overrides, the replacement character.
const TRICKY: &[&str] = &[
    "\"",
    "\\",
    "\\\"",
    "\\u0000",
    "\\n",
    "/",
    "'",
    "\u{0}",
    "\u{1}",
    "\n",
    "\r",
    "\t",
    "\u{1f}",
    "\u{7f}",
    "\u{85}",
    "\u{2028}",
    "\u{2029}",
    "\u{feff}",
    "\u{200b}",
    "\u{202e}",
    "\u{fffd}",
    "\u{ffff}",
    "😀",
    "𠀀",
    "\u{10ffff}",
    "加",
    "v",
    "信",
    "ｖ",
    "★",
    " ",
    "{",
    "}",
    ":",
    ",",
    "null",
    "e",
];

/// Arbitrary strings, biased towards what is hard to escape and unescape.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(TRICKY).prop_map(String::from),
                any::<char>().prop_map(String::from),
            ],
            0..16,
        )
        .prop_map(|v| v.concat()),
    ]
}

fn any_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

/// The fields of one event, as a generator sees them.
#[derive(Clone, Debug)]
struct Fields {
    kind: EventKind,
    id: String,
    room: String,
    text: String,
    user: Option<String>,
    role: Option<Role>,
    ts: Option<u64>,
    is_final: Option<bool>,
}

fn any_fields() -> impl Strategy<Value = Fields> {
    (
        prop_oneof![Just(EventKind::Chat), Just(EventKind::Transcript)],
        any_text(),
        any_text(),
        any_text(),
        prop::option::of(any_text()),
        prop::option::of(any_role()),
        // Any time the evidence can hold; later ones are refused (below).
        prop::option::of(0..=liveguard::event::MAX_TS),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(kind, id, room, text, user, role, ts, is_final)| Fields {
            kind,
            id,
            room,
            text,
            user,
            role,
            ts,
            is_final,
        })
}

impl Fields {
    /// The wire object: chat senders are `user`, transcript speakers `speaker`.
    fn object(&self) -> Map<String, Value> {
        let mut o = Map::new();
        o.insert("kind".into(), self.kind.as_str().into());
        o.insert("id".into(), self.id.clone().into());
        o.insert("room".into(), self.room.clone().into());
        o.insert("text".into(), self.text.clone().into());
        if let Some(u) = &self.user {
            let key = match self.kind {
                EventKind::Transcript => "speaker",
                _ => "user",
            };
            o.insert(key.into(), u.clone().into());
        }
        if let Some(r) = self.role {
            o.insert("role".into(), r.as_str().into());
        }
        if let Some(ts) = self.ts {
            o.insert("ts".into(), ts.into());
        }
        if let Some(f) = self.is_final {
            o.insert("final".into(), f.into());
        }
        o
    }

    fn line(&self) -> String {
        Value::Object(self.object()).to_string()
    }

    /// Whether `ev` carries exactly these fields, with the documented defaults.
    fn check(&self, ev: &Event<'_>) -> Result<(), TestCaseError> {
        prop_assert_eq!(ev.kind, self.kind);
        prop_assert_eq!(&*ev.id, &*self.id);
        prop_assert_eq!(&*ev.room, &*self.room);
        prop_assert_eq!(&*ev.text, &*self.text);
        prop_assert_eq!(ev.user.as_deref(), self.user.as_deref());
        let role = match self.kind {
            EventKind::Transcript => Role::Host,
            EventKind::Chat => self.role.unwrap_or(Role::Viewer),
            EventKind::Listing | EventKind::Sale => Role::Operator,
        };
        prop_assert_eq!(ev.role, role);
        prop_assert_eq!(ev.ts, self.ts);
        prop_assert_eq!(ev.is_final, self.is_final.unwrap_or(true));
        Ok(())
    }
}

/// Whether serde_json writes `s` without escapes (it escapes only `"`, `\` and
/// control characters below U+0020).
fn needs_no_escape(s: &str) -> bool {
    !s.chars().any(|c| c == '"' || c == '\\' || c < ' ')
}

/// JSON text with every non-ASCII character written as `\uXXXX` escapes (surrogate
/// pairs beyond the BMP), as an ASCII-only producer would send it.
fn ascii_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

/// What `truncate` in the parser echoes of an unknown kind or role.
fn echoed(s: &str) -> String {
    if s.len() <= 64 {
        return s.to_owned();
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

const REQUIRED: [&str; 4] = ["kind", "id", "room", "text"];

/// Whitespace JSON allows between tokens (RFC 8259 section 2).
fn json_ws() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec![' ', '\t', '\n', '\r']), 0..6)
        .prop_map(|v| v.into_iter().collect())
}

/// Characters that look like whitespace but that JSON does not allow.
fn other_ws() -> impl Strategy<Value = char> {
    prop::sample::select(vec![
        '\u{b}', '\u{c}', '\u{0}', '\u{85}', '\u{a0}', '\u{2028}', '\u{3000}', '\u{feff}',
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any event serde_json writes parses back to the same fields; strings without
    /// escapes are borrowed from the line.
    #[test]
    fn serialized_events_round_trip(f in any_fields()) {
        let line = f.line();
        let ev = parse_event(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        f.check(&ev)?;
        for (s, name) in [(&ev.id, "id"), (&ev.room, "room"), (&ev.text, "text")] {
            if needs_no_escape(s) {
                prop_assert!(matches!(s, Cow::Borrowed(_)), "{} {:?} was copied", name, s);
            }
        }
        prop_assert_eq!(parse_event_bytes(line.as_bytes()), Ok(ev.clone()));
        prop_assert_eq!(ev.clone().into_owned(), ev);
    }

    /// The same events written ASCII-only, every other character as `\u` escapes
    /// (surrogate pairs included), parse to the same fields.
    #[test]
    fn ascii_escaped_events_round_trip(f in any_fields()) {
        let line = ascii_json(&Value::Object(f.object()));
        prop_assert!(line.is_ascii());
        let ev = parse_event(&line).map_err(|e| TestCaseError::fail(format!("{line}: {e}")))?;
        f.check(&ev)?;
    }

    /// Any bytes: an event or an error with a reason; never a panic. Bytes that are
    /// not UTF-8 are refused as such, before anything else is read.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        match parse_event_bytes(&bytes) {
            Ok(ev) => prop_assert!(std::str::from_utf8(&bytes).is_ok(), "{:?}", ev),
            Err(e) => {
                prop_assert!(!e.kind.to_string().is_empty());
                prop_assert!(!e.to_string().is_empty());
                if std::str::from_utf8(&bytes).is_err() {
                    prop_assert_eq!(e.kind, EventErrorKind::InvalidUtf8);
                    prop_assert_eq!(e.id, None);
                }
            }
        }
    }

    /// Any string, and any string spliced into an event: never a panic, and errors
    /// carry a reason.
    #[test]
    fn arbitrary_strings_never_panic(s in any_text(), f in any_fields(), at in any::<prop::sample::Index>()) {
        let line = f.line();
        let cut = (0..=line.len()).filter(|&i| line.is_char_boundary(i)).collect::<Vec<_>>();
        let i = cut[at.index(cut.len())];
        let spliced = format!("{}{s}{}", &line[..i], &line[i..]);
        for input in [s.as_str(), spliced.as_str(), &line[..i]] {
            if let Err(e) = parse_event(input) {
                prop_assert!(!e.kind.to_string().is_empty());
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    /// Without one required field, or with it null, the error names that field and
    /// (unless the field is the id) the event's id.
    #[test]
    fn missing_required_field_is_named(f in any_fields(), which in 0..4usize, null in any::<bool>()) {
        let field = REQUIRED[which];
        let mut o = f.object();
        if null {
            o.insert(field.into(), Value::Null);
        } else {
            o.remove(field);
        }
        let err = parse_event(&Value::Object(o).to_string()).unwrap_err();
        prop_assert_eq!(err.kind, EventErrorKind::MissingField(field));
        let id = (field != "id").then(|| f.id.clone());
        prop_assert_eq!(err.id, id);
    }

    /// A kind other than chat and transcript is named, cut to a short prefix.
    #[test]
    fn unknown_kinds_are_named(f in any_fields(), kind in any_text()) {
        prop_assume!(kind != "chat" && kind != "transcript");
        let mut o = f.object();
        o.insert("kind".into(), kind.clone().into());
        let err = parse_event(&Value::Object(o).to_string()).unwrap_err();
        prop_assert_eq!(err.kind, EventErrorKind::UnknownKind(echoed(&kind)));
        prop_assert_eq!(err.id, Some(f.id.clone()));
    }

    /// A chat role other than viewer, host and operator is named; transcripts are host
    /// speech whatever role they claim.
    #[test]
    fn unknown_roles_are_named(f in any_fields(), role in any_text()) {
        prop_assume!(!Role::ALL.iter().any(|r| r.as_str() == role));
        let mut o = f.object();
        o.insert("role".into(), role.clone().into());
        let line = Value::Object(o).to_string();
        let result = parse_event(&line);
        match f.kind {
            EventKind::Chat => {
                let err = result.unwrap_err();
                prop_assert_eq!(err.kind, EventErrorKind::UnknownRole(echoed(&role)));
                prop_assert_eq!(err.id, Some(f.id.clone()));
            }
            EventKind::Transcript => prop_assert_eq!(result.unwrap().role, Role::Host),
            EventKind::Listing | EventKind::Sale => unreachable!("any_fields makes speech"),
        }
    }

    /// A field of the wrong type is invalid JSON for an event, and the error still
    /// names the event.
    #[test]
    fn wrongly_typed_fields_keep_the_id(f in any_fields(), which in 0..3usize, n in any::<i64>()) {
        let field = ["room", "text", "user"][which];
        let mut o = f.object();
        o.insert(field.into(), json!([n]));
        let err = parse_event(&Value::Object(o).to_string()).unwrap_err();
        prop_assert!(matches!(err.kind, EventErrorKind::InvalidJson(_)), "{:?}", err.kind);
        prop_assert_eq!(err.id, Some(f.id.clone()));
    }

    /// NDJSON framing: JSON whitespace around the object (a stray `\r` of CRLF, pretty
    /// printers' indentation) is accepted and changes nothing; anything else around it
    /// (other Unicode spaces, a byte-order mark, NUL) is rejected as invalid JSON.
    #[test]
    fn whitespace_around_the_object(
        f in any_fields(),
        before in json_ws(),
        after in json_ws(),
        junk in other_ws(),
        junk_after in any::<bool>(),
    ) {
        let line = f.line();
        let padded = format!("{before}{line}{after}");
        let ev = parse_event(&padded).map_err(|e| TestCaseError::fail(format!("{padded:?}: {e}")))?;
        prop_assert_eq!(&ev, &parse_event(&line).unwrap());

        let bad = if junk_after {
            format!("{before}{line}{junk}{after}")
        } else {
            format!("{before}{junk}{line}{after}")
        };
        let err = parse_event(&bad).unwrap_err();
        prop_assert!(matches!(err.kind, EventErrorKind::InvalidJson(_)), "{:?}: {:?}", bad, err.kind);
    }
}

proptest! {
    /// A time the evidence cannot hold is refused with `out_of_range`, naming the event.
    #[test]
    fn times_past_the_year_9999_are_refused(ts in (liveguard::event::MAX_TS + 1)..=u64::MAX) {
        let line = format!(r#"{{"kind":"chat","id":"late","room":"r","text":"x","ts":{ts}}}"#);
        let err = liveguard::event::parse_event(&line).unwrap_err();
        prop_assert_eq!(err.kind.code(), liveguard::event::ErrorCode::OutOfRange);
        prop_assert_eq!(err.id.as_deref(), Some("late"));
    }
}

proptest! {
    /// Any price of at most 100 million yuan with at most two decimals is read
    /// exactly, however it is written; a negative one, or a fraction of a fen, is
    /// refused as `invalid_number`, naming the event.
    #[test]
    fn prices_are_read_exactly_or_refused(
        fen in 0..=liveguard::price::MAX_PRICE.0,
        style in 0..3usize,
        negative in any::<bool>(),
        extra in 1..10u64,
    ) {
        let written = match style {
            0 => format!("{}.{:02}", fen / 100, fen % 100),
            1 => liveguard::price::Fen(fen).to_string(),
            _ => format!("{}.{:02}0", fen / 100, fen % 100),
        };
        let sign = if negative { "-" } else { "" };
        let line = format!(
            r#"{{"kind":"sale","id":"s","room":"r","item":"i","price":{sign}{written}}}"#
        );
        let parsed = liveguard::event::parse_event(&line);
        if negative && fen > 0 {
            let err = parsed.unwrap_err();
            prop_assert_eq!(err.kind.code(), liveguard::event::ErrorCode::InvalidNumber);
            prop_assert_eq!(err.id.as_deref(), Some("s"));
        } else if !negative {
            let ev = parsed.unwrap();
            prop_assert_eq!(ev.pricing.unwrap().price, Some(liveguard::price::Fen(fen)));
        }
        // A third decimal that is not zero is a fraction of a fen.
        let line = format!(
            r#"{{"kind":"sale","id":"s","room":"r","item":"i","price":{}.{:02}{extra}}}"#,
            fen / 100,
            fen % 100
        );
        let err = liveguard::event::parse_event(&line).unwrap_err();
        prop_assert_eq!(err.kind.code(), liveguard::event::ErrorCode::InvalidNumber);
    }
}
