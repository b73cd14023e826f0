"""Clustering of scored pairs: connected components with a guard against chains through weak links.

1. Cores: connected components over the strong links (at or above `strong_link`), vectorized in numpy.
2. A weak link (between the threshold and `strong_link`) joins two cores only if the mean probability
   of all scored pairs between them reaches `min_average_link`: one weak link cannot pull in a group
   that the other comparisons disagree with.
   With `profile` evidence (`clustering.group_evidence: profile`), the two groups must also match as
   entities: per comparison the best level any pair between them reaches (nulls ignored), summed with
   the prior, must reach the match threshold. Counting each comparison once, it is not outvoted by many
   pairs repeating the same agreement (two namesakes born the same day with different emails).
3. Components that still hold evidence against two of their cores (a chain A-B-C where A and C were
   scored apart) or two cannot-link values (two valid ID numbers) are rebuilt by greedy merging in
   descending link order (ties by record key) with both guards applied to the growing groups.

Deterministic: the result depends only on the set of nodes and scored pairs, not on their order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl


def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label of each node = smallest node index in its component (hook and pointer-jumping)."""
    labels = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return labels
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    while True:
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            return labels
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        while True:
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt


@dataclass
class ClusterInput:
    n: int  # nodes 0..n-1
    a: np.ndarray  # scored pairs (all of them, also below the threshold)
    b: np.ndarray
    p: np.ndarray
    threshold: float
    strong_link: float
    min_average_link: float
    cannot_link: np.ndarray | None = None  # int code per node (-1 = none)
    initial: np.ndarray | None = None  # group label per node, fixed groups from an earlier run (-1 = new)
    # Per-comparison weights (nan = null) of the pairs at given indexes, and the prior log2 odds: with
    # both, groups join through a weak link only when their profile matches (see the module doc).
    evidence: Callable[[np.ndarray], np.ndarray] | None = None
    prior_log2: float = 0.0


def profile_weight(prior_log2: float, weights: np.ndarray) -> float:
    """Match weight of two groups from the per-comparison weights of the pairs between them (rows):
    the best non-null weight of each comparison, summed with the prior."""
    if weights.shape[0] == 0:
        return prior_log2
    best = np.where(np.isnan(weights), -np.inf, weights).max(axis=0)
    return float(prior_log2 + best[np.isfinite(best)].sum())


class _Groups:
    """Union-find over the nodes of one component with member lists and cannot-link codes."""

    def __init__(self, nodes: list[int], codes: dict[int, int]):
        self.parent = {v: v for v in nodes}
        self.members = {v: [v] for v in nodes}
        self.codes = {v: ({codes[v]} if codes.get(v, -1) >= 0 else set()) for v in nodes}

    def find(self, v: int) -> int:
        root = v
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[v] != root:
            self.parent[v], v = root, self.parent[v]
        return root

    def union(self, ra: int, rb: int) -> None:
        if ra > rb:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra].extend(self.members.pop(rb))
        self.codes[ra] |= self.codes.pop(rb)

    def conflict(self, ra: int, rb: int) -> bool:
        ca, cb = self.codes[ra], self.codes[rb]
        return bool(ca and cb and not (ca <= cb or cb <= ca))


def cluster(inp: ClusterInput) -> np.ndarray:
    """Cluster label per node (smallest node index of the cluster)."""
    keep = inp.p >= inp.threshold
    a, b, p = inp.a[keep], inp.b[keep], inp.p[keep]
    strong = inp.p >= inp.strong_link
    ea, eb = inp.a[strong], inp.b[strong]
    if inp.initial is not None:
        # Fixed groups from an earlier run are linked first (a star to their smallest node).
        fixed = np.flatnonzero(inp.initial >= 0)
        if len(fixed):
            frame = pl.DataFrame({"node": fixed, "grp": inp.initial[fixed]}).with_columns(
                pl.col("node").min().over("grp").alias("root")
            )
            ea = np.concatenate([ea, frame["node"].to_numpy()])
            eb = np.concatenate([eb, frame["root"].to_numpy()])
    # 1. Cores: strong links (and earlier groups).
    core = connected_components(inp.n, ea, eb)
    # 2. Weak links join two cores only when the scored pairs between them agree on average.
    ca, cb = core[inp.a], core[inp.b]
    cross = ca != cb
    lo_c, hi_c = np.minimum(ca[cross], cb[cross]), np.maximum(ca[cross], cb[cross])
    between = (
        pl.DataFrame({"lo": lo_c, "hi": hi_c, "p": inp.p[cross], "link": keep[cross]})
        .group_by("lo", "hi")
        # rounded: a float sum's last bits depend on the order of the pairs, the decision must not
        .agg(pl.col("p").mean().round(9).alias("mean_p"), pl.col("link").any().alias("link"))
    )
    ok = pl.col("link") & (pl.col("mean_p") >= inp.min_average_link)
    if inp.evidence is not None:
        # the profile of the core pairs a weak link joins (only those: most cross pairs join nothing)
        linked = between.filter("link")
        keys = lo_c.astype(np.int64) * inp.n + hi_c
        wanted = np.sort(linked["lo"].to_numpy().astype(np.int64) * inp.n + linked["hi"].to_numpy())
        pos = np.clip(np.searchsorted(wanted, keys), 0, max(len(wanted) - 1, 0))
        sel = wanted[pos] == keys if len(wanted) else np.zeros(len(keys), dtype=bool)
        ev = inp.evidence(np.flatnonzero(cross)[sel])
        wcols = [f"w{ci}" for ci in range(ev.shape[1])]
        profiles = (
            pl.DataFrame({"lo": lo_c[sel], "hi": hi_c[sel], **{c: ev[:, ci] for ci, c in enumerate(wcols)}})
            .with_columns([pl.col(c).fill_nan(None) for c in wcols])
            .group_by("lo", "hi")
            .agg([pl.col(c).max() for c in wcols])
            .select(
                "lo",
                "hi",
                (pl.lit(inp.prior_log2) + pl.sum_horizontal([pl.col(c).fill_null(0.0) for c in wcols]))
                .round(9)
                .alias("profile"),
            )
        )
        between = between.join(profiles, on=["lo", "hi"], how="left")
        # a profile as sure as a strong link needs no support from the average of the other pairs
        strong_profile = pl.col("profile") >= _weight_threshold(inp.strong_link)
        ok = (
            pl.col("link")
            & ((pl.col("mean_p") >= inp.min_average_link) | strong_profile)
            & (pl.col("profile") >= _weight_threshold(inp.threshold))
        )
    between = between.with_columns(ok.fill_null(False).alias("ok"))
    accepted = between.filter("ok")
    comp = connected_components(
        inp.n,
        np.concatenate([ea, accepted["lo"].to_numpy()]),
        np.concatenate([eb, accepted["hi"].to_numpy()]),
    )
    # 3. Components that need the guarded rebuild: evidence against two of their cores, or two
    #    cannot-link values.
    suspicious = np.zeros(inp.n, dtype=bool)
    rejected = between.filter(~pl.col("ok"))
    if rejected.height:
        lo, hi = rejected["lo"].to_numpy(), rejected["hi"].to_numpy()
        same = comp[lo] == comp[hi]
        suspicious[comp[lo[same]]] = True
    if inp.cannot_link is not None:
        has = inp.cannot_link >= 0
        if has.any():
            pairs = pl.DataFrame({"comp": comp[has], "code": inp.cannot_link[has]}).unique()
            multi = pairs.group_by("comp").len().filter(pl.col("len") > 1)["comp"].to_numpy()
            suspicious[multi] = True
    if not suspicious.any():
        return comp

    sus_nodes = np.flatnonzero(suspicious[comp])
    node_comp = comp[sus_nodes]
    order = np.argsort(node_comp, kind="stable")
    sus_nodes, node_comp = sus_nodes[order], node_comp[order]
    # All scored pairs inside suspicious components (for the average-link support).
    inside = suspicious[comp[inp.a]] & (comp[inp.a] == comp[inp.b])
    sa, sb, sp = inp.a[inside], inp.b[inside], inp.p[inside]
    pair_p: dict[tuple[int, int], float] = {}
    for x, y, v in zip(sa.tolist(), sb.tolist(), sp.tolist(), strict=True):
        key = (x, y) if x < y else (y, x)
        pair_p[key] = max(v, pair_p.get(key, 0.0))
    pair_w: dict[tuple[int, int], np.ndarray] = {}
    if inp.evidence is not None:
        inside_idx = np.flatnonzero(inside)
        ev = inp.evidence(inside_idx)
        for x, y, row in zip(sa.tolist(), sb.tolist(), ev, strict=True):
            pair_w[(x, y) if x < y else (y, x)] = row
    w_threshold = _weight_threshold(inp.threshold)
    w_strong = _weight_threshold(inp.strong_link)
    # Links of each suspicious component, strongest first, ties by node keys.
    lk = suspicious[comp[a]] & (comp[a] == comp[b])
    la, lb, lp = a[lk], b[lk], p[lk]
    lo, hi = np.minimum(la, lb), np.maximum(la, lb)
    link_order = np.lexsort((hi, lo, -lp))
    links_by_comp: dict[int, list[tuple[int, int, float]]] = {}
    for x, y, v in zip(
        lo[link_order].tolist(), hi[link_order].tolist(), lp[link_order].tolist(), strict=True
    ):
        links_by_comp.setdefault(int(comp[x]), []).append((x, y, v))

    codes = inp.cannot_link if inp.cannot_link is not None else None
    result = comp.copy()
    boundaries = np.flatnonzero(np.diff(node_comp)) + 1
    for nodes in np.split(sus_nodes, boundaries):
        node_list = nodes.tolist()
        cmap = {v: int(codes[v]) for v in node_list} if codes is not None else {}
        groups = _Groups(node_list, cmap)
        if inp.initial is not None:
            by_group: dict[int, list[int]] = {}
            for v in node_list:
                g = int(inp.initial[v])
                if g >= 0:
                    by_group.setdefault(g, []).append(v)
            for members in by_group.values():
                root = groups.find(members[0])
                for v in members[1:]:
                    rv = groups.find(v)
                    if rv != root:
                        groups.union(root, rv)
                        root = groups.find(root)
        for x, y, v in links_by_comp.get(int(comp[node_list[0]]), []):
            rx, ry = groups.find(x), groups.find(y)
            if rx == ry or groups.conflict(rx, ry):
                continue
            if v < inp.strong_link and (len(groups.members[rx]) > 1 or len(groups.members[ry]) > 1):
                total, seen = 0.0, 0
                rows: list[np.ndarray] = []
                for mx in groups.members[rx]:
                    for my in groups.members[ry]:
                        key = (mx, my) if mx < my else (my, mx)
                        pv = pair_p.get(key)
                        if pv is not None:
                            total += pv
                            seen += 1
                        if key in pair_w:
                            rows.append(pair_w[key])
                profile = round(profile_weight(inp.prior_log2, np.vstack(rows)), 9) if rows else None
                if profile is not None and profile < w_threshold:
                    continue
                if (
                    seen
                    and total / seen < inp.min_average_link
                    and not (profile is not None and profile >= w_strong)
                ):
                    continue
            groups.union(rx, ry)
        for members in groups.members.values():
            result[members] = min(members)
    return result


def _weight_threshold(threshold: float) -> float:
    """The match weight (log2 odds) of a probability threshold."""
    return round(float(np.log2(threshold / (1.0 - threshold))), 9)
