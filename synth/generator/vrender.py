"""Column-wise rendering of one (committee, form, period) block: the `vector` engine of the generator.

`render.render_rows` walks row by row, drawing every defect from one `random.Random` stream and formatting
cell by cell through one long if-chain. Here a block is rendered a column at a time: every per-row
decision (is this ID blank, is this phone reformatted, …) comes from one numpy draw of uniforms for the
whole block, only the few affected rows are touched in Python (their variants drawn from a Python stream
seeded from the same numpy generator), and each column is formatted by one comprehension specialised to
its type. The rates, the defect kinds, their tags and the formatting rules are those of `render_rows`;
the random streams differ, so the `vector` engine writes different (equally deterministic) files.

Forced kinds (the `Planter`'s pending list) are planted at the first row where the kind can occur.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

import numpy as np

from synth.generator import idcard
from synth.generator.config import NoiseRates
from synth.generator.population import CommitteeCtx, Person, Resident
from synth.generator.render import (
    ROW_KINDS,
    TEXT_DATE_STYLES,
    Layout,
    PeriodCtx,
    RenderedRow,
    Style,
    _homophone,
    _phone_variant,
    _spaced,
    fmt_addr,
    fmt_date,
    fmt_month,
)

_ID_KINDS = ("id_legacy15", "id_wrong_check", "id_digit_typo", "id_blank")  # forced in this order
_ROW_KIND_SET = frozenset(ROW_KINDS)
# uniform draws per row: 0 no-name-no-id, 1 ID defect, 2 lowercase x, 3 full-width ID, 4 homophone,
# 5 name space, 6 bad integer, 7 mixed date style; then 3 per phone column (blank, format, full-width)
_U_FIXED = 8


@dataclass
class Block:
    """A rendered block: rows of cells in form-field order, their tags, and who each row is."""

    rows: list[list[object]]
    tags: list[list[str]]
    persons: list[Person]
    committee: CommitteeCtx

    def rendered(self) -> list[RenderedRow]:
        """The block as `RenderedRow`s, for the row-wise paths (corrections, district-wide files)."""
        c = self.committee
        return [RenderedRow(r, t, p, c) for r, t, p in zip(self.rows, self.tags, self.persons, strict=True)]


def _first(rows: np.ndarray) -> int | None:
    return int(rows[0]) if len(rows) else None


def render_block(
    layout: Layout,
    residents: list[Resident],
    pc: PeriodCtx,
    style: Style,
    gen: np.random.Generator,
    noise: NoiseRates,
    force: set[str],
) -> tuple[Block, set[str]]:
    """Cells (formatted for the delivery's style) and tags for the selected residents, column by column."""
    n = len(residents)
    xlsx = style.fmt == "xlsx"
    persons = [r.person for r in residents]
    vals: list[list[object]] = [[g(r, r.person, pc) for r in residents] for g in layout.getters]
    tags: list[list[str]] = [[] for _ in range(n)]
    u = gen.random((n, _U_FIXED + 3 * len(layout.phone_is)))
    rr = random.Random(int(gen.integers(1 << 62)))  # variants of the few affected rows
    force = set(force)

    def plant(kind: str, candidates: np.ndarray, hits: np.ndarray) -> np.ndarray:
        """`hits` (sorted row indices), plus the first candidate row when `kind` is forced."""
        if kind in force:
            f = _first(candidates)
            if f is not None:
                force.discard(kind)
                if f not in hits:
                    hits = np.sort(np.append(hits, f))
        return hits

    alive = np.ones(n, dtype=bool)  # rows that still carry a name and an ID
    ni, ii = layout.name_i, layout.id_i
    # 1. rows with neither name nor ID (quarantine)
    dead = plant(
        "unusable_no_name_no_id", np.arange(n), np.flatnonzero(u[:, 0] < noise.unusable_no_name_no_id)
    )
    for j in dead.tolist():
        if ni is not None:
            vals[ni][j] = None
        if ii is not None:
            vals[ii][j] = None
        tags[j].append("unusable_no_name_no_id")
    alive[dead] = False
    # 2. ID defects: one of blank / legacy15 / wrong check / digit typo, then case and width
    if ii is not None:
        _id_noise(vals[ii], persons, tags, u, alive, noise, rr, plant)
    # 3. names
    if ni is not None:
        col = vals[ni]
        ok = alive & np.fromiter((isinstance(v, str) for v in col), bool, n)
        cand = np.flatnonzero(ok)
        for j in plant(
            "name_homophone", cand, np.flatnonzero(ok & (u[:, 4] < noise.name_homophone))
        ).tolist():
            alt = _homophone(col[j], rr)  # type: ignore[arg-type]
            if alt:
                col[j] = alt
                tags[j].append("name_homophone")
        for j in plant("name_space", cand, np.flatnonzero(ok & (u[:, 5] < noise.name_space))).tolist():
            col[j] = _spaced(col[j], rr)  # type: ignore[arg-type]
            tags[j].append("name_space")
    # 4. phones
    for k, i in enumerate(layout.phone_is):
        col = vals[i]
        ok = np.fromiter((isinstance(v, str) and v != "" for v in col), bool, n)
        base = _U_FIXED + 3 * k
        if i not in layout.req_phone:
            for j in np.flatnonzero(ok & (u[:, base] < noise.phone_blank)).tolist():
                col[j] = None
                tags[j].append("phone_blank")
                ok[j] = False
        for j in np.flatnonzero(ok).tolist():
            if col[j].startswith("021-"):  # type: ignore[union-attr]
                tags[j].append("phone_landline")
        cand = np.flatnonzero(ok)
        for j in plant(
            "phone_format", cand, np.flatnonzero(ok & (u[:, base + 1] < noise.phone_format))
        ).tolist():
            col[j] = _phone_variant(col[j], rr)  # type: ignore[arg-type]
            tags[j].append("phone_format")
        wide = plant("phone_fullwidth", cand, np.flatnonzero(ok & (u[:, base + 2] < noise.phone_fullwidth)))
        for j in wide.tolist():
            col[j] = idcard.fullwidth(col[j])  # type: ignore[arg-type]
            tags[j].append("phone_fullwidth")
    # 5. a required integer holding 不详
    if layout.req_int_is:
        col = vals[layout.req_int_is[0]]
        bad = plant(
            "unusable_bad_integer", np.arange(n), np.flatnonzero(u[:, 6] < noise.unusable_bad_integer)
        )
        for j in bad.tolist():
            col[j] = "不详"
            tags[j].append("unusable_bad_integer")
    # 6. hard-case markers (true facts, not defects)
    ref = pc.ref
    has_phone = bool(layout.phone_is)
    for j, (res, p) in enumerate(zip(residents, persons, strict=True)):
        t = tags[j]
        if p.twin:
            t.append("twin")
        if p.common_name:
            t.append("common_name")
        if res.role != "native":
            t.append("mover")
        if has_phone and p.phone_change is not None and ref >= p.phone_change:
            t.append("phone_new")
    # 7. a date cell in another style than the rest of the file
    mixed: dict[int, str] = {}
    if layout.date_is:
        others = [s for s in TEXT_DATE_STYLES if s != style.date_style]
        for j in plant("date_mixed", np.arange(n), np.flatnonzero(u[:, 7] < noise.date_mixed)).tolist():
            mixed[j] = rr.choice(others)
            tags[j].append("date_mixed")
    # 8. format column by column
    cells = [
        _format_column(vals[i], t, style, xlsx, pc.ctx.district_name, i in layout.addr_is)
        for i, t in enumerate(layout.types)
    ]
    for j, st in mixed.items():
        for i in layout.date_is:
            v = vals[i][j]
            if isinstance(v, date):
                f = fmt_date if layout.types[i] == "日期" else fmt_month
                cells[i][j] = f(v, st, xlsx)
    _date_tags(layout, vals, tags, style.date_style, mixed)
    planted = {t for row in tags for t in row if t in _ROW_KIND_SET}
    rows = [list(r) for r in zip(*cells, strict=True)] if cells else [[] for _ in range(n)]
    return Block(rows, tags, persons, pc.ctx), planted


def _id_noise(
    col: list[object],
    persons: list[Person],
    tags: list[list[str]],
    u: np.ndarray,
    alive: np.ndarray,
    noise: NoiseRates,
    rr: random.Random,
    plant,
) -> None:
    n = len(col)
    ok = alive & np.fromiter((isinstance(v, str) for v in col), bool, n)
    old = np.fromiter((p.birth.year < 2000 for p in persons), bool, n)
    r = u[:, 1]
    c0, c1, c2, c3 = noise.id_blank, noise.id_legacy15, noise.id_wrong_check, noise.id_digit_typo
    kind_rows = {
        "id_blank": ok & (r < c0),
        "id_legacy15": ok & old & (r >= c0) & (r < c0 + c1),
        "id_wrong_check": ok & (r >= c0 + c1) & (r < c0 + c1 + c2),
        "id_digit_typo": ok & (r >= c0 + c1 + c2) & (r < c0 + c1 + c2 + c3),
    }
    kind_of: dict[int, str] = {}
    for kind in _ID_KINDS:
        cand = np.flatnonzero(ok & old) if kind == "id_legacy15" else np.flatnonzero(ok)
        cand = cand[[int(j) not in kind_of for j in cand]] if kind_of else cand
        for j in plant(kind, cand, np.flatnonzero(kind_rows[kind])).tolist():
            kind_of.setdefault(j, kind)
    for j, kind in kind_of.items():
        v = col[j]
        assert isinstance(v, str)
        if kind == "id_blank":
            col[j] = ""
        elif kind == "id_legacy15":
            col[j] = idcard.to_legacy15(v)
        elif kind == "id_wrong_check":
            col[j] = idcard.wrong_check(v, rr)
        else:
            col[j] = idcard.digit_typo(v, rr)
        tags[j].append(kind)
    ends_x = ok & np.fromiter((isinstance(v, str) and v.endswith("X") for v in col), bool, n)
    if kind_of:
        ends_x[[j for j, k in kind_of.items() if k == "id_legacy15"]] = False
    for j in plant(
        "id_lowercase_x", np.flatnonzero(ends_x), np.flatnonzero(ends_x & (u[:, 2] < noise.id_lowercase_x))
    ).tolist():
        v = col[j]
        col[j] = v[:-1] + "x"  # type: ignore[index,operator]
        tags[j].append("id_lowercase_x")
    filled = ok & np.fromiter((isinstance(v, str) and v != "" for v in col), bool, n)
    for j in plant(
        "id_fullwidth", np.flatnonzero(filled), np.flatnonzero(filled & (u[:, 3] < noise.id_fullwidth))
    ).tolist():
        col[j] = idcard.fullwidth(col[j])  # type: ignore[arg-type]
        tags[j].append("id_fullwidth")


def _format_column(
    col: list[object], t: str, style: Style, xlsx: bool, district: str, is_addr: bool
) -> list[object]:
    """One column's cells: the branches of `render_rows`' per-cell chain, with the type decided once."""

    def text(v: object) -> object:
        if v is None or v == "":
            return ""
        if is_addr and isinstance(v, str):
            return fmt_addr(v, style.addr_style, district)
        return v if isinstance(v, str) else str(v)

    if t in ("日期", "年月"):
        f = fmt_date if t == "日期" else fmt_month
        ds = style.date_style
        cache: dict[date, object] = {}
        out: list[object] = []
        for v in col:
            if isinstance(v, date):
                c = cache.get(v)
                if c is None:
                    c = cache[v] = f(v, ds, xlsx)
                out.append(c)
            else:
                out.append(text(v))
        return out
    if t == "性别":
        s = style.sex_style
        if s == "text":
            return ["" if v is None or v == "" else v for v in col]
        if s == "suffix":
            return ["" if v is None or v == "" else v + "性" for v in col]  # type: ignore[operator]
        one, two = (1, 2) if xlsx else ("1", "2")
        return ["" if v is None or v == "" else (one if v == "男" else two) for v in col]
    if t == "是否":
        b = style.bool_style
        yes, no = (
            ("是", "否") if b == "text" else ("√", "") if b == "check" else ((1, 0) if xlsx else ("1", "0"))
        )
        return [(yes if v else no) if isinstance(v, bool) else text(v) for v in col]
    if t == "整数":
        return [
            (v if xlsx else str(v)) if isinstance(v, int) and not isinstance(v, bool) else text(v)
            for v in col
        ]
    if t == "数值":
        if xlsx:
            return [v if isinstance(v, float) else text(v) for v in col]
        fmt = "{:.2f}" if style.decimal_2dp else "{:g}"
        return [fmt.format(v) if isinstance(v, float) else text(v) for v in col]
    if t == "电话" and xlsx and style.phone_numeric:
        return [int(v) if isinstance(v, str) and len(v) == 11 and v.isdigit() else text(v) for v in col]
    if is_addr:
        return [text(v) for v in col]
    return ["" if v is None or v == "" else (v if isinstance(v, str) else str(v)) for v in col]


def _date_tags(
    layout: Layout, vals: list[list[object]], tags: list[list[str]], file_style: str, mixed: dict[int, str]
) -> None:
    """Tag the date style visible in each row (年月 cells have no serial form: they stay ISO text)."""
    if not layout.date_is:
        return
    day_cols = [vals[i] for i in layout.date_is if layout.types[i] == "日期"]
    month_cols = [vals[i] for i in layout.date_is if layout.types[i] != "日期"]
    for j, t in enumerate(tags):
        st = mixed.get(j, file_style)
        if st == "iso":
            continue
        day = any(c[j] is not None and c[j] != "" for c in day_cols)
        if day or (st != "serial" and any(c[j] is not None and c[j] != "" for c in month_cols)):
            t.append(f"date_{st}")
