"""Check that a change to the matching engine leaves its outputs identical, and print its CPU per step.

    # outputs of a reference tree (e.g. `git archive main assets | tar -x -C /tmp/base`), then of this one
    .venv/bin/python benchmarks/check_matching_same.py --root /tmp/base --label before --sizes febrl3 100000
    .venv/bin/python benchmarks/check_matching_same.py --label after --sizes febrl3 100000
    .venv/bin/python benchmarks/check_matching_same.py --compare before after --sizes febrl3 100000

Data sets are those of benchmarks/bench_matching.py (`febrl3`, `febrl4`, `en:N`, `zh:N`, `N`), written once
as Parquet in the work directory and reused. For each, the engine resolves the records in this process (as
`jianfu match` does: no golden attributes) and the assignments (entity, best link, weight, probability,
agreed comparisons), the entities, the history and the scored candidate pairs are written; `--compare` checks them with
`DataFrame.equals` and prints the CPU seconds per engine step of both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _records(size: str, work: Path, splink_python: str | None) -> tuple[Path, Path]:
    """(records Parquet, spec path) of a data set, generated once."""
    tag = size.replace(":", "_")
    if (work / f"records_{tag}.kind").exists():
        return work / f"records_{tag}.parquet", Path((work / f"records_{tag}.kind").read_text())
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE / "benchmarks"))
    import bench_matching as B

    tag = size.replace(":", "_")
    path = work / f"records_{tag}.parquet"
    kind_path = work / f"records_{tag}.kind"
    if not path.exists():
        args = argparse.Namespace(seed=7, splink_python=splink_python, warehouse=None, truth=None)
        _, rows, kind = B.dataset(size, args)
        drop = [c for c in ("person_id", "household_id", "noise") if c in rows.columns]
        rows.drop(drop).write_parquet(path)
        kind_path.write_text(str(B.SPECS[kind]))
    return path, Path(kind_path.read_text())


def run(size: str, label: str, work: Path, root: Path, splink_python: str | None) -> None:
    records, spec_path = _records(size, work, splink_python)
    sys.path.insert(0, str(root))  # the engine of the tree under test
    import polars as pl

    from assets.matching.engine import MatchEngine

    assert Path(sys.modules["assets.matching.engine"].__file__).is_relative_to(root)
    engine = MatchEngine(spec_path, env={"JIANFU_ENV": "dev", **os.environ})
    frame = pl.read_parquet(records)
    c0 = time.process_time()
    result = engine.resolve(frame, golden=False)
    cpu = time.process_time() - c0
    tag = f"{label}_{size.replace(':', '_')}"
    result.assignments.write_parquet(work / f"{tag}_assign.parquet")
    result.entities.write_parquet(work / f"{tag}_entities.parquet")
    result.history.write_parquet(work / f"{tag}_history.parquet")
    engine.predict().write_parquet(work / f"{tag}_pairs.parquet")
    steps = result.stats["cpu_seconds"]
    (work / f"{tag}_cpu.json").write_text(json.dumps({"total": cpu, "steps": steps}))
    print(
        f"{label} {size}: {cpu:.2f} CPU-s  " + " ".join(f"{k}={v:.2f}" for k, v in steps.items()), flush=True
    )
    engine.close()


def compare(a: str, b: str, size: str, work: Path) -> bool:
    import polars as pl

    ok = True
    tag = size.replace(":", "_")
    for what in ("assign", "pairs", "entities", "history"):
        if not all((work / f"{x}_{tag}_{what}.parquet").exists() for x in (a, b)):
            continue
        fa, fb = (pl.read_parquet(work / f"{x}_{tag}_{what}.parquet") for x in (a, b))
        same = fa.equals(fb)
        ok &= same
        print(f"{size} {what}: {fa.height:,} rows, {'identical' if same else 'DIFFERENT'}")
    ca, cb = (json.loads((work / f"{x}_{tag}_cpu.json").read_text()) for x in (a, b))
    for step in ca["steps"]:
        print(f"  {step:18s} {ca['steps'][step]:7.2f} -> {cb['steps'].get(step, float('nan')):7.2f} CPU-s")
    return ok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", required=True)
    p.add_argument("--label", help="name of this run's outputs")
    p.add_argument("--root", default=str(HERE), help="tree whose assets/matching is run")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"))
    p.add_argument("--workdir", default="/tmp/jianfu-same")
    p.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--single", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--splink-python", default="/tmp/splink-venv/bin/python", help="for FEBRL's data files")
    args = p.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.compare:
        results = [compare(*args.compare, size, work) for size in args.sizes]
        return 0 if all(results) else 1
    if args.generate:
        _records(args.sizes[0], work, args.splink_python)
        return 0
    if len(args.sizes) == 1 and args.single:
        run(args.sizes[0], args.label, work, Path(args.root).resolve(), args.splink_python)
        return 0
    # one process per step: the data generator imports this tree's engine, and each run starts clean
    for size in args.sizes:
        common = [sys.executable, __file__, "--sizes", size, "--workdir", str(work)]
        common += ["--splink-python", args.splink_python]
        subprocess.run([*common, "--generate"], check=True)
        subprocess.run([*common, "--single", "--label", args.label, "--root", args.root], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
