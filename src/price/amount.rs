//! Amounts of money: [`Fen`], read exactly from a JSON number of yuan
//! ([`Fen::from_json_number`]) or from how a host says a price (`599`, `五百九十九`,
//! `九块九`, `1.2万`: [`spoken_amount`]).

use std::fmt;

/// An amount in fen (0.01 yuan). Prices are kept and compared as integers: `0.1 + 0.2`
/// yuan must equal `0.3` yuan when a compared price is checked against a sale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(pub u64);

/// The highest price accepted: 100 million yuan. Anything above is a unit mistake (fen
/// sent as yuan) rather than a price.
pub const MAX_PRICE: Fen = Fen(10_000_000_000);

impl Fen {
    /// Read a JSON number of yuan exactly (`599`, `99.9`, `0.01`, `1e3`). Refused, with
    /// the reason: negative numbers, more than two decimals (a fraction of a fen), and
    /// prices above [`MAX_PRICE`].
    ///
    /// # Errors
    /// The reason, for the error frame.
    pub fn from_json_number(text: &str) -> Result<Fen, &'static str> {
        let text = text.trim();
        if text.starts_with('-') {
            return Err("must not be negative");
        }
        if text.contains(['e', 'E']) {
            // Rare on the wire; exact enough through f64 for amounts of at most 1e8
            // yuan with two decimals (16 significant digits fit).
            let v: f64 = text.parse().map_err(|_| "must be a number of yuan")?;
            let fen = (v * 100.0).round();
            if (v * 100.0 - fen).abs() > 1e-6 {
                return Err("must have at most two decimals (fen)");
            }
            return Fen::checked(fen as u64, v > MAX_PRICE.0 as f64);
        }
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be a number of yuan");
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err("must be a number of yuan");
        }
        let (cents, rest) = frac.split_at(frac.len().min(2));
        if rest.bytes().any(|b| b != b'0') {
            return Err("must have at most two decimals (fen)");
        }
        // More than 11 digits of yuan is over the maximum however it continues.
        if whole.trim_start_matches('0').len() > 11 {
            return Err("is over the maximum of 100000000 yuan");
        }
        let yuan: u64 = whole.parse().map_err(|_| "must be a number of yuan")?;
        let mut fen = yuan * 100;
        for (i, b) in cents.bytes().enumerate() {
            fen += u64::from(b - b'0') * if i == 0 { 10 } else { 1 };
        }
        Fen::checked(fen, false)
    }

    fn checked(fen: u64, over: bool) -> Result<Fen, &'static str> {
        if over || fen > MAX_PRICE.0 {
            Err("is over the maximum of 100000000 yuan")
        } else {
            Ok(Fen(fen))
        }
    }

    /// The amount in yuan, for JSON.
    pub fn yuan(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Fen {
    /// Yuan, with decimals only when there are fen: `599`, `99.9`, `0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (yuan, fen) = (self.0 / 100, self.0 % 100);
        match fen {
            0 => write!(f, "{yuan}"),
            f10 if f10 % 10 == 0 => write!(f, "{yuan}.{}", f10 / 10),
            _ => write!(f, "{yuan}.{fen:02}"),
        }
    }
}

impl serde::Serialize for Fen {
    /// A JSON number of yuan: whole yuan as an integer (`599`), others with their
    /// decimals (`99.9`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(100) {
            s.serialize_u64(self.0 / 100)
        } else {
            s.serialize_f64(self.yuan())
        }
    }
}

impl<'de> serde::Deserialize<'de> for Fen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Fen, D::Error> {
        let v = f64::deserialize(d)?;
        if !(0.0..=MAX_PRICE.yuan()).contains(&v) {
            return Err(serde::de::Error::custom("price out of range"));
        }
        Ok(Fen((v * 100.0).round() as u64))
    }
}

fn cn_digit(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' | '壹' => 1,
        '二' | '两' | '贰' => 2,
        '三' | '叁' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    })
}

fn cn_unit(c: char) -> Option<u64> {
    Some(match c {
        '十' | '拾' => 10,
        '百' | '佰' => 100,
        '千' | '仟' => 1000,
        _ => return None,
    })
}

/// An ASCII or full-width digit.
fn digit(c: char) -> Option<u64> {
    match c {
        '0'..='9' => Some(c as u64 - '0' as u64),
        '０'..='９' => Some(c as u64 - '０' as u64),
        _ => None,
    }
}

/// The amount a host says at the start of `s`, and how many bytes it takes: Arabic
/// numbers (`599`, `1,299`, `99.9`, `1.2万`, `5千`), Chinese numerals (`五百九十九`,
/// `一百二` = 120, `两千五` = 2500), yuan and jiao (`九块九` = 9.9, `十九块八毛` = 19.8),
/// with an optional `元`/`块`/`块钱` after. `None` when no number starts `s`.
pub fn spoken_amount(s: &str) -> Option<(Fen, usize)> {
    let (yuan_fen, mut used) = arabic(s).or_else(|| chinese(s))?;
    let rest = &s[used..];
    let mut fen = yuan_fen;
    // 元, 块, 块钱, and the jiao and fen after them: 九块九, 九块九毛九, 9元9角. After
    // 元 a digit is jiao only with 角/毛 (599元一件 is one piece at 599), and after 块
    // not before a measure word (十块一件).
    let after_yuan = ["块钱", "元", "块"]
        .iter()
        .find_map(|w| rest.strip_prefix(w).map(|r| (*w, r)));
    if let Some((w, r)) = after_yuan {
        used += w.len();
        if let Some((jiao, n)) = one_digit(r).filter(|_| fen % 100 == 0) {
            let unit = r[n..].strip_prefix('毛').or(r[n..].strip_prefix('角'));
            // (包邮 is free shipping, not a bag.)
            let measure = r[n..].starts_with(MEASURE_WORDS) && !r[n..].starts_with("包邮");
            if unit.is_some() || (w == "块" && !measure) {
                fen += jiao * 10;
                used += n;
                if let Some(r) = unit {
                    used += 3;
                    if let Some((f, n)) = one_digit(r) {
                        fen += f;
                        used += n + if r[n..].starts_with('分') { 3 } else { 0 };
                    }
                }
            }
        }
    }
    (fen <= MAX_PRICE.0).then_some((Fen(fen), used))
}

/// Words that count goods: a digit before one is a quantity, not jiao.
const MEASURE_WORDS: [char; 14] = [
    '件', '个', '盒', '瓶', '包', '支', '套', '斤', '袋', '箱', '罐', '只', '条', '份',
];

/// One digit, Chinese or Arabic, at the start of `s`, and its length in bytes.
fn one_digit(s: &str) -> Option<(u64, usize)> {
    let c = s.chars().next()?;
    cn_digit(c).or(digit(c)).map(|d| (d, c.len_utf8()))
}

/// `599`, `1,299`, `99.9`, `1.2万`, `5千`, in fen.
fn arabic(s: &str) -> Option<(u64, usize)> {
    let mut whole: u64 = 0;
    let mut used = 0;
    let mut digits = 0;
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if let Some(d) = digit(c) {
            whole = whole.checked_mul(10)?.checked_add(d)?;
            digits += 1;
            used = i + c.len_utf8();
            chars.next();
        } else if (c == ',' || c == '，') && digits > 0 {
            // A thousands separator only when three digits follow.
            let ahead: Vec<char> = s[i + c.len_utf8()..].chars().take(4).collect();
            if ahead.len() >= 3
                && ahead[..3].iter().all(|&a| digit(a).is_some())
                && ahead.get(3).is_none_or(|&a| digit(a).is_none())
            {
                chars.next();
            } else {
                break;
            }
        } else {
            break;
        }
    }
    if digits == 0 {
        return None;
    }
    let mut fen = whole.checked_mul(100)?;
    let rest = &s[used..];
    if let Some(frac) = rest.strip_prefix('.').or(rest.strip_prefix('点')) {
        let ds: Vec<u64> = frac.chars().map_while(digit).take(2).collect();
        if !ds.is_empty() {
            used += rest.len() - frac.len() + ds.len();
            fen += ds[0] * 10 + ds.get(1).copied().unwrap_or(0);
        }
    }
    let rest = &s[used..];
    for (w, m) in [("万", 10_000u64), ("千", 1000)] {
        if rest.starts_with(w) {
            return Some((fen.checked_mul(m)?, used + w.len()));
        }
    }
    Some((fen, used))
}

/// Chinese numerals up to 万 (`五百九十九`, `一百二`, `两千五`, `三万八`, `九点九`), in
/// fen.
fn chinese(s: &str) -> Option<(u64, usize)> {
    let mut total = 0u64; // whole 万 sections
    let mut section = 0u64;
    let mut pending: Option<u64> = None; // a digit not yet given a unit
    let mut last_unit = 0u64; // the unit of the previous digit, for 一百二 = 120
    let mut used = 0;
    let mut any = false;
    for (i, c) in s.char_indices() {
        if let Some(d) = cn_digit(c) {
            if d == 0 && last_unit > 0 {
                // 一百零五: the zero holds a place; the next digit is units.
                last_unit = 1;
            } else if pending.is_some() {
                if last_unit > 0 {
                    break; // 一百二一件: the number ended at 二
                }
                // Digits in a row (五九九) are read digit by digit.
                section = section * 10 + pending.take()?;
                pending = Some(d);
            } else {
                pending = Some(d);
            }
        } else if let Some(u) = cn_unit(c) {
            section += pending.take().unwrap_or(1) * u;
            last_unit = u;
        } else if c == '万' && any {
            section += pending.take().unwrap_or(0);
            total += section * 10_000;
            section = 0;
            last_unit = 10_000;
        } else {
            break;
        }
        any = true;
        used = i + c.len_utf8();
    }
    if !any {
        return None;
    }
    if let Some(d) = pending {
        // 一百二 is 120, 两千五 2500, 三万八 38000: a last digit takes the next unit down.
        section = match last_unit {
            0 => section * 10 + d, // the last of digits in a row (五九九)
            1 | 10 => section + d,
            unit => section + d * unit / 10,
        };
    }
    let mut fen = (total + section).checked_mul(100)?;
    let rest = &s[used..];
    if let Some(frac) = rest.strip_prefix('点') {
        let ds: Vec<u64> = frac.chars().map_while(cn_digit).take(2).collect();
        if !ds.is_empty() {
            used += 3 + ds.len() * 3;
            fen += ds[0] * 10 + ds.get(1).copied().unwrap_or(0);
        }
    }
    Some((fen, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_are_read_exactly() {
        assert_eq!(Fen::from_json_number("599"), Ok(Fen(59_900)));
        assert_eq!(Fen::from_json_number("99.9"), Ok(Fen(9_990)));
        assert_eq!(Fen::from_json_number("0.01"), Ok(Fen(1)));
        assert_eq!(Fen::from_json_number("19.90"), Ok(Fen(1_990)));
        assert_eq!(Fen::from_json_number("1.000"), Ok(Fen(100)));
        assert_eq!(Fen::from_json_number("1e3"), Ok(Fen(100_000)));
        assert_eq!(Fen::from_json_number("0"), Ok(Fen(0)));
        assert!(Fen::from_json_number("-1").is_err());
        assert!(Fen::from_json_number("0.001").is_err());
        assert!(Fen::from_json_number("100000000.01").is_err());
        assert!(Fen::from_json_number("1e9").is_err());
        assert!(Fen::from_json_number("\"99\"").is_err());
        assert!(Fen::from_json_number("99999999999999999999999").is_err());
        assert_eq!(Fen(59_900).to_string(), "599");
        assert_eq!(Fen(9_990).to_string(), "99.9");
        assert_eq!(Fen(5).to_string(), "0.05");
    }

    fn said(s: &str) -> Option<(u64, &str)> {
        spoken_amount(s).map(|(f, n)| (f.0, &s[n..]))
    }

    #[test]
    fn spoken_amounts() {
        assert_eq!(said("599元起"), Some((59_900, "起")));
        assert_eq!(said("1,299块"), Some((129_900, "")));
        assert_eq!(said("99.9"), Some((9_990, "")));
        assert_eq!(said("1.2万"), Some((1_200_000, "")));
        assert_eq!(said("五百九十九"), Some((59_900, "")));
        assert_eq!(said("一百二一件"), Some((12_000, "一件")));
        assert_eq!(said("两千五"), Some((250_000, "")));
        assert_eq!(said("一百零五"), Some((10_500, "")));
        assert_eq!(said("五九九"), Some((59_900, "")));
        assert_eq!(said("三万八千"), Some((3_800_000, "")));
        assert_eq!(said("十九块八毛"), Some((1_980, "")));
        assert_eq!(said("九块九包邮"), Some((990, "包邮")));
        assert_eq!(said("九块九毛九"), Some((999, "")));
        assert_eq!(said("599元一件"), Some((59_900, "一件")));
        assert_eq!(said("十块一件"), Some((1_000, "一件")));
        assert_eq!(said("9元9角"), Some((990, "")));
        assert_eq!(said("十块钱"), Some((1_000, "")));
        assert_eq!(said("九点九"), Some((990, "")));
        assert_eq!(said("８９"), Some((8_900, "")));
        assert_eq!(said("今天"), None);
        assert_eq!(said("1,2,3"), Some((100, ",2,3")));
    }
}
