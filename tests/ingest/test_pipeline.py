"""One district's landing folder → warehouse tables: accounting, quarantine, reruns, corrections."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.common.warehouse import connect
from assets.ingest import pipeline
from assets.ingest.catalog import load_catalog
from assets.reference.divisions import load_divisions

FORMS = "\ufeff报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,高龄老人补贴名册,民政局,市级,月报,全部\n"
FIELDS = (
    "\ufeff报表编号,字段序号,字段名称,字段类型,是否必填\n"
    "MZ01,1,姓名,文本,是\nMZ01,2,身份证号,身份证号,是\nMZ01,3,出生日期,日期,否\n"
    "MZ01,4,性别,性别,否\nMZ01,5,补贴金额,整数,是\nMZ01,6,联系电话,电话,否\n"
)
COMMITTEE_FILE = "310101/MZ01/2026-10/310101002001_高龄老人补贴名册.csv"
ROWS = [
    "姓名,公民身份号码,出生日期,性别,补贴金额,联系电话",  # header uses a synonym for 身份证号
    "张 伟,310101194001011234,1940/1/1,男,300,+86 138-0013-8000",  # inner space; wrong check digit (1); +86
    "李娜,31010119400101124x,1940年1月1日,女,300,",  # lowercase x check digit: valid once upper-cased
    "王芳,310101400101128,19400101,男,300,13900139000",  # 15-digit ID (→ 18); 男 contradicts the ID's 女
    "刘洋,,1941-02-03,男,不详,",  # required 整数 holds 不详 → quarantined
    ",,,,300,",  # no name and no ID → quarantined
    ",,,,,",  # blank → skipped
    "合计,,,,900,",  # total → skipped
]


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (root / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    write(root, COMMITTEE_FILE, "\n".join(ROWS) + "\n", "gbk")
    return root


def write(root: Path, rel: str, text: str, encoding: str = "utf-8") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def ingest(con: duckdb.DuckDBPyConnection, root: Path, run_id: str, **kw: object) -> pipeline.DistrictResult:
    ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
    return pipeline.ingest_district(con, root, "310101", ctx, run_id, **kw)


def table(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def test_rows_end_in_exactly_one_place(landing: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        result = ingest(con, landing, "run-1")
        assert (result.rows_read, result.rows_staged, result.rows_quarantined, result.rows_skipped) == (
            8,
            3,
            2,
            3,
        )
        accounting = pipeline.file_accounting(con)
        assert accounting["unaccounted"].to_list() == [0]

        records = table(con, "SELECT * FROM staging.form_records ORDER BY row_number")
        assert records["person_name"].to_list() == ["张伟", "李娜", "王芳"]
        assert records["id_status"].to_list() == ["wrong_check_digit", "valid", "converted_15"]
        assert records["id_number"][0] == "310101194001011234"  # wrong check digit: kept as delivered
        assert "wrong_check_digit" in records["flags"][0].to_list()
        assert records["id_number"][1] == "31010119400101124X"  # upper-cased
        assert records["id_number"][2] == "310101194001011282"  # 19 inserted, check digit computed
        assert records["id_number_raw"][2] == "310101400101128"
        assert "sex_mismatch" in records["flags"][2].to_list()
        assert records["committee_code"].unique().to_list() == ["310101002001"]
        assert records["township_code"][0] == "310101002"

        values = table(con, "SELECT field_label, value_raw, value FROM staging.form_values WHERE record_id = "
                            f"'{records['record_id'][0]}' ORDER BY field_order")  # fmt: skip
        assert dict(zip(values["field_label"], values["value"], strict=True))["联系电话"] == "13800138000"
        assert dict(zip(values["field_label"], values["value"], strict=True))["出生日期"] == "1940-01-01"

        quarantine = table(
            con, "SELECT row_number, reason_code, field, message FROM quarantine.rows ORDER BY 1"
        )
        assert quarantine["reason_code"].to_list() == ["invalid_required_value", "no_identifier"]
        assert quarantine["field"][0] == "补贴金额"
        assert COMMITTEE_FILE in quarantine["message"][0] and "row 5" in quarantine["message"][0]
        skipped = table(con, "SELECT row_number, reason FROM raw.skipped_rows ORDER BY 1")
        assert skipped.rows() == [(1, "header"), (7, "blank"), (8, "total")]


def test_rerun_changes_nothing_and_full_refresh_rereads(landing: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ingest(con, landing, "run-1")
        before = table(con, "SELECT * FROM staging.form_records ORDER BY record_id")
        again = ingest(con, landing, "run-2")
        assert (again.files_read, again.files_kept) == (0, 1)
        assert table(con, "SELECT * FROM staging.form_records ORDER BY record_id").equals(
            before
        )  # run_id too
        ingest(con, landing, "run-3", full_refresh=True)
        after = table(con, "SELECT * FROM staging.form_records ORDER BY record_id")
        assert after.drop("run_id").equals(before.drop("run_id"))
        assert after["run_id"].unique().to_list() == ["run-3"]


def test_correction_replaces_and_removal_deletes(landing: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ingest(con, landing, "run-1")
        corrected = [r.replace("不详", "280") for r in ROWS]  # the 更正 file fixes row 5
        write(landing, COMMITTEE_FILE.replace(".csv", "_更正.csv"), "\n".join(corrected) + "\n")
        ingest(con, landing, "run-2")
        files = table(con, "SELECT source_file, status FROM raw.landing_files ORDER BY 1")
        assert files["status"].to_list() == ["superseded", "ingested"]
        assert con.sql("SELECT count(*) FROM staging.form_records").fetchall()[0][0] == 4
        assert table(con, "SELECT reason_code FROM quarantine.rows")["reason_code"].to_list() == [
            "no_identifier"
        ]

        (landing / COMMITTEE_FILE.replace(".csv", "_更正.csv")).unlink()
        (landing / COMMITTEE_FILE).unlink()
        ingest(con, landing, "run-3")
        for name in ("staging.form_records", "staging.form_values", "quarantine.rows", "raw.skipped_rows",
                     "raw.landing_files"):  # fmt: skip
            assert con.sql(f"SELECT count(*) FROM {name}").fetchall()[0][0] == 0, name


def test_a_bad_file_does_not_stop_the_others(landing: Path, tmp_path: Path) -> None:
    write(landing, "310101/MZ01/2026-10/310101002002_名册.xlsx", "not a workbook")
    write(landing, "310101/MZ01/2026-10/310101002003_名册.csv", "a,b,c\n1,2,3\n")  # no recognisable header
    write(landing, "310101/ZZ99/2026-10/310101002001_x.csv", "姓名\n张伟\n")  # form not in the catalog
    with connect(tmp_path / "w.duckdb") as con:
        result = ingest(con, landing, "run-1")
        assert result.rows_staged == 3
        rejected = table(
            con, "SELECT source_file, reason_code, message FROM quarantine.rejected_files ORDER BY 1"
        )
        assert rejected["reason_code"].to_list() == ["unreadable_workbook", "no_header", "unknown_form"]
        assert all(s in m for s, m in zip(rejected["source_file"], rejected["message"], strict=True))
        assert pipeline.file_accounting(con).filter(pl.col("unaccounted") != 0).height == 0


def test_district_wide_file_resolves_committees_by_name(landing: Path, tmp_path: Path) -> None:
    write(
        landing,
        "310101/MZ01/2026-09/黄浦区_高龄老人补贴名册.csv",
        "街镇,居委会,姓名,身份证号,补贴金额\n"
        "南京东路街道,云南中路居委会,赵敏,310101194001011234,300\n"
        ",不存在居委会,钱多,,300\n",  # unknown committee name → quarantined
    )
    with connect(tmp_path / "w.duckdb") as con:
        ingest(con, landing, "run-1")
        rows = table(con, "SELECT committee_code FROM staging.form_records WHERE person_name = '赵敏'")
        assert rows["committee_code"].to_list() == ["310101002001"]
        q = table(
            con, "SELECT reason_code, message FROM quarantine.rows WHERE reason_code = 'unknown_committee'"
        )
        assert q.height == 1 and "不存在居委会" in q["message"][0]
