"""Checks over the products in place (used by the blocking asset checks, `jianfu audit verify` and tests).

- `verify_generation`: the products readers see are exactly the current generation's (same inode, size, mtime
  and ctime as when sealed, else the same sha256), and each was leak-scanned clean when it was written (its scan
  figures are in the generation record, `_audit/generations/<id>.json`): the blocking check reads those results
  and a `stat` per product, instead of reading every product a second time.
- `scan_published`: an independent full re-scan of every visible product against today's source values.
- `deny_by_default_report`: every published column has a decision; every source column is published or denied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl

from assets.publish import binding, generation
from assets.publish.leakscan import Finding, LeakReport, build_tokens, scan_product
from assets.publish.masking import quote_literal
from assets.publish.policy import Policy
from assets.publish.types import TIER_CODES, Principal, Tier
from assets.publish.writer import sha256_file


def verify_generation(published_dir: str | Path, deep: bool = False) -> tuple[list[str], int]:
    """(problems, products checked): visible products = current generation's record, each scanned clean.

    A product whose inode, size, mtime and ctime are those recorded when it was sealed was not written since
    (its ctime cannot be set back), so it is not read; any other product is re-hashed (`deep`: all of them)."""
    published = Path(published_dir)
    cur = generation.current_generation(published)
    if cur is None:
        return (["no current generation (nothing published yet)"], 0)
    record = generation.read_record(cur)
    problems: list[str] = []
    products = record.get("products", {})
    seen = set()
    for path in generation.product_files(published):
        rel = str(path.relative_to(published))
        seen.add(rel)
        entry = products.get(rel)
        if entry is None:
            problems.append(f"{rel}: not in generation {cur.name}'s record")
            continue
        if path.resolve().parent.parent != cur:
            problems.append(f"{rel}: not inside the current generation")
        if (deep or generation.stat_of(path) != entry.get("stat")) and sha256_file(path) != entry.get(
            "sha256"
        ):
            problems.append(
                f"{rel}: sha256 differs from the generation record (changed after it was scanned)"
            )
        scan = entry.get("scan") or {}
        if scan.get("findings", 1) != 0:
            problems.append(f"{rel}: was not leak-scanned clean when written ({scan})")
    for rel in sorted(set(products) - seen):
        problems.append(f"{rel}: recorded in generation {cur.name} but missing")
    return problems, len(seen)


def principal_of_product(
    con: duckdb.DuckDBPyConnection, path: Path, key: str | None = None
) -> Principal | None:
    """Read the principal a product was built for from its `_product` table."""
    opts = f"ENCRYPTION_KEY {quote_literal(key)}, READ_ONLY" if key else "READ_ONLY"
    try:
        con.execute(f"ATTACH {quote_literal(str(path))} AS probe ({opts})")
    except duckdb.Error:
        return None
    try:
        row = con.execute(
            "SELECT tier, jurisdiction, department, purpose, suffix FROM probe.main._product"
        ).fetchall()
    except duckdb.Error:
        return None
    finally:
        con.execute("DETACH probe")
    if not row:
        return None
    tier, jurisdiction, department, purpose, suffix = (v or None for v in row[0])
    return Principal(
        tier=Tier(tier), jurisdiction=jurisdiction, department=department, purpose=purpose, suffix=suffix
    )


_TIER_DIR = re.compile(r"^(city|district|township|committee)$")


def scan_published(
    warehouse_path: str | Path,
    published_dir: str | Path,
    policy: Policy,
    encryption_keys: Mapping[Tier, str] | None = None,
) -> LeakReport:
    """Scan every product under `published_dir` against the warehouse's current source values."""
    published_dir = Path(published_dir)
    encryption_keys = dict(encryption_keys or {})
    con = binding.open_sources(warehouse_path)
    try:
        bound, _ = binding.bind_datasets(con, policy, stage=False)
        binding.stage_form_classes(con, policy)
        report = LeakReport(tokens=build_tokens(con, policy, bound))
        for path in generation.product_files(published_dir):
            rel = str(path.relative_to(published_dir))
            principal = None
            tried: list[str | None] = [None]
            tier_dir = path.parent.name
            if _TIER_DIR.match(tier_dir):
                tried += [k for t, k in encryption_keys.items() if TIER_CODES[t] == tier_dir]
            key_used = None
            for key in tried:
                principal = principal_of_product(con, path, key)
                if principal is not None:
                    key_used = key
                    break
            if principal is None:
                report.findings.append(
                    Finding(rel, "?", None, None, "unreadable_product", "no readable _product table")
                )
                continue
            if principal.product_relpath != rel:
                report.findings.append(
                    Finding(
                        rel,
                        principal.ref,
                        None,
                        None,
                        "misplaced_product",
                        f"belongs at {principal.product_relpath}",
                    )
                )
            scan_product(con, policy, principal, path, report, key_used, rel)
        return report
    finally:
        con.close()


# --------------------------------------------------------------------------- deny-by-default report

_VISIBLE_OUT = {
    "show",
    "partial",
    "keyed_hash",
    "year_only",
    "band",
    "nullify",
    "by_element",
    "aggregate",
    "count",
}
GAP_CODES = {"no_rule", "mask_not_applicable", "aggregate_without_spec", "no_sharing_category"}


def deny_by_default_report(
    warehouse_path: str | Path,
    published_dir: str | Path,
    policy: Policy,
    encryption_keys: Mapping[Tier, str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(violations, policy gaps, decisions checked) for the products in place and publish.denials.

    Violations: a published column without a classification or a visible treatment; a product column not
    described in its `_columns`; a source column that is neither published nor in publish.denials for a
    profile that received products (dropped silently). Gaps: denials that need a policy decision (a
    column nobody classified, no rule for a tier, a mask that does not apply)."""
    published_dir = Path(published_dir)
    keys = dict(encryption_keys or {})
    violations: list[tuple[str, str | None, str | None, str]] = []
    con = binding.open_sources(warehouse_path)
    try:
        bound, _ = binding.bind_datasets(con, policy, stage=False)
        try:
            denials = con.sql(
                "SELECT scope, dataset, column_name, tier, department, purpose, reason_code, reason, element_code "
                "FROM publish.denials"
            ).pl()
        except duckdb.Error:
            return (
                pl.DataFrame(
                    {
                        "product": ["-"],
                        "table": [None],
                        "column": [None],
                        "problem": ["no publish.denials table"],
                    }
                ),
                pl.DataFrame(),
                1,
            )
        published: dict[tuple[str, str, str | None], set[tuple[str, str]]] = {}
        for path in generation.product_files(published_dir):
            rel = str(path.relative_to(published_dir))
            key = keys.get(next((t for t, c in TIER_CODES.items() if c == path.parent.name), Tier.CITY))
            opts = f"ENCRYPTION_KEY {quote_literal(key)}, READ_ONLY" if key else "READ_ONLY"
            try:
                con.execute(f"ATTACH {quote_literal(str(path))} AS dbd ({opts})")
            except duckdb.Error:
                con.execute(f"ATTACH {quote_literal(str(path))} AS dbd (READ_ONLY)")
            try:
                meta = con.execute("SELECT tier, department, purpose FROM dbd.main._product").fetchall()[0]
                profile = (str(meta[0]), meta[1] or None, meta[2] or None)
                described = con.execute(
                    "SELECT table_name, column_name, treatment, classification FROM dbd.main._columns"
                ).fetchall()
                listed = {(t, c) for t, c, _, _ in described}
                for t, c, treatment, classification in described:
                    if treatment not in _VISIBLE_OUT or (classification is None and treatment != "count"):
                        violations.append(
                            (rel, t, c, f"published as {treatment!r} with classification {classification!r}")
                        )
                actual = con.execute(
                    "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = 'dbd' "
                    "AND schema_name = 'main' AND table_name NOT IN ('_product', '_columns')"
                ).fetchall()
                for t, c in actual:
                    if (t, c) not in listed:
                        violations.append((rel, t, c, "column present but not described in _columns"))
                seen = published.setdefault(profile, set())
                for t, c in actual:
                    ds = (
                        t[: -len("_counts")]
                        if t.endswith("_counts") and t[: -len("_counts")] in policy.datasets
                        else t
                    )
                    seen.add((ds, c))
            finally:
                con.execute("DETACH dbd")
    finally:
        con.close()

    total = 0
    drows = denials.to_dicts()
    for profile, seen in published.items():
        for b in bound:
            for col in b.column_names:
                total += 1
                if (b.name, col) not in seen and not _is_denied(drows, profile, b.name, col):
                    label = "/".join(v or "-" for v in profile)
                    violations.append((label, b.name, col, "neither published nor in publish.denials"))
    vframe = pl.DataFrame(violations, schema={"product": pl.String, "table": pl.String, "column": pl.String,
                                              "problem": pl.String}, orient="row")  # fmt: skip
    gaps = denials.filter(
        pl.col("reason_code").is_in(sorted(GAP_CODES))
        | ((pl.col("reason_code") == "unclassified_column") & (pl.col("scope") == "column"))
    )
    return vframe, gaps, max(total, 1)


def _is_denied(
    denials: list[dict], profile: tuple[str, str | None, str | None], dataset: str, column: str
) -> bool:
    """Does publish.denials explain why `column` of `dataset` is missing from this profile's products?"""
    tier, department, purpose = profile
    for d in denials:
        if d["dataset"] != dataset:
            continue
        if d["tier"] is not None and (d["tier"], d["department"], d["purpose"]) != (
            tier,
            department,
            purpose,
        ):
            continue
        if d["scope"] == "dataset" or d["column_name"] is None or column in str(d["column_name"]).split(","):
            return True
    return False
