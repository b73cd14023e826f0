"""Stacked headers, partial headers, sign-off and template rows, and the layout rules file."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.ingest.layout import CatalogField, classify_row, find_layout, load_synonyms
from assets.ingest.rules import LayoutRulesError, load_layout_rules

CATALOG = [
    CatalogField(1, "序号", "integer", False),
    CatalogField(2, "姓名", "text", True),
    CatalogField(3, "公民身份号码", "id_number", True),
    CatalogField(4, "联系电话", "phone", False),
    CatalogField(5, "监护人姓名", "text", False),
    CatalogField(6, "监护人电话", "phone", False),
]
SYNONYMS = load_synonyms()


def rows(*lines: list[str]) -> list[tuple[int, list[str]]]:
    return list(enumerate(lines, start=1))


def test_two_row_header_without_merge_information_is_combined() -> None:
    sheet = rows(
        [
            "序号",
            "姓名",
            "身份证号",
            "联系电话",
            "监护人",
            "",
        ],  # 一级表头: 监护人 heads two columns, written once
        ["", "", "", "", "姓名", "电话"],  # 二级表头 (a CSV export: merges are gone)
        ["1", "张伟", "110101194001011231", "13800138000", "张小伟", "13900139000"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and (layout.first_row, layout.header_row) == (1, 2)
    assert layout.header_cells == ["序号", "姓名", "身份证号", "联系电话", "监护人/姓名", "监护人/电话"]
    assert {c.header_label: c.field_label for c in layout.columns}["监护人/姓名"] == "监护人姓名"
    assert {c.header_label: c.field_label for c in layout.columns}[
        "姓名"
    ] == "姓名"  # not taken by 监护人/姓名
    assert not layout.missing_fields


def test_search_does_not_stop_at_a_partial_header() -> None:
    # planted: row 2 alone names half the fields (enough to stop the search), row 3 completes it
    sheet = rows(
        ["困难老人名册", "", "", "", "", ""],
        ["序号", "姓名", "身份证号", "联系方式", "监护人", ""],
        ["", "", "", "手机", "姓名", "电话"],
        ["1", "张伟", "110101194001011231", "13800138000", "张小伟", "13900139000"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and (layout.first_row, layout.header_row) == (2, 3)
    assert [classify_row(c, layout, n) for n, c in sheet] == ["title", "header", "header", None]
    assert not layout.missing_fields


def test_three_row_header_with_merges() -> None:
    sheet = rows(
        ["序号", "姓名", "身份证号", "联系信息", "", ""],  # 联系信息 merged over D1:F1
        ["", "", "", "本人", "监护人", ""],  # 监护人 merged over E2:F2
        ["", "", "", "联系电话", "姓名", "电话"],
        ["1", "张伟", "110101194001011231", "13800138000", "张小伟", "13900139000"],
    )
    merges = [(1, 0, 3, 0), (1, 1, 3, 1), (1, 2, 3, 2), (1, 3, 1, 5), (2, 3, 2, 3), (2, 4, 2, 5)]
    layout = find_layout(sheet, CATALOG, SYNONYMS, merges)
    assert layout is not None and (layout.first_row, layout.header_row) == (1, 3)
    assert layout.header_cells[3:] == [
        "联系信息/本人/联系电话",
        "联系信息/监护人/姓名",
        "联系信息/监护人/电话",
    ]
    fields = {c.index: c.field_label for c in layout.columns}
    assert fields == {
        0: "序号",
        1: "姓名",
        2: "公民身份号码",
        3: "联系电话",
        4: "监护人姓名",
        5: "监护人电话",
    }


def test_a_data_row_under_a_complete_header_is_not_taken_for_a_header_row() -> None:
    sheet = rows(
        ["序号", "姓名", "身份证号", "联系电话", "监护人姓名", "监护人电话"],
        ["1", "张伟", "110101194001011231", "13800138000", "张小伟", "13900139000"],
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and (layout.first_row, layout.header_row) == (1, 1)


def test_header_cells_with_line_breaks_and_spaces_still_match() -> None:
    sheet = rows(
        ["序 号", "姓\n名", "公民身份\n号码", "联系\r\n电话"], ["1", "张伟", "110101194001011231", ""]
    )
    layout = find_layout(sheet, CATALOG, SYNONYMS)
    assert layout is not None and layout.header_row == 1
    assert [c.field_label for c in layout.columns] == ["序号", "姓名", "公民身份号码", "联系电话"]


HEADER = ["序号", "姓名", "身份证号", "联系电话"]


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["填表人：王芳", "", "审核人：李强", ""], "footer"),
        (["", "审核人:", "", ""], "footer"),
        (["单位（盖章）：", "", "", ""], "footer"),
        (["填报单位（盖章）：南京东路街道", "", "", ""], "footer"),
        (["联系电话：", "63210000", "", ""], "footer"),
        (["联系电话", "63210000", "", ""], "footer"),  # the colon left out
        (["", "", "", "2026年10月15日"], "date_line"),
        (["2026-10-15", "", "", ""], "date_line"),
        (["", "", "二〇二六年十月十五日", ""], "date_line"),
        (["填表说明：", "", "", ""], "footer"),
        (["1. 身份证号请填写18位。", "", "", ""], "notes"),
        (["（2）联系电话填写手机。", "", "", ""], "notes"),
        (["7", "", "", ""], "template_row"),  # only the pre-printed 序号
        (["8.", "", "", ""], "template_row"),
        (["制表：王芳", "", "复核人：", ""], "footer"),
        (["", "(公章)", "", ""], "footer"),
        (["联系方式：021-63210000", "", "", ""], "footer"),
        (["1", "2", "3", "4"], "column_numbers"),
        (["", "（必填）", "（18位）", ""], "header_notes"),
        (["合 计", "", "", "4"], "total"),
        (["7", "张伟", "", ""], None),  # a row with a name is data, however sparse
        (["", "2026年10月15日出生", "", ""], None),
    ],
)
def test_non_data_rows_are_skipped_with_a_reason(cells: list[str], reason: str | None) -> None:
    layout = find_layout(rows(HEADER, ["1", "张伟", "110101194001011231", ""]), CATALOG, SYNONYMS)
    assert layout is not None
    assert classify_row(cells, layout, 2) == reason


def test_layout_rules_are_validated_on_load(tmp_path: Path) -> None:
    rules = load_layout_rules()
    assert rules.header.max_header_rows == 3 and "居民委员会" in rules.committee_labels
    broken = tmp_path / "layout.yaml"
    source = (Path(__file__).parents[2] / "schemas" / "ingest" / "layout.yaml").read_text(encoding="utf-8")
    broken.write_text(source.replace("total: '^(合计", "total: '^((合计"), encoding="utf-8")  # unbalanced (
    with pytest.raises(LayoutRulesError, match="rows.total"):
        load_layout_rules(broken)
