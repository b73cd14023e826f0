"""The engine reads raw civil data as ingestion does: one set of normalizers for both."""

from __future__ import annotations

import datetime as dt

import polars as pl

from assets.common.civil_text import address, person_name, to_simplified
from assets.matching import MatchEngine, parse_spec
from tests.matching.conftest import valid_id

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt

ID = valid_id("31010419800512123")
FULL_WIDTH = ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))


def _features(column: str, transform: str, values: list[str | None], *companions: str) -> pl.DataFrame:
    """The features the engine prepares for `values` (companions listed are kept as golden attributes)."""
    spec = parse_spec(
        {
            "entity": "t",
            "record_id": "rid",
            "features": {"f": {"column": column, "transform": transform}},
            "golden": {"attributes": [{"name": c, "column": f"f__{c}"} for c in companions]},
            "blocking": [{"name": "f", "keys": ["f"]}],
            "comparisons": [{"name": "f", "feature": "f", "levels": [{"kind": "exact"}, {"kind": "else"}]}],
            "threshold": {"match_probability": 0.9},
        }
    )
    frame = pl.DataFrame(
        {"rid": [str(i) for i in range(len(values))], column: values},
        schema={"rid": pl.String, column: pl.String},
    )
    engine = MatchEngine(spec, env=SYNTHETIC_ENV)
    engine.load(frame)
    out = engine.con.sql("SELECT * EXCLUDE (__rid, __new) FROM __rec ORDER BY __rid").pl()
    engine.close()
    return out


def test_id_numbers_in_every_spelling():
    legacy = ID[:6] + ID[8:17]  # the same person's 15-digit number
    raw = [ID, FULL_WIDTH, f"{ID[:6]} {ID[6:14]}-{ID[14:]}", legacy, ID[:17] + "0" if ID[17] != "0" else ID[:17] + "1",
           "not an id", None]  # fmt: skip
    out = _features("id_number", "id_number", raw, "valid", "birth")
    assert out["f"].to_list()[:4] == [ID] * 4  # full-width, spaces/dashes, 15 → 18 digits
    assert out["f__valid"].to_list() == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]  # planted: wrong check digit
    assert out["f__birth"][0] == dt.date(1980, 5, 12)
    assert out["f"][5] is None  # malformed reads as missing, not as a disagreement


def test_lowercase_x_is_the_check_character():
    body = next(b for b in (f"31010119900101{i:03d}" for i in range(200)) if valid_id(b).endswith("X"))
    out = _features("id_number", "id_number", [valid_id(body).lower()], "valid")
    assert out["f"][0] == valid_id(body) and out["f__valid"][0]


def test_dates_in_every_form_ingestion_reads():
    raw = [
        "1980-05-12",
        "1980/5/12",
        "1980年5月12日",
        "19800512",
        "１９８０－０５－１２",
        "29353",
        "1980年5月",
        None,
    ]
    out = _features("birth_date", "date", raw)["f"].to_list()
    assert out[:6] == [dt.date(1980, 5, 12)] * 6  # ISO, slashes, Chinese, compact, full-width, Excel serial
    assert out[6] == dt.date(1980, 5, 1)  # 出生年月: the month
    assert out[7] is None


def test_sex_and_phone():
    sexes = _features("sex", "sex", ["男", "女", "1", "2", "M", "f", "男性", None])["f"].to_list()
    assert sexes == ["男", "女", "男", "女", "男", "女", "男", None]
    phones = [
        "+86 138-0013-8000",
        "0086 13800138000",
        "13800138000",
        "021-6432 1234",
        "64321234",
        "86-21-64321234",
    ]
    out = _features("phone", "phone", phones)["f"].to_list()
    assert out == ["13800138000"] * 3 + ["02164321234"] * 3  # 021 landline with and without the area code


def test_names_traditional_spaced_and_minority_dots():
    out = person_name(
        pl.Series(["張 偉", "歐陽明輝", "阿布都热合曼‧买买提", "阿布都热合曼・买买提", "ｌｉ ｍｉｎｇ", " "])
    )
    assert out.to_list() == ["张伟", "欧阳明辉", "阿布都热合曼·买买提", "阿布都热合曼·买买提", "LIMING", None]
    assert to_simplified(pl.Series(["黃浦區"])).to_list() == ["黄浦区"]
    # the pinyin companion is toneless and equal for homophones, on simplified text
    out = _features("person_name", "name", ["張偉", "章伟"], "py")
    assert out["f__py"].to_list() == ["zhangwei", "zhangwei"]


def test_addresses_without_prefixes_in_one_form():
    raw = ["上海市黄浦区南京东路街道南京东路１衖２號３０１室", "黄浦区南京东路1弄2号301", "南京东路1弄2号301",
           "浦东新区张杨路100号5幢", "张杨路100号5栋", "河南省信阳市浉河区临汾路369号"]  # fmt: skip
    out = address(pl.Series(raw), ("上海市",)).to_list()
    assert out[0] == out[1] == out[2] == "南京东路1弄2号301"
    assert out[3] == out[4] == "张杨路100号5号"
    assert out[5] == "临汾路369号"


def test_addresses_municipality_without_shi_and_building_room_forms():
    raw = [
        "上海徐汇区漕溪北路4号501室",  # 上海 written without 市: still a prefix before a district
        "上海市徐汇区漕溪北路4-501",  # building-room as a bare a-b
        "徐汇区漕溪北路4号-501室",  # 号-
        "漕溪北路4号楼501",  # 号楼
        "漕溪北路4栋501",  # 栋
        "漕溪北路4号501",  # the canonical form
        "上海路12号",  # a road named 上海路: no district follows, so nothing is stripped
        "南京东路1-2-301",  # lane-building-room: not read as building-room
        "南京东路1弄2-301",  # after 弄 a bare a-b is building-room
    ]
    out = address(pl.Series(raw), ("上海市",)).to_list()
    assert out[:6] == ["漕溪北路4号501"] * 6
    assert out[6:] == ["上海路12号", "南京东路1-2-301", "南京东路1弄2号301"]
