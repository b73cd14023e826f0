"""Rosters for the next period: target rules on the coverage date, carry-forward, moves, removals, twins."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from assets.reflow.roster import applicable_pairs, build_rosters, next_periods
from assets.reflow.targets import TargetsFileError, age_on, load_targets

C1, C2 = "310101002001", "310101002002"


@pytest.fixture(scope="module")
def targets():
    return load_targets()


def persons(*rows: tuple[str, str, str | None, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [(pid, com, dt.date.fromisoformat(b) if b else None, sex) for pid, com, b, sex in rows],
        schema={"person_id": pl.String, "committee_code": pl.String, "birth_date": pl.Date, "sex": pl.String},
        orient="row",
    )


def last(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    schema = {
        "committee_code": pl.String,
        "form_code": pl.String,
        "period": pl.String,
        "person_id": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def pairs(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"committee_code": pl.String, "form_code": pl.String, "period": pl.String},
                        orient="row")  # fmt: skip


def on(roster: pl.DataFrame, committee: str, form: str) -> dict[str, str]:
    part = roster.filter((pl.col("committee_code") == committee) & (pl.col("form_code") == form))
    return dict(part.filter(pl.col("status") == "on").select("person_id", "reason").iter_rows())


def dropped(roster: pl.DataFrame, committee: str, form: str) -> dict[str, str]:
    part = roster.filter((pl.col("committee_code") == committee) & (pl.col("form_code") == form))
    return dict(part.filter(pl.col("status") == "dropped").select("person_id", "reason").iter_rows())


def test_birthday_on_the_coverage_date_counts(targets) -> None:
    # MZ01 (高龄, age >= 80, enrol) for 2026-11: coverage date is the period's last day, 2026-11-30
    people = persons(
        ("turns80", C1, "1946-11-30", "女"),  # planted: 80th birthday exactly on the coverage date → on
        ("day_after", C1, "1946-12-01", "男"),  # planted: one day short → not listed at all (never was on it)
        ("leap", C1, "1946-02-28", "男"),
        ("no_birth", C1, None, "男"),  # planted: age unknown → not enrolled by an age rule
    )
    roster = build_rosters(pairs((C1, "MZ01", "2026-11")), last(), people, targets)
    assert on(roster, C1, "MZ01") == {"turns80": "enrolled:高龄老人（80周岁及以上）",
                                      "leap": "enrolled:高龄老人（80周岁及以上）"}  # fmt: skip
    assert dropped(roster, C1, "MZ01") == {}
    assert age_on(dt.date(1946, 11, 30), dt.date(2026, 11, 30)) == 80
    assert age_on(dt.date(1946, 12, 1), dt.date(2026, 11, 30)) == 79


def test_moved_mid_period_leaves_one_committee_and_joins_the_other(targets) -> None:
    # MZ02 (低保) cannot be enrolled from data: only carried forward. "mover" was on C1's October roster;
    # the golden record now places the person in C2 (a later delivery in the same period came from C2).
    people = persons(("mover", C2, "1960-05-05", "男"), ("stayer", C1, "1961-01-01", "女"))
    prev = last((C1, "MZ02", "2026-10", "mover"), (C1, "MZ02", "2026-10", "stayer"))
    roster = build_rosters(pairs((C1, "MZ02", "2026-11"), (C2, "MZ02", "2026-11")), prev, people, targets)
    assert on(roster, C1, "MZ02") == {"stayer": "carried_forward"}
    assert dropped(roster, C1, "MZ02") == {"mover": "moved_out"}
    assert on(roster, C2, "MZ02") == {"mover": "moved_in"}


def test_twins_are_two_rows(targets) -> None:
    # planted: twins share birth date, sex rule and committee; they are two persons, both listed on WJ05
    people = persons(("twin_a", C1, "2022-03-03", "男"), ("twin_b", C1, "2022-03-03", "男"))
    prev = last((C1, "WJ05", "2026Q3", "twin_a"), (C1, "WJ05", "2026Q3", "twin_b"))
    roster = build_rosters(pairs((C1, "WJ05", "2026Q4")), prev, people, targets)
    assert on(roster, C1, "WJ05") == {"twin_a": "carried_forward", "twin_b": "carried_forward"}


def test_aged_out_and_removed_persons_are_dropped_with_the_reason(targets) -> None:
    people = persons(
        ("seven", C1, "2019-12-31", "女"),  # 7 on 2026-12-31 (WJ05 is 0-6) → aged_out
        ("six", C1, "2020-01-01", "男"),  # still 6 on 2026-12-31 → stays
        ("died", C1, "2021-06-01", "女"),  # staff removed with 死亡 on an earlier return → off every form
    )
    prev = last(*[(C1, "WJ05", "2026Q3", p) for p in ("seven", "six", "died")])
    exits = pl.DataFrame(
        {"person_id": ["died"], "committee_code": [C1], "form_code": ["GA01"], "reason": ["死亡"]}
    )
    roster = build_rosters(pairs((C1, "WJ05", "2026Q4")), prev, people, targets, exits)
    assert on(roster, C1, "WJ05") == {"six": "carried_forward"}
    assert dropped(roster, C1, "WJ05") == {"seven": "aged_out", "died": "removed:死亡"}


def test_sex_rule_and_committee_kind(targets) -> None:
    people = persons(("woman", C1, "1990-01-01", "女"), ("man", C1, "1990-01-01", "男"))
    roster = build_rosters(pairs((C1, "WJ04", "2026")), last(), people, targets)
    assert set(on(roster, C1, "WJ04")) == {"woman"}
    committees = pl.DataFrame({"committee_code": [C1, C2], "committee_kind": ["居委会", "村委会"]})
    forms = pl.DataFrame({"form_code": ["MZ06", "NY01", "MZ01"], "target": ["居委会", "村委会", "全部"]})
    got = applicable_pairs(committees, forms, {"MZ06": "2026Q4", "NY01": "2026", "MZ01": "2026-11"}, targets)
    assert sorted(got.select("committee_code", "form_code").iter_rows()) == [
        (C1, "MZ01"), (C1, "MZ06"), (C2, "MZ01"), (C2, "NY01")]  # fmt: skip


def test_next_periods_follow_the_frequency(targets) -> None:
    got = next_periods({"A": "2026-12", "B": "2026Q4", "C": "2025", "D": "2026-09-05"},
                       {"A": "monthly", "B": "quarterly", "C": "annual", "D": "adhoc"}, targets)  # fmt: skip
    # adhoc: the 1st of the month after the latest monthly/quarterly period (2026-12-31)
    assert got == {"A": "2027-01", "B": "2027Q1", "C": "2026", "D": "2027-01-01"}


def test_bad_targets_file_names_file_and_entry(tmp_path: Path) -> None:
    bad = tmp_path / "targets.yaml"
    bad.write_text("version: 1\nnext_period: {monthly: month}\nforms:\n  MZ01: {age: {min: 90, max: 80}, sex: M}\n",
                   encoding="utf-8")  # fmt: skip
    with pytest.raises(TargetsFileError) as err:
        load_targets(bad)
    text = str(err.value)
    assert str(bad) in text and "forms.MZ01.sex" in text and "age.min 90 > age.max 80" in text


def test_age_unknown_is_kept_when_carried_but_never_enrolled(targets) -> None:
    people = persons(("known", C1, None, "女"))
    roster = build_rosters(
        pairs((C1, "MZ01", "2026-11")), last((C1, "MZ01", "2026-10", "known")), people, targets
    )
    assert on(roster, C1, "MZ01") == {"known": "carried_forward (age_unknown)"}
