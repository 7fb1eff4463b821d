//! The schema, its migrations, and the writer's statements.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{FeedRecord, LexiconRecord, StoreConfig, Synchronous};
use crate::event::Tier;

/// Migrations, in order; `PRAGMA user_version` is the number applied. Never edit one
/// that has shipped: add the next.
const MIGRATIONS: &[&str] = &[
    // 1: the evidence schema.
    r#"
    -- Every record of the alert feed, exactly as subscribers receive it (for replay).
    CREATE TABLE feed (
        seq        INTEGER PRIMARY KEY,
        kind       TEXT    NOT NULL,          -- alert | review
        ts         INTEGER NOT NULL,          -- ms since the epoch
        room       TEXT    NOT NULL,
        categories TEXT    NOT NULL,          -- comma-separated, for feed filters
        severity   TEXT,
        body       TEXT    NOT NULL           -- the frame without kind and seq
    );
    CREATE INDEX feed_ts ON feed (ts);

    -- Flagged events: who said what, how it was normalized, what was decided. What
    -- was said and matched is in the feed body of the same seq.
    CREATE TABLE events (
        seq        INTEGER PRIMARY KEY,       -- the alert's feed seq
        event_id   TEXT    NOT NULL,
        ts         INTEGER NOT NULL,
        room       TEXT    NOT NULL,
        user       TEXT,
        role       TEXT    NOT NULL,
        kind       TEXT    NOT NULL,
        normalized TEXT    NOT NULL,
        decision   TEXT    NOT NULL,
        lexicon    TEXT    NOT NULL,
        held       INTEGER NOT NULL           -- 1 when it was held for review
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE INDEX events_held ON events (held) WHERE held = 1;

    -- Disposal actions. A retried event yields the same action_id; the writer keeps
    -- it out twice (see Writer::fresh_actions).
    CREATE TABLE actions (
        row          INTEGER PRIMARY KEY,
        action_id    TEXT    NOT NULL,
        seq          INTEGER NOT NULL,        -- the alert that carried it
        ts           INTEGER NOT NULL,
        room         TEXT    NOT NULL,
        type         TEXT    NOT NULL,
        target_user  TEXT,
        target_event TEXT,
        target_room  TEXT,
        duration_s   INTEGER,
        basis        TEXT    NOT NULL,
        lexicon      TEXT    NOT NULL,
        json         TEXT    NOT NULL         -- the action as sent
    );
    CREATE INDEX actions_ts ON actions (ts);

    -- Indexes follow time only: keys that arrive in order append to the last pages,
    -- while random keys (ids, rooms) would rewrite a different page per record and
    -- multiply the bytes written (measured: 21 KB per record with them). Queries by
    -- room or id scan a time range instead.

    -- Reviews of held messages: who decided what, when.
    CREATE TABLE reviews (
        seq       INTEGER PRIMARY KEY,        -- the review's feed seq
        held_seq  INTEGER NOT NULL,           -- the held alert
        event_id  TEXT    NOT NULL,
        room      TEXT    NOT NULL,
        decision  TEXT    NOT NULL,
        by        TEXT    NOT NULL,
        note      TEXT,
        ts        INTEGER NOT NULL
    );
    CREATE INDEX reviews_held ON reviews (held_seq);

    -- Every lexicon version that ran, so evidence can be traced to its rules.
    CREATE TABLE lexicons (
        version   TEXT    NOT NULL,
        hash      TEXT    NOT NULL,
        origin    TEXT    NOT NULL,
        loaded_at INTEGER NOT NULL,
        summary   TEXT    NOT NULL,           -- JSON: entries, patterns, rules
        PRIMARY KEY (version, hash)
    );

    -- Monitoring tiers (Art 11).
    CREATE TABLE room_tiers (
        room       TEXT    PRIMARY KEY,
        tier       TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    );
    "#,
    // 2: the seq floor. Seqs go out before their records are stored (or on records
    // never stored at all), so the highest stored seq is not where a restart may
    // resume: `seq_floor` is kept ahead of every seq handed out (see SeqLedger).
    r#"
    CREATE TABLE meta (
        key   TEXT    PRIMARY KEY,
        value INTEGER NOT NULL
    );
    "#,
    // 3: evidence by event id. An export looks up every evidence id of every action
    // (a mute cites each strike's event); without an index each lookup scanned a day
    // of the room's events, and a 24k-action export slowed to 80 actions/s. One
    // random-key index costs the writer (see docs/PERFORMANCE.md); this one is worth it.
    r#"
    CREATE INDEX events_id ON events (event_id);
    "#,
    // 4: the price book (crate::price): each item's listed prices and recent daily
    // lowest sales, saved with the sweep when they change, read back at startup so
    // the 7-day low survives a restart. One row per item, rewritten in place.
    r#"
    CREATE TABLE price_book (
        room    TEXT    NOT NULL,
        item    TEXT    NOT NULL,
        seen    INTEGER NOT NULL,             -- its latest listing or sale, ms
        history TEXT    NOT NULL,             -- JSON: crate::price::ItemSnapshot
        PRIMARY KEY (room, item)
    );
    CREATE INDEX price_book_seen ON price_book (seen);
    "#,
];

const SET_SEQ_FLOOR: &str = "INSERT INTO meta (key, value) VALUES ('seq_floor', ?1)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Record the lowest seq a restarted server may hand out.
pub(crate) fn set_seq_floor(conn: &mut Connection, floor: u64) -> rusqlite::Result<()> {
    conn.execute(SET_SEQ_FLOOR, [floor as i64]).map(drop)
}

/// The recorded seq floor (1 when none is, or when the store predates the floor: a
/// reader may look at a store that was never migrated).
pub(crate) fn seq_floor(conn: &Connection) -> rusqlite::Result<u64> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(1);
    }
    let v: Option<i64> = conn
        .query_row("SELECT value FROM meta WHERE key = 'seq_floor'", [], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.map_or(1, |v| v as u64))
}

/// The schema version this build writes.
#[cfg(test)]
pub(crate) fn current_version() -> u32 {
    MIGRATIONS.len() as u32
}

/// Pragmas and migrations.
pub(crate) fn prepare(conn: &mut Connection, config: StoreConfig) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match config.synchronous {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if config.max_size_mib > 0 {
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let pages = (config.max_size_mib * 1024 * 1024) as i64 / page_size.max(512);
        conn.pragma_update(None, "max_page_count", pages)?;
    }
    migrate(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let applied: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if applied as usize > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
            Some(format!(
                "the store has schema version {applied}, newer than this build ({}): upgrade liveguard",
                MIGRATIONS.len()
            )),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as u32 + 1)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "Store schema migrated.");
    }
    Ok(())
}

/// What a batch writes besides feed records: room tiers, lexicon versions and price
/// book items.
#[derive(Debug, Default)]
pub(crate) struct StateRows {
    pub(crate) tiers: Vec<(String, Tier, u64)>,
    pub(crate) lexicons: Vec<LexiconRecord>,
    pub(crate) prices: Vec<crate::price::ItemSnapshot>,
}

/// Write one batch in one transaction. `fresh` says whether an action id has not been
/// written before (retries repeat them).
pub(crate) fn write(
    conn: &mut Connection,
    records: &[FeedRecord],
    state: &StateRows,
    seq_floor: Option<u64>,
    probe: bool,
    mut fresh: impl FnMut(&str) -> bool,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    if let Some(floor) = seq_floor {
        tx.prepare_cached(SET_SEQ_FLOOR)?.execute([floor as i64])?;
    }
    if probe {
        // Room for a batch of records? A row of that size, taken back at once: on a
        // full disk or a store at its size cap it fails like a batch would.
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('probe', zeroblob(65536))",
            [],
        )?;
        tx.execute("DELETE FROM meta WHERE key = 'probe'", [])?;
    }
    for r in records {
        write_record(&tx, r, &mut fresh)?;
    }
    for (room, tier, ts) in &state.tiers {
        tx.execute(
            "INSERT INTO room_tiers (room, tier, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (room) DO UPDATE SET tier = excluded.tier, updated_at = excluded.updated_at",
            params![room, tier.as_str(), *ts as i64],
        )?;
    }
    for item in &state.prices {
        let history = serde_json::to_string(item).expect("a snapshot serializes");
        tx.prepare_cached(
            "INSERT INTO price_book (room, item, seen, history) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (room, item) DO UPDATE SET seen = excluded.seen, history = excluded.history",
        )?
        .execute(params![item.room, item.item, item.seen as i64, history])?;
    }
    for l in &state.lexicons {
        tx.execute(
            "INSERT OR IGNORE INTO lexicons (version, hash, origin, loaded_at, summary) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![l.version, l.hash, l.origin, l.loaded_at as i64, l.summary],
        )?;
    }
    tx.commit()
}

fn write_record(
    tx: &Transaction<'_>,
    r: &FeedRecord,
    fresh: &mut impl FnMut(&str) -> bool,
) -> rusqlite::Result<()> {
    let categories: Vec<&str> = r.categories.iter().map(|c| c.as_str()).collect();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO feed (seq, kind, ts, room, categories, severity, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.seq as i64,
        r.kind,
        r.ts as i64,
        r.room,
        categories.join(","),
        r.severity.map(|s| s.as_str()),
        r.body,
    ])?;
    if let Some(e) = &r.event {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO events (seq, event_id, ts, room, user, role, kind, normalized, decision, lexicon, held)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            r.seq as i64,
            e.event_id,
            r.ts as i64,
            r.room,
            e.user,
            e.role,
            e.kind,
            e.normalized,
            e.decision,
            e.lexicon,
            e.held,
        ])?;
    }
    for a in r.actions.iter().filter(|a| fresh(&a.action_id)) {
        tx.prepare_cached(
            "INSERT INTO actions (action_id, seq, ts, room, type, target_user, target_event, target_room, duration_s, basis, lexicon, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            a.action_id,
            r.seq as i64,
            r.ts as i64,
            r.room,
            a.action,
            a.target_user,
            a.target_event,
            a.target_room,
            a.duration_s.map(|d| d as i64),
            a.basis,
            a.lexicon,
            a.json,
        ])?;
    }
    if let Some(v) = &r.review {
        tx.prepare_cached(
            "INSERT OR REPLACE INTO reviews (seq, held_seq, event_id, room, decision, by, note, ts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            r.seq as i64,
            v.held_seq as i64,
            v.event_id,
            r.room,
            v.decision,
            v.by,
            v.note,
            r.ts as i64,
        ])?;
    }
    Ok(())
}

/// The held alerts no review has resolved: never purged.
const UNDER_REVIEW: &str = "SELECT seq FROM events WHERE held = 1 AND NOT EXISTS (SELECT 1 FROM reviews WHERE reviews.held_seq = events.seq)";

/// Delete everything older than `cutoff` (ms) except messages still under review
/// and what belongs to them. Returns the rows deleted.
pub(crate) fn purge(conn: &mut Connection, cutoff: u64) -> rusqlite::Result<usize> {
    let cutoff = cutoff as i64;
    let tx = conn.transaction()?;
    let mut n = 0;
    // Order matters: "under review" is read from events and reviews, so those go last.
    n += tx.execute(
        &format!("DELETE FROM actions WHERE ts < ?1 AND seq NOT IN ({UNDER_REVIEW})"),
        [cutoff],
    )?;
    n += tx.execute(
        &format!("DELETE FROM feed WHERE ts < ?1 AND seq NOT IN ({UNDER_REVIEW})"),
        [cutoff],
    )?;
    n += tx.execute(
        &format!("DELETE FROM events WHERE ts < ?1 AND seq NOT IN ({UNDER_REVIEW})"),
        [cutoff],
    )?;
    n += tx.execute("DELETE FROM reviews WHERE ts < ?1", [cutoff])?;
    n += tx.execute("DELETE FROM price_book WHERE seen < ?1", [cutoff])?;
    tx.commit()?;
    Ok(n)
}

/// The most recent action ids, to keep retried actions out after a restart.
pub(crate) fn recent_action_ids(conn: &Connection, n: usize) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT action_id FROM actions ORDER BY row DESC LIMIT ?1")?
        .query_map([n as i64], |r| r.get(0))?
        .collect()
}
