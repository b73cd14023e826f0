"""GB 11643 citizen ID numbers: check digit, construction, legacy 15-digit form and the typos clerks make."""

from __future__ import annotations

import random
from datetime import date
from operator import mul

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_W48 = 48 * sum(_WEIGHTS)  # check_digit sums weight × byte; the digits' "0" offsets come off at once
_FULLWIDTH = {c: c + 0xFEE0 for c in range(0x21, 0x7F)}  # ASCII ! .. ~ → U+FF01 .. U+FF5E


def check_digit(body17: str) -> str:
    """The 18th character of a GB 11643 ID, from its first 17 digits."""
    if len(body17) != 17:
        raise ValueError(f"an ID body has 17 characters, not {len(body17)}: {body17!r}")
    return _CHECK[(sum(map(mul, _WEIGHTS, body17.encode())) - _W48) % 11]


def is_valid(id18: str) -> bool:
    """True when the string is 17 digits plus the right check character (uppercase X) and a real birth date."""
    if len(id18) != 18 or not (id18[:17].isascii() and id18[:17].isdigit()):
        return False
    try:
        date(int(id18[6:10]), int(id18[10:12]), int(id18[12:14]))
    except ValueError:
        return False
    return check_digit(id18[:17]) == id18[17]


def make_id(region: str, birth: date, seq: int) -> str:
    """An 18-digit ID; `seq` (1-999) is the sequence code whose parity carries the sex (odd = male)."""
    body = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}{seq:03d}"
    return body + check_digit(body)


def to_legacy15(id18: str) -> str:
    """The pre-1999 15-digit form: no century, no check digit (only for people born in the 1900s)."""
    return id18[:6] + id18[8:17]


def wrong_check(id18: str, rng: random.Random) -> str:
    """Same body with a different (wrong) check character."""
    good = id18[17]
    return id18[:17] + rng.choice([c for c in _CHECK if c != good])


def digit_typo(id18: str, rng: random.Random) -> str:
    """Swap two adjacent differing digits, or substitute one digit, inside the first 17 characters."""
    chars = list(id18)
    if rng.random() < 0.5:
        spots = [i for i in range(16) if chars[i] != chars[i + 1]]
        if spots:
            i = rng.choice(spots)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
            return "".join(chars)
    i = rng.randrange(6, 17) if rng.random() < 0.7 else rng.randrange(17)
    chars[i] = rng.choice([d for d in "0123456789" if d != chars[i]])
    return "".join(chars)


def fullwidth(text: str) -> str:
    """Digits, Latin letters, + and - in their full-width forms (what some IMEs produce)."""
    return text.translate(_FULLWIDTH)
