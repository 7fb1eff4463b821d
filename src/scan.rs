//! `liveguard scan`: NDJSON events in, one NDJSON verdict (or error) per event out, in
//! order, through the same [`Engine`] the server runs, windows and escalation
//! included. The actions a verdict triggers follow it, one line each.

use std::io::{self, BufRead, Write};

use crate::engine::{Engine, Scratch};
use crate::event::{EventError, EventErrorKind, parse_event_bytes};
use crate::wire::{Answer, ErrorFrame};

/// The longest input line accepted; longer lines are answered with an error and skipped.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Windows of idle users are swept after this many events.
const SWEEP_EVERY: u64 = 4096;

/// What a scan saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Events judged.
    pub events: u64,
    /// Lines rejected with an error object.
    pub errors: u64,
    /// Events whose decision was not `allow`.
    pub flagged: u64,
}

/// Scan every line of `input`, writing one JSON object per non-blank line to `out`.
/// `now_ms` gives the time used for events without `ts`.
///
/// # Errors
/// Only I/O errors of `input` or `out`; bad lines are reported in the output.
pub fn scan<R: BufRead, W: Write>(
    engine: &Engine,
    mut input: R,
    mut out: W,
    now_ms: impl Fn() -> u64,
) -> io::Result<ScanSummary> {
    let mut summary = ScanSummary::default();
    let mut scratch = Scratch::default();
    let mut line = Vec::new();
    let mut number = 0u64;
    let mut last_ts = 0u64;
    while let Some(too_long) = read_line(&mut input, &mut line, MAX_LINE_BYTES)? {
        number += 1;
        let bytes = trim_line(&line);
        if bytes.iter().all(u8::is_ascii_whitespace) && !too_long {
            continue;
        }
        let parsed = if too_long {
            Err(EventError {
                id: None,
                kind: EventErrorKind::TooLong {
                    field: "line",
                    len: line.len(),
                    limit: MAX_LINE_BYTES,
                },
            })
        } else {
            parse_event_bytes(bytes)
        };
        let now = now_ms();
        match parsed.and_then(|ev| engine.judge_event(ev, now, &mut scratch)) {
            Ok((ev, outcome)) => {
                summary.events += 1;
                summary.flagged += u64::from(outcome.decision != crate::event::Decision::Allow);
                outcome.answer(&ev).write_to(&mut out)?;
                last_ts = last_ts.max(ev.ts.unwrap_or(now));
                if summary.events % SWEEP_EVERY == 0 {
                    engine.sweep(last_ts);
                }
            }
            Err(err) => {
                summary.errors += 1;
                Answer::Refused(ErrorFrame::new(&err, Some(number))).write_to(&mut out)?;
            }
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(summary)
}

/// Read one line into `buf` (without the newline), keeping at most `cap` bytes.
/// Returns `None` at end of input, `Some(true)` if the line was longer than `cap` (the
/// rest is consumed and dropped).
fn read_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], i + 1),
            None => (chunk, chunk.len()),
        };
        let room = cap.saturating_sub(buf.len());
        if part.len() > room {
            too_long = true;
        }
        buf.extend_from_slice(&part[..part.len().min(room)]);
        let found_newline = done > part.len();
        r.consume(done);
        if found_newline {
            return Ok(Some(too_long));
        }
    }
}

fn trim_line(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineConfig, Ruleset};

    fn run(input: &str) -> Vec<serde_json::Value> {
        let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
        let mut out = Vec::new();
        scan(&engine, input.as_bytes(), &mut out, || 1_767_750_000_000).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn one_verdict_per_line_in_order_actions_after_and_errors_with_line_numbers() {
        let input = concat!(
            r#"{"kind":"chat","id":"a","room":"r","text":"主播晚上好"}"#,
            "\n\n",
            "{broken\n",
            r#"{"kind":"chat","id":"b","room":"r"}"#,
            "\n",
            r#"{"kind":"chat","id":"c","room":"r","text":"加微信"}"#,
            "\r\n",
        );
        let out = run(input);
        assert_eq!(out.len(), 5, "{out:?}");
        assert_eq!(out[0]["id"], "a");
        assert_eq!(out[0]["decision"], "allow");
        assert_eq!(out[1]["kind"], "error");
        assert_eq!(out[1]["line"], 3);
        assert_eq!(out[2]["line"], 4);
        assert_eq!(out[2]["id"], "b");
        assert_eq!(out[2]["reason"], "missing field `text`");
        assert_eq!(out[3]["id"], "c");
        assert_eq!(out[3]["decision"], "block");
        assert_eq!(out[4]["kind"], "action", "the verdict's action follows it");
        assert_eq!(out[4]["type"], "hide_message");
        assert_eq!(out[4]["action_id"], out[3]["actions"][0]);
    }

    #[test]
    fn invalid_utf8_and_overlong_lines_are_errors() {
        let engine = Engine::new(Ruleset::embedded(), EngineConfig::default());
        let mut input = b"\xff\xfe\n".to_vec();
        input.extend(vec![b'x'; MAX_LINE_BYTES + 10]);
        input.extend(b"\n{\"kind\":\"chat\",\"id\":\"z\",\"room\":\"r\",\"text\":\"ok\"}");
        let mut out = Vec::new();
        let s = scan(&engine, &input[..], &mut out, || 0).unwrap();
        assert_eq!(
            s,
            ScanSummary {
                events: 1,
                errors: 2,
                flagged: 0
            }
        );
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("invalid UTF-8"));
        assert!(lines[1].contains("over the limit"));
        assert!(lines[2].contains(r#""id":"z""#));
    }
}
