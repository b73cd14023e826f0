"""The order in which `make test` hands xdist groups to its workers (tests/xdist_balance.py)."""

from __future__ import annotations

from pathlib import Path

from tests.xdist_balance import group_of, load_seconds, longest_first


def test_group_is_the_suffix_after_the_last_bracket_only() -> None:
    assert group_of("tests/a.py::test_x@tiny_world") == "tiny_world"
    assert group_of("tests/a.py::test_x[1]@ingest/test_b.py") == "ingest/test_b.py"
    # an @ inside a parameter is not a group: the test is its own unit, as xdist schedules it
    assert group_of("tests/a.py::test_x[user@host]") == "tests/a.py::test_x[user@host]"


def test_measured_groups_go_first_and_unlisted_ones_are_estimated_from_their_test_count() -> None:
    units = {
        "many_quick": {f"q{i}": False for i in range(40)},  # unlisted: 40 tests × 0.5 s = 20 s
        "one_slow": {"s": False},  # one test, but measured at 90 s: must not be left for the end
        "mid": {"m1": False, "m2": False},  # measured 30 s
        "tiny": {"t": False},  # unlisted, 0.5 s
    }
    order = [group for group, _ in longest_first(units, {"one_slow": 90.0, "mid": 30.0})]
    assert order == ["one_slow", "mid", "many_quick", "tiny"]


def test_a_missing_or_broken_figures_file_only_loses_the_figures(tmp_path: Path) -> None:
    assert load_seconds(tmp_path / "absent.json") == {}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert load_seconds(broken) == {}
    good = tmp_path / "good.json"
    good.write_text('{"attack/test_keys.py": 17.8, "odd": "n/a"}', encoding="utf-8")
    assert load_seconds(good) == {"attack/test_keys.py": 17.8}  # a non-number is skipped, not fatal


def test_the_committed_figures_load() -> None:
    assert load_seconds(), "tests/xdist_group_seconds.json is missing or unreadable"
