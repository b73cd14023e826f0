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


def _shared_folder(root: Path, rel: Path) -> str | None:
    """The sub-folder whose conftest builds session fixtures (a world shared by its tests), if any."""
    for parent in reversed(rel.parents[:-1]):
        conftest = root / parent / "conftest.py"
        if conftest.exists() and 'scope="session"' in conftest.read_text(encoding="utf-8"):
            return str(parent)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`), keep the tests that share an
    expensive fixture on one worker, so each shared warehouse is still built once: the users of
    `tiny_world` together, each folder whose conftest has session fixtures (the attack, publish and
    matching worlds) together, every other test file on its own (its module fixtures stay in one place)."""
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
