"""The matching engine: a small facade in the style of Splink's Linker.

    engine = MatchEngine(load_spec("schemas/matching/residents.yaml"))
    result = engine.resolve(frame)                       # full run: fit, predict, cluster, name
    later = engine.resolve(frame2, previous=result.assignments.select("record_id", "entity_id"),
                           model=result.model)           # nightly: only new rows are compared

Step by step: `load(frame)`, `fit()`, `predict()`, `cluster()`. Everything runs in one in-memory DuckDB
connection plus numpy; nothing here knows about warehouse tables or Dagster.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from assets.matching import sql as S
from assets.matching.cluster import ClusterInput, cluster
from assets.matching.em import FSModel, fit_em
from assets.matching.identity import assign_ids
from assets.matching.spec import MatchSpec, SpecError, load_spec
from assets.matching.transforms import feature_lookups

DEFAULT_MEMORY_LIMIT = "768MB"


def _nullable(index: np.ndarray) -> pl.Series:
    """An index array with -1 for "none" as a polars series with nulls (for gather)."""
    s = pl.Series(index)
    return s.zip_with(s >= 0, pl.repeat(None, len(s), dtype=s.dtype, eager=True))


class InputError(ValueError):
    """The input frame does not fit the spec (missing columns, duplicate record ids)."""


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


class MatchEngine:
    def __init__(
        self,
        spec: MatchSpec | str | Path,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.spec = spec if isinstance(spec, MatchSpec) else load_spec(spec)
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET preserve_insertion_order = false")
        self._tmp = tempfile.TemporaryDirectory(prefix="jianfu-match-")
        self.con.execute(f"SET temp_directory = '{self._tmp.name}'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # DuckDB keeps finished hash tables cached up to its limit (80% of RAM by default); a bound keeps
        # the process small and lets large joins spill instead.
        self.con.execute(f"SET memory_limit = '{memory_limit or DEFAULT_MEMORY_LIMIT}'")
        self.model: FSModel | None = None
        self.n = 0
        self.stats: dict[str, object] = {}
        self._record_ids: pl.Series | None = None
        self._pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # a, b, pattern code
        self._p: np.ndarray | None = None
        self._patterns: np.ndarray | None = None  # decoded gamma per unique code
        self._codes: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._initial: np.ndarray | None = None
        self._incremental = False
        self._with_golden = True
        self._timings: dict[str, float] = {}
        self._levels = [len(c.levels) for c in self.spec.comparisons]

    # ------------------------------------------------------------------ load
    def _required_pinyin(self) -> set[str]:
        need = set()
        for comp in self.spec.comparisons:
            for level in comp.levels:
                if level.kind == "pinyin_equal":
                    need.add(level.feature or comp.feature)
        refs = [k for r in self.spec.blocking for k in r.keys]
        refs += [a.column for a in self.spec.golden.attributes]
        refs += [f.sql or "" for f in self.spec.features.values()]
        for name, feat in self.spec.features.items():
            if feat.column is not None and feat.transform == "text":
                if any(f"{name}__py" in r for r in refs):
                    need.add(name)
        return need

    def load(self, frame: pl.DataFrame, previous: pl.DataFrame | None = None) -> int:
        """Prepare features for every record. With `previous` (record_id, entity_id), records listed there
        are old and keep their groups; the others are new."""
        return self._load([frame], previous)

    def _load(self, holder: list[pl.DataFrame], previous: pl.DataFrame | None) -> int:
        """`holder` carries the only reference to the input, so it is freed as soon as features exist."""
        t0 = time.perf_counter()
        frame = holder.pop()
        spec = self.spec
        missing = [c for c in spec.input_columns() if c not in frame.columns]
        if missing:
            raise InputError(
                f"input lacks column(s) {missing} needed by spec `{spec.entity}` (has: {frame.columns})"
            )
        frame = frame.select(spec.input_columns()).with_columns(pl.col(spec.record_id).cast(pl.String))
        rid = frame[spec.record_id]
        if rid.null_count():
            raise InputError(f"{rid.null_count()} record(s) have a null `{spec.record_id}`")
        if rid.n_unique() != frame.height:
            dup = frame.filter(pl.col(spec.record_id).is_duplicated())[spec.record_id].head(5).to_list()
            raise InputError(f"`{spec.record_id}` is not unique, e.g. {dup}")
        needed = spec.needed_features(golden=self._with_golden)
        features = {
            n: f
            for n, f in spec.features.items()
            if n in needed or any(c.startswith(n + "__") for c in needed)
        }
        direct, lookups = feature_lookups(
            frame, features, self._required_pinyin() & needed.union(n.removesuffix("__py") for n in needed)
        )
        # companions nobody reads (e.g. the sex encoded in an ID number) stay out of the table
        lookups = {
            c: d.select([x for x in d.columns if x == "__src" or x in needed]) for c, d in lookups.items()
        }
        produced = set(direct.columns) | {c for d in lookups.values() for c in d.columns if c != "__src"}
        # Raw columns that later steps read (golden and recency), unless a feature of that name replaces it.
        wanted = (
            ({spec.golden.recency} | {a.column for a in spec.golden.attributes})
            if self._with_golden
            else set()
        )
        raw = [c for c in frame.columns if c in wanted and c not in produced and c != spec.record_id]
        base = pl.concat(
            [
                # __rid = rank of the record id: every later step sees the same numbering in any input order.
                frame.select(
                    (pl.col(spec.record_id).rank("ordinal") - 1).cast(pl.Int32).alias("__rid"),
                    pl.col(spec.record_id).alias("record_id"),
                    *dict.fromkeys([*raw, *lookups]),
                ),
                direct,
            ],
            how="horizontal",
        )
        del frame
        newest = pl.CompatLevel.newest()  # string views: handed to DuckDB without a copy
        tables = {"__in": base.to_arrow(compat_level=newest)}
        joins = []
        select = [
            "i.__rid",
            "i.record_id",
            *(f"i.{S.q(c)}" for c in raw),
            *(f"i.{S.q(c)}" for c in direct.columns),
        ]
        for k, (column, derived) in enumerate(lookups.items()):
            tables[f"__lk{k}"] = derived.to_arrow(compat_level=newest)
            joins.append(f"LEFT JOIN __lk{k} d{k} ON i.{S.q(column)} IS NOT DISTINCT FROM d{k}.__src")
            select.append(f"d{k}.* EXCLUDE (__src)")
        if previous is not None and previous.height:
            prev = previous.select(pl.col("record_id").cast(pl.String), pl.col("entity_id").cast(pl.String))
            tables["__prev"] = prev.to_arrow()
            joins.append("LEFT JOIN __prev p ON p.record_id = i.record_id")
            select.append("p.entity_id IS NULL AS __new")
            select.append("p.entity_id AS __entity")
            self._incremental = True
        else:
            select.append("TRUE AS __new")
            self._incremental = False
        for name, table in tables.items():
            self.con.register(name, table)
        del base, lookups, direct, tables
        sql_feats = [(n, f.sql) for n, f in spec.features.items() if f.sql is not None and n in needed]
        extra = "".join(f", ({expr}) AS {S.q(n)}" for n, expr in sql_feats)
        block_keys = "".join(f", {c}" for c in S.block_key_columns(spec))
        self.con.execute(
            f"CREATE OR REPLACE TABLE __rec AS WITH x AS (SELECT {', '.join(select)} FROM __in i {' '.join(joins)}), "
            f"y AS (SELECT *{extra} FROM x) SELECT *{block_keys} FROM y"
        )
        for statement in S.block_cap_statements(spec, "__rec"):
            self.con.execute(statement)
        for name in ("__in", "__prev", *(f"__lk{k}" for k in range(len(joins)))):
            self.con.unregister(name)
        self._record_ids = self.con.sql("SELECT record_id FROM __rec ORDER BY __rid").pl()["record_id"]
        self.n = len(self._record_ids)
        if self._incremental:
            res = self.con.execute(
                "SELECT CASE WHEN __entity IS NULL THEN -1 ELSE dense_rank() OVER (ORDER BY __entity) END AS g "
                "FROM __rec ORDER BY __rid"
            ).fetchnumpy()
            self._initial = np.asarray(res["g"], dtype=np.int64)
            self.con.execute("ALTER TABLE __rec DROP COLUMN __entity")
        else:
            self._initial = None
        self._timings["load"] = time.perf_counter() - t0
        return self.n

    # ------------------------------------------------------------------ pairs
    def _code_expr(self) -> str:
        """Mixed-radix code of the gamma vector (gamma+1 per comparison), one BIGINT per pair."""
        terms, radix = [], 1
        for comp, k in zip(self.spec.comparisons, self._levels, strict=True):
            terms.append(f"(({S.gamma_expr(self.spec, comp)}) + 1) * {radix}")
            radix *= k + 1
        return " + ".join(terms)

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        out = np.empty((len(codes), len(self._levels)), dtype=np.int64)
        rest = codes.astype(np.int64)
        for ci, k in enumerate(self._levels):
            out[:, ci] = rest % (k + 1) - 1
            rest = rest // (k + 1)
        return out

    def _blocked_pairs(self, restrict_new: bool) -> None:
        t0 = time.perf_counter()
        self.con.execute(
            f"CREATE OR REPLACE TABLE __cand AS {S.blocking_sql(self.spec, '__rec', restrict_new)}"
        )
        per_rule = dict(self.con.execute("SELECT rule, count(*) FROM __cand GROUP BY rule").fetchall())
        self.stats["pairs_by_rule"] = {
            r.name: int(per_rule.get(i, 0)) for i, r in enumerate(self.spec.blocking)
        }
        res = self.con.execute(
            f"SELECT c.rid_l, c.rid_r, {self._code_expr()} AS __code FROM __cand c "
            "JOIN __rec l ON l.__rid = c.rid_l JOIN __rec r ON r.__rid = c.rid_r"
        ).fetchnumpy()
        self.con.execute("DROP TABLE __cand")
        a = np.asarray(res["rid_l"], dtype=np.int32)
        b = np.asarray(res["rid_r"], dtype=np.int32)
        code = np.asarray(res["__code"], dtype=np.int64)
        # DuckDB returns the pairs in no fixed order; nothing downstream depends on it (EM counts patterns,
        # clustering sorts its links and rounds its means), so they are not sorted here.
        self._pairs = (a, b, code)
        uniq, inverse = np.unique(self._pairs[2], return_inverse=True)
        self._codes = uniq
        self._pattern_of_pair = inverse.astype(np.int32)
        self._patterns = self._decode(uniq)
        self.stats["candidate_pairs"] = int(len(a))
        self._timings["block_compare"] = time.perf_counter() - t0

    def _u_from_sample(self) -> list[np.ndarray]:
        """u start values from the cross product of a deterministic sample of records (random pairs are
        almost all non-matches)."""
        k = min(self.spec.estimation.u_sample_records, self.n)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE __samp AS SELECT * FROM __rec ORDER BY hash(record_id), record_id LIMIT {k}"
        )
        res = self.con.execute(
            f"SELECT {self._code_expr()} AS __code, count(*) AS __n FROM __samp l JOIN __samp r ON l.__rid < r.__rid "
            "GROUP BY __code"
        ).fetchnumpy()
        self.con.execute("DROP TABLE __samp")
        g = self._decode(np.asarray(res["__code"]))
        n = np.asarray(res["__n"], dtype=float)
        out = []
        alpha = self.spec.estimation.smoothing
        for ci, kk in enumerate(self._levels):
            mask = g[:, ci] >= 0
            counts = np.bincount(g[mask, ci], weights=n[mask], minlength=kk) + alpha
            out.append(counts / counts.sum())
        return out

    # ------------------------------------------------------------------ public steps
    def fit(self) -> FSModel:
        """Block, compare and estimate m, u and lambda by EM on the candidate pairs."""
        if self.n == 0:
            raise InputError("no records loaded: call load(frame) first")
        if self._pairs is None:
            self._blocked_pairs(restrict_new=self._incremental)
        t0 = time.perf_counter()
        assert self._patterns is not None
        counts = np.bincount(self._pattern_of_pair, minlength=len(self._codes)).astype(float)
        est = self.spec.estimation
        names = [c.name for c in self.spec.comparisons]
        levels = [[lv.name for lv in c.levels] for c in self.spec.comparisons]
        u0 = self._u_from_sample()
        if len(counts) == 0:
            raise InputError("blocking produced no candidate pairs: nothing to estimate")
        self.model = fit_em(
            names,
            levels,
            self._patterns,
            counts,
            u0,
            estimate_u=est.estimate_u,
            max_iterations=est.max_iterations,
            tolerance=est.tolerance,
            smoothing=est.smoothing,
        )
        self._timings["em"] = time.perf_counter() - t0
        return self.model

    def _score(self, model: FSModel | None = None) -> None:
        """Match weight and probability of every candidate pair (by pattern, then a gather)."""
        if model is not None:
            self._check_model(model)
            self.model = model
        if self.model is None:
            self.fit()
        if self._pairs is None:
            self._blocked_pairs(restrict_new=self._incremental)
        assert self.model is not None and self._patterns is not None
        weights = self.model.weights()
        pw = np.full(len(self._patterns), self.model.prior_log2)
        for ci, comp in enumerate(self.spec.comparisons):
            w = np.asarray(weights[comp.name])
            g = self._patterns[:, ci]
            pw += np.where(g >= 0, w[np.clip(g, 0, None)], 0.0)
        self._pattern_weight = pw
        self._pattern_p = 1.0 / (1.0 + np.exp2(-pw))
        self._pattern_p[self._never_link_patterns()] = 0.0
        self._p = self._pattern_p[self._pattern_of_pair]

    def _never_link_patterns(self) -> np.ndarray:
        """Mask of the agreement patterns a `threshold.never_link` rule forbids (level -1 is `missing`)."""
        assert self._patterns is not None
        mask = np.zeros(len(self._patterns), dtype=bool)
        index = {c.name: (ci, [lv.name for lv in c.levels]) for ci, c in enumerate(self.spec.comparisons)}
        for rule in self.spec.threshold.never_link:
            fires = np.ones(len(self._patterns), dtype=bool)
            for comp_name, levels in rule.items():
                ci, names = index[comp_name]
                codes = [-1 if lv == "missing" else names.index(lv) for lv in levels]
                fires &= np.isin(self._patterns[:, ci], codes)
            mask |= fires
        return mask

    def predict(self, model: FSModel | None = None) -> pl.DataFrame:
        """Score the candidate pairs: record ids, match weight and probability, one row per pair."""
        self._score(model)
        assert self._record_ids is not None and self._pairs is not None and self._p is not None
        a, b, _ = self._pairs
        order = np.argsort((a.astype(np.int64) << 32) | b.astype(np.int64))  # a stable order for readers
        a, b = a[order], b[order]
        return pl.DataFrame(
            {
                "record_id_l": self._record_ids.gather(a),
                "record_id_r": self._record_ids.gather(b),
                "match_weight": self._pattern_weight[self._pattern_of_pair[order]],
                "match_probability": self._p[order],
            }
        )

    def _check_model(self, model: FSModel) -> None:
        names = [c.name for c in self.spec.comparisons]
        levels = [[lv.name for lv in c.levels] for c in self.spec.comparisons]
        if model.comparisons != names or model.levels != levels:
            raise SpecError(
                f"the stored model does not fit spec `{self.spec.entity}`: model comparisons "
                f"{model.comparisons} / levels differ from the spec's {names}; run a full fit"
            )

    def _cannot_link_codes(self) -> np.ndarray | None:
        rule = self.spec.clustering.cannot_link
        if rule is None:
            return None
        cond = f"{S.q(rule.feature)} IS NOT NULL" + (f" AND {S.q(rule.when)}" if rule.when else "")
        # A 63-bit hash of the value stands for it (only equality matters; no sort needed).
        res = self.con.execute(
            f"SELECT CASE WHEN {cond} THEN (hash({S.q(rule.feature)}) >> 1)::BIGINT ELSE -1 END AS __code "
            "FROM __rec ORDER BY __rid"
        ).fetchnumpy()
        return np.asarray(res["__code"], dtype=np.int64)

    def cluster(self) -> np.ndarray:
        """Cluster label per record (in record-id order)."""
        if self._p is None:
            self._score()
        t0 = time.perf_counter()
        assert self._pairs is not None and self._p is not None
        a, b, _ = self._pairs
        cl = self.spec.clustering
        labels = cluster(
            ClusterInput(
                n=self.n,
                a=a,
                b=b,
                p=self._p,
                threshold=self.spec.threshold.match_probability,
                strong_link=cl.strong_link,
                min_average_link=cl.min_average_link,
                cannot_link=self._cannot_link_codes(),
                initial=self._initial,
            )
        )
        self._labels = labels
        self._timings["cluster"] = time.perf_counter() - t0
        return labels

    # ------------------------------------------------------------------ outputs
    def _best_links(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per record (by __rid): its strongest scored pair inside its own cluster (ties: the smaller
        other record) as (other __rid or -1, probability or nan, pattern index or -1)."""
        assert self._pairs is not None and self._labels is not None and self._p is not None
        a, b, _ = self._pairs
        same = self._labels[a] == self._labels[b]
        node = np.concatenate([a[same], b[same]])
        other = np.concatenate([b[same], a[same]])
        p = np.concatenate([self._p[same], self._p[same]])
        pat = np.concatenate([self._pattern_of_pair[same]] * 2)
        # max probability per record, then the smallest other record among the pairs reaching it
        best_p = np.full(self.n, -np.inf)
        np.maximum.at(best_p, node, p)
        top = p == best_p[node]
        best_other = np.full(self.n, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best_other, node[top], other[top])
        chosen = top & (other == best_other[node])
        best_pat = np.full(self.n, -1, dtype=np.int64)
        best_pat[node[chosen]] = pat[chosen]
        missing = best_pat < 0
        best_other[missing] = -1
        best_p[missing] = np.nan
        return best_other, best_p, best_pat

    def _agreed_lists(self) -> pl.Series:
        """Per comparison pattern, the comparisons whose level carries evidence for a match."""
        assert self.model is not None and self._patterns is not None
        weights = self.model.weights()
        names = [c.name for c in self.spec.comparisons]
        rows = [
            [n for n, g in zip(names, row, strict=True) if g >= 0 and weights[n][g] > 0]
            for row in self._patterns
        ]
        return pl.Series("agreed", rows, dtype=pl.List(pl.String))

    def _golden(self, labels_tbl: str, with_attributes: bool = True) -> pl.DataFrame:
        """Survivorship per attribute, in SQL; ties end on the smallest record id. Without attributes:
        record count and anchor only (what naming needs)."""
        g = self.spec.golden
        attrs = g.attributes if with_attributes else ()
        ident = self.spec.identity
        needed = {a.column for a in attrs} | {k.lstrip("-") for a in attrs for k in a.prefer}
        needed |= {g.recency if attrs else None, ident.anchor, ident.anchor_when}
        needed -= {None, "frequency", "recency", "record_id"}
        cols = "".join(f", r.{S.q(c)}" for c in sorted(needed))  # type: ignore[type-var]
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE __gbase AS SELECT c.cluster, r.__rid{cols} "
            f"FROM __rec r JOIN {labels_tbl} c ON c.__rid = r.__rid"
        )
        base = "SELECT * FROM __gbase"
        types = dict(self.con.execute("SELECT column_name, column_type FROM (DESCRIBE __gbase)").fetchall())

        def lowest_first(expr: str, typ: str) -> str:
            """A sort key where the preferred (highest) value is the smallest, nulls last."""
            if typ == "DATE" or typ.startswith("TIMESTAMP"):
                expr = f"epoch({expr})"
            elif typ == "VARCHAR":  # ISO dates in text (a CSV input); other text cannot rank
                expr = f"coalesce(TRY_CAST({expr} AS DOUBLE), epoch(TRY_CAST({expr} AS TIMESTAMP)))"
            return f"coalesce(-({expr})::DOUBLE, 'Infinity'::DOUBLE)"

        # One pass finds, per cluster and attribute, whether the records disagree at all (min <> max);
        # only those clusters go through survivorship. Each attribute then takes one aggregation to
        # (cluster, value) and one to the cluster's best value: arg_min over a struct orders
        # lexicographically, like ORDER BY ... but as a hash aggregate (no window).
        anchor_expr = None
        if ident.anchor:
            anchor_expr = (
                f"CASE WHEN {S.q(ident.anchor)} IS NOT NULL"
                + (f" AND {S.q(ident.anchor_when)}" if ident.anchor_when else "")
                + f" THEN {S.q(ident.anchor)}::VARCHAR END"
            )
        summary = ["count(*) AS record_count"]
        for i, attr in enumerate(attrs):
            summary += [f"min({S.q(attr.column)}) AS lo{i}", f"max({S.q(attr.column)}) AS hi{i}"]
        if anchor_expr:
            summary += [f"min({anchor_expr}) AS lo_anchor", f"max({anchor_expr}) AS hi_anchor"]
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE __gsum AS SELECT cluster, {', '.join(summary)} FROM __gbase GROUP BY cluster"
        )
        selects = ["SELECT * FROM __gsum"]
        names = ["__count"]
        for i, attr in enumerate(attrs):
            col = S.q(attr.column)
            varied = f"SELECT cluster FROM __gsum WHERE lo{i} <> hi{i}"
            aggs = ["count(*) AS frequency", "min(__rid) AS first_record"]  # __rid ranks the record ids
            keys = []
            for n, key in enumerate(attr.prefer):
                if key == "frequency":
                    keys.append(f"k{n} := -frequency")
                elif key == "recency":
                    if not g.recency:
                        raise SpecError(
                            f"golden attribute `{attr.name}` prefers recency but golden.recency is unset"
                        )
                    aggs.append(f"max({S.q(g.recency)}) AS recency")
                    keys.append(f"k{n} := {lowest_first('recency', types[g.recency])}")
                else:
                    c = key.lstrip("-")
                    agg = "max" if not key.startswith("-") else "min"
                    aggs.append(f"{agg}({S.q(c)}) AS {S.q('k_' + c)}")
                    expr = lowest_first(S.q("k_" + c), types[c].replace("BOOLEAN", "INTEGER"))
                    if types[c] == "BOOLEAN":
                        expr = lowest_first(f"{S.q('k_' + c)}::INTEGER", "INTEGER")
                    if key.startswith("-"):
                        expr = f"-({expr})"
                    keys.append(f"k{n} := {expr}")
            keys.append("tie := first_record")
            selects.append(
                f"SELECT cluster, arg_min(value, struct_pack({', '.join(keys)})) AS {S.q(attr.name)} FROM ("
                f"SELECT cluster, {col} AS value, {', '.join(aggs)} FROM ({base}) WHERE {col} IS NOT NULL "
                f"AND cluster IN ({varied}) GROUP BY cluster, {col}) GROUP BY cluster"
            )
            names.append(attr.name)
        if anchor_expr:
            selects.append(
                f"SELECT cluster, arg_min(value, struct_pack(f := -frequency, v := value, r := first_record)) AS anchor "
                f"FROM (SELECT cluster, {anchor_expr} AS value, count(*) AS frequency, min(__rid) AS first_record "
                f"FROM ({base}) WHERE {anchor_expr} IS NOT NULL AND cluster IN (SELECT cluster FROM __gsum "
                "WHERE lo_anchor <> hi_anchor) GROUP BY cluster, value) GROUP BY cluster"
            )
        sql = "WITH " + ", ".join(f"t{i} AS ({s})" for i, s in enumerate(selects))
        sql += " SELECT t0.cluster, t0.record_count"
        for i, attr in enumerate(attrs, start=1):
            sql += f", CASE WHEN t0.lo{i - 1} = t0.hi{i - 1} THEN t0.lo{i - 1} ELSE t{i}.{S.q(attr.name)} END AS {S.q(attr.name)}"
        if anchor_expr:
            sql += f", CASE WHEN t0.lo_anchor = t0.hi_anchor THEN t0.lo_anchor ELSE t{len(selects) - 1}.anchor END AS anchor"
        sql += " FROM t0"
        for i in range(1, len(selects)):
            sql += f" LEFT JOIN t{i} USING (cluster)"
        out = self.con.sql(sql).pl()
        self.con.execute("DROP TABLE __gbase")
        self.con.execute("DROP TABLE __gsum")
        if not anchor_expr:
            out = out.with_columns(pl.lit(None, dtype=pl.String).alias("anchor"))
        return out

    def resolve(
        self,
        frame: pl.DataFrame,
        previous: pl.DataFrame | None = None,
        model: FSModel | None = None,
        golden: bool = True,
    ) -> Resolution:
        """Run everything. `previous` (record_id, entity_id) carries ids forward; with `model` too, the run
        is incremental: only pairs touching new records are compared and old entities are kept whole.
        `golden=False` skips the survivorship attributes (entities then hold counts and anchors only)."""
        t_all = time.perf_counter()
        self._pairs = None
        self._p = None
        incremental = previous is not None and previous.height > 0 and model is not None
        self._with_golden = golden
        holder = [frame]
        del frame  # the caller may hand over its only reference: then the input is freed inside load
        self._load(holder, previous if incremental else None)
        if model is not None:
            self._check_model(model)
            self.model = model
        else:
            self.fit()
        self._score()
        labels = self.cluster()
        t0 = time.perf_counter()
        assert self._record_ids is not None
        lab = pl.DataFrame({"__rid": np.arange(self.n, dtype=np.int32), "cluster": labels})
        lab_arrow = lab.to_arrow()  # noqa: F841
        self.con.execute("CREATE OR REPLACE TEMP TABLE __labels AS SELECT * FROM lab_arrow")
        golden = self._golden("__labels", with_attributes=golden)
        self._timings["golden"] = time.perf_counter() - t0
        clusters = pl.DataFrame({"record_id": self._record_ids, "cluster": labels})
        # A label is the cluster's smallest __rid, and __rid ranks the record ids: the smallest record id
        # of each cluster is a gather, not a string aggregation.
        keys, sizes = np.unique(labels, return_counts=True)
        per_cluster = pl.DataFrame(
            {
                "cluster": keys,
                "min_record": self._record_ids.gather(keys),
                "record_count": sizes.astype(np.int64),
            }
        )
        ident = self.spec.identity
        mapping, history = assign_ids(
            clusters,
            golden.select("cluster", "anchor"),
            previous,
            prefix=ident.prefix,
            entity=self.spec.entity,
            salt=ident.resolved_salt(),
            digits=ident.digits,
            per_cluster=per_cluster,
        )
        self._timings["ids"] = time.perf_counter() - t0
        best_other, best_p, best_pat = self._best_links()
        self._timings["best_links"] = time.perf_counter() - t0
        new_flags = self.con.sql("SELECT __new FROM __rec ORDER BY __rid").pl()["__new"]
        slot = np.zeros(self.n, dtype=np.int64)
        slot[mapping["cluster"].to_numpy()] = np.arange(mapping.height)
        has = best_other >= 0
        weight = np.full(self.n, np.nan)
        weight[has] = self._pattern_weight[best_pat[has]]
        other_idx = _nullable(best_other)
        pat_idx = _nullable(best_pat)
        assignments = pl.DataFrame(
            {
                "record_id": self._record_ids,  # in __rid order = record id order
                "entity_id": mapping["entity_id"].gather(slot[labels]),
                "is_new": new_flags,
                "match_probability": pl.Series(best_p, nan_to_null=True),
                "match_weight": pl.Series(weight, nan_to_null=True),
                "matched_record_id": self._record_ids.gather(other_idx),
                "agreed": self._agreed_lists()
                .gather(pat_idx)
                .fill_null(pl.lit([], dtype=pl.List(pl.String))),
            }
        )
        entities = (
            golden.join(mapping, on="cluster", how="left")
            .drop("cluster")
            .select("entity_id", pl.exclude("entity_id"))
            .sort("entity_id")
        )
        self._timings["outputs"] = time.perf_counter() - t0
        self._timings["total"] = time.perf_counter() - t_all
        assert self.model is not None
        stats = {
            **self.stats,
            "records": self.n,
            "new_records": int(new_flags.sum()),
            "entities": entities.height,
            "links_above_threshold": int((self._p >= self.spec.threshold.match_probability).sum())
            if self._p is not None
            else 0,
            "lambda": self.model.lam,
            "em_iterations": self.model.iterations,
            "incremental": incremental,
            "seconds": {k: round(v, 3) for k, v in self._timings.items()},
        }
        return Resolution(assignments, entities, history, self.model, stats)

    def compare(self, pairs: list[tuple[str, str]]) -> pl.DataFrame:
        """Level names per comparison for given (record_id, record_id) pairs of the loaded records: what
        the engine sees when it compares two rows ("null" when a side is missing)."""
        if self.n == 0:
            raise InputError("no records loaded: call load(frame) first")
        want = pl.DataFrame(
            {"a": [p[0] for p in pairs], "b": [p[1] for p in pairs]}, schema={"a": pl.String, "b": pl.String}
        )
        want_arrow = want.to_arrow()  # noqa: F841
        gam = S.gamma_select(self.spec)
        frame = self.con.sql(
            f"SELECT w.a AS record_id_l, w.b AS record_id_r, {gam} FROM want_arrow w "
            "JOIN __rec l ON l.record_id = w.a JOIN __rec r ON r.record_id = w.b"
        ).pl()
        names = {comp.name: ["null", *[lv.name for lv in comp.levels]] for comp in self.spec.comparisons}
        return want.rename({"a": "record_id_l", "b": "record_id_r"}).join(
            frame.with_columns(
                [
                    pl.col(f"g_{c}")
                    .cast(pl.Int64)
                    .map_elements(lambda g, c=c: names[c][g + 1], return_dtype=pl.String)
                    .alias(c)
                    for c in names
                ]
            ).select("record_id_l", "record_id_r", *names),
            on=["record_id_l", "record_id_r"],
            how="left",
            maintain_order="left",
        )

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()
