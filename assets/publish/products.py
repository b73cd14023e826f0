"""Publish every principal's product as one atomic generation (no dagster here; `defs.py` and `cli.py` call
`run.publish_and_record`, which calls `publish`).

1. Remove leftovers of crashed runs (`generation.cleanup`); open an in-memory DuckDB with the warehouse
   attached READ_ONLY; bind and stage every dataset (`binding`).
2. Derive the principals; per profile (tier, department, purpose) compile and stage the treated tables once
   (`plan`: decisions checked as a set, k-anonymity, complementary suppression).
3. Per principal: fingerprint the inputs; if the current generation holds a product with the same fingerprint,
   hard-link it (unchanged bytes and mtime, its recorded scan reused); else it is a job (`build.py`): written
   into `.building/<run>` and leak-scanned right away (each product is scanned once, as it is written), in this
   process or, when there are enough jobs, in a pool of processes (`pool.py`, `JIANFU_PUBLISH_WORKERS`).
4. Only if every product is clean: record the generation, seal it into `generations/`, and — after the audit
   manifest has recorded it (`run.py`) — switch `current` to it. Otherwise nothing visible changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assets.common import progress
from assets.publish import binding, build, generation, inputs, leakscan, pieces, plan, pool, scope
from assets.publish.binding import (
    BoundDataset,
    bind_datasets,
    division_names,
    jurisdictions_present,
    open_sources,
)
from assets.publish.generation import product_files
from assets.publish.keys import MaskKey
from assets.publish.policy import Policy, principals_for
from assets.publish.types import (
    TIER_CODES,
    Denial,
    Principal,
    ProductRecord,
    PublishError,
    TableRecord,
    Tier,  # fmt: skip
)

__all__ = ["BoundDataset", "Denial", "PublishError", "PublishResult", "bind_datasets", "open_sources",
           "product_files", "publish", "switch"]  # fmt: skip

log = logging.getLogger(__name__)
PIECE_TIERS = (Tier.CITY, Tier.DISTRICT)  # large products, updated from per-partition pieces


@dataclass
class PublishResult:
    run_id: str
    policy_version: str
    published_at: dt.datetime
    mask_key_fingerprint: str
    mask_key_source: str
    products: list[ProductRecord]
    denials: list[Denial]
    retired: list[str]
    scan: leakscan.LeakReport
    swapped: bool  # the generation is complete and scanned clean (visible once `switch` ran)
    seconds: float
    build_seconds: float
    scan_seconds: float
    bound: list[str]
    generation: str = ""
    generation_path: Path | None = None
    published_dir: Path | None = None
    carried: int = 0
    removed_leftovers: int = 0
    pieced: int = 0
    phases: dict[str, float] = field(
        default_factory=dict
    )  # seconds per phase: bind, inputs, plan, write, scan …

    @property
    def product_count(self) -> int:
        return len(self.products)

    def counts_by_tier(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.products:
            out[TIER_CODES[p.principal.tier]] += 1
        return dict(out)


def _table_records(entry: Mapping[str, object]) -> list[TableRecord]:
    from assets.publish.types import ColumnOut

    out = []
    for t in entry.get("tables", []):  # type: ignore[union-attr]
        cols = [ColumnOut(**c) for c in t["columns"]]
        out.append(TableRecord(t["table"], t["dataset"], t["kind"], t["rows"], t["suppressed_cells"], cols))
    return out


def _record_entry(rec: ProductRecord) -> dict[str, object]:
    return {
        "principal": rec.principal.ref, "sha256": rec.sha256, "bytes": rec.bytes, "fingerprint": rec.fingerprint,
        "encrypted": rec.encrypted, "carried": rec.carried, "scan": rec.scan, "k_steps": rec.k_steps or [],
        "stat": rec.stat, **(rec.pieces or {}),
        "tables": [{"table": t.table, "dataset": t.dataset, "kind": t.kind, "rows": t.rows,
                    "suppressed_cells": t.suppressed_cells, "columns": [c.__dict__ for c in t.columns]}
                   for t in rec.tables],
    }  # fmt: skip


def _generalizations(policy: Policy, group: list[Principal], steps: Counter[str]) -> list[Denial]:
    """One denial per k-anonymity step taken in a profile, with how many of its products took it (each product
    is generalized on its own rows: `plan.plan_principal`)."""
    p = group[0]
    return [Denial("generalization", None, "k_anonymity", f"k={policy.settings.k_anonymity.k}: {step}",
                   tier=p.tier.value, department=p.department, purpose=p.purpose, principals=n)
            for step, n in sorted(steps.items())]  # fmt: skip


def publish(
    warehouse_path: str | Path,
    published_dir: str | Path,
    policy: Policy,
    mask_key: MaskKey,
    *,
    run_id: str | None = None,
    tiers: Iterable[Tier] | None = None,
    encryption_keys: Mapping[Tier, str] | None = None,
    unsafe_test_crypto: bool = False,
    switch_now: bool = True,
) -> PublishResult:
    """Build, scan and seal one generation; switch `current` to it when `switch_now` (else call `switch`).

    `tiers` rebuilds only those tiers (the others are carried over unchanged). `encryption_keys` gives the key per
    tier for principal sets with `encrypt: true`. `unsafe_test_crypto` lets tests write encrypted files without
    the httpfs extension (DuckDB's mbedTLS writer is not secure: never in production). Products of principals no longer
    published (revoked, or no data any more) are simply not in the new generation (`retired`)."""
    t0 = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    published = Path(published_dir)
    published.mkdir(parents=True, exist_ok=True)
    removed = generation.cleanup(published)
    tier_filter = set(tiers) if tiers is not None else None
    encryption_keys = dict(encryption_keys or {})
    previous = generation.current_generation(published)
    prev_products: dict[str, dict] = generation.read_record(previous).get("products", {})
    building = generation.building_dir(published, run_id)
    gen_id = f"{published_at.strftime('%Y%m%dT%H%M%SZ')}-{run_id[:12]}"

    con = open_sources(warehouse_path, mask_key)
    products: list[ProductRecord] = []
    carried = 0
    pieced = 0  # products rewritten from the previous product's unchanged partitions plus a delta
    phases: dict[str, float] = defaultdict(
        float
    )  # where the time went (benchmarks/bench_publish.py prints it)
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        phases[name] += now - mark
        mark = now

    try:
        if unsafe_test_crypto:
            con.execute("SET force_mbedtls_unsafe = true")
        # sources are copied into memory once a product is written; with no previous record to carry from
        # (a first build) every product will be, so copy them now and digest them from memory
        bound, denials = bind_datasets(con, policy, lazy=True)
        if not prev_products:
            binding.materialize(con, bound)
            lap("stage")
        forms = binding.form_classes(con)
        names, committees = division_names(con)
        present = jurisdictions_present(con, bound)
        principals = principals_for(policy, present, committees)
        missing_keys = sorted(
            {TIER_CODES[p.tier] for p in principals if p.encrypt and not encryption_keys.get(p.tier)}
        )
        if missing_keys:
            raise PublishError("encryption is on for tiers without a key: "
                               + ", ".join(f"{t} (set JIANFU_PRODUCT_KEY_{t.upper()})" for t in missing_keys))  # fmt: skip
        for ps in policy.principal_sets:
            if ps.enabled and not any(p.tier is ps.tier and p.suffix == ps.suffix for p in principals):
                denials.append(Denial("principal", None, "no_jurisdiction_present",
                                      f"principal set {ps.id}: no jurisdiction has data"))  # fmt: skip
        lap("bind")
        stats = scope.Stats({b.name: b for b in bound})
        by_profile: dict[tuple[object, ...], list[Principal]] = defaultdict(list)
        for p in principals:
            by_profile[p.profile].append(p)
        resolved = []  # every profile's decisions first: they say which columns can reach a product
        for group in by_profile.values():
            decisions, prof_denials = plan.resolve_profile(plan.Compiler(con, policy, bound, forms, stats),
                                                           group[0], len(group))  # fmt: skip
            denials.extend(prof_denials)
            resolved.append((group, decisions))
        lap("resolve")
        used = inputs.used_columns(bound, [d for _, ds in resolved for d in ds or []])
        digests = inputs.compute(con, bound, forms, scope.dimension_safety(con, policy, stats), used)
        lap("inputs")
        report = leakscan.LeakReport()
        tick = progress.counter(log, "products written or carried", len(principals), "products")
        slots: list[ProductRecord | build.Job] = []  # every product of the run, in order
        jobs: list[build.Job] = []
        steps_seen: dict[int, Counter[str]] = defaultdict(Counter)
        for gi, (group, decisions) in enumerate(resolved):
            # a tier outside `tiers` is carried over; a current generation without a record (written by an older
            # version) cannot be carried from, so every tier is rebuilt then
            legacy = previous is not None and not prev_products
            rebuild = tier_filter is None or group[0].tier in tier_filter or legacy
            if decisions is None:
                continue
            profile_digest = inputs.decisions_digest(decisions)
            for principal in group:
                ts = time.perf_counter()
                rel = principal.product_relpath
                target = building / rel
                key = encryption_keys.get(principal.tier) if principal.encrypt else None
                old = prev_products.get(rel)
                old_path = previous / rel if previous is not None else None
                if not rebuild:
                    if old is None or old_path is None or not old_path.exists():
                        continue
                    fp = str(old.get("fingerprint", ""))
                else:
                    fp = inputs.product_fingerprint(digests, profile_digest, principal.model_dump(), policy.version,
                                                    mask_key.fingerprint, key is not None)  # fmt: skip
                if old is not None and old_path is not None and old_path.exists() and old.get("fingerprint") == fp \
                        and (old.get("scan") or {}).get("findings") == 0:  # fmt: skip
                    tick()
                    generation.carry(old_path, target)
                    carried += 1
                    for fig in (
                        "tables",
                        "rows",
                        "cells",
                    ):  # the file's recorded scan counts in this run's figures
                        setattr(report, fig, getattr(report, fig) + int(old["scan"].get(fig, 0)))
                    steps = [str(x) for x in old.get("k_steps", [])]
                    steps_seen[gi].update(steps)
                    slots.append(ProductRecord(principal, published / rel, rel, names.get(principal.jurisdiction),
                                               str(old["sha256"]), int(old["bytes"]), bool(old.get("encrypted")),
                                               _table_records(old), time.perf_counter() - ts, fp, True,
                                               dict(old["scan"]), steps, generation.stat_of(target),
                                               {k: old[k] for k in ("base", "parts") if k in old}))  # fmt: skip
                    continue
                base = inputs.base_digest(digests, profile_digest, principal.model_dump(), policy.version,
                                          mask_key.fingerprint, key is not None)  # fmt: skip
                parts = digests.parts(principal.jurisdiction) if principal.tier in PIECE_TIERS else {}
                reuse: dict[str, Any] = {}
                if parts and key is None and old is not None and old_path is not None and old_path.exists() \
                        and old.get("base") == base and (old.get("scan") or {}).get("findings") == 0:  # fmt: skip
                    changed = pieces.changed_codes(old.get("parts", {}), parts)
                    if pieces.worth_it(changed, parts):
                        reuse = {"changed": changed, "steps": list(old.get("k_steps", []))}
                weight = sum(
                    n for by in digests.datasets.values() for n, _ in [by.get(principal.jurisdiction, (0, 0))]
                )
                job = build.Job(len(slots), gi, principal, rel, target, names.get(principal.jurisdiction), fp, base,
                                parts, key, old_path if reuse else None, reuse, weight)  # fmt: skip
                slots.append(job)
                jobs.append(job)
        lap("carry")
        built: dict[int, build.Built] = {}
        if jobs:
            ctx = build.Context(policy, bound, forms, stats, [ds or [] for _, ds in resolved], run_id, published_at,
                                gen_id, mask_key.fingerprint, published)  # fmt: skip
            prefixes = pool.covering(j.principal.jurisdiction for j in jobs)
            total = sum(b.rows for b in bound) or 1
            share = sum(by.get(p, (0, 0))[0] for p in prefixes for name, by in digests.datasets.items()
                        if not name.startswith("lineage:")) / total  # fmt: skip
            workers = pool.workers_for(len(jobs), share, staged_rows=int(share * total))

            def done(b: build.Built) -> None:
                tick()
                built[b.index] = b

            if workers > 1:
                stage = pool.stage_file(building)
                try:
                    report.tokens = pool.write_stage(con, policy, bound, stage, prefixes)
                    lap("stage")
                    limit = os.environ.get("JIANFU_PUBLISH_MEMORY_LIMIT", binding.PUBLISH_MEMORY_LIMIT)
                    pool.run_jobs(ctx, jobs, workers, stage, mask_key.key, limit, unsafe_test_crypto, done)
                finally:
                    for f in (stage, Path(str(stage) + ".wal")):
                        f.unlink(missing_ok=True)
            else:
                binding.materialize(con, bound)
                lap("stage")
                report.tokens = leakscan.build_tokens(con, policy, bound)
                lap("tokens")
                for uid, job in enumerate(jobs, 1):
                    done(build.build(con, ctx, job, uid))
            lap("build")
        without_rule: set[int] = set()
        for slot in slots:
            if isinstance(slot, ProductRecord):
                products.append(slot)
                continue
            b = built[slot.index]
            for name, sec in b.phases.items():
                phases[name] += sec
            report.findings.extend(b.findings)
            report.tables, report.rows, report.cells = (report.tables + b.tables, report.rows + b.rows,
                                                        report.cells + b.cells)  # fmt: skip
            if b.record is None:
                without_rule.add(b.group)
                continue
            pieced += int(b.pieced)
            steps_seen[b.group].update(b.steps)
            products.append(b.record)
        for gi, (group, decisions) in enumerate(resolved):
            if decisions is None:
                continue
            if gi in without_rule:
                p = group[0]
                denials.append(Denial("principal", None, "principal_without_rule",
                                      f"{plan.profile_label(p)}: no dataset has a visible column; "
                                      "no product written", tier=p.tier.value, department=p.department,
                                      purpose=p.purpose, principals=len(group)))  # fmt: skip
            denials.extend(_generalizations(policy, group, steps_seen[gi]))
        report.products = len(products)
    finally:
        con.close()

    retired = sorted(set(prev_products) - {p.relpath for p in products})
    swapped = report.passed
    gen_path = None
    if swapped:
        record = {"run_id": run_id, "created_at": published_at.isoformat(), "policy_version": policy.version,
                  "mask_key_fingerprint": mask_key.fingerprint,
                  "products": {p.relpath: _record_entry(p) for p in products}}  # fmt: skip
        building.mkdir(parents=True, exist_ok=True)
        gen_path = generation.seal(published, building, gen_id, record)
        if switch_now:
            generation.switch(published, gen_path)
        lap("seal")
    else:
        shutil.rmtree(building, ignore_errors=True)
    total = time.perf_counter() - t0
    return PublishResult(
        run_id=run_id, policy_version=policy.version, published_at=published_at,
        mask_key_fingerprint=mask_key.fingerprint, mask_key_source=mask_key.source, products=products,
        denials=denials, retired=retired, scan=report, swapped=swapped, seconds=total,
        build_seconds=max(0.0, total - phases.get("scan", 0.0)), scan_seconds=phases.get("scan", 0.0), bound=[b.name for b in bound],
        generation=gen_id if swapped else "", generation_path=gen_path, published_dir=published, carried=carried,
        removed_leftovers=len(removed), phases=dict(phases), pieced=pieced,
    )  # fmt: skip


def switch(result: PublishResult) -> None:
    """Make a sealed generation visible (after the audit recorded it)."""
    if result.swapped and result.generation_path is not None and result.published_dir is not None:
        generation.switch(result.published_dir, result.generation_path)
