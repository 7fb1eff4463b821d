//! `liveguard loadgen`: drive a server with realistic traffic and measure it.
//!
//! Many WebSocket connections send the [`sample`](crate::sample) mix (mostly benign
//! chat, a few percent violations with evasions, some host transcripts) at an
//! **open-loop** target rate: every frame has an intended send time on a fixed
//! schedule, and latency is measured from that time, not from when the frame was
//! actually written. A server that stalls cannot hide its queueing behind a client
//! that politely waited (coordinated omission). Every verdict is read and matched to
//! its event; what never comes back is reported as missing.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::event::{Event, EventKind, Role};
use crate::sample::{ChatPool, Mix, Rng};

/// Load generator settings (the command's flags).
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// `ws://HOST:PORT/v1/ingest`.
    pub url: String,
    /// Target events per second, over all connections.
    pub rate: u64,
    /// How long to send, in seconds.
    pub duration_s: u64,
    /// Rooms the events are spread over.
    pub rooms: u64,
    /// Concurrent connections.
    pub connections: u64,
    /// Events per frame.
    pub batch: u64,
    /// How long to wait for the last verdicts after sending stops.
    pub drain_s: u64,
    /// Print a progress line every second (on a terminal).
    pub progress: bool,
    /// Bearer token of an `ingest` scope, for servers with tokens.
    pub token: Option<String>,
    /// Percent of events that are listings and sales ([`Commerce`]) rather than chat.
    pub commerce_pct: u64,
    /// Which benign lines the chat is drawn from.
    pub pool: ChatPool,
}

/// What a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Target rate, events/s.
    pub target_rate: u64,
    /// Seconds of sending.
    pub duration_s: f64,
    /// Connections that were opened.
    pub connections: u64,
    /// Events per frame.
    pub batch: u64,
    /// Events sent.
    pub sent: u64,
    /// Verdicts received.
    pub answered: u64,
    /// Events whose verdict never came.
    pub missing: u64,
    /// Error frames received.
    pub errors: u64,
    /// Connections that failed (could not connect, or dropped).
    pub failed_connections: u64,
    /// Why they failed (`connect: HTTP 429 …`, `closed by the server: 1008 too many
    /// pings`, `send: …`), with how many failed so.
    pub failure_reasons: std::collections::BTreeMap<String, u64>,
    /// Verdicts per second, from the schedule's start to the last verdict.
    pub throughput_eps: f64,
    /// Decisions other than allow.
    pub flagged: u64,
    /// Intended send time to verdict, in milliseconds.
    pub latency_ms: Latency,
    /// Intended send time to the frame written to the socket, in milliseconds: the
    /// load generator's own lateness (timer granularity, a busy CPU), which
    /// `latency_ms` includes.
    pub send_lag_ms: Latency,
}

/// Latency percentiles, milliseconds.
#[derive(Clone, Debug, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Latency {
        let ms = |v: u64| v as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Latencies, in µs.
struct Histograms {
    verdict: Histogram<u64>,
    send_lag: Histogram<u64>,
}

impl Histograms {
    fn new() -> Histograms {
        Histograms {
            verdict: new_histogram(),
            send_lag: new_histogram(),
        }
    }
}

/// Histograms shared by the connections, a few of them to spread the locking (one
/// per connection would zero half a megabyte each: 10,000 connections spent more
/// time faulting in histogram pages than sending).
struct Shards(Vec<std::sync::Mutex<Histograms>>);

const HISTOGRAM_SHARDS: usize = 8;

impl Shards {
    fn new() -> Shards {
        Shards(
            (0..HISTOGRAM_SHARDS)
                .map(|_| std::sync::Mutex::new(Histograms::new()))
                .collect(),
        )
    }

    fn lock(&self, conn: u64) -> std::sync::MutexGuard<'_, Histograms> {
        let shard = &self.0[conn as usize % self.0.len()];
        shard.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn merged(&self) -> Histograms {
        let mut all = Histograms::new();
        for shard in &self.0 {
            let h = shard.lock().unwrap_or_else(|e| e.into_inner());
            let _ = all.verdict.add(&h.verdict);
            let _ = all.send_lag.add(&h.send_lag);
        }
        all
    }
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes, 3 significant digits.
    Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Default)]
struct Counters {
    /// When the last verdict arrived, in µs after the schedule's start.
    last_answer_us: AtomicU64,
    sent: AtomicU64,
    answered: AtomicU64,
    errors: AtomicU64,
    flagged: AtomicU64,
    failed: AtomicU64,
    /// Why connections failed, with how many failed so.
    failures: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Counters {
    /// A connection failed (could not connect, a write failed, the server closed it
    /// early), for `reason`.
    fn fail(&self, reason: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        *self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason)
            .or_default() += 1;
    }
}

/// Why a connection could not be opened, with the server's own words when it refused
/// the upgrade (its JSON error body).
fn connect_failure(e: &tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!("connect: HTTP {} {}", response.status(), body.trim())
                .trim_end()
                .to_owned()
        }
        other => format!("connect: {other}"),
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Nonsense settings.
    #[error("invalid load: {0}")]
    Invalid(&'static str),
    /// Not one connection could be opened.
    #[error("cannot connect to {url}: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// The error.
        message: String,
    },
}

/// Run the load and report.
///
/// # Errors
/// [`LoadError`] for invalid settings or when no connection can be opened.
pub async fn run(cfg: LoadConfig) -> Result<Report, LoadError> {
    if cfg.rate == 0 || cfg.connections == 0 || cfg.batch == 0 || cfg.duration_s == 0 {
        return Err(LoadError::Invalid(
            "rate, connections, batch and duration must be positive",
        ));
    }
    let counters = Arc::new(Counters::default());
    let histogram = Arc::new(Shards::new());
    // Connect everyone first: the schedule starts when all are ready.
    let mut sockets = Vec::new();
    for _ in 0..cfg.connections {
        let request = match request(&cfg) {
            Ok(r) => r,
            Err(e) => {
                return Err(LoadError::Connect {
                    url: cfg.url.clone(),
                    message: e.to_string(),
                });
            }
        };
        match tokio_tungstenite::connect_async_with_config(
            request,
            Some(
                WebSocketConfig::default()
                    .read_buffer_size(16 * 1024)
                    .write_buffer_size(16 * 1024),
            ),
            true,
        )
        .await
        {
            Ok((ws, _)) => sockets.push(ws),
            Err(e) => {
                let reason = connect_failure(&e);
                if sockets.is_empty() {
                    return Err(LoadError::Connect {
                        url: cfg.url.clone(),
                        message: reason,
                    });
                }
                counters.fail(reason);
            }
        }
    }
    let opened = sockets.len() as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(cfg.duration_s);
    // Each connection sends its share of frames on a fixed schedule.
    let frames_per_s = (cfg.rate as f64 / cfg.batch as f64).max(1.0 / cfg.duration_s as f64);
    let interval = Duration::from_secs_f64(opened as f64 / frames_per_s);
    let mut tasks = Vec::new();
    for (c, ws) in sockets.into_iter().enumerate() {
        let cfg = cfg.clone();
        let counters = counters.clone();
        let histogram = histogram.clone();
        // Stagger the connections across one interval.
        let offset = interval.mul_f64(c as f64 / opened as f64);
        tasks.push(tokio::spawn(connection(
            c as u64, ws, cfg, start, offset, end, interval, counters, histogram,
        )));
    }
    let progress = cfg.progress && std::io::stderr().is_terminal();
    let ticker = progress.then(|| {
        let counters = counters.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let answered = counters.answered.load(Ordering::Relaxed);
                eprint!(
                    "\r[{:>4.0}s] sent {:>10} answered {:>10} ({:>8}/s) errors {}   ",
                    start.elapsed().as_secs_f64(),
                    counters.sent.load(Ordering::Relaxed),
                    answered,
                    answered - last,
                    counters.errors.load(Ordering::Relaxed),
                );
                let _ = std::io::stderr().flush();
                last = answered;
            }
        })
    });
    for t in tasks {
        let _ = t.await;
    }
    if let Some(t) = ticker {
        t.abort();
        eprintln!();
    }
    // Throughput over the time verdicts kept coming (the drain wait is not work).
    let elapsed = (counters.last_answer_us.load(Ordering::Relaxed) as f64 / 1e6)
        .max(cfg.duration_s as f64 * 0.5);
    let h = histogram.merged();
    let sent = counters.sent.load(Ordering::Relaxed);
    let answered = counters.answered.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    Ok(Report {
        target_rate: cfg.rate,
        duration_s: cfg.duration_s as f64,
        connections: opened,
        batch: cfg.batch,
        sent,
        answered,
        missing: sent.saturating_sub(answered + errors),
        errors,
        failed_connections: counters.failed.load(Ordering::Relaxed),
        failure_reasons: std::mem::take(
            &mut *counters.failures.lock().unwrap_or_else(|e| e.into_inner()),
        ),
        throughput_eps: answered as f64 / elapsed.max(1e-9),
        flagged: counters.flagged.load(Ordering::Relaxed),
        latency_ms: Latency::of(&h.verdict),
        send_lag_ms: Latency::of(&h.send_lag),
    })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[allow(clippy::too_many_arguments)]
async fn connection(
    conn: u64,
    ws: Socket,
    cfg: LoadConfig,
    first: Instant,
    offset: Duration,
    end: Instant,
    interval: Duration,
    counters: Arc<Counters>,
    histogram: Arc<Shards>,
) {
    let (mut sink, mut stream) = ws.split();
    // Intended send time of every frame in flight, by frame number.
    let pending: Arc<std::sync::Mutex<HashMap<u64, (Instant, u64)>>> = Arc::default();
    // Set once this side starts closing: how the connection ends after that is no
    // failure of the run.
    let closing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let pending = pending.clone();
        let closing = closing.clone();
        let counters = counters.clone();
        let histogram = histogram.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let m = match stream.next().await {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => {
                        if !closing.load(Ordering::Relaxed) {
                            counters.fail(format!("read: {e}"));
                        }
                        break;
                    }
                    None => break,
                };
                if let Message::Close(Some(frame)) = &m
                    && !closing.load(Ordering::Relaxed)
                {
                    counters.fail(format!(
                        "closed by the server: {} {}",
                        frame.code, frame.reason
                    ));
                }
                let Message::Text(text) = m else { continue };
                let now = Instant::now();
                for line in text.as_str().lines() {
                    if let Some(id) = line.strip_prefix(crate::wire::VERDICT_LINE_PREFIX) {
                        counters.answered.fetch_add(1, Ordering::Relaxed);
                        if !line.contains("\"decision\":\"allow\"") {
                            counters.flagged.fetch_add(1, Ordering::Relaxed);
                        }
                        // ids are "c{conn}-{frame}-{n}"
                        let frame = id
                            .split(['-', '"'])
                            .nth(1)
                            .and_then(|f| f.parse::<u64>().ok());
                        if let Some(frame) = frame {
                            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
                            if let Some((intended, left)) = p.get_mut(&frame) {
                                let us =
                                    now.saturating_duration_since(*intended).as_micros() as u64;
                                latencies.push(us.max(1));
                                *left -= 1;
                                if *left == 0 {
                                    p.remove(&frame);
                                }
                            }
                        }
                    } else if line.starts_with(crate::wire::ERROR_LINE_PREFIX) {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if !latencies.is_empty() {
                    let mut h = histogram.lock(conn);
                    for us in latencies.drain(..) {
                        let _ = h.verdict.record(us);
                    }
                }
                counters.last_answer_us.fetch_max(
                    now.saturating_duration_since(first).as_micros() as u64,
                    Ordering::Relaxed,
                );
            }
        })
    };
    let mix = Mix {
        pool: cfg.pool,
        ..Mix::default()
    };
    let mut commerce = Commerce::new(conn);
    let mut rng = Rng::new(0x5eed ^ conn.wrapping_mul(0x9E37_79B9));
    let mut frame_no = 0u64;
    let mut due = first + offset;
    let mut buf = String::with_capacity(cfg.batch as usize * 160);
    while due < end {
        tokio::time::sleep_until(due).await;
        buf.clear();
        for n in 0..cfg.batch {
            let s = mix.draw(&mut rng);
            let room = rng.below(cfg.rooms.max(1) as usize);
            if n > 0 {
                buf.push('\n');
            }
            if rng.below(100) < cfg.commerce_pct as usize {
                let id = format!("c{conn}-{frame_no}-{n}");
                let event = commerce.next(&mut rng, &id, room);
                buf.push_str(&serde_json::to_string(&event).expect("an event serializes"));
                continue;
            }
            let chat = !s.transcript;
            let sender = if chat {
                format!("u{}", rng.below(100_000))
            } else {
                format!("host-{room}")
            };
            let event = Event {
                kind: if chat {
                    EventKind::Chat
                } else {
                    EventKind::Transcript
                },
                id: format!("c{conn}-{frame_no}-{n}").into(),
                room: format!("room-{room}").into(),
                user: Some(sender.into()),
                role: if chat { Role::Viewer } else { Role::Host },
                ts: None,
                text: s.text.into(),
                is_final: true,
                pricing: None,
            };
            buf.push_str(&serde_json::to_string(&event).expect("an event serializes"));
        }
        pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(frame_no, (due, cfg.batch));
        if let Err(e) = sink.send(Message::Text(buf.clone().into())).await {
            counters.fail(format!("send: {e}"));
            break;
        }
        let lag = Instant::now().saturating_duration_since(due).as_micros() as u64;
        let _ = histogram.lock(conn).send_lag.record(lag.max(1));
        counters.sent.fetch_add(cfg.batch, Ordering::Relaxed);
        frame_no += 1;
        due += interval;
    }
    // Wait for the last verdicts (at most the drain time), then close: the reader
    // ends with the server's close and hands in its latencies.
    let deadline = Instant::now() + Duration::from_secs(cfg.drain_s);
    while Instant::now() < deadline && !pending.lock().map(|p| p.is_empty()).unwrap_or(true) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    closing.store(true, Ordering::Relaxed);
    let _ = sink.send(Message::Close(None)).await;
    let mut reader = reader;
    if tokio::time::timeout(Duration::from_secs(2), &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
}

impl Report {
    /// A human summary.
    pub fn text(&self) -> String {
        format!(
            "target {} events/s for {}s over {} connections (batch {}): sent {}, answered {} ({:.0}/s), missing {}, errors {}, flagged {}\n\
             latency from intended send (ms): p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}\n\
             of which the generator's send lag (ms): p50 {:.3}  p99 {:.3}  max {:.3}",
            self.target_rate,
            self.duration_s,
            self.connections,
            self.batch,
            self.sent,
            self.answered,
            self.throughput_eps,
            self.missing,
            self.errors,
            self.flagged,
            self.latency_ms.p50,
            self.latency_ms.p90,
            self.latency_ms.p99,
            self.latency_ms.p999,
            self.latency_ms.max,
            self.send_lag_ms.p50,
            self.send_lag_ms.p99,
            self.send_lag_ms.max,
        ) + &self.failures_text()
    }

    /// `\nfailed connections N: reason (count); …`, or nothing.
    fn failures_text(&self) -> String {
        if self.failed_connections == 0 {
            return String::new();
        }
        let reasons: Vec<String> = self
            .failure_reasons
            .iter()
            .map(|(reason, n)| format!("{reason} ({n})"))
            .collect();
        format!(
            "\nfailed connections {}: {}",
            self.failed_connections,
            reasons.join("; ")
        )
    }
}

/// The upgrade request, with the token if there is one.
fn request(
    cfg: &LoadConfig,
) -> Result<
    tokio_tungstenite::tungstenite::handshake::client::Request,
    tokio_tungstenite::tungstenite::Error,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let mut request = cfg.url.as_str().into_client_request()?;
    if let Some(token) = &cfg.token {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| tokio_tungstenite::tungstenite::Error::HttpFormat(e.into()))?;
        request.headers_mut().insert("authorization", value);
    }
    Ok(request)
}

/// The listings and sales of `--commerce`, as a shop runs them: each connection sells
/// its own item in each room, lists it first (so no sale is of an unknown item), then
/// sends sales at the listed price, with now and then a re-listing (a title or stock
/// change at the same price; one in five changes the price by up to 10%). A third of
/// listings carry a 划线价 with its basis stated, and one title in eight has a claim the
/// lexicon flags: most listings are honest, as on a real platform.
#[derive(Debug)]
struct Commerce {
    /// Makes each connection's item ids its own.
    conn: u64,
    /// The listed price, in fen, of this connection's item in each room.
    listed: HashMap<usize, u64>,
}

const TITLES: [&str; 8] = [
    "加厚羊毛围巾 冬季保暖",
    "山茶油洗发水 500ml",
    "全网最低价 保温杯 大容量",
    "有机五常大米 5kg",
    "纯棉四件套 1.8米床",
    "不锈钢炒锅 32cm",
    "手工红糖 500g",
    "儿童羽绒服 90-150码",
];

impl Commerce {
    fn new(conn: u64) -> Commerce {
        Commerce {
            conn,
            listed: HashMap::new(),
        }
    }

    fn next(&mut self, rng: &mut Rng, id: &str, room: usize) -> Event<'static> {
        let item = format!("sku-{room}-{}", self.conn);
        let listed = self.listed.get(&room).copied();
        let sell = listed.filter(|_| rng.below(20) > 0);
        let pricing = |price: u64, listing: Option<(Option<u64>, bool)>| {
            let (compared, basis) = listing.unwrap_or((None, false));
            Some(Box::new(crate::event::Pricing {
                item: item.clone().into(),
                price: Some(crate::price::Fen(price)),
                unit: listing.map(|_| "件".into()),
                compared_price: compared.map(crate::price::Fen),
                compared_label: compared.map(|_| "划线价".into()),
                compared_basis: (compared.is_some() && basis).then(|| "品牌官方标价".into()),
                quantity: 1,
            }))
        };
        let mut event = Event {
            kind: EventKind::Sale,
            id: id.to_owned().into(),
            room: format!("room-{room}").into(),
            user: Some(format!("buyer-{}", rng.below(100_000)).into()),
            role: Role::Operator,
            ts: None,
            text: "".into(),
            is_final: true,
            pricing: None,
        };
        if let Some(price) = sell {
            event.pricing = pricing(price, None);
            return event;
        }
        let price = match listed {
            Some(p) if rng.below(5) == 0 => p * (90 + rng.below(21) as u64) / 100,
            Some(p) => p,
            None => 1_000 + 100 * rng.below(500) as u64,
        };
        self.listed.insert(room, price);
        let compared = (rng.below(3) == 0).then_some(price * 2);
        event.kind = EventKind::Listing;
        event.user = None;
        event.text = TITLES[rng.below(TITLES.len())].into();
        event.pricing = pricing(price, Some((compared, true)));
        event
    }
}
