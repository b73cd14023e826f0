"""Stable ids: three nights give the ids of one night, shuffled input gives the same ids, merges are
recorded."""

from __future__ import annotations

import polars as pl
import pytest

from assets.matching import MatchEngine
from synth.persons import generate_rows
from tests.matching.conftest import records, valid_id

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt


@pytest.fixture(scope="module")
def spec(resident_spec):
    # a smaller random-pair sample for u keeps the test fast
    est = resident_spec.estimation.model_copy(update={"u_max_pairs": 50_000})
    return resident_spec.model_copy(update={"estimation": est})


@pytest.fixture(scope="module")
def data():
    rows = generate_rows(1500, seed=11)
    return rows.drop("person_id", "household_id", "noise"), rows.select("record_id", "person_id")


def resolve(spec, frame, previous=None, model=None):
    engine = MatchEngine(spec, env=SYNTHETIC_ENV)
    try:
        return engine.resolve(frame, previous=previous, model=model)
    finally:
        engine.close()


def test_three_nights_give_the_one_night_ids(spec, data):
    frame, _ = data
    one = resolve(spec, frame)
    month = frame["period"].str.slice(5, 2).cast(pl.Int32)
    previous, model = None, one.model  # nightly runs reuse the stored model
    history = []
    for upto in (3, 7, 10):
        night = resolve(spec, frame.filter(month <= upto), previous, model)
        previous = night.assignments.select("record_id", "entity_id")
        history.append(night.history)
    assert night.stats["incremental"]
    anchored = one.entities.filter(pl.col("anchor").is_not_null())["entity_id"]
    joined = previous.join(
        one.assignments.select("record_id", pl.col("entity_id").alias("one")), on="record_id"
    )
    assert joined.height == frame.height
    # The same persons: the partition of the rows is identical.
    pairs = joined.group_by("one").agg(pl.col("entity_id").n_unique().alias("k"))
    assert pairs["k"].max() == 1 and joined["entity_id"].n_unique() == joined["one"].n_unique()
    # Persons with a valid ID number have exactly the one-night id.
    with_anchor = joined.filter(pl.col("one").is_in(anchored.implode()))
    assert with_anchor.height > 0.8 * joined.height
    assert (with_anchor["entity_id"] == with_anchor["one"]).all()
    # A person first seen without a valid ID number was promoted to its anchored id once, on record.
    events = pl.concat(history)
    promoted = events.filter(pl.col("event") == "promote")["related_entity_id"]
    first_ids = set(resolve(spec, frame.filter(month <= 3), None, model).assignments["entity_id"].to_list())
    late_named = (
        set(with_anchor["one"].to_list())
        - first_ids
        - set(events.filter(pl.col("event") == "create")["entity_id"].to_list())
    )
    assert late_named <= set(promoted.to_list()), (
        len(late_named),
        promoted.len(),
        events.group_by("event").len(),
    )


def test_shuffled_input_gives_the_same_ids(spec, data):
    frame, _ = data
    a = resolve(spec, frame).assignments
    b = resolve(spec, frame.sample(fraction=1.0, shuffle=True, seed=5)).assignments
    assert a.select("record_id", "entity_id").equals(b.select("record_id", "entity_id"))


def test_incremental_run_compares_only_new_rows_and_records_a_merge(spec, data):
    frame, _ = data
    model = resolve(spec, frame).model
    pid = valid_id("31011519750101123")
    night1 = records([
        # Same person, nothing to link the two rows on: one row has only the phone, the other only the ID.
        {"record_id": "n1a", "person_name": "欧阳娜娜", "phone": "13600000007", "committee_code": "310115001001"},
        {"record_id": "n1b", "person_name": "欧阳娜娜", "id_number": pid, "committee_code": "310115002001"},
    ])  # fmt: skip
    first = resolve(spec, night1, model=model)
    ids1 = dict(zip(first.assignments["record_id"], first.assignments["entity_id"], strict=True))
    assert ids1["n1a"] != ids1["n1b"]
    # Night 2 brings a row with both: it bridges the two persons.
    night2 = pl.concat([night1, records([{"record_id": "n2c", "person_name": "欧阳娜娜", "id_number": pid,
                                          "phone": "13600000007", "committee_code": "310115002001"}])])  # fmt: skip
    second = resolve(spec, night2, previous=first.assignments.select("record_id", "entity_id"), model=model)
    assert second.stats["new_records"] == 1 and second.stats["candidate_pairs"] <= 2
    ids2 = dict(zip(second.assignments["record_id"], second.assignments["entity_id"], strict=True))
    assert ids2["n1a"] == ids2["n1b"] == ids2["n2c"]
    # The surviving id is the one named by the valid ID number; the other is recorded as merged into it.
    assert ids2["n2c"] == ids1["n1b"]
    merges = second.history.filter(pl.col("event") == "merge")
    assert merges.select("entity_id", "related_entity_id").rows() == [(ids1["n1a"], ids1["n1b"])]


def test_person_ids_follow_the_anchor_not_the_order(spec):
    """A new person with a valid ID is named from it: the same whichever rows arrive first."""
    pid = valid_id("31010119600202456")
    rows = records([
        {"record_id": "r1", "person_name": "陈静", "id_number": pid, "phone": "13700000001"},
        {"record_id": "r2", "person_name": "陈静", "id_number": pid},
    ])  # fmt: skip
    background = generate_rows(300, seed=3).drop("person_id", "household_id", "noise")
    model = resolve(spec, background).model
    both = resolve(spec, rows, model=model).assignments
    only_r2 = resolve(spec, rows.filter(pl.col("record_id") == "r2"), model=model).assignments
    assert both["entity_id"].n_unique() == 1
    assert only_r2["entity_id"][0] == both["entity_id"][0]


def test_vectorized_ids_equal_the_reference_hash():
    from assets.matching.identity import hash_ids, make_id

    keys = pl.Series(["anchor:31010119600202456X", "record:00ab"])
    got = hash_ids(keys, prefix="P", entity="resident", salt="s", digits=16).to_list()
    assert got == [make_id("P", "resident", "s", k, 16) for k in keys]
