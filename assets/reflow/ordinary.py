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


def stage_ordinary(
    con: duckdb.DuckDBPyConnection, files: list[tuple[Path, dict]], landing_root: Path, run_id: str
) -> tuple[list[dict], list[dict]]:
    """(reflow.returns rows, reflow.return_cells rows with outcome `typed`) for files read as deliveries."""
    if not files:
        return [], []
    from assets.ingest import stage
    from assets.ingest.catalog import load_catalog
    from assets.ingest.pipeline import IngestContext, file_id
    from assets.ingest.reader import FileRejected, LandingFile, parse_file, validate_location

    ctx = IngestContext.build(
        load_catalog(Path(landing_root)), warehouse.read_frame(con, "SELECT * FROM core.divisions")
    )
    out_files: list[dict] = []
    out_cells: list[dict] = []
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
        batch = stage.Batch()
        try:
            validate_location(lf, ctx.frequency, ctx.divisions.committees)
            parsed = parse_file(lf, data)
            stage.add_file(batch, lf, file_id(rel, digest), digest, parsed, ctx.fields_by_form[lf.form_code],
                           ctx.synonyms, ctx.divisions)  # fmt: skip
        except FileRejected as exc:
            out_files.append(base | {"kind": "rejected", "message": f"{exc.reason_code}: {exc.message}"})
            continue
        staged = stage.finish(batch, run_id)
        values = staged.values.join(
            staged.records.select("record_id", "row_number", "committee_code"), on="record_id", how="inner"
        ).filter(pl.col("value_raw").is_not_null() & (pl.col("value_raw").str.strip_chars() != ""))
        values = values.filter(
            (pl.col("field_label") != "序号") & pl.col("field_order").is_not_null()
        )  # no notes
        for v in values.iter_rows(named=True):
            out_cells.append({
                "return_file": rel, "prefill_id": None, "committee_code": v["committee_code"],
                "form_code": lf.form_code, "period": lf.period, "seq": None, "person_id": None,
                "row_number": v["row_number"], "field_order": v["field_order"], "field_label": v["field_label"],
                "element_code": v["element_code"], "prefilled_value": None,
                "returned_value": v["value"] if v.get("value") is not None else v["value_raw"], "outcome": "typed",
            })  # fmt: skip
        committee = base["committee_code"] or (staged.records["committee_code"].drop_nulls().first()
                                               if staged.records.height else None)  # fmt: skip
        out_files.append(base | {
            "committee_code": committee, "rows_read": staged.records.height + staged.quarantine.height,
            "rows_added": staged.records.height, "rows_staged": staged.records.height,
            "rows_quarantined": staged.quarantine.height, "rows_skipped": staged.skipped.height,
            "cells_typed": values.height, "cells_confirmed": 0, "cells_corrected": 0,
            "message": "read as an ordinary delivery (ingestion's reader and stager)",
        })  # fmt: skip
    return out_files, out_cells
