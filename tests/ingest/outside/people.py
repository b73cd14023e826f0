"""Deterministic residents and the real committee reference for the outside delivery cases.

Every planted person has a globally unique three-character name (so it can be found again in any table
by name alone, also inside a quarantined row's raw cells) and a valid 18-digit ID with the right check
digit. Nothing here knows how the pipeline parses anything.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN_1 = "建国秀淑德志明丽玉海文金永春桂凤伟振宝雪"
GIVEN_2 = "华英芳兰平军珍梅林生红荣琴强成云霞勇萍敏"
STREETS = [
    "福州路",
    "广西北路",
    "河南中路",
    "山东中路",
    "九江路",
    "汉口路",
    "宁海东路",
    "金陵东路",
    "淮海东路",
    "复兴东路",
]
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class Person:
    """One planted resident: name, 18-digit ID and the facts that go with it."""

    index: int
    name: str
    id_number: str
    sex: str
    birth: dt.date
    phone: str
    address: str

    @property
    def birth_iso(self) -> str:
        return self.birth.isoformat()

    @property
    def id15(self) -> str:
        """The same person's old 15-digit ID (no century, no check digit)."""
        return self.id_number[:6] + self.id_number[8:17]


def person(index: int, area: str = "310101") -> Person:
    """The index-th planted person (names and IDs are unique for index < 4,700)."""
    assert 0 <= index < 4_700  # birth dates repeat after 4,700 people
    name = SURNAMES[index % 25] + GIVEN_1[(index // 25) % 20] + GIVEN_2[(index // 500) % 20]
    birth = dt.date(1931, 1, 1) + dt.timedelta(days=(index * 7) % 4700)
    seq = f"{index % 1000:03d}"
    first17 = area + birth.strftime("%Y%m%d") + seq
    sex = "男" if int(seq[-1]) % 2 else "女"
    phone = f"13{(index * 7919) % 10**9:09d}"
    address = f"上海市黄浦区{STREETS[index % 10]}{index % 300 + 1}弄{index % 40 + 1}号"
    return Person(index, name, first17 + check_digit(first17), sex, birth, phone, address)


@dataclass(frozen=True)
class Committee:
    """A committee of the real reference (data/reference/shanghai_divisions.csv)."""

    district_code: str
    district_name: str
    township_code: str
    township_name: str
    code: str
    name: str


@cache
def committees() -> tuple[Committee, ...]:
    """The committees of 黄浦区 in reference order (170 of them; names are unique in the district)."""
    with (REPO / "data/reference/shanghai_divisions.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["district_code"] == "310101"]
    return tuple(
        Committee(
            r["district_code"],
            r["district_name"],
            r["township_code"],
            r["township_name"],
            r["committee_code"],
            r["committee_name"],
        )
        for r in rows
    )


def unique_ids_ok(people: list[Person]) -> bool:
    """Sanity for the builder: names and IDs of planted people never repeat."""
    return len({p.name for p in people}) == len(people) == len({p.id_number for p in people})
