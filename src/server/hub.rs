//! The alert hub: seqs, the store round trip, the reorder stage, the history and the
//! fan-out of the moderators' feed, and the held messages.
//!
//! Every flagged event becomes an alert with the next `seq`; review outcomes are
//! records of the same feed. With a store, a record goes to the store's writer first
//! and reaches the history and the subscribers only once committed (or marked
//! `"stored":false` if the store cannot keep it): a moderator never sees what a crash
//! could take back. Records come back from the writer in seq order, but one the store
//! queue refused comes back at once, ahead of lower seqs still being written; a
//! reorder stage holds it until they arrive, so subscribers get every seq in order.
//! It holds at most `alerts.history` records: past that (a writer stalled for good),
//! the feed skips ahead and the late records stay replayable with `since`. The hub keeps
//! a bounded history for `since` replay (older records are read back from the store)
//! and fans records out through a broadcast ring: publishing never waits for a
//! subscriber (see [`super::feed`]).
//!
//! Held messages are registered by `seq`; a moderator's `review` frame, or expiry
//! after `alerts.hold_timeout_s`, resolves them, and the platform hears of it on the
//! ingest connection that sent the event.

use crate::clock::now_ms;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::auth::Principal;
use crate::config::{AlertConfig, ReviewDecision};
use crate::engine::Outcome;
use crate::event::{Category, Event, Severity};
use crate::store::{FeedRecord, OnWritten, Recovered, Rejected, ReviewRow, Store};
use crate::telemetry as t;
use crate::wire::{DecidedBy, ReviewFields};

/// One record of the feed, as subscribers receive it.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) room: Box<str>,
    pub(crate) categories: Vec<Category>,
    pub(crate) severity: Option<Severity>,
    pub(crate) json: Utf8Bytes,
}

impl Record {
    /// The feed's view of a record; `stored`: the store kept it.
    pub(crate) fn of(record: &FeedRecord, stored: bool) -> Record {
        Record {
            seq: record.seq,
            room: record.room.as_str().into(),
            categories: record.categories.clone(),
            severity: record.severity,
            json: record.frame(stored).into(),
        }
    }
}

/// Resolves once the store writer is done with a publication's records: `true` when
/// committed, `false` when the write failed (or the writer went away).
#[derive(Debug)]
pub(crate) struct Committed(tokio::sync::oneshot::Receiver<bool>);

impl Committed {
    /// Wait for the commit, at most `max`. `None` when the wait ran out.
    pub(crate) async fn wait(self, max: Duration) -> Option<bool> {
        match tokio::time::timeout(max, self.0).await {
            Ok(r) => Some(r.unwrap_or(false)),
            Err(_) => None,
        }
    }
}

/// A held message waiting for a moderator.
#[derive(Debug)]
struct Hold {
    room: Box<str>,
    event: Box<str>,
    /// The ingest connection that sent it (0 after a restart: it is gone).
    conn: u64,
    deadline: Instant,
    categories: Vec<Category>,
    severity: Option<Severity>,
    /// A gateway published its review and waits for the cluster's feed to bring it
    /// back: not offered for another review, nor expired, meanwhile.
    deciding: bool,
    /// The alert as the feed delivered it (for the console's queue of pending holds);
    /// `None` until delivered, or for a hold restored without its record.
    alert: Option<Utf8Bytes>,
    /// For a member of a coordinated burst: the burst's id and the lexicon version
    /// that judged it (rejecting it confirms the burst).
    burst: Option<(Box<str>, Box<str>)>,
}

impl Hold {
    /// The review record resolving this hold (seq 0: the caller numbers it), and
    /// the frame the platform hears.
    fn review(
        &self,
        held: u64,
        decision: ReviewDecision,
        by: &str,
        note: Option<&str>,
    ) -> (FeedRecord, String) {
        let ts = now_ms();
        // A moderator who rejects a burst's message confirms the burst.
        let actions: Vec<crate::wire::Action> = match &self.burst {
            Some((burst, lexicon)) if decision == ReviewDecision::Reject && by != "expiry" => {
                vec![crate::dispatch::burst_confirmed(
                    &self.room, burst, lexicon, by, ts,
                )]
            }
            _ => Vec::new(),
        };
        let rows = actions.iter().map(crate::evidence::action_row).collect();
        let review = ReviewFields {
            held,
            id: &self.event,
            room: &self.room,
            decision,
            by,
            note,
            ts,
            actions,
        };
        let record = FeedRecord {
            seq: 0,
            kind: "review".into(),
            ts,
            room: self.room.to_string(),
            categories: self.categories.clone(),
            severity: self.severity,
            body: review.body(),
            event: None,
            actions: rows,
            review: Some(ReviewRow {
                held_seq: held,
                event_id: self.event.to_string(),
                decision: decision.as_str().into(),
                by: by.to_owned(),
                note: note.map(str::to_owned),
            }),
        };
        (record, review.platform_frame())
    }
}

/// How a hold was resolved, for delivery to the platform.
#[derive(Debug)]
pub(crate) struct Resolution {
    pub(crate) conn: u64,
    pub(crate) frame: String,
}

#[derive(Debug)]
struct Inner {
    next_seq: u64,
    /// The seq the feed delivers next: every lower one has been delivered.
    next_delivery: u64,
    /// Records back from the store ahead of a lower seq still in its writer.
    waiting: BTreeMap<u64, Arc<Record>>,
    /// Delivered records, in seq order.
    history: VecDeque<Arc<Record>>,
    holds: BTreeMap<u64, Hold>,
    /// How recent holds were decided, by held seq; at most `alerts.history` entries
    /// (the oldest are forgotten first: a review that late is answered as not held).
    decided: BTreeMap<u64, DecidedHold>,
}

/// A decided hold's room (who may learn of it) and how it was decided.
#[derive(Debug)]
struct DecidedHold {
    room: Box<str>,
    how: DecidedBy,
}

impl Inner {
    /// The hold `held`, if `principal` may review it and no review of it is under
    /// way. A hold in a room `principal` does not cover is answered as if it did not
    /// exist: a moderator learns nothing of other rooms.
    fn reviewable(&mut self, held: u64, principal: &Principal) -> Result<&mut Hold, ReviewError> {
        let Some(hold) = self.holds.get_mut(&held) else {
            return Err(match self.decided.get(&held) {
                Some(d) if principal.may_access(&d.room) => ReviewError::Decided {
                    held,
                    decided: d.how.clone(),
                },
                _ => ReviewError::NotHeld(held),
            });
        };
        if !principal.may_access(&hold.room) {
            return Err(ReviewError::NotHeld(held));
        }
        if hold.deciding {
            return Err(ReviewError::Deciding(held));
        }
        Ok(hold)
    }

    /// Remember how the hold `held` (in `room`) was decided, within the bound.
    fn remember_decision(&mut self, held: u64, room: &str, how: DecidedBy, bound: usize) {
        self.decided.insert(
            held,
            DecidedHold {
                room: room.into(),
                how,
            },
        );
        while self.decided.len() > bound {
            self.decided.pop_first();
        }
    }
}

/// The feed: history, fan-out and held messages.
pub(crate) struct Hub {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Record>>,
    config: AlertConfig,
    store: OnceLock<Arc<Store>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("config", &self.config).finish()
    }
}

/// Why a review was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReviewError {
    #[error("no held message with seq {0} (never held, or reviewed or expired long ago)")]
    NotHeld(u64),
    #[error("seq {held} was already decided: {} by {}", decided.decision.as_str(), decided.by)]
    Decided { held: u64, decided: DecidedBy },
    #[error("seq {0} is being decided by another moderator")]
    Deciding(u64),
}

impl ReviewError {
    /// How the hold was decided, when that is why the review was refused.
    pub(crate) fn decided(&self) -> Option<&DecidedBy> {
        match self {
            ReviewError::Decided { decided, .. } => Some(decided),
            _ => None,
        }
    }
}

/// Count a resolved hold.
fn count_review(inner: &Inner, decision: ReviewDecision, by: &str) {
    metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
    let by_label = if by == "expiry" {
        "expiry"
    } else {
        "moderator"
    };
    metrics::counter!(t::REVIEWS, "outcome" => decision.as_str(), "by" => by_label).increment(1);
}

/// Insert keeping seq order (records arrive in order, or nearly: a record delivered
/// unstored may overtake one still being committed).
fn insert_sorted(history: &mut VecDeque<Arc<Record>>, record: Arc<Record>) {
    let at = history
        .iter()
        .rposition(|r| r.seq < record.seq)
        .map_or(0, |i| i + 1);
    history.insert(at, record);
}

impl Hub {
    pub(crate) fn new(config: AlertConfig) -> Hub {
        let (tx, _) = broadcast::channel(config.subscriber_queue);
        Hub {
            inner: Mutex::new(Inner {
                next_seq: 1,
                next_delivery: 1,
                waiting: BTreeMap::new(),
                history: VecDeque::new(),
                holds: BTreeMap::new(),
                decided: BTreeMap::new(),
            }),
            tx,
            config,
            store: OnceLock::new(),
        }
    }

    /// Route records through `store` from now on (its seq floor covers every seq
    /// handed out so far, including those of a run without it).
    pub(crate) fn attach(&self, store: Arc<Store>) {
        store.issued(self.lock().next_seq);
        let _ = self.store.set(store);
    }

    /// The store records pass through, if any.
    pub(crate) fn store(&self) -> Option<&Arc<Store>> {
        self.store.get()
    }

    /// Resume from what the store held: the seq, the history, the pending holds.
    pub(crate) fn restore(&self, recovered: &Recovered) {
        let mut inner = self.lock();
        inner.next_seq = inner.next_seq.max(recovered.next_seq);
        inner.next_delivery = inner.next_delivery.max(recovered.next_seq);
        for row in &recovered.history {
            insert_sorted(
                &mut inner.history,
                Arc::new(Record {
                    seq: row.seq,
                    room: row.room.as_str().into(),
                    categories: row.categories.clone(),
                    severity: row.severity,
                    json: row.frame.clone().into(),
                }),
            );
        }
        for row in recovered.history.iter().filter(|r| r.kind == "review") {
            if let Ok(review) = serde_json::from_str::<StoredReview>(&row.frame) {
                let how = DecidedBy {
                    decision: review.decision,
                    by: review.by,
                    review_seq: row.seq,
                };
                let bound = self.config.history;
                inner.remember_decision(review.held, &row.room, how, bound);
            }
        }
        let now = now_ms();
        for h in &recovered.holds {
            // Time already spent held counts towards the deadline.
            let left = (h.ts + self.config.hold_timeout_s * 1000).saturating_sub(now);
            let alert = history_record(&inner.history, h.seq).map(|r| r.json.clone());
            let burst = alert.as_deref().and_then(burst_of);
            inner.holds.insert(
                h.seq,
                Hold {
                    room: h.room.as_str().into(),
                    event: h.event_id.as_str().into(),
                    conn: 0,
                    deadline: Instant::now() + Duration::from_millis(left),
                    categories: h.categories.clone(),
                    severity: h.severity,
                    deciding: false,
                    alert,
                    burst,
                },
            );
        }
        metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
        metrics::gauge!(t::ALERT_HISTORY).set(inner.history.len() as f64);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is a
        // single push or remove): keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Store the records, or, without a store (or when it cannot take them), deliver
    /// them now. Called with the lock held, so the store sees records in seq order.
    /// With `wait`, returns what resolves once the store has written them; `None`
    /// when there is nothing to wait for (no store, or it refused them).
    fn emit(&self, inner: &mut Inner, records: Vec<FeedRecord>, wait: bool) -> Option<Committed> {
        let Some(store) = self.store.get() else {
            for record in &records {
                self.deliver(inner, record, true);
            }
            return None;
        };
        store.issued(inner.next_seq);
        let (waiter, committed) = if wait {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let on_written: OnWritten = Box::new(move |stored| {
                let _ = tx.send(stored);
            });
            (Some(on_written), Some(Committed(rx)))
        } else {
            (None, None)
        };
        match store.submit_many(records, waiter) {
            Ok(()) => committed,
            Err(Rejected(records)) => {
                self.refused(inner, records);
                None
            }
        }
    }

    /// Records the store queue could not take: delivered now, unstored.
    fn refused(&self, inner: &mut Inner, records: Vec<FeedRecord>) {
        // Counted every time; logged once per 10 s (a stalled store refuses every frame).
        static GATE: t::LogGate = t::LogGate::new(10);
        metrics::counter!(t::STORE_UNSTORED).increment(records.len() as u64);
        if let Some(hidden) = GATE.pass() {
            tracing::error!(
                first_seq = records.first().map(|r| r.seq),
                records = records.len(),
                hidden,
                "Store queue full: records delivered without being stored."
            );
        }
        for record in &records {
            self.deliver(inner, record, false);
        }
    }

    /// Records back from the store writer: deliver them, marked if not stored.
    pub(crate) fn committed(&self, records: Vec<(FeedRecord, bool)>) {
        let mut inner = self.lock();
        for (record, stored) in records {
            self.deliver(&mut inner, &record, stored);
        }
    }

    /// A record of a cluster's feed, its seq the alerts stream's, read in stream
    /// order: delivered as the next one. A seq below the next expected (read again
    /// after the follower resumed) is skipped.
    ///
    /// A held alert registers its hold here (as [`Hub::publish`] does); a review
    /// record resolves it, and the frame its platform hears comes back with the
    /// held event's room and id (the gateway that sent the event delivers it).
    ///
    /// `stored_ms`: when the stream stored it; a hold's time already spent counts
    /// towards its deadline (a gateway that starts reads the last records again).
    pub(crate) fn follow(
        &self,
        record: &FeedRecord,
        stored_ms: u64,
    ) -> Option<(Box<str>, Box<str>, String)> {
        let mut inner = self.lock();
        if record.seq < inner.next_delivery {
            return None;
        }
        // The stream's seqs are contiguous, but the follower may start anywhere.
        inner.next_delivery = record.seq;
        inner.next_seq = record.seq + 1;
        let mut resolved = None;
        if let Some(event) = record.event.as_ref().filter(|e| e.held) {
            inner.holds.insert(
                record.seq,
                Hold {
                    room: record.room.as_str().into(),
                    event: event.event_id.as_str().into(),
                    conn: 0,
                    deadline: Instant::now()
                        + Duration::from_millis(
                            (stored_ms + self.config.hold_timeout_s * 1000)
                                .saturating_sub(now_ms()),
                        ),
                    categories: record.categories.clone(),
                    severity: record.severity,
                    deciding: false,
                    alert: None,
                    burst: burst_of(&record.body),
                },
            );
        }
        if let Some(review) = &record.review
            && inner.holds.remove(&review.held_seq).is_some()
        {
            let fields: Option<ReviewFields<'_>> = serde_json::from_str(&record.body).ok();
            if let Some(fields) = fields {
                count_review(&inner, fields.decision, fields.by);
                let how = DecidedBy {
                    decision: fields.decision,
                    by: fields.by.to_owned(),
                    review_seq: record.seq,
                };
                let bound = self.config.history;
                inner.remember_decision(review.held_seq, &record.room, how, bound);
                resolved = Some((
                    record.room.as_str().into(),
                    review.event_id.as_str().into(),
                    fields.platform_frame(),
                ));
            }
        }
        metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
        self.deliver(&mut inner, record, true);
        resolved
    }

    /// A record is back (committed, or refused by the store): deliver it in seq order.
    fn deliver(&self, inner: &mut Inner, record: &FeedRecord, stored: bool) {
        // Without a store there is nothing to say about storing.
        let stored = stored || self.store.get().is_none();
        let record = Arc::new(Record::of(record, stored));
        if let Some(hold) = inner.holds.get_mut(&record.seq) {
            hold.alert = Some(record.json.clone());
        }
        if record.seq < inner.next_delivery {
            // The feed skipped past it (below): replayable, too late to fan out.
            insert_sorted(&mut inner.history, record);
            self.trim_history(inner);
            return;
        }
        inner.waiting.insert(record.seq, record);
        if inner.waiting.len() > self.config.history {
            // The writer has held a lower seq back for longer than the history is
            // long: stop waiting for it rather than grow without bound.
            let (&first, _) = inner.waiting.first_key_value().expect("not empty");
            metrics::counter!(t::ALERTS_SKIPPED).increment(first - inner.next_delivery);
            tracing::error!(
                from = inner.next_delivery,
                to = first - 1,
                "Store writer stalled: the feed skips ahead; the skipped seqs stay replayable once written."
            );
            inner.next_delivery = first;
        }
        while let Some(entry) = inner.waiting.first_entry() {
            if *entry.key() != inner.next_delivery {
                break;
            }
            let record = entry.remove();
            inner.next_delivery += 1;
            self.fan_out(inner, record);
        }
    }

    /// Add a record, the next in seq order, to the history and send it to subscribers.
    fn fan_out(&self, inner: &mut Inner, record: Arc<Record>) {
        inner.history.push_back(record.clone());
        self.trim_history(inner);
        // No subscriber is not an error: the record is in the history.
        let _ = self.tx.send(record);
        metrics::counter!(t::ALERTS).increment(1);
    }

    fn trim_history(&self, inner: &mut Inner) {
        while inner.history.len() > self.config.history {
            inner.history.pop_front();
        }
        metrics::gauge!(t::ALERT_HISTORY).set(inner.history.len() as f64);
    }

    /// Publish the alerts of the flagged events of one frame sent on connection
    /// `conn`, in order; registers a hold for each `hold` verdict. With
    /// `wait_for_actions` and a store, when any event carries actions, returns what
    /// resolves once the records are written: the answer waits for it.
    pub(crate) fn publish(
        &self,
        flagged: &[(Event<'_>, Outcome)],
        conn: u64,
        wait_for_actions: bool,
    ) -> Option<Committed> {
        // Serialize outside the lock; only the seqs are given under it.
        let mut records: Vec<FeedRecord> = flagged
            .iter()
            .map(|(ev, outcome)| crate::evidence::alert_record(ev, outcome))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(self.config.hold_timeout_s);
        let mut inner = self.lock();
        for (record, (ev, outcome)) in records.iter_mut().zip(flagged) {
            record.seq = inner.next_seq;
            inner.next_seq += 1;
            if outcome.decision == crate::event::Decision::Hold {
                inner.holds.insert(
                    record.seq,
                    Hold {
                        room: ev.room.as_ref().into(),
                        event: ev.id.as_ref().into(),
                        conn,
                        deadline,
                        categories: record.categories.clone(),
                        severity: record.severity,
                        deciding: false,
                        alert: None,
                        burst: outcome
                            .hits
                            .iter()
                            .find_map(|h| h.burst.as_ref())
                            .map(|b| (b.id.as_str().into(), outcome.lexicon.as_ref().into())),
                    },
                );
                metrics::gauge!(t::HOLDS_PENDING).set(inner.holds.len() as f64);
            }
        }
        let wait = wait_for_actions && records.iter().any(|r| !r.actions.is_empty());
        self.emit(&mut inner, records, wait)
    }

    /// Resolve the hold `held` with a moderator's decision.
    /// A hold in a room `principal` does not cover is answered as if it did not exist:
    /// a moderator learns nothing of other rooms.
    pub(crate) fn review(
        &self,
        held: u64,
        decision: ReviewDecision,
        principal: &Principal,
        by: &str,
        note: Option<&str>,
    ) -> Result<Resolution, ReviewError> {
        let mut inner = self.lock();
        inner.reviewable(held, principal)?;
        let hold = inner
            .holds
            .remove(&held)
            .ok_or(ReviewError::NotHeld(held))?;
        Ok(self.resolve(&mut inner, held, hold, decision, by, note))
    }

    /// Resolve every hold past its deadline with the default outcome.
    pub(crate) fn expire(&self, now: Instant) -> Vec<Resolution> {
        let mut inner = self.lock();
        let due: Vec<u64> = inner
            .holds
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(seq, _)| *seq)
            .collect();
        let mut out = Vec::with_capacity(due.len());
        for seq in due {
            if let Some(hold) = inner.holds.remove(&seq) {
                let d = self.config.hold_default;
                out.push(self.resolve(&mut inner, seq, hold, d, "expiry", None));
            }
        }
        out
    }

    fn resolve(
        &self,
        inner: &mut Inner,
        held: u64,
        hold: Hold,
        decision: ReviewDecision,
        by: &str,
        note: Option<&str>,
    ) -> Resolution {
        let (mut record, platform) = hold.review(held, decision, by, note);
        record.seq = inner.next_seq;
        inner.next_seq += 1;
        let how = DecidedBy {
            decision,
            by: by.to_owned(),
            review_seq: record.seq,
        };
        inner.remember_decision(held, &hold.room, how, self.config.history);
        self.emit(inner, vec![record], false);
        count_review(inner, decision, by);
        Resolution {
            conn: hold.conn,
            frame: platform,
        }
    }

    /// A gateway's review: the record to publish to the cluster's feed. The hold
    /// stays (marked deciding) until the record comes back through the feed
    /// ([`Hub::follow`]); [`Hub::undecided`] offers it again if publishing failed.
    pub(crate) fn review_record(
        &self,
        held: u64,
        decision: ReviewDecision,
        principal: &Principal,
        by: &str,
        note: Option<&str>,
    ) -> Result<FeedRecord, ReviewError> {
        let mut inner = self.lock();
        let hold = inner.reviewable(held, principal)?;
        hold.deciding = true;
        Ok(hold.review(held, decision, by, note).0)
    }

    /// A gateway's review of `held` was not published: offer the hold again.
    pub(crate) fn undecided(&self, held: u64) {
        if let Some(h) = self.lock().holds.get_mut(&held) {
            h.deciding = false;
        }
    }

    /// A gateway's [`Hub::expire`]: the review records of holds past their deadline,
    /// to publish (each gateway does; the feed keeps the first per hold).
    pub(crate) fn expiry_records(&self, now: Instant) -> Vec<(u64, FeedRecord)> {
        let mut inner = self.lock();
        let d = self.config.hold_default;
        inner
            .holds
            .iter_mut()
            .filter(|(_, h)| h.deadline <= now && !h.deciding)
            .map(|(&seq, h)| {
                h.deciding = true;
                (seq, h.review(seq, d, "expiry", None).0)
            })
            .collect()
    }

    /// Subscribe to new records (between taking the starting seq and reading
    /// [`Hub::since`], so that nothing falls in between).
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<Record>> {
        self.tx.subscribe()
    }

    /// Records after `since` in the in-memory history, and the first seq it holds
    /// (older records are in the store).
    pub(crate) fn since(&self, since: u64) -> (Vec<Arc<Record>>, u64) {
        let inner = self.lock();
        let first = inner.history.front().map_or(inner.next_delivery, |r| r.seq);
        let start = inner.history.partition_point(|r| r.seq <= since);
        (inner.history.range(start..).cloned().collect(), first)
    }

    /// The last seq delivered to subscribers (0 before the first): a new subscriber
    /// without `since` starts after it, and so still gets records being written.
    pub(crate) fn last_delivered(&self) -> u64 {
        self.lock().next_delivery - 1
    }

    /// The holds `principal` may review that await a decision, oldest first, as
    /// their alert records, and the last seq delivered when they were read: a
    /// subscriber resuming with `since` at that seq misses no hold and no decision.
    /// A hold whose alert is not yet delivered (still being stored) comes through the
    /// feed after that seq; one restored without its record is left out.
    pub(crate) fn pending_holds(&self, principal: &Principal) -> (u64, Vec<Utf8Bytes>) {
        let inner = self.lock();
        let holds = inner
            .holds
            .values()
            .filter(|h| !h.deciding && principal.may_access(&h.room))
            .filter_map(|h| h.alert.clone())
            .collect();
        (inner.next_delivery - 1, holds)
    }

    /// The records of `room` in the in-memory history, newest first, and the last
    /// seq delivered: the console's context queries read and filter them.
    pub(crate) fn room_history(&self, room: &str) -> (u64, Vec<Arc<Record>>) {
        let inner = self.lock();
        let records = inner
            .history
            .iter()
            .rev()
            .filter(|r| &*r.room == room)
            .cloned()
            .collect();
        (inner.next_delivery - 1, records)
    }
}

/// The record of seq `seq` in the history, if it still holds it.
fn history_record(history: &VecDeque<Arc<Record>>, seq: u64) -> Option<&Arc<Record>> {
    let at = history.partition_point(|r| r.seq < seq);
    history.get(at).filter(|r| r.seq == seq)
}

/// The burst (and the lexicon version) of an alert whose message is part of a
/// coordinated burst: `verdict.hits[].burst.id`.
fn burst_of(alert: &str) -> Option<(Box<str>, Box<str>)> {
    #[derive(serde::Deserialize)]
    struct Alert {
        verdict: Verdict,
    }
    #[derive(serde::Deserialize)]
    struct Verdict {
        lexicon: String,
        hits: Vec<HitPeek>,
    }
    #[derive(serde::Deserialize)]
    struct HitPeek {
        burst: Option<BurstPeek>,
    }
    #[derive(serde::Deserialize)]
    struct BurstPeek {
        id: String,
    }
    if !alert.contains(r#""via":"burst""#) {
        return None;
    }
    let alert: Alert = serde_json::from_str(alert).ok()?;
    let id = alert.verdict.hits.into_iter().find_map(|h| h.burst)?.id;
    Some((id.into(), alert.verdict.lexicon.into()))
}

/// What a stored review frame says about its hold (owned: a restored frame may
/// hold escaped strings).
#[derive(serde::Deserialize)]
struct StoredReview {
    #[serde(rename = "ref")]
    held: u64,
    decision: ReviewDecision,
    by: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: u64) -> FeedRecord {
        FeedRecord {
            seq,
            kind: "alert".into(),
            ts: 1,
            room: "r".into(),
            categories: vec![Category::Diversion],
            severity: Some(Severity::High),
            body: "{}".into(),
            event: None,
            actions: Vec::new(),
            review: None,
        }
    }

    fn hub(history: usize) -> Hub {
        Hub::new(AlertConfig {
            history,
            ..AlertConfig::default()
        })
    }

    fn received(rx: &mut broadcast::Receiver<Arc<Record>>) -> Vec<u64> {
        std::iter::from_fn(|| rx.try_recv().ok().map(|r| r.seq)).collect()
    }

    #[test]
    fn records_back_out_of_order_reach_subscribers_in_seq_order() {
        let hub = hub(100);
        let mut rx = hub.subscribe();
        // 3 and 4 were refused by a full store queue while 1 and 2 were being written.
        hub.committed(vec![(record(3), false), (record(4), false)]);
        assert_eq!(received(&mut rx), Vec::<u64>::new(), "held until 1 and 2");
        assert_eq!(hub.last_delivered(), 0);
        hub.committed(vec![(record(1), true)]);
        assert_eq!(received(&mut rx), vec![1]);
        hub.committed(vec![(record(2), true)]);
        assert_eq!(received(&mut rx), vec![2, 3, 4]);
        let (history, first) = hub.since(0);
        assert_eq!(first, 1);
        assert_eq!(
            history.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
    }

    /// Holds expire on tokio's clock, so a test pauses time instead of sleeping.
    #[tokio::test(start_paused = true)]
    async fn a_hold_expires_at_its_deadline_with_the_default_outcome() {
        let hub = Hub::new(AlertConfig {
            hold_timeout_s: 300,
            hold_default: ReviewDecision::Reject,
            ..AlertConfig::default()
        });
        let engine = crate::engine::tests::engine();
        let line = r#"{"kind":"chat","id":"h1","room":"r","user":"u","text":"私聊我"}"#;
        let ev = crate::event::parse_event(line).unwrap();
        let outcome = engine.process(&ev, 0, &mut crate::engine::Scratch::default());
        assert_eq!(outcome.decision, crate::event::Decision::Hold);
        let _ = hub.publish(&[(ev, outcome)], 7, false);
        tokio::time::advance(Duration::from_secs(299)).await;
        assert!(
            hub.expire(Instant::now()).is_empty(),
            "not before its deadline"
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        let resolved = hub.expire(Instant::now());
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].conn, 7, "told to the connection that sent it");
        assert!(
            resolved[0]
                .frame
                .contains(r#""decision":"reject","by":"expiry""#)
        );
        assert!(hub.expire(Instant::now()).is_empty(), "resolved once");
    }

    #[test]
    fn a_seq_held_back_past_the_history_length_is_skipped_and_kept_for_replay() {
        let hub = hub(2);
        let mut rx = hub.subscribe();
        hub.committed(vec![(record(2), false), (record(3), false)]);
        assert_eq!(received(&mut rx), Vec::<u64>::new());
        hub.committed(vec![(record(4), false)]);
        assert_eq!(
            received(&mut rx),
            vec![2, 3, 4],
            "1 is skipped, not waited for"
        );
        hub.committed(vec![(record(1), true)]);
        assert_eq!(
            received(&mut rx),
            Vec::<u64>::new(),
            "too late for the live feed"
        );
        hub.committed(vec![(record(5), true)]);
        assert_eq!(received(&mut rx), vec![5]);
    }
}
