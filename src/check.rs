//! `liveguard lexicon check`: validation that needs the lexicon compiled.
//!
//! Parsing already refuses duplicate ids, bad regexes, unknown categories, severities,
//! roles and groups. This adds what only the matcher can tell: an allow phrase that
//! swallows its own term (the entry could never hit), an allow phrase that contains no
//! term of its entry (it allows nothing), a trap sentence or allow phrase that the
//! lexicon flags, and regex rules without a prefilter.

use crate::event::{Category, Decision, EventKind, Role, Tier};
use crate::lexicon::{Lexicon, LexiconError, LexiconSource, Matching, Problem, template};
use crate::matcher::{BuildOptions, Matcher, RawHit, Scratch};
use crate::normalize::{NormText, normalize};
use crate::policy::{HitContext, Policy};

/// The result of checking a lexicon.
#[derive(Debug)]
pub struct CheckReport {
    /// Errors and warnings, errors first.
    pub problems: Vec<Problem>,
    /// Sizes of the compiled lexicon, when it compiled.
    pub stats: Option<crate::matcher::MatcherStats>,
    /// The version, when the lexicon parsed.
    pub version: Option<String>,
    /// Trap sentences and allow phrases scanned.
    pub traps_checked: usize,
    /// The lexicon and its matcher, when both built: a caller that goes on to run
    /// them (a reload) need not parse and compile again.
    pub compiled: Option<(Lexicon, Matcher)>,
}

impl CheckReport {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }
}

/// The ruleset of the lexicon in `dir` (the embedded one without), built only if it
/// passes every check of [`check`]: what a reload swaps in.
///
/// # Errors
/// [`LexiconError`] with the problems found.
pub fn checked_ruleset(
    dir: Option<&std::path::Path>,
) -> Result<crate::engine::Ruleset, LexiconError> {
    let src = match dir {
        Some(d) => LexiconSource::from_dir(d)?,
        None => LexiconSource::embedded(),
    };
    // The checks of `liveguard lexicon check`, not only parsing: a lexicon that flags
    // its own traps (a buyer's complaint) or a rule that matches everything would
    // otherwise go live. Its matcher is the one the reload runs: built once.
    let report = check(&src);
    match report.compiled {
        Some((lexicon, matcher)) if !report.has_errors() => {
            Ok(crate::engine::Ruleset::from_parts(&lexicon, matcher))
        }
        _ => Err(LexiconError::Invalid(report.problems)),
    }
}

/// Check the lexicon in `src`.
pub fn check(src: &LexiconSource) -> CheckReport {
    let lexicon = match Lexicon::parse(src) {
        Ok(l) => l,
        Err(LexiconError::Invalid(problems)) => {
            return CheckReport {
                problems,
                stats: None,
                version: None,
                traps_checked: 0,
                compiled: None,
            };
        }
        Err(e) => {
            return CheckReport {
                problems: vec![Problem::error(&src.origin, None, e.to_string())],
                stats: None,
                version: None,
                traps_checked: 0,
                compiled: None,
            };
        }
    };
    let mut problems = lexicon.warnings.clone();
    let matcher = match Matcher::build_with(&lexicon, BuildOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            problems.insert(0, Problem::error(&src.origin, None, e.to_string()));
            return CheckReport {
                problems,
                stats: None,
                version: Some(lexicon.version),
                traps_checked: 0,
                compiled: None,
            };
        }
    };
    check_allow_lists(&lexicon, &mut problems);
    check_rules(&lexicon, &mut problems);
    let traps_checked = check_traps(&lexicon, &matcher, &mut problems);
    problems.sort_by_key(|p| !p.is_error());
    CheckReport {
        problems,
        stats: Some(matcher.stats()),
        version: Some(lexicon.version.clone()),
        traps_checked,
        compiled: Some((lexicon, matcher)),
    }
}

fn words<'a>(lexicon: &'a Lexicon) -> impl Fn(&str) -> Option<&'a [String]> {
    |id| lexicon.group(id).map(|g| g.words.as_slice())
}

fn check_allow_lists(lexicon: &Lexicon, problems: &mut Vec<Problem>) {
    for e in &lexicon.entries {
        let Matching::Terms { term, variants, .. } = &e.matching else {
            continue;
        };
        let terms: Vec<String> = std::iter::once(term)
            .chain(variants)
            .flat_map(|s| template::expand(s, words(lexicon)))
            .map(|s| normalize(&s))
            .filter(|s| !s.is_empty())
            .collect();
        for a in &e.allow {
            for phrase in template::expand(&a.phrase, words(lexicon)) {
                let p = normalize(&phrase);
                if terms.contains(&p) {
                    problems.push(Problem::error(
                        &e.file,
                        Some(&e.id),
                        format!(
                            "allow phrase `{phrase}` is the term itself: the entry can never hit"
                        ),
                    ));
                } else if !terms.iter().any(|t| p.contains(t.as_str()))
                    && !is_file_allow(lexicon, e, a)
                {
                    problems.push(Problem::warning(
                        &e.file,
                        Some(&e.id),
                        format!("allow phrase `{phrase}` contains no term of the entry: it allows nothing"),
                    ));
                }
            }
        }
    }
}

/// File-level allow phrases are copied into every entry of the file; only entries whose
/// term they contain use them, so "allows nothing" is not worth a warning there.
fn is_file_allow(lexicon: &Lexicon, e: &crate::lexicon::Entry, a: &crate::lexicon::Allow) -> bool {
    lexicon
        .entries
        .iter()
        .filter(|o| o.file == e.file && o.id != e.id)
        .any(|o| o.allow.contains(a))
}

fn check_rules(lexicon: &Lexicon, problems: &mut Vec<Problem>) {
    for e in &lexicon.entries {
        if let Matching::Pattern {
            pattern,
            anchors,
            min_digits,
            ..
        } = &e.matching
            && anchors.is_empty()
            && *min_digits == 0
            && !crate::lexicon::template::every_branch_requires_a_group(pattern)
        {
            problems.push(Problem::warning(
                &e.file,
                Some(&e.id),
                "rule has neither `anchors` nor `min_digits`, and some branch of its pattern \
                 does without a `{group}`: its regex runs on every event",
            ));
        }
    }
}

/// Scan every trap sentence (nothing may flag it), every suggested wording (nothing
/// may flag it for a host) and every allow phrase for the roles it applies to (its
/// entry's category may not flag it). Returns how many texts were scanned.
fn check_traps(lexicon: &Lexicon, matcher: &Matcher, problems: &mut Vec<Problem>) -> usize {
    let mut scratch = Scratch::default();
    let mut hits: Vec<RawHit> = Vec::new();
    let mut checked = 0;
    let policy = Policy::from_lexicon(lexicon);
    // A hit flags a text when it is asserted (no context), or when the decision table
    // acts on it anyway: a trap may mention a term (我们从不刷单) but not say it.
    let mut flagged_by = |text: &str, role: Role| -> Vec<(String, Category)> {
        let nt = NormText::normalized(text);
        hits.clear();
        matcher.scan(&nt, 0, role, &mut scratch, &mut hits);
        hits.iter()
            .filter(|h| {
                let e = matcher.entry(h.entry);
                let context = crate::context::mark(&nt, 0, h.start, h.end, e.category, role, text);
                context.is_empty()
                    || policy.decide(HitContext {
                        category: e.category,
                        severity: e.severity,
                        role,
                        kind: if role == Role::Host {
                            EventKind::Transcript
                        } else {
                            EventKind::Chat
                        },
                        tier: Tier::Standard,
                        via: h.via,
                        context,
                        review: e.review,
                    }) != Decision::Allow
            })
            .map(|h| {
                let e = matcher.entry(h.entry);
                (e.id.to_string(), e.category)
            })
            .collect()
    };
    for t in &lexicon.traps {
        checked += 1;
        let ids: Vec<String> = flagged_by(&t.text, t.role)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        if !ids.is_empty() {
            problems.push(Problem::error(
                "traps.toml",
                None,
                format!(
                    "trap `{}` ({}) is flagged by {}",
                    t.text,
                    t.role.as_str(),
                    ids.join(", ")
                ),
            ));
        }
    }
    // An entry's text that some entries flag: an error naming them.
    let flagged_error = |e: &crate::lexicon::Entry, what: String, ids: Vec<String>| {
        (!ids.is_empty()).then(|| {
            Problem::error(
                &e.file,
                Some(&e.id),
                format!("{what} is flagged by {}", ids.join(", ")),
            )
        })
    };
    // A suggested wording replaces the term in a host's script: it must pass itself.
    for e in &lexicon.entries {
        for wording in &e.suggest {
            checked += 1;
            let ids = flagged_by(wording, Role::Host)
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            problems.extend(flagged_error(
                e,
                format!("suggested wording `{wording}`"),
                ids,
            ));
        }
    }
    for e in &lexicon.entries {
        for a in &e.allow {
            let roles = a.roles.clone().unwrap_or_else(|| e.roles.clone());
            for phrase in template::expand(&a.phrase, words(lexicon)) {
                for &role in &roles {
                    checked += 1;
                    // Another category may claim the phrase on purpose (保本价 is no
                    // investment promise, it is a price claim); the entry's own
                    // category must not.
                    let ids = flagged_by(&phrase, role)
                        .into_iter()
                        .filter(|(_, category)| *category == e.category)
                        .map(|(id, _)| id)
                        .collect();
                    let what = format!("allow phrase `{phrase}` ({})", role.as_str());
                    problems.extend(flagged_error(e, what, ids));
                }
            }
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(files: &[(&str, &str)]) -> LexiconSource {
        LexiconSource::from_files("test", files)
    }

    const POLICY: &str = "version = \"t.1\"\n";

    #[test]
    fn the_embedded_lexicon_passes() {
        let report = check(&LexiconSource::embedded());
        let errors: Vec<String> = report
            .problems
            .iter()
            .filter(|p| p.is_error())
            .map(ToString::to_string)
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        assert!(report.traps_checked > 80);
    }

    #[test]
    fn reports_structural_errors() {
        let bad = r#"
category = "diversion"
[[entry]]
id = "dv.a"
term = "加微信"
severity = "high"
note = "x"
[[entry]]
id = "dv.a"
term = "私聊"
severity = "urgent"
note = "x"
[[entry]]
id = "dv.b"
pattern = "([a-"
severity = "high"
note = "x"
requires = ["nope"]
"#;
        let report = check(&source(&[("policy.toml", POLICY), ("diversion.toml", bad)]));
        assert!(report.has_errors());
        let text: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
        assert!(text.contains("urgent"), "{text}");

        let dup = r#"
category = "diversion"
[[entry]]
id = "dv.a"
term = "加微信"
severity = "high"
note = "x"
[[entry]]
id = "dv.a"
term = "私聊"
severity = "high"
note = "x"
[[entry]]
id = "dv.b"
pattern = "([a-"
severity = "high"
note = "x"
requires = ["nope"]
"#;
        let report = check(&source(&[("policy.toml", POLICY), ("diversion.toml", dup)]));
        let text: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
        assert!(text.contains("duplicate entry id"), "{text}");
        assert!(text.contains("bad regex"), "{text}");
        assert!(text.contains("unknown group `nope`"), "{text}");

        let cat = "category = \"gossip\"\n";
        let report = check(&source(&[("policy.toml", POLICY), ("x.toml", cat)]));
        assert!(report.has_errors());
    }

    #[test]
    fn reports_swallowed_terms_and_flagged_traps() {
        let lex = r#"
category = "prohibited_product"
[[entry]]
id = "pp.ivory"
term = "象牙"
severity = "critical"
allow = ["象牙"]
note = "x"
[[entry]]
id = "pp.gun"
term = "手枪"
severity = "critical"
allow = ["水手"]
note = "x"
"#;
        let traps = "[[trap]]\ntext = \"这把手枪是玩具\"\n";
        let report = check(&source(&[
            ("policy.toml", POLICY),
            ("pp.toml", lex),
            ("traps.toml", traps),
        ]));
        let text: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
        assert!(text.contains("is the term itself"), "{text}");
        assert!(text.contains("allows nothing"), "{text}");
        assert!(
            text.contains("trap `这把手枪是玩具` (viewer) is flagged by pp.gun"),
            "{text}"
        );
    }

    #[test]
    fn a_suggested_wording_that_is_itself_flagged_is_an_error() {
        let lex = r#"
category = "false_publicity"
[[entry]]
id = "fp.best"
term = "最好"
severity = "medium"
suggest = ["很好用", "第一好"]
note = "x"
[[entry]]
id = "fp.first"
term = "第一"
severity = "medium"
note = "x"
"#;
        let report = check(&source(&[("policy.toml", POLICY), ("fp.toml", lex)]));
        let text: String = report.problems.iter().map(|p| format!("{p}\n")).collect();
        assert!(
            text.contains("suggested wording `第一好` is flagged by fp.first"),
            "{text}"
        );
        assert!(!text.contains("很好用"), "{text}");
    }
}
