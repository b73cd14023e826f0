"""Per-jurisdiction planning: a product is compiled from the rows of its own jurisdiction, not by slicing a
tier-wide staging of every row, and the decisions that need every row (is an element identifier-like?) are
made once per run from `Stats`, never from one jurisdiction's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import duckdb

from assets.publish import privacy
from assets.publish.binding import BoundDataset
from assets.publish.masking import quote_ident, quote_literal
from assets.publish.policy import Policy


def prefix_filter(column: str, prefix: str) -> str:
    """starts_with for correctness, plus a range on the sorted column so zone maps skip row groups."""
    q = quote_ident(column)
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return f"{q} >= {quote_literal(prefix)} AND {q} < {quote_literal(upper)} AND starts_with({q}, {quote_literal(prefix)})"


def scoped(bound: Iterable[BoundDataset], prefix: str) -> list[BoundDataset]:
    """The datasets as one jurisdiction sees them: rows (and golden-value lineage) under `prefix` only.
    Datasets without a jurisdiction (reference lists) are shared as they are."""
    out = []
    for b in bound:
        relation, lineage = b.relation, b.lineage
        if b.spec.jurisdiction is not None:
            relation = f"(SELECT * FROM {b.relation} WHERE {prefix_filter(b.spec.jurisdiction, prefix)})"
        if lineage is not None:
            lineage = f"(SELECT * FROM {lineage} WHERE {prefix_filter('committee_code', prefix)})"
        out.append(replace(b, relation=relation, lineage=lineage))
    return out


@dataclass
class Stats:
    """Figures over every row of a dataset (not one jurisdiction's), shared by all compilers of a run: whether
    values are identifier-like is a property of the element, so it is judged on all its values, once."""

    full: dict[str, BoundDataset]
    form_rows: dict[str, dict[str | None, int]] = field(default_factory=dict)
    elem: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    cols: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    def columns(self, con: duckdb.DuckDBPyConnection, dataset: str, cols: list[str]) -> None:
        """(distinct values, rows) of several columns of one dataset in a single pass over it."""
        todo = [c for c in cols if (dataset, c) not in self.cols]
        if not todo:
            return
        picks = ", ".join(f"count(DISTINCT {quote_ident(c)})" for c in todo)
        got = con.execute(f"SELECT count(*), {picks} FROM {self.full[dataset].relation}").fetchall()[0]
        for c, nd in zip(todo, got[1:], strict=True):
            self.cols[(dataset, c)] = (int(nd), int(got[0]))

    def column(self, con: duckdb.DuckDBPyConnection, dataset: str, col: str) -> tuple[int, int]:
        """(distinct values, rows) of one column over the whole dataset."""
        if (dataset, col) not in self.cols:
            nd, n = con.execute(f"SELECT count(DISTINCT {quote_ident(col)}), count(*) "
                                f"FROM {self.full[dataset].relation}").fetchall()[0]  # fmt: skip
            self.cols[(dataset, col)] = (int(nd), int(n))
        return self.cols[(dataset, col)]

    def elements(
        self, con: duckdb.DuckDBPyConnection, dataset: str, value_col: str
    ) -> dict[str, tuple[int, int]]:
        """element -> (distinct values, rows) over the whole dataset."""
        if dataset not in self.elem:
            b = self.full[dataset]
            driver = quote_ident(b.spec.driver or "")
            rows = con.execute(f"SELECT {driver}, count(DISTINCT {quote_ident(value_col)}), count(*) "
                               f"FROM {b.relation} GROUP BY 1").fetchall()  # fmt: skip
            self.elem[dataset] = {str(e): (int(nd), int(n)) for e, nd, n in rows if e is not None}
        return self.elem[dataset]


def dimension_safety(con: duckdb.DuckDBPyConnection, policy: Policy, stats: Stats) -> dict[str, object]:
    """Which columns and elements may group counts, judged on every row: part of every product's fingerprint
    (it changes only when an element crosses the identifier-like threshold, not with each delivery)."""
    k = policy.min_cell
    out: dict[str, object] = {}
    for name, b in sorted(stats.full.items()):
        ds = b.spec
        if ds.aggregate is None or ds.jurisdiction is None:
            continue
        stats.columns(con, name, [c for c in b.column_names if (spec := ds.columns.get(c)) is not None
                                  and spec.aggregate_dimension and not spec.element_from])  # fmt: skip
        for col in b.column_names:
            spec = ds.columns.get(col)
            if spec is None or not spec.aggregate_dimension:
                continue
            if spec.element_from:
                if ds.driver is None:
                    continue
                el = stats.elements(con, name, col)
                out[f"{name}.{col}"] = sorted(e for e, (nd, n) in el.items()
                                              if privacy.dimension_safe(policy.column_class(ds, col, e)[1], nd, n, k))  # fmt: skip
            else:
                nd, n = stats.column(con, name, col)
                out[f"{name}.{col}"] = privacy.dimension_safe(policy.column_class(ds, col)[1], nd, n, k)
    return out
