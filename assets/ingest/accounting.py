"""Row and file accounting over the ingestion tables: nothing delivered may vanish unnoticed.

Per file: rows read = staged + quarantined + skipped + replaced (a rejected file's rows count as quarantined
at file level). Per landing zone: every file under the root (but the catalog, which has its own asset) is
registered in raw.landing_files, and no data-bearing file is replaced by a file that is rejected or stages
nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import polars as pl

from assets.ingest.landing import district_folders
from assets.ingest.rules import DeliveryRules


def file_accounting(con: duckdb.DuckDBPyConnection, district_code: str | None = None) -> pl.DataFrame:
    """Per file: rows read vs rows found in the staged, quarantined, skipped and replaced tables."""
    where = "WHERE f.district_code = ?" if district_code else ""
    params = [district_code] if district_code else []
    return (
        con.sql(
            f"""
        WITH s AS (SELECT file_id, count(*) n FROM staging.form_records GROUP BY ALL),
             q AS (SELECT file_id, count(*) n FROM quarantine.rows GROUP BY ALL),
             k AS (SELECT file_id, count(*) n FROM raw.skipped_rows GROUP BY ALL),
             r AS (SELECT file_id, count(*) n FROM raw.replaced_rows GROUP BY ALL)
        SELECT f.source_file, f.district_code, f.status, coalesce(f.rows_read, 0) AS rows_read,
               coalesce(s.n, 0) AS staged,
               CASE WHEN f.status = 'rejected' THEN coalesce(f.rows_read, 0) ELSE coalesce(q.n, 0) END AS quarantined,
               coalesce(k.n, 0) AS skipped, coalesce(r.n, 0) AS replaced, f.replaced_by
        FROM raw.landing_files f
        LEFT JOIN s USING (file_id) LEFT JOIN q USING (file_id) LEFT JOIN k USING (file_id)
        LEFT JOIN r USING (file_id)
        {where}
        ORDER BY f.source_file
        """,
            params=params or None,
        )
        .pl()
        .with_columns(
            (
                pl.col("rows_read")
                - pl.col("staged")
                - pl.col("quarantined")
                - pl.col("skipped")
                - pl.col("replaced")
            ).alias("unaccounted")
        )
    )


def replacement_problems(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Data rows replaced by a file that is rejected, missing, or stages no row at all (data would be lost).

    Copies of an unreadable file (`duplicate_of_rejected`) carry no data rows and are left out.
    """
    return con.sql(
        """
        SELECT r.source_file AS replaced_file, r.replaced_by, count(*) AS rows_replaced,
               coalesce(w.status, 'missing') AS replacing_status, coalesce(w.rows_staged, 0) AS replacing_rows_staged
        FROM raw.replaced_rows r
        LEFT JOIN raw.landing_files w ON w.source_file = r.replaced_by AND w.district_code = r.district_code
        WHERE r.reason <> 'duplicate_of_rejected'
        GROUP BY ALL
        HAVING coalesce(w.status, 'missing') NOT IN ('ingested') OR coalesce(w.rows_staged, 0) = 0
        ORDER BY 1, 2
        """
    ).pl()


def landing_accounting(
    con: duckdb.DuckDBPyConnection, root: Path, districts: Mapping[str, str], rules: DeliveryRules
) -> tuple[pl.DataFrame, dict[str, int]]:
    """(files under the root missing from raw.landing_files, landing-level row totals).

    Compared: the folders of every district this warehouse ingested (a partial backfill leaves the others
    out) and everything outside district folders (registered by every run); the catalog/ folder has its own
    asset and is not compared.
    """
    root = Path(root)
    found, unplaced = district_folders(root, districts, rules)
    ingested = {
        r[0] for r in con.sql("SELECT DISTINCT district_code FROM raw.landing_files").fetchall() if r[0]
    }
    expected = {m.source_file for m in unplaced}
    for code, folders in found.items():
        if code in ingested:
            for folder in folders:
                expected |= {p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file()}
    registered = {r[0] for r in con.sql("SELECT source_file FROM raw.landing_files").fetchall()}
    missing = sorted(expected - registered)
    accounting = file_accounting(con)
    totals = {name: int(accounting[name].sum() or 0)
              for name in ("rows_read", "staged", "quarantined", "skipped", "replaced", "unaccounted")}  # fmt: skip
    totals["files"] = accounting.height
    return pl.DataFrame({"source_file": missing}, schema={"source_file": pl.String}), totals
