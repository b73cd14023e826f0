"""Golden records: survivorship per attribute in SQL, and the anchor that names an entity.

Per cluster and attribute, only clusters whose records disagree go through the ranking; ties end on the
smallest record id, so the choice is deterministic.
"""

from __future__ import annotations

import duckdb
import polars as pl

from assets.matching import sql as S
from assets.matching.spec import MatchSpec, SpecError


def golden_records(
    con: duckdb.DuckDBPyConnection, spec: MatchSpec, labels_tbl: str, with_attributes: bool = True
) -> pl.DataFrame:
    """Survivorship per attribute, in SQL; ties end on the smallest record id. Without attributes:
    record count and anchor only (what naming needs)."""
    g = spec.golden
    attrs = g.attributes if with_attributes else ()
    ident = spec.identity
    needed = {a.column for a in attrs} | {k.lstrip("-") for a in attrs for k in a.prefer}
    needed |= {g.recency if attrs else None, ident.anchor, ident.anchor_when}
    needed -= {None, "frequency", "recency", "record_id"}
    cols = "".join(f", r.{S.q(c)}" for c in sorted(needed))  # type: ignore[type-var]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __gbase AS SELECT c.cluster, r.__rid{cols} "
        f"FROM __rec r JOIN {labels_tbl} c ON c.__rid = r.__rid"
    )
    base = "SELECT * FROM __gbase"
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE __gbase)").fetchall())

    def lowest_first(expr: str, typ: str) -> str:
        """A sort key where the preferred (highest) value is the smallest, nulls last."""
        if typ == "DATE" or typ.startswith("TIMESTAMP"):
            expr = f"epoch({expr})"
        elif typ == "VARCHAR":  # ISO dates in text (a CSV input); other text cannot rank
            expr = f"coalesce(TRY_CAST({expr} AS DOUBLE), epoch(TRY_CAST({expr} AS TIMESTAMP)))"
        return f"coalesce(-({expr})::DOUBLE, 'Infinity'::DOUBLE)"

    # One pass finds, per cluster and attribute, whether the records disagree at all (min <> max);
    # only those clusters go through survivorship. Each attribute then takes one aggregation to
    # (cluster, value) and one to the cluster's best value: arg_min over a struct orders
    # lexicographically, like ORDER BY ... but as a hash aggregate (no window).
    anchor_expr = None
    if ident.anchor:
        anchor_expr = (
            f"CASE WHEN {S.q(ident.anchor)} IS NOT NULL"
            + (f" AND {S.q(ident.anchor_when)}" if ident.anchor_when else "")
            + f" THEN {S.q(ident.anchor)}::VARCHAR END"
        )
    summary = ["count(*) AS record_count"]
    for i, attr in enumerate(attrs):
        summary += [f"min({S.q(attr.column)}) AS lo{i}", f"max({S.q(attr.column)}) AS hi{i}"]
    if anchor_expr:
        summary += [f"min({anchor_expr}) AS lo_anchor", f"max({anchor_expr}) AS hi_anchor"]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE __gsum AS SELECT cluster, {', '.join(summary)} FROM __gbase GROUP BY cluster"
    )
    selects = ["SELECT * FROM __gsum"]
    names = ["__count"]
    for i, attr in enumerate(attrs):
        col = S.q(attr.column)
        varied = f"SELECT cluster FROM __gsum WHERE lo{i} <> hi{i}"
        aggs = ["count(*) AS frequency", "min(__rid) AS first_record"]  # __rid ranks the record ids
        keys = []
        for n, key in enumerate(attr.prefer):
            if key == "frequency":
                keys.append(f"k{n} := -frequency")
            elif key == "recency":
                if not g.recency:
                    raise SpecError(
                        f"golden attribute `{attr.name}` prefers recency but golden.recency is unset"
                    )
                aggs.append(f"max({S.q(g.recency)}) AS recency")
                keys.append(f"k{n} := {lowest_first('recency', types[g.recency])}")
            else:
                c = key.lstrip("-")
                agg = "max" if not key.startswith("-") else "min"
                aggs.append(f"{agg}({S.q(c)}) AS {S.q('k_' + c)}")
                expr = lowest_first(S.q("k_" + c), types[c].replace("BOOLEAN", "INTEGER"))
                if types[c] == "BOOLEAN":
                    expr = lowest_first(f"{S.q('k_' + c)}::INTEGER", "INTEGER")
                if key.startswith("-"):
                    expr = f"-({expr})"
                keys.append(f"k{n} := {expr}")
        keys.append("tie := first_record")
        selects.append(
            f"SELECT cluster, arg_min(value, struct_pack({', '.join(keys)})) AS {S.q(attr.name)} FROM ("
            f"SELECT cluster, {col} AS value, {', '.join(aggs)} FROM ({base}) WHERE {col} IS NOT NULL "
            f"AND cluster IN ({varied}) GROUP BY cluster, {col}) GROUP BY cluster"
        )
        names.append(attr.name)
    if anchor_expr:
        selects.append(
            f"SELECT cluster, arg_min(value, struct_pack(f := -frequency, v := value, r := first_record)) AS anchor "
            f"FROM (SELECT cluster, {anchor_expr} AS value, count(*) AS frequency, min(__rid) AS first_record "
            f"FROM ({base}) WHERE {anchor_expr} IS NOT NULL AND cluster IN (SELECT cluster FROM __gsum "
            "WHERE lo_anchor <> hi_anchor) GROUP BY cluster, value) GROUP BY cluster"
        )
    sql = "WITH " + ", ".join(f"t{i} AS ({s})" for i, s in enumerate(selects))
    sql += " SELECT t0.cluster, t0.record_count"
    for i, attr in enumerate(attrs, start=1):
        sql += f", CASE WHEN t0.lo{i - 1} = t0.hi{i - 1} THEN t0.lo{i - 1} ELSE t{i}.{S.q(attr.name)} END AS {S.q(attr.name)}"
    if anchor_expr:
        sql += f", CASE WHEN t0.lo_anchor = t0.hi_anchor THEN t0.lo_anchor ELSE t{len(selects) - 1}.anchor END AS anchor"
    sql += " FROM t0"
    for i in range(1, len(selects)):
        sql += f" LEFT JOIN t{i} USING (cluster)"
    out = con.sql(sql).pl()
    con.execute("DROP TABLE __gbase")
    con.execute("DROP TABLE __gsum")
    if not anchor_expr:
        out = out.with_columns(pl.lit(None, dtype=pl.String).alias("anchor"))
    return out
