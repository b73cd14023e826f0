"""Shared fixtures: keep Dagster and GX quiet and away from the developer's own instance."""

from __future__ import annotations

import os

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("JIANFU_ENV", "dev")  # the synthetic test data may use the documented dev masking key
