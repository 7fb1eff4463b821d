//! Pinyin spellings of a term, for evaders who write part or all of it in pinyin
//! (`xiao量第一`, `shen效`, `zhiyu`).
//!
//! For every contiguous run of Chinese characters in a term, the run is replaced by the
//! toneless pinyin of its characters, with every reading of a polyphonic character
//! (`弹药` gives `dan药` and `tan药`). Spellings with `ü` come in both the `u` and `v`
//! forms people type. The normalizer later lower-cases and strips spaces, so one
//! spelling covers `XIAO量`, `xiao 量` and `xiao量`.

use pinyin::ToPinyinMulti;

/// Readings kept per character: polyphones beyond the third are rare in terms and
/// would multiply the pattern count.
const MAX_READINGS: usize = 3;

/// Most spellings generated for one string.
pub const MAX_SPELLINGS: usize = 256;

/// The toneless readings of `c`, without duplicates, or `None` if it has no pinyin.
pub fn readings(c: char) -> Option<Vec<String>> {
    let multi = c.to_pinyin_multi()?;
    let mut out: Vec<String> = Vec::new();
    for p in multi {
        let plain = p.plain();
        let forms: &[String] = &if plain.contains('ü') {
            vec![plain.replace('ü', "u"), plain.replace('ü', "v")]
        } else {
            vec![plain.to_owned()]
        };
        for f in forms {
            if !out.contains(f) {
                out.push(f.clone());
            }
        }
        if out.len() >= MAX_READINGS * 2 {
            break;
        }
    }
    out.truncate(MAX_READINGS * 2);
    Some(out)
}

/// The spellings of `term` that write one character, two adjacent characters, or the
/// whole term in pinyin; the original excluded. (Longer partial runs add patterns
/// without adding evasions seen in practice: people swap a character or two for
/// pinyin, or type the whole word.)
pub fn spellings(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    let readings: Vec<Option<Vec<String>>> = chars.iter().map(|&c| readings(c)).collect();
    let n = chars.len();
    let mut out = Vec::new();
    for start in 0..n {
        for end in start + 1..=n {
            if end - start > 2 && (start, end) != (0, n) {
                continue;
            }
            if readings[start..end].iter().any(Option::is_none) {
                break;
            }
            let mut run = vec![String::new()];
            for r in readings[start..end].iter().flatten() {
                run = run
                    .iter()
                    .flat_map(|prefix| r.iter().map(move |p| format!("{prefix}{p}")))
                    .take(MAX_SPELLINGS)
                    .collect();
            }
            let before: String = chars[..start].iter().collect();
            let after: String = chars[end..].iter().collect();
            for r in run {
                if out.len() == MAX_SPELLINGS {
                    return out;
                }
                out.push(format!("{before}{r}{after}"));
            }
        }
    }
    out
}

/// The pinyin initials of `term` (`jwx` for 加微信), from each character's two most
/// common readings (`yhk` and `yxk` for 银行卡; a rarer reading's initial turns everyday
/// abbreviations into terms: 角 can be read lu), or nothing unless the term is two or
/// more Chinese characters and nothing else.
pub fn initials(term: &str) -> Vec<String> {
    match initial_letters(term) {
        Some(firsts) if firsts.len() >= 2 => abbreviate(&firsts),
        _ => Vec::new(),
    }
}

/// The spellings of `term` with some of its characters, but not all, written as their
/// initials (`刷rq` for 刷人气, `纯tr` for 纯天然, `私l` for 私聊): evaders abbreviate the
/// part of a word that gives it away and keep the rest. Each contiguous run of one or
/// more characters short of the whole term is abbreviated, with each character's
/// initials as in [`initials`]; nothing unless the term is two or more Chinese
/// characters and nothing else.
pub fn mixed_initials(term: &str) -> Vec<String> {
    let Some(firsts) = initial_letters(term) else {
        return Vec::new();
    };
    let chars: Vec<char> = term.chars().collect();
    let n = chars.len();
    let mut out = Vec::new();
    for start in 0..n {
        for end in start + 1..=n {
            if (start, end) == (0, n) {
                continue;
            }
            let before: String = chars[..start].iter().collect();
            let after: String = chars[end..].iter().collect();
            for r in abbreviate(&firsts[start..end]) {
                if out.len() == MAX_SPELLINGS {
                    return out;
                }
                out.push(format!("{before}{r}{after}"));
            }
        }
    }
    out
}

/// Each character's initials from its two commonest readings (银行卡 is yhk as well as
/// yxk; rarer readings only add noise), or `None` if a character has no pinyin.
fn initial_letters(term: &str) -> Option<Vec<Vec<char>>> {
    term.chars()
        .map(|c| {
            let mut firsts: Vec<char> = Vec::new();
            for f in readings(c)?.iter().take(2).filter_map(|r| r.chars().next()) {
                if !firsts.contains(&f) {
                    firsts.push(f);
                }
            }
            Some(firsts)
        })
        .collect()
}

/// The strings that take one initial per character, at most [`MAX_INITIALS`].
fn abbreviate(firsts: &[Vec<char>]) -> Vec<String> {
    let mut out = vec![String::new()];
    for fs in firsts {
        out = out
            .iter()
            .flat_map(|prefix| {
                fs.iter().map(move |&f| {
                    let mut p = prefix.clone();
                    p.push(f);
                    p
                })
            })
            .take(MAX_INITIALS)
            .collect();
    }
    out
}

/// Most initials spellings of one term.
const MAX_INITIALS: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_runs_of_a_term() {
        let s = spellings("销量第一");
        for want in [
            "xiao量第一",
            "销liang第一",
            "销量diyi",
            "xiaoliangdiyi",
            "销量第yi",
        ] {
            assert!(s.contains(&want.to_owned()), "{want} missing from {s:?}");
        }
        assert!(!s.contains(&"销量第一".to_owned()));
        assert!(
            !s.contains(&"xiaoliangdi一".to_owned()),
            "runs of three are not spelled"
        );
    }

    #[test]
    fn covers_polyphones_and_umlaut() {
        let s = spellings("弹药");
        assert!(s.contains(&"dan药".to_owned()) && s.contains(&"tan药".to_owned()));
        let s = spellings("绿");
        assert!(s.contains(&"lu".to_owned()) && s.contains(&"lv".to_owned()));
    }

    #[test]
    fn initials_of_chinese_terms() {
        assert_eq!(initials("加微信")[0], "jwx");
        assert_eq!(initials("刷单")[0], "sd");
        assert!(initials("银行卡").contains(&"yhk".to_owned()));
        assert!(initials("v信").is_empty() && initials("烟").is_empty());
    }

    #[test]
    fn mixed_initials_abbreviate_part_of_a_term() {
        let m = mixed_initials("刷人气");
        for want in ["刷rq", "s人气", "sr气", "刷r气", "刷人q"] {
            assert!(m.contains(&want.to_owned()), "{want} in {m:?}");
        }
        assert!(
            !m.contains(&"srq".to_owned()),
            "the whole term is `initials`"
        );
        assert_eq!(mixed_initials("私聊"), ["s聊", "私l"]);
        assert!(mixed_initials("v信").is_empty() && mixed_initials("烟").is_empty());
    }

    #[test]
    fn leaves_latin_alone() {
        assert!(spellings("v信").contains(&"vxin".to_owned()));
        assert!(spellings("vx").is_empty());
    }
}
