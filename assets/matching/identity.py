"""Stable entity ids across runs, and the history of merges and splits.

A new entity is named by a salted hash of its anchor (e.g. its valid ID number) when it has one, else of
its smallest record id, so the same data gives the same ids in any order. An existing id is carried
forward to the cluster that holds most of its records; each cluster keeps the existing id with the most of
its records (ties: the smaller id), so an id never jumps to a minority of its records.
"""

from __future__ import annotations

import hashlib

import duckdb
import numpy as np
import polars as pl

HISTORY_SCHEMA = {
    "event": pl.String,
    "entity_id": pl.String,
    "related_entity_id": pl.String,
    "record_count": pl.Int64,
}


def make_id(prefix: str, entity: str, salt: str, key: str, digits: int) -> str:
    return prefix + hashlib.sha256(f"{entity}|{salt}|{key}".encode()).hexdigest()[:digits].upper()


def hash_ids(keys: pl.Series, *, prefix: str, entity: str, salt: str, digits: int) -> pl.Series:
    """`make_id` for a whole column at once (DuckDB's SHA-256: the same digest, vectorized)."""
    con = duckdb.connect()
    try:
        arrow = pl.DataFrame({"k": keys.cast(pl.String)}).to_arrow()  # noqa: F841
        out = con.sql(
            f"SELECT $1 || upper(left(sha256($2 || k), {int(digits)})) AS h FROM arrow",
            params=[prefix, f"{entity}|{salt}|"],
        ).pl()["h"]
    finally:
        con.close()
    return out.alias("entity_id")


def assign_ids(
    clusters: pl.DataFrame,
    anchors: pl.DataFrame,
    previous: pl.DataFrame | None,
    *,
    prefix: str,
    entity: str,
    salt: str = "",
    digits: int = 16,
    per_cluster: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (cluster -> entity_id, history events).

    clusters: record_id, cluster (int; equal for records of one cluster).
    anchors: cluster, anchor (string or null).
    previous: record_id, entity_id from the last run (or None).

    1. A cluster with an anchor is named by it: the same id whatever the order or the nights in which
       its rows arrived. A provisional id it carried before is recorded as promoted.
    2. A cluster without an anchor keeps the earlier id held by most of its records (each earlier id goes
       to one cluster only: the one holding most of its records; ties to the smaller cluster key).
    3. Any other cluster is new: a provisional id from its smallest record id.
    """
    if per_cluster is None:  # cluster, min_record, record_count (the engine passes them precomputed)
        per_cluster = clusters.group_by("cluster").agg(
            pl.col("record_id").min().alias("min_record"), pl.len().cast(pl.Int64).alias("record_count")
        )
    per_cluster = per_cluster.join(anchors, on="cluster", how="left").sort("cluster")
    ctype = per_cluster.schema["cluster"]
    flows = pl.DataFrame(schema={"cluster": ctype, "old_id": pl.String, "n": pl.UInt32})
    known_ids: set[str] = set()
    known = pl.Series("known", [], dtype=pl.String)
    if previous is not None and previous.height:
        known = previous["entity_id"].unique()
        known_ids = set(known.to_list())
        flows = (
            clusters.join(previous.select("record_id", pl.col("entity_id").alias("old_id")), on="record_id")
            .group_by("cluster", "old_id")
            .len("n")
            .with_columns(pl.col("n").cast(pl.UInt32))
        )

    def hashed(keys: pl.Series) -> pl.Series:
        return hash_ids(keys, prefix=prefix, entity=entity, salt=salt, digits=digits)

    # 1. anchored clusters: named by the anchor (a second cluster with the same anchor adds its record).
    anchored = per_cluster.filter(pl.col("anchor").is_not_null()).with_columns(
        pl.when(pl.col("anchor").is_first_distinct())
        .then(pl.format("anchor:{}", "anchor"))
        .otherwise(pl.format("anchor:{}#record:{}", "anchor", "min_record"))
        .alias("key")
    )
    named = anchored.select("cluster", hashed(anchored["key"]).alias("entity_id"))
    # 2. clusters without an anchor keep an earlier id that no anchored cluster took
    if flows.height:
        free = flows.filter(
            ~pl.col("old_id").is_in(named["entity_id"].implode())
            & ~pl.col("cluster").is_in(named["cluster"].implode())
        )
        best_cluster = free.sort(["old_id", "n", "cluster"], descending=[False, True, False]).unique(
            "old_id", keep="first"
        )
        carried = best_cluster.sort(["cluster", "n", "old_id"], descending=[False, True, False]).unique(
            "cluster", keep="first"
        )
        named = pl.concat([named, carried.select("cluster", pl.col("old_id").alias("entity_id"))])
    # 3. new provisional ids from the smallest record id
    rest = per_cluster.join(named, on="cluster", how="anti")
    fresh_ids = hashed(rest.select(pl.format("record:{}", "min_record").alias("k"))["k"])
    clash = fresh_ids.is_in(named["entity_id"].implode()) | fresh_ids.is_in(known.implode())
    clash = clash | fresh_ids.is_duplicated()
    if clash.any():  # astronomically rare with 16 hex digits; resolved one by one, deterministically
        taken = set(named["entity_id"].to_list()) | known_ids
        ids = fresh_ids.to_list()
        bad = set(clash.arg_true().to_list())
        taken |= {x for i, x in enumerate(ids) if i not in bad}
        for i in sorted(bad):
            n = 1
            ids[i] = make_id(prefix, entity, salt, f"record:{rest['min_record'][i]}#{n}", digits)
            while ids[i] in taken:
                n += 1
                ids[i] = make_id(prefix, entity, salt, f"record:{rest['min_record'][i]}#{n}", digits)
            taken.add(ids[i])
        fresh_ids = pl.Series(ids, dtype=pl.String)
    named = pl.concat([named, rest.select("cluster").with_columns(fresh_ids.alias("entity_id"))])
    # in entity-id order: the order of a first run's history and of the engine's entities (one sort)
    mapping = named.cast({"cluster": ctype, "entity_id": pl.String})
    mapping = mapping[_id_order(mapping["entity_id"])]
    fresh = mapping.filter(~pl.col("entity_id").is_in(known.implode()))

    events: list[pl.DataFrame] = []
    created = fresh.join(flows, on="cluster", how="anti", maintain_order="left")
    sizes = per_cluster.select("cluster", "record_count")
    events.append(
        created.join(sizes, on="cluster", maintain_order="left").select(
            pl.lit("create").alias("event"),
            "entity_id",
            pl.lit(None, dtype=pl.String).alias("related_entity_id"),
            "record_count",
        )
    )
    if previous is not None and previous.height:
        moved = flows.join(mapping, on="cluster").filter(pl.col("old_id") != pl.col("entity_id"))
        surviving = set(mapping["entity_id"].to_list())
        # promote: a provisional id whose records all moved, alone, to a cluster now named by its anchor.
        sole = moved.group_by("cluster").agg(pl.len().alias("k"))
        whole = flows.group_by("old_id").agg(pl.col("cluster").n_unique().alias("parts"))
        moved = moved.join(sole, on="cluster").join(whole, on="old_id")
        moved = moved.with_columns(
            pl.when(pl.col("old_id").is_in(list(surviving)))
            .then(pl.lit("split"))
            .when((pl.col("k") == 1) & (pl.col("parts") == 1) & ~pl.col("entity_id").is_in(known.implode()))
            .then(pl.lit("promote"))
            .otherwise(pl.lit("merge"))
            .alias("event")
        )
        # split: records of a surviving id now form (part of) another entity; merge/promote: id replaced.
        events.append(
            moved.select(
                "event",
                pl.when(pl.col("event") == "split")
                .then(pl.col("entity_id"))
                .otherwise(pl.col("old_id"))
                .alias("entity_id"),
                pl.when(pl.col("event") == "split")
                .then(pl.col("old_id"))
                .otherwise(pl.col("entity_id"))
                .alias("related_entity_id"),
                pl.col("n").cast(pl.Int64).alias("record_count"),
            )
        )
        gone = set(previous["entity_id"].unique().to_list()) - surviving - set(moved["old_id"].to_list())
        if gone:
            lost = (
                previous.filter(pl.col("entity_id").is_in(list(gone)))
                .group_by("entity_id")
                .len("record_count")
            )
            events.append(
                lost.select(
                    pl.lit("retire").alias("event"),
                    "entity_id",
                    pl.lit(None, dtype=pl.String).alias("related_entity_id"),
                    pl.col("record_count").cast(pl.Int64),
                )
            )
    return mapping, _sorted_history(pl.concat([e.cast(HISTORY_SCHEMA) for e in events]))


def _id_order(ids: pl.Series) -> np.ndarray:
    """Row positions of `ids` (unique strings) in ascending byte order, by DuckDB (cheaper than polars'
    sort of a few hundred thousand strings)."""
    keys = ids.to_frame("k").with_row_index("__i").to_arrow()  # noqa: F841
    con = duckdb.connect()
    try:
        return np.asarray(
            con.execute("SELECT __i FROM keys ORDER BY k, __i").fetchnumpy()["__i"], dtype=np.int64
        )
    finally:
        con.close()


def _sorted_history(history: pl.DataFrame) -> pl.DataFrame:
    """`history.sort(["event", "entity_id", "related_entity_id"])` (nulls first, ties in row order), with
    the order computed by DuckDB: a first run creates one event per entity, and polars' multi-column sort
    of 334k string rows costs several times DuckDB's."""
    if history.height < 2:
        return history
    ids = history["entity_id"]
    if (  # a first run: only creations, made in entity-id order (assign_ids)
        history["related_entity_id"].null_count() == history.height
        and history["event"].n_unique() == 1
        and ids.null_count() == 0
        and ids.is_sorted()
    ):
        return history
    keys = history.select("event", "entity_id", "related_entity_id").with_row_index("__i").to_arrow()  # noqa: F841
    con = duckdb.connect()
    try:
        order = con.execute(
            "SELECT __i FROM keys ORDER BY event NULLS FIRST, entity_id NULLS FIRST, "
            "related_entity_id NULLS FIRST, __i"
        ).fetchnumpy()["__i"]
    finally:
        con.close()
    return history[np.asarray(order, dtype=np.int64)]
