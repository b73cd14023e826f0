"""Reporting periods per frequency, their reference dates and the labels clerks print in titles."""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from synth.generator.config import LAST_MONTH
from synth.generator.lexicon import CN_DIGITS

SHANGHAI_TZ = timezone(timedelta(hours=8))
FREQUENCIES = ("月报", "季报", "年报", "不定期")


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period: `code` is the landing folder name, `ref` the day the data describes."""

    ref: date
    code: str
    frequency: str
    label: str


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def monthly_periods(n: int) -> list[Period]:
    """The last `n` months up to LAST_MONTH, oldest first."""
    y, m = LAST_MONTH
    out = []
    for _ in range(n):
        out.append(Period(_month_end(y, m), f"{y:04d}-{m:02d}", "月报", f"{y}年{m}月"))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return sorted(out)


def quarterly_periods(n_months: int) -> list[Period]:
    """Completed quarters before LAST_MONTH (at least one), oldest first."""
    y, m = LAST_MONTH
    q = (m - 1) // 3  # the quarter before the current one (1-based after the decrement below)
    if q == 0:
        y, q = y - 1, 4
    out = []
    for _ in range(max(1, -(-n_months // 3))):
        out.append(Period(_month_end(y, q * 3), f"{y}Q{q}", "季报", f"{y}年第{CN_DIGITS[q]}季度"))
        y, q = (y, q - 1) if q > 1 else (y - 1, 4)
    return sorted(out)


def annual_periods(n_months: int) -> list[Period]:
    """Completed calendar years before LAST_MONTH (at least one), oldest first."""
    y = LAST_MONTH[0] - 1
    return sorted(
        Period(date(y - i, 12, 31), f"{y - i}", "年报", f"{y - i}年度")
        for i in range(max(1, -(-n_months // 12)))
    )


def adhoc_periods(n_months: int, rng: random.Random) -> list[Period]:
    """Collection dates of an ad hoc (不定期) form inside the monthly window, oldest first."""
    first = monthly_periods(n_months)[0].ref.replace(day=1)
    last = date(LAST_MONTH[0], LAST_MONTH[1], 28)
    span = (last - first).days
    k = max(1, -(-n_months // 3))
    days = sorted(rng.sample(range(span + 1), min(k, span + 1)))
    out = []
    for d in days:
        day = first + timedelta(days=d)
        out.append(Period(day, day.isoformat(), "不定期", f"{day.year}年{day.month}月{day.day}日"))
    return out


def delivery_time(period: Period, salt: int) -> float:
    """A fixed POSIX mtime for a delivered file: a working day shortly after the period's reference date."""
    rng = random.Random(salt)
    lag = rng.randint(1, 5) if period.frequency == "不定期" else rng.randint(2, 12)
    when = datetime.combine(period.ref + timedelta(days=lag), datetime.min.time(), SHANGHAI_TZ)
    when += timedelta(hours=rng.randint(9, 17), minutes=rng.randint(0, 59), seconds=rng.randint(0, 59))
    return when.timestamp()
