//! The default lexicon, compiled into the binary from `lexicons/`.

/// (file name, contents) of every embedded lexicon file.
pub(super) const FILES: &[(&str, &str)] = &[
    (
        "diversion.toml",
        include_str!("../../lexicons/diversion.toml"),
    ),
    (
        "false_publicity.toml",
        include_str!("../../lexicons/false_publicity.toml"),
    ),
    ("groups.toml", include_str!("../../lexicons/groups.toml")),
    ("policy.toml", include_str!("../../lexicons/policy.toml")),
    (
        "price_fraud.toml",
        include_str!("../../lexicons/price_fraud.toml"),
    ),
    (
        "prohibited_product.toml",
        include_str!("../../lexicons/prohibited_product.toml"),
    ),
    ("slander.toml", include_str!("../../lexicons/slander.toml")),
    (
        "traffic_fraud.toml",
        include_str!("../../lexicons/traffic_fraud.toml"),
    ),
    ("traps.toml", include_str!("../../lexicons/traps.toml")),
];
