"""The returns loop settles: a return kept from an earlier night repeats no evidence as new (issue 12)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from assets.common import warehouse
from assets.reference.divisions import load_divisions
from assets.reflow.returns import reconcile_returns
from assets.reflow.workbook import FormSheet, write_workbook

COMMITTEE = "310101002001"
PID = "PF-310101002001-MZ01-2026-11-0000abcd"
REL = f"310101/MZ01/2026-11/{COMMITTEE}_高龄老人补贴发放名册_2026-11_回流.xlsx"
LABELS = [("老人姓名", "person_name"), ("联系电话", "phone"), ("高龄补贴金额", None)]
# the landing catalog ordinary deliveries are read with (a return that lost its prefill id)
FORMS = "\ufeff报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,高龄老人补贴发放名册,民政局,市级,月报,全部\n"
FIELDS = ("\ufeff报表编号,字段序号,字段名称,字段类型,是否必填\nMZ01,1,序号,整数,否\nMZ01,2,老人姓名,文本,是\n"
          "MZ01,3,联系电话,电话,否\nMZ01,4,高龄补贴金额,数值,是\n")  # fmt: skip
PLAIN = f"310101/MZ01/2026-10/{COMMITTEE}_高龄老人补贴发放名册_2026-10_回流.xlsx"


def _world(con: duckdb.DuckDBPyConnection, birth: dt.date) -> None:
    """One prefill (two persons) and the golden records; `birth` is p1's golden birth date (the form does not
    ask it: the evidence takes it from the golden record, so the matcher can link the corrected phone)."""
    for schema in ("core", "reflow"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    warehouse.replace_table(con, "core.divisions", load_divisions())
    warehouse.replace_table(con, "core.persons", pl.DataFrame({
        "person_id": ["p1", "p2"], "person_name": ["张伟", "李娜"], "id_number": ["310101194003040011", None],
        "sex": ["男", "女"], "birth_date": [birth, dt.date(1950, 1, 1)], "phone": ["13800138000", None],
        "household_address": [None, None], "residence_address": [None, None],
        "committee_code": [COMMITTEE, COMMITTEE]}))  # fmt: skip
    warehouse.replace_table(con, "reflow.prefill_files", pl.DataFrame({"prefill_id": [PID]}))
    cells = [(PID, seq, person, order + 1, label, value, value is not None, element)
             for seq, person, values in ((1, "p1", ["张伟", "13800138000", None]), (2, "p2", ["李娜", None, None]))
             for order, ((label, element), value) in enumerate(zip(LABELS, values, strict=True))]  # fmt: skip
    warehouse.replace_table(con, "reflow.prefill_cells", pl.DataFrame(cells, orient="row", schema={
        "prefill_id": pl.String, "seq": pl.Int64, "person_id": pl.String, "field_order": pl.Int64,
        "field_label": pl.String, "value": pl.String, "prefilled": pl.Boolean, "element_code": pl.String}))  # fmt: skip


def test_a_kept_return_gives_the_same_evidence_when_the_golden_records_moved(tmp_path: Path) -> None:
    returns = tmp_path / "returns"
    sheet = FormSheet(
        prefill_id=PID, committee_code=COMMITTEE, committee_name="云南中路居委会", form_code="MZ01",
        form_name="高龄老人补贴发放名册", department="民政局", period="2026-11", coverage_date="2026-11-30",
        labels=[label for label, _ in LABELS], field_types=["text", "phone", "decimal"],
        # planted: p1's phone corrected, p2's phone typed (blank on the prefill)
        rows=[["张伟", "13900139000", "300"], ["李娜", "13700137000", "300"]],
        seqs=["1", "2"], person_ids=["p1", "p2"],
    )  # fmt: skip
    write_workbook(returns / REL, sheet, with_id=True)
    # and last month's form, returned without its prefill id: an ordinary delivery, read again every night
    plain = FormSheet(**{**sheet.__dict__, "prefill_id": None, "period": "2026-10", "coverage_date": "2026-10-31",
                         "rows": [["王芳", "13500135000", "300"]]})  # fmt: skip
    write_workbook(returns / PLAIN, plain, with_id=False)
    landing = tmp_path / "landing"
    (landing / "catalog").mkdir(parents=True)
    (landing / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (landing / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    con = duckdb.connect()
    _world(con, dt.date(1940, 3, 4))
    first = reconcile_returns(con, returns, ["310101"], landing, "run-1")
    assert sorted(first["kind"].to_list()) == ["ordinary_delivery", "prefill_return"]
    evidence = "SELECT * FROM reflow.person_evidence ORDER BY record_id"
    before = con.sql(evidence).pl()
    assert sorted(before["phone"].to_list()) == ["13500135000", "13700137000", "13900139000"]
    assert dt.date(1940, 3, 4) in before["birth_date"].to_list()  # from the golden record
    # planted: the next night's persons learned from this evidence and p1's golden record moved; the file
    # is unchanged, so it is kept, and its evidence must not follow the golden record (it would be new
    # evidence every night: the loop would never settle)
    _world(con, dt.date(1940, 3, 5))
    second = reconcile_returns(con, returns, ["310101"], landing, "run-2")
    assert (
        second.sort("kind")["reconciled_at"].to_list()[1] == first.sort("kind")["reconciled_at"].to_list()[1]
    )  # kept
    assert con.sql(evidence).pl().equals(before)  # the ordinary delivery's evidence included
    # a file returned again with other values is reconciled again, against tonight's golden records
    sheet.rows[0][1] = "13600136000"
    write_workbook(returns / REL, sheet, with_id=True)
    reconcile_returns(con, returns, ["310101"], landing, "run-3")
    after = con.sql(evidence).pl()
    assert "13600136000" in after["phone"].to_list() and dt.date(1940, 3, 5) in after["birth_date"].to_list()
