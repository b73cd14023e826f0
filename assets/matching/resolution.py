"""What one matching run produced (the engine's result), apart from the engine so readers can hold both."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from assets.matching.em import FSModel


@dataclass
class Resolution:
    """What a run produced.

    assignments: record_id, entity_id, is_new, match_probability, match_weight, matched_record_id, agreed
    entities: entity_id, record_count, anchor, golden attributes...
    history: event, entity_id, related_entity_id, record_count
    """

    assignments: pl.DataFrame
    entities: pl.DataFrame
    history: pl.DataFrame
    model: FSModel
    stats: dict[str, object] = field(default_factory=dict)
    explanation: str = ""  # weights table and sanity report (`jianfu match --explain`)
