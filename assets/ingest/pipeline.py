"""Ingesting one district's landing folder into the warehouse, incrementally and idempotently.

A district's tables mirror its landing folder: files whose content (hash), parser version and disposition
(what their rows became: kept, superseded, duplicate) are unchanged keep their rows untouched; new and changed
files are read; rows of files that were replaced or removed are deleted. The district's tables are written
as one new Parquet generation, swapped in whole (assets/ingest/parquet_store.py): no DuckDB lock is taken,
so districts are ingested by several processes at once; the warehouse's views follow in `store_views`.
Every file found is registered with a status: ingested, rejected, superseded, duplicate or ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from assets.common import progress
from assets.ingest import delivery, stage, store_views
from assets.ingest.accounting import file_accounting, landing_accounting, replacement_problems  # noqa: F401
from assets.ingest.catalog import Catalog, label_elements
from assets.ingest.landing import (
    FileRejected,
    LandingFile,
    MisplacedFile,
    district_folders,
    resolve_committee_name,
    scan_landing,
    validate_location,
)
from assets.ingest.layout import CatalogField, load_synonyms
from assets.ingest.parquet_store import UNPLACED, BaseChanged, DistrictStore, Generation
from assets.ingest.reader import ParsedFile, parse_file, sha256_bytes
from assets.ingest.rules import DeliveryRules, load_delivery_rules

log = logging.getLogger(__name__)


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The ingestion views exist (empty until a district is ingested) over the store beside `con`'s file."""
    store_views.refresh_views(con)


def file_id(source_file: str, file_hash: str) -> str:
    """A delivered file is its place plus its content: the same bytes filed for two periods are two files."""
    return hashlib.sha1(f"{source_file}\0{file_hash}".encode()).hexdigest()[:16]


@dataclass
class IngestContext:
    """What every district run needs besides its files, built once per run."""

    catalog: Catalog
    fields_by_form: dict[str, list[CatalogField]]
    frequency: dict[str, str]
    divisions: stage.Divisions
    synonyms: dict[str, str]
    rules: DeliveryRules

    @classmethod
    def build(
        cls, catalog: Catalog, divisions: pl.DataFrame, rules: DeliveryRules | None = None
    ) -> IngestContext:
        rules = rules or load_delivery_rules()
        return cls(
            catalog=catalog,
            fields_by_form=catalog.fields_by_form(label_elements(catalog.fields)),
            frequency=catalog.frequency_by_form(),
            divisions=stage.Divisions.from_frame(divisions, rules),
            synonyms=load_synonyms(),
            rules=rules,
        )


@dataclass
class DistrictResult:
    district_code: str
    files_seen: int
    files_read: int
    files_kept: int
    files_rejected: int
    files_superseded: int
    files_duplicate: int
    files_ignored: int
    rows_read: int
    rows_staged: int
    rows_quarantined: int
    rows_skipped: int
    rows_replaced: int


@dataclass
class _Entry:
    """One candidate delivery while its fate is decided."""

    file: LandingFile
    data: bytes
    file_hash: str
    file_id: str
    known: dict | None = None  # its raw.landing_files row from an earlier run, when reusable
    prepared: stage.Prepared | None = None
    committees: list[str] | None = None


def ingest_district(
    con: duckdb.DuckDBPyConnection,
    landing_root: Path,
    district_code: str,
    ctx: IngestContext,
    run_id: str,
    full_refresh: bool = False,
    as_of: dt.date | None = None,
) -> DistrictResult:
    """Ingest into the store beside `con`'s warehouse file, then refresh its views (one process, in order)."""
    store = store_views.store_for(con)
    result = ingest_district_to_store(store, landing_root, district_code, ctx, run_id, full_refresh, as_of)
    store_views.refresh_views(con, store)
    return result


def ingest_district_to_store(
    store: DistrictStore,
    landing_root: Path,
    district_code: str,
    ctx: IngestContext,
    run_id: str,
    full_refresh: bool = False,
    as_of: dt.date | None = None,
    attempts: int = 3,
) -> DistrictResult:
    """Bring the district's generation in line with its landing folder; returns what this run did.

    `as_of` (the run date by default) is the latest birth date an ID may encode. The district's current
    generation is the set of known files; when another run of the same district replaced it twice meanwhile,
    the work is done again from the newer one."""
    for attempt in range(1, attempts + 1):
        try:
            return _ingest_once(store, landing_root, district_code, ctx, run_id, full_refresh, as_of)
        except BaseChanged as exc:
            if attempt == attempts:
                raise
            log.warning("%s; ingesting district %s again", exc, district_code)
    raise AssertionError("unreachable")


def _known_files(base: Generation | None) -> dict[str, dict]:
    """raw.landing_files rows of the base generation (not 'ignored'): files that need no reading again."""
    if base is None:
        return {}
    frame = (
        base.scan("raw.landing_files")
        .filter(pl.col("status") != "ignored")
        .select("file_id", "ingest_version", "status", "committees", "disposition")
        .collect()
    )
    return {r["file_id"]: r for r in frame.iter_rows(named=True)}


def _ingest_once(
    store: DistrictStore,
    landing_root: Path,
    district_code: str,
    ctx: IngestContext,
    run_id: str,
    full_refresh: bool,
    as_of: dt.date | None,
) -> DistrictResult:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    as_of = as_of or now.date()
    scan, _ = scan_landing(Path(landing_root), district_code, ctx.divisions.districts, ctx.rules)
    base = store.current(district_code)
    known = _known_files(base)
    entries: list[_Entry] = []
    for file in scan.files:
        data = file.path.read_bytes()
        file_hash = sha256_bytes(data)
        fid = file_id(file.source_file, file_hash)
        k = known.get(fid)
        reusable = not full_refresh and k is not None and k["ingest_version"] == stage.INGEST_VERSION
        entries.append(_Entry(file, data, file_hash, fid, k if reusable else None))
    batch = stage.Batch()
    keep_ids: list[str] = []
    registry: list[dict[str, object]] = []
    dup_of = delivery.duplicates((e.file, e.file_hash) for e in entries)
    elsewhere = delivery.same_bytes_elsewhere((e.file, e.file_hash) for e in entries)
    usable: list[_Entry] = []
    rejected: dict[tuple[str, str, str], list[str]] = {}  # (form, period, committee) → rejected deliveries
    tick = progress.counter(log, f"district {district_code}: files read", len(entries), "files")
    for e in entries:
        tick()
        if e.file.source_file in dup_of:
            continue
        if e.known is not None and e.known["status"] == "rejected":
            keep_ids.append(e.file_id)  # same bytes, same parser: still rejected, nothing to do
            _note_rejected(rejected, e.file)
            continue
        try:
            e.file = resolve_committee_name(e.file, ctx.divisions.by_core, ctx.rules)
            if e.known is not None and e.known["status"] in ("ingested", "superseded"):
                e.committees = list(e.known["committees"] or [])
            else:
                e.prepared = _prepare(e, ctx, as_of)
                e.committees = e.prepared.committee_set
            usable.append(e)
        except FileRejected as exc:
            batch.outcomes.append(stage.FileOutcome(e.file, e.file_id, e.file_hash, "rejected", exc.reason_code,
                                                    exc.message, rows_read=_count_rows(e.file, e.data)))  # fmt: skip
            _note_rejected(rejected, e.file)
    # A readable file with no data rows (a header-only correction) replaces nothing; the file that stays
    # current is told so, like for a rejected one (issue 8, item 7).
    empty: dict[tuple[str, str, str], list[str]] = {}
    for e in usable:
        if not e.committees:
            _note_rejected(empty, e.file)
    lost_map = delivery.replacements([delivery.Usable(e.file, e.committees or []) for e in usable])
    by_source = {e.file.source_file: e for e in entries}
    for e in usable:
        u = delivery.Usable(e.file, e.committees or [])
        lost = lost_map.get(e.file.source_file, {})
        superseded = delivery.is_superseded(u, lost)
        status = "superseded" if superseded else "ingested"
        main = delivery.main_replacer(lost)
        # A rejected delivery of the same report replaces nothing; say so on the file that stays current.
        blocked = sorted(
            {r for c in u.committees for r in rejected.get((e.file.form_code, e.file.period, c), [])}
        )
        hollow = sorted(
            {r for c in u.committees for r in empty.get((e.file.form_code, e.file.period, c), [])}
        )
        disp = delivery.disposition(status, lost, note=";".join(blocked + ["empty:" + h for h in hollow]))
        if e.known is not None and e.known["disposition"] == disp:
            keep_ids.append(e.file_id)
            continue
        prepared = e.prepared or _prepare(e, ctx, as_of)
        if superseded:
            outcome = stage.add_prepared(
                batch, prepared, {"*": main or ""}, status="superseded", reason="superseded"
            )
            outcome.replaced_by = main
            outcome.message = f"{e.file.source_file}: replaced by {main}"
        else:
            outcome = stage.add_prepared(batch, prepared, lost, reason="delivered_by_other_file")
            if lost:
                outcome.warnings.append(f"rows of {len(lost)} committee(s) delivered by other files: "
                                        + ", ".join(sorted(set(lost.values()))))  # fmt: skip
        outcome.warnings += [f"same bytes as {o}" for o in elsewhere.get(e.file.source_file, [])]
        if not superseded:
            outcome.warnings += [f"stays current: {r} for the same report was rejected" for r in blocked]
            outcome.warnings += [f"stays current: {h} for the same report holds no data rows" for h in hollow]
        if not u.committees and e.file.committee_code:
            outcome.warnings.append(
                f"{e.file.source_file}: holds no data rows, so it replaces no earlier delivery"
            )
            log.warning("%s: holds no data rows; it replaces nothing", e.file.source_file)
        outcome.disposition = disp
    for e in entries:
        keep = dup_of.get(e.file.source_file)
        if keep is None:
            continue
        disp = delivery.disposition("duplicate", None, keep.source_file)
        if e.known is not None and e.known["disposition"] == disp:
            keep_ids.append(e.file_id)
            continue
        _add_duplicate(batch, e, by_source[keep.source_file], ctx, as_of).disposition = disp
    for m in scan.misplaced + scan.ignored:
        registry.append(_misplaced_row(m, district_code, run_id, now))

    staged = stage.finish(batch, run_id, as_of)
    registry += _outcome_rows(batch.outcomes, staged, run_id, now)
    if not _unchanged(base, batch, keep_ids, registry):
        _commit(store, district_code, base, keep_ids, staged, registry, run_id)
    statuses = [str(r["status"]) for r in registry]
    return DistrictResult(
        district_code=district_code,
        files_seen=len(scan.files) + len(scan.misplaced) + len(scan.ignored),
        files_read=statuses.count("ingested"),
        files_kept=len(keep_ids),
        files_rejected=statuses.count("rejected"),
        files_superseded=statuses.count("superseded"),
        files_duplicate=statuses.count("duplicate"),
        files_ignored=statuses.count("ignored"),
        rows_read=sum(int(r.get("rows_read") or 0) for r in registry),
        rows_staged=staged.records.height,
        rows_quarantined=staged.quarantine.height,
        rows_skipped=staged.skipped.height,
        rows_replaced=staged.replaced.height,
    )


def _note_rejected(rejected: dict[tuple[str, str, str], list[str]], file: LandingFile) -> None:
    if file.committee_code:
        rejected.setdefault((file.form_code, file.period, file.committee_code), []).append(file.source_file)


def _prepare(e: _Entry, ctx: IngestContext, as_of: dt.date) -> stage.Prepared:
    """Validate the file's place, parse it and sort its rows (raises FileRejected)."""
    validate_location(e.file, ctx.frequency, ctx.divisions.committees, ctx.rules, as_of)
    parsed = parse_file(e.file, e.data)
    return stage.prepare(e.file, e.file_id, e.file_hash, parsed, ctx.fields_by_form[e.file.form_code],
                         ctx.synonyms, ctx.divisions)  # fmt: skip


def _add_duplicate(
    batch: stage.Batch, e: _Entry, keep: _Entry, ctx: IngestContext, as_of: dt.date
) -> stage.FileOutcome:
    """Identical bytes to `keep`: its data rows are replaced by that file, its non-data rows skipped as usual."""
    message = f"{e.file.source_file}: the same bytes as {keep.file.source_file}"
    try:
        prepared = _prepare(e, ctx, as_of)
    except FileRejected:
        parsed: ParsedFile | None
        try:
            parsed = parse_file(e.file, e.data)
        except FileRejected:
            parsed = None
        outcome = stage.FileOutcome(e.file, e.file_id, e.file_hash, "duplicate", "duplicate", message,
                                    rows_read=len(parsed.rows) if parsed else 0, replaced_by=keep.file.source_file)  # fmt: skip
        stage.add_replaced_file(batch, outcome, parsed, "duplicate_of_rejected")
        return outcome
    outcome = stage.add_prepared(batch, prepared, {"*": keep.file.source_file}, status="duplicate",
                                 reason="duplicate_file")  # fmt: skip
    outcome.reason_code, outcome.message, outcome.replaced_by = "duplicate", message, keep.file.source_file
    return outcome


def _count_rows(file: LandingFile, data: bytes) -> int:
    """Rows of a rejected file, for the accounting: parsed rows when it parses, else 0."""
    try:
        return len(parse_file(file, data).rows)
    except FileRejected:
        return 0


def _misplaced_row(
    m: MisplacedFile, district_code: str | None, run_id: str, now: dt.datetime
) -> dict[str, object]:
    m_hash = sha256_bytes(m.path.read_bytes()) if m.path.is_file() else ""
    return {
        "file_id": file_id(m.source_file, m_hash), "file_hash": m_hash, "source_file": m.source_file,
        "district_code": district_code, "status": m.status, "reason_code": m.reason_code, "message": m.message,
        "file_format": m.path.suffix.lstrip(".").lower() or ("folder" if m.path.is_dir() else "none"),
        "size_bytes": m.path.stat().st_size if m.path.is_file() else 0,
        "rows_read": 0, "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0, "rows_replaced": 0,
        "run_id": run_id, "ingest_version": stage.INGEST_VERSION, "ingested_at": now,
    }  # fmt: skip


def record_unplaced(
    con: duckdb.DuckDBPyConnection, landing_root: Path, ctx: IngestContext, run_id: str
) -> int:
    """`record_unplaced_to_store` into the store beside `con`'s warehouse file, then refresh its views."""
    store = store_views.store_for(con)
    n = record_unplaced_to_store(store, landing_root, ctx, run_id)
    store_views.refresh_views(con, store)
    return n


def record_unplaced_to_store(
    store: DistrictStore, landing_root: Path, ctx: IngestContext, run_id: str
) -> int:
    """Register what lies outside every district folder (unknown folders, loose files): district_code NULL.

    So no folder or file of the landing zone is silently absent from raw.landing_files. They form a
    pseudo-district of their own in the store, replaced whole by every run.
    """
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _, unplaced = district_folders(Path(landing_root), ctx.divisions.districts, ctx.rules)
    rows = [_misplaced_row(m, None, run_id, now) for m in unplaced]
    frames = {"raw.landing_files": pl.DataFrame(rows, schema=REGISTRY_SCHEMA)}
    store.commit(UNPLACED, store.current(UNPLACED), [], frames, run_id)
    return len(rows)


def _outcome_rows(outcomes: list[stage.FileOutcome], staged: stage.StagedBatch, run_id: str,
                  now: dt.datetime) -> list[dict[str, object]]:  # fmt: skip
    counts: dict[str, dict[str, int]] = {}
    for name, frame in (("staged", staged.records), ("quarantined", staged.quarantine), ("skipped", staged.skipped),
                        ("replaced", staged.replaced)):  # fmt: skip
        for fid, n in frame.group_by("file_id").len().iter_rows():
            counts.setdefault(fid, {})[name] = n
    rows = []
    for o in outcomes:
        c = counts.get(o.file_id, {})
        row = _registry_row(o.file, o.file_id, o.file_hash, o.status, run_id, now, reason_code=o.reason_code,
                            message=o.message, encoding=o.encoding, sheet=o.sheet, warnings=o.warnings,
                            replaced_by=o.replaced_by, committees=o.committees,
                            disposition=o.disposition or delivery.disposition(o.status, None))  # fmt: skip
        if o.status == "rejected":  # the whole file is quarantined, at file level
            row.update(rows_read=o.rows_read, rows_quarantined=o.rows_read)
        else:
            row.update(rows_read=o.rows_read, rows_staged=c.get("staged", 0), rows_quarantined=c.get("quarantined", 0),
                       rows_skipped=c.get("skipped", 0), rows_replaced=c.get("replaced", 0))  # fmt: skip
        rows.append(row)
    return rows


def _registry_row(file: LandingFile, fid: str, file_hash: str, status: str, run_id: str, now: dt.datetime,
                  **extra: object) -> dict[str, object]:  # fmt: skip
    return {
        "file_id": fid, "file_hash": file_hash, "source_file": file.source_file, "district_code": file.district_code,
        "form_code": file.form_code, "period": file.period, "committee_code": file.committee_code,
        "file_format": file.file_format, "size_bytes": file.size_bytes, "status": status,
        "rows_read": 0, "rows_staged": 0, "rows_quarantined": 0, "rows_skipped": 0, "rows_replaced": 0,
        "run_id": run_id, "ingest_version": stage.INGEST_VERSION, "ingested_at": now,
        "disposition": delivery.disposition(status, None), **extra,
    }  # fmt: skip


REGISTRY_SCHEMA = {
    "file_id": pl.String, "file_hash": pl.String, "source_file": pl.String, "district_code": pl.String,
    "form_code": pl.String, "period": pl.String, "committee_code": pl.String, "file_format": pl.String,
    "encoding": pl.String, "sheet": pl.String, "size_bytes": pl.Int64, "status": pl.String,
    "reason_code": pl.String, "message": pl.String, "warnings": pl.List(pl.String), "rows_read": pl.Int32,
    "rows_staged": pl.Int32, "rows_quarantined": pl.Int32, "rows_skipped": pl.Int32, "run_id": pl.String,
    "ingest_version": pl.String, "ingested_at": pl.Datetime("us"), "rows_replaced": pl.Int32,
    "replaced_by": pl.String, "committees": pl.List(pl.String), "disposition": pl.String,
}  # fmt: skip


def _unchanged(base: Generation | None, batch: stage.Batch, keep_ids: list[str],
               registry: list[dict[str, object]]) -> bool:  # fmt: skip
    """Nothing read and every other row of the current generation written again as it is (the misplaced and
    ignored files): the current generation stays, no write (a night without deliveries costs the scan)."""
    if base is None or batch.outcomes:
        return False
    key = ("file_id", "status", "reason_code", "message")
    keep = pl.Series(keep_ids, dtype=pl.String)
    before = base.scan("raw.landing_files").filter(~pl.col("file_id").is_in(keep)).select(key).collect()
    return sorted(before.iter_rows(), key=str) == sorted(
        (tuple(r.get(k) for k in key) for r in registry), key=str
    )


def _commit(
    store: DistrictStore,
    district_code: str,
    base: Generation | None,
    keep_ids: list[str],
    staged: stage.StagedBatch,
    registry: list[dict[str, object]],
    run_id: str,
) -> None:
    """The base's rows of the kept files plus this run's rows become the district's new generation."""
    frames = {
        "staging.form_records": staged.records,
        "staging.form_values": staged.values,
        "quarantine.rows": staged.quarantine,
        "raw.skipped_rows": staged.skipped,
        "raw.replaced_rows": staged.replaced,
        "raw.landing_files": pl.DataFrame(registry, schema=REGISTRY_SCHEMA),
    }
    store.commit(district_code, base, keep_ids, frames, run_id)
