"""The return simulation is seeded and makes every kind of edit; observed burden counts what staff typed."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.forms.burden import observed_by_department, observed_by_form
from assets.reflow.workbook import FormSheet, read_returned, write_workbook
from synth.generator.returns import ReturnRates, simulate_returns

ROWS = [
    [f"居民{i}", f"3101011950010{i:04d}"[:18], "男" if i % 2 else "女", f"1380000{i:04d}", None]
    for i in range(40)
]


def prefill(root: Path, committee: str) -> None:
    sheet = FormSheet(
        prefill_id=f"PF-{committee}-MZ01-2026-11-0000abcd", committee_code=committee, committee_name="某某居委会",
        form_code="MZ01", form_name="高龄老人补贴发放名册", department="民政局", period="2026-11",
        coverage_date="2026-11-30", labels=["老人姓名", "身份证号", "性别", "联系电话", "高龄补贴金额"],
        field_types=["text", "id_number", "sex", "phone", "decimal"], rows=ROWS,
        prefilled=[[True, True, True, True, False] for _ in ROWS], seqs=[str(i + 1) for i in range(40)],
        person_ids=[f"P{i}" for i in range(40)],
    )  # fmt: skip
    write_workbook(
        root / committee[:6] / "MZ01" / "2026-11" / f"{committee}_高龄老人补贴发放名册_2026-11_预填.xlsx",
        sheet,
    )


def test_simulation_is_seeded_and_edits_every_way(tmp_path: Path) -> None:
    src = tmp_path / "prefill"
    for i in range(20):
        prefill(src, f"310101002{i:03d}")
    rates = ReturnRates(
        share_returned=1.0, no_id=0.25, retyped=0.25, death=0.05, move_out=0.05, phone_fix=0.2
    )
    one = simulate_returns(src, tmp_path / "a", seed=7, rates=rates, districts=["310101"])
    two = simulate_returns(src, tmp_path / "b", seed=7, rates=rates, districts=["310101"])
    assert one == two and one.files == 20
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.xlsx"))
    assert files_a and all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a
    )
    assert all(f.name.endswith("_回流.xlsx") and len(f.parts) == 4 for f in files_a)  # the landing layout
    assert set(one.by_kind) == {"edited", "no_id", "retyped"}
    assert {"leave:死亡", "leave:迁出", "row_deleted", "phone_corrected", "blank_filled", "row_added"} <= set(
        one.edits
    )
    ids = [read_returned((tmp_path / "a" / f).read_bytes()).prefill_id for f in files_a]
    assert ids.count(None) == one.by_kind["no_id"] + one.by_kind["retyped"]


def test_observed_burden_counts_confirmed_against_typed() -> None:
    returns = pl.DataFrame({
        "return_file": ["a", "b"], "district_code": ["310101"] * 2, "committee_code": ["310101002001"] * 2,
        "form_code": ["MZ01", "GA01"], "period": ["2026-11", "2026Q4"], "kind": ["prefill_return", "ordinary_delivery"],
        "rows_confirmed": [2, 0], "rows_corrected": [1, 0], "rows_added": [1, 3], "rows_removed": [1, 0]})  # fmt: skip
    cells = pl.DataFrame({"return_file": ["a"] * 6 + ["b"] * 4,
                          "outcome": ["confirmed"] * 3 + ["corrected", "typed", "blank"] + ["typed"] * 4})  # fmt: skip
    forms = pl.DataFrame({"form_code": ["MZ01", "GA01"], "department": ["民政局", "公安局"]})
    by_form = observed_by_form(returns, cells, forms)
    mz = by_form.filter(pl.col("form_code") == "MZ01").row(0, named=True)
    assert (mz["cells_confirmed"], mz["cells_staff_typed"], mz["cells_without_prefill"]) == (3, 2, 5)
    assert mz["share_prefilled_observed"] == 0.6 and mz["month"] == "2026-11"
    ga = by_form.filter(pl.col("form_code") == "GA01").row(0, named=True)
    assert (ga["month"], ga["share_prefilled_observed"], ga["files_with_prefill_id"]) == ("2026-10", 0.0, 0)
    plan = pl.DataFrame({"department": ["民政局"], "entries_before": [10.0], "entries_after": [4.0],
                         "share_prefilled": [0.6]})  # fmt: skip
    dept = {r["department"]: r for r in observed_by_department(by_form, plan).iter_rows(named=True)}
    assert dept["民政局"]["share_prefilled_plan"] == 0.6 and dept["公安局"]["share_prefilled_plan"] is None
