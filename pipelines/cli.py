"""`jianfu <subcommand>`: the one command-line entry point."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _default_paths() -> tuple[Path, Path]:
    """runner.default_paths() without importing the runner (Dagster): `jianfu --help` stays fast."""
    import os

    from assets.common import paths

    return (
        Path(os.environ.get("JIANFU_WAREHOUSE") or paths.DEFAULT_WAREHOUSE),
        Path(os.environ.get("JIANFU_LANDING") or paths.SAMPLE_LANDING),
    )


def _configure_run(parser: argparse.ArgumentParser) -> None:
    warehouse, landing = _default_paths()
    parser.add_argument(
        "--warehouse", type=Path, default=warehouse, help=f"DuckDB file to write (default {warehouse})"
    )
    parser.add_argument(
        "--landing", type=Path, default=landing, help=f"landing zone root (default {landing})"
    )
    parser.add_argument("--full-refresh", action="store_true", help="read every file again")
    parser.add_argument(
        "--log-level", default="WARNING", help="Dagster console log level (DEBUG shows every step)"
    )


def _run(args: argparse.Namespace) -> int:
    from pipelines import runner

    start = time.perf_counter()
    runner.run_all(args.warehouse, args.landing, full_refresh=args.full_refresh, log_level=args.log_level)
    print()
    print(runner.summary(args.warehouse, reuse=True))
    print(f"\nDone in {time.perf_counter() - start:.1f}s; warehouse: {args.warehouse}")
    return 0


def _configure_summary(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--warehouse", type=Path, default=_default_paths()[0])


def _summary(args: argparse.Namespace) -> int:
    from pipelines import runner

    print(runner.summary(args.warehouse))
    return 0


def _configure_generate(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options of the generator (see --help)")


def _generate(args: argparse.Namespace) -> int:
    try:
        from synth.generator.cli import main as generator_main
    except ModuleNotFoundError as exc:  # faker lives in the optional `synth` extra
        print(f"jianfu generate needs the synthetic-data extra ({exc.name} is missing): "
              "run `make setup` or `uv sync --extra synth`", file=sys.stderr)  # fmt: skip
        return 2

    return int(generator_main(args.args) or 0)


def _lazy(module: str, name: str):
    """Import a domain's CLI function only when its subcommand runs (keeps `jianfu --help` fast)."""

    def call(*args: object) -> object:
        import importlib

        return getattr(importlib.import_module(module), name)(*args)

    return call


COMMANDS = {
    "run": (_configure_run, _run, "materialize every asset on the landing zone and print a summary"),
    "summary": (_configure_summary, _summary, "print the summary of an existing warehouse"),
    "generate": (_configure_generate, _generate, "write a synthetic landing zone (seeded, deterministic)"),
    "forms-eval": (_lazy("assets.forms.cli", "configure_forms_eval"), _lazy("assets.forms.cli", "run_forms_eval"),
                   "field-matching precision and recall on the labelled set"),
    "forms-summary": (_lazy("assets.forms.cli", "configure_forms_summary"),
                      _lazy("assets.forms.cli", "run_forms_summary"), "burden before → after (一表通 plan)"),
    "match": (_lazy("assets.matching.cli", "configure_match"), _lazy("assets.matching.cli", "run_match"),
              "run the entity-resolution engine on any CSV or Parquet file with a spec"),
    "evaluate": (_lazy("assets.persons.cli", "configure_evaluate"), _lazy("assets.persons.cli", "run_evaluate"),
                 "score core.persons (or a clusters file) against the generator's ground truth"),
    "publish": (_lazy("assets.publish.cli", "configure_publish"), _lazy("assets.publish.cli", "run_publish"),
                "build every jurisdiction's product outside Dagster (policy, masks, leak scan, manifest)"),
    "query": (_lazy("assets.publish.cli", "configure_query"), _lazy("assets.publish.cli", "run_query"),
              "run read-only SQL against one principal's product: jianfu query --as district:310101 \"SQL\""),
    "audit": (_lazy("assets.publish.cli", "configure_audit"), _lazy("assets.publish.cli", "run_audit"),
              "jianfu audit verify: check the keyed audit chains, their signed heads and the warehouse copy"),
}  # fmt: skip


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Only the subcommand named in `argv` is configured (its module imported): the others need just
    their help line. Without `argv`, every subcommand is configured."""
    parser = argparse.ArgumentParser(prog="jianfu", description="减负: grassroots data-burden pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (configure, run, help_text) in COMMANDS.items():
        # `generate` hands every option, --help included, to the generator's own parser.
        sp = sub.add_parser(name, help=help_text, description=help_text, add_help=name != "generate")
        if chosen is None or chosen == name:
            configure(sp)
        sp.set_defaults(func=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if args.command == "generate":
        # argparse's REMAINDER does not capture options that come first (`generate --preset bench`):
        # everything after the subcommand belongs to the generator's own parser.
        args.args = argv[argv.index("generate") + 1 :]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if hasattr(args, "warehouse") and not any(a.startswith("--warehouse") for a in argv):
        # every subcommand reads the warehouse the settings name (as `make` and Dagster do)
        args.warehouse = _default_paths()[0]
    if hasattr(args, "published") and not any(a.startswith("--published") for a in argv):
        # products live beside the warehouse they were published from
        args.published = (
            Path(getattr(args, "warehouse", None) or _default_paths()[0]).resolve().parent / "published"
        )
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        # the reader went away (`jianfu ... | head`): stop quietly, as a Unix tool does
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
