"""Project paths, resolved from the checkout so a fresh clone works from any directory."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = PROJECT_ROOT / "schemas"
REFERENCE_DIR = PROJECT_ROOT / "data" / "reference"
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
SAMPLE_LANDING = SAMPLE_DIR / "landing"
WAREHOUSE_DIR = PROJECT_ROOT / "warehouse"
DEFAULT_WAREHOUSE = WAREHOUSE_DIR / "jianfu.duckdb"
