//! Scoped tokens, room isolation and per-caller limits, over real sockets.

use liveguard::auth::{Scope, TokenSpec, hash_hex};
use liveguard::config::Config;

use crate::support::*;

const INGEST_A: &str = "ingest-token-shop-a-0000000000000001";
const INGEST_ALL: &str = "ingest-token-every-room-000000000002";
const MOD_A: &str = "moderate-token-shop-a-1-00000000003";
const MOD_B: &str = "moderate-token-shop-b-000000000004";
const ADMIN: &str = "admin-token-0000000000000000000005";

fn token(name: &str, scope: Scope, secret: &str) -> TokenSpec {
    TokenSpec {
        name: name.into(),
        scope: Some(scope),
        sha256: Some(hash_hex(secret)),
        ..TokenSpec::default()
    }
}

/// A server with an ingest token for `shop-a/` rooms, one for all rooms, a moderator
/// of `shop-a/1`, a moderator of `shop-b/` rooms and an admin.
fn secured() -> Config {
    let mut config = Config::default();
    config.auth.tokens = vec![
        TokenSpec {
            room_prefixes: vec!["shop-a/".into()],
            ..token("shop-a", Scope::Ingest, INGEST_A)
        },
        token("platform", Scope::Ingest, INGEST_ALL),
        TokenSpec {
            rooms: vec!["shop-a/1".into()],
            ..token("mod-a", Scope::Moderate, MOD_A)
        },
        TokenSpec {
            room_prefixes: vec!["shop-b/".into()],
            ..token("mod-b", Scope::Moderate, MOD_B)
        },
        token("ops", Scope::Admin, ADMIN),
    ];
    config
}

#[tokio::test]
async fn every_route_but_health_needs_a_token_of_its_scope() {
    let server = Server::start(secured()).await;
    let ingest = server.url("/v1/ingest");
    let alerts = server.url("/v1/alerts");
    assert_eq!(connect_as(&ingest, None).await.err(), Some(401));
    assert_eq!(
        connect_as(&ingest, Some("not-a-token")).await.err(),
        Some(401)
    );
    assert_eq!(connect_as(&ingest, Some(MOD_A)).await.err(), Some(403));
    assert_eq!(connect_as(&alerts, Some(INGEST_ALL)).await.err(), Some(403));
    assert_eq!(connect_as(&alerts, None).await.err(), Some(401));
    let mut ws = connect_as(&ingest, Some(INGEST_ALL)).await.unwrap();
    send(&mut ws, chat("e1", "r1", "u1", "viewer", "你好")).await;
    assert_eq!(collect(&mut ws, "verdict", 1).await[0]["id"], "e1");
    // The open /metrics carries no room, user or text.
    let secret = chat(
        "e2",
        "secret-room-7",
        "secret-user-7",
        "viewer",
        "加v信私聊",
    );
    send(&mut ws, secret).await;
    assert_eq!(collect(&mut ws, "verdict", 1).await[0]["id"], "e2");
    let (_, metrics) = server.http("GET", "/metrics", None).await;
    assert!(metrics.contains("liveguard_events_total"));
    assert!(!metrics.contains("secret-") && !metrics.contains("私聊"));
    // Browsers cannot set headers on a WebSocket: the query parameter works too.
    let url = server.url(&format!("/v1/alerts?access_token={MOD_A}"));
    connect_as(&url, None).await.unwrap();

    for (method, path) in [
        ("POST", "/v1/lexicon/reload"),
        ("GET", "/v1/lexicon"),
        ("GET", "/v1/actions"),
        ("GET", "/v1/rooms/r1/tier"),
    ] {
        assert_eq!(server.http(method, path, None).await.0, 401, "{path}");
        let (status, _) = server.http_as(Some(INGEST_ALL), method, path, None).await;
        assert_eq!(status, 403, "{path} with an ingest token");
        let (status, body) = server.http_as(Some(ADMIN), method, path, None).await;
        assert_eq!(status, 200, "{path} with the admin token: {body}");
    }
    let tier = Some(r#"{"tier":"enhanced"}"#);
    let put = server.http_as(Some(MOD_A), "PUT", "/v1/rooms/r1/tier", tier);
    assert_eq!(put.await.0, 403);
    assert_eq!(server.http("GET", "/healthz", None).await.0, 200);
    assert!(
        server
            .metric("liveguard_auth_denied_total", "reason=\"missing\"")
            .await
            >= 6.0
    );
    assert!(
        server
            .metric("liveguard_auth_denied_total", "reason=\"scope\"")
            .await
            >= 6.0
    );
    assert!(
        server
            .metric("liveguard_auth_denied_total", "reason=\"invalid\"")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn an_ingest_token_sends_only_for_its_rooms() {
    let server = Server::start(secured()).await;
    let mut ws = connect_as(&server.url("/v1/ingest"), Some(INGEST_A))
        .await
        .unwrap();
    let frame = [
        chat("a1", "shop-a/1", "u1", "viewer", "加v信私聊"),
        chat("b1", "shop-b/1", "u1", "viewer", "加v信私聊"),
        chat("a2", "shop-a/2", "u1", "viewer", "你好"),
    ]
    .join("\n");
    send(&mut ws, frame).await;
    let out = answer(&mut ws).await;
    let answered: Vec<(&str, &str)> = out
        .iter()
        .filter(|o| o["kind"] != "action")
        .map(|o| (o["kind"].as_str().unwrap(), o["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        answered,
        [("verdict", "a1"), ("error", "b1"), ("verdict", "a2")]
    );
    let refused = of_kind(&out, "error")[0];
    assert_eq!(refused["code"], "room_forbidden");
    assert_eq!(refused["index"], 1);
    assert!(
        server
            .metric("liveguard_ingest_errors_total", "reason=\"room_forbidden\"")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn a_moderator_never_sees_or_reviews_another_rooms_alerts() {
    let mut config = secured();
    // One record in memory: replay of the rest comes from the store, which must
    // filter by the token's rooms as well.
    config.alerts.history = 1;
    let server = Server::start(config).await;
    let mut ws = connect_as(&server.url("/v1/ingest"), Some(INGEST_ALL))
        .await
        .unwrap();
    let mut mod_a = connect_as(&server.url("/v1/alerts"), Some(MOD_A))
        .await
        .unwrap();
    // Held messages (a viewer's medium diversion term) in both shops.
    for (id, room) in [("a1", "shop-a/1"), ("b1", "shop-b/1"), ("a2", "shop-a/1")] {
        send(&mut ws, chat(id, room, "u1", "viewer", "私聊我")).await;
        let v = collect(&mut ws, "verdict", 1).await;
        assert_eq!(v[0]["decision"], "hold", "{v:?}");
    }
    let live = collect(&mut mod_a, "alert", 2).await;
    let ids: Vec<&str> = of_kind(&live, "alert")
        .iter()
        .map(|a| a["event"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a1", "a2"]);

    // Reviewing shop-b's hold is answered as if it did not exist.
    let b_seq = 2;
    send(
        &mut mod_a,
        serde_json::json!({"kind":"review","seq":b_seq,"decision":"approve"}).to_string(),
    )
    .await;
    let err = collect(&mut mod_a, "error", 1).await;
    let err = of_kind(&err, "error")[0];
    assert!(err["reason"].as_str().unwrap().contains("no held message"));
    // ...and shop-b's own moderator can still review it.
    let mut mod_b = connect_as(&server.url("/v1/alerts"), Some(MOD_B))
        .await
        .unwrap();
    send(
        &mut mod_b,
        serde_json::json!({"kind":"review","seq":b_seq,"decision":"reject"}).to_string(),
    )
    .await;
    let ack = collect(&mut mod_b, "review_ack", 1).await;
    assert_eq!(of_kind(&ack, "review_ack")[0]["seq"], b_seq);
    let review = collect(&mut ws, "review", 1).await;
    assert_eq!(of_kind(&review, "review")[0]["by"], "mod-b");

    // Replay (from the store: the memory holds one record) shows shop-a only.
    let url = server.url("/v1/alerts?since=0");
    let mut replay = connect_as(&url, Some(MOD_A)).await.unwrap();
    let replayed = collect(&mut replay, "alert", 2).await;
    let rooms: Vec<&str> = replayed
        .iter()
        .filter_map(|r| r["room"].as_str().or(r["event"]["room"].as_str()))
        .collect();
    assert!(
        !rooms.is_empty() && rooms.iter().all(|r| *r == "shop-a/1"),
        "{replayed:?}"
    );

    // Asking for another shop's room is refused outright.
    let url = server.url("/v1/alerts?rooms=shop-b/1");
    assert_eq!(connect_as(&url, Some(MOD_A)).await.err(), Some(400));
}

#[tokio::test]
async fn an_open_server_stays_on_loopback_unless_insecure() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let config = Config {
        data: data_dir("exposed"),
        ..Config::default()
    };
    let refused = liveguard::server::run(listener, config.clone(), async {}).await;
    let err = refused.expect_err("an open server on 0.0.0.0 must not start");
    assert!(err.to_string().contains("--insecure"), "{err}");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let insecure = Config {
        insecure: true,
        ..config.clone()
    };
    liveguard::server::run(listener, insecure, async {})
        .await
        .expect("--insecure serves anyway");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let with_tokens = Config {
        auth: secured().auth,
        ..config
    };
    liveguard::server::run(listener, with_tokens, async {})
        .await
        .expect("with tokens, any address");
}

#[tokio::test]
async fn connections_are_limited_in_total_per_token_and_per_moderator() {
    let mut config = secured();
    config.limits.max_connections = 4;
    config.limits.connections_per_token = 2;
    config.limits.subscribers_per_moderator = 1;
    let server = Server::start(config).await;
    let ingest = server.url("/v1/ingest");
    let _one = connect_as(&ingest, Some(INGEST_ALL)).await.unwrap();
    let two = connect_as(&ingest, Some(INGEST_ALL)).await.unwrap();
    assert_eq!(connect_as(&ingest, Some(INGEST_ALL)).await.err(), Some(429));
    let alerts = server.url("/v1/alerts");
    let _feed = connect_as(&alerts, Some(MOD_A)).await.unwrap();
    assert_eq!(connect_as(&alerts, Some(MOD_A)).await.err(), Some(429));
    let _other = connect_as(&ingest, Some(INGEST_A)).await.unwrap();
    // Four held: the server is full for everyone.
    assert_eq!(connect_as(&alerts, Some(MOD_B)).await.err(), Some(503));
    // A closed connection gives its slot back.
    drop(two);
    let mut again = None;
    for _ in 0..100 {
        if let Ok(ws) = connect_as(&ingest, Some(INGEST_ALL)).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the slot was not given back");
    for limit in [
        "connections",
        "connections_per_token",
        "subscribers_per_moderator",
    ] {
        let n = server
            .metric("liveguard_limited_total", &format!("limit=\"{limit}\""))
            .await;
        assert!(n >= 1.0, "{limit}: {n}");
    }
}

#[tokio::test]
async fn events_are_limited_in_rate_text_length_and_rooms_per_tenant() {
    let mut config = secured();
    config.limits.events_per_second = 1;
    config.limits.burst = 4;
    config.limits.max_text_bytes = 32;
    config.auth.tokens[1].max_rooms = Some(2);
    let server = Server::start(config).await;
    let mut ws = connect_as(&server.url("/v1/ingest"), Some(INGEST_ALL))
        .await
        .unwrap();
    let frame = [
        chat("t1", "r1", "u", "viewer", "短"),
        chat("t2", "r1", "u", "viewer", &"长".repeat(11)),
        chat("t3", "r2", "u", "viewer", "短"),
        chat("t4", "r3", "u", "viewer", "短"),
        chat("t5", "r1", "u", "viewer", "短"),
        chat("t6", "r2", "u", "viewer", "短"),
        chat("t7", "r1", "u", "viewer", "短"),
        chat("t8", "r1", "u", "viewer", "短"),
    ]
    .join("\n");
    send(&mut ws, frame).await;
    let out = answer(&mut ws).await;
    let answers: Vec<String> = out
        .iter()
        .filter(|o| o["kind"] != "action")
        .map(|o| match o["kind"].as_str() {
            Some("verdict") => format!("{}:ok", o["id"].as_str().unwrap()),
            _ => format!(
                "{}:{}",
                o["id"].as_str().unwrap(),
                o["code"].as_str().unwrap()
            ),
        })
        .collect();
    assert_eq!(
        answers,
        [
            "t1:ok",
            "t2:too_long",
            "t3:ok",
            "t4:room_limit",
            "t5:ok",
            "t6:ok",
            "t7:rate_limited",
            "t8:rate_limited",
        ]
    );
    // The connection stays open: limits answer events, they do not drop callers.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    send(&mut ws, chat("t9", "r1", "u", "viewer", "短")).await;
    assert_eq!(collect(&mut ws, "verdict", 1).await[0]["id"], "t9");
    for code in ["too_long", "room_limit", "rate_limited"] {
        let n = server
            .metric(
                "liveguard_ingest_errors_total",
                &format!("reason=\"{code}\""),
            )
            .await;
        assert!(n >= 1.0, "{code}: {n}");
    }
}

#[tokio::test]
async fn wss_with_a_certificate_and_nothing_in_plain_text() {
    use std::sync::Arc;
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut config = secured();
    config.tls = Some(liveguard::config::TlsConfig {
        cert: fixtures.join("tls-test-cert.pem"),
        key: fixtures.join("tls-test-key.pem"),
    });
    let server = Server::start(config).await;

    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(fixtures.join("tls-test-cert.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the test certificate");
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("wss://localhost:{}/v1/ingest", server.addr.port())
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {INGEST_ALL}").parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::client_async(request, tls).await.unwrap();
    send(&mut ws, chat("s1", "r1", "u1", "viewer", "加v信私聊")).await;
    let out = answer(&mut ws).await;
    assert_eq!(out[0]["id"], "s1");
    assert_ne!(out[0]["decision"], "allow");

    // Plain text to the TLS port gets no HTTP answer.
    let (status, _) = tokio::time::timeout(PATIENCE, async {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        (String::from_utf8_lossy(&out).to_string(), ())
    })
    .await
    .unwrap();
    assert!(!status.contains("HTTP/1.1 200"), "{status}");
}

#[tokio::test]
async fn loadgen_presents_its_token() {
    let server = Server::start(secured()).await;
    let load = |token: Option<&str>| liveguard::loadgen::LoadConfig {
        url: server.url("/v1/ingest"),
        rate: 2_000,
        duration_s: 1,
        rooms: 10,
        connections: 2,
        batch: 10,
        drain_s: 5,
        progress: false,
        token: token.map(str::to_owned),
        commerce_pct: 0,
        pool: liveguard::sample::ChatPool::Classic,
    };
    let refused = liveguard::loadgen::run(load(None)).await;
    assert!(
        matches!(&refused, Err(liveguard::loadgen::LoadError::Connect { message, .. }) if message.contains("401")),
        "{refused:?}"
    );
    let report = liveguard::loadgen::run(load(Some(INGEST_ALL)))
        .await
        .unwrap();
    assert!(report.sent > 0);
    assert_eq!(
        (report.answered, report.missing, report.errors),
        (report.sent, 0, 0)
    );
}

/// Issue 12, item 13: a page from another site must not read or inject through a
/// loopback server without tokens, nor reload its lexicon with a `text/plain` POST.
#[tokio::test]
async fn a_foreign_origin_cannot_open_the_feeds_or_change_state() {
    let mut config = Config::default();
    config.auth.allowed_origins = vec!["https://console.example".into()];
    let server = Server::start(config).await;
    let host = server.addr.to_string();
    let evil = [("origin", "https://evil.example")];
    let before = server.metric("liveguard_auth_denied_total", "origin").await;
    for path in ["/v1/ingest", "/v1/alerts"] {
        let refused = connect_with(&server.url(path), &evil).await.err();
        assert_eq!(refused, Some(403), "{path} from a foreign page");
        let null = connect_with(&server.url(path), &[("origin", "null")])
            .await
            .err();
        assert_eq!(null, Some(403), "{path} from a sandboxed page");
    }
    let plain = "origin: https://evil.example\r\ncontent-type: text/plain\r\n";
    let (status, body) = server
        .http_with("POST", "/v1/lexicon/reload", plain, Some("{}"))
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("evil.example"), "says which origin: {body}");
    let (status, _) = server
        .http_with(
            "PUT",
            "/v1/rooms/r1/tier",
            plain,
            Some(r#"{"tier":"enhanced"}"#),
        )
        .await;
    assert_eq!(status, 403);
    let after = server.metric("liveguard_auth_denied_total", "origin").await;
    assert!(
        after >= before + 6.0,
        "refusals are counted: {before} -> {after}"
    );

    // A foreign page may still read what any page may (GET is not guarded).
    let (status, _) = server
        .http_with("GET", "/healthz", "origin: https://evil.example\r\n", None)
        .await;
    assert_eq!(status, 200);

    // Non-browser clients (no Origin), the server's own pages and listed origins pass.
    let own = format!("http://{host}");
    for headers in [
        vec![],
        vec![("origin", own.as_str())],
        vec![("origin", "https://console.example")],
    ] {
        let mut ws = connect_with(&server.url("/v1/ingest"), &headers)
            .await
            .unwrap_or_else(|s| panic!("{headers:?} refused with {s}"));
        send(&mut ws, chat("o1", "r1", "u1", "viewer", "你好")).await;
        assert_eq!(answer(&mut ws).await[0]["kind"], "verdict");
        assert!(
            connect_with(&server.url("/v1/alerts"), &headers)
                .await
                .is_ok()
        );
    }
    let (status, body) = server
        .http_with(
            "PUT",
            "/v1/rooms/r1/tier",
            "origin: http://test\r\ncontent-type: application/json\r\n",
            Some(r#"{"tier":"enhanced"}"#),
        )
        .await;
    assert_eq!(status, 200, "same origin as the Host header: {body}");
}

/// Issue 12, item 16: loadgen says why connections failed (here the server's limit
/// of two connections, in the server's own words), and survives a reader of its
/// summary that has gone away (`| head`).
#[tokio::test]
async fn loadgen_says_why_connections_failed_and_survives_a_closed_stdout() {
    let mut config = Config::default();
    config.limits.max_connections = 2;
    let server = Server::start(config).await;
    let load = liveguard::loadgen::LoadConfig {
        url: server.url("/v1/ingest"),
        rate: 1_000,
        duration_s: 1,
        rooms: 10,
        connections: 4,
        batch: 10,
        drain_s: 5,
        progress: false,
        token: None,
        commerce_pct: 0,
        pool: liveguard::sample::ChatPool::Classic,
    };
    let report = liveguard::loadgen::run(load).await.unwrap();
    assert_eq!(report.failed_connections, 2, "{report:?}");
    let reasons: Vec<&String> = report.failure_reasons.keys().collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0].contains("503") && reasons[0].contains("limit of 2 connections"),
        "{reasons:?}"
    );
    assert!(
        report
            .text()
            .contains("failed connections 2: connect: HTTP 503")
    );

    // `liveguard loadgen … | head -c 0`: stdout closed before the summary is written.
    let url = server.url("/v1/ingest");
    let status = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_liveguard"))
            .args([
                "loadgen",
                "--rate",
                "500",
                "--duration",
                "1",
                "--connections",
                "1",
                "--url",
            ])
            .arg(url)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone
        let out = child.wait_with_output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(!status.1.contains("panicked"), "{}", status.1);
    assert_eq!(status.0.code(), Some(0), "{}", status.1);
}
