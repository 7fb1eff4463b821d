//! Hostile input over the real socket: nothing crashes the server, hides a term or
//! holds a resource forever.

use std::time::Duration;

use futures_util::SinkExt;
use liveguard::config::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::support::*;

/// The connection still judges events.
async fn still_serves(ws: &mut Ws) {
    send(ws, chat("alive", "r", "u", "viewer", "你好")).await;
    let out = answer(ws).await;
    assert_eq!(out[0]["kind"], "verdict", "{out:?}");
    assert_eq!(out[0]["id"], "alive");
}

#[tokio::test]
async fn malformed_json_shapes_get_errors_and_the_connection_stays_open() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    let nest = |field: &str| {
        format!(
            r#"{{"kind":"chat","id":"n1","room":"r",{field}{}{}}}"#,
            "[".repeat(20_000),
            "]".repeat(20_000)
        )
    };
    // Deep nesting in a field the protocol ignores is skipped without recursion...
    send(&mut ws, nest(r#""text":"x","extra":"#)).await;
    assert_eq!(answer(&mut ws).await[0]["kind"], "verdict");
    let cases = [
        // ...and where a string is expected it is an error, not a stack overflow.
        nest(r#""text":"#),
        r#"{"kind":"chat","id":"h1","room":"r","text":"x","ts":1e999}"#.to_owned(),
        r#"{"kind":"chat","id":"h2","room":"r","text":"x","ts":184467440737095516160000}"#
            .to_owned(),
        r#"{"kind":"chat","id":"h3","room":"r","text":"x","ts":-1}"#.to_owned(),
        r#"{"kind":"chat","id":123456789012345678901234567890,"room":"r","text":"x"}"#.to_owned(),
        r#"{"kind":"chat","id":"h5","room":"r","text":"\ud800"}"#.to_owned(),
        r#"{"kind":"chat","id":"h6","room":"r","text":"x","kind":"transcript"}"#.to_owned(),
        "\u{0}\u{1}\u{7f}".to_owned(),
    ];
    for case in cases {
        send(&mut ws, case.clone()).await;
        let out = answer(&mut ws).await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(
            out[0]["kind"],
            "error",
            "{} → {out:?}",
            &case[..case.len().min(80)]
        );
        assert!(!out[0]["code"].as_str().unwrap().is_empty());
    }
    still_serves(&mut ws).await;
}

#[tokio::test]
async fn control_and_format_characters_do_not_hide_a_term() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    let disguises = [
        "加\u{0}v\u{1}信",
        "加\u{202E}v\u{202C}信",
        "加\u{2066}v\u{2069}信",
        "加\u{200B}v\u{FEFF}信",
        "加\u{00AD}v\u{034F}信",
        "加\u{180E}v\u{2060}信",
        "加\u{200E}v\u{200F}信",
        "加\u{1B}v\u{7}信",
    ];
    for (i, text) in disguises.iter().enumerate() {
        let id = format!("d{i}");
        send(&mut ws, chat(&id, "r", &format!("u{i}"), "viewer", text)).await;
        let out = answer(&mut ws).await;
        let verdict = &out[0];
        assert_eq!(verdict["kind"], "verdict", "{text:?}: {out:?}");
        assert_ne!(
            verdict["decision"], "allow",
            "{text:?} slipped through: {out:?}"
        );
        assert_eq!(
            verdict["hits"][0]["category"], "diversion",
            "{text:?}: {out:?}"
        );
    }
}

#[tokio::test]
async fn a_text_frame_with_invalid_utf8_closes_with_1007_and_others_carry_on() {
    let server = Server::default().await;
    let mut bystander = server.ingest().await;
    let mut ws = server.ingest().await;
    let bad = Frame::message(
        b"{\"kind\":\"chat\",\"text\":\"\xff\"}".to_vec(),
        OpCode::Data(Data::Text),
        true,
    );
    ws.send(Message::Frame(bad)).await.unwrap();
    let close = closed(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1007);
    still_serves(&mut bystander).await;
}

#[tokio::test]
async fn a_megabyte_of_emoji_is_refused_whole_or_per_event() {
    let emoji = "😀".repeat(256 * 1024); // 1 MiB
    // Over the frame limit: the connection closes with 1009.
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    send(&mut ws, chat("big", "r", "u", "viewer", &emoji)).await;
    let close = closed(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1009);
    // Under a larger frame limit: the text limit answers it and the connection stays.
    let mut config = Config::default();
    config.ingest.max_frame_bytes = 2 << 20;
    let server = Server::start(config).await;
    let mut ws = server.ingest().await;
    send(&mut ws, chat("big", "r", "u", "viewer", &emoji)).await;
    let out = answer(&mut ws).await;
    assert_eq!(out[0]["code"], "too_long", "{:?}", out[0]["reason"]);
    assert_eq!(out[0]["id"], "big");
    still_serves(&mut ws).await;
}

#[tokio::test]
async fn a_binary_frame_is_judged_line_by_line() {
    let server = Server::default().await;
    let mut ws = server.ingest().await;
    let mut bytes = chat("b1", "r", "u", "viewer", "加v信").into_bytes();
    bytes.extend_from_slice(b"\n\xc3\x28\n");
    bytes.extend_from_slice(chat("b2", "r", "u2", "viewer", "你好").as_bytes());
    ws.send(Message::Binary(bytes.into())).await.unwrap();
    let out = answer(&mut ws).await;
    let kinds: Vec<&str> = out
        .iter()
        .filter(|o| o["kind"] != "action")
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["verdict", "error", "verdict"], "{out:?}");
    assert_eq!(of_kind(&out, "error")[0]["code"], "utf8");
}

#[tokio::test]
async fn a_slowloris_handshake_is_cut_off_while_others_are_served() {
    let mut config = Config::default();
    config.ingest.handshake_timeout_s = 1;
    let server = Server::start(config).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /v1/ingest HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Trickle a header byte now and then, never finishing the head.
    let trickle = tokio::spawn(async move {
        for b in
            b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut rest = Vec::new();
        // The server closes (0 bytes or a reset) long before the trickle would end.
        let _ = tokio::time::timeout(PATIENCE, slow.read_to_end(&mut rest)).await;
        rest
    });
    let mut ws = server.ingest().await;
    still_serves(&mut ws).await;
    let answered = tokio::time::timeout(PATIENCE, trickle)
        .await
        .expect("the server dropped the slow client")
        .unwrap();
    let text = String::from_utf8_lossy(&answered);
    assert!(
        !text.contains("101 Switching Protocols"),
        "a head never finished must not be upgraded: {text}"
    );
    assert!(
        server
            .metric("liveguard_limited_total", "limit=\"handshake_timeout\"")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn a_platform_that_never_reads_is_not_read_and_does_not_stall_others() {
    let config = Config {
        shutdown_grace_s: 1,
        ..Config::default()
    };
    let mut server = Server::start(config).await;
    let mut deaf = server.ingest().await;
    let frame: String = (0..50)
        .map(|i| {
            chat(
                &format!("e{i}"),
                "r",
                "u",
                "viewer",
                &"很长的弹幕".repeat(40),
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    // Send until the server stops reading (its answers fill the socket buffers);
    // the client never reads.
    let flood = tokio::spawn(async move {
        let mut sent = 0u32;
        loop {
            let send = deaf.send(Message::Text(frame.clone().into()));
            match tokio::time::timeout(Duration::from_secs(2), send).await {
                Ok(Ok(())) => sent += 1,
                Ok(Err(_)) => return (deaf, sent, false),
                Err(_) => return (deaf, sent, true),
            }
            if sent > 100_000 {
                return (deaf, sent, false);
            }
        }
    });
    // The deaf client stays connected until the end of the test.
    let (_deaf, sent, blocked) = flood.await.unwrap();
    assert!(
        blocked,
        "the server kept reading a client that never reads ({sent} frames)"
    );
    let mut other = server.ingest().await;
    still_serves(&mut other).await;
    // Shutdown does not wait forever for the deaf client.
    server.shut_down();
    tokio::time::timeout(PATIENCE, &mut server.handle)
        .await
        .expect("shutdown finished despite the client that never reads")
        .unwrap()
        .unwrap();
}

/// Issue 12, item 9: every ping makes the server queue a pong. A client that pings
/// fast and never reads is closed with 1008, on both WebSocket routes, instead of
/// growing the server's write buffer without bound.
#[tokio::test]
async fn a_ping_flood_that_never_reads_is_closed_with_1008() {
    let server = Server::default().await;
    for path in ["/v1/ingest", "/v1/alerts"] {
        let mut ws = connect(&server.url(path)).await;
        // Never read while flooding (a send fails once the server has closed).
        for _ in 0..500 {
            if ws.send(Message::Ping(vec![0u8; 100].into())).await.is_err() {
                break;
            }
        }
        let mut pongs = 0;
        let close = loop {
            match tokio::time::timeout(PATIENCE, futures_util::StreamExt::next(&mut ws)).await {
                Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
                Ok(Some(Ok(Message::Close(frame)))) => break frame,
                Ok(Some(Ok(other))) => panic!("{path}: unexpected {other:?}"),
                Ok(Some(Err(e))) => panic!("{path}: {e} after {pongs} pongs, no close frame"),
                Ok(None) => panic!("{path}: ended without a close frame"),
                Err(_) => panic!("{path}: still open after {pongs} pongs"),
            }
        };
        let close = close.expect("a close frame with a code");
        assert_eq!(u16::from(close.code), 1008, "{path}: {close:?}");
        assert!(
            pongs < 500,
            "{path}: closed before answering the whole flood"
        );
    }
    assert!(
        server
            .metric("liveguard_limited_total", "limit=\"pings\"")
            .await
            >= 2.0
    );
    // A keep-alive client that pings now and then is served.
    let mut ws = server.ingest().await;
    for _ in 0..3 {
        ws.send(Message::Ping(Default::default())).await.unwrap();
    }
    still_serves(&mut ws).await;
}

/// Issue 12, item 10: a request that announces a body and never finishes it is
/// answered 408 within `ingest.handshake_timeout_s`, not kept for as long as the
/// client likes; an oversized one is refused with 413 before it is read.
#[tokio::test]
async fn an_unfinished_http_body_is_cut_off_with_408() {
    let mut config = Config::default();
    config.ingest.handshake_timeout_s = 1;
    let server = Server::start(config).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(
        b"PUT /v1/rooms/r1/tier HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tier\"",
    )
    .await
    .unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), slow.read_exact(&mut head))
        .await
        .expect("answered before the client finished its body")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 408");
    assert!(
        server
            .metric("liveguard_limited_total", "limit=\"http_body_timeout\"")
            .await
            >= 1.0
    );
    let big = "x".repeat(200_000);
    let (status, body) = server.http("PUT", "/v1/rooms/r1/tier", Some(&big)).await;
    assert_eq!(status, 413, "{body}");
    let (status, body) = server
        .http("PUT", "/v1/rooms/r1/tier", Some(r#"{"tier":"enhanced"}"#))
        .await;
    assert_eq!(status, 200, "a whole body is served: {body}");
}
