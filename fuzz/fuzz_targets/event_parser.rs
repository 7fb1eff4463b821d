//! Arbitrary bytes through the wire-protocol parser (`liveguard::event`).
//!
//! Asserts: no panic; `parse_event_bytes` agrees with `parse_event` on UTF-8 and
//! rejects everything else as `InvalidUtf8`; an accepted event re-serialized with
//! serde_json parses back to the same event; borrowed strings point into the input;
//! errors have a non-empty message, name only required fields as missing, and echo
//! at most a short prefix of unknown kinds and roles.

#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use liveguard::event::{
    Event, EventError, EventErrorKind, EventKind, Role, parse_event, parse_event_bytes,
};

/// `truncate` in src/event.rs keeps 64 bytes and appends `…` (3 bytes).
const MAX_ECHO: usize = 64 + '…'.len_utf8();

fuzz_target!(|data: &[u8]| {
    let from_bytes = parse_event_bytes(data);
    match std::str::from_utf8(data) {
        Ok(line) => {
            let from_str = parse_event(line);
            assert_eq!(
                from_bytes, from_str,
                "parse_event_bytes and parse_event disagree"
            );
            match from_str {
                Ok(ev) => check_event(line, &ev),
                Err(err) => check_error(&err),
            }
        }
        Err(_) => {
            let err = from_bytes.expect_err("invalid UTF-8 was accepted");
            assert_eq!(err.kind, EventErrorKind::InvalidUtf8);
            assert_eq!(err.id, None);
            check_error(&err);
        }
    }
});

fn check_event(line: &str, ev: &Event<'_>) {
    // Strings borrowed from the input are slices of it, between quotes (no escapes).
    let fields = [
        Some(&ev.id),
        Some(&ev.room),
        Some(&ev.text),
        ev.user.as_ref(),
    ];
    for s in fields.into_iter().flatten() {
        if let Cow::Borrowed(b) = s {
            let base = line.as_ptr() as usize;
            let at = b.as_ptr() as usize;
            assert!(
                at >= base && at + b.len() <= base + line.len(),
                "borrowed field {b:?} is not a slice of the input"
            );
            let off = at - base;
            assert_eq!(&line[off..off + b.len()], *b);
            assert!(!b.contains(['"', '\\']), "borrowed field {b:?} has escapes");
        }
    }
    // Transcripts are always host speech.
    if ev.kind == EventKind::Transcript {
        assert_eq!(ev.role, Role::Host);
    }

    // Listings and sales round-trip through the wire module's writer (with `final`,
    // which it leaves out of them): the same event.
    if matches!(ev.kind, EventKind::Listing | EventKind::Sale) {
        let mut obj = serde_json::to_value(ev).expect("an event serializes");
        obj["final"] = ev.is_final.into();
        let again = obj.to_string();
        let back = parse_event(&again).expect("a re-serialized event parses");
        assert_eq!(&back, ev, "round trip through {again}");
        assert_eq!(ev.clone().into_owned(), *ev);
        return;
    }
    // Re-serialize the accepted fields and parse again: the same event.
    let mut obj = serde_json::Map::new();
    obj.insert("kind".into(), ev.kind.as_str().into());
    obj.insert("id".into(), ev.id.as_ref().into());
    obj.insert("room".into(), ev.room.as_ref().into());
    obj.insert("text".into(), ev.text.as_ref().into());
    if let Some(u) = &ev.user {
        let key = match ev.kind {
            EventKind::Transcript => "speaker",
            _ => "user",
        };
        obj.insert(key.into(), u.as_ref().into());
    }
    if ev.kind == EventKind::Chat {
        obj.insert("role".into(), ev.role.as_str().into());
    }
    if let Some(ts) = ev.ts {
        obj.insert("ts".into(), ts.into());
    }
    obj.insert("final".into(), ev.is_final.into());
    let again = serde_json::Value::Object(obj).to_string();
    let back = parse_event(&again).expect("a re-serialized event parses");
    assert_eq!(&back, ev, "round trip through {again}");
    assert_eq!(ev.clone().into_owned(), *ev);
}

fn check_error(err: &EventError) {
    assert!(!err.to_string().is_empty());
    assert!(!err.kind.to_string().is_empty());
    match &err.kind {
        EventErrorKind::MissingField(f) => {
            assert!(["kind", "id", "room", "text"].contains(f), "missing {f}?");
        }
        EventErrorKind::UnknownKind(s) | EventErrorKind::UnknownRole(s) => {
            assert!(s.len() <= MAX_ECHO, "echoes {} bytes of input", s.len());
        }
        _ => {}
    }
    if let Some(id) = &err.id {
        assert!(err.to_string().contains(id.as_str()));
    }
}
