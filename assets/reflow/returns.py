"""Pick up returned files, recognize prefilled ones by their id, reconcile them, and write the reflow tables.

Returned files sit in a landing-zone layout (`<root>/<district>/<form>/<period>/<file>`), so they are also
ordinary deliveries. A file whose hidden sheet names a known prefill id is reconciled row by row and cell by
cell; any other file (id removed, retyped from scratch, CSV) goes through ingestion's own reader and stager
(assets/ingest: read-only use) as an ordinary delivery, and every non-empty value it holds counts as typed.
Every returned data row ends in `reflow.return_rows` (or, for ordinary deliveries, staged/quarantined/skipped
counts in `reflow.returns`), and corrections and added rows become `reflow.person_evidence` for the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import time
from pathlib import Path

import duckdb
import polars as pl

from assets.common import fingerprint as fp
from assets.common import warehouse
from assets.reflow import reconcile as rc
from assets.reflow import reconcile_batch as rb
from assets.reflow import reuse, tx
from assets.reflow.inputs import memory_limit
from assets.reflow.ordinary import OrdinaryReader
from assets.reflow.pool import CHUNK, FilePool
from assets.reflow.targets import period_bounds
from assets.reflow.workbook import ReturnedSheet

log = logging.getLogger(__name__)

RETURNS, ROWS, CELLS = "reflow.returns", "reflow.return_rows", "reflow.return_cells"
EXITS, EVIDENCE = "reflow.roster_exits", "reflow.person_evidence"
EVIDENCE_ELEMENTS = {"person_name": "person_name", "citizen_id": "id_number", "sex": "sex",
                     "birth_date": "birth_date", "phone": "phone", "household_address": "household_address",
                     "residence_address": "residence_address"}  # fmt: skip
RETURN_SCHEMA = {
    "return_file": pl.String, "file_hash": pl.String, "district_code": pl.String, "committee_code": pl.String,
    "form_code": pl.String, "period": pl.String, "prefill_id": pl.String, "kind": pl.String,
    "rows_read": pl.Int64, "rows_confirmed": pl.Int64, "rows_corrected": pl.Int64, "rows_added": pl.Int64,
    "rows_removed": pl.Int64, "rows_staged": pl.Int64, "rows_quarantined": pl.Int64, "rows_skipped": pl.Int64,
    "cells_confirmed": pl.Int64, "cells_corrected": pl.Int64, "cells_typed": pl.Int64, "message": pl.String,
    "run_id": pl.String, "reconciled_at": pl.Datetime("us"),
}  # fmt: skip
ROW_SCHEMA, CELL_SCHEMA = rb.ROW_SCHEMA, rb.CELL_SCHEMA  # one definition: the workers build these frames


def discover_returns(root: Path, districts: list[str]) -> list[Path]:
    """Returned files of the districts under `root`, sorted (editor lock files left out)."""
    out: list[Path] = []
    for d in districts:
        folder = Path(root) / d
        if folder.is_dir():
            out += [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "~$"))]
    return sorted(out)


def _location(root: Path, path: Path) -> tuple[str, str | None, str | None, str | None, str | None]:
    rel = path.relative_to(root)
    parts = rel.parts
    committee = re.match(r"^(\d{12})(?!\d)", path.name)
    if len(parts) != 4:
        return rel.as_posix(), parts[0] if parts else None, None, None, None
    return rel.as_posix(), parts[0], committee.group(1) if committee else None, parts[1], parts[2]


def _prefilled_rows_many(
    con: duckdb.DuckDBPyConnection, prefill_ids: list[str]
) -> dict[str, list[rc.PrefilledRow]]:
    """The prefilled rows of every prefill id asked for, in one query (one per returned file was the cost)."""
    frame = warehouse.read_frame(
        con,
        f"SELECT {rb.PREFILLED_COLUMNS} FROM reflow.prefill_cells WHERE prefill_id BETWEEN ? AND ? "
        "AND prefill_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY prefill_id, seq, field_order",
        # the range lets DuckDB skip other districts' row groups
        [min(prefill_ids, default=""), max(prefill_ids, default=""), sorted(set(prefill_ids))],
    )
    return rb.prefilled_rows(frame)


def _reconcile_on_workers(
    con: duckdb.DuckDBPyConnection, root: Path, workbooks: list[Path], known: set[str], pool: FilePool
) -> tuple[dict[Path, dict | ReturnedSheet | str], tuple[list[pl.DataFrame], list[pl.DataFrame]]]:
    """Each workbook's counts when a worker reconciled it (it carried the current prefill id of its
    committee, form and period), else its parsed sheet or why it could not be read; and the rows and cells
    frames of the reconciled ones (assets/reflow/reconcile_batch.py)."""
    places = {}
    for path in workbooks:
        rel, _, committee, form, period = _location(root, path)
        places[path] = (rel, committee, form, period)
    expected: dict[tuple, str] = {}
    needed = {"committee_code", "form_code", "period", "current"}
    if known and workbooks and needed <= {c for c, _ in warehouse.column_types(con, "reflow.prefill_files")}:
        wanted = pl.DataFrame([p[1:] for p in places.values()], orient="row",
                              schema={"committee_code": pl.String, "form_code": pl.String, "period": pl.String})  # fmt: skip
        con.register("_rf_places", wanted.unique().to_arrow())
        try:
            expected = {(c, f, p): pid for c, f, p, pid in con.execute(
                "SELECT f.committee_code, f.form_code, f.period, f.prefill_id FROM reflow.prefill_files f "
                "JOIN _rf_places USING (committee_code, form_code, period) WHERE f.current").fetchall()}  # fmt: skip
        finally:
            con.unregister("_rf_places")
    items = [
        (str(path), rel, c, f, p, expected.get((c, f, p), "")) for path, (rel, c, f, p) in places.items()
    ]
    ids = sorted({i[5] for i in items if i[5]})
    prefilled = warehouse.read_frame(
        con,
        f"SELECT {rb.PREFILLED_COLUMNS} FROM reflow.prefill_cells WHERE prefill_id BETWEEN ? AND ? "
        "AND prefill_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY prefill_id, seq, field_order",
        [ids[0], ids[-1], ids],
    ) if ids else pl.DataFrame(schema={"prefill_id": pl.String})  # fmt: skip
    calls = list(rb.batches(items, prefilled, CHUNK))
    results = pool.map(rb.reconcile_many, calls, items=len(items))
    out: dict[Path, dict | ReturnedSheet | str] = {}
    rows, cells = [], []
    for (chunk, _), (per_file, chunk_rows, chunk_cells) in zip(calls, results, strict=True):
        out.update(zip((Path(i[0]) for i in chunk), per_file, strict=True))
        rows.append(chunk_rows)
        cells.append(chunk_cells)
    return out, (rows, cells)


def _empty_form_labels(con: duckdb.DuckDBPyConnection, form: str) -> list[rc.PrefilledRow]:
    """A prefill with nobody on it still tells which labels the form has: one virtual row, removed later."""
    frame = warehouse.read_frame(
        con, "SELECT field_order, field_label, element_code FROM catalog.form_fields WHERE form_code = ? "
             "AND field_label <> '序号' ORDER BY field_order", [form])  # fmt: skip
    return [rc.PrefilledRow(-1, None, {r[0]: (r[1], None, False, r[2]) for r in frame.iter_rows()})]


def reconcile_returns(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    districts: list[str],
    landing_root: Path,
    run_id: str = "",
    workers: int | None = None,
) -> pl.DataFrame:
    """Reconcile every returned file of `districts` under `root`; replace their rows in the reflow tables.

    `landing_root` holds the form catalog ingestion reads for ordinary deliveries. One district at a time
    (its rows are written and released before the next); returned workbooks are parsed by a process pool
    (assets/reflow/pool.py). Returns reflow.returns rows of this run."""
    from assets.reflow import ordinary

    known = set(warehouse.read_frame(con, "SELECT prefill_id FROM reflow.prefill_files")["prefill_id"].to_list()) \
        if warehouse.table_exists(con, "reflow.prefill_files") else set()  # fmt: skip
    reader = ordinary.OrdinaryReader(con, landing_root)
    con.execute("CREATE SCHEMA IF NOT EXISTS reflow")
    out: list[pl.DataFrame] = []
    # one commit for every district (assets/reflow/tx.py)
    with FilePool(workers) as pool, memory_limit(con), tx.transaction(con):
        for district in districts:
            out.append(_reconcile_district(con, Path(root), district, known, reader, pool, run_id))
    return pl.concat(out) if out else pl.DataFrame(schema=RETURN_SCHEMA)


def _reconcile_district(
    con: duckdb.DuckDBPyConnection, root: Path, district: str, known: set[str], reader: OrdinaryReader,
    pool: FilePool, run_id: str,
) -> pl.DataFrame:  # fmt: skip
    """One district's returns: parsed (pool), reconciled or staged, its rows in the reflow tables replaced."""
    from assets.reflow import ordinary

    now, t0, c0 = dt.datetime.now(dt.UTC).replace(tzinfo=None), time.perf_counter(), time.process_time()
    files, rows, cells, plain = [], [], [], []
    found = [
        (path, hashlib.sha256(path.read_bytes()).hexdigest()) for path in discover_returns(root, [district])
    ]
    # unchanged prefill returns reconciled on an earlier night: their rows are kept (assets/reflow/reuse.py)
    kept = reuse.reusable(con, {_location(root, p)[0]: h for p, h in found})
    todo = [(p, h) for p, h in found if _location(root, p)[0] not in kept]
    workbooks = [p for p, _ in todo if p.suffix.lower() == ".xlsx"]
    # parsed and, when they carry the prefill id of their place, reconciled on the workers
    done, frames = _reconcile_on_workers(con, root, workbooks, known, pool)
    returned = []
    for path, digest in todo:
        sheet = done.get(path)
        if isinstance(sheet, str):  # calamine raises several types for broken workbooks
            log.warning(
                "%s: not a readable workbook (%s); left to ingestion", _location(root, path)[0], sheet
            )
            sheet = None
        returned.append((path, digest, sheet))
    prefilled_by_id = _prefilled_rows_many(
        con, [s.prefill_id for _, _, s in returned if isinstance(s, ReturnedSheet) and s.prefill_id in known]
    ) if known else {}  # fmt: skip
    for path, digest, sheet in returned:
        rel, district_code, committee, form, period = _location(root, path)
        base = {k: None for k in RETURN_SCHEMA} | {
            "return_file": rel, "file_hash": digest, "district_code": district_code, "committee_code": committee,
            "form_code": form, "period": period, "run_id": run_id, "reconciled_at": now}  # fmt: skip
        if isinstance(sheet, dict):  # reconciled on a worker
            files.append(base | sheet)
            continue
        if sheet is None or sheet.prefill_id is None or sheet.prefill_id not in known:
            base["kind"] = (
                "ordinary_delivery" if sheet is None or sheet.prefill_id is None else "unknown_prefill_id"
            )
            plain.append((path, base))
            continue
        pid = sheet.prefill_id
        prefilled = prefilled_by_id.get(pid) or _empty_form_labels(con, form or "")
        keys = {"return_file": rel, "prefill_id": pid, "committee_code": committee, "form_code": form,
                "period": period}  # fmt: skip
        counts, file_rows, file_cells = rb.reconcile_file(prefilled, sheet, keys)
        rows += file_rows
        cells += file_cells
        files.append(base | counts)
    plain_files, plain_cells = ordinary.stage_ordinary(con, plain, reader, run_id)
    files += plain_files
    cells += plain_cells
    out_files = pl.DataFrame(files, schema=RETURN_SCHEMA, orient="row") if files else pl.DataFrame(
        schema=RETURN_SCHEMA)  # fmt: skip
    out_rows = pl.concat([*frames[0], rb.rows_frame(rows)])
    out_cells = pl.concat([*frames[1], rb.cells_frame(cells)])
    del rows, cells
    old_files, old_rows, old_cells = reuse.previous_rows(
        con, sorted(kept), (RETURN_SCHEMA, ROW_SCHEMA, CELL_SCHEMA)
    )
    # evidence of the files reconciled tonight, against tonight's golden records; a kept return keeps the
    # evidence it gave when it was reconciled (recomputing it against the golden records it has itself changed
    # would be new evidence every night, and the loop would not settle)
    evidence = pl.concat([
        # (ordinary deliveries, read again every night, give cells and no rows: their evidence is built here too)
        evidence_frame(out_rows, out_cells, _golden(con, out_rows["person_id"].drop_nulls().unique().to_list())
                       if out_rows.height else None),
        reuse.previous_evidence(con, sorted(kept), EVIDENCE, EVIDENCE_SCHEMA),
    ])  # fmt: skip
    out_files = pl.concat([out_files, old_files])
    out_rows, out_cells = pl.concat([out_rows, old_rows]), pl.concat([out_cells, old_cells])
    where = f"district_code = '{district}'"
    dwhere = f"left(committee_code, 6) = '{district}'"
    # files of this district whose committee is not known from the name still carry their district folder
    fwhere = f"left(return_file, 6) = '{district}'"
    tx.replace_rows(con, RETURNS, out_files, where)
    reuse.remember(con, out_files, fwhere)
    tx.replace_rows(con, ROWS, out_rows, fwhere)
    tx.replace_rows(con, CELLS, out_cells, fwhere)
    tx.replace_rows(con, EXITS, exits_frame(out_rows), dwhere)
    tx.replace_rows(con, EVIDENCE, evidence, f"left(district_code, 6) = '{district}'")
    # who last wrote the returns' tables: the nightly runner's reflow fingerprints are kept until this moves
    fp.record(con, {"written:reflow.returns": fp.digest(run_id, now)}, run_id=run_id)
    log.info(
        "returns of %s: %s files reconciled, %s unchanged and kept in %.1fs (%.1f CPU s in this process)",
        district,
        len(files),
        len(kept),
        time.perf_counter() - t0,
        time.process_time() - c0,
    )
    return out_files


def _golden(con: duckdb.DuckDBPyConnection, person_ids: list[str]) -> pl.DataFrame | None:
    """The golden identity of the persons the returned rows were reconciled to."""
    if not warehouse.table_exists(con, "core.persons"):
        return None
    cols = ", ".join(EVIDENCE_ELEMENTS.values())
    return warehouse.read_frame(
        con, f"SELECT person_id, {cols} FROM core.persons WHERE person_id IN (SELECT unnest(?::VARCHAR[]))",
        [person_ids],
    )  # fmt: skip


def exits_frame(rows: pl.DataFrame) -> pl.DataFrame:
    """Removals with a staff reason: the next roster build keeps these persons off (schemas/reflow/targets.yaml)."""
    return rows.filter((pl.col("outcome") == "removed") & pl.col("staff_reason").is_not_null()
                       & pl.col("person_id").is_not_null()).select(
        "person_id", "committee_code", "form_code", "period", pl.col("staff_reason").alias("reason"),
        "return_file")  # fmt: skip


def evidence_frame(
    rows: pl.DataFrame, cells: pl.DataFrame, persons: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Person rows (the columns of staging.person_rows) for returned rows that corrected or added identity facts,
    so entity resolution and the golden record see them on the next run, with the return file as lineage.

    A row reconciled to a person (matched by ID, name or 序号) is about that person: identity facts the form
    does not ask (an ID, a birth date) are taken from the person's golden record, so the matcher can link a
    corrected phone to its person even on a form without an ID column."""
    ident = cells.filter(
        pl.col("element_code").is_in(list(EVIDENCE_ELEMENTS)) & pl.col("returned_value").is_not_null()
    )
    changed = ident.filter(pl.col("outcome").is_in(["corrected", "typed"])).select(
        "return_file", "row_number").unique()  # fmt: skip
    keep = ident.join(changed, on=["return_file", "row_number"], how="semi")
    if keep.is_empty():
        return pl.DataFrame(schema=EVIDENCE_SCHEMA)
    wide = keep.with_columns(pl.col("element_code").replace_strict(EVIDENCE_ELEMENTS).alias("col")).pivot(
        on="col", index=["return_file", "row_number", "committee_code", "form_code", "period", "person_id"],
        values="returned_value", aggregate_function="first")  # fmt: skip
    for c in EVIDENCE_ELEMENTS.values():
        if c not in wide.columns:
            wide = wide.with_columns(pl.lit(None, pl.String).alias(c))
    # a return states facts as of its coverage date (the period end): later than the deliveries it was
    # prefilled from, so golden-record recency (e.g. the latest phone) prefers a correction
    starts = {p: period_bounds(p)[1] for p in wide["period"].unique().to_list() if p}
    out = wide.with_columns(
        (pl.lit("rf-") + pl.concat_str("return_file", pl.col("row_number").cast(pl.String), separator="#")
         .map_elements(lambda s: hashlib.sha1(s.encode()).hexdigest()[:14], return_dtype=pl.String)).alias("record_id"),
        pl.col("return_file").alias("source_file"),
        pl.col("row_number").cast(pl.Int32),
        pl.col("committee_code").str.slice(0, 6).alias("district_code"),
        pl.col("period").replace_strict(starts, default=None, return_dtype=pl.Date).alias("period_start"),
        pl.col("phone").str.replace_all(r"\D", ""),
        pl.col("id_number").str.to_uppercase(),
        pl.col("birth_date").str.slice(0, 10).str.to_date(strict=False).alias("birth_date"),
    )  # fmt: skip
    if persons is not None and persons.height:
        golden = persons.select("person_id", *[pl.col(c).alias(f"g_{c}") for c in EVIDENCE_ELEMENTS.values()])
        out = out.join(golden, on="person_id", how="left").with_columns(
            pl.coalesce(c, f"g_{c}").alias(c) for c in EVIDENCE_ELEMENTS.values()
        )
    out = out.with_columns(
        pl.when(pl.col("id_number").str.contains(r"^\d{17}[\dX]$")).then(pl.lit("valid")).otherwise(pl.lit("blank"))
        .alias("id_status"),
        pl.when(pl.col("birth_date").is_not_null()).then(pl.lit("day")).alias("birth_precision"),
    )  # fmt: skip
    return out.select(list(EVIDENCE_SCHEMA)).cast(EVIDENCE_SCHEMA)


EVIDENCE_SCHEMA = {
    "record_id": pl.String, "source_file": pl.String, "row_number": pl.Int32, "committee_code": pl.String,
    "district_code": pl.String, "form_code": pl.String, "period": pl.String, "period_start": pl.Date,
    "person_name": pl.String, "id_number": pl.String, "id_status": pl.String, "sex": pl.String,
    "birth_date": pl.Date, "birth_precision": pl.String, "phone": pl.String, "household_address": pl.String,
    "residence_address": pl.String,
}  # fmt: skip
