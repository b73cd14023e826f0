"""Command line: `jianfu generate …` / `python -m synth.generator …` writes a seeded sample landing zone."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

from synth.generator.config import DEFAULT_SEED, PRESETS, GeneratorConfig
from synth.generator.generate import generate


def build_parser(prog: str = "jianfu generate") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Generate a deterministic synthetic landing zone (catalog, district files) and its ground truth.",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output folder: writes OUT/landing/… and OUT/ground_truth.parquet",
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    p.add_argument(
        "--preset", choices=sorted(PRESETS), default="default", help="size preset (default: default)"
    )
    p.add_argument("--districts", type=int, help="how many of the 16 districts")
    p.add_argument("--committees-per-district", type=int, help="committees per district (0 = all)")
    p.add_argument("--residents-per-committee", type=int, help="mean residents per committee")
    p.add_argument("--periods", type=int, help="monthly periods back from 2026-10 (quarterly/annual follow)")
    p.add_argument(
        "--engine",
        choices=["classic", "vector"],
        help="row rendering: classic (row by row; the bundled sample) or vector (column-wise, faster, "
        "other bytes); default: the preset's (vector for city, classic otherwise)",
    )
    p.add_argument(
        "--writers",
        type=int,
        default=1,
        help="processes that serialize committee files (0 = in-process; output is the same; default 1)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="delete OUT/landing and OUT/ground_truth.parquet first"
    )
    p.add_argument("--quiet", action="store_true", help="do not print the summary")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "jianfu generate") -> int:
    args = build_parser(prog).parse_args(argv)
    overrides: dict[str, object] = {
        "seed": args.seed,
        "districts": args.districts,
        "residents_per_committee": args.residents_per_committee,
        "periods": args.periods,
        "engine": args.engine,
    }
    cfg = GeneratorConfig.preset(args.preset, **overrides)
    if args.committees_per_district is not None:
        cfg = GeneratorConfig(
            **{**cfg.model_dump(), "committees_per_district": args.committees_per_district or None}
        )
    out: Path = args.out
    landing, truth = out / "landing", out / "ground_truth.parquet"
    if landing.exists() or truth.exists():
        if not args.overwrite:
            print(f"error: {out} already holds a landing zone; pass --overwrite to replace it")
            return 2
        shutil.rmtree(landing, ignore_errors=True)
        truth.unlink(missing_ok=True)
    summary = generate(out, cfg, writers=max(0, args.writers))
    if not args.quiet:
        print(summary.render())
    return 0
