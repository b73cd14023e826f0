"""More hand-made workbook habits: formulas, formatted amounts, extra columns, one sheet per committee."""

from __future__ import annotations

import xlsxwriter

from .forms import MZ01, MZ01_NAME, mz01
from .model import Case, Ctx, FileExp, RowExp, SkipExp, ValueExp, case
from .writers import Sheet, delimited, write_text, write_xlsx


@case(70, "xlsx_formulas_with_cached_values")
def formulas(ctx: Ctx) -> Case:
    """序号 as =ROW()-1, 合计 as =SUM(...), saved by Excel with the computed values cached."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    path = ctx.path(rel)
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Sheet1")
    ws.write_row(0, 0, MZ01)
    for i, p in enumerate(ps):
        row = mz01(p, i + 1, period)
        ws.write_formula(i + 1, 0, "=ROW()-1", None, i + 1)  # planted: 序号 is a formula
        for col, v in enumerate(row[1:], start=1):
            ws.write(i + 1, col, v)
    ws.write_string(4, 0, "合计")
    ws.write_formula(4, 7, "=SUM(H2:H4)", None, 450)  # planted: total as a formula
    wb.close()
    exp = [RowExp(rel, p.name, "staged", row_number=i + 2, id_valid=True) for i, p in enumerate(ps)]
    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=exp, skips=[SkipExp(rel, "合计")])


def _amount_ok(rel: str, name: str, want: float):
    """Formatted amount: normalized to the number, or left unnormalized with a flag; never another number."""

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT v.value, v.value_flag, v.value_raw FROM staging.form_values v JOIN staging.form_records r "
            "USING (record_id) WHERE r.source_file=? AND trim(r.person_name)=? AND v.field_label='高龄补贴金额'",
            [rel, name],
        ).fetchall()
        if not got:
            return []  # the row check reports a missing row
        value, flag, raw = got[0]
        if flag is not None:
            return []
        try:
            ok = value is not None and abs(float(value) - want) < 1e-9
        except ValueError:
            ok = False
        return (
            []
            if ok
            else [f"{name}: 高龄补贴金额 raw {raw!r} staged as {value!r} without a flag, want {want}"]
        )

    return check


@case(71, "csv_amounts_with_thousands_separator_and_unit")
def amounts(ctx: Ctx) -> Case:
    """Excel CSV of formatted cells: "1,500.00" quoted, '300元', '￥75': kept, and never read as another number."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.csv"
    ps = ctx.people(3)
    rows = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    for r, amount in zip(rows[1:], ["1,500.00", "300元", "￥75"], strict=True):
        r[7] = amount
    write_text(ctx.path(rel), delimited(rows)[0], "gbk")
    # beyond issue 8's list: reading the amounts is welcome, refusing one is allowed; a wrong number is not
    exp = [RowExp(rel, p.name, "kept", row_number=i + 2) for i, p in enumerate(ps)]
    checks = [_amount_ok(rel, p.name, w) for p, w in zip(ps, [1500, 300, 75], strict=True)]
    return Case("", "", files=[FileExp(rel)], rows=exp, extra=checks)


@case(72, "xlsx_columns_reordered_with_extra_remark")
def reordered(ctx: Ctx) -> Case:
    """A committee's own layout: columns in another order and an extra 备注 column the form does not have."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    order = [
        1,
        2,
        0,
        3,
        4,
        6,
        5,
        7,
        8,
    ]  # 老人姓名, 身份证号, 序号, 性别, 出生日期, 居住地址, 联系电话, 金额, 月份
    header = [MZ01[k] for k in order] + ["备注"]
    remarks = ["独居", "", "本月新增"]
    rows = [header] + [[mz01(p, i + 1, period)[k] for k in order] + [remarks[i]] for i, p in enumerate(ps)]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    exp = [
        RowExp(
            rel,
            p.name,
            "staged",
            row_number=i + 2,
            id_valid=True,
            values=[ValueExp("居住地址", equals=p.address), ValueExp("联系电话", equals=p.phone)],
        )
        for i, p in enumerate(ps)
    ]

    def extra_kept(con) -> list[str]:
        got = con.execute(
            "SELECT count(*) FROM staging.form_values v JOIN staging.form_records r USING (record_id) "
            "WHERE r.source_file=? AND v.header_label='备注' AND v.value_raw='本月新增'",
            [rel],
        ).fetchall()[0][0]
        return (
            [] if got == 1 else ["extra column 备注: its value '本月新增' is not kept in staging.form_values"]
        )

    return Case("", "", files=[FileExp(rel, staged=3, quarantined=0)], rows=exp, extra=[extra_kept])


@case(73, "xlsx_township_workbook_one_sheet_per_committee")
def sheet_per_committee(ctx: Ctx) -> Case:
    """The township's workbook with one tab per 居委会, tabs named by committee, no committee column.

    Every row must be kept; a staged row must carry its tab's committee (never a wrong or missing one)."""
    a, b = ctx.other_committee(0), ctx.other_committee(1)
    period = ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{a.township_name}{MZ01_NAME}（分居委）.xlsx"
    pa, pb = ctx.people(2), ctx.people(2, 2)
    sheets = [
        Sheet(a.name, [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(pa)]),
        Sheet(b.name, [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(pb)]),
    ]
    write_xlsx(ctx.path(rel), sheets)
    exp = [RowExp(rel, p.name, "kept", sheet=a.name, row_number=i + 2) for i, p in enumerate(pa)]
    exp += [RowExp(rel, p.name, "kept", sheet=b.name, row_number=i + 2) for i, p in enumerate(pb)]

    def committee_of_tab(con) -> list[str]:
        out = []
        for c, ps in ((a, pa), (b, pb)):
            for p in ps:
                got = con.execute(
                    "SELECT committee_code FROM staging.form_records WHERE source_file=? AND trim(person_name)=?",
                    [rel, p.name],
                ).fetchall()
                if got and got[0][0] != c.code:
                    out.append(
                        f"{p.name} on tab {c.name}: staged with committee {got[0][0]!r}, want {c.code}"
                    )
        return out

    return Case(
        "", "", files=[FileExp(rel, status=("ingested", "rejected"))], rows=exp, extra=[committee_of_tab]
    )
