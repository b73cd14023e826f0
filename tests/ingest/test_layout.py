"""Header detection, column mapping and row kinds on sheets shaped like real district exports."""

from __future__ import annotations

from assets.ingest.layout import CatalogField, classify_row, find_layout, label_core, load_synonyms

CATALOG = [
    CatalogField(1, "姓名", "text", True),
    CatalogField(2, "公民身份号码", "id_number", True),
    CatalogField(3, "出生日期", "date", False),
    CatalogField(4, "联系电话", "phone", False),
    CatalogField(5, "补贴金额", "integer", True),
]
SYNONYMS = load_synonyms()


def rows(*lines: list[str]) -> list[tuple[int, list[str]]]:
    return list(enumerate(lines, start=1))


def test_label_core_drops_notes_and_full_width() -> None:
    assert label_core("身份证号（18位）") == "身份证号"
    assert label_core(" 联系 电话* ") == "联系电话"
    assert label_core("ＩＤ") == "ID"  # full-width letters


def test_title_row_above_header_is_found_and_columns_mapped() -> None:
    sheet = rows(
        ["XX居委会高龄老人补贴名册（2026年10月）", "", "", "", ""],  # title row above the header
        ["", "", "", "", ""],  # blank row between title and header
        [
            "姓名",
            "身份证号",
            "出生日期",
            "手机号码",
            "补贴金额",
        ],  # 身份证号 / 手机号码: synonyms of the catalog labels
        ["张伟", "310101194001011234", "1940-01-01", "13800138000", "300"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and layout.header_row == 3
    by_label = {c.field_label: c for c in layout.columns}
    assert by_label["公民身份号码"].match == "synonym" and by_label["公民身份号码"].index == 1
    assert by_label["联系电话"].match == "synonym"
    assert by_label["姓名"].element_code == "person_name"
    assert not layout.missing_fields and not layout.extra
    kinds = [classify_row(cells, layout, n) for n, cells in sheet]
    assert kinds == ["title", "blank", "header", None]


def test_missing_and_extra_columns_are_reported_not_fatal() -> None:
    sheet = rows(
        ["姓名", "公民身份号码", "补贴金额", "备注栏"],  # 出生日期 and 联系电话 missing; 备注栏 extra
        ["李娜", "310101194001011234", "300", "新增"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None
    assert {f.field_label for f in layout.missing_fields} == {"出生日期", "联系电话"}
    assert [c.header_label for c in layout.extra] == ["备注栏"]


def test_total_blank_footer_and_repeated_header_rows_are_not_data() -> None:
    sheet = rows(
        ["姓名", "公民身份号码", "出生日期", "联系电话", "补贴金额"],
        ["王芳", "310101194001011234", "", "", "300"],
        ["", " ", "", "", ""],  # blank (spaces only)
        ["合 计", "", "", "", "300"],  # 合计 with an inner space
        ["姓名", "公民身份号码", "出生日期", "联系电话", "补贴金额"],  # header pasted again
        ["填表人：刘洋", "", "审核人：", "", ""],  # footer
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None
    assert [classify_row(c, layout, n) for n, c in sheet] == [
        "header",
        None,
        "blank",
        "total",
        "header",
        "footer",
    ]


def test_no_header_means_no_layout() -> None:
    sheet = rows(["a", "b", "c"], ["1", "2", "3"])  # nothing names a catalog field
    assert find_layout(sheet, CATALOG, SYNONYMS) is None


def test_committee_column_of_a_district_wide_file() -> None:
    sheet = rows(
        ["街镇", "居委会", "姓名", "公民身份号码", "补贴金额"],
        ["南京东路街道", "云南中路居委会", "张伟", "", "1"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and layout.committee_col == 1 and layout.township_col == 0
    assert all(c.index not in (0, 1) for c in layout.columns)
