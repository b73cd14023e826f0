"""Clustering: components, the cannot-link guard and the weak-link (average support) guard."""

from __future__ import annotations

import numpy as np

from assets.matching.cluster import ClusterInput, cluster, connected_components


def labels_of(n, edges, cannot=None, threshold=0.9, strong=0.999, initial=None):
    a = np.array([e[0] for e in edges], dtype=np.int32)
    b = np.array([e[1] for e in edges], dtype=np.int32)
    p = np.array([e[2] for e in edges], dtype=float)
    return cluster(ClusterInput(n, a, b, p, threshold, strong, 0.5,
                                None if cannot is None else np.array(cannot), initial))  # fmt: skip


def test_connected_components_match_a_reference():
    rng = np.random.default_rng(1)
    n = 500
    a, b = rng.integers(0, n, 400), rng.integers(0, n, 400)
    got = connected_components(n, a, b)
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for x, y in zip(a, b, strict=True):
        parent[find(x)] = find(y)
    ref = [find(x) for x in range(n)]
    for x in range(n):
        for y in (0, x // 2, n - 1):
            assert (got[x] == got[y]) == (ref[x] == ref[y])


def test_cannot_link_breaks_a_chain_at_the_weakest_link():
    # 0 (ID A) -0.99- 1 (no ID) -0.95- 2 (ID B): one chain, two valid IDs -> 1 goes with the stronger side.
    labels = labels_of(3, [(0, 1, 0.99), (1, 2, 0.95)], cannot=[0, -1, 1])
    assert labels[0] == labels[1] != labels[2]


def test_weak_link_between_groups_needs_support():
    # Two tight groups {0,1,2} and {3,4}; one weak link 2-3 (0.95) while the other scored cross pairs say no.
    strong = [(0, 1, 1.0), (1, 2, 1.0), (0, 2, 1.0), (3, 4, 1.0)]
    against = [(0, 3, 0.01), (1, 4, 0.02), (2, 4, 0.05)]
    labels = labels_of(5, [*strong, (2, 3, 0.95), *against])
    assert len({labels[0], labels[1], labels[2]}) == 1 and labels[3] == labels[4]
    assert labels[0] != labels[3]
    # With supporting cross pairs, the same weak link joins them.
    support = [(0, 3, 0.93), (1, 4, 0.94), (2, 4, 0.92)]
    labels = labels_of(5, [*strong, (2, 3, 0.95), *support])
    assert len(set(labels.tolist())) == 1


def test_below_threshold_never_links_and_order_does_not_matter():
    edges = [(0, 1, 0.5), (1, 2, 0.999), (3, 4, 0.97), (4, 5, 0.96), (5, 3, 0.01)]
    first = labels_of(6, edges)
    again = labels_of(6, list(reversed(edges)))
    assert np.array_equal(first, again)
    assert first[0] != first[1] and first[1] == first[2]


def test_initial_groups_are_kept_whole():
    # 0,1 were one person last night; a new record 2 links to 1 -> joins the group; 3 stays alone.
    initial = np.array([7, 7, -1, -1])
    labels = labels_of(4, [(1, 2, 0.9999)], initial=initial)
    assert labels[0] == labels[1] == labels[2] != labels[3]
