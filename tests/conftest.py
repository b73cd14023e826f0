"""Shared fixtures: keep Dagster and GX quiet and away from the developer's own instance."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.worlds import TinyWorld

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("JIANFU_ENV", "dev")  # the synthetic test data may use the documented dev masking key
# pytest-xdist already runs a test per core: pipeline runs inside tests ingest and write workbooks in process
# (the pools have their own tests, which ask for workers explicitly)
os.environ.setdefault("JIANFU_INGEST_WORKERS", "1")
os.environ.setdefault("JIANFU_REFLOW_WORKERS", "1")
os.environ.setdefault("JIANFU_PUBLISH_WORKERS", "1")


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> TinyWorld:
    """The tiny generated landing zone and the warehouse of its first two nights, built once per session.
    Read it; a test that runs the pipeline again or changes the landing zone does it inside
    `with tiny_world.mutable():`, which puts the built state back afterwards."""
    return TinyWorld.build(tmp_path_factory.mktemp("tiny_world"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--group-seconds", metavar="FILE", type=Path, default=None,
                     help="write the seconds each xdist group took (what tests/xdist_balance.py orders by)")  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--group-seconds")
    if out is not None and not hasattr(config, "workerinput"):  # the controller sees every worker's reports
        from tests.xdist_balance import GroupTimer

        config.pluginmanager.register(GroupTimer(out), "jianfu-group-timer")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadgroup` with the longest groups first (tests/xdist_balance.py); other modes unchanged."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.xdist_balance import LongestFirstScheduling

    return LongestFirstScheduling(config, log)


def _shared_folder(root: Path, rel: Path) -> str | None:
    """The sub-folder whose conftest builds session fixtures (a world shared by its tests), if any. A conftest
    that shares its world between workers itself says `XDIST_GROUP_PER_FILE = True`: its files spread out."""
    for parent in reversed(rel.parents[:-1]):
        conftest = root / parent / "conftest.py"
        text = conftest.read_text(encoding="utf-8") if conftest.exists() else ""
        if 'scope="session"' in text and "XDIST_GROUP_PER_FILE = True" not in text:
            return str(parent)
    return None


def _tag_group(config: pytest.Config, item: pytest.Item, group: str) -> None:
    """Give the item the `@group` suffix that `--dist loadgroup` schedules by, if xdist did not.

    pytest-xdist 3.8 appends it by assigning `item._nodeid`, which pytest 9.2 no longer reads (node ids are
    structured, `item._id`): the marks are then silently ignored and every worker builds every shared world
    (pytest-xdist issue 1386). Only on a loadgroup worker; a later xdist that tags the id itself wins.
    """
    if not getattr(config.option, "loadgroup", False) or item.nodeid.endswith(f"@{group}"):
        return
    tagged = f"{item.nodeid}@{group}"
    node_id = getattr(item, "_id", None)
    if node_id is not None and hasattr(type(node_id), "parse"):
        item._id = type(node_id).parse(tagged)
    else:
        item._nodeid = tagged
    # a pytest that changed node ids again: fail rather than run every shared world on every worker
    if not item.nodeid.endswith(f"@{group}"):
        raise pytest.UsageError(f"cannot tag {item.nodeid} with its xdist group {group!r}")


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`), keep the tests that share an
    expensive fixture on one worker, so each shared warehouse is still built once: the users of
    `tiny_world` together, each folder whose conftest has session fixtures (the publish and matching
    worlds) together, every other test file on its own (its module fixtures stay in one place).
    A wrapper: the marks are set before xdist's own hook reads them, and the ids checked after it ran."""
    root = config.rootpath / "tests"
    shared: dict[Path, str | None] = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        rel = item.path.relative_to(root)
        if "tiny_world" in getattr(item, "fixturenames", ()):
            group = "tiny_world"
        else:
            if rel.parent not in shared:
                shared[rel.parent] = _shared_folder(root, rel)
            group = shared[rel.parent] or str(rel)
        item.add_marker(pytest.mark.xdist_group(group))
    result = yield
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        _tag_group(config, item, "_".join(names))
    return result
