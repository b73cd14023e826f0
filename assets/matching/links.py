"""Each record's strongest link inside its own cluster (the `matched_record_id` of the assignments)."""

from __future__ import annotations

import numpy as np


def best_links(
    n: int, a: np.ndarray, b: np.ndarray, prob: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record (by __rid): its strongest scored pair (a[i], b[i], prob[i]) inside its own cluster (ties:
    the smaller other record) as (other __rid or -1, probability or nan, pair index or -1)."""
    same = labels[a] == labels[b]
    # index and value arrays of the target's own dtypes: ufunc.at then takes its fast path (with an
    # int32 value array against an int64 target, minimum.at is several times slower)
    node = np.concatenate([a[same], b[same]]).astype(np.intp)
    other = np.concatenate([b[same], a[same]]).astype(np.int64)
    p = np.concatenate([prob[same], prob[same]])
    idx = np.flatnonzero(same)
    pat = np.concatenate([idx, idx])
    # max probability per record, then the smallest other record among the pairs reaching it
    best_p = np.full(n, -np.inf)
    np.maximum.at(best_p, node, p)
    top = p == best_p[node]
    best_other = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best_other, node[top], other[top])
    chosen = top & (other == best_other[node])
    best_pat = np.full(n, -1, dtype=np.int64)
    best_pat[node[chosen]] = pat[chosen]
    missing = best_pat < 0
    best_other[missing] = -1
    best_p[missing] = np.nan
    return best_other, best_p, best_pat
