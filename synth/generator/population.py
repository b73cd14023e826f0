"""Synthetic residents of one committee: households, valid IDs, phones, addresses, and movers.

Everything is drawn from `random.Random` streams seeded from (seed, committee code) so a committee can be
generated on its own, in any process, without the rest of the city in memory. Movers are generated from
their own seed (seed, source committee, k) so both the committee they leave and the one they join can
produce the same household.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from synth.generator import idcard
from synth.generator.config import COVERAGE_DATE, GeneratorConfig
from synth.generator.lexicon import (
    CENTRAL_DISTRICTS,
    COMMON_NAMES,
    DISABILITY_CATEGORIES,
    DISABILITY_LEVELS,
    DISTRICT_ABBR,
    EDUCATION_LEVELS,
    ESTATE_STEMS,
    ETHNICITIES,
    ETHNICITY_WEIGHTS,
    FEMALE_CHARS,
    HOMETOWN_STEMS,
    LEGACY_SHANGHAI_CODES,
    MALE_CHARS,
    MIGRANT_REGIONS,
    MOBILE_PREFIXES,
    OLD_GIVEN_FEMALE,
    OLD_GIVEN_MALE,
    ROAD_STEMS,
    ROAD_SUFFIXES,
    SURNAME_WEIGHTS,
    SURNAMES,
)

COVERAGE_DAY = date(*COVERAGE_DATE)
_MASK64 = (1 << 64) - 1
_COMMON_BY_SEX = {s: [n for n, sx in COMMON_NAMES if sx == s] for s in ("男", "女")}
_CUM_SURNAMES: list[float] = []
_acc = 0.0
for _w in SURNAME_WEIGHTS:
    _acc += _w
    _CUM_SURNAMES.append(_acc)
_SH_DISTRICTS = sorted(DISTRICT_ABBR)
_MIGRANT_CUM = [sum(r[2] for r in MIGRANT_REGIONS[: i + 1]) for i in range(len(MIGRANT_REGIONS))]


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from any parts (blake2b, so it does not depend on PYTHONHASHSEED)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def mix64(x: int) -> int:
    """splitmix64 finalizer: a cheap, well-spread hash of a 64-bit integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


@dataclass
class CommitteeCtx:
    """One residents' or villagers' committee and the derived facts residents are drawn from."""

    index: int
    district_code: str
    district_name: str
    township_code: str
    township_name: str
    code: str
    name: str
    kind: str
    roads: list[str] = field(default_factory=list)

    @property
    def is_village(self) -> bool:
        return self.kind.endswith("村委会")

    @property
    def village_name(self) -> str:
        n = self.name
        for suffix in ("村委会", "委会", "虚拟生活区"):
            if n.endswith(suffix):
                return n[: -len(suffix)] or n
        return n

    def __post_init__(self) -> None:
        rng = random.Random(stable_seed("roads", self.code))
        self.roads = sorted({rng.choice(ROAD_STEMS) + rng.choice(ROAD_SUFFIXES) for _ in range(3)})


@dataclass
class Household:
    hid: str
    home: str  # committee code the household lives in at first
    address: str
    house_type: str
    area: float
    floor: int
    grid: str
    group_no: int
    dibao_no: str | None = None
    dibao_amount: float | None = None
    members: list[Person] = field(default_factory=list)
    migrant: bool = False
    # moving: destination committee, first reference date at the new place, new address
    move_to: str | None = None
    move_date: date | None = None
    new_address: str | None = None

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(eq=False)
class Person:
    pid: str
    hh: Household
    name: str
    sex: str
    birth: date
    id18: str
    relation: str
    migrant: bool
    hukou: str
    pkey: int
    region: str = ""
    ethnicity: str = "汉族"
    education: str = "高中"
    marital: str = "已婚"
    employment: str = "就业"
    unemployed_date: date | None = None
    insurance: str = "职工医保"
    phone: str | None = None
    phone_new: str | None = None
    phone_change: date | None = None
    disabled: tuple[str, str] | None = None
    veteran: tuple[date, date, str, str] | None = None
    twin: bool = False
    common_name: bool = False
    guardian: Person | None = None
    emergency: tuple[str, str] | None = None
    children: int = 0
    parent_disabled: bool = False
    age: int = 0  # on COVERAGE_DAY (used by coverage rules)

    def u(self, salt: int) -> float:
        """A stable uniform number in [0, 1) for this person and a purpose (form sampling, answers)."""
        # mix64 inlined (called for every rule and many cells: the call itself was a visible cost)
        x = ((self.pkey ^ (salt * 0x2545F4914F6CDD1D & _MASK64)) + 0x9E3779B97F4A7C15) & _MASK64
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
        return (x ^ (x >> 31)) / 18446744073709551616.0

    def pick(self, salt: int, options: tuple[str, ...] | list[str]) -> str:
        return options[int(self.u(salt) * len(options))]

    @property
    def is_head(self) -> bool:
        return self.relation == "本人"

    @property
    def alone(self) -> bool:
        return self.hh.size == 1

    def phone_at(self, ref: date) -> str | None:
        if self.phone_change is not None and ref >= self.phone_change:
            return self.phone_new
        return self.phone

    def age_at(self, ref: date) -> int:
        return ref.year - self.birth.year - ((ref.month, ref.day) < (self.birth.month, self.birth.day))


class IdRegistry:
    """Issued (region, birth date, sequence) triples, so every generated ID is unique in the run.

    One Python int per (region, birth date) is used as a 1000-bit set of sequence codes: ~1.5M keys for
    the whole city instead of a set of 25M IDs.
    """

    def __init__(self) -> None:
        self._used: dict[tuple[str, int], int] = {}

    def _free(self, key: tuple[str, int], seq: int) -> bool:
        return not (self._used.get(key, 0) >> seq) & 1

    def _take(self, key: tuple[str, int], seq: int) -> None:
        self._used[key] = self._used.get(key, 0) | (1 << seq)

    def issue(self, region: str, birth: date, sex: str, rng: random.Random) -> str:
        key = (region, birth.toordinal())
        parity = 1 if sex == "男" else 0
        for _ in range(200):
            seq = rng.randrange(0, 500) * 2 + parity
            if seq == 0:
                continue
            if self._free(key, seq):
                self._take(key, seq)
                return idcard.make_id(region, birth, seq)
        raise RuntimeError(f"no free sequence code for {region} {birth}")

    def issue_twins(
        self, region: str, birth: date, sexes: tuple[str, str], rng: random.Random
    ) -> tuple[str, str]:
        """Two IDs with consecutive sequence codes (next code of the right parity)."""
        key = (region, birth.toordinal())
        p0 = 1 if sexes[0] == "男" else 0
        p1 = 1 if sexes[1] == "男" else 0
        for _ in range(200):
            s0 = rng.randrange(1, 480) * 2 + p0
            s1 = s0 + 1 if p0 != p1 else s0 + 2
            if self._free(key, s0) and self._free(key, s1):
                self._take(key, s0)
                self._take(key, s1)
                return idcard.make_id(region, birth, s0), idcard.make_id(region, birth, s1)
        raise RuntimeError(f"no free twin sequence codes for {region} {birth}")


@dataclass
class MoverPlan:
    src: str
    k: int
    dest: str
    move_date: date


@dataclass
class World:
    """Run-wide state shared by all committees (deterministic given the processing order)."""

    cfg: GeneratorConfig
    committees: dict[str, CommitteeCtx]
    refs: list[date]  # every period's reference date, sorted, unique
    registry: IdRegistry = field(default_factory=IdRegistry)
    movers_out: dict[str, list[MoverPlan]] = field(default_factory=dict)
    movers_in: dict[str, list[MoverPlan]] = field(default_factory=dict)
    mover_cache: dict[tuple[str, int], Household] = field(default_factory=dict)
    twins_needed_at: int = 0
    twins_done: bool = False
    codes: list[str] = field(default_factory=list)
    n_persons: int = 0
    n_households: int = 0
    n_movers: int = 0
    n_twin_pairs: int = 0
    n_common: int = 0

    def __post_init__(self) -> None:
        self.codes = sorted(self.committees)


def plan_movers(world: World, rng: random.Random) -> None:
    """Choose which committees lose households to which (other-township) committees, and when."""
    ctxs = sorted(world.committees.values(), key=lambda c: c.index)
    if len(ctxs) < 2 or len(world.refs) < 2:
        return
    rate = world.cfg.population.movers
    hh_per_committee = max(1, round(world.cfg.residents_per_committee / 2.5))
    plans: list[MoverPlan] = []
    for ctx in ctxs:
        n = sum(1 for _ in range(hh_per_committee) if rng.random() < rate)
        for k in range(n):
            plans.append(_mover_plan(ctx, k, ctxs, world.refs, rng))
    if not plans and rate > 0:
        plans.append(_mover_plan(rng.choice(ctxs), 0, ctxs, world.refs, rng))
    for plan in plans:
        if plan.dest:
            world.movers_out.setdefault(plan.src, []).append(plan)
            world.movers_in.setdefault(plan.dest, []).append(plan)


def _mover_plan(
    ctx: CommitteeCtx, k: int, ctxs: list[CommitteeCtx], refs: list[date], rng: random.Random
) -> MoverPlan:
    others = [c for c in ctxs if c.township_code != ctx.township_code] or [
        c for c in ctxs if c.code != ctx.code
    ]
    same_district = [c for c in others if c.district_code == ctx.district_code]
    pool = same_district if same_district and rng.random() < 0.6 else others
    dest = rng.choice(pool).code if pool else ""
    return MoverPlan(ctx.code, k, dest, rng.choice(refs[1:]))


# ----------------------------------------------------------------------------------------------------
# Drawing helpers
# ----------------------------------------------------------------------------------------------------


def _surname(rng: random.Random) -> str:
    x = rng.random() * _CUM_SURNAMES[-1]
    lo, hi = 0, len(_CUM_SURNAMES) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if _CUM_SURNAMES[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return SURNAMES[lo]


def _given(rng: random.Random, sex: str, birth_year: int) -> str:
    if birth_year < 1975 and rng.random() < 0.6:
        return rng.choice(OLD_GIVEN_MALE if sex == "男" else OLD_GIVEN_FEMALE)
    chars = MALE_CHARS if sex == "男" else FEMALE_CHARS
    if rng.random() < 0.2:
        return rng.choice(chars)
    a, b = rng.choice(chars), rng.choice(chars)
    while b == a:
        b = rng.choice(chars)
    return a + b


def _mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def _birth(rng: random.Random, age: int) -> date:
    """A birth date giving `age` full years on COVERAGE_DAY."""
    start = date(COVERAGE_DAY.year - age - 1, COVERAGE_DAY.month, COVERAGE_DAY.day) + timedelta(days=1)
    return start + timedelta(days=rng.randrange(365))


def _age_from(rng: random.Random, bands: tuple[tuple[int, int, float], ...]) -> int:
    x = rng.random() * sum(b[2] for b in bands)
    for lo, hi, w in bands:
        if x < w:
            return rng.randint(lo, hi)
        x -= w
    return bands[-1][1]


HEAD_AGE = ((25, 34, 0.09), (35, 49, 0.17), (50, 64, 0.27), (65, 79, 0.33), (80, 95, 0.14))
ALONE_AGE = ((22, 39, 0.16), (40, 59, 0.14), (60, 74, 0.30), (75, 96, 0.40))
MIGRANT_HEAD_AGE = ((20, 29, 0.3), (30, 44, 0.45), (45, 60, 0.25))
HH_SIZES_URBAN = (0.22, 0.33, 0.25, 0.12, 0.08)
HH_SIZES_VILLAGE = (0.14, 0.27, 0.25, 0.18, 0.16)


def _pick_weighted(rng: random.Random, weights: tuple[float, ...]) -> int:
    x = rng.random() * sum(weights)
    for i, w in enumerate(weights):
        if x < w:
            return i
        x -= w
    return len(weights) - 1


def residence_address(ctx: CommitteeCtx, rng: random.Random, house_type: str) -> str:
    """A residence address inside the committee's area (roads/lanes, or village groups)."""
    if ctx.is_village and house_type in ("农村自建房", "租赁"):
        return f"上海市{ctx.district_name}{ctx.township_name}{ctx.village_name}{rng.randint(1, 12)}组{rng.randint(1, 180)}号"
    road = rng.choice(ctx.roads)
    lane = (stable_seed(ctx.code, road) % 60) * 10 + rng.choice((0, 0, 5, 10))
    if house_type == "老式里弄":
        return f"上海市{ctx.district_name}{road}{lane or 8}弄{rng.randint(1, 90)}号"
    if house_type == "商品房" and rng.random() < 0.3:
        estate = ESTATE_STEMS[stable_seed(ctx.code, "estate") % len(ESTATE_STEMS)]
        return f"上海市{ctx.district_name}{road}{lane or 8}号{estate}苑{rng.randint(1, 24)}幢{rng.randint(1, 18)}{rng.randint(1, 4):02d}室"
    return f"上海市{ctx.district_name}{road}{lane or 8}弄{rng.randint(1, 40)}号{rng.randint(1, 6)}{rng.randint(1, 4):02d}室"


def _other_shanghai_address(rng: random.Random, world: World) -> str:
    ctx = world.committees[rng.choice(world.codes)] if rng.random() < 0.5 else None
    if ctx is None:
        road = rng.choice(ROAD_STEMS) + "路"
        return f"上海市{rng.choice(('黄浦区', '徐汇区', '静安区', '普陀区', '杨浦区', '虹口区', '长宁区', '浦东新区'))}{road}{rng.randint(1, 999)}号"
    return residence_address(ctx, rng, "售后公房")


def _hometown_address(rng: random.Random, region_name: str) -> str:
    if rng.random() < 0.6:
        return f"{region_name}{rng.choice(HOMETOWN_STEMS)}镇{rng.choice(HOMETOWN_STEMS)}村{rng.randint(1, 300)}号"
    return f"{region_name}{rng.choice(ROAD_STEMS)}路{rng.randint(1, 400)}号"


# ----------------------------------------------------------------------------------------------------
# Households
# ----------------------------------------------------------------------------------------------------


def _compose(rng: random.Random, size: int, migrant: bool, force_twins: bool) -> list[tuple[str, str, int]]:
    """Members as (relation, sex, age) for a household of `size`; the head comes first."""
    if force_twins:
        head = rng.randint(30, 42)
        kid = rng.randint(1, 12)
        return [
            ("本人", "男", head),
            ("配偶", "女", max(22, head + rng.randint(-4, 2))),
            ("子", "男", kid),
            ("女", "女", kid),
        ]
    head_bands = MIGRANT_HEAD_AGE if migrant else HEAD_AGE
    if size == 1:
        age = _age_from(rng, MIGRANT_HEAD_AGE if migrant else ALONE_AGE)
        return [("本人", "男" if rng.random() < 0.45 else "女", age)]

    def couple(age: int) -> list[tuple[str, str, int]]:
        h_sex = "男" if rng.random() < 0.75 else "女"
        s_age = max(20, age + rng.randint(-6, 4) * (1 if h_sex == "男" else -1))
        return [("本人", h_sex, age), ("配偶", "女" if h_sex == "男" else "男", s_age)]

    def kid(parent_age: int, adult: bool) -> tuple[str, str, int]:
        sex = "男" if rng.random() < 0.51 else "女"
        lo = 18 if adult else 0
        age = max(lo, min(parent_age - 20, parent_age - rng.randint(22, 36)))
        if not adult:
            age = min(age, 17)
        return ("子" if sex == "男" else "女", sex, max(0, age))

    def elder(head_age: int, sex: str) -> tuple[str, str, int]:
        return ("父亲" if sex == "男" else "母亲", sex, min(100, head_age + rng.randint(22, 34)))

    x = rng.random()
    if size == 2:
        if x < 0.55:
            return couple(_age_from(rng, head_bands))
        if x < 0.85:
            age = rng.randint(50, 90)
            return [("本人", "男" if rng.random() < 0.4 else "女", age), kid(age, adult=True)]
        age = rng.randint(26, 45)
        return [("本人", "女" if rng.random() < 0.7 else "男", age), kid(age, adult=False)]
    if size == 3:
        if x < 0.6 or migrant:
            age = rng.randint(27, 55)
            return [*couple(age), kid(age, adult=age > 45)]
        if x < 0.85:
            age = rng.randint(55, 85)
            return [*couple(age), kid(age, adult=True)]
        age = rng.randint(30, 60)
        return [*couple(age), elder(age, "女")]
    if size == 4:
        age = rng.randint(28, 50)
        if x < 0.45 or migrant:
            return [*couple(age), kid(age, adult=False), kid(age, adult=False)]
        return [*couple(age), kid(age, adult=False), elder(age, "男" if rng.random() < 0.4 else "女")]
    age = rng.randint(30, 50)
    if x < 0.6:
        return [*couple(age), kid(age, adult=False), elder(age, "男"), elder(age, "女")]
    return [*couple(age), kid(age, adult=False), kid(age, adult=False), elder(age, "女")]


def build_household(
    world: World,
    ctx: CommitteeCtx,
    rng: random.Random,
    hid: str,
    pid_prefix: str,
    force_twins: bool = False,
) -> Household:
    """One household living in `ctx`: members, IDs, phones, addresses and the facts forms ask about."""
    pop = world.cfg.population
    dc = ctx.district_code
    migrant_share = pop.migrants_central if dc in CENTRAL_DISTRICTS else pop.migrants_outer
    migrant = rng.random() < migrant_share
    size = 1 + _pick_weighted(rng, HH_SIZES_VILLAGE if ctx.is_village else HH_SIZES_URBAN)
    if migrant:
        size = min(size, 4)
    members = _compose(rng, size, migrant, force_twins)
    has_kids = sum(1 for rel, _, a in members if rel in ("子", "女") and a < 18) >= 2
    twins = force_twins or (has_kids and rng.random() < pop.twins)

    if ctx.is_village:
        house_type = "租赁" if migrant else ("农村自建房" if rng.random() < 0.85 else "商品房")
    elif migrant:
        house_type = "租赁" if rng.random() < 0.8 else "商品房"
    else:
        types = (
            ("商品房", "售后公房", "老式里弄", "租赁")
            if dc in CENTRAL_DISTRICTS
            else ("商品房", "售后公房", "租赁")
        )
        weights = (0.38, 0.35, 0.15, 0.12) if dc in CENTRAL_DISTRICTS else (0.5, 0.35, 0.15)
        house_type = types[_pick_weighted(rng, weights)]
    area = round(
        rng.uniform(12, 35)
        if house_type == "老式里弄"
        else rng.uniform(35, 140)
        if house_type != "农村自建房"
        else rng.uniform(90, 220),
        1,
    )
    hh = Household(
        hid=hid,
        home=ctx.code,
        address=residence_address(ctx, rng, house_type),
        house_type=house_type,
        area=area,
        floor=rng.randint(1, 6),
        grid=f"第{rng.randint(1, 8)}网格",
        group_no=rng.randint(1, 12),
        migrant=migrant,
    )
    dibao_p = (0.03 if ctx.is_village else 0.015) * (2.5 if size == 1 and members[0][2] >= 60 else 1.0)
    if not migrant and rng.random() < dibao_p:
        hh.dibao_no = f"{DISTRICT_ABBR.get(dc, 'SH')}{ctx.code[6:]}{stable_seed(hid) % 10000:04d}"
        hh.dibao_amount = float(round(1510 * size * rng.uniform(0.35, 0.95)))

    # Where the household comes from (ID region) and its registered (户籍) address.
    if migrant:
        x = rng.random() * _MIGRANT_CUM[-1]
        region, region_name, _ = next(r for r, c in zip(MIGRANT_REGIONS, _MIGRANT_CUM, strict=True) if x < c)
        family_hukou = _hometown_address(rng, region_name)
    else:
        region = dc
        family_hukou = hh.address if rng.random() < 0.6 else _other_shanghai_address(rng, world)

    # Names: adults first (the father's surname goes to children).
    head_surname = _surname(rng)
    people: list[Person] = []
    father_surname = head_surname
    for i, (rel, sex, age) in enumerate(members):
        birth = _birth(rng, age)
        if rel == "本人":
            surname = head_surname
        elif rel == "配偶":
            surname = _surname(rng)
            if sex == "男":
                father_surname = surname
        elif rel == "父亲":
            surname = head_surname if members[0][1] == "男" or rng.random() < 0.5 else _surname(rng)
        elif rel == "母亲":
            surname = _surname(rng)
        else:
            surname = father_surname
        given = _given(rng, sex, birth.year)
        name = surname + given
        common = False
        if rng.random() < pop.common_name:
            options = _COMMON_BY_SEX[sex]
            if rel in ("子", "女", "父亲"):
                options = [n for n in options if n.startswith(surname)]
            if options:
                name, common = rng.choice(options), True
                if rel == "本人":
                    head_surname = name[0]
                    if sex == "男":
                        father_surname = head_surname
                elif rel == "配偶" and sex == "男":
                    father_surname = name[0]
        p_region = region
        if not migrant:
            r = rng.random()
            if r < pop.local_other_district:
                p_region = rng.choice(_SH_DISTRICTS)
            elif (
                r < pop.local_other_district + pop.local_legacy_code
                and birth.year < 1990
                and dc in LEGACY_SHANGHAI_CODES
            ):
                p_region = rng.choice(LEGACY_SHANGHAI_CODES[dc])
        hukou = (
            family_hukou
            if (migrant or rel not in ("父亲", "母亲") or rng.random() < 0.5)
            else _other_shanghai_address(rng, world)
        )
        p = Person(
            pid=f"{pid_prefix}{i}",
            hh=hh,
            name=name,
            sex=sex,
            birth=birth,
            id18="",
            relation=rel,
            migrant=migrant,
            hukou=hukou,
            pkey=rng.getrandbits(64),
            region=p_region,
            common_name=common,
            age=age,
        )
        people.append(p)

    # Twins: the first two minor children share a birth date and get consecutive sequence codes.
    kids = [p for p in people if p.relation in ("子", "女") and p.age < 18]
    twin_pair = kids[:2] if twins and len(kids) >= 2 else []
    if twin_pair:
        a, b = twin_pair
        b.birth, b.age, b.region = a.birth, a.age, a.region
        surname = father_surname
        if not a.name.startswith(surname):
            a.name, a.common_name = surname + _given(rng, a.sex, a.birth.year), False
        b.name, b.common_name = surname + _given(rng, b.sex, b.birth.year), False
        while b.name == a.name:
            b.name = surname + _given(rng, b.sex, b.birth.year)
        a.id18, b.id18 = world.registry.issue_twins(a.region, a.birth, (a.sex, b.sex), rng)
        a.twin = b.twin = True
        world.n_twin_pairs += 1
    for p in people:
        if not p.id18:
            p.id18 = world.registry.issue(p.region, p.birth, p.sex, rng)
        if p.common_name:
            world.n_common += 1
    world.n_persons += len(people)
    world.n_households += 1

    _fill_facts(rng, people, world)
    hh.members = people
    return hh


def _fill_facts(rng: random.Random, people: list[Person], world: World) -> None:
    """Phones, ethnicity, schooling, work, insurance, disability and veteran status."""
    pop = world.cfg.population
    head = people[0]
    landline = None
    ethnicity = ETHNICITIES[_pick_weighted(rng, ETHNICITY_WEIGHTS)]
    adults = [p for p in people if p.age >= 18]
    mother = next((p for p in people if p.relation in ("本人", "配偶") and p.sex == "女"), None)
    for p in people:
        p.ethnicity = ethnicity if rng.random() < 0.9 else ETHNICITIES[_pick_weighted(rng, ETHNICITY_WEIGHTS)]
        a = p.age
        if a < 6:
            p.education = "学龄前"
        elif a < 12:
            p.education = "小学"
        elif a < 15:
            p.education = "初中"
        elif a < 18:
            p.education = "高中"
        else:
            top = 7 if a < 40 else 6 if a < 60 else 4
            p.education = EDUCATION_LEVELS[min(top, max(1, int(rng.triangular(1, top + 1, top - 1))))]
        if p.relation in ("本人", "配偶") and len(adults) >= 2 and any(q.relation == "配偶" for q in people):
            p.marital = "已婚"
        elif a < 22:
            p.marital = "未婚"
        elif a >= 65:
            p.marital = "丧偶" if rng.random() < 0.7 else "离婚"
        else:
            p.marital = ("未婚", "已婚", "离婚")[_pick_weighted(rng, (0.35, 0.45, 0.2))]
        # work and insurance
        if a < 6:
            p.employment = "学龄前"
        elif a < 18:
            p.employment = "在校"
        elif a < 22:
            p.employment = "在校" if rng.random() < 0.6 else "就业"
        elif a < (60 if p.sex == "男" else 55):
            p.employment = ("就业", "灵活就业", "失业", "无业")[_pick_weighted(rng, (0.82, 0.07, 0.05, 0.06))]
        else:
            p.employment = "退休" if rng.random() < (0.6 if p.migrant else 0.9) else "无业"
        if p.employment == "失业":
            p.unemployed_date = COVERAGE_DAY - timedelta(days=rng.randint(20, 700))
        employee = p.employment in ("就业", "退休") and rng.random() < (0.7 if p.migrant else 0.92)
        p.insurance = "职工医保" if employee else "城乡居民医保"
        # disability and veterans
        p_dis = 0.005 if a < 18 else 0.02 if a < 60 else 0.05 if a < 80 else 0.10
        if rng.random() < p_dis:
            cat = DISABILITY_CATEGORIES[_pick_weighted(rng, tuple(w for _, w in DISABILITY_CATEGORIES))][0]
            lvl = DISABILITY_LEVELS[_pick_weighted(rng, tuple(w for _, w in DISABILITY_LEVELS))][0]
            p.disabled = (cat, lvl)
        vet_p = (0.05 if p.sex == "男" else 0.004) if 35 <= a <= 92 else 0.0
        if rng.random() < vet_p:
            enlist = p.birth.replace(day=1) + timedelta(days=365 * rng.randint(17, 21) + rng.randint(0, 300))
            discharge = enlist + timedelta(days=365 * rng.randint(2, 16) + rng.randint(0, 200))
            party = ("中共党员", "群众", "共青团员")[_pick_weighted(rng, (0.55, 0.4, 0.05))]
            kind = ("退役士兵", "复员军人", "转业干部", "伤残军人", "参战退役人员")[
                _pick_weighted(rng, (0.5, 0.15, 0.15, 0.1, 0.1))
            ]
            p.veteran = (enlist, discharge, party, kind)
        # phones: own mobile from 15; elders may share the head's phone or only have a landline
        if a >= 75 and rng.random() < pop.landline_elderly:
            landline = landline or f"021-{rng.choice('3456')}{rng.randrange(10_000_000):07d}"
            p.phone = landline
        elif a >= 15:
            if p is not head and a >= 65 and head.phone and rng.random() < 0.25:
                p.phone = head.phone
            else:
                p.phone = _mobile(rng)
                if len(world.refs) >= 2 and rng.random() < pop.phone_change:
                    p.phone_new = _mobile(rng)
                    p.phone_change = rng.choice(world.refs[1:])
    guardian = mother or head
    for p in people:
        if p.age < 15:
            p.guardian = guardian if guardian is not p else None
            p.phone = guardian.phone if guardian is not p else None
        elif p.age < 18:
            p.guardian = guardian if guardian is not p else None
        if p.alone and p.age >= 60:
            p.emergency = (
                _surname(rng) + _given(rng, "男" if rng.random() < 0.5 else "女", 1980),
                _mobile(rng),
            )
        if p.sex == "女" and p.relation in ("本人", "配偶"):
            p.children = sum(1 for q in people if q.relation in ("子", "女"))
        elif p.sex == "女":
            p.children = rng.choice((0, 0, 1, 1, 2))
    parent_dis = any(q.disabled is not None for q in people if q.age >= 18)
    for p in people:
        p.parent_disabled = parent_dis and p.age < 18


# ----------------------------------------------------------------------------------------------------
# Committees
# ----------------------------------------------------------------------------------------------------


@dataclass
class Resident:
    """A person as seen from one committee: `role` is native, out (leaves) or in (arrives)."""

    person: Person
    role: str

    def present(self, ref: date) -> bool:
        if self.role == "native":
            return True
        move = self.person.hh.move_date
        assert move is not None
        return ref < move if self.role == "out" else ref >= move

    def address(self, ref: date) -> str:
        hh = self.person.hh
        if hh.move_date is not None and ref >= hh.move_date and hh.new_address:
            return hh.new_address
        return hh.address


def _mover_household(world: World, plan: MoverPlan) -> Household:
    key = (plan.src, plan.k)
    hh = world.mover_cache.get(key)
    if hh is None:
        src, dest = world.committees[plan.src], world.committees[plan.dest]
        rng = random.Random(stable_seed(world.cfg.seed, "mover", plan.src, plan.k))
        hh = build_household(world, src, rng, f"H{plan.src}M{plan.k:02d}", f"P{plan.src}M{plan.k:02d}")
        hh.move_to, hh.move_date = plan.dest, plan.move_date
        hh.new_address = residence_address(dest, rng, hh.house_type)
        for p in hh.members:
            own_mobile = p.phone is not None and p.phone.startswith("1") and p.guardian is None
            if own_mobile and p.phone_change is None and rng.random() < world.cfg.population.mover_new_phone:
                p.phone_new, p.phone_change = _mobile(rng), plan.move_date
        for p in hh.members:
            if p.guardian is not None and p.age < 15:
                p.phone, p.phone_new, p.phone_change = (
                    p.guardian.phone,
                    p.guardian.phone_new,
                    p.guardian.phone_change,
                )
        world.mover_cache[key] = hh
        world.n_movers += hh.size
    else:
        del world.mover_cache[key]  # second and last use
    return hh


def committee_residents(world: World, ctx: CommitteeCtx) -> tuple[list[Resident], int]:
    """Everyone who lives in `ctx` at some reference date, and the number of native households."""
    cfg = world.cfg
    rng = random.Random(stable_seed(cfg.seed, "committee", ctx.code))
    target = max(2, round(cfg.residents_per_committee * rng.uniform(0.85, 1.15)))
    residents: list[Resident] = []
    n_people, h = 0, 0
    while n_people < target:
        force = not world.twins_done and ctx.index >= world.twins_needed_at
        hh = build_household(world, ctx, rng, f"H{ctx.code}{h:04d}", f"P{ctx.code}{h:04d}", force_twins=force)
        if any(p.twin for p in hh.members):
            world.twins_done = True
        residents.extend(Resident(p, "native") for p in hh.members)
        n_people += hh.size
        h += 1
    for plan in world.movers_out.get(ctx.code, []):
        residents.extend(Resident(p, "out") for p in _mover_household(world, plan).members)
    for plan in world.movers_in.get(ctx.code, []):
        residents.extend(Resident(p, "in") for p in _mover_household(world, plan).members)
    return residents, h
