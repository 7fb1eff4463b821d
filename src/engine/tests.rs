use super::*;
use crate::channel::Via;
use crate::event::Category;
use crate::event::{Decision, parse_event};

/// An engine on the embedded lexicon (also used by the dispatcher's tests).
pub(crate) fn engine() -> Engine {
    Engine::new(Ruleset::embedded(), EngineConfig::default())
}

/// A chat event in room `r1`.
pub(crate) fn chat(id: &str, user: &str, role: &str, ts: u64, text: &str) -> Event<'static> {
    let line = serde_json::json!({
        "kind": "chat", "id": id, "room": "r1", "user": user, "role": role, "ts": ts, "text": text
    })
    .to_string();
    parse_event(&line).unwrap().into_owned()
}

fn transcript(id: &str, ts: u64, text: &str, is_final: bool) -> Event<'static> {
    let line = serde_json::json!({
        "kind": "transcript", "id": id, "room": "r1", "speaker": "h", "ts": ts, "text": text, "final": is_final
    })
    .to_string();
    parse_event(&line).unwrap().into_owned()
}

#[test]
fn a_term_typed_one_character_per_message_is_caught_on_the_last_one() {
    let e = engine();
    let mut s = Scratch::default();
    let parts = ["处", "方", "药"];
    let mut outcomes = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let ev = chat(&format!("e{i}"), "u1", "viewer", 1000 + i as u64, p);
        outcomes.push(e.process(&ev, 0, &mut s));
    }
    assert_eq!(outcomes[0].decision, Decision::Allow);
    assert_eq!(outcomes[1].decision, Decision::Allow);
    let last = &outcomes[2];
    assert_ne!(last.decision, Decision::Allow);
    assert_eq!(last.hits[0].category, Category::ProhibitedProduct);
    assert_eq!((last.hits[0].start, last.hits[0].end), (0, 3));
    let ids: Vec<&str> = last.hits[0].window.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["e0", "e1"]);
    let fragments: Vec<&str> = last.hits[0]
        .window
        .iter()
        .map(|p| p.matched.as_str())
        .collect();
    assert_eq!(
        fragments,
        ["处", "方"],
        "every fragment of the term is kept"
    );
}

#[test]
fn windows_are_per_user_and_bounded_in_age() {
    let e = engine();
    let mut s = Scratch::default();
    e.process(&chat("a", "u1", "viewer", 1000, "处"), 0, &mut s);
    e.process(&chat("b", "u2", "viewer", 1001, "方"), 0, &mut s);
    let o = e.process(&chat("c", "u1", "viewer", 1002, "方药"), 0, &mut s);
    assert_ne!(o.decision, Decision::Allow, "u1 typed 处 then 方药");
    let o = e.process(&chat("d", "u2", "viewer", 1003, "药"), 0, &mut s);
    assert_eq!(
        o.decision,
        Decision::Allow,
        "u2 typed 方 then 药: u1's 处 is not theirs"
    );
}

#[test]
fn a_doubled_character_split_between_two_messages_is_caught_with_its_evidence() {
    let e = engine();
    let mut s = Scratch::default();
    for (user, first, second) in [
        ("u1", "有事直接扣", "扣我就行"),
        ("u2", "这软糖看着好Q", "Q群里有人拼团"),
        ("u3", "下班没事干的时", "时彩搞起来"),
    ] {
        let o = e.process(
            &chat(&format!("{user}a"), user, "viewer", 1000, first),
            0,
            &mut s,
        );
        assert_eq!(o.decision, Decision::Allow, "{first}");
        let o = e.process(
            &chat(&format!("{user}b"), user, "viewer", 1001, second),
            0,
            &mut s,
        );
        assert_ne!(o.decision, Decision::Allow, "{first} / {second}");
        assert_eq!(o.hits[0].window[0].id, format!("{user}a"));
        assert_eq!(o.hits[0].window.len(), 1);
        assert_eq!(o.hits[0].start, 0);
    }
}

#[test]
fn a_target_named_messages_ago_still_makes_a_claim_slander() {
    let e = engine();
    let mut s = Scratch::default();
    let said = |s: &mut Scratch, id: &str, user: &str, ts: u64, text: &str| {
        e.process(&chat(id, user, "viewer", ts, text), 0, s)
    };
    said(&mut s, "a1", "u1", 1000, "前两天在隔壁直播间");
    said(
        &mut s,
        "a2",
        "u1",
        3000,
        "也拍了那个卖得很火的燕窝 回来一泡",
    );
    let o = said(&mut s, "a3", "u1", 5000, "全是假货 一股胶水味 大家别上当");
    assert_ne!(o.decision, Decision::Allow);
    assert!(o.hits.iter().any(|h| h.category == Category::Slander));
    // The buyer's own purchase still vetoes; another sender has no target; the
    // target is forgotten with the window (30 s).
    let o = said(&mut s, "a4", "u1", 6000, "我收到的也是假货");
    assert_eq!(o.decision, Decision::Allow);
    let o = said(&mut s, "b1", "u2", 6000, "全是假货 一股胶水味");
    assert_eq!(o.decision, Decision::Allow);
    let o = said(&mut s, "a5", "u1", 40_000, "全是假货 一股胶水味");
    assert_eq!(o.decision, Decision::Allow);
}

#[test]
fn old_fragments_expire() {
    let e = engine();
    let mut s = Scratch::default();
    e.process(&chat("a", "u1", "viewer", 1000, "处方"), 0, &mut s);
    let o = e.process(&chat("b", "u1", "viewer", 1000 + 60_000, "药"), 0, &mut s);
    assert_eq!(o.decision, Decision::Allow);
}

#[test]
fn asr_segments_are_joined_per_room_and_partials_are_not_recorded() {
    let e = engine();
    let mut s = Scratch::default();
    let o = e.process(&transcript("t1", 1000, "大家看这个独一", true), 0, &mut s);
    assert_eq!(o.decision, Decision::Allow);
    // a partial hypothesis sees the window but does not enter it
    let o = e.process(&transcript("t2p", 1010, "无二", false), 0, &mut s);
    assert_ne!(o.decision, Decision::Allow);
    let o = e.process(&transcript("t2", 1020, "无二的真的很好", true), 0, &mut s);
    assert_ne!(o.decision, Decision::Allow);
    assert_eq!(
        o.hits[0]
            .window
            .iter()
            .map(|p| p.id.as_str())
            .collect::<Vec<_>>(),
        ["t1"]
    );
    assert_eq!(&"无二的真的很好"[o.hits[0].start..o.hits[0].end], "无二");
}

#[test]
fn verdict_json_matches_the_protocol() {
    let e = engine();
    let mut s = Scratch::default();
    let ev = chat("e-1", "u-9", "viewer", 1, "加v信私聊");
    let o = e.process(&ev, 0, &mut s);
    let v: serde_json::Value = serde_json::to_value(o.verdict(&ev)).unwrap();
    assert_eq!(v["kind"], "verdict");
    assert_eq!(v["id"], "e-1");
    assert_eq!(v["room"], "r1");
    assert_eq!(v["decision"], "block");
    assert_eq!(v["lexicon"], e.rules().version().as_ref());
    let hit = &v["hits"][0];
    assert_eq!(hit["category"], "diversion");
    assert_eq!(hit["start"], 0);
    assert_eq!(hit["matched"], "加v信");
    assert!(hit.get("window").is_none());
    assert!(v.get("masked").is_none());
}

#[test]
fn a_term_written_backwards_under_a_right_to_left_override_is_located_in_the_source() {
    let e = engine();
    let mut s = Scratch::default();
    // Shown as 要的加微信私聊: the hit covers the bytes the term was typed in.
    let text = "要的\u{202e}聊私信微加\u{202c}";
    let o = e.process(&chat("b1", "u1", "viewer", 1, text), 0, &mut s);
    assert_ne!(o.decision, Decision::Allow);
    let spans: Vec<&str> = o.hits.iter().map(|h| &text[h.start..h.end]).collect();
    assert!(spans.contains(&"信微加"), "{spans:?}");
    assert!(o.hits.iter().all(|h| h.start < h.end));
    assert_eq!(o.normalized.as_deref(), Some("要的加微信私聊"));
    // A whole-message override of a price claim, as in the chat corpus.
    let text = "今天这价 \u{202e}价低最网全\u{202c} 不接受反驳";
    let o = e.process(&chat("b2", "h", "host", 1, text), 0, &mut s);
    assert!(o.hits.iter().any(|h| h.category == Category::PriceFraud));
}

#[test]
fn mask_decisions_carry_the_masked_text() {
    let e = engine();
    let mut s = Scratch::default();
    // a medium claim from the host is masked
    let ev = chat("h1", "host", "host", 1, "这款是最好的，放心拍");
    let o = e.process(&ev, 0, &mut s);
    assert_eq!(o.decision, Decision::Mask);
    assert_eq!(o.masked.as_deref(), Some("这款是**的，放心拍"));
}

#[test]
fn tiers_tighten_decisions() {
    let e = engine();
    let mut s = Scratch::default();
    let ev = chat("h1", "host", "host", 1, "这款是最好的");
    assert_eq!(e.process(&ev, 0, &mut s).decision, Decision::Mask);
    e.set_tier("r1", Tier::Enhanced);
    assert_eq!(e.process(&ev, 0, &mut s).decision, Decision::Block);
    e.set_tier("r1", Tier::Standard);
    assert_eq!(e.process(&ev, 0, &mut s).decision, Decision::Mask);
}

#[test]
fn reload_swaps_atomically() {
    let e = engine();
    let old = e.swap_rules(Ruleset::embedded());
    assert_eq!(old.version(), e.rules().version());
}

#[test]
fn engine_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
}

#[test]
fn every_hit_says_how_it_matched() {
    let e = engine();
    let mut s = Scratch::default();
    let cases = [
        ("这款销量第一", Via::Exact),
        ("这款xiao量第一", Via::Pinyin),
        ("这款销量递一", Via::Homophone),
        ("招人耍单 日结", Via::Homophone),
        ("有没有子弓单", Via::Lookalike),
        ("有💊到病除的药吗", Via::Emoji),
        ("想要的jwx", Via::Initials),
    ];
    for (i, (text, via)) in cases.into_iter().enumerate() {
        let role = if i < 3 { "host" } else { "viewer" };
        let o = e.process(
            &chat(&format!("v{i}"), &format!("u{i}"), role, 1000, text),
            0,
            &mut s,
        );
        assert!(o.hits.iter().any(|h| h.via == via), "{text}: {:?}", o.hits);
        assert_ne!(o.decision, Decision::Allow, "{text}");
    }
}

/// Each host line `(text, term, written)` is caught as `term` through `via`, and the
/// hit's range, in the text as written, holds `written` (the disguise read back).
fn assert_read_back(cases: &[(&str, &str, &str)], via: Via) {
    let e = engine();
    let mut s = Scratch::default();
    for (i, &(text, term, written)) in cases.iter().enumerate() {
        let o = e.process(
            &chat(&format!("r{i}"), &format!("u{i}"), "host", 1000, text),
            0,
            &mut s,
        );
        let hit = o.hits.iter().find(|h| &*h.term == term);
        let hit = hit.unwrap_or_else(|| panic!("{text}: {:?}", o.hits));
        assert_eq!(hit.via, via, "{text}");
        assert!(
            text[hit.start..hit.end].contains(written),
            "{text}: {hit:?}"
        );
    }
}

/// Each viewer line is allowed.
fn assert_allowed(texts: &[&str]) {
    let e = engine();
    let mut s = Scratch::default();
    for text in texts {
        let o = e.process(&chat("b", "u", "viewer", 1000, text), 0, &mut s);
        assert_eq!(o.decision, Decision::Allow, "{text}: {:?}", o.hits);
    }
}

#[test]
fn rules_and_templates_read_an_emoji_as_its_word() {
    // 瘦N斤 and 原价…只要… are regex rules: they have no emoji spellings.
    assert_read_back(
        &[
            ("酵素喝一周瘦🔟斤 姐妹们亲测的", "瘦N斤", "🔟"),
            ("原💲599 今天直播间只要79", "原价X只要Y", "💲"),
            // A whole term, by the emoji's second word (屎, 垃圾).
            ("隔壁那个牌子的纸尿裤就是💩", "垃圾", "💩"),
        ],
        Via::Emoji,
    );
    // An emoji that reads as a word forms nothing by itself.
    assert_allowed(&["我家猫爱吃🐟 给主播点个⭐"]);
}

#[test]
fn rules_and_templates_read_split_and_look_alike_characters_back() {
    // 原价X只要Y is a regex rule, and 国家认证's variants stop before its third
    // character (its file has look-alike spellings off, too): both read the
    // recomposed view.
    assert_read_back(
        &[
            ("厡价八百 今天直播间只要一百二", "原价X只要Y", "厡"),
            ("这是国家认讠正的 放心买", "国家认证", "讠正"),
            ("隔壁主播就是个马扁子 别买", "骗子", "马扁"),
        ],
        Via::Lookalike,
    );
    // Components that are a word of their own, or that make nothing a term needs,
    // stay what they are.
    assert_allowed(&[
        "我在门口等快递 到了没",
        "我姓弓长张 主播记住我",
        "女子天团的同款吗",
    ]);
}

#[test]
fn a_guess_is_held_and_never_suspends_a_stream() {
    let e = engine();
    let mut s = Scratch::default();
    // 仿真抢: a sound- and look-alike of a critical prohibited product, from the host.
    let o = e.process(
        &chat("g1", "h", "host", 1000, "今天上架仿真抢 金属的"),
        0,
        &mut s,
    );
    assert!(o.hits.iter().all(|h| h.via.is_weak()), "{:?}", o.hits);
    assert_eq!(o.decision, Decision::Mask);
    assert!(
        !o.actions
            .iter()
            .any(|a| a.action == crate::event::ActionKind::SuspendStream),
        "{:?}",
        o.actions
    );
    // The term as written does suspend it.
    let o = e.process(
        &chat("g2", "h", "host", 1001, "今天上架仿真枪 金属的"),
        0,
        &mut s,
    );
    assert!(
        o.actions
            .iter()
            .any(|a| a.action == crate::event::ActionKind::SuspendStream)
    );
}

#[test]
fn mentions_are_allowed_and_claims_are_not() {
    let e = engine();
    let mut s = Scratch::default();
    let allowed = [
        ("host", "我们家从来不刷单，评价都是真实的"),
        ("operator", "平台规则禁止站外交易，谨防私下转账"),
        ("viewer", "这个是处方药吗？"),
        ("viewer", "主播不能说全网最低价这种话吧"),
    ];
    for (i, (role, text)) in allowed.into_iter().enumerate() {
        let o = e.process(
            &chat(&format!("m{i}"), &format!("m{i}"), role, 1000, text),
            0,
            &mut s,
        );
        assert_eq!(o.decision, Decision::Allow, "{text}: {:?}", o.hits);
        assert!(o.hits.iter().all(|h| !h.context.is_empty()), "{text}");
        assert!(
            o.actions
                .iter()
                .all(|a| a.action == crate::event::ActionKind::Record)
                || o.actions.is_empty()
        );
    }
    for (i, text) in ["不是我吹这是全网最低价", "不要错过全网最低价"]
        .into_iter()
        .enumerate()
    {
        let o = e.process(&chat(&format!("c{i}"), "h", "host", 1000, text), 0, &mut s);
        assert_ne!(o.decision, Decision::Allow, "{text}");
    }
}
