"""Lazy binding: sources are measured and fingerprinted where they are, and copied into memory only when a
product is really written, with the same figures, digests and denials as an eager (staged) binding."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from assets.publish import binding, inputs, products
from assets.publish.policy import Policy
from assets.publish.products import publish
from tests.publish.conftest import TEST_KEY, build_warehouse


def _bind(wh: Path, policy: Policy, lazy: bool) -> tuple[duckdb.DuckDBPyConnection, list, list]:
    con = binding.open_sources(wh, TEST_KEY)
    bound, denials = binding.bind_datasets(con, policy, lazy=lazy)
    return con, bound, denials


def test_lazy_binding_measures_and_digests_like_a_staged_one(tmp_path: Path, policy: Policy) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    eager_con, eager, eager_denials = _bind(wh, policy, lazy=False)
    lazy_con, lazy, lazy_denials = _bind(wh, policy, lazy=True)
    assert [(b.name, b.rows, b.element_rows) for b in lazy] == [
        (b.name, b.rows, b.element_rows) for b in eager
    ]
    assert [d.__dict__ for d in lazy_denials] == [
        d.__dict__ for d in eager_denials
    ]  # incl. rows without a code
    assert "no_jurisdiction" in {d.reason_code for d in lazy_denials}  # the planted row without a committee
    assert any(b.staged_as for b in lazy)  # nothing copied yet
    assert not any(b.relation.startswith("memory.main._src_") for b in lazy)
    forms = binding.form_classes(eager_con)
    want = inputs.compute(eager_con, eager, forms, {})
    got = inputs.compute(lazy_con, lazy, forms, {})
    assert (got.shared, got.datasets, got.codes) == (want.shared, want.datasets, want.codes)
    assert binding.materialize(lazy_con, lazy) > 0
    assert not any(b.staged_as or b.lineage_staged_as for b in lazy)
    assert [b.relation for b in lazy] == [b.relation for b in eager]  # now the same memory tables
    after = inputs.compute(lazy_con, lazy, forms, {})  # same rows, now stored: same digests
    assert (after.shared, after.datasets) == (want.shared, want.datasets)
    assert binding.materialize(lazy_con, lazy) == 0  # idempotent


def test_a_run_that_carries_every_product_copies_no_source(
    tmp_path: Path, policy: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = build_warehouse(tmp_path / "wh.duckdb")
    out = tmp_path / "out"
    copied: list[int] = []
    real = binding.materialize
    monkeypatch.setattr(
        binding, "materialize", lambda con, bound: copied.append(real(con, bound)) or copied[-1]
    )
    first = publish(wh, out, policy, TEST_KEY)
    assert first.swapped and first.carried == 0 and copied and copied[0] > 0  # written: sources copied once
    copied.clear()
    again = publish(wh, out, policy, TEST_KEY)
    assert again.swapped and again.carried == again.product_count == first.product_count
    assert copied == []  # nothing written, nothing copied
    assert "stage" not in again.phases and "stage" in first.phases
    assert products.product_files(out)
