//! Per-frame metric tallies: counts are gathered in plain integers while a frame is
//! judged and added to the registered counters once per frame, through handles
//! looked up once per process (a labelled `counter!` lookup per event cost more than
//! judging the event).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Counter, Histogram};

use crate::engine::Outcome;
use crate::event::{ActionKind, Category, Decision, Event, EventError, EventErrorKind, EventKind};
use crate::telemetry as t;

const KINDS: [EventKind; 2] = [EventKind::Chat, EventKind::Transcript];
const DECISIONS: [Decision; 4] = [
    Decision::Allow,
    Decision::Mask,
    Decision::Hold,
    Decision::Block,
];
const ACTIONS: [ActionKind; 12] = [
    ActionKind::Record,
    ActionKind::HideMessage,
    ActionKind::HoldMessage,
    ActionKind::PromptHostCorrection,
    ActionKind::WarnUser,
    ActionKind::WarnRoom,
    ActionKind::MuteUser,
    ActionKind::RestrictRoom,
    ActionKind::DelistProduct,
    ActionKind::LimitTraffic,
    ActionKind::SuspendStream,
    ActionKind::ReportToRegulator,
];
/// Error labels: every event error code, then whole-frame rejections.
const ERRORS: [&str; EventErrorKind::CODES.len() + 1] = {
    let mut all = [""; EventErrorKind::CODES.len() + 1];
    let mut i = 0;
    while i < EventErrorKind::CODES.len() {
        all[i] = EventErrorKind::CODES[i];
        i += 1;
    }
    all[i] = "too_large";
    all
};

/// Handles of every labelled series the ingest path touches.
struct Handles {
    frames: Counter,
    events: [Counter; 2],
    verdicts: [Counter; 4],
    hits: [Counter; 6],
    actions: [Counter; 12],
    errors: [Counter; ERRORS.len()],
    latency: Histogram,
}

fn handles() -> &'static Handles {
    static H: OnceLock<Handles> = OnceLock::new();
    H.get_or_init(|| Handles {
        frames: metrics::counter!(t::INGEST_FRAMES),
        events: KINDS.map(|k| metrics::counter!(t::EVENTS, "kind" => k.as_str())),
        verdicts: DECISIONS.map(|d| metrics::counter!(t::VERDICTS, "decision" => d.as_str())),
        hits: Category::ALL.map(|c| metrics::counter!(t::HITS, "category" => c.as_str())),
        actions: ACTIONS.map(|a| metrics::counter!(t::ACTIONS, "type" => a.as_str())),
        errors: ERRORS.map(|e| metrics::counter!(t::INGEST_ERRORS, "reason" => e)),
        latency: metrics::histogram!(t::INGEST_LATENCY),
    })
}

fn index<T: PartialEq>(all: &[T], x: &T) -> usize {
    all.iter().position(|a| a == x).unwrap_or(0)
}

/// Counts of one frame.
#[derive(Default)]
pub(crate) struct FrameTally {
    events: [u64; 2],
    verdicts: [u64; 4],
    hits: [u64; 6],
    actions: [u64; 12],
    errors: [u64; ERRORS.len()],
    latencies: Vec<f64>,
}

impl FrameTally {
    pub(crate) fn event(&mut self, ev: &Event<'_>, outcome: &Outcome) {
        self.events[index(&KINDS, &ev.kind)] += 1;
        self.verdicts[index(&DECISIONS, &outcome.decision)] += 1;
        for h in &outcome.hits {
            self.hits[index(&Category::ALL, &h.category)] += 1;
        }
        for a in &outcome.actions {
            self.actions[index(&ACTIONS, &a.action)] += 1;
        }
    }

    /// The time from reading the frame to one event's verdict.
    pub(crate) fn latency(&mut self, d: Duration) {
        self.latencies.push(d.as_secs_f64());
    }

    pub(crate) fn error(&mut self, err: &EventError) {
        let label = err.kind.code();
        self.errors[index(&ERRORS, &label)] += 1;
    }

    /// A frame rejected as a whole (too large, invalid UTF-8 in a text frame).
    pub(crate) fn rejected(label: &'static str) {
        handles().errors[index(&ERRORS, &label)].increment(1);
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
