"""staging.person_rows from a tiny warehouse with the contract's columns."""

from __future__ import annotations

import polars as pl

from assets.common import warehouse
from assets.persons.rows import build_person_rows

RECORDS = pl.DataFrame(
    {
        "record_id": ["r1", "r2", "r3"],
        "file_hash": ["h1", "h1", "h2"],
        "source_file": [
            "310101/MZ01/2026-10/a.csv",
            "310101/MZ01/2026-10/a.csv",
            "310101/WJ02/2026Q3/b.xlsx",
        ],
        "sheet": [None, None, "Sheet1"],
        "row_number": [2, 3, 5],
        "run_id": ["run"] * 3,
        "district_code": ["310101"] * 3,
        "township_code": ["310101002"] * 3,
        "committee_code": ["310101002001"] * 3,
        "form_code": ["MZ01", "MZ01", "WJ02"],
        "period": ["2026-10", "2026-10", "2026Q3"],
        "person_name": ["张伟", None, "李娜"],
        "id_number": ["110105194912310021", None, None],
        "id_number_raw": [
            "110105194912310021",
            None,
            "11010519491231002X",
        ],  # r3: wrong check digit, kept raw
        "id_status": ["valid", "blank", "wrong_check_digit"],
        "id_birth_date": [None, None, None],
        "id_sex": [None, None, None],
        "flags": [[], [], ["wrong_check_digit"]],
    },
    schema_overrides={"id_birth_date": pl.Date, "id_sex": pl.String, "sheet": pl.String},
)


def values(rows):
    cols = ["record_id", "district_code", "form_code", "field_order", "field_label", "header_label", "field_type",
            "element_code", "value_raw", "value", "value_flag"]  # fmt: skip
    return pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], schema={c: pl.String for c in cols},
                        orient="row").with_columns(pl.col("field_order").cast(pl.Int32))  # fmt: skip


VALUES = values([
    ("r1", "310101", "MZ01", "1", "姓名", "姓名", "text", "person_name", "张伟", "张伟", None),
    ("r1", "310101", "MZ01", "3", "出生日期", "出生日期", "date", "birth_date", "1949/12/31", "1949-12-31", None),
    ("r1", "310101", "MZ01", "4", "联系电话", "联系电话", "phone", "phone", "138-0000-0001", "13800000001", None),
    # r2: the name only in form_values; 出生年月 gives a month
    ("r2", "310101", "MZ01", "1", "姓名", "姓名", "text", "person_name", "王芳", "王芳", None),
    ("r2", "310101", "MZ01", "2", "出生年月", "出生年月", "year_month", "birth_month", "1950.03", "1950-03", None),
    # r3: a header the synonym list does not know (element_code null) - catalog.form_fields maps it
    ("r3", "310101", "WJ02", "2", "户籍地", "户籍地", "text", None, "上海市黄浦区南京东路1号", "上海市黄浦区南京东路1号", None),
    ("r3", "310101", "WJ02", "3", "现住址", "现住址", "text", "residence_address", "黄浦区2号", "黄浦区2号", None),
])  # fmt: skip


def warehouse_with(tmp_path, form_fields: pl.DataFrame | None = None):
    path = tmp_path / "wh.duckdb"
    with warehouse.connect(path) as con:
        warehouse.replace_table(con, "staging.form_records", RECORDS)
        warehouse.replace_table(con, "staging.form_values", VALUES)
        if form_fields is not None:
            warehouse.replace_table(con, "catalog.form_fields", form_fields)
    return path


def test_pivot_without_catalog(tmp_path):
    with warehouse.connect(warehouse_with(tmp_path), read_only=True) as con:
        rows = {r["record_id"]: r for r in build_person_rows(con).to_dicts()}
    assert rows["r1"]["person_name"] == "张伟" and rows["r1"]["phone"] == "13800000001"
    assert str(rows["r1"]["birth_date"]) == "1949-12-31" and rows["r1"]["birth_precision"] == "day"
    assert rows["r2"]["person_name"] == "王芳"  # from form_values when form_records has none
    assert str(rows["r2"]["birth_date"]) == "1950-03-01" and rows["r2"]["birth_precision"] == "month"
    assert rows["r3"]["id_number"] == "11010519491231002X" and rows["r3"]["id_status"] == "wrong_check_digit"
    assert rows["r3"]["household_address"] is None  # unmapped header
    assert str(rows["r3"]["period_start"]) == "2026-07-01"  # 2026Q3


def test_catalog_form_fields_mapping_wins(tmp_path):
    ff = pl.DataFrame({"form_code": ["WJ02"], "field_label": ["户籍地"], "element_code": ["household_address"],
                       "method": ["fuzzy"], "confidence": [0.93]})  # fmt: skip
    with warehouse.connect(warehouse_with(tmp_path, ff), read_only=True) as con:
        rows = {r["record_id"]: r for r in build_person_rows(con).to_dicts()}
    assert rows["r3"]["household_address"] == "上海市黄浦区南京东路1号"
    assert rows["r3"]["residence_address"] == "黄浦区2号"


def test_update_builds_only_new_rows_and_equals_a_rebuild(tmp_path):
    from assets.persons.rows import PERSON_ROWS, update_person_rows

    ff = pl.DataFrame({"form_code": ["WJ02"], "field_label": ["户籍地"], "element_code": ["household_address"],
                       "method": ["fuzzy"], "confidence": [0.93]})  # fmt: skip
    path = warehouse_with(tmp_path, ff)
    with warehouse.connect(path) as con:
        assert update_person_rows(con)[0] == "full"  # no table yet
        # planted: r2's file is superseded by a re-delivery (r2 gone, r4 with the same values added)
        con.execute("UPDATE staging.form_records SET record_id = 'r4' WHERE record_id = 'r2'")
        con.execute("UPDATE staging.form_values SET record_id = 'r4' WHERE record_id = 'r2'")
        con.execute(
            f"UPDATE {PERSON_ROWS} SET phone = 'kept' WHERE record_id = 'r1'"
        )  # marks an untouched row
        assert update_person_rows(con) == ("partial", 1, 1)
        updated = warehouse.read_frame(con, f"SELECT * FROM {PERSON_ROWS} ORDER BY record_id")
        assert updated.filter(pl.col("record_id") == "r1")["phone"].to_list() == ["kept"]  # not rebuilt
        rebuilt = build_person_rows(con)
        assert updated.filter(pl.col("record_id") != "r1").equals(rebuilt.filter(pl.col("record_id") != "r1"))
        # planted: the field mapping changed: everything is rebuilt
        con.execute("UPDATE catalog.form_fields SET element_code = 'residence_address'")
        assert update_person_rows(con)[0] == "full"
        assert warehouse.read_frame(con, f"SELECT * FROM {PERSON_ROWS}").equals(build_person_rows(con))
