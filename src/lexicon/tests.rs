use super::*;

fn source(files: &[(&str, &str)]) -> LexiconSource {
    LexiconSource::from_files("test", files)
}

#[test]
fn the_embedded_lexicon_parses_with_every_category() {
    let lex = Lexicon::embedded();
    assert!(!lex.version.is_empty());
    for c in crate::event::Category::ALL {
        assert!(
            lex.entries.iter().filter(|e| e.category == c).count() >= 8,
            "too few entries for {c:?}"
        );
    }
    assert!(lex.entries.len() >= 200, "{} entries", lex.entries.len());
    assert!(lex.warnings.is_empty(), "{:?}", lex.warnings);
}

#[test]
fn entries_inherit_file_defaults() {
    let lex = Lexicon::parse(&source(&[
        ("policy.toml", "version = \"v1\"\n"),
        (
            "d.toml",
            r#"
category = "diversion"
basis = "第12条"
allow = ["微信支付"]
[[entry]]
id = "dv.x"
term = "加微信"
severity = "high"
note = "n"
"#,
        ),
    ]))
    .unwrap();
    let e = &lex.entries[0];
    assert_eq!(e.category, Category::Diversion);
    assert_eq!(e.basis, "第12条");
    assert_eq!(e.roles, Role::ALL);
    assert_eq!(e.allow[0].phrase, "微信支付");
    assert_eq!(lex.version, "v1");
}

#[test]
fn a_file_switches_channels_for_its_entries_and_carries_traps() {
    let lex = Lexicon::parse(&source(&[
        ("policy.toml", "version = \"v1\"\n"),
        (
            "false_publicity.claims.toml",
            r#"
category = "false_publicity"
[channels]
homophone = false
lookalike = false
[[entry]]
id = "fp.a"
term = "修复受损肌肤"
severity = "high"
note = "n"
[[entry]]
id = "fp.b"
term = "抗敏"
severity = "high"
homophone = true
emoji = false
note = "n"
[[trap]]
text = "手机号脱敏处理"
role = "host"
"#,
        ),
    ]))
    .unwrap();
    let (a, b) = (&lex.entries[0], &lex.entries[1]);
    assert!(!a.channels.contains(Via::Homophone) && !a.channels.contains(Via::Lookalike));
    assert!(a.channels.contains(Via::Pinyin) && a.channels.contains(Via::Clause));
    assert!(
        b.channels.contains(Via::Homophone),
        "the entry's own switch wins"
    );
    assert!(!b.channels.contains(Via::Lookalike));
    // The file's defaults save spellings; the read-back views still read its entries,
    // unless the entry itself says no.
    assert!(a.read_back.contains(Via::Lookalike) && a.read_back.contains(Via::Emoji));
    assert!(b.read_back.contains(Via::Lookalike) && !b.read_back.contains(Via::Emoji));
    assert_eq!(lex.traps.len(), 1);
    assert_eq!(lex.traps[0].role, Role::Host);
}

#[test]
fn refuses_missing_policy_and_unknown_keys() {
    let err = Lexicon::parse(&source(&[("d.toml", "category = \"diversion\"\n")])).unwrap_err();
    assert!(err.to_string().contains("missing policy.toml"), "{err}");
    let err = Lexicon::parse(&source(&[
        ("policy.toml", "version = \"v\"\n"),
        (
            "d.toml",
            "category = \"diversion\"\n[[entry]]\nid=\"a\"\nterm=\"b\"\nseverity=\"high\"\nnote=\"n\"\ncolour=\"red\"\n",
        ),
    ]))
    .unwrap_err();
    assert!(err.to_string().contains("colour"), "{err}");
}

#[test]
fn a_doubled_character_in_a_pattern_is_refused() {
    assert_eq!(
        super::doubled_literal("(?:橙色)(?:软件|app)"),
        Some("pp".to_owned())
    );
    assert_eq!(super::doubled_literal("瘦瘦针"), Some("瘦瘦".to_owned()));
    assert_eq!(super::doubled_literal("瘦[0-9十百]+斤"), None);
    assert_eq!(
        super::doubled_literal("[瘦瘦]|八八|\\d\\d"),
        None,
        "classes, numerals, escapes"
    );
}

#[test]
fn a_pattern_may_name_only_known_groups_and_their_words_may_repeat() {
    let lexicon = |pattern: &str| {
        Lexicon::parse(&source(&[
            ("policy.toml", "version = \"v\"\n"),
            (
                "d.toml",
                &format!(
                    "category = \"diversion\"\n[[group]]\nid = \"shop\"\nwords = [\"拼多多\"]\n\
                     [[entry]]\nid = \"a\"\npattern = '{pattern}'\nseverity = \"high\"\nnote = \"n\"\n"
                ),
            ),
        ]))
    };
    // A group word is normalized before it reaches the pattern: 拼多多 is fine there.
    assert!(lexicon("去{shop}搜我").is_ok());
    let err = lexicon("去{shops}搜我").unwrap_err();
    assert!(err.to_string().contains("unknown group `{shops}`"), "{err}");
}
