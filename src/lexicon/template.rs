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

#[cfg(test)]
mod tests {
    use super::*;

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
