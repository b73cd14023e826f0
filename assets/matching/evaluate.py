"""Score a clustering against ground truth: pairwise precision/recall/F1 and cluster-level measures.

Pairwise counts come from the contingency table of (predicted cluster, true entity), never from listing
pairs, so a million records score in well under a second.
- pairwise: a pair of records is predicted linked when they share a cluster; true when they share an entity.
- B-cubed: per record, precision = |its cluster ∩ its entity| / |its cluster|, recall likewise; averaged.
- exact clusters: share of true entities whose records form exactly one predicted cluster with nothing else.
"""

from __future__ import annotations

import polars as pl


def _pairs(col: pl.Expr) -> pl.Expr:
    return (col.cast(pl.Float64) * (col.cast(pl.Float64) - 1) / 2).sum()


def evaluate_clusters(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    on: str | list[str] = "record_id",
    predicted_col: str = "cluster_id",
    truth_col: str = "true_id",
) -> dict[str, float | int]:
    """Compare `predicted` (keys + predicted_col) with `truth` (keys + truth_col); records missing from
    either side are counted and left out of the scores."""
    keys = [on] if isinstance(on, str) else list(on)
    pred = predicted.select(*keys, pl.col(predicted_col).cast(pl.String).alias("__p"))
    true = truth.select(*keys, pl.col(truth_col).cast(pl.String).alias("__t"))
    joined = pred.join(true, on=keys, how="inner").filter(
        pl.col("__p").is_not_null() & pl.col("__t").is_not_null()
    )
    n = joined.height
    cont = joined.group_by("__p", "__t").len("n")
    tp = float(cont.select(_pairs(pl.col("n"))).item() or 0.0)
    pred_pairs = float(joined.group_by("__p").len("n").select(_pairs(pl.col("n"))).item() or 0.0)
    true_pairs = float(joined.group_by("__t").len("n").select(_pairs(pl.col("n"))).item() or 0.0)
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    psize = joined.group_by("__p").len("ps")
    tsize = joined.group_by("__t").len("ts")
    b3 = (
        cont.join(psize, on="__p")
        .join(tsize, on="__t")
        .select(
            (pl.col("n").cast(pl.Float64) ** 2 / pl.col("ps")).sum().alias("p"),
            (pl.col("n").cast(pl.Float64) ** 2 / pl.col("ts")).sum().alias("r"),
        )
    )
    b3p = float(b3["p"][0] or 0.0) / n if n else 1.0
    b3r = float(b3["r"][0] or 0.0) / n if n else 1.0
    b3f = 2 * b3p * b3r / (b3p + b3r) if b3p + b3r else 0.0
    exact = (
        cont.join(psize, on="__p")
        .join(tsize, on="__t")
        .filter((pl.col("n") == pl.col("ps")) & (pl.col("n") == pl.col("ts")))
    )
    n_true = tsize.height
    return {
        "records": n,
        "records_missing_truth": predicted.height - n,
        "true_entities": n_true,
        "predicted_entities": psize.height,
        "true_pairs": int(true_pairs),
        "predicted_pairs": int(pred_pairs),
        "true_positive_pairs": int(tp),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": f1,
        "bcubed_precision": b3p,
        "bcubed_recall": b3r,
        "bcubed_f1": b3f,
        "exact_cluster_share": exact.height / n_true if n_true else 1.0,
    }


def format_report(metrics: dict[str, float | int]) -> str:
    """Human-readable lines for the evaluate command."""
    lines = []
    for key, value in metrics.items():
        lines.append(f"{key:>24}: {value:.4f}" if isinstance(value, float) else f"{key:>24}: {value}")
    return "\n".join(lines)
