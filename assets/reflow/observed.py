"""Observed burden marts and the plan-vs-observed headline and chart (pure; no dagster import)."""

from __future__ import annotations

import base64
import io

import duckdb
import polars as pl

from assets.common import warehouse
from assets.forms import burden

OBSERVED, OBSERVED_DEPT = "marts.burden_observed", "marts.burden_observed_by_department"


def write_observed(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build both observed marts from the reconciled returns; replace them whole."""
    returns = warehouse.read_frame(con, "SELECT * FROM reflow.returns")
    cells = warehouse.read_frame(con, "SELECT return_file, outcome FROM reflow.return_cells")
    forms = warehouse.read_frame(con, "SELECT form_code, department FROM catalog.forms")
    plan = (
        warehouse.read_frame(con, "SELECT * FROM marts.burden_by_department")
        if warehouse.table_exists(con, "marts.burden_by_department")
        else None
    )
    by_form = burden.observed_by_form(returns, cells, forms)
    by_dept = burden.observed_by_department(by_form, plan)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    warehouse.replace_table(con, OBSERVED, by_form)
    warehouse.replace_table(con, OBSERVED_DEPT, by_dept)
    return by_form, by_dept


def headline(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Lines for the run summary: files built and returned, outcomes, plan vs observed per department."""
    lines: list[str] = []
    built = con.sql(
        "SELECT count(*), sum(rows), sum(cells), sum(cells_prefilled), count(DISTINCT committee_code), "
        "count(DISTINCT form_code) FROM reflow.prefill_files WHERE current"
    ).fetchall()[0]
    lines.append(
        f"prefilled forms: {built[0]:,} files for {built[4]} committees × {built[5]} forms, {int(built[1] or 0):,} "
        f"rows, {int(built[3] or 0):,} of {int(built[2] or 0):,} cells prefilled"
    )
    if warehouse.table_exists(con, "reflow.returns"):
        kinds = con.sql("SELECT kind, count(*) FROM reflow.returns GROUP BY 1 ORDER BY 1").fetchall()
        rows = con.sql("SELECT outcome, count(*) FROM reflow.return_rows GROUP BY 1 ORDER BY 1").fetchall()
        cells = con.sql("SELECT outcome, count(*) FROM reflow.return_cells GROUP BY 1 ORDER BY 1").fetchall()
        lines.append("returns: " + ", ".join(f"{k} {n:,}" for k, n in kinds))
        lines.append("  rows: " + ", ".join(f"{k} {n:,}" for k, n in rows))
        lines.append("  cells: " + ", ".join(f"{k} {n:,}" for k, n in cells))
    if warehouse.table_exists(con, OBSERVED_DEPT):
        dept = warehouse.read_frame(con, f"SELECT * FROM {OBSERVED_DEPT}")
        tot = dept.select(pl.col("cells_confirmed", "cells_without_prefill", "cells_staff_typed").sum()).row(
            0
        )
        share = tot[0] / tot[1] if tot[1] else 0.0
        plan = con.sql("SELECT sum(entries_prefilled) / sum(entries_before) FROM marts.burden_by_department").fetchall()[0][0] \
            if warehouse.table_exists(con, "marts.burden_by_department") else None  # fmt: skip
        lines.append(
            f"burden plan vs observed: plan {plan or 0:.1%} of field-entries prefilled; observed on returns "
            f"{share:.1%} ({tot[0]:,} cells prefilled and confirmed, {tot[2]:,} typed or corrected by staff)"
        )
        lines.append(
            f"  {'department':<14} {'plan':>7} {'observed':>9} {'confirmed':>10} {'staff typed':>12}"
        )
        for r in dept.iter_rows(named=True):
            p = r["share_prefilled_plan"]
            lines.append(
                f"  {r['department']:<14} {'' if p is None else f'{p:.1%}':>7} {r['share_prefilled_observed']:>9.1%} "
                f"{r['cells_confirmed']:>10,} {r['cells_staff_typed']:>12,}"
            )
    return lines


def chart_png(by_dept: pl.DataFrame) -> bytes:
    """Share prefilled per department: the plan (marts.burden_by_department) beside what returns showed."""
    from assets.forms.chart import _department_label, cjk_font, plt

    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    frame = by_dept.sort("cells_without_prefill")
    labels = [_department_label(d, bool(font)) for d in frame["department"].to_list()]
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(9, 5), dpi=90)
        y = range(len(labels))
        ax.barh([i + 0.2 for i in y], [v or 0 for v in frame["share_prefilled_plan"].to_list()], height=0.4,
                label="plan (prefill plan)", color="#b0b0b0")  # fmt: skip
        ax.barh([i - 0.2 for i in y], frame["share_prefilled_observed"].to_list(), height=0.4,
                label="observed (returned files)", color="#2a7ab9")  # fmt: skip
        ax.set_yticks(list(y), labels, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of cells prefilled and confirmed (observed) / of field-entries prefilled (plan)")
        ax.legend(loc="lower right", fontsize=8)
        ax.set_title("Return flow: burden removed, plan vs observed, by department")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()


def markdown_chart(png: bytes) -> str:
    return f"![plan vs observed](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
