//! Just enough of the W3C WebDriver protocol to drive headless Chromium through
//! Debian's `chromedriver`: open a page, find elements, click, type, press keys, run
//! a script, take a screenshot.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use std::process::{Child, Command};

use crate::support::{PATIENCE, http_at};

/// Where the browser tests find their programs (overridable for other systems).
fn program(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// Whether the browser tests must run (CI sets `LIVEGUARD_BROWSER_TESTS=require`):
/// without it, a machine lacking Chromium skips them and says so.
fn required() -> bool {
    std::env::var("LIVEGUARD_BROWSER_TESTS").is_ok_and(|v| v == "require")
}

/// One headless Chromium session under its own chromedriver.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

impl Browser {
    /// Start chromedriver and a headless Chromium; `None` (the test skips) when
    /// chromedriver is not installed and the tests are not required.
    pub async fn start() -> Option<Browser> {
        let driver_path = program("CHROMEDRIVER", "/usr/bin/chromedriver");
        let chromium = program("CHROMIUM", "/usr/bin/chromium");
        if !driver_path.exists() || !chromium.exists() {
            assert!(
                !required(),
                "browser tests required but {} or {} is missing (apt-get install chromium chromium-driver)",
                driver_path.display(),
                chromium.display()
            );
            eprintln!(
                "skipped: no {} / {} (set LIVEGUARD_BROWSER_TESTS=require to fail instead)",
                driver_path.display(),
                chromium.display()
            );
            return None;
        }
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver listens"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut browser = Browser {
            driver,
            addr,
            session: String::new(),
        };
        let args = [
            "--headless=new",
            // CI runs as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1440,900",
            "--lang=zh-CN",
        ];
        let created = browser
            .call(
                "POST",
                "/session",
                Some(json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args}
                }}})),
            )
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a session: {created}"))
            .to_owned();
        Some(browser)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string());
        let headers = "content-type: application/json\r\n";
        let host = self.addr.to_string();
        let (status, text) =
            http_at(self.addr, &host, method, path, headers, body.as_deref()).await;
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("chromedriver answered {status} with no JSON ({e}): {text}")
        });
        assert!(
            status == 200,
            "{method} {path}: {status} {}",
            answer["value"]
        );
        answer["value"].clone()
    }

    async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await
    }

    /// Open `url`.
    pub async fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element matching the CSS `selector`.
    pub async fn find(&self, selector: &str) -> String {
        let found = self
            .session_call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": selector})),
            )
            .await;
        // The W3C element reference key.
        found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {found}"))
            .to_owned()
    }

    /// Click the element matching `selector`.
    pub async fn click(&self, selector: &str) {
        let id = self.find(selector).await;
        self.session_call("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    /// Type `text` into the element matching `selector`.
    pub async fn type_into(&self, selector: &str, text: &str) {
        let id = self.find(selector).await;
        self.session_call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Press and release `key` on whatever has the focus (the page's shortcuts).
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
        ]}]});
        self.session_call("POST", "/actions", Some(actions)).await;
    }

    /// Run `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    /// Poll `script` until it returns something other than `null` or `false`.
    pub async fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let v = self.eval(script, json!([])).await;
            if !(v.is_null() || v == Value::Bool(false)) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Save a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64_decode::decode;
        let png = self.session_call("GET", "/screenshot", None).await;
        let bytes = decode(png.as_str().expect("base64 PNG"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// End the session (Chromium exits) and stop chromedriver.
    pub async fn quit(self) {
        let path = format!("/session/{}", self.session);
        let host = self.addr.to_string();
        let _ = http_at(self.addr, &host, "DELETE", &path, "", None).await;
    }
}

impl Drop for Browser {
    /// chromedriver goes with the test, whether it passed or panicked.
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A port no one listens on now (chromedriver takes it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Standard base64, for screenshots (no dependency for forty lines of test code).
mod base64_decode {
    pub fn decode(text: &str) -> Vec<u8> {
        let value = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            })
        };
        let digits: Vec<u32> = text.bytes().filter_map(value).collect();
        let mut out = Vec::with_capacity(digits.len() * 3 / 4);
        for chunk in digits.chunks(4) {
            let mut n = 0u32;
            for (i, d) in chunk.iter().enumerate() {
                n |= d << (18 - 6 * i);
            }
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        out
    }
}
