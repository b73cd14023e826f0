"""Progress of long work: plain log records from the pure modules, bars in the CLI, lines in Dagster."""

from __future__ import annotations

import logging

import dagster as dg
import pytest

from assets.common import progress
from pipelines import console


def test_counter_reports_the_first_item_every_tenth_and_the_last(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("assets.test_progress")
    with caplog.at_level(logging.INFO, logger="assets"):
        tick = progress.counter(log, "district 310101: files read", 40, "files")
        for _ in range(40):
            tick()
    done = [r.progress.done for r in caplog.records]
    assert done == [1, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40]  # not 40 records: Dagster stores each one
    assert caplog.records[-1].getMessage() == "district 310101: files read: 40/40 files"


def test_counter_of_nothing_reports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="assets"):
        progress.counter(logging.getLogger("assets.test_progress"), "empty district", 0, "files")()
    assert caplog.records == []


def test_cli_handler_prints_lines_off_a_terminal_and_bars_on_one(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("assets.test_progress.cli")
    log.propagate = False
    plain = console.ProgressHandler(terminal=False)
    log.addHandler(plain)
    log.setLevel(logging.INFO)
    try:
        progress.report(log, "products written or carried", 3, 5, "products")
        log.info("sensitive rosters: none")
        err = capsys.readouterr().err.splitlines()
        assert [line.split("] ", 1)[1] for line in err] == [
            "products written or carried: 3/5 products",
            "sensitive rosters: none",
        ]
        log.removeHandler(plain)
        bars = console.ProgressHandler(terminal=True)
        log.addHandler(bars)
        progress.report(log, "persons: candidate pairs scored", 2, 4, "pairs")
        assert bars.bars is not None and bars.bars.tasks[0].completed == 2  # a bar, open
        log.info("a line printed above the bars")
        progress.report(log, "persons: candidate pairs scored", 4, 4, "pairs")
        assert bars.bars is None  # every bar full: closed, left on screen
        log.removeHandler(bars)
    finally:
        log.propagate = True


def test_dagster_captures_the_pure_modules_progress() -> None:
    """With `python_logs.managed_python_loggers: [assets]` (.dagster_home/dagster.yaml), a progress record of
    a pure module called by an asset is in that step's Dagster logs."""
    from dagster._core.test_utils import instance_for_test

    @dg.asset
    def counted() -> None:
        tick = progress.counter(
            logging.getLogger("assets.ingest.pipeline"), "district 310101: files read", 2, "files"
        )
        tick()
        tick()

    overrides = {"python_logs": {"managed_python_loggers": ["assets"], "python_log_level": "INFO"}}
    with instance_for_test(overrides=overrides) as instance:
        result = dg.materialize([counted], instance=instance)
        messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("district 310101: files read: 2/2 files" in m for m in messages), messages


def test_the_instance_config_manages_the_assets_loggers() -> None:
    import yaml

    from assets.common.paths import PROJECT_ROOT

    for path in (
        PROJECT_ROOT / ".dagster_home" / "dagster.yaml",
        PROJECT_ROOT / "deploy" / "dagster.postgres.yaml",
    ):
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "assets" in config["python_logs"]["managed_python_loggers"], path
