"""Delimited text as districts export it: delimiters, quoting, UTF-16, lying BOMs, multi-line cells, stray delimiters."""

from __future__ import annotations

from pathlib import Path

import pytest

from assets.ingest.layout import CatalogField, load_synonyms
from assets.ingest.reader import FileRejected, LandingFile, ParsedFile, parse_file
from assets.ingest.sheets import plan_file
from assets.ingest.textfile import decode_bytes, sniff_dialect

CATALOG = [
    CatalogField(1, "姓名", "text", True),
    CatalogField(2, "公民身份号码", "id_number", True),
    CatalogField(3, "补贴金额", "integer", False),
    CatalogField(4, "居住地址", "text", False),
]
SYNONYMS = load_synonyms()
ROWS = [
    ["姓名", "身份证号", "补贴金额", "居住地址"],
    ["张伟", "110101194001011231", "300", "黄浦区南京东路1号"],
    ["李娜", "110101194503032349", "", "黄浦区, 云南中路2弄"],  # a comma inside a quoted address
    ["王强", "110101195005053452", "200", '他说"在家"'],  # quotes inside a quoted cell
]


def landing_file(name: str) -> LandingFile:
    suffix = name.rsplit(".", 1)[-1]
    return LandingFile(Path(name), f"310101/MZ01/2026-10/{name}", "310101", "MZ01", "2026-10", "310101002001",
                       suffix, 0, 0.0)  # fmt: skip


def parse(name: str, data: bytes) -> ParsedFile:
    return parse_file(landing_file(name), data)


def render(delimiter: str, rows: list[list[str]] = ROWS) -> str:
    def cell(c: str) -> str:
        return '"' + c.replace('"', '""') + '"' if any(x in c for x in (delimiter, '"', "\n", ",")) else c

    return "\r\n".join(delimiter.join(cell(c) for c in row) for row in rows) + "\r\n"


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_and_quoting_are_detected(delimiter: str) -> None:
    text = "XX居委会名册\r\n" + render(delimiter)  # planted: a one-cell title row above the header
    parsed = parse("310101002001_a.csv", text.encode("utf-8"))
    assert parsed.sheets[0].delimiter == delimiter
    assert parsed.rows[1:] == [(n, row) for n, row in enumerate(ROWS, start=2)]


def test_excel_sep_hint_line_names_the_delimiter() -> None:
    text = "sep=;\r\n" + render(",").replace(",", ";")  # planted: Excel's sep= line, then ; as delimiter
    parsed = parse("310101002001_a.csv", text.encode("utf-8"))
    assert parsed.sheets[0].delimiter == ";" and parsed.rows[0] == (1, ["sep=", ""])
    assert parsed.rows[1] == (2, ROWS[0])
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    assert plan.sheets[0].skipped[0][:2] == (1, "title")


def test_semicolon_file_with_a_stray_comma_keeps_semicolons() -> None:
    # planted: a semicolon file whose address holds an unquoted comma in one row: ',' must not win
    text = "姓名;身份证号;补贴金额;居住地址\n张伟;110101194001011231;300;黄浦区,南京东路\n李娜;110101194503032349;300;云南中路\n"
    assert sniff_dialect(text).delimiter == ";"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xff\xfe" + render("\t").encode("utf-16-le"), "utf-16-le"),  # Excel "Unicode text"
        (b"\xfe\xff" + render("\t").encode("utf-16-be"), "utf-16-be"),
        (render("\t").encode("utf-16-le"), "utf-16-le"),  # no BOM: told by the NUL bytes
        (render(",").encode("utf-16-be"), "utf-16-be"),
    ],
)
@pytest.mark.parametrize("name", ["310101002001_a.txt", "310101002001_a.csv"])
def test_utf16_text_exports_are_read_with_either_name(data: bytes, encoding: str, name: str) -> None:
    parsed = parse(name, data)
    assert parsed.encoding == encoding
    assert parsed.rows == [(n, row) for n, row in enumerate(ROWS, start=1)]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbf" + render(",").encode("gbk"), "gbk"),  # UTF-8 BOM pasted before GBK bytes
        (b"\xff\xfe" + render(",").encode("utf-8"), "utf-8"),  # UTF-16 BOM before UTF-8 bytes
        (b"\xef\xbb\xbf" + render(",").encode("gb18030"), "gbk"),  # GB18030 of common characters is GBK
    ],
)
def test_a_bom_that_does_not_match_the_content_is_survived(data: bytes, encoding: str) -> None:
    parsed = parse("310101002001_a.csv", data)
    assert parsed.encoding == encoding
    assert parsed.rows[0] == (1, ROWS[0]) and parsed.rows[2] == (3, ROWS[2])
    assert any("byte-order mark does not match" in n for n in parsed.notes)


def test_a_stray_nul_byte_is_removed_not_fatal() -> None:
    data = (
        render(",").encode("gbk").replace("张伟".encode("gbk"), "张伟".encode("gbk") + b"\x00")
    )  # planted NUL
    parsed = parse("310101002001_a.csv", data)
    assert parsed.encoding == "gbk" and parsed.rows[1] == (2, ROWS[1])
    assert "1 NUL character(s) removed" in parsed.notes


def test_decode_rejects_binary() -> None:
    with pytest.raises(FileRejected) as info:
        parse("310101002001_a.csv", bytes(range(256)) * 4)  # planted: binary bytes under a .csv name
    assert info.value.reason_code == "undecodable"
    assert decode_bytes("姓名".encode(), "x").encoding == "utf-8"


def test_a_multiline_cell_keeps_the_physical_line_of_its_row() -> None:
    text = (
        "姓名,身份证号,补贴金额,居住地址\n"  # line 1
        '张伟,110101194001011231,300,"黄浦区\n南京东路1号\n3楼"\n'  # lines 2–4: one record over three lines
        "李娜,110101194503032349,300,云南中路\n"  # line 5
    )
    parsed = parse("310101002001_a.csv", text.encode("utf-8"))
    assert [n for n, _ in parsed.rows] == [1, 2, 5]
    assert parsed.rows[1][1][3] == "黄浦区\n南京东路1号\n3楼"


def test_a_stray_quote_does_not_swallow_the_rows_after_it() -> None:
    text = (
        "姓名,身份证号,补贴金额,居住地址\n"
        '张伟,"110101194001011231,300,南京东路1号\n'  # planted: an opening quote that is never closed
        "李娜,110101194503032349,300,云南中路\n"
        "王强,110101195005053452,200,淮海中路\n"
    )
    parsed = parse("310101002001_a.csv", text.encode("utf-8"))
    assert [n for n, _ in parsed.rows] == [1, 2, 3, 4]  # three rows, not one row holding three
    assert parsed.rows[2] == (3, ["李娜", "110101194503032349", "300", "云南中路"])
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    assert plan.sheets[0].row_flags == {
        2: ["unbalanced_quote"],
        3: ["unbalanced_quote"],
        4: ["unbalanced_quote"],
    }


def test_an_unquoted_delimiter_in_the_last_text_field_is_joined_and_flagged() -> None:
    text = (
        "姓名,身份证号,补贴金额,居住地址\n"
        "张伟,110101194001011231,300,黄浦区,南京东路1号\n"  # planted: unquoted comma in the last (text) field
        "李娜,110101194503032349,300,云南中路\n"
    )
    plan = plan_file(parse("310101002001_a.csv", text.encode("utf-8")), CATALOG, SYNONYMS)
    sheet = plan.sheets[0]
    assert sheet.data_rows[0] == (2, ["张伟", "110101194001011231", "300", "黄浦区,南京东路1号"])
    assert sheet.row_flags == {2: ["extra_cells", "extra_cells_joined"]}


def test_extra_cells_after_a_non_text_field_become_a_column_not_lost() -> None:
    text = (
        "姓名,身份证号,补贴金额\n"
        "张伟,110101194001011231,300,备注:已核实\n"  # planted: a fourth cell under no header
        "李娜,110101194503032349,300\n"
    )
    plan = plan_file(parse("310101002001_a.csv", text.encode("utf-8")), CATALOG, SYNONYMS)
    sheet = plan.sheets[0]
    overflow = [c for c in sheet.layout.columns if c.match == "overflow"]
    assert [(c.index, c.field_label) for c in overflow] == [(3, "列4")]
    assert sheet.data_rows[0][1][3] == "备注:已核实"
    assert sheet.row_flags == {2: ["extra_cells"]}


def test_blank_group_cells_of_a_district_file_are_filled_down() -> None:
    text = (
        "街镇,居委会,姓名,身份证号,补贴金额\n"
        "南京东路街道,云南中路居委会,张伟,110101194001011231,300\n"
        ",,李娜,110101194503032349,300\n"  # planted: 街镇 and 居委会 written once per group
        ",贵州居委会,王强,110101195005053452,300\n"  # planted: only 街镇 left blank
    )
    plan = plan_file(parse("黄浦区_a.csv", text.encode("gbk")), CATALOG, SYNONYMS)
    sheet = plan.sheets[0]
    assert [cells[:2] for _, cells in sheet.data_rows] == [
        ["南京东路街道", "云南中路居委会"],
        ["南京东路街道", "云南中路居委会"],
        ["南京东路街道", "贵州居委会"],
    ]
    assert sheet.row_flags == {3: ["group_filled_down"], 4: ["group_filled_down"]}


def test_a_block_pasted_again_with_its_title_and_header() -> None:
    text = (
        "XX居委会名册\n"
        "姓名,身份证号,补贴金额\n"
        "张伟,110101194001011231,300\n"
        "李娜,110101194503032349,300\n"
        "XX居委会名册\n"  # planted: the whole export pasted again below: title,
        "姓名,身份证号,补贴金额\n"  # header,
        "张伟,110101194001011231,300\n"  # and the same rows
        "李娜,110101194503032349,300\n"
    )
    sheet = plan_file(parse("310101002001_a.csv", text.encode("utf-8")), CATALOG, SYNONYMS).sheets[0]
    assert [(n, r) for n, r, _ in sheet.skipped] == [(1, "title"), (2, "header"), (5, "title"), (6, "header")]
    assert [n for n, _ in sheet.data_rows] == [3, 4, 7, 8]
    assert sheet.row_flags == {7: ["duplicate_row"], 8: ["duplicate_row"]}


def test_pipeline_keeps_physical_lines_flags_and_extra_cells(tmp_path: Path) -> None:
    from assets.common.warehouse import connect
    from assets.ingest import pipeline
    from assets.ingest.catalog import load_catalog
    from assets.reference.divisions import load_divisions

    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(
        "报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,名册,民政局,市级,月报,全部\n",
        encoding="utf-8",
    )
    (root / "catalog" / "form_fields.csv").write_text(
        "报表编号,字段序号,字段名称,字段类型,是否必填\nMZ01,1,姓名,文本,是\nMZ01,2,公民身份号码,身份证号,是\n"
        "MZ01,3,补贴金额,整数,否\n",
        encoding="utf-8",
    )
    text = (
        "姓名\t身份证号\t补贴金额\r\n"  # line 1
        '"张\r\n伟"\t110101194001011231\t300\t已核实\r\n'  # lines 2–3: a cell over two lines, an extra cell
        "李娜\t110101194503032349\t300\r\n"  # line 4
        "填表人：王芳\r\n"  # line 5: sign-off
    )  # planted: Excel "Unicode text" (UTF-16 LE with BOM, tab-separated) named .txt
    target = root / "310101" / "MZ01" / "2026-10" / "310101002001_名册.txt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    with connect(tmp_path / "w.duckdb") as con:
        ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
        pipeline.ingest_district(con, root, "310101", ctx, "run-1")
        files = con.sql("SELECT status, encoding, rows_read FROM raw.landing_files").fetchall()
        assert files == [("ingested", "utf-16-le", 4)]
        records = con.sql("SELECT row_number, flags FROM staging.form_records ORDER BY 1").fetchall()
        assert [r[0] for r in records] == [2, 4] and "extra_cells" in records[0][1]
        extra = con.sql(
            "SELECT field_label, value_raw FROM staging.form_values WHERE field_order IS NULL"
        ).fetchall()
        assert extra == [("列4", "已核实"), ("列4", "")]  # the extra cell is stored, not cut
        skipped = con.sql("SELECT row_number, reason FROM raw.skipped_rows ORDER BY 1").fetchall()
        assert skipped == [(1, "header"), (5, "footer")]
