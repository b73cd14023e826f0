"""Workbook file formats: legacy BIFF .xls, WPS .et, .ods, renamed, HTML-as-xls, encrypted, truncated."""

from __future__ import annotations

from .forms import MZ01, MZ01_NAME, SIGN_OFF, mz01
from .model import Case, Ctx, FileExp, RowExp, SkipExp, case
from .writers import Sheet, write_xlsx


def _staged(rel: str, people, first_row: int, committee: str) -> list[RowExp]:
    return [
        RowExp(rel, p.name, "staged", row_number=first_row + i, committee=committee, id_valid=True)
        for i, p in enumerate(people)
    ]


def _legacy_rows(ctx: Ctx) -> tuple[list[list], list]:
    """Rows of the legacy-format fixtures (.xls, .et, .ods): title, header, 4 rows, 合计, 填表人."""
    c, period = ctx.committee, ctx.period("monthly")
    ps = ctx.people(4)
    rows = [[f"{c.name}{MZ01_NAME}"] + [None] * 8, MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    rows += [["合计", None, None, None, None, None, None, 600, None], [SIGN_OFF[0]]]
    return rows, ps


def legacy_source(ctx: Ctx) -> list[Sheet]:
    """The workbook LibreOffice converts into the committed .xls/.et/.ods fixtures (make_fixtures.py)."""
    rows, _ = _legacy_rows(ctx)
    lookup = [["民族"], ["汉族"], ["回族"]]
    return [Sheet("Sheet1", rows), Sheet("代码表", lookup, hidden=True)]


def _legacy_case(ctx: Ctx, fixture: str, ext: str) -> Case:
    c = ctx.committee
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.{ext}"
    ctx.copy_fixture(fixture, rel)
    _, ps = _legacy_rows(ctx)
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=4, quarantined=0, committee=c.code)],
        rows=_staged(rel, ps, 3, c.code),
        skips=[SkipExp(rel, "合计"), SkipExp(rel, "填表人")],
        ignored_sheets=[(rel, "代码表")],
    )


@case(11, "xls_biff8_legacy")
def legacy_xls(ctx: Ctx) -> Case:
    """Excel 97-2003 .xls (BIFF8) as old office PCs still save."""
    return _legacy_case(ctx, "case11.xls", "xls")


@case(12, "et_wps_biff")
def legacy_et(ctx: Ctx) -> Case:
    """WPS 表格 .et file (BIFF inside)."""
    return _legacy_case(ctx, "case12.et", "et")


@case(13, "ods_libreoffice")
def legacy_ods(ctx: Ctx) -> Case:
    """OpenDocument .ods from a LibreOffice/永中 desk."""
    return _legacy_case(ctx, "case13.ods", "ods")


@case(14, "xlsx_renamed_xls")
def renamed(ctx: Ctx) -> Case:
    """An .xlsx saved under an .xls name (renamed by hand to match the department's instructions)."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xls"
    ps = ctx.people(3)
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)])])
    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=_staged(rel, ps, 2, c.code))


@case(15, "html_table_saved_as_xls")
def html_xls(ctx: Ctx) -> Case:
    """A web system's 'export to Excel': an HTML table with an .xls name. Read it, or refuse it with a reason."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xls"
    ps = ctx.people(3)
    cells = "".join(f"<th>{h}</th>" for h in MZ01)
    body = "".join(
        "<tr>"
        + "".join(f"<td style=\"mso-number-format:'\\@'\">{v}</td>" for v in mz01(p, i + 1, period))
        + "</tr>\n"
        for i, p in enumerate(ps)
    )
    html = (
        '<html xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:x="urn:schemas-microsoft-com:office:excel">'
        '<head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
        f'<table border="1"><tr>{cells}</tr>\n{body}</table></body></html>'
    )
    ctx.path(rel).write_text(html, encoding="utf-8")

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT status, reason_code, rows_staged FROM raw.landing_files WHERE source_file=?", [rel]
        ).fetchall()
        if not got:
            return []  # reported by the generic file check
        status, reason, staged = got[0]
        if status == "ingested" and staged == 3:
            return []
        if status == "rejected" and reason:
            return []
        return [
            f"HTML-as-xls: want read (3 staged) or rejected with a reason, got {status}/{reason}/{staged}"
        ]

    return Case("", "", files=[FileExp(rel, status=("ingested", "rejected"))], extra=[check])


@case(16, "xlsx_password_encrypted")
def encrypted(ctx: Ctx) -> Case:
    """A workbook protected with an open password (OLE container): refused with its own reason."""
    c = ctx.committee
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ctx.copy_fixture("case16_encrypted.xlsx", rel)
    return Case(
        "",
        "",
        files=[
            FileExp(
                rel,
                status=("rejected",),
                reason=True,
                reason_words=("encrypt", "password", "加密", "protect", "密码"),
            )
        ],
    )


@case(17, "xlsx_truncated")
def truncated(ctx: Ctx) -> Case:
    """A workbook cut off by a broken USB stick / half-finished upload: refused with a reason."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(20)
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)])])
    data = ctx.path(rel).read_bytes()
    ctx.path(rel).write_bytes(data[: len(data) // 2])
    return Case(
        "",
        "",
        files=[FileExp(rel, status=("rejected",), reason=True)],
        rows=[RowExp(rel, p.name, "not_staged") for p in ps],
    )
