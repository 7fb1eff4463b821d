//! The evidence store: every alert, action and review kept in SQLite, for replay and
//! for regulators (Art 16 and Art 31: at least three years).
//!
//! One file, `liveguard.db`, under the data directory, in WAL mode. A dedicated writer
//! thread owns the write connection and commits in groups: it takes whatever is
//! queued, writes it in one transaction, and only then hands the records to the
//! alert feed (`on_commit`). So a moderator never sees an alert that a crash could
//! take back, and the hot path never waits for the disk: it only queues.
//!
//! Store trouble never stops moderation. The queue is bounded
//! (`store.max_pending`); a record that cannot be queued, or whose batch fails to
//! commit (disk full, a locked or read-only file), is still delivered, marked
//! `"stored":false`, counted in `liveguard_store_unstored_total` and logged.
//!
//! Schema changes are versioned migrations (`PRAGMA user_version`).

mod query;
mod schema;
mod time;

use crate::clock::now_ms;
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde::Deserialize;

use crate::event::{Category, Severity, Tier};
use crate::telemetry as t;

pub use crate::wire::ActionPage;
pub use query::{ActionQuery, ExportError, ExportQuery, FeedRow, HeldRow, Reader};
pub use time::parse_time;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "liveguard.db";

const DAY_MS: u64 = 24 * 3600 * 1000;

/// Store settings (`[store]` in the configuration file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Keep evidence at all. Off, alerts go straight to subscribers and nothing
    /// survives a restart.
    pub enabled: bool,
    /// Records older than this are purged (default three years, Art 16/31).
    pub retention_days: u64,
    /// How often the purge runs, in seconds.
    pub purge_interval_s: u64,
    /// Records queued for the writer; when full, records are delivered unstored
    /// (counted) rather than stall the hot path.
    pub max_pending: usize,
    /// Most records per transaction.
    pub batch_max: usize,
    /// How long the writer waits for more records before it commits, in
    /// milliseconds: fewer, larger transactions write far fewer pages. Alerts reach
    /// subscribers at most this much later.
    pub linger_ms: u64,
    /// `normal`: durable across process crashes (WAL); `full`: also across power loss.
    pub synchronous: Synchronous,
    /// Upper bound of the database size, in MiB (0: none). Writes beyond it fail like
    /// a full disk, which is how operators cap the store's footprint.
    pub max_size_mib: u64,
    /// Answer a verdict that carries actions only once its record is committed, so
    /// every action a platform acts on is in the evidence even if the process dies
    /// the next instant. Benign events are never delayed. Off trades that guarantee
    /// for the commit time (see docs/PERFORMANCE.md).
    pub answer_after_commit: bool,
    /// The longest an answer waits for its commit, in milliseconds. A stalled disk
    /// must not stall moderation: past this the answer goes out anyway, counted in
    /// `liveguard_answers_uncommitted_total`.
    pub answer_wait_max_ms: u64,
}

/// SQLite's `synchronous` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// fsync at checkpoints: survives a killed process, may lose the last commits
    /// on power loss.
    Normal,
    /// fsync every commit.
    Full,
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            enabled: true,
            retention_days: 3 * 365,
            purge_interval_s: 3600,
            max_pending: 65_536,
            batch_max: 2048,
            linger_ms: 10,
            synchronous: Synchronous::Normal,
            max_size_mib: 0,
            answer_after_commit: true,
            answer_wait_max_ms: 2000,
        }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory cannot be created.
    #[error("cannot create the data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite refused (corrupt file, locked, permissions).
    #[error("store {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The writer thread could not start.
    #[error("cannot start the store writer: {0}")]
    Thread(std::io::Error),
}

/// One record of the alert feed, with the rows it stores. Serializable: a cluster's
/// workers publish it to the alerts stream and its archiver stores it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct FeedRecord {
    /// The feed sequence number.
    pub seq: u64,
    /// `alert` or `review`.
    pub kind: Cow<'static, str>,
    /// Event time (alerts) or resolution time (reviews), ms since the epoch.
    pub ts: u64,
    /// The room.
    pub room: String,
    /// Categories of the hits (for feed filters).
    pub categories: Vec<Category>,
    /// Highest severity of the hits.
    pub severity: Option<Severity>,
    /// The frame without its `kind` and `seq`: a JSON object whose fields follow them.
    pub body: String,
    /// The flagged event, for alerts.
    pub event: Option<EventRow>,
    /// The actions of the event.
    pub actions: Vec<ActionRow>,
    /// The review, for review records.
    pub review: Option<ReviewRow>,
}

/// A flagged event as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct EventRow {
    /// Platform event id.
    pub event_id: String,
    /// Chat or transcript.
    pub kind: Cow<'static, str>,
    /// Sender.
    pub user: Option<String>,
    /// Sender's role.
    pub role: Cow<'static, str>,
    /// Normalized text, as matched (the original text and the hits are in the feed
    /// body).
    pub normalized: String,
    /// Decision.
    pub decision: Cow<'static, str>,
    /// Lexicon version.
    pub lexicon: String,
    /// Whether the message was held for review.
    pub held: bool,
}

/// An action as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ActionRow {
    /// The stable action id.
    pub action_id: String,
    /// Action type.
    pub action: Cow<'static, str>,
    /// Target sender.
    pub target_user: Option<String>,
    /// Target event.
    pub target_event: Option<String>,
    /// Target room.
    pub target_room: Option<String>,
    /// Duration in seconds.
    pub duration_s: Option<u64>,
    /// The action as JSON (what subscribers and exports see).
    pub json: String,
    /// Lexicon version.
    pub lexicon: String,
    /// Legal basis.
    pub basis: String,
}

/// A review as stored.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReviewRow {
    /// The alert seq of the held event.
    pub held_seq: u64,
    /// Its event id.
    pub event_id: String,
    /// approve or reject.
    pub decision: Cow<'static, str>,
    /// Moderator, or `expiry`.
    pub by: String,
    /// The moderator's note.
    pub note: Option<String>,
}

impl FeedRecord {
    /// The frame subscribers receive: `{"kind":…,"seq":…,` then the body's fields;
    /// `"stored":false` when the store could not keep it.
    pub fn frame(&self, stored: bool) -> String {
        crate::wire::feed_frame(&self.kind, self.seq, stored, &self.body)
    }
}

/// Told, once the writer is done with a submission, whether its records were
/// committed (`true`) or failed to be (`false`).
pub type OnWritten = Box<dyn FnOnce(bool) + Send>;

/// What the writer is asked to do.
enum Command {
    /// The records of one ingest frame (or one review), in seq order, and who waits
    /// for their commit.
    Feed(Vec<FeedRecord>, Option<OnWritten>),
    Tier(String, Tier, u64),
    Lexicon(LexiconRecord),
    Prices(Vec<crate::price::ItemSnapshot>),
    Purge(u64, mpsc::Sender<usize>),
    Flush(mpsc::Sender<()>),
    /// Write what is queued, record the exact next seq, and stop.
    Close(mpsc::Sender<()>),
    /// Try a write, so that a store whose writes failed finds out that it recovered
    /// without waiting for the next record.
    Probe,
}

impl Command {
    /// Answered without lingering: someone waits for it.
    fn is_urgent(&self) -> bool {
        matches!(
            self,
            Command::Purge(..) | Command::Flush(_) | Command::Close(_) | Command::Feed(_, Some(_))
        )
    }

    /// Feed records carried (commands other than feeds count as one).
    fn records(&self) -> usize {
        match self {
            Command::Feed(r, _) => r.len(),
            _ => 1,
        }
    }
}

/// A lexicon version as recorded (`lexicons` table).
#[derive(Clone, Debug)]
pub struct LexiconRecord {
    /// Version string.
    pub version: String,
    /// Content hash.
    pub hash: String,
    /// Where it was loaded from.
    pub origin: String,
    /// When, ms since the epoch.
    pub loaded_at: u64,
    /// Sizes and counts, as JSON.
    pub summary: String,
}

/// Records handed back by the writer after their transaction: stored, or not.
pub type OnCommit = Box<dyn Fn(Vec<(FeedRecord, bool)>) + Send>;

/// What the store held when it was opened, to resume from.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The next feed seq.
    pub next_seq: u64,
    /// The last records of the feed, oldest first.
    pub history: Vec<FeedRow>,
    /// Held messages not yet reviewed.
    pub holds: Vec<HeldRow>,
    /// Room tiers.
    pub tiers: Vec<(String, Tier)>,
}

/// Seqs are reserved in blocks this large, ahead of use.
pub const SEQ_BLOCK: u64 = 1 << 20;

/// The feed's seqs as the store knows them: the next one the feed will hand out, and
/// the floor recorded in the store (`meta.seq_floor`), below which a restarted
/// server never starts. The writer moves the floor a block ahead whenever less than
/// half a block is left, in the same transaction as the records; so a seq shown to
/// anyone, even on a record the store never kept (queue full, disk full), is never
/// handed out again after a crash. A clean shutdown records the exact next seq, so
/// only a crash leaves a gap (of at most a block).
#[derive(Debug)]
struct SeqLedger {
    issued: AtomicU64,
    floor: AtomicU64,
}

impl SeqLedger {
    /// The floor to record with the next transaction, if it needs to move.
    fn due(&self) -> Option<u64> {
        let issued = self.issued.load(Ordering::Relaxed);
        (issued + SEQ_BLOCK / 2 > self.floor.load(Ordering::Relaxed)).then_some(issued + SEQ_BLOCK)
    }
}

/// The open store: a queue to the writer thread, and a path for readers. The writer
/// ends when the store is closed or dropped, after writing what was queued.
pub struct Store {
    path: PathBuf,
    tx: SyncSender<Command>,
    /// Records queued at most (`max_pending`); `pending` counts them.
    max_pending: usize,
    pending: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    /// The error of the last failed transaction, until one succeeds.
    last_error: Arc<std::sync::Mutex<Option<String>>>,
    seqs: Arc<SeqLedger>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// Records the writer's queue could not take.
#[derive(Debug)]
pub struct Rejected(pub Vec<FeedRecord>);

impl Store {
    /// Open (creating if needed) the store in `dir`, migrate it, read what it holds
    /// (keeping `history` feed records), and start the writer.
    ///
    /// # Errors
    /// [`StoreError`] when the directory or database cannot be opened.
    pub fn open(
        dir: &Path,
        config: StoreConfig,
        history: usize,
        on_commit: OnCommit,
    ) -> Result<(Store, Recovered), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE);
        let sqlite = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(sqlite)?;
        schema::prepare(&mut conn, config).map_err(sqlite)?;
        let recovered = query::recover(&conn, history).map_err(sqlite)?;
        // Reserve the first block before any seq of it is shown.
        let floor = recovered.next_seq + SEQ_BLOCK;
        schema::set_seq_floor(&mut conn, floor).map_err(sqlite)?;
        let seqs = Arc::new(SeqLedger {
            issued: AtomicU64::new(recovered.next_seq),
            floor: AtomicU64::new(floor),
        });
        let (tx, rx) = mpsc::sync_channel(config.max_pending);
        let pending = Arc::new(AtomicUsize::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let last_error = Arc::new(std::sync::Mutex::new(None));
        let mut writer = Writer {
            conn,
            rx,
            config,
            on_commit,
            pending: pending.clone(),
            healthy: healthy.clone(),
            last_error: last_error.clone(),
            seqs: seqs.clone(),
            stopped: None,
            wal_path: None,
            last_purge: Instant::now(),
            action_ids: std::collections::HashSet::new(),
            action_order: std::collections::VecDeque::new(),
        };
        let recent = schema::recent_action_ids(&writer.conn, RECENT_ACTIONS).map_err(sqlite)?;
        for id in recent.iter().rev() {
            writer.remember(action_hash(id));
        }
        // Checkpoints (copying the WAL into the database, with its fsync) take tens of
        // milliseconds; on the writer they would stall every commit an answer waits
        // for. A thread of their own runs them beside it.
        writer
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite)?;
        // A WAL file reset after a checkpoint shrinks back to this size.
        writer
            .conn
            .pragma_update(None, "journal_size_limit", WAL_LIMIT as i64)
            .map_err(sqlite)?;
        let checkpointer = Connection::open(&path).map_err(sqlite)?;
        let stopped = Arc::new(AtomicBool::new(false));
        writer.stopped = Some(stopped.clone());
        std::thread::Builder::new()
            .name("liveguard-store".into())
            .spawn(move || writer.run())
            .map_err(StoreError::Thread)?;
        std::thread::Builder::new()
            .name("liveguard-checkpoint".into())
            .spawn(move || checkpoint_until(checkpointer, &stopped))
            .map_err(StoreError::Thread)?;
        metrics::gauge!(t::STORE_UP).set(1.0);
        Ok((
            Store {
                path,
                tx,
                max_pending: config.max_pending,
                pending,
                healthy,
                last_error,
                seqs,
            },
            recovered,
        ))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queue a feed record. Never blocks: a full queue hands the record back.
    ///
    /// # Errors
    /// [`Rejected`] with the record when the queue is full or the writer is gone.
    pub fn submit(&self, record: FeedRecord) -> Result<(), Rejected> {
        self.submit_many(vec![record], None)
    }

    /// The feed has handed out every seq below `next`: the store keeps its floor
    /// ahead of it (see [`SEQ_BLOCK`]).
    pub fn issued(&self, next: u64) {
        self.seqs.issued.fetch_max(next, Ordering::Relaxed);
    }

    /// Queue the feed records of one frame together (one hand-off, one wake-up of
    /// the writer). Never blocks: when the queue cannot take them all (it holds
    /// `max_pending` records), they all come back. `on_written`, if given, is called
    /// from the writer once the records are committed or have failed to be; a
    /// submission with it is written without lingering.
    ///
    /// # Errors
    /// [`Rejected`] with the records when the queue is full or the writer is gone
    /// (`on_written` is then dropped uncalled).
    pub fn submit_many(
        &self,
        records: Vec<FeedRecord>,
        on_written: Option<OnWritten>,
    ) -> Result<(), Rejected> {
        let n = records.len();
        if n == 0 {
            return Ok(());
        }
        let before = self.pending.fetch_add(n, Ordering::Relaxed);
        if before + n > self.max_pending {
            self.pending.fetch_sub(n, Ordering::Relaxed);
            return Err(Rejected(records));
        }
        match self.tx.try_send(Command::Feed(records, on_written)) {
            Ok(()) => {
                metrics::gauge!(t::STORE_PENDING).set((before + n) as f64);
                Ok(())
            }
            Err(
                TrySendError::Full(Command::Feed(r, _))
                | TrySendError::Disconnected(Command::Feed(r, _)),
            ) => {
                self.pending.fetch_sub(n, Ordering::Relaxed);
                Err(Rejected(r))
            }
            Err(_) => unreachable!("a feed command comes back as it went"),
        }
    }

    /// Record a room's tier (best effort: a full queue drops it, with a log line).
    pub fn set_tier(&self, room: &str, tier: Tier, now_ms: u64) {
        if self
            .tx
            .try_send(Command::Tier(room.to_owned(), tier, now_ms))
            .is_err()
        {
            tracing::error!(%room, "Store queue full: room tier not recorded.");
        }
    }

    /// Save price book items ([`crate::price::PriceBook::take_changed`]); best effort:
    /// a full queue drops them, with a log line, and a restart then knows less of
    /// those items' history.
    pub fn save_prices(&self, items: Vec<crate::price::ItemSnapshot>) {
        if items.is_empty() {
            return;
        }
        let n = items.len();
        if self.tx.try_send(Command::Prices(items)).is_err() {
            tracing::error!(items = n, "Store queue full: price book changes not saved.");
        }
    }

    /// Record a lexicon version (best effort).
    pub fn record_lexicon(&self, record: LexiconRecord) {
        if self.tx.try_send(Command::Lexicon(record)).is_err() {
            tracing::error!("Store queue full: lexicon version not recorded.");
        }
    }

    /// Purge records older than the retention period at `now_ms` (the writer also
    /// does this on its own every `purge_interval_s`). Blocks until done; returns how
    /// many rows went.
    pub fn purge(&self, now_ms: u64) -> usize {
        let (ack, done) = mpsc::channel();
        if self.tx.send(Command::Purge(now_ms, ack)).is_err() {
            return 0;
        }
        done.recv().unwrap_or(0)
    }

    /// Wait until everything queued so far is written (or failed). Blocks.
    pub fn flush(&self) {
        let (ack, done) = mpsc::channel();
        if self.tx.send(Command::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// Write what is queued, record the exact next seq (so a clean restart resumes
    /// without a gap) and stop the writer. Blocks. Records submitted afterwards are
    /// refused.
    pub fn close(&self) {
        let (ack, done) = mpsc::channel();
        if self.tx.send(Command::Close(ack)).is_ok() {
            let _ = done.recv();
        }
    }

    /// While writes fail, try one (best effort: a full queue needs no probe, its
    /// records will try).
    pub fn probe(&self) {
        if !self.is_healthy() {
            let _ = self.tx.try_send(Command::Probe);
        }
    }

    /// Whether the last transaction committed.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// `Err` with the last transaction's error while writes fail (full disk, a
    /// read-only or removed file); `Ok` once one commits again.
    pub fn health(&self) -> Result<(), String> {
        if self.is_healthy() {
            return Ok(());
        }
        let error = self.last_error.lock().unwrap_or_else(|e| e.into_inner());
        Err(error.clone().unwrap_or_else(|| "writes failing".into()))
    }

    /// A reader on its own connection (WAL: reads never wait for the writer).
    ///
    /// # Errors
    /// The SQLite error when the file cannot be opened.
    pub fn reader(&self) -> Result<Reader, rusqlite::Error> {
        Reader::open(&self.path)
    }
}

/// The seq a server should resume from according to the store in `dir`, read without
/// writing anything: for a server that cannot open its store for writing (read-only
/// or full disk), so that it does not show seqs an earlier run showed. `None` when
/// the store cannot be read either.
pub fn peek_next_seq(dir: &Path) -> Option<u64> {
    let reader = Reader::open(&dir.join(DB_FILE)).ok()?;
    reader.next_seq().ok()
}

/// Open a store file for reading only (export, audits).
///
/// # Errors
/// The SQLite error when it cannot be opened.
pub fn open_reader(dir: &Path) -> Result<Reader, rusqlite::Error> {
    Reader::open(&dir.join(DB_FILE))
}

/// The WAL size past which the writer checkpoints itself. The checkpointer's passive
/// checkpoints never finish while the writer keeps appending, and a WAL that is never
/// reset grows without bound (1.6 GB for a million actions written flat out); this
/// bounds it, at the cost of one pause of the writer per `WAL_LIMIT` bytes written.
const WAL_LIMIT: u64 = 64 << 20;

/// How often the checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Run passive checkpoints (which never wait for the writer or readers) until the
/// writer stops, and a last full one then.
fn checkpoint_until(conn: Connection, stopped: &AtomicBool) {
    let checkpoint = |mode: &str| {
        if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::debug!(error = %e, "WAL checkpoint failed; the next one retries.");
        }
    };
    while !stopped.load(Ordering::Relaxed) {
        std::thread::sleep(CHECKPOINT_EVERY);
        checkpoint("PASSIVE");
    }
    checkpoint("TRUNCATE");
}

fn action_hash(id: &str) -> u64 {
    crate::hash::KeyHash::new(0x6163_7469_6f6e)
        .write(id.as_bytes())
        .finish()
}

/// Action ids remembered to keep retried actions out of the store (a retry comes
/// within seconds; this covers hours of actions).
const RECENT_ACTIONS: usize = 1 << 18;

struct Writer {
    conn: Connection,
    rx: Receiver<Command>,
    config: StoreConfig,
    on_commit: OnCommit,
    pending: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    last_error: Arc<std::sync::Mutex<Option<String>>>,
    seqs: Arc<SeqLedger>,
    /// Set when the writer ends, which ends the checkpointer.
    stopped: Option<Arc<AtomicBool>>,
    /// The WAL file, found on the first commit.
    wal_path: Option<PathBuf>,
    last_purge: Instant,
    /// Hashes of the most recent action ids, and their order for eviction. (A
    /// unique index would do this in SQLite, at the cost of a random page write per
    /// action.)
    action_ids: std::collections::HashSet<u64>,
    action_order: std::collections::VecDeque<u64>,
}

impl Writer {
    /// Remember an action id as written.
    fn remember(&mut self, h: u64) {
        if self.action_ids.insert(h) {
            self.action_order.push_back(h);
        }
        while self.action_order.len() > RECENT_ACTIONS {
            if let Some(old) = self.action_order.pop_front() {
                self.action_ids.remove(&old);
            }
        }
    }

    fn run(mut self) {
        let linger = Duration::from_millis(self.config.linger_ms);
        while let Ok(first) = self.rx.recv() {
            // Group commit: sleep through the linger time and take what arrived
            // meanwhile (sleeping rather than waiting on the queue spares a wake-up
            // per frame). A flush or a purge is answered without lingering, and a
            // backlog of a full batch is written at once.
            let backlog = self.pending.load(Ordering::Relaxed) >= self.config.batch_max;
            if !linger.is_zero() && !first.is_urgent() && !backlog {
                std::thread::sleep(linger);
            }
            let mut records = first.records();
            let mut batch = vec![first];
            while records < self.config.batch_max
                && !matches!(batch.last(), Some(Command::Close(_)))
            {
                match self.rx.try_recv() {
                    Ok(c) => {
                        records += c.records();
                        batch.push(c);
                    }
                    Err(_) => break,
                }
            }
            if let Some(ack) = self.apply(batch) {
                self.finish();
                let _ = ack.send(());
                return;
            }
            if self.last_purge.elapsed() >= Duration::from_secs(self.config.purge_interval_s) {
                self.last_purge = Instant::now();
                self.purge(now_ms());
            }
        }
        // Every sender is gone: the store was dropped without a close.
        self.finish();
    }

    /// Write a batch in one transaction and hand its records back. Returns the
    /// acknowledgement of a close, if the batch ends with one (commands after it are
    /// not taken: the queue is closed to them).
    fn apply(&mut self, batch: Vec<Command>) -> Option<mpsc::Sender<()>> {
        let mut records = Vec::new();
        let mut waiters = Vec::new();
        let mut state = schema::StateRows::default();
        let mut acks = Vec::new();
        let mut purges = Vec::new();
        let mut close = None;
        for c in batch {
            match c {
                Command::Feed(r, w) => {
                    records.extend(r);
                    waiters.extend(w);
                }
                Command::Tier(room, tier, ts) => state.tiers.push((room, tier, ts)),
                Command::Lexicon(l) => state.lexicons.push(l),
                Command::Prices(items) => state.prices.extend(items),
                Command::Purge(now, ack) => purges.push((now, ack)),
                Command::Flush(ack) => acks.push(ack),
                Command::Close(ack) => close = Some(ack),
                Command::Probe => {}
            }
        }
        // While writes fail, every transaction also tries to write a batch's worth of
        // bytes, so that even a probe finds out whether the disk is back.
        let failing = !self.healthy.load(Ordering::Relaxed);
        let floor = self.seqs.due();
        let started = Instant::now();
        // Actions already written (a retried event repeats them) are left out; the
        // batch's ids are remembered only if it commits.
        let mut batch_ids = std::collections::HashSet::new();
        let known = &self.action_ids;
        let result = schema::write(&mut self.conn, &records, &state, floor, failing, |id| {
            let h = action_hash(id);
            !known.contains(&h) && batch_ids.insert(h)
        });
        if result.is_ok() {
            for h in batch_ids {
                self.remember(h);
            }
            if let Some(floor) = floor {
                self.seqs.floor.store(floor, Ordering::Relaxed);
            }
            self.bound_wal();
        }
        let stored = match result {
            Ok(()) => {
                if !self.healthy.swap(true, Ordering::Relaxed) {
                    tracing::info!("Store writes succeed again.");
                }
                metrics::gauge!(t::STORE_UP).set(1.0);
                metrics::counter!(t::STORE_WRITES).increment(records.len() as u64);
                metrics::histogram!(t::STORE_COMMIT).record(started.elapsed().as_secs_f64());
                true
            }
            Err(e) => {
                *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                metrics::gauge!(t::STORE_UP).set(0.0);
                metrics::counter!(t::STORE_ERRORS).increment(1);
                metrics::counter!(t::STORE_UNSTORED).increment(records.len() as u64);
                if self.healthy.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, records = records.len(), "Store write failed: records are delivered but NOT stored until the store recovers.");
                } else {
                    tracing::debug!(error = %e, records = records.len(), "Store write failed again.");
                }
                false
            }
        };
        let n = records.len();
        if n > 0 {
            (self.on_commit)(records.into_iter().map(|r| (r, stored)).collect());
            self.pending.fetch_sub(n, Ordering::Relaxed);
            metrics::gauge!(t::STORE_PENDING).set(self.pending.load(Ordering::Relaxed) as f64);
        }
        // After the feed has them: a platform's answer never runs ahead of the alert.
        for w in waiters {
            w(stored);
        }
        for (now, ack) in purges {
            let _ = ack.send(self.purge(now));
        }
        for ack in acks {
            let _ = ack.send(());
        }
        close
    }

    /// Checkpoint on the writer itself when the WAL has outgrown [`WAL_LIMIT`]: with no
    /// write in between, it completes, and the next transaction starts the WAL over.
    fn bound_wal(&mut self) {
        let wal = self.wal_path.get_or_insert_with(|| {
            let mut p = self.conn.path().unwrap_or_default().to_owned();
            p.push_str("-wal");
            PathBuf::from(p)
        });
        if std::fs::metadata(&*wal).is_ok_and(|m| m.len() > WAL_LIMIT) {
            let started = Instant::now();
            match self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            {
                Ok(()) => {
                    tracing::debug!(took = ?started.elapsed(), "WAL checkpointed by the writer.")
                }
                Err(e) => tracing::debug!(error = %e, "WAL checkpoint by the writer failed."),
            }
        }
    }

    /// The store is closing: hand back unstored what came in behind the close, and
    /// record the exact next seq so that a clean restart resumes without a gap.
    fn finish(&mut self) {
        while let Ok(c) = self.rx.try_recv() {
            if let Command::Feed(records, waiter) = c {
                self.pending.fetch_sub(records.len(), Ordering::Relaxed);
                metrics::counter!(t::STORE_UNSTORED).increment(records.len() as u64);
                (self.on_commit)(records.into_iter().map(|r| (r, false)).collect());
                if let Some(w) = waiter {
                    w(false);
                }
            }
        }
        let next = self.seqs.issued.load(Ordering::Relaxed);
        if let Err(e) = schema::set_seq_floor(&mut self.conn, next) {
            tracing::warn!(error = %e, "Could not record the next seq: a restart skips ahead.");
        }
        if let Some(stopped) = &self.stopped {
            stopped.store(true, Ordering::Relaxed);
        }
    }

    fn purge(&mut self, now_ms: u64) -> usize {
        let cutoff = now_ms.saturating_sub(self.config.retention_days.saturating_mul(DAY_MS));
        match schema::purge(&mut self.conn, cutoff) {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(
                        rows = n,
                        cutoff,
                        "Purged records past the retention period."
                    );
                }
                metrics::counter!(t::STORE_PURGED).increment(n as u64);
                n
            }
            Err(e) => {
                metrics::counter!(t::STORE_ERRORS).increment(1);
                tracing::error!(error = %e, "Retention purge failed.");
                0
            }
        }
    }
}

#[cfg(test)]
mod tests;
