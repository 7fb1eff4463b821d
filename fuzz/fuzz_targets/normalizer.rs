//! Arbitrary UTF-8 through the normalizer (`liveguard::normalize`).
//!
//! The input is normalized whole, and also split at NUL into segments pushed one after
//! another (as a window does). Asserts the offset map's documented invariants:
//! - `NormChar::byte` is the byte offset of the character in the normalized text
//!   (one entry per normalized character, in order);
//! - `src_start..src_end` is a non-empty range of char boundaries of the segment's
//!   source, starts and ends never decreasing within a segment (unless it has a
//!   right-to-left override, whose run is normalized in the order it is shown);
//! - `run >= 1`; `seg` is the segment pushed; every segment's first character but the
//!   text's stands after an event gap (or a hard one), and no other character does;
//! - `char_index`/`byte_of` are inverse; `letters()`/`digits()` count the text's ASCII
//!   letters and digits;
//! - normalization is idempotent;
//! - `pack` then `push_packed` replays the same text, runs, gaps (but the first),
//!   numerals, split runs, `has_numeral_runs` and counts, and
//!   `packed_size`/`packed_len` agree with `pack`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use liveguard::normalize::{Gap, NormText, normalize, packed_len};

const MAX_PIECES: usize = 16;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s: &str = &s;

    let t = NormText::normalized(s);
    check(&t, &[s]);
    check_pack(&t);
    // Found here once: "㎥v" gave "m3v", then "mev" (digits of an expansion skipped
    // the leetspeak rule).
    let once = t.as_str();
    assert_eq!(normalize(once), once, "not idempotent on {s:?}");

    let pieces: Vec<&str> = s.split('\0').take(MAX_PIECES).collect();
    if pieces.len() > 1 {
        let mut t = NormText::new();
        for (i, p) in pieces.iter().enumerate() {
            assert_eq!(t.push_segment(p), i);
        }
        assert_eq!(t.segments(), pieces.len());
        check(&t, &pieces);
        check_pack(&t);
    }
});

fn check(t: &NormText, sources: &[&str]) {
    let text = t.as_str();
    let chars = t.chars();
    assert_eq!(t.segments(), sources.len());
    // One entry per character of the normalized text, at its byte offset.
    assert_eq!(chars.len(), text.chars().count());
    for (c, (b, _)) in chars.iter().zip(text.char_indices()) {
        assert_eq!(c.byte as usize, b);
    }
    assert_eq!(t.is_empty(), chars.is_empty());
    for i in 0..=chars.len() {
        let b = t.byte_of(i);
        assert!(text.is_char_boundary(b));
        assert_eq!(t.char_index(b), i, "char_index(byte_of({i}))");
    }
    assert_eq!(t.byte_of(chars.len()), text.len());

    let mut prev: Option<&liveguard::normalize::NormChar> = None;
    for (i, c) in chars.iter().enumerate() {
        let seg = c.seg as usize;
        assert!(seg < sources.len(), "segment {seg} of {}", sources.len());
        let src = sources[seg];
        let (a, z) = (c.src_start as usize, c.src_end as usize);
        assert!(
            a < z && z <= src.len(),
            "range {a}..{z} of {} bytes",
            src.len()
        );
        assert!(src.is_char_boundary(a) && src.is_char_boundary(z));
        assert!(c.run >= 1);
        let first_of_segment = prev.is_none_or(|p| p.seg != c.seg);
        // Leading separators leave a soft or hard gap before the first character;
        // only a boundary between events is an event gap.
        if i == 0 {
            assert_ne!(c.gap, Gap::Event, "event gap before the first segment");
        } else if first_of_segment {
            assert!(c.gap >= Gap::Event, "segment starts after {:?}", c.gap);
        } else {
            assert_ne!(c.gap, Gap::Event, "event gap inside a segment");
        }
        if let Some(p) = prev {
            assert!(p.seg <= c.seg, "segments out of order");
            if p.seg == c.seg && !src.contains('\u{202E}') {
                assert!(p.src_start <= c.src_start, "starts go back: {p:?} {c:?}");
                assert!(p.src_end <= c.src_end, "ends go back: {p:?} {c:?}");
            }
        }
        prev = Some(c);
    }
    // Segments that normalize to nothing leave no characters, so only an upper bound.
    assert!(chars.last().is_none_or(|c| (c.seg as usize) < t.segments()));

    let letters = text.bytes().filter(u8::is_ascii_alphabetic).count();
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    assert_eq!(t.letters(), letters, "letters() of {text:?}");
    assert_eq!(t.digits(), digits, "digits() of {text:?}");
    // A digit only repeats by collapsing Chinese numerals.
    if chars
        .iter()
        .any(|c| c.numeral && c.run > 1 && t.is_ascii_digit_at(c.byte))
    {
        assert!(t.has_numeral_runs());
    }
}

fn check_pack(t: &NormText) {
    let n = t.chars().len();
    let mut packed = Vec::new();
    t.pack(0..n, &mut packed);
    assert_eq!(packed.len(), t.packed_size(0..n));
    assert_eq!(packed_len(&packed, n), packed.len());
    for k in 0..=n {
        let mut head = Vec::new();
        t.pack(0..k, &mut head);
        assert_eq!(packed_len(&packed, k), head.len());
        assert!(packed.starts_with(&head));
        if k > 4 {
            break;
        }
    }

    // Replayed alone: the same text and per-character flags; the first character
    // stands after no gap.
    let mut r = NormText::new();
    r.push_packed(&packed);
    assert_eq!(r.as_str(), t.as_str());
    assert_eq!(r.chars().len(), n);
    for (i, (x, y)) in r.chars().iter().zip(t.chars()).enumerate() {
        assert_eq!(x.byte, y.byte);
        assert_eq!(
            (x.run, x.numeral, x.split_run),
            (y.run, y.numeral, y.split_run)
        );
        assert_eq!((x.src_start, x.src_end, x.seg), (0, 0, 0));
        if i > 0 {
            assert_eq!(x.gap, y.gap);
        }
    }
    assert_eq!(r.letters(), t.letters());
    assert_eq!(r.digits(), t.digits());
    // Found here once: "i四a", "i一i" (a numeral read as a leet letter joining a
    // plain letter's run) disagreed between `push_segment` and `push_packed`.
    assert_eq!(
        r.has_numeral_runs(),
        t.has_numeral_runs(),
        "numeral runs of {:?}",
        t.as_str()
    );
    assert_eq!(r.segments(), 1);

    // Replayed after some text, in two halves: an event gap before each half.
    let k = n / 2;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    t.pack(0..k, &mut a);
    t.pack(k..n, &mut b);
    assert_eq!([a.as_slice(), b.as_slice()].concat(), packed);
    let mut r = NormText::normalized("看");
    r.push_packed(&a);
    r.push_packed(&b);
    assert_eq!(r.as_str(), format!("看{}", t.as_str()));
    assert_eq!(r.segments(), 3);
    if k > 0 {
        assert_eq!(r.chars()[1].gap, Gap::Event);
    }
    if k < n {
        assert_eq!(r.chars()[1 + k].gap, Gap::Event);
        assert_eq!(r.chars()[1 + k].seg, 2);
    }
}

trait DigitAt {
    fn is_ascii_digit_at(&self, byte: u32) -> bool;
}

impl DigitAt for NormText {
    fn is_ascii_digit_at(&self, byte: u32) -> bool {
        self.as_str().as_bytes()[byte as usize].is_ascii_digit()
    }
}
