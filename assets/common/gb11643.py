"""GB 11643-1999, the citizen identity number: the check character, in one place.

The generator keeps its own copy on purpose (synth/generator/idcard.py): test data must not share a bug
with the code it tests.
"""

from __future__ import annotations

ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits (ISO 7064 MOD 11-2); ValueError on anything else."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    return CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]
