"""Synthetic resident rows with ground truth, shaped like `staging.person_rows`, for tests and benchmarks.

Independent of the landing-zone generator (synth/generator): it skips files and ingestion and writes the
rows directly, fast enough for a million records (numpy, no per-row faker). What it plants:
- households (couples, children, grandparents; about 1.5% of families have twins: same birth date,
  surname, address and phone, IDs one sequence digit apart);
- forms with different column sets (some without ID number, some with 出生年月 instead of 出生日期);
- per-record noise, tagged in `noise`: homophone name typo (张伟→章伟), other name typo, blank ID,
  legacy 15-digit ID, wrong check digit, two adjacent ID digits swapped, one ID digit substituted,
  changed phone (a person's later records carry a new number), blank phone, phone typo, birth-date typo,
  address spelling variant, record filed by a second committee.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from assets.common.gb11643 import CHECK_CHARS as ID_CHECK
from assets.common.gb11643 import ID_WEIGHTS
from assets.matching.transforms import id_number_frame

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
SURNAME_WEIGHTS = np.array([1.0 / (i + 8) for i in range(len(SURNAMES))])
GIVEN = list(
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂华建文斌玲红英海梅辉鹏飞云志国新春林宇晓婷欣浩俊佳"
    "嘉晨雨萍琳霖慧惠蕙亮凯楷彬玉宏鸿荣蓉德兰岚波博雪峰锋凤燕妍颖莹瑞睿昊晗涵瀚子梓紫思斯诗怡逸毅"
)
# Homophones (same toneless pinyin) for the planted 同音字 typos.
HOMOPHONES: dict[str, str] = {}
for group in [
    "张章",
    "王汪",
    "李理礼",
    "刘留柳",
    "陈晨沉",
    "杨阳洋",
    "黄皇",
    "赵照",
    "吴武伍",
    "周舟州",
    "徐许",
    "林琳霖",
    "伟玮炜",
    "芳方",
    "娜纳",
    "静靖",
    "丽立利",
    "军君",
    "勇永",
    "艳燕妍",
    "杰洁",
    "明鸣",
    "平萍",
    "红宏鸿",
    "云芸",
    "志智",
    "宇雨",
    "欣馨新",
    "佳嘉家",
    "慧惠蕙",
    "凯楷",
    "荣蓉",
    "兰岚",
    "波博",
    "峰锋",
    "颖莹",
    "瑞睿",
    "涵晗",
    "子梓紫",
    "思斯",
    "怡逸毅",
    "彬斌",
    "华化",
    "英鹰",
]:
    for ch in group:
        HOMOPHONES[ch] = group.replace(ch, "")
ROADS = [
    "南京东路",
    "淮海中路",
    "四川北路",
    "曹杨路",
    "长寿路",
    "武宁路",
    "延安西路",
    "虹桥路",
    "漕溪北路",
    "天钥桥路",
    "中山南路",
    "陆家浜路",
    "肇嘉浜路",
    "宜山路",
    "古北路",
    "仙霞路",
    "天山路",
    "长宁路",
    "江苏路",
    "愚园路",
    "大连路",
    "控江路",
    "黄兴路",
    "国权路",
    "政立路",
    "殷行路",
    "共和新路",
    "广中路",
    "凉城路",
    "场中路",
    "浦东南路",
    "张杨路",
    "东方路",
    "杨高中路",
    "金桥路",
    "川沙路",
    "惠南镇人民路",
    "闵行沪闵路",
    "莘庄莘朱路",
    "七宝新镇路",
    "嘉定城中路",
    "宝山牡丹江路",
    "松江中山路",
    "青浦城中路",
]
OTHER_REGIONS = ["320102", "320582", "330106", "340104", "370102", "410105", "420106", "510107", "350203"]
# Column sets of the forms (many forms carry no ID number; some only 出生年月).
PROFILES = {
    "full": ("id", "sex", "birth_date", "phone", "hh", "res"),
    "id_phone_res": ("id", "phone", "res"),
    "no_id_month": ("sex", "birth_month", "phone", "res"),
    "id_hh": ("id", "sex", "birth_date", "hh"),
    "id_phone": ("id", "phone"),
    "no_id_dob": ("sex", "birth_date", "phone"),
}
FORMS = [(f"F{i:02d}", list(PROFILES)[i % len(PROFILES)]) for i in range(24)]


@dataclass(frozen=True)
class NoiseRates:
    """Per-record probabilities (a record may carry several)."""

    name_homophone: float = 0.02
    name_typo: float = 0.01
    id_blank: float = 0.04
    id_15: float = 0.25  # of records of people born before 1985 on forms with an ID column
    id_check_digit: float = 0.01
    id_transposed: float = 0.008
    id_substituted: float = 0.008
    phone_changed: float = 0.12  # of persons; their records after the change date carry a new number
    phone_blank: float = 0.05
    phone_typo: float = 0.01
    birth_typo: float = 0.01
    address_variant: float = 0.06
    second_committee: float = 0.03  # of persons; some of their records are filed by another committee

    def scaled(self, factor: float) -> NoiseRates:
        return NoiseRates(**{k: min(1.0, v * factor) for k, v in self.__dict__.items()})


def _check(first17: np.ndarray) -> np.ndarray:
    """Vectorized GB 11643 check characters for an (n, 17) digit array."""
    total = (first17 * np.array(ID_WEIGHTS)).sum(axis=1) % 11
    return np.array(list(ID_CHECK))[total]


def _ids(region: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """18-character ID numbers from region codes, birth dates and 3-digit sequence numbers."""
    ymd = np.char.replace(birth.astype("datetime64[D]").astype(str), "-", "")
    body = np.char.add(np.char.add(region, ymd), np.char.zfill(seq.astype(str), 3))
    digits = np.frombuffer("".join(body.tolist()).encode(), dtype=np.uint8).reshape(-1, 17) - 48
    return np.char.add(body, _check(digits.astype(np.int64)))


def _phones(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = rng.choice(
        np.array(["135", "136", "137", "138", "139", "150", "151", "158", "159", "186", "189", "177"]), n
    )
    return np.char.add(prefix, np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8))


def _divisions(rng: np.random.Generator, n: int) -> pl.DataFrame:
    from assets.common.paths import REFERENCE_DIR

    div = pl.read_csv(
        REFERENCE_DIR / "shanghai_divisions.csv",
        schema_overrides={
            "committee_code": pl.String,
            "district_code": pl.String,
            "township_code": pl.String,
        },
    )
    idx = rng.integers(0, div.height, n)
    return div[idx.tolist()].select("district_code", "district_name", "township_name", "committee_code")


def generate_people(n_persons: int, seed: int = 7) -> pl.DataFrame:
    """Persons with households: person_id, household_id, name, sex, birth, id18, phone, addresses."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("hh", "role", "age")}
    hh = 0
    count = 0
    while count < n_persons:
        kind = rng.choice(["single", "couple", "family", "family3"], p=[0.25, 0.3, 0.35, 0.1])
        base = int(rng.integers(25, 85))
        members: list[tuple[str, int]] = []
        if kind == "single":
            members = [("head", base)]
        elif kind == "couple":
            members = [("head", base), ("spouse", max(20, base + int(rng.integers(-5, 6))))]
        else:
            head = int(rng.integers(28, 60))
            members = [("head", head), ("spouse", max(22, head + int(rng.integers(-4, 5))))]
            n_kids = int(rng.choice([1, 2], p=[0.6, 0.4]))
            kid_age = max(0, head - int(rng.integers(22, 34)))
            if rng.random() < 0.015 * 5:  # families are ~1/3 of households: ~1.5% of all households twins
                members += [("twin", kid_age), ("twin", kid_age)]
            else:
                members += [("child", max(0, kid_age - 3 * i)) for i in range(n_kids)]
            if kind == "family3":
                members.append(("grand", min(99, head + int(rng.integers(24, 32)))))
        for role, age in members:
            rows["hh"].append(hh)
            rows["role"].append(role)
            rows["age"].append(age)
            count += 1
        hh += 1
    n = count
    hh_arr = np.array(rows["hh"])
    role = np.array(rows["role"])
    age = np.array(rows["age"])
    n_hh = hh
    hh_surname = rng.choice(len(SURNAMES), n_hh, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    own_surname = rng.choice(len(SURNAMES), n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    surname_idx = np.where(np.isin(role, ["spouse", "grand"]), own_surname, hh_surname[hh_arr])
    surname = np.array(SURNAMES)[surname_idx]
    g1 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    g2 = np.array(GIVEN)[rng.integers(0, len(GIVEN), n)]
    two = rng.random(n) < 0.7
    given = np.where(two, np.char.add(g1, g2), g1)
    name = np.char.add(surname, given)
    sex = np.where(rng.random(n) < 0.5, "男", "女")
    sex = np.where(role == "spouse", np.where(np.roll(sex, 1) == "男", "女", "男"), sex)
    day0 = np.datetime64("2026-10-01") - (age * 365.25).astype(int).astype("timedelta64[D]")
    birth = day0 - rng.integers(0, 365, n).astype("timedelta64[D]")
    # Twins share the birth date of the first twin.
    twin = role == "twin"
    twin_idx = np.flatnonzero(twin)
    for i in range(0, len(twin_idx) - 1, 2):
        birth[twin_idx[i + 1]] = birth[twin_idx[i]]
    hh_div = _divisions(rng, n_hh)
    local = rng.random(n) < 0.8
    region = np.where(
        local, np.array(hh_div["district_code"].to_list())[hh_arr], rng.choice(OTHER_REGIONS, n)
    )
    seq_base = rng.integers(0, 499, n) * 2
    seq = seq_base + np.where(sex == "男", 1, 0)
    for i in range(0, len(twin_idx) - 1, 2):  # twins: consecutive registration numbers
        a, b = twin_idx[i], twin_idx[i + 1]
        region[b] = region[a]
        seq[b] = seq[a] + (2 if sex[a] == sex[b] else 1) if seq[a] < 997 else seq[a] - 2
        seq[b] = seq[b] - (seq[b] % 2) + (1 if sex[b] == "男" else 0)
        if seq[b] == seq[a]:
            seq[b] = (seq[a] + 2) % 1000
    ids = _ids(region, birth, seq)
    hh_phone = _phones(rng, n_hh)
    own_phone = _phones(rng, n)
    phone = np.where(
        (role == "child") & (age < 16) | (role == "twin") & (age < 16), hh_phone[hh_arr], own_phone
    )
    phone = np.where((role == "grand") & (rng.random(n) < 0.5), hh_phone[hh_arr], phone)
    road = np.array(ROADS)[rng.integers(0, len(ROADS), n_hh)]
    lane = rng.integers(1, 1500, n_hh).astype(str)
    num = rng.integers(1, 60, n_hh).astype(str)
    room = rng.integers(101, 2205, n_hh).astype(str)
    dist_name = np.array(hh_div["district_name"].to_list())
    hh_addr = np.char.add(
        np.char.add(
            np.char.add(np.char.add(np.char.add("上海市", dist_name), road), np.char.add(lane, "弄")),
            np.char.add(num, "号"),
        ),
        np.char.add(room, "室"),
    )
    moved = rng.random(n_hh) < 0.2
    res_addr = np.where(
        moved,
        np.char.add(
            np.char.add(np.char.add("上海市", dist_name), np.array(ROADS)[rng.integers(0, len(ROADS), n_hh)]),
            np.char.add(rng.integers(1, 900, n_hh).astype(str), "号"),
        ),
        hh_addr,
    )
    return pl.DataFrame(
        {
            "person_id": [f"T{i:07d}" for i in range(n)],
            "household_id": [f"H{h:07d}" for h in hh_arr],
            "role": role,
            "name": name,
            "sex": sex,
            "birth": birth.astype("datetime64[D]"),
            "id18": ids,
            "phone": phone,
            "phone2": _phones(rng, n),
            "household_address": hh_addr[hh_arr],
            "residence_address": res_addr[hh_arr],
            "committee_code": np.array(hh_div["committee_code"].to_list())[hh_arr],
            "committee2": _divisions(rng, n)["committee_code"].to_numpy(),
            "district_code": np.array(hh_div["district_code"].to_list())[hh_arr],
        }
    )


def _typo_digit(rng: np.random.Generator, s: str) -> str:
    i = int(rng.integers(0, 17))
    d = str((int(s[i]) + int(rng.integers(1, 10))) % 10)
    return s[:i] + d + s[i + 1 :]


def _transpose(rng: np.random.Generator, s: str) -> str:
    for _ in range(5):
        i = int(rng.integers(0, 16))
        if s[i] != s[i + 1]:
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    return s


def generate_rows(
    n_records: int,
    seed: int = 7,
    records_per_person: float = 3.0,
    noise: NoiseRates | None = None,
) -> pl.DataFrame:
    """About `n_records` person rows (columns of staging.person_rows plus truth: person_id, household_id,
    noise)."""
    noise = noise or NoiseRates()
    rng = np.random.default_rng(seed + 1)
    n_persons = max(2, int(n_records / records_per_person))
    people = generate_people(n_persons, seed)
    n_p = people.height
    # Records per person: 1 + Poisson, mean records_per_person.
    k = 1 + rng.poisson(max(records_per_person - 1, 0.01), n_p)
    k = np.maximum(1, np.round(k * n_records / k.sum()).astype(int))
    pidx = np.repeat(np.arange(n_p), k)
    n = len(pidx)
    P = {c: people[c].to_numpy()[pidx] for c in people.columns}
    form_i = rng.integers(0, len(FORMS), n)
    profile = np.array([FORMS[i][1] for i in range(len(FORMS))])[form_i]
    form_code = np.array([FORMS[i][0] for i in range(len(FORMS))])[form_i]
    month = rng.integers(1, 11, n)
    period = np.char.add("2026-", np.char.zfill(month.astype(str), 2))
    has = {
        f: np.isin(profile, [p for p, cols in PROFILES.items() if f in cols])
        for f in ("id", "sex", "birth_date", "birth_month", "phone", "hh", "res")
    }
    tags: list[list[str]] = [[] for _ in range(n)]

    def plant(rate: float, eligible: np.ndarray, tag: str) -> np.ndarray:
        hit = eligible & (rng.random(n) < rate)
        for i in np.flatnonzero(hit):
            tags[i].append(tag)
        return hit

    # Names.
    names = P["name"].astype(object)
    for i in np.flatnonzero(plant(noise.name_homophone, np.ones(n, bool), "name_homophone")):
        s = names[i]
        cands = [j for j, ch in enumerate(s) if ch in HOMOPHONES]
        if cands:
            j = cands[int(rng.integers(0, len(cands)))]
            alts = HOMOPHONES[s[j]]
            names[i] = s[:j] + alts[int(rng.integers(0, len(alts)))] + s[j + 1 :]
    for i in np.flatnonzero(plant(noise.name_typo, np.ones(n, bool), "name_typo")):
        s = names[i]
        j = int(rng.integers(1, len(s)))
        names[i] = s[:j] + GIVEN[int(rng.integers(0, len(GIVEN)))] + s[j + 1 :]
    spaced = rng.random(n) < 0.03  # cosmetic: a space inside the name (normalization removes it)
    names = np.where(spaced, np.array([s[0] + " " + s[1:] for s in names], dtype=object), names)

    # ID numbers.
    ids = P["id18"].astype(object)
    blank = plant(noise.id_blank, has["id"], "id_blank")
    old = P["birth"] < np.datetime64("1985-01-01")
    to15 = plant(noise.id_15, has["id"] & ~blank & old, "id_15")
    ids = np.where(to15, np.array([s[:6] + s[8:17] for s in ids], dtype=object), ids)
    body_ok = has["id"] & ~blank & ~to15
    cd = plant(noise.id_check_digit, body_ok, "id_check_digit")
    for i in np.flatnonzero(cd):
        s = ids[i]
        alt = ID_CHECK.replace(s[17], "")
        ids[i] = s[:17] + alt[int(rng.integers(0, len(alt)))]
    tr = plant(noise.id_transposed, body_ok & ~cd, "id_transposed")
    for i in np.flatnonzero(tr):
        ids[i] = _transpose(rng, ids[i])
    sb = plant(noise.id_substituted, body_ok & ~cd & ~tr, "id_substituted")
    for i in np.flatnonzero(sb):
        ids[i] = _typo_digit(rng, ids[i])
    id_number = np.where(has["id"] & ~blank, ids, None)

    # Phones: a person who changed numbers uses the new one from a random month on.
    person_changed = rng.random(n_p) < noise.phone_changed
    change_month = rng.integers(2, 11, n_p)
    changed = person_changed[pidx] & (month >= change_month[pidx])
    for i in np.flatnonzero(changed & has["phone"]):
        tags[i].append("phone_changed")
    phone = np.where(changed, P["phone2"], P["phone"]).astype(object)
    pblank = plant(noise.phone_blank, has["phone"], "phone_blank")
    for i in np.flatnonzero(plant(noise.phone_typo, has["phone"] & ~pblank, "phone_typo")):
        phone[i] = _typo_digit(rng, phone[i] + "000000")[:11]
    phone = np.where(has["phone"] & ~pblank, phone, None)

    # Birth dates.
    birth = P["birth"].astype("datetime64[D]")
    btypo = plant(noise.birth_typo, has["birth_date"], "birth_typo")
    birth = np.where(btypo, birth + rng.choice([-10, -1, 1, 10, 30], n).astype("timedelta64[D]"), birth)
    birth_str = np.datetime_as_string(birth, unit="D").astype(object)
    month_str = np.array([s[:7] + "-01" for s in birth_str], dtype=object)
    birth_date = np.where(has["birth_date"], birth_str, np.where(has["birth_month"], month_str, None))
    birth_precision = np.where(has["birth_date"], "day", np.where(has["birth_month"], "month", None))

    # Addresses.
    variant = plant(noise.address_variant, has["hh"] | has["res"], "address_variant")

    def vary(addr: np.ndarray) -> np.ndarray:
        out = addr.astype(object)
        for i in np.flatnonzero(variant):
            s = out[i].removeprefix("上海市") if rng.random() < 0.5 else out[i].replace("室", "")
            out[i] = s
        return out

    hh_addr = np.where(has["hh"], vary(P["household_address"]), None)
    res_addr = np.where(has["res"], vary(P["residence_address"]), None)
    sex = np.where(has["sex"], P["sex"], None)

    # Committees.
    second = (rng.random(n_p) < noise.second_committee)[pidx] & (rng.random(n) < 0.5)
    for i in np.flatnonzero(second):
        tags[i].append("second_committee")
    committee = np.where(second, P["committee2"], P["committee_code"])

    row_number = np.zeros(n, dtype=np.int64)
    order = np.lexsort((pidx, period, form_code, committee))
    source = np.char.add(np.char.add(np.char.add(np.char.add(committee, "/"), form_code), "/"), period)
    # Row numbers within each (committee, form, period) file.
    src_sorted = source[order]
    starts = np.r_[0, np.flatnonzero(src_sorted[1:] != src_sorted[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    row_number[order] = np.arange(n) - run_start + 2
    source_file = np.char.add(
        np.char.add(
            np.char.add(
                np.char.add(np.char.add(np.char.add(np.char.add(committee, "/"), form_code), "/"), period),
                "/",
            ),
            committee,
        ),
        ".csv",
    )
    record_id = [
        hashlib.sha256(f"{s}#{r}".encode()).hexdigest()[:16]
        for s, r in zip(source_file.tolist(), row_number.tolist(), strict=True)
    ]
    frame = pl.DataFrame(
        {
            "record_id": record_id,
            "source_file": source_file,
            "row_number": row_number,
            "committee_code": committee,
            "district_code": np.array([c[:6] for c in committee]),
            "form_code": form_code,
            "period": period,
            "person_name": names.astype(str),
            "id_number": pl.Series(id_number.tolist(), dtype=pl.String),
            "sex": pl.Series(sex.tolist(), dtype=pl.String),
            "birth_date": pl.Series(birth_date.tolist(), dtype=pl.String),
            "birth_precision": pl.Series(birth_precision.tolist(), dtype=pl.String),
            "phone": pl.Series(phone.tolist(), dtype=pl.String),
            "household_address": pl.Series(hh_addr.tolist(), dtype=pl.String),
            "residence_address": pl.Series(res_addr.tolist(), dtype=pl.String),
            "person_id": P["person_id"],
            "household_id": P["household_id"],
            "noise": pl.Series(tags, dtype=pl.List(pl.String)),
        }
    )
    ids = id_number_frame(frame.select("id_number"), "id_number", "__id")
    status = (
        pl.when(pl.col("id_number").is_null())
        .then(pl.lit("blank"))
        .when(pl.col("__id").is_null())
        .then(pl.lit("malformed"))
        .when(~pl.col("__id__valid"))
        .then(pl.lit("wrong_check_digit"))
        .when(pl.col("id_number").str.len_chars() == 15)
        .then(pl.lit("converted_15"))
        .otherwise(pl.lit("valid"))
    )
    frame = frame.with_columns(ids.select(status.alias("id_status")))
    return frame.with_columns(
        pl.col("birth_date").str.to_date(),
        (pl.col("period") + "-01").str.to_date().alias("period_start"),
    ).sort("record_id")
