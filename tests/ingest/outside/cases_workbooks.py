"""Workbook deliveries: templates sent down by departments, WPS/Excel habits, legacy formats."""

from __future__ import annotations

import datetime as dt

from .forms import GA01, GA01_NAME, MZ01, MZ01_NAME, RS01, RS01_NAME, SIGN_OFF, ga01, mz01, rs01
from .model import Case, Ctx, FileExp, RowExp, SkipExp, ValueExp, case
from .people import check_digit, person
from .writers import Sheet, write_xlsx


def _staged(rel: str, people, first_row: int, committee: str, sheet: str | None = None, **kw) -> list[RowExp]:
    """Plain good rows planted on consecutive sheet rows starting at first_row (1-based)."""
    return [
        RowExp(
            rel,
            p.name,
            "staged",
            sheet=sheet,
            row_number=first_row + i,
            committee=committee,
            id_valid=True,
            **kw,
        )
        for i, p in enumerate(people)
    ]


@case(1, "xlsx_title_footer_signoff")
def title_footer(ctx: Ctx) -> Case:
    """Department template: merged title, 填报单位/日期 line, header, data, 合计, blank, sign-off block."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(5)
    rows = [
        [f"{period[:4]}年{int(period[5:])}月{MZ01_NAME}"] + [None] * 8,
        [
            f"填报单位：{c.township_name}{c.name}（盖章）",
            None,
            None,
            None,
            None,
            None,
            "填报日期：2026年11月3日",
        ],
        MZ01,
    ]
    rows += [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    rows += [
        ["合计", None, None, None, None, None, None, 150 * 5, None],
        [None] * 9,
        [SIGN_OFF[0], None, None, SIGN_OFF[1]],
        [SIGN_OFF[2]],
        [SIGN_OFF[3]],
        ["2026年11月3日"],
    ]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows, merges=[(0, 0, 0, 8)])])
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=5, quarantined=0, min_skipped=7, committee=c.code)],
        rows=_staged(rel, ps, 4, c.code, flagged=False),
        skips=[
            SkipExp(rel, "合计"),
            SkipExp(rel, "填表人"),
            SkipExp(rel, "单位（盖章）"),
            SkipExp(rel, "63281234"),
            SkipExp(rel, "2026年11月3日"),
        ],
    )


@case(2, "xlsx_two_row_merged_header")
def two_row_header(ctx: Ctx) -> Case:
    """一级表头 基本信息/联系方式/补贴信息 merged over 二级表头; 序号 merged down both rows."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(4)
    rows = [
        [f"{MZ01_NAME}（{period}）"] + [None] * 8,
        ["序号", "基本信息", None, None, None, "联系方式", None, "补贴信息", None],
        [None] + MZ01[1:],
    ]
    rows += [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    merges = [(0, 0, 0, 8), (1, 0, 2, 0), (1, 1, 1, 4), (1, 5, 1, 6), (1, 7, 1, 8)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows, merges=merges)])
    vals = [ValueExp("出生日期", equals=p.birth_iso) for p in ps[:1]] + [
        ValueExp("居住地址", equals=ps[0].address)
    ]
    rows_exp = _staged(rel, ps, 4, c.code)
    rows_exp[0].values = vals
    return Case("", "", files=[FileExp(rel, staged=4, quarantined=0)], rows=rows_exp)


@case(3, "xlsx_three_row_merged_header")
def three_row_header(ctx: Ctx) -> Case:
    """Three header rows: 老人基本情况 > 身份信息/联系信息 > field labels; 序号/金额/月份 merged down."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    rows = [
        ["序号", "老人基本情况", None, None, None, None, None, "高龄补贴金额", "发放月份"],
        [None, "身份信息", None, None, None, "联系信息", None, None, None],
        [None, "老人姓名", "身份证号", "性别", "出生日期", "联系电话", "居住地址", None, None],
    ]
    rows += [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    merges = [(0, 0, 2, 0), (0, 1, 0, 6), (0, 7, 2, 7), (0, 8, 2, 8), (1, 1, 1, 4), (1, 5, 1, 6)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows, merges=merges)])
    rows_exp = _staged(rel, ps, 4, c.code)
    rows_exp[1].values = [ValueExp("联系电话", equals=ps[1].phone), ValueExp("高龄补贴金额", prefix="150")]
    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=rows_exp)


@case(4, "xlsx_header_linebreaks_spaces")
def header_linebreaks(ctx: Ctx) -> Case:
    """Header cells typed with Alt+Enter line breaks and padding spaces (already works; keep it)."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    header = [
        "序号",
        "老人\n姓名",
        "身 份 证 号",
        "性别",
        "出生\n日期",
        " 联系电话 ",
        "居住地址",
        "高龄补贴\n金额",
        "发放月份",
    ]
    write_xlsx(
        ctx.path(rel), [Sheet("Sheet1", [header] + [mz01(p, i + 1, period) for i, p in enumerate(ps)])]
    )
    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=_staged(rel, ps, 2, c.code))


@case(5, "xlsx_several_sheets_instructions_hidden_lookup")
def several_sheets(ctx: Ctx) -> Case:
    """填表说明 first, two data sheets (一组, 二组), a hidden 字典 lookup sheet used for drop-downs."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(5)
    notes = [
        ["填表说明"],
        ["1、本表由居委会按月填报，每月5日前报街道民政科。"],
        ["2、身份证号一律填写18位，末位X大写。"],
        ["3、出生日期格式为yyyy-mm-dd。"],
    ]
    g1 = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps[:3])]
    g2 = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps[3:])]
    lookup = [["性别", "是否"], ["男", "是"], ["女", "否"], ["未知", None]]
    write_xlsx(
        ctx.path(rel),
        [Sheet("填表说明", notes), Sheet("一组", g1), Sheet("二组", g2), Sheet("字典", lookup, hidden=True)],
        active=1,
    )
    rows = _staged(rel, ps[:3], 2, c.code, sheet="一组") + _staged(rel, ps[3:], 2, c.code, sheet="二组")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=5, quarantined=0)],
        rows=rows,
        ignored_sheets=[(rel, "填表说明"), (rel, "字典")],
    )


@case(6, "wps_reserved_sheet_and_empty_sheets")
def wps_sheets(ctx: Ctx) -> Case:
    """WPS save: Sheet1 data, empty Sheet2/Sheet3, a very hidden WpsReserved_CellImgList sheet."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    data = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    write_xlsx(
        ctx.path(rel),
        [
            Sheet("Sheet1", data),
            Sheet("Sheet2", []),
            Sheet("Sheet3", []),
            Sheet("WpsReserved_CellImgList", [["ID_0A1B2C", "image1.png"]], very_hidden=True),
        ],
    )
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=_staged(rel, ps, 2, c.code),
        ignored_sheets=[(rel, "Sheet2"), (rel, "Sheet3"), (rel, "WpsReserved_CellImgList")],
    )


@case(7, "xlsx_hidden_rows")
def hidden_rows(ctx: Ctx) -> Case:
    """Staff hid two rows (moved away / deceased) instead of deleting them: read them and flag them."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(6)
    data = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", data, hidden_rows={2, 4})])  # sheet rows 3 and 5
    rows = _staged(rel, ps, 2, c.code)
    for r in rows:
        r.flagged = r.row_number in (3, 5)
        r.wrong_if_unflagged = False  # a hidden row is right, only unmarked
    return Case("", "", files=[FileExp(rel, staged=6, quarantined=0)], rows=rows)


@case(8, "xlsx_block_pasted_twice")
def pasted_twice(ctx: Ctx) -> Case:
    """The same 4-row block pasted twice (序号 included) under one header."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(4)
    block = [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", [MZ01] + block + block)])

    def check(con) -> list[str]:
        out = []
        for p in ps:
            staged = con.execute(
                "SELECT len(flags) FROM staging.form_records WHERE source_file=? AND person_name=?",
                [rel, p.name],
            ).fetchall()
            quar = con.execute(
                "SELECT count(*) FROM quarantine.rows WHERE source_file=? AND raw_row::VARCHAR LIKE ?",
                [rel, f"%{p.name}%"],
            ).fetchall()[0][0]
            if len(staged) + quar != 2:
                out.append(
                    f"{p.name}: pasted twice, found {len(staged)} staged + {quar} quarantined (want 2 in all)"
                )
            if sum(1 for (n,) in staged if not n) > 1:
                out.append(f"{p.name}: both copies staged without a duplicate flag")
        return out

    return Case("", "", files=[FileExp(rel)], extra=[check])


@case(9, "xlsx_township_file_merged_down_committee")
def merged_down(ctx: Ctx) -> Case:
    """District-wide township file: 街镇 merged down all rows, 居委会 (by name) merged down per group."""
    a, b = ctx.other_committee(0), ctx.other_committee(1)
    assert a.township_code == b.township_code
    period = ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{a.township_name}{MZ01_NAME}汇总.xlsx"
    ps = ctx.people(5)
    header = ["序号", "街镇", "居委会"] + MZ01[1:]
    rows = [header]
    for i, p in enumerate(ps):
        r = mz01(p, i + 1, period)
        rows.append(
            [r[0], a.township_name if i == 0 else None, (a.name if i == 0 else b.name if i == 3 else None)]
            + r[1:]
        )
    merges = [(1, 1, 5, 1), (1, 2, 3, 2), (4, 2, 5, 2)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows, merges=merges)])
    exp = [
        RowExp(
            rel, p.name, "staged", row_number=i + 2, committee=(a.code if i < 3 else b.code), id_valid=True
        )
        for i, p in enumerate(ps)
    ]
    return Case("", "", files=[FileExp(rel, staged=5, quarantined=0)], rows=exp)


@case(10, "xlsx_template_preprinted_seq_rows")
def template_rows(ctx: Ctx) -> Case:
    """GA01 template sent down with 序号 1–15 pre-printed; only 3 filled; 填表人 line below."""
    c, period = ctx.committee, ctx.period("quarterly")
    rel = f"{ctx.folder('GA01', 'quarterly')}/{c.code}_{GA01_NAME}.xlsx"
    ps = ctx.people(3)
    rows = [[f"{GA01_NAME}（{period}）"] + [None] * 8, GA01]
    rows += [ga01(p, i + 1) for i, p in enumerate(ps)] + [[i] + [None] * 8 for i in range(4, 16)]
    rows += [[SIGN_OFF[0], None, None, None, SIGN_OFF[1]]]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows, merges=[(0, 0, 0, 8)])])
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0, min_skipped=12 + 2)],
        rows=_staged(rel, ps, 3, c.code),
        skips=[SkipExp(rel, "填表人")],
    )


def _float_id_passes(p) -> bool:
    """Whether int(float) of the ID as Excel stores it (15 significant digits) has a valid check digit."""
    back = str(int(float(int(p.id_number[:15]) * 1000)))
    return len(back) == 18 and check_digit(back[:17]) == back[17]


@case(18, "xlsx_ids_typed_as_numbers")
def ids_as_numbers(ctx: Ctx) -> Case:
    """IDs typed into General cells: Excel keeps 15 significant digits (…000). Never staged as valid."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(5)
    # planted: one more person whose damaged ID, read back through a float, still passes the check digit
    ps.append(next(p for p in (person(ctx.number * 50 + k) for k in range(20, 50)) if _float_id_passes(p)))
    rows = [MZ01]
    for i, p in enumerate(ps):
        r = mz01(p, i + 1, period)
        if i >= 2:  # planted: the ID as Excel stores a typed 18-digit number
            r[2] = float(int(p.id_number[:15]) * 1000)
        rows.append(r)
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    exp = _staged(rel, ps[:2], 2, c.code)
    exp += [RowExp(rel, p.name, "kept", row_number=4 + i, id_valid=False) for i, p in enumerate(ps[2:])]
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(19, "xlsx_partial_dates_numbers_and_text")
def xlsx_partial_dates(ctx: Ctx) -> Case:
    """失业登记日期 typed as 2019 (number), 2019.3 (number), '2019年3月', '2019.03' beside real date cells."""
    c = ctx.committee
    rel = f"{ctx.folder('RS01', 'monthly')}/{c.code}_{RS01_NAME}.xlsx"
    ps = ctx.people(6)
    dates: list[object] = [dt.date(2019, 3, 5), dt.date(2020, 7, 1), 2019, 2019.3, "2019年3月", "2019.03"]
    write_xlsx(
        ctx.path(rel), [Sheet("Sheet1", [RS01] + [rs01(p, d) for p, d in zip(ps, dates, strict=True)])]
    )
    exp = [
        RowExp(
            rel, ps[0].name, "staged", values=[ValueExp("失业登记日期", equals="2019-03-05", flagged=False)]
        ),
        RowExp(
            rel, ps[1].name, "staged", values=[ValueExp("失业登记日期", equals="2020-07-01", flagged=False)]
        ),
    ]
    for p, want in zip(ps[2:], ["2019", "2019-03", "2019-03", "2019-03"], strict=True):
        exp.append(
            RowExp(
                rel,
                p.name,
                "kept",
                values=[ValueExp("失业登记日期", prefix=want, not_prefix="1905", flagged=True)],
            )
        )
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(20, "xlsx_dates_lost_format_serials")
def xlsx_serials(ctx: Ctx) -> Case:
    """A WPS re-save lost the date format: the whole 失业登记日期 column is General numbers (serials)."""
    c = ctx.committee
    rel = f"{ctx.folder('RS01', 'monthly')}/{c.code}_{RS01_NAME}.xlsx"
    ps = ctx.people(4)
    days = [dt.date(2019, 3, 5), dt.date(2020, 7, 1), dt.date(2021, 12, 31), dt.date(2018, 1, 15)]
    serial = [(d - dt.date(1899, 12, 30)).days for d in days]
    write_xlsx(
        ctx.path(rel), [Sheet("Sheet1", [RS01] + [rs01(p, s) for p, s in zip(ps, serial, strict=True)])]
    )
    exp = [
        RowExp(rel, p.name, "staged", values=[ValueExp("失业登记日期", equals=d.isoformat())])
        for p, d in zip(ps, days, strict=True)
    ]
    return Case("", "", files=[FileExp(rel, staged=4, quarantined=0)], rows=exp)
