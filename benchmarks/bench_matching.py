"""Benchmark resident matching: jianfu's engine against Splink on the same generated records.

    .venv/bin/python benchmarks/bench_matching.py --sizes 100000 1000000 \
        --splink-python /tmp/splink-venv/bin/python --markdown /tmp/bench.md

For each size: generate person rows with ground truth (assets/persons/synthetic.py), write them as
Parquet, then run `jianfu match` and Splink (benchmarks/splink/run_splink.py, in its own venv) each in a
child process under /usr/bin/time -v (wall time, peak RSS of the whole process), and score both outputs
with the same evaluator (assets/matching/evaluate.py).

`--stability N` also resolves N records in one night, in three nights (by period: Jan-Mar, Apr-Jul,
Aug-Oct; nights 2 and 3 incremental), in three random nights, and once more shuffled, and reports how
many records keep the one-night person_id.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets.matching import MatchEngine, evaluate_clusters, load_spec  # noqa: E402
from assets.persons.synthetic import generate_rows  # noqa: E402

SPEC = ROOT / "schemas" / "matching" / "residents.yaml"
RUN_JIANFU = """
import argparse, sys
sys.path.insert(0, {root!r})
from assets.matching.cli import configure_match, run_match
p = argparse.ArgumentParser(); configure_match(p)
sys.exit(run_match(p.parse_args(sys.argv[1:])))
"""


def timed(cmd: list[str], log: Path) -> dict[str, float]:
    """Run `cmd` under /usr/bin/time -v; wall seconds and peak RSS (MB) of the child."""
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=fh, stderr=subprocess.STDOUT, check=False)
    wall = time.perf_counter() - t0
    text = log.read_text()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}); see {log}:\n{text[-3000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "peak_mb": round(rss)}


def timed_best(cmd: list[str], log: Path, repeat: int) -> dict[str, float]:
    """The fastest of `repeat` runs (the machine is shared: the minimum is the least disturbed run);
    peak memory is the largest seen."""
    runs = [timed(cmd, log) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "peak_mb": max(r["peak_mb"] for r in runs), "runs_wall_s": [r["wall_s"] for r in runs]}


def score(clusters: Path, truth: pl.DataFrame) -> dict[str, float | int]:
    pred = pl.read_parquet(clusters).select(
        pl.col("record_id").cast(pl.String), pl.col("cluster_id").cast(pl.String)
    )
    return evaluate_clusters(pred, truth, truth_col="person_id")


def sample_rows(warehouse_path: Path, truth_path: Path) -> pl.DataFrame:
    """Person rows of the bundled sample (landing zone -> ingestion -> staging) with its ground truth."""
    import shutil
    import tempfile

    from assets.common import warehouse
    from assets.persons.resolve import read_truth
    from assets.persons.rows import build_person_rows

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "wh.duckdb"
        shutil.copy(warehouse_path, copy)  # never touch the live file
        with warehouse.connect(copy, read_only=True) as con:
            rows = build_person_rows(con)
    truth = read_truth(truth_path).select("source_file", "row_number", "person_id", "household_id", "noise")
    return rows.with_columns(pl.col("row_number").cast(pl.Int64)).join(
        truth, on=["source_file", "row_number"]
    )


def run_size(n: int | str, args: argparse.Namespace, work: Path) -> list[dict[str, object]]:
    t0 = time.perf_counter()
    rows = (
        sample_rows(Path(args.warehouse), Path(args.truth))
        if n == "sample"
        else generate_rows(n, seed=args.seed)
    )
    n = rows.height if n == "sample" else n
    records = work / f"records_{n}.parquet"
    rows.drop("person_id", "household_id", "noise").write_parquet(records)
    truth = rows.select("record_id", "person_id")
    print(f"[{n:,}] {rows.height:,} rows of {rows['person_id'].n_unique():,} persons "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip
    del rows
    out: list[dict[str, object]] = []
    jf_out = work / f"jianfu_{n}.parquet"
    cmd = [sys.executable, "-c", RUN_JIANFU.format(root=str(ROOT)), "--spec", str(SPEC), "--input", str(records),
           "--output", str(jf_out)]  # fmt: skip
    res = timed_best(cmd, work / f"jianfu_{n}.log", args.repeat)
    out.append({"tool": "jianfu", "records": truth.height, **res, **score(jf_out, truth)})
    print(f"[{n:,}] jianfu {res}", flush=True)
    if args.splink_python:
        sp_out = work / f"splink_{n}.parquet"
        cmd = [
            args.splink_python,
            str(ROOT / "benchmarks" / "splink" / "run_splink.py"),
            str(records),
            str(sp_out),
        ]
        res = timed_best(cmd, work / f"splink_{n}.log", args.repeat)
        out.append({"tool": "splink 5.0.0", "records": truth.height, **res, **score(sp_out, truth)})
        print(f"[{n:,}] splink {res}", flush=True)
    return out


def stability(rows: pl.DataFrame, seed: int) -> dict[str, object]:
    """Person ids over three nights vs one night (nights 2 and 3 incremental, with night 1's model), and
    for shuffled input."""
    truth = rows.select("record_id", "person_id")
    data = rows.drop("person_id", "household_id", "noise")
    spec = load_spec(SPEC)

    def once(frame: pl.DataFrame, previous=None, model=None):
        eng = MatchEngine(spec)
        try:
            return eng.resolve(frame, previous=previous, model=model)
        finally:
            eng.close()

    one = once(data)
    base = one.assignments.select("record_id", pl.col("entity_id").alias("one_night"))
    report: dict[str, object] = {"records": data.height, "one_night": _f1(one.assignments, truth)}
    anchored = one.entities.filter(pl.col("anchor").is_not_null())["entity_id"]
    base = base.with_columns(pl.col("one_night").is_in(anchored.implode()).alias("anchored"))
    report["records_of_persons_with_valid_id"] = round(float(base["anchored"].mean()), 5)
    # Nights by period: the first third of the periods, the second, the rest.
    periods = data.select(pl.col("period_start").rank("dense").alias("r"))["r"]
    cut = periods.max() / 3
    rng = np.random.default_rng(seed)
    splits = {
        "three_nights_by_period": [periods <= cut, (periods > cut) & (periods <= 2 * cut), periods > 2 * cut],
        "three_nights_random": None,
    }
    draw = pl.Series(rng.integers(0, 3, data.height))
    splits["three_nights_random"] = [draw == 0, draw == 1, draw == 2]
    for name, masks in splits.items():
        seen = pl.Series([False] * data.height)
        previous = model = None
        merges = splits_ = promotes = 0
        for mask in masks:
            seen = seen | mask
            res = once(data.filter(seen), previous, model)
            if model is None:
                model = res.model
            previous = res.assignments.select("record_id", "entity_id")
            merges += res.history.filter(pl.col("event") == "merge").height
            splits_ += res.history.filter(pl.col("event") == "split").height
            promotes += res.history.filter(pl.col("event") == "promote").height
        cmp = previous.join(base, on="record_id").with_columns(
            (pl.col("entity_id") == pl.col("one_night")).alias("same")
        )
        same = cmp["same"].mean()
        by_anchor = cmp.group_by("anchored").agg(pl.col("same").mean()).sort("anchored")
        persons_same = (
            previous.join(base, on="record_id")
            .group_by("one_night")
            .agg((pl.col("entity_id") == pl.col("one_night")).all().alias("ok"))["ok"]
            .mean()
        )
        report[name] = {
            "records_with_one_night_id": round(float(same), 5),
            "same_id_share_by_valid_id": {str(k): round(float(v), 5) for k, v in by_anchor.iter_rows()},
            "promote_events": promotes,
            "persons_with_one_night_id": round(float(persons_same), 5),
            # the same persons at all? pairwise F1 of the three-night clusters against the one-night ones
            "partition_f1_vs_one_night": round(
                float(
                    evaluate_clusters(
                        previous.rename({"entity_id": "cluster_id"}), base.rename({"one_night": "true_id"})
                    )["pairwise_f1"]
                ),
                6,
            ),
            "merge_events": merges,
            "split_events": splits_,
            **_f1(previous, truth),
        }
    shuffled = once(data.sample(fraction=1.0, shuffle=True, seed=seed + 1))
    same = shuffled.assignments.join(base, on="record_id").select(
        (pl.col("entity_id") == pl.col("one_night")).mean()
    )
    report["shuffled_one_night_same_ids"] = float(same.item())
    return report


def _f1(assignments: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    m = evaluate_clusters(assignments.rename({"entity_id": "cluster_id"}), truth, truth_col="person_id")
    return {k: round(float(m[k]), 5) for k in ("pairwise_f1", "pairwise_precision", "pairwise_recall")}


def markdown(rows: list[dict[str, object]]) -> str:
    head = "| records | tool | F1 | precision | recall | B³ F1 | wall time (s) | CPU time (s) | peak memory (MB) |"
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['records']:,} | {r['tool']} | {r['pairwise_f1']:.4f} | {r['pairwise_precision']:.4f} | "
            f"{r['pairwise_recall']:.4f} | {r['bcubed_f1']:.4f} | {r['wall_s']} | {r['cpu_s']} | {r['peak_mb']:,} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        nargs="*",
        default=["100000", "1000000"],
        help="record counts to generate, or `sample` for the bundled sample's staged rows",
    )
    parser.add_argument(
        "--warehouse",
        default="warehouse/jianfu.duckdb",
        help="for `sample`: a warehouse with "
        "staging.form_records/form_values of the sample (copied before reading)",
    )
    parser.add_argument("--truth", default="data/sample/ground_truth.parquet", help="for `sample`")
    parser.add_argument("--splink-python", help="python of the Splink venv (omit to skip Splink)")
    parser.add_argument("--workdir", default="/tmp/jianfu-bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per tool and size; the fastest is reported"
    )
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--json", help="also write all figures here")
    parser.add_argument(
        "--stability", help="records (or `sample`) for the one-night vs three-nights comparison"
    )
    args = parser.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, object]] = []
    for size in args.sizes:
        results.extend(run_size(size if size == "sample" else int(size), args, work))
    table = markdown(results) if results else ""
    print(f"\nmachine: {os.cpu_count()} cores; command: {' '.join(sys.argv)}\n")
    print(table)
    payload: dict[str, object] = {"results": results}
    if args.stability:
        rows = (
            sample_rows(Path(args.warehouse), Path(args.truth))
            if args.stability == "sample"
            else generate_rows(int(args.stability), seed=args.seed)
        )
        payload["stability"] = stability(rows, args.seed)
        print(json.dumps(payload["stability"], indent=2))
    if args.markdown:
        Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
