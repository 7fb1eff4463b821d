//! Clear pricing through the real server: listings and sales build each item's price
//! history, every check fires with its legal basis and both pieces of evidence (and
//! stays quiet on the honest cases), bad listing events change nothing, and the
//! evidence reaches `liveguard export`.

use serde_json::{Value, json};

use crate::store::{config_at, export};
use crate::support::*;

const DAY: u64 = 86_400_000;
/// 2026-12-01 12:00 in China.
const T: u64 = 1_764_561_600_000;

fn listing(id: &str, room: &str, ts: u64, extra: Value) -> String {
    let mut ev = json!({"kind":"listing","id":id,"room":room,"item":"sku-9","title":"羊毛围巾 加厚保暖","ts":ts});
    for (k, v) in extra.as_object().unwrap() {
        ev[k] = v.clone();
    }
    ev.to_string()
}

fn sale(id: &str, room: &str, ts: u64, price: Value) -> String {
    json!({"kind":"sale","id":id,"room":room,"item":"sku-9","price":price,"quantity":1,"ts":ts})
        .to_string()
}

fn said(id: &str, room: &str, ts: u64, text: &str) -> String {
    json!({"kind":"transcript","id":id,"room":room,"speaker":"host-1","text":text,"ts":ts})
        .to_string()
}

fn rules(verdict: &Value) -> Vec<&str> {
    verdict["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["rule"].as_str().unwrap())
        .collect()
}

fn of_type<'a>(actions: &'a [Value], t: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["type"] == t)
        .unwrap_or_else(|| panic!("no {t} in {actions:?}"))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// A listing's fields with its price and unit marked.
fn marked() -> Value {
    json!({"price":99,"unit":"条"})
}

#[tokio::test]
async fn a_compared_price_and_a_host_claim_above_the_seven_day_low_are_disposed_of_with_evidence() {
    let dir = data_dir("pricing");
    let mut server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    let mut moderator = server.alerts("?categories=price_fraud").await;
    let r = "room-p";
    let (v, actions) = judge(&mut platform, listing("l1", r, T - 10 * DAY, marked())).await;
    assert_eq!(
        (v["decision"].as_str(), actions.len()),
        (Some("allow"), 0),
        "{v}"
    );
    for (id, days, price) in [("s1", 3, json!(89)), ("s2", 1, json!(99.0))] {
        let (v, actions) = judge(&mut platform, sale(id, r, T - days * DAY, price)).await;
        assert_eq!(v["kind"], "verdict", "{v}");
        assert_eq!(v["decision"], "allow");
        assert!(actions.is_empty());
    }

    // The seller's 划线价 of 199 with no stated basis, against a 7-day low of 89.
    let strike = json!({"price":99,"unit":"条","compared_price":199,"compared_label":"划线价"});
    let (v, actions) = judge(&mut platform, listing("l2", r, T, strike)).await;
    assert_eq!(v["decision"], "block", "{v}");
    assert_eq!(rules(&v), ["price.compared_above_low"]);
    let hit = &v["hits"][0];
    assert_eq!(hit["via"], "price");
    assert_eq!(hit["category"], "price_fraud");
    assert_eq!(hit["price"]["compared_price"], 199);
    assert_eq!(hit["price"]["limit"], 89);
    assert_eq!(hit["price"]["evidence"][0]["id"], "s1");
    assert_eq!(hit["price"]["evidence"][0]["kind"], "sale");
    let delist = of_type(&actions, "delist_product");
    assert_eq!(delist["target"], json!({"room": r, "item": "sku-9"}));
    assert_eq!(strs(&delist["evidence"]), ["s1", "l2"]);
    assert!(
        delist["basis"].as_str().unwrap().contains("第16条"),
        "{delist}"
    );
    let alert = &collect(&mut moderator, "alert", 1).await[0];
    assert_eq!(alert["event"]["id"], "l2");
    assert_eq!(alert["event"]["kind"], "listing");
    assert_eq!(alert["event"]["item"], "sku-9");

    // The host says the original price was 599 and that 99 is today only, though the
    // scarf listed at 99 yesterday.
    let (v, actions) = judge(
        &mut platform,
        said(
            "t1",
            r,
            T + 60_000,
            "家人们这条围巾原价五百九十九，今天只要99！",
        ),
    )
    .await;
    // (The lexicon's own 原价X只要Y pattern hits too: the checks add the proof.)
    let checks: Vec<&Value> = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["via"] == "price")
        .collect();
    let names: Vec<&str> = checks.iter().map(|h| h["rule"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["price.claim_above_low", "price.today_not_special"],
        "{v}"
    );
    let claim = checks[0];
    assert_eq!(claim["matched"], "原价五百九十九");
    assert_eq!(claim["price"]["price"], 599);
    assert_eq!(claim["price"]["limit"], 89);
    assert_eq!(checks[1]["matched"], "今天只要99");
    let prompt = of_type(&actions, "prompt_host_correction");
    assert_eq!(strs(&prompt["evidence"]), ["s1", "l2", "l1", "t1"]);
    // An honest claim: the original price is the 7-day low, and today's price is new.
    let (v, _) = judge(
        &mut platform,
        said("t2", r, T + 120_000, "原价八十九，今天只要七十九"),
    )
    .await;
    let checked = v["hits"].as_array().unwrap();
    assert!(checked.iter().all(|h| h["via"] != "price"), "{v}");

    server.shut_down();
    (&mut server.handle).await.unwrap().unwrap();
    let lines = export(r, "--data", &dir);
    let delist = lines
        .iter()
        .find(|l| l["type"] == "delist_product")
        .expect("the delisting is exported");
    let evidence = delist["evidence_events"].as_array().unwrap();
    assert_eq!(
        evidence[0],
        json!({"id":"s1","kind":"sale","item":"sku-9","price":89,"ts":T - 3 * DAY,"recorded_in":alert["seq"]}),
        "the compared sale, as the alert recorded it"
    );
    assert_eq!(evidence[1]["id"], "l2");
    assert_eq!(evidence[1]["kind"], "listing");
    assert_eq!(evidence[1]["text"], "羊毛围巾 加厚保暖");
}

#[tokio::test]
async fn unmarked_listings_and_price_raised_before_a_cut_are_flagged_honest_ones_are_not() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let r = "room-q";

    // Check 1: no unit; a compared price without a label.
    let (v, actions) = judge(&mut platform, listing("u1", r, T, json!({"price":99}))).await;
    assert_eq!(rules(&v), ["price.unmarked"]);
    assert_eq!(v["hits"][0]["price"]["missing"], json!(["unit"]));
    assert_eq!(v["decision"], "block");
    of_type(&actions, "delist_product");
    let (v, _) = judge(
        &mut platform,
        listing(
            "u2",
            r,
            T,
            json!({"price":99,"unit":"条","compared_price":129}),
        ),
    )
    .await;
    assert_eq!(rules(&v), ["price.compared_unlabelled"]);

    // Honest: a compared price at the 7-day low, and one with its basis stated.
    judge(&mut platform, sale("s1", r, T, json!(99))).await;
    let at_low = json!({"price":79,"unit":"条","compared_price":99,"compared_label":"日常价"});
    let (v, actions) = judge(&mut platform, listing("h1", r, T + 1, at_low)).await;
    assert_eq!(
        (v["decision"].as_str(), actions.len()),
        (Some("allow"), 0),
        "{v}"
    );
    let stated = json!({"price":79,"unit":"条","compared_price":299,"compared_label":"吊牌价",
        "compared_basis":"品牌吊牌标价，非本店成交价"});
    let (v, _) = judge(&mut platform, listing("h2", r, T + 2, stated)).await;
    assert_eq!(v["decision"], "allow", "{v}");

    // A discount without a raise (79 → 69) is fine; a raise to 129 and a cut to 89
    // within the week is 先涨后降.
    let (v, _) = judge(
        &mut platform,
        listing("c1", r, T + DAY, json!({"price":69,"unit":"条"})),
    )
    .await;
    assert_eq!(v["decision"], "allow", "{v}");
    judge(
        &mut platform,
        listing("c2", r, T + 2 * DAY, json!({"price":129,"unit":"条"})),
    )
    .await;
    let (v, actions) = judge(
        &mut platform,
        listing(
            "c3",
            r,
            T + 3 * DAY,
            json!({"price":89,"unit":"条","compared_price":129,"compared_label":"原价"}),
        ),
    )
    .await;
    assert!(rules(&v).contains(&"price.raised_then_cut"), "{v}");
    let raised = v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["rule"] == "price.raised_then_cut")
        .unwrap();
    assert_eq!(raised["price"]["limit"], 69, "the price before the raise");
    let delist = of_type(&actions, "delist_product");
    let evidence = strs(&delist["evidence"]);
    assert!(
        evidence.contains(&"c1") && evidence.contains(&"c2"),
        "the listings before and after the raise: {delist}"
    );
    assert!(delist["basis"].as_str().unwrap().contains("第17条"));
}

#[tokio::test]
async fn listing_titles_are_scanned_like_chat() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let title = json!({"price":39,"unit":"盒","title":"全网最低价 降血压茶 根治失眠"});
    let (v, actions) = judge(&mut platform, listing("t1", "room-t", T, title)).await;
    assert_eq!(v["decision"], "block", "{v}");
    assert!(
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["via"] != "price"),
        "{v}"
    );
    assert!(v["hits"].as_array().unwrap().len() >= 2, "{v}");
    of_type(&actions, "delist_product");
}

#[tokio::test]
async fn bad_listing_events_get_clear_errors_and_change_nothing() {
    let server = Server::default().await;
    let mut platform = server.ingest().await;
    let r = "room-x";
    judge(&mut platform, listing("l1", r, T, marked())).await;
    let bad = [
        (sale("b1", r, T, json!(-5)), "invalid_number", "negative"),
        (
            sale("b2", r, T, json!("1")),
            "invalid_number",
            "number of yuan",
        ),
        (
            sale("b3", r, T, json!(1.005)),
            "invalid_number",
            "two decimals",
        ),
        (sale("b4", r, T, json!(1e12)), "invalid_number", "maximum"),
        (
            json!({"kind":"sale","id":"b5","room":r,"item":"sku-404","price":1,"ts":T}).to_string(),
            "unknown_item",
            "no listing",
        ),
        (
            json!({"kind":"sale","id":"b6","room":r,"item":"sku-9","ts":T}).to_string(),
            "missing_field",
            "price",
        ),
        (
            json!({"kind":"sale","id":"b7","room":r,"item":"sku-9","price":1,"quantity":0,"ts":T})
                .to_string(),
            "invalid_number",
            "quantity",
        ),
        (
            listing("b8", r, T, json!({"price":1,"unit":"条","currency":"USD"})),
            "unknown_currency",
            "USD",
        ),
        (
            listing("b9", r, T, json!({"price":1,"unit":"美元/条"})),
            "unknown_currency",
            "美元",
        ),
        (
            listing("b10", r, T, json!({"price":"cheap","unit":"条"})),
            "invalid_number",
            "price",
        ),
        (
            json!({"kind":"listing","id":"b11","room":r,"title":"围巾","price":1}).to_string(),
            "missing_field",
            "item",
        ),
        (
            json!({"kind":"sale","id":"b12","room":r,"item":"x".repeat(300),"price":1}).to_string(),
            "too_long",
            "item",
        ),
    ];
    for (line, code, says) in bad {
        let (v, actions) = judge(&mut platform, line.clone()).await;
        assert_eq!(v["kind"], "error", "{line}: {v}");
        assert_eq!(v["code"], code, "{line}: {v}");
        assert!(v["reason"].as_str().unwrap().contains(says), "{v}");
        assert!(actions.is_empty());
    }
    // None of the refused sales entered the history: with one honest sale at 99, a
    // compared price of 99 is at the low (a refused sale at 1 would have made it
    // too high), and the refused listings did not replace the item on sale.
    judge(&mut platform, sale("s1", r, T + 1, json!(99))).await;
    let compared = json!({"price":89,"unit":"条","compared_price":99,"compared_label":"原价"});
    let (v, _) = judge(&mut platform, listing("l2", r, T + 2, compared)).await;
    assert_eq!(v["decision"], "allow", "{v}");
    assert!(
        server
            .metric("liveguard_ingest_errors_total", "reason=\"unknown_item\"")
            .await
            >= 1.0
    );
}

/// `liveguard loadgen --commerce`: listings and sales mixed into the chat, every
/// event answered and no sale refused (each room's item is listed before it sells).
#[tokio::test]
async fn loadgen_mixes_listings_and_sales_without_errors() {
    let server = Server::default().await;
    let report = liveguard::loadgen::run(liveguard::loadgen::LoadConfig {
        url: server.url("/v1/ingest"),
        rate: 2_000,
        duration_s: 1,
        rooms: 20,
        connections: 2,
        batch: 20,
        drain_s: 5,
        progress: false,
        token: None,
        commerce_pct: 50,
        pool: liveguard::sample::ChatPool::Varied,
    })
    .await
    .unwrap();
    assert_eq!((report.missing, report.errors), (0, 0), "{report:?}");
    assert!(report.answered >= 1_000, "{report:?}");
    let listings = server
        .metric("liveguard_events_total", "kind=\"listing\"")
        .await;
    let sales = server
        .metric("liveguard_events_total", "kind=\"sale\"")
        .await;
    assert!(
        listings > 0.0 && sales > listings,
        "{listings} listings, {sales} sales"
    );
}

/// The price book is saved in the store and read back: after a restart the item is
/// still known (its sales are taken) and its 7-day low still bounds a compared price.
#[tokio::test]
async fn the_price_history_survives_a_restart() {
    let dir = data_dir("pricing-restart");
    let mut server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    let r = "room-r";
    judge(&mut platform, listing("l1", r, T - 2 * DAY, marked())).await;
    judge(&mut platform, sale("s1", r, T - DAY, json!(79))).await;
    server.shut_down();
    (&mut server.handle).await.unwrap().unwrap();

    let server = Server::start(config_at(&dir)).await;
    let mut platform = server.ingest().await;
    let (v, _) = judge(&mut platform, sale("s2", r, T, json!(99))).await;
    assert_eq!(v["kind"], "verdict", "the item is still listed: {v}");
    let compared = json!({"price":89,"unit":"条","compared_price":129,"compared_label":"原价"});
    let (v, _) = judge(&mut platform, listing("l2", r, T + 1, compared)).await;
    assert_eq!(rules(&v), ["price.compared_above_low"], "{v}");
    assert_eq!(v["hits"][0]["price"]["limit"], 79);
    assert_eq!(v["hits"][0]["price"]["evidence"][0]["id"], "s1");
}
