"""Shared fixtures: keep Dagster and GX quiet and away from the developer's own instance."""

from __future__ import annotations

import os

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
