#!/usr/bin/env python3
"""Generate tests/fixtures/holdout.jsonl: a labelled corpus in the style of the dev corpus
but written independently of it, to check that detection generalizes.

Every seed term of regulation.md section 7 (low severity and non-keywords excluded)
appears in carriers the dev corpus does not use, plain and with each evasion: a
separator or emoji from a wider set, an s2t traditional form chosen at random among
OpenCC's candidates, a repeated character, one character in pinyin (pypinyin). Benign
lines are trap words from regulation.md section 4 and section 7 in new sentences.

Usage (run once; the output is committed, tests never run this):
    pip install pypinyin
    pip download --no-deps -d /tmp/occ opencc-python-reimplemented==0.1.7
    (cd /tmp/occ && unzip -o -q opencc_python_reimplemented-*.whl)
    python3 tools/gen_holdout.py ../shared/reference/regulation.md /tmp/occ/opencc/dictionary 1 \
        > tests/fixtures/holdout.jsonl
"""
import json, os, random, re, sys
from pypinyin import lazy_pinyin
REGULATION, OPENCC = sys.argv[1], sys.argv[2]
random.seed(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
CAT = {"fp": "false_publicity", "sl": "slander", "pp": "prohibited_product", "pr": "price_fraud", "dv": "diversion", "ot": "traffic_fraud"}
st = {}
for line in open(os.path.join(OPENCC, "STCharacters.txt"), encoding="utf8"):
    k, v = line.rstrip("\n").split("\t")
    st[k] = v.split(" ")
terms = []
sec = open(REGULATION, encoding="utf8").read().split("## 7.")[1].split("## 8.")[0]
for row in sec.splitlines():
    m = re.match(r"\| (.+?) \| (\w\w) \| (\w+) \|", row)
    if not m or m.group(2) not in CAT: continue
    t, c, sev = m.groups()
    if sev == "low": continue
    for part in t.split(" / "):
        part = re.sub(r"\(.*?\)", "", part).strip()
        if not part or re.search(r"[\\X\dN]", part.replace("100%", "").replace("0元购", "").replace("1:1", "")) and part not in ("100%", "100%有效", "0元购", "1:1"):
            continue
        if part in ("最", "先涨后降", "(duplicate burst)", "比XX便宜一半", "其他平台X元", "原价X 只要Y", "比XX好多了", "瘦N斤", "手机号", "最后N单", "身份证", "银行卡 买卖", "身份证 / 银行卡 买卖", "增大", "延时", "包过", "保过", "保本", "甲片", "1:1"):
            continue
        terms.append((part, CAT[c]))
HOST = ["宝宝们注意了{t}", "这个{t}你们放心", "咱家{t}，库存不多了", "听好了啊{t}", "{t}，三号链接冲", "直播间福利{t}", "老铁们{t}走起", "我跟你们讲{t}"]
VIEW = ["问一下{t}", "{t}在哪里买", "求{t}", "谁有{t}", "{t}多少钱一个", "我要{t}", "这边{t}"]
SLANDER = ["别的直播间那些{t}", "某品牌就是{t}", "他们家{t}别信", "同行卖的都是{t}", "友商那边{t}", "其他主播卖的{t}"]
SEPS = [" ", "·", "•", "_", "~", "^", "=", "♡", "★", "☆", "✨", "🔥", "💕", "✿", "｜", "\u200b", "\u2063", "\u3000", "—", "…", "°", "√", "ノ", "∵"]
def trad(t): return "".join(random.choice(st[ch]) if ch in st else ch for ch in t)
def sep(t):
    s = random.choice(SEPS)
    return s.join(t) if random.random() < .6 else t[0] + s + t[1:]
def rep(t):
    # repeat a letter, never a digit: a doubled digit is another number
    idx = [i for i, ch in enumerate(t) if not ch.isdigit()]
    i = random.choice(idx); return t[:i+1] + t[i] + t[i+1:]
def pin(t):
    idx = [i for i, ch in enumerate(t) if '\u4e00' <= ch <= '\u9fff']
    if not idx: return None
    i = random.choice(idx); py = lazy_pinyin(t[i])[0]
    return t[:i] + (py.upper() if random.random() < .2 else py) + t[i+1:]
out = []
n = 0
for t, cat in terms:
    for ev_name, f in (("plain", lambda x: x), ("sep", sep), ("trad", trad), ("repeat", rep), ("pinyin", pin)):
        text_t = f(t)
        if text_t is None or (ev_name == "trad" and text_t == t): continue
        if cat == "slander": carrier, kind, role = random.choice(SLANDER), "transcript", None
        elif cat in ("false_publicity", "price_fraud"): carrier, kind, role = random.choice(HOST), random.choice(["chat", "transcript"]), "host"
        else:
            role = random.choice(["viewer", "host"]); carrier = random.choice(VIEW if role == "viewer" else HOST); kind = "chat"
        n += 1
        e = {"kind": kind, "id": f"h{n}", "room": f"room-{n%7}", "ts": 1767760000000 + n * 10, "text": carrier.format(t=text_t),
             "expect": {"flag": True, "category": cat, "group": "evasion:" + ev_name}}
        if kind == "chat": e.update(user=f"u{n}", role=role)
        else: e["speaker"] = "h"
        out.append(e)
BENIGN = ["这款唯一的缺点是有点重", "100%桑蚕丝的睡衣", "烟熏妆怎么画", "奶油气弹在哪买", "子弹头造型的口红", "世界冠军同款跑鞋",
 "抗癌明星的故事", "治疗仪怎么用", "象牙塔里出来的", "胶枪好用吗", "Q弹的布丁", "油烟机清洗", "首先说一下尺码", "首单有优惠吗",
 "国家级非遗手艺", "特级初榨橄榄油", "绝对值不等式", "万能充电器", "永久磁铁", "我收到的东西是假货吗", "我买的是三无产品吗", "冰糖雪梨",
 "k粉丝团", "大麻雀", "汉麻面料", "咖啡因含量", "路口交通", "女装专场", "扫码领券", "加入粉丝团", "私信客服", "微信支付可以吗",
 "V脸神器", "VIP会员", "QQ音乐", "玳瑁色眼镜", "官方复刻款", "电商专供款", "最低起购两件", "哪个最便宜", "火药味好重", "水果刀",
 "医用雾化器", "显瘦的裤子", "电影特效", "防癌筛查", "治愈系的歌", "第一次买", "第一天上班", "第一步洗脸", "1号链接", "首饰盒",
 "烟火气", "最好冷藏", "你最好先量尺码", "喷枪", "枪色五金", "弹力裤", "弹幕", "垃圾桶", "完美日记", "永久自行车", "特效妆",
 "玻尿酸精华", "冰丝袜", "最近好忙", "最终价格", "最少买两件", "象牙白的", "发货延时了吗", "延时摄影", "面包过期了", "增大音量", "穿戴甲片",
 "确保本人签收", "双十一", "订单号1234567890", "是水军吧", "筋膜枪"]
for b in BENIGN:
    n += 1
    # questions are a viewer's; the rest may come from either side
    role = "viewer" if any(q in b for q in "吗哪") else random.choice(["viewer", "host"])
    out.append({"kind": "chat", "id": f"h{n}", "room": "room-b", "user": f"b{n}", "role": role, "ts": 1767760000000 + n * 10, "text": b,
                "expect": {"flag": False, "category": None, "group": "benign"}})
for e in out: print(json.dumps(e, ensure_ascii=False))
