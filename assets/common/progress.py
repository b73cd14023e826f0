"""Progress of long work (files read per district, pairs scored, products written) as plain log records.

A pure module counts with `counter(log, task, total, unit)` and calls it once per item. Every tenth of the
way (and at the first and last item) it logs one INFO record, "district 310101: files read 4/40", that also
carries `record.progress`. Dagster captures it as an ordinary log line (`python_logs` in the instance's
dagster.yaml); the command line renders it as a progress bar (pipelines/console.py). Pure modules stay free
of any display library.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

STEPS = 10  # log records per task at most (plus the first item)


@dataclass(frozen=True)
class Progress:
    """What a progress record carries, besides its message."""

    task: str
    done: int
    total: int
    unit: str


def report(log: logging.Logger, task: str, done: int, total: int, unit: str) -> None:
    """One progress record: `done` of `total` `unit` of `task`."""
    log.info("%s: %d/%d %s", task, done, total, unit, extra={"progress": Progress(task, done, total, unit)})


class counter:  # noqa: N801 - used like a function: tick = counter(...); tick()
    """Counts the items of one task and reports the count every tenth of the way."""

    def __init__(self, log: logging.Logger, task: str, total: int, unit: str) -> None:
        self.log, self.task, self.total, self.unit, self.done = log, task, total, unit, 0

    def __call__(self, n: int = 1) -> None:
        before, self.done = self.done, self.done + n
        if self.total <= 0:
            return
        if (
            before == 0
            or self.done >= self.total
            or before * STEPS // self.total != self.done * STEPS // self.total
        ):
            report(self.log, self.task, min(self.done, self.total), self.total, self.unit)
