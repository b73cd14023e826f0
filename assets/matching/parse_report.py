"""How many raw values each feature failed to read: present in the input, empty after its transform.

A spec written for one file meets another file's spellings (a date as 85.3.7, an ID as 无); a value the
transform cannot read becomes missing and silently weakens every comparison on it. Counting them per
column at load time makes that visible in the log and in `jianfu match --explain`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import polars as pl

log = logging.getLogger(__name__)

READING_TRANSFORMS = ("digits", "phone", "sex", "date", "id_number", "name", "address")
EXAMPLES = 3


@dataclass(frozen=True)
class Unparsed:
    feature: str
    column: str
    transform: str
    present: int  # rows with a non-blank raw value
    unparsed: int  # of those, rows whose feature is empty
    examples: tuple[str, ...]  # the most frequent raw values that were not read

    def line(self) -> str:
        share = self.unparsed / self.present if self.present else 0.0
        shown = ", ".join(repr(e) for e in self.examples)
        return (
            f"  {self.column} -> {self.feature} ({self.transform}): {self.unparsed:,} of {self.present:,} "
            f"values not read ({share:.2%})" + (f", e.g. {shown}" if shown else "")
        )


def present_expr(values: pl.Expr) -> pl.Expr:
    return values.cast(pl.String).str.strip_chars().str.len_chars().fill_null(0) > 0


def unparsed_counts(frame: pl.DataFrame, features: dict, feats: pl.DataFrame) -> list[Unparsed]:
    """Per feature read from a column by a transform that parses: rows present in `frame` whose feature
    came out empty in `feats` (the features gathered back to the rows, row for row), with the most
    frequent raw values that were not read. One pass per column."""
    out: list[Unparsed] = []
    for name, feat in features.items():
        if feat.column is None or feat.transform not in READING_TRANSFORMS or name not in feats.columns:
            continue
        raw = frame.get_column(feat.column)
        present = frame.select(present_expr(pl.col(feat.column))).to_series()
        hit = present & feats.get_column(name).is_null()
        n_hit = int(hit.sum())
        examples: tuple[str, ...] = ()
        if n_hit:
            counts = raw.filter(hit).cast(pl.String).value_counts(sort=True).head(EXAMPLES)
            examples = tuple(counts.get_column(counts.columns[0]).to_list())
        out.append(Unparsed(name, feat.column, feat.transform, int(present.sum()), n_hit, examples))
    for item in out:
        if item.unparsed:
            log.warning("%s", item.line().strip())
    return out


def report(items: list[Unparsed]) -> str:
    """Lines for `--explain`: one per column a transform reads."""
    if not items:
        return ""
    return "\n".join(
        ["values present in the input that their transform could not read:", *(i.line() for i in items)]
    )
