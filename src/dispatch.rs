//! The dispatcher: from one judged event to the disposal actions the Measures call for.
//!
//! Two kinds of action follow a verdict:
//!
//! - the message's own disposal: `hide_message` for a blocked message, `hold_message`
//!   for a held one (Art 31 ¶2: 及时处置违法信息);
//! - the escalation ladder of `policy.toml`: each `[[escalate]]` rung counts matching
//!   hits ("strikes") per event, per sender or per room in a sliding window and acts
//!   when the count is reached (prompt the host to correct a slip on the spot, mute a
//!   viewer after three diversion attempts, suspend the stream for a critical
//!   prohibited product). A rung with a duration repeats with every strike beyond the
//!   count, for twice as long each time, up to a cap: proportionate, as Art 12
//!   requires; a rung without one (a warning) fires once per window.
//!
//! Every action carries its reason, the lexicon rules and legal basis behind it and
//! the ids of the events that are its evidence. Action ids are a stable hash of
//! (rung, room, target, triggering event): a platform that retries an event gets the
//! same actions with the same ids, and the retry adds no strike.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::event::{ActionKind, Decision, Event, EventKind, Tier};
use crate::hash::KeyHash;
use crate::lexicon::{EscalateRule, Scope};
use crate::policy::Hit;
use crate::state::StateMap;
pub use crate::wire::{Action, Target};

/// A strike: one event that matched a rung.
#[derive(Debug)]
struct Strike {
    ts: u64,
    event: Box<str>,
}

/// Most strikes kept per (rung, scope); older ones fall out first.
const MAX_STRIKES: usize = 256;

/// Escalation state: the strike logs of every (rung, scope).
#[derive(Debug)]
pub struct Dispatcher {
    /// Keyed by a hash of (rung id, room, user), seeded at random per process.
    /// At most `max_logs` (see [`Dispatcher::with_limit`]).
    strikes: StateMap<VecDeque<Strike>>,
}

/// Default bound on strike logs: about 120 bytes each with one strike.
pub const DEFAULT_MAX_STRIKE_LOGS: usize = 1_000_000;

impl Default for Dispatcher {
    fn default() -> Dispatcher {
        Dispatcher::with_limit(DEFAULT_MAX_STRIKE_LOGS)
    }
}

/// What the dispatcher needs to know about a judged event.
#[derive(Clone, Copy, Debug)]
pub struct Judged<'a> {
    /// The event.
    pub event: &'a Event<'a>,
    /// Its time (event time, or the server's clock).
    pub ts: u64,
    /// The verdict's decision.
    pub decision: Decision,
    /// The hits.
    pub hits: &'a [Hit],
    /// The room's tier.
    pub tier: Tier,
    /// The lexicon version.
    pub lexicon: &'a Arc<str>,
}

/// A fixed key: action ids must be the same in every process and after restarts.
const ACTION_ID_KEY: u64 = 0x6c69_7665_6775_6172;

fn action_id(parts: &[&str]) -> String {
    let h = parts
        .iter()
        .fold(KeyHash::new(ACTION_ID_KEY), |h, p| h.write(p.as_bytes()));
    format!("a-{:016x}", h.finish())
}

/// An action of the coordinated danmaku detector: its rule, basis and ladder are
/// the burst's, whatever the lexicon says.
#[allow(clippy::too_many_arguments)] // the fields that differ between them
fn burst_action(
    id_parts: &[&str],
    room: &str,
    action: ActionKind,
    target: Target,
    reason: String,
    evidence: Vec<String>,
    lexicon: Arc<str>,
    ts: u64,
) -> Action {
    Action {
        kind: "action",
        action_id: action_id(id_parts),
        room: room.to_owned(),
        action,
        target,
        duration_s: None,
        reason,
        rules: vec![Arc::from(crate::burst::RULE)],
        basis: Arc::from(crate::burst::BASIS),
        evidence,
        ladder: Arc::from("burst"),
        lexicon,
        ts,
    }
}

/// The actions of a message found part of a coordinated burst, besides its own
/// hold: on the message that makes the cluster a burst, a `record` for each earlier
/// member and a `warn_room`; on each later member, a `record` of it. (Limiting the
/// room's traffic waits for a moderator to confirm the burst.)
pub fn burst_actions(
    found: &crate::burst::BurstFinding,
    ev: &Event<'_>,
    ts: u64,
    lexicon: &Arc<str>,
) -> Vec<Action> {
    let why = format!(
        "coordinated danmaku {}: {} accounts posting near-identical messages",
        found.id, found.users
    );
    let record = |user: Option<&str>, event: &str| {
        burst_action(
            &["burst", &ev.room, user.unwrap_or(""), event, "record"],
            &ev.room,
            ActionKind::Record,
            Target::Message {
                user: user.map(str::to_owned),
                event: event.to_owned(),
            },
            why.clone(),
            vec![event.to_owned()],
            lexicon.clone(),
            ts,
        )
    };
    if !found.fired_now {
        return vec![record(ev.user.as_deref(), &ev.id)];
    }
    let mut actions: Vec<Action> = found
        .earlier
        .iter()
        .map(|m| record(Some(&m.user), &m.id))
        .collect();
    let mut evidence: Vec<String> = found.earlier.iter().map(|m| m.id.clone()).collect();
    evidence.push(ev.id.to_string());
    actions.push(burst_action(
        &["burst", &ev.room, "", &found.id, "warn_room"],
        &ev.room,
        ActionKind::WarnRoom,
        Target::Room {
            room: ev.room.to_string(),
        },
        why,
        evidence,
        lexicon.clone(),
        ts,
    ));
    actions
}

/// The `limit_traffic` a moderator's confirmation of burst `burst` sets off (a
/// rejected held member): one per burst, whichever member confirmed it.
pub fn burst_confirmed(room: &str, burst: &str, lexicon: &str, by: &str, ts: u64) -> Action {
    burst_action(
        &["burst", room, "", burst, "limit_traffic"],
        room,
        ActionKind::LimitTraffic,
        Target::Room {
            room: room.to_owned(),
        },
        format!("coordinated danmaku {burst} confirmed by {by}"),
        Vec::new(),
        Arc::from(lexicon),
        ts,
    )
}

impl Dispatcher {
    /// An empty dispatcher with the default bound on strike logs.
    pub fn new() -> Dispatcher {
        Dispatcher::default()
    }

    /// An empty dispatcher holding at most `max_logs` strike logs. A log is kept per
    /// (rung, room, user) for as long as its rung's window; when `max_logs` are held,
    /// a strike that would open a new log counts alone (the event's own rungs still
    /// fire) and is counted in [`Dispatcher::refused`]: memory stays bounded whatever
    /// the number of offenders, and escalation degrades only for new ones.
    pub fn with_limit(max_logs: usize) -> Dispatcher {
        Dispatcher {
            strikes: StateMap::new(max_logs),
        }
    }

    /// Number of strike logs held (for metrics).
    pub fn len(&self) -> usize {
        self.strikes.len()
    }

    /// Whether no strike log is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Strikes so far that found no room for a new log.
    pub fn refused(&self) -> u64 {
        self.strikes.refused()
    }

    /// The actions that follow `j` under the ladder `rungs`.
    pub fn dispatch(&self, j: Judged<'_>, rungs: &[EscalateRule]) -> Vec<Action> {
        let mut actions = Vec::new();
        if j.hits.is_empty() {
            return actions;
        }
        let ev = j.event;
        // A blocked listing is taken down (its item delisted) rather than hidden.
        let message_action = match (j.decision, ev.kind) {
            (Decision::Block, EventKind::Listing) => {
                Some((ActionKind::DelistProduct, "listing taken down"))
            }
            (Decision::Block, _) => Some((ActionKind::HideMessage, "message blocked")),
            (Decision::Hold, _) => Some((ActionKind::HoldMessage, "message held for review")),
            (Decision::Mask | Decision::Allow, _) => None,
        };
        if let Some((kind, why)) = message_action {
            let worst = j
                .hits
                .iter()
                .max_by_key(|h| h.severity)
                .unwrap_or(&j.hits[0]);
            actions.push(Action {
                kind: "action",
                action_id: action_id(&[
                    "message",
                    &ev.room,
                    ev.user.as_deref().unwrap_or(""),
                    &ev.id,
                    kind.as_str(),
                ]),
                room: ev.room.to_string(),
                action: kind,
                target: match ev.pricing.as_deref() {
                    Some(p) if kind == ActionKind::DelistProduct => Target::Product {
                        room: ev.room.to_string(),
                        item: p.item.to_string(),
                    },
                    _ => Target::Message {
                        user: ev.user.as_deref().map(str::to_owned),
                        event: ev.id.to_string(),
                    },
                },
                duration_s: None,
                reason: format!("{why}: {}", terms(j.hits.iter())),
                rules: rules(j.hits.iter()),
                basis: worst.basis.clone(),
                evidence: evidence(ev, j.hits.iter()),
                ladder: Arc::from("message"),
                lexicon: j.lexicon.clone(),
                ts: j.ts,
            });
        }
        for rung in rungs {
            let matching: Vec<&Hit> = j.hits.iter().filter(|h| counts(rung, ev, h)).collect();
            if matching.is_empty() {
                continue;
            }
            if let Some(a) = self.climb(rung, &j, &matching) {
                actions.push(a);
            }
        }
        actions
    }

    /// Record the strike of `j` on `rung` and return the action if the rung fires.
    fn climb(&self, rung: &EscalateRule, j: &Judged<'_>, matching: &[&Hit]) -> Option<Action> {
        let ev = j.event;
        let user = ev.user.as_deref();
        let (count, strikes): (usize, Vec<String>) = match rung.scope {
            Scope::Event => (1, evidence(ev, matching.iter().copied())),
            Scope::User | Scope::Room => {
                // A chat event without a sender cannot be counted per sender.
                if rung.scope == Scope::User && user.is_none() {
                    return None;
                }
                let key = self
                    .strikes
                    .key()
                    .write(rung.id.as_bytes())
                    .write(ev.room.as_bytes())
                    .write(
                        if rung.scope == Scope::User {
                            user.unwrap_or("")
                        } else {
                            ""
                        }
                        .as_bytes(),
                    )
                    .finish();
                let window_ms = rung.window_s.saturating_mul(1000);
                // Most logs never see a second strike.
                let Some(mut log) = self
                    .strikes
                    .get_or_insert_with(key, || VecDeque::with_capacity(1))
                else {
                    // No room for a new log: the strike counts alone.
                    return self.fire(rung, j, matching, 1, vec![ev.id.to_string()]);
                };
                // A retried event is found in the log and counted where it stood.
                let at = match log.iter().rposition(|s| *s.event == *ev.id) {
                    Some(at) => at,
                    None => {
                        log.push_back(Strike {
                            ts: j.ts,
                            event: ev.id.as_ref().into(),
                        });
                        if log.len() > MAX_STRIKES {
                            log.pop_front();
                        }
                        log.len() - 1
                    }
                };
                let ts = log[at].ts;
                let within = || {
                    log.iter()
                        .take(at + 1)
                        .filter(move |s| s.ts + window_ms >= ts && s.ts <= ts)
                };
                // Most strikes fire nothing: the evidence (up to MAX_STRIKES ids) is
                // copied only for one that does.
                let count = within().count();
                if !fires(rung, j.tier, count) {
                    return None;
                }
                (count, within().map(|s| s.event.to_string()).collect())
            }
        };
        self.fire(rung, j, matching, count, strikes)
    }

    /// The action of `rung` for `j` with `count` strikes in its window (their event
    /// ids in `strikes`), if the rung fires at that count.
    fn fire(
        &self,
        rung: &EscalateRule,
        j: &Judged<'_>,
        matching: &[&Hit],
        count: usize,
        strikes: Vec<String>,
    ) -> Option<Action> {
        let ev = j.event;
        let user = ev.user.as_deref();
        if !fires(rung, j.tier, count) {
            return None;
        }
        let threshold = threshold(rung, j.tier);
        let excess = (count - threshold).min(32) as u32;
        let duration_s = rung.duration_s.map(|d| {
            let doubled = d.saturating_mul(1u64 << excess);
            rung.max_duration_s.map_or(doubled, |max| doubled.min(max))
        });
        let reason = if rung.scope == Scope::Event {
            format!("{}: {}", rung.reason, terms(matching.iter().copied()))
        } else {
            format!(
                "{}: {count} hits in {} ({})",
                rung.reason,
                minutes(rung.window_s),
                terms(matching.iter().copied())
            )
        };
        let target = match rung.action {
            ActionKind::WarnUser | ActionKind::MuteUser => Target::User {
                user: user.map(str::to_owned),
            },
            ActionKind::HideMessage | ActionKind::HoldMessage => Target::Message {
                user: user.map(str::to_owned),
                event: ev.id.to_string(),
            },
            _ => Target::Room {
                room: ev.room.to_string(),
            },
        };
        let worst = matching.iter().max_by_key(|h| h.severity)?;
        Some(Action {
            kind: "action",
            action_id: action_id(&[&rung.id, &ev.room, user.unwrap_or(""), &ev.id]),
            room: ev.room.to_string(),
            action: rung.action,
            target,
            duration_s,
            reason,
            rules: rules(matching.iter().copied()),
            basis: rung
                .basis
                .as_deref()
                .map_or_else(|| worst.basis.clone(), Arc::from),
            evidence: strikes,
            ladder: Arc::from(rung.id.as_str()),
            lexicon: j.lexicon.clone(),
            ts: j.ts,
        })
    }

    /// Forget strike logs whose newest strike is older than `max_window_ms` at
    /// `now_ms`. Returns how many were removed.
    pub fn sweep(&self, now_ms: u64, max_window_ms: u64) -> usize {
        self.strikes.retain(|log| {
            log.back()
                .is_some_and(|s| s.ts.saturating_add(max_window_ms) >= now_ms)
        })
    }
}

/// The strikes `rung` needs to fire in a room of `tier`.
fn threshold(rung: &EscalateRule, tier: Tier) -> usize {
    match tier {
        Tier::Standard => rung.count,
        Tier::Enhanced => rung
            .enhanced_count
            .unwrap_or_else(|| rung.count.saturating_sub(1).max(1)),
    }
}

/// Whether `rung` fires at `count` strikes. It fires when the count is reached; beyond
/// it, only rungs with a duration fire again (each time for twice as long), so a
/// warning is given once while a mute grows with the offence.
fn fires(rung: &EscalateRule, tier: Tier, count: usize) -> bool {
    let threshold = threshold(rung, tier);
    count == threshold || (count > threshold && rung.duration_s.is_some())
}

/// Whether `h` is a strike for `rung`. A mention (a hit with a context: negated,
/// questioned, quoted, reported) is no strike; a guess (a weak channel: homophone,
/// look-alike, emoji, initials) counts as `high` at most, so that one ambiguous term
/// never climbs a `critical` rung (suspending the stream, reporting the room).
fn counts(rung: &EscalateRule, ev: &Event<'_>, h: &Hit) -> bool {
    let severity = if h.via.is_weak() {
        h.severity.min(crate::event::Severity::High)
    } else {
        h.severity
    };
    // A burst has its own disposal (burst_actions): no rung counts it.
    h.via != crate::channel::Via::Burst
        && h.context.is_empty()
        && rung
            .category
            .as_ref()
            .is_none_or(|c| c.contains(&h.category))
        && rung.role.as_ref().is_none_or(|r| r.contains(&ev.role))
        && severity >= rung.min_severity
}

fn terms<'h>(hits: impl Iterator<Item = &'h Hit>) -> String {
    let mut out: Vec<&str> = Vec::new();
    for h in hits {
        if !out.contains(&&*h.term) {
            out.push(&h.term);
        }
    }
    out.join("、")
}

fn rules<'h>(hits: impl Iterator<Item = &'h Hit>) -> Vec<Arc<str>> {
    let mut out: Vec<Arc<str>> = Vec::new();
    for h in hits {
        if !out.contains(&h.rule) {
            out.push(h.rule.clone());
        }
    }
    out
}

/// The event and the earlier events the hits rest on: those of its window that a
/// split term spans, and the listings and sales a price check compared.
fn evidence<'h>(ev: &Event<'_>, hits: impl Iterator<Item = &'h Hit>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hits {
        let compared = h
            .price
            .iter()
            .flat_map(|p| p.evidence.iter().map(|r| &r.id));
        for id in h.window.iter().map(|part| &part.id).chain(compared) {
            if !out.contains(id) && **id != *ev.id {
                out.push(id.clone());
            }
        }
    }
    out.push(ev.id.to_string());
    out
}

fn minutes(window_s: u64) -> String {
    if window_s.is_multiple_of(60) {
        format!("{} min", window_s / 60)
    } else {
        format!("{window_s} s")
    }
}

#[cfg(test)]
mod tests;
