//! What a judged event leaves as evidence: the feed record of a flagged event, with
//! its alert body (event, verdict, actions) and the rows the store keeps.

use crate::engine::Outcome;
use crate::event::{Category, Decision, Event};
use crate::store::{ActionRow, EventRow, FeedRecord};
use crate::wire::{Action, alert_body};

/// The feed record of a flagged event. Its `seq` is set by the hub when it publishes
/// it.
pub fn alert_record(ev: &Event<'_>, outcome: &Outcome) -> FeedRecord {
    let mut categories: Vec<Category> = outcome.hits.iter().map(|h| h.category).collect();
    categories.sort_unstable();
    categories.dedup();
    FeedRecord {
        seq: 0,
        kind: "alert".into(),
        ts: outcome.ts,
        room: ev.room.to_string(),
        severity: outcome.hits.iter().map(|h| h.severity).max(),
        categories,
        body: alert_body(ev, outcome.ts, outcome.verdict(ev), &outcome.actions),
        event: Some(EventRow {
            event_id: ev.id.to_string(),
            kind: ev.kind.as_str().into(),
            user: ev.user.as_deref().map(str::to_owned),
            role: ev.role.as_str().into(),
            normalized: outcome.normalized.clone().unwrap_or_default(),
            decision: outcome.decision.as_str().into(),
            lexicon: outcome.lexicon.to_string(),
            held: outcome.decision == Decision::Hold,
        }),
        actions: outcome.actions.iter().map(action_row).collect(),
        review: None,
    }
}

/// The row the store keeps of an action, with the action as sent.
pub(crate) fn action_row(a: &Action) -> ActionRow {
    ActionRow {
        action_id: a.action_id.clone(),
        action: a.action.as_str().into(),
        target_user: a.target.user().map(str::to_owned),
        target_event: a.target.event().map(str::to_owned),
        target_room: a.target.room().map(str::to_owned),
        duration_s: a.duration_s,
        json: serde_json::to_string(a).expect("an action serializes"),
        lexicon: a.lexicon.to_string(),
        basis: a.basis.to_string(),
    }
}
