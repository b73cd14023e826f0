"""Delimiter detection on office-style CSV: our sniffer vs CleverCSV vs the standard library's csv.Sniffer.

    .venv/bin/python benchmarks/bench_csv_dialect.py

Builds a set of small delimited files shaped like district exports (title rows above the header, 合计 and
填表人 rows below, quoted cells holding the delimiter or a line break, one row with an unquoted stray
delimiter, Chinese text with full-width punctuation, very short files) for each of , ; TAB |, then
prints, per detector, the share of files whose delimiter it finds and the time it takes. Figures, not
assertions. CleverCSV is a dev dependency; the pipeline uses assets/ingest/textfile.sniff_dialect.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable

from assets.ingest.textfile import sniff_dialect

DELIMITERS = [",", ";", "\t", "|"]
NAMES = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆", "赵敏", "黄磊"]
STREETS = ["南京东路", "云南中路", "淮海中路", "陆家嘴环路", "漕溪北路"]


def _id(rng: random.Random) -> str:
    return f"310101{rng.randint(1930, 2010)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 9999):04d}"


def make_case(rng: random.Random, delimiter: str, shape: str) -> str:
    header = ["序号", "姓名", "身份证号", "联系电话", "居住地址", "补贴金额"]
    rows = [header]
    n = 2 if shape == "short" else rng.randint(5, 40)
    for i in range(n):
        address = f"{rng.choice(STREETS)}{rng.randint(1, 999)}号"
        if shape == "quoted":
            address = f"黄浦区{delimiter}{address}"  # the delimiter inside a quoted cell
        if shape == "newline":
            address = f"黄浦区\n{address}"
        if shape == "fullwidth":
            address = f"黄浦区，{address}（{rng.randint(1, 9)}楼）"
        amount = str(rng.choice([100, 200, 300]))
        if shape == "thousands":
            amount = f"{rng.randint(1, 9)},{rng.randint(100, 999)}"  # 1,200: quoted only in a comma file
        rows.append([str(i + 1), rng.choice(NAMES), _id(rng), f"13{rng.randint(100000000, 999999999)}", address,
                     amount])  # fmt: skip

    def cell(c: str) -> str:
        return f'"{c}"' if delimiter in c or "\n" in c or '"' in c else c

    lines = [delimiter.join(cell(c) for c in row) for row in rows]
    if shape == "stray":
        other = "," if delimiter != "," else ";"
        lines[2] = lines[2] + f"{delimiter}多出的单元格"  # one row with one cell too many
        lines[3] = lines[3].replace("号", f"号{other}3楼")  # another delimiter-like char in a cell
    if shape in ("title", "stray", "newline"):
        lines = (
            ["XX居委会高龄老人补贴名册（2026年10月）", ""] + lines + ["合计", "填表人：王芳  审核人：李强"]
        )
    return "\r\n".join(lines) + "\r\n"


def ours(text: str) -> str | None:
    return sniff_dialect(text).delimiter


def stdlib(text: str) -> str | None:
    try:
        return csv.Sniffer().sniff(text[:20000], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return None


def clever(text: str) -> str | None:
    import clevercsv

    try:
        dialect = clevercsv.Detector().detect(text[:20000], delimiters=DELIMITERS)
    except Exception:
        return None
    return dialect.delimiter if dialect else None


def main() -> None:
    rng = random.Random(20261129)
    shapes = ["plain", "title", "quoted", "newline", "stray", "short", "fullwidth", "thousands"]
    cases = [(d, s, make_case(rng, d, s)) for _ in range(5) for d in DELIMITERS for s in shapes]
    detectors: dict[str, Callable[[str], str | None]] = {"ours": ours, "csv.Sniffer": stdlib}
    try:
        import clevercsv  # noqa: F401

        detectors["CleverCSV"] = clever
    except ImportError:
        print("CleverCSV not installed (dev dependency): skipped")
    print(f"{len(cases)} files: {len(DELIMITERS)} delimiters × {len(shapes)} shapes × 5")
    for name, detect in detectors.items():
        start = time.perf_counter()
        found = [(d, s, detect(text)) for d, s, text in cases]
        elapsed = time.perf_counter() - start
        right = sum(1 for d, _, f in found if f == d)
        misses = sorted({(s, repr(d)) for d, s, f in found if f != d})
        print(f"{name:12s} {right}/{len(cases)} right ({right / len(cases):.0%}), "
              f"{elapsed * 1000 / len(cases):.2f} ms/file; wrong on: {misses or '-'}")  # fmt: skip


if __name__ == "__main__":
    main()
