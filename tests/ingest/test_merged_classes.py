"""Delivery classes closed when ingest-read met ingest-delivery (issue 8): names, sheets, page markers, IDs.

Tiny inline files; every planted defect is commented.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from assets.common.warehouse import connect
from assets.ingest import normalize as nz
from assets.ingest import pipeline
from assets.ingest.catalog import load_catalog
from assets.ingest.landing import FileRejected, LandingFile, resolve_committee_name
from assets.ingest.layout import CatalogField, classify_row, find_layout, load_synonyms
from assets.ingest.rules import load_delivery_rules
from assets.reference.divisions import load_divisions

BY_CORE = {("310101", "西一"): ["310101015015"], ("310101", "北京"): ["310101013003", "310101099001"]}


def _file(name: str) -> LandingFile:
    """A file as landing.scan_landing sees it: no 12-digit code, no separated committee token."""
    return LandingFile(
        Path(name), f"310101/MZ01/2026-10/{name}", "310101", "MZ01", "2026-10", None, "csv", 1, 0.0
    )


def test_a_file_name_starting_with_a_committee_name_resolves_by_the_longest_prefix() -> None:
    rules = load_delivery_rules()
    # planted: committee short name run into the form name, no separator, no code
    assert (
        resolve_committee_name(_file("西一居委高龄补贴名册.csv"), BY_CORE, rules).committee_code
        == "310101015015"
    )
    assert (
        resolve_committee_name(_file("西一居委会名册.csv"), BY_CORE, rules).committee_code == "310101015015"
    )
    with pytest.raises(FileRejected) as info:  # planted: two committees called 北京 in the district
        resolve_committee_name(_file("北京居委高龄补贴名册.csv"), BY_CORE, rules)
    assert info.value.reason_code == "ambiguous_committee_name"
    # No committee ending in the prefix, or an unknown one: stays district-wide (a committee column may follow).
    assert resolve_committee_name(_file("西一高龄补贴名册.csv"), BY_CORE, rules).committee_code is None
    assert resolve_committee_name(_file("东三居委高龄补贴名册.csv"), BY_CORE, rules).committee_code is None


def test_a_collective_committee_word_is_no_committee_name() -> None:
    rules = load_delivery_rules()
    # planted: （分居委） means "one sheet per committee", not a committee called 分
    named = LandingFile(Path("x"), "310101/MZ01/2026-10/名册（分居委）.xlsx", "310101", "MZ01", "2026-10", None,
                        "xlsx", 1, 0.0, committee_name="分居委")  # fmt: skip
    resolved = resolve_committee_name(named, BY_CORE, rules)
    assert resolved.committee_code is None and resolved.committee_name is None


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["第2页，共2页", "", ""], "page_marker"),
        (["", "共 3 页", ""], "page_marker"),
        (["Page 2 of 3", "", ""], "page_marker"),
        (["- 2 -", "", ""], "page_marker"),
        (["第2页", "张伟", ""], None),  # a name beside it: data, however odd
    ],
)
def test_page_markers_of_paged_exports_are_skipped(cells: list[str], reason: str | None) -> None:
    catalog = [CatalogField(1, "姓名", "text", True), CatalogField(2, "身份证号", "id_number", True),
               CatalogField(3, "联系电话", "phone", False)]  # fmt: skip
    layout = find_layout([(1, ["姓名", "身份证号", "联系电话"])], catalog, load_synonyms())
    assert layout is not None and classify_row(cells, layout, 5) == reason


def test_ids_protected_from_excel_are_cleaned_not_malformed() -> None:
    good = "310101193910138016"
    raw = [
        f'="{good}"',
        f"\t{good}",
        f"{good}\u3000",
        f"'{good}",
        f"＝＂{good}＂",
    ]  # planted: export protections
    out = pl.DataFrame({"v": raw}).select(nz.normalize_id_number(pl.col("v")).alias("x")).unnest("x")
    assert out["value"].to_list() == [good] * 5 and out["status"].to_list() == ["valid"] * 5
    phone = (
        pl.DataFrame({"v": ['="13812345678"']}).select(nz.normalize_phone(pl.col("v")).alias("x")).unnest("x")
    )
    assert phone["value"].to_list() == ["13812345678"]


FORMS = "报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,困难老人名册,民政局,市级,月报,全部\n"
FIELDS = "报表编号,字段序号,字段名称,字段类型,是否必填\nMZ01,1,姓名,文本,是\nMZ01,2,身份证号,身份证号,是\n"


def _landing(tmp_path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (root / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    target = root / "310101" / "MZ01" / "2026-10" / "街道名册（分居委）.xlsx"
    target.parent.mkdir(parents=True)
    wb = xlsxwriter.Workbook(target)
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            ws.write_row(i, 0, row)
    wb.close()
    return root


def test_a_sheet_per_committee_takes_its_committee_from_the_sheet_name(tmp_path: Path) -> None:
    divisions = load_divisions().filter(pl.col("district_code") == "310101").head(2)
    (c1, n1), (c2, n2) = divisions.select("committee_code", "committee_name").rows()
    header = ["姓名", "身份证号"]  # planted: no committee column; the tab names the committee
    root = _landing(tmp_path, {n1: [header, ["张伟", "110101194001011231"]],
                               n2: [header, ["李娜", "110101194503032349"], ["王强", "110101195005053452"]]})  # fmt: skip
    with connect(tmp_path / "w.duckdb") as con:
        ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
        pipeline.ingest_district(con, root, "310101", ctx, "run-1")
        assert con.sql("SELECT status FROM raw.landing_files").fetchall() == [("ingested",)]
        got = con.sql(
            "SELECT sheet, committee_code, count(*) FROM staging.form_records GROUP BY ALL ORDER BY 1"
        )
        assert got.fetchall() == sorted([(n1, c1, 1), (n2, c2, 2)])


def test_a_sheet_named_for_no_committee_still_rejects_the_file(tmp_path: Path) -> None:
    header = ["姓名", "身份证号"]
    root = _landing(
        tmp_path, {"Sheet1": [header, ["张伟", "110101194001011231"]]}
    )  # planted: no committee anywhere
    with connect(tmp_path / "w.duckdb") as con:
        ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
        pipeline.ingest_district(con, root, "310101", ctx, "run-1")
        status, reason, message = con.sql(
            "SELECT status, reason_code, message FROM raw.landing_files"
        ).fetchall()[0]
        assert (status, reason) == ("rejected", "no_committee") and "Sheet1" in message
