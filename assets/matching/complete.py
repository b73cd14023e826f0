"""Complete the evidence inside clusters: compare the member pairs that blocking never produced.

Blocking compares only pairs that share a key, and a key shared by too many records (a common name) is
skipped. Clustering by transitive closure can then join two records that were never compared: A links to
a weak record W (no birth date, say) and W links to B, while A and B, had they been compared, disagree
(different birth dates). `clustering.complete_within: k` compares every pair of members of each cluster
of at most k records that was not yet scored, with the same comparison levels and model, so that the
clustering can see that evidence and split the chain (docs/matching.md, "Completing clusters").

Cost: at most k(k-1)/2 pairs per cluster, and only for pairs missing from the candidates.
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl

from assets.matching.pairs import Coder, Pairs, decode_pairs, tf_select
from assets.matching.spec import MatchSpec


def missing_pairs(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, max_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (lo < hi) of members of clusters of 3 to `max_size` records that are not among the scored
    pairs (a, b). A cluster of two records holds only its scored link."""
    n = len(labels)
    size_of = np.bincount(labels, minlength=n)[labels]
    small = (size_of >= 3) & (size_of <= max_size)
    nodes = np.flatnonzero(small)
    nodes = nodes[np.lexsort((nodes, labels[nodes], size_of[nodes]))]  # by size, then cluster
    sizes = size_of[nodes]
    out_a: list[np.ndarray] = []
    out_b: list[np.ndarray] = []
    for size in np.unique(sizes).tolist():
        lo_i, hi_i = np.searchsorted(sizes, [size, size + 1])
        block = nodes[lo_i:hi_i].reshape(-1, size)  # one row per cluster
        i, j = np.triu_indices(size, 1)
        out_a.append(block[:, i].ravel())
        out_b.append(block[:, j].ravel())
    if not out_a:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    ca, cb = np.concatenate(out_a).astype(np.int64), np.concatenate(out_b).astype(np.int64)
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    keys = lo * n + hi
    # the scored pairs inside those clusters, as sorted keys
    inside = small[a] & (labels[a] == labels[b])
    sa, sb = a[inside].astype(np.int64), b[inside].astype(np.int64)
    seen = np.sort(np.minimum(sa, sb) * n + np.maximum(sa, sb))
    pos = np.clip(np.searchsorted(seen, keys), 0, max(len(seen) - 1, 0))
    new = ~(seen[pos] == keys) if len(seen) else np.ones(len(keys), dtype=bool)
    return lo[new], hi[new]


def compare_pairs_by_index(
    con: duckdb.DuckDBPyConnection, spec: MatchSpec, table: str, a: np.ndarray, b: np.ndarray
) -> Pairs:
    """Comparison patterns of given pairs of record indexes (`__rid`, a < b), as candidate_pairs gives
    them (no blocking-rule bits: these pairs train nothing)."""
    coder = Coder(spec)
    want = pl.DataFrame({"rid_l": a.astype(np.int32), "rid_r": b.astype(np.int32)})
    want_arrow = want.to_arrow()  # noqa: F841
    tf_idx, tf_sel = tf_select(spec)
    res = con.execute(
        f"SELECT c.rid_l, c.rid_r, ({coder.gamma_code()}) AS __code{tf_sel} FROM want_arrow c "
        f"JOIN {table} l ON l.__rid = c.rid_l JOIN {table} r ON r.__rid = c.rid_r"
    ).fetchnumpy()
    return decode_pairs(res, coder, tf_idx)
