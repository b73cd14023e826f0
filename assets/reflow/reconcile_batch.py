"""Reconciling returned workbooks on the pool's workers: parse, match to the prefill, count — per batch of files.

A returned prefill sits where its prefill was sent (committee × form × period), so the prefill it most likely
carries is the current one of that place. The parent sends each batch the prefilled rows of those expected
ids (a slice of `reflow.prefill_cells`, a polars frame: cheap to ship); a worker parses each file, and when the
file carries the id expected it reconciles it there and returns its counts and its rows and cells as frames.
Any other file (another id, no id, unreadable, an empty prefill) comes back parsed, and the parent reconciles
it as before (assets/reflow/returns.py): the outcome is the same, only where the work runs differs. Before
this, the parent process reconciled every file itself while the workers only parsed: at bench scale the
parent spent ~45 CPU s of the returns' ~52.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from assets.reflow import reconcile as rc
from assets.reflow.workbook import ReturnedSheet, read_returned

ROW_SCHEMA = {"return_file": pl.String, "prefill_id": pl.String, "committee_code": pl.String,
              "form_code": pl.String, "period": pl.String, "seq": pl.Int64, "person_id": pl.String,
              "row_number": pl.Int64, "outcome": pl.String, "staff_reason": pl.String,
              "matched_by": pl.String}  # fmt: skip
CELL_SCHEMA = {"return_file": pl.String, "prefill_id": pl.String, "committee_code": pl.String,
               "form_code": pl.String, "period": pl.String, "seq": pl.Int64, "person_id": pl.String,
               "row_number": pl.Int64, "field_order": pl.Int64, "field_label": pl.String,
               "element_code": pl.String, "prefilled_value": pl.String, "returned_value": pl.String,
               "outcome": pl.String}  # fmt: skip
PREFILLED_COLUMNS = "prefill_id, seq, person_id, field_order, field_label, value, prefilled, element_code"

# (path, return_file, committee, form, period, expected prefill id)
Item = tuple[str, str, str | None, str | None, str | None, str]


def prefilled_rows(frame: pl.DataFrame) -> dict[str, list[rc.PrefilledRow]]:
    """Prefill id → its prefilled rows, from `reflow.prefill_cells` rows (PREFILLED_COLUMNS, ordered by
    prefill id, seq, field order)."""
    out: dict[str, dict[int, rc.PrefilledRow]] = {}
    for pid, seq, person, order, label, value, prefilled, element in frame.iter_rows():
        rows = out.setdefault(pid, {})
        row = rows.get(seq)
        if row is None:
            row = rows[seq] = rc.PrefilledRow(seq, person, {})
        row.cells[order] = (label, value, bool(prefilled), element)
    return {pid: list(rows.values()) for pid, rows in out.items()}


def reconcile_file(
    prefilled: list[rc.PrefilledRow], sheet: ReturnedSheet, keys: dict
) -> tuple[dict, list[dict], list[dict]]:
    """The reflow.returns counts of one reconciled file, and its rows and cells (with `keys` columns)."""
    result = rc.reconcile(prefilled, sheet)
    result_rows = [r for r in result.rows if r["seq"] != -1]
    rows = [keys | r for r in result_rows]
    cells = [keys | c for c in result.cells]
    count = {o: 0 for o in ("confirmed", "corrected", "added", "removed")}
    for r in result_rows:
        if r["outcome"] in count:
            count[r["outcome"]] += 1
    ccount = {o: 0 for o in ("confirmed", "corrected", "typed")}
    for c in result.cells:
        if c["outcome"] in ccount:
            ccount[c["outcome"]] += 1
    counts = {
        "kind": "prefill_return", "prefill_id": keys["prefill_id"], "rows_read": len(sheet.rows),
        "rows_confirmed": count["confirmed"], "rows_corrected": count["corrected"], "rows_added": count["added"],
        "rows_removed": count["removed"], "rows_skipped": sheet.skipped,
        "cells_confirmed": ccount["confirmed"], "cells_corrected": ccount["corrected"],
        "cells_typed": ccount["typed"],
        "message": ("unmapped columns: " + ", ".join(result.unmapped_headers)) if result.unmapped_headers else None,
    }  # fmt: skip
    return counts, rows, cells


def rows_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=ROW_SCHEMA) if rows else pl.DataFrame(schema=ROW_SCHEMA)


def cells_frame(cells: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(cells, schema=CELL_SCHEMA) if cells else pl.DataFrame(schema=CELL_SCHEMA)


def reconcile_many(
    items: Sequence[Item], prefilled: pl.DataFrame
) -> tuple[list[dict | ReturnedSheet | str], pl.DataFrame, pl.DataFrame]:
    """Per file: its counts when reconciled here, else its parsed sheet (or why it could not be read);
    and the rows and cells of the files reconciled here, in file order. Runs on a worker."""
    by_id = prefilled_rows(prefilled)
    out: list[dict | ReturnedSheet | str] = []
    rows: list[dict] = []
    cells: list[dict] = []
    for path, rel, committee, form, period, expected in items:
        try:
            sheet = read_returned(Path(path).read_bytes())
        except Exception as exc:  # noqa: BLE001 - reported per file by the caller, never stops the batch
            out.append(f"{type(exc).__name__}: {exc}")
            continue
        pre = by_id.get(expected)
        if sheet.prefill_id != expected or not pre:
            out.append(sheet)  # another id, none, or an empty prefill: the parent reconciles it
            continue
        keys = {"return_file": rel, "prefill_id": expected, "committee_code": committee, "form_code": form,
                "period": period}  # fmt: skip
        counts, file_rows, file_cells = reconcile_file(pre, sheet, keys)
        out.append(counts)
        rows += file_rows
        cells += file_cells
    return out, rows_frame(rows), cells_frame(cells)


def batches(
    items: Sequence[Item], prefilled: pl.DataFrame, size: int
) -> Iterable[tuple[Sequence[Item], pl.DataFrame]]:
    """`items` in batches of `size`, each with the slice of `prefilled` (ordered by prefill id) it expects."""
    spans: dict[str, tuple[int, int]] = {}
    if prefilled.height:
        ids = prefilled["prefill_id"]
        starts = (ids != ids.shift(1)).fill_null(True).arg_true().to_list()
        ends = [*starts[1:], prefilled.height]
        spans = {ids[s]: (s, e - s) for s, e in zip(starts, ends, strict=True)}
    empty = prefilled.clear()
    for i in range(0, len(items), size):
        chunk = items[i : i + size]
        wanted = dict.fromkeys(item[5] for item in chunk)  # ids in order, once each
        parts = [prefilled.slice(*spans[pid]) for pid in wanted if pid in spans]
        yield chunk, pl.concat(parts) if parts else empty
