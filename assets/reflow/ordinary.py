"""Returned files without a (known) prefill id: read them as ordinary deliveries with ingestion's own code.

The reader, location check, layout finder and stager of assets/ingest are used unchanged (read-only), so a
return that lost its id is accounted exactly like any delivery: rows staged, quarantined with a reason, or
skipped. Every non-empty staged value counts as typed by staff; identity values become person evidence.
A file ingestion rejects is recorded with the rejection's reason code and message.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import duckdb
import polars as pl

from assets.common import warehouse

log = logging.getLogger(__name__)


class OrdinaryReader:
    """Ingestion's context (catalog, divisions, rules) built once per reconciliation run, on first use."""

    def __init__(self, con: duckdb.DuckDBPyConnection, landing_root: Path) -> None:
        self.con, self.landing_root = con, Path(landing_root)
        self._ctx = None

    def context(self):  # noqa: ANN201 - assets.ingest.pipeline.IngestContext, imported lazily
        if self._ctx is None:
            from assets.ingest.catalog import load_catalog
            from assets.ingest.pipeline import IngestContext

            self._ctx = IngestContext.build(
                load_catalog(self.landing_root),
                warehouse.read_frame(self.con, "SELECT * FROM core.divisions"),
            )
        return self._ctx


def stage_ordinary(
    con: duckdb.DuckDBPyConnection, files: list[tuple[Path, dict]], landing_root: Path | OrdinaryReader,
    run_id: str,
) -> tuple[list[dict], list[dict]]:  # fmt: skip
    """(reflow.returns rows, reflow.return_cells rows with outcome `typed`) for files read as deliveries.

    The files are staged as one batch (as ingestion stages a district), then counted per file."""
    if not files:
        return [], []
    from assets.ingest import stage
    from assets.ingest.pipeline import file_id
    from assets.ingest.reader import FileRejected, LandingFile, parse_file, validate_location

    reader = landing_root if isinstance(landing_root, OrdinaryReader) else OrdinaryReader(con, landing_root)
    ctx = reader.context()
    out_files: list[dict] = []
    batch = stage.Batch()
    staged_files: list[tuple[str, dict, str]] = []  # (relative path, reflow.returns row, form code)
    for path, base in files:
        rel = base["return_file"]
        parts = Path(rel).parts
        if len(parts) != 4:
            out_files.append(
                base | {"kind": "rejected", "message": f"{rel}: expected <district>/<form>/<period>/<file>"}
            )
            continue
        stat = path.stat()
        lf = LandingFile(path=path, source_file=rel, district_code=parts[0], form_code=parts[1], period=parts[2],
                         committee_code=base["committee_code"], file_format=path.suffix.lower().lstrip("."),
                         size_bytes=stat.st_size, modified_at=stat.st_mtime)  # fmt: skip
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            validate_location(lf, ctx.frequency, ctx.divisions.committees, ctx.rules)
            parsed = parse_file(lf, data)
            stage.add_file(batch, lf, file_id(rel, digest), digest, parsed, ctx.fields_by_form[lf.form_code],
                           ctx.synonyms, ctx.divisions)  # fmt: skip
        except FileRejected as exc:
            out_files.append(base | {"kind": "rejected", "message": f"{exc.reason_code}: {exc.message}"})
            continue
        staged_files.append((rel, base, lf.form_code))
    if not staged_files:
        return out_files, []
    staged = stage.finish(batch, run_id)
    # form and period from the file's folder, as the reflow.returns row says
    where = pl.DataFrame([(rel, base["form_code"], base["period"]) for rel, base, _ in staged_files],
                         schema={"source_file": pl.String, "form_code": pl.String, "period": pl.String}, orient="row")  # fmt: skip
    values = staged.values.drop("form_code").join(
        staged.records.select("record_id", "row_number", "committee_code", "source_file"), on="record_id", how="inner"
    ).join(where, on="source_file", how="left").filter(pl.col("value_raw").is_not_null() & (pl.col("value_raw").str.strip_chars() != ""))  # fmt: skip
    values = values.filter(
        (pl.col("field_label") != "序号") & pl.col("field_order").is_not_null()
    )  # no notes
    out_cells = values.select(
        pl.col("source_file").alias("return_file"), pl.lit(None, pl.String).alias("prefill_id"), "committee_code",
        "form_code", "period", pl.lit(None, pl.Int64).alias("seq"), pl.lit(None, pl.String).alias("person_id"),
        "row_number", "field_order", "field_label", "element_code", pl.lit(None, pl.String).alias("prefilled_value"),
        pl.coalesce("value", "value_raw").alias("returned_value"), pl.lit("typed").alias("outcome"),
    ).to_dicts()  # fmt: skip

    def per_file(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.group_by("source_file").len().iter_rows())

    n_staged, n_quarantined = per_file(staged.records), per_file(staged.quarantine)
    n_skipped, n_typed = per_file(staged.skipped), dict(values.group_by("source_file").len().iter_rows())
    first_committee = dict(staged.records.filter(pl.col("committee_code").is_not_null())
                           .group_by("source_file", maintain_order=True).agg(pl.col("committee_code").first()).iter_rows())  # fmt: skip
    for rel, base, _form in staged_files:
        records, quarantined = n_staged.get(rel, 0), n_quarantined.get(rel, 0)
        out_files.append(base | {
            "committee_code": base["committee_code"] or first_committee.get(rel), "rows_read": records + quarantined,
            "rows_added": records, "rows_staged": records, "rows_quarantined": quarantined,
            "rows_skipped": n_skipped.get(rel, 0), "cells_typed": n_typed.get(rel, 0), "cells_confirmed": 0,
            "cells_corrected": 0, "message": "read as an ordinary delivery (ingestion's reader and stager)",
        })  # fmt: skip
    return out_files, out_cells
