//! The moderator console in real headless Chromium (Debian's `chromium` and
//! `chromium-driver`) against a real server: the alert queue, a hold reviewed with
//! the keyboard and heard by the platform, hostile chat shown as text, a server
//! restart without gap or duplicate, and the pre-live script check.
//!
//! Without Chromium the tests skip with a message; `.ci/run` installs it and sets
//! `LIVEGUARD_BROWSER_TESTS=require`, so there they cannot skip. Screenshots go to
//! `target/console-screenshots/` (or `LIVEGUARD_SCREENSHOTS`; the ones in `docs/`
//! were taken with `LIVEGUARD_SCREENSHOTS=docs`).

#[allow(dead_code)]
#[path = "../server/support.rs"]
mod support;
mod webdriver;

use std::path::PathBuf;

use liveguard::auth::{Scope, TokenSpec, hash_hex};
use liveguard::config::Config;
use serde_json::{Value, json};
use support::*;
use webdriver::Browser;

const MODERATE: &str = "moderate-token-console-000000000001";
const INGEST: &str = "ingest-token-console-0000000000002";
const ADMIN: &str = "admin-token-console-00000000000003";

/// A server with tokens, as in production: the console signs in with a moderate
/// token (and an admin token for tiers).
fn secured(data: PathBuf) -> Config {
    let token = |name: &str, scope, secret: &str| TokenSpec {
        name: name.into(),
        scope: Some(scope),
        sha256: Some(hash_hex(secret)),
        ..TokenSpec::default()
    };
    let mut config = Config {
        data,
        ..Config::default()
    };
    config.auth.tokens = vec![
        token("platform", Scope::Ingest, INGEST),
        token("desk", Scope::Moderate, MODERATE),
        token("ops", Scope::Admin, ADMIN),
    ];
    config
}

/// One browser at a time: two cores do not run several Chromiums well.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

fn screenshot_path(name: &str) -> PathBuf {
    let dir = std::env::var_os("LIVEGUARD_SCREENSHOTS").map_or_else(
        || PathBuf::from("target/console-screenshots"),
        PathBuf::from,
    );
    dir.join(name)
}

/// Open the console and sign in as moderator `name`.
async fn sign_in(browser: &Browser, server: &Server, name: &str) {
    browser
        .goto(&format!("http://{}/console", server.addr))
        .await;
    browser.type_into("#token", MODERATE).await;
    browser.type_into("#moderator", name).await;
    browser.type_into("#admin-token", ADMIN).await;
    browser.click("#connect").await;
    browser
        .wait_for(
            "the feed to connect",
            "return document.getElementById('conn').dataset.state === 'open';",
        )
        .await;
}

/// The platform's ingest connection.
async fn platform(server: &Server) -> Ws {
    connect_as(&server.url("/v1/ingest"), Some(INGEST))
        .await
        .expect("ingest token accepted")
}

/// Send `lines` as one frame and return the answer's lines.
async fn ingest(ws: &mut Ws, lines: &[String]) -> Vec<Value> {
    send(ws, lines.join("\n")).await;
    answer(ws).await
}

/// The seqs of the alert rows on the page, top (newest) first.
const ALERT_SEQS: &str = "return [...document.querySelectorAll('#alert-list li.alert')].map(li => Number(li.dataset.seq));";

#[tokio::test]
async fn a_moderator_sees_the_alerts_and_approves_a_hold_with_the_keyboard() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start(secured(data_dir("console"))).await;
    sign_in(&browser, &server, "li").await;

    let mut ws = platform(&server).await;
    let session: Vec<String> = include_str!("../fixtures/session.jsonl")
        .lines()
        .map(str::to_owned)
        .collect();
    let answers = ingest(&mut ws, &session).await;
    let flagged = answers
        .iter()
        .filter(|a| a["kind"] == "verdict" && a["decision"] != "allow")
        .count();
    assert_eq!(flagged, 3, "{answers:?}");

    let seqs = browser
        .wait_for(
            "three alerts",
            "const rows = document.querySelectorAll('#alert-list li.alert'); return rows.length === 3 && [...rows].map(r => r.dataset.seq);",
        )
        .await;
    assert_eq!(seqs, json!(["3", "2", "1"]), "newest first");
    // The held message (私聊我) is selected with its span highlighted.
    let held = browser
        .wait_for(
            "the hold in the queue",
            "const h = document.querySelector('#hold-list li.hold.selected'); return h && h.dataset.seq;",
        )
        .await;
    assert_eq!(held, json!("3"));
    let marked = browser
        .eval(
            "return [...document.querySelectorAll('#detail-text mark')].map(m => m.textContent);",
            json!([]),
        )
        .await;
    assert_eq!(marked, json!(["私聊我"]));
    let basis = browser
        .eval(
            "return document.getElementById('detail-basis').textContent;",
            json!([]),
        )
        .await;
    assert!(basis.as_str().unwrap().contains("第12条"), "{basis}");
    // Context: the room's tier (the admin token shows the switch) and its actions.
    browser
        .wait_for(
            "the room's context",
            "return document.getElementById('ctx-tier').textContent === 'standard' && document.querySelectorAll('#ctx-actions li').length >= 3;",
        )
        .await;

    // Decide with the keyboard: k stays on the only hold, a approves it.
    browser.press("k").await;
    browser.press("a").await;
    let outcome = browser
        .wait_for(
            "the server's acknowledgement",
            "const o = document.getElementById('outcome').textContent; return o.includes('recorded') && o;",
        )
        .await;
    assert!(
        outcome.as_str().unwrap().contains("#3 approve"),
        "{outcome}"
    );

    // The platform hears the decision on the connection that sent the event.
    let review = recv_json(&mut ws).await;
    assert_eq!(review["kind"], "review", "{review}");
    assert_eq!(review["id"], "e-4");
    assert_eq!(review["decision"], "approve");
    assert_eq!(
        review["by"], "desk/li",
        "the token's name and the moderator's"
    );
    browser
        .wait_for(
            "the queue to empty",
            "return document.getElementById('hold-count').textContent === '0';",
        )
        .await;

    // A busier room for the screenshot: several holds and categories.
    let more: Vec<String> = [
        ("m-1", "u-21", "viewer", "主播，私聊我发你链接"),
        (
            "m-2",
            "u-22",
            "viewer",
            "这家店的东西都是假货，别买了，去拼夕夕买",
        ),
        ("m-3", "u-23", "viewer", "有需要代拍的吗，加我vx"),
        ("m-4", "u-24", "viewer", "刷单兼职，日结，有意者私"),
        ("m-5", "u-25", "viewer", "主播这个面霜能治湿疹吗"),
        ("m-6", "u-21", "viewer", "+企鹅 123456789 送福利"),
    ]
    .iter()
    .map(|(id, user, role, text)| chat(id, "r-42", user, role, text))
    .collect();
    ingest(&mut ws, &more).await;
    browser
        .wait_for(
            "more alerts",
            "return document.querySelectorAll('#alert-list li.alert').length >= 6;",
        )
        .await;
    browser.click("#hold-list li.hold").await;
    // The admin token shows the tier switch; the server applies it.
    browser
        .wait_for(
            "the tier switch",
            "return !document.getElementById('tier-switch').hidden;",
        )
        .await;
    browser
        .eval(
            "document.getElementById('tier-select').value = 'enhanced';",
            json!([]),
        )
        .await;
    browser.click("#tier-set").await;
    browser
        .wait_for(
            "the new tier",
            "return document.getElementById('ctx-tier').textContent === 'enhanced';",
        )
        .await;
    let (_, tier) = server
        .http_as(Some(ADMIN), "GET", "/v1/rooms/r-42/tier", None)
        .await;
    assert_eq!(tier, r#"{"tier":"enhanced"}"#);
    browser
        .screenshot(&screenshot_path("console-queue.png"))
        .await;
    browser.quit().await;
}

/// The next JSON frame of `ws` that is not a ping.
async fn recv_json(ws: &mut Ws) -> Value {
    let lines = answer(ws).await;
    lines.into_iter().next().expect("a frame")
}

#[tokio::test]
async fn chat_markup_is_shown_as_text_and_never_runs() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start(secured(data_dir("console-xss"))).await;
    sign_in(&browser, &server, "li").await;
    let mut ws = platform(&server).await;
    let hostile = "<img src=x onerror=\"document.body.dataset.pwned=1\">加微信<b>聊</b>";
    ingest(&mut ws, &[chat("x-1", "r-1", "u-1", "viewer", hostile)]).await;
    let text = browser
        .wait_for(
            "the alert",
            "const p = document.querySelector('#alert-list li.alert .text'); return p && p.textContent;",
        )
        .await;
    assert_eq!(
        text,
        json!(hostile),
        "the text as sent, character for character"
    );
    let injected = browser
        .eval(
            "return document.querySelectorAll('main img, main b').length + (document.body.dataset.pwned ? 100 : 0);",
            json!([]),
        )
        .await;
    assert_eq!(injected, json!(0), "no element from chat, no handler ran");
    browser.quit().await;
}

#[tokio::test]
async fn a_server_restart_mid_session_leaves_no_gap_and_no_duplicate() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let data = data_dir("console-restart");
    let mut server = Server::start(secured(data.clone())).await;
    let addr = server.addr;
    sign_in(&browser, &server, "li").await;
    // Three accounts, each with its own line: the same line from three accounts in a
    // quiet room would be a coordinated burst, shown as one grouped row.
    let flagged = |prefix: &str| -> Vec<String> {
        ["加微信私聊", "加我vx发你链接", "去淘宝搜我同名"]
            .iter()
            .enumerate()
            .map(|(i, text)| {
                chat(
                    &format!("{prefix}-{i}"),
                    "r-7",
                    &format!("u-{i}"),
                    "viewer",
                    text,
                )
            })
            .collect()
    };
    let mut ws = platform(&server).await;
    ingest(&mut ws, &flagged("before")).await;
    browser
        .wait_for(
            "the first alerts",
            "return document.querySelectorAll('#alert-list li.alert').length === 3;",
        )
        .await;

    // A clean restart on the same port and data directory; events arrive before the
    // page has reconnected, and more after.
    drop(ws);
    server.shut_down();
    (&mut server.handle).await.unwrap().unwrap();
    // Three failed attempts: the next one is 2 s away, so the events below arrive
    // while the page is certainly disconnected (it must replay them with `since`).
    browser
        .wait_for(
            "the page to retry",
            "return Number(document.getElementById('conn').dataset.retries) >= 4;",
        )
        .await;
    let server = Server::start_at(addr, secured(data)).await;
    let mut ws = platform(&server).await;
    ingest(&mut ws, &flagged("during")).await;
    browser
        .wait_for(
            "the page to reconnect",
            "return document.getElementById('conn').dataset.state === 'open';",
        )
        .await;
    ingest(&mut ws, &flagged("after")).await;
    let shown = browser
        .wait_for(
            "nine alerts",
            &format!("const s = (() => {{ {ALERT_SEQS} }})(); return s.length >= 9 && s;"),
        )
        .await;

    // The oracle: every alert the server recorded, replayed from the start.
    let mut feed = connect_as(&server.url("/v1/alerts?since=0"), Some(MODERATE))
        .await
        .unwrap();
    let recorded: Vec<u64> = collect(&mut feed, "alert", 9)
        .await
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    let mut shown: Vec<u64> = shown
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    shown.reverse();
    assert_eq!(shown, recorded, "every record once, in order");
    browser.quit().await;
}

#[tokio::test]
async fn the_script_check_shows_each_hit_with_its_basis_and_a_compliant_wording() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start(secured(data_dir("console-check"))).await;
    sign_in(&browser, &server, "li").await;
    browser.click("#tab-check-button").await;
    let script = "家人们晚上好，今天给大家带来一款面霜\n\
                  这是全网最低价，错过今天就没有了\n\
                  用过的都说是最好的面霜，销量第一\n\
                  我们从不刷单，评价都是真实的";
    browser.type_into("#script", script).await;
    browser.click("#check-run").await;
    let rules = browser
        .wait_for(
            "the hits",
            "const rows = document.querySelectorAll('#check-hits tr.hit'); return rows.length > 0 && [...rows].map(r => r.dataset.rule);",
        )
        .await;
    let rules: Vec<&str> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for expected in ["pr.network_lowest", "fp.best", "fp.sales_first"] {
        assert!(rules.contains(&expected), "{expected} in {rules:?}");
    }
    assert!(
        !rules
            .iter()
            .any(|r| r.contains("brush") || r.starts_with("tf.")),
        "a denial (我们从不刷单) is not a claim: {rules:?}"
    );
    let suggestion = browser
        .eval(
            "return [...document.querySelectorAll('#check-hits tr.hit')].find(r => r.dataset.rule === 'pr.network_lowest').querySelector('.suggest').textContent;",
            json!([]),
        )
        .await;
    assert!(
        suggestion.as_str().unwrap().contains("今日直播间价格"),
        "{suggestion}"
    );
    let marked = browser
        .eval(
            "return [...document.querySelectorAll('#check-text mark')].map(m => m.textContent);",
            json!([]),
        )
        .await;
    assert!(
        marked.as_array().unwrap().contains(&json!("全网最低价")),
        "{marked}"
    );
    // Nothing was stored or sent to moderators.
    let (_, holds) = server
        .http_as(Some(MODERATE), "GET", "/v1/holds", None)
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&holds).unwrap()["seq"],
        0,
        "{holds}"
    );
    browser
        .screenshot(&screenshot_path("console-check.png"))
        .await;
    browser.quit().await;
}

#[tokio::test]
async fn a_coordinated_burst_shows_as_one_grouped_alert() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start(secured(data_dir("console-burst"))).await;
    sign_in(&browser, &server, "li").await;
    let mut ws = platform(&server).await;
    let paid = [
        "已下单，质量真好",
        "已下单了，质量真好！！",
        "已下单 质量真的好👍",
        "已經下單，質量真好",
        "已下单，质量真好冲冲冲",
    ];
    // A line of other chat before each paid one keeps the burst at four accounts
    // (three that are most of a quiet room's chat would be one already).
    let organic = [
        "这个颜色好显白啊",
        "主播穿得真好看",
        "我想要那个黑色款",
        "今天的福利力度大",
        "刚刚抢到了好开心",
    ];
    let lines: Vec<String> = paid
        .iter()
        .zip(organic)
        .enumerate()
        .flat_map(|(i, (text, other))| {
            let ts = 1_000 + 1_500 * i as u64;
            [
                json!({"kind":"chat","id":format!("o-{i}"),"room":"r-9","user":format!("viewer-{i}"),
                       "role":"viewer","text":other,"ts":ts - 700}),
                json!({"kind":"chat","id":format!("p-{i}"),"room":"r-9","user":format!("fan-{i}"),
                       "role":"viewer","text":text,"ts":ts}),
            ]
            .map(|v| v.to_string())
        })
        .collect();
    ingest(&mut ws, &lines).await;
    let members = browser
        .wait_for(
            "one row for the burst with every member",
            "const rows = document.querySelectorAll('#alert-list li.alert'); \
             const b = document.querySelector('#alert-list li.burst'); \
             return rows.length === 1 && b && b.querySelectorAll('.members li').length === 5 \
                 && [...b.querySelectorAll('.members li')].map(li => li.textContent);",
        )
        .await;
    assert_eq!(members[0], json!("fan-0: 已下单，质量真好"), "{members}");
    let held = browser
        .eval(
            "return document.getElementById('hold-count').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(held, json!("2"), "the members from the burst on are held");
    browser.quit().await;
}

#[tokio::test]
async fn a_price_check_alert_shows_the_item_and_the_sale_it_was_compared_with() {
    let _one = serial().await;
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = Server::start(secured(data_dir("console-price"))).await;
    sign_in(&browser, &server, "zhao").await;
    let mut ws = platform(&server).await;
    let day = 86_400_000u64;
    let t = 1_764_561_600_000u64;
    let listing = |id: &str, ts: u64, extra: Value| {
        let mut ev = json!({"kind":"listing","id":id,"room":"r-p","item":"sku-7","title":"羊毛围巾","unit":"条","price":99,"ts":ts});
        for (k, v) in extra.as_object().unwrap() {
            ev[k] = v.clone();
        }
        ev.to_string()
    };
    let answers = ingest(
        &mut ws,
        &[
            listing("l-1", t - 9 * day, json!({})),
            json!({"kind":"sale","id":"s-1","room":"r-p","item":"sku-7","price":89,"ts":t - 2 * day})
                .to_string(),
            listing(
                "l-2",
                t,
                json!({"compared_price":199,"compared_label":"划线价"}),
            ),
        ],
    )
    .await;
    assert_eq!(answers[2]["decision"], "block", "{answers:?}");
    let line = browser
        .wait_for(
            "the price alert",
            "const p = document.querySelector('#alert-list li.alert p.muted'); return p && p.textContent;",
        )
        .await;
    let line = line.as_str().unwrap();
    for part in [
        "sku-7",
        "划线价高于前7日最低成交价",
        "¥199 against ¥89",
        "sale s-1 ¥89",
    ] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
}
