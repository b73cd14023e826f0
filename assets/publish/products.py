"""Publish every principal's product as one atomic generation (no dagster here; `defs.py` and `cli.py` call
`run.publish_and_record`, which calls `publish`).

1. Remove leftovers of crashed runs (`generation.cleanup`); open an in-memory DuckDB with the warehouse
   attached READ_ONLY; bind and stage every dataset (`binding`).
2. Derive the principals; per profile (tier, department, purpose) compile and stage the treated tables once
   (`plan`: decisions checked as a set, k-anonymity, complementary suppression).
3. Per principal: fingerprint the inputs; if the current generation holds a product with the same fingerprint,
   hard-link it (unchanged bytes and mtime, its recorded scan reused); else write it into `.building/<run>`
   and leak-scan it right away (each product is scanned once, as it is written).
4. Only if every product is clean: record the generation, seal it into `generations/`, and — after the audit
   manifest has recorded it (`run.py`) — switch `current` to it. Otherwise nothing visible changes.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assets.common import progress
from assets.publish import binding, generation, leakscan, plan, writer
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
from assets.publish.types import TIER_CODES, Denial, Principal, ProductRecord, PublishError, TableRecord, Tier

__all__ = ["BoundDataset", "Denial", "PublishError", "PublishResult", "bind_datasets", "open_sources",
           "product_files", "publish", "switch"]  # fmt: skip

log = logging.getLogger(__name__)


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
        "encrypted": rec.encrypted, "carried": rec.carried, "scan": rec.scan,
        "tables": [{"table": t.table, "dataset": t.dataset, "kind": t.kind, "rows": t.rows,
                    "suppressed_cells": t.suppressed_cells, "columns": [c.__dict__ for c in t.columns]}
                   for t in rec.tables],
    }  # fmt: skip


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
    try:
        if unsafe_test_crypto:
            con.execute("SET force_mbedtls_unsafe = true")
        bound, denials = bind_datasets(con, policy)
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
        tokens = leakscan.build_tokens(con, policy, bound)
        report = leakscan.LeakReport(tokens=tokens)
        scan_seconds = 0.0
        by_profile: dict[tuple[object, ...], list[Principal]] = defaultdict(list)
        for p in principals:
            by_profile[p.profile].append(p)
        tick = progress.counter(log, "products written or carried", len(principals), "products")
        for idx, group in enumerate(by_profile.values()):
            # a tier outside `tiers` is carried over; a current generation without a record (written by an older
            # version) cannot be carried from, so every tier is rebuilt then
            legacy = previous is not None and not prev_products
            rebuild = tier_filter is None or group[0].tier in tier_filter or legacy
            plans: list = []
            if rebuild:
                plans, prof_denials = plan.plan_profile(con, policy, bound, group[0], idx, len(group), forms)
                denials.extend(prof_denials)
                if not plans:
                    if not any(d.reason_code == "reidentification_risk" for d in prof_denials):
                        denials.append(Denial("principal", None, "principal_without_rule",
                                              f"{plan.profile_label(group[0])}: no dataset has a visible column; "
                                              "no product written", tier=group[0].tier.value,
                                              department=group[0].department, purpose=group[0].purpose,
                                              principals=len(group)))  # fmt: skip
                    continue
            for principal in group:
                tick()
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
                    fp = writer.fingerprint(
                        con, principal, plans, policy, mask_key.fingerprint, key is not None
                    )
                if old is not None and old_path is not None and old_path.exists() and old.get("fingerprint") == fp \
                        and (old.get("scan") or {}).get("findings") == 0:  # fmt: skip
                    generation.carry(old_path, target)
                    carried += 1
                    for field in (
                        "tables",
                        "rows",
                        "cells",
                    ):  # the file's recorded scan counts in this run's figures
                        setattr(report, field, getattr(report, field) + int(old["scan"].get(field, 0)))
                    products.append(ProductRecord(principal, published / rel, rel, names.get(principal.jurisdiction),
                                                  str(old["sha256"]), int(old["bytes"]), bool(old.get("encrypted")),
                                                  _table_records(old), time.perf_counter() - ts, fp, True,
                                                  dict(old["scan"])))  # fmt: skip
                    continue
                meta = writer.product_meta(principal, names.get(principal.jurisdiction), run_id, published_at,
                                           policy, mask_key.fingerprint, gen_id)  # fmt: skip
                records = writer.write_product(con, principal, plans, target, meta, key)
                t_scan = time.perf_counter()
                before = (len(report.findings), report.tables, report.rows, report.cells)
                leakscan.scan_product(con, policy, principal, target, report, key, rel)
                scan_seconds += time.perf_counter() - t_scan
                scan = {"findings": len(report.findings) - before[0], "tables": report.tables - before[1],
                        "rows": report.rows - before[2], "cells": report.cells - before[3]}  # fmt: skip
                products.append(ProductRecord(principal, published / rel, rel, names.get(principal.jurisdiction),
                                              writer.sha256_file(target), target.stat().st_size, key is not None,
                                              records, time.perf_counter() - ts, fp, False, scan))  # fmt: skip
            for p in plans:
                for table in (p.staged, p.suppressed_in):
                    if table:
                        con.execute(f"DROP TABLE IF EXISTS {table}")
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
    else:
        shutil.rmtree(building, ignore_errors=True)
    total = time.perf_counter() - t0
    return PublishResult(
        run_id=run_id, policy_version=policy.version, published_at=published_at,
        mask_key_fingerprint=mask_key.fingerprint, mask_key_source=mask_key.source, products=products,
        denials=denials, retired=retired, scan=report, swapped=swapped, seconds=total,
        build_seconds=total - scan_seconds, scan_seconds=scan_seconds, bound=[b.name for b in bound],
        generation=gen_id if swapped else "", generation_path=gen_path, published_dir=published, carried=carried,
        removed_leftovers=len(removed),
    )  # fmt: skip


def switch(result: PublishResult) -> None:
    """Make a sealed generation visible (after the audit recorded it)."""
    if result.swapped and result.generation_path is not None and result.published_dir is not None:
        generation.switch(result.published_dir, result.generation_path)
