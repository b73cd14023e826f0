"""Loading: input frame -> table `__rec` of features (transforms once per distinct value), block keys,
term frequencies, and for an incremental run the previous entity of each old record."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from assets.matching import codes
from assets.matching import sql as S
from assets.matching.codes import code_column, null_column
from assets.matching.pairs import tf_columns, tf_select
from assets.matching.parse_report import Unparsed, unparsed_counts
from assets.matching.spec import MatchSpec
from assets.matching.transforms import FREQ, record_features

log = logging.getLogger(__name__)


class InputError(ValueError):
    """The input frame does not fit the spec (missing columns, duplicate record ids, no rows)."""


@dataclass
class Loaded:
    record_ids: pl.Series  # in __rid order (= record id order)
    n: int
    initial: np.ndarray | None  # previous group per record (-1 = new), incremental runs only
    incremental: bool
    seconds: float
    # per feature: the raw values its transform could not read
    unparsed: list[Unparsed] = field(default_factory=list)


def ascending_order(con: duckdb.DuckDBPyConnection, ids: pl.Series) -> np.ndarray:
    """Row positions of `ids` in ascending (byte) order, ties in row order: polars' `arg_sort`. Input
    already in order costs one check; else DuckDB sorts (a million shuffled strings: several times
    cheaper than polars' arg_sort)."""
    if ids.is_sorted():
        return np.arange(len(ids), dtype=np.int64)
    id_table = pl.DataFrame({"__i": np.arange(len(ids), dtype=np.int64), "__r": ids}).to_arrow(  # noqa: F841
        compat_level=pl.CompatLevel.newest()
    )
    return np.asarray(con.execute("SELECT __i FROM id_table ORDER BY __r, __i").fetchnumpy()["__i"])


def by_rid(con: duckdb.DuckDBPyConnection, expr: str, n: int, table: str = "__rec") -> np.ndarray:
    """`expr` (never null) of every record of `table`, as an array indexed by __rid: a scatter of an
    unordered scan instead of an ORDER BY (a sort of all records)."""
    res = con.execute(f"SELECT __rid, {expr} AS v FROM {table}").fetchnumpy()
    values = np.asarray(res["v"])
    out = np.empty(n, dtype=values.dtype)
    out[np.asarray(res["__rid"])] = values
    return out


def required_pinyin(spec: MatchSpec) -> set[str]:
    """Text features whose pinyin companion something reads."""
    need = set()
    for comp in spec.comparisons:
        for level in comp.levels:
            if level.kind == "pinyin_equal":
                need.add(level.feature or comp.feature)
    refs = [k for r in spec.blocking for k in r.keys]
    refs += [a.column for a in spec.golden.attributes]
    refs += [f.sql or "" for f in spec.features.values()]
    for name, feat in spec.features.items():
        if feat.column is not None and feat.transform in ("text", "name"):
            if any(f"{name}__py" in r for r in refs):
                need.add(name)
    return need


def _unparsed(
    frame: pl.DataFrame,
    features: dict,
    feats: pl.DataFrame,
    unread: dict[str, tuple[int, int, tuple[str, ...]]],
) -> list[Unparsed]:
    """parse_report.unparsed_counts, with the counts that record_features made on distinct values taken
    as they are (the rest, e.g. a date column already typed, counted row by row)."""
    rest = unparsed_counts(frame, {n: f for n, f in features.items() if n not in unread}, feats)
    by_name = {u.feature: u for u in rest}
    out = []
    for name, feat in features.items():
        if name in unread:
            item = Unparsed(name, feat.column, feat.transform, *unread[name])
            if item.unparsed:
                log.warning("%s", item.line().strip())
            out.append(item)
        elif name in by_name:
            out.append(by_name[name])
    return out


def equality_codes(spec: MatchSpec) -> tuple[set[str], set[str]]:
    """(features given integer codes, comparison features given null flags): see codes.py."""
    conditions = [S.gamma_expr(spec, comp) for comp in spec.comparisons] + [tf_select(spec)[1]]
    candidates = [n for n, f in spec.features.items() if f.column is not None and f.transform != "date"]
    return codes.choose(conditions, candidates, {comp.feature for comp in spec.comparisons})


def load_records(
    con: duckdb.DuckDBPyConnection,
    spec: MatchSpec,
    holder: list[pl.DataFrame],
    previous: pl.DataFrame | None,
    with_golden: bool,
) -> Loaded:
    """Table `__rec`: one row per record with its features, block keys and term frequencies.

    `holder` carries the only reference to the input, so it is freed as soon as features exist."""
    t0 = time.perf_counter()
    frame = holder.pop()
    missing = [c for c in spec.input_columns() if c not in frame.columns]
    if missing:
        raise InputError(
            f"input lacks column(s) {missing} needed by spec `{spec.entity}` (has: {frame.columns})"
        )
    frame = frame.select(spec.input_columns()).with_columns(pl.col(spec.record_id).cast(pl.String))
    if frame.height == 0:
        raise InputError("the input has no records (an empty or header-only file)")
    rid = frame[spec.record_id]
    if rid.null_count():
        raise InputError(f"{rid.null_count()} record(s) have a null `{spec.record_id}`")
    needed = spec.needed_features(golden=with_golden)
    features = {
        n: f for n, f in spec.features.items() if n in needed or any(c.startswith(n + "__") for c in needed)
    }
    tf_features = {c.feature for c in spec.comparisons if c.term_frequency}
    coded, flagged = equality_codes(spec)
    unread: dict[str, tuple[int, int, tuple[str, ...]]] = {}
    feats = record_features(
        frame,
        features,
        required_pinyin(spec) & needed.union(n.removesuffix("__py") for n in needed),
        tf_features,
        coded & set(features),
        unread,
    )
    counted = {f: f + FREQ for f in tf_features if f + FREQ in feats.columns}
    unparsed = _unparsed(frame, features, feats, unread)
    # companions nobody reads (e.g. the sex encoded in an ID number) stay out of the table
    keep = needed | set(counted.values()) | {code_column(f) for f in coded}
    feats = feats.select([c for c in feats.columns if c in keep])
    # Raw columns that later steps read (golden and recency), unless a feature of that name replaces it.
    wanted = ({spec.golden.recency} | {a.column for a in spec.golden.attributes}) if with_golden else set()
    raw = [c for c in frame.columns if c in wanted and c not in feats.columns and c != spec.record_id]
    # __rid = rank of the record id: every later step sees the same numbering in any input order. One
    # sort of the ids gives both the ranks (its inverse permutation) and the ids in __rid order.
    order = ascending_order(con, rid)
    record_ids = rid.gather(order)
    ranks = np.empty(len(rid), dtype=np.int32)
    ranks[order] = np.arange(len(rid), dtype=np.int32)
    # __rid ranks the record ids, so duplicates are neighbours here (cheaper than a hash of all ids).
    same = record_ids.head(-1) == record_ids.tail(-1)
    if same.any():
        dup = record_ids.head(-1).filter(same).unique(maintain_order=True).head(5).to_list()
        raise InputError(f"`{spec.record_id}` is not unique, e.g. {dup}")
    base = pl.concat(
        [
            frame.select(pl.col(spec.record_id).alias("record_id"), *raw).insert_column(
                0, pl.Series("__rid", ranks)
            ),
            feats,
        ],
        how="horizontal",
    )
    n_records = len(ranks)
    del frame, feats, rid, order, ranks
    newest = pl.CompatLevel.newest()  # string views: handed to DuckDB without a copy
    tables = {"__in": base.to_arrow(compat_level=newest)}
    joins = []
    select = ["i.*"]
    if previous is not None and previous.height:
        prev = previous.select(pl.col("record_id").cast(pl.String), pl.col("entity_id").cast(pl.String))
        tables["__prev"] = prev.to_arrow()
        joins.append("LEFT JOIN __prev p ON p.record_id = i.record_id")
        select.append("p.entity_id IS NULL AS __new")
        select.append("p.entity_id AS __entity")
        incremental = True
    else:
        select.append("TRUE AS __new")
        incremental = False
    for name, table in tables.items():
        con.register(name, table)
    del base, tables
    sql_feats = [(n, f.sql) for n, f in spec.features.items() if f.sql is not None and n in needed]
    extra = "".join(f", ({expr}) AS {S.q(n)}" for n, expr in sql_feats)
    block_keys = "".join(f", {c}" for c in [*S.block_key_columns(spec), *tf_columns(spec, counted)])
    block_keys += "".join(f", ({S.q(f)} IS NULL) AS {S.q(null_column(f))}" for f in sorted(flagged))
    dropped = f" EXCLUDE ({', '.join(S.q(c) for c in counted.values())})" if counted else ""
    con.execute(
        f"CREATE OR REPLACE TABLE __rec AS WITH x AS (SELECT {', '.join(select)} FROM __in i {' '.join(joins)}), "
        f"y AS (SELECT *{extra} FROM x) SELECT *{dropped}{block_keys} FROM y"
    )
    for statement in S.block_cap_statements(spec, "__rec"):
        con.execute(statement)
    for name in ("__in", "__prev"):
        con.unregister(name)
    if incremental:
        group = "CASE WHEN __entity IS NULL THEN -1 ELSE dense_rank() OVER (ORDER BY __entity) END"
        initial: np.ndarray | None = by_rid(con, group, n_records).astype(np.int64)
        con.execute("ALTER TABLE __rec DROP COLUMN __entity")
    else:
        initial = None
    return Loaded(record_ids, len(record_ids), initial, incremental, time.perf_counter() - t0, unparsed)
