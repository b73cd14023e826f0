"""Generic entity resolution: declarative spec -> DuckDB SQL blocking and comparisons -> Fellegi–Sunter
weights trained as Splink does -> guarded clustering -> golden records and stable ids. No Dagster, no
warehouse tables.

Names are imported on first use, so `import assets.matching.cli` (for `jianfu match --help`) does not
load DuckDB and polars.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FSModel": "assets.matching.em",
    "InputError": "assets.matching.load",
    "MatchEngine": "assets.matching.engine",
    "ModelRefused": "assets.matching.sanity",
    "Resolution": "assets.matching.engine",
    "evaluate_clusters": "assets.matching.evaluate",
    "MatchSpec": "assets.matching.spec",
    "SpecError": "assets.matching.spec",
    "load_spec": "assets.matching.spec",
    "parse_spec": "assets.matching.spec",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
