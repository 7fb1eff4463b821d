//! The whole server in process: frames of 50 events over real WebSocket connections on
//! loopback to `liveguard::server::run` (store on, in a temporary directory), every
//! verdict read back. Baseline, in the same run: a WebSocket echo server on the same
//! stack (axum, tungstenite, 16 KiB buffers) answering each frame with itself, the
//! least a round trip of these frames could cost.
//!
//! Each iteration sends one frame on each of four connections and waits for the four
//! answers (closed loop), so the figure is a throughput at a bounded number of frames
//! in flight, not a maximum; `liveguard loadgen` measures the maximum.
//!
//! Run: `cargo bench --bench server`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{Message as AxumMessage, WebSocket, WebSocketUpgrade};
use axum::routing::get;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{SinkExt, StreamExt};
use liveguard::config::Config;
use liveguard::sample::{Mix, Rng};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: usize = 4;
const BATCH: usize = 50;

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Frames of `BATCH` chat events from the sample mix, over 100 rooms.
fn frames() -> Vec<String> {
    let mix = Mix::default();
    let mut rng = Rng::new(11);
    (0..200)
        .map(|f| {
            (0..BATCH)
                .map(|n| {
                    let s = mix.draw(&mut rng);
                    let room = rng.below(100);
                    let user = rng.below(100_000);
                    serde_json::json!({"kind":"chat","id":format!("f{f}-{n}"),"room":format!("room-{room}"),"user":format!("u{user}"),"text":s.text}).to_string()
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

async fn echo(mut ws: WebSocket) {
    while let Some(Ok(m)) = ws.recv().await {
        if let AxumMessage::Text(t) = m
            && ws.send(AxumMessage::Text(t)).await.is_err()
        {
            return;
        }
    }
}

async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/echo",
        get(|ws: WebSocketUpgrade| async move {
            ws.read_buffer_size(16 * 1024)
                .write_buffer_size(16 * 1024)
                .on_upgrade(echo)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn start_liveguard(data: std::path::PathBuf) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Config {
        data,
        ..Config::default()
    };
    tokio::spawn(liveguard::server::run(
        listener,
        config,
        std::future::pending(),
    ));
    addr
}

async fn connect(url: &str) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
            .await
            .unwrap();
        clients.push(ws);
    }
    clients
}

/// Send `iters` rounds (one frame per connection each) and return the time taken.
async fn rounds(clients: &mut [Client], frames: &[String], iters: u64) -> Duration {
    let started = Instant::now();
    for i in 0..iters as usize {
        let round = clients.iter_mut().enumerate().map(|(c, ws)| {
            let frame = &frames[(i * CONNECTIONS + c) % frames.len()];
            async move {
                ws.send(Message::Text(frame.as_str().into())).await.unwrap();
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) => break t.len(),
                        // Keep-alive pings (answered by tungstenite).
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        other => panic!("no answer: {other:?}"),
                    }
                }
            }
        });
        std::hint::black_box(futures_util::future::join_all(round).await);
    }
    started.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let frames = frames();
    let data = std::env::temp_dir().join(format!("liveguard-bench-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let (mut echo_clients, mut liveguard_clients) = rt.block_on(async {
        let echo = start_echo().await;
        let lg = start_liveguard(data.clone()).await;
        (
            connect(&format!("ws://{echo}/echo")).await,
            connect(&format!("ws://{lg}/v1/ingest")).await,
        )
    });

    let mut g = c.benchmark_group("liveguard_server");
    g.throughput(Throughput::Elements((CONNECTIONS * BATCH) as u64));
    g.bench_function("baseline_websocket_echo", |b| {
        b.iter_custom(|iters| rt.block_on(rounds(&mut echo_clients, &frames, iters)))
    });
    g.bench_function("ingest_judge_answer", |b| {
        b.iter_custom(|iters| rt.block_on(rounds(&mut liveguard_clients, &frames, iters)))
    });
    g.finish();
    drop(rt);
    let _ = std::fs::remove_dir_all(&data);
}

criterion_group! {
    name = benches;
    config = Criterion::default().noise_threshold(0.05);
    targets = bench
}
criterion_main!(benches);
