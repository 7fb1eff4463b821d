//! Per-frame metric tallies: counts are gathered in plain integers while a frame is
//! judged and added to the registered counters once per frame, through handles
//! looked up once per process (a labelled `counter!` lookup per event cost more than
//! judging the event). Each array is indexed by its enum's declaration order, which is
//! the order of the enum's `ALL`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};

use crate::engine::Outcome;
use crate::event::{ActionKind, Category, Decision, ErrorCode, Event, EventError, EventKind};
use crate::telemetry as t;

/// Handles of every labelled series the ingest path touches.
struct Handles {
    frames: Counter,
    events: [Counter; EventKind::ALL.len()],
    verdicts: [Counter; Decision::ALL.len()],
    hits: [Counter; Category::ALL.len()],
    actions: [Counter; ActionKind::ALL.len()],
    errors: [Counter; ErrorCode::ALL.len()],
    latency: Histogram,
}

/// Register every labelled series of the ingest path now, so that each is exported
/// (at 0) from the start rather than from its first event.
pub(crate) fn register() {
    let _ = handles();
}

fn handles() -> &'static Handles {
    static H: OnceLock<Handles> = OnceLock::new();
    H.get_or_init(|| Handles {
        frames: metrics::counter!(t::INGEST_FRAMES),
        events: EventKind::ALL.map(|k| metrics::counter!(t::EVENTS, "kind" => k.as_str())),
        verdicts: Decision::ALL.map(|d| metrics::counter!(t::VERDICTS, "decision" => d.as_str())),
        hits: Category::ALL.map(|c| metrics::counter!(t::HITS, "category" => c.as_str())),
        actions: ActionKind::ALL.map(|a| metrics::counter!(t::ACTIONS, "type" => a.as_str())),
        errors: ErrorCode::ALL.map(|e| metrics::counter!(t::INGEST_ERRORS, "reason" => e.as_str())),
        latency: metrics::histogram!(t::INGEST_LATENCY),
    })
}

/// Counts of one frame.
#[derive(Default)]
pub(crate) struct FrameTally {
    events: [u64; EventKind::ALL.len()],
    verdicts: [u64; Decision::ALL.len()],
    hits: [u64; Category::ALL.len()],
    actions: [u64; ActionKind::ALL.len()],
    errors: [u64; ErrorCode::ALL.len()],
    latencies: Vec<f64>,
}

impl FrameTally {
    pub(crate) fn event(&mut self, ev: &Event<'_>, outcome: &Outcome) {
        self.events[ev.kind as usize] += 1;
        self.verdicts[outcome.decision as usize] += 1;
        for h in &outcome.hits {
            self.hits[h.category as usize] += 1;
        }
        for a in &outcome.actions {
            self.actions[a.action as usize] += 1;
        }
    }

    /// An event a gateway sent to its cluster (the worker counts its verdict).
    pub(crate) fn forwarded(&mut self, ev: &Event<'_>) {
        self.events[ev.kind as usize] += 1;
    }

    /// The time from reading the frame to one event's verdict.
    pub(crate) fn latency(&mut self, d: Duration) {
        self.latencies.push(d.as_secs_f64());
    }

    pub(crate) fn error(&mut self, err: &EventError) {
        self.errors[err.kind.code() as usize] += 1;
    }

    /// A frame rejected as a whole (too large, invalid UTF-8 in a text frame).
    pub(crate) fn rejected(code: ErrorCode) {
        handles().errors[code as usize].increment(1);
    }

    /// Add the frame's counts to the registry and start over.
    pub(crate) fn flush(&mut self) {
        let h = handles();
        h.frames.increment(1);
        add(&h.events, &mut self.events);
        add(&h.verdicts, &mut self.verdicts);
        add(&h.hits, &mut self.hits);
        add(&h.actions, &mut self.actions);
        add(&h.errors, &mut self.errors);
        for l in self.latencies.drain(..) {
            h.latency.record(l);
        }
    }
}

fn add(counters: &[Counter], counts: &mut [u64]) {
    for (c, n) in counters.iter().zip(counts.iter_mut()) {
        if *n > 0 {
            c.increment(*n);
            *n = 0;
        }
    }
}
