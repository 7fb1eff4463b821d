//! The real server on an ephemeral port, driven by real WebSocket and HTTP clients.

mod burst;
mod console_api;
mod hostile;
mod pricing;
mod security;
mod store;
mod support;

use std::time::Duration;

use futures_util::SinkExt;
use liveguard::config::{Config, ReviewDecision};
use serde_json::Value;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn verdicts_come_back_in_order_under_batching() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    // 3 frames of 150 events each, pipelined, with violations sprinkled in
    let mut expected = Vec::new();
    for f in 0..3 {
        let mut frame = Vec::new();
        for i in 0..150 {
            let id = format!("f{f}-{i}");
            let text = if i % 10 == 0 {
                "加微信聊"
            } else {
                "主播晚上好"
            };
            frame.push(chat(&id, "r1", &format!("u{i}"), "viewer", text));
            expected.push(id);
        }
        send(&mut ws, frame.join("\n")).await;
    }
    let got = collect(&mut ws, "verdict", expected.len()).await;
    let ids: Vec<&str> = of_kind(&got, "verdict")
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected);
    let blocked = of_kind(&got, "verdict")
        .iter()
        .filter(|v| v["decision"] == "block")
        .count();
    assert_eq!(blocked, 45);
    // every action follows the verdict that lists it
    for (i, v) in got.iter().enumerate() {
        if v["kind"] == "verdict" {
            for (k, id) in v["actions"].as_array().unwrap().iter().enumerate() {
                assert_eq!(got[i + 1 + k]["action_id"], *id);
            }
        }
    }
}

#[tokio::test]
async fn bad_input_gets_an_error_and_the_connection_stays_open() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::Text("{not json".into()), "invalid JSON"),
        (
            Message::Text(r#"{"kind":"chat","id":"e1","text":"x"}"#.into()),
            "missing field `room`",
        ),
        (
            Message::Text(r#"{"kind":"chat","room":"r","text":"x"}"#.into()),
            "missing field `id`",
        ),
        (
            Message::Text(r#"{"kind":"gift","id":"e2","room":"r","text":"x"}"#.into()),
            "unknown kind `gift`",
        ),
        (
            Message::Text(
                r#"{"kind":"chat","id":"e3","room":"r","text":"x","role":"admin"}"#.into(),
            ),
            "unknown role",
        ),
        (Message::Text("[1,2,3]".into()), "JSON object"),
        (
            Message::Binary(
                b"{\"kind\":\"chat\",\"id\":\"e4\",\"room\":\"r\",\"text\":\"\xff\xfe\"}"
                    .to_vec()
                    .into(),
            ),
            "invalid UTF-8",
        ),
        (Message::Text("   \n  ".into()), "empty frame"),
    ];
    for (msg, reason) in cases {
        ws.send(msg).await.unwrap();
        let Incoming::Objects(o) = recv(&mut ws).await else {
            panic!("closed on {reason}")
        };
        assert_eq!(o.len(), 1);
        assert_eq!(o[0]["kind"], "error", "{o:?}");
        assert!(
            o[0]["reason"].as_str().unwrap().contains(reason),
            "{o:?} should say {reason}"
        );
    }
    // an error names the event when its id is readable
    send(
        &mut ws,
        r#"{"kind":"chat","id":"e9","room":"r"}"#.to_owned(),
    )
    .await;
    let o = answer(&mut ws).await;
    assert_eq!(o[0]["id"], "e9");
    // a batch mixes verdicts and errors in input order, errors naming their line
    let batch = [
        chat("a", "r", "u", "viewer", "hi"),
        "oops".to_owned(),
        chat("b", "r", "u", "viewer", "hi"),
    ]
    .join("\n");
    send(&mut ws, batch).await;
    let o = answer(&mut ws).await;
    let kinds: Vec<&str> = o.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["verdict", "error", "verdict"]);
    assert_eq!(o[1]["index"], 1);
    assert!(
        server
            .metric("liveguard_ingest_errors_total", "reason=\"json\"")
            .await
            >= 2.0
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_with_1009() {
    let mut config = Config::default();
    config.ingest.max_frame_bytes = 4096;
    let server = Server::start(config).await;
    let mut ws = server.ingest().await;
    send(&mut ws, chat("small", "r", "u", "viewer", "hi")).await;
    assert!(matches!(recv(&mut ws).await, Incoming::Objects(_)));
    let big = chat("big", "r", "u", "viewer", &"字".repeat(3000));
    send(&mut ws, big).await;
    let close = closed(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
}

#[tokio::test]
async fn three_diversion_hits_from_one_viewer_mute_them() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    let texts = ["加微信", "加 V 信", "vx发你"];
    let mut objects = Vec::new();
    for (i, t) in texts.iter().enumerate() {
        send(
            &mut ws,
            chat(&format!("d{i}"), "r1", "spammer", "viewer", t),
        )
        .await;
        objects.extend(collect(&mut ws, "verdict", 1).await);
    }
    let mutes: Vec<&Value> = of_kind(&objects, "action")
        .into_iter()
        .filter(|a| a["type"] == "mute_user")
        .collect();
    assert_eq!(mutes.len(), 1, "{objects:?}");
    let mute = mutes[0];
    assert_eq!(mute["target"]["user"], "spammer");
    assert_eq!(mute["duration_s"], 600);
    assert_eq!(mute["evidence"], serde_json::json!(["d0", "d1", "d2"]));
    assert_eq!(mute["basis"], "直播电商监督管理办法 第12条");
    // the third verdict lists the mute's id
    let third = of_kind(&objects, "verdict")[2];
    assert!(
        third["actions"]
            .as_array()
            .unwrap()
            .contains(&mute["action_id"])
    );
}

#[tokio::test]
async fn a_host_slip_prompts_a_correction() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    send(
        &mut ws,
        transcript("t1", "r1", "家人们这款面霜是全网最好的"),
    )
    .await;
    let o = collect(&mut ws, "verdict", 1).await;
    let prompt = of_kind(&o, "action")
        .into_iter()
        .find(|a| a["type"] == "prompt_host_correction")
        .expect("a prompt");
    assert_eq!(prompt["basis"], "直播电商监督管理办法 第31条第1款");
    assert_eq!(prompt["evidence"], serde_json::json!(["t1"]));
}

#[tokio::test]
async fn a_held_message_is_reviewed_and_the_platform_hears_of_it() {
    let server = Server::default().await;
    let mut moderator = server.alerts("?moderator=mod-1").await;
    let mut platform = server.ingest().await;
    // a viewer's medium diversion term is held
    send(&mut platform, chat("h1", "r1", "u1", "viewer", "私聊我")).await;
    let v = collect(&mut platform, "verdict", 1).await;
    assert_eq!(v[0]["decision"], "hold");
    let alert = &collect(&mut moderator, "alert", 1).await[0];
    assert_eq!(alert["event"]["id"], "h1");
    assert_eq!(alert["verdict"]["decision"], "hold");
    let seq = alert["seq"].as_u64().unwrap();
    send(
        &mut moderator,
        serde_json::json!({"kind":"review","seq":seq,"decision":"approve","note":"上下文是问客服"})
            .to_string(),
    )
    .await;
    let ack = collect(&mut moderator, "review_ack", 1).await;
    assert!(of_kind(&ack, "review_ack")[0]["seq"] == seq);
    let review = &collect(&mut platform, "review", 1).await[0];
    assert_eq!(review["id"], "h1");
    assert_eq!(review["decision"], "approve");
    assert_eq!(review["by"], "mod-1");
    assert_eq!(review["ref"], seq);
    // A second moderator's review of the same hold is refused, saying who decided.
    let mut second = server.alerts("?moderator=mod-2").await;
    send(
        &mut second,
        serde_json::json!({"kind":"review","seq":seq,"decision":"reject"}).to_string(),
    )
    .await;
    let err = collect(&mut second, "error", 1).await;
    let err = of_kind(&err, "error")[0];
    assert!(
        err["reason"]
            .as_str()
            .unwrap()
            .contains("already decided: approve by mod-1"),
        "{err}"
    );
    assert_eq!(err["decided"]["decision"], "approve");
    assert_eq!(err["decided"]["by"], "mod-1");
    assert_eq!(err["decided"]["review_seq"], seq + 1);
    // A seq that was never held is still answered as not held.
    send(
        &mut second,
        serde_json::json!({"kind":"review","seq":999,"decision":"reject"}).to_string(),
    )
    .await;
    let err = collect(&mut second, "error", 1).await;
    assert!(
        of_kind(&err, "error")[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no held message")
    );
}

#[tokio::test]
async fn a_hold_nobody_reviews_expires_with_the_default_outcome() {
    let mut config = Config::default();
    config.alerts.hold_timeout_s = 1;
    config.alerts.hold_default = ReviewDecision::Reject;
    let server = Server::start(config).await;
    let mut platform = server.ingest().await;
    send(&mut platform, chat("h2", "r1", "u1", "viewer", "私聊我")).await;
    let review = &collect(&mut platform, "review", 1).await;
    let review = of_kind(review, "review")[0];
    assert_eq!(review["id"], "h2");
    assert_eq!(review["decision"], "reject");
    assert_eq!(review["by"], "expiry");
}

#[tokio::test]
async fn alert_feeds_filter_and_replay_since() {
    let server = Server::default().await;
    let mut all = server.alerts("").await;
    let mut diversion_in_a = server.alerts("?rooms=room-a&categories=diversion").await;
    let mut critical = server.alerts("?min_severity=critical").await;
    let mut platform = server.ingest().await;
    let events = [
        chat("a1", "room-a", "u1", "viewer", "加微信"), // diversion high
        chat("b1", "room-b", "u2", "viewer", "加微信"), // other room
        chat("a2", "room-a", "u3", "viewer", "有没有冰毒"), // prohibited critical
        chat("a3", "room-a", "u4", "viewer", "主播晚上好"), // benign: no alert
    ];
    send(&mut platform, events.join("\n")).await;
    collect(&mut platform, "verdict", 4).await;

    let got = collect(&mut all, "alert", 3).await;
    let ids: Vec<&str> = of_kind(&got, "alert")
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "b1", "a2"]);
    let seqs: Vec<u64> = of_kind(&got, "alert")
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq grows");

    let got = collect(&mut diversion_in_a, "alert", 1).await;
    assert_eq!(of_kind(&got, "alert")[0]["event"]["id"], "a1");
    let got = collect(&mut critical, "alert", 1).await;
    assert_eq!(of_kind(&got, "alert")[0]["event"]["id"], "a2");

    // a reconnecting moderator replays what came after its last seq
    let mut replay = server.alerts(&format!("?since={}", seqs[0])).await;
    let got = collect(&mut replay, "alert", 2).await;
    let ids: Vec<&str> = of_kind(&got, "alert")
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b1", "a2"]);
    // ... and then receives live alerts
    send(
        &mut platform,
        chat("b2", "room-b", "u5", "viewer", "代开发票"),
    )
    .await;
    let got = collect(&mut replay, "alert", 1).await;
    assert_eq!(of_kind(&got, "alert")[0]["event"]["id"], "b2");
    // the filtered feed did not receive b2, and got nothing else meanwhile
    send(
        &mut platform,
        chat("a4", "room-a", "u6", "viewer", "vx多少"),
    )
    .await;
    let got = collect(&mut diversion_in_a, "alert", 1).await;
    assert_eq!(of_kind(&got, "alert")[0]["event"]["id"], "a4");
    // an unknown category is refused before the upgrade
    let (status, _) = server
        .http("GET", "/v1/alerts?categories=gossip", None)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_slow_moderator_is_disconnected_while_ingest_keeps_its_rate() {
    let mut config = Config::default();
    config.alerts.subscriber_queue = 16;
    let server = Server::start(config).await;
    // A moderator with a tiny receive buffer that never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(server.url("/v1/alerts"), stream)
        .await
        .unwrap();

    let mut platform = server.ingest().await;
    let n = 3000;
    for batch in 0..(n / 100) {
        let frame: Vec<String> = (0..100)
            .map(|i| {
                chat(
                    &format!("s{batch}-{i}"),
                    "r1",
                    &format!("u{batch}-{i}"),
                    "viewer",
                    "有没有冰毒卖",
                )
            })
            .collect();
        send(&mut platform, frame.join("\n")).await;
    }
    // Every event is answered although the moderator reads nothing: the hub never
    // waits for a subscriber.
    let got = collect(&mut platform, "verdict", n).await;
    assert_eq!(of_kind(&got, "verdict").len(), n);

    // The moderator was cut off: it fell behind the queue of 16.
    let lagged = async {
        loop {
            if server
                .metric("liveguard_subscribers_lagged_total", "")
                .await
                >= 1.0
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(PATIENCE, lagged)
        .await
        .expect("the slow subscriber is disconnected");
    // When it reads at last, the connection ends (with the lagged close when it got through).
    let end = closed(&mut slow).await;
    if let Some(f) = end {
        assert_eq!(u16::from(f.code), liveguard::server::CLOSE_LAGGED);
        assert!(f.reason.contains("since="));
    }
}

#[tokio::test]
async fn hot_reload_under_traffic_answers_every_event() {
    let dir = std::env::temp_dir().join(format!("liveguard-reload-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write_lexicon = |version: &str, term: &str| {
        std::fs::write(
            dir.join("policy.toml"),
            format!("version = \"{version}\"\n[[decide]]\ndecision = \"block\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("d.toml"),
            format!("category = \"diversion\"\n[[entry]]\nid = \"x.term\"\nterm = \"{term}\"\nseverity = \"high\"\nnote = \"test\"\n"),
        )
        .unwrap();
    };
    write_lexicon("v1", "飞鸽传书");
    let config = Config {
        lexicons: Some(dir.clone()),
        ..Config::default()
    };
    let server = Server::start(config).await;
    let platform = server.ingest().await;

    let total = 2000;
    let (mut sink, mut stream) = futures_util::StreamExt::split(platform);
    let producer = tokio::spawn(async move {
        for i in 0..total {
            let text = if i % 2 == 0 {
                "飞鸽传书"
            } else {
                "信鸽来了"
            };
            sink.send(Message::Text(
                chat(&format!("e{i}"), "r", "u", "viewer", text).into(),
            ))
            .await
            .unwrap();
            if i % 100 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        sink
    });
    // reload twice while the traffic flows: v2 flags 信鸽 instead, v3 is broken
    tokio::time::sleep(Duration::from_millis(50)).await;
    write_lexicon("v2", "信鸽");
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"version\":\"v2\""));
    std::fs::write(
        dir.join("d.toml"),
        "category = \"diversion\"\n[[entry]]\nid = \"x\"\n",
    )
    .unwrap();
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("\"lexicon\":\"v2\""),
        "the old lexicon stays: {body}"
    );
    // A lexicon that parses but flags one of its own traps (what `lexicon check`
    // refuses) is refused by reload too, with the reason.
    write_lexicon("v4", "信鸽");
    std::fs::write(
        dir.join("traps.toml"),
        "[[trap]]\ntext = \"我家信鸽丢了\"\nrole = \"viewer\"\n",
    )
    .unwrap();
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("我家信鸽丢了"),
        "the flagged trap is named: {body}"
    );
    assert!(body.contains("\"lexicon\":\"v2\""), "v2 stays: {body}");
    std::fs::remove_file(dir.join("traps.toml")).unwrap();
    // The same version over different content is refused: evidence names versions.
    write_lexicon("v2", "鸽子");
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("bump `version`"), "{body}");
    // A category that loses every entry (its file deleted) needs drop= to go.
    write_lexicon("v5", "信鸽");
    std::fs::write(
        dir.join("d.toml"),
        "category = \"slander\"\n[[entry]]\nid = \"x.term\"\nterm = \"信鸽\"\nseverity = \"high\"\nnote = \"test\"\n",
    )
    .unwrap();
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("no `diversion` entries"), "{body}");
    write_lexicon("v2b", "信鸽");

    let mut verdicts = Vec::new();
    while verdicts.len() < total {
        let m = tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut stream))
            .await
            .unwrap();
        if let Some(Ok(Message::Text(t))) = m {
            for l in t.as_str().lines() {
                let v: Value = serde_json::from_str(l).unwrap();
                if v["kind"] == "verdict" {
                    verdicts.push(v);
                }
            }
        }
    }
    let _sink = producer.await.unwrap();
    let ids: Vec<String> = verdicts
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..total).map(|i| format!("e{i}")).collect();
    assert_eq!(ids, expected, "every event answered, in order");
    let versions: Vec<&str> = verdicts
        .iter()
        .map(|v| v["lexicon"].as_str().unwrap())
        .collect();
    let switch = versions
        .iter()
        .position(|v| *v == "v2")
        .expect("v2 took over");
    assert!(versions[..switch].iter().all(|v| *v == "v1"));
    assert!(
        versions[switch..].iter().all(|v| *v == "v2"),
        "no event went back to v1 or to the broken lexicon"
    );
    // each verdict was decided by the version it names
    for v in &verdicts {
        let flagged = v["decision"] == "block";
        let i: usize = v["id"].as_str().unwrap()[1..].parse().unwrap();
        let wants = if v["lexicon"] == "v1" {
            i.is_multiple_of(2)
        } else {
            !i.is_multiple_of(2)
        };
        assert_eq!(flagged, wants, "{v}");
    }
    assert!(
        server
            .metric("liveguard_lexicon_reloads_total", "result=\"error\"")
            .await
            >= 1.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn shutdown_answers_every_event_it_has_read_and_closes_with_1001() {
    let mut server = Server::start(Config::default()).await;
    let mut platform = server.ingest().await;
    let frames = 20;
    let per_frame = 100;
    for f in 0..frames {
        let frame: Vec<String> = (0..per_frame)
            .map(|i| {
                chat(
                    &format!("f{f}-{i}"),
                    "r",
                    &format!("u{i}"),
                    "viewer",
                    "主播好",
                )
            })
            .collect();
        send(&mut platform, frame.join("\n")).await;
    }
    // The platform is not reading: answers back up and events are in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.shut_down();
    let mut answered = Vec::new();
    let close = loop {
        match recv(&mut platform).await {
            Incoming::Objects(o) => {
                answered.extend(o.into_iter().filter(|v| v["kind"] == "verdict"))
            }
            Incoming::Closed(f) => break f,
        }
    };
    let close = close.expect("a close frame");
    assert_eq!(u16::from(close.code), 1001);
    assert!(!answered.is_empty());
    assert_eq!(answered.len() % per_frame, 0, "frames are answered whole");
    for (k, v) in answered.iter().enumerate() {
        assert_eq!(
            v["id"],
            format!("f{}-{}", k / per_frame, k % per_frame),
            "no gap"
        );
    }
    let result = tokio::time::timeout(PATIENCE, &mut server.handle)
        .await
        .expect("stops within the grace period");
    result.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_peer_is_dropped_and_a_live_one_is_kept() {
    let mut config = Config::default();
    config.ingest.ping_interval_s = 1;
    config.ingest.idle_timeout_s = 2;
    let server = Server::start(config).await;
    // A client that reads (and so answers pings) stays connected past the timeout.
    let mut live = server.ingest().await;
    let reader = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout(
                Duration::from_millis(200),
                futures_util::StreamExt::next(&mut live),
            )
            .await;
        }
        live
    });
    // One that never reads misses the pings and is dropped.
    let mut silent = server.ingest().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The server sent "1001 idle timeout" and closed the socket. The client, reading
    // at last, meets the pings first and its automatic pong hits the closed socket, so
    // it may see the reset before the close frame.
    if let Some(close) = closed(&mut silent).await {
        assert_eq!(u16::from(close.code), 1001);
        assert_eq!(close.reason, "idle timeout");
    }
    assert!(
        silent.send(Message::Text("{}".into())).await.is_err(),
        "the connection is gone"
    );
    let mut live = reader.await.unwrap();
    send(&mut live, chat("still", "r", "u", "viewer", "在吗")).await;
    let o = collect(&mut live, "verdict", 1).await;
    assert_eq!(of_kind(&o, "verdict")[0]["id"], "still");
}

#[tokio::test]
async fn operations_endpoints() {
    let server = Server::default().await;
    let (status, body) = server.http("GET", "/healthz", None).await;
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""));
    let (status, body) = server.http("GET", "/v1/lexicon", None).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&body).unwrap();
    assert!(info["entries"].as_u64().unwrap() >= 200);
    assert_eq!(info["origin"], "embedded");
    let (status, body) = server
        .http("PUT", "/v1/rooms/r9/tier", Some(r#"{"tier":"enhanced"}"#))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = server.http("GET", "/v1/rooms/r9/tier", None).await;
    assert_eq!(body, r#"{"tier":"enhanced"}"#);
    let (status, _) = server
        .http("PUT", "/v1/rooms/r9/tier", Some(r#"{"tier":"maximal"}"#))
        .await;
    assert_eq!(status, 422);
    // enhanced rooms tighten: a host's medium slip is blocked rather than masked
    let mut ws = server.ingest().await;
    send(&mut ws, chat("t", "r9", "h", "host", "这款是最好的")).await;
    let o = collect(&mut ws, "verdict", 1).await;
    assert_eq!(of_kind(&o, "verdict")[0]["decision"], "block");
    let (status, text) = server.http("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    for name in [
        "liveguard_events_total",
        "liveguard_verdicts_total",
        "liveguard_hits_total",
        "liveguard_ingest_latency_seconds_bucket",
        "liveguard_connections",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

/// A reload says what changed, and removes a whole category only when asked to.
#[tokio::test]
async fn reload_reports_changes_and_drops_a_category_only_on_request() {
    let dir = std::env::temp_dir().join(format!("liveguard-drop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let entry = |category: &str, id: &str, term: &str| {
        format!(
            "category = \"{category}\"\n[[entry]]\nid = \"{id}\"\nterm = \"{term}\"\nseverity = \"high\"\nnote = \"test\"\n"
        )
    };
    let policy = |v: &str| format!("version = \"{v}\"\n[[decide]]\ndecision = \"block\"\n");
    std::fs::write(dir.join("policy.toml"), policy("v1")).unwrap();
    std::fs::write(dir.join("d.toml"), entry("diversion", "dv.a", "飞鸽传书")).unwrap();
    std::fs::write(dir.join("s.toml"), entry("slander", "sl.a", "黑心商家")).unwrap();
    let server = Server::start(Config {
        lexicons: Some(dir.clone()),
        ..Config::default()
    })
    .await;
    let (_, info) = server.http("GET", "/v1/lexicon", None).await;
    assert!(info.contains("\"entries\":2"), "{info}");

    std::fs::write(dir.join("policy.toml"), policy("v2")).unwrap();
    std::fs::remove_file(dir.join("d.toml")).unwrap();
    let (status, body) = server.http("POST", "/v1/lexicon/reload", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"lexicon\":\"v1\""), "{body}");
    let (status, body) = server
        .http("POST", "/v1/lexicon/reload?drop=diversion", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["version"], "v2");
    assert_eq!(answer["changes"]["diversion"]["removed"][0], "dv.a");
    assert!(answer["changes"].get("slander").is_none(), "{body}");
    let (status, _) = server
        .http("POST", "/v1/lexicon/reload?drop=nonsense", None)
        .await;
    assert_eq!(status, 400);
}

/// What an operator's dashboard needs is exported from the start: the build, the
/// lexicon in use, and every labelled series of the ingest path (at 0 before traffic).
#[tokio::test]
async fn metrics_name_the_build_and_lexicon_and_exist_before_the_first_event() {
    let server = Server::default().await;
    let (status, text) = server.http("GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        text.contains(&format!("liveguard_build_info{{version=\"{version}\"}} 1")),
        "{text}"
    );
    let (_, health) = server.http("GET", "/healthz", None).await;
    let lexicon: Value = serde_json::from_str(&health).unwrap();
    let lexicon = lexicon["lexicon"].as_str().unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("liveguard_lexicon_info{")
                && l.contains(&format!("version=\"{lexicon}\""))
                && l.ends_with(" 1")),
        "{text}"
    );
    for series in [
        "liveguard_ingest_errors_total{reason=\"out_of_range\"}",
        "liveguard_actions_total{type=\"report_to_regulator\"}",
        "liveguard_verdicts_total{decision=\"hold\"}",
    ] {
        assert!(text.contains(series), "{series} missing");
    }
}
