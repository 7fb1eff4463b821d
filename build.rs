//! Embeds every `lexicons/*.toml` file, so a new lexicon file is compiled into the
//! default lexicon without a hand-kept list that could forget it.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read at run time, not with env!: a build script binary is reused by every
    // checkout that shares a target directory (git worktrees), and each must embed
    // its own lexicons.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("lexicons");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("lexicons/ is readable")
        .map(|e| e.expect("lexicons/ entry").file_name())
        .filter_map(|n| n.into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let mut out = String::from("&[\n");
    for name in &names {
        println!("cargo:rerun-if-changed={}", dir.join(name).display());
        let path = dir.join(name);
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("write to a String");
    }
    out.push(']');
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("lexicon_files.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
