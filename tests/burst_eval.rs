//! The coordinated-danmaku detector measured on generated rooms: organic chat (the
//! hand-written viewer lines of `tests/fixtures/chat-benign.jsonl`, sampled at each
//! room's own pace) with bursts of 5, 10 and 30 accounts posting paraphrases of a
//! paid line (suffixes and emoji, synonyms, one- or two-character edits, separators,
//! traditional forms, 0.2-5 s apart).
//!
//! Two halves: the paid lines and the organic lines are split in two; the defaults
//! were chosen on the first (`tune`) and the second (`held_out`) was run once they
//! were fixed. Both runs are seeded, so their figures are fixed expectations; print
//! them with `cargo test --test burst_eval -- --nocapture` (docs/QUALITY.md).

use std::collections::{HashMap, HashSet};

use liveguard::burst::{BurstConfig, Bursts};
use liveguard::event::Tier;
use liveguard::normalize::normalize;

/// Paid lines as 职业弹幕 post them (hand-written, not from the corpus).
const PAID: &[&str] = &[
    "已下单，质量真好",
    "回购第三次了，真的好用",
    "主播人真好，冲",
    "买了三盒了，效果真的明显",
    "用了一个月瘦了八斤",
    "我妈用了说特别好",
    "这个价格太值了，闭眼入",
    "姐妹们冲，不买后悔",
    "已经拍了两单，送朋友",
    "穿上特别显瘦，好评",
    "第二次来买了，支持主播",
    "味道超级正宗，家里人都爱吃",
    "包装很精致，送人有面子",
    "上次买的用完了再来囤货",
    "主播太实在了，良心推荐",
    "这款我用过，真心不错",
    "跟着主播买从来没踩过雷",
    "物流超快，第二天就到了",
    "老粉了，每次都来支持",
    "全家都在用，效果杠杠的",
    "孩子特别喜欢，又来买了",
    "性价比太高了，囤了五件",
    "颜值高还好用，爱了爱了",
    "面料舒服透气，夏天穿正好",
    "已拍三件，期待收货",
    "朋友推荐来的，果然没失望",
    "皮肤变好了好多，谢谢主播",
    "这价格外面根本买不到",
    "支持国货，已经下单两份",
    "喝了一周睡眠好多了",
    "真的很好吃，一口气吃了半袋",
    "主播讲得很专业，信了信了",
    "刚收到就来复购，太好用了",
    "质量比专柜的还好，划算",
    "给爸妈买了两箱，都说好",
    "这个真的绝了，闭眼冲",
    "涂了三天痘痘下去了",
    "宝宝穿着很舒服，不闷汗",
    "用了半年了，一直在回购",
    "这次活动太划算了，赶紧冲",
];

const SUFFIXES: &[&str] = &[
    "！",
    "!!!",
    "冲冲冲",
    "真的",
    "哈哈哈",
    "👍",
    "❤️",
    "～",
    "家人们",
    "😄😄",
    "，强烈推荐",
    "。",
];
const PREFIXES: &[&str] = &[
    "真的",
    "姐妹们",
    "说实话",
    "讲真",
    "家人们，",
    "哇，",
    "【好评】",
];
const SYNONYMS: &[(&str, &str)] = &[
    ("下单", "拍了"),
    ("真好", "超好"),
    ("真好", "真不错"),
    ("质量", "品质"),
    ("回购", "复购"),
    ("太值了", "超值"),
    ("特别", "超级"),
    ("真的", "真心"),
    ("主播", "播播"),
    ("好用", "好使"),
    ("买了", "入了"),
    ("效果", "效果真的"),
];
const TRADITIONAL: &[(char, char)] = &[
    ('质', '質'),
    ('单', '單'),
    ('经', '經'),
    ('买', '買'),
    ('货', '貨'),
    ('后', '後'),
    ('这', '這'),
    ('个', '個'),
    ('说', '說'),
    ('对', '對'),
    ('价', '價'),
    ('会', '會'),
    ('发', '發'),
    ('们', '們'),
    ('欢', '歡'),
    ('爱', '愛'),
    ('给', '給'),
    ('过', '過'),
];
const EDITS: &[(char, char)] = &[
    ('的', '滴'),
    ('了', '啦'),
    ('好', '号'),
    ('吧', '八'),
    ('是', '似'),
];

/// xorshift64*: a seeded run is the same run everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// One or two of the paraphrase operations.
fn paraphrase(rng: &mut Rng, line: &str) -> String {
    let mut s = line.to_owned();
    for _ in 0..1 + rng.below(2) {
        match rng.below(6) {
            0 => {
                let suffix: &&str = rng.pick(SUFFIXES);
                s.push_str(suffix);
            }
            1 => s = format!("{}{s}", rng.pick(PREFIXES)),
            2 => {
                let (from, to) = *rng.pick(SYNONYMS);
                s = s.replacen(from, to, 1);
            }
            3 => {
                let chars: Vec<char> = s.chars().collect();
                let at = rng.below(chars.len());
                s = match rng.below(3) {
                    0 => chars
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != at)
                        .map(|(_, c)| c)
                        .collect(),
                    1 => chars
                        .iter()
                        .enumerate()
                        .flat_map(|(i, c)| if i == at { vec![*c, *c] } else { vec![*c] })
                        .collect(),
                    _ => {
                        let (from, to) = *rng.pick(EDITS);
                        s.replacen(from, &to.to_string(), 1)
                    }
                };
            }
            4 => {
                let sep = *rng.pick(&[" ", "～", ".", "、"]);
                let chars: Vec<String> = s.chars().map(String::from).collect();
                s = chars.join(sep);
            }
            _ => {
                s = s
                    .chars()
                    .map(|c| {
                        TRADITIONAL
                            .iter()
                            .find(|(a, _)| *a == c)
                            .map_or(c, |(_, t)| *t)
                    })
                    .collect()
            }
        }
    }
    s
}

struct Message {
    room: usize,
    user: String,
    id: String,
    text: String,
    ts: u64,
    /// The burst it belongs to, if paid.
    burst: Option<usize>,
}

struct Run {
    recall: HashMap<usize, (usize, usize)>,
    fired: usize,
    false_fired: usize,
    room_hours: f64,
    detect_s: Vec<f64>,
    held_organic: usize,
    organic: usize,
}

/// Every hand-written viewer line of the chat corpora that is not a violation.
fn organic_lines() -> Vec<String> {
    let corpora = [
        include_str!("fixtures/chat-benign.jsonl"),
        include_str!("fixtures/chat-dev.jsonl"),
        include_str!("fixtures/chat-dev2.jsonl"),
        include_str!("fixtures/chat-test.jsonl"),
        include_str!("fixtures/chat-test2.jsonl"),
    ];
    let mut lines: Vec<String> = corpora
        .iter()
        .flat_map(|c| c.lines())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "chat" && v["role"] != "host" && v["role"] != "operator")
        .filter(|v| v["expect"]["flag"] != true)
        .filter_map(|v| v["text"].as_str().map(str::to_owned))
        .collect();
    lines.sort();
    lines.dedup();
    lines
}

/// Rooms with organic chat for `minutes`, and bursts of each size placed at random.
fn generate(
    seed: u64,
    organic: &[String],
    paid: &[&str],
    rooms: usize,
    minutes: u64,
) -> Vec<Message> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let span = minutes * 60_000;
    for room in 0..rooms {
        // From a quiet room (one line every 5 s) to a busy one (three a second).
        let gap_ms = *rng.pick(&[5_000, 2_000, 1_000, 600, 333]);
        let mut ts = rng.between(0, gap_ms);
        // Viewers do not retype each other's sentences: a line is not drawn again
        // within a room's last 300 (sampling with replacement from a finite pool
        // would make organic copy-paste bursts no real room has).
        let mut used = std::collections::VecDeque::new();
        while ts < span {
            let mut line = rng.below(organic.len());
            while used.contains(&line) {
                line = rng.below(organic.len());
            }
            used.push_back(line);
            if used.len() > 300 {
                used.pop_front();
            }
            // One viewer in twenty echoes a recent line in their own words (同款 praise,
            // a joke picked up): organic near-duplicates, from one account each.
            let echo = rng.chance(0.05) && !used.is_empty();
            let text = if echo {
                let recent = used.len().min(20);
                let source = used[used.len() - 1 - rng.below(recent)];
                let original = &organic[source];
                match rng.below(3) {
                    0 => format!(
                        "{original}{}",
                        rng.pick(&["哈哈", "+1", "！", "～", "😂", "同感"])
                    ),
                    1 => format!("{}{original}", rng.pick(&["我也是", "真的", "哈哈", "同"])),
                    _ => original.clone(),
                }
            } else {
                organic[line].clone()
            };
            out.push(Message {
                room,
                user: format!("r{room}-u{}", rng.below(400)),
                id: format!("o-{room}-{ts}"),
                text,
                ts,
                burst: None,
            });
            ts += rng.between(gap_ms / 4, gap_ms * 7 / 4);
        }
    }
    let mut burst = 0;
    for size in [5usize, 10, 30] {
        for _ in 0..rooms / 2 {
            let room = rng.below(rooms);
            let line = *rng.pick(paid);
            let mut ts = rng.between(60_000, span - 180_000);
            for member in 0..size {
                out.push(Message {
                    room,
                    user: format!("paid-{burst}-{member}"),
                    id: format!("p-{burst}-{member}"),
                    text: paraphrase(&mut rng, line),
                    ts,
                    burst: Some(burst),
                });
                ts += rng.between(200, 5_000);
            }
            burst += 1;
        }
    }
    out.sort_by_key(|m| (m.ts, m.room));
    out
}

fn evaluate(config: BurstConfig, messages: &[Message], rooms: usize, minutes: u64) -> Run {
    let bursts = Bursts::new(config);
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    let mut starts: HashMap<usize, u64> = HashMap::new();
    for m in messages {
        if let Some(b) = m.burst {
            *sizes.entry(b).or_default() += 1;
            starts.entry(b).or_insert(m.ts);
        }
    }
    // Per burst id found: its members' true bursts.
    let mut found: HashMap<String, Vec<(Option<usize>, String)>> = HashMap::new();
    let mut detected: HashMap<usize, u64> = HashMap::new();
    let (mut held_organic, mut organic) = (0, 0);
    for m in messages {
        let room = format!("room-{}", m.room);
        let finding = bursts.observe(
            &room,
            &m.user,
            &m.id,
            &m.text,
            &normalize(&m.text),
            m.ts,
            Tier::Standard,
        );
        if m.burst.is_none() {
            organic += 1;
            held_organic += usize::from(finding.is_some());
        }
        if let Some(f) = finding {
            let members = found.entry(f.id.clone()).or_default();
            members.push((m.burst, m.text.clone()));
            if f.fired_now {
                members.extend(f.earlier.iter().map(|e| {
                    let burst = messages.iter().find(|x| x.id == e.id).and_then(|x| x.burst);
                    (burst, e.text.clone())
                }));
            }
            if let Some(b) = m.burst {
                detected.entry(b).or_insert(m.ts);
            }
        }
    }
    let mut recall: HashMap<usize, (usize, usize)> = HashMap::new();
    let mut detect_s = Vec::new();
    for (b, size) in &sizes {
        let entry = recall.entry(*size).or_default();
        entry.1 += 1;
        if let Some(ts) = detected.get(b) {
            entry.0 += 1;
            detect_s.push((ts - starts[b]) as f64 / 1000.0);
        }
    }
    if std::env::var("BURST_EVAL_SHOW_FALSE").is_ok() {
        for (id, members) in &found {
            let paid = members.iter().filter(|m| m.0.is_some()).count();
            if paid * 2 <= members.len() {
                println!("FALSE {id} {members:?}");
            }
        }
    }
    let false_fired = found
        .values()
        .filter(|members| {
            let paid = members.iter().filter(|m| m.0.is_some()).count();
            paid * 2 <= members.len()
        })
        .count();
    detect_s.sort_by(f64::total_cmp);
    Run {
        recall,
        fired: found.len(),
        false_fired,
        room_hours: rooms as f64 * minutes as f64 / 60.0,
        detect_s,
        held_organic,
        organic,
    }
}

fn report(name: &str, run: &Run) {
    let mut sizes: Vec<_> = run.recall.iter().collect();
    sizes.sort();
    for (size, (hit, all)) in sizes {
        println!(
            "{name}: bursts of {size}: recall {hit}/{all} = {:.3}",
            *hit as f64 / *all as f64
        );
    }
    let p = |q: f64| {
        let last = run.detect_s.len().saturating_sub(1);
        run.detect_s
            .get((last as f64 * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{name}: precision {}/{} = {:.3}; false bursts {} in {:.1} room-hours = {:.2}/room-hour; organic messages held {}/{}; detection s p50 {:.1} p90 {:.1} max {:.1}",
        run.fired - run.false_fired,
        run.fired,
        (run.fired - run.false_fired) as f64 / run.fired.max(1) as f64,
        run.false_fired,
        run.room_hours,
        run.false_fired as f64 / run.room_hours,
        run.held_organic,
        run.organic,
        p(0.5),
        p(0.9),
        p(1.0),
    );
}

fn halves<T: Clone>(items: &[T]) -> (Vec<T>, Vec<T>) {
    let tune = items.iter().step_by(2).cloned().collect();
    let held_out = items.iter().skip(1).step_by(2).cloned().collect();
    (tune, held_out)
}

fn check(run: &Run) {
    let recall = |size: usize| {
        let (hit, all) = run.recall[&size];
        hit as f64 / all as f64
    };
    assert!(recall(30) >= 0.95, "recall of 30: {}", recall(30));
    assert!(recall(10) >= 0.95, "recall of 10: {}", recall(10));
    assert!(recall(5) >= 0.8, "recall of 5: {}", recall(5));
    let precision = (run.fired - run.false_fired) as f64 / run.fired as f64;
    assert!(precision >= 0.98, "precision {precision}");
    assert!(
        run.false_fired as f64 / run.room_hours <= 1.0,
        "false bursts per room-hour"
    );
    // Four accounts 0.2-5 s apart take three gaps: half the bursts are found within
    // 8.5 s, nine in ten within 11 s (the target of 10 s is met for the median); a
    // burst whose first lines paraphrase each other too loosely is found later.
    let median = run.detect_s[run.detect_s.len() / 2];
    assert!(median <= 10.0, "median detection {median} s");
    let p90 = run.detect_s[run.detect_s.len() * 9 / 10];
    assert!(p90 <= 12.0, "p90 detection {p90} s");
}

const ROOMS: usize = 40;
const MINUTES: u64 = 30;

#[test]
fn tune_half_meets_the_targets() {
    let (organic, _) = halves(&organic_lines());
    let (paid, _) = halves(PAID);
    let messages = generate(0x5eed_0001, &organic, &paid, ROOMS, MINUTES);
    let run = evaluate(BurstConfig::default(), &messages, ROOMS, MINUTES);
    report("tune", &run);
    check(&run);
}

#[test]
fn held_out_half_meets_the_targets() {
    let (_, organic) = halves(&organic_lines());
    let (_, paid) = halves(PAID);
    let messages = generate(0x5eed_0002, &organic, &paid, ROOMS, MINUTES);
    let run = evaluate(BurstConfig::default(), &messages, ROOMS, MINUTES);
    report("held_out", &run);
    check(&run);
}

#[test]
fn organic_chat_alone_raises_no_burst() {
    let organic = organic_lines();
    let messages: Vec<Message> = generate(0x5eed_0003, &organic, &PAID[..1], ROOMS, MINUTES)
        .into_iter()
        .filter(|m| m.burst.is_none())
        .collect();
    let run = evaluate(BurstConfig::default(), &messages, ROOMS, MINUTES);
    report("organic", &run);
    assert!(
        run.fired as f64 / run.room_hours <= 1.0,
        "{} bursts",
        run.fired
    );
    let distinct: HashSet<&str> = messages.iter().map(|m| m.text.as_str()).collect();
    assert!(distinct.len() > 500, "the organic chat is varied");
}

/// The sweep the defaults were chosen from (tune half only):
/// `cargo test --test burst_eval -- --ignored --nocapture`; with
/// `BURST_EVAL_SHOW_FALSE=1` it prints every false burst's messages.
#[test]
#[ignore]
fn sweep_of_settings_on_the_tune_half() {
    let (organic, _) = halves(&organic_lines());
    let (paid, _) = halves(PAID);
    let messages = generate(0x5eed_0001, &organic, &paid, ROOMS, MINUTES);
    for users in [3usize, 4, 5] {
        for share in [0.0f32, 0.1, 0.15, 0.2, 0.3] {
            let mut config = BurstConfig::default();
            config.standard.min_users = users;
            config.standard.min_share = share;
            config.standard.early_share = None;
            let run = evaluate(config, &messages, ROOMS, MINUTES);
            report(&format!("users {users} share {share}"), &run);
        }
    }
    // Four accounts, or three that are this much of the room's chat.
    for early in [0.3f32, 0.4, 0.5, 0.6, 0.7] {
        let mut config = BurstConfig::default();
        config.standard.early_share = Some(early);
        let run = evaluate(config, &messages, ROOMS, MINUTES);
        report(&format!("users 4 share 0.1, 3 at {early}"), &run);
    }
}
