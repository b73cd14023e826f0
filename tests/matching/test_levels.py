"""Each comparison level on inline pairs, through the SQL the engine compiles."""

from __future__ import annotations

import pytest

from assets.matching import MatchEngine
from assets.matching.transforms import id_to_18
from tests.matching.conftest import records, valid_id

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt

ID_A = valid_id("31010419800512123")  # 310104198005121234-like, valid
ID_A15 = ID_A[:6] + ID_A[8:17]  # the same person's legacy 15-digit number
WRONG_CHECK = ID_A[:17] + ("0" if ID_A[17] != "0" else "1")
TRANSPOSED = ID_A[:10] + ID_A[11] + ID_A[10] + ID_A[12:]  # month digits 0/5 swapped: invalid check digit
SUBSTITUTED = ID_A[:14] + str((int(ID_A[14]) + 3) % 10) + ID_A[15:]
TWIN = valid_id(ID_A[:14] + f"{(int(ID_A[14:17]) + 2) % 1000:03d}")  # next registration number, valid


@pytest.fixture(scope="module")
def levels(resident_spec):
    rows = [
        {"record_id": "a", "person_name": "张伟", "id_number": ID_A, "birth_date": "1980-05-12", "phone": "13800000001"},
        {"record_id": "a15", "person_name": "张 伟", "id_number": ID_A15},  # 15-digit form, spaced name
        {"record_id": "chk", "person_name": "章伟", "id_number": WRONG_CHECK},  # homophone + wrong check digit
        {"record_id": "tr", "person_name": "张玮", "id_number": TRANSPOSED},
        {"record_id": "sub", "person_name": "张伟国", "id_number": SUBSTITUTED, "birth_date": "1980-05-01"},
        {"record_id": "twin", "person_name": "张军", "id_number": TWIN, "birth_date": "1980-05-12",
         "phone": "13800000001"},  # twin: same birth date and phone, a different valid ID
        {"record_id": "far", "person_name": "李娜", "id_number": "not an id", "birth_date": "1981-04-30",
         "phone": "13800000002"},
    ]  # fmt: skip
    engine = MatchEngine(resident_spec, env=SYNTHETIC_ENV)
    engine.load(records(rows))
    pairs = [("a", "a15"), ("a", "chk"), ("a", "tr"), ("a", "sub"), ("a", "twin"), ("a", "far")]
    out = engine.compare(pairs)
    engine.close()
    return {(r["record_id_l"], r["record_id_r"]): r for r in out.to_dicts()}


def test_planted_ids_are_what_the_tests_claim():
    assert id_to_18(ID_A15) == ID_A
    assert id_to_18(WRONG_CHECK) == WRONG_CHECK and WRONG_CHECK != ID_A
    assert TRANSPOSED != ID_A and len(TRANSPOSED) == 18
    assert TWIN != ID_A and TWIN[:14] == ID_A[:14]


def test_id_levels(levels):
    assert levels[("a", "a15")]["id_number"] == "exact"  # 15-digit legacy form widened to 18
    assert levels[("a", "chk")]["id_number"] == "id_typo"  # only the check digit differs
    assert levels[("a", "tr")]["id_number"] == "id_typo"  # transposed digits
    assert levels[("a", "sub")]["id_number"] == "id_typo"  # one substituted digit
    assert levels[("a", "twin")]["id_number"] == "id_both_valid"  # twins: both valid, must not match
    assert levels[("a", "far")]["id_number"] == "null"  # malformed -> missing, not a disagreement


def test_name_levels(levels):
    assert levels[("a", "a15")]["name"] == "exact"  # the space is normalized away
    assert levels[("a", "chk")]["name"] == "pinyin_equal"  # 张伟 / 章伟 homophones
    assert levels[("a", "tr")]["name"] == "pinyin_equal"  # 伟 / 玮
    assert levels[("a", "sub")]["name"] == "levenshtein_max_1"  # 张伟 / 张伟国: one inserted character
    assert levels[("a", "far")]["name"] == "else"


def test_date_and_phone_levels(levels):
    assert levels[("a", "twin")]["birth_date"] == "exact"
    assert levels[("a", "sub")]["birth_date"] == "same_month"
    assert levels[("a", "far")]["birth_date"] == "within_a_year"
    # phone, addresses and committee are one household comparison (correlated evidence counts once)
    assert levels[("a", "twin")]["household"] == "same_phone"
    assert levels[("a", "far")]["household"] == "else"  # phones one digit apart: no shared home
    assert levels[("a", "a15")]["household"] == "null"  # nothing known about the home
    # birth date of a record without one falls back to the birth date in its valid ID number
    assert levels[("a", "a15")]["birth_date"] == "exact"


def test_twins_do_not_match(resident_spec):
    """Twins share surname, birth date, phone and address; their valid IDs differ by one digit."""
    shared = {
        "birth_date": "2001-03-03",
        "phone": "13912345678",
        "household_address": "上海市黄浦区南京东路1弄2号",
    }
    a = valid_id("31010120010303001")
    b = valid_id("31010120010303003")
    rows = []
    for i in range(3):
        rows.append({"record_id": f"x{i}", "person_name": "王子涵", "id_number": a, "sex": "男", **shared})
        rows.append({"record_id": f"y{i}", "person_name": "王子轩", "id_number": b, "sex": "男", **shared})
    # a few unrelated people so that EM has non-matches to learn from
    for i in range(30):
        rows.append({"record_id": f"z{i}", "person_name": f"李{'娜明华强伟芳'[i % 6]}{i}", "id_number":
                     valid_id(f"3101011990010{i:02d}01"[:17]), "phone": f"1370000{i:04d}"})  # fmt: skip
    engine = MatchEngine(resident_spec, env=SYNTHETIC_ENV)
    result = engine.resolve(records(rows))
    engine.close()
    ids = dict(zip(result.assignments["record_id"], result.assignments["entity_id"], strict=True))
    assert len({ids["x0"], ids["x1"], ids["x2"]}) == 1
    assert len({ids["y0"], ids["y1"], ids["y2"]}) == 1
    assert ids["x0"] != ids["y0"]
