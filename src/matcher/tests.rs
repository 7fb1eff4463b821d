use super::*;
use crate::channel::Via;
use crate::lexicon::{Lexicon, LexiconSource};

const LEXICON: &str = r#"
category = "diversion"

[[group]]
id = "rival"
words = ["隔壁", "别家"]

[[group]]
id = "own"
words = ["我收到"]

[[group]]
id = "question"
roles = ["viewer"]
words = ["哪个", "吗"]

[[group]]
id = "fiber"
words = ["棉", "真丝"]

[[entry]]
id = "t.wechat"
term = "加微信"
variants = ["v信", "vx"]
severity = "high"
note = "n"

[[entry]]
id = "t.qq"
term = "QQ号"
variants = ["扣扣"]
severity = "high"
allow = ["扣扣子"]
note = "n"

[[entry]]
id = "t.cde"
term = "cde"
severity = "medium"
pinyin = false
note = "n"

[[entry]]
id = "t.ratio"
term = "1:1"
severity = "high"
note = "n"

[[entry]]
id = "t.percent"
term = "100%"
severity = "medium"
allow = ["100%{fiber}"]
note = "n"

[[entry]]
id = "t.fake"
term = "假货"
severity = "high"
requires = ["rival"]
unless = ["own"]
note = "n"

[[entry]]
id = "t.cheap"
term = "最便宜"
severity = "medium"
unless = ["question"]
note = "n"

[[entry]]
id = "t.best"
term = "最好"
severity = "medium"
allow = ["最好冷藏", { phrase = "最好看", roles = ["viewer"] }]
note = "n"

[[entry]]
id = "t.hostonly"
term = "销量第一"
severity = "high"
roles = ["host"]
note = "n"

[[entry]]
id = "t.lowest"
term = "最低价"
severity = "medium"
note = "n"

[[entry]]
id = "t.netlowest"
term = "全网最低价"
severity = "high"
note = "n"

[[entry]]
id = "t.private"
term = "私我"
severity = "medium"
note = "n"

[[entry]]
id = "t.phone"
pattern = '(?:^|[^0-9])(1[3-9][0-9]{9})(?:[^0-9]|$)'
variants = ["手机号"]
min_digits = 11
severity = "high"
note = "n"

[[entry]]
id = "t.slim"
pattern = '瘦[0-9十百]+斤'
anchors = ["瘦"]
severity = "high"
note = "n"
"#;

fn matcher() -> Matcher {
    let src = LexiconSource::from_files(
        "test",
        &[
            (
                "policy.toml",
                "version = \"t\"
",
            ),
            ("d.toml", LEXICON),
        ],
    );
    Matcher::build(&Lexicon::parse(&src).unwrap()).unwrap()
}

/// A matcher of one category file `toml` and an empty policy.
fn matcher_of(toml: &str) -> Matcher {
    let src = LexiconSource::from_files(
        "t",
        &[("policy.toml", "version = \"t\"\n"), ("c.toml", toml)],
    );
    Matcher::build(&Lexicon::parse(&src).unwrap()).unwrap()
}

/// (rule id, matched original text) of the hits of `text` said by `role`.
fn hits(m: &Matcher, text: &str, role: Role) -> Vec<(String, String)> {
    let nt = NormText::normalized(text);
    let mut out = Vec::new();
    m.scan(&nt, 0, role, &mut Scratch::default(), &mut out);
    out.iter()
        .map(|h| {
            let (s, e) = nt.source_span(h.start..h.end);
            (m.entry(h.entry).id.to_string(), text[s..e].to_owned())
        })
        .collect()
}

/// The channels of the hits of `text` said by a viewer.
fn vias(m: &Matcher, text: &str) -> Vec<Via> {
    let nt = NormText::normalized(text);
    let mut out = Vec::new();
    m.scan(&nt, 0, Role::Viewer, &mut Scratch::default(), &mut out);
    out.iter().map(|h| h.via).collect()
}

fn ids(m: &Matcher, text: &str, role: Role) -> Vec<String> {
    hits(m, text, role).into_iter().map(|(id, _)| id).collect()
}

#[test]
fn finds_terms_through_evasions_with_original_offsets() {
    let m = matcher();
    assert_eq!(
        hits(&m, "主播加*微*信私聊", Role::Viewer),
        [("t.wechat".to_owned(), "加*微*信".to_owned())]
    );
    assert_eq!(ids(&m, "加微微信", Role::Viewer), ["t.wechat"]);
    assert_eq!(ids(&m, "ＶＸ联系", Role::Viewer), ["t.wechat"]);
    assert_eq!(ids(&m, "扣扣扣", Role::Viewer), ["t.qq"]);
}

#[test]
fn doubled_characters_must_be_doubled_in_the_text() {
    let m = matcher();
    assert!(ids(&m, "扣款了吗", Role::Viewer).is_empty());
    assert!(ids(&m, "Q号", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "QQ号多少", Role::Viewer), ["t.qq"]);
}

#[test]
fn latin_and_digit_edges_need_a_boundary() {
    let m = matcher();
    assert!(ids(&m, "vxyz", Role::Viewer).is_empty());
    assert!(ids(&m, "avx", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "a vx", Role::Viewer), ["t.wechat"]);
    assert_eq!(ids(&m, "加vx", Role::Viewer), ["t.wechat"]);
    assert!(ids(&m, "11:11开抢", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "1:1复刻", Role::Viewer), ["t.ratio"]);
    assert!(ids(&m, "1000%", Role::Viewer).is_empty());
}

#[test]
fn a_repeated_letter_across_a_separator_ends_one_word_and_starts_the_next() {
    let m = matcher();
    // `lov vx` normalizes to `lovx` with one `v` run holding a space: `vx` starts
    // after the space, `abc` ends before it.
    assert_eq!(
        hits(&m, "lov vx", Role::Viewer),
        [("t.wechat".to_owned(), "v vx".to_owned())]
    );
    assert_eq!(ids(&m, "abc cde", Role::Viewer), ["t.cde"]);
    assert_eq!(ids(&m, "cde ef", Role::Viewer), ["t.cde"]);
    // Without a separator the run is glued as before.
    assert!(ids(&m, "lovvx", Role::Viewer).is_empty());
    assert!(ids(&m, "abccde", Role::Viewer).is_empty());
    // A doubled letter still needs its repeats, and may be typed apart.
    assert_eq!(ids(&m, "Q Q号", Role::Viewer), ["t.qq"]);
    assert_eq!(ids(&m, "aQ QQ号", Role::Viewer), ["t.qq"]);
    assert!(
        ids(&m, "aQ Q号", Role::Viewer).is_empty(),
        "the term needs the Q before the space, which is glued"
    );
}

#[test]
fn clause_punctuation_is_a_word_gap_unless_every_character_is_spaced() {
    let m = matcher();
    assert!(ids(&m, "不要自私，我们一起", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "私 我", Role::Viewer), ["t.private"]);
    assert_eq!(ids(&m, "加，微，信", Role::Viewer), ["t.wechat"]);
}

#[test]
fn clause_punctuation_is_noise_where_a_fragment_of_the_term_stands_alone() {
    let m = matcher();
    // One side of the gap, up to the next gap or the end of the text, is all term.
    assert_eq!(ids(&m, "私，我", Role::Viewer), ["t.private"]);
    assert_eq!(ids(&m, "私？我 发你链接", Role::Viewer), ["t.private"]);
    assert_eq!(ids(&m, "有事 私。我吧", Role::Viewer), ["t.private"]);
    assert_eq!(ids(&m, "姐妹们有事就私！我", Role::Viewer), ["t.private"]);
    assert_eq!(ids(&m, "加微，信", Role::Viewer), ["t.wechat"]);
    // A run with a separator inside ends a fragment: `私，我 我发你` has `我` alone.
    assert_eq!(ids(&m, "有事私，我 我发你", Role::Viewer), ["t.private"]);
    // Split inside a sentence, with both sides longer than the term: two clauses that
    // meet glue a dictionary word to an edge of the occurrence (自私); a term that
    // stands alone is a weaker reading, via `clause`.
    assert!(ids(&m, "你太自私，我们不理你", Role::Viewer).is_empty());
    assert_eq!(vias(&m, "想加微，信我吗"), [Via::Clause]);
    assert_eq!(vias(&m, "找她私，我来"), [Via::Clause]);
    // Across events, an event gap ends a fragment like any gap.
    let mut nt = NormText::new();
    nt.push_segment("都来私");
    nt.push_segment("，我");
    let mut out = Vec::new();
    m.scan(&nt, 1, Role::Viewer, &mut Scratch::default(), &mut out);
    assert_eq!(out.len(), 1);
}

#[test]
fn allow_phrases_cover_their_hits_for_their_roles() {
    let m = matcher();
    assert!(ids(&m, "是100%棉的吗", Role::Viewer).is_empty());
    assert!(ids(&m, "100%真丝", Role::Host).is_empty());
    assert_eq!(ids(&m, "100%有效", Role::Host), ["t.percent"]);
    assert!(ids(&m, "扣扣子", Role::Viewer).is_empty());
    assert!(ids(&m, "开封后最好冷藏", Role::Host).is_empty());
    assert!(ids(&m, "主播最好看", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "这款最好看", Role::Host), ["t.best"]);
}

#[test]
fn context_groups_require_and_veto() {
    let m = matcher();
    assert!(
        ids(&m, "这是假货", Role::Host).is_empty(),
        "no target, no slander"
    );
    assert_eq!(ids(&m, "隔壁卖的是假货", Role::Host), ["t.fake"]);
    assert!(ids(&m, "隔壁买的我收到假货了", Role::Viewer).is_empty());
    assert!(
        ids(&m, "哪个最便宜", Role::Viewer).is_empty(),
        "a viewer's question"
    );
    assert_eq!(
        ids(&m, "哪个最便宜？这个最便宜", Role::Host),
        ["t.cheap", "t.cheap"]
    );
}

#[test]
fn a_required_group_from_an_earlier_event_counts_for_requires_only() {
    let m = matcher();
    let scan = |text: &str, role: Role, earlier: &[u16]| {
        let nt = NormText::normalized(text);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        m.scan_in_context(&nt, 0, role, earlier, &mut scratch, &mut out);
        let ids: Vec<String> = out
            .iter()
            .map(|h| m.entry(h.entry).id.to_string())
            .collect();
        (ids, scratch.required_groups_here().to_vec())
    };
    // Group 0 is `rival`, which `t.fake` requires; `own` (1) is only an `unless`.
    assert_eq!(scan("全是假货", Role::Host, &[]), (vec![], vec![]));
    assert_eq!(
        scan("全是假货", Role::Host, &[0]),
        (vec!["t.fake".to_owned()], vec![])
    );
    // A remembered group is no veto, and the current event's own veto still holds.
    assert_eq!(
        scan("我收到假货", Role::Viewer, &[0, 1]).0,
        Vec::<String>::new()
    );
    assert_eq!(scan("这个最便宜", Role::Viewer, &[2]).0, ["t.cheap"]);
    // The event's own required words are reported for the window, unless-only ones not.
    assert_eq!(scan("隔壁直播间 我收到了", Role::Viewer, &[]).1, [0]);
    assert_eq!(scan("我收到了", Role::Viewer, &[]).1, Vec::<u16>::new());
    // An index beyond this lexicon's groups (another lexicon's) counts for nothing.
    assert_eq!(scan("全是假货", Role::Host, &[999]).0, Vec::<String>::new());
    // Words wholly in the window's earlier segments were reported with their event.
    let mut nt = NormText::new();
    nt.push_segment("隔壁");
    nt.push_segment("的");
    let mut scratch = Scratch::default();
    m.scan(&nt, 1, Role::Host, &mut scratch, &mut Vec::new());
    assert!(scratch.required_groups_here().is_empty());
}

#[test]
fn roles_filter_entries() {
    let m = matcher();
    assert!(ids(&m, "销量第一", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "销量第一", Role::Host), ["t.hostonly"]);
}

#[test]
fn a_hit_inside_a_longer_hit_of_its_category_is_dropped() {
    let m = matcher();
    assert_eq!(ids(&m, "全网最低价", Role::Host), ["t.netlowest"]);
    assert_eq!(ids(&m, "最低价", Role::Host), ["t.lowest"]);
}

#[test]
fn pinyin_spellings() {
    let m = matcher();
    assert_eq!(ids(&m, "jia微信", Role::Viewer), ["t.wechat"]);
    assert_eq!(ids(&m, "JIA WEI XIN", Role::Viewer), ["t.wechat"]);
    assert_eq!(ids(&m, "私wo", Role::Viewer), ["t.private"]);
    assert!(
        ids(&m, "siwomen", Role::Viewer).is_empty(),
        "glued to more letters"
    );
}

#[test]
fn regex_rules_report_their_group_and_respect_gates() {
    let m = matcher();
    assert_eq!(
        hits(&m, "电话138-1234-5678", Role::Viewer),
        [("t.phone".to_owned(), "138-1234-5678".to_owned())]
    );
    assert_eq!(ids(&m, "幺三八一二三四五六七八", Role::Viewer), ["t.phone"]);
    assert_eq!(
        hits(&m, "号码一三八八八八八八八八八哦", Role::Viewer),
        [("t.phone".to_owned(), "一三八八八八八八八八八".to_owned())]
    );
    assert!(
        ids(&m, "一三八八八八八八八八", Role::Viewer).is_empty(),
        "ten digits"
    );
    assert!(ids(&m, "订单号123456789012345", Role::Viewer).is_empty());
    assert_eq!(ids(&m, "吃了瘦20斤", Role::Viewer), ["t.slim"]);
    assert_eq!(ids(&m, "一个月瘦 二十 斤", Role::Viewer), ["t.slim"]);
    assert!(ids(&m, "显瘦", Role::Viewer).is_empty());
}

#[test]
fn only_hits_ending_in_the_current_segment_count() {
    let m = matcher();
    let mut nt = NormText::new();
    nt.push_segment("加");
    nt.push_segment("微");
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    m.scan(&nt, 1, Role::Viewer, &mut scratch, &mut out);
    assert!(out.is_empty());
    nt.push_segment("信");
    m.scan(&nt, 2, Role::Viewer, &mut scratch, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].start, out[0].end), (0, 3));
    // a term wholly inside the window was judged before: not reported again
    nt.push_segment("好");
    out.clear();
    m.scan(&nt, 3, Role::Viewer, &mut scratch, &mut out);
    assert!(out.is_empty());
}

#[test]
fn a_doubled_character_split_between_two_events_continues_its_run() {
    let m = matcher();
    let scan = |parts: &[&str]| {
        let mut nt = NormText::new();
        for p in parts {
            nt.push_segment(p);
        }
        let mut out = Vec::new();
        m.scan(
            &nt,
            parts.len() - 1,
            Role::Viewer,
            &mut Scratch::default(),
            &mut out,
        );
        out.iter()
            .map(|h| (m.entry(h.entry).id.to_string(), h.start, h.end))
            .collect::<Vec<_>>()
    };
    // The hit starts in the earlier event: its last character is evidence.
    assert_eq!(scan(&["有事直接扣", "扣我"]), [("t.qq".to_owned(), 4, 6)]);
    assert_eq!(scan(&["好Q", "Q号多少"]), [("t.qq".to_owned(), 1, 4)]);
    assert_eq!(scan(&["扣", "扣", "好"]), [], "wholly in the window");
    assert_eq!(scan(&["扣", "扣", "扣"]).len(), 1);
    // Only the same character, only at the boundary, and the allow list still holds.
    assert!(scan(&["有事直接扣", "款我"]).is_empty());
    assert!(scan(&["扣", "好扣"]).is_empty());
    assert!(scan(&["扣", "扣子掉了"]).is_empty());
    // The shape checks see the whole run: `lolQ` + `Q号` is glued to a letter.
    assert!(scan(&["lolQ", "Q号"]).is_empty());
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Matcher>();
}

#[test]
fn channels_switch_off_per_entry_and_per_lexicon() {
    let lexicon_with = |policy_extra: &str, entry_extra: &str| {
        let policy = format!("version = \"t\"\n{policy_extra}\n");
        let cat = format!(
            "category = \"traffic_fraud\"\n[[entry]]\nid = \"t.brush\"\nterm = \"刷单\"\nseverity = \"high\"\nnote = \"n\"\n{entry_extra}\n"
        );
        let src = LexiconSource::from_files("t", &[("policy.toml", &policy), ("tf.toml", &cat)]);
        Matcher::build(&Lexicon::parse(&src).unwrap()).unwrap()
    };
    assert_eq!(vias(&lexicon_with("", ""), "招人耍单"), [Via::Homophone]);
    assert_eq!(vias(&lexicon_with("", ""), "招sd"), [Via::Initials]);
    assert!(vias(&lexicon_with("", "homophone = false"), "招人耍单").is_empty());
    assert!(
        vias(
            &lexicon_with("[channels]\nhomophone = false", ""),
            "招人耍单"
        )
        .is_empty()
    );
    assert!(vias(&lexicon_with("[channels]\ninitials = false", ""), "招sd").is_empty());
    assert_eq!(
        vias(
            &lexicon_with("[channels]\nhomophone = false", ""),
            "招人刷单"
        ),
        [Via::Exact]
    );
    assert_eq!(vias(&lexicon_with("", ""), "直接刷。单给我"), [Via::Clause]);
    assert!(vias(&lexicon_with("", "clause = false"), "直接刷。单给我").is_empty());
    assert!(
        vias(
            &lexicon_with("[channels]\nclause = false", ""),
            "直接刷。单给我"
        )
        .is_empty()
    );
}

#[test]
fn literals_that_normalize_alike_keep_their_own_shapes() {
    // `sjj` (the initials of 世界级) normalizes to `sj` needing a doubled `j`; the
    // initials of 水军 are a plain `sj`. One must not impose its shape on the other.
    let cat = "category = \"traffic_fraud\"
[[entry]]
id = \"t.world\"
term = \"世界级\"
severity = \"medium\"
note = \"n\"
[[entry]]
id = \"t.shill\"
term = \"水军\"
severity = \"medium\"
note = \"n\"
";
    let m = matcher_of(cat);
    assert_eq!(ids(&m, "接sj单", Role::Viewer), ["t.shill"]);
}

#[test]
fn initials_are_spelled_letter_for_letter() {
    let m = matcher_of(&one_term("prohibited_product", "票点"));
    assert_eq!(vias(&m, "收pd"), [Via::Initials]);
    // `pdd` (拼多多) is not pd with a doubled d.
    assert!(vias(&m, "这个pdd有").is_empty());
}

#[test]
fn two_letter_initials_read_from_the_product_they_name() {
    let m = matcher_of(&one_term("false_publicity", "减肥"));
    assert_eq!(vias(&m, "这款jf奶昔 不运动也能掉秤"), [Via::Initials]);
    assert_eq!(vias(&m, "jf胶囊"), [Via::Initials]);
    // Without a product, an offer or a contact, two letters are just two letters.
    assert!(vias(&m, "jf失败了").is_empty());
    assert!(vias(&m, "今天jf").is_empty());
    // A product names a claim or a prohibited thing, not a contact.
    let m = matcher_of(&one_term("diversion", "转账"));
    assert_eq!(vias(&m, "zz给我 直接发"), [Via::Initials]);
    assert!(vias(&m, "zz产品").is_empty());
}

#[test]
fn two_letter_initials_read_from_the_practice_their_category_names() {
    // The trade's covert call after a prohibited thing.
    let m = matcher_of(&one_term("prohibited_product", "大麻"));
    assert_eq!(vias(&m, "dm 懂的来 不懂的别问"), [Via::Initials]);
    assert!(vias(&m, "dm 这个颜色好看").is_empty());
    // …or the piece it is sold by.
    let m = matcher_of(&one_term("prohibited_product", "气狗"));
    assert_eq!(vias(&m, "出一把qg 九成新"), [Via::Initials]);
    assert!(vias(&m, "我们qg一下").is_empty());
    // A claim before the condition it names.
    let m = matcher_of(&one_term("false_publicity", "治疗"));
    assert_eq!(vias(&m, "这个精油zl失眠特别好"), [Via::Initials]);
    assert!(vias(&m, "zl好评").is_empty());
    // A brushing job's pay.
    let m = matcher_of(&one_term("traffic_fraud", "刷单"));
    assert_eq!(vias(&m, "sd日结 宝妈可做"), [Via::Initials]);
    assert!(vias(&m, "sd卡坏了").is_empty());
    // A price term before an amount, or restored.
    let m = matcher_of(&one_term("price_fraud", "原价"));
    assert_eq!(vias(&m, "yj999 今天只要199"), [Via::Initials]);
    assert_eq!(vias(&m, "明天恢复yj"), [Via::Initials]);
    assert!(vias(&m, "yj明天到").is_empty());
    // The cues are the category's own: an amount does not make a contact.
    let m = matcher_of(&one_term("diversion", "电话"));
    assert!(vias(&m, "dh999").is_empty());
    assert_eq!(vias(&m, "dh在主页 直接打"), [Via::Initials]);
    // A wildlife part before the piece it is carved into; a rival judged a kind.
    let m = matcher_of(&one_term("prohibited_product", "象牙"));
    assert_eq!(vias(&m, "xy手镯 老料"), [Via::Initials]);
    assert!(vias(&m, "xy到了").is_empty());
    let m = matcher_of(&one_term("slander", "骗子"));
    assert_eq!(vias(&m, "那个主播就是个pz"), [Via::Initials]);
    assert!(vias(&m, "pz好看").is_empty());
    // A claim before its effect.
    let m = matcher_of(&one_term("false_publicity", "减肥"));
    assert_eq!(vias(&m, "jf效果绝了"), [Via::Initials]);
}

#[test]
fn a_term_half_in_initials_is_read_like_its_initials() {
    // Three characters or more: the letters need only their strict Latin edges.
    let m = matcher_of(&one_term("traffic_fraud", "刷人气"));
    assert_eq!(vias(&m, "专业刷rq 千人在线"), [Via::Initials]);
    assert!(vias(&m, "刷rqx").is_empty());
    let m = matcher_of(&one_term("false_publicity", "纯天然"));
    assert_eq!(vias(&m, "纯tr成分"), [Via::Initials]);
    // Two characters: only with the letter last, and only in the context two letters
    // need.
    let m = matcher_of(&one_term("diversion", "私聊"));
    assert_eq!(vias(&m, "有事私l我"), [Via::Initials]);
    assert!(vias(&m, "私l").is_empty());
    assert!(
        vias(&m, "有事s聊我").is_empty(),
        "the letter first is how chat names things"
    );
    let m = matcher_of(&one_term("diversion", "扫码"));
    assert!(vias(&m, "我穿的是S码").is_empty(), "a size, not 扫码");
    // The Chinese half glued into a common word is that word's: 自私 claims the 私.
    let m = matcher_of(&one_term("diversion", "私聊"));
    assert!(vias(&m, "太自私l我").is_empty());
    let m = matcher_of(&one_term("traffic_fraud", "买粉"));
    assert_eq!(vias(&m, "有人买f吗"), [Via::Initials]);
}

/// A category file of one entry: `term`, severity high.
fn one_term(category: &str, term: &str) -> String {
    format!(
        "category = \"{category}\"\n[[entry]]\nid = \"t.one\"\nterm = \"{term}\"\nseverity = \"high\"\nnote = \"n\"\n"
    )
}

#[test]
fn a_group_named_in_a_pattern_is_read_as_written_in_pinyin_and_by_sound() {
    let m = matcher_of(
        r#"category = "diversion"

[[group]]
id = "shop"
words = ["淘宝", "拼多多", "tb"]

[[entry]]
id = "t.steer"
pattern = '去{shop}搜[我]{1}'
anchors = ["去"]
severity = "high"
note = "n"

[[entry]]
id = "t.steer_plain"
pattern = '来{shop}找我'
anchors = ["来"]
pinyin = false
homophone = false
severity = "high"
note = "n"
"#,
    );
    for text in [
        "去淘宝搜我",
        "去拼多多搜我",
        "去tb搜我",
        "去taobao搜我",
        "去TAOBAO搜我",
        "去tao宝搜我",
        "去淘bao搜我",
        "去pinduoduo搜我",
        "去ｔａｏｂａｏ搜我",
    ] {
        assert_eq!(ids(&m, text, Role::Viewer), ["t.steer"], "{text}");
    }
    // Each hit says how its group word was written; a sound spelling is a guess.
    assert_eq!(vias(&m, "去淘宝搜我"), [Via::Exact]);
    assert_eq!(vias(&m, "去tao宝搜我"), [Via::Pinyin]);
    assert_eq!(vias(&m, "去掏宝搜我"), [Via::Homophone]);
    // The `{1}` after a class is a repetition, not a group; an entry with its pinyin
    // and homophone channels off reads the words only as written.
    assert_eq!(ids(&m, "来淘宝找我", Role::Viewer), ["t.steer_plain"]);
    assert!(ids(&m, "来taobao找我", Role::Viewer).is_empty());
    assert!(ids(&m, "来掏宝找我", Role::Viewer).is_empty());
    assert!(ids(&m, "去淘宝看看", Role::Viewer).is_empty());
}
