//! The `liveguard` command: parses arguments and hands over to the library.

use liveguard::clock::now_ms;
use std::io::{self, BufReader, BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use liveguard::config::Config;
use liveguard::engine::{Engine, EngineConfig, Ruleset};
use liveguard::lexicon::{Lexicon, LexiconSource};
use liveguard::matcher::BuildOptions;
use liveguard::sample::ChatPool;

/// mimalloc rather than glibc's malloc: the server and a worker spend 5–20% less CPU
/// per event, and the server's p99.9 at 50,000 events/s fell from 108–128 ms to
/// 34–36 ms, for 6% more resident memory (docs/PERFORMANCE.md, "Allocator"). Each
/// event allocates its outcome, verdict and frames on one thread and frees some on
/// another; glibc's profile showed `malloc_consolidate` and `unlink_chunk` there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Real-time moderation for live e-commerce rooms.
#[derive(Debug, Parser)]
#[command(name = "liveguard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the real-time server (WebSocket ingest and alert feeds, HTTP operations).
    Serve {
        /// Configuration file (TOML); every key is optional.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Address to listen on, `host:port` (default 127.0.0.1:8080); a host name such
        /// as `localhost` listens on the first address it resolves to.
        #[arg(long, value_name = "ADDR", value_parser = resolve_listen)]
        listen: Option<std::net::SocketAddr>,
        /// Lexicon directory replacing the embedded default.
        #[arg(long, value_name = "DIR")]
        lexicons: Option<PathBuf>,
        /// Data directory (default ./liveguard-data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Serve a non-loopback address with no tokens configured: anyone who can
        /// reach it may read every room and silence users.
        #[arg(long)]
        insecure: bool,
        /// PEM certificate chain: serve wss:// and https:// (with --tls-key).
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of the certificate.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Log lines as text, or as JSON objects, one a line (for log shippers).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Run as a gateway of the cluster on this NATS server (JetStream): events
        /// are judged by `liveguard worker`s, evidence kept by `liveguard archive`.
        #[arg(long, value_name = "URL")]
        nats: Option<String>,
    },
    /// Run a cluster's partition worker: judge the events of the partitions it
    /// leases (see docs/SCALING.md).
    Worker {
        /// The cluster's NATS server (JetStream enabled).
        #[arg(long, value_name = "URL")]
        nats: String,
        /// Configuration file (TOML): its `lexicons`, `[engine]` and
        /// `[cluster] partitions` are used.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Lexicon directory replacing the embedded default.
        #[arg(long, value_name = "DIR")]
        lexicons: Option<PathBuf>,
        /// The worker's name in leases and logs (default: host and process id).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// Lease time in ms: a dead worker's partitions move after about this.
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(200..))]
        lease_ms: u64,
        /// Seconds of a partition's events a new owner replays to rebuild its rooms'
        /// windows and strike logs.
        #[arg(long, default_value_t = 600)]
        replay_horizon_s: u64,
        /// Serve `GET /metrics` and `GET /healthz` on this address.
        #[arg(long, value_name = "ADDR", value_parser = resolve_listen)]
        metrics: Option<std::net::SocketAddr>,
        /// Log lines as text, or as JSON objects, one a line.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Keep a cluster's evidence: store its alerts stream in the data directory,
    /// which `liveguard export` reads. Run one.
    Archive {
        /// The cluster's NATS server (JetStream enabled).
        #[arg(long, value_name = "URL")]
        nats: String,
        /// Data directory (default ./liveguard-data).
        #[arg(long, value_name = "DIR", default_value = "liveguard-data")]
        data: PathBuf,
        /// Serve `GET /metrics` and `GET /healthz` on this address.
        #[arg(long, value_name = "ADDR", value_parser = resolve_listen)]
        metrics: Option<std::net::SocketAddr>,
        /// Log lines as text, or as JSON objects, one a line.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Print a new random token and the `[[auth.tokens]]` entry that admits it.
    Token {
        /// The scope: ingest, moderate or admin.
        #[arg(long, default_value = "ingest")]
        scope: String,
        /// Who holds it (the tenant or moderator).
        #[arg(long, default_value = "platform")]
        name: String,
    },
    /// Judge NDJSON events from FILE (or stdin) and write one verdict per event.
    Scan {
        /// Lexicon directory replacing the embedded default.
        #[arg(long, value_name = "DIR")]
        lexicons: Option<PathBuf>,
        /// Input file; `-` or absent for stdin.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Drive a server with realistic traffic at an open-loop rate and measure it.
    Loadgen {
        /// Ingest URL.
        #[arg(long, default_value = "ws://127.0.0.1:8080/v1/ingest")]
        url: String,
        /// Target events per second, over all connections.
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        /// Seconds of sending.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Rooms the events are spread over.
        #[arg(long, default_value_t = 100)]
        rooms: u64,
        /// Concurrent connections.
        #[arg(long, default_value_t = 4)]
        connections: u64,
        /// Events per frame.
        #[arg(long, default_value_t = 50)]
        batch: u64,
        /// Seconds to wait for the last verdicts.
        #[arg(long, default_value_t = 10)]
        drain: u64,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Bearer token (scope `ingest`) for a server with tokens.
        #[arg(long, value_name = "TOKEN")]
        token: Option<String>,
        /// Percent of events that are listings and sales (clear pricing) instead of
        /// the chat mix: each room lists an item first, then mostly sells it.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=100))]
        commerce: u64,
        /// Runtime worker threads of the generator. One keeps it off the server's
        /// back on a machine they share (better p99 at 100k events/s in alternating
        /// runs); raise it to drive more than one core's worth of load.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        threads: u16,
        /// Which benign lines the chat is drawn from: `classic`, 24 lines every sender
        /// repeats (the figures of docs/PERFORMANCE.md), or `varied`, 1,000 lines
        /// written by hand, closer to a real room (viewers rarely retype each other's
        /// lines, so the burst detector finds few campaigns).
        #[arg(long, value_enum, default_value_t = ChatPoolArg::Classic)]
        chat: ChatPoolArg,
    },
    /// Write the stored actions, with their evidence and lexicon, as NDJSON (for
    /// regulators).
    Export {
        /// The server's configuration file: its `data` directory is read.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Data directory (default: the configuration's, else ./liveguard-data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Only this room.
        #[arg(long, value_name = "ROOM")]
        room: Option<String>,
        /// From this time: ms since the epoch, YYYY-MM-DD or RFC 3339 (inclusive).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// To this time (exclusive).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
    },
    /// Lexicon tools.
    Lexicon {
        #[command(subcommand)]
        command: LexiconCommand,
    },
}

/// `loadgen --chat`: the benign lines of the generated chat ([`ChatPool`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ChatPoolArg {
    Classic,
    Varied,
}

/// How the server writes its log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line: `timestamp`, `level`, `target`, `message` and the
    /// event's fields; a message with line breaks stays on one line.
    Json,
}

/// Whether log lines (and the final error) are JSON: set once, by `serve`.
static JSON_LOGS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

#[derive(Debug, Subcommand)]
enum LexiconCommand {
    /// Validate a lexicon directory (default: the embedded lexicon); exits 1 on errors.
    Check {
        /// The directory.
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            if JSON_LOGS.get() == Some(&true) {
                // One object, like every other line a log shipper reads from us.
                tracing::error!(error = format!("{e:#}"), "liveguard stopped on an error.");
            } else {
                eprintln!("liveguard: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            config,
            listen,
            lexicons,
            data,
            insecure,
            tls_cert,
            tls_key,
            log_format,
            nats,
        } => {
            init_tracing(log_format);
            let tls = tls_cert
                .zip(tls_key)
                .map(|(cert, key)| liveguard::config::TlsConfig { cert, key });
            serve(config, listen, lexicons, data, insecure, tls, nats)
        }
        Command::Worker {
            nats,
            config,
            lexicons,
            name,
            lease_ms,
            replay_horizon_s,
            metrics,
            log_format,
        } => {
            init_tracing(log_format);
            let mut cfg = Config::load(config.as_deref()).context("loading the configuration")?;
            if let Some(d) = lexicons {
                cfg.lexicons = Some(d);
            }
            let name = name.unwrap_or_else(default_worker_name);
            let mut worker = liveguard::cluster::worker::WorkerConfig::named(&name);
            worker.lease_ttl = std::time::Duration::from_millis(lease_ms);
            worker.partition.replay_horizon = std::time::Duration::from_secs(replay_horizon_s);
            worker.engine = cfg.engine;
            worker.lexicons = cfg.lexicons.clone();
            run_worker(&nats, &cfg, worker, metrics)
        }
        Command::Archive {
            nats,
            data,
            metrics,
            log_format,
        } => {
            init_tracing(log_format);
            archive(&nats, &data, metrics)
        }
        Command::Token { scope, name } => token(&scope, &name),
        Command::Scan { lexicons, file } => scan(lexicons, file),
        Command::Loadgen {
            url,
            rate,
            duration,
            rooms,
            connections,
            batch,
            drain,
            json,
            token,
            commerce,
            threads,
            chat,
        } => loadgen(
            liveguard::loadgen::LoadConfig {
                url,
                rate,
                duration_s: duration,
                rooms,
                connections,
                batch,
                drain_s: drain,
                progress: !json,
                token,
                commerce_pct: commerce,
                pool: match chat {
                    ChatPoolArg::Classic => ChatPool::Classic,
                    ChatPoolArg::Varied => ChatPool::Varied,
                },
            },
            json,
            threads,
        ),
        Command::Export {
            config,
            data,
            room,
            since,
            until,
        } => {
            let data = match data {
                Some(d) => d,
                None => {
                    Config::load(config.as_deref())
                        .context("loading the configuration")?
                        .data
                }
            };
            export(&data, room, since, until)
        }
        Command::Lexicon {
            command: LexiconCommand::Check { dir },
        } => check(dir),
    }
}

fn serve(
    config: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
    lexicons: Option<PathBuf>,
    data: Option<PathBuf>,
    insecure: bool,
    tls: Option<liveguard::config::TlsConfig>,
    nats: Option<String>,
) -> anyhow::Result<ExitCode> {
    let mut cfg = Config::load(config.as_deref()).context("loading the configuration")?;
    if nats.is_some() {
        cfg.cluster.nats = nats;
    }
    if let Some(l) = listen {
        cfg.listen = l;
    }
    if let Some(d) = lexicons {
        cfg.lexicons = Some(d);
    }
    if let Some(d) = data {
        cfg.data = d;
    }
    cfg.insecure |= insecure;
    if tls.is_some() {
        cfg.tls = tls;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        // Everything is checked before binding: a misconfigured token or an exposed
        // open server never listens, not even for a moment.
        let listen = cfg.listen;
        let server = liveguard::server::Server::bind(cfg)
            .await
            .with_context(|| format!("starting the server on {listen}"))?;
        server
            .run_with_reload(shutdown_signal(), reload_signals())
            .await
            .context("server")?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A worker's default name: the host's and the process id (unique while it runs;
/// characters a lease key cannot hold become `-`).
fn default_worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "worker".into());
    let name = format!("{}-{}", host.trim(), std::process::id());
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

fn run_worker(
    nats: &str,
    cfg: &Config,
    worker: liveguard::cluster::worker::WorkerConfig,
    metrics: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    cfg.validate().context("checking the configuration")?;
    let lexicon = Lexicon::load(cfg.lexicons.as_deref()).context("loading the lexicon")?;
    let rules = liveguard::engine::Ruleset::compile(&lexicon, Default::default())
        .context("compiling the lexicon")?;
    let layout = cfg.cluster.layout();
    if worker.partition.replay_horizon > layout.events_retention {
        tracing::warn!(
            horizon_s = worker.partition.replay_horizon.as_secs(),
            retention_s = layout.events_retention.as_secs(),
            "The replay horizon is longer than the events streams keep events: a takeover rebuilds from what is kept."
        );
    }
    runtime()?.block_on(async move {
        let bus = liveguard::cluster::Bus::connect_with(nats, layout).await?;
        let shutdown = stop_on_signal();
        serve_metrics_on(metrics, &shutdown).await?;
        liveguard::cluster::worker::run_worker(bus, std::sync::Arc::new(rules), worker, shutdown)
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

fn archive(
    nats: &str,
    data: &std::path::Path,
    metrics: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    // One archiver per store: two would split the stream between them.
    let _lock = liveguard::server::lock_data_dir(data)?;
    let (store, _) = liveguard::store::Store::open(
        data,
        liveguard::store::StoreConfig::default(),
        0,
        Box::new(|_| {}),
    )
    .with_context(|| format!("opening the store in {}", data.display()))?;
    let store = std::sync::Arc::new(store);
    let result = runtime()?.block_on(async {
        let bus = liveguard::cluster::Bus::connect_for_alerts(nats).await?;
        let shutdown = stop_on_signal();
        serve_metrics_on(metrics, &shutdown).await?;
        tracing::info!(nats, data = %data.display(), "Archiving the cluster's alerts.");
        liveguard::cluster::archive::run_archiver(bus, store.clone(), shutdown).await?;
        anyhow::Ok(())
    });
    store.close();
    result?;
    Ok(ExitCode::SUCCESS)
}

/// A token cancelled on SIGINT or SIGTERM.
fn stop_on_signal() -> tokio_util::sync::CancellationToken {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.cancel();
    });
    shutdown
}

/// `--metrics ADDR`: bind it (an error if it cannot be) and serve `/metrics` and
/// `/healthz` there until `shutdown`.
async fn serve_metrics_on(
    addr: Option<std::net::SocketAddr>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    let Some(addr) = addr else { return Ok(()) };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding --metrics {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, "Serving /metrics.");
    // Installed here, before the worker or archiver starts, not in the spawned task:
    // a series registered at 0 before the recorder exists would be lost (a worker's
    // lease thread registers its counter as soon as it starts).
    liveguard::telemetry::prometheus();
    tokio::spawn(liveguard::server::serve_metrics(listener, shutdown.clone()));
    Ok(())
}

/// `--listen`: an address, or a host name and a port (`localhost:8080`).
fn resolve_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .map_err(|e| format!("`{s}`: {e} (expected host:port, e.g. 127.0.0.1:8080)"))?
        .next()
        .ok_or_else(|| format!("`{s}` resolves to no address"))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("Shutdown signal received.");
}

/// One item per SIGHUP: reload the lexicon.
fn reload_signals() -> impl futures_util::Stream<Item = ()> + Send + 'static {
    #[cfg(unix)]
    {
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .expect("installing the SIGHUP handler");
        futures_util::stream::unfold(hup, |mut hup| async move {
            hup.recv().await?;
            tracing::info!("SIGHUP: reloading the lexicon.");
            Some(((), hup))
        })
    }
    #[cfg(not(unix))]
    futures_util::stream::pending()
}

/// Logs to stderr, as text or JSON; `LIVEGUARD_LOG` (or `RUST_LOG`) sets the filter,
/// default `info`.
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LIVEGUARD_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let json = format == LogFormat::Json;
    let _ = JSON_LOGS.set(json);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr);
    if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        builder.with_ansi(io::stderr().is_terminal()).init();
    }
}

fn token(scope: &str, name: &str) -> anyhow::Result<ExitCode> {
    if !["ingest", "moderate", "admin"].contains(&scope) {
        anyhow::bail!("--scope must be ingest, moderate or admin");
    }
    let token = liveguard::auth::generate().context("reading the random source")?;
    println!("token: {token}");
    println!();
    println!("# Give the token to its holder; put this in the server's configuration:");
    println!("[[auth.tokens]]");
    println!("name = {}", toml_string(name));
    println!("scope = \"{scope}\"");
    println!("sha256 = \"{}\"", liveguard::auth::hash_hex(&token));
    Ok(ExitCode::SUCCESS)
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn scan(lexicons: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let lexicon = Lexicon::load(lexicons.as_deref()).context("loading the lexicon")?;
    let rules =
        Ruleset::compile(&lexicon, BuildOptions::default()).context("compiling the lexicon")?;
    let engine = Engine::new(rules, EngineConfig::default());
    let stdout = io::stdout().lock();
    let out = BufWriter::with_capacity(1 << 16, stdout);
    let summary = match file.filter(|f| f.as_os_str() != "-") {
        Some(path) => {
            let f = std::fs::File::open(&path)
                .with_context(|| format!("opening {}", path.display()))?;
            liveguard::scan::scan(&engine, BufReader::with_capacity(1 << 16, f), out, now_ms)?
        }
        None => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                eprintln!(
                    "liveguard scan: reading NDJSON events from the terminal (Ctrl-D to end)"
                );
            }
            liveguard::scan::scan(&engine, stdin.lock(), out, now_ms)?
        }
    };
    eprintln!(
        "liveguard scan: {} events ({} flagged), {} bad lines, lexicon {}",
        summary.events,
        summary.flagged,
        summary.errors,
        engine.rules().version()
    );
    // Every good line was answered; a bad one still fails the run, so a pipeline
    // notices it without reading stderr.
    Ok(if summary.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn loadgen(
    config: liveguard::loadgen::LoadConfig,
    json: bool,
    threads: u16,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(usize::from(threads))
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let report = runtime.block_on(liveguard::loadgen::run(config))?;
    let summary = if json {
        serde_json::to_string_pretty(&report)?
    } else {
        report.text()
    };
    // A reader that went away (`| head`) is not an error of the run: its verdict is
    // the exit code.
    if let Err(e) = io::Write::write_all(&mut io::stdout(), format!("{summary}\n").as_bytes())
        && e.kind() != io::ErrorKind::BrokenPipe
    {
        return Err(e).context("writing the summary");
    }
    Ok(if report.missing == 0 && report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn export(
    data: &std::path::Path,
    room: Option<String>,
    since: Option<String>,
    until: Option<String>,
) -> anyhow::Result<ExitCode> {
    let time = |v: Option<String>| -> anyhow::Result<Option<u64>> {
        v.map(|t| liveguard::store::parse_time(&t).map_err(anyhow::Error::msg))
            .transpose()
    };
    let query = liveguard::store::ExportQuery {
        room,
        since: time(since).context("--since")?,
        until: time(until).context("--until")?,
    };
    let db = data.join(liveguard::store::DB_FILE);
    anyhow::ensure!(db.exists(), "no store at {} (see --data)", db.display());
    let reader =
        liveguard::store::open_reader(data).with_context(|| format!("opening {}", db.display()))?;
    let total = reader.count_actions(&query).context("counting")?;
    eprintln!(
        "liveguard export: {total} actions to export from {}",
        db.display()
    );
    let started = std::time::Instant::now();
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);
    let n = reader
        .export_with_progress(&query, &mut out, &mut |done| {
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-3);
            eprintln!(
                "liveguard export: {done} / {total} actions ({:.0}%), {rate:.0}/s",
                done as f64 * 100.0 / total.max(1) as f64
            );
        })
        .context("exporting")?;
    eprintln!(
        "liveguard export: {n} actions from {} in {:.1}s",
        db.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let src = match &dir {
        Some(d) => LexiconSource::from_dir(d)?,
        None => LexiconSource::embedded(),
    };
    let report = liveguard::check::check(&src);
    for p in &report.problems {
        println!("{p}");
    }
    let errors = report.problems.iter().filter(|p| p.is_error()).count();
    let warnings = report.problems.len() - errors;
    match report.stats {
        Some(s) => println!(
            "{}: version {}, {} entries, {} patterns (+{} pinyin), {} rules, {} texts checked against the lexicon: {} error(s), {} warning(s)",
            src.origin,
            report.version.as_deref().unwrap_or("?"),
            s.entries,
            s.patterns,
            s.pinyin_patterns,
            s.rules,
            report.traps_checked,
            errors,
            warnings
        ),
        None => println!(
            "{}: {} error(s), {} warning(s)",
            src.origin, errors, warnings
        ),
    }
    Ok(if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
