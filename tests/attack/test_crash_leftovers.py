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
KILLS = 3


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
    for entry in support.read_jsonl(path):
        for key, value in entry.items():
            if "sha256" in key and key not in ("prev_sha256", "entry_sha256") and isinstance(value, str):
                shas.add(value)
        if entry.get("type") == "run":
            runs[str(entry.get("run_id"))] = entry
    return shas, runs


def _visible_problems(published: Path) -> list[str]:
    """What is wrong with the principal-facing state right now."""
    problems = []
    for f in support.principal_facing_files(published):
        if not support.PRODUCT_NAME.match(f.name):
            problems.append(f"not a product beside the products: {f.parent.name}/{f.name}")
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


def test_killed_publish_never_exposes_incomplete_or_mixed_products(world, tmp_path) -> None:
    """Attack: run `jianfu publish` (every tier) and SIGKILL its process group after a seeded random
    delay (0.5 s … 1.1 × a full run), several times; after each kill inspect the principal-facing
    folders. Property: no never-scanned/temporary file beside the products, never a mix of generations,
    every visible product's sha256 in the manifest; then one complete run succeeds and leaves no
    leftover anywhere under the products folder."""
    w = world.clone(tmp_path / "crash")
    _, runs = _manifest(w.published)
    full = max([float(r.get("seconds") or 0) for r in runs.values()] + [30.0])
    rng = random.Random(SEED)
    findings: list[str] = []
    for i in range(KILLS):
        delay = rng.uniform(0.5, 1.1 * full)
        proc = subprocess.Popen([str(support.JIANFU), "publish", "--warehouse", str(w.warehouse)], env=w.env,
                                cwd=str(support.REPO), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        findings += [f"kill {i + 1} at {delay:.1f}s: {p}" for p in _visible_problems(w.published)]
    final = w.jianfu("publish", "--warehouse", str(w.warehouse), timeout=1200)
    if final.returncode != 0:
        findings.append(f"the run after the kills failed ({final.returncode}): {final.stderr[-800:]}")
    findings += [f"after a complete run: {p}" for p in _visible_problems(w.published)]
    left = _leftovers(w.published)
    if left:
        findings.append(f"after a complete run: {len(left)} leftovers, e.g. {left[:3]}")
    assert not findings, "\n".join(findings)
