"""Longest groups first: the order in which `make test` hands its xdist groups to the two workers.

pytest-xdist's loadgroup scheduler hands out groups (tests sharing an expensive fixture, or one test file)
largest test count first. Test count is a poor proxy for time here: a one-test file that runs four Dagster
jobs can take longer than a folder of a hundred quick tests, and started last it leaves the other worker idle.
This scheduler orders the groups by their measured seconds from `tests/xdist_group_seconds.json` (longest
first, the classic longest-processing-time rule); a group not listed is estimated from its test count.

The figures only order the work: a stale or missing figure costs balance, never a result. Refresh them with
`make test-times` (it runs the suite with `--group-seconds tests/xdist_group_seconds.json`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from xdist.scheduler import LoadGroupScheduling

SECONDS_FILE = Path(__file__).with_name("xdist_group_seconds.json")
SECONDS_PER_UNLISTED_TEST = 0.5  # a typical quick test's setup + call on this machine


def group_of(nodeid: str) -> str:
    """The group xdist schedules a test id by (its `@group` suffix, see tests/conftest.py), else the id."""
    return nodeid.rsplit("@", 1)[1] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid


def load_seconds(path: Path = SECONDS_FILE) -> dict[str, float]:
    """Measured seconds per group; none when the file is absent or unreadable (ordering then falls back)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def estimate(group: str, tests: int, seconds: dict[str, float]) -> float:
    return seconds.get(group, tests * SECONDS_PER_UNLISTED_TEST)


def longest_first(units: dict[str, dict[str, bool]], seconds: dict[str, float]) -> list[tuple[str, dict]]:
    """The work units (group -> its test ids) by estimated seconds, longest first; ties keep their order."""
    return sorted(units.items(), key=lambda kv: -estimate(kv[0], len(kv[1]), seconds))


class LongestFirstScheduling(LoadGroupScheduling):
    """loadgroup, but the work queue ordered by estimated seconds, longest first."""

    def __init__(self, config: pytest.Config, log=None) -> None:
        super().__init__(config, log)
        self._seconds = load_seconds()
        self._ordered = False

    def _assign_work_unit(self, node) -> None:
        if not self._ordered:  # the queue is complete before the first unit is handed out
            units = longest_first(self.workqueue, self._seconds)
            self.workqueue.clear()
            self.workqueue.update(units)
            self._ordered = True
        super()._assign_work_unit(node)


class GroupTimer:
    """Sums setup + call + teardown seconds per group on the controller and writes them at the end."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[group_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self) -> None:
        # only groups worth ordering: the many sub-second files are estimated well enough from their count
        kept = {g: round(s, 1) for g, s in sorted(self.seconds.items(), key=lambda kv: -kv[1]) if s >= 2.0}
        self.out.write_text(json.dumps(kept, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
