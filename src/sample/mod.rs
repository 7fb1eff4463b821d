//! A deterministic generator of realistic live-room traffic, for benchmarks and
//! `liveguard loadgen`: mostly benign chat of about 30 bytes, a few percent violations
//! with evasions, and some host transcripts. The benign lines come from one of two
//! pools ([`ChatPool`]): the classic 30 lines the benches use, or 1,000 lines written
//! by hand, which a load test should use to look like a real room.

use std::sync::OnceLock;

/// A small, fast, deterministic PRNG (xorshift64*), so that runs are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a fixed constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A random element of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Ordinary viewer chat: greetings, questions about size, price, shipping.
pub const BENIGN_CHAT: &[&str] = &[
    "主播晚上好，今天有什么福利呀",
    "这件衣服有没有大一码的呀",
    "什么时候发货，能发顺丰吗",
    "已拍，麻烦尽快发货谢谢",
    "这个颜色显白吗，黄皮能穿吗",
    "主播身高多少，穿的什么码",
    "链接在哪里，找不到了",
    "冰丝凉席凉快吗，夏天用",
    "第一次来直播间，关注了",
    "象牙白和米色哪个好看",
    "包邮吗，偏远地区能发吗",
    "这款面膜适合干皮吗",
    "尺码偏大还是偏小啊",
    "筋膜枪怎么用，一天几次",
    "主播好漂亮，声音也好听",
    "有烟酰胺精华吗，想美白",
    "最多限购几件呀主播",
    "怎么退货，七天无理由吗",
    "这个锅是不粘锅吗",
    "垃圾袋多少钱一卷",
    "三号链接还有货吗",
    "支持主播，已经下单了",
    "是纯棉的吗，会起球吗",
    "玻尿酸面膜补水效果好吗",
];

/// Host speech segments, as ASR delivers them (no punctuation).
pub const BENIGN_TRANSCRIPT: &[&str] = &[
    "家人们这件衣服是纯棉的穿着很舒服",
    "链接已经上架了大家可以去看看",
    "今天的福利是买二送一数量有限",
    "下单备注颜色就可以了我们按备注发",
    "喜欢的可以点个关注主播每天都在",
    "发货时间是四十八小时内大家放心",
];

/// Violations, several with the evasions seen in live rooms.
pub const VIOLATIONS: &[&str] = &[
    "想要的加微信私聊",
    "加 v 信 发你资料",
    "有需要的+V联系我",
    "主页有惊喜，看个性签名",
    "这个全网最低价，错过没有了",
    "吃了三天瘦了十斤，真的有效",
    "有没有仿 真 枪出售",
    "隔壁直播间卖的都是假货",
    "这款祖传秘方包治百病",
    "电 子 烟 便宜出",
    "刷单兼职日结三百",
    "國藥準字，藥到病除",
    "联系我13812345678",
    "xiao量第一的面霜",
];

/// Which benign lines a [`Mix`] draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChatPool {
    /// [`BENIGN_CHAT`] and [`BENIGN_TRANSCRIPT`]: 24 chat and 6 transcript lines, what
    /// the benches and the load figures of docs/PERFORMANCE.md use. Under load every
    /// line is typed by many senders in every room within seconds, so the burst
    /// detector rightly finds campaigns everywhere and holds their members.
    #[default]
    Classic,
    /// 900 chat and 100 transcript lines written by hand for the real-chat issue
    /// (`tests/fixtures/chat-benign.jsonl`: everyday chat, honest product talk,
    /// near-misses such as 虎皮凤爪 and 象牙白): a room where viewers rarely retype
    /// each other's lines, as in a real one.
    Varied,
}

/// The varied pool's chat lines, one per line.
const VARIED_CHAT: &str = include_str!("chat.txt");
/// The varied pool's host speech, one segment per line.
const VARIED_TRANSCRIPT: &str = include_str!("transcript.txt");

/// The varied pool, split once.
fn varied() -> &'static (Vec<&'static str>, Vec<&'static str>) {
    static POOL: OnceLock<(Vec<&'static str>, Vec<&'static str>)> = OnceLock::new();
    POOL.get_or_init(|| {
        let lines = |s: &'static str| s.lines().filter(|l| !l.is_empty()).collect();
        (lines(VARIED_CHAT), lines(VARIED_TRANSCRIPT))
    })
}

/// A traffic mix: which share of events is a violation and which a transcript, and
/// which pool the benign lines come from.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Percent of events that carry a violation.
    pub violation_pct: usize,
    /// Percent of events that are host transcripts.
    pub transcript_pct: usize,
    /// Where the benign lines come from.
    pub pool: ChatPool,
}

impl Default for Mix {
    fn default() -> Mix {
        Mix {
            violation_pct: 3,
            transcript_pct: 10,
            pool: ChatPool::Classic,
        }
    }
}

/// One generated event's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Whether it is a host transcript (else viewer chat).
    pub transcript: bool,
    /// The text.
    pub text: &'static str,
}

impl Mix {
    /// Draw one event.
    pub fn draw(&self, rng: &mut Rng) -> Sample {
        let r = rng.below(100);
        if r < self.violation_pct {
            Sample {
                transcript: rng.below(4) == 0,
                text: rng.pick(VIOLATIONS),
            }
        } else if r < self.violation_pct + self.transcript_pct {
            Sample {
                transcript: true,
                text: rng.pick(self.transcripts()),
            }
        } else {
            Sample {
                transcript: false,
                text: rng.pick(self.chat()),
            }
        }
    }

    fn chat(&self) -> &'static [&'static str] {
        match self.pool {
            ChatPool::Classic => BENIGN_CHAT,
            ChatPool::Varied => &varied().0,
        }
    }

    fn transcripts(&self) -> &'static [&'static str] {
        match self.pool {
            ChatPool::Classic => BENIGN_TRANSCRIPT,
            ChatPool::Varied => &varied().1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_varied_pool_is_varied_and_draws_each_kind() {
        let (chat, transcripts) = varied();
        assert_eq!((chat.len(), transcripts.len()), (900, 100));
        let mix = Mix {
            pool: ChatPool::Varied,
            ..Mix::default()
        };
        let mut rng = Rng::new(1);
        let drawn: std::collections::HashSet<&str> =
            (0..10_000).map(|_| mix.draw(&mut rng).text).collect();
        // 10,000 draws of 1,000 lines plus the violations: nearly every line shows.
        assert!(drawn.len() > 900, "{} distinct lines", drawn.len());
        let classic: std::collections::HashSet<&str> = (0..10_000)
            .map(|_| Mix::default().draw(&mut rng).text)
            .collect();
        assert!(classic.len() <= BENIGN_CHAT.len() + BENIGN_TRANSCRIPT.len() + VIOLATIONS.len());
    }
}
