"""Delimited-text deliveries: encodings, dialects and values that lie."""

from __future__ import annotations

import datetime as dt

from .forms import (
    MZ01,
    MZ01_NAME,
    MZ02,
    MZ02_NAME,
    RS01,
    RS01_NAME,
    SIGN_OFF,
    WJ01,
    WJ01_NAME,
    mz01,
    mz02,
    pad,
    rs01,
    wj01,
)
from .model import Case, Ctx, FileExp, RowExp, SkipExp, ValueExp, case
from .people import check_digit, person
from .writers import delimited, write_text


def _mz01_text(ctx: Ctx, n: int, name_suffix: str = ".csv") -> tuple[str, list, list[list]]:
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}{name_suffix}"
    ps = ctx.people(n)
    return rel, ps, [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]


def _rows(rel: str, ps, starts: list[int], committee: str, **kw) -> list[RowExp]:
    return [
        RowExp(rel, p.name, "staged", row_number=s, committee=committee, id_valid=True, **kw)
        for p, s in zip(ps, starts, strict=True)
    ]


@case(21, "csv_gbk_title_total_signoff")
def gbk_title(ctx: Ctx) -> Case:
    """Excel 'CSV (逗号分隔)' on a Chinese Windows: GBK, title line, 合计, blank, 填表人/审核人, 联系电话."""
    rel, ps, rows = _mz01_text(ctx, 4)
    rows = [pad([f"{ctx.committee.name}{MZ01_NAME}"], 9)] + rows
    rows += [
        ["合计", None, None, None, None, None, None, 600, None],
        pad([], 9),
        pad([SIGN_OFF[0], None, SIGN_OFF[1]], 9),
        pad([SIGN_OFF[3]], 9),
    ]
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=4, quarantined=0, min_skipped=5, committee=ctx.committee.code)],
        rows=_rows(rel, ps, starts[2:6], ctx.committee.code, flagged=False),
        skips=[SkipExp(rel, "合计"), SkipExp(rel, "填表人"), SkipExp(rel, "63281234")],
    )


@case(22, "csv_gb18030_rare_characters")
def gb18030(ctx: Ctx) -> Case:
    """GB18030 CSV with names only GB18030 can encode (䶮 in CJK Ext-A, 𠮷 outside the BMP)."""
    rel, ps, rows = _mz01_text(ctx, 3)
    names = ["李䶮明", "吉𠮷祥", ps[2].name]
    for r, nm in zip(rows[1:], names, strict=True):
        r[1] = nm
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gb18030")
    exp = [
        RowExp(rel, nm, "staged", row_number=s, id_valid=True)
        for nm, s in zip(names, starts[1:], strict=True)
    ]
    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=exp)


@case(23, "csv_utf8_bom_semicolon")
def semicolon(ctx: Ctx) -> Case:
    """UTF-8 with BOM, ';' as delimiter (Excel on a PC with a European list separator)."""
    rel, ps, rows = _mz01_text(ctx, 3)
    text, starts = delimited(rows, delimiter=";")
    write_text(ctx.path(rel), text, "utf-8", bom=b"\xef\xbb\xbf")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


@case(24, "utf16_unicode_text_named_csv")
def utf16_csv(ctx: Ctx) -> Case:
    """Excel 'Unicode 文本': UTF-16LE with BOM, tab-separated, renamed to .csv."""
    rel, ps, rows = _mz01_text(ctx, 3)
    text, starts = delimited(rows, delimiter="\t")
    write_text(ctx.path(rel), text, "utf-16-le", bom=b"\xff\xfe")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


@case(25, "utf16_unicode_text_named_txt")
def utf16_txt(ctx: Ctx) -> Case:
    """Excel 'Unicode 文本' under its own .txt name."""
    rel, ps, rows = _mz01_text(ctx, 3, ".txt")
    text, starts = delimited(rows, delimiter="\t")
    write_text(ctx.path(rel), text, "utf-16-le", bom=b"\xff\xfe")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


@case(26, "csv_pipe_delimited_system_export")
def pipe(ctx: Ctx) -> Case:
    """A 业务系统 export with '|' between fields, UTF-8 without BOM, LF line ends."""
    rel, ps, rows = _mz01_text(ctx, 3)
    text, starts = delimited(rows, delimiter="|", newline="\n")
    write_text(ctx.path(rel), text, "utf-8")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


@case(27, "csv_tab_gbk")
def tab_gbk(ctx: Ctx) -> Case:
    """WPS '文本文件（制表符分隔）' in GBK, renamed .csv."""
    rel, ps, rows = _mz01_text(ctx, 3)
    text, starts = delimited(rows, delimiter="\t")
    write_text(ctx.path(rel), text, "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


@case(28, "csv_embedded_newline_in_quoted_cell")
def embedded_newline(ctx: Ctx) -> Case:
    """Address typed with Alt+Enter: a quoted cell spans two lines; later rows keep their physical line."""
    rel, ps, rows = _mz01_text(ctx, 4)
    rows[1][6] = ps[0].address + "\n（老宅已动迁，暂住女儿家）"
    rows[3][6] = ps[2].address + "\r\n302室"
    text, starts = delimited(rows)
    assert starts[1:] == [2, 4, 5, 7], starts  # planted: rows start on physical lines 2, 4, 5, 7
    write_text(ctx.path(rel), text, "utf-8", bom=b"\xef\xbb\xbf")
    exp = _rows(rel, ps, starts[1:], ctx.committee.code)
    exp[0].values = [ValueExp("居住地址", prefix=ps[0].address)]
    return Case("", "", files=[FileExp(rel, staged=4, quarantined=0)], rows=exp)


@case(29, "csv_unquoted_comma_in_last_field")
def unquoted_comma(ctx: Ctx) -> Case:
    """Hand-edited CSV: the last field 健康状况 holds '高血压,糖尿病' without quotes. Flag, never cut silently."""
    c, year = ctx.committee, ctx.period("annual")
    rel = f"{ctx.folder('WJ01', 'annual')}/{c.code}_{WJ01_NAME}.csv"
    ps = ctx.people(3)
    lines: list = [",".join(WJ01)]
    health = ["良好", "高血压,糖尿病", "一般"]
    for p, h in zip(ps, health, strict=True):
        lines.append(",".join(str(v) for v in wj01(p, f"{year}-05-12", "")[:-1]) + "," + h)
    text, starts = delimited(lines)
    write_text(ctx.path(rel), text, "utf-8", bom=b"\xef\xbb\xbf")
    exp = [
        RowExp(rel, ps[0].name, "staged", row_number=2, id_valid=True, flagged=False),
        RowExp(rel, ps[1].name, "kept", row_number=3, flagged=True),
        RowExp(rel, ps[2].name, "staged", row_number=4, id_valid=True, flagged=False),
    ]
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(30, "csv_bom_lies_gbk_body")
def bom_lies(ctx: Ctx) -> Case:
    """A UTF-8 BOM in front of a GBK body (header template saved by one tool, rows pasted by another)."""
    rel, ps, rows = _mz01_text(ctx, 3)
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk", bom=b"\xef\xbb\xbf")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )


def _damaged_000_passing_check(ctx: Ctx) -> tuple[object, str]:
    """A person whose Excel-damaged ID (…000) still has a correct check digit: only the 000 tells."""
    for k in range(40, 50):
        p = person(ctx.number * 50 + k)
        first17 = p.id_number[:15] + "00"
        if check_digit(first17) == "0":
            return p, first17 + "0"
    raise AssertionError("no person with a check-digit-valid …000 ID in the block")


@case(31, "csv_ids_damaged_by_excel")
def damaged_ids(ctx: Ctx) -> Case:
    """IDs that went through a float: 3.10101E+17, 15 digits + 000, full 15-digit mantissa E+17."""
    c = ctx.committee
    rel = f"{ctx.folder('MZ02', 'monthly')}/{c.code}_{MZ02_NAME}.csv"
    ps = ctx.people(4)
    p000, id000 = _damaged_000_passing_check(ctx)
    rows = [MZ02] + [mz02(p, i) for i, p in enumerate(ps)] + [mz02(p000, 5)]
    sci_short = f"{ps[1].id_number[0]}.{ps[1].id_number[1:6]}E+17"  # what Excel shows in a narrow column
    trail = ps[2].id_number[:15] + "000"
    sci_long = f"{ps[3].id_number[0]}.{ps[3].id_number[1:15]}E+17"
    rows[2][1], rows[3][1], rows[4][1], rows[5][1] = sci_short, trail, sci_long, id000
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk")
    exp = [RowExp(rel, ps[0].name, "staged", row_number=2, id_valid=True)]
    for p, raw, line in [(ps[1], sci_short, 3), (ps[2], trail, 4), (ps[3], sci_long, 5), (p000, id000, 6)]:
        exp.append(RowExp(rel, p.name, "kept", row_number=line, id_valid=False, id_raw=raw))
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(32, "csv_partial_dates")
def partial_dates(ctx: Ctx) -> Case:
    """失业登记日期 as '2019', '2019.3', '2019年3月' beside full dates: keep precision, flag, never 1905."""
    c = ctx.committee
    rel = f"{ctx.folder('RS01', 'monthly')}/{c.code}_{RS01_NAME}.csv"
    ps = ctx.people(5)
    dates = ["2019-03-05", "2020/7/1", "2019", "2019.3", "2019年3月"]
    text, starts = delimited([RS01] + [rs01(p, d) for p, d in zip(ps, dates, strict=True)])
    write_text(ctx.path(rel), text, "gbk")
    exp = [
        RowExp(
            rel, ps[0].name, "staged", values=[ValueExp("失业登记日期", equals="2019-03-05", flagged=False)]
        ),
        RowExp(
            rel, ps[1].name, "staged", values=[ValueExp("失业登记日期", equals="2020-07-01", flagged=False)]
        ),
    ]
    for p, raw, want in zip(ps[2:], dates[2:], ["2019", "2019-03", "2019-03"], strict=True):
        exp.append(
            RowExp(
                rel,
                p.name,
                "kept",
                values=[
                    ValueExp("失业登记日期", prefix=want, not_prefix="1905", flagged=True, raw_contains=raw)
                ],
            )
        )
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(33, "csv_excel_serial_dates")
def serial_dates(ctx: Ctx) -> Case:
    """A CSV saved from a sheet whose date column had General format: every date is an Excel serial."""
    c = ctx.committee
    rel = f"{ctx.folder('RS01', 'monthly')}/{c.code}_{RS01_NAME}.csv"
    ps = ctx.people(4)
    days = [dt.date(2019, 3, 5), dt.date(2020, 7, 1), dt.date(2021, 12, 31), dt.date(2018, 1, 15)]
    serial = [str((d - dt.date(1899, 12, 30)).days) for d in days]
    text, _ = delimited([RS01] + [rs01(p, s) for p, s in zip(ps, serial, strict=True)])
    write_text(ctx.path(rel), text, "utf-8", bom=b"\xef\xbb\xbf")
    exp = [
        RowExp(rel, p.name, "staged", values=[ValueExp("失业登记日期", equals=d.isoformat())])
        for p, d in zip(ps, days, strict=True)
    ]
    return Case("", "", files=[FileExp(rel, staged=4, quarantined=0)], rows=exp)


@case(34, "csv_generator_noise_kinds")
def noise_kinds(ctx: Ctx) -> Case:
    """The generator's noise kinds: 15-digit ID, lower-case x, full-width digits, padded name, dotted date."""
    rel, ps, rows = _mz01_text(ctx, 4)
    px = next(
        person(ctx.number * 50 + k)
        for k in range(10, 50)
        if person(ctx.number * 50 + k).id_number.endswith("X")
    )
    rows.append(mz01(px, 5, ctx.period("monthly")))
    rows[1][2] = ps[0].id15  # planted: old 15-digit ID
    rows[2][2] = ps[1].id_number.translate(
        str.maketrans("0123456789", "０１２３４５６７８９")
    )  # full-width digits
    rows[3][1] = f" {ps[2].name} "  # planted: padded name
    rows[3][4] = ps[2].birth.strftime("%Y.%m.%d")
    rows[5][2] = px.id_number.lower()  # planted: lower-case x
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk")
    c = ctx.committee.code
    exp = [
        RowExp(rel, ps[0].name, "staged", committee=c),
        RowExp(rel, ps[1].name, "staged", committee=c, id_valid=True),
        RowExp(
            rel,
            ps[2].name,
            "staged",
            committee=c,
            id_valid=True,
            values=[ValueExp("出生日期", equals=ps[2].birth_iso)],
        ),
        RowExp(rel, ps[3].name, "staged", committee=c, id_valid=True),
        RowExp(rel, px.name, "staged", committee=c, id_valid=True),
    ]

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT id_status, id_number FROM staging.form_records WHERE source_file=? AND person_name=?",
            [rel, ps[0].name],
        ).fetchall()
        if got and got[0] != ("converted_15", ps[0].id_number):
            return [f"15-digit ID: want converted_15 → {ps[0].id_number}, got {got[0]}"]
        return []

    return Case("", "", files=[FileExp(rel, staged=5, quarantined=0)], rows=exp, extra=[check])


@case(35, "csv_trailing_delimiters_and_blank_lines")
def trailing(ctx: Ctx) -> Case:
    """Excel CSV of a formatted sheet: every line padded with empty fields, several ',,,,' lines at the end."""
    rel, ps, rows = _mz01_text(ctx, 3)
    rows = [r + [None, None, None] for r in rows] + [[None] * 12] * 4
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:4], ctx.committee.code),
    )


@case(36, "csv_id_protected_by_tab_or_formula")
def protected_ids(ctx: Ctx) -> Case:
    """System exports that keep Excel off the ID: a leading tab, ="…" formula text, a trailing full-width space."""
    rel, ps, rows = _mz01_text(ctx, 3)
    rows[1][2] = "\t" + ps[0].id_number
    rows[2][2] = f'="{ps[1].id_number}"'
    rows[3][2] = ps[2].id_number + "\u3000"  # a full-width space typed after it (Chinese IME)
    text, starts = delimited(rows)
    write_text(ctx.path(rel), text, "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_rows(rel, ps, starts[1:], ctx.committee.code),
    )
