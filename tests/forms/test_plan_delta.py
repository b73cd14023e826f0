"""Partial rebuilds of marts.prefill_plan (assets/forms/plan_delta.py) equal a full rebuild, row for row,
and recompute only the committees whose records or persons changed (tiny warehouse: tests/forms/toy_warehouse.py)."""

import polars as pl
import pytest

from assets.common import warehouse
from assets.forms import pipeline, plan_delta

from .toy_warehouse import C1, C2, build

ORDER = ["form_code", "committee_code", "field_order"]


@pytest.fixture()
def toy(tmp_path):
    path = build(tmp_path / "toy.duckdb")
    with warehouse.connect(path) as con:
        pipeline.run_all(con)  # matching, overlap, a full plan
        first = pipeline.update_prefill_plan(con)
    assert first.mode == "full" and first.reason == "no earlier plan"
    return path


def _plan(con) -> pl.DataFrame:
    return warehouse.read_frame(con, "SELECT * FROM marts.prefill_plan").sort(ORDER)


def _full(con) -> pl.DataFrame:
    return pipeline.build_prefill_plan(con).sort(ORDER)


def _redeliver(con, committee: str, form: str, period: str, suffix: str, phone: str | None = None) -> None:
    """The same delivery again with new bytes: new record ids (ids carry the file hash), maybe a new phone."""
    con.execute("CREATE TEMP TABLE ids AS SELECT record_id FROM staging.form_records "
                "WHERE committee_code = ? AND form_code = ? AND period = ?", [committee, form, period])  # fmt: skip
    con.execute("UPDATE staging.form_values SET record_id = record_id || ? WHERE record_id IN (SELECT * FROM ids)",
                [suffix])  # fmt: skip
    if phone:
        con.execute("UPDATE staging.form_values SET value = ?, value_raw = ? WHERE record_id IN "
                    "(SELECT record_id || ? FROM ids) AND field_label = '联系电话'", [phone, phone, suffix])  # fmt: skip
    con.execute("UPDATE staging.form_records SET record_id = record_id || ? WHERE record_id IN (SELECT * FROM ids)",
                [suffix])  # fmt: skip
    con.execute("DROP TABLE ids")


def test_nothing_changed_recomputes_nothing(toy):
    with warehouse.connect(toy) as con:
        before = _plan(con)
        update = pipeline.update_prefill_plan(con)
        assert (update.mode, update.recomputed, update.rows_written) == ("partial", 0, 0)
        assert _plan(con).equals(before)


def test_one_committee_redelivers(toy):
    with warehouse.connect(toy) as con:
        c1_before = _plan(con).filter(pl.col("committee_code") == C1)
        # planted: C2 re-delivers MZ01 2026-11 (p5 lives only in C2) with a new phone number
        _redeliver(con, C2, "MZ01", "2026-11", "b", phone="13911112222")
        update = pipeline.update_prefill_plan(con)
        assert (update.mode, update.recomputed) == ("partial", 1)  # C2 only
        after = _plan(con)
        assert after.equals(_full(con))
        assert after.filter(pl.col("committee_code") == C1).equals(c1_before)  # C1 untouched


def test_a_shared_person_dirties_the_other_committee(toy, monkeypatch):
    monkeypatch.setattr(plan_delta, "FULL_SHARE", 1.0)  # both committees dirty: still do it partially
    with warehouse.connect(toy) as con:
        # planted: p1 (resident of C1's forms) now also appears in C2's CL01 delivery, collected 2026-12-31;
        # nothing in C1 changed, but C1's plan counts what p1 holds, so C1 must be recomputed too
        con.execute("""INSERT INTO staging.form_records SELECT record_id || 'x', * EXCLUDE (record_id)
                       REPLACE ('310101002002' AS committee_code) FROM staging.form_records
                       WHERE committee_code = ? AND form_code = 'CL01' AND person_name = '居民1'""", [C1])  # fmt: skip
        con.execute("""INSERT INTO staging.form_values SELECT record_id || 'x', * EXCLUDE (record_id)
                       FROM staging.form_values WHERE record_id IN (SELECT left(record_id, 16) FROM
                       staging.form_records WHERE record_id LIKE '%x')""")  # fmt: skip
        update = pipeline.update_prefill_plan(con)
        assert (update.mode, update.recomputed) == ("partial", 2)
        assert _plan(con).equals(_full(con))


def test_changed_settings_rebuild_everything(toy, monkeypatch):
    with warehouse.connect(toy) as con:
        con.execute(
            "UPDATE catalog.form_fields SET status = 'review' WHERE form_code = 'MZ02' AND field_order = 3"
        )
        update = pipeline.update_prefill_plan(con)
        assert update.mode == "full" and "field mapping" in update.reason
        assert _plan(con).equals(_full(con))
        # and a removed snapshot also forces a whole rebuild rather than a guess
        con.execute(f"DROP TABLE {plan_delta.SNAPSHOT}")
        assert pipeline.update_prefill_plan(con).reason == "no earlier plan"
