//! The default lexicon, compiled into the binary from `lexicons/`.

/// (file name, contents) of every embedded lexicon file: every `lexicons/*.toml`, in
/// name order, listed by `build.rs`.
pub(super) const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/lexicon_files.rs"));
