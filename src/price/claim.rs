//! Price claims in what a host says or types: a stated original price (`原价599`,
//! `吊牌价五百九十九`) and a "today only" price (`今天只要99`, `只有今天才有89.9`). The
//! price book checks them against the item on sale ([`super::PriceBook::claims`]).

use super::amount::{Fen, spoken_amount};

/// What a claim says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimKind {
    /// The price the item is said to have had or to be worth elsewhere (原价, 吊牌价, …):
    /// a compared price, with no details stated.
    Original,
    /// A price said to hold only today (今天只要, 仅限今天, …).
    TodayOnly,
}

/// One claim: its kind, the amount, and its byte range in the text (from the cue word
/// to the end of the amount).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What it says.
    pub kind: ClaimKind,
    /// The amount said.
    pub amount: Fen,
    /// Start of the claim in the text.
    pub start: usize,
    /// End (exclusive).
    pub end: usize,
}

/// Words that introduce a compared price.
const ORIGINAL_CUES: &[&str] = &[
    "原价",
    "原來",
    "原来卖",
    "划线价",
    "劃線價",
    "吊牌价",
    "专柜价",
    "專櫃價",
    "市场价",
    "日常价",
    "零售价",
    "官网价",
    "官方价",
    "指导价",
    "平时卖",
    "平常卖",
    "平时都卖",
    "平时要",
    "之前卖",
    "以前卖",
    "外面卖",
    "门店价",
    "建议零售价",
];

/// Words that say a price holds only today.
const TODAY_CUES: &[&str] = &[
    "今天只要",
    "今天只需",
    "今天只卖",
    "今天只有",
    "今晚只要",
    "今晚只需",
    "今日只要",
    "只有今天",
    "仅限今天",
    "只限今天",
    "仅限今晚",
    "只有今晚",
    "就今天",
    "今天才有",
    "今天特价",
    "今日特价",
    "今天专享",
    "仅此一天",
    "今天直接",
];

/// Filler the amount may follow the cue with: `原价是599`, `今天只要到手99`.
const FILLER: &[&str] = &[
    "都要",
    "都是",
    "是",
    "要",
    "卖",
    "都",
    "就",
    "才有",
    "才",
    "价",
    "只要",
    "只需",
    "到手",
    "到手价",
    "才要",
    "才卖",
    "直接",
    "：",
    ":",
    " ",
    "¥",
    "￥",
    "，",
    ",",
    "仅",
    "只",
    "能",
    "拍",
];

/// How far past the cue (in characters, filler included) the amount may start.
const MAX_GAP_CHARS: usize = 8;

/// A character of every cue: text without one holds no claim (most host speech).
const CUE_CHARS: [char; 7] = ['价', '價', '卖', '原', '今', '天', '平'];

/// Every price claim in `text`, in order.
pub fn claims(text: &str) -> Vec<Claim> {
    let mut out = Vec::new();
    if !text.contains(CUE_CHARS) {
        return out;
    }
    for (cues, kind) in [
        (ORIGINAL_CUES, ClaimKind::Original),
        (TODAY_CUES, ClaimKind::TodayOnly),
    ] {
        for cue in cues {
            for (at, _) in text.match_indices(cue) {
                let after = at + cue.len();
                if out
                    .iter()
                    .any(|c: &Claim| c.kind == kind && c.start <= at && at < c.end)
                {
                    continue; // 建议零售价 inside a claim already read as 零售价
                }
                if let Some((amount, end)) = amount_after(text, after) {
                    out.push(Claim {
                        kind,
                        amount,
                        start: at,
                        end,
                    });
                }
            }
        }
    }
    out.sort_by_key(|c| (c.start, c.end));
    // One claim per span: 原价 inside 建议零售价 is the same claim.
    out.dedup_by(|b, a| a.kind == b.kind && b.start < a.end);
    out
}

/// The amount that follows a cue ending at byte `from`, past filler; its value and
/// where it ends.
fn amount_after(text: &str, from: usize) -> Option<(Fen, usize)> {
    let mut at = from;
    for _ in 0..MAX_GAP_CHARS {
        let rest = &text[at..];
        if let Some((amount, len)) = spoken_amount(rest) {
            return Some((amount, at + len));
        }
        let filler = FILLER.iter().find(|f| rest.starts_with(*f))?;
        at += filler.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(text: &str) -> Vec<(ClaimKind, u64, &str)> {
        claims(text)
            .into_iter()
            .map(|c| (c.kind, c.amount.0, &text[c.start..c.end]))
            .collect()
    }

    #[test]
    fn reads_original_and_today_claims() {
        use ClaimKind::*;
        assert_eq!(
            said("家人们原价599，今天只要99！"),
            vec![
                (Original, 59_900, "原价599"),
                (TodayOnly, 9_900, "今天只要99")
            ]
        );
        assert_eq!(
            said("这个吊牌价是五百九十九块，只有今天才有八十九块九"),
            vec![
                (Original, 59_900, "吊牌价是五百九十九块"),
                (TodayOnly, 8_990, "只有今天才有八十九块九")
            ]
        );
        assert_eq!(
            said("建议零售价1,299元"),
            vec![(Original, 129_900, "建议零售价1,299元")]
        );
        assert_eq!(
            said("今天只要到手价¥89"),
            vec![(TodayOnly, 8_900, "今天只要到手价¥89")]
        );
    }

    #[test]
    fn every_cue_holds_a_cue_char() {
        for cue in ORIGINAL_CUES.iter().chain(TODAY_CUES) {
            assert!(cue.contains(CUE_CHARS), "{cue}");
        }
    }

    #[test]
    fn talk_without_an_amount_is_no_claim() {
        assert!(said("原价多少我也忘了，今天只要拍下就送").is_empty());
        assert!(said("今天天气真好，家人们").is_empty());
        assert!(said("原价买的，没用券").is_empty());
    }
}
