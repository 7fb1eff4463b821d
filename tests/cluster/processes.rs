//! The cluster as users run it: real nats-server, real `liveguard serve --nats`
//! gateways, `liveguard worker`s and `liveguard archive`, a real WebSocket platform,
//! and `liveguard scan` over the same events as the oracle.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use liveguard::cluster::{Bus, DEFAULT_PARTITIONS, Leases};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::nats::{Liveguard, NatsServer};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What must match between the cluster and one process: each event's decision and
/// its action ids.
type Judged = (String, Vec<String>);

/// These tests start a broker and several liveguard processes each; on a small
/// machine, running them side by side makes their failover timings meaningless.
/// Each holds this for its whole run.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static ONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ONE.lock().await
}

/// A scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("liveguard-cluster-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The dev corpus, then room state across events: a term split over three messages,
/// and one sender's repeated violations climbing the strike ladder.
fn corpus() -> Vec<String> {
    let mut lines: Vec<String> = include_str!("../fixtures/dev.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    for (i, text) in ["加", "微", "信"].iter().enumerate() {
        lines.push(format!(
            r#"{{"kind":"chat","id":"split-{i}","room":"room-split","user":"u-split","ts":{},"text":"{text}"}}"#,
            1_767_750_100_000u64 + i as u64
        ));
    }
    for i in 0..8 {
        lines.push(format!(
            r#"{{"kind":"chat","id":"repeat-{i}","room":"room-repeat","user":"u-repeat","ts":{},"text":"加我微信私聊"}}"#,
            1_767_750_100_000u64 + i * 1000
        ));
    }
    // Clear pricing: a listing, a sale, a compared price above the 7-day low and the
    // host's original price. The room's partition keeps the item's history, as scan
    // does, and rebuilds it on takeover.
    let (t, day) = (1_767_750_100_000u64, 86_400_000u64);
    lines.extend([
        format!(
            r#"{{"kind":"listing","id":"price-0","room":"room-price","item":"sku-1","title":"羊毛围巾","price":99,"unit":"条","ts":{}}}"#,
            t - 3 * day
        ),
        format!(
            r#"{{"kind":"sale","id":"price-1","room":"room-price","item":"sku-1","price":89,"ts":{}}}"#,
            t - 2 * day
        ),
        format!(
            r#"{{"kind":"listing","id":"price-2","room":"room-price","item":"sku-1","title":"羊毛围巾","price":99,"unit":"条","compared_price":199,"compared_label":"划线价","ts":{t}}}"#
        ),
        format!(
            r#"{{"kind":"transcript","id":"price-3","room":"room-price","speaker":"host","text":"原价五百九十九","ts":{}}}"#,
            t + 1000
        ),
    ]);
    lines
}

/// `liveguard scan` over `lines`: each event's decision and action ids.
fn oracle(lines: &[String], dir: &Path) -> HashMap<String, Judged> {
    let file = dir.join("oracle-input.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_liveguard"))
        .arg("scan")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut judged = HashMap::new();
    for (id, j) in verdicts(&String::from_utf8(out.stdout).unwrap()) {
        judged.insert(id, j.expect("scan judges every corpus line"));
    }
    assert_eq!(judged.len(), lines.len());
    judged
}

/// The verdicts of an answer (scan output or an ingest answer frame), by event id:
/// a decision and action ids, or the error code of an error line.
fn verdicts(answer: &str) -> Vec<(String, Result<Judged, String>)> {
    answer
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let id = v["id"].as_str().map(str::to_owned);
            match v["kind"].as_str() {
                Some("verdict") => {
                    let actions = v["actions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect();
                    Some((
                        id.unwrap(),
                        Ok((v["decision"].as_str().unwrap().to_owned(), actions)),
                    ))
                }
                Some("error") => Some((
                    id.expect("cluster errors name their event"),
                    Err(format!("{}: {}", v["code"], v["message"])),
                )),
                _ => None,
            }
        })
        .collect()
}

/// A platform's ingest connection to a gateway.
async fn platform(addr: &str) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ingest"))
        .await
        .unwrap()
        .0
}

/// Send one frame and read its answer frame.
async fn exchange(ws: &mut Ws, lines: &[String]) -> String {
    ws.send(Message::Text(lines.join("\n").into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("a frame is answered")
        {
            Some(Ok(Message::Text(t))) => return t.to_string(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("the gateway closed: {other:?}"),
        }
    }
}

/// Every verdict received, by event id, in the order received.
#[derive(Default)]
struct Received {
    verdicts: HashMap<String, Vec<Judged>>,
    errors: Vec<(String, String)>,
    /// The longest time a frame waited for its answer.
    slowest: Duration,
}

impl Received {
    fn take(&mut self, answer: &str) -> Vec<String> {
        let mut failed = Vec::new();
        for (id, v) in verdicts(answer) {
            match v {
                Ok(j) => self.verdicts.entry(id).or_default().push(j),
                Err(e) => {
                    self.errors.push((id.clone(), e));
                    failed.push(id);
                }
            }
        }
        failed
    }

    /// Every event judged exactly once, as the oracle judged it.
    fn assert_matches(&self, oracle: &HashMap<String, Judged>) {
        let twice: Vec<&String> = self
            .verdicts
            .iter()
            .filter(|(_, v)| v.len() > 1)
            .map(|(id, _)| id)
            .collect();
        assert!(twice.is_empty(), "answered twice: {twice:?}");
        let missing: Vec<&String> = oracle
            .keys()
            .filter(|id| !self.verdicts.contains_key(*id))
            .collect();
        assert!(
            missing.is_empty(),
            "{} events never judged, e.g. {:?}; errors {:?}",
            missing.len(),
            missing.first(),
            self.errors.first()
        );
        let differ: Vec<&String> = oracle
            .keys()
            .filter(|id| self.verdicts[*id][0] != oracle[*id])
            .collect();
        assert!(
            differ.is_empty(),
            "{} of {} verdicts differ from one process, e.g. {:?}: {:?} vs {:?}",
            differ.len(),
            oracle.len(),
            differ.first(),
            differ.first().map(|id| &oracle[*id]),
            differ.first().map(|id| &self.verdicts[*id])
        );
    }
}

/// Wait until every partition is held by `workers` live workers (and a tick more,
/// for the rebalance to settle).
async fn wait_for_workers(url: &str, workers: usize) {
    let bus = Bus::connect_for_alerts(url).await.unwrap();
    let leases = Leases::open(&bus, "observer", Duration::from_secs(1))
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let h = leases.holdings().await.unwrap();
        if h.workers.len() == workers && h.held.len() == usize::from(DEFAULT_PARTITIONS) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "partitions not served: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
}

/// The action ids `liveguard export` finds in the archiver's store, with their
/// counts, once the store holds `expected` of them (or 30 s passed).
fn exported(data: &Path, expected: usize) -> BTreeMap<String, usize> {
    let start = Instant::now();
    loop {
        let out = Command::new(env!("CARGO_BIN_EXE_liveguard"))
            .args(["export", "--data"])
            .arg(data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut ids = BTreeMap::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            *ids.entry(v["action_id"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        if ids.len() >= expected || start.elapsed() > Duration::from_secs(30) {
            return ids;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every action id of the oracle in the evidence, each exactly once, and nothing
/// else.
fn assert_evidence(data: &Path, oracle: &HashMap<String, Judged>) {
    let mut expected: Vec<&String> = oracle.values().flat_map(|(_, a)| a).collect();
    expected.sort();
    expected.dedup();
    let stored = exported(data, expected.len());
    let doubled: Vec<_> = stored.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "actions stored twice: {doubled:?}");
    let stored: Vec<&String> = stored.keys().collect();
    assert_eq!(stored, expected, "the evidence holds the oracle's actions");
}

/// A cluster: nats-server, the archiver, `workers` workers, one gateway.
struct Cluster {
    nats: NatsServer,
    dir: PathBuf,
    _archiver: Liveguard,
    workers: Vec<Liveguard>,
    gateway: Liveguard,
    addr: String,
}

impl Cluster {
    /// `config`: the TOML of the gateway and the workers.
    async fn start(name: &str, workers: usize, config: &str) -> Cluster {
        let nats = NatsServer::start(name);
        let dir = scratch(name);
        let archiver = Liveguard::archiver(&nats.url, &dir.join("evidence"));
        let worker_config = dir.join("worker.toml");
        std::fs::write(&worker_config, config).unwrap();
        let workers: Vec<Liveguard> = (0..workers)
            .map(|i| {
                let name = format!("{name}-w{i}");
                Liveguard::worker(
                    &nats.url,
                    &name,
                    &["--config", worker_config.to_str().unwrap()],
                )
            })
            .collect();
        let (gateway, addr) = Liveguard::gateway(&nats.url, &dir.join("gateway"), config);
        wait_for_workers(&nats.url, workers.len()).await;
        Cluster {
            nats,
            dir,
            _archiver: archiver,
            workers,
            gateway,
            addr,
        }
    }
}

/// Same answers as one process: the corpus through one gateway to 1, 2 and 4
/// workers (the last with the partitions spread over 4 events streams) gets, event
/// for event, the verdicts and action ids `liveguard scan` gives, split terms and
/// strike ladders included; the archiver's store holds every action once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gateway_and_one_two_or_four_workers_answer_as_one_process() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("oracle"));
    assert_ne!(
        oracle["split-2"].0, "allow",
        "the split term is caught on its last part"
    );
    assert!(
        oracle["repeat-7"].1.len() > oracle["repeat-0"].1.len(),
        "the ladder climbs"
    );
    assert_eq!(
        oracle["price-2"].0, "block",
        "the compared price is checked against the sale"
    );
    assert_ne!(oracle["price-3"].1.len(), 0, "the host's claim too");
    for (workers, config) in [(1, ""), (2, ""), (4, "[cluster]\nstreams = 4\n")] {
        let cluster = Cluster::start(&format!("same-{workers}"), workers, config).await;
        let mut ws = platform(&cluster.addr).await;
        let mut received = Received::default();
        for frame in lines.chunks(25) {
            received.take(&exchange(&mut ws, frame).await);
        }
        assert!(
            received.errors.is_empty(),
            "{workers} workers: {:?}",
            received.errors
        );
        received.assert_matches(&oracle);
        assert_evidence(&cluster.dir.join("evidence"), &oracle);
        if workers == 4 {
            let bus = Bus::connect_for_alerts(&cluster.nats.url).await.unwrap();
            let js = bus.jetstream();
            assert!(
                js.get_stream("LIVEGUARD_EVENTS_3").await.is_ok(),
                "4 events streams"
            );
            assert!(
                js.get_stream("LIVEGUARD_EVENTS").await.is_err(),
                "and no other"
            );
        }
    }
}

/// Worker failure: with events flowing to 4 workers, one is killed (SIGKILL). Every
/// event still gets exactly one verdict, the oracle's; the dead worker's partitions
/// answer again within 5 s; the evidence holds every action once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_no_event_and_doubles_no_action() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("kill-oracle"));
    let mut cluster = Cluster::start("kill", 4, "").await;
    let mut ws = platform(&cluster.addr).await;
    let mut received = Received::default();
    let frames: Vec<&[String]> = lines.chunks(10).collect();
    let kill_at = frames.len() / 3;
    for (i, frame) in frames.iter().enumerate() {
        if i == kill_at {
            cluster.workers[1].kill();
        }
        let sent = Instant::now();
        received.take(&exchange(&mut ws, frame).await);
        received.slowest = received.slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(received.errors.is_empty(), "{:?}", received.errors);
    received.assert_matches(&oracle);
    assert!(
        received.slowest < Duration::from_secs(5),
        "the dead worker's partitions answered again after {:?}",
        received.slowest
    );
    // For docs/SCALING.md's failure matrix.
    eprintln!(
        "kill -9 of 1 of 4 workers: slowest frame {:?}; takeovers: {:?}",
        received.slowest,
        cluster
            .workers
            .iter()
            .flat_map(|w| w.lines_with("floor="))
            .filter(|l| !l.contains("floor=0 "))
            .filter_map(|l| l
                .split_whitespace()
                .find_map(|w| w.strip_prefix("took_ms="))
                .map(str::to_owned))
            .collect::<Vec<_>>()
    );
    assert_evidence(&cluster.dir.join("evidence"), &oracle);

    // A worker stopped cleanly (SIGTERM) exits 0 and hands its partitions over at
    // once; the room state moves with them (the ladder goes on climbing).
    let status = cluster.workers.remove(2).stop();
    assert!(status.success(), "{status}");
    wait_for_workers(&cluster.nats.url, 2).await;
    let more: Vec<String> = (8..12)
        .map(|i| {
            format!(
                r#"{{"kind":"chat","id":"repeat-{i}","room":"room-repeat","user":"u-repeat","ts":{},"text":"加我微信私聊"}}"#,
                1_767_750_100_000u64 + i * 1000
            )
        })
        .collect();
    let mut after = Received::default();
    after.take(&exchange(&mut ws, &more).await);
    assert!(after.errors.is_empty(), "{:?}", after.errors);
    assert_eq!(after.verdicts.len(), more.len());
    assert!(
        after.verdicts["repeat-11"][0].1.len() >= oracle["repeat-7"].1.len(),
        "the ladder kept its strikes: {:?} after {:?}",
        after.verdicts["repeat-11"],
        oracle["repeat-7"]
    );
}

/// A worker paused past its lease (a GC pause, a frozen VM: SIGSTOP here) is fenced:
/// the other worker takes its partitions over and answers their events; when it
/// wakes, its renewals are refused, it stops serving them and counts each lease
/// lost. Every event still gets the oracle's verdict, and the evidence holds every
/// action of the oracle exactly once, whatever the woken worker sent before it
/// noticed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_worker_is_fenced_and_doubles_no_action() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("pause-oracle"));
    let cluster = Cluster::start("pause", 2, "").await;
    let mut ws = platform(&cluster.addr).await;
    let mut received = Received::default();
    let frames: Vec<&[String]> = lines.chunks(10).collect();
    let pause_at = frames.len() / 3;
    // Three lease times (1 s leases): long past the lease and the other's takeover.
    let pause = Duration::from_secs(3);
    let mut paused: Option<Instant> = None;
    for (i, frame) in frames.iter().enumerate() {
        if i == pause_at {
            cluster.workers[1].signal("STOP");
            paused = Some(Instant::now());
        }
        if paused.is_some_and(|at| at.elapsed() >= pause) {
            cluster.workers[1].signal("CONT");
            paused = None;
        }
        received.take(&exchange(&mut ws, frame).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(at) = paused {
        tokio::time::sleep(pause.saturating_sub(at.elapsed())).await;
        cluster.workers[1].signal("CONT");
    }
    cluster.workers[1].wait_for("Lease lost", Duration::from_secs(20));
    assert!(received.errors.is_empty(), "{:?}", received.errors);
    received.assert_matches(&oracle);
    assert_evidence(&cluster.dir.join("evidence"), &oracle);
}

/// Gateway failure: a platform whose gateway dies (SIGKILL) before answering
/// reconnects to another and resends everything unanswered, same ids. It gets every
/// verdict (the oracle's, also for events the dead gateway had already sent on), and
/// no action is doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_through_another_gateway_is_answered_and_not_doubled() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("gw-oracle"));
    let mut cluster = Cluster::start("gateway", 2, "").await;
    let (second, second_addr) =
        Liveguard::gateway(&cluster.nats.url, &cluster.dir.join("gateway-2"), "");
    let half = lines.len() / 2;
    // The first half goes to the first gateway, whose answers are never read.
    let mut ws = platform(&cluster.addr).await;
    for frame in lines[..half].chunks(25) {
        ws.send(Message::Text(frame.join("\n").into()))
            .await
            .unwrap();
    }
    // Give it time to send on what it read, then kill it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.gateway.kill();
    drop(ws);
    // Everything (the first half unanswered, the second half new) through the other.
    let mut ws = platform(&second_addr).await;
    let mut received = Received::default();
    for frame in lines.chunks(25) {
        received.take(&exchange(&mut ws, frame).await);
    }
    assert!(received.errors.is_empty(), "{:?}", received.errors);
    received.assert_matches(&oracle);
    assert_evidence(&cluster.dir.join("evidence"), &oracle);
    drop(second);
}

/// Broker restart: nats-server is killed and restarted on its storage mid-stream.
/// Events sent while it is down are answered `unavailable`; the platform resends
/// them; in the end every event has the oracle's verdict once, and the evidence
/// holds every action once: nothing the broker acknowledged was lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_loses_no_acknowledged_event_or_action() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("broker-oracle"));
    let mut cluster = Cluster::start("broker", 2, "[cluster]\nanswer_timeout_ms = 3000\n").await;
    let mut ws = platform(&cluster.addr).await;
    let mut received = Received::default();
    let frames: Vec<&[String]> = lines.chunks(25).collect();
    let by_id: HashMap<String, &String> = lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["id"].as_str().unwrap().to_owned(), l)
        })
        .collect();
    let mut unanswered: Vec<String> = Vec::new();
    // Down for longer than the gateway waits for an answer (3 s), with events
    // still arriving.
    let restart_at = frames.len() / 2;
    let mut down_since = None;
    for (i, frame) in frames.iter().enumerate() {
        if i == restart_at {
            cluster.nats.kill();
            down_since = Some(Instant::now());
        }
        if down_since.is_some_and(|t| t.elapsed() > Duration::from_secs(4)) {
            cluster.nats.start_again();
            down_since = None;
        }
        let failed = received.take(&exchange(&mut ws, frame).await);
        unanswered.extend(failed.iter().map(|id| by_id[id].clone()));
    }
    if down_since.is_some() {
        cluster.nats.start_again();
    }
    let resent = unanswered.len();
    assert!(resent > 0, "the restart left some events unanswered");
    // Resend what was not judged until everything is.
    let start = Instant::now();
    while !unanswered.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} events still unanswered: {:?}",
            unanswered.len(),
            received.errors.last()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let retry = std::mem::take(&mut unanswered);
        for frame in retry.chunks(25) {
            let failed = received.take(&exchange(&mut ws, frame).await);
            unanswered.extend(failed.iter().map(|id| by_id[id].clone()));
        }
    }
    received.errors.clear();
    received.assert_matches(&oracle);
    assert_evidence(&cluster.dir.join("evidence"), &oracle);
}

/// Read a feed until it has been quiet for 2 s: every alert's seq and event id.
async fn read_feed(ws: &mut Ws) -> Vec<(u64, String)> {
    let mut seen = Vec::new();
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["kind"] == "alert" {
                seen.push((
                    v["seq"].as_u64().unwrap(),
                    v["event"]["id"].as_str().unwrap().to_owned(),
                ));
            }
        }
    }
    seen
}

/// The feed is the alerts stream: a moderator on one gateway sees, live, the alerts
/// of events sent through another, numbered by the stream; one who connects later
/// to either gateway with `since=0` gets the same records with the same seqs, from
/// memory and, past the gateway's short history, from the stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_gateway_serves_the_same_feed_with_the_streams_seqs() {
    let _one_at_a_time = serial().await;
    let lines = corpus();
    let oracle = oracle(&lines, &scratch("feed-oracle"));
    let flagged: std::collections::BTreeSet<&String> = oracle
        .iter()
        .filter(|(_, (decision, actions))| decision != "allow" || !actions.is_empty())
        .map(|(id, _)| id)
        .collect();
    let config = "[alerts]\nhistory = 100\n";
    let cluster = Cluster::start("feed", 2, config).await;
    let (_second, second_addr) =
        Liveguard::gateway(&cluster.nats.url, &cluster.dir.join("gateway-2"), config);
    let (mut live, _) = tokio_tungstenite::connect_async(format!("ws://{second_addr}/v1/alerts"))
        .await
        .unwrap();
    let mut ws = platform(&cluster.addr).await;
    for frame in lines.chunks(25) {
        exchange(&mut ws, frame).await;
    }
    let seen_live = read_feed(&mut live).await;
    let ids: std::collections::BTreeSet<&String> = seen_live.iter().map(|(_, id)| id).collect();
    assert_eq!(
        ids, flagged,
        "every flagged event's alert, live, on the other gateway"
    );
    let seqs: Vec<u64> = seen_live.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=flagged.len() as u64).collect::<Vec<_>>(),
        "the stream's seqs, in order"
    );
    for addr in [&cluster.addr, &second_addr] {
        let (mut replay, _) =
            tokio_tungstenite::connect_async(format!("ws://{addr}/v1/alerts?since=0"))
                .await
                .unwrap();
        assert_eq!(read_feed(&mut replay).await, seen_live, "since=0 on {addr}");
    }
}

/// A WebSocket whose JSON lines are read into a buffer, so that waiting for one
/// kind of line does not throw away others that came first.
struct Lines {
    ws: Ws,
    seen: std::collections::VecDeque<Value>,
}

impl Lines {
    fn new(ws: Ws) -> Lines {
        Lines {
            ws,
            seen: Default::default(),
        }
    }

    /// The first line (seen or still to come, within 10 s) that satisfies `pred`.
    async fn take(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(at) = self.seen.iter().position(&pred) {
                return self.seen.remove(at).unwrap();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => self
                    .seen
                    .extend(t.lines().map(|l| serde_json::from_str::<Value>(l).unwrap())),
                Ok(Some(Ok(_))) => {}
                other => panic!("no {what}: {other:?}; seen {:?}", self.seen),
            }
        }
    }
}

/// Reviews in a cluster: a message held through one gateway is offered to
/// moderators on every gateway; the first decision stored wins (the second
/// moderator, on the other gateway, is told), the platform hears the outcome on the
/// connection that sent the event, and every feed shows one review record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_review_through_any_gateway_decides_a_hold_once() {
    let _one_at_a_time = serial().await;
    let cluster = Cluster::start("review", 2, "").await;
    let (_second, second_addr) =
        Liveguard::gateway(&cluster.nats.url, &cluster.dir.join("gateway-2"), "");
    let feed = |addr: String| async move {
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/alerts"))
            .await
            .unwrap()
            .0
    };
    let mut here = Lines::new(feed(cluster.addr.clone()).await);
    let mut there = Lines::new(feed(second_addr.clone()).await);
    let mut ws = platform(&cluster.addr).await;
    let answer = exchange(
        &mut ws,
        &[r#"{"kind":"chat","id":"held-1","room":"room-16","user":"u1","text":"兄弟们拼多多链接"}"#.to_owned()],
    )
    .await;
    assert!(answer.contains(r#""decision":"hold""#), "{answer}");
    let mut ws = Lines::new(ws);
    let is_alert = |v: &Value| v["kind"] == "alert";
    let seq = there.take("alert", is_alert).await["seq"].as_u64().unwrap();
    assert_eq!(here.take("alert", is_alert).await["seq"], seq);
    // The console's queue of pending holds reads the same on either gateway.
    for addr in [&cluster.addr, &second_addr] {
        let (status, body) = http(addr, "GET", "/v1/holds", "").await;
        let holds: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(holds["holds"][0]["seq"], seq, "{addr}: {body}");
        assert_eq!(holds["holds"][0]["event"]["id"], "held-1", "{addr}: {body}");
    }

    let review = |decision: &str| {
        Message::Text(format!(r#"{{"kind":"review","seq":{seq},"decision":"{decision}"}}"#).into())
    };
    let reply = |v: &Value| v["kind"] == "review_ack" || v["kind"] == "error";
    there.ws.send(review("approve")).await.unwrap();
    let ack = there.take("review reply", reply).await;
    assert_eq!(ack["kind"], "review_ack", "{ack}");
    here.ws.send(review("reject")).await.unwrap();
    let refused = here.take("review reply", reply).await;
    assert_eq!(
        refused["kind"], "error",
        "the second moderator is told: {refused}"
    );

    let outcome = ws.take("review outcome", |v| v["kind"] == "review").await;
    assert_eq!(outcome["id"], "held-1");
    assert_eq!(outcome["decision"], "approve");
    for (name, feed) in [("here", &mut here), ("there", &mut there)] {
        let record = feed.take("review record", |v| v["kind"] == "review").await;
        assert_eq!(record["ref"], seq, "{name}");
        assert_eq!(record["decision"], "approve", "{name}");
        assert_eq!(
            record["seq"],
            seq + 1,
            "{name}: the stream numbers reviews too"
        );
    }
    // Once the decision has come through the feed, a late review is told who made it.
    here.ws.send(review("reject")).await.unwrap();
    let refused = here.take("review reply", reply).await;
    assert_eq!(refused["decided"]["decision"], "approve", "{refused}");
    assert_eq!(refused["decided"]["review_seq"], seq + 1, "{refused}");
    let (_, body) = http(&cluster.addr, "GET", "/v1/holds", "").await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["holds"],
        serde_json::json!([])
    );
    // A gateway checks scripts with its own copy of the lexicon.
    let (status, body) = http(
        &second_addr,
        "POST",
        "/v1/check",
        r#"{"text":"全网最低价"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("pr.network_lowest"), "{body}");
}

/// An HTTP/1.1 request; the status and body.
async fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// Tiers in a cluster: set through one gateway, read through another, applied by
/// the partition that judges the room, and kept when that partition's worker dies
/// and another takes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rooms_tier_reaches_its_partition_and_survives_a_failover() {
    let _one_at_a_time = serial().await;
    let mut cluster = Cluster::start("tier", 2, "").await;
    let (_second, second_addr) =
        Liveguard::gateway(&cluster.nats.url, &cluster.dir.join("gateway-2"), "");
    let (status, body) = http(
        &second_addr,
        "PUT",
        "/v1/rooms/r9/tier",
        r#"{"tier":"enhanced"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http(&cluster.addr, "GET", "/v1/rooms/r9/tier", "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"tier":"enhanced"}"#));
    // Enhanced rooms tighten: a host's medium slip is blocked rather than masked.
    let slip = |id: &str, room: &str| {
        format!(
            r#"{{"kind":"chat","id":"{id}","room":"{room}","user":"h","role":"host","text":"这款是最好的"}}"#
        )
    };
    let mut ws = platform(&cluster.addr).await;
    let decisions = |answer: String| -> Vec<String> {
        verdicts(&answer)
            .into_iter()
            .map(|(_, v)| v.unwrap().0)
            .collect()
    };
    let answer = exchange(&mut ws, &[slip("t1", "r9"), slip("t2", "r-plain")]).await;
    assert_eq!(decisions(answer), ["block", "mask"]);

    // Kill the worker serving r9; its successor still knows the tier.
    let bus = Bus::connect_for_alerts(&cluster.nats.url).await.unwrap();
    let p = liveguard::cluster::partition_of("r9", DEFAULT_PARTITIONS);
    let leases = bus.jetstream().get_key_value("lg-leases").await.unwrap();
    let holder = leases.get(format!("p-{p}")).await.unwrap().unwrap();
    let holder = String::from_utf8(holder.to_vec()).unwrap();
    let at = if holder.ends_with("w0") { 0 } else { 1 };
    cluster.workers[at].kill();
    let answer = exchange(&mut ws, &[slip("t3", "r9")]).await;
    assert_eq!(
        decisions(answer),
        ["block"],
        "the tier moved with the partition"
    );
}

/// A reload through a gateway reaches every worker: each rebuilds its lexicon from
/// its directory, says which version it runs, and judges by it from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_through_a_gateway_reloads_every_worker() {
    let _one_at_a_time = serial().await;
    let nats = NatsServer::start("reload");
    let dir = scratch("reload");
    let lexicon = dir.join("lexicon");
    std::fs::create_dir_all(&lexicon).unwrap();
    let policy = |v: &str| format!("version = \"{v}\"\n[[decide]]\ndecision = \"block\"\n");
    let entries = |terms: &[(&str, &str)]| {
        let mut toml = "category = \"diversion\"\n".to_owned();
        for (id, term) in terms {
            toml += &format!(
                "[[entry]]\nid = \"{id}\"\nterm = \"{term}\"\nseverity = \"high\"\nnote = \"test\"\n"
            );
        }
        toml
    };
    std::fs::write(lexicon.join("policy.toml"), policy("v1")).unwrap();
    std::fs::write(lexicon.join("d.toml"), entries(&[("dv.a", "飞鸽传书")])).unwrap();
    let lex = lexicon.to_str().unwrap();
    let _workers: Vec<Liveguard> = (0..2)
        .map(|i| Liveguard::worker(&nats.url, &format!("reload-w{i}"), &["--lexicons", lex]))
        .collect();
    let config = format!("lexicons = {lex:?}\n");
    let (_gateway, addr) = Liveguard::gateway(&nats.url, &dir.join("gateway"), &config);
    wait_for_workers(&nats.url, 2).await;
    let mut ws = platform(&addr).await;
    let line = |id: &str| format!(r#"{{"kind":"chat","id":"{id}","room":"r1","text":"来用信鸽"}}"#);
    let answer = exchange(&mut ws, &[line("before")]).await;
    assert!(answer.contains(r#""decision":"allow""#), "{answer}");

    std::fs::write(lexicon.join("policy.toml"), policy("v2")).unwrap();
    std::fs::write(
        lexicon.join("d.toml"),
        entries(&[("dv.a", "飞鸽传书"), ("dv.b", "信鸽")]),
    )
    .unwrap();
    let (status, body) = http(&addr, "POST", "/v1/lexicon/reload", "").await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["version"], "v2");
    let workers = answer["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2, "{body}");
    for w in workers {
        assert_eq!(w["lexicon"], "v2", "{body}");
        assert!(w.get("error").is_none(), "{body}");
    }
    let answer = exchange(&mut ws, &[line("after")]).await;
    assert!(answer.contains(r#""decision":"block""#), "{answer}");
}

/// One archiver per store: a second one on the same data directory refuses to
/// start, naming the holder, rather than split the stream with the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_archiver_on_the_same_store_refuses_to_start() {
    let _one_at_a_time = serial().await;
    let nats = NatsServer::start("archivers");
    let data = scratch("archivers").join("evidence");
    let _first = Liveguard::archiver(&nats.url, &data);
    let second = Command::new(env!("CARGO_BIN_EXE_liveguard"))
        .args(["archive", "--nats", &nats.url, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another liveguard"), "{err}");
}

/// Workers and the archiver serve `/metrics` on `--metrics`: the partitions a worker
/// serves, the events it judged, its takeovers; what the archiver stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_the_archiver_export_their_metrics() {
    let _one_at_a_time = serial().await;
    let nats = NatsServer::start("metrics");
    let dir = scratch("metrics");
    let metrics_addr = |p: &Liveguard| {
        p.line_with("Serving /metrics.")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("addr="))
            .unwrap()
            .to_owned()
    };
    let worker = Liveguard::worker(&nats.url, "metrics-w0", &["--metrics", "127.0.0.1:0"]);
    let archiver = Liveguard::start(
        &[
            "archive",
            "--nats",
            &nats.url,
            "--data",
            dir.join("evidence").to_str().unwrap(),
            "--metrics",
            "127.0.0.1:0",
        ],
        "Archiving the cluster's alerts.",
    );
    let (_gateway, addr) = Liveguard::gateway(&nats.url, &dir.join("gateway"), "");
    wait_for_workers(&nats.url, 1).await;
    let mut ws = platform(&addr).await;
    let lines: Vec<String> = corpus().into_iter().take(100).collect();
    exchange(&mut ws, &lines).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let value = |text: &str, name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
    };
    // A lone worker takes its partitions a few at a time (each lease, then each
    // rebuild): wait until it holds all 64 (events of partitions it had not taken yet
    // were answered once it had). Quiet, that takes a few seconds; the bound is for a
    // machine that is busy with other builds (one CI run saw 38 of 64 after 20 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let (status, text) = http(&metrics_addr(&worker), "GET", "/metrics", "").await;
        assert_eq!(status, 200);
        if value(&text, "liveguard_cluster_partitions") == 64.0 || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(value(&text, "liveguard_cluster_partitions"), 64.0);
    assert_eq!(value(&text, "liveguard_cluster_takeovers_total"), 64.0);
    assert_eq!(value(&text, "liveguard_cluster_leases_lost_total"), 0.0);
    assert_eq!(value(&text, "liveguard_cluster_events_total"), 100.0);
    let (_, text) = http(&metrics_addr(&archiver), "GET", "/metrics", "").await;
    assert!(value(&text, "liveguard_cluster_archived_total") > 0.0);
    let (status, body) = http(&metrics_addr(&worker), "GET", "/healthz", "").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // The gateway counts what it forwarded and how long each answer took.
    let (_, text) = http(&addr, "GET", "/metrics", "").await;
    let events: f64 = text
        .lines()
        .filter(|l| l.starts_with("liveguard_events_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(events, 100.0, "{text}");
    assert_eq!(
        value(&text, "liveguard_ingest_latency_seconds_count"),
        100.0
    );
}

/// A hold nobody reviews expires once across the cluster: both gateways publish
/// its expiry, the feed keeps the first, and the platform hears the default outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreviewed_hold_expires_once_across_gateways() {
    let _one_at_a_time = serial().await;
    let config = "[alerts]\nhold_timeout_s = 1\n";
    let cluster = Cluster::start("expiry", 1, config).await;
    let (_second, second_addr) =
        Liveguard::gateway(&cluster.nats.url, &cluster.dir.join("gateway-2"), config);
    let (feed, _) = tokio_tungstenite::connect_async(format!("ws://{second_addr}/v1/alerts"))
        .await
        .unwrap();
    let mut feed = Lines::new(feed);
    let mut ws = platform(&cluster.addr).await;
    let answer = exchange(
        &mut ws,
        &[r#"{"kind":"chat","id":"held-2","room":"room-16","user":"u1","text":"兄弟们拼多多链接"}"#.to_owned()],
    )
    .await;
    assert!(answer.contains(r#""decision":"hold""#), "{answer}");
    let mut ws = Lines::new(ws);
    let outcome = ws.take("expiry outcome", |v| v["kind"] == "review").await;
    assert_eq!(
        (outcome["id"].as_str(), outcome["by"].as_str()),
        (Some("held-2"), Some("expiry"))
    );
    let seq = feed.take("alert", |v| v["kind"] == "alert").await["seq"].clone();
    let review = feed.take("review record", |v| v["kind"] == "review").await;
    assert_eq!(review["ref"], seq);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = read_feed_kinds(&mut feed.ws).await;
    assert!(
        feed.seen.iter().all(|v| v["kind"] != "review") && later.iter().all(|k| k != "review"),
        "one expiry, not one per gateway"
    );
}

/// The kinds of the records a feed brings until it is quiet for 2 s.
async fn read_feed_kinds(ws: &mut Ws) -> Vec<String> {
    let mut kinds = Vec::new();
    while let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_secs(2), ws.next()).await
    {
        let v: Value = serde_json::from_str(&t).unwrap();
        kinds.push(v["kind"].as_str().unwrap_or_default().to_owned());
    }
    kinds
}
