"""Build next period's prefilled forms for some districts: rosters, cells, workbooks and the reflow tables.

Reads the warehouse (divisions, catalogue, golden records, earlier deliveries, earlier returns), writes
`reflow.rosters`, `reflow.prefill_files`, `reflow.prefill_cells` (rows of the built districts replaced) and
one .xlsx per committee × form × period under `<out_root>/<district>/<form>/<period>/`, the landing layout.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.common import fingerprint as fp
from assets.common import warehouse
from assets.reflow import inputs, prefill, roster, tx
from assets.reflow.access import AccessGate
from assets.reflow.pool import FilePool
from assets.reflow.targets import Targets, coverage_date, load_targets
from assets.reflow.workbook import FormSheet

log = logging.getLogger(__name__)

ROSTERS, FILES, CELLS = "reflow.rosters", "reflow.prefill_files", "reflow.prefill_cells"


@dataclass
class BuildResult:
    files: int
    rows: int
    cells: int
    cells_prefilled: int
    dropped: int
    seconds: float


def _file_name(committee: str, form_name: str, period: str) -> str:
    return f"{committee}_{form_name}_{period}_预填.xlsx"


IDENTITY = ("person_name", "citizen_id")


def withheld_forms(fields: pl.DataFrame, allowed: pl.DataFrame) -> set[str]:
    """Forms asking for a name or ID of which none may be shown: their rows would say who is on them."""
    ident = fields.filter(pl.col("element_code").is_in(IDENTITY)).join(
        allowed, on=["form_code", "element_code"], how="left"
    )
    per_form = ident.group_by("form_code").agg(pl.col("allowed").fill_null(False).any().alias("any_allowed"))
    return set(per_form.filter(~pl.col("any_allowed"))["form_code"].to_list())


def _with_seq(on: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """序号: carried-forward persons first, then moved-in, then newly enrolled; by name within each."""
    group = (pl.when(pl.col("reason").str.starts_with("carried")).then(0)
             .when(pl.col("reason").str.starts_with("moved")).then(1).otherwise(2))  # fmt: skip
    return (
        on.join(persons.select("person_id", "person_name"), on="person_id", how="left")
        .with_columns(group.alias("_g"))
        .sort("committee_code", "form_code", "_g", "person_name", "person_id", nulls_last=True)
        .with_columns(
            pl.int_range(1, pl.len() + 1).over("committee_code", "form_code").cast(pl.Int64).alias("seq")
        )
        .drop("_g", "person_name")
    )


def build_prefills(
    con: duckdb.DuckDBPyConnection,
    out_root: Path,
    districts: list[str] | None = None,
    targets: Targets | None = None,
    gate: AccessGate | None = None,
    run_id: str = "",
    workers: int | None = None,
) -> BuildResult:
    """Build the districts' prefilled forms (all districts that deliver when None), one district at a time:
    its rosters, cells and reflow rows are computed, written and released before the next; workbooks are
    written by a process pool (assets/reflow/pool.py) while the next district is computed."""
    with inputs.memory_limit(con):
        return _build(con, out_root, districts, targets, gate, run_id, workers)


def _build(
    con: duckdb.DuckDBPyConnection, out_root: Path, districts: list[str] | None, targets: Targets | None,
    gate: AccessGate | None, run_id: str, workers: int | None,
) -> BuildResult:  # fmt: skip
    start = time.perf_counter()
    targets = targets or load_targets()
    gate = gate or AccessGate()
    if districts is None:
        districts = sorted({str(c)[:6] for (c,) in con.execute(
            "SELECT DISTINCT committee_code FROM staging.form_records WHERE committee_code IS NOT NULL").fetchall()})  # fmt: skip
    data = inputs.load_shared(con, districts)
    every, forms = data["committees"], data["forms"]
    frequency = dict(forms.select("form_code", "frequency").iter_rows())
    periods = roster.next_periods(dict(data["latest"].iter_rows()), frequency, targets)
    # the forms every delivering committee is sent: a person's last form counts wherever it was (moves
    # between districts), while rosters are built only for the districts asked
    known = roster.applicable_pairs(every, forms, periods, targets)
    sent = roster.known_pairs(known)  # once, not per district (234k pairs at city cardinality)
    fields = prefill.form_fields_for_prefill(data["fields"], set(gate.policy.elements))
    fields = fields.filter(pl.col("field_label") != prefill.SEQ_LABEL)
    committees = every.filter(pl.col("district_code").is_in(districts))
    any_committee = committees["committee_code"][0] if committees.height else "310101001001"
    allowed = prefill.decisions(gate, targets, fields, any_committee)
    # Who is on a form is itself personal data: a form that may not show the person's name or ID to the
    # committee for its purpose (统计分析 surveys) goes out as an empty template; its roster is withheld.
    withheld = withheld_forms(fields, allowed)
    written = _written_digests(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS reflow")
    # one commit for every district (assets/reflow/tx.py): a commit per district and table made DuckDB
    # checkpoint after each, most of the build's wall time
    with tx.transaction(con):
        totals = dict(files=0, rows=0, cells=0, cells_prefilled=0, dropped=0)
        with FilePool(workers) as pool:
            for district in districts:
                t0, c0 = time.perf_counter(), time.process_time()
                part = _build_district(
                    con, district, data, known, sent, committees, forms, fields, allowed, withheld, targets, gate, out_root,
                    run_id, written, pool,
                )  # fmt: skip
                for k, v in part.items():
                    totals[k] += v
                log.info(
                    "prefill %s: %s in %.1fs (%.1f CPU s in this process)",
                    district,
                    part,
                    time.perf_counter() - t0,
                    time.process_time() - c0,
                )
            t0 = time.perf_counter()
            pool.wait()
            log.info("prefill: waited %.1fs for the last workbooks", time.perf_counter() - t0)
        inputs.drop_temporary(con)
        _mark_current(con, districts)
        _remember_digests(con, written)
    return BuildResult(**totals, seconds=time.perf_counter() - start)


def _build_district(
    con: duckdb.DuckDBPyConnection, district: str, data: dict[str, pl.DataFrame], known: pl.DataFrame,
    sent: set[tuple[str, str]],
    committees: pl.DataFrame, forms: pl.DataFrame, fields: pl.DataFrame, allowed: pl.DataFrame,
    withheld: set[str], targets: Targets, gate: AccessGate, out_root: Path, run_id: str,
    written: dict[str, str], pool: FilePool,
) -> dict[str, int]:  # fmt: skip
    """One district: rosters, cells, prefill ids, workbooks (queued to the pool) and its reflow rows."""
    local = committees.filter(pl.col("district_code") == district)
    own = known.filter(pl.col("committee_code").is_in(local["committee_code"].implode()))
    share = inputs.load_district(con, district)
    persons = share["persons"]
    exits = data["exits"].filter(pl.col("person_id").is_in(persons["person_id"].implode()))
    rosters = roster.build_rosters(own, share["last"], persons, targets, exits, known=sent)
    status_on = pl.col("form_code").is_in(list(withheld)) & (pl.col("status") == "on")
    rosters = rosters.with_columns(
        pl.when(status_on).then(pl.lit("withheld")).otherwise(pl.col("status")).alias("status"),
        pl.when(status_on)
        .then(pl.col("reason") + pl.lit("; withheld: the form's purpose may not see who is on it"))
        .otherwise(pl.col("reason"))
        .alias("reason"),
    )
    on = _with_seq(rosters.filter(pl.col("status") == "on"), persons)
    cells = prefill.build_cells(on, fields, persons, share["delivered"], allowed)
    on, cells = prefill.assign_ids(on, cells)
    rosters = rosters.join(on.select("committee_code", "form_code", "person_id", "seq", "prefill_id"),
                           on=["committee_code", "form_code", "person_id"], how="left")  # fmt: skip
    files = _write_files(
        out_root, own, on, cells, fields, local, forms, targets, gate.policy.version, run_id, written, pool
    )
    tx.replace_rows(con, ROSTERS, rosters, f"left(committee_code, 6) = '{district}'")
    _keep_history(con, files, cells)
    return dict(files=files.height, rows=on.height, cells=cells.height,
                cells_prefilled=int(cells["prefilled"].sum()), dropped=rosters.filter(pl.col("status") == "dropped").height)  # fmt: skip


def _keep_history(con: duckdb.DuckDBPyConnection, files: pl.DataFrame, cells: pl.DataFrame) -> None:
    """Add this build's prefills, replacing only the same ids: a file staff return late still carries an id
    the warehouse knows. `current` marks the newest prefill per committee × form × period."""
    files = files.with_columns(
        pl.lit(dt.datetime.now(dt.UTC).replace(tzinfo=None)).alias("built_at"), pl.lit(True).alias("current")
    )
    where = "prefill_id IN (SELECT prefill_id FROM _new_ids)"
    if (
        files.height
    ):  # ids of a district share its prefix: the range lets DuckDB skip other districts' row groups
        lo, hi = files["prefill_id"].min(), files["prefill_id"].max()
        where = f"prefill_id BETWEEN '{lo}' AND '{hi}' AND " + where
    if warehouse.table_exists(con, FILES):  # tables of a build before these columns existed
        con.execute(f"ALTER TABLE {FILES} ADD COLUMN IF NOT EXISTS built_at TIMESTAMP")
        con.execute(f"ALTER TABLE {FILES} ADD COLUMN IF NOT EXISTS current BOOLEAN")
    con.register("_new_ids", files.select("prefill_id").to_arrow())
    try:
        tx.replace_rows(con, FILES, files, where)
        tx.replace_rows(con, CELLS, cells, where)
    finally:
        con.unregister("_new_ids")


def _mark_current(con: duckdb.DuckDBPyConnection, districts: list[str]) -> None:
    """`current` = the newest prefill per committee × form × period, for the districts just built."""
    if not warehouse.table_exists(con, FILES):
        return
    con.execute(f"""
        UPDATE {FILES} f SET current = coalesce(f.prefill_id = n.newest, TRUE)
        FROM (SELECT committee_code, form_code, period, arg_max(prefill_id, built_at) AS newest
              FROM {FILES} WHERE left(committee_code, 6) IN (SELECT unnest(?::VARCHAR[])) GROUP BY ALL) n
        WHERE f.committee_code = n.committee_code AND f.form_code = n.form_code AND f.period = n.period""",
                [districts])  # fmt: skip


WORKBOOKS = "ops.prefill_workbooks"  # path -> digest of the sheet written there (operational state)


def _written_digests(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not warehouse.table_exists(con, WORKBOOKS):
        return {}
    return dict(con.execute(f"SELECT path, digest FROM {WORKBOOKS}").fetchall())


def _remember_digests(con: duckdb.DuckDBPyConnection, written: dict[str, str]) -> None:
    frame = pl.DataFrame({"path": list(written), "digest": list(written.values())}, schema={"path": pl.String, "digest": pl.String})  # fmt: skip
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    warehouse.replace_table(con, WORKBOOKS, frame)


def _write_files(
    out_root: Path, pairs: pl.DataFrame, on: pl.DataFrame, cells: pl.DataFrame, fields: pl.DataFrame,
    committees: pl.DataFrame, forms: pl.DataFrame, targets: Targets, policy_version: str, run_id: str,
    written: dict[str, str] | None = None, pool: FilePool | None = None,
) -> pl.DataFrame:  # fmt: skip
    """One workbook per (committee, form, period) of `pairs`, also when nobody is on the roster yet.

    `written` maps a workbook's path to the digest of the sheet last written there: a workbook whose sheet
    is the same is left as it is (same bytes, same mtime), the rest are written (by `pool` when given: queued
    to its workers) and their digest updated."""
    written = {} if written is None else written
    to_write: list[tuple[Path, FormSheet, bool]] = []
    code = fp.code_fingerprint(["assets/reflow/workbook.py", "assets/reflow/xlsxfast.py"])
    names = {r["committee_code"]: r["committee_name"] for r in committees.iter_rows(named=True)}
    form_info = {r["form_code"]: r for r in forms.iter_rows(named=True)}
    # per form, its labels and types once (not one frame and two lists per workbook)
    by_form = {
        f: (part["field_label"].to_list(), part["field_type"].to_list())
        for (f,), part in fields.sort("field_order").group_by("form_code", maintain_order=True)
    }
    # per (committee, form): one row per person, values and flags in field order — aggregated in one pass
    # into lists (a frame per workbook cost ~50 µs each: seconds at city cardinality)
    per_person = (
        cells.sort("committee_code", "form_code", "seq", "field_order")
        .group_by("committee_code", "form_code", "seq", "person_id", maintain_order=True)
        .agg("value", "prefilled")
        .group_by("committee_code", "form_code", maintain_order=True)
        .agg("value", "prefilled", "person_id")
    )
    cells_by = {(c, f): (v, fl, pe) for c, f, v, fl, pe in per_person.iter_rows()}
    ids = {(r["committee_code"], r["form_code"]): r["prefill_id"] for r in on.select(
        "committee_code", "form_code", "prefill_id").unique().iter_rows(named=True)}  # fmt: skip
    cover: dict[tuple[str, str], str] = {}
    rows = []
    for committee, form, period in pairs.iter_rows():
        info, flds = form_info[form], by_form.get(form)
        if flds is None:
            continue
        pid = ids.get((committee, form)) or prefill.prefill_id(committee, form, period, "")
        values, flags, persons = cells_by.get((committee, form), ([], [], []))
        cov = cover.get((form, period))
        if cov is None:
            cov = cover[(form, period)] = coverage_date(period, targets.rule(form).coverage_date).isoformat()
        sheet = FormSheet(
            prefill_id=pid, committee_code=committee, committee_name=names.get(committee, committee),
            form_code=form, form_name=info["form_name"], department=info["department"] or "", period=period,
            coverage_date=cov, labels=flds[0], field_types=flds[1],
            rows=values, prefilled=flags, person_ids=persons,
        )  # fmt: skip
        rel = f"{committee[:6]}/{form}/{period}/{_file_name(committee, info['form_name'], period)}"
        target = out_root / rel
        key, digest = str(target), fp.digest(code, repr(sheet))
        if written.get(key) != digest or not target.is_file():
            to_write.append((target, sheet, True))
            written[key] = digest
        n_cells = len(values) * len(flds[0])
        n_pre = sum(sum(f) for f in flags)
        rows.append((pid, committee, committee[:6], form, info["form_name"], info["department"], period, cov,
                     key, rel, len(values), n_cells, n_pre, policy_version, run_id))  # fmt: skip
    if pool is None:
        with FilePool(workers=1) as inline:
            inline.write(to_write)
    else:
        pool.write(to_write)
    schema = {"prefill_id": pl.String, "committee_code": pl.String, "district_code": pl.String,
              "form_code": pl.String, "form_name": pl.String, "department": pl.String, "period": pl.String,
              "coverage_date": pl.String, "path": pl.String, "relative_path": pl.String, "rows": pl.Int64,
              "cells": pl.Int64, "cells_prefilled": pl.Int64, "policy_version": pl.String, "run_id": pl.String}  # fmt: skip
    return pl.DataFrame(rows, schema=schema, orient="row")
