//! Coordinated danmaku (职业弹幕, 水军): many accounts posting near-identical text in
//! a short time, out of proportion to the room's own chat.
//!
//! A paid burst reads innocent line by line (已下单，质量真好 / 回购第三次了 / 主播人真好，冲),
//! so no lexicon catches it; its shape does. Per room, each viewer's chat message is
//! reduced to the set of its character bigrams over the normalized text (so added
//! separators, emoji, width and traditional forms do not count as differences) and
//! compared, by Jaccard similarity, with the room's recent messages and with the
//! clusters already forming. Bigram Jaccard suits messages of eight characters: a
//! 64-bit SimHash hardly tells their paraphrases apart, while bigram Jaccard at 0.5
//! keeps paraphrases (a suffix, an emoji, a synonym, one or two edited characters)
//! together and few organic pairs (see docs/QUALITY.md for the measured figures).
//!
//! A bigram set is kept as a 256-bit signature (one bit per bigram hash), so a
//! comparison is a few ANDs, ORs and popcounts, and a message costs a scan of at most
//! [`RING`] signatures plus the clusters' ([`MAX_CLUSTERS`]).
//!
//! A cluster becomes a **burst** when it holds `min_users` distinct accounts whose
//! messages fall within `window_s`, and those messages are at least `min_share` of
//! the room's chat over the cluster's span (from its first message, at most
//! `window_s` back). Until the cluster goes quiet for `window_s`, every
//! further member is part of the burst.
//!
//! Never part of a campaign: messages under [`MIN_CHARS`] normalized characters
//! (chants and answers to the host's prompts: 666, 扣1, 来了, 好看), questions (a room
//! asking 多少钱 at once is the room, not a campaign), and buyers' complaints (假货, 退款,
//! 投诉: those are never suppressed).
//!
//! Memory is bounded: per room at most [`RING`] recent messages (about 100 bytes each
//! with their text, cut to [`MAX_TEXT`] bytes), [`MAX_CLUSTERS`] clusters of at most
//! [`MAX_MEMBERS`] members kept as evidence and [`MAX_USERS`] senders counted, and a
//! per-second count of the room's chat; at most `max_rooms` rooms are followed. A room beyond that is not
//! followed until the sweep frees room (counted in [`Bursts::refused`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;

use crate::channel::Via;
use crate::event::{Category, Severity, Tier};
use crate::policy::Hit;
use crate::state::StateMap;

/// The rule a coordinated-danmaku hit reports (no lexicon entry has it).
pub const RULE: &str = "burst.coordinated";
/// The legal basis of its actions: organising fake reviews and fabricated
/// interaction data.
pub const BASIS: &str = "直播电商监督管理办法 第44条；网络交易监督管理办法 第14条；网络直播营销管理办法（试行） 第18条第4项";

/// The hit that says a message of `text_len` bytes is part of the burst `found`:
/// rule [`RULE`], category `traffic_fraud`, `via: burst`, the whole message.
pub fn hit(found: BurstFinding, text_len: usize) -> Hit {
    Hit {
        rule: RULE.into(),
        term: "协同刷屏弹幕".into(),
        category: Category::TrafficFraud,
        severity: Severity::High,
        basis: BASIS.into(),
        start: 0,
        end: text_len,
        window: Vec::new(),
        via: Via::Burst,
        context: crate::context::ContextSet::default(),
        burst: Some(Box::new(found)),
        price: None,
    }
}

/// Recent messages kept per room to find the first pair of a cluster.
pub const RING: usize = 16;
/// Clusters followed per room at once (the quietest is dropped for a new one).
pub const MAX_CLUSTERS: usize = 8;
/// Members kept per cluster as evidence (later ones are counted, not kept).
pub const MAX_MEMBERS: usize = 32;
/// Distinct senders counted per cluster.
pub const MAX_USERS: usize = 32;
/// Messages shorter than this (normalized characters) are chants or answers.
pub const MIN_CHARS: usize = 5;
/// Bytes of a message's text kept as evidence (48: sixteen Chinese characters, the
/// length of most danmaku).
pub const MAX_TEXT: usize = 48;
/// The longest window the per-second counts cover.
const SECONDS: usize = 64;

/// Words of a buyer's complaint: such a message is never part of a campaign.
const COMPLAINT: &[&str] = &[
    "假货",
    "退货",
    "退款",
    "投诉",
    "差评",
    "质量差",
    "质量问题",
    "骗子",
    "被骗",
    "骗人",
    "不发货",
    "没发货",
    "发错",
    "坏了",
    "破了",
    "掉色",
    "起球",
    "过敏",
    "烂了",
    "售后",
    "12315",
    "维权",
    "智商税",
    "垃圾",
];

/// Marks of a question.
const QUESTION: &[&str] = &[
    "吗",
    "呢",
    "多少",
    "什么",
    "怎么",
    "哪",
    "几号",
    "几码",
    "是不是",
    "有没有",
    "能不能",
    "会不会",
    "可以吗",
    "啥",
    "咋",
];

/// When a cluster is a burst, for one tier of rooms.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstLimits {
    /// Distinct accounts a cluster needs.
    pub min_users: usize,
    /// Least share of the room's chat in the window that the cluster's messages are.
    pub min_share: f32,
    /// A cluster one account short of `min_users` (three accounts at least) is a
    /// burst already when its messages are at least this share of the room's chat
    /// over its span: in a quiet room, a few accounts saying the same thing within
    /// seconds is all the room says, and waiting for one more costs seconds of
    /// detection. Absent: no early burst.
    #[serde(default)]
    pub early_share: Option<f32>,
}

/// Fewest accounts an early burst (see [`BurstLimits::early_share`]) needs: two
/// viewers echoing each other is ordinary chat.
const MIN_EARLY_USERS: usize = 3;

impl BurstLimits {
    /// Whether `users` distinct accounts whose messages are `share` of the room's
    /// chat over their span make a burst.
    fn reached(&self, users: usize, share: f32) -> bool {
        (users >= self.min_users && share >= self.min_share)
            || self.early_share.is_some_and(|early| {
                users + 1 >= self.min_users && users >= MIN_EARLY_USERS && share >= early
            })
    }
}

/// `[engine.burst]`: the coordinated danmaku detector.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstConfig {
    /// Off: no message is compared, nothing is kept.
    pub enabled: bool,
    /// Least bigram Jaccard similarity of two messages of one cluster.
    pub similarity: f32,
    /// A cluster's members must fall within this many seconds (at most 60).
    pub window_s: u64,
    /// Rooms of the standard tier.
    pub standard: BurstLimits,
    /// Rooms of the enhanced tier (watched more closely).
    pub enhanced: BurstLimits,
    /// Rooms followed at once.
    pub max_rooms: usize,
}

impl Default for BurstConfig {
    fn default() -> BurstConfig {
        BurstConfig {
            enabled: true,
            similarity: 0.5,
            window_s: 30,
            // Chosen on the tune half of tests/burst_eval.rs (docs/QUALITY.md): three
            // accounts echoing one organic line happen a few times a room-hour; four
            // in proportion to the room's chat did not happen once.
            standard: BurstLimits {
                min_users: 4,
                min_share: 0.1,
                early_share: Some(0.7),
            },
            // Watched rooms: found a member sooner, at the price of about one false
            // burst in two room-hours.
            enhanced: BurstLimits {
                min_users: 3,
                min_share: 0.2,
                early_share: None,
            },
            max_rooms: 200_000,
        }
    }
}

impl BurstConfig {
    /// Why the configuration cannot run, if it cannot.
    pub fn problem(&self) -> Option<String> {
        let bad_share = |l: &BurstLimits| {
            !(0.0..=1.0).contains(&l.min_share)
                || l.early_share.is_some_and(|e| !(0.0..=1.0).contains(&e))
        };
        if !(0.05..=1.0).contains(&self.similarity) {
            return Some("engine.burst.similarity must be within 0.05..=1".into());
        }
        if self.window_s == 0 || self.window_s > 60 {
            return Some("engine.burst.window_s must be within 1..=60".into());
        }
        if self.standard.min_users < 2 || self.enhanced.min_users < 2 {
            return Some("engine.burst.*.min_users must be at least 2".into());
        }
        if bad_share(&self.standard) || bad_share(&self.enhanced) {
            return Some("engine.burst.*.min_share and early_share must be within 0..=1".into());
        }
        None
    }

    fn limits(&self, tier: Tier) -> BurstLimits {
        match tier {
            Tier::Standard => self.standard,
            Tier::Enhanced => self.enhanced,
        }
    }
}

/// One message of a cluster, kept as evidence.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    /// The event id.
    pub id: String,
    /// The sender.
    pub user: String,
    /// The text as sent (cut to [`MAX_TEXT`] bytes).
    pub text: String,
    /// Event time, ms.
    pub ts: u64,
    /// Its similarity to the cluster when it joined (1 for the first).
    pub similarity: f32,
}

/// A message found to be part of a burst (serialized as a hit's `burst`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BurstFinding {
    /// Stable id of the burst: the same events give the same id.
    pub id: String,
    /// Distinct accounts in the cluster so far.
    pub users: usize,
    /// This message's similarity to the cluster.
    pub similarity: f32,
    /// Share of the room's chat in the window that the cluster's messages are.
    pub share: f32,
    /// When the cluster's first message was sent.
    pub first_ts: u64,
    /// Whether this message made the cluster a burst.
    pub fired_now: bool,
    /// On firing, the members before this message (their disposal follows now);
    /// empty afterwards.
    #[serde(rename = "members", default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<Member>,
}

/// A recent message of the ring. Its evidence (id, sender, text) is kept in one
/// string whose capacity is reused when the slot is overwritten: no allocation per
/// message once a room's ring is full.
#[derive(Debug)]
struct Recent {
    sig: Sig,
    /// Bits set in `sig` (its bigrams, give or take a collision).
    bits: u16,
    user: u64,
    ts: u64,
    /// The cluster it belongs to, if any.
    cluster: Option<u64>,
    /// `id \u{1f} user \u{1f} text` (text cut to MAX_TEXT).
    evidence: String,
}

impl Recent {
    fn member(&self) -> Member {
        let mut parts = self.evidence.splitn(3, '\u{1f}');
        let mut next = || parts.next().unwrap_or_default().to_owned();
        Member {
            id: next(),
            user: next(),
            text: next(),
            ts: self.ts,
            similarity: 1.0,
        }
    }
}

#[derive(Debug)]
struct Cluster {
    id: u64,
    seed: Sig,
    seed_bits: u16,
    last: Sig,
    last_bits: u16,
    /// Distinct senders (hashes) and when each last posted.
    users: Vec<(u64, u64)>,
    members: Vec<Member>,
    first_ts: u64,
    last_ts: u64,
    /// Set once a burst: its id.
    burst: Option<String>,
}

#[derive(Debug)]
struct RoomChat {
    /// The last RING messages; `next` is the slot to overwrite once full.
    recent: Vec<Recent>,
    next: usize,
    clusters: Vec<Cluster>,
    /// Chat messages per second: `counts[s % SECONDS] = (s, n)` for second `s`.
    counts: [(u32, u16); SECONDS],
    next_cluster: u64,
    last_ts: u64,
}

impl Default for RoomChat {
    fn default() -> RoomChat {
        RoomChat {
            recent: Vec::new(),
            next: 0,
            clusters: Vec::new(),
            counts: [(u32::MAX, 0); SECONDS],
            next_cluster: 0,
            last_ts: 0,
        }
    }
}

impl RoomChat {
    /// Count a message in `second`; returns the second's count so far.
    fn count(&mut self, second: u64) -> u16 {
        let second = second as u32;
        let slot = &mut self.counts[second as usize % SECONDS];
        if slot.0 != second {
            *slot = (second, 0);
        }
        slot.1 = slot.1.saturating_add(1);
        slot.1
    }

    /// Chat messages from second `from` to second `to`, both included.
    fn chat_between(&self, from: u64, to: u64) -> u32 {
        // Only the span's own slots: a cluster's span is seconds, the ring 64.
        let from = from.max(to.saturating_sub(SECONDS as u64 - 1));
        (from..=to)
            .map(|second| {
                let (at, n) = self.counts[second as usize % SECONDS];
                if at == second as u32 { u32::from(n) } else { 0 }
            })
            .sum()
    }

    /// Keep a message in the ring, overwriting the oldest once full.
    fn remember(
        &mut self,
        (sig, bits): (Sig, u16),
        user: u64,
        ts: u64,
        cluster: Option<u64>,
        who: [&str; 3],
    ) {
        let slot = if self.recent.len() < RING {
            self.recent.push(Recent {
                sig,
                bits,
                user,
                ts,
                cluster,
                evidence: String::new(),
            });
            self.recent.len() - 1
        } else {
            let slot = self.next;
            self.next = (self.next + 1) % RING;
            let r = &mut self.recent[slot];
            (r.sig, r.bits, r.user, r.ts, r.cluster) = (sig, bits, user, ts, cluster);
            slot
        };
        let evidence = &mut self.recent[slot].evidence;
        evidence.clear();
        for (i, part) in who.into_iter().enumerate() {
            if i > 0 {
                evidence.push('\u{1f}');
            }
            evidence.push_str(part);
        }
    }
}

/// The detector's state for every room.
#[derive(Debug)]
pub struct Bursts {
    config: BurstConfig,
    /// Keyed by the room's hash (see `crate::state`): bounded, no allocation per
    /// lookup, many small shards.
    rooms: StateMap<RoomChat>,
    fired: AtomicU64,
}

/// A message's character bigrams, one bit per bigram hash (256 bits: two short
/// messages share a bit by accident rarely enough not to matter at 0.5).
type Sig = [u128; 2];

/// Bits set in a signature.
fn sig_bits(s: Sig) -> u16 {
    (s[0].count_ones() + s[1].count_ones()) as u16
}

/// Jaccard of two signatures of `a_bits` and `b_bits` bits, if at least
/// `threshold_pct` percent: the sizes are known, so one intersection count decides,
/// in integers (`inter / (a + b - inter) >= t` is `inter * (100 + t) >= t * (a + b)`),
/// after a bound no intersection can beat (`min / max < t`).
fn similar(a: Sig, a_bits: u16, b: Sig, b_bits: u16, threshold_pct: u32) -> Option<f32> {
    let (lo, hi) = (u32::from(a_bits.min(b_bits)), u32::from(a_bits.max(b_bits)));
    if lo * 100 < threshold_pct * hi {
        return None;
    }
    let inter = (a[0] & b[0]).count_ones() + (a[1] & b[1]).count_ones();
    let sum = u32::from(a_bits) + u32::from(b_bits);
    (inter * (100 + threshold_pct) >= threshold_pct * sum)
        .then(|| inter as f32 / (sum - inter).max(1) as f32)
}

/// Bigram Jaccard of two signatures.
#[cfg(test)]
fn jaccard(a: Sig, b: Sig) -> f32 {
    let union = (a[0] | b[0]).count_ones() + (a[1] | b[1]).count_ones();
    if union == 0 {
        return 0.0;
    }
    ((a[0] & b[0]).count_ones() + (a[1] & b[1]).count_ones()) as f32 / union as f32
}

fn hash64(bytes: &[u8]) -> u64 {
    // FNV-1a: stable across processes, so burst ids are too.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Words of complaints and questions, found in one pass.
static NEVER: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    aho_corasick::AhoCorasick::new(COMPLAINT.iter().chain(QUESTION))
        .expect("fixed word lists build")
});

/// The message's bigram signature, or `None` when it can never be part of a
/// campaign (too short, a chant of two or three characters repeated, a question, a
/// complaint).
fn signature(normalized: &str) -> Option<Sig> {
    // Two halves kept in registers (indexing an array here made every bigram a
    // store and a load: half the detector's time).
    let (mut low, mut high) = (0u128, 0u128);
    let mut chars = 0;
    let mut prev = u64::MAX;
    // Normalized text has no separators left: every character counts.
    for c in normalized.chars() {
        chars += 1;
        let c = u64::from(u32::from(c));
        if prev != u64::MAX {
            // splitmix64's finalizer: every bit of the pair moves every bit of the hash.
            let mut h = prev << 32 | c;
            h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            let bit = (h ^ (h >> 31)) >> 56;
            let mask = 1u128 << (bit & 127);
            if bit < 128 {
                low |= mask;
            } else {
                high |= mask;
            }
        }
        prev = c;
    }
    let sig = [low, high];
    // 666666, 哈哈哈哈, 来了来了来了: a chant, whatever its length.
    (chars >= MIN_CHARS && sig_bits(sig) >= 3).then_some(sig)
}

/// `text` cut to at most [`MAX_TEXT`] bytes, on a character boundary.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Bursts {
    /// A detector with `config`.
    pub fn new(config: BurstConfig) -> Bursts {
        Bursts {
            config,
            rooms: StateMap::new(config.max_rooms),
            fired: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &BurstConfig {
        &self.config
    }

    /// Rooms followed now.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }

    /// Messages of rooms that could not be followed (`max_rooms` reached).
    pub fn refused(&self) -> u64 {
        self.rooms.refused()
    }

    /// Bursts found so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::Relaxed)
    }

    /// Take in a viewer's chat message: `normalized` is its normalized text, `text`
    /// as sent. Returns what it is part of, if it is part of a burst.
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &self,
        room: &str,
        user: &str,
        id: &str,
        text: &str,
        normalized: &str,
        ts: u64,
        tier: Tier,
    ) -> Option<BurstFinding> {
        if !self.config.enabled {
            return None;
        }
        let sig = signature(normalized);
        let key = self.rooms.key().write(room.as_bytes()).finish();
        let mut chat = self.rooms.get_or_insert_with(key, RoomChat::default)?;
        let window_ms = self.config.window_s * 1000;
        let second = ts / 1000;
        let this_second = chat.count(second);
        chat.last_ts = chat.last_ts.max(ts);
        let sig = sig?;
        // A cluster keeps at most MAX_MEMBERS members and its span holds this second:
        // once this second's chat alone puts MAX_MEMBERS under the least share a burst
        // needs, no cluster can become one now, and comparing is wasted work (a room
        // of hundreds of messages a second). A burst already found keeps its members.
        let limits = self.config.limits(tier);
        let least_share = limits
            .early_share
            .map_or(limits.min_share, |e| e.min(limits.min_share));
        if (MAX_MEMBERS as f32) < least_share * f32::from(this_second)
            && chat.clusters.iter().all(|c| c.burst.is_none())
        {
            return None;
        }
        let user_hash = hash64(user.as_bytes());
        let member = |similarity: f32| Member {
            id: id.to_owned(),
            user: user.to_owned(),
            text: cut(text).to_owned(),
            ts,
            similarity,
        };
        let threshold = (self.config.similarity * 100.0).round() as u32;
        let bits = sig_bits(sig);
        let chat = &mut *chat;
        // Clusters still within the window.
        chat.clusters
            .retain(|c| ts.saturating_sub(c.last_ts) <= window_ms);
        let best_cluster = chat
            .clusters
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                // Its first member, or failing that its latest (a cluster drifts as
                // its members paraphrase each other).
                let similarity = similar(sig, bits, c.seed, c.seed_bits, threshold)
                    .or_else(|| similar(sig, bits, c.last, c.last_bits, threshold))?;
                Some((i, similarity))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        // Complaints and questions never join a campaign; checked only for a message
        // that would (most match nothing, and the check is a scan of the text).
        let never = |text: &str| NEVER.is_match(text);
        let (at, similarity) = match best_cluster {
            Some(_) if never(normalized) => return None,
            Some(found) => found,
            None => {
                // A pair with a recent message of another sender starts a cluster. Two
                // signatures whose sizes differ by more than the threshold cannot reach
                // it: skipped before the Jaccard.
                let pair = chat
                    .recent
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        r.user != user_hash
                            && r.cluster.is_none()
                            && ts.saturating_sub(r.ts) <= window_ms
                    })
                    .filter_map(|(i, r)| Some((i, similar(sig, bits, r.sig, r.bits, threshold)?)))
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                let Some((i, similarity)) = pair else {
                    chat.remember((sig, bits), user_hash, ts, None, [id, user, cut(text)]);
                    return None;
                };
                if never(normalized) {
                    return None;
                }
                if never(&chat.recent[i].evidence) {
                    // The earlier message was a complaint or a question: not a seed.
                    chat.remember((sig, bits), user_hash, ts, None, [id, user, cut(text)]);
                    return None;
                }
                if chat.clusters.len() >= MAX_CLUSTERS {
                    let quietest = (0..chat.clusters.len())
                        .min_by_key(|&i| chat.clusters[i].last_ts)
                        .expect("clusters exist");
                    chat.clusters.swap_remove(quietest);
                }
                let id = chat.next_cluster;
                chat.next_cluster += 1;
                let first = &mut chat.recent[i];
                first.cluster = Some(id);
                chat.clusters.push(Cluster {
                    id,
                    seed: first.sig,
                    seed_bits: first.bits,
                    last: first.sig,
                    last_bits: first.bits,
                    users: vec![(first.user, first.ts)],
                    members: vec![first.member()],
                    first_ts: first.ts,
                    last_ts: first.ts,
                    burst: None,
                });
                (chat.clusters.len() - 1, similarity)
            }
        };
        let cluster = &mut chat.clusters[at];
        cluster.last = sig;
        cluster.last_bits = bits;
        cluster.last_ts = ts;
        let known = cluster.users.len();
        match cluster.users.iter_mut().find(|(u, _)| *u == user_hash) {
            Some(seen) => seen.1 = ts,
            // Past MAX_USERS the count no longer matters (a burst needs a handful):
            // a room-wide wave of one line must not make each message cost more.
            None if known < MAX_USERS => cluster.users.push((user_hash, ts)),
            None => {}
        }
        if cluster.members.len() < MAX_MEMBERS {
            cluster.members.push(member(similarity));
        }
        let cluster_id = cluster.id;
        let in_window = cluster
            .users
            .iter()
            .filter(|(_, t)| ts.saturating_sub(*t) <= window_ms)
            .count();
        // The share is taken over the cluster's own span (within the window): a burst
        // is out of proportion to what the room said meanwhile.
        let since = cluster.first_ts.max(ts.saturating_sub(window_ms));
        let members_in_span = cluster.members.iter().filter(|m| m.ts >= since).count() as u32;
        let (first_ts, already) = (cluster.first_ts, cluster.burst.clone());
        let room_chat = chat.chat_between(since / 1000, second).max(1);
        let share = members_in_span as f32 / room_chat as f32;
        let finding = match already {
            Some(burst) => Some(BurstFinding {
                id: burst,
                users: chat.clusters[at].users.len(),
                similarity,
                share,
                first_ts,
                fired_now: false,
                earlier: Vec::new(),
            }),
            None if limits.reached(in_window, share) => {
                let cluster = &mut chat.clusters[at];
                let first_id = cluster.members.first().map_or(id, |m| m.id.as_str());
                let burst = format!(
                    "b-{:016x}",
                    hash64(format!("{room}\u{1f}{first_id}").as_bytes())
                );
                cluster.burst = Some(burst.clone());
                let mut earlier = cluster.members.clone();
                earlier.pop(); // this message
                self.fired.fetch_add(1, Ordering::Relaxed);
                Some(BurstFinding {
                    id: burst,
                    users: cluster.users.len(),
                    similarity,
                    share,
                    first_ts,
                    fired_now: true,
                    earlier,
                })
            }
            None => None,
        };
        chat.remember(
            (sig, bits),
            user_hash,
            ts,
            Some(cluster_id),
            [id, user, cut(text)],
        );
        finding
    }

    /// Forget rooms with no chat for a window; returns how many.
    pub fn sweep(&self, now_ms: u64) -> usize {
        let window_ms = self.config.window_s * 1000;
        self.rooms
            .retain(|chat| now_ms.saturating_sub(chat.last_ts) <= window_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::normalize;

    fn feed(b: &Bursts, room: &str, user: &str, text: &str, ts: u64) -> Option<BurstFinding> {
        let id = format!("{user}-{ts}");
        b.observe(room, user, &id, text, &normalize(text), ts, Tier::Standard)
    }

    /// The defaults without early bursts: four accounts, always.
    fn four_accounts() -> BurstConfig {
        let mut config = BurstConfig::default();
        config.standard.early_share = None;
        config
    }

    #[test]
    fn paraphrases_from_four_accounts_fire_once_and_later_members_join() {
        let b = Bursts::new(four_accounts());
        assert!(feed(&b, "r", "u1", "已下单，质量真好", 1_000).is_none());
        assert!(feed(&b, "r", "u2", "已下单了，质量真好！！", 2_500).is_none());
        assert!(feed(&b, "r", "u3", "已下单 质量真的好👍", 4_000).is_none());
        let fired = feed(&b, "r", "u4", "已經下單，質量真好", 5_000).expect("a burst");
        assert!(fired.fired_now);
        assert_eq!(fired.users, 4);
        assert_eq!(fired.earlier.len(), 3);
        assert_eq!(fired.first_ts, 1_000);
        let later = feed(&b, "r", "u5", "已下单，质量真好冲冲冲", 7_000).expect("a member");
        assert!(!later.fired_now);
        assert_eq!(later.id, fired.id);
        assert_eq!(b.fired(), 1);
    }

    #[test]
    fn one_account_repeating_itself_is_not_a_campaign() {
        let b = Bursts::new(BurstConfig::default());
        for i in 0..10 {
            assert!(feed(&b, "r", "u1", "已下单，质量真好", 1_000 + i * 500).is_none());
        }
    }

    #[test]
    fn chants_questions_and_complaints_never_form_a_burst() {
        let b = Bursts::new(BurstConfig::default());
        for (i, text) in [
            "666666",
            "来了来了",
            "主播这个多少钱呀",
            "我收到的是假货，要退款",
        ]
        .iter()
        .enumerate()
        {
            for u in 0..8u64 {
                let ts = 1_000 * (i as u64 * 10 + u);
                assert!(
                    feed(&b, "r", &format!("u{u}"), text, ts).is_none(),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn a_cluster_lost_in_a_busy_rooms_own_chat_is_not_a_burst() {
        let b = Bursts::new(BurstConfig::default());
        let organic = [
            "这个颜色好显白啊",
            "昨天买的已经到了",
            "主播穿得真好看",
            "今天的福利力度大",
            "我想要那个黑色款",
            "家人们冲鸭冲鸭",
            "刚刚抢到了好开心",
            "这个外套好有质感",
        ];
        // Ten lines a second; four accounts post the same line two seconds apart:
        // 4 of about 80 messages over the cluster's span.
        let mut found = None;
        for tick in 0..90u64 {
            let ts = tick * 100;
            let text = format!("{}{tick}", organic[tick as usize % organic.len()]);
            feed(&b, "r", &format!("o{tick}"), &text, ts);
            if tick % 20 == 5 {
                found = found.or(feed(
                    &b,
                    "r",
                    &format!("p{tick}"),
                    "已下单，质量真好",
                    ts + 1,
                ));
            }
        }
        assert!(found.is_none(), "{found:?}");
        // The same four accounts in a quiet room are a burst.
        let quiet = Bursts::new(BurstConfig::default());
        let found = (0..4u64)
            .filter_map(|i| feed(&quiet, "q", &format!("p{i}"), "已下单，质量真好", i * 2_000))
            .next();
        assert!(found.is_some_and(|f| f.fired_now));
    }

    #[test]
    fn three_accounts_are_enough_when_they_are_most_of_the_rooms_chat() {
        // Nothing else said: the third account is a burst.
        let quiet = Bursts::new(BurstConfig::default());
        assert!(feed(&quiet, "q", "p1", "已下单，质量真好", 1_000).is_none());
        assert!(feed(&quiet, "q", "p2", "已下单了，质量真好！！", 2_500).is_none());
        let fired = feed(&quiet, "q", "p3", "已下单 质量真的好👍", 4_000).expect("a burst");
        assert!(fired.fired_now);
        assert_eq!(fired.users, 3);
        // The same three among a line a second of other chat are under 70% of it:
        // the fourth account decides.
        let b = Bursts::new(BurstConfig::default());
        let paid = [
            "已下单，质量真好",
            "已下单了，质量真好！！",
            "已下单 质量真的好👍",
            "已經下單，質量真好",
        ];
        let organic = [
            "这个颜色好显白啊",
            "主播穿得真好看",
            "我想要那个黑色款",
            "今天的福利力度大",
        ];
        let mut fired_at = None;
        for (k, text) in paid.iter().enumerate() {
            let ts = 1_000 + k as u64 * 1_500;
            feed(&b, "r", &format!("o{k}"), organic[k], ts - 700);
            if feed(&b, "r", &format!("p{k}"), text, ts).is_some_and(|f| f.fired_now) {
                fired_at = Some(k + 1);
            }
        }
        assert_eq!(fired_at, Some(4));
        // Two accounts are never enough, however quiet the room.
        let pair = Bursts::new(BurstConfig {
            enhanced: BurstLimits {
                min_users: 3,
                min_share: 0.2,
                early_share: Some(0.1),
            },
            ..BurstConfig::default()
        });
        let id = |u: &str| format!("{u}-x");
        for (u, ts) in [("a", 1_000), ("b", 2_000)] {
            let n = normalize("已下单，质量真好");
            let found = pair.observe("e", u, &id(u), "已下单，质量真好", &n, ts, Tier::Enhanced);
            assert!(found.is_none());
        }
    }

    #[test]
    fn a_flood_second_skips_comparing_but_a_found_burst_keeps_its_members() {
        let b = Bursts::new(BurstConfig::default());
        // Four hundred lines in one second: 32 members could never be a tenth of it.
        for i in 0..400u64 {
            feed(&b, "busy", &format!("o{i}"), "这个颜色好显白啊", 1_000 + i);
        }
        for i in 0..6u64 {
            let found = feed(&b, "busy", &format!("p{i}"), "已下单，质量真好", 1_500 + i);
            assert!(found.is_none(), "nothing can fire in a flood second");
        }
        // A burst found before the flood still takes new members during it.
        let b = Bursts::new(BurstConfig::default());
        let first = (0..4u64)
            .find_map(|i| feed(&b, "r", &format!("p{i}"), "已下单，质量真好", i * 2_000))
            .expect("a burst");
        for i in 0..400u64 {
            feed(&b, "r", &format!("o{i}"), "今天的福利力度大", 10_000 + i);
        }
        let later = feed(&b, "r", "p9", "已下单了，质量真好！！", 10_500).expect("a member");
        assert_eq!(later.id, first.id);
    }

    #[test]
    fn the_sweep_forgets_quiet_rooms() {
        let b = Bursts::new(BurstConfig::default());
        feed(&b, "r", "u1", "已下单，质量真好", 1_000);
        assert_eq!(b.rooms(), 1);
        assert_eq!(b.sweep(1_000 + 31_000), 1);
        assert_eq!(b.rooms(), 0);
    }

    #[test]
    fn jaccard_of_signatures_follows_the_bigrams() {
        let a = signature(&normalize("已下单质量真好")).unwrap();
        assert!((jaccard(a, a) - 1.0).abs() < f32::EPSILON);
        let b = signature(&normalize("主播的衣服真好看")).unwrap();
        assert!(jaccard(a, b) < 0.2);
    }
}
