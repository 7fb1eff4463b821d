//! Table-driven detection tests against the embedded lexicon: one table per evasion
//! family and one of trap sentences. The sentences are written fresh (other carriers,
//! separators and emoji than the dev corpus), so they test the mechanisms rather than
//! the corpus lines.

use liveguard::engine::{Engine, EngineConfig, Ruleset, Scratch};
use liveguard::event::{Category, Decision, parse_event};

struct Judge {
    engine: Engine,
    scratch: Scratch,
    n: u64,
}

impl Judge {
    fn new() -> Judge {
        Judge {
            engine: Engine::new(Ruleset::embedded(), EngineConfig::default()),
            scratch: Scratch::default(),
            n: 0,
        }
    }

    /// Decision and hit categories for `text` said by `role` (a fresh user each time,
    /// so windows do not carry over between table rows).
    fn judge(&mut self, role: &str, text: &str) -> (Decision, Vec<Category>) {
        self.n += 1;
        let line = if role == "asr" {
            serde_json::json!({"kind":"transcript","id":format!("t{}", self.n),"room":format!("r{}", self.n),"speaker":"h","ts":1_000_000,"text":text})
        } else {
            serde_json::json!({"kind":"chat","id":format!("e{}", self.n),"room":"r","user":format!("u{}", self.n),"role":role,"ts":1_000_000,"text":text})
        }
        .to_string();
        let ev = parse_event(&line).unwrap();
        let o = self.engine.process(&ev, 0, &mut self.scratch);
        (o.decision, o.hits.iter().map(|h| h.category).collect())
    }

    fn assert_flags(&mut self, rows: &[(&str, &str, Category)]) {
        let mut failures = Vec::new();
        for &(role, text, category) in rows {
            let (d, cats) = self.judge(role, text);
            if d == Decision::Allow || !cats.contains(&category) {
                failures.push(format!(
                    "{role} {text:?}: {d:?} {cats:?}, want {category:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "not flagged:\n{}", failures.join("\n"));
    }

    fn assert_allows(&mut self, rows: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for &(role, text) in rows {
            let (d, cats) = self.judge(role, text);
            if d != Decision::Allow {
                failures.push(format!("{role} {text:?}: {d:?} {cats:?}"));
            }
        }
        assert!(failures.is_empty(), "flagged:\n{}", failures.join("\n"));
    }
}

use Category::*;

#[test]
fn plain_terms_in_new_carriers() {
    Judge::new().assert_flags(&[
        ("viewer", "想要的宝子加微信我发你", Diversion),
        ("viewer", "弄个仿真枪玩玩", ProhibitedProduct),
        ("asr", "咱们这个是全网最低价了啊", PriceFraud),
        ("asr", "喝了三天就能根治", FalsePublicity),
        ("asr", "隔壁那家卖的全是假货", Slander),
        ("viewer", "接刷单兼职日结", TrafficFraud),
        ("host", "这个面霜临床验证过的", FalsePublicity),
        ("viewer", "有人要摇头丸吗", ProhibitedProduct),
    ]);
}

#[test]
fn separator_noise_spaces_symbols_emoji_and_invisible_characters() {
    Judge::new().assert_flags(&[
        ("viewer", "加 微 信", Diversion),
        ("viewer", "加\u{3000}微\u{3000}信", Diversion),
        ("viewer", "加~微~信", Diversion),
        ("viewer", "加|微|信", Diversion),
        ("viewer", "加/微/信", Diversion),
        ("viewer", "加😊微😊信", Diversion),
        ("viewer", "加🌸微🌸信", Diversion),
        ("viewer", "加\u{200d}微\u{200c}信", Diversion),
        ("viewer", "加\u{2060}微\u{feff}信", Diversion),
        ("viewer", "加\u{202e}微\u{202c}信", Diversion),
        ("viewer", "加\u{fe0f}微\u{fe0e}信", Diversion),
        ("viewer", "加·微·信", Diversion),
        ("viewer", "冰_毒", ProhibitedProduct),
        ("viewer", "海#洛#因", ProhibitedProduct),
        ("asr", "药、到、病、除", FalsePublicity),
        ("host", "稳★赚★不★赔", FalsePublicity),
        ("viewer", "加，微，信", Diversion),
        // `+` between two characters of a term is a separator, not 加
        ("viewer", "接刷+单兼职", TrafficFraud),
        ("asr", "隔壁那家全是假➕货", Slander),
        // and 加 before a contact
        ("viewer", "+薇 tiantian0707 带你一起赚", Diversion),
        ("viewer", "拿货➕V", Diversion),
        ("viewer", "要的 ＋ 微信", Diversion),
    ]);
}

/// Clause punctuation inside a two-character term, where one side of it stands alone
/// (up to a space, another gap or the end of the message).
#[test]
fn clause_punctuation_inside_a_short_term() {
    Judge::new().assert_flags(&[
        ("viewer", "兼职刷！单 在家就能做", TrafficFraud),
        ("viewer", "日本直邮 可以代？购", Diversion),
        ("viewer", "烟。弹 到货了", ProhibitedProduct),
        ("viewer", "有没有笑，气", ProhibitedProduct),
        ("viewer", "群主 拉，群 带你们玩", Diversion),
        ("viewer", "想要便宜的私。聊", Diversion),
    ]);
    Judge::new().assert_allows(&[
        ("viewer", "你太自私，我们不理你"),
        ("viewer", "说好了，聊天吧"),
        ("viewer", "筋膜枪，弹幕刷起来"),
        ("host", "这款喷枪，支持定制"),
        ("viewer", "垃圾袋多少钱一卷，烟灰色好看"),
    ]);
}

#[test]
fn traditional_characters() {
    Judge::new().assert_flags(&[
        ("viewer", "加微信號", Diversion),
        ("asr", "這個真的藥到病除", FalsePublicity),
        ("viewer", "有沒有電子煙", ProhibitedProduct),
        ("viewer", "槍支彈藥", ProhibitedProduct),
        ("asr", "別家都是騙子", Slander),
        ("asr", "今天全網最低價", PriceFraud),
        ("viewer", "刷單", TrafficFraud),
        ("viewer", "國·藥·準·字", FalsePublicity),
    ]);
}

#[test]
fn repeats_width_case_and_confusables() {
    Judge::new().assert_flags(&[
        ("viewer", "加加微微信信", Diversion),
        ("viewer", "冰冰毒毒", ProhibitedProduct),
        ("viewer", "ＶＸ多少", Diversion),
        ("viewer", "Vx多少", Diversion),
        ("viewer", "加ｖ", Diversion),
        ("viewer", "vх多少", Diversion), // Cyrillic х
        ("viewer", "ｗｅｃｈａｔ", Diversion),
        ("viewer", "w3ch@t", Diversion),
        // a word ending in the term's first letter, a space between
        ("viewer", "wow wx号多少", Diversion),
        ("viewer", "follow wx dxj0818", Diversion),
        ("viewer", "Q Q号多少", Diversion),
        ("host", "ＴＯＰ１好物", FalsePublicity),
        ("host", "１：１复刻大牌", ProhibitedProduct),
        ("host", "０元购", PriceFraud),
    ]);
}

#[test]
fn number_styles_in_phone_numbers() {
    Judge::new().assert_flags(&[
        ("viewer", "联系13812345678", Diversion),
        ("viewer", "138 1234 5678", Diversion),
        ("viewer", "①③⑧①②③④⑤⑥⑦⑧", Diversion),
        ("viewer", "一三八一二三四五六七八", Diversion),
        ("viewer", "壹叁捌壹贰叁肆伍陆柒捌", Diversion),
        ("viewer", "❶❸❽❶❷❸❹❺❻❼❽", Diversion),
        ("viewer", "１３８-１２３４-５６７８", Diversion),
        ("viewer", "幺三八 幺二三四 五六七八", Diversion),
    ]);
    Judge::new().assert_allows(&[
        ("viewer", "订单号2026112900123456"),
        ("viewer", "今天11:11开抢"),
        ("host", "发货时间是四十八小时内"),
    ]);
}

#[test]
fn pinyin_partial_whole_upper_and_spaced() {
    Judge::new().assert_flags(&[
        ("asr", "这款xiao量第一", FalsePublicity),
        ("asr", "XIAO量第一", FalsePublicity),
        ("asr", "销量 di yi", FalsePublicity),
        ("viewer", "jia wei xin", Diversion),
        ("viewer", "有没有dian子烟", ProhibitedProduct),
        ("asr", "吃了就能gen治", FalsePublicity),
        ("viewer", "卖bing毒吗", ProhibitedProduct),
        ("asr", "隔壁都是jia货", Slander),
        ("viewer", "shua单兼职", TrafficFraud),
    ]);
}

#[test]
fn units_of_other_rules() {
    Judge::new().assert_flags(&[
        ("viewer", "吃了一个月瘦了二十斤", FalsePublicity),
        ("asr", "原价三百九十九今天只要九十九", PriceFraud),
        ("asr", "别的平台卖398这里只要199", PriceFraud),
    ]);
}

#[test]
fn split_across_messages_and_segments() {
    let mut j = Judge::new();
    let e = &j.engine;
    let mut s = Scratch::default();
    let mut run = |role: &str, parts: &[&str]| -> Vec<Decision> {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let line = if role == "asr" {
                    serde_json::json!({"kind":"transcript","id":format!("s{i}"),"room":"split","speaker":"h","ts":5_000 + i as u64,"text":p})
                } else {
                    serde_json::json!({"kind":"chat","id":format!("s{i}"),"room":"split","user":"splitter","ts":5_000 + i as u64,"text":p})
                }
                .to_string();
                e.process(&parse_event(&line).unwrap(), 0, &mut s).decision
            })
            .collect()
    };
    let d = run("viewer", &["钢", "珠", "枪"]);
    assert_eq!(d, [Decision::Allow, Decision::Allow, Decision::Block]);
    let d = run("asr", &["今天给大家推荐的这个是全网最", "低价的真的很划算"]);
    assert_eq!(d[0], Decision::Allow);
    assert_ne!(d[1], Decision::Allow);
    j.n += 1;
}

/// Benign sentences containing the classic traps (regulation.md §4 and the seed's trap
/// column) and plain shop talk; none may be flagged.
#[test]
fn trap_words_are_not_flagged() {
    Judge::new().assert_allows(&[
        ("viewer", "筋膜枪怎么用"),
        ("viewer", "喷枪和胶枪有货吗"),
        ("host", "枪色五金很高级"),
        ("viewer", "象牙白还有吗"),
        ("viewer", "象牙塔里的人"),
        ("viewer", "完美日记的口红有吗"),
        ("viewer", "我收到的是假货怎么办"),
        ("viewer", "我买的是假货吧，要退货"),
        ("viewer", "冰丝凉席凉快吗"),
        ("viewer", "冰糖炖雪梨"),
        ("host", "最多限购两件"),
        ("host", "最近上新了"),
        ("viewer", "最后一件了吗"),
        ("host", "开封后最好冷藏"),
        ("host", "你最好先量一下尺码"),
        ("viewer", "垃圾袋多少钱一卷"),
        ("viewer", "垃圾桶有盖吗"),
        ("viewer", "这下大麻烦了"),
        ("viewer", "第一次来直播间"),
        ("viewer", "第一个链接是什么"),
        ("host", "第一步先洁面"),
        ("host", "第一时间发货"),
        ("viewer", "1号链接多少钱"),
        ("host", "家人们这件衣服是纯棉的"),
        ("viewer", "烟灰色好看"),
        ("viewer", "有烟酰胺精华吗"),
        ("host", "油烟机清洗剂"),
        ("host", "烟熏妆教程"),
        ("viewer", "有V领的吗"),
        ("viewer", "V脸神器是什么"),
        ("viewer", "VIP有优惠吗"),
        ("viewer", "是100%棉的吗"),
        ("host", "100%桑蚕丝"),
        ("viewer", "QQ糖好吃吗"),
        ("viewer", "QQ音乐会员"),
        ("viewer", "Q弹的果冻"),
        ("viewer", "弹幕刷起来"),
        ("viewer", "是水军吧"),
        ("viewer", "最佳赏味期多久"),
        ("viewer", "来首治愈系的歌"),
        ("viewer", "这个首饰好看"),
        ("host", "首页有活动"),
        ("viewer", "玻尿酸面膜补水吗"),
        ("viewer", "子弹杯多少钱"),
        ("host", "火药味十足的比赛"),
        ("host", "水果刀和菜刀"),
        ("host", "玳瑁色镜框"),
        ("host", "官方复刻款"),
        ("host", "这是电商专供款"),
        ("host", "最低起购两件"),
        ("viewer", "哪个最便宜"),
        ("viewer", "可以用微信支付吗"),
        ("host", "有问题私信客服"),
        ("host", "扫码领券更优惠"),
        ("host", "加入粉丝团"),
        ("host", "国家级非遗手艺"),
        ("host", "特级初榨橄榄油"),
        ("host", "唯一的缺点就是有点重"),
        ("host", "世界冠军同款跑鞋"),
        ("viewer", "绝对值怎么算"),
        ("host", "万能胶粘得牢"),
        ("host", "永久自行车"),
        ("host", "防癌筛查套餐"),
        ("host", "这件显瘦"),
        ("host", "电影特效很震撼"),
        ("host", "医用雾化器"),
        ("viewer", "路口交通拥堵"),
        ("viewer", "女装有吗"),
        ("viewer", "大麻雀飞走了"),
        ("viewer", "k粉丝来了"),
        ("viewer", "主播好漂亮"),
        ("viewer", "包邮吗"),
        ("viewer", "已拍"),
        ("host", "今天的福利是买二送一"),
        ("host", "三号链接已经上架了"),
        ("viewer", "不要自私，我们一起抢"),
        ("viewer", "主播最好看了"),
    ]);
}

#[test]
fn a_buyer_complaint_is_never_hidden_even_with_a_rival_word() {
    Judge::new().assert_allows(&[
        ("viewer", "我收到的是假货，比隔壁还差"),
        ("viewer", "我买的怎么是假货"),
    ]);
}
