//! The `liveguard` command: parses arguments and hands over to the library.

use std::io::{self, BufReader, BufWriter, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand};
use liveguard::engine::{Engine, EngineConfig, Ruleset};
use liveguard::lexicon::{Lexicon, LexiconSource};
use liveguard::matcher::BuildOptions;

/// Real-time moderation for live e-commerce rooms.
#[derive(Debug, Parser)]
#[command(name = "liveguard", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Judge NDJSON events from FILE (or stdin) and write one verdict per event.
    Scan {
        /// Lexicon directory replacing the embedded default.
        #[arg(long, value_name = "DIR")]
        lexicons: Option<PathBuf>,
        /// Input file; `-` or absent for stdin.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Lexicon tools.
    Lexicon {
        #[command(subcommand)]
        command: LexiconCommand,
    },
}

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
            eprintln!("liveguard: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan { lexicons, file } => scan(lexicons, file),
        Command::Lexicon {
            command: LexiconCommand::Check { dir },
        } => check(dir),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
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
