"""What in a landing zone is a delivery: ignored files, district folders by name, periods, correction names."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from assets.ingest.landing import (
    FileRejected,
    LandingFile,
    current_deliveries,
    period_problem,
    resolve_committee_name,
    scan_landing,
)
from assets.ingest.rules import DELIVERY_RULES, load_delivery_rules

DISTRICTS = {"310101": "黄浦区", "310104": "徐汇区"}


def touch(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def rules():
    return load_delivery_rules()


def test_non_deliveries_are_ignored_with_a_reason_at_any_depth(tmp_path: Path, rules) -> None:
    folder = "310101/MZ01/2026-10"
    touch(tmp_path, f"{folder}/310101002001_名册.csv")  # the one real delivery
    touch(tmp_path, f"{folder}/Thumbs.db")  # Windows thumbnail cache
    touch(tmp_path, f"{folder}/.DS_Store")  # macOS folder metadata
    touch(tmp_path, f"{folder}/desktop.ini")
    touch(tmp_path, f"{folder}/~$310101002001_名册.xlsx")  # Excel lock file of an open workbook
    touch(tmp_path, f"{folder}/README.txt")  # notes beside the data
    touch(tmp_path, f"{folder}/说明.txt")
    touch(tmp_path, f"{folder}/310101002001_签字盖章.pdf")  # scanned signed form
    touch(tmp_path, f"{folder}/310101002001_签字盖章.JPG")  # photo of it, upper-case suffix
    touch(tmp_path, f"{folder}/310101002001_名册.csv.bak")  # editor backup
    touch(tmp_path, "310101/Thumbs.db")  # at the wrong depth, still just ignored (not bad_location)
    scan, unplaced = scan_landing(tmp_path, "310101", DISTRICTS, rules)
    assert [f.source_file for f in scan.files] == [f"{folder}/310101002001_名册.csv"]
    assert scan.misplaced == [] and unplaced == []
    reasons = {
        m.source_file.rsplit("/", 1)[1]: m.reason_code for m in scan.ignored if m.source_file.count("/") == 3
    }
    assert reasons == {
        "Thumbs.db": "system_file", ".DS_Store": "system_file", "desktop.ini": "system_file",
        "~$310101002001_名册.xlsx": "lock_or_hidden_file", "README.txt": "notes_file", "说明.txt": "notes_file",
        "310101002001_签字盖章.pdf": "not_a_data_file", "310101002001_签字盖章.JPG": "not_a_data_file",
        "310101002001_名册.csv.bak": "not_a_data_file",
    }  # fmt: skip
    assert all(m.status == "ignored" for m in scan.ignored) and len(scan.ignored) == 10


def test_district_folders_written_with_their_name(tmp_path: Path, rules) -> None:
    touch(tmp_path, "310101黄浦区/MZ01/2026-10/310101002001_a.csv")  # code + name
    touch(tmp_path, "黄浦区/MZ01/2026-09/310101002001_a.csv")  # name only
    touch(tmp_path, "310104_徐汇区/MZ01/2026-10/310104002001_a.csv")  # code _ name
    touch(tmp_path, "310101徐汇区/MZ01/2026-10/x.csv")  # planted: code and name disagree
    touch(tmp_path, "杂项/旧表.csv")  # planted: a folder that names no district
    touch(tmp_path, "319999/MZ01/2026-10/x.csv")  # planted: not a district code
    (tmp_path / "空文件夹").mkdir()  # planted: an empty unknown folder is reported as a folder
    touch(tmp_path, "名册.csv")  # planted: a loose file at the root
    touch(tmp_path, "catalog/forms.csv")  # the catalog has its own asset
    scan, unplaced = scan_landing(tmp_path, "310101", DISTRICTS, rules)
    assert [f.source_file for f in scan.files] == [
        "310101黄浦区/MZ01/2026-10/310101002001_a.csv",
        "黄浦区/MZ01/2026-09/310101002001_a.csv",
    ]
    assert {f.district_code for f in scan.files} == {"310101"}
    assert [(m.source_file, m.reason_code) for m in unplaced] == [
        ("310101徐汇区/MZ01/2026-10/x.csv", "district_name_mismatch"),
        ("319999/MZ01/2026-10/x.csv", "unknown_district"),
        ("名册.csv", "bad_location"),
        ("杂项/旧表.csv", "unknown_district_folder"),
        ("空文件夹/", "unknown_district_folder"),
    ]
    assert all(m.district_code is None and m.status == "rejected" for m in unplaced)


@pytest.mark.parametrize(
    ("period", "frequency", "problem"),
    [
        ("2026-10", "monthly", None),
        ("2026-13", "monthly", "does not fit"),  # planted: month 13
        ("2026-00", "monthly", "does not fit"),  # planted: month 0
        ("2026Q3", "quarterly", None),
        ("2026Q5", "quarterly", "does not fit"),  # planted: quarter 5
        ("2026-10-15", "adhoc", None),
        ("2026-11-31", "adhoc", "not a real date"),  # planted: November has 30 days
        ("2026-02-29", "adhoc", "not a real date"),  # planted: 2026 is no leap year
        ("2024-02-29", "adhoc", None),
        ("1899", "annual", "before 2000"),  # planted: a year no delivery comes from
        ("2027-10", "monthly", "starts after the run date"),  # planted: a year typed wrong
        ("2026Q4", "quarterly", None),  # the current quarter may be delivered before it ends
        ("2027Q1", "quarterly", "starts after the run date"),  # planted
        ("2026-11-29", "adhoc", None),  # collected today
        ("2026-11-30", "adhoc", "starts after the run date"),  # planted: tomorrow
    ],
)
def test_impossible_periods_are_named(period: str, frequency: str, problem: str | None, rules) -> None:
    got = period_problem(period, frequency, rules, as_of=dt.date(2026, 11, 29))
    assert (got is None) if problem is None else (problem in (got or ""))


@pytest.mark.parametrize(
    ("name", "core", "rank", "is_copy"),
    [
        ("310101002001_名册", "310101002001_名册", 0, False),
        ("310101002001_名册_更正", "310101002001_名册", 1, False),  # suffix
        ("更正_310101002001_名册", "310101002001_名册", 1, False),  # prefix
        ("【更正】310101002001_名册", "310101002001_名册", 1, False),  # bracketed prefix
        ("310101002001_名册（修改后）", "310101002001_名册", 1, False),
        ("310101002001_名册修正", "310101002001_名册", 1, False),  # glued, no separator
        ("310101002001_名册 v2", "310101002001_名册", 2, False),
        ("310101002001_名册_V3", "310101002001_名册", 3, False),
        ("310101002001_名册(2)", "310101002001_名册", 2, False),  # Windows' second save
        ("310101002001_名册_最终版", "310101002001_名册", 50, False),
        ("310101002001_名册终版", "310101002001_名册", 50, False),
        ("310101002001_名册 - 副本", "310101002001_名册", 0, True),  # a copy is no correction
        ("310101002001_名册 - 副本 (2)", "310101002001_名册", 0, True),  # second copy, still no correction
        ("长宁区_养老保险参保名册_2025", "长宁区_养老保险参保名册_2025", 0, False),  # a year is not a version
        (
            "居民信息修改登记表",
            "居民信息修改登记表",
            0,
            False,
        ),  # 修改 inside a form name, no separator... see note
    ],
)
def test_correction_marks_as_prefix_or_suffix(name: str, core: str, rank: int, is_copy: bool, rules) -> None:
    # Note on the last case: 修改 glued to the end of a stem would read as a mark, but here it is followed by
    # 登记表, so the stem does not end with it.
    assert rules.split_marks(name) == (core, rank, is_copy)


def test_corrections_supersede_by_rank_then_time(tmp_path: Path, rules) -> None:
    folder = "310101/MZ01/2026-10"
    touch(tmp_path, f"{folder}/更正_310101002001_名册.csv")  # prefix correction: its code is still found
    touch(tmp_path, f"{folder}/310101002001_名册.csv")  # written later, but no correction
    touch(tmp_path, f"{folder}/310101002001_名册_v2.csv")  # v2 (rank 2) beats 更正 (rank 1)
    touch(tmp_path, f"{folder}/310101002002_名册.csv")
    scan, _ = scan_landing(tmp_path, "310101", DISTRICTS, rules)
    assert {f.source_file.rsplit("/", 1)[1]: f.committee_code for f in scan.files}[
        "更正_310101002001_名册.csv"
    ] == ("310101002001")
    current, superseded = current_deliveries(scan.files)
    assert [f.source_file.rsplit("/", 1)[1] for f in current] == [
        "310101002001_名册_v2.csv",
        "310101002002_名册.csv",
    ]
    assert sorted(s.rsplit("/", 1)[1] for s in superseded) == [
        "310101002001_名册.csv",
        "更正_310101002001_名册.csv",
    ]


def _named(name: str) -> LandingFile:
    return LandingFile(Path(name), f"310101/MZ01/2026-10/{name}", "310101", "MZ01", "2026-10", None, "csv", 1, 0.0,
                       committee_name=name.split("_")[0])  # fmt: skip


def test_files_named_by_committee_name_resolve_or_are_rejected(rules) -> None:
    by_core = {("310101", "云南中路"): ["310101002001"], ("310101", "北京"): ["310101013003", "310101099001"]}
    for spelling in ("云南中路居委会", "云南中路居委", "云南中路居民委员会", "云南中路社区"):
        assert (
            resolve_committee_name(_named(f"{spelling}_名册.csv"), by_core, rules).committee_code
            == "310101002001"
        )
    with pytest.raises(FileRejected) as info:
        resolve_committee_name(_named("不存在居委会_名册.csv"), by_core, rules)  # planted: no such committee
    assert info.value.reason_code == "unknown_committee_name" and "不存在居委会" in info.value.message
    with pytest.raises(FileRejected) as info:
        resolve_committee_name(
            _named("北京居委_名册.csv"), by_core, rules
        )  # planted: two committees named 北京
    assert info.value.reason_code == "ambiguous_committee_name"
    # A token ending only in 社区 that names no committee is part of a form name: the file stays district-wide.
    assert resolve_committee_name(_named("老年社区_名册.csv"), by_core, rules).committee_code is None


def test_bad_rules_fail_with_the_file_and_entry_named(tmp_path: Path) -> None:
    data = yaml.safe_load(DELIVERY_RULES.read_text(encoding="utf-8"))
    data["corrections"]["numbered"] = "[v(\\d+"  # planted: unbalanced bracket
    bad = tmp_path / "delivery.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="(?s)delivery.yaml.*numbered"):
        load_delivery_rules(bad)
