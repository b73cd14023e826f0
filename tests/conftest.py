"""Shared fixtures: keep Dagster and GX quiet and away from the developer's own instance."""

from __future__ import annotations

import os

import pytest

from tests.worlds import TinyWorld

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("JIANFU_ENV", "dev")  # the synthetic test data may use the documented dev masking key


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> TinyWorld:
    """The tiny generated landing zone and the warehouse of its first two nights, built once per session.
    Read it; a test that runs the pipeline again or changes the landing zone does it inside
    `with tiny_world.mutable():`, which puts the built state back afterwards."""
    return TinyWorld.build(tmp_path_factory.mktemp("tiny_world"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`), keep the tests that share an
    expensive fixture on one worker, so each shared warehouse is still built once: the users of
    `tiny_world` together, each sub-folder's tests together (its conftest's session fixtures: the attack
    world, the publish and matching worlds, the outside delivery run), each top-level test file alone."""
    root = config.rootpath / "tests"
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        if "tiny_world" in getattr(item, "fixturenames", ()):
            group = "tiny_world"
        else:
            rel = item.path.relative_to(root)
            group = str(rel) if str(rel.parent) == "." else str(rel.parent)
        item.add_marker(pytest.mark.xdist_group(group))
