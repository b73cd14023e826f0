"""Chinese resident records as a Shanghai district office really holds them: an independent test set.

Written from issue 10's description and from what district exports look like, without reading the
matching engine or the project's own generator. Several systems (民政, 卫健, 人社, 公安) each report
some of the same people with their own conventions: dates as 1985-03-07, 1985/3/7, 19850307,
1985年3月7日 or 85.3.7; sex as 男/女, 1/2 or M/F; phones with +86, 0086, dashes and spaces, 021
landlines with and without the area code; 15-digit legacy IDs, full-width digits, lowercase x; addresses
with or without 上海市 / district / 街道, 号/弄/室 variants.

Planted difficulties (each record's are listed in the truth file's `tags`, each person's in `ptags`):
homophone (同音), look-alike (形近) and traditional (繁体) names, minority names with middle dots in
several forms, ID typos (one digit, adjacent transposition), date typos, movers (new district, new
phone), households with twins (same surname, birth date, address and phone; different given names and
IDs that differ only in the sequence digits), namesakes (a skewed name distribution: thousands of 张伟
at 1M records), missing values, wrong sex.

    .venv/bin/python benchmarks/gen_persons_zh.py --n 1000000 --out /tmp/zh --format parquet

writes DIR/records.parquet (the union of all sources, raw strings, columns below) and DIR/truth.parquet
(record_id, person_id, household_id, source, tags, ptags); `--per-source` also writes each system's
own export (Chinese headers) as CSV.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

SOURCES = ["公安", "民政", "卫健", "人社"]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ["欧阳", "司马", "诸葛", "上官", "东方", "慕容", "司徒", "夏侯"]
# The most frequent given names of Chinese residents (they make the namesakes).
HEAD_GIVEN = (
    "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 华 建华 玉兰 英 红 建国 "
    "丹 萍 辉 鹏 玲 斌 宇 浩 凯 健 俊 帆 帅 旭 宁 龙 林 欢 阳 建 亮 成 佳 晨 婷 雪 琳 晶 颖 倩 文 海燕"
).split()
GIVEN_CHARS = (
    "伟芳娜英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉红国丹萍辉鹏玲斌宇浩凯健俊帆帅旭宁龙林欢阳建亮成佳晨"
    "婷雪琳晶颖倩文海燕志军秀梅云飞鑫欣怡思雨子涵轩萱晴天宏博昊皓嘉慧莉蕾磊婕洁瑶琪瑞祥福禄寿德仁义礼智信忠"
    "春夏秋冬梦琴书画诗松柏竹兴旺荣庆贵富民安康乐永恒立新东方正明亮光辉卫峰岩山川江河湖波涵淑贤惠良善美"
)
# toneless-pinyin homophones (同音): a character can be misheard as any other of its group
HOMOPHONES = [
    "伟玮炜韦维卫",
    "芳方",
    "娜纳",
    "丽立莉力利黎",
    "静晶菁婧靖京",
    "敏民闽珉",
    "强墙",
    "军君均",
    "磊蕾雷垒",
    "洋阳杨扬",
    "勇永涌",
    "杰洁捷婕",
    "娟鹃涓",
    "艳燕彦雁",
    "涛韬滔",
    "明鸣铭",
    "超潮朝",
    "秀修绣",
    "霞侠",
    "平萍苹屏",
    "刚钢纲",
    "桂贵",
    "华桦骅",
    "红宏虹鸿洪",
    "辉慧惠晖徽",
    "玲琳林凌龄",
    "梅玫媚",
    "建健剑",
    "文雯闻",
    "斌彬滨",
    "宇雨玉语羽",
    "浩昊皓",
    "婷亭庭",
    "欣新鑫馨心",
    "佳嘉家",
    "怡仪宜",
    "晨辰琛",
    "子梓紫",
    "涵晗寒",
    "轩萱宣",
    "思斯",
    "兰岚蓝",
    "英莹瑛",
    "凯铠恺",
    "鹏朋",
    "帆凡",
    "旭煦",
    "宁凝",
    "龙隆",
    "颖影",
    "倩茜",
    "瑶遥",
    "琪琦淇奇",
    "瑞睿",
    "峰锋丰枫",
    "松淞",
    "川传",
    "波博",
    "海",
    "云芸昀",
    "张章",
    "王汪",
    "徐许",
    "吴武伍",
    "刘柳",
    "陈晨",
    "杨阳",
    "李黎",
    "周舟",
    "孙荪",
    "朱诸",
    "胡湖",
]
# look-alike characters (形近): misread from handwriting, a different pronunciation
LOOKALIKES = {
    "王": "玉",
    "玉": "王",
    "天": "夭",
    "未": "末",
    "士": "土",
    "己": "已",
    "人": "入",
    "杨": "扬",
    "扬": "杨",
    "晴": "睛",
    "候": "侯",
    "侯": "候",
    "贝": "见",
    "田": "由",
    "由": "田",
    "甲": "申",
    "申": "甲",
    "明": "朋",
    "汤": "扬",
    "辨": "辩",
    "茶": "荼",
    "折": "拆",
    "大": "太",
    "太": "大",
    "兵": "乒",
    "日": "曰",
    "娟": "涓",
    "梅": "海",
    "海": "梅",
    "林": "材",
    "春": "椿",
    "兴": "共",
    "旺": "汪",
    "松": "淞",
    "宏": "弘",
    "礼": "札",
    "亮": "高",
    "浩": "诰",
    "晶": "品",
    "俊": "浚",
    "琳": "淋",
    "倩": "青",
    "丽": "励",
    "杰": "木",
    "勇": "男",
    "军": "车",
    "辉": "挥",
    "敏": "繁",
    "静": "净",
    "霞": "瑕",
    "平": "乎",
    "刚": "冈",
    "华": "毕",
}
TRADITIONAL = dict(
    zip(
        "张陈刘杨黄赵吴郑孙马冯韩丽华军红国东兰凤龙进宝庆荣晓静强辉涛杰艳刚云飞鹏书卫义礼爱贵丰阳欢乐凯伦贤纳"
        "维宁颖钟谭陆邓罗许谢叶苏吕卢姜钱龚邹汤贺顾万严齐闫韦伟锋兴",
        "張陳劉楊黃趙吳鄭孫馬馮韓麗華軍紅國東蘭鳳龍進寶慶榮曉靜強輝濤傑艷剛雲飛鵬書衛義禮愛貴豐陽歡樂凱倫賢納"
        "維寧穎鍾譚陸鄧羅許謝葉蘇呂盧薑錢龔鄒湯賀顧萬嚴齊閆韋偉鋒興",
        strict=True,
    )
)
MINORITY_FIRST = [
    "买买提",
    "阿依古丽",
    "古丽娜尔",
    "热依拉",
    "艾尔肯",
    "迪丽热巴",
    "吐尔逊",
    "阿不都",
    "努尔",
    "帕提古丽",
    "依明",
    "玉素甫",
    "巴特尔",
    "其其格",
    "斯琴",
    "格桑",
    "扎西",
    "卓玛",
]
MINORITY_LAST = [
    "艾力",
    "买买提",
    "吐尔逊",
    "阿不都拉",
    "热合曼",
    "依明",
    "司马义",
    "哈斯木",
    "巴图",
    "次仁",
    "多吉",
    "阿布力孜",
    "肉孜",
    "托合提",
]
MIDDLE_DOTS = ["·", "•", "・", ".", "‧", "．", ""]  # the last: dot left out

DISTRICTS = {
    "310101": (
        "黄浦区",
        ["南京东路街道", "外滩街道", "半淞园路街道", "小东门街道", "豫园街道", "老西门街道"],
    ),
    "310104": ("徐汇区", ["天平路街道", "湖南路街道", "斜土路街道", "枫林路街道", "长桥街道", "田林街道"]),
    "310105": (
        "长宁区",
        ["华阳路街道", "江苏路街道", "新华路街道", "周家桥街道", "天山路街道", "仙霞新村街道"],
    ),
    "310106": (
        "静安区",
        ["江宁路街道", "石门二路街道", "南京西路街道", "静安寺街道", "曹家渡街道", "天目西路街道"],
    ),
    "310107": (
        "普陀区",
        ["曹杨新村街道", "长风新村街道", "长寿路街道", "甘泉路街道", "石泉路街道", "宜川路街道"],
    ),
    "310109": (
        "虹口区",
        ["欧阳路街道", "曲阳路街道", "广中路街道", "嘉兴路街道", "凉城新村街道", "四川北路街道"],
    ),
    "310110": (
        "杨浦区",
        ["定海路街道", "平凉路街道", "江浦路街道", "四平路街道", "控江路街道", "长白新村街道"],
    ),
    "310112": ("闵行区", ["江川路街道", "古美街道", "新虹街道", "浦锦街道", "莘庄镇", "七宝镇"]),
    "310113": ("宝山区", ["友谊路街道", "吴淞街道", "张庙街道", "罗店镇", "大场镇", "杨行镇"]),
    "310114": ("嘉定区", ["新成路街道", "真新街道", "嘉定镇街道", "南翔镇", "安亭镇", "马陆镇"]),
    "310115": (
        "浦东新区",
        ["潍坊新村街道", "陆家嘴街道", "周家渡街道", "塘桥街道", "上钢新村街道", "花木街道"],
    ),
    "310116": ("金山区", ["石化街道", "朱泾镇", "枫泾镇", "张堰镇", "亭林镇", "吕巷镇"]),
    "310117": ("松江区", ["岳阳街道", "永丰街道", "方松街道", "中山街道", "泗泾镇", "佘山镇"]),
    "310118": ("青浦区", ["夏阳街道", "盈浦街道", "香花桥街道", "朱家角镇", "练塘镇", "金泽镇"]),
    "310120": ("奉贤区", ["南桥镇", "奉城镇", "庄行镇", "金汇镇", "四团镇", "青村镇"]),
    "310151": ("崇明区", ["城桥镇", "堡镇", "新河镇", "庙镇", "竖新镇", "向化镇"]),
}
OTHER_AREAS = [
    "320102",
    "320582",
    "330102",
    "340104",
    "410102",
    "420102",
    "430102",
    "510104",
    "360102",
    "370102",
    "130102",
    "230102",
    "350102",
    "450102",
]
ROADS = (
    "东安路 漕溪北路 肇嘉浜路 零陵路 中山南二路 龙华西路 凯旋路 长宁路 愚园路 武夷路 延安西路 江苏路 新华路 "
    "番禺路 定西路 天山路 威宁路 曹杨路 枣阳路 武宁路 兰溪路 梅岭北路 大渡河路 真光路 四平路 控江路 国权路 "
    "政通路 黄兴路 长阳路 平凉路 昆明路 欧阳路 曲阳路 大连西路 四川北路 海伦路 广中路 浦东南路 潍坊路 崂山路 "
    "东方路 张杨路 峨山路 南泉路 杨高南路 锦绣路 芳华路 莘松路 七莘路 顾戴路 古美路 虹梅路 友谊路 牡丹江路 "
    "淞滨路 嘉定城中路 博乐路 塔城路 人民北路 中山中路 岳阳路 荣乐中路 公园路 城中路 八一路 南奉公路 解放路"
).split()

SAMPLE_PARQUET = "records.parquet"


def _choice(rng: np.random.Generator, items, n: int, p=None) -> np.ndarray:
    return np.asarray(items, dtype=object)[rng.choice(len(items), size=n, p=p)]


def _zipf_p(k: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return w / w.sum()


FW = str.maketrans("0123456789Xx-", "０１２３４５６７８９Ｘｘ－")
FW_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
CHECK = np.array(list("10X98765432"))


def id18(area: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Valid GB 11643 numbers: area code, YYYYMMDD, 3 sequence digits (odd for men), check digit."""
    body = np.char.add(np.char.add(area.astype(str), birth.astype(str)), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    check = CHECK[(digits * ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body, check).astype(object)


def _persons(n_persons: int, rng: np.random.Generator) -> pl.DataFrame:
    """People grouped in households; one row per person, canonical values."""
    # households of 1-5 people; some are twins' households
    sizes = rng.choice([1, 2, 3, 4, 5], size=n_persons, p=[0.22, 0.33, 0.27, 0.13, 0.05])
    hh = np.repeat(np.arange(len(sizes)), sizes)[:n_persons]
    n_hh = int(hh.max()) + 1
    first_of_hh = np.r_[True, hh[1:] != hh[:-1]]
    rank_in_hh = np.arange(n_persons) - np.maximum.accumulate(np.where(first_of_hh, np.arange(n_persons), 0))

    # household surname: Zipf over surnames (王李张 dominate), a few compound ones
    sur = _choice(rng, list(SURNAMES), n_hh, _zipf_p(len(SURNAMES), 0.75))
    compound = rng.random(n_hh) < 0.004
    sur[compound] = _choice(rng, COMPOUND_SURNAMES, int(compound.sum()))
    surname = sur[hh]
    # spouses (rank 1) mostly carry another surname
    other = (rank_in_hh == 1) & (rng.random(n_persons) < 0.85)
    surname[other] = _choice(rng, list(SURNAMES), int(other.sum()), _zipf_p(len(SURNAMES), 0.75))

    # given names: 35% from the head list (namesakes), the rest composed of one or two characters
    head = rng.random(n_persons) < 0.35
    given = np.empty(n_persons, dtype=object)
    given[head] = _choice(rng, HEAD_GIVEN, int(head.sum()), _zipf_p(len(HEAD_GIVEN), 0.9))
    rest = ~head
    chars = list(GIVEN_CHARS)
    c1 = _choice(rng, chars, int(rest.sum()))
    c2 = _choice(rng, chars, int(rest.sum()))
    two = rng.random(int(rest.sum())) < 0.75
    given[rest] = np.where(two, np.char.add(c1.astype(str), c2.astype(str)).astype(object), c1)

    # minority residents (Uyghur/Mongolian/Tibetan names with a middle dot)
    minority = rng.random(n_persons) < 0.02
    m = int(minority.sum())
    surname[minority] = _choice(rng, MINORITY_FIRST, m)
    given[minority] = _choice(rng, MINORITY_LAST, m)

    # birth dates: household heads 1935-1995, spouses near them, children 20-35 years younger
    head_year = rng.integers(1935, 1996, n_hh)
    year = head_year[hh] + np.where(
        rank_in_hh == 0,
        0,
        np.where(rank_in_hh == 1, rng.integers(-5, 6, n_persons), rng.integers(20, 36, n_persons)),
    )
    year = np.clip(year, 1930, 2024)
    month = rng.integers(1, 13, n_persons)
    day = rng.integers(1, 29, n_persons)
    # twins: in 4% of households of 3+ people, member 3 shares member 2's birth date (and surname)
    twin = (rank_in_hh == 3) & np.isin(hh, np.flatnonzero(rng.random(n_hh) < 0.04 * 2.5))
    twin_idx = np.flatnonzero(twin)
    year[twin_idx], month[twin_idx], day[twin_idx] = (
        year[twin_idx - 1],
        month[twin_idx - 1],
        day[twin_idx - 1],
    )
    surname[twin_idx] = surname[twin_idx - 1]
    sib = np.zeros(n_persons, dtype=bool)
    sib[twin_idx - 1] = True
    # twins get different given names (re-draw until different)
    same = given[twin_idx] == given[twin_idx - 1]
    while same.any():
        given[twin_idx[same]] = _choice(rng, HEAD_GIVEN, int(same.sum()))
        same = given[twin_idx] == given[twin_idx - 1]
    birth = year * 10000 + month * 100 + day
    male = rng.random(n_persons) < 0.5

    # ID: area of the household (Shanghai or elsewhere for migrants), sequence parity by sex
    sh_codes = list(DISTRICTS)
    hh_district = _choice(rng, sh_codes, n_hh, _zipf_p(len(sh_codes), 0.3))
    hh_migrant = rng.random(n_hh) < 0.25
    # the household's birthplace (siblings and twins share it); a spouse may come from elsewhere
    hh_area = np.where(hh_migrant, _choice(rng, OTHER_AREAS, n_hh), hh_district)
    area = hh_area[hh]
    spouse_elsewhere = (rank_in_hh == 1) & (rng.random(n_persons) < 0.3)
    area[spouse_elsewhere] = _choice(rng, OTHER_AREAS + sh_codes, int(spouse_elsewhere.sum()))
    seq = rng.integers(0, 500, n_persons) * 2 + np.where(male, 1, 0)
    # twins: same area, birth date; the sequence numbers differ by a few (registered together)
    seq[twin_idx] = np.clip(seq[twin_idx - 1] + 2 * rng.integers(1, 3, len(twin_idx)), 0, 999)
    seq[twin_idx] = seq[twin_idx] - seq[twin_idx] % 2 + np.where(male[twin_idx], 1, 0)
    # one number per person: re-draw the sequence digits of any collision (same area and birth date)
    while True:
        key = (
            area.astype(str).astype(object)
            + birth.astype(str).astype(object)
            + seq.astype(str).astype(object)
        )
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n_persons, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, int(dup.sum())) * 2 + np.where(male[dup], 1, 0)
    ids = id18(area.astype(str), birth, seq)

    # addresses: household's (district, street, road, lane, building, room)
    street_i = rng.integers(0, 6, n_hh)
    road = _choice(rng, ROADS, n_hh)
    lane = rng.integers(1, 1800, n_hh)
    bldg = rng.integers(1, 40, n_hh)
    room = rng.integers(1, 25, n_hh) * 100 + rng.integers(1, 6, n_hh)
    has_lane = rng.random(n_hh) < 0.8
    landline = rng.integers(20_000_000, 69_999_999, n_hh)
    has_landline = rng.random(n_hh) < 0.55
    # mobiles: adults have their own; children under 16 give a parent's
    prefixes = np.array(
        [
            130,
            131,
            132,
            133,
            135,
            136,
            137,
            138,
            139,
            150,
            151,
            152,
            158,
            159,
            177,
            180,
            186,
            187,
            188,
            189,
            199,
        ]
    )
    mobile = _choice(rng, prefixes, n_persons).astype(np.int64) * 10**8 + rng.integers(0, 10**8, n_persons)
    child = year >= 2010
    head_pos = np.flatnonzero(first_of_hh)[hh]
    mobile[child] = mobile[head_pos[child]]
    has_mobile = ~child | (rng.random(n_persons) < 0.9)

    # movers: 10% live now in another district with a new phone
    mover = rng.random(n_persons) < 0.10
    new_district = _choice(rng, sh_codes, n_persons)
    new_road = _choice(rng, ROADS, n_persons)
    new_mobile = _choice(rng, prefixes, n_persons).astype(np.int64) * 10**8 + rng.integers(
        0, 10**8, n_persons
    )

    ptags = np.full(n_persons, "", dtype=object)
    for flag, name in ((twin | sib, "twin"), (minority, "minority"), (mover, "mover"), (head & ~minority, "common_name"),
                       (child, "child")):  # fmt: skip
        ptags[flag] = ptags[flag] + name + ","
    return pl.DataFrame({
        "person_id": np.arange(n_persons, dtype=np.int64),
        "household_id": hh.astype(np.int64),
        "surname": surname.astype(str), "given": given.astype(str), "minority": minority,
        "birth": birth.astype(np.int64), "male": male, "id18": ids.astype(str), "area": area.astype(str),
        "district": hh_district[hh].astype(str), "street_i": street_i[hh], "road": road[hh].astype(str),
        "lane": np.where(has_lane[hh], lane[hh], 0), "bldg": bldg[hh], "room": room[hh],
        "landline": np.where(has_landline[hh], landline[hh], 0), "mobile": np.where(has_mobile, mobile, 0),
        "mover": mover, "new_district": new_district.astype(str), "new_road": new_road.astype(str),
        "new_lane": rng.integers(1, 1800, n_persons), "new_bldg": rng.integers(1, 40, n_persons),
        "new_room": rng.integers(1, 25, n_persons) * 100 + rng.integers(1, 6, n_persons),
        "new_mobile": new_mobile, "ptags": ptags.astype(str),
    })  # fmt: skip


_HOMO = {c: g for g in HOMOPHONES for c in g}


def _homophone(name: str, rng_u: float) -> str:
    """Replace one character with a same-pinyin one (given name first, then the surname)."""
    spots = [i for i, c in enumerate(name) if c in _HOMO and len(_HOMO[c]) > 1]
    if not spots:
        return name
    i = spots[int(rng_u * len(spots)) % len(spots)] if len(spots) > 1 and rng_u < 0.85 else spots[-1]
    group = _HOMO[name[i]].replace(name[i], "")
    return name[:i] + group[int(rng_u * 997) % len(group)] + name[i + 1 :]


def _lookalike(name: str) -> str:
    for i in range(len(name) - 1, -1, -1):
        if name[i] in LOOKALIKES:
            return name[:i] + LOOKALIKES[name[i]] + name[i + 1 :]
    return name


def _traditional(name: str) -> str:
    return "".join(TRADITIONAL.get(c, c) for c in name)


def _id_typo(num: str, u: float, transpose: bool) -> str:
    """One digit wrong, or two adjacent digits swapped (positions 0-16: the check digit stays)."""
    if transpose:
        for k in range(16):
            i = (int(u * 16) + k) % 16
            if num[i] != num[i + 1]:
                return num[:i] + num[i + 1] + num[i] + num[i + 2 :]
        return num
    i = int(u * 17) % 17
    d = (int(num[i]) + 1 + int(u * 1000) % 9) % 10
    return num[:i] + str(d) + num[i + 1 :]


def _addr(dist: str, street_i: int, road: str, lane: int, bldg: int, room: int, style: int) -> str:
    """One address in one of the ways clerks write it."""
    dname, streets = DISTRICTS[dist]
    street = streets[street_i]
    if lane:
        core = [
            f"{road}{lane}弄{bldg}号{room}室",
            f"{road}{lane}弄{bldg}号{room}",
            f"{road}{lane}弄{bldg}-{room}",
            f"{road}{lane}弄{bldg}号楼{room}室",
            f"{road}{lane}弄{bldg}号-{room}室",
        ][style % 5]
    else:
        core = [
            f"{road}{bldg}号{room}室",
            f"{road}{bldg}号{room}",
            f"{road}{bldg}-{room}",
            f"{road}{bldg}号楼{room}室",
            f"{road}{bldg}号{room}室",
        ][style % 5]
    prefix = ["上海市" + dname + street, "上海市" + dname, dname, "", "上海" + dname, dname + street][
        style // 5 % 6
    ]
    return prefix + core


def _date(y: int, m: int, d: int, fmt: int) -> str:
    return (f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}", f"{y}{m:02d}{d:02d}", f"{y}年{m}月{d}日", f"{y % 100}.{m}.{d}",
            f"{y}.{m:02d}.{d:02d}", f"{y}/{m:02d}/{d:02d}")[fmt]  # fmt: skip


def _mobile(num: int, fmt: int) -> str:
    s = str(num)
    return (s, f"+86 {s[:3]} {s[3:7]} {s[7:]}", f"+86{s}", f"0086-{s}", f"{s[:3]}-{s[3:7]}-{s[7:]}",
            f"{s[:3]} {s[3:7]} {s[7:]}", f"86-{s}")[fmt]  # fmt: skip


def _landline(num: int, fmt: int) -> str:
    s = str(num)
    return (s, f"021-{s}", f"(021){s}", f"021 {s[:4]} {s[4:]}", f"021{s}", f"{s[:4]}-{s[4:]}")[fmt]


# per source: probabilities of the date formats (_date), sex style, phone style, ID conventions
SOURCE_RULES = {
    "公安": {"date": [0.8, 0, 0.2, 0, 0, 0, 0], "sex": ["男女"], "mobile": [0.9, 0, 0, 0, 0.1, 0, 0],
             "landline_share": 0.1, "id15": 0.0, "lower_x": 0.0, "id_missing": 0.01, "trad": 0.01,
             "addr_prefix": [0.7, 0.2, 0.05, 0.0, 0.0, 0.05]},
    "民政": {"date": [0, 0, 0, 0.5, 0.3, 0.2, 0], "sex": ["男女", "男性女性"], "mobile": [0.4, 0, 0, 0, 0.6, 0, 0],
             "landline_share": 0.5, "id15": 0.3, "lower_x": 0.2, "id_missing": 0.06, "trad": 0.02,
             "addr_prefix": [0.1, 0.1, 0.3, 0.1, 0.1, 0.3]},
    "卫健": {"date": [0.1, 0.6, 0, 0, 0, 0, 0.3], "sex": ["MF", "12"], "mobile": [0.2, 0.4, 0.2, 0, 0, 0.2, 0],
             "landline_share": 0.15, "id15": 0.02, "lower_x": 0.6, "id_missing": 0.12, "trad": 0.02,
             "addr_prefix": [0.05, 0.3, 0.3, 0.2, 0.15, 0.0]},
    "人社": {"date": [0, 0, 1.0, 0, 0, 0, 0], "sex": ["12"], "mobile": [0.5, 0, 0, 0.3, 0, 0, 0.2],
             "landline_share": 0.35, "id15": 0.2, "lower_x": 0.1, "id_missing": 0.04, "trad": 0.05,
             "addr_prefix": [0.0, 0.1, 0.2, 0.5, 0.0, 0.2]},
}  # fmt: skip


def generate(n: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, truth): `n` raw records of about n/2.6 persons; truth has record_id, person_id,
    household_id, source, tags (the record's planted difficulties) and ptags (the person's)."""
    rng = np.random.default_rng(seed)
    rec_counts = rng.choice([1, 2, 3, 4, 5, 6], size=int(n / 2.4) + 10, p=[0.22, 0.3, 0.24, 0.13, 0.07, 0.04])
    n_persons = int(np.searchsorted(np.cumsum(rec_counts), n)) + 1
    people = _persons(n_persons, rng)
    rep = np.repeat(np.arange(n_persons), rec_counts[:n_persons])[:n]
    p = people[rep]  # one row per record
    n = p.height
    cols = {c: p[c].to_numpy() for c in p.columns}
    u = rng.random((n, 16))  # independent uniforms per record and decision
    src = _choice(rng, SOURCES, n, [0.3, 0.25, 0.25, 0.2])
    tags: list[list[str]] = [[] for _ in range(n)]

    def tag(mask: np.ndarray, name: str) -> None:
        for i in np.flatnonzero(mask):
            tags[i].append(name)

    rules = {s: SOURCE_RULES[s] for s in SOURCES}
    # ---- name
    surname, given, minority = cols["surname"], cols["given"], cols["minority"]
    names = np.empty(n, dtype=object)
    dots = _choice(rng, MIDDLE_DOTS, n, [0.45, 0.15, 0.1, 0.1, 0.05, 0.05, 0.1])
    for i in range(n):
        names[i] = surname[i] + dots[i] + given[i] if minority[i] else surname[i] + given[i]
    tag(minority & (dots != "·"), "name_dot_variant")
    homo = u[:, 0] < 0.04
    look = (u[:, 0] >= 0.04) & (u[:, 0] < 0.055)
    trad_p = np.array([rules[s]["trad"] for s in src])
    trad = u[:, 1] < trad_p + 0.02
    space = (u[:, 1] > 0.97) & ~minority
    for i in np.flatnonzero(homo & ~minority):
        new = _homophone(names[i], u[i, 2])
        if new != names[i]:
            names[i] = new
            tags[i].append("name_homophone")
    for i in np.flatnonzero(look & ~minority):
        new = _lookalike(names[i])
        if new != names[i]:
            names[i] = new
            tags[i].append("name_lookalike")
    for i in np.flatnonzero(trad):
        new = _traditional(names[i])
        if new != names[i]:
            names[i] = new
            tags[i].append("name_traditional")
    for i in np.flatnonzero(space):
        sl = len(surname[i]) if names[i].startswith(surname[i]) else 1
        names[i] = names[i][:sl] + ("　" if u[i, 3] < 0.5 else " ") + names[i][sl:]
    tag(space, "name_space")
    name_missing = u[:, 4] < 0.005
    names[name_missing] = None
    tag(name_missing, "name_missing")

    # ---- ID number
    ids = cols["id18"].astype(object).copy()
    birth = cols["birth"]
    year, month, day = birth // 10000, birth // 100 % 100, birth % 100
    typo_sub = u[:, 5] < 0.015
    typo_tr = (u[:, 5] >= 0.015) & (u[:, 5] < 0.025)
    for i in np.flatnonzero(typo_sub | typo_tr):
        ids[i] = _id_typo(ids[i], u[i, 6], bool(typo_tr[i]))
    tag(typo_sub, "id_typo_digit")
    tag(typo_tr, "id_typo_transposed")
    id15_p = np.array([rules[s]["id15"] for s in src])
    id15 = (u[:, 7] < id15_p) & (year < 1985) & ~typo_sub & ~typo_tr
    for i in np.flatnonzero(id15):
        ids[i] = ids[i][:6] + ids[i][8:17]
    tag(id15, "id_15digit")
    lower_p = np.array([rules[s]["lower_x"] for s in src])
    xs = np.array([s.endswith("X") for s in ids])
    lower = xs & (u[:, 8] < lower_p)
    for i in np.flatnonzero(lower):
        ids[i] = ids[i][:-1] + "x"
    tag(lower, "id_lower_x")
    times = xs & ~lower & (u[:, 8] > 0.995)
    for i in np.flatnonzero(times):
        ids[i] = ids[i][:-1] + "×"
    tag(times, "id_x_as_times")
    fw = u[:, 9] < np.where(src == "民政", 0.10, 0.03)
    for i in np.flatnonzero(fw):
        ids[i] = ids[i].translate(FW)
    tag(fw, "id_fullwidth")
    spaced = (u[:, 9] > 0.98) & ~id15
    for i in np.flatnonzero(spaced):
        s = ids[i]
        ids[i] = f"{s[:6]} {s[6:14]} {s[14:]}" if u[i, 3] < 0.5 else f"{s[:6]}-{s[6:14]}-{s[14:]}"
    tag(spaced, "id_spaced")
    miss_p = np.array([rules[s]["id_missing"] for s in src])
    id_missing = u[:, 10] < miss_p
    placeholder = id_missing & (u[:, 11] < 0.15)
    ids[id_missing] = None
    ids[placeholder] = _choice(rng, ["无", "不详", "/", "-", "000000000000000000"], int(placeholder.sum()))
    tag(id_missing, "id_missing")

    # ---- birth date
    dfmt = np.array([rng.choice(7, p=rules[s]["date"]) for s in SOURCES])  # a default per source
    fmt_draw = {s: rng.choice(7, size=n, p=rules[s]["date"]) for s in SOURCES}
    fmt = np.select([src == s for s in SOURCES], [fmt_draw[s] for s in SOURCES], dfmt[0])
    dtypo = u[:, 12] < 0.01
    dswap = dtypo & (u[:, 13] < 0.4) & (day <= 12) & (day != month)
    dday = dtypo & ~dswap
    bd = np.empty(n, dtype=object)
    for i in range(n):
        y, m_, d = int(year[i]), int(month[i]), int(day[i])
        if dswap[i]:
            m_, d = d, m_
        elif dday[i]:
            d = d % 28 + 1
        bd[i] = _date(y, m_, d, int(fmt[i]))
    tag(dswap, "date_month_day_swapped")
    tag(dday, "date_day_typo")
    tag(fmt == 4, "date_2digit_year")
    dfw = u[:, 13] > 0.98
    for i in np.flatnonzero(dfw):
        bd[i] = bd[i].translate(FW_DIGITS)
    tag(dfw, "date_fullwidth")
    bmiss = u[:, 14] < 0.04
    bd[bmiss] = None
    tag(bmiss, "date_missing")

    # ---- sex
    male = cols["male"]
    wrong = u[:, 15] < 0.004
    shown_male = male ^ wrong
    style = np.array([rules[s]["sex"][int(u[i, 3] * len(rules[s]["sex"]))] for i, s in enumerate(src)])
    # style strings hold the male code then the female code: 男女 / 男性女性 / MF / 12
    codes = {"男女": ("男", "女"), "男性女性": ("男性", "女性"), "MF": ("M", "F"), "12": ("1", "2")}
    sex = np.array(
        [codes[st][0 if sm else 1] for st, sm in zip(style, shown_male, strict=True)], dtype=object
    )
    tag(wrong, "sex_wrong")
    smiss = u[:, 15] > 0.97
    sex[smiss] = None
    tag(smiss, "sex_missing")

    # ---- address and phone (movers: about half of their records carry the new ones)
    moved = cols["mover"] & (u[:, 11] > 0.5)
    tag(moved, "moved")
    a_style = np.array([rng.choice(6, p=rules[s]["addr_prefix"]) for s in src]) * 5 + rng.integers(0, 5, n)
    addr = np.empty(n, dtype=object)
    dist, street_i, road = cols["district"], cols["street_i"], cols["road"]
    lane, bldg, room = cols["lane"], cols["bldg"], cols["room"]
    nd, nr, nl, nb, nrm = (
        cols["new_district"],
        cols["new_road"],
        cols["new_lane"],
        cols["new_bldg"],
        cols["new_room"],
    )
    for i in range(n):
        if moved[i]:
            addr[i] = _addr(
                nd[i], int(u[i, 4] * 6), nr[i], int(nl[i]), int(nb[i]), int(nrm[i]), int(a_style[i])
            )
        else:
            addr[i] = _addr(dist[i], int(street_i[i]), road[i], int(lane[i]), int(bldg[i]), int(room[i]),
                            int(a_style[i]))  # fmt: skip
    afw = rng.random(n) < 0.04
    for i in np.flatnonzero(afw):
        addr[i] = addr[i].translate(FW_DIGITS)
    tag(afw, "addr_fullwidth")
    aspace = rng.random(n) < 0.02
    for i in np.flatnonzero(aspace):
        addr[i] = addr[i].replace("区", "区 ", 1).replace("路", "路 ", 1)
    tag(aspace, "addr_spaced")
    amiss = rng.random(n) < 0.05
    addr[amiss] = None
    tag(amiss, "addr_missing")

    mobile = np.where(moved, cols["new_mobile"], cols["mobile"])
    landline = cols["landline"]
    ll_p = np.array([rules[s]["landline_share"] for s in src])
    use_ll = (landline > 0) & ((rng.random(n) < ll_p) | (mobile == 0)) & ~moved
    mfmt = np.array([rng.choice(7, p=rules[s]["mobile"]) for s in src])
    lfmt = rng.integers(0, 6, n)
    phone = np.empty(n, dtype=object)
    for i in range(n):
        if use_ll[i]:
            phone[i] = _landline(int(landline[i]), int(lfmt[i]))
        elif mobile[i]:
            phone[i] = _mobile(int(mobile[i]), int(mfmt[i]))
    tag(use_ll, "phone_landline")
    tag(use_ll & (lfmt == 0), "phone_landline_no_area")
    tag(~use_ll & (mobile > 0) & (np.char.find(cols["ptags"].astype(str), "child") >= 0), "phone_of_parent")
    pfw = rng.random(n) < 0.02
    for i in np.flatnonzero(pfw & (phone != None)):  # noqa: E711
        phone[i] = phone[i].translate(FW_DIGITS)
    tag(pfw, "phone_fullwidth")
    pmiss = rng.random(n) < 0.10
    phone[pmiss] = None
    tag(pmiss, "phone_missing")

    order = rng.permutation(n)  # records of one person are not adjacent in real exports
    record_id = np.empty(n, dtype=object)
    prefix = {"公安": "GA", "民政": "MZ", "卫健": "WJ", "人社": "RS"}
    for k, i in enumerate(order):
        record_id[i] = f"{prefix[src[i]]}{k:08d}"
    records = pl.DataFrame({
        "record_id": record_id.astype(str), "source": src.astype(str),
        "name": pl.Series([None if v is None else str(v) for v in names], dtype=pl.String), "id_number": pl.Series([None if v is None else str(v) for v in ids], dtype=pl.String),
        "sex": pl.Series([None if v is None else str(v) for v in sex], dtype=pl.String), "birth_date": pl.Series([None if v is None else str(v) for v in bd], dtype=pl.String),
        "phone": pl.Series([None if v is None else str(v) for v in phone], dtype=pl.String), "address": pl.Series([None if v is None else str(v) for v in addr], dtype=pl.String),
    })[np.argsort(order)]  # fmt: skip
    truth = pl.DataFrame({
        "record_id": record_id.astype(str), "person_id": cols["person_id"], "household_id": cols["household_id"],
        "source": src.astype(str), "tags": [",".join(t) for t in tags], "ptags": cols["ptags"].astype(str),
    })[np.argsort(order)]  # fmt: skip
    return records, truth


# each system's own export headers
NATIVE_HEADERS = {
    "公安": {"record_id": "记录编号", "name": "姓名", "id_number": "公民身份号码", "sex": "性别",
             "birth_date": "出生日期", "phone": "联系电话", "address": "户籍地址"},
    "民政": {"record_id": "序号", "name": "姓名", "id_number": "身份证号", "sex": "性别",
             "birth_date": "出生年月日", "phone": "电话", "address": "家庭住址"},
    "卫健": {"record_id": "档案号", "name": "患者姓名", "id_number": "证件号码", "sex": "性别",
             "birth_date": "出生日期", "phone": "手机号", "address": "现住址"},
    "人社": {"record_id": "流水号", "name": "姓名", "id_number": "社会保障号码", "sex": "性别代码",
             "birth_date": "出生日期", "phone": "联系方式", "address": "通讯地址"},
}  # fmt: skip


def write(records: pl.DataFrame, truth: pl.DataFrame, out: Path, fmt: str, per_source: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if fmt in ("parquet", "both"):
        records.write_parquet(out / "records.parquet")
        written.append(out / "records.parquet")
    if fmt in ("csv", "both"):
        records.write_csv(out / "records.csv")
        written.append(out / "records.csv")
    truth.write_parquet(out / "truth.parquet")
    written.append(out / "truth.parquet")
    if per_source:
        for s, heads in NATIVE_HEADERS.items():
            f = out / f"{s}.csv"
            records.filter(pl.col("source") == s).drop("source").rename(heads).write_csv(f)
            written.append(f)
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="records")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="/tmp/persons_zh")
    ap.add_argument("--format", choices=["parquet", "csv", "both"], default="parquet")
    ap.add_argument(
        "--per-source", action="store_true", help="also each system's export with its own headers"
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    records, truth = generate(args.n, args.seed)
    files = write(records, truth, Path(args.out), args.format, args.per_source)
    print(f"{records.height:,} records of {truth['person_id'].n_unique():,} persons "
          f"({truth['household_id'].n_unique():,} households) in {time.perf_counter() - t0:.1f} s: "
          + ", ".join(map(str, files)))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
