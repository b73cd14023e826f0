"""Workbooks as offices deliver them: .xls (BIFF), WPS .et, .ods, misnamed, HTML/XML "Excel", encrypted, cut short.

The roster fixtures (tests/ingest/fixtures/, built by make_fixtures.py: xlsxwriter, then LibreOffice headless
for real BIFF8 and ODF) carry the same planted shapes; see make_fixtures.py for the list row by row.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import olefile
import polars as pl
import pytest
import xlsxwriter
import xlwt

from assets.common.warehouse import connect
from assets.ingest import pipeline
from assets.ingest.catalog import load_catalog
from assets.ingest.layout import CatalogField, load_synonyms
from assets.ingest.reader import FileRejected, LandingFile, ParsedFile, parse_file
from assets.ingest.sheets import plan_file
from assets.reference.divisions import load_divisions

FIXTURES = Path(__file__).parent / "fixtures"
CATALOG = [
    CatalogField(1, "序号", "integer", False),
    CatalogField(2, "姓名", "text", True),
    CatalogField(3, "公民身份号码", "id_number", True),
    CatalogField(4, "联系电话", "phone", False),
    CatalogField(5, "监护人姓名", "text", False),
    CatalogField(6, "监护人电话", "phone", False),
]
SYNONYMS = load_synonyms()


def landing_file(name: str, committee: str | None = "310101002001") -> LandingFile:
    suffix = name.rsplit(".", 1)[-1].lower()
    return LandingFile(Path(name), f"310101/MZ01/2026-10/{name}", "310101", "MZ01", "2026-10", committee,
                       {"xlsm": "xlsx"}.get(suffix, suffix), 0, 0.0)  # fmt: skip


def parse(name: str, data: bytes) -> ParsedFile:
    return parse_file(landing_file(name), data)


@pytest.mark.parametrize(
    ("fixture", "name", "container", "note"),
    [
        ("roster.xlsx", "310101002001_名册.xlsx", "ooxml", None),
        ("roster.xls", "310101002001_名册.xls", "ole", None),  # LibreOffice BIFF8
        ("roster.xls", "310101002001_名册.et", "ole", None),  # WPS .et is BIFF inside
        ("roster.ods", "310101002001_名册.ods", "odf", None),
        (
            "roster.xlsx",
            "310101002001_名册.xls",
            "ooxml",
            "named .xls but the content is .xlsx",
        ),  # re-saved, renamed
    ],
)
def test_every_workbook_format_reads_the_same_roster(
    fixture: str, name: str, container: str, note: str | None
) -> None:
    parsed = parse(name, (FIXTURES / fixture).read_bytes())
    assert parsed.container == container
    assert (note in parsed.notes) if note else not parsed.notes
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    assert sorted((s.name, s.reason) for s in plan.skipped_sheets) == [
        ("Sheet3", "empty"), ("填表说明", "instructions"), ("字典", "hidden_lookup")
    ]  # fmt: skip
    assert "sheet '字典' skipped: hidden_lookup (3 rows)" in plan.notes
    assert [s.name for s in plan.sheets] == ["名册", "名册(续)"]  # both data sheets read
    roster = plan.sheets[0]
    assert (roster.layout.first_row, roster.layout.header_row) == (2, 3)  # stacked two-row header
    by_label = {c.header_label: c.field_label for c in roster.layout.columns}
    assert by_label["联系方式/手机号码"] == "联系电话"
    assert by_label["监护人/姓名"] == "监护人姓名" and by_label["监护人/电话"] == "监护人电话"
    assert by_label["姓名"] == "姓名" and by_label["身份证号"] == "公民身份号码"  # merged down over both rows
    assert [(n, r) for n, r, _ in roster.skipped] == [
        (1, "title"), (2, "header"), (3, "header"), (4, "column_numbers"), (11, "template_row"),
        (12, "total"), (13, "footer"), (14, "footer"), (15, "date_line"),
    ]  # fmt: skip
    assert [n for n, _ in roster.data_rows] == [5, 6, 7, 8, 9, 10]
    assert roster.row_flags == {6: ["hidden_row"], 9: ["duplicate_row"], 10: ["duplicate_row"]}
    assert roster.rows_read == 15  # every physical row of the sheet is accounted for
    assert [n for n, _ in plan.sheets[1].data_rows] == [2, 3]


def test_biff_written_by_another_writer_with_hidden_rows_and_sheets() -> None:
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Sheet1")
    ws.write_merge(0, 0, 0, 2, "名册")  # title merged over the table
    for col, label in enumerate(["姓名", "身份证号", "联系电话"]):
        ws.write(1, col, label)
    ws.write(2, 0, "张伟")
    ws.write(2, 1, "110101194001011231")
    ws.write(3, 0, "李娜")
    ws.row(3).hidden = True  # planted: hidden row 4
    lookup = book.add_sheet("代码表")
    lookup.write(0, 0, "联系电话")  # planted: hidden lookup sheet whose lists are headed like form fields
    lookup.write(0, 1, "监护人电话")
    lookup.write(0, 2, "序号")
    lookup.write(1, 0, "固定电话")
    lookup.visibility = 1
    buffer = io.BytesIO()
    book.save(buffer)
    parsed = parse("310101002001_a.xls", buffer.getvalue())
    assert parsed.sheets[0].hidden_rows == {4}
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    assert [(s.name, s.reason) for s in plan.skipped_sheets] == [("代码表", "hidden_lookup")]
    assert plan.sheets[0].row_flags == {4: ["hidden_row"]}


def _encrypted_ooxml() -> bytes:
    import msoffcrypto.format.ooxml

    out = io.BytesIO()
    msoffcrypto.format.ooxml.OOXMLFile(io.BytesIO((FIXTURES / "roster.xlsx").read_bytes())).encrypt(
        "123456", out
    )
    return out.getvalue()  # an OLE compound file with EncryptionInfo + EncryptedPackage streams


def _biff_with_filepass() -> bytes:
    """A real BIFF8 file whose second record is turned into FILEPASS (0x002F), as a password-protected .xls has."""
    ole = olefile.OleFileIO(io.BytesIO((FIXTURES / "roster.xls").read_bytes()), write_mode=True)
    stream = bytearray(ole.openstream("Workbook").read())
    first_size = int.from_bytes(stream[2:4], "little")
    stream[4 + first_size : 4 + first_size + 2] = (0x002F).to_bytes(2, "little")
    ole.write_stream("Workbook", bytes(stream))
    ole.fp.seek(0)
    return ole.fp.read()


ROSTER_XLSX = (FIXTURES / "roster.xlsx").read_bytes()
ROSTER_XLS = (FIXTURES / "roster.xls").read_bytes()


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("310101002001_a.xlsx", _encrypted_ooxml, "encrypted_workbook"),
        ("310101002001_a.xls", _encrypted_ooxml, "encrypted_workbook"),  # the same package named .xls
        ("310101002001_a.xls", _biff_with_filepass, "encrypted_workbook"),
        (
            "310101002001_a.xlsx",
            lambda: ROSTER_XLSX[: len(ROSTER_XLSX) // 2],
            "truncated_workbook",
        ),  # cut mid-zip
        (
            "310101002001_a.xls",
            lambda: ROSTER_XLS[: len(ROSTER_XLS) - 700],
            "truncated_workbook",
        ),  # mid-sector
        ("310101002001_a.xls", lambda: ROSTER_XLS[:4096], "truncated_workbook"),  # cut on a sector boundary
        ("310101002001_a.xls", lambda: b"\x00\x01binary junk\xff" * 40, "unreadable_workbook"),
        ("310101002001_a.xlsx", lambda: b"this is not a zip", "unreadable_workbook"),  # text, but no table
    ],
)
def test_unreadable_workbooks_are_refused_with_their_own_reason(name: str, make, reason: str) -> None:
    with pytest.raises(FileRejected) as info:
        parse(name, make())
    assert info.value.reason_code == reason
    assert name in info.value.message


HTML_XLS = """<html xmlns:x="urn:schemas-microsoft-com:office:excel"><head>
<meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>
<table border="1">
<tr><td colspan="4">困难老人名册</td></tr>
<tr><td rowspan="2">姓名</td><td rowspan="2">身份证号</td><td colspan="2">监护人</td></tr>
<tr><td>姓名</td><td>电话</td></tr>
<tr><td>张&nbsp;伟</td><td>110101194001011231</td><td>张小伟</td><td>13900139000</td></tr>
<tr style="display:none"><td>李娜</td><td>110101194503032349</td><td></td><td></td></tr>
<tr><td>填表人：王芳</td><td></td><td></td><td></td></tr>
</table></body></html>"""  # planted: web-system export, GBK bytes, stacked header by rowspan/colspan, hidden row 5


def test_html_table_saved_as_xls_is_read() -> None:
    parsed = parse("310101002001_a.xls", HTML_XLS.encode("gbk"))
    assert parsed.container == "html" and parsed.encoding == "gb18030"
    assert "named .xls but the content is an HTML table" in parsed.notes
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    sheet = plan.sheets[0]
    assert sheet.layout.header_cells == ["姓名", "身份证号", "监护人/姓名", "监护人/电话"]
    assert [(n, cells[0]) for n, cells in sheet.data_rows] == [(4, "张 伟"), (5, "李娜")]
    assert sheet.row_flags == {5: ["hidden_row"]}
    assert [(n, r) for n, r, _ in sheet.skipped] == [
        (1, "title"),
        (2, "header"),
        (3, "header"),
        (6, "footer"),
    ]


SPREADSHEET_ML = """<?xml version="1.0" encoding="UTF-8"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
<Worksheet ss:Name="名册"><Table>
<Row><Cell ss:MergeAcross="1"><Data ss:Type="String">名册</Data></Cell></Row>
<Row><Cell><Data ss:Type="String">姓名</Data></Cell><Cell><Data ss:Type="String">身份证号</Data></Cell>
  <Cell><Data ss:Type="String">联系电话</Data></Cell></Row>
<Row ss:Hidden="1"><Cell><Data ss:Type="String">张伟</Data></Cell>
  <Cell ss:Index="2"><Data ss:Type="String">110101194001011231</Data></Cell></Row>
<Row ss:Index="5"><Cell><Data ss:Type="String">李娜</Data></Cell></Row>
</Table></Worksheet></Workbook>"""  # planted: Excel 2003 XML, hidden row 3, a skipped row index (row 4 blank)


def test_excel_2003_xml_saved_as_xls_is_read() -> None:
    parsed = parse("310101002001_a.xls", SPREADSHEET_ML.encode("utf-8"))
    assert parsed.container == "spreadsheetml"
    plan = plan_file(parsed, CATALOG, SYNONYMS)
    sheet = plan.sheets[0]
    assert [n for n, _ in sheet.data_rows] == [3, 5]
    assert [(n, r) for n, r, _ in sheet.skipped] == [(1, "title"), (2, "header"), (4, "blank")]
    assert sheet.row_flags == {3: ["hidden_row"]}


def test_tab_separated_text_saved_as_xls_is_read() -> None:
    text = "姓名\t身份证号\n张伟\t110101194001011231\n"  # planted: a web export that is TSV named .xls
    parsed = parse("310101002001_a.xls", text.encode("utf-16"))
    assert parsed.container == "text" and parsed.sheets[0].delimiter == "\t"
    assert parsed.rows == [(1, ["姓名", "身份证号"]), (2, ["张伟", "110101194001011231"])]


def _district_workbook(path: Path) -> None:
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("汇总")
    ws.write_row(0, 0, ["街镇", "居委会", "姓名", "身份证号"])
    ws.merge_range(1, 0, 3, 0, "南京东路街道")  # planted: 街镇 merged down rows 2–4
    ws.merge_range(1, 1, 2, 1, "云南中路居委会")  # planted: 居委会 merged down rows 2–3
    ws.write(3, 1, "贵州居委会")
    ws.write_row(1, 2, ["张伟", "110101194001011231"])
    ws.write_row(2, 2, ["李娜", "110101194503032349"])
    ws.write_row(3, 2, ["王强", "110101195005053452"])
    ws.write_row(4, 0, ["南京东路街道", "贵州居委会", "赵敏", "110101195507074563"])
    ws.write_row(5, 2, ["孙丽", "110101196001011236"])  # planted: 街镇/居委会 left blank (unmerged export)
    wb.close()


def test_group_cells_merged_down_are_filled(tmp_path: Path) -> None:
    path = tmp_path / "黄浦区_汇总.xlsx"
    _district_workbook(path)
    parsed = parse_file(landing_file("黄浦区_汇总.xlsx", committee=None), path.read_bytes())
    sheet = plan_file(parsed, CATALOG, SYNONYMS).sheets[0]
    assert [(cells[0], cells[1]) for _, cells in sheet.data_rows] == [
        ("南京东路街道", "云南中路居委会"), ("南京东路街道", "云南中路居委会"), ("南京东路街道", "贵州居委会"),
        ("南京东路街道", "贵州居委会"), ("南京东路街道", "贵州居委会"),
    ]  # fmt: skip
    assert sheet.row_flags == {3: ["merged_cell_filled"], 4: ["merged_cell_filled"], 6: ["group_filled_down"]}


FORMS = "报表编号,报表名称,主管部门,下发层级,填报频次,填报对象\nMZ01,困难老人名册,民政局,市级,月报,全部\n"
FIELDS = "报表编号,字段序号,字段名称,字段类型,是否必填\n" + "".join(
    f"MZ01,{c.field_order},{c.field_label},{ {'text': '文本', 'integer': '整数', 'id_number': '身份证号', 'phone': '电话'}[c.field_type] },{'是' if c.required else '否'}\n"
    for c in CATALOG
)


@pytest.mark.parametrize("fixture", ["roster.xls", "roster.ods"])
def test_pipeline_stores_sheets_flags_and_skipped_sheets(tmp_path: Path, fixture: str) -> None:
    root = tmp_path / "landing"
    (root / "catalog").mkdir(parents=True)
    (root / "catalog" / "forms.csv").write_text(FORMS, encoding="utf-8")
    (root / "catalog" / "form_fields.csv").write_text(FIELDS, encoding="utf-8")
    target = root / "310101" / "MZ01" / "2026-10" / f"310101002001_名册.{fixture.split('.')[1]}"
    target.parent.mkdir(parents=True)
    target.write_bytes((FIXTURES / fixture).read_bytes())
    with connect(tmp_path / "w.duckdb") as con:
        ctx = pipeline.IngestContext.build(load_catalog(root), load_divisions())
        pipeline.ingest_district(con, root, "310101", ctx, "run-1")
        files = con.sql("SELECT status, rows_read, warnings FROM raw.landing_files").pl()
        assert files["status"].to_list() == ["ingested"] and files["rows_read"].to_list() == [18]  # 15 + 3
        assert "sheet '填表说明' skipped: instructions (3 rows)" in files["warnings"][0].to_list()
        records = con.sql(
            "SELECT sheet, row_number, flags FROM staging.form_records ORDER BY sheet, row_number"
        ).pl()
        assert records.select("sheet", "row_number").rows() == [
            ("名册", 5), ("名册", 6), ("名册", 7), ("名册", 8), ("名册", 9), ("名册", 10), ("名册(续)", 2), ("名册(续)", 3)
        ]  # fmt: skip
        flags = dict(zip(records["row_number"].to_list()[:6], records["flags"].to_list()[:6], strict=True))
        assert "hidden_row" in flags[6] and "duplicate_row" in flags[9] and "duplicate_row" in flags[10]
        skipped = con.sql("SELECT reason, count(*) FROM raw.skipped_rows GROUP BY 1 ORDER BY 1").pl().rows()
        assert skipped == [("column_numbers", 1), ("date_line", 1), ("footer", 2), ("header", 3), ("template_row", 1),
                           ("title", 1), ("total", 1)]  # fmt: skip
        assert pipeline.file_accounting(con).filter(pl.col("unaccounted") != 0).height == 0


def test_sheets_are_told_apart_by_content_when_names_say_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    wb = xlsxwriter.Workbook(path)
    wb.add_worksheet("Sheet1").write_row(0, 0, ["姓名", "身份证号", "联系电话"])
    notes = wb.add_worksheet("Sheet2")  # planted: a two-column field guide headed 填表说明, not a data table
    notes.write_row(0, 0, ["填表说明", ""])
    notes.write_row(1, 0, ["姓名", "填写身份证上的姓名"])
    notes.write_row(2, 0, ["身份证号", "18位"])
    cover = wb.add_worksheet("封面")  # planted: a cover page (填报单位 / 日期)
    cover.write_row(0, 0, ["填报单位：", "南京东路街道"])
    other = wb.add_worksheet("Sheet3")  # planted: a visible table of something else
    other.write_row(0, 0, ["项目", "数量"])
    other.write_row(1, 0, ["走访", "3"])
    wb.close()
    plan = plan_file(parse("310101002001_a.xlsx", path.read_bytes()), CATALOG, SYNONYMS)
    assert [(s.name, s.reason, s.rows) for s in plan.skipped_sheets] == [
        ("封面", "cover", 1),  # skipped by name first, then sheets without the header, in workbook order
        ("Sheet2", "instructions", 3),
        ("Sheet3", "no_header", 2),
    ]
    assert [s.name for s in plan.sheets] == ["Sheet1"]


def test_a_compound_file_naming_encryption_streams_is_encrypted_even_when_damaged() -> None:
    fake = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    fake += "EncryptionInfo".encode("utf-16-le") + b"\x00" * 100  # planted: a damaged encrypted package
    with pytest.raises(FileRejected) as info:
        parse("310101002001_a.xlsx", fake)
    assert info.value.reason_code == "encrypted_workbook"


ODS_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="名册">
<table:table-row><table:table-cell table:number-columns-spanned="3" office:value-type="string"><text:p>名册</text:p>
 </table:table-cell><table:covered-table-cell table:number-columns-repeated="2"/></table:table-row>
<table:table-row><table:table-cell office:value-type="string"><text:p>姓名</text:p></table:table-cell>
 <table:table-cell office:value-type="string"><text:p>身份证号</text:p></table:table-cell>
 <table:table-cell office:value-type="string"><text:p>联系电话</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="2"><table:table-cell table:number-columns-repeated="3"/></table:table-row>
<table:table-row table:visibility="collapse"><table:table-cell office:value-type="string"><text:p>张伟</text:p>
 </table:table-cell></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"""
# planted: an .ods from a minimal writer (no META-INF/manifest.xml), a title spanned over 3 columns,
# two blank rows written as one repeated row (rows 3–4), and a hidden row 5


def test_minimal_ods_without_manifest_is_read_with_repeated_and_hidden_rows() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", ODS_CONTENT)
    parsed = parse("310101002001_a.ods", buffer.getvalue())
    sheet = parsed.sheets[0]
    assert sheet.hidden_rows == {5} and sheet.merges == [(1, 0, 1, 2)]
    assert [(n, cells[0]) for n, cells in parsed.rows] == [
        (1, "名册"),
        (2, "姓名"),
        (3, ""),
        (4, ""),
        (5, "张伟"),
    ]
