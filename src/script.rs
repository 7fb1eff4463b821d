//! The pre-live script check (直播电商监督管理办法 第30条: review what will be said
//! before going live): a host's script or a product's copy, judged line by line as
//! the engine would judge it spoken in a room, with what each hit means and how to
//! say it instead.
//!
//! The lines run through a fresh [`Engine`] on the ruleset in use, as consecutive
//! transcript segments of one room (chat messages of one sender for other roles), so
//! a term split over two lines is found as it would be live. The engine is dropped
//! afterwards: nothing is stored, dispatched or remembered, and no room's windows or
//! strikes change.

use std::borrow::Cow;
use std::sync::Arc;

use crate::engine::{Engine, EngineConfig, Ruleset, Scratch};
use crate::event::{Decision, Event, EventKind, Role};
use crate::wire::{ScriptCheck, ScriptHit};

/// The longest script checked at once (64 KiB: a few thousand lines of speech).
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// Why a script was not checked.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// Over [`MAX_SCRIPT_BYTES`].
    #[error("the script is {0} bytes; at most {MAX_SCRIPT_BYTES} are checked at once")]
    TooLong(usize),
}

/// Check `text` as `role` would say it (a host's speech is a transcript; an
/// operator's or viewer's lines are chat), with `rules`.
///
/// # Errors
/// [`ScriptError::TooLong`].
pub fn check_script(
    rules: Arc<Ruleset>,
    text: &str,
    role: Role,
) -> Result<ScriptCheck, ScriptError> {
    if text.len() > MAX_SCRIPT_BYTES {
        return Err(ScriptError::TooLong(text.len()));
    }
    let engine = Engine::sharing(rules.clone(), EngineConfig::default());
    let mut scratch = Scratch::default();
    let mut answer = ScriptCheck {
        lexicon: rules.matcher.version().to_string(),
        lines: 0,
        decision: Decision::Allow,
        hits: Vec::new(),
    };
    let mut offset = 0;
    for (n, raw_line) in text.split('\n').enumerate() {
        let line_start = offset;
        offset += raw_line.len() + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        answer.lines = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let ev = Event {
            kind: if role == Role::Host {
                EventKind::Transcript
            } else {
                EventKind::Chat
            },
            id: Cow::Owned(format!("line-{}", n + 1)),
            room: Cow::Borrowed("script-check"),
            user: Some(Cow::Borrowed("script")),
            role,
            // One line a second: every earlier line stays within the windows' age.
            ts: Some(n as u64 * 1000),
            text: Cow::Borrowed(line),
            is_final: true,
            pricing: None,
        };
        let outcome = engine.process(&ev, 0, &mut scratch);
        answer.decision = answer.decision.max(outcome.decision);
        for hit in outcome.hits {
            let entry = rules.matcher.entries().iter().find(|e| e.id == hit.rule);
            answer.hits.push(ScriptHit {
                line: n + 1,
                start: line_start + hit.start,
                end: line_start + hit.end,
                matched: line.get(hit.start..hit.end).unwrap_or_default().to_owned(),
                rule: hit.rule.to_string(),
                term: hit.term.to_string(),
                category: hit.category,
                severity: hit.severity,
                via: hit.via,
                context: hit.context.iter().collect(),
                decision: outcome.decision,
                basis: hit.basis.to_string(),
                note: entry.map(|e| e.note.to_string()).unwrap_or_default(),
                suggest: entry.map(|e| e.suggest.to_vec()).unwrap_or_default(),
                earlier_lines: hit
                    .window
                    .iter()
                    .filter_map(|part| part.id.strip_prefix("line-")?.parse().ok())
                    .collect(),
            });
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::tests::engine;

    fn check(text: &str) -> ScriptCheck {
        check_script(engine().rules(), text, Role::Host).unwrap()
    }

    #[test]
    fn hits_carry_their_line_offsets_basis_and_suggestion() {
        let script = "家人们晚上好\r\n这款是全网最低价，错过就没了\n\n它是最好的面霜";
        let answer = check(script);
        assert_eq!(answer.lines, 4);
        assert!(answer.decision > Decision::Allow);
        let lowest = answer
            .hits
            .iter()
            .find(|h| h.term.contains("最低价"))
            .expect("全网最低价 is found");
        assert_eq!(lowest.line, 2);
        assert_eq!(&script[lowest.start..lowest.end], lowest.matched);
        assert!(!lowest.basis.is_empty());
        assert!(!lowest.suggest.is_empty(), "{lowest:?}");
        let best = answer
            .hits
            .iter()
            .find(|h| h.line == 4)
            .expect("最好 is found");
        assert_eq!(&script[best.start..best.end], best.matched);
    }

    #[test]
    fn a_term_split_over_two_lines_is_found_on_the_second() {
        let answer = check("这款面霜全网\n最低价");
        let hit = answer.hits.first().expect("split term found");
        assert_eq!(hit.line, 2);
        assert_eq!(hit.earlier_lines, vec![1]);
    }

    #[test]
    fn a_clean_script_has_no_hits() {
        let rules = engine().rules();
        let answer = check_script(
            rules,
            "家人们晚上好\n今天给大家介绍一款很好用的面霜",
            Role::Host,
        )
        .unwrap();
        assert_eq!(answer.decision, Decision::Allow);
        assert!(answer.hits.is_empty(), "{:?}", answer.hits);
    }

    #[test]
    fn an_overlong_script_is_refused() {
        let long = "好".repeat(MAX_SCRIPT_BYTES);
        assert!(matches!(
            check_script(engine().rules(), &long, Role::Host),
            Err(ScriptError::TooLong(_))
        ));
    }
}
