"""The house style holds: ruff check and ruff format --check over every Python tree the project owns."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ["assets", "pipelines", "tests", "benchmarks", "synth"]


def test_ruff_check_and_format_pass() -> None:
    ruff = str(Path(sys.executable).with_name("ruff"))
    for args in (["check", *TREES], ["format", "--check", *TREES]):
        done = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"ruff {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-1000:]}"


def test_no_module_is_too_big_to_hold_in_ones_head() -> None:
    """Production modules stay at about 450 lines or less (split by responsibility when one grows)."""
    big = {
        str(p.relative_to(ROOT)): n
        for tree in ("assets", "pipelines")
        for p in (ROOT / tree).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 480
    }
    assert not big, big
