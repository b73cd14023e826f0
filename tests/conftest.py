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
