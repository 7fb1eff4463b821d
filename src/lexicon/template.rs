//! `{group}` templates: a term, variant or allow phrase may name a context group in
//! braces, and expands to one string per word of the group (`100%{fiber}` stands for
//! 100%棉, 100%桑蚕丝, …). Several placeholders expand to their cross product.

use std::collections::HashSet;

/// Most strings one template may expand to; more is a lexicon defect, not a feature.
pub const MAX_EXPANSIONS: usize = 4096;

/// Check that braces balance and every placeholder names a known group.
///
/// # Errors
/// A message naming the problem.
pub fn check(s: &str, groups: &HashSet<&str>) -> Result<(), String> {
    for piece in parse(s)? {
        if let Piece::Group(g) = piece
            && !groups.contains(g)
        {
            return Err(format!("`{s}` names unknown group `{{{g}}}`"));
        }
    }
    Ok(())
}

/// Expand `s`, looking groups up with `words`. Unknown groups expand to nothing (the
/// lexicon validation reports them).
pub fn expand<'g>(s: &str, words: impl Fn(&str) -> Option<&'g [String]>) -> Vec<String> {
    let Ok(pieces) = parse(s) else {
        return vec![s.to_owned()];
    };
    let mut out = vec![String::new()];
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.iter_mut().for_each(|o| o.push_str(t)),
            Piece::Group(g) => {
                let Some(ws) = words(g) else {
                    return Vec::new();
                };
                let mut next = Vec::with_capacity(out.len() * ws.len());
                for o in &out {
                    for w in ws {
                        if next.len() == MAX_EXPANSIONS {
                            break;
                        }
                        next.push(format!("{o}{w}"));
                    }
                }
                out = next;
            }
        }
    }
    out
}

/// The `{group}` references of a regex pattern, as (byte range, group id): a brace
/// that opens a lowercase identifier (`{platform}`), outside a character class, not
/// escaped and not part of `\p{..}`. Regex repetitions (`{2}`, `{0,6}`) open with a
/// digit, so the two never meet.
pub fn pattern_refs(pattern: &str) -> Vec<(std::ops::Range<usize>, &str)> {
    walk(pattern)
        .refs
        .into_iter()
        .map(|r| (r.range, r.name))
        .collect()
}

/// A `{group}` reference found by [`walk`], with its parenthesis depth.
struct GroupRef<'a> {
    range: std::ops::Range<usize>,
    name: &'a str,
    depth: usize,
}

/// What one pass over a regex pattern finds: its `{group}` references (see
/// [`pattern_refs`]) and the byte offsets of its top-level `|`.
struct Walk<'a> {
    refs: Vec<GroupRef<'a>>,
    bars: Vec<usize>,
}

fn walk(pattern: &str) -> Walk<'_> {
    let bytes = pattern.as_bytes();
    let mut found = Walk {
        refs: Vec::new(),
        bars: Vec::new(),
    };
    let (mut i, mut class, mut depth) = (0, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            // An escape takes the next character with it (`\{`, `\]`, and `\p` whose
            // brace is then skipped below).
            b'\\' => {
                i += 2;
                if bytes.get(i - 1).is_some_and(|b| matches!(b, b'p' | b'P'))
                    && bytes.get(i) == Some(&b'{')
                    && let Some(close) = pattern[i..].find('}')
                {
                    i += close + 1;
                }
                continue;
            }
            b'[' => class += 1,
            b']' if class > 0 => class -= 1,
            b'(' if class == 0 => depth += 1,
            b')' if class == 0 => depth = depth.saturating_sub(1),
            b'|' if class == 0 && depth == 0 => found.bars.push(i),
            b'{' if class == 0 => {
                let name_len = pattern[i + 1..]
                    .bytes()
                    .take_while(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
                    .count();
                let name = &pattern[i + 1..i + 1 + name_len];
                if name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && bytes.get(i + 1 + name_len) == Some(&b'}')
                {
                    found.refs.push(GroupRef {
                        range: i..i + name_len + 2,
                        name,
                        depth,
                    });
                    i += name_len + 2;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// `pattern` with each `{group}` reference (see [`pattern_refs`]) replaced by a
/// non-capturing alternation of the strings `words` gives for the group, longest
/// first (a regex alternation prefers its first branch), each escaped. A reference
/// `words` does not know is left as written, which no regex compiles.
pub fn expand_pattern(pattern: &str, words: impl Fn(&str) -> Option<Vec<String>>) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut at = 0;
    for (range, group) in pattern_refs(pattern) {
        out.push_str(&pattern[at..range.start]);
        match words(group) {
            // A group with no words matches nothing (an empty alternation would match
            // everywhere).
            Some(ws) if ws.is_empty() => out.push_str(r"(?:\b\B)"),
            Some(mut ws) => {
                ws.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
                ws.dedup();
                let alternatives: Vec<String> = ws.iter().map(|w| regex::escape(w)).collect();
                out.push_str("(?:");
                out.push_str(&alternatives.join("|"));
                out.push(')');
            }
            None => out.push_str(&pattern[range.clone()]),
        }
        at = range.end;
    }
    out.push_str(&pattern[at..]);
    out
}

enum Piece<'a> {
    Text(&'a str),
    Group(&'a str),
}

fn parse(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err(format!("`{s}` has an unmatched `}}`"));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("`{s}` has an unmatched `{{`"));
        };
        let name = &rest[open + 1..open + close];
        if name.is_empty() || name.contains('{') {
            return Err(format!("`{s}` has a malformed placeholder"));
        }
        if open > 0 {
            pieces.push(Piece::Text(&rest[..open]));
        }
        pieces.push(Piece::Group(name));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Whether every match of the regex `pattern` must contain one of the words of a
/// group it names: each top-level branch (`a|b|c`) holds a `{group}` that is not
/// optional, either bare at the branch's own level or as the only content of a
/// non-capturing group (`(?:{platform})`), and not followed by `?`, `*` or `{0`.
/// Such a pattern needs no `anchors`: the matcher runs it wherever one of its
/// groups' spellings stands. Conservative: a group required in a way this does not
/// read (inside a longer group, say) counts as not required.
pub fn every_branch_requires_a_group(pattern: &str) -> bool {
    let Walk { refs, bars } = walk(pattern);
    let optional_after = |at: usize| {
        let rest = &pattern[at.min(pattern.len())..];
        rest.starts_with('?') || rest.starts_with('*') || rest.starts_with("{0")
    };
    // A top-level bar sits at depth 0, so a ref's depth from the pattern's start is
    // its depth within its branch.
    let required = |r: &GroupRef<'_>| match r.depth {
        0 => !optional_after(r.range.end),
        1 => {
            pattern[..r.range.start].ends_with("(?:")
                && pattern[r.range.end..].starts_with(')')
                && !optional_after(r.range.end + 1)
        }
        _ => false,
    };
    let starts = std::iter::once(0).chain(bars.iter().map(|b| b + 1));
    let ends = bars.iter().copied().chain(std::iter::once(pattern.len()));
    !refs.is_empty()
        && starts.zip(ends).all(|(start, end)| {
            refs.iter()
                .any(|r| (start..end).contains(&r.range.start) && required(r))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_in_every_branch_anchors_a_pattern_only_where_it_is_required() {
        let yes = [
            "{p}",
            "(?:{p})上买",
            "我挂(?:在)?(?:{p})|(?:{p})[^。！？]{0,12}?我挂|(?:{p})+里",
            "去{p}[^。]{0,4}买|买(?:{a})",
            r"\p{Han}{p}",
        ];
        let no = [
            "我挂在那边",
            "(?:{p})?我挂",
            "{p}*x",
            "(?:{p}){0,1}x",
            "去{p}买|去那边买",
            "(?:{p}|那边)买",
            "((?:{p}))买",
            "[{p}]买",
            r"\{p}买",
        ];
        for p in yes {
            assert!(every_branch_requires_a_group(p), "{p}");
        }
        for p in no {
            assert!(!every_branch_requires_a_group(p), "{p}");
        }
    }

    fn words(g: &str) -> Option<&'static [String]> {
        use std::sync::OnceLock;
        static FIBER: OnceLock<Vec<String>> = OnceLock::new();
        static ADD: OnceLock<Vec<String>> = OnceLock::new();
        match g {
            "fiber" => Some(FIBER.get_or_init(|| vec!["棉".into(), "真丝".into()])),
            "add" => Some(ADD.get_or_init(|| vec!["加".into(), "+".into()])),
            _ => None,
        }
    }

    #[test]
    fn expands_cross_products() {
        assert_eq!(expand("100%{fiber}", words), ["100%棉", "100%真丝"]);
        assert_eq!(
            expand("{add}v{add}", words),
            ["加v加", "加v+", "+v加", "+v+"]
        );
        assert_eq!(expand("plain", words), ["plain"]);
        assert!(expand("{nope}", words).is_empty());
    }

    #[test]
    fn pattern_references_expand_to_alternations() {
        let refs: Vec<&str> = pattern_refs(r"去{fiber}[{x}]\{add}\p{Han}{2}a{0,6}{add}")
            .into_iter()
            .map(|(_, g)| g)
            .collect();
        assert_eq!(
            refs,
            ["fiber", "add"],
            "not in a class, escaped, \\p or a repetition"
        );
        let words = |g: &str| words(g).map(<[String]>::to_vec);
        assert_eq!(
            expand_pattern(r"去{fiber}搜{0,2}", words),
            r"去(?:真丝|棉)搜{0,2}"
        );
        assert_eq!(expand_pattern("{add}v", words), r"(?:加|\+)v");
        assert_eq!(expand_pattern("{nope}", words), "{nope}");
        let none = expand_pattern("a{fiber}", |_| Some(Vec::new()));
        assert!(!regex::Regex::new(&none).unwrap().is_match("a"), "{none}");
    }

    proptest::proptest! {
        /// Any text, as a pattern: references are found without a panic, each names
        /// a lowercase id inside its braces, and expanding them keeps the rest as
        /// written.
        #[test]
        fn any_pattern_expands_without_a_panic(pattern in r"[\\\[\]{}a-z0-9_,\p{Han}]{0,24}") {
            for (range, group) in pattern_refs(&pattern) {
                proptest::prop_assert_eq!(&pattern[range.clone()], format!("{{{group}}}"));
            }
            let kept = expand_pattern(&pattern, |_| None);
            proptest::prop_assert_eq!(kept, pattern.clone());
            let _ = expand_pattern(&pattern, |g| Some(vec![g.to_owned(), "加".to_owned()]));
        }
    }

    #[test]
    fn checks_syntax_and_names() {
        let groups: HashSet<&str> = ["fiber"].into();
        assert!(check("100%{fiber}", &groups).is_ok());
        assert!(
            check("{nope}", &groups)
                .unwrap_err()
                .contains("unknown group")
        );
        assert!(check("a{fiber", &groups).unwrap_err().contains("unmatched"));
        assert!(check("a}b", &groups).unwrap_err().contains("unmatched"));
        assert!(check("a{}b", &groups).unwrap_err().contains("malformed"));
    }
}
