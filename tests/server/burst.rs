//! Coordinated danmaku through the real server: a burst of paraphrases from many
//! accounts is held, recorded and the room warned; a moderator's rejection confirms
//! it and limits the room's traffic, once; complaints never form a burst.

use serde_json::{Value, json};

use crate::support::*;

fn chat_at(id: &str, room: &str, user: &str, text: &str, ts: u64) -> String {
    json!({"kind":"chat","id":id,"room":room,"user":user,"role":"viewer","text":text,"ts":ts})
        .to_string()
}

/// Send one event and return its answer's verdict and actions.
async fn judged(ws: &mut Ws, line: String) -> (Value, Vec<Value>) {
    let (verdict, actions) = judge(ws, line).await;
    assert_eq!(verdict["kind"], "verdict", "{verdict} {actions:?}");
    (verdict, actions)
}

fn types(actions: &[Value]) -> Vec<&str> {
    actions
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect()
}

const PAID: [&str; 5] = [
    "已下单，质量真好",
    "已下单了，质量真好！！",
    "已下单 质量真的好👍",
    "已經下單，質量真好",
    "已下单，质量真好冲冲冲",
];

const ORGANIC: [&str; 5] = [
    "这个颜色好显白啊",
    "主播穿得真好看",
    "我想要那个黑色款",
    "今天的福利力度大",
    "刚刚抢到了好开心",
];

#[tokio::test]
async fn a_burst_is_held_recorded_warned_and_confirmed_once_by_a_moderator() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("?moderator=mod-1").await;
    let mut verdicts = Vec::new();
    for (i, text) in PAID.iter().enumerate() {
        // A line of other chat before each paid one: the paid lines are half of what
        // the room says, short of an early burst (three accounts at 70%).
        let ts = 1_000 + i as u64 * 1_500;
        let other = chat_at(
            &format!("o-{i}"),
            "r-b",
            &format!("o{i}"),
            ORGANIC[i],
            ts - 700,
        );
        judged(&mut platform, other).await;
        let id = format!("p-{i}");
        let line = chat_at(&id, "r-b", &format!("u{i}"), text, ts);
        verdicts.push(judged(&mut platform, line).await);
    }
    for (verdict, actions) in &verdicts[..3] {
        assert_eq!(verdict["decision"], "allow", "{verdict}");
        assert!(actions.is_empty());
    }
    // The fourth account makes the cluster a burst.
    let (verdict, actions) = &verdicts[3];
    assert_eq!(verdict["decision"], "hold", "{verdict}");
    let hit = &verdict["hits"][0];
    assert_eq!(hit["rule"], "burst.coordinated");
    assert_eq!(hit["category"], "traffic_fraud");
    assert_eq!(hit["via"], "burst");
    let burst = &hit["burst"];
    assert_eq!(burst["users"], 4);
    assert_eq!(burst["fired_now"], true);
    let members: Vec<&str> = burst["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["p-0", "p-1", "p-2"], "the evidence: {burst}");
    assert_eq!(burst["members"][0]["text"], PAID[0]);
    assert_eq!(
        types(actions),
        ["hold_message", "record", "record", "record", "warn_room"]
    );
    let recorded: Vec<&str> = actions
        .iter()
        .filter(|a| a["type"] == "record")
        .map(|a| a["target"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(recorded, ["p-0", "p-1", "p-2"]);
    assert!(
        actions
            .iter()
            .all(|a| a["basis"].as_str().unwrap().contains("第44条")),
        "{actions:?}"
    );
    assert_eq!(
        actions[4]["evidence"],
        json!(["p-0", "p-1", "p-2", "p-3"]),
        "the room's warning cites every member"
    );
    // A later member is part of the same burst.
    let (verdict, actions) = &verdicts[4];
    assert_eq!(verdict["decision"], "hold");
    assert_eq!(verdict["hits"][0]["burst"]["id"], burst["id"]);
    assert_eq!(verdict["hits"][0]["burst"]["fired_now"], false);
    assert_eq!(types(actions), ["hold_message", "record"]);

    // Moderators see the burst as traffic fraud; rejecting a member confirms it.
    let alerts = collect(&mut moderator, "alert", 2).await;
    let seqs: Vec<u64> = of_kind(&alerts, "alert")
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    let review = |seq: u64, decision: &str| {
        json!({"kind":"review","seq":seq,"decision":decision}).to_string()
    };
    send(&mut moderator, review(seqs[0], "reject")).await;
    collect(&mut moderator, "review_ack", 1).await;
    let heard = collect(&mut platform, "review", 1).await;
    let heard = of_kind(&heard, "review")[0];
    assert_eq!(heard["decision"], "reject");
    assert_eq!(
        types(heard["actions"].as_array().unwrap()),
        ["limit_traffic"]
    );
    let limit_id = heard["actions"][0]["action_id"].clone();
    // A second rejection names the same action: the room is limited once.
    send(&mut moderator, review(seqs[1], "reject")).await;
    collect(&mut moderator, "review_ack", 1).await;
    let heard = collect(&mut platform, "review", 1).await;
    assert_eq!(
        of_kind(&heard, "review")[0]["actions"][0]["action_id"],
        limit_id
    );
    // Both reviews are stored (the second one's record after the first's): the
    // evidence holds the limit once.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (_, stored) = server
            .http("GET", "/v1/actions?room=r-b&limit=100", None)
            .await;
        let stored: Value = serde_json::from_str(&stored).unwrap();
        let (_, feed) = server.http("GET", "/v1/holds", None).await;
        let seq = serde_json::from_str::<Value>(&feed).unwrap()["seq"]
            .as_u64()
            .unwrap();
        if seq >= seqs[1] + 2 {
            let limits = stored["actions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["type"] == "limit_traffic")
                .count();
            assert_eq!(limits, 1, "{stored}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "reviews stored");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_approved_member_limits_nothing_and_complaints_never_form_a_burst() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("").await;
    for (i, text) in PAID[..4].iter().enumerate() {
        let line = chat_at(
            &format!("a-{i}"),
            "r-a",
            &format!("u{i}"),
            text,
            1_000 * i as u64,
        );
        judged(&mut platform, line).await;
    }
    let alert = &collect(&mut moderator, "alert", 1).await[0];
    let seq = alert["seq"].as_u64().unwrap();
    send(
        &mut moderator,
        json!({"kind":"review","seq":seq,"decision":"approve"}).to_string(),
    )
    .await;
    let heard = collect(&mut platform, "review", 1).await;
    assert!(
        of_kind(&heard, "review")[0].get("actions").is_none(),
        "{heard:?}"
    );

    // Eight buyers with the same complaint are a complaint, not a campaign.
    for i in 0..8u64 {
        let line = chat_at(
            &format!("c-{i}"),
            "r-c",
            &format!("buyer{i}"),
            "我收到的是假货，要退款",
            1_000 * i,
        );
        let (verdict, _) = judged(&mut platform, line).await;
        assert!(
            verdict["hits"]
                .as_array()
                .unwrap()
                .iter()
                .all(|h| h["via"] != "burst"),
            "{verdict}"
        );
    }
}

#[tokio::test]
async fn an_enhanced_room_is_watched_more_closely() {
    let server = Server::default().await;
    let (status, _) = server
        .http("PUT", "/v1/rooms/r-e/tier", Some(r#"{"tier":"enhanced"}"#))
        .await;
    assert_eq!(status, 200);
    let mut platform = server.ingest().await;
    let mut decisions = Vec::new();
    for (i, text) in PAID[..3].iter().enumerate() {
        let line = chat_at(
            &format!("e-{i}"),
            "r-e",
            &format!("u{i}"),
            text,
            1_000 * i as u64,
        );
        decisions.push(judged(&mut platform, line).await.0["decision"].clone());
    }
    assert_eq!(
        decisions,
        ["allow", "allow", "hold"],
        "three accounts suffice"
    );
}
