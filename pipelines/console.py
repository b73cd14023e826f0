"""How the command line shows the pure modules' logging: progress records as bars, other records as lines.

Installed by `jianfu run` (pipelines/runner.py) on the `assets` logger. On a terminal, a record carrying
`progress` (assets/common/progress.py) moves a rich progress bar per task; anything else is printed above the
bars. Elsewhere (a pipe, CI, the tests) every record is one timestamped line on stderr. `rich` is imported
only here, when a run starts, so `jianfu --help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

FORMAT = logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S")


class ProgressHandler(logging.Handler):
    """Rich progress bars for progress records on a terminal; plain lines otherwise."""

    def __init__(self, terminal: bool | None = None) -> None:
        super().__init__()
        self.setFormatter(FORMAT)
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.bars: Any = None  # rich.progress.Progress while a task is open
        self.tasks: dict[str, Any] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            progress = getattr(record, "progress", None)
            if progress is not None and self.terminal:
                self._advance(progress)
            elif self.bars is not None:
                self.bars.console.print(self.format(record), markup=False, highlight=False)
            else:
                sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a display problem must never stop the run
            self.handleError(record)

    def _advance(self, progress: Any) -> None:
        if self.bars is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[unit]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True))  # fmt: skip
            self.bars.start()
        if progress.task not in self.tasks:
            self.tasks[progress.task] = self.bars.add_task(
                progress.task, total=progress.total, unit=progress.unit
            )
        self.bars.update(self.tasks[progress.task], completed=progress.done, total=progress.total)
        if all(t.finished for t in self.bars.tasks):  # every bar full: leave them printed, start afresh
            self.close_bars()

    def close_bars(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars, self.tasks = None, {}


def install(logger_name: str = "assets", level: int = logging.INFO) -> None:
    """Show the pure modules' INFO records (progress included) on the console, once per process."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(h, ProgressHandler) for h in logger.handlers):
        logger.addHandler(ProgressHandler())
        logger.setLevel(level)
