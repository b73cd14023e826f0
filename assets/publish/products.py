"""Build the per-principal products: DuckDB files that physically hold only what a principal may see.

How a run works (no dagster here; `defs.py` and `cli.py` call `publish`):
1. Open an in-memory DuckDB, ATTACH the warehouse READ_ONLY (no write lock is taken), register the HMAC.
2. Bind every dataset of datasets.yaml: the first source alternative that binds wins; a dataset whose
   tables do not exist yet is skipped (reported, not an error). Stage each bound source once in memory,
   sorted by the jurisdiction column.
3. Derive the principals from the policy and the jurisdictions present in the data.
4. Per profile (tier, department, purpose: treatments never depend on the jurisdiction) stage the
   treated tables once; then per principal slice them by `starts_with(committee_code, prefix)` into a
   temporary product file, with `_product` and `_columns` tables describing it.
5. Leak-scan every temporary product; only if all are clean, `os.replace` each onto its final name
   (after fsync), so a reader never sees a half-written product and a failed run leaves the previous
   complete products in place. Products of principals no longer in the policy are removed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.common.warehouse import DEFAULT_MEMORY_LIMIT, spill_directory
from assets.publish import leakscan
from assets.publish.masking import (
    MaskKey,
    quote_ident,
    quote_literal,
    register_hmac,
    treatment_sql,
)
from assets.publish.policy import (
    TIER_CODES,
    TIER_DIGITS,
    Dataset,
    Policy,
    Principal,
    Source,
    Tier,
    Treatment,
    principals_for,
)

WAREHOUSE_ALIAS = "wh"
PRODUCT_ALIAS = "product"
META_PRODUCT = "_product"
META_COLUMNS = "_columns"
TMP_MARK = ".tmp-"


class PublishError(RuntimeError):
    """The run could not publish (e.g. a missing encryption key); previous products are untouched."""


# ------------------------------------------------------------------------------------------ records


@dataclass
class Denial:
    """Something that was not published, and why (one row of publish.denials)."""

    scope: str  # dataset | column | element | rows | principal
    dataset: str | None
    reason_code: str
    reason: str
    column: str | None = None
    element: str | None = None
    tier: str | None = None
    department: str | None = None
    purpose: str | None = None
    rows_affected: int | None = None
    principals: int | None = None


@dataclass
class ColumnOut:
    name: str
    treatment: str
    classification: str | None
    reason: str


@dataclass
class TablePlan:
    name: str
    dataset: str
    kind: str  # rows | counts | reference
    staged: str  # memory table holding this profile's treated rows
    jurisdiction: str | None  # column of `staged` the principal's prefix filters
    columns: list[ColumnOut]
    suppressed_in: str | None = None  # memory table: the jurisdiction of each dropped small cell


@dataclass
class TableRecord:
    table: str
    dataset: str
    kind: str
    rows: int
    suppressed_cells: int
    columns: list[ColumnOut]


@dataclass
class ProductRecord:
    principal: Principal
    path: Path
    relpath: str
    jurisdiction_name: str | None
    sha256: str
    bytes: int
    encrypted: bool
    tables: list[TableRecord]
    seconds: float


@dataclass
class BoundDataset:
    spec: Dataset
    source: Source
    columns: list[tuple[str, str]]
    relation: str  # a table name (staged) or a parenthesized SELECT
    rows: int = 0
    element_rows: dict[str | None, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def column_type(self, name: str) -> str:
        return dict(self.columns)[name]


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
    swapped: bool
    seconds: float
    build_seconds: float
    scan_seconds: float
    bound: list[str]

    @property
    def product_count(self) -> int:
        return len(self.products)

    def counts_by_tier(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for p in self.products:
            out[TIER_CODES[p.principal.tier]] += 1
        return dict(out)


# ------------------------------------------------------------------------------------------ binding


def open_sources(warehouse_path: str | Path, mask_key: MaskKey | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory connection with the warehouse attached READ_ONLY as the default catalog."""
    path = Path(warehouse_path)
    if not path.exists():
        raise PublishError(f"warehouse {path} does not exist")
    con = duckdb.connect(":memory:")
    # Staged masked tables live in memory: bound them and spill to a temp folder at city scale.
    con.execute(f"SET memory_limit = '{DEFAULT_MEMORY_LIMIT}'")
    con.execute(f"SET temp_directory = {quote_literal(spill_directory())}")
    con.execute(f"ATTACH {quote_literal(str(path))} AS {WAREHOUSE_ALIAS} (READ_ONLY)")
    con.execute(f"USE {WAREHOUSE_ALIAS}")
    if mask_key is not None:
        register_hmac(con, mask_key.key)
    return con


def _error_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def bind_datasets(
    con: duckdb.DuckDBPyConnection, policy: Policy, stage: bool = True
) -> tuple[list[BoundDataset], list[Denial]]:
    """Bind each dataset to the first source that exists; stage it in memory (sorted by jurisdiction)."""
    bound: list[BoundDataset] = []
    denials: list[Denial] = []
    for ds in policy.datasets.values():
        chosen: tuple[Source, list[tuple[str, str]]] | None = None
        errors = []
        for src in ds.sources:
            try:
                described = con.execute(f"DESCRIBE {src.select_sql}").fetchall()
            except duckdb.Error as exc:
                errors.append(f"{src.label}: {_error_line(exc)}")
                continue
            chosen = (src, [(str(r[0]), str(r[1])) for r in described])
            break
        if chosen is None:
            denials.append(
                Denial(
                    "dataset",
                    ds.name,
                    "source_missing",
                    "skipped: no source binds yet — " + " | ".join(errors),
                )
            )
            continue
        src, columns = chosen
        names = [c for c, _ in columns]
        if len(set(names)) != len(names):
            denials.append(
                Denial("dataset", ds.name, "duplicate_columns", f"source has duplicate column names {names}")
            )
            continue
        if ds.jurisdiction is not None and ds.jurisdiction not in names:
            denials.append(
                Denial(
                    "dataset", ds.name, "no_jurisdiction_column", f"source lacks column {ds.jurisdiction!r}"
                )
            )
            continue
        if ds.driver is not None and ds.driver not in names:
            denials.append(
                Denial("dataset", ds.name, "no_element_column", f"source lacks column {ds.driver!r}")
            )
            continue
        b = BoundDataset(ds, src, columns, relation=f"({src.select_sql})")
        if stage:
            _stage(con, b, denials)
        bound.append(b)
    return bound, denials


def _stage(con: duckdb.DuckDBPyConnection, b: BoundDataset, denials: list[Denial]) -> None:
    table = f"memory.main.{quote_ident('_src_' + b.name)}"
    jcol = b.spec.jurisdiction
    if jcol is None:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {b.relation} AS s")
    else:
        j = quote_ident(jcol)
        total = con.execute(f"SELECT count(*) FROM {b.relation} AS s").fetchall()[0][0]
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {b.relation} AS s "
            f"WHERE regexp_full_match(CAST({j} AS VARCHAR), '[0-9]{{{b.spec.jurisdiction_digits}}}') ORDER BY {j}"
        )
        kept = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        if total - kept:
            denials.append(
                Denial(
                    "rows",
                    b.name,
                    "no_jurisdiction",
                    f"{total - kept} rows have no {b.spec.jurisdiction_digits}-digit {jcol}: no principal receives them",
                    column=jcol,
                    rows_affected=int(total - kept),
                )
            )
    b.relation = table
    b.rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    if b.spec.driver:
        d = quote_ident(b.spec.driver)
        b.element_rows = {
            (None if e is None else str(e)): int(n)
            for e, n in con.execute(f"SELECT {d}, count(*) FROM {table} GROUP BY 1").fetchall()
        }


def drop_staged(con: duckdb.DuckDBPyConnection, bound: Iterable[BoundDataset]) -> None:
    for b in bound:
        if b.relation.startswith("memory.main."):
            con.execute(f"DROP TABLE IF EXISTS {b.relation}")


def jurisdictions_present(con: duckdb.DuckDBPyConnection, bound: Iterable[BoundDataset]) -> list[str]:
    """12-digit codes with at least one row in a non-reference, committee-level dataset."""
    parts = [
        f"SELECT DISTINCT CAST({quote_ident(b.spec.jurisdiction)} AS VARCHAR) AS c FROM {b.relation}"
        for b in bound
        if b.spec.jurisdiction and not b.spec.reference and b.spec.jurisdiction_digits == 12
    ]
    if not parts:
        return []
    return [r[0] for r in con.execute(" UNION ".join(parts)).fetchall() if r[0]]


def division_names(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], list[str]]:
    """Code -> name for districts, townships and committees of core.divisions (and all committee codes)."""
    try:
        rows = con.execute(
            "SELECT DISTINCT district_code, district_name, township_code, township_name, "
            "committee_code, committee_name FROM core.divisions"
        ).fetchall()
    except duckdb.Error:
        return {"31": "上海市"}, []
    names: dict[str, str] = {"31": "上海市"}
    committees = []
    for dc, dn, tc, tn, cc, cn in rows:
        names[str(dc)] = dn
        names[str(tc)] = tn
        names[str(cc)] = cn
        committees.append(str(cc))
    return names, committees


# ------------------------------------------------------------------------------------------ planning


def _profile_label(principal: Principal) -> str:
    return f"{principal.tier.value}/{principal.department or '-'}/{principal.purpose or '-'}"


def _summarize(per_element: Mapping[str | None, Treatment]) -> str:
    return "; ".join(
        f"{e or '∅'}:{t.action}" for e, t in sorted(per_element.items(), key=lambda x: x[0] or "")
    )


def plan_profile(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    bound: list[BoundDataset],
    principal: Principal,
    idx: int,
    n_principals: int,
) -> tuple[list[TablePlan], list[Denial]]:
    """Stage the treated tables of one profile; return their plans and what was denied."""
    tables: list[TablePlan] = []
    denials: list[Denial] = []
    prof = {"tier": principal.tier.value, "department": principal.department, "purpose": principal.purpose}

    def deny(scope: str, ds: str, t: Treatment, **kw: object) -> None:
        denials.append(Denial(scope, ds, t.code, t.reason, principals=n_principals, **prof, **kw))  # type: ignore[arg-type]

    for b in bound:
        ds = b.spec
        if ds.sharing is None:
            t = policy.resolve(principal, ds.name, ds.jurisdiction or b.column_names[0])
            deny("dataset", ds.name, t)
            continue
        jcol = ds.jurisdiction
        if jcol is not None:
            jt = policy.resolve(principal, ds.name, jcol)
            if jt.action != "show":
                if jt.code == "not_shared":
                    deny("dataset", ds.name, jt)
                else:
                    denials.append(
                        Denial(
                            "dataset",
                            ds.name,
                            "jurisdiction_not_shown",
                            f"the jurisdiction column {jcol} must be shown ({jt.action}: {jt.reason})",
                            principals=n_principals,
                            **prof,  # type: ignore[arg-type]
                        )
                    )
                continue
        driver = ds.driver
        per_row_cols = [c for c in b.column_names if (s := ds.columns.get(c)) is not None and s.element_from]
        fixed: dict[str, Treatment] = {}
        for col in b.column_names:
            if col in per_row_cols:
                continue
            t = policy.resolve(principal, ds.name, col)
            fixed[col] = t
            if not t.visible and t.action != "aggregate":
                deny("column", ds.name, t, column=col, rows_affected=b.rows)
        per_elem: dict[str, dict[str | None, Treatment]] = {c: {} for c in per_row_cols}
        row_elems: list[str] = []
        agg_elems: list[str] = []
        if driver is not None:
            for elem, n in sorted(b.element_rows.items(), key=lambda x: x[0] or ""):
                ts = {c: policy.resolve(principal, ds.name, c, elem) for c in per_row_cols}
                for c, t in ts.items():
                    per_elem[c][elem] = t
                if elem is not None and all(t.visible for t in ts.values()):
                    row_elems.append(elem)
                elif elem is not None and any(t.action == "aggregate" for t in ts.values()):
                    agg_elems.append(elem)
                else:
                    worst = next(t for t in ts.values() if not t.visible)
                    deny(
                        "element",
                        ds.name,
                        worst,
                        column=",".join(per_row_cols),
                        element=elem,
                        rows_affected=n,
                    )
        j_sql = quote_ident(jcol) if jcol else None
        src = b.relation

        # Row-level table.
        if driver is None or row_elems:
            exprs: list[str] = []
            outs: list[ColumnOut] = []
            for col, ctype in b.columns:
                q = quote_ident(col)
                if col in per_row_cols:
                    branches = " ".join(
                        f"WHEN {quote_literal(e)} THEN "
                        + treatment_sql(
                            per_elem[col][e].action, q, per_elem[col][e].semantic, ctype, as_text=True
                        )
                        for e in row_elems
                    )
                    exprs.append(f"CASE {quote_ident(driver or '')} {branches} END AS {q}")
                    shown = {e: per_elem[col][e] for e in row_elems}
                    outs.append(ColumnOut(col, "by_element", "element", _summarize(shown)))
                    continue
                t = fixed[col]
                if t.visible:
                    exprs.append(f"{treatment_sql(t.action, q, t.semantic, ctype)} AS {q}")
                    outs.append(ColumnOut(col, t.action, t.classification, t.reason))
            if exprs:
                where = ""
                if driver is not None:
                    where = (
                        f" WHERE {quote_ident(driver)} IN ({', '.join(quote_literal(e) for e in row_elems)})"
                    )
                staged = f"memory.main.{quote_ident(f'_p{idx}_{ds.name}')}"
                con.execute(
                    f"CREATE OR REPLACE TABLE {staged} AS SELECT {', '.join(exprs)} FROM {src}{where}"
                )
                kind = "reference" if ds.reference else "rows"
                tables.append(TablePlan(ds.name, ds.name, kind, staged, jcol, outs))

        # Aggregate-only table.
        agg_fixed = [c for c, t in fixed.items() if t.action == "aggregate"]
        if (agg_fixed or agg_elems) and ds.aggregate is not None and jcol is not None and j_sql is not None:
            g = max(ds.aggregate.jurisdiction_digits, TIER_DIGITS[principal.tier])
            dims: list[tuple[str, str]] = []
            outs = [ColumnOut("jurisdiction_code", "show", "internal", f"left({jcol}, {g})")]
            for col in ds.aggregate.by:
                if col == jcol or col not in fixed:
                    continue
                if fixed[col].action == "show":
                    dims.append((col, quote_ident(col)))
                    outs.append(ColumnOut(col, "show", fixed[col].classification, fixed[col].reason))
            if agg_elems and driver is not None and fixed.get(driver) and fixed[driver].action == "show":
                dims.append((driver, quote_ident(driver)))
                outs.append(ColumnOut(driver, "show", fixed[driver].classification, fixed[driver].reason))
            for col in agg_fixed:
                spec = ds.columns.get(col)
                if spec is not None and spec.aggregate_dimension:
                    dims.append((col, quote_ident(col)))
                    outs.append(ColumnOut(col, "aggregate", fixed[col].classification, fixed[col].reason))
            if agg_elems:
                for col in per_row_cols:
                    spec = ds.columns.get(col)
                    if spec is not None and spec.aggregate_dimension:
                        dims.append((col, f"CAST({quote_ident(col)} AS VARCHAR)"))
                        shown = {e: per_elem[col][e] for e in agg_elems}
                        outs.append(ColumnOut(col, "aggregate", "element", _summarize(shown)))
            k = policy.min_cell
            outs.append(ColumnOut("n", "count", None, f"count(*); cells below {k} are dropped"))
            where = ""
            if agg_elems and driver is not None:
                where = f" WHERE {quote_ident(driver)} IN ({', '.join(quote_literal(e) for e in agg_elems)})"
            dim_sql = "".join(f", {expr} AS {quote_ident(name)}" for name, expr in dims)
            full = f"memory.main.{quote_ident(f'_a{idx}_{ds.name}')}"
            staged = f"memory.main.{quote_ident(f'_p{idx}_{ds.name}_counts')}"
            con.execute(
                f"CREATE OR REPLACE TABLE {full} AS SELECT left({j_sql}, {g}) AS jurisdiction_code{dim_sql}, "
                f"count(*) AS n FROM {src}{where} GROUP BY ALL"
            )
            con.execute(
                f"CREATE OR REPLACE TABLE {staged} AS SELECT * FROM {full} WHERE n >= {k} ORDER BY ALL"
            )
            # keep where each dropped small cell was, to count them per product in the manifest
            con.execute(
                f"CREATE OR REPLACE TABLE {full} AS SELECT jurisdiction_code FROM {full} WHERE n < {k}"
            )
            plan = TablePlan(f"{ds.name}_counts", ds.name, "counts", staged, "jurisdiction_code", outs, full)
            tables.append(plan)
    return tables, denials


# ------------------------------------------------------------------------------------------ writing


def _prefix_filter(column: str, prefix: str) -> str:
    """starts_with for correctness, plus a range on the sorted column so zone maps skip row groups."""
    q = quote_ident(column)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (
        f"{q} >= {quote_literal(prefix)} AND {q} < {quote_literal(upper)} "
        f"AND starts_with({q}, {quote_literal(prefix)})"
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sql_row(texts: Iterable[str | None], count: int) -> str:
    return "(" + ", ".join("NULL" if v is None else quote_literal(v) for v in texts) + f", {int(count)})"


def tmp_path_for(final: Path, run_id: str) -> Path:
    return final.with_name(f"{final.name}{TMP_MARK}{run_id[:12]}")


def write_product(
    con: duckdb.DuckDBPyConnection,
    principal: Principal,
    tables: list[TablePlan],
    tmp: Path,
    meta: Mapping[str, object],
    encryption_key: str | None = None,
) -> list[TableRecord]:
    """Write one product to `tmp` (a fresh file): sliced tables, `_product` and `_columns`."""
    tmp.parent.mkdir(parents=True, exist_ok=True)
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    opts = f" (ENCRYPTION_KEY {quote_literal(encryption_key)})" if encryption_key else ""
    con.execute(f"ATTACH {quote_literal(str(tmp))} AS {PRODUCT_ALIAS}{opts}")
    records: list[TableRecord] = []
    try:
        prefix = principal.jurisdiction
        for plan in tables:
            where = f" WHERE {_prefix_filter(plan.jurisdiction, prefix)}" if plan.jurisdiction else ""
            target = f"{PRODUCT_ALIAS}.main.{quote_ident(plan.name)}"
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM {plan.staged}{where}")
            rows = int(con.execute(f"SELECT count(*) FROM {target}").fetchall()[0][0])
            suppressed = 0
            if plan.suppressed_in:
                where_small = _prefix_filter("jurisdiction_code", prefix)
                sql = f"SELECT count(*) FROM {plan.suppressed_in} WHERE {where_small}"
                suppressed = int(con.execute(sql).fetchall()[0][0])
            records.append(TableRecord(plan.name, plan.dataset, plan.kind, rows, suppressed, plan.columns))
        cols = ", ".join(
            f"{quote_literal(str(v) if v is not None else '')} AS {quote_ident(k)}" for k, v in meta.items()
        )
        con.execute(f"CREATE TABLE {PRODUCT_ALIAS}.main.{META_PRODUCT} AS SELECT {cols}")
        con.execute(
            f"CREATE TABLE {PRODUCT_ALIAS}.main.{META_COLUMNS} (table_name VARCHAR, column_name VARCHAR, "
            "treatment VARCHAR, classification VARCHAR, reason VARCHAR, row_count BIGINT)"
        )
        # one INSERT of literal rows: executemany costs ~2 ms per row in DuckDB's Python client
        values = ", ".join(
            _sql_row((r.table, c.name, c.treatment, c.classification, c.reason), r.rows)
            for r in records
            for c in r.columns
        )
        if values:
            con.execute(f"INSERT INTO {PRODUCT_ALIAS}.main.{META_COLUMNS} VALUES {values}")
        con.execute(f"CHECKPOINT {PRODUCT_ALIAS}")
    finally:
        con.execute(f"DETACH {PRODUCT_ALIAS}")
    wal = Path(str(tmp) + ".wal")
    if wal.exists():
        raise PublishError(f"{tmp}: a WAL file remained after CHECKPOINT/DETACH")
    _fsync(tmp)
    return records


# ------------------------------------------------------------------------------------------ publish


def product_meta(
    principal: Principal,
    name: str | None,
    run_id: str,
    published_at: dt.datetime,
    policy: Policy,
    key: MaskKey,
) -> dict[str, object]:
    return {
        "principal": principal.ref,
        "tier": principal.tier.value,
        "tier_code": TIER_CODES[principal.tier],
        "jurisdiction": principal.jurisdiction,
        "jurisdiction_name": name,
        "department": principal.department,
        "purpose": principal.purpose,
        "suffix": principal.suffix,
        "run_id": run_id,
        "published_at": published_at.isoformat(),
        "policy_version": policy.version,
        "mask_key_fingerprint": key.fingerprint,
    }


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
    retire: bool = True,
) -> PublishResult:
    """Publish every product of the policy's principals; swap them in only if the leak scan is clean.

    `tiers` restricts the run to some tiers (and retirement to their folders). `encryption_keys` gives the
    key per tier for principal sets with `encrypt: true`. `unsafe_test_crypto` lets tests write encrypted
    files without the httpfs extension (DuckDB's mbedTLS writer is not secure: never in production).
    """
    t0 = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex
    published_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    published_dir = Path(published_dir)
    published_dir.mkdir(parents=True, exist_ok=True)
    tier_filter = set(tiers) if tiers is not None else None
    encryption_keys = dict(encryption_keys or {})

    con = open_sources(warehouse_path, mask_key)
    try:
        if unsafe_test_crypto:
            con.execute("SET force_mbedtls_unsafe = true")
        bound, denials = bind_datasets(con, policy)
        names, committees = division_names(con)
        present = jurisdictions_present(con, bound)
        principals = [
            p
            for p in principals_for(policy, present, committees)
            if tier_filter is None or p.tier in tier_filter
        ]
        missing_keys = sorted(
            {TIER_CODES[p.tier] for p in principals if p.encrypt and not encryption_keys.get(p.tier)}
        )
        if missing_keys:
            raise PublishError(
                "encryption is on for tiers without a key: "
                + ", ".join(f"{t} (set JIANFU_PRODUCT_KEY_{t.upper()})" for t in missing_keys)
            )
        for ps in policy.principal_sets:
            if ps.enabled and not any(p.tier is ps.tier and p.suffix == ps.suffix for p in principals):
                if tier_filter is None or ps.tier in tier_filter:
                    denials.append(
                        Denial(
                            "principal",
                            None,
                            "no_jurisdiction_present",
                            f"principal set {ps.id}: no jurisdiction has data",
                        )
                    )
        tokens = leakscan.build_tokens(con, policy, bound)

        by_profile: dict[tuple[object, ...], list[Principal]] = defaultdict(list)
        for p in principals:
            by_profile[p.profile].append(p)

        products: list[ProductRecord] = []
        pending: list[tuple[ProductRecord, Path]] = []
        for idx, (_, group) in enumerate(by_profile.items()):
            plans, prof_denials = plan_profile(con, policy, bound, group[0], idx, len(group))
            denials.extend(prof_denials)
            if not plans:
                denials.append(
                    Denial(
                        "principal",
                        None,
                        "principal_without_rule",
                        f"{_profile_label(group[0])}: no dataset has a visible column; no product written",
                        tier=group[0].tier.value,
                        department=group[0].department,
                        purpose=group[0].purpose,
                        principals=len(group),
                    )
                )
                continue
            for principal in group:
                ts = time.perf_counter()
                final = published_dir / principal.product_relpath
                tmp = tmp_path_for(final, run_id)
                meta = product_meta(
                    principal, names.get(principal.jurisdiction), run_id, published_at, policy, mask_key
                )
                key = encryption_keys.get(principal.tier) if principal.encrypt else None
                records = write_product(con, principal, plans, tmp, meta, key)
                rec = ProductRecord(
                    principal=principal,
                    path=final,
                    relpath=principal.product_relpath,
                    jurisdiction_name=names.get(principal.jurisdiction),
                    sha256=_sha256(tmp),
                    bytes=tmp.stat().st_size,
                    encrypted=key is not None,
                    tables=records,
                    seconds=time.perf_counter() - ts,
                )
                pending.append((rec, tmp))
            for plan in plans:
                for table in (plan.staged, plan.suppressed_in):
                    if table:
                        con.execute(f"DROP TABLE IF EXISTS {table}")
        build_seconds = time.perf_counter() - t0

        ts = time.perf_counter()
        report = leakscan.LeakReport(tokens=tokens)
        for rec, tmp in pending:
            key = encryption_keys.get(rec.principal.tier) if rec.encrypted else None
            leakscan.scan_product(con, policy, rec.principal, tmp, report, key, rec.relpath)
        scan_seconds = time.perf_counter() - ts
    finally:
        con.close()

    retired: list[str] = []
    swapped = report.passed
    if swapped:
        for rec, tmp in pending:
            os.replace(tmp, rec.path)
            products.append(rec)
        for d in {rec.path.parent for rec, _ in pending}:
            _fsync(d)
        if retire:
            retired = retire_stale(published_dir, {rec.path for rec in products}, tier_filter)
    else:
        for _, tmp in pending:
            tmp.unlink(missing_ok=True)
        products = [rec for rec, _ in pending]
    return PublishResult(
        run_id=run_id,
        policy_version=policy.version,
        published_at=published_at,
        mask_key_fingerprint=mask_key.fingerprint,
        mask_key_source=mask_key.source,
        products=products,
        denials=denials,
        retired=retired,
        scan=report,
        swapped=swapped,
        seconds=time.perf_counter() - t0,
        build_seconds=build_seconds,
        scan_seconds=scan_seconds,
        bound=[b.name for b in bound],
    )


_PRODUCT_FILE = re.compile(r"^\d+(\.[a-z0-9_-]+)?\.duckdb$")


def product_files(published_dir: str | Path, tiers: Iterable[Tier] | None = None) -> list[Path]:
    """Every product file under the tier folders (temporary files excluded)."""
    published_dir = Path(published_dir)
    out = []
    for tier in tiers or list(Tier):
        folder = published_dir / TIER_CODES[tier]
        if folder.is_dir():
            out.extend(sorted(p for p in folder.iterdir() if _PRODUCT_FILE.match(p.name)))
    return out


def retire_stale(published_dir: Path, keep: set[Path], tiers: set[Tier] | None) -> list[str]:
    """Remove products of principals that are no longer published (revoked access, no data), and
    temporary files left by crashed runs."""
    retired = []
    for tier in tiers or set(Tier):
        folder = published_dir / TIER_CODES[tier]
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.endswith(".duckdb") and _PRODUCT_FILE.match(path.name) and path not in keep:
                path.unlink()
                retired.append(str(path.relative_to(published_dir)))
            elif TMP_MARK in path.name:
                path.unlink()
    return sorted(retired)
