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

_READING_TRANSFORMS = ("digits", "phone", "sex", "date", "id_number", "name", "address")
_EXAMPLES = 3


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


def _present(values: pl.Expr) -> pl.Expr:
    return values.cast(pl.String).str.strip_chars().str.len_chars().fill_null(0) > 0


def unparsed_counts(
    frame: pl.DataFrame, features: dict, direct: pl.DataFrame, lookups: dict[str, pl.DataFrame]
) -> list[Unparsed]:
    """Per feature read from a column by a transform that parses: rows present in `frame` whose feature
    came out empty. Lookup features are judged per distinct value, then counted over the rows that hold
    one of the failing values (a hash probe), so the cost stays near one pass per column."""
    out: list[Unparsed] = []
    for name, feat in features.items():
        if feat.column is None or feat.transform not in _READING_TRANSFORMS:
            continue
        raw = frame.get_column(feat.column)
        present = int(frame.select(_present(pl.col(feat.column)).sum()).item())
        if feat.column in lookups and name in lookups[feat.column].columns:
            table = lookups[feat.column]
            failing = table.filter(_present(pl.col("__src")) & pl.col(name).is_null())["__src"]
            if failing.is_empty():
                out.append(Unparsed(name, feat.column, feat.transform, present, 0, ()))
                continue
            hit = raw.cast(failing.dtype).is_in(failing)
            examples = raw.filter(hit).cast(pl.String).value_counts(sort=True).head(_EXAMPLES)
            out.append(
                Unparsed(
                    name, feat.column, feat.transform, present, int(hit.sum()),
                    tuple(examples.get_column(examples.columns[0]).to_list()),
                )
            )  # fmt: skip
        elif name in direct.columns:
            hit = raw.is_not_null() & direct.get_column(name).is_null()
            out.append(Unparsed(name, feat.column, feat.transform, present, int(hit.sum()), ()))
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
