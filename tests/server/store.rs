//! The evidence store behind the server: replay across restarts, the audit query,
//! export, a full store, and a real process killed with SIGKILL.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liveguard::config::Config;
use serde_json::Value;

use crate::support::*;

pub(crate) fn config_at(dir: &std::path::Path) -> Config {
    Config {
        data: dir.to_owned(),
        ..Config::default()
    }
}

#[tokio::test]
async fn alerts_replay_from_the_store_after_a_restart_and_seq_continues() {
    let dir = data_dir("restart");
    let mut first = Server::start(config_at(&dir)).await;
    let mut platform = first.ingest().await;
    let events: Vec<String> = (0..5)
        .map(|i| chat(&format!("e{i}"), "r1", &format!("u{i}"), "viewer", "加微信"))
        .collect();
    send(&mut platform, events.join("\n")).await;
    collect(&mut platform, "verdict", 5).await;
    let mut moderator = first.alerts("?since=0").await;
    let before = collect(&mut moderator, "alert", 5).await;
    first.shut_down();
    (&mut first.handle).await.unwrap().unwrap();
    drop(first);

    // A new server on the same data: a small memory history, so most of the replay
    // comes from the store.
    let mut config = config_at(&dir);
    config.alerts.history = 2;
    let second = Server::start(config).await;
    let mut moderator = second.alerts("?since=0").await;
    let after = collect(&mut moderator, "alert", 5).await;
    assert_eq!(
        of_kind(&before, "alert"),
        of_kind(&after, "alert"),
        "the same records, byte for byte"
    );
    let mut platform = second.ingest().await;
    send(&mut platform, chat("e5", "r1", "u5", "viewer", "加微信")).await;
    collect(&mut platform, "verdict", 1).await;
    let next = collect(&mut moderator, "alert", 1).await;
    let last_seq = of_kind(&after, "alert").last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    assert_eq!(
        of_kind(&next, "alert")[0]["seq"].as_u64().unwrap(),
        last_seq + 1
    );
}

#[tokio::test]
async fn the_audit_query_pages_and_filters_actions() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let mut events = Vec::new();
    for i in 0..30 {
        let room = if i % 3 == 0 { "room-x" } else { "room-y" };
        events.push(chat(
            &format!("e{i}"),
            room,
            &format!("u{i}"),
            "viewer",
            "加微信",
        ));
    }
    send(&mut platform, events.join("\n")).await;
    collect(&mut platform, "verdict", 30).await;
    // actions reach the store asynchronously: wait for the alert feed to show them
    let mut moderator = server.alerts("?since=0").await;
    collect(&mut moderator, "alert", 30).await;

    let mut ids = BTreeSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/actions?room=room-x&limit=4&cursor={c}"),
            None => "/v1/actions?room=room-x&limit=4".to_owned(),
        };
        let (status, body) = server.http("GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for a in page["actions"].as_array().unwrap() {
            assert_eq!(a["room"], "room-x");
            assert!(
                ids.insert(a["action_id"].as_str().unwrap().to_owned()),
                "no action twice"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 10, "one hide_message per room-x event");
    let (status, body) = server
        .http("GET", "/v1/actions?since=2026-13-01", None)
        .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = server
        .http("GET", "/v1/actions?until=1970-01-02", None)
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["actions"],
        serde_json::json!([])
    );
}

/// `liveguard export --room ROOM --since 2020-01-01 FLAG PATH` (the data directory by
/// `--data` or through a `--config` file): its lines, after it succeeded.
pub(crate) fn export(room: &str, flag: &str, path: &std::path::Path) -> Vec<Value> {
    export_with(&["--room", room, "--since", "2020-01-01", flag], path)
}

/// `liveguard export ARGS PATH`: its lines, after it succeeded.
fn export_with(args: &[&str], path: &std::path::Path) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_liveguard"))
        .arg("export")
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn export_hands_regulators_the_actions_with_their_evidence() {
    let dir = data_dir("export");
    let mut server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    send(
        &mut platform,
        transcript("t1", "room-e", "今天给大家上仿真枪"),
    )
    .await;
    collect(&mut platform, "verdict", 1).await;
    server.shut_down();
    (&mut server.handle).await.unwrap().unwrap();

    let lines = export("room-e", "--data", &dir);
    let types: BTreeSet<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    for t in [
        "hide_message",
        "prompt_host_correction",
        "suspend_stream",
        "report_to_regulator",
    ] {
        assert!(types.contains(t), "{t} missing from {types:?}");
    }
    for l in &lines {
        assert!(l["basis"].as_str().unwrap().contains("第"), "{l}");
        assert!(l["lexicon"]["version"].is_string());
        assert!(
            l["lexicon"]["hash"].is_string(),
            "the lexicon version was recorded: {l}"
        );
        assert_eq!(l["evidence_events"][0]["id"], "t1");
        assert_eq!(l["evidence_events"][0]["text"], "今天给大家上仿真枪");
    }
    // The same export, finding the data directory through the server's config file.
    let config = dir.with_extension("toml");
    std::fs::write(&config, format!("data = {:?}\n", dir.display().to_string())).unwrap();
    assert_eq!(export("room-e", "--config", &config).len(), lines.len());
}

#[tokio::test]
async fn a_full_store_keeps_verdicts_and_alerts_flowing_and_counts_what_it_lost() {
    let mut config = Config::default();
    config.store.max_size_mib = 1;
    config.limits.max_text_bytes = 8192;
    let server = Server::start(config).await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("").await;
    // ~20 KiB of evidence per event against a 1 MiB cap
    let big = "加微信".repeat(600);
    let n = 120;
    for i in 0..n {
        send(
            &mut platform,
            chat(&format!("e{i}"), "r", &format!("u{i}"), "viewer", &big),
        )
        .await;
    }
    // Both read at once: a feed left unread for 5 s is a stalled subscriber, and
    // these alerts are large (every one of the 600 hits, and from the fourth sender
    // on, the burst they form).
    let (verdicts, alerts) = tokio::join!(
        collect(&mut platform, "verdict", n),
        collect(&mut moderator, "alert", n)
    );
    assert_eq!(
        of_kind(&verdicts, "verdict").len(),
        n,
        "every event answered"
    );
    let unstored = of_kind(&alerts, "alert")
        .iter()
        .filter(|a| a["stored"] == false)
        .count();
    assert!(unstored > 0, "the store filled up and said so");
    let (status, body) = server.http("GET", "/readyz", None).await;
    assert_eq!(status, 503, "not ready while writes fail: {body}");
    assert!(body.contains("writes failing"), "{body}");
    // (The metrics are per process and other tests' servers share them: only the
    // monotonic counter can be asserted on here.)
    assert!(server.metric("liveguard_store_unstored_total", "").await >= unstored as f64);
}

/// The real binary, with its address read from its log.
struct Process {
    child: Child,
    addr: String,
}

impl Drop for Process {
    /// A failed test must not leave its server running (holding the test's output
    /// pipe open, and its port).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(data: &std::path::Path) -> Process {
    spawn_server_with(data, "")
}

/// The real binary with `config` (TOML) as its configuration file.
fn spawn_server_with(data: &std::path::Path, config: &str) -> Process {
    let config_file = data.with_extension("toml");
    std::fs::write(&config_file, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveguard"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--config")
        .arg(&config_file)
        .env("LIVEGUARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let addr = loop {
        line.clear();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "the server exited early"
        );
        if let Some(a) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
        {
            break a.to_owned();
        }
    };
    // keep draining the log so the server never blocks on a full pipe
    std::thread::spawn(move || for _ in log.lines() {});
    Process { child, addr }
}

/// Send frames of `batch` flagged chat events (ids `{prefix}k{n}`, over `rooms`
/// rooms and `users` senders `{prefix}u{m}`), `pause` apart, until a send fails: the
/// server died.
fn stream_violations(
    mut sink: futures_util::stream::SplitSink<Ws, tokio_tungstenite::tungstenite::Message>,
    prefix: String,
    batch: u64,
    rooms: u64,
    users: u64,
    pause: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        use futures_util::SinkExt;
        for i in 0u64.. {
            let frame: Vec<String> = (0..batch)
                .map(|k| {
                    let n = i * batch + k;
                    chat(
                        &format!("{prefix}k{n}"),
                        &format!("room-{}", n % rooms),
                        &format!("{prefix}u{}", n % users),
                        "viewer",
                        "加微信私聊",
                    )
                })
                .collect();
            let msg = tokio_tungstenite::tungstenite::Message::Text(frame.join("\n").into());
            if sink.send(msg).await.is_err() {
                return;
            }
            tokio::time::sleep(pause).await;
        }
    })
}

#[tokio::test]
async fn after_sigkill_every_alert_a_subscriber_saw_is_in_the_store() {
    let dir = data_dir("sigkill");
    let mut proc = spawn_server(&dir);
    let url = |path: &str, addr: &str| format!("ws://{addr}{path}");
    let mut moderator = connect(&url("/v1/alerts", &proc.addr)).await;
    let platform = connect(&url("/v1/ingest", &proc.addr)).await;

    // Stream flagged events in the background until the server dies.
    let (sink, mut answers) = futures_util::StreamExt::split(platform);
    let producer = stream_violations(sink, String::new(), 20, 4, 50, Duration::from_millis(2));
    let drain = tokio::spawn(async move {
        while futures_util::StreamExt::next(&mut answers).await.is_some() {}
    });

    // Collect what the moderator sees, then kill the server mid-stream.
    let mut seen: Vec<Value> = Vec::new();
    while of_kind(&seen, "alert").len() < 300 {
        match recv(&mut moderator).await {
            Incoming::Objects(o) => seen.extend(o),
            Incoming::Closed(f) => panic!("closed early: {f:?}"),
        }
    }
    proc.child.kill().unwrap(); // SIGKILL
    proc.child.wait().unwrap();
    // Whatever else was on its way before the kill also counts as seen.
    while let Ok(Incoming::Objects(o)) =
        tokio::time::timeout(Duration::from_secs(2), recv(&mut moderator)).await
    {
        seen.extend(o);
    }
    let _ = producer.await;
    let _ = drain.await;
    let seen_seqs: BTreeSet<u64> = of_kind(&seen, "alert")
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    let seen_actions: BTreeSet<String> = of_kind(&seen, "alert")
        .iter()
        .flat_map(|a| a["actions"].as_array().unwrap().iter())
        .map(|a| a["action_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!seen_actions.is_empty());

    // Restart on the same data directory: it starts cleanly and holds everything seen.
    let mut proc = spawn_server(&dir);
    let mut replay = connect(&url("/v1/alerts?since=0", &proc.addr)).await;
    let mut stored_seqs = BTreeSet::new();
    let max_seen = *seen_seqs.iter().max().unwrap();
    while stored_seqs.iter().max().copied().unwrap_or(0) < max_seen {
        match recv(&mut replay).await {
            Incoming::Objects(o) => {
                for a in o.iter().filter(|v| v["kind"] == "alert") {
                    assert_ne!(a["stored"], false);
                    stored_seqs.insert(a["seq"].as_u64().unwrap());
                }
            }
            Incoming::Closed(f) => panic!("replay closed: {f:?}"),
        }
    }
    let missing: Vec<&u64> = seen_seqs.difference(&stored_seqs).collect();
    assert!(
        missing.is_empty(),
        "alerts seen but not stored: {missing:?}"
    );

    let mut stored_actions = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let (status, body) = http_get(&proc.addr, &format!("/v1/actions?limit=1000{cursor}")).await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        for a in page["actions"].as_array().unwrap() {
            stored_actions.insert(a["action_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let missing: Vec<&String> = seen_actions.difference(&stored_actions).collect();
    assert!(
        missing.is_empty(),
        "actions seen but not stored: {missing:?}"
    );
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

async fn http_get(addr: &str, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let status = raw[9..12].parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_corrupt_store_file_does_not_stop_moderation() {
    let dir = data_dir("corrupt");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(liveguard::store::DB_FILE), vec![0x5a; 64 * 1024]).unwrap();
    let server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("").await;
    send(&mut platform, chat("c1", "r", "u", "viewer", "加微信")).await;
    let v = collect(&mut platform, "verdict", 1).await;
    assert_eq!(of_kind(&v, "verdict")[0]["decision"], "block");
    let a = collect(&mut moderator, "alert", 1).await;
    assert_eq!(of_kind(&a, "alert")[0]["event"]["id"], "c1");
    let (status, _) = server.http("GET", "/v1/actions", None).await;
    assert_eq!(status, 503, "no store, said plainly");
}

/// Frames of one event (which the store queue takes) alternate with frames of eight
/// (which a queue of four always refuses, so they come back at once while the single
/// event is still being written): the feed must still be every seq, in order, once.
#[tokio::test]
async fn a_full_store_queue_never_reorders_or_skips_the_feed() {
    let dir = data_dir("reorder");
    let mut config = config_at(&dir);
    config.store.max_pending = 4;
    let server = Server::start(config).await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("?since=0").await;
    // A viewer's contact offer is blocked, a viewer's price claim held: both are alerts.
    let text = |i: usize| {
        if i.is_multiple_of(3) {
            "全网最低价"
        } else {
            "加微信聊"
        }
    };
    let mut n = 0;
    for round in 0..30 {
        let single = chat(
            &format!("s{round}"),
            "r",
            &format!("u{n}"),
            "viewer",
            text(n),
        );
        n += 1;
        send(&mut platform, single).await;
        let batch: Vec<String> = (0..8)
            .map(|k| {
                n += 1;
                chat(
                    &format!("b{round}-{k}"),
                    "r",
                    &format!("u{n}"),
                    "viewer",
                    text(n),
                )
            })
            .collect();
        send(&mut platform, batch.join("\n")).await;
    }
    collect(&mut platform, "verdict", n).await;
    let feed = collect(&mut moderator, "alert", n).await;
    let alerts = of_kind(&feed, "alert");
    let seqs: Vec<u64> = alerts.iter().map(|a| a["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=n as u64).collect::<Vec<_>>(),
        "every seq, in order, once"
    );
    assert!(
        alerts.iter().any(|a| a["stored"] == false),
        "the store queue refused some records"
    );
    assert!(
        alerts.iter().any(|a| a["verdict"]["decision"] == "hold"),
        "holds are in the feed too"
    );

    // A moderator cut off halfway resumes with `since` and gets the rest exactly once.
    let mut first = server.alerts("?since=0").await;
    let half = collect(&mut first, "alert", n / 2).await;
    let last = of_kind(&half, "alert").last().unwrap()["seq"]
        .as_u64()
        .unwrap();
    drop(first);
    let mut resumed = server.alerts(&format!("?since={last}")).await;
    let rest = collect(&mut resumed, "alert", n - last as usize).await;
    let mut seen: Vec<u64> = of_kind(&half, "alert")
        .iter()
        .chain(of_kind(&rest, "alert").iter())
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seen.len(), n, "no duplicate");
    seen.dedup();
    assert_eq!(seen, (1..=n as u64).collect::<Vec<_>>());
}

/// Two viewers whose clients chose the same event id: each event gets its own action
/// ids, and the export pairs each action with the event that caused it.
#[tokio::test]
async fn one_event_id_from_two_senders_gives_two_actions_each_with_its_own_evidence() {
    let dir = data_dir("same-id");
    let mut server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    send(
        &mut platform,
        chat("dup", "room-d", "alice", "viewer", "加微信"),
    )
    .await;
    let first = collect(&mut platform, "verdict", 1).await;
    send(
        &mut platform,
        chat("dup", "room-d", "bob", "viewer", "有没有冰毒"),
    )
    .await;
    let second = collect(&mut platform, "verdict", 1).await;
    let ids = |frames: &[Value]| -> Vec<String> {
        of_kind(frames, "action")
            .iter()
            .map(|a| a["action_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (a, b) = (ids(&first), ids(&second));
    assert!(!a.is_empty() && !b.is_empty());
    assert!(
        a.iter().all(|id| !b.contains(id)),
        "{a:?} and {b:?} share an id"
    );
    server.shut_down();
    (&mut server.handle).await.unwrap().unwrap();

    let lines = export("room-d", "--data", &dir);
    for l in lines.iter().filter(|l| l["target"]["event"] == "dup") {
        let user = l["target"]["user"].as_str().unwrap();
        let evidence = &l["evidence_events"][0];
        assert_eq!(evidence["user"], user, "paired with its own event: {l}");
        let text = if user == "alice" {
            "加微信"
        } else {
            "有没有冰毒"
        };
        assert_eq!(evidence["text"], text);
    }
    assert!(lines.iter().any(|l| l["target"]["user"] == "bob"));
}

/// Two servers on one data directory would overwrite each other's evidence: the second
/// refuses to start, naming the directory and the holder; once the first has stopped,
/// the directory is free again.
#[tokio::test]
async fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let dir = data_dir("shared");
    let mut first = Server::start(config_at(&dir)).await;
    // Wait until the first serves (it holds the lock from before it binds).
    let (status, _) = first.http("GET", "/healthz", None).await;
    assert_eq!(status, 200);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let refused = liveguard::server::run(listener, config_at(&dir), async {}).await;
    let message = refused
        .expect_err("the second server must not start")
        .to_string();
    assert!(message.contains(&dir.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    first.shut_down();
    (&mut first.handle).await.unwrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    liveguard::server::run(listener, config_at(&dir), async {})
        .await
        .expect("the directory is free once the first server stopped");
}

/// Every `action_id` in `objects` (answer lines or alerts with their actions).
fn action_ids(objects: &[Value]) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for o in objects {
        if let Some(id) = o["action_id"].as_str() {
            ids.insert(id.to_owned());
        }
        // An alert's actions are objects; a verdict's `actions` names only types.
        for a in o["actions"].as_array().into_iter().flatten() {
            if let Some(id) = a["action_id"].as_str() {
                ids.insert(id.to_owned());
            }
        }
    }
    ids
}

/// Everything `since=0` replays, read until the feed goes quiet.
async fn replay_all(addr: &str) -> Vec<Value> {
    let mut replay = connect(&format!("ws://{addr}/v1/alerts?since=0")).await;
    let mut seen = Vec::new();
    while let Ok(Incoming::Objects(o)) =
        tokio::time::timeout(Duration::from_secs(2), recv(&mut replay)).await
    {
        seen.extend(o);
    }
    seen
}

/// Issue 12, item 1: the platform acts on the actions in its answers, so each must
/// be in the evidence even when the process dies the instant after answering. The
/// store lingers 200 ms per group commit here, which would leave the last answers'
/// actions unwritten at the kill if answers ran ahead of the commit.
#[tokio::test]
async fn every_action_a_platform_received_survives_sigkill_in_replay_and_export() {
    let dir = data_dir("sigkill-actions");
    let config = "[store]\nlinger_ms = 200\n";
    let mut proc = spawn_server_with(&dir, config);
    let mut received = BTreeSet::new();
    for round in 0..3u64 {
        let platform = connect(&format!("ws://{}/v1/ingest", proc.addr)).await;
        let (sink, mut answers) = futures_util::StreamExt::split(platform);
        let prefix = format!("r{round}-");
        let producer = stream_violations(sink, prefix, 10, 3, 40, Duration::from_millis(1));
        // Read answers for a while, then kill the server with answers in flight.
        let mut frames = 0;
        let kill_after = 20 + 7 * round;
        loop {
            let Some(Ok(msg)) = futures_util::StreamExt::next(&mut answers).await else {
                panic!("the server closed before the kill");
            };
            let text = msg.into_text().unwrap();
            let lines: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            received.extend(action_ids(&lines));
            frames += 1;
            if frames == kill_after {
                proc.child.kill().unwrap(); // SIGKILL
                proc.child.wait().unwrap();
                break;
            }
        }
        // An answer already on its way when the process died counts too.
        while let Some(Ok(msg)) = futures_util::StreamExt::next(&mut answers).await {
            if let Ok(text) = msg.into_text() {
                let lines: Vec<Value> = text
                    .lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect();
                received.extend(action_ids(&lines));
            }
        }
        let _ = producer.await;
        assert!(!received.is_empty());

        proc = spawn_server_with(&dir, config);
        let replayed = action_ids(&replay_all(&proc.addr).await);
        let missing: Vec<&String> = received.difference(&replayed).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} actions the platform received are not in the replay: {:?}",
            missing.len(),
            received.len(),
            &missing[..missing.len().min(5)]
        );
        let exported = action_ids(&export_with(&["--data"], &dir));
        let missing: Vec<&String> = received.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} actions the platform received are not in the export: {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
    }
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 2: seqs shown on records the store never kept (its queue was
/// full) are not handed out again after a crash, so a moderator resuming with
/// `since` misses nothing.
#[tokio::test]
async fn seqs_shown_unstored_are_never_reused_after_sigkill() {
    let dir = data_dir("sigkill-seqs");
    // A queue of one record: a frame of one alert is stored, a frame of forty
    // cannot be queued and goes out unstored.
    let config = "[store]\nmax_pending = 1\n";
    let mut proc = spawn_server_with(&dir, config);
    let mut moderator = connect(&format!("ws://{}/v1/alerts", proc.addr)).await;
    let mut platform = connect(&format!("ws://{}/v1/ingest", proc.addr)).await;
    send(&mut platform, chat("a", "r", "u", "viewer", "加微信")).await;
    answer(&mut platform).await;
    let events: Vec<String> = (0..40)
        .map(|i| chat(&format!("a{i}"), "r", &format!("u{i}"), "viewer", "加微信"))
        .collect();
    send(&mut platform, events.join("\n")).await;
    let alerts = collect(&mut moderator, "alert", 41).await;
    let alerts = of_kind(&alerts, "alert");
    assert!(
        alerts.iter().any(|a| a["stored"] == false),
        "the queue refused some records"
    );
    let max_shown = alerts
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .max()
        .unwrap();
    proc.child.kill().unwrap(); // SIGKILL
    proc.child.wait().unwrap();

    proc = spawn_server_with(&dir, config);
    let mut resumed = connect(&format!("ws://{}/v1/alerts?since={max_shown}", proc.addr)).await;
    let mut platform = connect(&format!("ws://{}/v1/ingest", proc.addr)).await;
    let events: Vec<String> = (0..5)
        .map(|i| chat(&format!("b{i}"), "r", &format!("v{i}"), "viewer", "加微信"))
        .collect();
    send(&mut platform, events.join("\n")).await;
    let next = tokio::time::timeout(Duration::from_secs(10), collect(&mut resumed, "alert", 5))
        .await
        .expect("the resumed moderator gets every new alert");
    let next = of_kind(&next, "alert");
    for a in next {
        assert!(
            a["seq"].as_u64().unwrap() > max_shown,
            "seq {} reused",
            a["seq"]
        );
    }
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Prometheus sample of a real process (unlabelled series).
async fn process_metric(addr: &str, name: &str) -> Option<f64> {
    let (_, text) = http_get(addr, "/metrics").await;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Issue 12, item 8: a data directory that cannot be used does not stop moderation,
/// but the server says so (`/readyz`, `liveguard_store_up`), and once the directory is
/// usable the store opens without a restart.
#[tokio::test]
async fn an_unusable_data_directory_is_not_ready_and_recovers_without_a_restart() {
    let dir = data_dir("unusable");
    std::fs::write(&dir, "a file where the data directory should be").unwrap();
    let mut proc = spawn_server_with(&dir, "");
    let mut platform = connect(&format!("ws://{}/v1/ingest", proc.addr)).await;
    send(&mut platform, chat("x1", "r", "u1", "viewer", "加微信")).await;
    assert_eq!(
        answer(&mut platform).await[0]["decision"],
        "block",
        "still moderating"
    );
    let (status, _) = http_get(&proc.addr, "/healthz").await;
    assert_eq!(status, 200, "the process serves");
    let (status, body) = http_get(&proc.addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("store: not open") && body.contains(dir.to_str().unwrap()),
        "{body}"
    );
    assert_eq!(
        process_metric(&proc.addr, "liveguard_store_up").await,
        Some(0.0)
    );

    // The operator fixes the directory; the server notices on its own.
    std::fs::remove_file(&dir).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(&proc.addr, "/readyz").await;
        if status == 200 {
            assert!(body.contains("\"ready\""), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        process_metric(&proc.addr, "liveguard_store_up").await,
        Some(1.0)
    );
    send(&mut platform, chat("x2", "r", "u2", "viewer", "加微信")).await;
    let lines = answer(&mut platform).await;
    let id = lines
        .iter()
        .find_map(|l| l["action_id"].as_str())
        .expect("an action")
        .to_owned();
    let exported = action_ids(&export_with(&["--data"], &dir));
    assert!(exported.contains(&id), "kept once the store is back");
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A store written by a newer liveguard is refused (its schema is unknown), and the
/// server says why instead of reporting itself ready.
#[tokio::test]
async fn a_store_of_a_newer_schema_is_refused_and_reported() {
    let dir = data_dir("newer-schema");
    std::fs::create_dir_all(&dir).unwrap();
    let db = rusqlite::Connection::open(dir.join("liveguard.db")).unwrap();
    db.pragma_update(None, "user_version", 999).unwrap();
    drop(db);
    let server = Server::start(config_at(&dir)).await;
    let (status, body) = server.http("GET", "/readyz", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("newer than this build"), "{body}");
    let mut platform = server.ingest().await;
    send(&mut platform, chat("n1", "r", "u1", "viewer", "加微信")).await;
    assert_eq!(answer(&mut platform).await[0]["decision"], "block");
}

/// Issue 12, item 6: a term typed across messages is judged on the last one, and the
/// earlier ones were allowed and so never stored as events of their own. The evidence
/// still shows every fragment that made the hit: the alert records each earlier
/// event's part, and the export carries it.
#[tokio::test]
async fn a_split_term_exports_every_fragment_that_made_the_hit() {
    let dir = data_dir("fragments");
    let mut server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    for (id, text) in [("s1", "加"), ("s2", "微"), ("s3", "信")] {
        send(&mut platform, chat(id, "room-f", "u1", "viewer", text)).await;
        let answer = answer(&mut platform).await;
        if id == "s3" {
            let hit = &answer[0]["hits"][0];
            assert_eq!(hit["window"], serde_json::json!(["s1", "s2"]));
            assert_eq!(
                hit["fragments"],
                serde_json::json!([{"id":"s1","matched":"加"},{"id":"s2","matched":"微"}])
            );
        }
    }
    server.shut_down();
    let _ = (&mut server.handle).await;
    let lines = export("room-f", "--data", &dir);
    let hide = lines
        .iter()
        .find(|l| l["type"] == "hide_message")
        .expect("the completed term was acted on");
    let evidence = hide["evidence_events"].as_array().unwrap();
    let ids: Vec<&str> = evidence.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["s1", "s2", "s3"]);
    assert_eq!(evidence[0]["fragment"], "加", "{evidence:?}");
    assert_eq!(evidence[1]["fragment"], "微");
    assert_eq!(evidence[2]["text"], "信");
    assert!(
        evidence
            .iter()
            .all(|e| e.get("stored") != Some(&Value::Bool(false))),
        "no fragment is missing: {evidence:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12, item 15: a fresh process exports its own CPU, memory, threads and file
/// descriptors, and every counter at 0 before anything has happened, so dashboards
/// and alert rules see each series from the start.
#[tokio::test]
async fn a_fresh_process_exports_process_metrics_and_every_counter_at_zero() {
    let dir = data_dir("fresh-metrics");
    let mut proc = spawn_server_with(&dir, "");
    let (_, text) = http_get(&proc.addr, "/metrics").await;
    let sample = |series: &str| -> Option<f64> {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
    };
    for gauge in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_max_fds",
        "process_threads",
    ] {
        assert!(sample(gauge).is_some_and(|v| v > 0.0), "{gauge}:\n{text}");
    }
    assert!(sample("process_cpu_seconds_total").is_some(), "{text}");
    for counter in [
        "liveguard_alerts_published_total",
        "liveguard_store_unstored_total",
        "liveguard_answers_uncommitted_total",
        "liveguard_subscribers_lagged_total",
        "liveguard_auth_denied_total{reason=\"origin\"}",
        "liveguard_limited_total{limit=\"pings\"}",
        "liveguard_lexicon_reloads_total{result=\"error\"}",
        "liveguard_reviews_total{outcome=\"approve\",by=\"moderator\"}",
        "liveguard_ingest_errors_total{reason=\"json\"}",
    ] {
        assert_eq!(sample(counter), Some(0.0), "{counter} at 0 from the start");
    }
    proc.child.kill().unwrap();
    proc.child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The real binary with `--log-format json` and `config`; every stderr line is kept.
fn spawn_json_logging(data: &std::path::Path, config: &str) -> (Process, Arc<Mutex<Vec<String>>>) {
    let config_file = data.with_extension("toml");
    std::fs::write(&config_file, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveguard"))
        .args([
            "serve",
            "--log-format",
            "json",
            "--listen",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .arg("--config")
        .arg(&config_file)
        .env("LIVEGUARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "the server exited early"
        );
        lines.lock().unwrap().push(line.clone());
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if let Some(a) = v["addr"].as_str() {
            break a.to_owned();
        }
    };
    let keep = lines.clone();
    std::thread::spawn(move || {
        for line in log.lines().map_while(Result::ok) {
            keep.lock().unwrap().push(line);
        }
    });
    (Process { child, addr }, lines)
}

/// Issue 12, item 14: JSON logs, one object a line, that say who connected from where
/// and for how long, who changed a tier, and refused tokens without a flood.
#[tokio::test]
async fn json_logs_name_connections_tier_changes_and_refusals_without_flooding() {
    let dir = data_dir("json-logs");
    let admin = "admin-secret-for-the-json-log-test-0001";
    let ingest = "ingest-secret-for-the-json-log-test-002";
    let config = format!(
        "[[auth.tokens]]\nname = \"ops\"\nscope = \"admin\"\nsha256 = \"{}\"\n\
         [[auth.tokens]]\nname = \"shop\"\nscope = \"ingest\"\nsha256 = \"{}\"\n",
        liveguard::auth::hash_hex(admin),
        liveguard::auth::hash_hex(ingest)
    );
    let (proc, lines) = spawn_json_logging(&dir, &config);
    let url = format!("ws://{}/v1/ingest", proc.addr);
    let mut platform = connect_as(&url, Some(ingest)).await.unwrap();
    send(&mut platform, chat("j1", "r1", "u1", "viewer", "你好")).await;
    answer(&mut platform).await;
    platform.close(None).await.unwrap();
    drop(platform);
    // A client retrying a bad token in a loop.
    for _ in 0..30 {
        assert_eq!(connect_as(&url, Some("wrong")).await.err(), Some(401));
    }
    let request = format!(
        "PUT /v1/rooms/r1/tier HTTP/1.1\r\nhost: x\r\nconnection: close\r\nauthorization: Bearer {admin}\r\ncontent-type: application/json\r\ncontent-length: 19\r\n\r\n{{\"tier\":\"enhanced\"}}"
    );
    let mut s = tokio::net::TcpStream::connect(&proc.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut s, request.as_bytes())
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut reply)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&reply).starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logged: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("not one JSON object a line: {e}: {l}"))
        })
        .collect();
    let with = |message: &str| -> Vec<&Value> {
        logged.iter().filter(|v| v["message"] == message).collect()
    };
    let opened = with("Connection opened.");
    assert!(
        opened.iter().any(|v| v["route"] == "ingest"
            && v["token"] == "shop"
            && v["peer"]
                .as_str()
                .is_some_and(|p| p.starts_with("127.0.0.1:"))),
        "{opened:?}"
    );
    let closed = with("Connection closed.");
    assert!(
        closed.iter().any(|v| v["token"] == "shop"
            && v["why"] == "peer closed"
            && v["duration_s"].as_f64().is_some()),
        "{closed:?}"
    );
    let tier = with("Room tier set.");
    assert!(
        tier.iter().any(|v| v["by"] == "ops" && v["room"] == "r1"),
        "{tier:?}"
    );
    let refused = with("Token refused.");
    assert!(
        (1..=2).contains(&refused.len()),
        "30 refusals, {} lines: {refused:?}",
        refused.len()
    );
    drop(proc);
    let _ = std::fs::remove_dir_all(&dir);
}
