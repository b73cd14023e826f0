"""Pairwise and cluster measures on a hand-checked example."""

from __future__ import annotations

import polars as pl
import pytest

from assets.matching.evaluate import evaluate_clusters


def test_metrics_by_hand():
    # truth: {a,b,c} {d,e}; predicted: {a,b} {c,d,e}
    truth = pl.DataFrame({"record_id": list("abcde"), "true_id": ["1", "1", "1", "2", "2"]})
    pred = pl.DataFrame({"record_id": list("abcde"), "cluster_id": ["x", "x", "y", "y", "y"]})
    m = evaluate_clusters(pred, truth)
    # true pairs ab ac bc de = 4; predicted pairs ab cd ce de = 4; common ab de = 2
    assert m["true_pairs"] == 4 and m["predicted_pairs"] == 4 and m["true_positive_pairs"] == 2
    assert m["pairwise_precision"] == pytest.approx(0.5)
    assert m["pairwise_recall"] == pytest.approx(0.5)
    # B-cubed precision: a,b 1; c 1/3; d,e 2/3 -> (1+1+1/3+2/3+2/3)/5
    assert m["bcubed_precision"] == pytest.approx((2 + 1 / 3 + 4 / 3) / 5)
    assert m["exact_cluster_share"] == 0.0


def test_perfect_and_missing_records():
    truth = pl.DataFrame({"record_id": list("abcd"), "true_id": ["1", "1", "2", "3"]})
    pred = pl.DataFrame({"record_id": list("abcz"), "cluster_id": ["p", "p", "q", "r"]})
    m = evaluate_clusters(pred, truth)
    assert m["pairwise_f1"] == 1.0 and m["exact_cluster_share"] == 1.0
    assert m["records"] == 3 and m["records_missing_truth"] == 1
