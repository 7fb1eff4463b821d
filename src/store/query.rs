//! Reading the store: recovery at startup, feed replay, the audit query, export.

use crate::wire::{ActionPage, EvidenceEvent, ExportLine, ExportedLexicon};
use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use super::Recovered;
use crate::event::{Category, Severity, Tier};
use crate::policy::WindowPart;
use crate::price::{PriceFinding, PriceRecord};

/// A feed record read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedRow {
    /// Feed seq.
    pub seq: u64,
    /// alert or review.
    pub kind: String,
    /// Room.
    pub room: String,
    /// Categories of its hits.
    pub categories: Vec<Category>,
    /// Highest severity.
    pub severity: Option<Severity>,
    /// The frame as subscribers receive it.
    pub frame: String,
}

/// A held message not yet reviewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldRow {
    /// Its alert seq.
    pub seq: u64,
    /// The platform's event id.
    pub event_id: String,
    /// Room.
    pub room: String,
    /// When it was held, ms since the epoch.
    pub ts: u64,
    /// Categories of its hits.
    pub categories: Vec<Category>,
    /// Highest severity.
    pub severity: Option<Severity>,
}

fn categories(s: &str) -> Vec<Category> {
    s.split(',')
        .filter_map(|c| Category::ALL.into_iter().find(|k| k.as_str() == c))
        .collect()
}

fn severity(s: Option<String>) -> Option<Severity> {
    let s = s?;
    [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|v| v.as_str() == s)
}

fn feed_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FeedRow> {
    let seq: i64 = r.get(0)?;
    let kind: String = r.get(1)?;
    let body: String = r.get(5)?;
    Ok(FeedRow {
        seq: seq as u64,
        frame: crate::wire::feed_frame(&kind, seq as u64, true, &body),
        kind,
        room: r.get(2)?,
        categories: categories(&r.get::<_, String>(3)?),
        severity: severity(r.get(4)?),
    })
}

const FEED_COLUMNS: &str = "seq, kind, room, categories, severity, body";

/// The seq a server resumes from: past every stored seq and the recorded floor.
fn next_seq(conn: &Connection) -> rusqlite::Result<u64> {
    let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM feed", [], |r| r.get(0))?;
    Ok(last
        .map_or(1, |s| s as u64 + 1)
        .max(super::schema::seq_floor(conn)?))
}

/// What the store holds, to resume from.
pub(crate) fn recover(conn: &Connection, history: usize) -> rusqlite::Result<Recovered> {
    let mut rows: Vec<FeedRow> = conn
        .prepare(&format!(
            "SELECT {FEED_COLUMNS} FROM feed ORDER BY seq DESC LIMIT ?1"
        ))?
        .query_map([history as i64], feed_row)?
        .collect::<rusqlite::Result<_>>()?;
    rows.reverse();
    let holds = conn
        .prepare(
            "SELECT e.seq, e.event_id, e.room, e.ts, f.categories, f.severity FROM events e JOIN feed f ON f.seq = e.seq
             WHERE e.held = 1 AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.held_seq = e.seq) ORDER BY e.seq",
        )?
        .query_map([], |r| {
            Ok(HeldRow {
                seq: r.get::<_, i64>(0)? as u64,
                event_id: r.get(1)?,
                room: r.get(2)?,
                ts: r.get::<_, i64>(3)? as u64,
                categories: categories(&r.get::<_, String>(4)?),
                severity: severity(r.get(5)?),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    let tiers = conn
        .prepare("SELECT room, tier FROM room_tiers")?
        .query_map([], |r| {
            let tier: String = r.get(1)?;
            Ok((
                r.get(0)?,
                if tier == "enhanced" {
                    Tier::Enhanced
                } else {
                    Tier::Standard
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Recovered {
        next_seq: next_seq(conn)?,
        history: rows,
        holds,
        tiers,
    })
}

/// `GET /v1/actions`: a page of actions in the order they were stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ActionQuery {
    /// Only this room.
    pub room: Option<String>,
    /// Only actions at or after this time (ms).
    pub since: Option<u64>,
    /// Only actions before this time (ms).
    pub until: Option<u64>,
    /// Page size.
    pub limit: usize,
    /// Continue after this cursor (from the previous page).
    pub cursor: Option<u64>,
}

/// `liveguard export`: actions with their evidence, for regulators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportQuery {
    /// Only this room.
    pub room: Option<String>,
    /// From this time (ms, inclusive).
    pub since: Option<u64>,
    /// To this time (ms, exclusive).
    pub until: Option<u64>,
}

/// A read-only connection to the store.
pub struct Reader {
    conn: Connection,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reader")
    }
}

impl Reader {
    /// Hand the saved price book items to `take`, the most recently seen first, at
    /// most `limit`, one at a time (a full book does not sit in memory twice). A
    /// damaged row is skipped: that item's history starts over. Returns how many
    /// were handed over.
    ///
    /// # Errors
    /// Reading the store failed.
    pub fn price_book(
        &self,
        limit: usize,
        mut take: impl FnMut(crate::price::ItemSnapshot),
    ) -> rusqlite::Result<usize> {
        let mut stmt = self
            .conn
            .prepare("SELECT history FROM price_book ORDER BY seen DESC LIMIT ?1")?;
        let mut rows = stmt.query([limit as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            if let Ok(item) = serde_json::from_str(&row.get::<_, String>(0)?) {
                take(item);
                n += 1;
            }
        }
        Ok(n)
    }

    pub(crate) fn open(path: &Path) -> rusqlite::Result<Reader> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        Ok(Reader { conn })
    }

    /// Feed records with `after < seq < before`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn feed(&self, after: u64, before: u64, limit: usize) -> rusqlite::Result<Vec<FeedRow>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {FEED_COLUMNS} FROM feed WHERE seq > ?1 AND seq < ?2 ORDER BY seq LIMIT ?3"
            ))?
            .query_map(
                params![
                    after as i64,
                    before.min(i64::MAX as u64) as i64,
                    limit as i64
                ],
                feed_row,
            )?
            .collect()
    }

    /// The seq a server resumes from: past every stored seq and the recorded floor.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn next_seq(&self) -> rusqlite::Result<u64> {
        next_seq(&self.conn)
    }

    /// The lowest seq the feed still holds.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn first_seq(&self) -> rusqlite::Result<Option<u64>> {
        let v: Option<i64> = self
            .conn
            .query_row("SELECT MIN(seq) FROM feed", [], |r| r.get(0))?;
        Ok(v.map(|v| v as u64))
    }

    /// One page of actions.
    ///
    /// # Errors
    /// SQLite errors.
    pub fn actions(&self, q: &ActionQuery) -> rusqlite::Result<ActionPage> {
        let limit = q.limit.clamp(1, 1000);
        let mut stmt = self.conn.prepare_cached(
            "SELECT row, json FROM actions
             WHERE row > ?1 AND (?2 IS NULL OR room = ?2) AND (?3 IS NULL OR ts >= ?3) AND (?4 IS NULL OR ts < ?4)
             ORDER BY row LIMIT ?5",
        )?;
        let rows: Vec<(i64, String)> = stmt
            .query_map(
                params![
                    q.cursor.unwrap_or(0) as i64,
                    q.room,
                    q.since.map(|v| v as i64),
                    q.until.map(|v| v as i64),
                    limit as i64 + 1
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        Ok(ActionPage {
            next_cursor: more
                .then(|| rows.last().map(|(row, _)| row.to_string()))
                .flatten(),
            actions: rows
                .iter()
                .filter_map(|(_, json)| serde_json::from_str(json).ok())
                .collect(),
        })
    }

    /// How many actions `q` matches (for an export's progress).
    ///
    /// # Errors
    /// SQLite errors.
    pub fn count_actions(&self, q: &ExportQuery) -> rusqlite::Result<u64> {
        self.conn.query_row(
            "SELECT COUNT(*) FROM actions
             WHERE (?1 IS NULL OR room = ?1) AND (?2 IS NULL OR ts >= ?2) AND (?3 IS NULL OR ts < ?3)",
            params![q.room, q.since.map(|v| v as i64), q.until.map(|v| v as i64)],
            |r| r.get::<_, i64>(0).map(|n| n as u64),
        )
    }

    /// Every action matching `q`, each with its evidence events and the lexicon that
    /// decided it, as NDJSON lines written to `out`. Returns how many. Streams: memory
    /// stays flat whatever the store's size.
    ///
    /// # Errors
    /// SQLite or I/O errors.
    pub fn export(
        &self,
        q: &ExportQuery,
        out: &mut dyn std::io::Write,
    ) -> Result<usize, ExportError> {
        self.export_with_progress(q, out, &mut |_| {})
    }

    /// [`Reader::export`], calling `progress` with the number of actions written so
    /// far after every 10,000 (`EXPORT_PROGRESS_EVERY`) of them.
    ///
    /// # Errors
    /// SQLite or I/O errors.
    pub fn export_with_progress(
        &self,
        q: &ExportQuery,
        out: &mut dyn std::io::Write,
        progress: &mut dyn FnMut(usize),
    ) -> Result<usize, ExportError> {
        let mut actions = self.conn.prepare(
            "SELECT json, lexicon, seq FROM actions
             WHERE (?1 IS NULL OR room = ?1) AND (?2 IS NULL OR ts >= ?2) AND (?3 IS NULL OR ts < ?3)
             ORDER BY ts, row",
        )?;
        // Evidence events are found by id (indexed) among the room's events of the day
        // before the action (windows and strike windows are far shorter); what was
        // said and matched comes from the alert's feed body. Two senders may use one
        // event id: the event of the alert that carried the action comes first, then
        // the target's own events.
        let mut event = self.conn.prepare_cached(EVIDENCE_EVENT)?;
        let mut carrier_body = self
            .conn
            .prepare_cached("SELECT body FROM feed WHERE seq = ?1")?;
        let mut lexicon = self.conn.prepare_cached(
            "SELECT hash, origin, loaded_at, summary FROM lexicons WHERE version = ?1 ORDER BY loaded_at DESC LIMIT 1",
        )?;
        let mut rows = actions.query(params![
            q.room,
            q.since.map(|v| v as i64),
            q.until.map(|v| v as i64)
        ])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            let json: String = row.get(0)?;
            let version: String = row.get(1)?;
            let carrier: i64 = row.get(2)?;
            // Only what the lookups need is decoded; every field is copied as it is.
            let mut fields: BTreeMap<&str, &RawValue> = serde_json::from_str(&json)?;
            fields.remove("lexicon");
            let action: StoredAction<'_> = serde_json::from_str(&json)?;
            let target_user = action.target.user.as_deref();
            // What the carrying alert recorded of earlier events (split terms'
            // fragments, compared prices), read only if an evidence id is not a
            // stored event of its own.
            let mut carried: Option<Recorded> = None;
            let mut evidence = Vec::with_capacity(action.evidence.len());
            for id in &action.evidence {
                let id = id.as_ref();
                let stored = event
                    .query_row(
                        params![id, action.room, action.ts, carrier, target_user],
                        |r| {
                            let body: String = r.get(8)?;
                            let (text, hits) = alert_text_and_hits(&body);
                            Ok(EvidenceEvent::Stored {
                                id: r.get(0)?,
                                ts: r.get(1)?,
                                kind: r.get(2)?,
                                user: r.get(3)?,
                                role: r.get(4)?,
                                text,
                                normalized: r.get(5)?,
                                decision: r.get(6)?,
                                hits,
                                lexicon: r.get(7)?,
                            })
                        },
                    )
                    .optional()?;
                let found = match stored {
                    Some(e) => e,
                    None => {
                        let recorded = match &carried {
                            Some(recorded) => recorded,
                            None => carried.insert(recorded_evidence(&mut carrier_body, carrier)?),
                        };
                        let matched: String = recorded
                            .parts
                            .iter()
                            .filter(|p| p.id == id)
                            .map(|p| p.matched.as_str())
                            .collect();
                        let price = recorded.prices.iter().find(|(_, r)| r.id == id);
                        match (matched.is_empty(), price) {
                            (false, _) => EvidenceEvent::Fragment {
                                id: id.to_owned(),
                                fragment: matched,
                                recorded_in: carrier as u64,
                            },
                            (true, Some((item, r))) => EvidenceEvent::Price {
                                id: id.to_owned(),
                                kind: r.kind,
                                item: item.clone(),
                                price: r.price,
                                compared_price: r.compared_price,
                                ts: r.ts,
                                recorded_in: carrier as u64,
                            },
                            (true, None) => EvidenceEvent::Missing {
                                id: id.to_owned(),
                                stored: false,
                            },
                        }
                    }
                };
                evidence.push(found);
            }
            let lex = lexicon
                .query_row([&version], |r| {
                    Ok(ExportedLexicon {
                        version: version.clone(),
                        hash: Some(r.get(0)?),
                        origin: Some(r.get(1)?),
                        loaded_at: Some(r.get(2)?),
                        summary: serde_json::from_str(&r.get::<_, String>(3)?).ok(),
                    })
                })
                .optional()?
                .unwrap_or_else(|| ExportedLexicon {
                    version: version.clone(),
                    hash: None,
                    origin: None,
                    loaded_at: None,
                    summary: None,
                });
            let line = ExportLine {
                action: fields,
                evidence_events: evidence,
                lexicon: lex,
            };
            serde_json::to_writer(&mut *out, &line)?;
            out.write_all(b"\n")?;
            n += 1;
            if n % EXPORT_PROGRESS_EVERY == 0 {
                progress(n);
            }
        }
        out.flush()?;
        Ok(n)
    }
}

/// An evidence event by id (`?1`), room (`?2`), action time (`?3`), carrying alert's
/// seq (`?4`) and target user (`?5`). Found through `events_id`: without that index
/// every lookup scanned a day of the room's events.
pub(super) const EVIDENCE_EVENT: &str =
    "SELECT e.event_id, e.ts, e.kind, e.user, e.role, e.normalized, e.decision, e.lexicon, f.body
     FROM events e JOIN feed f ON f.seq = e.seq
     WHERE e.event_id = ?1 AND e.room = ?2
       AND (e.seq = ?4 OR e.ts BETWEEN ?3 - 86400000 AND ?3)
     ORDER BY e.seq = ?4 DESC, e.user IS ?5 DESC, e.seq DESC LIMIT 1";

/// What an export needs to read of a stored action.
#[derive(Deserialize)]
struct StoredAction<'a> {
    #[serde(borrow)]
    room: Cow<'a, str>,
    ts: i64,
    #[serde(borrow, default)]
    evidence: Vec<Cow<'a, str>>,
    #[serde(borrow)]
    target: StoredTarget<'a>,
}

#[derive(Deserialize)]
struct StoredTarget<'a> {
    #[serde(borrow, default)]
    user: Option<Cow<'a, str>>,
}

/// What an export copies of a stored alert body: the event's text and the hits.
#[derive(Deserialize)]
struct AlertParts<'a> {
    #[serde(borrow)]
    event: AlertEventPart<'a>,
    #[serde(borrow)]
    verdict: AlertVerdictPart<'a>,
}

#[derive(Deserialize)]
struct AlertEventPart<'a> {
    #[serde(borrow)]
    text: &'a RawValue,
}

#[derive(Deserialize)]
struct AlertVerdictPart<'a> {
    #[serde(borrow)]
    hits: &'a RawValue,
}

/// The event text and the hits of a stored alert body (`null` for a body that is
/// not one: a damaged row is exported as far as it can be).
fn alert_text_and_hits(body: &str) -> (Box<RawValue>, Box<RawValue>) {
    let null = || RawValue::from_string("null".into()).expect("null is JSON");
    match serde_json::from_str::<AlertParts<'_>>(body) {
        Ok(p) => (p.event.text.to_owned(), p.verdict.hits.to_owned()),
        Err(_) => (null(), null()),
    }
}

/// How often an export reports its progress, in actions.
pub const EXPORT_PROGRESS_EVERY: usize = 10_000;

/// What the alert of a seq recorded of earlier events in its hits: the fragments of
/// split terms, and the listings and sales its price checks compared (with their
/// item).
#[derive(Default)]
struct Recorded {
    parts: Vec<WindowPart>,
    prices: Vec<(String, PriceRecord)>,
}

/// What the alert of `seq` recorded of earlier events.
fn recorded_evidence(
    body: &mut rusqlite::CachedStatement<'_>,
    seq: i64,
) -> Result<Recorded, ExportError> {
    let Some(body) = body
        .query_row([seq], |r| r.get::<_, String>(0))
        .optional()?
    else {
        return Ok(Recorded::default());
    };
    let body: serde_json::Value = serde_json::from_str(&body)?;
    let mut found = Recorded::default();
    for hit in body["verdict"]["hits"].as_array().into_iter().flatten() {
        if let Some(f) = hit.get("fragments") {
            found
                .parts
                .extend(serde_json::from_value::<Vec<WindowPart>>(f.clone())?);
        }
        if let Some(p) = hit.get("price") {
            let finding: PriceFinding = serde_json::from_value(p.clone())?;
            let item = finding.item;
            found
                .prices
                .extend(finding.evidence.into_iter().map(|r| (item.clone(), r)));
        }
    }
    Ok(found)
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored JSON value is damaged, or writing failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing failed.
    #[error("write: {0}")]
    Io(#[from] std::io::Error),
}
