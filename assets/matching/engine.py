"""The matching engine: a small facade in the style of Splink's Linker.

    engine = MatchEngine(load_spec("schemas/matching/residents.yaml"))
    result = engine.resolve(frame)                       # full run: fit, predict, cluster, name
    later = engine.resolve(frame2, previous=result.assignments.select("record_id", "entity_id"),
                           model=result.model)           # nightly: only new rows are compared

Step by step: `load(frame)`, `fit()`, `predict()`, `cluster()`. Everything runs in one in-memory DuckDB
connection plus numpy; nothing here knows about warehouse tables or Dagster.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from assets.common import progress
from assets.matching import parse_report
from assets.matching import sql as S
from assets.matching.cluster import ClusterInput, cluster
from assets.matching.compare import compare_pairs
from assets.matching.complete import compare_pairs_by_index, missing_pairs
from assets.matching.em import FSModel
from assets.matching.golden import golden_records
from assets.matching.identity import assign_ids
from assets.matching.levels import prepare_levels
from assets.matching.links import best_links
from assets.matching.load import InputError, ascending_order, by_rid, load_records
from assets.matching.pairs import Pairs, candidate_pairs, random_pairs
from assets.matching.resolution import Resolution
from assets.matching.sanity import ModelRefused, SanityReport, check_model, explain_model
from assets.matching.scoring import pair_evidence, pair_scores
from assets.matching.spec import MatchSpec, SpecError, load_spec
from assets.matching.training import TrainingReport, train

__all__ = ["InputError", "MatchEngine", "ModelRefused", "Resolution"]

DEFAULT_MEMORY_LIMIT = "768MB"
log = logging.getLogger(__name__)


class _Step:
    """Wall and CPU seconds of one engine step, added to the engine's timings (CPU time counts every
    thread of the process, DuckDB's too: on a shared machine it is the steadier figure)."""

    def __init__(self, engine: MatchEngine, name: str) -> None:
        self.engine, self.name = engine, name

    def __enter__(self) -> _Step:
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        wall, cpu = time.perf_counter() - self.t0, time.process_time() - self.c0
        e = self.engine
        e._timings[self.name] = e._timings.get(self.name, 0.0) + wall
        e._cpu[self.name] = e._cpu.get(self.name, 0.0) + cpu
        log.info("step %s: %.2f s wall, %.2f s CPU", self.name, wall, cpu)


def _nullable(index: np.ndarray) -> pl.Series:
    """An index array with -1 for "none" as a polars series with nulls (for gather)."""
    s = pl.Series(index)
    return s.zip_with(s >= 0, pl.repeat(None, len(s), dtype=s.dtype, eager=True))


class MatchEngine:
    def __init__(
        self,
        spec: MatchSpec | str | Path,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: the environment the caller passes in (it holds the person-id salt that the spec's
        `identity.salt_env` names, and JIANFU_ENV); the engine reads no environment variable itself."""
        self.spec = spec if isinstance(spec, MatchSpec) else load_spec(spec)
        self.env: dict[str, str] = dict(env or {})
        self.con = duckdb.connect(":memory:")
        self.con.execute("SET preserve_insertion_order = false")
        self.con.execute("SET enable_progress_bar = false")  # no terminal output from a library
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
        self._pairs: Pairs | None = None
        self._p: np.ndarray | None = None  # match probability per candidate pair
        self._w: np.ndarray | None = None  # match weight per candidate pair
        self.training: TrainingReport | None = None
        self.sanity: SanityReport | None = None
        self.refused: FSModel | None = None  # a fitted model the sanity report refused
        self.unparsed: list[parse_report.Unparsed] = []  # per feature: raw values not read (load)
        self._labels: np.ndarray | None = None
        self._completed: tuple[Pairs, np.ndarray] | None = None  # the pairs completion added, scored
        self._initial: np.ndarray | None = None
        self._incremental = False
        self._with_golden = True
        self._timings: dict[str, float] = {}  # wall seconds per step
        self._cpu: dict[str, float] = {}  # CPU seconds per step (all threads of the process)
        self._levels = [len(c.levels) for c in self.spec.comparisons]

    # ------------------------------------------------------------------ load
    def load(self, frame: pl.DataFrame, previous: pl.DataFrame | None = None) -> int:
        """Prepare features for every record. With `previous` (record_id, entity_id), records listed there
        are old and keep their groups; the others are new."""
        return self._load([frame], previous)

    def _load(self, holder: list[pl.DataFrame], previous: pl.DataFrame | None) -> int:
        with _Step(self, "load"):
            loaded = load_records(self.con, self.spec, holder, previous, self._with_golden)
            prepare_levels(self.con, self.spec)
        self._record_ids, self.n = loaded.record_ids, loaded.n
        self._initial, self._incremental = loaded.initial, loaded.incremental
        self.unparsed = loaded.unparsed
        return self.n

    # ------------------------------------------------------------------ pairs
    def _blocked_pairs(self, restrict_new: bool) -> Pairs:
        if self._pairs is None:
            with _Step(self, "block_compare"):
                self._pairs = candidate_pairs(self.con, self.spec, "__rec", restrict_new)
            self.stats["pairs_by_rule"] = self._pairs.by_rule
            self.stats["candidate_pairs"] = int(len(self._pairs.a))
        return self._pairs

    # ------------------------------------------------------------------ public steps
    def fit(self, fallback: FSModel | None = None) -> FSModel:
        """Train as Splink does (u from random pairs, m by EM per blocking rule, λ from deterministic
        rules), then check the model. A model failing the sanity report is refused: `fallback` (the
        previous model) is kept if given, else ModelRefused is raised with the reasons."""
        if self.n == 0:
            raise InputError("no records loaded: call load(frame) first")
        pairs = self._blocked_pairs(restrict_new=self._incremental)
        if len(pairs.a) == 0:
            raise InputError("blocking produced no candidate pairs: nothing to estimate")
        with _Step(self, "random_pairs"):
            rg, rc, k = random_pairs(self.con, self.spec, "__rec", self.n)
        with _Step(self, "em"):
            report = TrainingReport(u_records=k)
            model = train(self.spec, pairs.gammas, pairs.masks, pairs.counts, rg, rc, self.n, report)
            self.training = report
            self.sanity = check_model(self.spec, model, report.not_estimated, report.u_level_counts)
        if not self.sanity.ok:
            self.refused = model
            kept = "the previous model"
            if fallback is None and self.spec.estimation.prior_model:
                fallback, kept = self._prior_model(), f"the prior model {self.spec.estimation.prior_model}"
            if fallback is None:
                raise ModelRefused(self.sanity)
            self._check_model(fallback)
            log.warning("%s; keeping %s", ModelRefused(self.sanity), kept)
            # m and u are kept; λ, the chance that two random records of *this* input match, is this
            # input's (from the deterministic rules).
            fallback = replace(fallback, lam=model.lam)
            self.sanity.notes.append(f"refused model replaced by {kept} (m and u; lambda of this input)")
            self.stats["model_refused"] = self.sanity.problems
            model = fallback
        self.model = model
        return model

    def _prior_model(self) -> FSModel:
        path = Path(self.spec.estimation.prior_model or "")
        try:
            return FSModel.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError) as err:
            raise SpecError(f"estimation.prior_model: cannot read {path}: {err}") from None

    def _score(self, model: FSModel | None = None) -> None:
        """Match weight and probability of every candidate pair: per pattern, plus the term-frequency
        adjustment of pairs agreeing exactly on a value of a `term_frequency` comparison."""
        if model is not None:
            self._check_model(model)
            self.model = model
        if self.model is None:
            self.fit()
        pairs = self._blocked_pairs(restrict_new=self._incremental)
        assert self.model is not None
        self._w, self._p = pair_scores(self.spec, self.model, pairs, pairs.tf_total)
        progress.report(
            log, f"{self.spec.entity}: candidate pairs scored", len(self._p), len(self._p), "pairs"
        )

    def predict(self, model: FSModel | None = None) -> pl.DataFrame:
        """Score the candidate pairs: record ids, match weight and probability, one row per pair."""
        self._score(model)
        assert self._record_ids is not None and self._pairs is not None and self._p is not None
        a, b = self._pairs.a, self._pairs.b
        order = np.argsort((a.astype(np.int64) << 32) | b.astype(np.int64))  # a stable order for readers
        return pl.DataFrame(
            {
                "record_id_l": self._record_ids.gather(a[order]),
                "record_id_r": self._record_ids.gather(b[order]),
                "match_weight": self._w[order],
                "match_probability": self._p[order],
            }
        )

    def explain(self) -> str:
        """The weights table (comparison x level: m, u, weight) and the sanity report, as text."""
        model = self.refused if self.refused is not None and self.model is None else self.model
        assert model is not None, "fit() first"
        text = explain_model(self.spec, model, self.sanity, self.training)
        unread = parse_report.report(self.unparsed)
        return f"{text}\n{unread}" if unread else text

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
        code = f"CASE WHEN {cond} THEN (hash({S.q(rule.feature)}) >> 1)::BIGINT ELSE -1 END"
        return by_rid(self.con, code, self.n).astype(np.int64)

    def cluster(self) -> np.ndarray:
        """Cluster label per record (in record-id order)."""
        if self._p is None:
            self._score()
        assert self._pairs is not None and self._p is not None
        a, b = self._pairs.a, self._pairs.b
        cl = self.spec.clustering
        with _Step(self, "cluster"):
            inp = ClusterInput(
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
            if cl.group_evidence == "profile":
                inp = replace(
                    inp,
                    evidence=pair_evidence(self.spec, self.model, [self._pairs], self._pairs.tf_total),
                    prior_log2=self.model.prior_log2,
                )
            labels = cluster(inp)
        if cl.complete_within >= 3:
            with _Step(self, "complete_clusters"):
                labels = self._complete_and_recluster(inp, labels, cl.complete_within)
        self._labels = labels
        return labels

    def _complete_and_recluster(self, inp: ClusterInput, labels: np.ndarray, max_size: int) -> np.ndarray:
        """Score the member pairs of small clusters that blocking never compared, and cluster again with
        them (assets/matching/complete.py): a chain A - W - B whose ends disagree is then seen."""
        assert self._pairs is not None
        ea, eb = missing_pairs(labels, inp.a, inp.b, max_size)
        self.stats["completed_pairs"] = int(len(ea))
        if len(ea) == 0:
            return labels
        extra = compare_pairs_by_index(self.con, self.spec, "__rec", ea, eb)
        _, p_extra = pair_scores(self.spec, self.model, extra, self._pairs.tf_total)
        self._completed = (extra, p_extra)
        return cluster(
            replace(
                inp,
                a=np.concatenate([inp.a, extra.a]),
                b=np.concatenate([inp.b, extra.b]),
                p=np.concatenate([inp.p, p_extra]),
                evidence=pair_evidence(self.spec, self.model, [self._pairs, extra], self._pairs.tf_total)
                if inp.evidence is not None
                else None,
            )
        )

    # ------------------------------------------------------------------ outputs
    def _best_links(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self._pairs is not None and self._labels is not None and self._p is not None
        return best_links(self.n, self._pairs.a, self._pairs.b, self._p, self._labels)

    def _agreed_lists(self) -> pl.Series:
        """Per comparison pattern, the comparisons whose level carries evidence for a match."""
        assert self.model is not None and self._pairs is not None
        weights = self.model.weights()
        names = [c.name for c in self.spec.comparisons]
        rows = [
            [n for n, g in zip(names, row, strict=True) if g >= 0 and weights[n][g] > 0]
            for row in self._pairs.gammas
        ]
        return pl.Series("agreed", rows, dtype=pl.List(pl.String))

    def resolve(
        self,
        frame: pl.DataFrame,
        previous: pl.DataFrame | None = None,
        model: FSModel | None = None,
        golden: bool = True,
        fallback: FSModel | None = None,
    ) -> Resolution:
        """Run everything. `previous` (record_id, entity_id) carries ids forward; with `model` too, the run
        is incremental: only pairs touching new records are compared and old entities are kept whole.
        `golden=False` skips the survivorship attributes (entities then hold counts and anchors only).
        `fallback`: the model kept when a fresh fit is refused by the sanity report."""
        t_all, c_all = time.perf_counter(), time.process_time()
        self._timings, self._cpu = {}, {}
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
            self.sanity = check_model(self.spec, model)
            if not self.sanity.ok:
                log.warning("the model given does not pass the sanity report: %s", self.sanity.problems)
        else:
            self.fit(fallback)
        with _Step(self, "score"):
            self._score()
        labels = self.cluster()
        step = _Step(self, "golden").__enter__()
        assert self._record_ids is not None
        lab = pl.DataFrame({"__rid": np.arange(self.n, dtype=np.int32), "cluster": labels})
        lab_arrow = lab.to_arrow()  # noqa: F841
        self.con.execute("CREATE OR REPLACE TEMP TABLE __labels AS SELECT * FROM lab_arrow")
        golden = golden_records(self.con, self.spec, "__labels", with_attributes=golden)
        step.__exit__()
        step = _Step(self, "ids").__enter__()
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
            salt=ident.resolved_salt(self.env),
            digits=ident.digits,
            per_cluster=per_cluster,
        )
        step.__exit__()
        with _Step(self, "best_links"):
            best_other, best_p, best_pat = self._best_links()
        step = _Step(self, "outputs").__enter__()
        new_flags = pl.Series(
            "__new", by_rid(self.con, "__new", self.n) if self._incremental else np.ones(self.n, dtype=bool)
        )
        slot = np.zeros(self.n, dtype=np.int64)
        slot[mapping["cluster"].to_numpy()] = np.arange(mapping.height)
        has = best_other >= 0
        weight = np.full(self.n, np.nan)
        weight[has] = self._w[best_pat[has]]
        other_idx = _nullable(best_other)
        pattern_of = np.full(self.n, -1, dtype=np.int64)
        pattern_of[has] = self._pairs.pattern[best_pat[has]]
        pat_idx = _nullable(pattern_of)
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
        # Entities in entity-id order: the mapping (one row per cluster, as golden) sorted once, then
        # golden joined onto it in that order (ids are unique).
        by_id = mapping[ascending_order(self.con, mapping["entity_id"])]
        entities = (
            by_id.join(golden, on="cluster", how="left", maintain_order="left")
            .drop("cluster")
            .select("entity_id", *(c for c in golden.columns if c != "cluster"))
        )
        step.__exit__()
        self._timings["total"] = time.perf_counter() - t_all
        self._cpu["total"] = time.process_time() - c_all
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
            "model_sanity": self.sanity.lines() if self.sanity is not None else [],
            "seconds": {k: round(v, 3) for k, v in self._timings.items()},
            "cpu_seconds": {k: round(v, 3) for k, v in self._cpu.items()},
        }
        return Resolution(assignments, entities, history, self.model, stats, self.explain())

    def compare(self, pairs: list[tuple[str, str]]) -> pl.DataFrame:
        """Level names per comparison for given (record_id, record_id) pairs of the loaded records: what
        the engine sees when it compares two rows ("null" when a side is missing)."""
        if self.n == 0:
            raise InputError("no records loaded: call load(frame) first")
        return compare_pairs(self.con, self.spec, pairs)

    def close(self) -> None:
        self.con.close()
        self._tmp.cleanup()
