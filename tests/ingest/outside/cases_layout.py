"""Layout habits (notes under the data, shifted blocks, paged headers) and the landing tree: impossible or
misplaced folders, junk files beside deliveries, archives."""

from __future__ import annotations

import io
import zipfile

from .cases_identity import IGNORED, good_delivery, staged_rows
from .forms import MZ01, MZ01_NAME, MZ05, MZ05_NAME, mz01, mz05
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


@case(37, "period_folder_impossible_date")
def impossible_period(ctx: Ctx) -> Case:
    """An ad-hoc (不定期) form filed under 2026-11-31: no such day. Rejected with a reason."""
    c = ctx.committee
    rel = f"310101/MZ05/2026-11-31/{c.code}_{MZ05_NAME}.csv"
    ps = ctx.people(3)
    write_text(ctx.path(rel), delimited([MZ05] + [mz05(p, "2026-11-20") for p in ps])[0], "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, status=("rejected",), reason=True, reason_words=("period",))],
        rows=[RowExp(rel, p.name, "not_staged") for p in ps],
    )


@case(38, "junk_thumbs_db")
def thumbs(ctx: Ctx) -> Case:
    """Windows Explorer left Thumbs.db beside the delivery (photos of the paper form were in the folder)."""
    rel, ps = good_delivery(ctx)
    junk = f"{ctx.folder('MZ01', 'monthly')}/Thumbs.db"
    ctx.path(junk).write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\x00" * 504)
    return Case(
        "", "", files=[FileExp(rel, staged=3), FileExp(junk, status=IGNORED)], rows=staged_rows(rel, ps)
    )


@case(39, "junk_ds_store")
def ds_store(ctx: Ctx) -> Case:
    """A Mac user copied the folder: .DS_Store in the period folder and in the form folder."""
    rel, ps = good_delivery(ctx)
    junk1 = f"{ctx.folder('MZ01', 'monthly')}/.DS_Store"
    junk2 = "310101/MZ01/.DS_Store"
    for j in (junk1, junk2):
        ctx.path(j).write_bytes(b"\x00\x00\x00\x01Bud1" + b"\x00" * 60)
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3), FileExp(junk1, status=IGNORED), FileExp(junk2, status=IGNORED)],
        rows=staged_rows(rel, ps),
    )


@case(40, "junk_office_lock_file")
def lock_file(ctx: Ctx) -> Case:
    """The workbook was open when the folder was zipped: ~$ owner file next to it. Never supersedes it."""
    rel, ps = good_delivery(ctx)
    lock = rel.rsplit("/", 1)[0] + "/~$" + rel.rsplit("/", 1)[1]
    owner = "张丽华".encode("utf-16-le")
    ctx.path(lock).write_bytes(
        bytes([3]) + b"\x00" * 53 + bytes([3, 0]) + owner + b"\x00" * (162 - 56 - len(owner))
    )
    return Case(
        "", "", files=[FileExp(rel, staged=3), FileExp(lock, status=IGNORED)], rows=staged_rows(rel, ps)
    )


@case(41, "junk_readme")
def readme(ctx: Ctx) -> Case:
    """A README.txt the district clerk put in the folder for the department."""
    rel, ps = good_delivery(ctx)
    note = f"{ctx.folder('MZ01', 'monthly')}/README.txt"
    write_text(
        ctx.path(note),
        "本文件夹为本月高龄老人补贴名册，共1个居委，请查收。\r\n如有疑问请联系街道民政科 63281234。\r\n",
        "gbk",
    )
    return Case(
        "", "", files=[FileExp(rel, staged=3), FileExp(note, status=IGNORED)], rows=staged_rows(rel, ps)
    )


@case(42, "junk_scanned_signed_pdf")
def scanned_pdf(ctx: Ctx) -> Case:
    """The stamped paper form scanned to PDF, named like the delivery: ignored, and it supersedes nothing."""
    rel, ps = good_delivery(ctx)
    pdf = rel.rsplit(".", 1)[0] + "（盖章扫描件）.pdf"
    ctx.path(pdf).write_bytes(
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return Case(
        "", "", files=[FileExp(rel, staged=3), FileExp(pdf, status=IGNORED)], rows=staged_rows(rel, ps)
    )
