"""A tiny warehouse with the contract's tables, planted defects commented, and the shipped policy."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import yaml

from assets.common import paths
from assets.publish import manifest
from assets.publish.manifest import AuditSettings
from assets.publish.masking import MaskKey
from assets.publish.policy import Policy, load_policy
from assets.publish.products import PublishResult, publish

POLICY_DIR = paths.SCHEMAS_DIR / "policy"
TEST_KEY = MaskKey(b"test-only-mask-key-0123456789abcdef", "explicit")
AUDIT_KEY = b"test-only-audit-key-fedcba9876543210"


def audit_for(published: Path) -> AuditSettings:
    """The audit settings of a test's products folder (heads beside it, as in production)."""
    return manifest.audit_settings(published, AUDIT_KEY)


# A frozen dictionary for the tests, so another engineer extending schemas/data_elements.yaml does not
# change what these tests expect. Same shape as the real file.
DICTIONARY = {
    "version": 1,
    "elements": [
        {
            "code": "person_name",
            "name": "姓名",
            "type": "text",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "citizen_id",
            "name": "公民身份号码",
            "type": "id_number",
            "sharing": "有条件",
            "classification": "personal",
        },
        {"code": "sex", "name": "性别", "type": "sex", "sharing": "有条件", "classification": "personal"},
        {
            "code": "birth_date",
            "name": "出生日期",
            "type": "date",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "phone",
            "name": "联系电话",
            "type": "phone",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "residence_address",
            "name": "居住地址",
            "type": "text",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "household_address",
            "name": "户籍地址",
            "type": "text",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "ethnicity",
            "name": "民族",
            "type": "text",
            "sharing": "有条件",
            "classification": "personal",
        },
        {
            "code": "disability_category",
            "name": "残疾类别",
            "type": "text",
            "sharing": "有条件",
            "classification": "sensitive_personal",
        },
        # 不予共享: must never leave the warehouse, whatever the rules say.
        {
            "code": "health_condition",
            "name": "健康状况",
            "type": "text",
            "sharing": "不予共享",
            "classification": "sensitive_personal",
        },
        {
            "code": "ev_charging_need",
            "name": "新能源车充电需求",
            "type": "bool",
            "sharing": "无条件",
            "classification": "internal",
        },
    ],
}

DIVISIONS = [
    ("310101", "黄浦区", "310101002", "南京东路街道", "310101002001", "云南中路居委会", "居委会"),
    ("310101", "黄浦区", "310101002", "南京东路街道", "310101002002", "龙泉园路居委会", "居委会"),
    ("310101", "黄浦区", "310101013", "外滩街道", "310101013001", "中山东一路居委会", "居委会"),
    ("310104", "徐汇区", "310104003", "天平路街道", "310104003001", "天平路居委会", "居委会"),
    # A committee with no data at all: must not get a product ("present" jurisdictions only).
    ("310104", "徐汇区", "310104004", "湖南路街道", "310104004001", "湖南路居委会", "居委会"),
]

# (committee, name, id, phone, address, disability) — 12 residents; 310101002001 has 6 with a disability
# category so its aggregate cell reaches the threshold of 5; the others stay below (suppressed).
PEOPLE = [
    ("310101002001", "张伟", "310101195001011234", "13812345678", "南京东路100弄1号", "肢体残疾"),
    ("310101002001", "王秀英", "31010119520202234X", "13912345679", "南京东路100弄2号", "肢体残疾"),
    ("310101002001", "李强", "310101195303033456", "13712345670", "南京东路100弄3号", "肢体残疾"),
    ("310101002001", "欧阳娜娜", "310101195404044567", "13612345671", "南京东路100弄4号", "肢体残疾"),
    ("310101002001", "陈静", "310101195505055678", "13512345672", "南京东路100弄5号", "肢体残疾"),
    ("310101002001", "刘洋", "310101195606066789", "13412345673", "南京东路100弄6号", "肢体残疾"),
    ("310101002002", "赵敏", "310101196007077890", "15012345674", "龙泉园路7号", "视力残疾"),
    ("310101002002", "孙磊", "310101196108088901", "15112345675", "龙泉园路8号", None),
    ("310101013001", "周杰", "310101196209099012", "15212345676", "中山东一路9号", None),
    ("310104003001", "吴芳", "310104197010101234", "15312345677", "天平路10号", "听力残疾"),
    ("310104003001", "郑国庆", "310104197111112345", "15512345678", "天平路11号", None),
    # Planted: a district-wide row whose committee could not be resolved (committee_code NULL): it must
    # reach no product, not even the city's.
    (None, "冯晓明", "310104197212123456", "15612345679", "天平路12号", None),
]


def record_id(i: int) -> str:
    """GA01 record of PEOPLE[i]: record_id(i); its MZ01 record (if any): record_id(100 + i)."""
    return f"{i:016x}"


FORM_FIELDS = [
    # (field_order, label, element_code, status) as the forms engineer's catalog.form_fields has them
    (1, "姓名", "person_name", "mapped"),
    (2, "身份证号", "citizen_id", "mapped"),
    (3, "联系电话", "phone", "mapped"),
    (4, "居住地址", "residence_address", "mapped"),
    (5, "残疾类别", "disability_category", "mapped"),
    (6, "健康状况", "health_condition", "mapped"),
    (7, "监护人身份证号", "cand_jian_hu_ren_shen_fen_zheng_hao", "candidate"),  # another person's ID
]


def build_warehouse(
    path: Path, *, with_persons: bool = True, with_form_fields: bool = True, extra_column: bool = False
) -> Path:
    """Write the tiny warehouse; `extra_column` adds an unclassified column to staging.form_records."""
    con = duckdb.connect(str(path))
    try:
        for schema in ("raw", "staging", "catalog", "core", "marts", "quarantine", "audit"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(
            "CREATE TABLE core.divisions (district_code VARCHAR, district_name VARCHAR, township_code VARCHAR, "
            "township_name VARCHAR, committee_code VARCHAR, committee_name VARCHAR, committee_kind VARCHAR)"
        )
        con.executemany("INSERT INTO core.divisions VALUES (?, ?, ?, ?, ?, ?, ?)", DIVISIONS)
        con.execute(
            "CREATE TABLE catalog.forms (form_code VARCHAR, form_name VARCHAR, department VARCHAR, "
            "issuer_level VARCHAR, frequency VARCHAR, target VARCHAR)"
        )
        con.execute(
            "INSERT INTO catalog.forms VALUES ('GA01', '实有人口信息登记表', '公安局', '市级', 'quarterly', '全部'), "
            "('MZ01', '残疾人信息登记表', '残联', '区级', 'annual', '居委会')"
        )
        con.execute(
            "CREATE TABLE staging.form_records (record_id VARCHAR, file_hash VARCHAR, source_file VARCHAR, "
            "sheet VARCHAR, row_number INTEGER, run_id VARCHAR, district_code VARCHAR, township_code VARCHAR, "
            "committee_code VARCHAR, form_code VARCHAR, period VARCHAR, person_name VARCHAR, id_number VARCHAR, "
            "id_number_raw VARCHAR, id_status VARCHAR, id_birth_date DATE, id_sex VARCHAR, flags VARCHAR[])"
        )
        con.execute(
            "CREATE TABLE staging.form_values (record_id VARCHAR, district_code VARCHAR, form_code VARCHAR, "
            "field_order INTEGER, field_label VARCHAR, header_label VARCHAR, field_type VARCHAR, "
            "element_code VARCHAR, value_raw VARCHAR, value VARCHAR, value_flag VARCHAR)"
        )
        for i, (cc, name, idn, phone, addr, dis) in enumerate(PEOPLE):
            district = cc[:6] if cc else "310104"
            birth = f"{idn[6:10]}-{idn[10:12]}-{idn[12:14]}"
            # Every resident is on the population register GA01 (not sensitive); residents with a disability are
            # also on the MZ01 roster, whose membership is sensitive: below the committee, only counts of it.
            forms = [("GA01", record_id(i))] + ([("MZ01", record_id(100 + i))] if dis else [])
            for form, rid in forms:
                con.execute(
                    "INSERT INTO staging.form_records VALUES (?, 'f00d', ?, 'Sheet1', ?, 'run1', ?, ?, ?, ?, "
                    "'2026', ?, ?, ?, 'valid', ?, ?, [])",
                    [rid, f"{district}/{form}/2026/{cc or district}_{form}.xlsx", i + 2, district,
                     cc[:9] if cc else None, cc, form, name, idn, " " + idn + " ", birth, "男"],
                )  # fmt: skip
                if form == "GA01":
                    values = [
                        (1, "姓名", "姓名", "text", "person_name", name),
                        (2, "身份证号", "身份证号", "id_number", "citizen_id", idn),
                        (3, "联系电话", "手机", "phone", "phone", phone),
                        (4, "居住地址", "现住址", "text", "residence_address", addr),
                        # Planted: a guardian's ID typed in a field no element matched (element NULL). The row
                        # is unclassified, so it is not published; the scan still looks for the ID everywhere.
                        (
                            7,
                            "监护人身份证号",
                            "监护人身份证号",
                            "id_number",
                            None,
                            "31011519800101" + f"{i:04d}",
                        ),
                        # Planted: an extra column that carries a phone number in free text (element NULL).
                        (None, "备注", "备注", "text", None, f"请联系{phone}"),
                    ]
                else:
                    values = [
                        (1, "姓名", "姓名", "text", "person_name", name),
                        (2, "身份证号", "身份证号", "id_number", "citizen_id", idn),
                        # no exact synonym at ingestion: the element comes from catalog.form_fields (when it exists)
                        (5, "残疾类别", "残疾类别", "text", None, dis),
                        # 不予共享 element: its rows must reach no product.
                        (6, "健康状况", "健康状况", "text", "health_condition", "高血压"),
                    ]
                for order, label, header, ftype, elem, value in values:
                    con.execute(
                        "INSERT INTO staging.form_values VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                        [rid, district, form, order, label, header, ftype, elem, value, value],
                    )
        if with_form_fields:
            con.execute(
                "CREATE TABLE catalog.form_fields (form_code VARCHAR, field_order BIGINT, field_label VARCHAR, "
                "element_code VARCHAR, method VARCHAR, confidence DOUBLE, status VARCHAR)"
            )
            con.executemany(
                "INSERT INTO catalog.form_fields VALUES (?, ?, ?, ?, 'synonym', 1.0, ?)",
                [(form, *f) for form, orders in (("GA01", {1, 2, 3, 4, 7}), ("MZ01", {1, 2, 5, 6}))
                 for f in FORM_FIELDS if f[0] in orders],
            )  # fmt: skip
        if with_persons:
            con.execute(
                "CREATE TABLE core.persons AS SELECT printf('P%05d', row_number() OVER (ORDER BY record_id)) AS "
                "person_id, person_name, id_number, id_sex AS sex, id_birth_date AS birth_date, committee_code, "
                "'未知' AS golden_method FROM staging.form_records WHERE committee_code IS NOT NULL AND form_code = 'GA01'"
            )
            # golden_method is planted: a column the policy does not classify (must not be published).
            con.execute(
                "CREATE TABLE core.person_records AS SELECT p.person_id, r.record_id FROM core.persons p "
                "JOIN staging.form_records r USING (id_number)"
            )
        # a township-level mart (jurisdiction_digits: 9): committees must receive none of it
        con.execute(
            "CREATE TABLE marts.burden_by_township AS SELECT DISTINCT district_code, township_code, "
            "township_name, 3 AS forms_before FROM core.divisions"
        )
        if extra_column:
            # Planted: a new column nobody classified yet, with a recognizable value.
            con.execute(
                "ALTER TABLE staging.form_records ADD COLUMN secret_note VARCHAR DEFAULT 'UNCLASSIFIED-MARKER-7f3a'"
            )
    finally:
        con.close()
    return path


@pytest.fixture(scope="session")
def dictionary_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dictionary") / "data_elements.yaml"
    path.write_text(yaml.safe_dump(DICTIONARY, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def policy(dictionary_path: Path) -> Policy:
    return load_policy(POLICY_DIR, dictionary_path)


@pytest.fixture(scope="session")
def policy_no_k(dictionary_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The shipped policy with k-anonymity switched off: the masks of each rule, as written, are visible
    (with 12 residents every quasi-identifier of the district and city products is generalized away)."""
    folder = tmp_path_factory.mktemp("policy_no_k")
    for f in POLICY_DIR.glob("*.yaml"):
        (folder / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    doc = yaml.safe_load((folder / "policy.yaml").read_text(encoding="utf-8"))
    doc["k_anonymity"]["tiers"] = []
    (folder / "policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return load_policy(folder, dictionary_path)


@pytest.fixture()
def warehouse_path(tmp_path: Path) -> Path:
    return build_warehouse(tmp_path / "jianfu.duckdb")


@dataclass
class Published:
    warehouse: Path
    published: Path
    result: PublishResult


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> Published:
    """The tiny warehouse published once per test module (read-only for the tests that use it)."""
    root = tmp_path_factory.mktemp("published")
    wh = build_warehouse(root / "jianfu.duckdb")
    out = root / "published"
    result = publish(wh, out, policy, TEST_KEY)
    assert result.swapped, result.scan.findings
    return Published(wh, out, result)


@pytest.fixture(autouse=True)
def _no_mask_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("JIANFU_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JIANFU_PUBLISH_WORKERS", "1")  # in process; test_pool.py asks for workers explicitly
