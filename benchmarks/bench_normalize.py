"""Micro benchmark of assets.ingest.normalize: values per second for each normalizer.

Why: ingestion runs every normalizer over the long table of delivered values (~10M values for a full load); this
shows which one dominates. Run: `.venv/bin/python benchmarks/bench_normalize.py [--n 5000000] [--eager]`.
Values are random-ish mixes of clean, messy and broken spellings; the figures are wall-clock, single run.

`--residents 1000000` instead measures the two normalizers the matching engine shares with ingestion, the way
`record_features` calls them: on the distinct ID numbers and the distinct (household + residence)
addresses of the generator's residents (synth.persons.generate_rows, as bench_matching.py), in CPU
seconds (process_time: all polars threads; 2 cores are shared, so CPU, not wall, is the figure). With
`--compare-with /work/main`, the same measurement runs alternately in a child process importing that
checkout's code (A) and this one's (B), and the outputs of both are checked equal.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from assets.ingest import normalize as nz


def _pick(choice: pl.Expr, variants: list[pl.Expr]) -> pl.Expr:
    """Per row, one of several spellings, chosen by the random integer column `choice`."""
    expr = variants[-1]
    for i, variant in reversed(list(enumerate(variants[:-1]))):
        expr = pl.when(choice % len(variants) == i).then(variant).otherwise(expr)
    return expr


def _zfill(name: str, width: int) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.zfill(width)


def build_inputs(n: int, seed: int = 7) -> dict[str, pl.Series]:
    """One messy Utf8 column per field type, built with polars (numpy fixed-width strings would take GBs)."""
    rng = np.random.default_rng(seed)
    ints = pl.DataFrame(
        {
            "choice": rng.integers(0, 60, n),
            "year": rng.integers(1930, 2026, n),
            "month": rng.integers(1, 13, n),
            "day": rng.integers(1, 32, n),  # includes impossible days on purpose
            "seq": rng.integers(0, 1000, n),
            "area": rng.choice(np.array([310101, 310104, 310115, 310230, 110105]), n),
            "check": rng.integers(0, 11, n),
            "nine": rng.integers(0, 10**9, n),
            "amount": rng.integers(0, 10**6, n),
        }
    )
    c = pl.col("choice")
    year, month, day = (pl.col(x).cast(pl.String) for x in ("year", "month", "day"))
    m2, d2, seq, area = _zfill("month", 2), _zfill("day", 2), _zfill("seq", 3), pl.col("area").cast(pl.String)
    iso = pl.concat_str(year, m2, d2, separator="-")
    yy = (pl.col("year") % 100).cast(pl.String).str.zfill(2)
    first17 = pl.concat_str(area, year, m2, d2, seq)
    check = pl.col("check").cast(pl.String).replace("10", "X")
    mobile = pl.concat_str(pl.lit("13"), _zfill("nine", 9))
    amount = pl.col("amount").cast(pl.String)
    columns = {
        "text": _pick(
            c, [pl.concat_str(pl.lit("  张三\u3000"), seq), pl.concat_str(pl.lit("ＡＢＣ "), m2), pl.lit("")]
        ),
        "name": _pick(
            c, [pl.lit("张 伟"), pl.lit("阿卜杜拉・买买提"), pl.lit(" 李  娜 "), pl.lit("John  Smith")]
        ),
        "id_number": _pick(
            c,
            [
                pl.concat_str(first17, check),  # right or wrong check character, sometimes impossible dates
                pl.concat_str(first17, pl.lit("x")),  # lowercase x
                pl.concat_str(area, yy, m2, d2, seq),  # 15-digit legacy
                pl.concat_str(area, seq),  # malformed
                pl.lit("不详"),
            ],
        ),
        "date": _pick(
            c,
            [
                iso,
                pl.concat_str(year, pl.lit("年"), month, pl.lit("月"), day, pl.lit("日")),
                pl.concat_str(year, m2, d2),
                pl.concat_str(iso, pl.lit(" 00:00:00")),
                (pl.col("amount") % 36000 + 10000).cast(pl.String),  # Excel serial
                pl.lit("待定"),
            ],
        ),
        "year_month": _pick(
            c,
            [
                pl.concat_str(year, m2, separator="-"),
                pl.concat_str(year, pl.lit("年"), month, pl.lit("月")),
                pl.concat_str(year, m2),
                iso,
            ],
        ),
        "phone": _pick(
            c,
            [
                mobile,
                pl.concat_str(pl.lit("+86 "), mobile),
                pl.concat_str(pl.lit("021-6"), _zfill("amount", 7)),
                pl.lit("无"),
            ],
        ),
        "sex": _pick(c, [pl.lit("男"), pl.lit("女性"), pl.lit("F"), pl.lit("未知")]),
        "integer": _pick(
            c,
            [
                amount,
                pl.concat_str((pl.col("amount") % 100).cast(pl.String), pl.lit("岁")),
                pl.lit("1,200"),
                pl.lit("不详"),
            ],
        ),
        "decimal": _pick(c, [pl.concat_str(amount, pl.lit("."), seq), pl.lit("1,234.50元"), pl.lit("—")]),
        "bool": _pick(c, [pl.lit("是"), pl.lit("否"), pl.lit("√"), pl.lit("Y"), pl.lit("?")]),
    }
    frame = ints.select(**columns)
    return {name: frame[name] for name in columns}


NORMALIZERS: list[tuple[str, str, Callable[[pl.Expr], pl.Expr]]] = [
    ("normalize_text", "text", nz.normalize_text),
    ("normalize_name", "name", nz.normalize_name),
    ("normalize_id_number", "id_number", nz.normalize_id_number),
    ("parse_date", "date", nz.parse_date),
    ("parse_year_month", "year_month", nz.parse_year_month),
    ("normalize_phone", "phone", nz.normalize_phone),
    ("normalize_sex", "sex", nz.normalize_sex),
    ("parse_integer", "integer", nz.parse_integer),
    ("parse_decimal", "decimal", nz.parse_decimal),
    ("parse_bool", "bool", nz.parse_bool),
] + [
    (f"normalize_by_type[{t}]", t, lambda e, t=t: nz.normalize_by_type(e, t))
    for t in ("id_number", "date", "phone", "decimal")
]


ROOT = Path(__file__).resolve().parents[1]


def residents_values(n: int, seed: int, cache: Path) -> Path:
    """Distinct raw ID numbers and addresses of n generated residents, written once to `cache`."""
    if not cache.exists():
        sys.path.insert(0, str(ROOT))
        from synth.persons import generate_rows

        rows = generate_rows(n, seed=seed)
        ids = rows["id_number"].cast(pl.String).unique().sort()
        addresses = pl.concat([rows["household_address"], rows["residence_address"]]).cast(pl.String)
        pl.DataFrame({"id_number": ids}).write_parquet(cache.with_suffix(".ids.parquet"))
        pl.DataFrame({"address": addresses.unique().sort()}).write_parquet(cache)
    return cache


def _measure_child(values: Path, repeat: int, out_prefix: str) -> None:
    """Runs in the child (imports whatever `assets` is first on sys.path): CPU seconds per normalizer."""
    from assets.common.civil_text import address
    from assets.matching.transforms import id_number_frame

    ids = pl.read_parquet(values.with_suffix(".ids.parquet")).rename({"id_number": "__src"})
    addresses = pl.read_parquet(values)["address"]
    for _ in range(repeat):
        t0 = time.process_time()
        id_out = id_number_frame(ids, "__src", "id")
        t1 = time.process_time()
        addr_out = address(addresses)
        t2 = time.process_time()
        print(f"id_number {t1 - t0:.3f} {ids.height} address {t2 - t1:.3f} {addresses.len()}", flush=True)
    id_out.write_parquet(out_prefix + ".ids.parquet")
    addr_out.to_frame().write_parquet(out_prefix + ".addr.parquet")


def residents_main(args: argparse.Namespace) -> None:
    """A/B (or B alone) of the shared ID-number and address normalizers on the residents' distinct values."""
    values = residents_values(
        args.residents, args.seed, Path(args.cache or f"/tmp/bench_normalize_{args.residents}.parquet")
    )
    roots = {"B (this checkout)": ROOT}
    if args.compare_with:
        roots = {"A (" + args.compare_with + ")": Path(args.compare_with), **roots}
    seconds: dict[str, dict[str, list[float]]] = {k: {"id_number": [], "address": []} for k in roots}
    outs = {k: tempfile.mktemp(prefix="bench_normalize_") for k in roots}
    for _ in range(args.rounds):  # alternate A, B, A, B: the machine's load moves under both alike
        for label, root in roots.items():
            env = {**os.environ, "PYTHONPATH": str(root)}
            code = (
                f"import sys; sys.path.insert(0, {str(root)!r}); sys.path.insert(1, {str(ROOT / 'benchmarks')!r}); "
                f"from bench_normalize import _measure_child; from pathlib import Path; "
                f"_measure_child(Path({str(values)!r}), {args.repeat}, {outs[label]!r})"
            )
            lines = subprocess.run(
                [sys.executable, "-c", code], env=env, cwd=root, check=True, capture_output=True, text=True
            ).stdout.split("\n")
            for line in filter(None, lines):
                f = line.split()
                seconds[label]["id_number"].append(float(f[1]))
                seconds[label]["address"].append(float(f[4]))
                sizes = (int(f[2]), int(f[5]))
    load = os.getloadavg()[0]
    print(f"{args.residents:,} residents: {sizes[0]:,} distinct ID numbers, {sizes[1]:,} distinct addresses; "
          f"{args.rounds} rounds x {args.repeat} runs; load average {load:.1f} (2 cores)")  # fmt: skip
    print(f"{'checkout':<40}{'id_number CPU-s':>18}{'address CPU-s':>16}   (min / median)")
    for label, per in seconds.items():
        cells = [f"{min(v):.3f} / {sorted(v)[len(v) // 2]:.3f}" for v in per.values()]
        print(f"{label:<40}{cells[0]:>18}{cells[1]:>16}")
    if args.compare_with:
        a, b = outs.values()
        same = all(
            pl.read_parquet(a + suffix).equals(pl.read_parquet(b + suffix))
            for suffix in (".ids.parquet", ".addr.parquet")
        )
        print(f"outputs identical: {same}")
        if not same:
            raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5_000_000)
    parser.add_argument(
        "--residents", type=int, help="measure id_number and address on this many residents instead"
    )
    parser.add_argument("--compare-with", help="with --residents: A/B against the checkout at this path")
    parser.add_argument("--rounds", type=int, default=3, help="with --residents: A/B rounds")
    parser.add_argument("--repeat", type=int, default=3, help="with --residents: runs per child process")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cache", help="with --residents: parquet of the distinct values (made once)")
    parser.add_argument(
        "--only-long", action="store_true", help="only the long-table normalize_frame_by_type run"
    )
    parser.add_argument("--eager", action="store_true", help="DataFrame.select instead of LazyFrame.collect")
    args = parser.parse_args()
    if args.residents:
        residents_main(args)
        return

    t0 = time.perf_counter()
    inputs = build_inputs(args.n)
    print(
        f"built {len(inputs)} columns x {args.n:,} values in {time.perf_counter() - t0:.1f}s "
        f"(polars {pl.__version__}, threads {pl.thread_pool_size()}, {'eager' if args.eager else 'lazy'})"
    )
    print(f"{'normalizer':<30}{'seconds':>9}{'values/s':>14}  flagged share")
    for label, column, func in [] if args.only_long else NORMALIZERS:
        frame = inputs[column].to_frame("v")
        t0 = time.perf_counter()
        if args.eager:
            out = frame.select(func(pl.col("v")).alias("out"))
        else:
            out = frame.lazy().select(func(pl.col("v")).alias("out")).collect()
        seconds = time.perf_counter() - t0
        dtype = out.schema["out"]
        if label == "normalize_id_number":
            share = out.select(~pl.col("out").struct.field("status").is_in(["valid", "converted_15"])).mean()
            flagged = f"{share.item():.1%} (status not valid/converted_15)"
        elif isinstance(dtype, pl.Struct):
            share = out.select(pl.col("out").struct.field("flag").is_not_null().mean())
            flagged = f"{share.item():.1%}"
        else:
            flagged = "-"
        print(f"{label:<30}{seconds:>9.2f}{args.n / seconds:>14,.0f}  {flagged}")

    # The long table ingestion builds: n rows, the nine field types interleaved, one pass per type and a re-sort.
    types = list(nz.FIELD_TYPES)
    long = pl.concat(
        [
            inputs[t].slice(0, args.n // len(types)).to_frame("value_raw").with_columns(field_type=pl.lit(t))
            for t in types
        ]
    ).sample(fraction=1.0, shuffle=True, seed=3)
    t0 = time.perf_counter()
    out = nz.normalize_frame_by_type(long).collect()
    seconds = time.perf_counter() - t0
    share = out["value_flag"].is_not_null().mean()
    print(f"{'normalize_frame_by_type':<30}{seconds:>9.2f}{len(long) / seconds:>14,.0f}  {share:.1%}")


if __name__ == "__main__":
    main()
