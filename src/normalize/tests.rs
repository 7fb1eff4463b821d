use super::*;
use proptest::prelude::*;

fn n(s: &str) -> String {
    normalize(s)
}

#[test]
fn evasion_families_fold_to_the_plain_term() {
    let cases = [
        // separators, zero-width, emoji
        ("加*微*信", "加微信"),
        ("仿、真、枪", "仿真枪"),
        ("成\u{200b}本\u{200b}价", "成本价"),
        ("最❤好", "最好"),
        ("安 全 无 毒", "安全无毒"),
        ("加\u{3000}微\u{3000}信", "加微信"),
        ("私\u{202e}我", "私我"),
        ("涨❤\u{fe0f}粉", "涨粉"),
        // width and case
        ("ＶＸ", "vx"),
        ("ＮＯ．１", "no1"),
        ("ＴＯＰ１", "top1"),
        ("１００％有效", "100%有效"),
        // traditional
        ("賣一單舉報一單", "卖1单举报1单"),
        ("國藥準字", "国药准字"),
        ("電子煙", "电子烟"),
        ("捲菸", "卷烟"),
        // number styles
        ("第①", "第1"),
        ("第壹", "第1"),
        ("⑴⒉③❹➎⓺", "123456"),
        ("一三八幺二三四五六七八", "13812345678"),
        // repeats
        ("加微微信", "加微信"),
        ("私私我", "私我"),
        ("哈哈哈哈", "哈"),
        // digits keep their repeats
        ("100%", "100%"),
        ("13888888888", "13888888888"),
        // confusables and leet
        ("vх", "vx"), // Cyrillic х
        ("w3ch@t", "wechat"),
        ("we1xin", "weixin"),
        ("1:1", "1:1"),
        ("1.:.1", "1:1"),
        ("第一一", "第1"),
        ("零零风险", "0风险"),
        ("11", "11"),
        ("１：１", "1:1"),
        ("+V", "加v"),
        ("➕v", "加v"),
    ];
    for (input, want) in cases {
        assert_eq!(n(input), want, "normalize({input:?})");
    }
}

#[test]
fn a_plus_reads_as_add_only_before_a_contact_or_at_the_start() {
    // Between two words, a separator.
    assert_eq!(n("狗+东西"), "狗东西");
    assert_eq!(n("苹果+香蕉"), "苹果香蕉");
    assert_eq!(NormText::normalized("苹果＋香蕉").chars()[2].gap, Gap::Soft);
    assert_eq!(
        n("苹果 ➕ 一斤香蕉"),
        "苹果1斤香蕉",
        "a Chinese numeral is no contact"
    );
    assert_eq!(n("c++"), "c");
    // Before a Latin letter, a digit or a contact word, 加.
    for (input, want) in [
        ("+V", "加v"),
        ("➕v", "加v"),
        ("+薇 tiantian0707", "加薇tiantian0707"),
        ("售后的事+q 2983310", "售后的事加q2983310"),
        ("找我+ V", "找我加v"),
        ("找我++v", "找我加v"),
        ("找我﹢１２３", "找我加123"),
        ("想要的+我", "想要的加我"),
        ("有事＋好友", "有事加好友"),
        ("售后+企鹅", "售后加企鹅"),
        ("上衣+群青色", "上衣加群青色"),
    ] {
        assert_eq!(n(input), want, "normalize({input:?})");
    }
    // At the start of the text (after separators), 加 whatever follows.
    assert_eq!(n("+东西"), "加东西");
    assert_eq!(n(" ➕ 好的"), "加好的");
    // Rules that look ahead through separators see what the `+` became.
    assert_eq!(n("1:+2"), "1加2");
    assert_eq!(n("w3+x"), "w3加x");
    assert_eq!(n("w3+中x"), "w3中x");
}

#[test]
fn noise_between_numbers_and_words_is_dropped() {
    assert_eq!(n("138-1234-5678"), "13812345678");
    assert_eq!(n("a:b"), "ab");
    assert_eq!(n("价格：99"), "价格99");
    assert_eq!(n("50%"), "50%");
    assert_eq!(n("打%折"), "打折");
}

#[test]
fn offsets_point_at_the_original_bytes() {
    let src = "加*微*信";
    let t = NormText::normalized(src);
    let spans: Vec<&str> = t
        .chars()
        .iter()
        .map(|c| &src[c.src_start as usize..c.src_end as usize])
        .collect();
    assert_eq!(spans, ["加", "微", "信"]);
    assert_eq!(t.chars()[1].gap, Gap::Soft);
    assert_eq!(t.chars()[0].gap, Gap::None);

    let src = "加微微信";
    let t = NormText::normalized(src);
    assert_eq!(t.chars()[1].run, 2);
    assert_eq!(
        &src[t.chars()[1].src_start as usize..t.chars()[1].src_end as usize],
        "微微"
    );

    let t = NormText::normalized("最，好");
    assert_eq!(t.chars()[1].gap, Gap::Hard);
}

#[test]
fn a_run_remembers_a_separator_inside_it() {
    // The text stays as it was (idempotent); the run carries a flag.
    let t = NormText::normalized("wow wx号");
    assert_eq!(t.as_str(), "wowx号");
    let flags: Vec<(u8, bool)> = t.chars().iter().map(|c| (c.run, c.split_run)).collect();
    assert_eq!(
        flags,
        [(1, false), (1, false), (2, true), (1, false), (1, false)]
    );
    assert!(!NormText::normalized("加微微信").chars()[1].split_run);
    assert!(NormText::normalized("加微，微信").chars()[1].split_run);
    // It survives the window's packed form.
    let mut packed = Vec::new();
    t.pack(0..t.chars().len(), &mut packed);
    let mut r = NormText::new();
    r.push_packed(&packed);
    assert_eq!(
        r.chars(),
        t.chars()
            .iter()
            .map(|c| NormChar {
                src_start: 0,
                src_end: 0,
                ..*c
            })
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_run_continues_into_the_next_segment_only_with_the_same_character() {
    let mut t = NormText::new();
    t.push_segment("直接扣");
    t.push_segment("扣上");
    t.push_segment("上1");
    t.push_segment("1");
    t.push_segment("一");
    t.push_segment("一");
    assert_eq!(t.as_str(), "直接扣扣上上1111");
    let continues: Vec<usize> = (0..t.chars().len())
        .filter(|&i| t.run_continues(i))
        .collect();
    // 扣|扣 and 上|上 across events; not 扣扣 inside one event (there is none), not
    // plain digits, but Chinese numerals.
    assert_eq!(continues, [2, 4, 8]);
}

#[test]
fn segments_keep_their_own_offsets() {
    let mut t = NormText::new();
    t.push_segment("处");
    t.push_segment("方");
    let seg = t.push_segment("药");
    assert_eq!(seg, 2);
    assert_eq!(t.as_str(), "处方药");
    assert_eq!(t.chars()[2].seg, 2);
    assert_eq!(t.chars()[2].src_start, 0);
    assert_eq!(t.chars()[1].gap, Gap::Event);
    // a repeat across events is not collapsed: each event keeps its own characters
    let mut t = NormText::new();
    t.push_segment("药");
    t.push_segment("药");
    assert_eq!(t.as_str(), "药药");
}

#[test]
fn packed_characters_replay_as_segments() {
    let a = NormText::normalized("大家看这个独一");
    let mut packed = Vec::new();
    a.pack(4..a.chars().len(), &mut packed);
    let mut t = NormText::new();
    t.push_packed(&packed);
    t.push_segment("无二的");
    assert_eq!(t.as_str(), "个独1无2的");
    assert_eq!(t.chars()[0].gap, Gap::None);
    assert_eq!(t.chars()[3].gap, Gap::Event);
    assert_eq!(t.chars()[3].seg, 1);
    assert_eq!(t.digits(), 2);

    // after some text, a replayed segment starts with an event gap; runs, numerals,
    // gaps and the letter count survive packing
    let b = NormText::normalized("加 V V 壹壹");
    let mut packed = Vec::new();
    b.pack(0..b.chars().len(), &mut packed);
    assert_eq!(packed_len(&packed, b.chars().len()), packed.len());
    let mut out = NormText::normalized("看");
    out.push_packed(&packed);
    assert_eq!(out.as_str(), format!("看{}", b.as_str()));
    assert_eq!(out.chars()[1].gap, Gap::Event);
    for (x, y) in out.chars()[2..].iter().zip(&b.chars()[1..]) {
        assert_eq!(
            (x.run, x.gap, x.numeral, x.split_run),
            (y.run, y.gap, y.numeral, y.split_run)
        );
    }
    assert_eq!(out.letters(), b.letters());
    assert_eq!(out.has_numeral_runs(), b.has_numeral_runs());
    assert_eq!(out.segments(), 2);
}

#[test]
fn packed_len_counts_characters_of_every_width() {
    // a 1-, 3- and 4-byte character (CJK extension B is kept as it is)
    let t = NormText::normalized("a中𠀀");
    assert_eq!(t.as_str(), "a中𠀀");
    let mut packed = Vec::new();
    t.pack(0..3, &mut packed);
    assert_eq!(t.packed_size(0..3), packed.len());
    assert_eq!(t.packed_size(1..2), 5);
    let widths: Vec<usize> = (0..=4).map(|n| packed_len(&packed, n)).collect();
    assert_eq!(widths, [0, 3, 8, 14, 14]);
}

#[test]
fn a_right_to_left_override_is_read_as_displayed() {
    // Up to its PDF, to the end of the line, or to the end of the text.
    assert_eq!(n("\u{202e}聊私信微加\u{202c}"), "加微信私聊");
    assert_eq!(
        n("今天这价 \u{202e}价低最网全\u{202c} 不接受反驳"),
        "今天这价全网最低价不接受反驳"
    );
    assert_eq!(n("看\u{202e}信微加"), "看加微信");
    assert_eq!(n("\u{202e}信微加\n好的"), "加微信好的");
    // An override nested in it reverses with it; later text keeps its order.
    assert_eq!(n("\u{202e}a\u{202e}bc\u{202c}d\u{202c}ef"), "dcbaef");
    // Other bidi controls change nothing.
    assert_eq!(n("加\u{202b}微\u{202c}信"), "加微信");
    // Digits and the rules that look ahead see the displayed order.
    assert_eq!(n("\u{202e}8765 4321 831\u{202c}"), "13812345678");

    // Each character keeps its own bytes: hits point at the original text.
    let src = "看\u{202e}聊私信微加\u{202c}吧";
    let t = NormText::normalized(src);
    assert_eq!(t.as_str(), "看加微信私聊吧");
    let spans: Vec<&str> = t
        .chars()
        .iter()
        .map(|c| &src[c.src_start as usize..c.src_end as usize])
        .collect();
    assert_eq!(spans, ["看", "加", "微", "信", "私", "聊", "吧"]);
    assert_eq!(&src[t.source_span(1..4).0..t.source_span(1..4).1], "信微加");
    // A repeat collapses over the range of both.
    let src = "\u{202e}信微微加";
    let t = NormText::normalized(src);
    assert_eq!(t.as_str(), "加微信");
    assert_eq!(t.chars()[1].run, 2);
    assert_eq!(
        &src[t.chars()[1].src_start as usize..t.chars()[1].src_end as usize],
        "微微"
    );
}

#[test]
fn every_fold_is_a_fixpoint() {
    for cp in 0..=0x10FFFFu32 {
        let Some(c) = char::from_u32(cp) else {
            continue;
        };
        let once = n(&c.to_string());
        let twice = n(&once);
        assert_eq!(once, twice, "U+{cp:04X} folds to {once:?} then {twice:?}");
    }
}

/// Found by the `normalizer` fuzz target.
#[test]
fn expansions_and_numeral_runs_survive_a_second_pass_and_a_replay() {
    for s in ["㎥v", "k㎦x", "㍹y"] {
        let once = n(s);
        assert_eq!(n(&once), once, "{s:?}");
    }
    for s in ["i四a", "i一i", "一一a", "a一一"] {
        let t = NormText::normalized(s);
        let mut packed = Vec::new();
        t.pack(0..t.chars().len(), &mut packed);
        let mut replayed = NormText::new();
        replayed.push_packed(&packed);
        assert_eq!(replayed.as_str(), t.as_str());
        assert_eq!(
            replayed.has_numeral_runs(),
            t.has_numeral_runs(),
            "{s:?} normalizes to {:?}",
            t.as_str()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn offsets_are_char_boundaries_and_monotonic(s in any_text()) {
        let t = NormText::normalized(&s);
        for c in t.chars() {
            prop_assert!(s.is_char_boundary(c.src_start as usize));
            prop_assert!(s.is_char_boundary(c.src_end as usize));
            prop_assert!(c.src_start < c.src_end);
            prop_assert!(c.src_end as usize <= s.len());
            prop_assert!(c.run >= 1);
            prop_assert!(t.as_str().is_char_boundary(c.byte as usize));
        }
        // Monotonic: starts and ends never go backwards. (Ranges may overlap where
        // one source character expands to several, ⑩ -> 1 0, or a repeat collapses
        // into the first character of an expansion.) Not in a text with a
        // right-to-left override, normalized in the order it is shown: see
        // `an_override_run_reads_as_its_reversal`.
        let monotonic = if s.contains('\u{202e}') { &[][..] } else { t.chars() };
        for w in monotonic.windows(2) {
            prop_assert!(w[0].src_start <= w[1].src_start, "starts {:?}", w);
            prop_assert!(w[0].src_end <= w[1].src_end, "ends {:?}", w);
        }
        let bytes: Vec<u32> = t.chars().iter().map(|c| c.byte).collect();
        prop_assert!(bytes.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn an_override_run_reads_as_its_reversal(
        a in plain_text(), b in plain_text(), c in plain_text(), closed in any::<bool>()
    ) {
        // `a RLO b PDF c` (or `a RLO b` with no PDF) is `a`, `b` reversed, `c`.
        let reversed: String = b.chars().rev().collect();
        let (src, shown) = if closed {
            (format!("{a}\u{202e}{b}\u{202c}{c}"), format!("{a}{reversed}{c}"))
        } else {
            (format!("{a}\u{202e}{b}"), format!("{a}{reversed}"))
        };
        let t = NormText::normalized(&src);
        prop_assert_eq!(t.as_str(), n(&shown));
        for ch in t.chars() {
            let (s, e) = (ch.src_start as usize, ch.src_end as usize);
            prop_assert!(src.is_char_boundary(s) && src.is_char_boundary(e) && s < e);
        }
    }

    #[test]
    fn normalization_is_idempotent(s in any_text()) {
        let once = n(&s);
        prop_assert_eq!(n(&once), once);
    }

    #[test]
    fn never_panics_on_any_string(s in ".*") {
        let t = NormText::normalized(&s);
        prop_assert!(t.chars().len() <= s.chars().count() * 18);
    }
}

/// Like [`any_text`], without bidi controls or line breaks (which end an override).
fn plain_text() -> impl Strategy<Value = String> {
    any_text().prop_map(|s| {
        s.chars()
            .filter(|c| {
                !matches!(
                    c,
                    '\u{202a}'..='\u{202e}' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
                )
            })
            .collect()
    })
}

/// Strings biased towards what evaders type: CJK, Latin, digits, separators, emoji,
/// zero-width and format characters, number styles, traditional forms.
fn any_text() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "加", "微", "信", "v", "V", "x", "Ｘ", "1", "3", "0", "①", "⑩", "壹", "一", "%", "％", ":",
        "：", "@", "$", "+", "➕", " ", "\u{3000}", "*", "、", "，", "。", "\n", "❤", "😀",
        "\u{200b}", "\u{200d}", "\u{fe0f}", "\u{202e}", "é", "ß", "國", "煙", "哈", "a", "b", "w",
        "e", "7", "ǚ", "𝐀", "🅰", "\u{0301}", "Ⅱ", "½",
    ]);
    prop::collection::vec(
        prop_oneof![
            pieces.prop_map(String::from),
            any::<char>().prop_map(String::from)
        ],
        0..24,
    )
    .prop_map(|v| v.concat())
}
