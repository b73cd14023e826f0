"""The sample-data generator on the tiny preset: determinism, valid IDs, planted noise, hard ER cases.

Files are read back independently (csv / python-calamine) and joined to ground_truth.parquet on
(source_file, row_number), so a wrong row number or a misaligned column shows up as inconsistent people.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import yaml
from python_calamine import CalamineWorkbook

from assets.common.paths import SCHEMAS_DIR
from synth.generator import GeneratorConfig, generate
from synth.generator.catalog import FORMS, FORMS_BY_CODE, SYNONYM_SWAPS
from synth.generator.cli import main
from synth.generator.lexicon import COMMON_NAMES

ID_NOISE = {"id_blank", "id_legacy15", "id_lowercase_x", "id_wrong_check", "id_digit_typo", "id_fullwidth"}
NAME_NOISE = {"name_homophone", "name_space"}
UNUSABLE = {"unusable_no_name_no_id", "unusable_bad_integer"}
COLUMN_NOISE = {"column_missing", "column_renamed", "column_extra"}


def gb11643_ok(s: str) -> bool:
    """Independent check of an 18-digit ID (weights 2^(17-i) mod 11)."""
    if not re.fullmatch(r"\d{17}[\dX]", s):
        return False
    total = sum(int(c) * (2 ** (17 - i) % 11) for i, c in enumerate(s[:17]))
    return "10X98765432"[total % 11] == s[17]


def cell_text(v: object) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, datetime | date):
        return v.isoformat()[:10]
    return "" if v is None else str(v)


def read_table(path: Path) -> list[list[str]]:
    """All physical rows of a delivered file as text (row i of the list = physical row i + 1)."""
    if path.suffix == ".xlsx":
        rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python(skip_empty_area=False)
        return [[cell_text(c) for c in r] for r in rows]
    data = path.read_bytes()
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    return list(csv.reader(io.StringIO(text, newline="")))


def period_ref(code: str) -> date:
    if re.fullmatch(r"\d{4}", code):
        return date(int(code), 12, 31)
    if m := re.fullmatch(r"(\d{4})Q(\d)", code):
        y, q = int(m[1]), int(m[2])
        return date(y, q * 3, 30 if q in (2, 3) else 31)
    if re.fullmatch(r"\d{4}-\d{2}", code):
        return date(int(code[:4]), int(code[5:]), 28)
    return date.fromisoformat(code)


def tree_digest(root: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), int(p.stat().st_mtime))
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module", params=["classic", "vector"])
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """Every test below runs on both engines: row by row (the bundled sample) and column-wise (city)."""
    out = tmp_path_factory.mktemp(f"tiny_{request.param}")
    summary = generate(out, GeneratorConfig.preset("tiny", engine=request.param))
    return out, summary


@pytest.fixture(scope="module")
def truth(run) -> pl.DataFrame:
    out, _ = run
    return pl.read_parquet(out / "ground_truth.parquet")


@pytest.fixture(scope="module")
def catalog(run) -> tuple[pl.DataFrame, pl.DataFrame]:
    out, _ = run
    forms = pl.read_csv(out / "landing/catalog/forms.csv", infer_schema=False)
    fields = pl.read_csv(out / "landing/catalog/form_fields.csv", infer_schema=False)
    return forms, fields


@pytest.fixture(scope="module")
def cells(run, truth) -> pl.DataFrame:
    """Ground truth joined with the name and ID cells read back from every delivered file."""
    out, _ = run
    records = []
    for (source, form), rows in truth.group_by(["source_file", "form_code"], maintain_order=True):
        fields = FORMS_BY_CODE[form].fields
        name_labels = {f.label for f in fields if f.source == "name"} | set(SYNONYM_SWAPS["name"])
        id_labels = {f.label for f in fields if f.source == "id"} | set(SYNONYM_SWAPS["id"])
        table = read_table(out / "landing" / source)
        first = rows["row_number"].min() - 1
        h = first - 1
        while h >= 0 and sum(1 for c in table[h] if c.strip()) <= 1:
            h -= 1  # skip blank and title rows above the data
        header = table[h]
        name_col = next((i for i, c in enumerate(header) if c in name_labels), None)
        id_col = next((i for i, c in enumerate(header) if c in id_labels), None)
        for rn, pid, tags in rows.select("row_number", "person_id", "noise").iter_rows():
            row = table[rn - 1]
            records.append(
                {
                    "source_file": source,
                    "row_number": rn,
                    "person_id": pid,
                    "noise": tags,
                    "name": row[name_col] if name_col is not None else None,
                    "id": row[id_col] if id_col is not None else None,
                    "first_cell": row[0],
                }
            )
    return pl.DataFrame(records)


def test_determinism_byte_identical(run, tmp_path: Path) -> None:
    out, summary = run
    engine = summary.config.engine
    assert main(["--preset", "tiny", "--engine", engine, "--out", str(tmp_path), "--quiet"]) == 0
    first, second = tree_digest(out), tree_digest(tmp_path)
    assert len(first) > 50
    assert first == second  # same files, same bytes, same mtimes


def test_catalog_breadth_and_labels(run, catalog) -> None:
    out, _ = run
    forms, fields = catalog
    assert (out / "landing/catalog/forms.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert forms.columns == ["报表编号", "报表名称", "主管部门", "下发层级", "填报频次", "填报对象"]
    assert fields.columns == ["报表编号", "字段序号", "字段名称", "字段类型", "是否必填"]
    assert forms.height >= 30 and forms["主管部门"].n_unique() >= 10
    assert set(forms["填报频次"]) == {"月报", "季报", "年报", "不定期"}
    assert set(forms["填报对象"]) <= {"居委会", "村委会", "全部"} and {"居委会", "村委会"} <= set(
        forms["填报对象"]
    )
    assert set(fields["字段类型"]) == {
        "文本",
        "身份证号",
        "日期",
        "年月",
        "电话",
        "性别",
        "整数",
        "数值",
        "是否",
    }
    synonyms = {
        s
        for e in yaml.safe_load((SCHEMAS_DIR / "data_elements.yaml").read_text())["elements"]
        for s in e["synonyms"]
    }
    id_labels = set(fields.filter(pl.col("字段类型") == "身份证号")["字段名称"])
    assert {"身份证号", "公民身份号码", "证件号码", "身份证件号码"} <= id_labels
    assert {"联系电话", "手机号码", "联系方式"} <= set(
        fields.filter(pl.col("字段类型") == "电话")["字段名称"]
    )
    assert {"出生日期", "生日"} <= set(fields.filter(pl.col("字段类型") == "日期")["字段名称"])
    assert "出生年月" in set(fields.filter(pl.col("字段类型") == "年月")["字段名称"])
    # labels of person data elements that the synonym lists do not know (fuzzy matching has work)
    person_labels = {
        f.label: f.source
        for form in FORMS
        for f in form.fields
        if f.source in ("name", "id", "phone", "res_addr", "hukou_addr", "birth_date")
    }
    unknown = {label: src for label, src in person_labels.items() if label not in synonyms}
    assert len(unknown) >= 5 and len(set(unknown.values())) >= 4, unknown
    # some forms type their ID column as plain text
    text_ids = fields.filter(
        (pl.col("字段类型") == "文本") & pl.col("字段名称").str.contains("证件号码|身份证号|公民身份号码")
    )
    assert text_ids.height >= 2
    # fields that appear on one form only, with typed values
    per_label = fields.group_by("字段名称").agg(
        pl.col("报表编号").n_unique().alias("n"), pl.col("字段类型").first()
    )
    singles = per_label.filter(pl.col("n") == 1)
    assert {
        "残疾证号",
        "低保证号",
        "低保金额",
        "独居",
        "高龄补贴金额",
        "新能源车充电需求",
        "退役时间",
        "入伍时间",
        "医保类型",
        "疫苗接种",
        "失业登记日期",
        "避难场所",
    } <= set(singles["字段名称"])
    assert set(singles["字段类型"]) >= {"整数", "数值", "是否", "日期", "文本"}


def test_rows_point_at_data_and_people_are_consistent(cells) -> None:
    # every ground-truth row is a data row (not header, total or footer)
    assert not cells.filter(
        pl.col("first_cell").is_in(["合计", "序号"]) | pl.col("first_cell").str.starts_with("填表人")
    ).height
    clean_name = cells.filter(
        ~pl.col("noise").list.eval(pl.element().is_in(list(NAME_NOISE | UNUSABLE | COLUMN_NOISE))).list.any()
    )
    clean_name = clean_name.filter(pl.col("name").is_not_null())
    assert clean_name.height > 300
    assert clean_name["name"].str.contains(r"^[\u4e00-\u9fff]{2,4}$").all()
    assert (
        clean_name.group_by("person_id").agg(pl.col("name").n_unique()).filter(pl.col("name") > 1).height == 0
    )


def test_clean_ids_pass_gb11643_and_are_unique_per_person(cells) -> None:
    clean = cells.filter(
        pl.col("id").is_not_null()
        & ~pl.col("noise").list.eval(pl.element().is_in(list(ID_NOISE | UNUSABLE | COLUMN_NOISE))).list.any()
    )
    assert clean.height > 300
    bad = [i for i in clean["id"] if not gb11643_ok(i)]
    assert not bad, bad[:5]
    per_person = clean.group_by("person_id").agg(pl.col("id").n_unique().alias("n"), pl.col("id").first())
    assert per_person.filter(pl.col("n") > 1).height == 0
    assert per_person["id"].n_unique() == per_person.height  # different people, different IDs


def test_planted_noise_kinds_all_occur(run, truth, cells) -> None:
    tags = set(truth["noise"].explode().drop_nulls())
    expected = (
        ID_NOISE
        | NAME_NOISE
        | UNUSABLE
        | COLUMN_NOISE
        | {
            "phone_format",
            "phone_fullwidth",
            "date_mixed",
            "date_slash",
            "date_cn",
            "date_compact",
            "date_serial",
            "date_cell",
            "correction_file",
            "value_corrected",
            "value_superseded",
            "twin",
            "common_name",
            "mover",
        }
    )
    assert expected <= tags, expected - tags

    def with_tag(tag: str) -> pl.DataFrame:
        return cells.filter(
            pl.col("noise").list.contains(tag) & ~pl.col("noise").list.contains("column_renamed")
        )

    assert all(len(i) == 15 and i.isdigit() for i in with_tag("id_legacy15")["id"])
    assert all(i.endswith("x") or i.endswith("ｘ") for i in with_tag("id_lowercase_x")["id"])
    assert all(re.search("[０-９]", i) for i in with_tag("id_fullwidth")["id"])
    assert all(i == "" for i in with_tag("id_blank")["id"])
    no_name = with_tag("unusable_no_name_no_id")
    assert all(n in ("", None) for n in no_name["name"]) and all(i in ("", None) for i in no_name["id"])
    assert all(re.search(r"\s|\u3000", n) for n in with_tag("name_space")["name"])
    wrong = with_tag("id_wrong_check")["id"].to_list()
    assert wrong and not any(
        gb11643_ok(i.upper()) for i in wrong if "x" not in i and not re.search("[０-９]", i)
    )


def test_rejects_and_corrections(run) -> None:
    out, summary = run
    landing = out / "landing"
    kinds = {r.split(":", 1)[0]: landing / r.split(":", 1)[1] for r in summary.rejected_files}
    assert set(kinds) == {"empty", "not_zip", "no_header", "unknown_form"}
    assert kinds["empty"].stat().st_size == 0
    assert kinds["not_zip"].suffix == ".xlsx" and not zipfile.is_zipfile(kinds["not_zip"])
    assert kinds["unknown_form"].parts[-3] not in {p.name for p in landing.glob("*/*")} - {"ZZ99"}
    assert "姓名" not in kinds["no_header"].read_bytes().decode("gbk")
    assert 1 <= len(summary.corrections) <= 2
    for rel in summary.corrections:
        fixed = landing / rel
        original = fixed.with_name(fixed.name.replace("_更正", ""))
        assert original.exists() and sorted([original.name, fixed.name])[0] == original.name
        a, b = read_table(original), read_table(fixed)
        diffs = [
            (i, j)
            for i, (ra, rb) in enumerate(zip(a, b, strict=True))
            for j, (x, y) in enumerate(zip(ra, rb, strict=True))
            if x != y
        ]
        assert len([d for d in diffs if d[0] > 0]) == 1  # title row aside, exactly one value fixed


def test_twins_common_names_and_movers(truth, cells) -> None:
    twins = cells.filter(
        pl.col("noise").list.contains("twin")
        & ~pl.col("noise").list.eval(pl.element().is_in(list(ID_NOISE | NAME_NOISE))).list.any()
    )
    hh = truth.select("person_id", "household_id").unique()
    pairs = (
        twins.join(hh, on="person_id")
        .group_by("household_id")
        .agg(pl.col("person_id").unique(), pl.col("id").unique(), pl.col("name").unique())
    )
    pair = pairs.filter(pl.col("person_id").list.len() == 2).row(0, named=True)
    id_a, id_b = sorted(pair["id"])
    assert id_a[6:14] == id_b[6:14] and 1 <= int(id_b[14:17]) - int(id_a[14:17]) <= 2
    assert len(set(pair["name"])) == 2 and len({n[0] for n in pair["name"]}) == 1
    common = cells.filter(
        pl.col("noise").list.contains("common_name")
        & ~pl.col("noise").list.eval(pl.element().is_in(list(NAME_NOISE | UNUSABLE))).list.any()
    )
    assert common.height and set(common["name"]) <= {n for n, _ in COMMON_NAMES}
    moved = (
        truth.group_by("person_id")
        .agg(pl.col("committee_code").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    assert moved.height >= 1
    for pid in moved["person_id"]:
        rows = truth.filter(pl.col("person_id") == pid).with_columns(
            pl.col("period").map_elements(period_ref, return_dtype=pl.Date).alias("ref")
        )
        spans = (
            rows.group_by("committee_code")
            .agg(pl.col("ref").min().alias("lo"), pl.col("ref").max().alias("hi"))
            .sort("lo")
        )
        assert spans["hi"][0] < spans["lo"][1]  # all of A before all of B
        assert spans["committee_code"][0][:9] != spans["committee_code"][1][:9]  # another township


def test_district_wide_files_and_encodings(run, truth) -> None:
    out, summary = run
    landing = out / "landing"
    dw = truth.filter(~pl.col("source_file").str.split("/").list.get(3).str.contains(r"^\d{12}_"))
    assert dw.height and summary.district_wide_files >= 1
    for source, rows in dw.group_by("source_file"):
        table = read_table(landing / source[0])
        codes = set(rows["committee_code"])
        values = {c for r in rows["row_number"] for c in table[r - 1]}
        assert codes <= values or len(codes) <= len(values & {c for c in values if c.endswith("委会")})
    kinds = summary.files_by_kind
    assert {"csv/utf-8", "csv/utf-8-sig", "csv/gbk", "csv/gb18030", "xlsx"} <= set(kinds)
    for path in landing.rglob("*.csv"):
        raw = path.read_bytes()
        if not raw or "catalog" in path.parts:
            continue
        lines = raw.replace(b"\r\n", b"\n").rstrip(b"\n").split(b"\n")
        assert len(lines) == len(read_table(path))  # no embedded newlines
