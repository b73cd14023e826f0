"""The complete Chinese spec in docs/matching.md is the benchmark's spec, and it validates."""

from __future__ import annotations

from pathlib import Path

import yaml

from assets.matching.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]


def test_docs_chinese_spec_is_the_benchmark_spec_and_valid():
    doc = (ROOT / "docs" / "matching.md").read_text(encoding="utf-8")
    section = doc[doc.index("## A complete spec for Chinese resident records") :]
    block = section[
        section.index("```yaml\n") + len("```yaml\n") : section.index("\n```", section.index("```yaml"))
    ]
    spec_file = (ROOT / "benchmarks" / "specs" / "persons_zh_outside.yaml").read_text(encoding="utf-8")
    assert block.strip() == spec_file.strip()
    spec = parse_spec(yaml.safe_load(block), "docs/matching.md")
    assert {c.name for c in spec.comparisons} >= {"id_number", "name", "birth", "household"}
