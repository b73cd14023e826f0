"""Delivery identity: folders, junk files, committee names, corrections, duplicates, roll-ups."""

from __future__ import annotations

import os

from .forms import MZ01, MZ01_NAME, mz01
from .model import Case, Ctx, FileExp, RowExp, case
from .people import committees
from .writers import Sheet, delimited, write_text, write_xlsx

IGNORED = ("ignored",)


def _mz01_file(
    ctx: Ctx, rel: str, ps, fmt: str, start_seq: int = 1, amount: int = 150, committee=None
) -> None:
    period = ctx.period("monthly")
    rows = [MZ01] + [mz01(p, start_seq + i, period, amount) for i, p in enumerate(ps)]
    if committee is not None:
        rows = [["居委会"] + MZ01] + [[committee] + r for r in rows[1:]]
    if fmt == "xlsx":
        write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
    else:
        write_text(ctx.path(rel), delimited(rows)[0], "gbk")


def good_delivery(ctx: Ctx, fmt: str = "xlsx", n: int = 3, start: int = 0) -> tuple[str, list]:
    c = ctx.committee
    rel = f"{ctx.folder('MZ01', 'monthly')}/{c.code}_{MZ01_NAME}.{fmt}"
    ps = ctx.people(n, start)
    _mz01_file(ctx, rel, ps, fmt)
    return rel, ps


def staged_rows(rel, ps, committee: str | None = None) -> list[RowExp]:
    return [
        RowExp(rel, p.name, "staged", row_number=i + 2, committee=committee, id_valid=True)
        for i, p in enumerate(ps)
    ]


def _by_name(ctx: Ctx, filename: str, fmt: str, must_resolve: bool = True) -> Case:
    """A file named by its committee's name. The name is unique in the district, so a suffix variant
    (居民委员会 / 居委 / 社区) must resolve; a free-text name may instead be refused with a reason."""
    c = ctx.committee
    rel = f"{ctx.folder('MZ01', 'monthly')}/{filename}.{fmt}"
    ps = ctx.people(3)
    _mz01_file(ctx, rel, ps, fmt)

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT status, reason_code, committee_code FROM raw.landing_files WHERE source_file=?", [rel]
        ).fetchall()
        if not got:
            return []
        status, reason, code = got[0]
        staged = con.execute(
            "SELECT committee_code, count(*) FROM staging.form_records WHERE source_file=? GROUP BY 1", [rel]
        ).fetchall()
        if status == "rejected" and reason and not staged and not must_resolve:
            return []
        if status == "ingested" and staged == [(c.code, 3)]:
            return []
        return [
            f"named by committee name: want resolved to {c.code} (3 rows)"
            f"{'' if must_resolve else ' or rejected with a reason'}; "
            f"got {status}/{reason}/{code}, staged {staged}"
        ]

    status = ("ingested",) if must_resolve else ("ingested", "rejected")
    return Case("", "", files=[FileExp(rel, status=status)], extra=[check])


@case(43, "committee_named_juminweiyuanhui")
def named_full(ctx: Ctx) -> Case:
    """File named by the committee's formal name: 〈X〉居民委员会_高龄老人补贴发放名册.xlsx."""
    return _by_name(ctx, f"{ctx.committee.name.removesuffix('居委会')}居民委员会_{MZ01_NAME}", "xlsx")


@case(44, "committee_named_juwei")
def named_short(ctx: Ctx) -> Case:
    """File named 〈X〉居委高龄补贴名册.csv (short name, shortened form name)."""
    return _by_name(ctx, f"{ctx.committee.name.removesuffix('居委会')}居委高龄补贴名册", "csv")


@case(45, "committee_named_shequ")
def named_shequ(ctx: Ctx) -> Case:
    """File named 〈X〉社区-高龄老人补贴发放名册.xlsx."""
    return _by_name(ctx, f"{ctx.committee.name.removesuffix('居委会')}社区-{MZ01_NAME}", "xlsx")


@case(46, "committee_named_with_township_and_month")
def named_township(ctx: Ctx) -> Case:
    """File named 〈街道〉〈居委会〉10月高龄补贴.xlsx, as township clerks forward them."""
    c = ctx.committee
    name = f"{c.township_name}{c.name}{int(ctx.period('monthly')[5:])}月高龄补贴"
    return _by_name(ctx, name, "xlsx", must_resolve=False)


@case(47, "district_folder_with_name")
def district_named(ctx: Ctx) -> Case:
    """The district folder written as 310101黄浦区: recognized, or the whole folder reported; never absent."""
    c = ctx.committee
    rel = f"310101黄浦区/MZ01/{ctx.period('monthly')}/{c.code}_{MZ01_NAME}.csv"
    ps = ctx.people(3)
    _mz01_file(ctx, rel, ps, "csv")

    def check(con) -> list[str]:
        got = con.execute(
            "SELECT status, reason_code, district_code FROM raw.landing_files WHERE source_file=? "
            "OR ? LIKE source_file || '/%'",
            [rel, rel],
        ).fetchall()
        if not got:
            return ["neither the file nor its folder is in raw.landing_files"]
        staged = con.execute(
            "SELECT count(*) FROM staging.form_records WHERE source_file=? AND district_code='310101'", [rel]
        ).fetchall()[0][0]
        status, reason, _ = got[0]
        if (status == "ingested" and staged == 3) or (status != "ingested" and reason):
            return []
        return [
            f"310101黄浦区: want 3 rows staged in 310101 or the folder reported with a reason; got {got}, {staged}"
        ]

    return Case("", "", extra=[check])


def _names_replacement(con, replaced: str, by: str) -> list[str]:
    """A replaced file's landing row names the file that replaced it (in any text column)."""
    row = con.execute("SELECT * FROM raw.landing_files WHERE source_file=?", [replaced]).fetchall()
    fname = by.rsplit("/", 1)[1]
    if row and not any(isinstance(v, str) and fname in v for v in row[0]):
        return [f"{replaced}: replaced, but its landing row does not name the replacing file {fname!r}"]
    return []


def _correction(ctx: Ctx, corrected: str, fmt: str = "xlsx") -> Case:
    """Original (3 rows) and its correction (rows 1–2 again with a new amount, row 3 dropped, 1 row added)."""
    orig, ps = good_delivery(ctx, fmt, 3)
    new_rel = f"{ctx.folder('MZ01', 'monthly')}/{corrected}.{fmt}"
    added = ctx.people(1, 10)
    _mz01_file(ctx, new_rel, ps[:2] + added, fmt, amount=300)
    # planted: the original was opened and saved again after the correction was made, so its mtime is
    # newer; only the correction marker in the name can tell which file replaces which
    t = ctx.path(new_rel).stat().st_mtime
    os.utime(ctx.path(new_rel), (t - 3600, t - 3600))

    def named(con) -> list[str]:
        return _names_replacement(con, orig, new_rel)

    rows = [RowExp(orig, p.name, "not_staged") for p in ps]
    rows += [
        RowExp(new_rel, p.name, "staged", committee=ctx.committee.code, id_valid=True) for p in ps[:2] + added
    ]
    return Case(
        "",
        "",
        files=[
            FileExp(orig, status=("superseded",)),
            FileExp(new_rel, staged=3, committee=ctx.committee.code),
        ],
        rows=rows,
        staged_once=[p.name for p in ps[:2] + added],
        extra=[named],
    )


@case(48, "correction_suffix_gengzheng")
def corr_gengzheng(ctx: Ctx) -> Case:
    """The contract's own form: 〈code〉_高龄老人补贴发放名册_更正.xlsx."""
    return _correction(ctx, f"{ctx.committee.code}_{MZ01_NAME}_更正")


@case(49, "correction_prefix_gengzheng")
def corr_prefix(ctx: Ctx) -> Case:
    """Prefix form: 更正_〈code〉_高龄老人补贴发放名册.xlsx."""
    return _correction(ctx, f"更正_{ctx.committee.code}_{MZ01_NAME}")


@case(50, "correction_suffix_xiuzheng_fullwidth_csv")
def corr_xiuzheng(ctx: Ctx) -> Case:
    """Full-width brackets: 〈code〉_高龄老人补贴发放名册（修正）.csv."""
    return _correction(ctx, f"{ctx.committee.code}_{MZ01_NAME}（修正）", "csv")


@case(51, "correction_suffix_xiugaihou")
def corr_xiugaihou(ctx: Ctx) -> Case:
    """〈code〉_高龄老人补贴发放名册修改后.xlsx."""
    return _correction(ctx, f"{ctx.committee.code}_{MZ01_NAME}修改后")


@case(52, "correction_suffix_zuizhongban")
def corr_zuizhong(ctx: Ctx) -> Case:
    """〈code〉_高龄老人补贴发放名册_最终版.xlsx."""
    return _correction(ctx, f"{ctx.committee.code}_{MZ01_NAME}_最终版")


@case(53, "correction_suffix_V2_space")
def corr_v2(ctx: Ctx) -> Case:
    """〈code〉_高龄老人补贴发放名册 V2.xlsx (upper case, a space instead of _)."""
    return _correction(ctx, f"{ctx.committee.code}_{MZ01_NAME} V2")


@case(54, "correction_prefix_zuizhongban_bracket")
def corr_prefix_bracket(ctx: Ctx) -> Case:
    """【最终版】〈code〉_高龄老人补贴发放名册.csv."""
    return _correction(ctx, f"【最终版】{ctx.committee.code}_{MZ01_NAME}", "csv")


@case(55, "correction_that_is_unreadable")
def corr_broken(ctx: Ctx) -> Case:
    """A correction that is a truncated workbook must not replace the good original."""
    orig, ps = good_delivery(ctx)
    bad = f"{ctx.folder('MZ01', 'monthly')}/{ctx.committee.code}_{MZ01_NAME}_更正.xlsx"
    _mz01_file(ctx, bad, ctx.people(3, 10), "xlsx")
    data = ctx.path(bad).read_bytes()
    ctx.path(bad).write_bytes(data[: len(data) // 3])
    return Case(
        "",
        "",
        files=[FileExp(orig, staged=3), FileExp(bad, status=("rejected",), reason=True)],
        rows=staged_rows(orig, ps),
    )


@case(56, "correction_header_only")
def corr_empty(ctx: Ctx) -> Case:
    """A correction with only the header replaces a data-bearing file: rows kept or the run says so."""
    orig, ps = good_delivery(ctx, "csv")
    empty = f"{ctx.folder('MZ01', 'monthly')}/{ctx.committee.code}_{MZ01_NAME}_更正.csv"
    write_text(ctx.path(empty), delimited([MZ01])[0], "gbk")

    def check(con) -> list[str]:
        staged = con.execute(
            "SELECT count(*) FROM staging.form_records WHERE source_file=?", [orig]
        ).fetchall()[0][0]
        log = getattr(con, "run_log", "")
        if staged == 3 or empty.rsplit("/", 1)[1] in log:
            return []
        return [
            "a data-bearing file was replaced by a header-only correction: rows gone and the run log "
            "does not name the empty correction"
        ]

    return Case("", "", files=[FileExp(orig), FileExp(empty)], extra=[check])


def _duplicate(ctx: Ctx, fmt: str, copy_name: str) -> Case:
    rel, ps = good_delivery(ctx, fmt)
    twin = f"{ctx.folder('MZ01', 'monthly')}/{copy_name}.{fmt}"
    ctx.path(twin).write_bytes(ctx.path(rel).read_bytes())

    def check(con) -> list[str]:
        st = sorted(
            s
            for (s,) in con.execute(
                "SELECT status FROM raw.landing_files WHERE source_file IN (?, ?)", [rel, twin]
            ).fetchall()
        )
        if st != ["duplicate", "ingested"]:
            return [f"same bytes twice: want one ingested + one duplicate, got {st}"]
        dup = con.execute(
            "SELECT source_file FROM raw.landing_files WHERE source_file IN (?, ?) AND status='duplicate'",
            [rel, twin],
        ).fetchall()[0][0]
        return _names_replacement(con, dup, twin if dup == rel else rel)

    return Case(
        "",
        "",
        files=[
            FileExp(rel, status=("ingested", "duplicate")),
            FileExp(twin, status=("ingested", "duplicate")),
        ],
        staged_once=[p.name for p in ps],
        extra=[check],
    )


@case(57, "duplicate_bytes_windows_copy_1")
def dup1(ctx: Ctx) -> Case:
    """Sent twice over WeChat: 〈name〉.xlsx and 〈name〉(1).xlsx with identical bytes."""
    return _duplicate(ctx, "xlsx", f"{ctx.committee.code}_{MZ01_NAME}(1)")


@case(58, "duplicate_bytes_fuben")
def dup2(ctx: Ctx) -> Case:
    """Explorer copy: 〈name〉 - 副本.csv, identical bytes."""
    return _duplicate(ctx, "csv", f"{ctx.committee.code}_{MZ01_NAME} - 副本")


@case(59, "township_rollup_repeats_committee_rows")
def rollup(ctx: Ctx) -> Case:
    """Two committees deliver; the township also sends its 汇总 with the same rows, 小计 per committee, 合计."""
    a, b = ctx.other_committee(0), ctx.other_committee(1)
    folder = ctx.folder("MZ01", "monthly")
    pa, pb = ctx.people(3), ctx.people(2, 3)
    fa, fb = f"{folder}/{a.code}_{MZ01_NAME}.xlsx", f"{folder}/{b.code}_{MZ01_NAME}.csv"
    _mz01_file(ctx, fa, pa, "xlsx")
    _mz01_file(ctx, fb, pb, "csv")
    period = ctx.period("monthly")
    up = f"{folder}/{a.township_name}{MZ01_NAME}汇总.xlsx"
    rows = [[f"{a.township_name}{MZ01_NAME}汇总表"] + [None] * 9, ["居委会"] + MZ01]
    rows += [[a.code] + mz01(p, i + 1, period) for i, p in enumerate(pa)]
    rows += [["小计", None, None, None, None, None, None, None, 450, None]]
    rows += [[b.code] + mz01(p, i + 1, period) for i, p in enumerate(pb)]
    rows += [
        ["小计", None, None, None, None, None, None, None, 300, None],
        ["合计"] + [None] * 7 + [750, None],
    ]
    write_xlsx(ctx.path(up), [Sheet("汇总", rows, merges=[(0, 0, 0, 9)])])
    # which copy wins is not fixed by the issue; that each person is staged once, under the right
    # committee, with every file accounted for, is
    either = ("ingested", "superseded", "duplicate")

    def right_committee(con) -> list[str]:
        out = []
        for c, ps in ((a, pa), (b, pb)):
            for p in ps:
                got = con.execute(
                    "SELECT committee_code FROM staging.form_records WHERE trim(person_name)=?", [p.name]
                ).fetchall()
                if got and {g for (g,) in got} != {c.code}:
                    out.append(f"{p.name}: staged under {sorted(g for (g,) in got)}, want {c.code}")
        return out

    return Case(
        "",
        "",
        files=[FileExp(fa, status=either), FileExp(fb, status=either), FileExp(up, status=either)],
        staged_once=[p.name for p in pa + pb],
        extra=[right_committee],
    )


@case(60, "committee_column_contradicts_filename")
def contradicts(ctx: Ctx) -> Case:
    """File named for committee A, but its 居委会 column says B on one row (a row copied from B's sheet)."""
    a, b = ctx.committee, ctx.other_committee(0)
    rel = f"{ctx.folder('MZ01', 'monthly')}/{a.code}_{MZ01_NAME}.csv"
    ps = ctx.people(3)
    period = ctx.period("monthly")
    rows = [["居委会"] + MZ01] + [
        [a.name if i != 1 else b.name] + mz01(p, i + 1, period) for i, p in enumerate(ps)
    ]
    write_text(ctx.path(rel), delimited(rows)[0], "gbk")
    exp = [
        RowExp(rel, ps[0].name, "staged", committee=a.code, flagged=False),
        RowExp(rel, ps[1].name, "kept", flagged=True),
        RowExp(rel, ps[2].name, "staged", committee=a.code, flagged=False),
    ]
    return Case("", "", files=[FileExp(rel)], rows=exp)


@case(61, "two_township_files_one_folder")
def two_townships(ctx: Ctx) -> Case:
    """Two district-wide township files in one form/period folder: both count, neither supersedes the other."""
    a = ctx.other_committee(0)
    b = next(c for c in committees()[151:] if c.township_code != a.township_code)  # 151+: outside every pool
    folder = ctx.folder("MZ01", "monthly")
    pa, pb = ctx.people(3), ctx.people(2, 3)
    period = ctx.period("monthly")
    out, rows_exp = [], []
    for c, ps, start in ((a, pa, 0), (b, pb, 0)):
        rel = f"{folder}/{c.township_name}_{MZ01_NAME}.xlsx"
        rows = [["居委会"] + MZ01] + [[c.code] + mz01(p, start + i + 1, period) for i, p in enumerate(ps)]
        write_xlsx(ctx.path(rel), [Sheet("Sheet1", rows)])
        out.append(FileExp(rel, staged=len(ps)))
        rows_exp += staged_rows(rel, ps, c.code)
    assert a.township_code != b.township_code
    return Case("", "", files=out, rows=rows_exp)


@case(62, "district_file_committee_name_variants")
def name_variants(ctx: Ctx) -> Case:
    """District-wide CSV with 街镇 + 居委会 columns, names written 居民委员会 / 居委 / 社区."""
    cs = [ctx.other_committee(k) for k in range(3)]
    folder = ctx.folder("MZ01", "monthly")
    rel = f"{folder}/黄浦区{MZ01_NAME}.csv"
    ps = ctx.people(3)
    period = ctx.period("monthly")
    base = [c.name.removesuffix("居委会") for c in cs]
    written = [base[0] + "居民委员会", base[1] + "居委", base[2] + "社区"]
    rows = [["街镇", "居委会"] + MZ01]
    rows += [
        [c.township_name, w] + mz01(p, i + 1, period)
        for i, (c, w, p) in enumerate(zip(cs, written, ps, strict=True))
    ]
    write_text(ctx.path(rel), delimited(rows)[0], "gbk")
    return Case(
        "",
        "",
        files=[FileExp(rel, staged=3)],
        rows=[RowExp(rel, p.name, "staged", committee=c.code) for p, c in zip(ps, cs, strict=True)],
    )
