//! The engine: one event in, one [`Outcome`] out, through normalize → window → match →
//! policy. Synchronous and thread-safe: the server calls it from every connection, and
//! `liveguard scan` from a loop, so both run exactly the same pipeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arc_swap::ArcSwap;
use dashmap::DashMap;

use crate::burst::{BurstConfig, Bursts};
use crate::channel::emoji::READINGS;
use crate::channel::shape;
use crate::context::{self, ContextSet};
use crate::dispatch::{Dispatcher, Judged};
use crate::event::{Decision, Event, EventError, EventErrorKind, EventKind, Role, Tier};
use crate::lexicon::Lexicon;
use crate::matcher::{self, BuildError, BuildOptions, Matcher, RawHit};
use crate::normalize::{NormText, View};
use crate::policy::{HitContext, Policy, WindowPart};
use crate::price::{PriceBook, PriceConfig, SaleError};
use crate::window::{SegmentIds, WindowConfig, Windows};
use crate::wire::Action;

/// A compiled lexicon: the matcher and the decision table of one version. The engine
/// swaps the whole ruleset atomically on reload; events in flight finish on the one
/// they started with.
#[derive(Debug)]
pub struct Ruleset {
    /// The compiled automata and rules.
    pub matcher: Matcher,
    /// The decision table.
    pub policy: Policy,
    /// Where the lexicon was loaded from.
    pub origin: String,
}

impl Ruleset {
    /// Compile `lexicon`.
    ///
    /// # Errors
    /// See [`BuildError`].
    pub fn compile(lexicon: &Lexicon, options: BuildOptions) -> Result<Ruleset, BuildError> {
        Ok(Ruleset::from_parts(
            lexicon,
            Matcher::build_with(lexicon, options)?,
        ))
    }

    /// The ruleset of `lexicon` with `matcher`, already built from it.
    pub fn from_parts(lexicon: &Lexicon, matcher: Matcher) -> Ruleset {
        Ruleset {
            matcher,
            policy: Policy::from_lexicon(lexicon),
            origin: lexicon.origin.clone(),
        }
    }

    /// The embedded default lexicon, compiled.
    ///
    /// # Panics
    /// If the embedded lexicon does not compile (a build defect the tests catch).
    pub fn embedded() -> Ruleset {
        Ruleset::compile(&Lexicon::embedded(), BuildOptions::default())
            .expect("the embedded lexicon compiles")
    }

    /// The lexicon version stamped on verdicts.
    pub fn version(&self) -> &Arc<str> {
        self.matcher.version()
    }
}

pub use crate::policy::Hit;

/// The engine's answer to one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// What the platform should do.
    pub decision: Decision,
    /// The lexicon version that decided.
    pub lexicon: Arc<str>,
    /// What was found.
    pub hits: Vec<Hit>,
    /// The text with every hit masked, for `mask` decisions.
    pub masked: Option<String>,
    /// The disposal actions that follow (message disposal and escalation).
    pub actions: Vec<Action>,
    /// The room's tier when the event was judged.
    pub tier: Tier,
    /// The event's time: its `ts`, or the clock when it had none.
    pub ts: u64,
    /// The event's normalized text, when it has hits (kept as evidence).
    pub normalized: Option<String>,
}

impl Outcome {
    /// `allow` with nothing found: a sale's outcome.
    fn allowed(lexicon: Arc<str>, ts: u64) -> Outcome {
        Outcome {
            decision: Decision::Allow,
            lexicon,
            hits: Vec::new(),
            masked: None,
            actions: Vec::new(),
            tier: Tier::Standard,
            ts,
            normalized: None,
        }
    }

    /// What to write for `ev`, judged as this outcome: its verdict and its actions.
    pub fn answer<'a>(&'a self, ev: &'a Event<'_>) -> crate::wire::Answer<'a> {
        crate::wire::Answer::Judged {
            verdict: self.verdict(ev),
            actions: &self.actions,
        }
    }

    /// The verdict frame for `ev`, judged as this outcome.
    pub fn verdict<'a>(&'a self, ev: &'a Event<'_>) -> crate::wire::Verdict<'a> {
        crate::wire::Verdict::new(
            ev,
            self.decision,
            &self.lexicon,
            &self.hits,
            self.masked.as_deref(),
            &self.actions,
        )
    }
}

/// Per-thread buffers, so processing an event does not allocate beyond its outcome.
#[derive(Debug, Default)]
pub struct Scratch {
    text: NormText,
    ids: SegmentIds,
    /// Required context groups the window remembers from earlier events.
    earlier: Vec<u16>,
    raw: Vec<RawHit>,
    /// The emoji channel's view of the event and its hits (only for events with an
    /// emoji that stands for a word).
    emoji_text: NormText,
    emoji_raw: Vec<RawHit>,
    /// The event with each such emoji read as one of its words (one view per word,
    /// see [`crate::channel::emoji::reading`]), and the hits only they find.
    reading_text: [NormText; READINGS],
    reading_raw: [Vec<RawHit>; READINGS],
    /// The look-alike channel's recomposed view (only for events with components side
    /// by side or a rare look-alike) and the hits only it finds.
    recomposed_text: NormText,
    recomposed_raw: Vec<RawHit>,
    matcher: matcher::Scratch,
}

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Window bounds.
    pub windows: WindowConfig,
    /// Most escalation strike logs held at once (see [`Dispatcher::with_limit`]).
    pub max_strike_logs: usize,
    /// The coordinated danmaku detector.
    pub burst: BurstConfig,
    /// The price book of listings and sales.
    pub price: PriceConfig,
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        EngineConfig {
            windows: WindowConfig::default(),
            max_strike_logs: crate::dispatch::DEFAULT_MAX_STRIKE_LOGS,
            burst: BurstConfig::default(),
            price: PriceConfig::default(),
        }
    }
}

/// The moderation pipeline with its state: the current ruleset, windows, room tiers.
#[derive(Debug)]
pub struct Engine {
    rules: ArcSwap<Ruleset>,
    windows: Windows,
    dispatcher: Dispatcher,
    bursts: Bursts,
    prices: PriceBook,
    tiers: DashMap<Box<str>, Tier>,
    /// Rooms not in the standard tier; lets the common case skip the tier lookup.
    tiered_rooms: AtomicUsize,
}

impl Engine {
    /// An engine running `rules`.
    pub fn new(rules: Ruleset, config: EngineConfig) -> Engine {
        Engine::sharing(Arc::new(rules), config)
    }

    /// An engine running `rules`, which other engines share (a cluster worker runs
    /// one engine per partition over one compiled ruleset).
    pub fn sharing(rules: Arc<Ruleset>, config: EngineConfig) -> Engine {
        Engine {
            rules: ArcSwap::new(rules),
            windows: Windows::new(config.windows),
            dispatcher: Dispatcher::with_limit(config.max_strike_logs),
            bursts: Bursts::new(config.burst),
            prices: PriceBook::new(config.price),
            tiers: DashMap::new(),
            tiered_rooms: AtomicUsize::new(0),
        }
    }

    /// The ruleset in use now.
    pub fn rules(&self) -> Arc<Ruleset> {
        self.rules.load_full()
    }

    /// Replace the ruleset; events already being processed finish on the old one.
    pub fn swap_rules(&self, rules: Ruleset) -> Arc<Ruleset> {
        self.rules.swap(Arc::new(rules))
    }

    /// Replace the ruleset with one other engines share.
    pub fn swap_shared(&self, rules: Arc<Ruleset>) -> Arc<Ruleset> {
        self.rules.swap(rules)
    }

    /// Set a room's tier.
    pub fn set_tier(&self, room: &str, tier: Tier) {
        let old = match tier {
            Tier::Standard => self.tiers.remove(room).map(|(_, t)| t),
            _ => self.tiers.insert(room.into(), tier),
        };
        match (old.is_some(), tier) {
            (false, Tier::Enhanced) => {
                self.tiered_rooms.fetch_add(1, Ordering::Relaxed);
            }
            (true, Tier::Standard) => {
                self.tiered_rooms.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// A room's tier.
    pub fn tier(&self, room: &str) -> Tier {
        if self.tiered_rooms.load(Ordering::Relaxed) == 0 {
            return Tier::Standard;
        }
        self.tiers.get(room).map_or(Tier::Standard, |t| *t)
    }

    /// The windows (for metrics and sweeping).
    pub fn windows(&self) -> &Windows {
        &self.windows
    }

    /// The escalation state (for metrics).
    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }

    /// The coordinated danmaku detector's state (for metrics).
    pub fn bursts(&self) -> &Bursts {
        &self.bursts
    }

    /// The price book (for metrics).
    pub fn prices(&self) -> &PriceBook {
        &self.prices
    }

    /// Forget idle windows and strike logs whose window has passed; returns how many
    /// were removed.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let longest = self.rules.load().policy.longest_window_ms();
        self.windows.sweep(now_ms)
            + self.dispatcher.sweep(now_ms, longest)
            + self.bursts.sweep(now_ms)
            + self.prices.sweep(now_ms)
    }

    /// Judge one event, as [`Engine::judge`], for callers that send no sales (tests,
    /// benches): a sale the engine refuses is answered `allow` and changes nothing.
    pub fn process(&self, ev: &Event<'_>, now_ms: u64, scratch: &mut Scratch) -> Outcome {
        self.judge(ev, now_ms, scratch).unwrap_or_else(|_| {
            let lexicon = self.rules.load().matcher.version().clone();
            Outcome::allowed(lexicon, ev.ts.unwrap_or(now_ms))
        })
    }

    /// Judge a parsed event, keeping it beside its outcome: what the servers and
    /// `scan` call, so a refused sale is answered like a refused line.
    ///
    /// # Errors
    /// As [`Engine::judge`], naming the event.
    pub fn judge_event<'e>(
        &self,
        ev: Event<'e>,
        now_ms: u64,
        scratch: &mut Scratch,
    ) -> Result<(Event<'e>, Outcome), EventError> {
        match self.judge(&ev, now_ms, scratch) {
            Ok(outcome) => Ok((ev, outcome)),
            Err(kind) => Err(EventError {
                id: Some(ev.id.into_owned()),
                kind,
            }),
        }
    }

    /// Judge one event. `now_ms` stands in for the event time when the event has none.
    ///
    /// # Errors
    /// [`EventErrorKind::UnknownItem`] for a sale of an item the room never listed
    /// (nothing is recorded).
    pub fn judge(
        &self,
        ev: &Event<'_>,
        now_ms: u64,
        scratch: &mut Scratch,
    ) -> Result<Outcome, EventErrorKind> {
        let rules = self.rules.load();
        let matcher = &rules.matcher;
        let ts = ev.ts.unwrap_or(now_ms);
        if ev.kind == EventKind::Sale {
            // A sale has no text: it only feeds the item's price history.
            if let Some(p) = ev.pricing.as_deref() {
                self.prices.sale(ev, p, ts).map_err(|e| match e {
                    SaleError::UnknownItem(item) => EventErrorKind::UnknownItem(item),
                })?;
            }
            return Ok(Outcome::allowed(matcher.version().clone(), ts));
        }

        // The window (if any) stays locked while the event is normalized after it
        // and recorded; matching runs after the lock is released.
        scratch.text.clear();
        scratch.ids.clear();
        scratch.earlier.clear();
        let keep = matcher.longest_term().saturating_sub(1);
        let window = self.windows.open(ev, ts, keep);
        let windowed = window.is_some();
        if let Some(w) = &window {
            w.replay(&mut scratch.text, &mut scratch.ids);
            w.recall(matcher.context_tag(), &mut scratch.earlier);
        }
        let first_char = scratch.text.chars().len();
        let current = scratch.text.push_segment(&ev.text);
        if let Some(w) = window {
            w.record(&ev.id, &scratch.text, first_char);
        }
        let text = &scratch.text;

        scratch.raw.clear();
        matcher.scan_in_context(
            text,
            current,
            ev.role,
            &scratch.earlier,
            &mut scratch.matcher,
            &mut scratch.raw,
        );
        // A required context word (a rival) counts for the sender's next events too,
        // after it has left the window's characters. Few events name one, and only
        // they lock the window again.
        let named = scratch.matcher.required_groups_here();
        if windowed && !named.is_empty() {
            self.windows.remember(ev, ts, matcher.context_tag(), named);
        }

        // The emoji channel reads its own view of the event, built only when an emoji
        // that stands for a word was seen; a term the other channels found stays theirs.
        scratch.emoji_raw.clear();
        scratch.reading_raw.iter_mut().for_each(Vec::clear);
        if text.has_word_emoji() {
            scratch.emoji_text.clear();
            scratch
                .emoji_text
                .push_segment_view(&ev.text, View::EmojiKept);
            matcher.scan_emoji(
                &scratch.emoji_text,
                ev.role,
                &mut scratch.matcher,
                &mut scratch.emoji_raw,
            );
            let found = &scratch.raw;
            scratch
                .emoji_raw
                .retain(|h| !found.iter().any(|f| f.entry == h.entry));
            // Rules, templates and whole terms see the emoji's words (五⭐好评返🧧,
            // 就是💩), one pass per word.
            for k in 0..text.emoji_readings().min(READINGS) {
                let view = &mut scratch.reading_text[k];
                view.clear();
                view.push_segment_view(&ev.text, View::EmojiRead(k as u8));
                let (done, rest) = scratch.reading_raw.split_at_mut(k);
                let raws = &mut rest[0];
                matcher.scan_readings(view, &ev.text, ev.role, &mut scratch.matcher, raws);
                let found = scratch.raw.iter().chain(&scratch.emoji_raw);
                keep_new(raws, found.chain(done.iter().flatten()));
            }
        }

        // The look-alike channel's recomposed view, for rules and templated terms
        // (氵匋宝, 门木鱼, 厡价): built only when the event has two components side by side
        // or a rare look-alike.
        scratch.recomposed_raw.clear();
        if shape::needs_recomposing(&text.as_str()[text.byte_of(first_char)..]) {
            let view = &mut scratch.recomposed_text;
            view.clear();
            view.push_segment_view(&ev.text, View::Recomposed);
            let raws = &mut scratch.recomposed_raw;
            matcher.scan_recomposed(view, &ev.text, ev.role, &mut scratch.matcher, raws);
            let found = scratch.raw.iter().chain(&scratch.emoji_raw);
            keep_new(raws, found.chain(scratch.reading_raw.iter().flatten()));
        }

        let tier = if scratch.raw.is_empty()
            && scratch.emoji_raw.is_empty()
            && scratch.reading_raw.iter().all(Vec::is_empty)
            && scratch.recomposed_raw.is_empty()
        {
            Tier::Standard
        } else {
            self.tier(&ev.room)
        };
        let mut decision = Decision::Allow;
        let mut hits = Vec::with_capacity(scratch.raw.len() + scratch.emoji_raw.len());
        let no_ids = SegmentIds::default();
        let views = [(text, current, &scratch.raw, &scratch.ids)]
            .into_iter()
            .chain([(&scratch.emoji_text, 0, &scratch.emoji_raw, &no_ids)])
            .chain(
                scratch
                    .reading_text
                    .iter()
                    .zip(&scratch.reading_raw)
                    .map(|(view, raws)| (view, 0, raws, &no_ids)),
            )
            .chain([(
                &scratch.recomposed_text,
                0,
                &scratch.recomposed_raw,
                &no_ids,
            )]);
        for (view, seg, raws, ids) in views {
            for raw in raws.iter() {
                let entry = matcher.entry(raw.entry);
                let mut hit = locate(entry, raw, view, seg, ids);
                hit.context = context::mark(
                    view,
                    seg,
                    raw.start,
                    raw.end,
                    entry.category,
                    ev.role,
                    &ev.text,
                );
                let context = HitContext::of(&hit, ev, tier, entry.review);
                decision = decision.max(rules.policy.decide(context));
                hits.push(hit);
            }
        }
        // A listing's prices, or the host's price claims, against the item's history.
        let mut tier = tier;
        let price_hits = self.price_hits(ev, ts);
        if !price_hits.is_empty() {
            tier = self.tier(&ev.room);
        }
        for hit in price_hits {
            decision = decision.max(rules.policy.decide(HitContext::of(&hit, ev, tier, false)));
            hits.push(hit);
        }
        // A viewer's message that many accounts are posting at once: held, whatever
        // the lexicon said (a burst is its own evidence, see crate::burst).
        let burst =
            self.bursts.config().enabled && ev.kind == EventKind::Chat && ev.role == Role::Viewer;
        if let Some(user) = ev.user.as_deref().filter(|_| burst) {
            let here = &text.as_str()[text.byte_of(first_char)..];
            let room_tier = self.tier(&ev.room);
            let found = self
                .bursts
                .observe(&ev.room, user, &ev.id, &ev.text, here, ts, room_tier);
            if let Some(found) = found {
                tier = room_tier;
                decision = decision.max(Decision::Hold);
                hits.push(crate::burst::hit(found, ev.text.len()));
            }
        }
        let masked = (decision == Decision::Mask).then(|| mask(&ev.text, &hits));
        let normalized = (!hits.is_empty()).then(|| {
            let from = text.byte_of(
                text.chars()
                    .iter()
                    .position(|c| c.seg as usize == current)
                    .unwrap_or(0),
            );
            text.as_str()[from..].to_owned()
        });
        let lexicon = matcher.version().clone();
        let mut actions = self.dispatcher.dispatch(
            Judged {
                event: ev,
                ts,
                decision,
                hits: &hits,
                tier,
                lexicon: &lexicon,
            },
            rules.policy.ladder(),
        );
        if let Some(found) = hits.last().and_then(|h| h.burst.as_deref()) {
            actions.extend(crate::dispatch::burst_actions(found, ev, ts, &lexicon));
        }
        Ok(Outcome {
            decision,
            lexicon,
            hits,
            masked,
            actions,
            tier,
            ts,
            normalized,
        })
    }

    /// The price checks of `ev`: a listing's (checks 1–3 of [`crate::price`]), or the
    /// price claims of host and operator speech about the room's item on sale.
    fn price_hits(&self, ev: &Event<'_>, ts: u64) -> Vec<Hit> {
        match (ev.kind, ev.pricing.as_deref()) {
            (EventKind::Listing, Some(p)) => self
                .prices
                .listing(ev, p, ts)
                .into_iter()
                .map(|f| f.into_hit(0, 0))
                .collect(),
            (EventKind::Chat | EventKind::Transcript, _) if ev.role != Role::Viewer => self
                .prices
                .claims(ev, ts)
                .into_iter()
                .map(|(f, start, end)| f.into_hit(start, end))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Keep the hits of a view whose entries no earlier view found: a term the other
/// channels found stays theirs.
fn keep_new<'a>(raws: &mut Vec<RawHit>, found: impl Iterator<Item = &'a RawHit> + Clone) {
    raws.retain(|h| !found.clone().any(|f| f.entry == h.entry));
}

/// Turn a hit over normalized characters into byte offsets of the current event.
fn locate(
    entry: &matcher::CompiledEntry,
    raw: &RawHit,
    text: &NormText,
    current: usize,
    ids: &SegmentIds,
) -> Hit {
    let chars = &text.chars()[raw.start..raw.end];
    let first_here = chars
        .iter()
        .position(|c| c.seg as usize == current)
        .unwrap_or(0);
    let mut window: Vec<WindowPart> = Vec::new();
    for (i, c) in chars[..first_here].iter().enumerate() {
        let Some(id) = ids.get(c.seg as usize) else {
            continue;
        };
        let end = chars
            .get(i + 1)
            .map_or(text.as_str().len(), |next| next.byte as usize);
        let ch = text.as_str().get(c.byte as usize..end).unwrap_or_default();
        match window.last_mut() {
            Some(part) if part.id == id => part.matched.push_str(ch),
            _ => window.push(WindowPart {
                id: id.to_owned(),
                matched: ch.to_owned(),
            }),
        }
    }
    // The part in this event, as the smallest range of its bytes: inside a
    // right-to-left override the characters run backwards through the source.
    let (start, end) = text.source_span(raw.start + first_here..raw.end);
    Hit {
        rule: entry.id.clone(),
        term: entry.term.clone(),
        category: entry.category,
        severity: entry.severity,
        basis: entry.basis.clone(),
        start,
        end,
        window,
        via: raw.via,
        context: ContextSet::default(),
        burst: None,
        price: None,
    }
}

/// `text` with every character inside a hit replaced by `*`.
pub fn mask(text: &str, hits: &[Hit]) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if hits.iter().any(|h| h.start <= i && i < h.end) {
            out.push('*');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests;
