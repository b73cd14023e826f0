"""Turning residents into delivered cells: field values, per-file formatting styles and planted noise.

A *delivery* is one committee's (or a district's) series of files for one form; its style (format,
encoding, date style, …) is fixed across periods, the way one clerk's exports look alike every month.
Row noise is drawn per row; kinds that must occur at least once in a run are forced by a `Planter`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from synth.generator import idcard
from synth.generator.catalog import Form
from synth.generator.config import NoiseRates
from synth.generator.lexicon import HOMOPHONES, OLD_GIVEN_FEMALE, OLD_GIVEN_MALE, SURNAMES
from synth.generator.periods import Period
from synth.generator.population import CommitteeCtx, Person, Resident, stable_seed

EXCEL_EPOCH = date(1899, 12, 30).toordinal()
TEXT_DATE_STYLES = ("iso", "slash", "cn", "compact")

# Noise kinds a run guarantees at least once (forced at a planned committee if chance did not plant them).
ROW_KINDS = (
    "id_blank",
    "id_legacy15",
    "id_lowercase_x",
    "id_wrong_check",
    "id_digit_typo",
    "id_fullwidth",
    "name_homophone",
    "name_space",
    "phone_format",
    "phone_fullwidth",
    "unusable_no_name_no_id",
    "unusable_bad_integer",
    "date_mixed",
)
FILE_KINDS = ("column_missing", "column_renamed", "column_extra")


class Planter:
    """Guarantees rare kinds: each kind is due at a planned committee index and forced from then on until seen."""

    def __init__(self, kinds: tuple[str, ...], n_committees: int, rng: random.Random) -> None:
        span = max(1, (n_committees + 1) // 2)
        self.due = {k: rng.randrange(span) for k in kinds}
        self.seen: set[str] = set()

    def pending(self, ci: int) -> set[str]:
        return {k for k, due in self.due.items() if due <= ci and k not in self.seen}

    def mark(self, kinds: list[str] | set[str]) -> None:
        self.seen.update(kinds)


@dataclass(frozen=True)
class Style:
    """How one delivery formats its cells."""

    fmt: str  # csv | xlsx
    encoding: str  # csv only
    newline: str
    date_style: str  # iso | slash | cn | compact | serial | cell
    sex_style: str  # text | suffix | code
    bool_style: str  # text | check | digit
    addr_style: str  # full | no_city | no_district
    decimal_2dp: bool
    phone_numeric: bool  # xlsx: clean 11-digit phones stored as numbers
    title: bool
    title_gap: bool
    total_row: bool
    footer: int  # 0 none, 1 one cell, 2 split cells
    blank_tail: int
    second_sheet: bool
    sheet_name: str
    committee_cols: tuple[str, ...] = ()  # district-wide files: committee column headers


def _pick(rng: random.Random, options: tuple, weights: tuple[float, ...]) -> object:
    return rng.choices(options, weights=weights, k=1)[0]


def choose_style(rng: random.Random, noise: NoiseRates, form: Form, district_wide: bool) -> Style:
    """Draw a delivery's style (deterministic for a given rng)."""
    fmt = "xlsx" if rng.random() < (0.6 if district_wide else noise.xlsx_share) else "csv"
    encs = tuple(sorted(noise.csv_encodings))
    encoding = str(_pick(rng, encs, tuple(noise.csv_encodings[e] for e in encs)))
    if fmt == "xlsx":
        date_style = str(
            _pick(
                rng, ("iso", "slash", "cn", "compact", "serial", "cell"), (0.35, 0.12, 0.08, 0.08, 0.12, 0.25)
            )
        )
    else:
        date_style = str(_pick(rng, TEXT_DATE_STYLES, (0.55, 0.2, 0.12, 0.13)))
    committee_cols: tuple[str, ...] = ()
    if district_wide:
        committee_cols = tuple(
            _pick(
                rng,
                (
                    ("街镇", "居委会"),
                    ("居（村）委会",),
                    ("街镇", "村居委会"),
                    ("所属居委",),
                    ("街镇", "社区"),
                ),
                (0.3, 0.25, 0.2, 0.15, 0.1),
            )
        )  # type: ignore[arg-type]
    title = fmt == "xlsx" and rng.random() < 0.75
    return Style(
        fmt=fmt,
        encoding=encoding,
        newline="\r\n" if rng.random() < 0.5 else "\n",
        date_style=date_style,
        sex_style=str(_pick(rng, ("text", "suffix", "code"), (0.9, 0.06, 0.04))),
        bool_style=str(_pick(rng, ("text", "check", "digit"), (0.88, 0.06, 0.06))),
        addr_style=str(_pick(rng, ("full", "no_city", "no_district"), (0.7, 0.2, 0.1))),
        decimal_2dp=rng.random() < 0.5,
        phone_numeric=fmt == "xlsx" and rng.random() < 0.3,
        title=title,
        title_gap=title and rng.random() < 0.2,
        total_row=fmt == "xlsx" and rng.random() < 0.6,
        footer=(0 if fmt == "csv" else int(_pick(rng, (0, 1, 2), (0.3, 0.45, 0.25)))),
        blank_tail=(0 if fmt == "csv" else rng.choice((0, 1, 1, 2))),
        second_sheet=fmt == "xlsx" and rng.random() < 0.1,
        sheet_name=str(rng.choice(("Sheet1", "Sheet1", form.name[:31], "名册", "数据"))),
        committee_cols=committee_cols,
    )


# ----------------------------------------------------------------------------------------------------
# Field values (canonical, before formatting and noise)
# ----------------------------------------------------------------------------------------------------


@dataclass
class PeriodCtx:
    period: Period
    ctx: CommitteeCtx  # the committee filing the form

    @property
    def ref(self) -> date:
        return self.period.ref


def _days_before(ref: date, p: Person, salt: int, span: int) -> date:
    return ref - timedelta(days=int(p.u(salt) * span))


def _doctor(p: Person) -> str:
    s = SURNAMES[int(p.u(31) * 30)]
    return s + (OLD_GIVEN_MALE if p.u(32) < 0.5 else OLD_GIVEN_FEMALE)[int(p.u(33) * 50)]


def _plate(p: Person) -> str | None:
    if p.u(41) < 0.55:
        return None
    letters = "ABCDEFGHJKLMN"
    return f"沪{letters[int(p.u(42) * len(letters))]}{'DF'[int(p.u(43) * 2)]}{int(p.u(44) * 100000):05d}"


def _elderly_subsidy(age: int) -> float:
    return 600.0 if age >= 100 else 150.0 if age >= 90 else 75.0


def _help_type(p: Person) -> str:
    if p.hh.dibao_no is not None:
        return "低保帮扶"
    if p.disabled is not None:
        return "残疾人帮扶"
    return "独居老人关爱"


_DIS_CODE = {
    "视力残疾": "1",
    "听力残疾": "2",
    "言语残疾": "3",
    "肢体残疾": "4",
    "智力残疾": "5",
    "精神残疾": "6",
    "多重残疾": "7",
}
_LVL_CODE = {"一级": "1", "二级": "2", "三级": "3", "四级": "4"}

Getter = Callable[[Resident, Person, PeriodCtx], object]
GETTERS: dict[str, Getter] = {
    "seq": lambda r, p, c: None,
    "name": lambda r, p, c: p.name,
    "id": lambda r, p, c: p.id18,
    "sex": lambda r, p, c: p.sex,
    "birth_date": lambda r, p, c: p.birth,
    "birth_month": lambda r, p, c: p.birth.replace(day=1),
    "age": lambda r, p, c: p.age_at(c.ref),
    "phone": lambda r, p, c: p.phone_at(c.ref),
    "res_addr": lambda r, p, c: r.address(c.ref),
    "hukou_addr": lambda r, p, c: p.hukou,
    "relation": lambda r, p, c: p.relation,
    "hh_size": lambda r, p, c: p.hh.size,
    "dibao_no": lambda r, p, c: p.hh.dibao_no,
    "dibao_amount": lambda r, p, c: p.hh.dibao_amount,
    "alone": lambda r, p, c: p.alone,
    "emergency_name": lambda r, p, c: p.emergency[0] if p.emergency else None,
    "emergency_phone": lambda r, p, c: p.emergency[1] if p.emergency else None,
    "service_need": lambda r, p, c: p.pick(11, ("助餐", "助浴", "助洁", "助医", "日间照料", "无")),
    "frail": lambda r, p, c: p.u(12) < 0.1 + 0.01 * max(0, p.age - 60),
    "care_level": lambda r, p, c: 1 + int(p.u(13) * 6),
    "aid_type": lambda r, p, c: p.pick(14, ("临时救助", "医疗救助", "教育救助", "住房救助", "生活困难补助")),
    "aid_amount": lambda r, p, c: float(500 + 100 * int(p.u(15) * 30)),
    "period_date": lambda r, p, c: (
        c.ref if c.period.frequency == "不定期" else _days_before(c.ref, p, 16, 25)
    ),
    "event_date": lambda r, p, c: _days_before(c.ref, p, 17, 300),
    "meal_mode": lambda r, p, c: p.pick(18, ("堂食", "送餐上门", "自取")),
    "health": lambda r, p, c: p.pick(19, ("良好", "一般", "较差", "慢性病管理中")),
    "doctor": lambda r, p, c: _doctor(p),
    "vaccinated": lambda r, p, c: p.u(20) < 0.85,
    "vaccine_date": lambda r, p, c: (
        date(2021, 3, 1) + timedelta(days=int(p.u(21) * 1800)) if p.u(20) < 0.85 else None
    ),
    "marital": lambda r, p, c: p.marital,
    "children": lambda r, p, c: p.children,
    "education": lambda r, p, c: p.education,
    "employment": lambda r, p, c: p.employment,
    "unemployed_date": lambda r, p, c: p.unemployed_date,
    "guardian_name": lambda r, p, c: p.guardian.name if p.guardian else None,
    "guardian_phone": lambda r, p, c: p.guardian.phone_at(c.ref) if p.guardian else None,
    "hardship": lambda r, p, c: p.pick(22, ("大龄失业", "残疾", "低保家庭成员", "长期失业")),
    "pension_status": lambda r, p, c: p.pick(23, ("已参保", "已参保", "已参保", "未参保", "暂停缴费")),
    "pension_tier": lambda r, p, c: 1 + int(p.u(24) * 10),
    "ethnicity": lambda r, p, c: p.ethnicity,
    "arrival_date": lambda r, p, c: date(2026, 9, 1) - timedelta(days=int(p.u(25) * 6500)),
    "stay_reason": lambda r, p, c: p.pick(26, ("务工", "务工", "经商", "投靠亲友", "就学", "其他")),
    "lease_date": lambda r, p, c: _days_before(c.ref, p, 27, 900),
    "rent": lambda r, p, c: float(1500 + 100 * int(p.u(28) * 60)),
    "disability_cert": lambda r, p, c: (
        p.id18 + _DIS_CODE[p.disabled[0]] + _LVL_CODE[p.disabled[1]] if p.disabled else None
    ),
    "disability_category": lambda r, p, c: p.disabled[0] if p.disabled else None,
    "disability_level": lambda r, p, c: p.disabled[1] if p.disabled else None,
    "disability_subsidy_type": lambda r, p, c: (
        "重度残疾人护理补贴" if p.disabled and p.disabled[1] in ("一级", "二级") else "困难残疾人生活补贴"
    ),
    "disability_subsidy": lambda r, p, c: (
        300.0 if p.disabled and p.disabled[1] in ("一级", "二级") else 755.0
    ),
    "enlist_date": lambda r, p, c: p.veteran[0] if p.veteran else None,
    "discharge_date": lambda r, p, c: p.veteran[1] if p.veteran else None,
    "party": lambda r, p, c: p.veteran[2] if p.veteran else None,
    "veteran_kind": lambda r, p, c: p.veteran[3] if p.veteran else None,
    "shelter": lambda r, p, c: (
        c.ctx.township_name
        + ("中心小学", "第一中学", "社区文化活动中心", "体育馆")[stable_seed(c.ctx.code) % 4]
        + "避难场所"
    ),
    "evac_mode": lambda r, p, c: p.pick(34, ("投亲靠友", "集中安置", "社区转移")),
    "grid": lambda r, p, c: p.hh.grid,
    "house_type": lambda r, p, c: p.hh.house_type,
    "area": lambda r, p, c: p.hh.area,
    "floor": lambda r, p, c: p.hh.floor,
    "elevator": lambda r, p, c: p.u(35) < 0.6,
    "ev_need": lambda r, p, c: p.u(36) < 0.35,
    "plate": lambda r, p, c: _plate(p),
    "industry": lambda r, p, c: (
        p.pick(
            37,
            (
                "制造业",
                "批发和零售业",
                "住宿和餐饮业",
                "交通运输业",
                "信息技术服务业",
                "教育",
                "卫生和社会工作",
                "建筑业",
                "居民服务业",
            ),
        )
        if p.employment in ("就业", "灵活就业")
        else None
    ),
    "work_hours": lambda r, p, c: 35 + int(p.u(38) * 26) if p.employment in ("就业", "灵活就业") else 0,
    "insurance": lambda r, p, c: p.insurance,
    "visit_note": lambda r, p, c: p.pick(
        39, ("身体状况良好", "已了解生活需求", "家中无人，电话联系", "协助申请补贴", "情况稳定")
    ),
    "skill": lambda r, p, c: p.pick(
        40, ("医疗护理", "文艺", "法律咨询", "心理疏导", "家电维修", "教育辅导", "无")
    ),
    "group_no": lambda r, p, c: p.hh.group_no,
    "help_type": lambda r, p, c: _help_type(p),
    "plight": lambda r, p, c: "低保家庭" if p.hh.dibao_no is not None else "父母残疾",
    "period_month": lambda r, p, c: c.ref.replace(day=1),
    "elderly_subsidy": lambda r, p, c: _elderly_subsidy(p.age_at(c.ref)),
}


# ----------------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------------


def fmt_date(d: date, style: str, xlsx: bool) -> object:
    if style == "iso":
        return d.isoformat()
    if style == "slash":
        return f"{d.year}/{d.month}/{d.day}"
    if style == "cn":
        return f"{d.year}年{d.month}月{d.day}日"
    if style == "compact":
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    if style == "serial" and xlsx:
        return d.toordinal() - EXCEL_EPOCH
    if style == "cell" and xlsx:
        return datetime(d.year, d.month, d.day)
    return d.isoformat()


def fmt_month(d: date, style: str, xlsx: bool) -> object:
    if style == "slash":
        return f"{d.year}/{d.month}"
    if style == "cn":
        return f"{d.year}年{d.month}月"
    if style == "compact":
        return f"{d.year:04d}{d.month:02d}"
    if style == "cell" and xlsx:
        return datetime(d.year, d.month, 1)
    return f"{d.year:04d}-{d.month:02d}"


def fmt_addr(a: str, style: str, district: str) -> str:
    if style == "full" or not a.startswith("上海市"):
        return a
    a = a[3:]
    if style == "no_district" and a.startswith(district):
        a = a[len(district) :]
    return a


def _phone_variant(phone: str, rng: random.Random) -> str:
    if len(phone) != 11:
        return phone.replace("-", "") if rng.random() < 0.5 else f"({phone[:3]}){phone[4:]}"
    v = rng.randrange(4)
    if v == 0:
        return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
    if v == 1:
        return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
    if v == 2:
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    return f"+86{phone}"


def _homophone(name: str, rng: random.Random) -> str | None:
    spots = [i for i, ch in enumerate(name) if ch in HOMOPHONES]
    if not spots:
        return None
    given = [i for i in spots if i > 0]
    i = rng.choice(given) if given and rng.random() < 0.8 else rng.choice(spots)
    return name[:i] + HOMOPHONES[name[i]] + name[i + 1 :]


def _spaced(name: str, rng: random.Random) -> str:
    v = rng.randrange(4)
    if v == 0 and len(name) >= 2:
        return name[0] + " " + name[1:]
    if v == 1:
        return " " + name
    if v == 2:
        return name + " "
    return name[0] + "\u3000" + name[1:] if len(name) >= 2 else name + "  "


@dataclass
class Layout:
    """Precomputed field roles of a form, for fast per-row work."""

    form: Form
    types: list[str]
    getters: list[Getter]
    name_i: int | None
    id_i: int | None
    phone_is: list[int]
    req_phone: set[int]
    date_is: list[int]
    req_int_is: list[int]
    seq_i: int | None
    addr_is: list[int]

    @classmethod
    def of(cls, form: Form) -> Layout:
        fs = form.fields
        return cls(
            form=form,
            types=[f.type for f in fs],
            getters=[GETTERS[f.source] for f in fs],
            name_i=form.field_index("name"),
            id_i=form.field_index("id"),
            phone_is=[i for i, f in enumerate(fs) if f.type == "电话"],
            req_phone={i for i, f in enumerate(fs) if f.type == "电话" and f.required},
            date_is=[i for i, f in enumerate(fs) if f.type in ("日期", "年月")],
            req_int_is=[i for i, f in enumerate(fs) if f.type == "整数" and f.required and f.source != "seq"],
            seq_i=form.field_index("seq"),
            addr_is=[i for i, f in enumerate(fs) if f.source in ("res_addr", "hukou_addr")],
        )


@dataclass
class RenderedRow:
    cells: list[object]
    tags: list[str]
    person: Person
    committee: CommitteeCtx
    extra: dict[str, object] = field(default_factory=dict)


def render_rows(
    layout: Layout,
    residents: list[Resident],
    pc: PeriodCtx,
    style: Style,
    rng: random.Random,
    noise: NoiseRates,
    force: set[str],
) -> tuple[list[RenderedRow], set[str]]:
    """Cells (already formatted for the delivery's style) and noise tags for each selected resident."""
    xlsx = style.fmt == "xlsx"
    out: list[RenderedRow] = []
    planted: set[str] = set()
    types = layout.types
    district = pc.ctx.district_name
    for res in residents:
        p = res.person
        vals = [g(res, p, pc) for g in layout.getters]
        tags: list[str] = []
        f = force - planted if force else None
        _noise_row(layout, vals, tags, p, rng, noise, f)
        if p.twin:
            tags.append("twin")
        if p.common_name:
            tags.append("common_name")
        if res.role != "native":
            tags.append("mover")
        if layout.phone_is and p.phone_change is not None and pc.ref >= p.phone_change:
            tags.append("phone_new")
        row_date_style = style.date_style
        if layout.date_is and (rng.random() < noise.date_mixed or (f and "date_mixed" in f)):
            row_date_style = rng.choice([s for s in TEXT_DATE_STYLES if s != style.date_style])
            tags.append("date_mixed")
        cells: list[object] = []
        for i, v in enumerate(vals):
            t = types[i]
            if v is None or v == "":
                cells.append("")
            elif t == "日期" and isinstance(v, date):
                cells.append(fmt_date(v, row_date_style, xlsx))
            elif t == "年月" and isinstance(v, date):
                cells.append(fmt_month(v, row_date_style, xlsx))
            elif t == "性别":
                cells.append(
                    v
                    if style.sex_style == "text"
                    else v + "性"
                    if style.sex_style == "suffix"
                    else ((1 if v == "男" else 2) if xlsx else ("1" if v == "男" else "2"))
                )
            elif t == "是否" and isinstance(v, bool):
                if style.bool_style == "text":
                    cells.append("是" if v else "否")
                elif style.bool_style == "check":
                    cells.append("√" if v else "")
                else:
                    cells.append((1 if v else 0) if xlsx else ("1" if v else "0"))
            elif t == "整数" and isinstance(v, int) and not isinstance(v, bool):
                cells.append(v if xlsx else str(v))
            elif t == "数值" and isinstance(v, float):
                cells.append(v if xlsx else (f"{v:.2f}" if style.decimal_2dp else f"{v:g}"))
            elif (
                t == "电话"
                and xlsx
                and style.phone_numeric
                and isinstance(v, str)
                and len(v) == 11
                and v.isdigit()
            ):
                cells.append(int(v))
            elif i in layout.addr_is and isinstance(v, str):
                cells.append(fmt_addr(v, style.addr_style, district))
            else:
                cells.append(v if isinstance(v, str) else str(v))
        if row_date_style != "iso":
            # tag the style actually visible in this row (年月 cells have no serial form: they stay ISO text)
            shown = [types[i] for i in layout.date_is if vals[i] is not None and vals[i] != ""]
            if "日期" in shown or (shown and row_date_style != "serial"):
                tags.append(f"date_{row_date_style}")
        planted.update(t for t in tags if t in ROW_KINDS)
        out.append(RenderedRow(cells, tags, p, pc.ctx))
    return out, planted


def _noise_row(
    layout: Layout,
    vals: list[object],
    tags: list[str],
    p: Person,
    rng: random.Random,
    noise: NoiseRates,
    force: set[str] | None,
) -> None:
    """Plant row defects in canonical values (in place) and record their tags."""
    ni, ii = layout.name_i, layout.id_i
    if force and "unusable_no_name_no_id" in force or rng.random() < noise.unusable_no_name_no_id:
        if ni is not None:
            vals[ni] = None
        if ii is not None:
            vals[ii] = None
        tags.append("unusable_no_name_no_id")
        force = None
    else:
        # ID defects: one of blank / legacy15 / wrong check / digit typo, then case and width
        if ii is not None and isinstance(vals[ii], str):
            idv = vals[ii]
            assert isinstance(idv, str)
            old = p.birth.year < 2000
            kind = None
            for k in ("id_legacy15", "id_wrong_check", "id_digit_typo", "id_blank"):
                if force and k in force and (k != "id_legacy15" or old):
                    kind = k
                    break
            if kind is None:
                r = rng.random()
                cuts = (noise.id_blank, noise.id_legacy15, noise.id_wrong_check, noise.id_digit_typo)
                if r < cuts[0]:
                    kind = "id_blank"
                elif r < cuts[0] + cuts[1]:
                    kind = "id_legacy15" if old else None
                elif r < cuts[0] + cuts[1] + cuts[2]:
                    kind = "id_wrong_check"
                elif r < sum(cuts):
                    kind = "id_digit_typo"
            if kind == "id_blank":
                idv = ""
            elif kind == "id_legacy15":
                idv = idcard.to_legacy15(idv)
            elif kind == "id_wrong_check":
                idv = idcard.wrong_check(idv, rng)
            elif kind == "id_digit_typo":
                idv = idcard.digit_typo(idv, rng)
            if kind:
                tags.append(kind)
            if (
                idv.endswith("X")
                and kind != "id_legacy15"
                and (rng.random() < noise.id_lowercase_x or (force and "id_lowercase_x" in force))
            ):
                idv = idv[:-1] + "x"
                tags.append("id_lowercase_x")
            if idv and (rng.random() < noise.id_fullwidth or (force and "id_fullwidth" in force)):
                idv = idcard.fullwidth(idv)
                tags.append("id_fullwidth")
            vals[ii] = idv
        if ni is not None and isinstance(vals[ni], str):
            nm = vals[ni]
            assert isinstance(nm, str)
            if rng.random() < noise.name_homophone or (force and "name_homophone" in force):
                alt = _homophone(nm, rng)
                if alt:
                    nm = alt
                    tags.append("name_homophone")
            if rng.random() < noise.name_space or (force and "name_space" in force):
                nm = _spaced(nm, rng)
                tags.append("name_space")
            vals[ni] = nm
    for i in layout.phone_is:
        ph = vals[i]
        if not isinstance(ph, str) or not ph:
            continue
        if i not in layout.req_phone and rng.random() < noise.phone_blank:
            vals[i] = None
            tags.append("phone_blank")
            continue
        if ph.startswith("021-"):
            tags.append("phone_landline")
        if rng.random() < noise.phone_format or (force and "phone_format" in force):
            ph = _phone_variant(ph, rng)
            tags.append("phone_format")
        if rng.random() < noise.phone_fullwidth or (force and "phone_fullwidth" in force):
            ph = idcard.fullwidth(ph)
            tags.append("phone_fullwidth")
        vals[i] = ph
        force = None if force is None else force - {"phone_format", "phone_fullwidth"}
    if layout.req_int_is and (
        rng.random() < noise.unusable_bad_integer or (force and "unusable_bad_integer" in force)
    ):
        vals[layout.req_int_is[0]] = "不详"
        tags.append("unusable_bad_integer")
