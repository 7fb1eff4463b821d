//! Clear pricing: the price book of every listed item, and the checks the rules on
//! clear pricing (明码标价和禁止价格欺诈规定) make mechanical.
//!
//! A platform sends a `listing` event when an item is put up or its price changes, and
//! a `sale` event per transaction. The book keeps, per (room, item), a bounded price
//! history: the last [`MAX_LISTINGS`] listed prices and, per China calendar day, the
//! lowest sale (a few days beyond the comparison period), plus the latest sale. From
//! it, each listing is checked for:
//!
//! 1. a missing price or unit, or a compared price without a label (Measures Art 32,
//!    价格法 Art 13) — `price.unmarked`, `price.compared_unlabelled`;
//! 2. a compared price with no stated basis above the lowest sale of the previous 7
//!    days, or, with none in those days, the last sale before them (规定 Art 16) —
//!    `price.compared_above_low`;
//! 3. a price raised and then cut within a window (先涨后降, 规定 Art 17) —
//!    `price.raised_then_cut`.
//!
//! And what the host says or types about the item on sale (the room's latest listing)
//! is checked for:
//!
//! 4. an original price above the 7-day low (`price.claim_above_low`), and a "today
//!    only" price the item already had yesterday (`price.today_not_special`; 规定 Art
//!    16, 19).
//!
//! (5, the title, is scanned by the lexicon like any text: see [`crate::engine`].)
//!
//! Every finding names both pieces of evidence: the listing or words judged and the
//! earlier listings and sales it was compared with ([`PriceFinding::evidence`]), so a
//! moderator and an export can see why without the book.
//!
//! **Bounds and overflow policy.** At most `max_items` items (about 2 KB each with
//! full history: [`ITEM_BYTES`]), `max_items_per_room` of them in one room, and
//! `max_rooms` rooms' current items; a listing for a new item when the book (or its
//! room's share) is full is judged on its own (checks 1 and 5 still run) and counted
//! in [`PriceBook::refused`]; its sales are then refused as unknown. Items not
//! listed or sold for `forget_after_days` are swept.

pub mod amount;
pub mod claim;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

pub use amount::{Fen, MAX_PRICE};
use claim::ClaimKind;

use crate::event::{Category, Event, EventKind, Pricing, Role, Severity};
use crate::state::StateMap;
use dashmap::mapref::one::RefMut;

/// Listed prices kept per item (the newest; a raise older than these is forgotten).
pub const MAX_LISTINGS: usize = 8;

/// About how many bytes one item's full history takes (measured by
/// `price::tests::item_size_is_bounded`): the history itself and its map entry.
pub const ITEM_BYTES: usize = 2_000;

const DAY_MS: u64 = 86_400_000;
/// China Standard Time, UTC+8: the calendar the rules count days in.
const CST_OFFSET_MS: u64 = 8 * 3_600_000;

/// The China calendar day of `ts` (days since 1970-01-01, CST).
fn day_of(ts: u64) -> u64 {
    (ts + CST_OFFSET_MS) / DAY_MS
}

/// `[engine.price]`: the price book.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PriceConfig {
    /// Off: listings and sales are judged (titles still scanned) but nothing is kept
    /// or checked, and sales are never refused.
    pub enabled: bool,
    /// Days before a comparison whose sales set the lowest price (规定 Art 16: 7).
    pub compare_days: u64,
    /// A cut within this many seconds of a raise is 先涨后降 (default 7 days).
    pub raise_window_s: u64,
    /// Least change, in percent of the price, that counts as a raise or a cut (small
    /// fluctuations of dynamic pricing are not).
    pub min_change_pct: u64,
    /// Items followed at once (see the module docs for the overflow policy).
    pub max_items: usize,
    /// Items of one room followed at once: a room listing more has its new items
    /// judged without history (and their sales refused), the other rooms keep theirs.
    pub max_items_per_room: usize,
    /// Rooms whose current item is followed at once.
    pub max_rooms: usize,
    /// Forget an item neither listed nor sold for this many days.
    pub forget_after_days: u64,
}

impl Default for PriceConfig {
    fn default() -> PriceConfig {
        PriceConfig {
            enabled: true,
            compare_days: 7,
            raise_window_s: 7 * 86_400,
            min_change_pct: 5,
            max_items: 200_000,
            max_items_per_room: 2_000,
            max_rooms: 200_000,
            forget_after_days: 60,
        }
    }
}

impl PriceConfig {
    /// Why the configuration cannot run, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.compare_days == 0 || self.compare_days > 30 {
            return Some("engine.price.compare_days must be within 1..=30".into());
        }
        if self.min_change_pct > 100 {
            return Some("engine.price.min_change_pct must be within 0..=100".into());
        }
        if self.forget_after_days <= self.compare_days {
            return Some("engine.price.forget_after_days must be over compare_days".into());
        }
        None
    }
}

crate::wire_names! {
    /// The price checks; each is a rule id `price.<name>` on the hit.
    pub enum PriceCheck {
        /// A listing without a price or a unit.
        Unmarked = "unmarked",
        /// A compared price (划线价) without a label saying what it is.
        ComparedUnlabelled = "compared_unlabelled",
        /// A compared price with no stated basis above the 7-day low.
        ComparedAboveLow = "compared_above_low",
        /// A price raised and then cut within the window (先涨后降).
        RaisedThenCut = "raised_then_cut",
        /// A host's stated original price above the 7-day low.
        ClaimAboveLow = "claim_above_low",
        /// A host's "today only" price the item already had yesterday.
        TodayNotSpecial = "today_not_special",
    }
}

impl PriceCheck {
    /// The rule id on hits and actions.
    pub fn rule(self) -> &'static str {
        match self {
            PriceCheck::Unmarked => "price.unmarked",
            PriceCheck::ComparedUnlabelled => "price.compared_unlabelled",
            PriceCheck::ComparedAboveLow => "price.compared_above_low",
            PriceCheck::RaisedThenCut => "price.raised_then_cut",
            PriceCheck::ClaimAboveLow => "price.claim_above_low",
            PriceCheck::TodayNotSpecial => "price.today_not_special",
        }
    }

    /// What the check found, in words (the hit's `term`).
    pub fn term(self) -> &'static str {
        match self {
            PriceCheck::Unmarked => "未明码标价（缺价格或计价单位）",
            PriceCheck::ComparedUnlabelled => "被比较价格未标明类型",
            PriceCheck::ComparedAboveLow => "划线价高于前7日最低成交价",
            PriceCheck::RaisedThenCut => "先涨价后降价",
            PriceCheck::ClaimAboveLow => "口播原价高于前7日最低成交价",
            PriceCheck::TodayNotSpecial => "“仅限今天”价格昨日已有",
        }
    }

    /// How serious it is.
    pub fn severity(self) -> Severity {
        match self {
            PriceCheck::Unmarked | PriceCheck::ComparedUnlabelled => Severity::Medium,
            _ => Severity::High,
        }
    }

    /// The legal basis.
    pub fn basis(self) -> &'static str {
        match self {
            PriceCheck::Unmarked | PriceCheck::ComparedUnlabelled => {
                "直播电商监督管理办法 第32条；价格法 第13条"
            }
            PriceCheck::ComparedAboveLow | PriceCheck::ClaimAboveLow => {
                "明码标价和禁止价格欺诈规定 第16条；直播电商监督管理办法 第32条"
            }
            PriceCheck::RaisedThenCut => "明码标价和禁止价格欺诈规定 第17条",
            PriceCheck::TodayNotSpecial => "明码标价和禁止价格欺诈规定 第19条",
        }
    }
}

/// An earlier listing or sale a finding was compared with, as evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceRecord {
    /// Its event id.
    pub id: String,
    /// `listing` or `sale`.
    pub kind: EventKind,
    /// The listed or sold price (absent on a listing without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Fen>,
    /// A listing's compared price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_price: Option<Fen>,
    /// Its time, ms since the epoch.
    pub ts: u64,
}

/// What a price check found: on a hit (`via: price`) as `price`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceFinding {
    /// The check.
    pub check: PriceCheck,
    /// The item.
    pub item: String,
    /// The price judged: the listing's price, or the amount the host said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Fen>,
    /// The listing's compared price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compared_price: Option<Fen>,
    /// The most the compared or stated price may be (the 7-day low), or the price it
    /// equals (yesterday's), when the check compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Fen>,
    /// For `unmarked`: the fields missing (`price`, `unit`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// The earlier listings and sales it was compared with, oldest first (the event
    /// judged is the alert's own event).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<PriceRecord>,
}

impl PriceFinding {
    fn new(check: PriceCheck, item: &str) -> PriceFinding {
        PriceFinding {
            check,
            item: item.to_owned(),
            price: None,
            compared_price: None,
            limit: None,
            missing: Vec::new(),
            evidence: Vec::new(),
        }
    }

    /// The finding as a hit over bytes `start..end` of the event's text.
    pub fn into_hit(self, start: usize, end: usize) -> crate::policy::Hit {
        let check = self.check;
        crate::policy::Hit {
            rule: Arc::from(check.rule()),
            term: Arc::from(check.term()),
            category: Category::PriceFraud,
            severity: check.severity(),
            basis: Arc::from(check.basis()),
            start,
            end,
            window: Vec::new(),
            via: crate::channel::Via::Price,
            context: crate::context::ContextSet::default(),
            burst: None,
            price: Some(Box::new(self)),
        }
    }
}

/// A listed price.
#[derive(Debug)]
struct Listed {
    id: Box<str>,
    price: Option<Fen>,
    compared: Option<Fen>,
    ts: u64,
}

impl Listed {
    fn record(&self) -> PriceRecord {
        PriceRecord {
            id: self.id.to_string(),
            kind: EventKind::Listing,
            price: self.price,
            compared_price: self.compared,
            ts: self.ts,
        }
    }
}

/// A sale.
#[derive(Clone, Debug)]
struct Sold {
    id: Box<str>,
    price: Fen,
    ts: u64,
}

impl Sold {
    fn record(&self) -> PriceRecord {
        PriceRecord {
            id: self.id.to_string(),
            kind: EventKind::Sale,
            price: Some(self.price),
            compared_price: None,
            ts: self.ts,
        }
    }
}

/// One item's price history.
#[derive(Debug, Default)]
struct ItemHistory {
    /// Its room and item id, for saving it ([`ItemSnapshot`]).
    room: Box<str>,
    item: Box<str>,
    /// Changed since it was last saved.
    changed: bool,
    /// The newest listings, oldest first (at most [`MAX_LISTINGS`]).
    listings: Vec<Listed>,
    /// The lowest sale of each China calendar day with sales, oldest first; days
    /// older than the comparison period (and a day's margin) fall out.
    days: VecDeque<(u64, Sold)>,
    /// The latest sale (the reference when no sale falls in the period).
    last_sale: Option<Sold>,
    /// The latest listing or sale, for sweeping.
    seen: u64,
}

impl ItemHistory {
    /// The lowest sale of the `days` calendar days before `ts` and of the day of
    /// `ts` up to it; with none, the last sale before them.
    fn reference_low(&self, ts: u64, days: u64) -> Option<&Sold> {
        let today = day_of(ts);
        let first = today.saturating_sub(days);
        self.days
            .iter()
            .filter(|(d, s)| *d >= first && *d <= today && s.ts <= ts)
            .map(|(_, s)| s)
            .min_by_key(|s| (s.price, s.ts))
            .or_else(|| self.last_sale.as_ref().filter(|s| s.ts <= ts))
    }

    /// The listings before the one with id `id` (all of them when it is new).
    fn before(&self, id: &str) -> &[Listed] {
        let all = &self.listings[..];
        match all.iter().position(|l| &*l.id == id) {
            Some(at) => &all[..at],
            None => all,
        }
    }
}

/// One item's history as saved in the store (`price_book`): its listings, the lowest
/// sale of each recent day and its latest sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSnapshot {
    /// The room.
    pub room: String,
    /// The item.
    pub item: String,
    /// Its latest listing or sale, ms since the epoch.
    pub seen: u64,
    /// Its newest listings, oldest first.
    pub listings: Vec<PriceRecord>,
    /// The lowest sale of each recent day, oldest first.
    pub day_lows: Vec<PriceRecord>,
    /// Its latest sale.
    pub last_sale: Option<PriceRecord>,
}

impl ItemHistory {
    fn snapshot(&self) -> ItemSnapshot {
        ItemSnapshot {
            room: self.room.to_string(),
            item: self.item.to_string(),
            seen: self.seen,
            listings: self.listings.iter().map(Listed::record).collect(),
            day_lows: self.days.iter().map(|(_, s)| s.record()).collect(),
            last_sale: self.last_sale.as_ref().map(Sold::record),
        }
    }

    fn from_snapshot(snap: ItemSnapshot) -> ItemHistory {
        let sold = |r: PriceRecord| {
            r.price.map(|price| Sold {
                id: r.id.into(),
                price,
                ts: r.ts,
            })
        };
        let mut listings: Vec<Listed> = snap
            .listings
            .into_iter()
            .map(|r| Listed {
                id: r.id.into(),
                price: r.price,
                compared: r.compared_price,
                ts: r.ts,
            })
            .collect();
        // Oldest first: more than the book keeps leaves the newest.
        listings.drain(..listings.len().saturating_sub(MAX_LISTINGS));
        ItemHistory {
            room: snap.room.into(),
            item: snap.item.into(),
            changed: false,
            listings,
            days: snap
                .day_lows
                .into_iter()
                .filter_map(sold)
                .map(|s| (day_of(s.ts), s))
                .collect(),
            last_sale: snap.last_sale.and_then(sold),
            seen: snap.seen,
        }
    }
}

/// Whether a listing's text field says something (present and not blank).
fn stated(field: &Option<std::borrow::Cow<'_, str>>) -> bool {
    field.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// A room's item on sale now: its latest listing.
#[derive(Debug)]
struct OnSale {
    item: Box<str>,
    seen: u64,
    /// Items of the room the book follows (at most `max_items_per_room`).
    items: usize,
}

/// The price book: every followed item's history and every room's current item.
#[derive(Debug)]
pub struct PriceBook {
    config: PriceConfig,
    items: StateMap<ItemHistory>,
    rooms: StateMap<OnSale>,
    /// New items refused because their room had `max_items_per_room`.
    room_full: AtomicU64,
}

/// A sale the book cannot take.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaleError {
    /// The item was never listed in the room (or is no longer followed).
    #[error("item `{0}` has no listing in this room: send its listing first")]
    UnknownItem(String),
}

impl PriceBook {
    /// An empty book.
    pub fn new(config: PriceConfig) -> PriceBook {
        PriceBook {
            items: StateMap::new(config.max_items),
            rooms: StateMap::new(config.max_rooms),
            room_full: AtomicU64::new(0),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &PriceConfig {
        &self.config
    }

    /// Items followed.
    pub fn items(&self) -> usize {
        self.items.len()
    }

    /// New items refused so far because the book, or their room's share of it, was
    /// full.
    pub fn refused(&self) -> u64 {
        self.items.refused() + self.rooms.refused() + self.room_full.load(Ordering::Relaxed)
    }

    fn item_key(&self, room: &str, item: &str) -> u64 {
        self.items
            .key()
            .write(room.as_bytes())
            .write(item.as_bytes())
            .finish()
    }

    /// Judge listing `ev` (with its `pricing`) at `ts` and record it: the findings of
    /// checks 1–3. A retried listing (same id) is judged against the history before
    /// it, as the first time, and not recorded twice.
    pub fn listing(&self, ev: &Event<'_>, p: &Pricing<'_>, ts: u64) -> Vec<PriceFinding> {
        let mut found = Vec::new();
        let item = &*p.item;
        let mut missing = Vec::new();
        if p.price.is_none() {
            missing.push("price".to_owned());
        }
        if !stated(&p.unit) {
            missing.push("unit".to_owned());
        }
        if !missing.is_empty() {
            let mut f = PriceFinding::new(PriceCheck::Unmarked, item);
            f.price = p.price;
            f.missing = missing;
            found.push(f);
        }
        if p.compared_price.is_some() && !stated(&p.compared_label) {
            let mut f = PriceFinding::new(PriceCheck::ComparedUnlabelled, item);
            f.price = p.price;
            f.compared_price = p.compared_price;
            found.push(f);
        }
        if !self.config.enabled {
            return found;
        }
        let Some((mut history, _)) = self.follow(&ev.room, item, ts) else {
            return found;
        };
        let earlier = history.before(&ev.id);
        if let Some(compared) = p.compared_price.filter(|_| !stated(&p.compared_basis))
            && let Some(low) = history.reference_low(ts, self.config.compare_days)
            && compared > low.price
        {
            let mut f = PriceFinding::new(PriceCheck::ComparedAboveLow, item);
            f.price = p.price;
            f.compared_price = Some(compared);
            f.limit = Some(low.price);
            f.evidence.push(low.record());
            found.push(f);
        }
        if let Some(price) = p.price
            && let Some((before_raise, raised, raised_price)) = self.raise_before(earlier, ts)
            && price < raised_price
            && self.is_change(price, raised_price)
        {
            let mut f = PriceFinding::new(PriceCheck::RaisedThenCut, item);
            f.price = Some(price);
            f.compared_price = p.compared_price;
            f.limit = before_raise.price;
            f.evidence.push(before_raise.record());
            f.evidence.push(raised.record());
            found.push(f);
        }
        let new = earlier.len() == history.listings.len();
        if new {
            if history.listings.len() == MAX_LISTINGS {
                history.listings.remove(0);
            }
            history.listings.push(Listed {
                id: ev.id.as_ref().into(),
                price: p.price,
                compared: p.compared_price,
                ts,
            });
            history.changed = true;
        }
        history.seen = history.seen.max(ts);
        drop(history);
        self.put_on_sale(self.room_key(&ev.room), item, ts);
        found
    }

    /// The history of `item` in `room`, made if it is new (counted against the room's
    /// share first: one tenant listing without end fills its rooms' shares, not the
    /// whole book), with whether it is new; `None` when the book or the room's share
    /// is full.
    fn follow(
        &self,
        room: &str,
        item: &str,
        ts: u64,
    ) -> Option<(RefMut<'_, u64, ItemHistory>, bool)> {
        let key = self.item_key(room, item);
        if let Some(known) = self.items.get_mut(key) {
            return Some((known, false));
        }
        let room_key = self.room_key(room);
        if !self.admit_item(room_key, item, ts) {
            return None;
        }
        let mut fresh = false;
        let history = self.items.get_or_insert_with(key, || {
            fresh = true;
            ItemHistory {
                room: room.into(),
                item: item.into(),
                ..ItemHistory::default()
            }
        });
        if !fresh {
            // Another event made it meanwhile and counted it.
            self.release_item(room_key);
        }
        Some((history?, fresh))
    }

    fn room_key(&self, room: &str) -> u64 {
        self.rooms.key().write(room.as_bytes()).finish()
    }

    /// Count a new item against its room's share; `false` (and one more refusal)
    /// when the room has `max_items_per_room` already.
    fn admit_item(&self, room_key: u64, item: &str, ts: u64) -> bool {
        let Some(mut room) = self.rooms.get_or_insert_with(room_key, || OnSale {
            item: item.into(),
            seen: ts,
            items: 0,
        }) else {
            return false;
        };
        if room.items >= self.config.max_items_per_room {
            self.room_full.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        room.items += 1;
        true
    }

    /// Give back an item's place in its room's share.
    fn release_item(&self, room_key: u64) {
        if let Some(mut room) = self.rooms.get_mut(room_key) {
            room.items = room.items.saturating_sub(1);
        }
    }

    /// Make `item`, listed at `ts`, the room's item on sale unless a later listing is.
    fn put_on_sale(&self, room_key: u64, item: &str, ts: u64) {
        if let Some(mut on_sale) = self.rooms.get_mut(room_key)
            && ts >= on_sale.seen
        {
            if *on_sale.item != *item {
                on_sale.item = item.into();
            }
            on_sale.seen = ts;
        }
    }

    /// The latest significant raise among `listings` within the raise window before
    /// `ts`: the listing before it, the raised one and its price. The raised price must still
    /// stand (the last listing), or the cut already happened.
    fn raise_before<'h>(
        &self,
        listings: &'h [Listed],
        ts: u64,
    ) -> Option<(&'h Listed, &'h Listed, Fen)> {
        let window = self.config.raise_window_s.saturating_mul(1000);
        let current = listings.last()?;
        let current_price = current.price?;
        // Walk back over listings at the current price to the one that set it.
        let set_at = listings
            .iter()
            .rposition(|l| l.price != Some(current_price))
            .map_or(0, |i| i + 1);
        let raised = &listings[set_at];
        let before = listings.get(set_at.checked_sub(1)?)?;
        let before_price = before.price?;
        (current_price > before_price
            && self.is_change(current_price, before_price)
            && ts.saturating_sub(raised.ts) <= window)
            .then_some((before, raised, current_price))
    }

    /// Whether going from `old` to `new` is a change of at least `min_change_pct`.
    fn is_change(&self, new: Fen, old: Fen) -> bool {
        let diff = new.0.abs_diff(old.0);
        diff > 0 && diff * 100 >= old.0 * self.config.min_change_pct
    }

    /// Record sale `ev` of `p.item` at `p.price`.
    ///
    /// # Errors
    /// [`SaleError::UnknownItem`] when the room never listed the item; nothing is
    /// recorded.
    pub fn sale(&self, ev: &Event<'_>, p: &Pricing<'_>, ts: u64) -> Result<(), SaleError> {
        if !self.config.enabled {
            return Ok(());
        }
        let Some(price) = p.price else {
            return Ok(()); // the parser requires it; nothing to record without
        };
        let key = self.item_key(&ev.room, &p.item);
        let Some(mut history) = self.items.get_mut(key) else {
            return Err(SaleError::UnknownItem(crate::event::truncate(&p.item)));
        };
        let sold = Sold {
            id: ev.id.as_ref().into(),
            price,
            ts,
        };
        let day = day_of(ts);
        match history.days.iter().position(|(d, _)| *d >= day) {
            Some(at) if history.days[at].0 == day => {
                let low = &mut history.days[at].1;
                if (price, ts) < (low.price, low.ts) {
                    *low = sold.clone();
                }
            }
            Some(at) => history.days.insert(at, (day, sold.clone())),
            None => history.days.push_back((day, sold.clone())),
        }
        let keep_from = history
            .days
            .back()
            .map_or(0, |(d, _)| d.saturating_sub(self.config.compare_days + 1));
        while history.days.front().is_some_and(|(d, _)| *d < keep_from) {
            history.days.pop_front();
        }
        if history.last_sale.as_ref().is_none_or(|s| s.ts <= ts) {
            history.last_sale = Some(sold);
        }
        history.seen = history.seen.max(ts);
        history.changed = true;
        Ok(())
    }

    /// Check the price claims of host or operator speech `ev` (a final transcript
    /// segment or a chat line) against the room's item on sale: findings with the
    /// byte range of each claim.
    pub fn claims(&self, ev: &Event<'_>, ts: u64) -> Vec<(PriceFinding, usize, usize)> {
        // A partial ASR hypothesis is judged again when final; `final` means nothing
        // on chat, so it cannot exempt a typed claim.
        let partial = ev.kind == EventKind::Transcript && !ev.is_final;
        if !self.config.enabled
            || ev.role == Role::Viewer
            || partial
            || !matches!(ev.kind, EventKind::Chat | EventKind::Transcript)
        {
            return Vec::new();
        }
        let said = claim::claims(&ev.text);
        if said.is_empty() {
            return Vec::new();
        }
        let Some(item) = self
            .rooms
            .get_mut(self.room_key(&ev.room))
            .map(|s| s.item.clone())
        else {
            return Vec::new();
        };
        let Some(history) = self.items.get_mut(self.item_key(&ev.room, &item)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for c in said {
            let mut f = match c.kind {
                ClaimKind::Original => {
                    let Some(low) = history.reference_low(ts, self.config.compare_days) else {
                        continue;
                    };
                    if c.amount <= low.price {
                        continue;
                    }
                    let mut f = PriceFinding::new(PriceCheck::ClaimAboveLow, &item);
                    f.limit = Some(low.price);
                    f.evidence.push(low.record());
                    f
                }
                ClaimKind::TodayOnly => {
                    let today = day_of(ts);
                    // Yesterday's price: the listing in force at its end, or a sale.
                    let listed = history
                        .listings
                        .iter()
                        .rev()
                        .find(|l| day_of(l.ts) < today)
                        .filter(|l| l.price.is_some_and(|p| p <= c.amount))
                        .map(Listed::record);
                    let sold = history
                        .days
                        .iter()
                        .find(|(d, s)| *d + 1 == today && s.price <= c.amount)
                        .map(|(_, s)| s.record());
                    let Some(before) = listed.or(sold) else {
                        continue;
                    };
                    let mut f = PriceFinding::new(PriceCheck::TodayNotSpecial, &item);
                    f.limit = before.price;
                    f.evidence.push(before);
                    f
                }
            };
            f.price = Some(c.amount);
            // The item's listing in force is evidence too.
            if let Some(current) = history.listings.last()
                && !f.evidence.iter().any(|r| r.id == *current.id)
            {
                f.evidence.push(current.record());
            }
            out.push((f, c.start, c.end));
        }
        out
    }

    /// The items changed since the last call, as snapshots to save (the store keeps
    /// them, so a restarted server knows each item's 7-day low and listed prices).
    /// Visits every item: call it with the sweep, off the hot path.
    pub fn take_changed(&self) -> Vec<ItemSnapshot> {
        let mut out = Vec::new();
        self.items.retain(|h| {
            if std::mem::take(&mut h.changed) {
                out.push(h.snapshot());
            }
            true
        });
        out
    }

    /// Put a saved item back (at startup, from the store). An item the book already
    /// follows keeps what it has (it is newer); a full book takes no more. Returns
    /// whether it was restored.
    pub fn restore(&self, snap: ItemSnapshot) -> bool {
        let listed = snap.listings.last().map_or(0, |l| l.ts);
        let Some((mut history, true)) = self.follow(&snap.room, &snap.item, listed) else {
            return false;
        };
        let (room_key, item) = (self.room_key(&snap.room), snap.item.clone());
        *history = ItemHistory::from_snapshot(snap);
        drop(history);
        // The room's item on sale is its most recently listed one.
        self.put_on_sale(room_key, &item, listed);
        true
    }

    /// Forget items neither listed nor sold for `forget_after_days` before `now_ms`,
    /// and rooms whose item was listed as long ago; returns how many were removed.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let horizon = now_ms.saturating_sub(self.config.forget_after_days * DAY_MS);
        let mut gone = Vec::new();
        let items = self.items.retain(|h| {
            let keep = h.seen >= horizon;
            if !keep {
                gone.push(self.room_key(&h.room));
            }
            keep
        });
        for room_key in gone {
            self.release_item(room_key);
        }
        items + self.rooms.retain(|r| r.items > 0 || r.seen >= horizon)
    }
}

#[cfg(test)]
mod tests;
