"""Returned files stay valid deliveries: without a prefill id they are ingested like any other file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from assets.common import warehouse
from assets.ingest import pipeline
from assets.ingest.catalog import load_catalog
from assets.reference.divisions import load_divisions
from assets.reflow.returns import reconcile_returns
from assets.reflow.workbook import FormSheet, write_workbook
from synth.generator.idcard import make_id

FORMS = "\ufeff报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,高龄老人补贴发放名册,民政局,市级,月报,全部\n"
FIELDS = ("\ufeff报表编号,字段序号,字段名称,字段类型,是否必填\nMZ01,1,序号,整数,否\nMZ01,2,老人姓名,文本,是\n"
          "MZ01,3,身份证号,身份证号,是\nMZ01,4,性别,性别,是\nMZ01,5,联系电话,电话,否\nMZ01,6,高龄补贴金额,数值,是\n")  # fmt: skip
COMMITTEE = "310101002001"
REL = f"310101/MZ01/2026-11/{COMMITTEE}_高龄老人补贴发放名册_2026-11_回流.xlsx"
IDS = [make_id("310101", dt.date(1940 + i, 3, 4), 11 + 2 * i) for i in range(3)]
ROWS = [["张伟", IDS[0], "男", "13800138000", "300"], ["李娜", IDS[1], "女", "", "300"],
        ["王芳", IDS[2], "女", "13700137000", "300"]]  # fmt: skip


def returned(with_id: bool) -> FormSheet:
    return FormSheet(
        prefill_id="PF-310101002001-MZ01-2026-11-00000000" if with_id else None, committee_code=COMMITTEE,
        committee_name="云南中路居委会", form_code="MZ01", form_name="高龄老人补贴发放名册", department="民政局",
        period="2026-11", coverage_date="2026-11-30", labels=["老人姓名", "身份证号", "性别", "联系电话", "高龄补贴金额"],
        field_types=["text", "id_number", "sex", "phone", "decimal"], rows=ROWS, notes=[None, None, "迁出"],
    )  # fmt: skip


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (root / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    return root


@pytest.mark.parametrize("with_id", [False, True])
def test_returned_file_is_an_ordinary_delivery_for_ingestion(
    landing: Path, tmp_path: Path, with_id: bool
) -> None:
    write_workbook(landing / REL, returned(with_id), with_id=with_id)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        ctx = pipeline.IngestContext.build(load_catalog(landing), load_divisions())
        result = pipeline.ingest_district(con, landing, "310101", ctx, "run-1")
        assert (result.files_rejected, result.rows_staged, result.rows_quarantined) == (0, 3, 0)
        names = con.sql(
            "SELECT person_name, id_number, committee_code FROM staging.form_records ORDER BY row_number"
        )
        assert names.fetchall() == [
            ("张伟", IDS[0], COMMITTEE),
            ("李娜", IDS[1], COMMITTEE),
            ("王芳", IDS[2], COMMITTEE),
        ]
        # title, info, header and footer rows are skipped non-data rows; nothing unaccounted
        acc = pipeline.file_accounting(con)
        assert acc["unaccounted"].to_list() == [0]


def test_reconcile_reads_a_return_without_id_as_ordinary_delivery(landing: Path, tmp_path: Path) -> None:
    returns = tmp_path / "returns"
    write_workbook(returns / REL, returned(False), with_id=False)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA core")
    warehouse.replace_table(con, "core.divisions", load_divisions())
    files = reconcile_returns(con, returns, ["310101"], landing, "run-1")
    row = files.row(0, named=True)
    assert (row["kind"], row["prefill_id"], row["committee_code"]) == ("ordinary_delivery", None, COMMITTEE)
    assert (row["rows_read"], row["rows_staged"], row["rows_quarantined"]) == (3, 3, 0)
    assert row["cells_typed"] == 14  # 15 cells, one phone left blank
    evidence = con.sql(
        "SELECT person_name, id_number, source_file FROM reflow.person_evidence ORDER BY 1"
    ).fetchall()
    assert [e[0] for e in evidence] == sorted(["张伟", "李娜", "王芳"]) and all(e[2] == REL for e in evidence)
