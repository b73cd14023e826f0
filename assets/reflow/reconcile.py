"""Reconcile one returned prefilled file against what was prefilled: per row and per cell.

Rows are matched to the prefilled roster by the ID number cell, then by name, then by 序号 (through the row
map of the hidden sheet), so staff may reorder, correct a name or an ID, delete or add rows. Outcomes:
- row: `confirmed` (every prefilled cell kept), `corrected` (at least one prefilled cell changed), `added`
  (no prefilled row), `removed` (deleted, or kept with a 变动说明 such as 死亡 / 迁出: the reason is kept);
- cell: `confirmed`, `corrected` (prefilled, value changed or cleared), `typed` (blank on the prefill, staff
  filled it), `blank` (blank and left blank), `column_missing` (the column was deleted or renamed: no verdict).
  Cells of removed rows are not counted: nobody filled them.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass, field

from assets.reflow.workbook import NOTE_LABEL, SEQ_LABEL, ReturnedSheet


@functools.lru_cache(maxsize=1 << 16)
def norm(value: str | None) -> str:
    """What counts as the same value: NFKC, no surrounding or inner whitespace, upper-case x in IDs.
    (Remembered: the same few values — 男, 是, a committee's street — recur on every row.)"""
    return "".join(unicodedata.normalize("NFKC", value or "").split()).upper()


@dataclass
class PrefilledRow:
    seq: int
    person_id: str | None
    cells: dict[
        int, tuple[str, str | None, bool, str | None]
    ]  # field_order → (label, value, prefilled, element)


@dataclass
class Reconciled:
    rows: list[dict] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    unmapped_headers: list[str] = field(default_factory=list)


def _column_of(header: list[str], labels: dict[int, str]) -> dict[int, int]:
    """field_order → column index of the returned sheet, by the form's own label."""
    index = {norm(h): i for i, h in enumerate(header) if h}
    return {order: index[norm(label)] for order, label in labels.items() if norm(label) in index}


def reconcile(prefilled: list[PrefilledRow], sheet: ReturnedSheet) -> Reconciled:
    out = Reconciled()
    if not prefilled:
        labels: dict[int, str] = {}
    else:
        labels = {o: c[0] for o, c in prefilled[0].cells.items()}
    elements = {o: c[3] for o, c in (prefilled[0].cells.items() if prefilled else [])}
    cols = _column_of(sheet.header, labels)
    known = {norm(labels[o]) for o in cols} | {norm(SEQ_LABEL), norm(NOTE_LABEL)}
    out.unmapped_headers = [h for h in sheet.header if h and norm(h) not in known]
    seq_col = next((i for i, h in enumerate(sheet.header) if norm(h) == norm(SEQ_LABEL)), None)
    note_col = next((i for i, h in enumerate(sheet.header) if norm(h) == norm(NOTE_LABEL)), None)
    id_order = next((o for o, e in elements.items() if e == "citizen_id" and o in cols), None)
    name_order = next((o for o, e in elements.items() if e == "person_name" and o in cols), None)

    def cell(cells: list[str], order: int | None) -> str:
        if order is None or order not in cols or cols[order] >= len(cells):
            return ""
        return cells[cols[order]]

    unmatched = {p.seq: p for p in prefilled}
    by_seq_person = {p.person_id: p.seq for p in prefilled if p.person_id}
    matches: dict[int, tuple[PrefilledRow, str]] = {}  # returned row_number → (prefilled row, matched_by)
    for key_order, how in ((id_order, "id_number"), (name_order, "name")):
        if key_order is None:
            continue
        index: dict[str, list[int]] = {}
        for p in unmatched.values():
            v = norm(p.cells.get(key_order, ("", None, False, None))[1])
            if v:
                index.setdefault(v, []).append(p.seq)
        for row_number, cells in sheet.rows:
            if row_number in matches:
                continue
            hits = [s for s in index.get(norm(cell(cells, key_order)), []) if s in unmatched]
            if hits:  # twins share a name, never an ID: take the first unmatched of the same name
                matches[row_number] = (unmatched.pop(hits[0]), how)
    if seq_col is not None:
        for row_number, cells in sheet.rows:
            if row_number in matches or seq_col >= len(cells):
                continue
            pid = sheet.row_map.get(cells[seq_col])
            seq = by_seq_person.get(pid) if pid else None
            if seq is not None and seq in unmatched:
                matches[row_number] = (unmatched.pop(seq), "seq")

    for row_number, cells in sheet.rows:
        note = cells[note_col].strip() if note_col is not None and note_col < len(cells) else ""
        match = matches.get(row_number)
        if match is None:
            out.rows.append(_row(None, row_number, "added", note or None, "none"))
            for order, label in labels.items():
                v = cell(cells, order)
                if v:
                    out.cells.append(
                        _cell(None, row_number, order, label, elements.get(order), None, v, "typed")
                    )
            continue
        p, how = match
        if note:
            out.rows.append(_row(p, row_number, "removed", note, how))
            continue
        corrected = False
        for order, (label, pv, was_prefilled, element) in p.cells.items():
            rv = cell(cells, order)
            if order not in cols:  # staff removed or renamed the column: nothing to say about its cells
                out.cells.append(_cell(p, row_number, order, label, element, pv, None, "column_missing"))
                continue
            if was_prefilled:
                outcome = "confirmed" if norm(rv) == norm(pv) else "corrected"
                corrected |= outcome == "corrected"
            else:
                outcome = "typed" if rv else "blank"
            out.cells.append(_cell(p, row_number, order, label, element, pv, rv or None, outcome))
        out.rows.append(_row(p, row_number, "corrected" if corrected else "confirmed", None, how))
    for p in unmatched.values():
        out.rows.append(_row(p, None, "removed", None, "missing"))
    return out


def _row(p: PrefilledRow | None, row_number: int | None, outcome: str, reason: str | None, how: str) -> dict:
    return {"seq": p.seq if p else None, "person_id": p.person_id if p else None, "row_number": row_number,
            "outcome": outcome, "staff_reason": reason, "matched_by": how}  # fmt: skip


def _cell(p: PrefilledRow | None, row_number: int, order: int, label: str, element: str | None,
          prefilled_value: str | None, returned_value: str | None, outcome: str) -> dict:  # fmt: skip
    return {"seq": p.seq if p else None, "person_id": p.person_id if p else None, "row_number": row_number,
            "field_order": order, "field_label": label, "element_code": element,
            "prefilled_value": prefilled_value, "returned_value": returned_value, "outcome": outcome}  # fmt: skip
