//! liveguard: a real-time moderation engine for live e-commerce rooms.
//!
//! Platforms send room chat and host transcripts; liveguard answers every event with a
//! verdict, finds false publicity, commercial slander, prohibited products, price
//! fraud, off-platform diversion and traffic fraud even when disguised, and disposes of
//! violations along the ladder of the Measures for the Supervision and Administration
//! of Live E-commerce (直播电商监督管理办法).
//!
//! # Layout
//!
//! One module per pipeline stage; everything up to the policy is synchronous and free
//! of I/O, so it can be tested, fuzzed and benchmarked alone.
//!
//! - [`event`]: wire protocol v1: events, their vocabulary and their parser.
//! - [`names`]: `wire_names!`, which gives each vocabulary enum (roles, categories,
//!   decisions, actions, error codes, …) its wire names, parsing and lists at once.
//! - [`normalize`]: folds what evaders type (separators, zero-width, width, case,
//!   traditional, number styles, confusables, leetspeak, repeats) into matchable text,
//!   with an offset map back to the original bytes.
//! - [`lexicon`]: the TOML lexicons and policy, parsed and validated.
//! - [`matcher`]: Aho-Corasick over normalized text with shape checks, allow-lists,
//!   context groups, pinyin spellings and regex rules.
//! - [`channel`]: the weaker ways to match a term (initials, look-alikes and split
//!   characters, emoji, homophones) and the tables behind them; every hit says `via`.
//! - [`context`]: whether a hit is asserted or only mentioned (negated, questioned,
//!   quoted, reported).
//! - [`window`]: per-user and per-room tails of recent events, for terms split across
//!   messages or ASR segments.
//! - [`policy`]: the decision table: hits to `allow`/`mask`/`hold`/`block`.
//! - [`burst`]: coordinated danmaku: near-duplicate messages from many accounts in
//!   a short time, found per room by bigram similarity.
//! - [`price`]: clear pricing: the price book of listed items (listings, sales) and
//!   the checks of compared prices, 先涨后降 and the host's price claims.
//! - [`dispatch`]: the disposal actions of a verdict and the escalation ladder's strike
//!   logs (warn, mute, limit traffic, suspend, report).
//! - [`engine`]: the pipeline above behind one `process(event)` call, with atomic
//!   ruleset swaps.
//! - [`evidence`]: what a judged event leaves as evidence (its feed record).
//! - [`store`]: the evidence store (SQLite, group commit off the hot path), its
//!   queries and export.
//! - [`server`]: the WebSocket ingest and alert feed, the HTTP API, limits, shutdown.
//! - [`wire`]: the frames liveguard writes: verdicts, error frames, the alert feed's
//!   records and replies, the HTTP API's bodies and the export lines.
//! - [`config`]: the typed configuration, validated before anything binds.
//! - [`cluster`]: scale-out by room on NATS JetStream: the room-to-partition map,
//!   the gateway's link, partition workers with leases, the evidence archiver.
//! - [`auth`]: scoped bearer tokens (ingest, moderate, admin) and the loopback rule.
//! - [`telemetry`]: metric names and the Prometheus recorder.
//! - [`scan`]: the `liveguard scan` NDJSON driver; [`check`]: `liveguard lexicon check`;
//!   [`loadgen`]: `liveguard loadgen`, with the chat mix of [`sample`];
//!   [`script`]: the pre-live script check behind `POST /v1/check`.
//! - [`clock`]: the one wall clock (ms since the epoch).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod burst;
pub mod channel;
pub mod check;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod engine;
pub mod event;
pub mod evidence;
mod hash;
pub mod lexicon;
pub mod loadgen;
pub mod matcher;
pub mod names;
pub mod normalize;
pub mod policy;
pub mod price;
pub mod sample;
pub mod scan;
pub mod script;
pub mod server;
mod state;
pub mod store;
pub mod telemetry;
pub mod window;
pub mod wire;
