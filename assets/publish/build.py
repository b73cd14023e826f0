"""Write, scan and checksum one product that must be rewritten (a *job*): the part of a run that is repeated per
product, in this process or in a worker of `pool.py` (no dagster here).

`products.publish` decides in the calling process which products are carried and which are jobs (fingerprints
need no writing); a job needs only what every job of the run shares (`Context`: the policy, the bound and staged
datasets, the profiles' decisions) and its own `Job`. Each job writes exactly one file of `.building/<run>`: a
product file has one writer, whichever process runs it.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from assets.publish import generation, leakscan, pieces, plan, scope, writer
from assets.publish.binding import BoundDataset
from assets.publish.plan import Decisions
from assets.publish.policy import Policy
from assets.publish.types import Principal, ProductRecord, TablePlan, TableRecord


@dataclass
class Context:
    """What every job of one run shares (sent once to each worker)."""

    policy: Policy
    bound: list[BoundDataset]
    forms: dict[str, str]
    stats: scope.Stats
    decisions: list[list[Decisions]]  # per profile group (Job.group indexes it)
    run_id: str
    published_at: dt.datetime
    gen_id: str
    mask_key_fingerprint: str
    published: Path


@dataclass
class Job:
    """One product to write: its place in the run and what was decided about it before any writing."""

    index: int  # order of the product in the run (results are put back in this order)
    group: int
    principal: Principal
    relpath: str
    target: Path
    jurisdiction_name: str | None
    fingerprint: str
    base: str
    parts: dict[str, dict[str, str]]
    key: str | None  # encryption key of the file, if its principal set encrypts
    old_path: Path | None = None
    reuse: dict[str, Any] = field(default_factory=dict)  # {"changed", "steps"}: may be assembled from pieces
    weight: int = 0  # rows under its jurisdiction (larger jobs are started first)


@dataclass
class Built:
    """What a job returns: the product's record (None when its profile has no visible column), its scan."""

    index: int
    group: int
    record: ProductRecord | None
    steps: list[str]
    findings: list[leakscan.Finding]
    tables: int = 0
    rows: int = 0
    cells: int = 0
    pieced: bool = False
    phases: dict[str, float] = field(default_factory=dict)


def _drop(con: duckdb.DuckDBPyConnection, plans: list[TablePlan]) -> None:
    for p in plans:
        for table in (p.staged, p.suppressed_in):
            if table and not table.startswith("("):  # a SELECT written straight into the product
                con.execute(f"DROP TABLE IF EXISTS {table}")


def _write(con: duckdb.DuckDBPyConnection, ctx: Context, job: Job, uid: int, target: Path,
           meta: dict[str, object], rows_from: Any = None) -> tuple[list[TablePlan], list[str], list[TableRecord]]:  # fmt: skip
    """Plan and write one product file; ([] , [], []) when the profile gives no visible column."""
    p = job.principal
    comp = plan.Compiler(con, ctx.policy, scope.scoped(ctx.bound, p.jurisdiction), ctx.forms, ctx.stats,
                         prefix=p.jurisdiction)  # fmt: skip
    plans, steps = plan.plan_principal(comp, p, ctx.decisions[job.group], uid, rows_from)
    if not plans:
        return [], [], []
    try:
        records = writer.write_product(con, p, plans, target, meta, job.key)
    finally:
        _drop(con, plans)
    return plans, steps, records


def _scan(con: duckdb.DuckDBPyConnection, ctx: Context, job: Job, path: Path,
          report: leakscan.LeakReport) -> dict[str, int]:  # fmt: skip
    before = (len(report.findings), report.tables, report.rows, report.cells)
    leakscan.scan_product(con, ctx.policy, job.principal, path, report, job.key, job.relpath)
    return {"findings": len(report.findings) - before[0], "tables": report.tables - before[1],
            "rows": report.rows - before[2], "cells": report.cells - before[3]}  # fmt: skip


def build(con: duckdb.DuckDBPyConnection, ctx: Context, job: Job, uid: int) -> Built:
    """Plan, write and leak-scan one product (from pieces of the previous one when `job.reuse` allows);
    `con` holds the staged datasets, the tokens table and the form classes. `uid` names its staged tables."""
    ts = mark = time.perf_counter()
    phases: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] = phases.get(name, 0.0) + now - mark
        mark = now

    p, reuse, target = job.principal, dict(job.reuse), job.target
    report = leakscan.LeakReport()

    def rows_from(steps: list[str]) -> list[BoundDataset]:
        # the previous product's rows are reusable only if its k-anonymity steps are today's too
        if reuse and steps == reuse["steps"]:
            reuse["used"] = True
            return pieces.delta_bound(ctx.bound, p.jurisdiction, reuse["changed"])
        return []

    meta = writer.product_meta(p, job.jurisdiction_name, ctx.run_id, ctx.published_at, ctx.policy,
                               ctx.mask_key_fingerprint, ctx.gen_id)  # fmt: skip
    delta = target.parent / (target.name + ".delta")
    # which file is written is known only once the steps are: plan first, then write where rows_from said
    comp = plan.Compiler(con, ctx.policy, scope.scoped(ctx.bound, p.jurisdiction), ctx.forms, ctx.stats,
                         prefix=p.jurisdiction)  # fmt: skip
    plans, steps = plan.plan_principal(comp, p, ctx.decisions[job.group], uid, rows_from if reuse else None)
    lap("plan")
    if not plans:
        return Built(job.index, job.group, None, [], [], phases=phases)
    written = delta if reuse.get("used") else target
    try:
        records = writer.write_product(con, p, plans, written, meta, job.key)
        lap("write")
    finally:
        _drop(con, plans)
    scan = _scan(con, ctx, job, written, report)
    lap("scan")
    pieced = False
    if written != target:
        assert job.old_path is not None
        got = None
        if scan["findings"] == 0:
            got = pieces.assemble(con, job.old_path, written, target, plans, {b.name: b for b in ctx.bound},
                                  reuse["changed"], records)  # fmt: skip
        if got is None:  # a delta with findings fails the run anyway; the old product did not fit
            target.unlink(missing_ok=True)
            written.rename(target)
            if scan["findings"] == 0:  # (rare) rebuild in full from every row
                report = leakscan.LeakReport()
                plans, _, records = _write(con, ctx, job, uid, target, meta)
                scan = _scan(con, ctx, job, target, report)
        else:
            records, reused = got
            written.unlink(missing_ok=True)
            scan = {**scan, "rows": sum(r.rows for r in records), "reused_rows": reused,
                    "pieces_changed": sum(len(v) for v in reuse["changed"].values())}  # fmt: skip
            report.rows += reused
            pieced = True
        lap("assemble")
    record = ProductRecord(p, ctx.published / job.relpath, job.relpath, job.jurisdiction_name,
                           writer.sha256_file(target), target.stat().st_size, job.key is not None, records,
                           time.perf_counter() - ts, job.fingerprint, False, scan, steps,
                           generation.stat_of(target), pieces.record_fields(job.base, job.parts))  # fmt: skip
    lap("checksum")
    return Built(job.index, job.group, record, steps, report.findings, report.tables, report.rows, report.cells,
                 pieced, phases)  # fmt: skip
