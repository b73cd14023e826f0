"""Word lists for synthetic residents: names, places, homophones and code tables.

Surnames (with frequency weights) and the classic one/two-character given names come from faker's
zh_CN provider; the rest is hand-made so that names, addresses and IDs look like Shanghai data.
"""

from __future__ import annotations

from faker.providers.person.zh_CN import Provider as _FakerPerson

# Surnames with their frequency weight (faker zh_CN, ~400 surnames, 王/李/张 on top).
SURNAMES: tuple[str, ...] = tuple(_FakerPerson.last_names.keys())
SURNAME_WEIGHTS: tuple[float, ...] = tuple(float(w) for w in _FakerPerson.last_names.values())

# Whole given names typical of people born before ~1970 (faker's lists are that generation).
OLD_GIVEN_MALE: tuple[str, ...] = tuple(_FakerPerson.first_names_male)
OLD_GIVEN_FEMALE: tuple[str, ...] = tuple(_FakerPerson.first_names_female)

# Characters for two-character given names of younger people.
MALE_CHARS = tuple(
    "伟强磊军勇杰涛明刚平辉鹏华飞鑫波斌宇浩凯健俊帆旭宁龙林志国建文海东峰成新兵德庆荣福生祥春永宏"
    "振家晨子轩睿博泽昊逸宸铭瑞嘉皓然天佑奕言哲骏航毅晓立正清松柏思源远"
)
FEMALE_CHARS = tuple(
    "芳娜敏静丽艳娟霞燕玲丹萍红英梅莉婷晶颖雪慧琳倩佳欣怡雨涵萱思诗梦悦彤琪瑶妍蕾菲洁露月兰凤秀珍"
    "玉华云晓婉雅文若可馨心语清一宁嘉佩蓉琴"
)

# ~20 very common full names (name, sex); ~10% of residents get one of them.
COMMON_NAMES: tuple[tuple[str, str], ...] = (
    ("张伟", "男"),
    ("王伟", "男"),
    ("王芳", "女"),
    ("李伟", "男"),
    ("李娜", "女"),
    ("张敏", "女"),
    ("李静", "女"),
    ("王静", "女"),
    ("刘伟", "男"),
    ("王秀英", "女"),
    ("张丽", "女"),
    ("李秀英", "女"),
    ("王丽", "女"),
    ("李强", "男"),
    ("王磊", "男"),
    ("刘洋", "男"),
    ("陈静", "女"),
    ("刘芳", "女"),
    ("王军", "男"),
    ("张勇", "男"),
    ("李军", "男"),
    ("陈伟", "男"),
)

# Homophone (or near-homophone) substitutions that clerks type by mistake with a pinyin IME.
HOMOPHONES: dict[str, str] = {
    "伟": "玮",
    "芳": "方",
    "娜": "那",
    "静": "婧",
    "敏": "珉",
    "丽": "莉",
    "莉": "丽",
    "军": "君",
    "勇": "永",
    "强": "蔷",
    "杰": "洁",
    "英": "瑛",
    "华": "桦",
    "明": "铭",
    "红": "宏",
    "霞": "侠",
    "平": "萍",
    "萍": "苹",
    "玲": "铃",
    "林": "琳",
    "琳": "林",
    "建": "健",
    "国": "帼",
    "文": "雯",
    "刚": "钢",
    "斌": "彬",
    "涛": "滔",
    "辉": "晖",
    "峰": "锋",
    "燕": "艳",
    "艳": "燕",
    "梅": "玫",
    "秀": "绣",
    "兰": "蓝",
    "玉": "钰",
    "洋": "阳",
    "磊": "垒",
    "鹏": "朋",
    "宇": "雨",
    "浩": "皓",
    "婷": "亭",
    "佳": "嘉",
    "嘉": "佳",
    "欣": "馨",
    "怡": "宜",
    "晨": "辰",
    "子": "梓",
    "王": "汪",
    "张": "章",
    "刘": "柳",
    "杨": "阳",
    "徐": "许",
    "许": "徐",
    "吴": "武",
    "周": "州",
    "陈": "程",
    "黄": "王",
    "孙": "荪",
    "志": "智",
    "海": "亥",
    "东": "冬",
    "春": "纯",
    "云": "芸",
    "珍": "真",
    "凤": "风",
    "晓": "筱",
    "雪": "薛",
    "宁": "凝",
    "俊": "骏",
    "鑫": "欣",
    "飞": "菲",
    "波": "博",
    "成": "诚",
    "龙": "隆",
    "瑞": "睿",
    "博": "波",
    "娟": "鹃",
    "倩": "茜",
    "慧": "惠",
    "颖": "莹",
}

ETHNICITIES: tuple[str, ...] = (
    "汉族",
    "回族",
    "满族",
    "蒙古族",
    "壮族",
    "土家族",
    "苗族",
    "朝鲜族",
    "藏族",
    "彝族",
)
ETHNICITY_WEIGHTS: tuple[float, ...] = (96.0, 1.2, 0.6, 0.4, 0.4, 0.4, 0.3, 0.3, 0.2, 0.2)

# Mobile prefixes (China Mobile / Unicom / Telecom) for 11-digit numbers.
MOBILE_PREFIXES: tuple[str, ...] = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "176",
    "177",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "195",
    "198",
    "199",
)

# Where migrants (来沪人员) come from: 6-digit region code, place name, weight.
MIGRANT_REGIONS: tuple[tuple[str, str, float], ...] = (
    ("340102", "安徽省合肥市瑶海区", 8),
    ("341202", "安徽省阜阳市颍州区", 10),
    ("340104", "安徽省合肥市蜀山区", 5),
    ("320102", "江苏省南京市玄武区", 4),
    ("320902", "江苏省盐城市亭湖区", 6),
    ("321002", "江苏省扬州市广陵区", 4),
    ("330106", "浙江省杭州市西湖区", 3),
    ("330302", "浙江省温州市鹿城区", 4),
    ("410105", "河南省郑州市金水区", 5),
    ("411502", "河南省信阳市浉河区", 7),
    ("510104", "四川省成都市锦江区", 4),
    ("511302", "四川省南充市顺庆区", 4),
    ("360102", "江西省南昌市东湖区", 5),
    ("370102", "山东省济南市历下区", 4),
    ("420106", "湖北省武汉市武昌区", 5),
    ("430102", "湖南省长沙市芙蓉区", 3),
    ("350102", "福建省福州市鼓楼区", 3),
    ("500103", "重庆市渝中区", 4),
    ("130102", "河北省石家庄市长安区", 2),
    ("230102", "黑龙江省哈尔滨市道里区", 2),
    ("610102", "陕西省西安市新城区", 2),
    ("450102", "广西壮族自治区南宁市兴宁区", 1),
    ("520102", "贵州省贵阳市南明区", 2),
    ("530102", "云南省昆明市五华区", 1),
    ("620102", "甘肃省兰州市城关区", 1),
)

# Pre-1990s Shanghai region codes still printed on older residents' IDs (district → old codes).
LEGACY_SHANGHAI_CODES: dict[str, tuple[str, ...]] = {
    "310101": ("310102", "310103"),
    "310106": ("310108",),
    "310115": ("310225",),
    "310112": ("310221",),
    "310151": ("310230",),
    "310116": ("310228",),
    "310117": ("310227",),
    "310118": ("310229",),
    "310120": ("310226",),
    "310114": ("310222",),
    "310113": ("310111",),
}

# Stems for road names (a committee's residents live on a few roads).
ROAD_STEMS: tuple[str, ...] = tuple(
    "长寿 延安 淮海 复兴 建国 肇嘉浜 漕溪 龙华 天钥桥 宜山 虹桥 仙霞 天山 古北 武宁 曹杨 真如 大渡河 金沙江 中潭 "
    "四平 控江 黄兴 国权 邯郸 殷行 江湾 共和新 场中 临汾 彭浦 永和 汶水 沪太 友谊 牡丹江 同济 塘桥 浦建 东方 "
    "张杨 源深 金桥 川沙 高桥 周浦 惠南 莘庄 七宝 梅陇 颛桥 吴泾 江川 安亭 南翔 九亭 泗泾 朱家角 南桥 朱泾 城桥 "
    "陕西 北京 南京 四川 江西 河南 山东 福建 浙江 广西 云南 贵州 西藏 新疆 宁夏 甘肃 青海 湖北 湖南 安徽 "
    "桂林 柳州 钦州 田林 宜州 凯旋 番禺 法华 新华 定西 娄山关 水城 剑河 哈密 伊犁 茅台 威宁 安顺 平武 "
    "民生 杨高 锦绣 芳甸 罗山 云台 昌里 德州 上南 浦三 成山 杨思 海阳 齐河 灵岩 长清 高青 洪山 "
    "顾村 罗店 月浦 杨行 大华 行知 菊联 丰翔 祁连山 环镇 新沪 沪闵 银都 春申 都市 古美 平阳 万源 "
    "曹安 博乐 墨玉 城中 塔城 叶城 沪宜 胜辛 嘉松 华志 青松 盈港 公园 外青松 庆丰 华新 徐泾 赵巷".split()
)
ROAD_SUFFIXES: tuple[str, ...] = ("路", "路", "路", "路", "街", "大道", "公路")
ESTATE_STEMS: tuple[str, ...] = tuple(
    "阳光 绿洲 锦绣 康城 金色 怡景 和平 幸福 春江 东方 花园 世纪 丽景 翠湖 新村 明珠 华庭 雅苑 名都 嘉园".split()
)

# Village-style place stems for migrants' hometown addresses.
HOMETOWN_STEMS: tuple[str, ...] = tuple(
    "新集 王庄 李营 张湾 刘店 陈楼 黄岗 赵集 周寨 吴圩 徐桥 孙洼 马坊 朱营 胡集 郭庄 何湾 高店 林场 罗坝".split()
)

EDUCATION_LEVELS: tuple[str, ...] = (
    "未上过学",
    "小学",
    "初中",
    "高中",
    "中专",
    "大学专科",
    "大学本科",
    "研究生",
)
DISABILITY_CATEGORIES: tuple[tuple[str, float], ...] = (
    ("肢体残疾", 45),
    ("视力残疾", 15),
    ("听力残疾", 12),
    ("精神残疾", 12),
    ("智力残疾", 8),
    ("多重残疾", 6),
    ("言语残疾", 2),
)
DISABILITY_LEVELS: tuple[tuple[str, float], ...] = (("一级", 15), ("二级", 25), ("三级", 30), ("四级", 30))
DISTRICT_ABBR: dict[str, str] = {
    "310101": "HP",
    "310104": "XH",
    "310105": "CN",
    "310106": "JA",
    "310107": "PT",
    "310109": "HK",
    "310110": "YP",
    "310112": "MH",
    "310113": "BS",
    "310114": "JD",
    "310115": "PD",
    "310116": "JS",
    "310117": "SJ",
    "310118": "QP",
    "310120": "FX",
    "310151": "CM",
}
# Central districts have fewer migrants and more old lane houses (老式里弄).
CENTRAL_DISTRICTS: frozenset[str] = frozenset(
    {"310101", "310104", "310105", "310106", "310107", "310109", "310110"}
)
CN_DIGITS = "〇一二三四五六七八九"
