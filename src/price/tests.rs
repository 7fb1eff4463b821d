use super::*;
use crate::event::parse_event;

const DAY: u64 = DAY_MS;
/// 2026-12-01 12:00 CST.
const T0: u64 = 1_764_561_600_000;
const T: u64 = T0;

fn book() -> PriceBook {
    PriceBook::new(PriceConfig::default())
}

fn listing(book: &PriceBook, id: &str, ts: u64, fields: &str) -> Vec<PriceFinding> {
    listing_in(book, "r1", id, ts, fields)
}

fn listing_in(book: &PriceBook, room: &str, id: &str, ts: u64, fields: &str) -> Vec<PriceFinding> {
    let line = format!(
        r#"{{"kind":"listing","id":"{id}","room":"{room}","item":"sku-1","title":"羊毛围巾","ts":{ts}{fields}}}"#
    );
    let ev = parse_event(&line).unwrap();
    book.listing(&ev, ev.pricing.as_deref().unwrap(), ts)
}

fn sale(book: &PriceBook, id: &str, ts: u64, price: &str) -> Result<(), SaleError> {
    sale_in(book, "r1", id, ts, price)
}

fn sale_in(book: &PriceBook, room: &str, id: &str, ts: u64, price: &str) -> Result<(), SaleError> {
    let line = format!(
        r#"{{"kind":"sale","id":"{id}","room":"{room}","item":"sku-1","price":{price},"ts":{ts}}}"#
    );
    let ev = parse_event(&line).unwrap();
    book.sale(&ev, ev.pricing.as_deref().unwrap(), ts)
}

fn said(book: &PriceBook, kind: &str, role: &str, ts: u64, text: &str) -> Vec<PriceFinding> {
    let line = format!(
        r#"{{"kind":"{kind}","id":"t","room":"r1","speaker":"h","user":"h","role":"{role}","text":"{text}","ts":{ts}}}"#
    );
    let ev = parse_event(&line).unwrap();
    book.claims(&ev, ts)
        .into_iter()
        .map(|(f, _, _)| f)
        .collect()
}

fn checks(found: &[PriceFinding]) -> Vec<PriceCheck> {
    found.iter().map(|f| f.check).collect()
}

fn ids(f: &PriceFinding) -> Vec<&str> {
    f.evidence.iter().map(|r| r.id.as_str()).collect()
}

const MARKED: &str = r#","price":99,"unit":"条""#;

#[test]
fn a_listing_must_state_price_and_unit() {
    let b = book();
    let f = listing(&b, "l1", T0, r#","price":99"#);
    assert_eq!(checks(&f), [PriceCheck::Unmarked]);
    assert_eq!(f[0].missing, ["unit"]);
    let f = listing(&b, "l2", T0, r#","unit":"条""#);
    assert_eq!(f[0].missing, ["price"]);
    let f = listing(&b, "l3", T0, r#","price":null,"unit":" ""#);
    assert_eq!(f[0].missing, ["price", "unit"]);
    assert!(listing(&b, "l4", T0, MARKED).is_empty());
}

#[test]
fn a_compared_price_needs_a_label() {
    let b = book();
    let f = listing(
        &b,
        "l1",
        T0,
        r#","price":99,"unit":"条","compared_price":199"#,
    );
    assert_eq!(checks(&f), [PriceCheck::ComparedUnlabelled]);
    let f = listing(
        &b,
        "l2",
        T0,
        r#","price":99,"unit":"条","compared_price":199,"compared_label":"划线价""#,
    );
    assert!(f.is_empty(), "no sale yet: nothing to compare with");
}

#[test]
fn a_compared_price_above_the_seven_day_low_is_flagged_with_both_records() {
    let b = book();
    listing(&b, "l1", T0 - 10 * DAY, MARKED);
    sale(&b, "s-old", T0 - 10 * DAY, "79").unwrap(); // before the 7 days: not the low
    sale(&b, "s1", T0 - 3 * DAY, "89").unwrap();
    sale(&b, "s2", T0 - DAY, "99").unwrap();
    let strike = r#","price":99,"unit":"条","compared_price":199,"compared_label":"划线价""#;
    let f = listing(&b, "l2", T0, strike);
    assert_eq!(checks(&f), [PriceCheck::ComparedAboveLow]);
    assert_eq!(f[0].limit, Some(Fen(8_900)));
    assert_eq!(f[0].compared_price, Some(Fen(19_900)));
    assert_eq!(ids(&f[0]), ["s1"]);
    assert_eq!(f[0].evidence[0].kind, EventKind::Sale);

    // The honest compared price: at the 7-day low.
    let honest = r#","price":79,"unit":"条","compared_price":89,"compared_label":"原价""#;
    assert!(listing(&b, "l3", T0, honest).is_empty());
    // A compared price with its basis stated is not held to the low.
    let stated = r#","price":99,"unit":"条","compared_price":199,"compared_label":"吊牌价","compared_basis":"品牌官方旗舰店2026年11月标价""#;
    assert!(listing(&b, "l4", T0, stated).is_empty());
}

#[test]
fn with_no_sale_in_the_seven_days_the_last_sale_before_them_is_the_reference() {
    let b = book();
    listing(&b, "l1", T0 - 30 * DAY, MARKED);
    sale(&b, "s1", T0 - 21 * DAY, "120").unwrap();
    sale(&b, "s2", T0 - 20 * DAY, "129").unwrap();
    let over = r#","price":99,"unit":"条","compared_price":150,"compared_label":"日常价""#;
    let f = listing(&b, "l2", T0, over);
    assert_eq!(checks(&f), [PriceCheck::ComparedAboveLow]);
    assert_eq!((f[0].limit, ids(&f[0])), (Some(Fen(12_900)), vec!["s2"]));
    let fair = r#","price":99,"unit":"条","compared_price":129,"compared_label":"日常价""#;
    assert!(listing(&b, "l3", T0, fair).is_empty());
}

#[test]
fn a_price_raised_then_cut_within_the_window_is_flagged() {
    let b = book();
    listing(&b, "l1", T0 - 5 * DAY, r#","price":100,"unit":"件""#);
    listing(&b, "l2", T0 - 2 * DAY, r#","price":150,"unit":"件""#);
    listing(&b, "l2b", T0 - DAY, r#","price":150,"unit":"件""#); // title change only
    let f = listing(&b, "l3", T0, r#","price":99,"unit":"件""#);
    assert_eq!(checks(&f), [PriceCheck::RaisedThenCut]);
    assert_eq!(ids(&f[0]), ["l1", "l2"]);
    assert_eq!(f[0].limit, Some(Fen(10_000)));
    // The retried cut is judged the same and recorded once.
    let again = listing(&b, "l3", T0, r#","price":99,"unit":"件""#);
    assert_eq!(again, f);
    assert_eq!(
        b.items
            .get_mut(b.item_key("r1", "sku-1"))
            .unwrap()
            .listings
            .len(),
        4
    );
}

#[test]
fn cuts_without_a_recent_significant_raise_are_not_flagged() {
    let b = book();
    // A plain discount.
    listing(&b, "a1", T0 - DAY, r#","price":100,"unit":"件""#);
    assert!(listing(&b, "a2", T0, r#","price":80,"unit":"件""#).is_empty());
    // A raise long before the cut.
    let b = book();
    listing(&b, "b1", T0 - 30 * DAY, r#","price":100,"unit":"件""#);
    listing(&b, "b2", T0 - 20 * DAY, r#","price":150,"unit":"件""#);
    assert!(listing(&b, "b3", T0, r#","price":99,"unit":"件""#).is_empty());
    // A fluctuation below min_change_pct.
    let b = book();
    listing(&b, "c1", T0 - 2 * DAY, r#","price":100,"unit":"件""#);
    listing(&b, "c2", T0 - DAY, r#","price":102,"unit":"件""#);
    assert!(listing(&b, "c3", T0, r#","price":95,"unit":"件""#).is_empty());
}

#[test]
fn sales_of_unlisted_items_are_refused_and_rooms_are_apart() {
    let b = book();
    assert_eq!(
        sale(&b, "s1", T0, "99"),
        Err(SaleError::UnknownItem("sku-1".into()))
    );
    listing(&b, "l1", T0, MARKED);
    assert_eq!(sale(&b, "s2", T0, "99"), Ok(()));
    assert!(sale_in(&b, "r2", "s3", T0, "99").is_err());
}

#[test]
fn host_claims_are_checked_against_the_item_on_sale() {
    let b = book();
    listing(&b, "l1", T0 - DAY, MARKED);
    sale(&b, "s1", T0 - DAY, "89").unwrap();
    let f = said(
        &b,
        "transcript",
        "host",
        T0,
        "原价五百九十九，今天只要九十九",
    );
    assert_eq!(
        checks(&f),
        [PriceCheck::ClaimAboveLow, PriceCheck::TodayNotSpecial]
    );
    assert_eq!(f[0].price, Some(Fen(59_900)));
    assert_eq!(f[0].limit, Some(Fen(8_900)));
    assert_eq!(ids(&f[0]), ["s1", "l1"]);
    assert_eq!(f[1].limit, Some(Fen(9_900)));
    assert_eq!(ids(&f[1]), ["l1"], "yesterday's listing, still in force");
    // The host typing it counts as saying it.
    assert_eq!(said(&b, "chat", "host", T0, "原价599").len(), 1);
    // Honest claims.
    assert!(said(&b, "transcript", "host", T0, "原价八十九，今天只要七十九").is_empty());
    // A viewer quoting a price is not a price claim.
    assert!(said(&b, "chat", "viewer", T0, "原价599今天只要99？").is_empty());
}

#[test]
fn claims_without_a_listing_or_history_are_not_judged() {
    let b = book();
    assert!(said(&b, "transcript", "host", T0, "原价599，今天只要99").is_empty());
    listing(&b, "l1", T0, MARKED);
    // Listed today, never sold: no 7-day low and no yesterday.
    assert!(said(&b, "transcript", "host", T0, "原价599，今天只要99").is_empty());
}

#[test]
fn a_full_book_judges_new_items_alone_and_sweeps_old_ones() {
    let b = PriceBook::new(PriceConfig {
        max_items: 1,
        ..PriceConfig::default()
    });
    listing_in(&b, "r1", "l1", T0 - 70 * DAY, MARKED);
    let f = listing_in(&b, "r2", "l2", T0, r#","price":99"#);
    assert_eq!(checks(&f), [PriceCheck::Unmarked], "checks 1 still run");
    assert!(sale_in(&b, "r2", "s1", T0, "99").is_err());
    assert_eq!(b.refused(), 1);
    assert_eq!(b.sweep(T0), 2, "the item and its room, idle for 70 days");
    assert!(listing_in(&b, "r2", "l3", T0, MARKED).is_empty());
    assert_eq!(sale_in(&b, "r2", "s2", T0, "99"), Ok(()));
}

#[test]
fn item_size_is_bounded() {
    // The history at its fullest: MAX_LISTINGS listings, compare_days + 2 sale days
    // and the latest sale, each with a 24-byte id, its room and item names, plus the
    // map's key and slot.
    let id = 24;
    let listing = std::mem::size_of::<Listed>() + id;
    let sold = std::mem::size_of::<(u64, Sold)>() + id;
    let days = PriceConfig::default().compare_days as usize + 2;
    let full = std::mem::size_of::<ItemHistory>()
        + MAX_LISTINGS * listing
        + days.next_power_of_two() * sold
        + id
        + 2 * id // its room and item names
        + 2 * std::mem::size_of::<u64>();
    assert!(full <= ITEM_BYTES, "{full} bytes");
    assert!(full * 10 >= ITEM_BYTES * 7, "ITEM_BYTES overstates: {full}");
}

#[test]
fn a_saved_book_restores_the_same_judgements() {
    let b = book();
    listing(&b, "l1", T - 5 * DAY, r#","price":100,"unit":"件""#);
    sale(&b, "s1", T - 3 * DAY, "89").unwrap();
    listing(&b, "l2", T - 2 * DAY, r#","price":150,"unit":"件""#);
    let saved = b.take_changed();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].listings.len(), 2);
    assert!(b.take_changed().is_empty(), "saved once until it changes");
    let json = serde_json::to_string(&saved).unwrap();

    let restarted = book();
    let back: Vec<ItemSnapshot> = serde_json::from_str(&json).unwrap();
    assert!(back.into_iter().all(|item| restarted.restore(item)));
    assert_eq!(
        sale(&restarted, "s2", T, "150"),
        Ok(()),
        "the item is known"
    );
    let cut = r#","price":99,"unit":"件","compared_price":150,"compared_label":"原价""#;
    let before = listing(&b, "l3", T, cut);
    let after = listing(&restarted, "l3", T, cut);
    assert_eq!(checks(&after), checks(&before));
    assert_eq!(
        checks(&after),
        [PriceCheck::ComparedAboveLow, PriceCheck::RaisedThenCut]
    );
    // What the book follows live is newer than the store: it is kept.
    let again: Vec<ItemSnapshot> = serde_json::from_str(&json).unwrap();
    assert!(!restarted.restore(again.into_iter().next().unwrap()));
}

#[test]
fn a_room_that_lists_without_end_fills_only_its_own_share() {
    let b = PriceBook::new(PriceConfig {
        max_items_per_room: 2,
        ..PriceConfig::default()
    });
    let list = |room: &str, item: &str, id: &str| {
        let line = format!(
            r#"{{"kind":"listing","id":"{id}","room":"{room}","item":"{item}","title":"t","price":9,"unit":"件","ts":{T0}}}"#
        );
        let ev = parse_event(&line).unwrap();
        b.listing(&ev, ev.pricing.as_deref().unwrap(), T0);
    };
    let sells = |room: &str, item: &str| {
        let line = format!(
            r#"{{"kind":"sale","id":"s","room":"{room}","item":"{item}","price":9,"ts":{T0}}}"#
        );
        let ev = parse_event(&line).unwrap();
        b.sale(&ev, ev.pricing.as_deref().unwrap(), T0).is_ok()
    };
    list("flood", "a", "1");
    list("flood", "b", "2");
    list("flood", "c", "3");
    list("flood", "a", "4"); // a known item is always taken
    list("shop", "x", "5");
    assert!(sells("flood", "a") && sells("flood", "b"));
    assert!(!sells("flood", "c"), "over the room's share");
    assert!(sells("shop", "x"), "another room keeps its place");
    assert_eq!(b.refused(), 1);
    // Swept items give their places back.
    assert_eq!(b.sweep(T0 + 61 * DAY), 5, "3 items and both idle rooms");
    list("flood", "c", "6");
    assert!(sells("flood", "c"));
}

#[test]
fn a_restored_book_knows_each_rooms_item_on_sale() {
    let b = book();
    listing(&b, "l1", T - 2 * DAY, MARKED);
    sale(&b, "s1", T - DAY, "89").unwrap();
    let restarted = book();
    for item in b.take_changed() {
        assert!(restarted.restore(item));
    }
    let f = said(&restarted, "transcript", "host", T, "原价599");
    assert_eq!(checks(&f), [PriceCheck::ClaimAboveLow]);
}
