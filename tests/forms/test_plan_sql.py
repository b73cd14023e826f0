"""The prefill plan's SQL (assets/forms/plan_sql.py) against a literal reading of the definition, cell by cell,
on small random worlds: same rows, covered counts and source forms."""

from __future__ import annotations

import random
from itertools import product

import duckdb
import polars as pl
import pytest

from assets.forms import plan, plan_sql

# form → [(field_order, plan_element, sharing, derivable_from)]
FIELDS = {
    "A": [(1, "id", "有条件", []), (2, "birth", "有条件", ["id"]), (3, None, None, [])],
    "B": [(1, "id", "有条件", []), (2, "secret", "不予共享", [])],
    "C": [(1, "birth", "有条件", ["id"]), (2, "id", "有条件", [])],
}
# 2026-03 and 2026Q1 are collected the same day (2026-03-31): the form code breaks the tie
PERIODS = ["2026-01", "2026-02", "2026-03", "2026Q1", "bad-period"]
PERSONS = ["p1", "p2", "p3", "p4", None]


def _world(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rng = random.Random(seed)
    records, values = [], []
    for i in range(60):
        form = rng.choice(sorted(FIELDS))
        rid = f"r{i:03d}"
        records.append({"record_id": rid, "form_code": form, "committee_code": rng.choice(["c1", "c2"]),
                        "district_code": "310101", "township_code": "310101001", "period": rng.choice(PERIODS),
                        "person": rng.choice(PERSONS), "in_scope": rng.random() < 0.8})  # fmt: skip
        for order, _, _, _ in FIELDS[form]:
            roll = rng.random()
            if roll < 0.6:
                values.append({"record_id": rid, "field_order": order, "value": "x", "value_raw": "x"})
            elif roll < 0.7:
                values.append({"record_id": rid, "field_order": order, "value": None, "value_raw": "  "})
    fields = pl.DataFrame(
        [
            {"form_code": f, "field_order": o, "plan_element": e, "sharing": s, "derivable_from": d}
            for f, rows in FIELDS.items()
            for o, e, s, d in rows
        ],  # fmt: skip
        schema={
            "form_code": pl.String,
            "field_order": pl.Int64,
            "plan_element": pl.String,
            "sharing": pl.String,
            "derivable_from": pl.List(pl.String),
        },  # fmt: skip
    )
    return pl.DataFrame(records), pl.DataFrame(values), fields


def _reference(records: pl.DataFrame, values: pl.DataFrame, fields: pl.DataFrame, reuse: bool) -> dict:
    """(form, committee, field) → (rows, covered, returned, derived, source forms), by the definition."""
    bounds = {p: b[1] for p in PERIODS if (b := plan.period_bounds(p))}
    recs = [r for r in records.iter_rows(named=True) if r["period"] in bounds]
    by_field = {(f["form_code"], f["field_order"]): f for f in fields.iter_rows(named=True)}
    filled = {(v["record_id"], v["field_order"]) for v in values.iter_rows(named=True)
              if (v["value"] or v["value_raw"] or "").strip()}  # fmt: skip
    held: dict[tuple[str, str, str], object] = {}  # (person, element, form) → first collection
    for r, (order, element, _, _) in product(
        recs, [(o, e, s, d) for rows in FIELDS.values() for o, e, s, d in rows]
    ):
        f = by_field.get((r["form_code"], order))
        if f is None or f["plan_element"] != element or element is None or r["person"] is None:
            continue
        if (r["record_id"], order) in filled:
            key = (r["person"], element, r["form_code"])
            held[key] = min(held.get(key, bounds[r["period"]]), bounds[r["period"]])
    out: dict = {}
    for r in recs:
        if not r["in_scope"]:
            continue
        c, form = bounds[r["period"]], r["form_code"]
        for order, element, sharing, derivable in FIELDS[form]:
            key = (form, r["committee_code"], order)
            rows, cov, ret, der, src = out.get(key, (0, 0, 0, 0, set()))
            returned = derived = False
            if r["person"] is not None and element is not None and sharing != "不予共享":
                for s in [element, *derivable]:
                    for (p, e, g), first in held.items():
                        if (
                            p == r["person"]
                            and e == s
                            and (
                                (g != form and (first < c or (first == c and g < form)))
                                or (reuse and g == form and first < c)
                            )
                        ):
                            returned = True
                            src.add(g)
                    if s != element and any(f["plan_element"] == s and (r["record_id"], o) in filled
                                            for (fc, o), f in by_field.items() if fc == form):  # fmt: skip
                        derived = True
            out[key] = (rows + 1, cov + (returned or derived), ret + returned, der + derived, src)
    return {k: (a, b, c, d, sorted(e)) for k, (a, b, c, d, e) in out.items()}


@pytest.mark.parametrize(("seed", "reuse"), [(1, False), (2, True), (3, False), (4, True), (5, False)])
def test_plan_sql_matches_the_definition(seed: int, reuse: bool) -> None:
    records, values, fields = _world(seed)
    con = duckdb.connect()
    con.execute("SET memory_limit = '4GB'")
    con.execute("CREATE SCHEMA staging")
    arrow = values.to_arrow()  # noqa: F841
    con.execute("CREATE TABLE staging.form_values AS SELECT * FROM arrow")
    sources = (
        fields.filter(pl.col("plan_element").is_not_null())
        .with_columns(pl.concat_list("plan_element", "derivable_from").alias("source_element"))
        .explode("source_element")
        .select("form_code", "field_order", "source_element",
                (pl.col("source_element") == pl.col("plan_element")).alias("is_self"))
    )  # fmt: skip
    frames = {"_rec0": records, "_periods": plan.periods_frame(PERIODS), "_fields": fields.drop("derivable_from"),
              "_sources": sources}  # fmt: skip
    for name, frame in frames.items():
        con.register(name, frame.to_arrow())
    got = plan_sql.plan_counts(con, reuse)
    restored = plan_sql._bytes(con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0])
    assert (
        abs(restored - 4e9) < 0.25 * 2**30
    )  # the connection's own limit again (DuckDB rounds what it shows)
    actual = {(r["form_code"], r["committee_code"], r["field_order"]):
              (r["rows"], r["rows_covered"], r["rows_returned"], r["rows_derived"], list(r["source_forms"]))
              for r in got.iter_rows(named=True)}  # fmt: skip
    expected = _reference(records, values, fields, reuse)
    assert actual == expected
    assert any(v[2] for v in expected.values()) and any(v[3] for v in expected.values())  # both kinds occur


def test_memory_setting_in_bytes() -> None:
    assert plan_sql._bytes("5.5 GiB") == 5.5 * 2**30
    assert plan_sql._bytes("2GB") == 2e9
    assert plan_sql._bytes("768.0 MiB") == 768 * 2**20
