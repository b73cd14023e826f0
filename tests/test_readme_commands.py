"""Every command of the README's command table runs as written (placeholders filled with a tiny landing zone).

The table is parsed at test time: a command added to the README without a way to run it here fails
`test_every_readme_command_is_covered`.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# run elsewhere: `make test` would run this suite again; `make ui` is a server (its code location is
# loaded by `dg check defs` in test_definitions.py); the benchmarks are measured, not tested, and their
# options are checked with --help below.
NOT_RUN_HERE = {"make test", "make ui"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Commands") :]
    section = section[: section.index("\n## ", 4)]
    commands = []
    for cell in re.findall(r"^\| (.+?) \|", section, flags=re.M):
        for command in re.findall(r"`([^`]+)`", cell):
            commands.append(command.replace("\\|", "|"))
    return commands


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("readme")
    environ = {
        **os.environ,
        "JIANFU_ENV": "dev",
        "JIANFU_WAREHOUSE": str(out / "jianfu.duckdb"),
        "JIANFU_LANDING": str(out / "landing"),
        "OUT": str(out),
    }
    environ.pop("DAGSTER_HOME", None)
    return environ


def run(command: str, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    if argv[0].startswith(".venv/bin/"):
        argv[0] = str(BIN / Path(argv[0]).name)
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"`{command}` exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    )
    return done


def concrete(command: str, env: dict[str, str]) -> list[str]:
    """The README command with its placeholders filled, as one or more commands to run."""
    out = env["OUT"]
    if command.startswith(".venv/bin/jianfu generate"):
        return [f".venv/bin/jianfu generate --preset tiny --out {out}"]
    if command == ".venv/bin/jianfu forms-eval":  # `forms-eval` / `forms-summary` share one table cell
        return [command, ".venv/bin/jianfu forms-summary"]
    if command == "forms-summary":
        return []
    filled = (command.replace("--landing DIR", f"--landing {out}/landing")
              .replace("--warehouse FILE", f"--warehouse {out}/jianfu.duckdb"))  # fmt: skip
    if command.startswith(".venv/bin/jianfu match"):
        export = f"COPY (SELECT * FROM staging.person_rows) TO '{out}/rows.parquet' (FORMAT parquet)"
        import duckdb

        con = duckdb.connect(f"{out}/jianfu.duckdb", read_only=True)
        con.execute(export)
        con.close()
        return [filled.replace("--spec SPEC", "--spec schemas/matching/residents.yaml")
                .replace("--input FILE", f"--input {out}/rows.parquet")
                .replace("--output FILE", f"--output {out}/clusters.parquet")]  # fmt: skip
    if command.startswith(".venv/bin/jianfu query"):
        return [filled.replace('"SQL"', '"SELECT 42 AS answer"')]
    if command.startswith(".venv/bin/python benchmarks/"):
        return [f"{filled.split(' --')[0]} --help"]
    return [filled]


def test_every_readme_command_is_covered(env: dict[str, str]) -> None:
    commands = readme_commands()
    assert ".venv/bin/jianfu run --landing DIR --warehouse FILE" in commands
    for command in commands:
        if command in NOT_RUN_HERE or command.startswith("make "):
            continue
        assert command.startswith((".venv/bin/jianfu", ".venv/bin/python benchmarks/", "forms-summary")), (
            command
        )


def test_make_sample_regenerates_the_bundled_sample_byte_for_byte(tmp_path: Path) -> None:
    """`make sample` is `jianfu generate --preset default --out data/sample`: same bytes as the bundled copy."""
    dry = subprocess.run(
        ["make", "-n", "sample"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "jianfu generate --preset default --out data/sample" in dry
    run(f".venv/bin/jianfu generate --preset default --out {tmp_path} --quiet", dict(os.environ))

    def digests(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip

    assert digests(tmp_path) == digests(ROOT / "data" / "sample")


def test_readme_commands_run_as_written(env: dict[str, str]) -> None:
    order = readme_commands()
    # generate first, then run, then everything that reads the warehouse
    first = [c for c in order if "jianfu generate" in c] + [c for c in order if "jianfu run" in c]
    rest = [c for c in order if c not in first and c not in NOT_RUN_HERE and not c.startswith("make ")]
    for command in first + rest:
        for concrete_command in concrete(command, env):
            run(concrete_command, env)
    assert Path(env["JIANFU_WAREHOUSE"]).exists()
