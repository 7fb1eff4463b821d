//! The console's HTTP surface over real sockets: the page and its headers, pending
//! holds, a room's and a sender's context, tiers for moderators, and the script check.

use liveguard::auth::{Scope, TokenSpec, hash_hex};
use liveguard::config::Config;
use serde_json::{Value, json};

use crate::support::*;

const INGEST: &str = "ingest-token-console-api-000000001";
const MOD_ROOM_1: &str = "moderate-token-room-1-0000000000002";
const ADMIN: &str = "admin-token-console-api-0000000003";

/// Tokens: a platform, a moderator of room `r-1` only, an admin.
fn secured() -> Config {
    let token = |name: &str, scope, secret: &str| TokenSpec {
        name: name.into(),
        scope: Some(scope),
        sha256: Some(hash_hex(secret)),
        ..TokenSpec::default()
    };
    let mut config = Config::default();
    config.auth.tokens = vec![
        token("platform", Scope::Ingest, INGEST),
        TokenSpec {
            rooms: vec!["r-1".into()],
            ..token("desk-1", Scope::Moderate, MOD_ROOM_1)
        },
        token("ops", Scope::Admin, ADMIN),
    ];
    config
}

async fn get(server: &Server, token: &str, path: &str) -> (u16, Value) {
    let (status, body) = server.http_as(Some(token), "GET", path, None).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_page_is_served_with_a_strict_content_security_policy() {
    let server = Server::default().await;
    for (path, kind) in [
        ("/console", "text/html"),
        ("/console/console.js", "text/javascript"),
        ("/console/console.css", "text/css"),
    ] {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let req = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).await.unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(
            head.contains(&format!("content-type: {kind}")),
            "{path}: {head}"
        );
        assert!(
            head.contains("content-security-policy: default-src 'none'; script-src 'self';"),
            "{path}: {head}"
        );
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    }
}

#[tokio::test]
async fn holds_and_room_context_come_from_the_feed_within_the_tokens_rooms() {
    let server = Server::start(secured()).await;
    let mut platform = connect_as(&server.url("/v1/ingest"), Some(INGEST))
        .await
        .unwrap();
    let events = [
        chat("h-1", "r-1", "u-3", "viewer", "私聊我"),
        chat("b-1", "r-1", "u-9", "viewer", "加微信聊"),
        chat("b-2", "r-2", "u-9", "viewer", "加微信聊"),
        chat("h-2", "r-2", "u-4", "viewer", "私聊我"),
        chat("b-3", "r-1", "u-9", "viewer", "vx号发你"),
    ];
    send(&mut platform, events.join("\n")).await;
    let answer = collect(&mut platform, "verdict", 5).await;
    let decisions: Vec<&str> = of_kind(&answer, "verdict")
        .iter()
        .map(|v| v["decision"].as_str().unwrap())
        .collect();
    assert_eq!(decisions, ["hold", "block", "block", "hold", "block"]);

    // The moderator of r-1 sees r-1's hold only, and the seq to resume the feed at.
    let (status, holds) = get(&server, MOD_ROOM_1, "/v1/holds").await;
    assert_eq!(status, 200, "{holds}");
    assert_eq!(holds["seq"], 5, "{holds}");
    let held: Vec<&str> = holds["holds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(held, ["h-1"]);
    // The admin sees both.
    let (_, holds) = get(&server, ADMIN, "/v1/holds").await;
    assert_eq!(holds["holds"].as_array().unwrap().len(), 2, "{holds}");

    // A sender's alerts in a room, newest first; the room's actions, newest first.
    let (status, alerts) = get(&server, MOD_ROOM_1, "/v1/rooms/r-1/alerts?user=u-9").await;
    assert_eq!(status, 200, "{alerts}");
    let ids: Vec<&str> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["b-3", "b-1"], "r-1 only, u-9 only, newest first");
    let (_, alerts) = get(&server, MOD_ROOM_1, "/v1/rooms/r-1/alerts?limit=1").await;
    assert_eq!(alerts["alerts"].as_array().unwrap().len(), 1);
    let (status, actions) = get(&server, MOD_ROOM_1, "/v1/rooms/r-1/actions?limit=2").await;
    assert_eq!(status, 200, "{actions}");
    let actions = actions["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert!(actions.iter().all(|a| a["room"] == "r-1"), "{actions:?}");
    // Newest first: both actions of b-3 (its hiding, and the warning it triggered).
    assert!(
        actions
            .iter()
            .all(|a| a["evidence"].as_array().unwrap().last() == Some(&json!("b-3"))),
        "{actions:?}"
    );

    // Another room is refused, for context and for its tier; the tier of its own room
    // is shown to the moderator, but only an admin changes it.
    for path in [
        "/v1/rooms/r-2/alerts",
        "/v1/rooms/r-2/actions",
        "/v1/rooms/r-2/tier",
    ] {
        let (status, body) = get(&server, MOD_ROOM_1, path).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, tier) = get(&server, MOD_ROOM_1, "/v1/rooms/r-1/tier").await;
    assert_eq!((status, tier), (200, json!({"tier": "standard"})));
    let body = r#"{"tier":"enhanced"}"#;
    let (status, _) = server
        .http_as(Some(MOD_ROOM_1), "PUT", "/v1/rooms/r-1/tier", Some(body))
        .await;
    assert_eq!(status, 403);
    let (status, _) = server.http_as(Some(INGEST), "GET", "/v1/holds", None).await;
    assert_eq!(status, 403, "an ingest token reads no alerts");

    // Once reviewed, the hold leaves the list.
    let mut moderator = connect_as(&server.url("/v1/alerts"), Some(MOD_ROOM_1))
        .await
        .unwrap();
    send(
        &mut moderator,
        json!({"kind":"review","seq":1,"decision":"reject"}).to_string(),
    )
    .await;
    collect(&mut moderator, "review_ack", 1).await;
    let (_, holds) = get(&server, MOD_ROOM_1, "/v1/holds").await;
    assert_eq!(holds["holds"], json!([]), "{holds}");
    // (Its review record, seq 6, follows through the feed once stored: a console that
    // resumes at the seq given here receives it.)
    assert!(holds["seq"] == 5 || holds["seq"] == 6, "{holds}");
}

#[tokio::test]
async fn the_script_check_judges_without_storing_and_refuses_bad_input() {
    let server = Server::start(secured()).await;
    let script = json!({"text": "家人们晚上好\n这款是全网最低价\n我们从不刷单", "role": "host"});
    let (status, _) = server
        .http_as(None, "POST", "/v1/check", Some(&script.to_string()))
        .await;
    assert_eq!(status, 401, "a token is needed");
    // Any scope may check: a platform checks product copy as it is listed.
    for token in [INGEST, MOD_ROOM_1, ADMIN] {
        let (status, body) = server
            .http_as(Some(token), "POST", "/v1/check", Some(&script.to_string()))
            .await;
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(answer["lines"], 3);
        let hits = answer["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "the denial is not a claim: {hits:?}");
        assert_eq!(hits[0]["rule"], "pr.network_lowest");
        assert_eq!(hits[0]["line"], 2);
        assert_eq!(hits[0]["matched"], "全网最低价");
        assert!(hits[0]["suggest"][0].is_string(), "{hits:?}");
        assert!(!hits[0]["basis"].as_str().unwrap().is_empty());
    }
    // A plain-text body is the script, said by the host.
    let (status, body) = server
        .http_with(
            "POST",
            "/v1/check",
            &format!("authorization: Bearer {ADMIN}\r\ncontent-type: text/plain\r\n"),
            Some("这是最好的面霜"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["hits"][0]["rule"],
        "fp.best"
    );

    for (bad, expected) in [
        (r#"{"text": 5}"#.to_owned(), 400),
        (r#"{"text": "x", "role": "robot"}"#.to_owned(), 400),
        (r#"{"script": "x"}"#.to_owned(), 400),
        (json!({"text": "好".repeat(30_000)}).to_string(), 413),
    ] {
        let (status, body) = server
            .http_as(Some(ADMIN), "POST", "/v1/check", Some(&bad))
            .await;
        assert_eq!(status, expected, "{}: {body}", &bad[..bad.len().min(40)]);
        assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
    }

    // Nothing reached the feed (and so the store): no seq was used.
    let (_, holds) = get(&server, ADMIN, "/v1/holds").await;
    assert_eq!(holds["seq"], 0, "{holds}");
}
