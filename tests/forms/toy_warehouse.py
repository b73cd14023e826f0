"""A tiny warehouse with the contract's columns: 5 forms, 2 committees, 5 residents.

Planted situations (the end-to-end test checks each):
- WJ01 (季报 2026Q3, collected 2026-09-30) is the first to collect p1/p2's name, ID, phone and 户籍地址;
- MZ01 (月报 2026-10) reuses them (return flow) and derives 性别/出生日期 from the ID typed in the same row;
  p3 is new in MZ01, so only the derived fields are covered for p3;
- MZ02 (月报 2026-10) asks a subset of MZ01 → merge candidate, and is fully prefillable after MZ01;
- ZJ01 (不定期, 2 deliveries at C1, 5 rows) labels its ID column 识别码 (typed 文本): only the values say it is an ID,
  and its staged records carry no id_number (the plan keys them by the check-digit-valid 识别码 value);
- CL01 (年报 2026) asks 健康状况 (不予共享: never prefilled), 残疾人证号 (a candidate element),
  户口地址 (a label below the review threshold; p1's 户籍地址 is held from WJ01, p3's is not) and 备注 (override: not an element);
- C2's MZ01 has two monthly deliveries of p5; the second is NOT prefilled from the first (own earlier periods
  do not count by default).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from assets.common import warehouse
from synth.forms.evaluate import make_id

C1, C2 = "310101002001", "310101002002"
FORMS = [
    ("MZ01", "高龄老人补贴名册", "民政局", "区级", "monthly", "居委会"),
    ("MZ02", "高龄补贴复核表", "民政局", "区级", "monthly", "居委会"),
    ("WJ01", "独居老人摸底表", "卫健委", "区级", "quarterly", "居委会"),
    ("ZJ01", "新能源车充电需求调查", "住建委", "街镇", "adhoc", "全部"),
    ("CL01", "残疾人名册", "残联", "市级", "annual", "居委会"),
]
FIELDS = {
    "MZ01": [("姓名", "text"), ("身份证号", "id_number"), ("性别", "sex"), ("出生日期", "date"),
             ("联系电话", "phone"), ("高龄补贴金额", "decimal")],
    "MZ02": [("老人姓名", "text"), ("身份证号（18位）", "text"), ("高龄补贴（元/月）", "decimal")],
    "WJ01": [("老人姓名", "text"), ("证件号码", "text"), ("联系人手机", "phone"), ("户籍地址", "text"),
             ("是否独居", "bool")],
    "ZJ01": [("姓名", "text"), ("识别码", "text"), ("手机号码", "phone"), ("新能源车充电需求", "bool")],
    "CL01": [("姓名", "text"), ("公民身份号码", "id_number"), ("健康状况", "text"), ("残疾人证号", "text"),
             ("户口地址", "text"), ("备注", "text")],
}  # fmt: skip


def people() -> dict[str, dict[str, str]]:
    out = {}
    for i, (birth, seq) in enumerate([("19300105", 101), ("19350210", 102), ("19401120", 113),
                                      ("19800707", 124), ("19320303", 135)], start=1):  # fmt: skip
        import datetime as dt

        d = dt.date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        out[f"p{i}"] = {
            "name": f"居民{i}",
            "id": make_id("310101", d, seq),
            "birth": d.isoformat(),
            "sex": "男" if seq % 2 else "女",
            "phone": f"1390000000{i}",
            "addr": f"黄浦区云南中路{i}号",
        }
    return out


# (committee, form, period, person)
DELIVERIES = [
    (C1, "WJ01", "2026Q3", "p1"), (C1, "WJ01", "2026Q3", "p2"),
    (C1, "MZ01", "2026-10", "p1"), (C1, "MZ01", "2026-10", "p2"), (C1, "MZ01", "2026-10", "p3"),
    (C1, "MZ02", "2026-10", "p1"), (C1, "MZ02", "2026-10", "p3"),
    (C1, "ZJ01", "2026-10-15", "p2"), (C1, "ZJ01", "2026-10-15", "p4"), (C1, "ZJ01", "2026-10-15", "p3"),
    (C1, "ZJ01", "2026-10-15", "p1"), (C1, "ZJ01", "2026-10-20", "p1"),
    (C1, "CL01", "2026", "p3"), (C1, "CL01", "2026", "p1"),
    (C2, "MZ01", "2026-10", "p5"), (C2, "MZ01", "2026-11", "p5"),
    (C2, "CL01", "2026", "p5"),
]  # fmt: skip


def _value(label: str, p: dict[str, str]) -> str:
    if "姓名" in label:
        return p["name"]
    if label in ("身份证号", "身份证号（18位）", "证件号码", "识别码", "公民身份号码"):
        return p["id"]
    if label == "性别":
        return p["sex"]
    if label == "出生日期":
        return p["birth"]
    if label in ("联系电话", "联系人手机", "手机号码"):
        return p["phone"]
    if label in ("户籍地址", "户口地址"):
        return p["addr"]
    if label == "残疾人证号":
        return p["id"] + "11"
    return {"高龄补贴金额": "300", "高龄补贴（元/月）": "300", "是否独居": "是", "新能源车充电需求": "否",
            "健康状况": "良好", "备注": ""}[label]  # fmt: skip


def build(path: Path) -> Path:
    """Write the toy warehouse (the contract's columns, the planted situations above)."""
    ps = people()
    forms = pl.DataFrame(
        FORMS,
        schema=["form_code", "form_name", "department", "issuer_level", "frequency", "target"],
        orient="row",
    )
    fields = pl.DataFrame(
        [(f, i, label, t, True) for f, fl in FIELDS.items() for i, (label, t) in enumerate(fl, start=1)],
        schema=["form_code", "field_order", "field_label", "field_type", "required"],
        orient="row",
    )
    records, values = [], []
    for n, (committee, form, period, pid) in enumerate(DELIVERIES):
        p = ps[pid]
        rid = f"{n:016x}"
        records.append(
            {
                "record_id": rid,
                "district_code": committee[:6],
                "township_code": committee[:9],
                "committee_code": committee,
                "form_code": form,
                "period": period,
                "person_name": p["name"],
                # ingestion does not know 识别码 is an ID column: ZJ01 rows arrive without id_number
                "id_number": None if form == "ZJ01" else p["id"],
                "id_status": "valid",
                "id_birth_date": p["birth"],
                "id_sex": p["sex"],
            }
        )
        for i, (label, t) in enumerate(FIELDS[form], start=1):
            v = _value(label, p)
            values.append(
                {"record_id": rid, "district_code": committee[:6], "form_code": form, "field_order": i,
                 "field_label": label, "header_label": label, "field_type": t, "element_code": None,
                 "value_raw": v, "value": v or None, "value_flag": None}
            )  # fmt: skip
    divisions = pl.DataFrame(
        [("310101", "黄浦区", "310101002", "南京东路街道", C1, "云南中路居委会", "居委会"),
         ("310101", "黄浦区", "310101002", "南京东路街道", C2, "龙泉园路居委会", "居委会")],
        schema=["district_code", "district_name", "township_code", "township_name", "committee_code",
                "committee_name", "committee_kind"],
        orient="row",
    )  # fmt: skip
    with warehouse.connect(path) as con:
        warehouse.replace_table(con, "catalog.forms", forms)
        warehouse.replace_table(con, "catalog.form_catalog_fields", fields)
        warehouse.replace_table(
            con,
            "staging.form_records",
            pl.DataFrame(records).with_columns(pl.col("id_birth_date").str.to_date()),
        )
        warehouse.replace_table(con, "staging.form_values", pl.DataFrame(values, infer_schema_length=None))
        warehouse.replace_table(con, "core.divisions", divisions)
    return path


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path))
