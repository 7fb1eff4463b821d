use super::*;
use crate::engine::tests::{chat, engine};
use crate::engine::{Engine, EngineConfig, Ruleset, Scratch};

fn kinds(actions: &[Action]) -> Vec<ActionKind> {
    actions.iter().map(|a| a.action).collect()
}

const MIN: u64 = 60_000;

#[test]
fn three_diversion_hits_in_the_window_mute_the_viewer() {
    let e = engine();
    let mut s = Scratch::default();
    let texts = ["加微信", "加 v 信", "私聊我发你"];
    let mut out = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let ev = chat(&format!("e{i}"), "u9", "viewer", i as u64 * MIN, t);
        out.push(e.process(&ev, 0, &mut s));
    }
    assert!(!kinds(&out[0].actions).contains(&ActionKind::MuteUser));
    assert!(!kinds(&out[1].actions).contains(&ActionKind::MuteUser));
    let mute = out[2]
        .actions
        .iter()
        .find(|a| a.action == ActionKind::MuteUser)
        .expect("the third strike mutes");
    assert_eq!(mute.target.user(), Some("u9"));
    assert_eq!(mute.duration_s, Some(600));
    assert_eq!(mute.evidence, ["e0", "e1", "e2"]);
    assert!(mute.reason.contains("3 hits in 10 min"), "{}", mute.reason);
    assert_eq!(&*mute.basis, "直播电商监督管理办法 第12条");
    assert_eq!(&*mute.ladder, "viewer.repeated_diversion");
    assert!(
        out[2]
            .actions
            .iter()
            .any(|a| a.action == ActionKind::HideMessage || a.action == ActionKind::HoldMessage)
    );
}

#[test]
fn strikes_are_per_user_and_age_out() {
    let e = engine();
    let mut s = Scratch::default();
    e.process(&chat("a", "u1", "viewer", 0, "加微信"), 0, &mut s);
    e.process(&chat("b", "u2", "viewer", MIN, "加微信"), 0, &mut s);
    let o = e.process(&chat("c", "u1", "viewer", 2 * MIN, "加微信"), 0, &mut s);
    assert!(
        !kinds(&o.actions).contains(&ActionKind::MuteUser),
        "u2's strike is not u1's"
    );
    // u1's first strike ages out of the ten-minute window
    let o = e.process(&chat("d", "u1", "viewer", 11 * MIN, "加微信"), 0, &mut s);
    assert!(!kinds(&o.actions).contains(&ActionKind::MuteUser));
    let o = e.process(&chat("f", "u1", "viewer", 12 * MIN, "加微信"), 0, &mut s);
    assert!(
        kinds(&o.actions).contains(&ActionKind::MuteUser),
        "c, d, f are within 10 min"
    );
}

#[test]
fn repeated_offences_double_the_mute_and_warnings_come_once() {
    let e = engine();
    let mut s = Scratch::default();
    let mut mutes = Vec::new();
    let mut warns = 0;
    for i in 0..5 {
        let o = e.process(
            &chat(&format!("e{i}"), "u", "viewer", i * MIN, "加微信"),
            0,
            &mut s,
        );
        for a in &o.actions {
            match (a.action, &*a.ladder) {
                (ActionKind::MuteUser, "viewer.repeated_diversion") => {
                    mutes.push(a.duration_s.unwrap())
                }
                (ActionKind::WarnUser, _) => warns += 1,
                _ => {}
            }
        }
    }
    assert_eq!(mutes, [600, 1200, 2400]);
    assert_eq!(warns, 1);
}

#[test]
fn a_retried_event_gets_the_same_actions_and_no_new_strike() {
    let e = engine();
    let mut s = Scratch::default();
    e.process(&chat("e0", "u", "viewer", 0, "加微信"), 0, &mut s);
    e.process(&chat("e1", "u", "viewer", MIN, "加微信"), 0, &mut s);
    let first = e.process(&chat("e2", "u", "viewer", 2 * MIN, "加微信"), 0, &mut s);
    let retry = e.process(&chat("e2", "u", "viewer", 2 * MIN, "加微信"), 0, &mut s);
    assert_eq!(first.actions, retry.actions);
    let again = e.process(&chat("e1", "u", "viewer", MIN, "加微信"), 0, &mut s);
    assert!(
        !kinds(&again.actions).contains(&ActionKind::MuteUser),
        "retrying the second event does not mute: it was the second strike"
    );
    let next = e.process(&chat("e3", "u", "viewer", 3 * MIN, "加微信"), 0, &mut s);
    let mute = next
        .actions
        .iter()
        .find(|a| a.action == ActionKind::MuteUser)
        .unwrap();
    assert_eq!(
        mute.duration_s,
        Some(1200),
        "the fourth strike, not the sixth"
    );
}

#[test]
fn enhanced_rooms_escalate_sooner() {
    let e = engine();
    e.set_tier("r1", Tier::Enhanced);
    let mut s = Scratch::default();
    e.process(&chat("e0", "u", "viewer", 0, "加微信"), 0, &mut s);
    let o = e.process(&chat("e1", "u", "viewer", MIN, "加微信"), 0, &mut s);
    assert!(kinds(&o.actions).contains(&ActionKind::MuteUser));
}

#[test]
fn host_slips_are_corrected_and_critical_products_suspend_the_stream() {
    let e = engine();
    let mut s = Scratch::default();
    let o = e.process(&chat("h1", "host", "host", 0, "这款是最好的"), 0, &mut s);
    assert_eq!(kinds(&o.actions), [ActionKind::PromptHostCorrection]);
    assert_eq!(&*o.actions[0].basis, "直播电商监督管理办法 第31条第1款");
    let o = e.process(
        &chat("h2", "host", "host", 1, "今天给大家上仿真枪"),
        0,
        &mut s,
    );
    let k = kinds(&o.actions);
    assert!(k.contains(&ActionKind::SuspendStream), "{k:?}");
    assert!(k.contains(&ActionKind::ReportToRegulator), "{k:?}");
    assert!(k.contains(&ActionKind::PromptHostCorrection), "{k:?}");
    let suspend = o
        .actions
        .iter()
        .find(|a| a.action == ActionKind::SuspendStream)
        .unwrap();
    assert_eq!(suspend.target.room(), Some("r1"));
}

#[test]
fn action_ids_are_stable_across_engines() {
    let a = engine().process(
        &chat("x", "u", "viewer", 0, "加微信"),
        0,
        &mut Scratch::default(),
    );
    let b = engine().process(
        &chat("x", "u", "viewer", 0, "加微信"),
        0,
        &mut Scratch::default(),
    );
    assert_eq!(a.actions[0].action_id, b.actions[0].action_id);
    let c = engine().process(
        &chat("y", "u", "viewer", 0, "加微信"),
        0,
        &mut Scratch::default(),
    );
    assert_ne!(a.actions[0].action_id, c.actions[0].action_id);
}

#[test]
fn a_buyer_complaint_triggers_nothing() {
    let e = engine();
    let mut s = Scratch::default();
    let o = e.process(
        &chat("c", "u", "viewer", 0, "我收到的是假货，隔壁的都比这好"),
        0,
        &mut s,
    );
    assert_eq!(o.decision, Decision::Allow);
    assert!(o.actions.is_empty());
}

#[test]
fn a_full_strike_table_counts_new_offenders_alone_and_keeps_the_known_ones() {
    // Each diversion hit opens logs on a few rungs (viewer.repeated_diversion,
    // viewer.warn, viewer.mute, ...): room for one offender's logs, not two.
    let probe = engine();
    let mut s = Scratch::default();
    probe.process(&chat("p", "u0", "viewer", 0, "加微信"), 0, &mut s);
    let per_offender = probe.dispatcher().len();
    assert!(per_offender >= 1);
    let config = EngineConfig {
        max_strike_logs: per_offender,
        ..EngineConfig::default()
    };
    let e = Engine::new(Ruleset::embedded(), config);
    let texts = ["加微信", "加 v 信", "私聊我发你"];
    let mut known = Vec::new();
    let mut other = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        let ts = i as u64 * MIN;
        known.push(e.process(&chat(&format!("k{i}"), "u1", "viewer", ts, t), 0, &mut s));
        other.push(e.process(&chat(&format!("o{i}"), "u2", "viewer", ts, t), 0, &mut s));
    }
    assert_eq!(e.dispatcher().len(), per_offender, "the bound holds");
    assert!(e.dispatcher().refused() >= 3);
    // the first offender still climbs the ladder; the second is judged strike by
    // strike (its messages are still hidden or held, its event rungs still fire)
    assert!(kinds(&known[2].actions).contains(&ActionKind::MuteUser));
    assert!(!kinds(&other[2].actions).contains(&ActionKind::MuteUser));
    assert_eq!(other[2].decision, known[2].decision);
    // the sweep frees room once the logs age out
    e.sweep(10 * 24 * 3600 * 1000);
    assert!(e.dispatcher().is_empty());
    let again = e.process(
        &chat("o9", "u2", "viewer", 10 * 24 * 60 * MIN, "加微信"),
        0,
        &mut s,
    );
    assert!(!again.actions.is_empty());
    assert_eq!(e.dispatcher().len(), per_offender);
}
