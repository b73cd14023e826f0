"""Check one case's expectations against the warehouse; return readable failure messages (empty = pass)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb

from .model import ANY, Case, FileExp, RowExp, SkipExp

LANDING_COLS = (
    "status, reason_code, message, rows_read, rows_staged, rows_quarantined, rows_skipped, "
    "committee_code, district_code"
)


@dataclass
class Warehouse:
    """A read-only warehouse connection plus the job's console output (for checks that read the log)."""

    con: duckdb.DuckDBPyConnection
    run_log: str = field(default="", repr=False)
    lost: list[str] = field(default_factory=list, repr=False)  # planted rows found in no table
    silent: list[str] = field(default_factory=list, repr=False)  # values staged wrong without a flag

    @property
    def has_person_rows(self) -> bool:
        """staging.person_rows (what matching reads) exists only when the downstream stage ran."""
        return bool(
            self.rows(
                "SELECT 1 FROM information_schema.tables WHERE table_schema='staging' "
                "AND table_name='person_rows'"
            )
        )

    def execute(self, sql: str, params: list | None = None):
        return self.con.execute(sql, params or [])

    def rows(self, sql: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


def _likes(text: str) -> list[str]:
    """LIKE patterns for text as stored raw or inside JSON with \\u escapes."""
    esc = json.dumps(text)[1:-1]
    return [f"%{text}%"] + ([f"%{esc}%"] if esc != text else [])


def _in_quarantine(w: Warehouse, file: str, text: str) -> list[tuple]:
    out = []
    for pat in _likes(text):
        out += w.rows(
            "SELECT record_id, row_number, sheet, raw_row::VARCHAR, reason_code FROM quarantine.rows "
            "WHERE source_file=? AND raw_row::VARCHAR LIKE ?",
            [file, pat],
        )
    return list(dict.fromkeys(out))


def has_replaced_rows(w: Warehouse) -> bool:
    """docs/CONTRACTS.md: rows of a superseded or duplicate file are counted in raw.landing_files.rows_replaced
    and listed in raw.replaced_rows naming the file that replaced them (issue 8, item 7)."""
    return bool(
        w.rows(
            "SELECT 1 FROM information_schema.columns WHERE table_schema='raw' AND table_name='landing_files' "
            "AND column_name='rows_replaced'"
        )
    )


def replaced_rows(w: Warehouse, file: str) -> int:
    """The file's rows_replaced (0 where the contract has no such column)."""
    if not has_replaced_rows(w):
        return 0
    return w.rows("SELECT coalesce(rows_replaced, 0) FROM raw.landing_files WHERE source_file=?", [file])[0][
        0
    ]


def check_file(w: Warehouse, f: FileExp) -> list[str]:
    got = w.rows(f"SELECT {LANDING_COLS} FROM raw.landing_files WHERE source_file=?", [f.path])
    if not got:
        return [f"{f.path}: not in raw.landing_files"]
    status, reason, message, read, staged, quar, skipped, committee, district = got[0]
    replaced = replaced_rows(w, f.path)
    out = []
    where = f"{f.path} [{status}/{reason}]"
    if status not in f.status:
        out.append(f"{where}: status {status!r}, want one of {f.status}")
    if (
        read is not None
        and None not in (staged, quar, skipped)
        and read != staged + quar + skipped + replaced
    ):
        out.append(
            f"{where}: rows_read {read} != staged {staged} + quarantined {quar} + skipped {skipped}"
            f" + replaced {replaced}"
        )
    if f.staged is not None and staged != f.staged:
        out.append(f"{where}: rows_staged {staged}, want {f.staged}")
    if f.quarantined is not None and quar != f.quarantined:
        out.append(f"{where}: rows_quarantined {quar}, want {f.quarantined}")
    if f.min_skipped is not None and (skipped or 0) < f.min_skipped:
        out.append(f"{where}: rows_skipped {skipped}, want at least {f.min_skipped}")
    if f.reason and not reason:
        out.append(f"{where}: no reason_code")
    text = f"{reason or ''} {message or ''}".lower()
    if f.reason_words and not any(word in text for word in f.reason_words):
        out.append(f"{where}: reason/message {text.strip()!r} says none of {f.reason_words}")
    if f.committee is not ANY and committee != f.committee:
        out.append(f"{where}: committee_code {committee!r}, want {f.committee!r}")
    if f.district is not ANY and district != f.district:
        out.append(f"{where}: district_code {district!r}, want {f.district!r}")
    return out


def _flagged(w: Warehouse, record_id: str, flags: list | None) -> bool:
    if flags:
        return True
    return bool(
        w.rows("SELECT 1 FROM staging.form_values WHERE record_id=? AND value_flag IS NOT NULL", [record_id])
    )


def check_row(w: Warehouse, r: RowExp) -> list[str]:
    staged = w.rows(
        "SELECT record_id, row_number, sheet, committee_code, id_status, id_number_raw, flags "
        "FROM staging.form_records WHERE source_file=? AND trim(person_name)=?",
        [r.file, r.name],
    )
    quar = _in_quarantine(w, r.file, r.name)
    where = f"{r.file} {r.name}"
    n_s, n_q = len(staged), len(quar)
    if r.fate == "not_staged":
        return [f"{where}: staged {n_s}x from a file that must not stage"] if n_s else []
    if n_s + n_q == 0:
        w.lost.append(where)
        return [f"{where}: planted row is in neither staging.form_records nor quarantine.rows"]
    want = {"staged": (1, 0), "quarantined": (0, 1)}.get(r.fate)
    if want and (n_s, n_q) != want or n_s + n_q > 1:
        return [f"{where}: staged {n_s}x, quarantined {n_q}x; want {r.fate} exactly once"]
    out: list[str] = []
    if n_q:
        if r.id_raw and not any(any(p.strip("%") in q[3] for p in _likes(r.id_raw)) for q in quar):
            out.append(f"{where}: quarantined without the raw ID text {r.id_raw!r}")
        if r.row_number is not None and quar[0][1] != r.row_number:
            out.append(f"{where}: quarantined row_number {quar[0][1]}, planted on {r.row_number}")
        return out
    rid, row_number, sheet, committee, id_status, id_raw, flags = staged[0]
    if r.row_number is not None and row_number != r.row_number:
        out.append(f"{where}: row_number {row_number}, planted on physical row {r.row_number}")
    if r.sheet is not None and sheet != r.sheet:
        out.append(f"{where}: sheet {sheet!r}, planted on {r.sheet!r}")
    if r.committee is not None and committee != r.committee:
        out.append(f"{where}: committee_code {committee!r}, want {r.committee!r}")
    is_flagged = _flagged(w, rid, flags)
    if r.id_valid is True and id_status != "valid":
        out.append(f"{where}: id_status {id_status!r} for a correct ID (raw {id_raw!r})")
    if r.id_valid is False and id_status == "valid":
        out.append(f"{where}: Excel-damaged ID staged as valid (raw {id_raw!r})")
        w.silent.append(f"{where}: id")
    if r.id_valid is False and w.has_person_rows:
        # what matching reads: a float-damaged ID must reach it as unknown (null, or a status that says
        # unusable), not as a usable ID nor as an ordinary typo (wrong_check_digit) to be compared fuzzily
        known = w.rows(
            "SELECT id_number, id_status FROM staging.person_rows WHERE record_id=? AND id_number IS NOT NULL "
            "AND id_status IN ('valid', 'converted_15', 'wrong_check_digit')",
            [rid],
        )
        if known:
            out.append(f"{where}: damaged ID reaches matching as {known[0]}; it must be unknown")
    if r.id_raw:
        raws = [id_raw or ""] + [
            v for (v,) in w.rows("SELECT value_raw FROM staging.form_values WHERE record_id=?", [rid]) if v
        ]
        if not any(r.id_raw in v for v in raws):
            out.append(f"{where}: raw ID text {r.id_raw!r} not kept (id_number_raw {id_raw!r})")
    if r.flagged is True and not is_flagged:
        out.append(f"{where}: staged without any flag (flags {flags})")
        if r.wrong_if_unflagged:
            w.silent.append(f"{where}: unflagged")
    if r.flagged is False and is_flagged:
        out.append(f"{where}: clean row carries flags {flags} / value flags")
    for v in r.values:
        got = w.rows(
            "SELECT value, value_flag, value_raw FROM staging.form_values WHERE record_id=? AND field_label=?",
            [rid, v.label],
        )
        if not got:
            out.append(f"{where}: no value for {v.label}")
            continue
        value, flag, raw = got[0]
        bad = []
        if v.equals is not None and value != v.equals:
            bad.append(f"value {value!r} != {v.equals!r}")
        if v.prefix is not None and value is not None and not value.startswith(v.prefix):
            bad.append(f"value {value!r} does not start with {v.prefix!r}")
        if v.not_prefix is not None and value is not None and value.startswith(v.not_prefix):
            bad.append(f"value {value!r} mis-read (starts with {v.not_prefix!r})")
        if v.flagged is True and flag is None:
            bad.append("no value_flag")
        if v.flagged is False and flag is not None:
            bad.append(f"unexpected value_flag {flag!r}")
        if v.raw_contains is not None and v.raw_contains not in (raw or ""):
            bad.append(f"value_raw {raw!r} lost {v.raw_contains!r}")
        if bad:
            out.append(f"{where}: {v.label} (raw {raw!r}, flag {flag!r}): " + "; ".join(bad))
            if flag is None and value is not None:
                w.silent.append(f"{where}: {v.label}")
    return out


def check_skip(w: Warehouse, s: SkipExp) -> list[str]:
    out = []
    n = sum(
        w.rows("SELECT count(*) FROM raw.skipped_rows WHERE source_file=? AND raw_text LIKE ?", [s.file, p])[
            0
        ][0]
        for p in _likes(s.text)
    )
    if not n:
        out.append(f"{s.file}: non-data line {s.text!r} not in raw.skipped_rows")
    if _in_quarantine(w, s.file, s.text):
        out.append(f"{s.file}: non-data line {s.text!r} quarantined as data")
    staged = w.rows(
        "SELECT count(*) FROM staging.form_values v JOIN staging.form_records r USING (record_id) "
        "WHERE r.source_file=? AND v.value_raw LIKE ?",
        [s.file, f"%{s.text}%"],
    )[0][0]
    if staged:
        out.append(f"{s.file}: non-data line {s.text!r} staged as data")
    return out


def check_ignored_sheet(w: Warehouse, file: str, sheet: str) -> list[str]:
    out = []
    n_s = w.rows("SELECT count(*) FROM staging.form_records WHERE source_file=? AND sheet=?", [file, sheet])[
        0
    ][0]
    n_q = w.rows("SELECT count(*) FROM quarantine.rows WHERE source_file=? AND sheet=?", [file, sheet])[0][0]
    if n_s or n_q:
        out.append(f"{file}: sheet {sheet!r} read as data ({n_s} staged, {n_q} quarantined)")
    recorded = w.rows("SELECT count(*) FROM raw.skipped_rows WHERE source_file=? AND sheet=?", [file, sheet])[
        0
    ][0]
    landing = w.rows("SELECT * FROM raw.landing_files WHERE source_file=?", [file])
    texts = [
        t for row in landing for v in row for t in (v if isinstance(v, list) else [v]) if isinstance(t, str)
    ]
    if not recorded and not any(sheet in t for t in texts):
        out.append(
            f"{file}: skipped sheet {sheet!r} not recorded (raw.skipped_rows or the file's landing row)"
        )
    return out


def check_case(w: Warehouse, case: Case) -> list[str]:
    out: list[str] = []
    for f in case.files:
        out += check_file(w, f)
    for r in case.rows:
        out += check_row(w, r)
    for s in case.skips:
        out += check_skip(w, s)
    for file, sheet in case.ignored_sheets:
        out += check_ignored_sheet(w, file, sheet)
    for name in case.staged_once:
        n = w.rows("SELECT count(*) FROM staging.form_records WHERE trim(person_name)=?", [name])[0][0]
        if n != 1:
            out.append(f"{name}: staged {n}x in all, want exactly once")
    for fn in case.extra:
        out += fn(w)
    return out
