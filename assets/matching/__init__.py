"""Generic entity resolution: declarative spec -> DuckDB SQL blocking and comparisons -> Fellegi–Sunter
weights by EM -> guarded clustering -> golden records and stable ids. No Dagster, no warehouse tables."""

from assets.matching.em import FSModel
from assets.matching.engine import InputError, MatchEngine, ModelRefused, Resolution
from assets.matching.evaluate import evaluate_clusters
from assets.matching.spec import MatchSpec, SpecError, load_spec, parse_spec

__all__ = [
    "FSModel",
    "InputError",
    "MatchEngine",
    "MatchSpec",
    "ModelRefused",
    "Resolution",
    "SpecError",
    "evaluate_clusters",
    "load_spec",
    "parse_spec",
]
