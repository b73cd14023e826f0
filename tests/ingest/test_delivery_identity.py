"""Which delivery counts, decided on files already read (pure: no warehouse, no files on disk)."""

from __future__ import annotations

from pathlib import Path

from assets.ingest import delivery
from assets.ingest.landing import LandingFile

FOLDER = "310101/MZ01/2026-10"


def lf(
    name: str, committee: str | None = None, rank: int = 0, mtime: float = 0.0, copy: bool = False
) -> LandingFile:
    return LandingFile(Path(name), f"{FOLDER}/{name}", "310101", "MZ01", "2026-10", committee, "csv", 1, mtime,
                       correction_rank=rank, is_copy=copy)  # fmt: skip


def test_same_bytes_in_one_folder_keep_one_file() -> None:
    original = lf("310101002001_名册.csv", "310101002001")
    copy = lf(
        "310101002001_名册 - 副本.csv", "310101002001", copy=True, mtime=9
    )  # planted: newer, but a copy
    other = lf("310101002002_名册.csv", "310101002002")
    dup = delivery.duplicates([(original, "h1"), (copy, "h1"), (other, "h2")])
    assert dup == {copy.source_file: original}


def test_same_bytes_in_another_period_is_only_a_warning() -> None:
    october = lf("310101002001_名册.csv", "310101002001")
    september = LandingFile(Path("x"), "310101/MZ01/2026-09/310101002001_名册.csv", "310101", "MZ01", "2026-09",
                            "310101002001", "csv", 1, 0.0)  # fmt: skip  # planted: last month's file re-sent
    assert delivery.duplicates([(october, "h"), (september, "h")]) == {}
    assert delivery.same_bytes_elsewhere([(october, "h"), (september, "h")]) == {
        october.source_file: [september.source_file],
        september.source_file: [october.source_file],
    }


def test_township_files_both_count_and_a_rollup_yields_to_committee_files() -> None:
    township_a = delivery.Usable(lf("南京东路街道_名册.csv"), ["310101002001", "310101002002"])
    township_b = delivery.Usable(
        lf("外滩街道_名册.csv"), ["310101013001"]
    )  # no committee in common: both count
    committee = delivery.Usable(lf("310101002001_名册.csv", "310101002001"), ["310101002001"])
    rollup = delivery.Usable(
        lf("黄浦区_汇总.csv", mtime=99), ["310101002001", "310101013001", "310101002006"]
    )
    lost = delivery.replacements([township_a, township_b, committee, rollup])
    # The committee's own file beats both district-wide files for 310101002001, even though the roll-up is newer;
    # between the two district-wide files the newer roll-up wins the committees they share.
    assert lost == {
        township_a.file.source_file: {"310101002001": committee.file.source_file},  # keeps 310101002002
        township_b.file.source_file: {"310101013001": rollup.file.source_file},
        rollup.file.source_file: {"310101002001": committee.file.source_file},
    }  # fmt: skip
    assert delivery.is_superseded(
        township_b, lost[township_b.file.source_file]
    )  # all its committees are elsewhere
    assert not delivery.is_superseded(
        rollup, lost[rollup.file.source_file]
    )  # 310101002006 is only in the roll-up


def test_a_declared_correction_beats_the_committee_file_and_ranks_compare() -> None:
    committee = delivery.Usable(lf("310101002001_名册.csv", "310101002001", mtime=50), ["310101002001"])
    fixed = delivery.Usable(lf("黄浦区_名册_更正.csv", rank=1), ["310101002001"])  # district-wide correction
    v2 = delivery.Usable(lf("310101002001_名册_v2.csv", "310101002001", rank=2), ["310101002001"])
    lost = delivery.replacements([committee, fixed, v2])
    assert lost == {
        committee.file.source_file: {"310101002001": v2.file.source_file},
        fixed.file.source_file: {"310101002001": v2.file.source_file},
    }
    assert delivery.main_replacer(lost[committee.file.source_file]) == v2.file.source_file


def test_an_empty_file_supersedes_nothing_and_dispositions_change_with_the_outcome() -> None:
    empty = delivery.Usable(lf("黄浦区_名册.csv"), [])  # planted: a district-wide file whose rows name nobody
    assert not delivery.is_superseded(empty, {})
    a = delivery.disposition("ingested", {"310101002001": "x.csv"})
    assert a == delivery.disposition("ingested", {"310101002001": "x.csv"})
    assert a != delivery.disposition("ingested", {"310101002001": "y.csv"})
    assert delivery.disposition("duplicate", None, "x.csv") != delivery.disposition(
        "duplicate", None, "y.csv"
    )


def test_committee_cells_resolve_whatever_ending_they_are_written_with() -> None:
    import polars as pl

    from assets.ingest.committees import Divisions

    divisions = Divisions.from_frame(
        pl.DataFrame(
            {
                "district_code": ["310101"] * 3,
                "district_name": ["黄浦区"] * 3,
                "township_name": ["南京东路街道"] * 3,
                "committee_code": ["310101002001", "310101002023", "310101013003"],
                "committee_name": ["云南中路居委会", "顺天村居委会", "北京居委会"],
            }
        )
    )
    for cell in ("云南中路居委会", "云南中路居委", "云南中路居民委员会", "云南中路社区", "云南中路"):
        assert divisions.resolve("310101", cell, None) == ("310101002001", None), cell
    for cell in ("顺天村居委会", "顺天村居委", "顺天村"):  # 村 belongs to this name: 顺天村 is not 顺天
        assert divisions.resolve("310101", cell, None) == ("310101002023", None), cell
    code, problem = divisions.resolve("310101", "不存在居委", None)  # planted: no such committee
    assert code is None and "不存在居委" in (problem or "")
