//! The `liveguard` binary: `scan` and `lexicon check`, run as a user would.

use std::io::Write;
use std::process::{Command, Stdio};

fn liveguard() -> Command {
    Command::new(env!("CARGO_BIN_EXE_liveguard"))
}

/// The JSON objects of an NDJSON output.
fn json_lines(stdout: Vec<u8>) -> Vec<serde_json::Value> {
    String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("liveguard-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn scan_reads_stdin_and_answers_every_line_in_order() {
    let mut child = liveguard()
        .args(["scan", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            concat!(
                r#"{"kind":"chat","id":"1","room":"r","user":"u","text":"主播晚上好"}"#,
                "\n",
                r#"{"kind":"chat","id":"2","room":"r","user":"u","text":"加 微 信"}"#,
                "\n",
                r#"{"kind":"wave","id":"3","room":"r","text":"x"}"#,
                "\n",
            )
            .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a bad line fails the run");
    let lines: Vec<_> = json_lines(out.stdout)
        .into_iter()
        .filter(|v| v["kind"] != "action")
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["decision"], "allow");
    assert_eq!(lines[1]["decision"], "block");
    assert_eq!(lines[1]["hits"][0]["matched"], "加 微 信");
    assert_eq!(lines[2]["kind"], "error");
    assert_eq!(lines[2]["line"], 3);
    assert_eq!(lines[2]["id"], "3");
    assert_eq!(lines[2]["reason"], "unknown kind `wave`");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("2 events (1 flagged), 1 bad lines"),
        "{stderr}"
    );
}

#[test]
fn lexicon_check_passes_the_embedded_lexicon() {
    let out = liveguard().args(["lexicon", "check"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 error(s)"), "{stdout}");
}

#[test]
fn lexicons_dir_overrides_the_embedded_lexicon_and_check_reports_errors() {
    let dir = temp_dir("override");
    std::fs::write(
        dir.join("policy.toml"),
        "version = \"custom.1\"\n[[decide]]\ndecision = \"block\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("mine.toml"),
        "category = \"diversion\"\n[[entry]]\nid = \"x.pigeon\"\nterm = \"飞鸽传书\"\nseverity = \"high\"\nnote = \"test\"\n",
    )
    .unwrap();
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        "{\"kind\":\"chat\",\"id\":\"1\",\"room\":\"r\",\"text\":\"飞*鸽*传*书\"}\n{\"kind\":\"chat\",\"id\":\"2\",\"room\":\"r\",\"text\":\"加微信\"}\n",
    )
    .unwrap();
    let out = liveguard()
        .args(["scan", "--lexicons"])
        .arg(&dir)
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<_> = json_lines(out.stdout)
        .into_iter()
        .filter(|v| v["kind"] == "verdict")
        .collect();
    assert_eq!(lines[0]["decision"], "block");
    assert_eq!(lines[0]["lexicon"], "custom.1");
    assert_eq!(
        lines[1]["decision"], "allow",
        "the embedded lexicon is replaced"
    );

    let check = liveguard()
        .args(["lexicon", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(check.status.success());

    std::fs::write(
        dir.join("broken.toml"),
        "category = \"diversion\"\n[[entry]]\nid = \"x.pigeon\"\nterm = \"信鸽\"\nseverity = \"high\"\nnote = \"dup\"\n",
    )
    .unwrap();
    let check = liveguard()
        .args(["lexicon", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1));
    let stdout = String::from_utf8(check.stdout).unwrap();
    assert!(stdout.contains("duplicate entry id"), "{stdout}");

    let scan = liveguard()
        .args(["scan", "--lexicons"])
        .arg(&dir)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        !scan.status.success(),
        "a broken lexicon is refused, not half-used"
    );
    assert!(
        String::from_utf8(scan.stderr)
            .unwrap()
            .contains("duplicate entry id")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn serve_reloads_on_sighup_and_exits_0_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let data = temp_dir("serve-data");
    // A host name is resolved (localhost: the first loopback address it names).
    let mut child = liveguard()
        .args(["serve", "--listen", "localhost:0", "--data"])
        .arg(&data)
        .env("LIVEGUARD_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut wait_for = |needle: &str| -> String {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(
                log.read_line(&mut line).unwrap() > 0,
                "the server exited before logging {needle}"
            );
            if line.contains(needle) {
                return line.clone();
            }
        }
    };
    let serving = wait_for("liveguard serving");
    let addr = serving
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))
        .expect("the log names the address")
        .to_owned();
    let ip: std::net::SocketAddr = addr.parse().expect("an address");
    assert!(ip.ip().is_loopback(), "{addr}");
    let health = std::process::Command::new("curl")
        .args(["-s", &format!("http://{addr}/healthz")])
        .output();
    if let Ok(out) = health {
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"status\":\"ok\""));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for("Lexicon reloaded");
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    wait_for("liveguard stopped");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn serve_refuses_the_network_without_tokens_before_binding() {
    let data = temp_dir("exposed");
    let out = liveguard()
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(&data)
        .env_remove("LIVEGUARD_INGEST_TOKEN")
        .env_remove("LIVEGUARD_MODERATE_TOKEN")
        .env_remove("LIVEGUARD_ADMIN_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--insecure"), "{stderr}");
    assert!(!data.join("liveguard.db").exists(), "nothing was started");
}

#[test]
fn token_prints_a_token_and_the_entry_that_admits_it() {
    let out = liveguard()
        .args(["token", "--scope", "moderate", "--name", "审核组"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("token: "))
        .unwrap();
    assert_eq!(token.len(), 64);
    let entry: String = text
        .lines()
        .filter(|l| !l.starts_with("token:"))
        .collect::<Vec<_>>()
        .join("\n");
    #[derive(serde::Deserialize)]
    struct Entries {
        auth: liveguard::config::AuthConfig,
    }
    let parsed: Entries = toml::from_str(&entry).unwrap();
    let spec = &parsed.auth.tokens[0];
    assert_eq!(spec.name, "审核组");
    assert_eq!(spec.scope, Some(liveguard::auth::Scope::Moderate));
    assert_eq!(
        spec.sha256.as_deref(),
        Some(liveguard::auth::hash_hex(token).as_str())
    );
    let auth = liveguard::auth::Auth::new(&parsed.auth.tokens, |_| None).unwrap();
    auth.authorize(Some(token), liveguard::auth::Scope::Moderate)
        .unwrap();
}

/// The README's clear-pricing example, as `scan` answers it: the compared price above
/// the 7-day low delists the item, the host's 吊牌价 above it prompts a correction.
#[test]
fn scan_checks_the_readme_listings_and_sales() {
    let out = liveguard()
        .args(["scan", "tests/fixtures/pricing-session.jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = json_lines(out.stdout);
    let verdict = |id: &str| {
        lines
            .iter()
            .find(|l| l["kind"] == "verdict" && l["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(verdict("l-1")["decision"], "allow");
    assert_eq!(verdict("s-1")["decision"], "allow");
    assert_eq!(
        verdict("l-2")["hits"][0]["rule"],
        "price.compared_above_low"
    );
    let types: Vec<&str> = lines
        .iter()
        .filter(|l| l["kind"] == "action")
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "delist_product",
            "prompt_host_correction",
            "hide_message",
            "prompt_host_correction"
        ]
    );
    let claim = verdict("t-9");
    assert!(
        claim["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["rule"] == "price.claim_above_low" && h["price"]["limit"] == 89),
        "{claim}"
    );
}
