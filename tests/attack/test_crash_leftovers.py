"""Attack 9 of issue 9: kill `jianfu publish` (SIGKILL) at random moments and look at what principals
see. Property after every kill: only complete, leak-scanned products of ONE generation, each with its
manifest entry; after the next complete run, no leftover anywhere."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from tests.attack import support

SEED = 20261129


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest(published: Path) -> tuple[set[str], dict[str, dict]]:
    """(every product sha256 the manifest records, run_id -> run entry)."""
    path = published / "_audit" / "publication_manifest.jsonl"
    shas: set[str] = set()
    runs: dict[str, dict] = {}
    if not path.exists():
        return shas, runs

    def collect(node: object) -> None:  # product hashes may sit in nested generation records
        if isinstance(node, dict):
            for key, value in node.items():
                if (
                    "sha256" in str(key)
                    and key not in ("prev_sha256", "entry_sha256")
                    and isinstance(value, str)
                ):
                    shas.add(value)
                else:
                    collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for entry in support.read_jsonl(path):
        collect(entry)
        if entry.get("type") == "run":
            runs[str(entry.get("run_id"))] = entry
    return shas, runs


def _visible_problems(published: Path) -> list[str]:
    """What is wrong with the principal-facing state right now."""
    problems = []
    strays = [f"{f.parent.name}/{f.name}" for f in support.principal_facing_files(published)
              if not support.PRODUCT_NAME.match(f.name)]  # fmt: skip
    if strays:
        problems.append(f"{len(strays)} files beside the products that are not products (temporary, "
                        f"never scanned, WAL …), e.g. {strays[:3]}")  # fmt: skip
    products = support.visible_products(published)
    if not products:
        return [*problems, "no product visible at all"]
    run_ids = {}
    for key, path in products.items():
        try:
            run_ids[key] = support.product_run_id(path)
        except Exception as exc:  # a torn or half-written file is a finding, not a test error
            problems.append(f"unreadable product {key}: {exc}")
    generations = set(run_ids.values())
    if len(generations) > 1:
        problems.append(f"a mix of {len(generations)} generations visible")
    shas, runs = _manifest(published)
    missing = [f"{t}:{c}" for (t, c), p in products.items() if _sha(p) not in shas]
    if missing:
        problems.append(f"{len(missing)} visible products without a manifest entry, e.g. {missing[:3]}")
    for run_id in generations:
        entry = runs.get(str(run_id))
        if entry is not None and entry.get("leak_scan_passed") is False:
            problems.append(f"products of run {run_id} visible although its leak scan failed")
    return problems


def _leftovers(published: Path) -> list[str]:
    """Files anywhere under the products folder that are neither a product nor an audit log."""
    out = []
    for f in published.rglob("*"):
        if f.is_dir() or "_audit" in f.relative_to(published).parts:
            continue
        if not support.PRODUCT_NAME.match(f.name) and f.name != "current":
            out.append(str(f.relative_to(published)))
    return out


def _identity(published: Path) -> dict[tuple[str, str], tuple[str, int, int]]:
    """What a principal opening its file would get: (folder, inode, mtime) of every visible product —
    the folder too, since an unchanged product may be carried into a new generation by hard link."""
    out = {}
    for key, path in support.visible_products(published).items():
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        out[key] = (str(path.resolve().parent), st.st_ino, st.st_mtime_ns)
    return out


def _publish_and_kill(w, strategy: str, delay: float, patience: float) -> str:
    """Start `jianfu publish` and SIGKILL its process group when `strategy` says so:
    `random` after `delay` s; `first_swap` the moment any visible product changes (mid-swap);
    `last_swap` the moment every visible product has changed (swapped, manifest maybe not yet written).
    Returns what happened, for the findings."""
    before = _identity(w.published)
    proc = subprocess.Popen([str(support.JIANFU), "publish", "--warehouse", str(w.warehouse)], env=w.env,
                            cwd=str(support.REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    start = time.monotonic()
    what = f"{strategy} kill never fired (run ended)"
    while proc.poll() is None:
        elapsed = time.monotonic() - start
        fire = elapsed >= (delay if strategy == "random" else patience)
        if not fire and strategy != "random":
            now = _identity(w.published)
            changed = [k for k in before if now.get(k) != before[k]] + [k for k in now if k not in before]
            fire = bool(changed) if strategy == "first_swap" else len(changed) >= len(before) > 0
        if fire:
            os.killpg(proc.pid, signal.SIGKILL)
            what = f"{strategy} kill at {elapsed:.1f}s"
            break
        time.sleep(0.002 if strategy != "random" else 0.05)
    proc.wait()
    return what


def test_killed_publish_never_exposes_incomplete_or_mixed_products(world, tmp_path) -> None:
    """Attack: run `jianfu publish` (every tier) and SIGKILL its process group — after a seeded random
    delay (0.5 s … 1.1 × a full run), the moment the first visible product changes (mid-swap) and the
    moment all have changed (after the swap) — inspecting the principal-facing folders after each kill.
    Property: no never-scanned/temporary file beside the products, never a mix of generations, every
    visible product's sha256 in the manifest; then one complete run succeeds and leaves no leftover
    anywhere under the products folder."""
    w = world.clone(tmp_path / "crash")
    _, runs = _manifest(w.published)
    full = max([float(r.get("seconds") or 0) for r in runs.values()] + [30.0])
    rng = random.Random(SEED)
    findings: list[str] = []
    for strategy in ("random", "first_swap", "last_swap"):
        what = _publish_and_kill(w, strategy, rng.uniform(0.5, 1.1 * full), patience=4 * full)
        findings += [f"{what}: {p}" for p in _visible_problems(w.published)]
    final = w.jianfu("publish", "--warehouse", str(w.warehouse), timeout=1200)
    if final.returncode != 0:
        findings.append(f"the run after the kills failed ({final.returncode}): {final.stderr[-800:]}")
    findings += [f"after a complete run: {p}" for p in _visible_problems(w.published)]
    left = _leftovers(w.published)
    if left:
        findings.append(f"after a complete run: {len(left)} leftovers, e.g. {left[:3]}")
    assert not findings, "\n".join(findings)
