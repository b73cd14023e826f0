"""Tests for assets.ingest.normalize: one tiny inline column per rule, each planted defect commented.

Expected values are worked out by hand (check digits in the comments: sum of digit x weight, mod 11, then
"10X98765432"), never by calling the code under test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest

from assets.ingest import normalize as nz

D = dt.date


def run(func: Callable[[pl.Expr], pl.Expr], values: list[str | None]) -> list:
    """Apply a normalizer to a Utf8 column; struct results come back as dicts."""
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    return frame.select(func(pl.col("v")).alias("out")).to_series().to_list()


def pairs(func: Callable[[pl.Expr], pl.Expr], values: list[str | None]) -> list[tuple]:
    return [(row["value"], row["flag"]) for row in run(func, values)]


# ------------------------------------------------------------------------------------------------------- text
def test_normalize_text() -> None:
    got = run(
        nz.normalize_text,
        [
            "１２３ＡＢＣ",  # full-width digits and letters
            "\u3000 张三\xa0\xa0 李四 ",  # ideographic space, no-break spaces, padding
            "a \t\n b",  # mixed whitespace run
            "\ufeff居委会\u200b",  # BOM and zero-width space
            "",  # empty
            "\u3000 ",  # whitespace only
            None,
        ],
    )
    assert got == ["123ABC", "张三 李四", "a b", "居委会", None, None, None]


def test_normalize_name() -> None:
    got = run(
        nz.normalize_name,
        [
            "张 伟",  # space between CJK characters
            " 李  娜 ",  # padding and a double space
            "欧阳 小 明",  # three gaps: the non-overlapping regex needs its second pass
            "John  Smith",  # Latin name keeps one space
            "ＬＩ　Ｌｅｉ",  # full-width Latin letters and ideographic space
            "阿卜杜拉·买买提",  # canonical middle dot stays
            "阿卜杜拉‧买买提",  # U+2027 hyphenation point
            "阿卜杜拉•买买提",  # U+2022 bullet
            "阿卜杜拉・买买提",  # U+30FB katakana middle dot
            "阿卜杜拉 · 买买提",  # spaces around the dot
            "阿卜杜拉.买买提",  # full stop typed for the dot
            "",
            None,
        ],
    )
    assert got == [
        "张伟",
        "李娜",
        "欧阳小明",
        "John Smith",
        "LI Lei",
        *["阿卜杜拉·买买提"] * 6,
        None,
        None,
    ]


# ------------------------------------------------------------------------------------------------- ID numbers
# Check digits by hand, weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
# 11010519491231002  -> 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2  -> X  (the GB 11643 example)
# 31010119500101123  -> 21+9+0+5+0+4+2+9+30+0+0+9+0+5+8+8+6 = 116;   116 mod 11 = 6  -> 6
# 31010119500101124  -> 116 - 6 + 8 = 118;                            118 mod 11 = 8  -> 4
# 31010120240229001  -> 21+9+0+5+0+4+4+0+12+12+0+18+20+45+0+0+2 = 152; 152 mod 11 = 9 -> 3
# 31010120260229001  -> as above with 6x3 instead of 4x3: 158;         158 mod 11 = 4  -> 8
# 31010118991231001  -> 21+9+0+5+0+4+2+8+54+27+7+18+30+5+0+0+2 = 192;  192 mod 11 = 5  -> 7
# 31010120270101001  -> 21+9+0+5+0+4+4+0+12+21+0+9+0+5+0+0+2 = 92;    92 mod 11 = 4   -> 8
ID_CASES: list[tuple[str | None, str | None, str, dt.date | None, str | None]] = [
    # raw, value, status, birth_date, sex
    ("11010519491231002X", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # digit 17 = 2, even
    ("11010519491231002x", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # lowercase x
    (
        "１１０１０５１９４９１２３１００２Ｘ",
        "11010519491231002X",
        "valid",
        D(1949, 12, 31),
        "女",
    ),  # full-width
    (" 110105-19491231-002X ", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # spaces and dashes
    ("310101500101123", "310101195001011236", "converted_15", D(1950, 1, 1), "男"),  # 15-digit legacy, 3 odd
    ("310101500101124", "310101195001011244", "converted_15", D(1950, 1, 1), "女"),  # 15-digit legacy, 4 even
    ("110105194912310021", "110105194912310021", "wrong_check_digit", D(1949, 12, 31), "女"),  # should end X
    ("31010120240229001x", "31010120240229001X", "wrong_check_digit", D(2024, 2, 29), "男"),  # should end 3
    ("310101202402290013", "310101202402290013", "valid", D(2024, 2, 29), "男"),  # leap day exists in 2024
    ("310101202602290018", "310101202602290018", "invalid_date", None, "男"),  # no 2026-02-29, check right
    ("310101189912310017", "310101189912310017", "invalid_date", None, "男"),  # born before 1900
    ("310101209901010014", "310101209901010014", "invalid_date", None, "男"),  # born after today
    ("3101011950010112", "3101011950010112", "malformed", None, None),  # 16 digits
    ("1101051949123100X2", "1101051949123100X2", "malformed", None, None),  # X not in last place
    ("不详", None, "placeholder", None, None),  # placeholder text: no number, not a malformed one
    ("无", None, "placeholder", None, None),  # same
    ("/", None, "placeholder", None, None),  # a slash in the box
    ("000000000000000000", None, "placeholder", None, None),  # all zeros: shared by hundreds
    ("111111111111111111", None, "placeholder", None, None),  # one digit repeated
    ("123456789012345678", None, "placeholder", None, None),  # a counting dummy
    ("11010519491231002×", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # multiplication sign for X
    ("11010519491231002\u0445", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # Cyrillic х for X
    ("11010519491231002\u03a7", "11010519491231002X", "valid", D(1949, 12, 31), "女"),  # Greek Χ for X
    ("", None, "blank", None, None),
    ("  ", None, "blank", None, None),  # whitespace only
    (None, None, "blank", None, None),
]


@pytest.mark.parametrize(("raw", "value", "status", "birth", "sex"), ID_CASES)
def test_normalize_id_number(
    raw: str | None, value: str | None, status: str, birth: dt.date | None, sex: str | None
) -> None:
    (got,) = run(nz.normalize_id_number, [raw])
    assert got == {"value": value, "status": status, "birth_date": birth, "sex": sex}


def test_normalize_id_number_birth_window_is_configurable() -> None:
    # 1949-12-31 is fine by default but outside a window starting in 1950
    (got,) = run(lambda e: nz.normalize_id_number(e, min_birth_date=D(1950, 1, 1)), ["11010519491231002X"])
    assert got["status"] == "invalid_date" and got["birth_date"] is None


def test_id_check_digit_vectorized() -> None:
    got = run(
        nz.id_check_digit,
        [
            "11010519491231002",
            "31010119500101123",
            "31010120240229001",
            "1101051949123100",
            "1101051949123100X",
            None,
        ],
    )
    # last three: 16 digits, a letter, null -> no check digit
    assert got == ["X", "6", "3", None, None, None]


def test_id_check_digit_scalar() -> None:
    assert nz.id_check_digit_scalar("11010519491231002") == "X"
    assert nz.id_check_digit_scalar("31010120260229001") == "8"
    with pytest.raises(ValueError, match="17 ASCII digits"):
        nz.id_check_digit_scalar(
            "１１０１０５１９４９１２３１００２"
        )  # full-width digits are not accepted here


def test_check_digit_vectorized_agrees_with_scalar() -> None:
    first17 = [
        f"{310101 + i:06d}{1930 + i:04d}{(i % 12) + 1:02d}{(i % 28) + 1:02d}{i:03d}" for i in range(60)
    ]
    assert run(nz.id_check_digit, first17) == [nz.id_check_digit_scalar(s) for s in first17]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("11010519491231002X", True),
        ("310101202402290013", True),  # leap day
        ("11010519491231002x", False),  # not canonical: lowercase x
        ("110105194912310021", False),  # wrong check digit
        ("310101202602290018", False),  # impossible date with a correct check digit
        ("310101189912310017", False),  # before 1900
        ("310101500101123", False),  # 15-digit legacy form
        ("", False),
        (None, False),
    ],
)
def test_is_valid_id(value: str | None, expected: bool) -> None:
    assert nz.is_valid_id(value) is expected


# ------------------------------------------------------------------------------------------------------ dates
def test_parse_date_spellings() -> None:
    # Excel serial of 2026-03-05: 1899-12-30 -> 1900-01-01 is 2 days; 1900..2025 is 126 years with 31 leap years
    # (1904..2024; 1900 is not leap) = 46021 days; Jan 31 + Feb 28 + 4 = 63 -> 2 + 46021 + 63 = 46086.
    values = [
        "2026-03-05",
        "2026-3-5",  # no zero padding
        "2026/3/5",
        "2026.3.5",
        "2026年3月5日",
        "20260305",  # compact
        "46086",  # Excel serial
        "46086.0",  # Excel serial read as a float
        "46086.75",  # serial with a time of day
        "2026-03-05 00:00:00",  # Excel date cell as datetime text
        "2026-03-05T08:30:00",  # ISO datetime
        "２０２６－０３－０５",  # full-width digits and dashes
        "２０２６年３月５日",  # full-width digits with 年月日
        " 2026 / 3 / 5 ",  # padding and spaces around separators
    ]
    assert pairs(nz.parse_date, values) == [(D(2026, 3, 5), None)] * len(values)


def test_parse_date_two_digit_years_take_the_century_of_the_run_date() -> None:
    as_of = D(2026, 11, 29)
    got = pairs(
        lambda e: nz.parse_date(e, as_of=as_of),
        [
            "85.3.7",  # two-digit year with dots
            "85-03-07",  # with dashes
            "85/3/7",  # with slashes
            "85年3月7日",  # with 年月日
            "20.3.7",  # 2020-03-07 is before the run date: this century
            "4.1.11",  # one digit: 2004 written as y % 100
            "26.11.29",  # the run date itself
            "26.11.30",  # one day after the run date: read as 1926, never a future date
            "85.2.30",  # impossible in either century
            "850307",  # six bare digits: a year-month 8503-07 would be out of range; not read as 1985-03-07
        ],
    )
    flag = "two_digit_year"
    assert got == [
        *[(D(1985, 3, 7), flag)] * 4,
        (D(2020, 3, 7), flag),
        (D(2004, 1, 11), flag),
        (D(2026, 11, 29), flag),
        (D(1926, 11, 30), flag),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
    ]
    # ingestion's text form keeps the date (the flag says how it was read)
    got = run(lambda e: nz.normalize_by_type(e, "date", as_of=as_of), ["85.3.7"])
    assert got == [{"value": "1985-03-07", "flag": flag}]


def test_parse_date_edge_cases() -> None:
    got = pairs(
        nz.parse_date,
        [
            "2024-02-29",  # leap day, real
            "2026-02-29",  # not a leap year
            "20260229",  # same, compact
            "2026年2月30日",  # impossible
            "2026-13-01",  # month 13
            "1000",  # 4 digits, no year: a serial only in a column of serials (see the frame test)
            "80001",  # serial beyond 80000
            "123",  # too short for a serial
            "202603",  # year-month: a partial date, not a full one
            "待定",  # text
            "",
            None,
        ],
    )
    assert got == [
        (D(2024, 2, 29), None),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "unparsed_date"),
        (None, "partial_date"),
        (None, "unparsed_date"),
        (None, None),
        (None, None),
    ]


def test_parse_year_month() -> None:
    got = run(
        nz.parse_year_month,
        [
            "1950-03",
            "1950/3",  # one-digit month
            "1950年3月",
            "195003",  # compact
            "1950.03",
            "１９５０年３月",  # full-width
            "1950-03-17",  # full date: the day is dropped
            "1950-03-17 00:00:00",  # Excel date cell
            "1950-13",  # no month 13
            "2026-02-30",  # full date that does not exist
            "",
            None,
        ],
    )
    month = {"value": D(1950, 3, 1), "text": "1950-03", "flag": None}
    bad = {"value": None, "text": None, "flag": "unparsed_year_month"}
    blank = {"value": None, "text": None, "flag": None}
    assert got == [month] * 8 + [bad] * 2 + [blank] * 2
    # a year alone is no month: kept as the year, flagged, never read as Excel serial 1950 (1905-05-03)
    assert run(nz.parse_year_month, ["1950"]) == [{"value": None, "text": "1950", "flag": "partial_date"}]


# ------------------------------------------------------------------------------------------ phone, sex, bool
def test_normalize_phone() -> None:
    got = pairs(
        nz.normalize_phone,
        [
            "13800138000",
            "138 0013 8000",  # spaces
            "138-0013-8000",  # dashes
            "+86 138 0013 8000",  # country code
            "0086-13800138000",
            "8613800138000",  # 86 without plus
            "１３８００１３８０００",  # full-width digits
            "021-62345678",  # Shanghai landline
            "(021) 6234.5678",  # parentheses and a dot
            "（０２１）６２３４５６７８",  # full-width parentheses and digits
            "62345678",  # landline without area code
            "+86 21 6234 5678",  # international landline
            "12800138000",  # 12x is not a mobile prefix
            "1380013800",  # 10 digits
            "010-62345678",  # Beijing landline: not ours
            "01234567",  # 8 digits starting 0 is no Shanghai number
            "无",  # text
            "",
            None,
        ],
    )
    mobile, landline = ("13800138000", None), ("02162345678", None)
    assert got == [mobile] * 7 + [landline] * 5 + [
        ("12800138000", "unparsed_phone"),
        ("1380013800", "unparsed_phone"),
        ("01062345678", "unparsed_phone"),
        ("01234567", "unparsed_phone"),
        ("无", "unparsed_phone"),
        (None, None),
        (None, None),
    ]


def test_normalize_sex() -> None:
    got = pairs(
        nz.normalize_sex, ["男", "女", "男性", "女性", " M ", "f", "1", "2", "Ｆ", "未知", "3", "", None]
    )
    assert got == [
        *[("男", None), ("女", None)] * 4,  # 男/女, 男性/女性, M/f (case, padding), 1/2
        ("女", None),  # full-width F
        ("未知", "unparsed_sex"),
        ("3", "unparsed_sex"),
        (None, None),
        (None, None),
    ]


def test_parse_bool() -> None:
    yes = ["是", "Y", "y", "√", "有", "true", "TRUE", "1", "Ｙ"]  # lowercase, full-width Y
    no = ["否", "N", "n", "×", "无", "false", "0"]
    got = pairs(nz.parse_bool, [*yes, *no, "也许", "", None])
    assert got == [(True, None)] * len(yes) + [(False, None)] * len(no) + [
        (None, "unparsed_bool"),
        (None, None),
        (None, None),
    ]


# ---------------------------------------------------------------------------------------------------- numbers
NUMBER_INPUTS = [
    "42",
    "1,200",  # thousands separator
    "１，２００元",  # full-width digits and comma, unit 元
    "12人",  # unit 人
    "30岁",  # unit 岁
    " 8 ",  # padding
    "12.0",  # Excel numeric cell
    "-7",
    "+3",
    "−3",  # U+2212 minus sign
    "12.5",  # a fraction
    "1,2",  # comma in the wrong place: not a thousands separator
    "不详",  # unknown
    ".",  # no digit at all
    "99999999999999999999",  # beyond Int64
    "",
    None,
]


def test_parse_integer() -> None:
    assert pairs(nz.parse_integer, NUMBER_INPUTS) == [
        (42, None),
        (1200, None),
        (1200, None),
        (12, None),
        (30, None),
        (8, None),
        (12, None),
        (-7, None),
        (3, None),
        (-3, None),
        (None, "not_an_integer"),
        (None, "not_a_number"),
        (None, "not_a_number"),
        (None, "not_a_number"),
        (None, "not_a_number"),
        (None, None),
        (None, None),
    ]


def test_parse_decimal() -> None:
    got = pairs(nz.parse_decimal, [*NUMBER_INPUTS, "1,234.50元", "007.500", ".5", "-0.00"])
    assert got == [
        (42.0, None),
        (1200.0, None),
        (1200.0, None),
        (12.0, None),
        (30.0, None),
        (8.0, None),
        (12.0, None),
        (-7.0, None),
        (3.0, None),
        (-3.0, None),
        (12.5, None),
        (None, "not_a_number"),
        (None, "not_a_number"),
        (None, "not_a_number"),
        (1e20, None),
        (None, None),
        (None, None),
        (1234.5, None),
        (7.5, None),
        (0.5, None),
        (0.0, None),
    ]


# --------------------------------------------------------------------------------------------------- dispatch
@pytest.mark.parametrize(
    ("field_type", "raw", "expected"),
    [
        ("text", ["  ＡＢＣ　居委 ", ""], [("ABC 居委", None), (None, None)]),
        (
            "id_number",
            ["310101500101123", "110105194912310021", "abc", "11010519491231002x"],
            [
                ("310101195001011236", None),  # converted_15 is a successful normalization
                ("110105194912310021", "wrong_check_digit"),  # kept as delivered
                ("ABC", "malformed"),
                ("11010519491231002X", None),
            ],
        ),
        (
            "date",
            ["2026年3月5日", "46086", "2026-02-30 "],
            [("2026-03-05", None)] * 2 + [("2026-02-30", "unparsed_date")],
        ),
        ("year_month", ["1950年3月", "1950"], [("1950-03", None), ("1950", "partial_date")]),
        (
            "phone",
            ["+86 138 0013 8000", "6234 5678", "无"],
            [("13800138000", None), ("02162345678", None), ("无", "unparsed_phone")],
        ),
        ("sex", ["女性", "未知"], [("女", None), ("未知", "unparsed_sex")]),
        (
            "integer",
            ["1,200人", "12.5", "不 详"],
            [("1200", None), ("12.5", "not_an_integer"), ("不 详", "not_a_number")],
        ),
        (
            "decimal",
            ["-0012.500", "1,234.5元", "约3"],
            [("-12.5", None), ("1234.5", None), ("约3", "not_a_number")],
        ),
        (
            "bool",
            ["√", "×", "也许", None],
            [("是", None), ("否", None), ("也许", "unparsed_bool"), (None, None)],
        ),
    ],
)
def test_normalize_by_type(field_type: str, raw: list[str | None], expected: list[tuple]) -> None:
    assert pairs(lambda e: nz.normalize_by_type(e, field_type), raw) == expected


def test_normalize_by_type_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown field_type 'money'"):
        nz.normalize_by_type(pl.col("v"), "money")


def test_normalize_frame_by_type_keeps_order_and_row_alignment() -> None:
    long = pl.DataFrame(
        {
            "record_id": ["r1", "r1", "r1", "r2", "r2", "r2", "r3"],
            "field_type": [
                "date",
                "日期",
                "phone",
                "date",
                None,
                "bool",
                "sex",
            ],  # 日期 via alias; None: extra column
            "value_raw": ["2026.3.5", "20240229", "62345678", "2026-02-29", "  备注\u3000一 ", "有", "F"],
        }
    )
    got = nz.normalize_frame_by_type(long, type_aliases={"日期": "date"}).collect()
    assert got.columns == ["record_id", "field_type", "value_raw", "value", "value_flag"]
    assert got["record_id"].to_list() == long["record_id"].to_list()  # input order kept
    assert got["field_type"].to_list() == long["field_type"].to_list()  # type column untouched
    assert list(zip(got["value"], got["value_flag"], strict=True)) == [
        ("2026-03-05", None),
        ("2024-02-29", None),
        ("02162345678", None),
        ("2026-02-29", "unparsed_date"),  # not a leap year
        ("备注 一", None),
        ("是", None),
        ("女", None),
    ]


def test_normalize_frame_by_type_flags_unknown_types_and_stays_lazy() -> None:
    long = pl.LazyFrame(
        {
            "field_type": ["date", "金额", "integer"],  # 金额 is no internal type
            "value_raw": ["2026-03-05", " １２ 元", "3人"],
        }
    )
    out = nz.normalize_frame_by_type(long, value_name="v", flag_name="f")
    assert isinstance(out, pl.LazyFrame)
    assert out.collect().select("v", "f").rows() == [
        ("2026-03-05", None),
        ("12 元", "unknown_field_type"),  # kept as normalized text, not dropped
        ("3", None),
    ]


def test_normalize_frame_by_type_empty_input() -> None:
    empty = pl.DataFrame(schema={"field_type": pl.String, "value_raw": pl.String})
    got = nz.normalize_frame_by_type(empty).collect()
    assert got.height == 0
    assert got.schema["value"] == pl.String and got.schema["value_flag"] == pl.String


def test_lazy_schema_is_known_without_running() -> None:
    """The lead builds lazy plans: declared return dtypes must match what the batches produce."""
    lazy = pl.LazyFrame({"v": ["2026-03-05", "x"]}).select(
        d=nz.parse_date(pl.col("v")),
        i=nz.normalize_id_number(pl.col("v")),
        n=nz.parse_integer(pl.col("v")),
        t=nz.normalize_by_type(pl.col("v"), "decimal"),
    )
    schema = lazy.collect_schema()
    assert schema["d"] == pl.Struct({"value": pl.Date, "flag": pl.String})
    assert schema["i"] == pl.Struct(
        {"value": pl.String, "status": pl.String, "birth_date": pl.Date, "sex": pl.String}
    )
    assert lazy.collect().schema == schema
