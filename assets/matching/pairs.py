"""Candidate pairs and random pairs, as comparison patterns.

Each candidate pair gets one BIGINT code: its comparison levels (gamma, mixed radix) plus a bit mask of
the blocking rules it satisfies (EM trains one session per rule). Pairs are summarised by their distinct
codes, so estimation works on a few hundred rows whatever the number of pairs. Random pairs (for u) are
the cross product of a seeded sample of records.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from assets.matching import codes
from assets.matching import sql as S
from assets.matching.spec import MatchSpec


@dataclass
class Pairs:
    """Candidate pairs (a < b, record indexes) and their patterns.

    gammas/masks/counts are per distinct pattern; `pattern` maps each pair to its row there; `tf` holds,
    per term-frequency comparison index, how many records hold the pair's value when it agrees exactly
    (else nan), and `tf_total` the records with a value."""

    a: np.ndarray
    b: np.ndarray
    pattern: np.ndarray
    gammas: np.ndarray
    masks: np.ndarray
    counts: np.ndarray
    tf: dict[int, np.ndarray] = field(default_factory=dict)
    tf_total: dict[int, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


class Coder:
    """Packs and unpacks the gamma vector of a spec's comparisons."""

    def __init__(self, spec: MatchSpec, columns: Collection[str] = ()):
        self.spec = spec
        self.columns = columns  # the record table's columns (integer codes: sql.gamma_expr)
        self.levels = [len(c.levels) for c in spec.comparisons]
        self.radix = math.prod(k + 1 for k in self.levels)

    def gamma_code(self) -> str:
        terms, radix = [], 1
        for comp, k in zip(self.spec.comparisons, self.levels, strict=True):
            terms.append(f"(({S.gamma_expr(self.spec, comp, self.columns)}) + 1) * {radix}")
            radix *= k + 1
        return " + ".join(terms)

    def decode(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(gammas, rule masks) of codes."""
        codes = codes.astype(np.int64)
        rest = codes % self.radix
        out = np.empty((len(codes), len(self.levels)), dtype=np.int64)
        for ci, k in enumerate(self.levels):
            out[:, ci] = rest % (k + 1) - 1
            rest = rest // (k + 1)
        return out, codes // self.radix


def tf_columns(spec: MatchSpec, counted: dict[str, str] | None = None) -> list[str]:
    """Per term-frequency comparison, `__tf_<i>`: how many records hold the feature's value. `counted`
    maps features to a column already holding that count (see transforms.feature_lookups); the others
    are counted by a window."""
    out = []
    for ci, comp in enumerate(spec.comparisons):
        if comp.term_frequency:
            f = S.q(comp.feature)
            if counted and comp.feature in counted:
                out.append(f"{S.q(counted[comp.feature])} AS __tf_{ci}")
                continue
            out.append(
                f"CASE WHEN {f} IS NOT NULL THEN (count(*) OVER (PARTITION BY {f}))::DOUBLE END AS __tf_{ci}"
            )
    return out


def _patterns(code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(code, return_inverse=True, return_counts=True), without its sort when the codes are
    small non-negative integers (the usual case: a few levels per comparison, a few rule bits): a count
    per possible code and a lookup table give the same three arrays in two linear passes."""
    if len(code) == 0 or code.min() < 0 or code.max() >= max(1 << 22, 4 * len(code)):
        return np.unique(code, return_inverse=True, return_counts=True)
    tally = np.bincount(code)
    uniq = np.flatnonzero(tally)
    lookup = np.zeros(len(tally), dtype=np.int64)
    lookup[uniq] = np.arange(len(uniq))
    return uniq.astype(np.int64), lookup[code], tally[uniq]


def tf_select(spec: MatchSpec, columns: Collection[str] = ()) -> tuple[list[int], str]:
    """The term-frequency comparisons and the select-list items giving each pair's frequency of the value it
    agrees on (`__tf_<i>`, the larger of the two sides), for a join of pairs `l` and `r`."""
    tf_idx = [ci for ci, c in enumerate(spec.comparisons) if c.term_frequency]
    tf_sel = "".join(
        f", CASE WHEN l.{S.q(spec.comparisons[ci].feature)} = r.{S.q(spec.comparisons[ci].feature)} "
        f"THEN greatest(l.__tf_{ci}, r.__tf_{ci}) END AS __tf_{ci}"
        for ci in tf_idx
    )
    return tf_idx, codes.rewrite(tf_sel, *S.table_codes(columns)) if columns else tf_sel


def decode_pairs(res: dict[str, np.ndarray], coder: Coder, tf_idx: list[int], **extra) -> Pairs:
    """Pairs from fetched pair rows (`rid_l`, `rid_r`, `__code`, `__tf_<i>`): each pair's pattern index, the
    patterns' counts, gammas and masks, and the term frequencies as floats (NaN where the pair does not
    agree). `extra` sets the remaining fields (tf_total, by_rule, seconds)."""
    uniq, inverse, counts = _patterns(np.asarray(res["__code"], dtype=np.int64))
    gammas, masks = coder.decode(uniq)
    tf = {}
    for ci in tf_idx:
        col = res[f"__tf_{ci}"]
        tf[ci] = np.asarray(
            np.ma.filled(col.astype(float), np.nan) if np.ma.isMaskedArray(col) else col, dtype=float
        )
    return Pairs(
        a=np.asarray(res["rid_l"], dtype=np.int32),
        b=np.asarray(res["rid_r"], dtype=np.int32),
        pattern=inverse.astype(np.int32).reshape(-1),
        gammas=gammas,
        masks=masks,
        counts=counts.astype(float),
        tf=tf,
        **extra,
    )


def masked_value_pairs(con: duckdb.DuckDBPyConnection, spec: MatchSpec, i: int, table: str) -> pl.DataFrame:
    """(`__a` < `__b`): the distinct key values of masked-window rule i that are equal once some window of
    `width` characters is masked (before the rule's filter, which sql._masked_pairs applies).

    Works on the distinct values (an ID number repeats across forms). Windows start at 0, step, 2*step, ...
    and the last one reaches the end of the key. Per window, the masked value is one 64-bit hash: values
    pair when window and hash agree (a collision adds a value pair that the comparison levels then judge;
    at ~10^6 masked keys the chance is ~10^-7). Nearly every masked key is held by one value: those never
    enter the self-join. In polars: a hash self-join of a few million integers, cheaper than DuckDB's window
    count over them."""
    rule = spec.blocking[i]
    mw = rule.masked_windows
    assert mw is not None
    key = S.q(rule.keys[0])
    values = con.sql(f"SELECT DISTINCT {key} AS v FROM {table} WHERE {key} IS NOT NULL").pl()["v"]
    text = values.cast(pl.String)
    length = text.str.len_chars()
    index = pl.Series("__i", np.arange(len(values), dtype=np.int64))
    parts = []
    for pos in range(0, 64, mw.step):
        keep = (length > pos) & ((pos == 0) | (length > pos + mw.width - mw.step))
        if not keep.any():
            continue
        t = text.filter(keep)
        masked = (t.str.slice(0, pos) + t.str.slice(pos + mw.width)).hash(seed=0)
        window = pl.repeat(pos, len(t), dtype=pl.Int32, eager=True)
        parts.append(pl.DataFrame({"__i": index.filter(keep), "__p": window, "__k": masked}))
    if not parts:
        return pl.DataFrame({"__a": values.head(0), "__b": values.head(0)})
    e = pl.concat(parts)
    size = pl.len().over("__p", "__k")
    e = e.filter((size >= 2) & (size <= rule.max_block_size) if rule.max_block_size else size >= 2)
    e = e.with_columns(values.gather(e["__i"]).alias("__v")).drop("__i")
    j = e.join(e, on=["__p", "__k"], suffix="_r").filter(pl.col("__v") < pl.col("__v_r"))
    return j.select(pl.col("__v").alias("__a"), pl.col("__v_r").alias("__b")).unique()


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str]:
    return frozenset(r[0] for r in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall())


def candidate_pairs(con: duckdb.DuckDBPyConnection, spec: MatchSpec, table: str, restrict_new: bool) -> Pairs:
    t0 = time.perf_counter()
    columns = table_columns(con, table)
    coder = Coder(spec, columns)
    masked = [i for i, r in enumerate(spec.blocking) if r.masked_windows is not None]
    for i in masked:
        con.register(S.masked_table(i), masked_value_pairs(con, spec, i, table).to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE __cand AS {S.blocking_sql(spec, table, restrict_new)}")
    for i in masked:
        con.unregister(S.masked_table(i))
    per_rule = dict(con.execute("SELECT rule, count(*) FROM __cand GROUP BY rule").fetchall())
    tf_idx, tf_sel = tf_select(spec, columns)
    res = con.execute(
        f"SELECT c.rid_l, c.rid_r, ({coder.gamma_code()}) + {coder.radix}::BIGINT * c.__mask AS __code"
        f"{tf_sel} FROM __cand c JOIN {table} l ON l.__rid = c.rid_l JOIN {table} r ON r.__rid = c.rid_r"
    ).fetchnumpy()
    con.execute("DROP TABLE __cand")
    totals = {
        ci: int(
            con.execute(f"SELECT count({S.q(spec.comparisons[ci].feature)}) FROM {table}").fetchall()[0][0]
        )
        for ci in tf_idx
    }
    return decode_pairs(
        res,
        coder,
        tf_idx,
        tf_total=totals,
        by_rule={r.name: int(per_rule.get(i, 0)) for i, r in enumerate(spec.blocking)},
        seconds=time.perf_counter() - t0,
    )


def random_pairs(
    con: duckdb.DuckDBPyConnection, spec: MatchSpec, table: str, n_records: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """(gammas, counts, sampled records) of the cross product of a seeded random sample of records,
    about `estimation.u_max_pairs` pairs (Splink's `estimate_u_using_random_sampling`)."""
    est = spec.estimation
    k = min(n_records, max(2, math.ceil(math.sqrt(2 * est.u_max_pairs))))
    coder = Coder(spec, table_columns(con, table))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __samp AS SELECT * FROM {table} "
        f"ORDER BY hash(record_id, {int(est.seed)}), record_id LIMIT {k}"
    )
    res = con.execute(
        f"SELECT {coder.gamma_code()} AS __code, count(*) AS __n FROM __samp l JOIN __samp r "
        "ON l.__rid < r.__rid GROUP BY __code"
    ).fetchnumpy()
    con.execute("DROP TABLE __samp")
    gammas, _ = coder.decode(np.asarray(res["__code"]))
    return gammas, np.asarray(res["__n"], dtype=float), k
