"""Training as Splink does: u from random pairs, m by EM per blocking rule, λ from deterministic rules,
term frequencies, and the sanity report that refuses a model that ran away."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from assets.matching import MatchEngine, ModelRefused
from assets.matching.em import FSModel
from assets.matching.sanity import check_model
from assets.matching.training import fixed_by_rule, remove_matches
from synth.persons import generate_rows

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt


@pytest.fixture(scope="module")
def rows():
    return generate_rows(3000, seed=5).drop("person_id", "household_id", "noise")


@pytest.fixture(scope="module")
def spec(resident_spec):
    est = resident_spec.estimation.model_copy(update={"u_max_pairs": 200_000})
    return resident_spec.model_copy(update={"estimation": est})


def _fit(spec, rows) -> MatchEngine:
    engine = MatchEngine(spec, env=SYNTHETIC_ENV)
    engine.load(rows)
    engine.fit()
    return engine


def test_training_is_seeded_and_passes_the_sanity_report(spec, rows):
    a, b = _fit(spec, rows), _fit(spec, rows.reverse())  # the same rows in another order
    for x, y in zip(a.model.u + a.model.m, b.model.u + b.model.m, strict=True):
        assert np.allclose(x, y)
    assert a.sanity.ok, a.sanity.problems
    other = spec.model_copy(update={"estimation": spec.estimation.model_copy(update={"seed": 7})})
    c = _fit(other, rows)
    assert not all(np.allclose(x, y) for x, y in zip(a.model.u, c.model.u, strict=True))  # another sample


def test_each_rule_leaves_out_the_comparisons_it_selects_on(spec):
    names = [c.name for c in spec.comparisons]
    index = {r.name: i for i, r in enumerate(spec.blocking)}
    fixed = {rule: {names[ci] for ci in fixed_by_rule(spec, index[rule])} for rule in index}
    # the ID also gives the birth date (dob = coalesce(birth, id__birth)): both are fixed on id_exact
    assert fixed["id_exact"] == {"id_number", "birth_date"}
    assert {"name", "birth_date"} <= fixed["name_dob"]
    assert "id_number" not in fixed["name_phone"] and "household" in fixed["name_phone"]


def test_u_without_the_matches_random_pairs_contain():
    # 1,000 random pairs: 12 agree; λ = 0.01 and m = 0.9 explain 9 of them as matches
    gammas = np.array([[0], [1]])
    counts = np.array([12.0, 988.0])
    u = remove_matches([np.array([0.012, 0.988])], [np.array([0.9, 0.1])], 0.01, gammas, counts, 0.5)
    assert u[0][0] == pytest.approx((0.012 - 0.009) / 0.99 / (u[0][0] + u[0][1]) * u[0].sum(), rel=1e-6)
    assert u[0][0] < 0.004


def test_a_model_that_ran_away_is_refused(spec, rows):
    engine = _fit(spec, rows)
    good = engine.model
    # planted: the exact-ID level worth less than a shared home, and the name levels out of order
    m = [x.copy() for x in good.m]
    u = [x.copy() for x in good.u]
    ids, name = good.comparisons.index("id_number"), good.comparisons.index("name")
    u[ids][0] = m[ids][0] / 2.0  # weight +1
    u[name][0], u[name][1] = u[name][1], u[name][0] * 1e-3
    bad = FSModel(good.comparisons, good.levels, m, u, good.lam)
    report = check_model(spec, bad)
    text = " ".join(report.problems)
    assert not report.ok
    assert "strong identifier `id_number`" in text and "`name`: level `pinyin_equal`" in text


def test_a_refused_fit_keeps_the_previous_model(resident_spec):
    # planted: 12 rows are far too few for u from random pairs; the fit must not be used as it is
    rows = generate_rows(12, seed=1).drop("person_id", "household_id", "noise")
    no_prior = resident_spec.estimation.model_copy(update={"prior_model": None})
    bare = resident_spec.model_copy(update={"estimation": no_prior})
    engine = MatchEngine(bare, env=SYNTHETIC_ENV)
    engine.load(rows)
    try:
        engine.fit()
    except ModelRefused as err:
        assert "fitted model refused" in str(err)
        previous = FSModel.from_dict(
            __import__("json").loads(open(resident_spec.estimation.prior_model, encoding="utf-8").read())
        )
        kept = engine.fit(fallback=previous)
        assert [list(x) for x in kept.m] == [list(x) for x in previous.m]
        assert "refused model replaced" in " ".join(engine.sanity.notes)
    else:  # the fit happened to pass: then it must really pass the report
        assert engine.sanity.ok


def test_a_rare_name_agreeing_says_more_than_a_common_one(resident_spec):
    # planted: 张伟 six times (three people, two rows each), 欧阳明辉 twice; everything else differs
    names = ["张伟"] * 6 + ["欧阳明辉"] * 2 + [f"李{c}" for c in "一二三四五六七八九十"]
    rows = pl.DataFrame(
        {
            "record_id": [f"r{i:02d}" for i in range(len(names))],
            "person_name": names,
            "committee_code": ["310101001001"] * len(names),
        }
    )
    cols = ["id_number", "sex", "birth_date", "birth_precision", "phone", "household_address",
            "residence_address", "period_start"]  # fmt: skip
    rows = rows.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in cols])
    prior = FSModel.from_dict(
        __import__("json").loads(open(resident_spec.estimation.prior_model, encoding="utf-8").read())
    )
    engine = MatchEngine(resident_spec, env=SYNTHETIC_ENV)
    engine.load(rows)
    pairs = engine.predict(prior)
    w = {(a, b): x for a, b, x in pairs.select("record_id_l", "record_id_r", "match_weight").iter_rows()}
    assert w[("r06", "r07")] > w[("r00", "r01")] + 1.0  # 欧阳明辉 (2 of 18) vs 张伟 (6 of 18)
