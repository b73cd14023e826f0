"""Layout habits: notes under the data, shifted blocks, paged headers; files in the wrong place."""

from __future__ import annotations

import io
import zipfile

from .forms import MZ01, MZ01_NAME, mz01
from .model import Case, Ctx, FileExp, RowExp, SkipExp, case
from .writers import Sheet, delimited, write_text, write_xlsx


@case(63, "xlsx_instruction_notes_below_data")
def notes_below(ctx: Ctx) -> Case:
    """填表说明 and 注 lines typed under the data block, as the department's template has them."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    rows = [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)]
    rows += [
        [None] * 9,
        ["填表说明："],
        ["1．“身份证号”栏请填写18位居民身份证号码；"],
        ["2．本表于每月5日前报送街道民政科。"],
        ["注：本表一式两份，居委会留存一份。"],
    ]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0, min_skipped=4)],
        rows=[RowExp(rel, p.name, "staged", row_number=i + 2, id_valid=True) for i, p in enumerate(ps)],
        skips=[
            SkipExp(rel, "填表说明"),
            SkipExp(rel, "18位居民身份证号码"),
            SkipExp(rel, "5日前报送"),
            SkipExp(rel, "一式两份"),
        ],
    )


@case(64, "xlsx_block_shifted_right_and_down")
def shifted(ctx: Ctx) -> Case:
    """Template with a narrow empty column A and an empty first row: the table starts at B3."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(3)
    rows = [[], [None, f"{c.name}{MZ01_NAME}"], [None] + MZ01] + [
        [None] + mz01(p, i + 1, period) for i, p in enumerate(ps)
    ]
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3, quarantined=0)],
        rows=[RowExp(rel, p.name, "staged", row_number=i + 4, id_valid=True) for i, p in enumerate(ps)],
    )


@case(65, "xlsx_title_and_header_repeated_per_page")
def paged(ctx: Ctx) -> Case:
    """Pasted from a paged print export: title + header repeated before the second page of rows."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.xlsx"
    ps = ctx.people(6)
    title = [f"{c.name}{MZ01_NAME}"] + [None] * 8
    rows = [title, MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps[:3])]
    rows += (
        [["第1页，共2页"], title, MZ01]
        + [mz01(p, i + 4, period) for i, p in enumerate(ps[3:])]
        + [["第2页，共2页"]]
    )
    write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    exp = [
        RowExp(rel, p.name, "staged", row_number=r, id_valid=True)
        for p, r in zip(ps, [3, 4, 5, 9, 10, 11], strict=True)
    ]
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=6, quarantined=0, min_skipped=6)],
        rows=exp,
        skips=[SkipExp(rel, "第1页"), SkipExp(rel, "第2页")],
    )


def _reported(rel: str, allow_ingested: int | None = None):
    """The file is in raw.landing_files; unless read (with `allow_ingested` rows), it carries a reason."""

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT status, reason_code, rows_staged FROM raw.landing_files WHERE source_file=?", [rel]
        ).fetchall()
        if not got:
            return []  # the generic file check reports the absence
        status, reason, staged = got[0]
        if status == "ingested":
            return (
                []
                if staged == allow_ingested
                else [f"{rel}: ingested with {staged} rows, want refused with a reason"]
            )
        return [] if reason else [f"{rel}: {status} without a reason"]

    return check


@case(66, "file_directly_in_district_folder")
def misplaced_district(ctx: Ctx) -> Case:
    """A clerk dropped a workbook straight into the district folder (no form, no period)."""
    rel = f"310101/{ctx.committee.code}_{MZ01_NAME}（10月）.xlsx"
    ps = ctx.people(2)
    write_xlsx(
        ctx.path(rel), [Sheet("Sheet1", [MZ01] + [mz01(p, i + 1, "2026-10") for i, p in enumerate(ps)])]
    )
    return Case(
        "",
        "",
        files=[FileExp(rel, status=("rejected", "ignored"))],
        extra=[_reported(rel)],
        rows=[RowExp(rel, p.name, "not_staged") for p in ps],
    )


@case(67, "file_in_form_folder_without_period")
def misplaced_form(ctx: Ctx) -> Case:
    """A CSV saved in the form folder, the period folder forgotten."""
    rel = f"310101/MZ01/{ctx.committee.code}_{MZ01_NAME}.csv"
    ps = ctx.people(2)
    write_text(
        ctx.path(rel), delimited([MZ01] + [mz01(p, i + 1, "2026-10") for i, p in enumerate(ps)])[0], "gbk"
    )
    return Case(
        "",
        "",
        files=[FileExp(rel, status=("rejected", "ignored"))],
        extra=[_reported(rel)],
        rows=[RowExp(rel, p.name, "not_staged") for p in ps],
    )


@case(68, "zip_archive_delivered")
def zipped(ctx: Ctx) -> Case:
    """The township sent its folder as 〈街道〉10月报表.zip: read it or report it with a reason; never absent."""
    c, period = ctx.committee, ctx.period("monthly")
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.township_name}{int(period[5:])}月报表.zip"
    ps = ctx.people(2)
    inner = delimited([MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ps)])[0].encode("gbk")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"{c.code}_{MZ01_NAME}.csv", inner)
    ctx.path(rel).write_bytes(buf.getvalue())
    return Case(
        "",
        "",
        files=[FileExp(rel, status=("rejected", "ignored", "ingested"))],
        extra=[_reported(rel, allow_ingested=2)],
    )


@case(69, "period_folder_written_in_chinese")
def chinese_period(ctx: Ctx) -> Case:
    """The period folder typed as 2021年06月 instead of 2021-06: read as that month, or refused with a reason."""
    c = ctx.committee
    rel = f"310101/MZ01/2021年06月/{c.code}_{MZ01_NAME}.csv"
    ps = ctx.people(2)
    write_text(
        ctx.path(rel), delimited([MZ01] + [mz01(p, i + 1, "2021-06") for i, p in enumerate(ps)])[0], "gbk"
    )

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT status, reason_code, period FROM raw.landing_files WHERE source_file=?", [rel]
        ).fetchall()
        if not got:
            return []
        status, reason, period = got[0]
        if status == "ingested" and period != "2021-06":
            return [f"{rel}: ingested with period {period!r}, want 2021-06"]
        return [] if status == "ingested" or reason else [f"{rel}: {status} without a reason"]

    return Case("", "", files=[FileExp(rel, status=("ingested", "rejected"))], extra=[check])
