"""The outside builder itself (no job run): cases are isolated and every expectation points at a planted file."""

from __future__ import annotations

from collections import Counter

from .builder import build, landing_files


def test_cases_are_isolated_and_reference_planted_files(tmp_path):
    cases = build(tmp_path)
    files = set(landing_files(tmp_path))
    assert len(cases) >= 60
    # every file an expectation names was written (binary fixtures included)
    named = {f.path for c in cases for f in c.files} | {r.file for c in cases for r in c.rows}
    assert named - files == set()
    # no two cases write the same file
    owners = Counter(f.path for c in cases for f in c.files)
    assert [p for p, n in owners.items() if n > 1] == []
    # a planted name belongs to one case only, so finding it by name cannot cross cases
    per_case = [{r.name for r in c.rows} | set(c.staged_once) for c in cases]
    seen = Counter(n for names in per_case for n in names)
    assert [n for n, k in seen.items() if k > 1] == []
    # a 'staged' or 'quarantined' row is expected exactly once per file
    keys = Counter((r.file, r.name) for c in cases for r in c.rows)
    assert [k for k, n in keys.items() if n > 1] == []
