"""Write every outside delivery case into one landing zone and return the cases with their expectations.

Run it by hand to look at the files: `.venv/bin/python -m tests.ingest.outside.builder /tmp/landing`.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from . import cases_formats, cases_identity, cases_layout, cases_more, cases_text, cases_workbooks  # noqa: F401  (register the cases)
from .model import REGISTRY, Case, Ctx
from .people import REPO


def build(landing: Path) -> list[Case]:
    """Write the catalog and all cases under `landing`; every case in its own committee/form/period."""
    landing.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "data/sample/landing/catalog", landing / "catalog", dirs_exist_ok=True)
    out = []
    for number in sorted(REGISTRY):
        key, fn = REGISTRY[number]
        case = fn(Ctx(landing, number))
        case.key = f"{number:02d}_{key}"
        case.desc = (fn.__doc__ or "").strip().splitlines()[0]
        out.append(case)
    return out


def landing_files(landing: Path) -> list[str]:
    """Every delivered file under the landing root (posix, relative), catalog excluded."""
    return sorted(
        p.relative_to(landing).as_posix()
        for p in landing.rglob("*")
        if p.is_file() and p.relative_to(landing).parts[0] != "catalog"
    )


if __name__ == "__main__":
    target = Path(sys.argv[1])
    for c in build(target):
        print(f"{c.key:55s} {c.desc}")
    print(f"{len(landing_files(target))} files under {target}")
