"""Crash-safe publication: every run builds one complete generation and switches one pointer.

    published/current            -> generations/<id>   (a relative symlink, replaced atomically)
    published/<tier>             -> current/<tier>     (so warehouse/published/<tier>/<code>.duckdb stays valid)
    published/generations/<id>/  <tier>/<code>.duckdb …   (only products: nothing else beside them)
    published/_audit/generations/<id>.json                 the generation's record (sha256, fingerprint, scan)
    published/.building/<run>/   products being written and scanned: no principal is given this folder

A run writes and scans every product in `.building/<run>`, records the generation (its record, then
the audit manifest), renames the folder into `generations/`, and only then replaces `current`. A crash at any
moment leaves either the old generation or the new one visible, never a mix, and never an unscanned file.
Leftovers (building folders, generations that never became current, stale pointers) are removed at the start
of the next run. An unchanged product (same input fingerprint) is hard-linked from the current generation:
its bytes and mtime do not change.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from assets.publish.types import TIER_CODES, Tier
from assets.publish.writer import fsync_path

log = logging.getLogger(__name__)

CURRENT = "current"
GENERATIONS = "generations"
BUILDING = ".building"
RECORDS = "_audit/generations"
_PRODUCT_FILE = re.compile(r"^\d+(\.[a-z0-9_-]+)?\.duckdb$")


def current_generation(published: Path) -> Path | None:
    link = published / CURRENT
    if not link.is_symlink():
        return None
    target = link.resolve()
    return target if target.is_dir() else None


def record_path(generation: Path) -> Path:
    """published/_audit/generations/<id>.json (generation = published/generations/<id>)."""
    return generation.parent.parent / RECORDS / f"{generation.name}.json"


def read_record(generation: Path | None) -> dict[str, Any]:
    if generation is None or not record_path(generation).exists():
        return {}
    return json.loads(record_path(generation).read_text(encoding="utf-8"))


def building_dir(published: Path, run_id: str) -> Path:
    return published / BUILDING / run_id


def cleanup(published: Path) -> list[str]:
    """Remove what a crashed or failed run left: building folders, stale pointers, generations that are
    neither current nor the one before it (kept for readers that resolved the pointer just before a switch)."""
    removed: list[str] = []
    build = published / BUILDING
    if build.is_dir():
        for p in build.iterdir():
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(str(p.relative_to(published)))
    for p in published.glob(f"{CURRENT}.tmp-*"):
        p.unlink(missing_ok=True)
        removed.append(p.name)
    cur = current_generation(published)
    keep = set()
    if cur is not None:
        keep.add(cur.name)
        prev = read_record(cur).get("previous")
        if prev:
            keep.add(str(prev))
    gens = published / GENERATIONS
    if gens.is_dir():
        for g in gens.iterdir():
            if g.name not in keep:
                shutil.rmtree(g, ignore_errors=True)
                record_path(g).unlink(missing_ok=True)
                removed.append(str(g.relative_to(published)))
    for tier in TIER_CODES.values():  # products of the layout before generations (plain folders)
        folder = published / tier
        if folder.is_dir() and not folder.is_symlink():
            for p in folder.iterdir():
                if ".tmp-" in p.name:
                    p.unlink(missing_ok=True)
                    removed.append(str(p.relative_to(published)))
    if removed:
        log.info("removed leftovers of earlier runs: %s", ", ".join(removed))
    return removed


def carry(old: Path, new: Path) -> None:
    """Keep an unchanged product: a hard link (same inode, bytes and mtime), a copy across file systems."""
    new.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(old, new)
    except OSError:
        shutil.copy2(old, new)


def stat_of(path: Path) -> dict[str, int]:
    """What the blocking check compares instead of re-reading a product: its inode, size, mtime and ctime. A
    write changes the ctime (which no user can set back); a hard link or unlink does too, so a mismatch
    means "read it again and compare the sha256", not yet a finding."""
    st = path.stat()
    return {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns}


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    fsync_path(tmp)
    os.replace(tmp, path)


def seal(published: Path, building: Path, generation_id: str, record: dict[str, Any]) -> Path:
    """Record the generation and move it, complete, into generations/ (not visible until `switch`)."""
    for tier in TIER_CODES.values():
        (building / tier).mkdir(parents=True, exist_ok=True)
    prev = current_generation(published)
    record = {**record, "generation": generation_id, "previous": prev.name if prev else None}
    target = published / GENERATIONS / generation_id
    record_path(target).parent.mkdir(parents=True, exist_ok=True)
    _write_json(record_path(target), record)
    for d in [building, *(p for p in building.iterdir() if p.is_dir())]:
        fsync_path(d)
    gens = published / GENERATIONS
    gens.mkdir(parents=True, exist_ok=True)
    os.replace(building, target)
    fsync_path(gens)
    return target


def switch(published: Path, generation: Path) -> None:
    """Make `generation` the visible one: one atomic replacement of the `current` symlink."""
    tmp = published / f"{CURRENT}.tmp-{generation.name}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(generation, published), tmp)
    os.replace(tmp, published / CURRENT)
    _ensure_tier_links(published)
    fsync_path(published)


def _ensure_tier_links(published: Path) -> None:
    """published/<tier> -> current/<tier>; a plain folder of the old layout is replaced once."""
    for tier in TIER_CODES.values():
        link = published / tier
        if link.is_symlink():
            continue
        if link.is_dir():
            shutil.rmtree(link)
        os.symlink(os.path.join(CURRENT, tier), link)


def product_files(published_dir: str | Path, tiers: Iterable[Tier] | None = None) -> list[Path]:
    """Every product file visible to readers (through `current`), per tier folder."""
    published_dir = Path(published_dir)
    out = []
    for tier in tiers or list(Tier):
        folder = published_dir / TIER_CODES[tier]
        if folder.is_dir():
            out.extend(sorted(p for p in folder.iterdir() if _PRODUCT_FILE.match(p.name)))
    return out
