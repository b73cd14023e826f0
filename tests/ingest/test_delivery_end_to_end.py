"""A tiny landing zone as staff really fill it, ingested end to end: exact statuses, reasons and row counts.

Every planted defect is commented where the file is written. The assertions are the whole truth of the
tables: every file under the root registered once, and rows read = staged + quarantined + skipped + replaced
per file and in total.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets.common.warehouse import connect
from assets.ingest import accounting, pipeline
from assets.ingest.catalog import load_catalog
from assets.ingest.rules import load_delivery_rules
from assets.persons.rows import build_person_rows
from assets.reference.divisions import load_divisions

FORMS = "\ufeff报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,高龄老人补贴名册,民政局,市级,月报,全部\n"
FIELDS = (
    "\ufeff报表编号,字段序号,字段名称,字段类型,是否必填\n"
    "MZ01,1,姓名,文本,是\nMZ01,2,身份证号,身份证号,是\nMZ01,3,出生日期,日期,否\nMZ01,4,补贴金额,整数,是\n"
)
ID = [
    "310101194001011231", "310101194102022343", "310101194203033455", "310101194304044567", "310101194405055679",
    "310101194506066780", "310101194607077892", "310101194708088910", "310101194809099125",
]  # fmt: skip  # valid GB 11643 numbers
F = "310101/MZ01/2026-10"
A = f"{F}/310101002001_名册.csv"
B = f"{F}/310101002001_名册_更正.csv"
C = f"{F}/310101002001_名册_更正 - 副本.csv"
T1, T2, R = f"{F}/南京东路街道_名册.csv", f"{F}/外滩街道_名册.csv", f"{F}/黄浦区_名册汇总.csv"
N, U = f"{F}/福海居委_名册.csv", f"{F}/不存在居委会_名册.csv"
P = "310101/MZ01/2026-13/310101002001_名册.csv"
H = "黄浦区/MZ01/2026-09/310101002001_名册.csv"
CORRECTED = (
    "姓名,身份证号,出生日期,补贴金额\n"
    "张三,3.10101E+17,1940年1月,300\n"  # planted: ID through a float (precision_lost); birth known to the month
    f"李四,{ID[1]},1941,300\n"  # planted: birth year only (partial_date, never Excel serial 1941 = 1905-04-24)
    f"王五,{ID[2]},1942-03-03,280\n"
)


def write(root: Path, rel: str, text: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


@pytest.fixture()
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write(root, "catalog/forms.csv", FORMS)
    write(root, "catalog/form_fields.csv", FIELDS)
    write(root, A, "姓名,身份证号,出生日期,补贴金额\n"
                   f"张三,{ID[0]},1940-01-01,300\n李四,{ID[1]},1941-02-02,300\n"
                   f"王五,{ID[2]},1942-03-03,不详\n")  # fmt: skip  # planted: 不详 in a required integer; fixed by B
    write(root, B, CORRECTED)  # the correction: supersedes A
    write(root, C, CORRECTED)  # planted: the same bytes again as a hand-made copy → duplicate of B
    write(root, f"{F}/Thumbs.db", b"\x00\x01")  # planted: not deliveries → ignored
    write(root, f"{F}/~$310101002001_名册.xlsx", b"lock")
    write(root, f"{F}/签字盖章扫描件.pdf", b"%PDF-1.4")
    write(root, f"{F}/说明.txt", "本月数据已核对。")
    # Two township files in one folder: identified by the committees their rows carry, so both count.
    write(root, T1, "居委会,姓名,身份证号,补贴金额\n"
                    f"龙泉园路居委,赵六,{ID[3]},300\n"  # 居委 for 居委会
                    f"贵州路社区,钱七,{ID[4]},300\n")  # fmt: skip  # 社区 for 居委会
    write(root, T2, f"居委会,姓名,身份证号,补贴金额\n汉口路居委会,孙八,{ID[5]},300\n")
    # A district roll-up repeating committee 310101002001's row (delivered by B) and adding one of its own.
    write(root, R, "居委会,姓名,身份证号,补贴金额\n"
                   f"云南中路居委会,张三,{ID[0]},300\n"  # planted: already delivered by the committee → replaced
                   f"新桥居委会,周九,{ID[6]},300\n")  # fmt: skip
    write(root, N, "姓名,身份证号,补贴金额,居委会\n"  # named by the committee's name (福海居委会), not its code
                   f"吴十,{ID[7]},300,福海居委会\n"
                   f"郑一,{ID[8]},300,承兴居委会\n")  # fmt: skip  # planted: contradicts the file name → flagged
    write(root, U, f"姓名,身份证号,补贴金额\n冯二,{ID[0]},300\n")  # planted: no committee of that name
    write(root, P, f"姓名,身份证号,补贴金额\n陈三,{ID[0]},300\n")  # planted: there is no month 13
    write(root, H, f"姓名,身份证号,补贴金额\n张三,{ID[0]},300\n")  # district folder written with its name
    write(root, "杂项/旧表.csv", "a,b\n1,2\n")  # planted: a folder that is no district
    return root


def run(con: duckdb.DuckDBPyConnection, root: Path, run_id: str) -> pipeline.DistrictResult:
    ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
    result = pipeline.ingest_district(con, root, "310101", ctx, run_id)
    pipeline.record_unplaced(con, root, ctx, run_id)
    return result


EXPECTED = {  # source_file: (status, reason_code, replaced_by, read, staged, quarantined, skipped, replaced)
    A: ("superseded", None, B, 4, 0, 0, 1, 3),
    C: ("duplicate", "duplicate", B, 4, 0, 0, 1, 3),
    B: ("ingested", None, None, 4, 3, 0, 1, 0),
    f"{F}/Thumbs.db": ("ignored", "system_file", None, 0, 0, 0, 0, 0),
    f"{F}/~$310101002001_名册.xlsx": ("ignored", "lock_or_hidden_file", None, 0, 0, 0, 0, 0),
    f"{F}/签字盖章扫描件.pdf": ("ignored", "not_a_data_file", None, 0, 0, 0, 0, 0),
    f"{F}/说明.txt": ("ignored", "notes_file", None, 0, 0, 0, 0, 0),
    T1: ("ingested", None, None, 3, 2, 0, 1, 0),
    T2: ("ingested", None, None, 2, 1, 0, 1, 0),
    R: ("ingested", None, None, 3, 1, 0, 1, 1),
    N: ("ingested", None, None, 3, 2, 0, 1, 0),
    U: ("rejected", "unknown_committee_name", None, 2, 0, 2, 0, 0),
    P: ("rejected", "bad_period", None, 2, 0, 2, 0, 0),
    H: ("ingested", None, None, 2, 1, 0, 1, 0),
    "杂项/旧表.csv": ("rejected", "unknown_district_folder", None, 0, 0, 0, 0, 0),
}


def registry(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    rows = con.sql(
        "SELECT f.source_file, f.status, f.reason_code, f.replaced_by, a.rows_read, a.staged, a.quarantined, "
        "a.skipped, a.replaced FROM raw.landing_files f JOIN ({}) a USING (source_file)".format(
            "SELECT * FROM accounting_frame"
        )
    )
    return {r[0]: tuple(r[1:]) for r in rows.fetchall()}


def test_every_file_has_a_status_and_every_row_a_place(landing: Path, tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        result = run(con, landing, "run-1")
        per_file = accounting.file_accounting(con)
        con.register("accounting_frame", per_file.to_arrow())
        assert registry(con) == EXPECTED
        assert per_file["unaccounted"].to_list() == [0] * len(EXPECTED)
        missing, totals = accounting.landing_accounting(
            con, landing, {"310101": "黄浦区"}, load_delivery_rules()
        )
        assert missing.height == 0
        assert totals == {"rows_read": 29, "staged": 10, "quarantined": 4, "skipped": 8, "replaced": 7,
                          "unaccounted": 0, "files": 15}  # fmt: skip
        assert (result.files_duplicate, result.files_ignored, result.files_superseded, result.rows_replaced) == (
            1, 4, 1, 7)  # fmt: skip
        assert accounting.replacement_problems(con).height == 0

        replaced = con.sql("SELECT source_file, row_number, committee_code, reason, replaced_by FROM raw.replaced_rows "
                           "ORDER BY 1, 2").fetchall()  # fmt: skip
        assert replaced == [
            *[(A, n, "310101002001", "superseded", B) for n in (2, 3, 4)],
            *[(C, n, "310101002001", "duplicate_file", B) for n in (2, 3, 4)],
            (R, 2, "310101002001", "delivered_by_other_file", B),
        ]
        records = con.sql("SELECT record_id, source_file, person_name, committee_code, id_number, id_number_raw, id_status, "
                          "flags FROM staging.form_records ORDER BY source_file, row_number").pl()  # fmt: skip
        by_name = {
            r["person_name"] + "@" + r["source_file"].split("/")[-1]: r for r in records.iter_rows(named=True)
        }
        zhang = by_name["张三@310101002001_名册_更正.csv"]
        assert (zhang["id_number"], zhang["id_number_raw"], zhang["id_status"]) == (None, "3.10101E+17",
                                                                                      "precision_lost")  # fmt: skip
        assert zhang["flags"] == ["partial_date", "precision_lost"]
        assert by_name["李四@310101002001_名册_更正.csv"]["flags"] == ["partial_date"]
        assert by_name["王五@310101002001_名册_更正.csv"]["id_status"] == "valid"
        assert by_name["赵六@南京东路街道_名册.csv"]["committee_code"] == "310101002002"
        assert by_name["钱七@南京东路街道_名册.csv"]["committee_code"] == "310101002003"
        assert by_name["孙八@外滩街道_名册.csv"]["committee_code"] == "310101013001"
        assert by_name["周九@黄浦区_名册汇总.csv"]["committee_code"] == "310101002006"
        assert by_name["吴十@福海居委_名册.csv"]["committee_code"] == "310101002009"
        assert by_name["吴十@福海居委_名册.csv"]["flags"] == []
        assert by_name["郑一@福海居委_名册.csv"]["committee_code"] == "310101002009"
        assert by_name["郑一@福海居委_名册.csv"]["flags"] == ["committee_mismatch"]
        assert (
            by_name["张三@310101002001_名册.csv"]["committee_code"] == "310101002001"
        )  # from 黄浦区/ folder
        values = dict(con.sql("SELECT v.value_raw, v.value FROM staging.form_values v JOIN staging.form_records r "
                              f"USING (record_id) WHERE r.source_file = '{B}' AND v.field_label = '出生日期'"
                              ).fetchall())  # fmt: skip
        assert values == {"1940年1月": "1940-01", "1941": "1941", "1942-03-03": "1942-03-03"}
        # Person matching sees the float-damaged ID as unknown, never as its digits.
        person_rows = build_person_rows(con)
        assert person_rows.filter(pl.col("record_id") == zhang["record_id"])["id_number"].to_list() == [None]
        assert person_rows.filter(pl.col("id_status") == "precision_lost").height == 1
        unplaced = con.sql("SELECT district_code, message FROM raw.landing_files WHERE source_file = '杂项/旧表.csv'"
                           ).fetchall()  # fmt: skip
        assert unplaced[0][0] is None and "names no district" in unplaced[0][1]


def test_rerun_keeps_everything_and_removing_the_correction_revives_the_original(
    landing: Path, tmp_path: Path
) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        run(con, landing, "run-1")
        before = con.sql("SELECT * EXCLUDE (ingested_at) FROM raw.landing_files ORDER BY source_file").pl()
        again = run(con, landing, "run-2")
        assert (
            again.files_read == 0 and again.files_kept == 10
        )  # ignored files are registered again, not read
        after = con.sql("SELECT * EXCLUDE (ingested_at) FROM raw.landing_files ORDER BY source_file").pl()
        registered_only = (pl.col("status") == "ignored") | pl.col(
            "district_code"
        ).is_null()  # re-registered per run
        assert after.filter(~registered_only).equals(before.filter(~registered_only))
        assert after.drop("run_id").equals(before.drop("run_id"))

        (landing / B).unlink()  # the correction is withdrawn: its copy C is now the best-ranked delivery
        run(con, landing, "run-3")
        status = dict(con.sql("SELECT source_file, status FROM raw.landing_files").fetchall())
        assert (status[A], status[C]) == ("superseded", "ingested")
        replaced_by = dict(con.sql("SELECT source_file, replaced_by FROM raw.replaced_rows").fetchall())
        assert replaced_by == {A: C, R: C}
        assert accounting.file_accounting(con).filter(pl.col("unaccounted") != 0).height == 0


def test_a_replacement_that_stages_nothing_fails_the_blocking_check(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    write(root, "catalog/forms.csv", FORMS)
    write(root, "catalog/form_fields.csv", FIELDS)
    write(root, A, f"姓名,身份证号,补贴金额\n张三,{ID[0]},300\n李四,{ID[1]},300\n")
    # planted: a correction whose one data row has neither name nor ID: it replaces A, and is quarantined
    write(root, B, "姓名,身份证号,补贴金额\n,,300\n")
    write(root, f"{F}/310101002002_名册.csv", f"姓名,身份证号,补贴金额\n赵六,{ID[3]},300\n")
    write(root, f"{F}/310101002002_名册_v2.xlsx", b"not a workbook")  # planted: unreadable correction
    h_orig, h_corr = f"{F}/310101002003_名册.csv", f"{F}/310101002003_名册_更正.csv"
    write(root, h_orig, f"姓名,身份证号,补贴金额\n钱七,{ID[2]},300\n")
    write(root, h_corr, "姓名,身份证号,补贴金额\n")  # planted: an empty template sent as the correction
    with connect(tmp_path / "w.duckdb") as con:
        run(con, root, "run-1")
        status = dict(con.sql("SELECT source_file, status FROM raw.landing_files").fetchall())
        # A header-only correction delivers no rows and so replaces nothing; both files say so.
        assert (status[h_orig], status[h_corr]) == ("ingested", "ingested")
        warn = dict(con.sql("SELECT source_file, warnings FROM raw.landing_files").fetchall())
        assert f"stays current: {h_corr} for the same report holds no data rows" in warn[h_orig]
        assert any("holds no data rows" in w for w in warn[h_corr])
        assert con.sql(
            f"SELECT count(*) FROM staging.form_records WHERE source_file = '{h_orig}'"
        ).fetchall() == [(1,)]
        # An unreadable correction replaces nothing: the committee's earlier file stays current.
        assert status[f"{F}/310101002002_名册.csv"] == "ingested"
        assert status[f"{F}/310101002002_名册_v2.xlsx"] == "rejected"
        warnings = con.sql(
            f"SELECT warnings FROM raw.landing_files WHERE source_file = '{F}/310101002002_名册.csv'"
        )
        assert warnings.fetchall()[0][0] == [
            "missing column 出生日期",
            f"stays current: {F}/310101002002_名册_v2.xlsx for the same report was rejected",
        ]  # fmt: skip
        problems = accounting.replacement_problems(con)
        assert problems.select("replaced_file", "replaced_by", "rows_replaced", "replacing_status",
                               "replacing_rows_staged").rows() == [(A, B, 2, "ingested", 0)]  # fmt: skip


def test_the_dagster_checks_block_on_lost_data(tmp_path: Path) -> None:
    import dagster as dg

    from assets.common.resources import LandingResource, WarehouseResource
    from assets.ingest.defs import landing_accounting, replacements_keep_data

    root = tmp_path / "landing"
    write(root, "catalog/forms.csv", FORMS)
    write(root, "catalog/form_fields.csv", FIELDS)
    write(root, A, f"姓名,身份证号,补贴金额\n张三,{ID[0]},300\n")
    write(root, B, "姓名,身份证号,补贴金额\n,,300\n")  # planted: a correction whose only row is quarantined
    path = tmp_path / "w.duckdb"
    with connect(path) as con:
        run(con, root, "run-1")
        con.register("divisions", load_divisions().to_arrow())
        con.execute(
            "CREATE SCHEMA IF NOT EXISTS core; CREATE TABLE core.divisions AS SELECT * FROM divisions"
        )
    warehouse = WarehouseResource(path=str(path))
    check = dg.build_asset_check_context()  # outside a run: the checks read every district
    blocked = replacements_keep_data(check, warehouse=warehouse)
    assert not blocked.passed and blocked.metadata["failing_rows"].value == 1
    landed = landing_accounting(check, landing=LandingResource(root=str(root)), warehouse=warehouse)
    assert landed.passed, landed.description
    write(
        root, f"{F}/310101002003_名册.csv", f"姓名,身份证号,补贴金额\n赵六,{ID[3]},300\n"
    )  # planted: never ingested
    landed = landing_accounting(check, landing=LandingResource(root=str(root)), warehouse=warehouse)
    assert not landed.passed and landed.metadata["failing_rows"].value == 1
