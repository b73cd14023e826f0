"""Nightly runs end to end: full rebuild, a night with nothing new, a night where one district re-delivers.

    .venv/bin/python benchmarks/bench_nightly.py [--preset bench] [--districts N] [--committees-per-district N]
        [--residents-per-committee N] [--out DIR] [--district CODE] [--month 2026-10]

Generates the landing zone (unless it exists under --out), then runs `jianfu run` five times, each as a
child process under `/usr/bin/time -v`, on a fresh warehouse and Dagster instance:
1. full rebuild (empty warehouse);
2. the night after: the landing zone is unchanged, but the first night's prefilled forms were returned
   (simulated on a generated landing zone) and their corrections are new evidence for the person layer;
3. a night where nothing changed at all;
4. a night where one district re-delivers one month of its forms: every CSV of that district and month is
   delivered again with new bytes (one trailing line break added, as a re-export does), so its content hash
   changes and it must be read again; .xlsx files of that month are left as they were;
5. the night after it, with nothing new: the returns loop settles, so nothing runs.
For each it prints per-stage wall time and the peak RSS reached by then (from the runner's progress lines),
the child's wall time, CPU and peak RSS, the load average, rows and files in the warehouse, files read by
that run, products and prefilled workbooks, and whether products and workbooks of untouched jurisdictions
kept their bytes and mtimes; at the end, each figure of issue 12's Goal beside its target. Figures, not
assertions.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
# The checkout this script lives in runs (a snapshot of a commit can be benchmarked with another checkout's venv)
PYTHON = Path(os.environ.get("JIANFU_PYTHON") or ROOT / ".venv" / "bin" / "python")
JIANFU = [str(PYTHON), "-m", "pipelines.cli"]
STAGE_LINE = re.compile(
    r"^\[[\d:]+\] stage (?P<name>.+?): (?P<what>[\d.]+s|skipped \(.*?\)) \(peak RSS so far (?P<rss>[\d,]+) MB\)"
)


def timed(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, object]:
    """Run `cmd` under /usr/bin/time -v; wall seconds, peak RSS, stage lines, load average around it."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *cmd], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    wall = time.perf_counter() - start
    text = log.read_text(errors="replace")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text))
    stages = [m.groupdict() for m in map(STAGE_LINE.match, text.splitlines()) if m]
    finished = re.search(r"\] run finished in ([\d.]+)s", text)
    if proc.returncode != 0:
        print(text[-4000:])
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); log: {log}")
    return {
        "wall": wall,
        "rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"),
        "cpu": cpu,  # user + system seconds of the child and its workers: steadier than wall time under load
        "stages": stages,
        "pipeline": float(finished.group(1)) if finished else float("nan"),
        "load": (load_before, os.getloadavg()),
    }


def products(published: Path) -> dict[str, tuple[int, int]]:
    """Every product readers see, as `<tier>/<code>.duckdb`: (size, mtime_ns).

    With publication generations (`published/current` -> `generations/<id>`), the current generation's
    files; a product carried over unchanged is a hard link, so its size and mtime are kept."""
    base = published / "current" if (published / "current").exists() else published
    if not base.is_dir():
        return {}
    base = base.resolve()
    files = [
        p for p in base.rglob("*.duckdb") if p.relative_to(base).parts[0] not in ("generations", ".building")
    ]
    return {str(p.relative_to(base)): (p.stat().st_size, p.stat().st_mtime_ns) for p in files}


def workbooks(prefill: Path) -> dict[str, tuple[int, int]]:
    """Prefilled workbooks (reflow): relative path -> (size, mtime_ns)."""
    if not prefill.is_dir():
        return {}
    return {
        str(p.relative_to(prefill)): (p.stat().st_size, p.stat().st_mtime_ns) for p in prefill.rglob("*.xlsx")
    }


def kept_report(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], what: str,
                district: str | None = None) -> str:  # fmt: skip
    """How many files kept bytes and mtime; with `district`, split into outside / inside that district."""
    if district is None:
        kept = sum(1 for p, v in before.items() if after.get(p) == v)
        return f"{what} kept bytes and mtime: {kept:,} of {len(before):,}"
    inside = [
        p
        for p in before
        if p.startswith(district) or Path(p).stem.startswith(district) or p.startswith("city")
    ]
    outside = [p for p in before if p not in inside]
    kept = sum(1 for p in outside if after.get(p) == before[p])
    rewritten = sum(1 for p in inside if after.get(p) != before[p])
    return (f"{what} of untouched jurisdictions: {kept:,} of {len(outside):,} kept bytes and mtime; "
            f"of {district} (and the city): {rewritten:,} of {len(inside):,} rewritten")  # fmt: skip


def warehouse_figures(warehouse: Path, since: float) -> dict[str, int]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchall()[0][0]  # noqa: E731
        return {
            "files": q("SELECT count(*) FROM raw.landing_files"),
            "files_read_this_run": q(
                f"SELECT count(*) FROM raw.landing_files WHERE ingested_at >= to_timestamp({since})::TIMESTAMP"
            ),
            "rows_read": q("SELECT coalesce(sum(rows_read), 0) FROM raw.landing_files"),
            "staged_rows": q("SELECT count(*) FROM staging.form_records"),
            "staged_values": q("SELECT count(*) FROM staging.form_values"),
            "persons": q("SELECT count(*) FROM core.persons"),
        }
    finally:
        con.close()


def step_times(home: Path, seen: set[str], top: int = 8) -> str:
    """The slowest Dagster steps (assets and checks) of the runs made since `seen`: where the time went."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        steps = []
        for run in instance.get_runs():
            if run.run_id in seen:
                continue
            seen.add(run.run_id)
            for s in instance.get_run_step_stats(run.run_id):
                if s.start_time and s.end_time:
                    steps.append((s.end_time - s.start_time, s.step_key))
    finally:
        instance.dispose()
    steps.sort(reverse=True)
    return ", ".join(f"{key} {sec:.1f}s" for sec, key in steps[:top]) or "no step ran"


def redeliver(landing: Path, district: str, month: str) -> int:
    """Deliver every CSV of one district and month again with new bytes; returns how many."""
    n = 0
    for path in sorted((landing / district).glob(f"*/{month}/*.csv")):
        data = path.read_bytes()
        path.write_bytes(data + (b"\r\n" if data.endswith(b"\r\n") else b"\n"))
        n += 1
    return n


def report(
    name: str, result: dict[str, object], figures: dict[str, int], n_products: int, extra: str = ""
) -> None:
    (l1, _, _), (l2, _, _) = result["load"]  # type: ignore[misc]
    print(f"\n== {name}: {result['wall']:.1f}s wall (stages {result['pipeline']:.1f}s; the rest is imports and the "
          f"summary), CPU {result['cpu']:.1f}s, peak RSS {result['rss_mb']:,.0f} MB (load average {l1:.1f} before, {l2:.1f} after)")  # fmt: skip
    for s in result["stages"]:  # type: ignore[union-attr]
        print(f"   {s['name']:<44} {s['what']:<40} peak RSS so far {s['rss']} MB")
    print("   " + ", ".join(f"{k} {v:,}" for k, v in figures.items()) + f", products {n_products:,}")
    if extra:
        print("   " + extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="bench")
    parser.add_argument("--districts", type=int)
    parser.add_argument("--committees-per-district", type=int)
    parser.add_argument("--residents-per-committee", type=int)
    parser.add_argument("--out", type=Path, help="where the landing zone and warehouse go")
    parser.add_argument("--district", help="district that re-delivers (default: the first one)")
    parser.add_argument("--month", default="2026-10", help="the month it re-delivers")
    args = parser.parse_args()

    gen_args = ["--preset", args.preset]
    label = args.preset
    for flag in ("districts", "committees_per_district", "residents_per_committee"):
        value = getattr(args, flag)
        if value is not None:
            gen_args += [f"--{flag.replace('_', '-')}", str(value)]
            label += f"-{flag.split('_')[0][0]}{value}"
    out = args.out or OUT / f"nightly-{label}"
    landing, warehouse, home = out / "landing", out / "warehouse" / "jianfu.duckdb", out / "dagster_home"
    env = {**os.environ, "JIANFU_ENV": os.environ.get("JIANFU_ENV", "dev"), "DAGSTER_HOME": str(home),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    if not landing.exists():
        # the generator's own entry point (`jianfu generate --preset …` trips over argparse.REMAINDER)
        code = "import sys; from synth.generator.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [str(PYTHON), "-c", code, *gen_args, "--out", str(out)]
        result = timed(cmd, env, out / "generate.log")
        print(f"generated {label}: {result['wall']:.1f}s, peak RSS {result['rss_mb']:,.0f} MB")
    files = [p for p in landing.rglob("*") if p.is_file()]
    print(
        f"landing zone {landing}: {len(files):,} files, {sum(p.stat().st_size for p in files) / 1e6:,.1f} MB"
    )
    # a fresh warehouse and instance (pools as in .dagster_home: one writer per DuckDB file)
    shutil.rmtree(warehouse.parent, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy(ROOT / ".dagster_home" / "dagster.yaml", home / "dagster.yaml")
    published = warehouse.parent / "published"
    run = [*JIANFU, "run", "--landing", str(landing), "--warehouse", str(warehouse)]

    prefill = warehouse.parent / "prefill"
    seen: set[str] = set()
    results: dict[str, dict[str, object]] = {}

    def night(name: str, log: str, district: str | None = None, note: str = "") -> None:
        since = time.time()
        before, wb_before = products(published), workbooks(prefill)
        result = timed(run, env, out / log)
        after, wb_after = products(published), workbooks(prefill)
        extra = [note] if note else []
        if before:
            extra.append(kept_report(before, after, "products", district))
        if wb_before:
            extra.append(kept_report(wb_before, wb_after, "prefilled workbooks", district))
        extra.append(f"prefilled workbooks {len(wb_after):,}")
        report(name, result, warehouse_figures(warehouse, since), len(after), "\n   ".join(extra))
        print("   slowest steps: " + step_times(home, seen))
        results[name] = result

    night("full rebuild", "full_rebuild.log")
    night("night after (learns from the returned prefilled forms)", "learning_night.log")
    night("no-change night", "no-change_night.log")
    district = args.district or sorted(p.name for p in landing.iterdir() if p.name.isdigit())[0]
    n = redeliver(landing, district, args.month)
    night(f"one-district night ({district} re-delivers {n} CSV files of {args.month})", "one_district_night.log",
          district)  # fmt: skip
    # what the re-delivery's night learned from the returns of the districts it rebuilt is settled: nothing runs
    night("night after the one-district night (nothing new)", "after_one_district_night.log")

    print(f"\nGoal (issue 12) at {label}, figures above:")
    goals = [("full rebuild", "full rebuild", 180), ("nothing changed", "no-change night", 15),
             ("one district re-delivers", next(k for k in results if k.startswith("one-district")), 60)]  # fmt: skip
    for what, key, limit in goals:
        r = results[key]
        (l1, _, _), (l2, _, _) = r["load"]  # type: ignore[misc]
        verdict = "within" if r["wall"] <= limit else "over"  # type: ignore[operator]
        print(f"   {what:<26} {r['wall']:>8.1f}s wall (target ≤ {limit}s at bench scale: {verdict}), CPU "
              f"{r['cpu']:.1f}s, peak RSS {r['rss_mb']:,.0f} MB (target ≤ 8,192 MB), load {l1:.1f}→{l2:.1f}")  # fmt: skip
    print(f"\nlogs under {out}; machine: {os.cpu_count()} cores, shared")


if __name__ == "__main__":
    sys.exit(main())
