"""The spliced workbook is byte for byte what xlsxwriter writes; the pool writes and reads like one process."""

from __future__ import annotations

import datetime as dt
import os
import random
from pathlib import Path

import polars as pl
import pytest

from assets.reflow.pool import FilePool
from assets.reflow.prefill import build_cells
from assets.reflow.targets import age_on
from assets.reflow.workbook import FormSheet, read_returned, write_workbook, xlsxwriter_bytes
from assets.reflow.xlsxfast import workbook_bytes

LABELS = ["老人姓名", "身份证号", "性别", "联系电话", "居住地址", "高龄补贴金额"]
TYPES = ["text", "id_number", "sex", "phone", "text", "decimal"]
# values a workbook meets: empty and blank cells, XML specials, edge spaces, repeats across rows
VALUES = [None, "", "张伟", "a&b<c>d", " 前导空格", "尾随空格 ", "300", "男", "310101194003040011"]


def sheet(n: int, seed: int, notes: bool = False, prefill_id: str | None = "PF-310101002001-MZ01-2026-11-0a1b2c3d",
          values: list | None = None) -> FormSheet:  # fmt: skip
    rnd = random.Random(seed)
    rows = [[rnd.choice(values or VALUES) for _ in LABELS] for _ in range(n)]
    return FormSheet(
        prefill_id=prefill_id, committee_code="310101002001", committee_name="云南中路居委会", form_code="MZ01",
        form_name="高龄老人补贴发放名册", department="民政局", period="2026-11", coverage_date="2026-11-30",
        labels=LABELS, field_types=TYPES, rows=rows, prefilled=[[rnd.random() < 0.6 for _ in r] for r in rows],
        notes=[rnd.choice([None, "", "死亡", "迁出"]) for _ in rows] if notes else [],
        seqs=[str(i + 1) if i % 7 else None for i in range(n)], person_ids=[f"P{i}" if i % 5 else None for i in range(n)],
    )  # fmt: skip


def never(*_: object) -> bytes:
    raise AssertionError("the fast path fell back to xlsxwriter")


# row counts around the 16-row blocks of xlsxwriter's `spans` (the footer alone in a block: 13, 29)
@pytest.mark.parametrize("n", [0, 1, 12, 13, 14, 28, 29, 45, 120])
@pytest.mark.parametrize("with_id", [True, False])
def test_spliced_workbook_is_xlsxwriters_bytes(n: int, with_id: bool) -> None:
    for notes in (False, True):
        s = sheet(n, seed=n, notes=notes)
        assert workbook_bytes(s, with_id, never) == xlsxwriter_bytes(s, with_id)


def test_nothing_prefilled_and_no_prefill_id_use_their_own_skeleton() -> None:
    s = sheet(20, seed=3)
    s.prefilled = [[False] * len(LABELS) for _ in s.rows]  # planted: the shaded format never used
    assert workbook_bytes(s, True, never) == xlsxwriter_bytes(s, True)
    s = sheet(5, seed=4, prefill_id=None)  # planted: no id → no hidden sheet even when asked
    assert workbook_bytes(s, True, never) == xlsxwriter_bytes(s, True)


@pytest.mark.parametrize(
    "odd",
    [
        "tab\tand\x01control",  # xlsxwriter escapes control characters as _xHHHH_
        "_x0041_",  # … and escapes text that looks like such an escape
        "<r>rich</r>",  # … and writes this as rich text
        12345,  # not a string: written with str()
    ],
)
def test_what_the_fast_path_does_not_know_goes_to_xlsxwriter(odd: object) -> None:
    s = sheet(4, seed=1, values=[odd])
    used: list[bool] = []

    def fallback(sheet_: FormSheet, with_id: bool) -> bytes:
        used.append(True)
        return xlsxwriter_bytes(sheet_, with_id)

    assert workbook_bytes(s, True, fallback) == xlsxwriter_bytes(s, True) and used
    ragged = sheet(3, seed=2)
    ragged.rows[1] = ragged.rows[1] + ["一列多余"]  # planted: a row longer than the labels
    ragged.prefilled[1] = ragged.prefilled[1] + [False]
    used.clear()
    assert workbook_bytes(ragged, True, fallback) == xlsxwriter_bytes(ragged, True) and used


def test_pool_writes_and_reads_like_one_process(tmp_path: Path) -> None:
    sheets = [sheet(i % 40, seed=i, notes=True) for i in range(12)]
    items = [(tmp_path / "pool" / f"{i}.xlsx", s, True) for i, s in enumerate(sheets)]
    with FilePool(workers=2, min_batch=1) as pool:  # planted: a pool for a dozen files
        pool.write(items)
        assert pool.wait() == 12
        read = pool.read([p for p, _, _ in items] + [tmp_path / "missing.xlsx"])
    for (path, s, _), back in zip(items, read, strict=False):
        write_workbook(tmp_path / "one" / path.name, s)
        assert path.read_bytes() == (tmp_path / "one" / path.name).read_bytes()
        assert back == read_returned(path.read_bytes())
    assert isinstance(read[-1], str) and "FileNotFoundError" in read[-1]  # a broken file is reported


def test_vectorized_age_is_age_on() -> None:
    births = [dt.date(1946, 11, 30), dt.date(1946, 12, 1), dt.date(1944, 2, 29), dt.date(2000, 1, 1), None]
    cov = dt.date(2026, 11, 30)
    roster = pl.DataFrame({"committee_code": ["c"] * 5, "form_code": ["F"] * 5, "period": ["2026-11"] * 5,
                           "coverage_date": [cov] * 5, "person_id": [f"p{i}" for i in range(5)], "seq": list(range(1, 6))})  # fmt: skip
    fields = pl.DataFrame({"form_code": ["F"], "field_order": [1], "field_label": ["年龄"], "field_type": ["integer"],
                           "element_code": ["age"]})  # fmt: skip
    persons = pl.DataFrame({"person_id": [f"p{i}" for i in range(5)], "birth_date": births},
                           schema_overrides={"birth_date": pl.Date}).with_columns(
        *[pl.lit(None, pl.String).alias(c) for c in ("person_name", "id_number", "sex", "phone", "household_address",
                                                      "residence_address")])  # fmt: skip
    allowed = pl.DataFrame({"form_code": ["F"], "element_code": ["age"], "allowed": [True], "why": ["rule"],
                            "sharing": ["无条件"]})  # fmt: skip
    delivered = pl.DataFrame(schema={"person_id": pl.String, "element_code": pl.String, "d_value": pl.String,
                                     "d_source": pl.String})  # fmt: skip
    cells = build_cells(roster, fields, persons, delivered, allowed).sort("person_id")
    assert cells["value"].to_list() == [str(age_on(b, cov)) if b else None for b in births]


def test_rewriting_the_same_bytes_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    write_workbook(path, sheet(10, seed=5))
    stamp = path.stat().st_mtime_ns - 10**9  # planted: an older mtime that a rewrite would change
    os.utime(path, ns=(stamp, stamp))
    write_workbook(path, sheet(10, seed=5))  # e.g. after a code change: a new digest, the same bytes
    assert path.stat().st_mtime_ns == stamp
    write_workbook(path, sheet(10, seed=6))  # other content: written
    assert path.stat().st_mtime_ns != stamp
