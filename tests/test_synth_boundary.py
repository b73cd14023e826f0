"""Synthetic data stays out of the product: nothing under assets/ or pipelines/ imports synth/ (or faker)
at module level, loading the code location pulls in neither, and no production module reads tests/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = [p for d in ("assets", "pipelines") for p in sorted((ROOT / d).rglob("*.py"))]


def _module_level_imports(path: Path) -> set[str]:
    """Top-level modules imported outside any function body (lazy imports inside functions are allowed)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Import):
                names.update(a.name.split(".")[0] for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                names.add(child.module.split(".")[0])
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return names


def test_no_product_module_imports_synth_at_module_level() -> None:
    assert PRODUCT
    offenders = [str(p.relative_to(ROOT)) for p in PRODUCT if _module_level_imports(p) & {"synth", "faker"}]
    assert offenders == []


def test_the_checker_sees_a_module_level_import(tmp_path: Path) -> None:
    planted = tmp_path / "m.py"
    planted.write_text("import os\nfrom synth.generator import generate\n\ndef f():\n    import faker\n")
    assert _module_level_imports(planted) == {"os", "synth"}  # the lazy faker import is not counted


def test_no_product_module_reads_tests() -> None:
    readers = [
        str(p.relative_to(ROOT))
        for p in PRODUCT
        if '"tests"' in (text := p.read_text(encoding="utf-8")) or "'tests'" in text
    ]
    assert readers == []


def test_loading_the_code_location_imports_no_synthetic_data() -> None:
    code = (
        "import sys, pipelines.definitions as d; d.build_defs(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('synth', 'faker')))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
