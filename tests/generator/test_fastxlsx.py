"""The fast workbook path writes the same bytes as xlsxwriter through `XlsxSink`, and the writer pool
writes the same files as the in-process path.

Each case is a small inline workbook with one thing xlsxwriter treats specially (commented); the two
files are compared byte for byte, so any drift in shared-string order, spans, dimension, number text,
format indices or zip entries fails here before it could change the bundled sample.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from synth.generator import GeneratorConfig, generate
from synth.generator.fastxlsx import write_xlsx
from synth.generator.render import Style
from synth.generator.writers import XlsxSink

BASE = Style(
    fmt="xlsx",
    encoding="utf-8",
    newline="\n",
    date_style="cell",
    sex_style="text",
    bool_style="text",
    addr_style="full",
    decimal_2dp=False,
    phone_numeric=True,
    title=True,
    title_gap=False,
    total_row=True,
    footer=2,
    blank_tail=1,
    second_sheet=False,
    sheet_name="Sheet1",
)
HEADER = ["序号", "姓名", "出生日期", "发放月份", "补贴金额"]


def _rows(n: int) -> list[list[object]]:
    rows: list[list[object]] = []
    for i in range(n):
        rows.append(
            [
                i + 1,
                ["张伟", "\u3000李娜", "王 芳 ", "A&B<c>", ""][
                    i % 5
                ],  # U+3000 / trailing space, XML escapes, empty
                date(1950 + i % 40, 1 + i % 12, 1 + i % 28) if i % 3 else None,  # some blank dates
                datetime(2026, 1 + i % 10, 1),  # a 年月 column: the month format
                [75, 300.5, 13812345678, 0.1][i % 4],  # ints, floats, a phone stored as a number
            ]
        )
    return rows


CASES = {
    "plain": (BASE, 5, _rows(3), {4: 375.5}),
    "no_title_second_sheet": (
        replace(BASE, title=False, second_sheet=True, sheet_name="名册"),
        5,
        _rows(20),
        None,
    ),
    "title_gap_one_cell_footer": (
        replace(BASE, title_gap=True, footer=1, date_style="iso"),
        5,
        _rows(40),
        None,
    ),
    "single_column_title": (replace(BASE, total_row=False, footer=2), 1, [["甲"], ["乙"]], None),  # no merge
    "no_dates_used": (BASE, 5, [[1, "张伟", None, None, 75]], None),  # styles.xml without date formats
    "control_characters": (BASE, 5, [[1, "a\x07b", None, None, "_x0041_"]], None),  # escaped as _xHHHH_
    "month_format_first": (BASE, 5, [[1, "x", None, datetime(2026, 1, 1), 1], *_rows(4)], None),  # xf order
    "spans_across_blocks": (
        replace(BASE, title=False),
        5,
        [r[:2] if i % 7 else r for i, r in enumerate(_rows(50))],
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_workbook_is_byte_identical_to_xlsxwriter(tmp_path: Path, case: str) -> None:
    style, n_cols, rows, sums = CASES[case]
    header = HEADER[:n_cols]
    month_cols = frozenset({3})
    signer, filed = ("鲍蓉洁", "苗坤"), date(2026, 9, 10)
    ref = XlsxSink(tmp_path / "ref.xlsx", style, header, "某居委会名册（2026年9月）", n_cols)
    for cells in rows:
        ref.write(cells, month_cols)
    ref.close(sums=sums, signer=signer, filed=filed)
    fast = tmp_path / "fast.xlsx"
    write_xlsx(
        fast, style, header, "某居委会名册（2026年9月）", n_cols, rows, month_cols, sums, signer, filed
    )
    assert fast.read_bytes() == (tmp_path / "ref.xlsx").read_bytes()


def test_writer_processes_write_the_same_files_as_in_process(tmp_path: Path) -> None:
    cfg = GeneratorConfig.preset("tiny")
    a = generate(tmp_path / "a", cfg, writers=0)
    b = generate(tmp_path / "b", cfg, writers=2)
    assert (a.files, a.bytes, a.data_rows, a.files_by_kind) == (
        b.files,
        b.bytes,
        b.data_rows,
        b.files_by_kind,
    )
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) > 20
    for rel in files_a:
        pa, pb = tmp_path / "a" / rel, tmp_path / "b" / rel
        assert pa.read_bytes() == pb.read_bytes(), rel
        assert pa.stat().st_mtime == pb.stat().st_mtime, rel


def test_a_writer_process_error_reaches_the_run(tmp_path: Path) -> None:
    """A file a writer cannot create (its folder is missing) fails the run with that path, not silently."""
    from synth.generator.filejobs import FileJob, FileWriter

    done: list[tuple[int, str]] = []
    writer = FileWriter(1, lambda size, kind: done.append((size, kind)))
    writer.submit(FileJob(tmp_path / "ok.xlsx", BASE, HEADER, "t", 5, rows=_rows(2)))
    writer.submit(
        FileJob(tmp_path / "missing" / "x.csv", replace(BASE, fmt="csv"), HEADER, "", 5, rows=_rows(2))
    )
    with pytest.raises(FileNotFoundError, match="missing"):
        writer.close()
    writer.abort()
    assert (tmp_path / "ok.xlsx").exists()
