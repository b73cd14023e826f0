"""Speed of the synthetic landing-zone generator: rows/s, files/s, bytes on disk and peak memory.

    .venv/bin/python benchmarks/bench_generate.py --preset bench --districts 2
    .venv/bin/python benchmarks/bench_generate.py --preset default --committees-per-district 0   # city cardinality
    .venv/bin/python benchmarks/bench_generate.py --preset city --districts 2 --committees-per-district 40
    .venv/bin/python benchmarks/bench_generate.py --preset city --districts 2 --committees-per-district 40 --engine classic

Runs `synth.generator.generate` in a child process (so its memory is its own) and prints wall time,
data rows, files, rows/s, files/s, bytes written and on disk, the child's peak RSS (largest single
process, from getrusage) and the peak RSS summed over the child and its writer processes (sampled from
/proc every 0.2 s), plus the load average before and after: the machine's 2 cores are shared. A share of
the city (fewer districts or committees) is extrapolated to the whole of it by committees. Figures, not
assertions. The output folder is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CITY_COMMITTEES = 6509


def _child(out: str, preset: str, overrides: dict, writers: int, result: str) -> None:
    from synth.generator.config import GeneratorConfig
    from synth.generator.generate import generate

    cpd = overrides.pop("committees_per_district", None)
    cfg = GeneratorConfig.preset(preset, **overrides)  # type: ignore[arg-type]
    if cpd is not None:
        cfg = GeneratorConfig(**{**cfg.model_dump(), "committees_per_district": cpd or None})
    import time

    c0 = time.process_time()
    s = generate(Path(out), cfg, writers=writers)
    main_cpu = time.process_time() - c0
    Path(result).write_text(
        json.dumps(
            {
                "districts": s.districts,
                "committees": s.committees,
                "persons": s.persons,
                "rows": s.data_rows,
                "files": s.files,
                "bytes": s.bytes,
                "elapsed_s": s.elapsed_s,
                "main_cpu_s": main_cpu,
            }
        )
    )


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), read from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="bench", choices=["tiny", "default", "bench", "city"])
    ap.add_argument("--districts", type=int)
    ap.add_argument("--committees-per-district", type=int, help="0 = all committees of each district")
    ap.add_argument("--residents-per-committee", type=int)
    ap.add_argument("--periods", type=int)
    ap.add_argument("--engine", choices=["classic", "vector"], help="default: the preset's")
    ap.add_argument("--writers", type=int, default=1, help="writer processes (0 = in-process)")
    ap.add_argument("--out", type=Path, help="output folder (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the generated landing zone")
    a = ap.parse_args()

    overrides = {
        k: v
        for k, v in {
            "districts": a.districts,
            "residents_per_committee": a.residents_per_committee,
            "periods": a.periods,
            "committees_per_district": a.committees_per_district,
            "engine": a.engine,
        }.items()
        if v is not None
    }
    out = a.out or Path(tempfile.mkdtemp(prefix="bench_generate_"))
    shutil.rmtree(out / "landing", ignore_errors=True)
    (out / "ground_truth.parquet").unlink(missing_ok=True)
    result = out.parent / f".{out.name}.result.json"
    load0 = os.getloadavg()
    ctx = multiprocessing.get_context("fork")
    t0 = time.perf_counter()
    proc = ctx.Process(target=_child, args=(str(out), a.preset, dict(overrides), a.writers, str(result)))
    proc.start()
    peak_tree = 0
    while proc.is_alive():
        peak_tree = max(peak_tree, _tree_rss_kb(proc.pid))
        proc.join(0.2)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    if proc.exitcode != 0:
        print(f"generator failed with exit code {proc.exitcode}")
        return 1
    r = json.loads(result.read_text())
    result.unlink()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_one = ru.ru_maxrss  # kB, largest single process
    cpu = ru.ru_utime + ru.ru_stime  # child and writers: what the run costs whatever the load
    du = subprocess.run(["du", "-sk", str(out)], capture_output=True, text=True).stdout.split()[0]
    gen_s = r["elapsed_s"]
    print(f"preset {a.preset} {overrides or ''} writers {a.writers}")
    print(
        f"  {r['districts']} districts, {r['committees']:,} committees, {r['persons']:,} residents, "
        f"{r['rows']:,} data rows, {r['files']:,} files"
    )
    print(f"  wall {wall:,.1f} s (generate {gen_s:,.1f} s, the rest is imports and process start)")
    print(f"  rows/s {r['rows'] / gen_s:,.0f}   files/s {r['files'] / gen_s:,.0f}")
    print(
        f"  CPU {cpu:,.1f} s (user+sys, all processes): {r['rows'] / cpu:,.0f} rows per CPU-s, "
        f"{r['files'] / cpu:,.0f} files per CPU-s"
    )
    mc = r["main_cpu_s"]
    if a.writers > 0:
        print(
            f"  main process CPU {mc:,.1f} s: {r['rows'] / mc:,.0f} rows per CPU-s (draws, cells, ground "
            f"truth); writers {cpu - mc:,.1f} s: {r['rows'] / max(cpu - mc, 1e-9):,.0f} rows per CPU-s "
            "(serializing)"
        )
    print(
        f"  bytes written {r['bytes'] / 1e6:,.1f} MB, on disk {int(du) / 1024:,.1f} MiB (du, incl. ground truth)"
    )
    print(
        f"  peak RSS: largest process {peak_one / 1024:,.0f} MiB; child + writers {peak_tree / 1024:,.0f} MiB"
    )
    print(
        f"  load average before {load0[0]:.2f} {load0[1]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} (2 cores)"
    )
    if r["committees"] < CITY_COMMITTEES:
        f = CITY_COMMITTEES / r["committees"]
        print(
            f"  extrapolated to all {CITY_COMMITTEES:,} committees at this residents/committee: "
            f"×{f:,.1f} → {r['rows'] * f / 1e6:,.2f}M rows, {r['files'] * f:,.0f} files, "
            f"{gen_s * f / 60:,.0f} min at this rate ({cpu * f / 60:,.0f} CPU-min)"
        )
    if not a.keep and a.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
