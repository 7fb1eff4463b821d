//! The context stage: whether a hit is asserted, or only mentioned: denied or forbidden
//! (`negated`), asked about (`questioned`), cited as a word or a rule (`quoted`), or
//! someone else's violation pointed out (`reported`). The policy has rows for each
//! (see `lexicons/policy.toml`); the default lets such mentions stand and records them.
//!
//! It is NegEx made to fit Chinese chat: trigger words before the hit with a scope, a
//! few after it, and *pseudo-triggers* that look like negation and are not (不是我吹,
//! 不得不说, 不要错过, 别家). Scope ends at clause punctuation; a plain negator (不, 没,
//! 别) reaches the hit only through words that carry it (是, 会, 做, 卖, 任何, 私下 …),
//! so `不要错过全网最低价` stays a claim while `我们从不私下交易` is denied. A strong
//! prohibition (禁止, 谨防, 不要相信) reaches further, through its object.
//!
//! Synchronous and allocation-light; it runs only for events with hits.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, StartKind};

use crate::event::{Category, Role};
use crate::normalize::{Gap, NormText, normalize};

crate::wire_names! {
    /// How a hit stands in its sentence.
    pub enum Context {
        /// No context: the term is asserted (only used in `policy.toml` rows).
        None = "none",
        /// Denied, forbidden or warned against: 我们从不刷单, 谨防私下交易.
        Negated = "negated",
        /// Asked about, or guessed at: 这是处方药吗, 是你们自己刷单吧.
        Questioned = "questioned",
        /// Mentioned as a word or a rule: 主播不能说“全网最低价”这种话.
        Quoted = "quoted",
        /// Someone else's violation pointed out: 举报, 评论区有人在卖烟.
        Reported = "reported",
    }
}

impl Context {
    /// The contexts a hit can carry.
    pub const MARKS: [Context; 4] = [
        Context::Negated,
        Context::Questioned,
        Context::Quoted,
        Context::Reported,
    ];
}

/// The contexts of one hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContextSet(u8);

impl ContextSet {
    fn bit(c: Context) -> u8 {
        1 << c as u8
    }

    /// Whether `c` is marked (`None` when nothing is).
    pub fn contains(self, c: Context) -> bool {
        match c {
            Context::None => self.0 == 0,
            _ => self.0 & ContextSet::bit(c) != 0,
        }
    }

    /// Mark `c`.
    pub fn insert(&mut self, c: Context) {
        if c != Context::None {
            self.0 |= ContextSet::bit(c);
        }
    }

    /// Whether nothing is marked.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The marked contexts, in [`Context::MARKS`] order.
    pub fn iter(self) -> impl Iterator<Item = Context> {
        Context::MARKS
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

/// Word lists, normalized like the text (so `一律` is stored as `1律`).
struct Lexicon {
    /// Negators that reach the hit only through carrier words.
    plain: WordList,
    /// Prohibitions and warnings that reach through their object.
    strong: WordList,
    /// Words that look like a negator and are not one, and stop a negation before
    /// them from reaching the hit (不是我吹, 不得不说, 不要错过).
    pseudo: WordList,
    /// Words that contain a negator's character and are not negations at all; a
    /// negation reaches through them (别家, 区别, 有没有, 卖不卖).
    neutral: WordList,
    /// Words that carry a plain negation on to the hit (不[是|会|卖|私下]…).
    carriers: WordList,
    /// Words after which nothing before them reaches the hit (但是, 错过).
    breakers: WordList,
    /// Denials after the hit: …都是骗局, …我们从来不做.
    after: WordList,
    /// Blanket refusals that reach back over a whole clause (象牙、犀角这类野生动物制品
    /// 本直播间一律不售).
    after_far: WordList,
    /// Denials of a rumour after the hit, which deny a slander too (…是谣言, …纯属造谣,
    /// …这类评论会被删).
    rumour: WordList,
    /// Reports: 举报, 有人在, 管管.
    report: WordList,
    /// Questions about the thing rather than requests for it.
    ask: WordList,
    /// Requests (有没有, 求, 哪里买): a question that asks *for* the thing.
    request_before: WordList,
    request_after: WordList,
    /// Words that cite a term as a word or a rule.
    meta_before: WordList,
    meta_after: WordList,
}

/// A word list, normalized like the text, searched with one automaton: the lists run
/// for every hit, and a substring search per word costs more than the matching.
struct WordList(AhoCorasick);

impl WordList {
    /// Whether some word occurs in `s`.
    fn contains(&self, s: &str) -> bool {
        self.0.is_match(s)
    }

    /// The byte length of the longest word `s` starts with.
    fn prefix(&self, s: &str) -> Option<usize> {
        self.0
            .find(Input::new(s).anchored(Anchored::Yes))
            .map(|m| m.end())
    }

    /// The leftmost occurrence of a word in `s` (the longest one starting there).
    fn first(&self, s: &str) -> Option<aho_corasick::Match> {
        self.0.find(s)
    }

    /// Occurrences in `s`, leftmost-longest, not overlapping.
    fn find_iter<'a>(&'a self, s: &'a str) -> impl Iterator<Item = aho_corasick::Match> + 'a {
        self.0.find_iter(s)
    }
}

fn words(list: &[&str]) -> WordList {
    let normalized: Vec<String> = list.iter().map(|w| normalize(w)).collect();
    WordList(
        AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(StartKind::Both)
            .build(&normalized)
            .expect("context word lists are small"),
    )
}

fn lexicon() -> &'static Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| Lexicon {
        plain: words(&[
            "不必",
            "无需",
            "无须",
            "用不着",
            "根本不",
            "根本没",
            "压根不",
            "压根没",
            "一律不",
            "不曾",
            "未曾",
            "并未",
            "绝非",
            "并不是",
            "决不会",
            "绝对没有",
            "从来都不",
            "再也不",
            "不",
            "没",
            "没有",
            "别",
            "不要",
            "不用",
            "从不",
            "从来不",
            "从没",
            "从来没",
            "从未",
            "绝不",
            "决不",
            "绝对不",
            "并不",
            "并非",
            "并没有",
            "不是",
            "不会",
            "不能",
            "不敢",
            "不可",
            "不再",
            "毫无",
            "并无",
            "无任何",
            "未",
            "非",
            "哪有",
            "哪来的",
        ]),
        strong: words(&[
            "谢绝",
            "拒收",
            "严防",
            "慎防",
            "切莫",
            "识破",
            "别再",
            "不要再",
            "别相信",
            "别听",
            "不要听",
            "别理",
            "不要理",
            "别加",
            "不要加",
            "别点",
            "不要点",
            "别扫",
            "不要扫",
            "禁止",
            "严禁",
            "杜绝",
            "拒绝",
            "谨防",
            "防止",
            "切勿",
            "请勿",
            "勿",
            "不要相信",
            "不要信",
            "别信",
            "不要轻信",
            "别轻信",
            "千万别",
            "千万不要",
            "不得",
            "不准",
            "不许",
            "不允许",
            "不可以",
            "远离",
            "抵制",
            "打击",
            "警惕",
            "小心",
            "当心",
            "提防",
            "反对",
            "不接受",
            "不支持",
            "不提供",
            "不参与",
            "严厉打击",
            "防范",
            "请不要",
            "请别",
            "防骗",
            "防诈",
            "反诈",
        ]),
        pseudo: words(&[
            "可不是嘛",
            "可不是吗",
            "不是我吹",
            "不是吹",
            "不吹不黑",
            "不得不说",
            "不得不",
            "不夸张",
            "毫不夸张",
            "不骗你",
            "不骗人",
            "不瞒你说",
            "不瞒大家",
            "不仅",
            "不但",
            "不只",
            "不止",
            "不光",
            "无论",
            "不管",
            "没想到",
            "没错",
            "不错",
            "不愧",
            "不要太",
            "谁不",
            "哪个不",
            "不输",
            "不比",
            "不亚于",
            "别提",
            "别看",
            "别说了",
            "不用说",
            "不用怀疑",
            "不要怀疑",
            "别怀疑",
            "不用犹豫",
            "不要犹豫",
            "别犹豫",
            "不要错过",
            "别错过",
            "不容错过",
            "不用等",
            "别等",
            "不要等",
            "没得说",
            "没话说",
            "不然",
            "要不",
            "不如",
            "不停",
            "不断",
            "不少",
            "不多",
            "不贵",
            "不得了",
            "了不起",
            "不怕",
            "别怕",
            "难道不",
            "不就是",
            "不正是",
            "没人比",
            "没有比",
            "非常",
            "并非只",
            "无敌",
            "不过",
            "不一定",
            // V不了的: those who cannot (拍不了的复制淘口令).
            "不了的",
            // A deadline, not a denial: 再不拍马上涨价了, 还不下单明天就恢复原价.
            "再不拍",
            "再不抢",
            "再不买",
            "再不下单",
            "再不冲",
            "再不入手",
            "还不拍",
            "还不抢",
            "还不买",
            "还不下单",
            "还不冲",
            "现在不拍",
            "现在不买",
            "现在不抢",
            // Unsure, not forbidden (尺码拿不准的 私聊我).
            "拿不准",
            "说不准",
            "吃不准",
            "看不准",
        ]),
        neutral: words(&[
            "别的",
            "别家",
            "别人",
            "别处",
            "区别",
            "分别",
            "特别",
            "级别",
            "类别",
            "告别",
            "性别",
            "识别",
            "鉴别",
            "辨别",
            "差别",
            "个别",
            "不同",
            "不一样",
            "有没有",
            "有没",
            "是不是",
            "卖不卖",
            "能不能",
            "要不要",
            "会不会",
            "可不可以",
            "行不行",
            "算不算",
            "好不好",
            "对不对",
            "有不有",
            "真不真",
            "没有吗",
        ]),
        carriers: words(&[
            "走",
            // 也不会拉大家进群: whom the host would have pulled in.
            "拉",
            "大家",
            "你们",
            "指望",
            "它",
            "售卖",
            "出售",
            "里",
            "直播间里",
            "点那种",
            "接受",
            "相信任何",
            "自称",
            "听",
            "轻信",
            "理会",
            "搭理",
            "回复",
            "点开",
            "打开",
            "扫",
            "加入",
            "进",
            "关注",
            "下载",
            "转发",
            "联系",
            "私信",
            "沾",
            "玩",
            "吃",
            "喝",
            "抹",
            "涂",
            "戴",
            "穿",
            "拍",
            "下单",
            "付款",
            "支付",
            "转",
            "汇",
            "打钱",
            "交易",
            "购买",
            "代",
            "帮",
            "替",
            "向",
            "往",
            "与",
            "到",
            "从",
            "为",
            "被",
            "让",
            "叫",
            "整",
            "干",
            "售",
            "推",
            "推销",
            "推荐",
            "吹",
            "宣称",
            "声称",
            "号称",
            "含有",
            "放",
            "一样",
            "靠",
            "任何形式的",
            "所有",
            "这样",
            "那样",
            "这个",
            "那个",
            "别的",
            "其他",
            "网上",
            "外面",
            "陌生",
            "私下里",
            "去做",
            "是",
            "会",
            "能",
            "敢",
            "用",
            "搞",
            "做",
            "卖",
            "有",
            "说",
            "信",
            "要",
            "含",
            "加",
            "刷",
            "买",
            "发",
            "弄",
            "碰",
            "讲",
            "提",
            "去",
            "给",
            "在",
            "过",
            "的",
            "了",
            "这",
            "那",
            "这种",
            "那种",
            "这些",
            "那些",
            "任何",
            "什么",
            "所谓",
            "所谓的",
            "私下",
            "1切",
            "乱",
            "随便",
            "轻易",
            "参与",
            "进行",
            "存在",
            "提供",
            "宣传",
            "承诺",
            "保证",
            "添加",
            "使用",
            "涉及",
            "接受",
            "支持",
            "相信",
            "点",
            "点击",
            "跟",
            "和",
            "找",
            "再",
            "也",
            "都",
            "就",
            "我们",
            "咱们",
            "本店",
            "我家",
            "咱家",
            "主播",
            "大家",
            "你们",
            "他们",
            "平台",
            "直播间",
            "任何人",
            "陌生人",
            "别人",
            "个人",
            "可以",
            "需要",
            "用过",
            "啥",
            "看",
            "具有",
            "具备",
            "疾病",
            "开设",
            "开通",
            "设立",
            "喊",
            "发布",
            "出现",
            "还",
            "请",
            "报",
            "要求",
            "您",
            "你",
            "老",
            "总",
            "总是",
            "老是",
            "公屏",
            "评论区",
            "弹幕",
            "群里",
        ]),
        breakers: words(&[
            "但", "但是", "可是", "不过", "而是", "错过", "犹豫", "怀疑", "担心", "后悔", "纠结",
            "考虑", "等", "比",
        ]),
        after: words(&[
            "不干",
            "不会做",
            "不会干",
            "都没有",
            "一件都没有",
            "也不回",
            "再也不",
            "冒充",
            "都是冒充",
            "不能碰",
            "别碰",
            "不要碰",
            "碰不得",
            "没碰",
            "别乱买",
            "别买",
            "不要买",
            "不给寄",
            "留个心眼",
            "留心眼",
            "多半是假",
            "是谣言",
            "谣言",
            "不实",
            "造谣",
            "胡说",
            "瞎说",
            "乱说",
            "不是真的",
            "子虚乌有",
            "纯属虚构",
            "没这回事",
            "是骗人的",
            "都是骗人的",
            "是诈骗",
            "千万别信",
            "不要信",
            "违法",
            "违规",
            "骗局",
            "骗人",
            "诈骗",
            "骗子",
            "是假的",
            "都是假的",
            "不可信",
            "不能信",
            "别信",
            "不靠谱",
            "不存在",
            "从来不",
            "从不",
            "从来没",
            "从没",
            "绝不",
            "决不",
            "不做",
            "不搞",
            "不弄",
            "不碰",
            "不让",
            "不允许",
            "禁止",
            "不能说",
            "不让说",
            "不得",
            "有风险",
            "会被封",
            "封号",
            "被罚",
            "不可以",
            "不卖",
            "不敢",
            "踢出去",
            "不是我们",
            "都不是",
            // A platform's warning: the thing is named to say it is unsafe.
            "不受保护",
            "不受平台保护",
            "没有保障",
            "无保障",
            "忽悠",
            "会被删",
            "会被踢",
            "会被禁",
            "一律不",
            "不售",
            "不能在",
            "早就禁",
            "都禁了",
            "别去",
            "都别",
            "不要去",
            // A victim's account, a correction, a lapsed title.
            "骗了",
            "骗过",
            "被骗",
            "犯法",
            "口误",
            "说错了",
            "取消了",
            "早就取消",
        ]),
        after_far: words(&[
            "一律不",
            "均不",
            "概不",
            "不售",
            "禁售",
            "严禁",
            "不得售",
            "都不卖",
            "一概不",
        ]),
        rumour: words(&[
            "是谣言",
            "谣言",
            "不实",
            "造谣",
            "纯属造谣",
            "子虚乌有",
            "纯属虚构",
            "没这回事",
            "不是真的",
            // A moderation notice takes back a slander as much as a denial does.
            "会被删",
            "会被踢",
            "会被禁",
        ]),
        report: words(&[
            "有人问",
            "有人私信",
            "有粉丝问",
            // A host passing on what viewers asked (有宝宝问能不能加vx).
            "有宝宝问",
            "有家人问",
            "有姐妹问",
            "有观众问",
            "好多人问",
            "很多人问",
            "举报",
            "有人在",
            "有人发",
            "有人说",
            "评论区有人",
            "公屏有人",
            // Not 管管: repeats collapse, and 管 alone is in 管够 and 管用.
            "管1下",
            "管1管",
            "快管",
            "房管",
            "踢了",
            "封了他",
            "拉黑",
            "踢出去",
            "收到短信",
            "短信说",
            // Someone else's claim described (刷那种说能根治糖尿病的视频).
            "那种说",
            "视频说",
            "视频里说",
            "广告说",
            "广告里说",
            "接到电话",
            "打电话说",
            "发短信说",
        ]),
        ask: words(&[
            "是不是",
            "算不算",
            "是否",
            "真的假的",
            "真的吗",
            "是真的",
            "靠谱吗",
            "能说吗",
            "能卖吗",
            "合法吗",
            "违规吗",
            "可信吗",
            "不会是",
            "还是",
            "好像",
            "像是",
            "感觉像",
            "看着像",
            // What an abbreviation means (jwx是啥意思) is a question about the word.
            "啥意思",
            "什么意思",
            "缩写",
            "什么梗",
            "啥梗",
            "代表什么",
            "代表啥",
        ]),
        request_before: words(&[
            "有没有",
            "有无",
            "求",
            "收",
            "哪里买",
            "哪有卖",
            "哪里有",
            "在哪买",
            "卖不卖",
            "能不能卖",
            "能不能加",
            "有人接",
            "有没有人接",
            "谁接",
            "可以加",
            "能加",
            "方便加",
            "加个",
            "给个",
            "发个",
            "留个",
            "来个",
            "来点",
            "想要",
            "想买",
            "要买",
            "买点",
            "怎么买",
            "哪能买",
        ]),
        request_after: words(&[
            "卖吗",
            "有吗",
            "多少钱",
            "怎么卖",
            "怎么买",
            "哪里买",
            "在哪买",
            "还有",
            "有货",
            "有卖",
            "有人做",
            "有人要",
            "有人收",
            "有人买",
            "有要的",
            "要的吗",
            "来吗",
            "做吗",
            "接吗",
        ]),
        meta_before: words(&[
            "不能说",
            "不让说",
            "不准说",
            "不许说",
            "别说",
            "不得使用",
            "禁用",
            "违禁词",
            "敏感词",
            "禁用语",
            "极限词",
            "规定",
            "规则",
            "口播不得",
            "不能用",
            "不能写",
            "不得出现",
        ]),
        meta_after: words(&[
            "这种话",
            "这种词",
            "这个词",
            "这类词",
            "这种说法",
            "这种字眼",
            "等用语",
            "等字眼",
            "等词",
            "字样",
            "之类的话",
            "之类的词",
            "这几个字",
            "这种用语",
            "是违禁词",
            "是极限词",
            "是敏感词",
            "这类评论",
            "这种评论",
            "这样的评论",
        ]),
    })
}

/// Force the word lists to be built now.
pub fn warm_up() {
    let _ = lexicon();
}

/// Stands for a separator inside [`Around::before`].
const SEPARATOR: char = '\u{2}';

/// How far (in normalized characters) the stage looks either side of a hit.
const REACH: usize = 16;

/// Where a hit sits: its clause and the text around it, in one event.
struct Around<'a> {
    /// Normalized text of the clause before the hit, separators marked.
    before: String,
    /// Normalized text of the clause after the hit.
    after: &'a str,
    /// The original text of the whole clause, with the punctuation that ends it.
    clause_src: &'a str,
    /// The original text of the event after the clause.
    rest_src: &'a str,
    /// The hit's bytes in the original text, relative to `clause_src`.
    hit_src: std::ops::Range<usize>,
}

/// Mark the context of a hit of `category` over normalized characters `start..end` of
/// `text`, whose segment `current` is the event with original text `src`.
pub fn mark(
    text: &NormText,
    current: usize,
    start: usize,
    end: usize,
    category: Category,
    role: Role,
    src: &str,
) -> ContextSet {
    let mut set = ContextSet::default();
    let Some(a) = around(text, current, start, end, src) else {
        return set;
    };
    let l = lexicon();
    // Distrust after slander is the slander's own voice (他们家都是假货别信), not a
    // denial of it: only a negator before it denies a slander.
    let denied_after = if category == Category::Slander {
        a.after_starts_any(&l.rumour, 8)
    } else if category == Category::PriceFraud && a.after.contains("再也") {
        // 最后一单…再也不返场 is the pressure itself, not a denial of it.
        false
    } else if category == Category::FalsePublicity && claims_it_lasts(a.after) {
        // 斑直接没了 以后再也不长: "never again" after an outcome extends the claim.
        false
    } else {
        a.after_starts_any(&l.after, 8) || a.after_starts_any(&l.after_far, REACH)
    };
    let denied_after =
        denied_after || (category != Category::Slander && called_exaggeration(a.after));
    if negated_before(l, &a.before)
        || denies_noun_phrase(&a.before)
        || denied_after
        || denied_next(&a)
    {
        set.insert(Context::Negated);
    }
    let viewer = role == Role::Viewer;
    if l.report.contains(&a.before)
        || a.after_starts_any(&l.report, 10)
        || (viewer && reports_a_scam(src))
    {
        set.insert(Context::Reported);
    }
    if quoted(l, &a) {
        set.insert(Context::Quoted);
    }
    let claim = matches!(
        category,
        Category::FalsePublicity | Category::PriceFraud | Category::Slander
    );
    if viewer && (questioned(l, &a) || (claim && doubts(src))) {
        set.insert(Context::Questioned);
    }
    set
}

/// A question answered at once with a denial (`犀牛角？没有没有，这是牦牛角`): the
/// clause of the hit ends in a question mark and the next one begins by saying no.
/// `没有的话` is a condition, not an answer.
fn denied_next(a: &Around<'_>) -> bool {
    if !a.clause_src.trim_end().ends_with(['？', '?']) {
        return false;
    }
    let next = a.rest_src.trim_start_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "？！，。、".contains(c)
    });
    ["没有", "没", "不是", "并没有", "不卖", "没卖", "不不"]
        .iter()
        .any(|w| next.starts_with(w))
        && !["没有的话", "没的话", "不是的话"]
            .iter()
            .any(|w| next.starts_with(w))
}

/// The message's original text without what trails its last word (punctuation,
/// emoji, spaces).
fn last_words(src: &str) -> &str {
    src.trim_end_matches(|c: char| !c.is_alphanumeric())
}

/// A viewer who doubts a claim at the end of the message (`真有那么神？一周瘦十斤我不信`,
/// `…是真的吗`) is asking about it, whatever clause it stands in. Only claims
/// (efficacy, prices, slander) can be doubted: an offer with 真的假的 after it is
/// still an offer.
fn doubts(src: &str) -> bool {
    // Suffixes: 不信 covers 我不信 and 我才不信, 真的吗 covers 是真的吗.
    const DOUBTS: &[&str] = &[
        "不信",
        "真的吗",
        "真的假的",
        "靠谱吗",
        "可信吗",
        "能信吗",
        "吹的吧",
        "骗人的吧",
        "谁信啊",
        "谁信",
        "信你才怪",
    ];
    let end = last_words(src);
    DOUBTS.iter().any(|w| end.ends_with(w))
}

/// A viewer telling what someone else sent them and asking whether it is true
/// (`有人私信说是你们客服，让我扫码退款，是真的吗`): a report of a scam, not the scam.
fn reports_a_scam(src: &str) -> bool {
    const OPENERS: &[&str] = &[
        "有人私信",
        "收到私信",
        "刚才有人",
        "有人说",
        "有个人",
        "有人让我",
        "有人叫我",
        "有人加我",
        "有人打电话",
        "收到短信",
        "收到一条",
    ];
    let start = src.trim_start();
    let end = last_words(src);
    OPENERS.iter().any(|w| start.starts_with(w))
        && (src.trim_end().ends_with(['？', '?'])
            || ["吗", "真的假的", "是骗子吧", "是骗局吧", "骗子吧"]
                .iter()
                .any(|w| end.ends_with(w)))
}

fn around<'a>(
    text: &'a NormText,
    current: usize,
    start: usize,
    end: usize,
    src: &'a str,
) -> Option<Around<'a>> {
    let chars = text.chars();
    let seg_start = chars.iter().position(|c| c.seg as usize == current)?;
    let first = start.max(seg_start);
    if first >= end {
        return None;
    }
    // The clause, at most REACH characters either side: context words sit next to
    // what they modify, and a bound keeps a long message of many hits linear.
    let mut cs = first;
    while cs > seg_start && chars[cs].gap != Gap::Hard && first - cs < REACH {
        cs -= 1;
    }
    let mut ce = end;
    while ce < chars.len() && chars[ce].gap != Gap::Hard && ce - end < REACH {
        ce += 1;
    }
    let s = text.as_str();
    // A space before the hit is kept as a mark: a plain negator does not reach across
    // it (能开专票不 票点多少 asks a question, then names the thing).
    // Only a space counts: quotation marks and other symbols are how a term is cited.
    let spaced = |i: usize| {
        chars[i].gap == Gap::Soft
            && src
                .get(chars[i - 1].src_end as usize..chars[i].src_start as usize)
                .is_some_and(|between| between.contains(char::is_whitespace))
    };
    let mut before = String::new();
    if start >= seg_start {
        for i in cs..start {
            if i > cs && spaced(i) {
                before.push(SEPARATOR);
            }
            before.push(text.char_at(i));
        }
        if start > cs && spaced(start) {
            before.push(SEPARATOR);
        }
    }
    let after = &s[text.byte_of(end)..text.byte_of(ce)];
    let src_from = (chars[cs].src_start as usize).min(src.len());
    let src_to = if ce < chars.len() {
        chars[ce].src_start as usize
    } else {
        src.len()
    }
    .min(src.len());
    let hit_from = chars[first..end]
        .iter()
        .map(|c| c.src_start as usize)
        .min()
        .unwrap_or(src_from);
    let hit_to = chars[first..end]
        .iter()
        .map(|c| c.src_end as usize)
        .max()
        .unwrap_or(src_to);
    let clause_src = src.get(src_from..src_to.max(src_from)).unwrap_or("");
    Some(Around {
        before,
        after,
        clause_src,
        rest_src: src.get(src_to..).unwrap_or(""),
        hit_src: hit_from.saturating_sub(src_from)..hit_to.saturating_sub(src_from),
    })
}

impl Around<'_> {
    /// Whether one of `words` starts within `reach` characters after the hit.
    fn after_starts_any(&self, words: &WordList, reach: usize) -> bool {
        words
            .first(self.after)
            .is_some_and(|m| self.after[..m.start()].chars().count() <= reach)
    }
}

/// Whether a negator in `before` reaches the hit (which starts right after `before`).
fn negated_before(l: &Lexicon, before: &str) -> bool {
    if before.is_empty() {
        return false;
    }
    // Blank out pseudo-triggers first, so that 不是我吹 never negates and stops what
    // stands before it; and neutral words, which a negation reaches through (我不会说
    // 别家是假货).
    // Both marks are one byte and the words are whole characters, so masking keeps
    // character boundaries where they were.
    let mut masked: Vec<char> = before.chars().collect();
    for (list, mark) in [(&l.pseudo, '\u{0}'), (&l.neutral, '是')] {
        for m in list.find_iter(before) {
            let from = before[..m.start()].chars().count();
            let len = before[m.start()..m.end()].chars().count();
            for c in &mut masked[from..from + len] {
                *c = mark;
            }
        }
    }
    let masked: String = masked.into_iter().collect();
    for (i, _) in masked.char_indices() {
        let tail = &masked[i..];
        // A strong prohibition reaches up to fourteen characters, unless a breaker stands
        // between (谨防私信里的加群链接; not 不要犹豫但是…).
        if let Some(len) = l.strong.prefix(tail) {
            let gap = &tail[len..];
            if gap.chars().count() <= 14 && !l.breakers.contains(gap) {
                return true;
            }
        }
        if let Some(len) = l.plain.prefix(tail) {
            let gap = &tail[len..];
            if gap.chars().count() <= 8 && carried(gap, &l.carriers) {
                return true;
            }
        }
    }
    false
}

/// A claim called an exaggeration or a gimmick right after it (`刮油是夸张说法`,
/// `…只是噱头`, `夸大宣传`): the speaker denies it, unless the call is itself denied
/// (`不是夸张`, `并非夸大其词`), which affirms it. Only a call counts: `效果太夸张了` is
/// the hype itself. Not for slander, whose target calling a rival's claims
/// exaggerated is the slander.
fn called_exaggeration(after: &str) -> bool {
    const CALLS: &[&str] = &[
        "是夸张",
        "是夸大",
        "是噱头",
        "夸张说法",
        "夸张的说法",
        "夸大其词",
        "夸大宣传",
    ];
    const DENIED: &[&str] = &[
        "不", "没", "没有", "毫不", "不是", "并不", "并非", "绝非", "无",
    ];
    let near: String = after.chars().take(8).collect();
    CALLS.iter().any(|call| {
        near.match_indices(call).any(|(at, _)| {
            let before = &near[..at];
            !DENIED.iter().any(|d| before.ends_with(d))
        })
    })
}

/// Negators of a noun phrase (`不是什么一比一高仿`, `没有任何第三方授权涨粉`): they deny
/// the thing named a few words on, through the adjectives before it, which a plain
/// negator does not reach through.
const NOUN_PHRASE_NEGATORS: &[&str] = &[
    "不是什么",
    "也不是什么",
    "又不是什么",
    "并不是什么",
    "不是啥",
    "不是那种",
    "不是所谓的",
    "没有所谓的",
    "没有任何",
    "并没有任何",
    "从没有任何",
];

/// Whether a noun-phrase negator in `before` reaches the hit: at most six characters
/// between, in one stretch of words (no space), and none of them starting a predicate
/// of its own (`没有任何副作用还能减肥`: 还 does; `不是什么大牌 是顶级高仿`: the space
/// and 是 do). An adjective of kind denies the kind, not the thing (`不是那种普通的减肥茶`
/// is a slimming tea, an unusual one): a modifier with 的, or 普通 and its like, stops
/// the reach.
fn denies_noun_phrase(before: &str) -> bool {
    const STOPS: &[char] = &[
        SEPARATOR, '是', '还', '也', '又', '就', '能', '可', '都', '但', '而', '却', '才', '会',
        '的',
    ];
    const KINDS: &[&str] = &["普通", "一般", "寻常", "平常", "传统", "常见", "简单"];
    NOUN_PHRASE_NEGATORS.iter().any(|n| {
        before.rfind(n).is_some_and(|at| {
            let gap = &before[at + n.len()..];
            gap.chars().count() <= 6
                && !gap.contains(STOPS)
                && !KINDS.iter().any(|k| gap.contains(k))
        })
    })
}

/// Whether `gap` is made only of carrier words (or is empty).
fn carried(gap: &str, carriers: &WordList) -> bool {
    let mut rest = gap;
    while !rest.is_empty() {
        match carriers.prefix(rest) {
            Some(len) if len > 0 => rest = &rest[len..],
            _ => return false,
        }
    }
    true
}

fn quoted(l: &Lexicon, a: &Around<'_>) -> bool {
    let meta = l.meta_before.contains(&a.before) || a.after_starts_any(&l.meta_after, 3);
    if meta {
        return true;
    }
    // Inside quotation marks and followed by a word about words.
    let src = a.clause_src;
    let (Some(pre), Some(post)) = (src.get(..a.hit_src.start), src.get(a.hit_src.end..)) else {
        return false;
    };
    let opens = ['“', '「', '『', '"', '‘', '\''];
    let closes = ['”', '」', '』', '"', '’', '\''];
    pre.contains(opens) && post.contains(closes) && l.meta_after.contains(a.after)
}

/// Whether `after` (the clause after an efficacy hit) says the outcome lasts: 再也不
/// followed by the trouble coming back (长, 犯, 复发, 反弹, 疼, 痒, 掉, 胖). 刷单再也不干了
/// refuses; 斑没了 以后再也不长 promises.
fn claims_it_lasts(after: &str) -> bool {
    let head: String = after.chars().take(10).collect();
    head.find("再也不").is_some_and(|i| {
        head[i + "再也不".len()..]
            .starts_with(['长', '犯', '复', '反', '疼', '痛', '痒', '掉', '胖', '冒'])
    })
}

/// `谁买谁后悔` (whoever buys it regrets it) warns; it does not ask.
fn rhetorical_who(s: &str) -> bool {
    let cs: Vec<char> = s.chars().collect();
    cs.windows(3).any(|w| w[0] == '谁' && w[2] == '谁')
        || cs.windows(4).any(|w| w[0] == '谁' && w[3] == '谁')
}

fn questioned(l: &Lexicon, a: &Around<'_>) -> bool {
    let src = a.clause_src;
    let after_hit = src.get(a.hit_src.end..).unwrap_or("");
    let bare = src.trim_end_matches(|c: char| !c.is_alphanumeric());
    // Not 呢: 挂着呢 states.
    // The words after the hit up to the next space: `这是复刻款吧 logo一样` guesses
    // (a 吧 after 是), `私聊吧 发你图` suggests.
    let chunk = after_hit
        .split(char::is_whitespace)
        .next()
        .unwrap_or("")
        .trim_end_matches(|c: char| !c.is_alphanumeric());
    // 太神了吧 and 也太好用了吧 exclaim, …转账给我吧 asks for something; they do not
    // guess.
    let exclaims = (bare.ends_with("了吧") && (bare.contains('太') || bare.contains("真的")))
        || bare.ends_with("我吧");
    // 能喝不, 好用不, 管用不 ask; 我才不, 一点都不 refuse.
    let v_not = bare.strip_suffix('不').is_some_and(|head| {
        let tail: String = head.chars().rev().take(3).collect();
        ['能', '会', '好', '管', '行', '可']
            .iter()
            .any(|&c| tail.contains(c))
    });
    let ends_question = (bare.ends_with(['吗', '嗎', '吧', '么', '麼', '没']) && !exclaims)
        || v_not
        || chunk.ends_with(['吗', '嗎', '么', '麼'])
        || (chunk.ends_with('吧') && a.before.contains('是'))
        || after_hit.contains(['？', '?', '吗', '嗎'])
        || src.trim_end().ends_with(['？', '?'])
        || (after_hit.contains('谁') && !rhetorical_who(after_hit));
    let asks = l.ask.contains(&a.before) || l.ask.contains(a.after);
    if !(ends_question || asks) {
        return false;
    }
    // Whether it may be sold here is a question about the rules (电子烟能在直播间卖吗).
    let rule_question = [
        "能在",
        "能卖",
        "可以在",
        "可以卖",
        "能不能在",
        "能不能卖",
        "允许",
    ]
    .iter()
    .any(|w| a.after.starts_with(w));
    if rule_question && ends_question {
        return true;
    }
    // Asking *for* the thing is a request, not a question about it. A hit that starts
    // with 加 completes a request word itself (主播可以加个微信吗: 可以 + 加微信 reads
    // 可以加), so the words are looked for with that 加 put back.
    let asks_to_add = a
        .clause_src
        .get(a.hit_src.clone())
        .is_some_and(|hit| hit.starts_with('加'))
        && l.request_before.contains(&format!("{}加", a.before));
    let request = asks_to_add
        || l.request_before.contains(&a.before)
        || a.before
            .ends_with(['有', '卖', '要', '买', '收', '求', '找', '办'])
        || a.before.starts_with(['卖', '买', '收', '求'])
        || a.before == "有人"
        || a.before.starts_with("有人来")
        || (a.before.starts_with('有') && !a.before.starts_with("有人"))
        || l.request_after.contains(a.after);
    !request || asks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context of `term`, a hit of `category` in `text` said by `role`.
    fn ctx_of(text: &str, term: &str, category: Category, role: Role) -> ContextSet {
        let nt = NormText::normalized(text);
        let t = normalize(term);
        let at = nt.as_str().find(&t).expect("term in text");
        let start = nt.char_index(at);
        let end = nt.char_index(at + t.len());
        mark(&nt, 0, start, end, category, role, text)
    }

    fn ctx(text: &str, term: &str, role: Role) -> ContextSet {
        ctx_of(text, term, Category::FalsePublicity, role)
    }

    #[test]
    fn negation_and_its_pseudo_triggers() {
        let neg = |t, term| ctx(t, term, Role::Host).contains(Context::Negated);
        assert!(neg("我们家从来不刷单", "刷单"));
        assert!(neg("本店不做私下交易", "私下交易"));
        assert!(neg("不要相信私信里的加群链接", "加群"));
        assert!(neg("平台规则禁止站外交易，谨防私下转账", "转账"));
        assert!(neg("刷单都是骗局", "刷单"));
        assert!(!neg("不是我吹这是全网最低价", "全网最低价"));
        assert!(!neg("不要错过全网最低价", "全网最低价"));
        assert!(!neg("别家都是假的", "别家都是假的"));
        assert!(!neg("不得不说这款销量第一", "销量第一"));
        assert!(!neg("今天全网最低价，不信你去比", "全网最低价"));
        // A negator reaches through a verb of asking or a place: 不请, 别老说, 别在公屏发.
        assert!(neg("我们不请水军的", "水军"));
        assert!(neg("楼上别老说别家都是假的", "别家都是假的"));
        assert!(neg("别在公屏发vx了", "vx"));
        // …and a denial may follow the hit.
        assert!(neg("电子烟不能在直播间买的", "电子烟"));
        assert!(neg("谁叫你进群领红包都别去", "进群"));
        // A blanket refusal reaches back over its clause.
        assert!(neg("犀角这类野生动物制品本直播间一律不售", "犀角"));
        // V不了的 is those who cannot, not a negation.
        assert!(!neg("拍不了的复制淘口令", "淘口令"));
        assert!(!neg("再不拍马上涨价了", "马上涨价"));
        // A noun phrase's negator reaches through its adjectives, not into a new
        // predicate.
        assert!(neg("不是什么一比一高仿 是正品", "高仿"));
        assert!(neg("我们家衣服不是什么大牌高仿", "高仿"));
        assert!(neg("没有任何第三方授权涨粉", "涨粉"));
        assert!(!neg("没有任何副作用还能减肥", "减肥"));
        assert!(!neg("不是什么大牌 是顶级高仿", "高仿"));
        assert!(
            !neg("这不是那种普通的减肥茶", "减肥"),
            "a kind of slimming tea"
        );
        assert!(!neg("不是什么普通减肥茶", "减肥"));
        // A claim called an exaggeration is denied; one said to be no exaggeration is
        // affirmed.
        assert!(neg("这个茶不是减肥的 刮油是夸张说法 别当真", "刮油"));
        assert!(neg("什么全网最低 都是噱头", "全网最低"));
        assert!(!neg("刮油效果不是夸张 真的好用", "刮油"));
        assert!(!neg("刮油毫不夸张", "刮油"));
        assert!(!neg("这个减肥茶效果太夸张了", "减肥"), "the hype itself");
        assert!(neg("说什么减肥 纯属夸大宣传", "减肥"));
        let slander = |t, term| ctx_of(t, term, Category::Slander, Role::Operator);
        assert!(slander("说别家是三无产品这类评论会被删哦", "三无产品").contains(Context::Negated));
        assert!(!slander("别家都是三无产品 别买", "三无产品").contains(Context::Negated));
    }

    #[test]
    fn never_again_after_an_outcome_extends_the_claim() {
        let fp = |t, term| {
            ctx_of(t, term, Category::FalsePublicity, Role::Host).contains(Context::Negated)
        };
        assert!(!fp("面霜抹一周 斑直接没了 以后再也不长", "斑直接没了"));
        assert!(!fp("失眠好了 再也不犯", "失眠好了"));
        assert!(fp("减肥茶再也不卖了", "减肥茶"));
    }

    #[test]
    fn questions_are_about_not_for() {
        let q = |t, term| ctx(t, term, Role::Viewer).contains(Context::Questioned);
        assert!(q("这个是处方药吗", "处方药"));
        assert!(q("评论区是不是请的水军？", "水军"));
        assert!(q("是你们自己人刷单吧", "刷单"));
        assert!(!q("有没有电子烟", "电子烟"));
        assert!(!q("有电子烟吗", "电子烟"));
        assert!(!q("卖冰毒吗", "冰毒"));
        assert!(!q("有人要摇头丸吗", "摇头丸"));
        assert!(q("你们卖的这个是处方药吗", "处方药"));
        // A question may end at a space, before the rest of the message.
        assert!(q("这是复刻款吧 logo一模一样", "复刻款"));
        assert!(!q("私聊吧 发你图", "私聊"));
        // 谁买谁后悔 warns; 有人接…吗 asks for the service.
        assert!(!q("那家的奶粉垃圾 谁买谁后悔", "垃圾"));
        assert!(!q("有人接控评的活吗", "控评"));
        assert!(!q("抹了十来天冒了一层小绒毛 太神了吧", "冒了一层小绒毛"));
        assert!(!q("姐直接转账给我吧", "转账"));
        // Asking to connect is a request: the hit's 加 completes 可以加.
        assert!(!q("主播可以加微信吗 想拿点货", "加微信"));
        assert!(!q("能不能加微信", "加微信"));
        assert!(q("加微信是不是违规的", "加微信"));
        // What an abbreviation means is asked about the word.
        assert!(q("弹幕里一直有人刷加微信是啥意思啊", "加微信"));
        assert!(q("私聊什么意思 新来的", "私聊"));
        assert!(!ctx("这个是处方药吗", "处方药", Role::Host).contains(Context::Questioned));
        // V不 asks; a rule question is no request; a doubt at the end covers a claim.
        assert!(q("这个减肥茶孕妇能喝不", "减肥"));
        assert!(!q("我才不减肥", "减肥"));
        assert!(q("电子烟能在直播间卖吗？我记得不行", "电子烟"));
        assert!(q("真有那么神？一周瘦十斤我不信", "一周瘦十斤"));
        let offer = |t, term| {
            ctx_of(t, term, Category::Diversion, Role::Viewer).contains(Context::Questioned)
        };
        assert!(
            !offer("加我微信发你图，你们不信", "微信"),
            "an offer is not doubted"
        );
        assert!(!q("b弹 能打穿易拉罐那种 有卖吗", "b弹"), "asks for it");
        assert!(!q("能办假证吗 急用", "假证"), "asks for the service");
    }

    #[test]
    fn answers_and_scam_reports() {
        let c = |t, term, category| ctx_of(t, term, category, Role::Viewer);
        assert!(
            c(
                "犀牛角？没有没有，这是牦牛角的梳子",
                "犀牛角",
                Category::ProhibitedProduct
            )
            .contains(Context::Negated)
        );
        assert!(
            !c(
                "有犀牛角吗？没有的话我走了",
                "犀牛角",
                Category::ProhibitedProduct
            )
            .contains(Context::Negated),
            "a condition is no answer"
        );
        assert!(
            c(
                "有人私信说是你们客服，让我扫码退款，是真的吗",
                "扫码",
                Category::Diversion
            )
            .contains(Context::Reported)
        );
        assert!(!c("扫码加我 有福利", "扫码", Category::Diversion).contains(Context::Reported));
    }

    #[test]
    fn quotes_and_reports() {
        assert!(
            ctx("主播不能说全网最低价这种话", "全网最低价", Role::Viewer).contains(Context::Quoted)
        );
        assert!(
            ctx("举报，评论区有人在卖电子烟", "电子烟", Role::Viewer).contains(Context::Reported)
        );
        assert!(
            ctx("我爸天天刷那种说能根治糖尿病的视频", "根治", Role::Viewer)
                .contains(Context::Reported)
        );
        // A host passing on a viewer's question.
        assert!(
            ctx("有宝宝问能不能加微信，我们不加", "加微信", Role::Host).contains(Context::Reported)
        );
        assert!(ctx("这是“全网最低价”", "全网最低价", Role::Host).is_empty());
        assert!(
            ctx("评论区有人卖电子烟 房管管一下", "电子烟", Role::Viewer)
                .contains(Context::Reported)
        );
        assert!(
            ctx("电子烟 烟弹管够", "电子烟", Role::Viewer).is_empty(),
            "管够 is plenty, not a call to the moderators"
        );
    }
}
