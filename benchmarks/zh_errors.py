"""Error analysis of a clustering of benchmarks/gen_persons_zh.py records: which planted difficulty
causes the false merges and the misses.

    .venv/bin/python benchmarks/zh_errors.py --records DIR/records.parquet --truth DIR/truth.parquet \
        --clusters clusters.parquet [--examples 5]

False merges are record pairs in one predicted cluster of two persons, classed by what the two persons
share (a placeholder ID, twins, other household members), else by how they were joined (a cluster
holding a record with a placeholder ID such as 000000000000000000: a chain through it), else by
name (namesakes born the same year, namesakes) or other. Misses are pairs of one person's records left in two clusters, classed by the difficulties the
generator planted on either record (`tags` in the truth file); a pair can carry several, so each class
also shows its miss rate among all true pairs that carry it. Clusters larger than `--max-cluster`
are counted but not enumerated (a giant cluster is itself the finding).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

SHOW = ["record_id", "source", "name", "id_number", "sex", "birth_date", "phone", "address"]
PLACEHOLDERS = ["无", "不详", "/", "-", "000000000000000000"]


def _pairs(frame: pl.DataFrame, key: str) -> pl.DataFrame:
    """All unordered record pairs sharing `key` (record_id_l < record_id_r)."""
    return (
        frame.join(frame, on=key, suffix="_r")
        .filter(pl.col("record_id") < pl.col("record_id_r"))
        .rename({"record_id": "record_id_l"})
    )


def false_merge_classes(joined: pl.DataFrame, max_cluster: int) -> pl.DataFrame:
    """Wrongly joined pairs with a `cls` column."""
    sizes = joined.group_by("cluster_id").agg(
        pl.len(), pl.col("raw_id").is_in(PLACEHOLDERS).any().alias("via_placeholder")
    )
    small = joined.join(sizes.filter(pl.col("len") <= max_cluster), on="cluster_id").drop("len")
    cols = [
        "record_id",
        "cluster_id",
        "person_id",
        "household_id",
        "ptags",
        "true_name",
        "birth_year",
        "raw_id",
        "via_placeholder",
    ]
    p = _pairs(small.select(cols), "cluster_id").filter(pl.col("person_id") != pl.col("person_id_r"))
    twins = pl.col("ptags").str.contains("twin") & pl.col("ptags_r").str.contains("twin")
    same_hh = pl.col("household_id") == pl.col("household_id_r")
    namesake = pl.col("true_name") == pl.col("true_name_r")
    placeholder = pl.col("raw_id").is_in(PLACEHOLDERS) & (pl.col("raw_id") == pl.col("raw_id_r"))
    return p.with_columns(
        pl.when(placeholder)
        .then(pl.lit("same placeholder ID (000…/无)"))
        .when(same_hh & twins)
        .then(pl.lit("twins (same household)"))
        .when(same_hh)
        .then(pl.lit("other household member"))
        .when(pl.col("via_placeholder"))
        .then(pl.lit("chained through a placeholder-ID record"))
        .when(namesake & (pl.col("birth_year") == pl.col("birth_year_r")))
        .then(pl.lit("namesakes born the same year"))
        .when(namesake)
        .then(pl.lit("namesakes"))
        .otherwise(pl.lit("other"))
        .alias("cls")
    )


def miss_classes(joined: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(missed pairs with their tags, per-tag table: true pairs, missed, miss rate)."""
    cols = ["record_id", "cluster_id", "person_id", "tags", "ptags"]
    p = _pairs(joined.select(cols), "person_id").with_columns(
        (pl.col("cluster_id") != pl.col("cluster_id_r")).alias("missed"),
        pl.concat_list(
            pl.col("tags").str.split(","),
            pl.col("tags_r").str.split(","),
            pl.col("ptags").str.split(","),
        )
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.unique()
        .alias("pair_tags"),
    )
    # pairs whose two records carry both a missing ID: the hardest (no identifier at all)
    p = p.with_columns(
        pl.when(pl.col("tags").str.contains("id_missing") & pl.col("tags_r").str.contains("id_missing"))
        .then(pl.col("pair_tags").list.concat(pl.lit(["BOTH_ids_missing"])))
        .otherwise(pl.col("pair_tags"))
        .alias("pair_tags")
    )
    per_tag = (
        p.select("missed", "pair_tags")
        .explode("pair_tags")
        .group_by("pair_tags")
        .agg(pl.len().alias("true_pairs"), pl.col("missed").sum().alias("missed"))
        .with_columns((pl.col("missed") / pl.col("true_pairs")).round(4).alias("miss_rate"))
        .sort("missed", descending=True)
    )
    missed = p.filter("missed")
    return missed, per_tag


def analyse(records: pl.DataFrame, truth: pl.DataFrame, clusters: pl.DataFrame, examples: int = 5,
            max_cluster: int = 500) -> dict[str, object]:  # fmt: skip
    """Both analyses with `examples` raw record pairs per class."""
    persons = truth.select("person_id", "household_id").unique()
    # the true name and birth year of a person: its most frequent shown name and birth year from the ID
    joined = (
        clusters.select(pl.col("record_id").cast(pl.String), pl.col("cluster_id").cast(pl.String))
        .join(truth.drop("household_id"), on="record_id")
        .join(persons, on="person_id")
        .join(
            records.select("record_id", pl.col("name").alias("shown"), pl.col("id_number").alias("raw_id")),
            on="record_id",
        )  # fmt: skip
    )
    true_name = (
        joined.filter(~pl.col("tags").str.contains("name_"))
        .group_by("person_id")
        .agg(pl.col("shown").mode().first().alias("true_name"))
    )
    year = (
        records.select("record_id", pl.col("id_number").str.extract(r"^\d{6}(\d{4})").alias("y"))
        .join(truth.select("record_id", "person_id"), on="record_id")
        .group_by("person_id")
        .agg(pl.col("y").drop_nulls().mode().first().alias("birth_year"))
    )
    joined = joined.join(true_name, on="person_id", how="left").join(year, on="person_id", how="left")
    fm = false_merge_classes(joined, max_cluster)
    missed, per_tag = miss_classes(joined)
    sizes = clusters.group_by("cluster_id").len()
    raw = records.select(SHOW)

    def show(pairs: pl.DataFrame, n: int) -> list[list[dict[str, object]]]:
        out = []
        for row in pairs.head(n).iter_rows(named=True):
            a = raw.filter(pl.col("record_id") == row["record_id_l"]).to_dicts()[0]
            b = raw.filter(pl.col("record_id") == row["record_id_r"]).to_dicts()[0]
            ta = truth.filter(pl.col("record_id") == row["record_id_l"]).to_dicts()[0]
            tb = truth.filter(pl.col("record_id") == row["record_id_r"]).to_dicts()[0]
            a["truth"] = f"person {ta['person_id']} {ta['tags']} {ta['ptags']}"
            b["truth"] = f"person {tb['person_id']} {tb['tags']} {tb['ptags']}"
            out.append([a, b])
        return out

    fm_classes = fm.group_by("cls").len().sort("len", descending=True)
    report: dict[str, object] = {
        "false_pairs_enumerated": fm.height,
        "clusters_over_max": int(sizes.filter(pl.col("len") > max_cluster).height),
        "largest_cluster": int(sizes["len"].max()),
        "false_merge_classes": fm_classes.to_dicts(),
        "false_merge_examples": {
            c: show(fm.filter(pl.col("cls") == c).sample(min(examples, n), seed=1), examples)
            for c, n in fm_classes.iter_rows()
        },
        "missed_pairs": missed.height,
        "miss_by_tag": per_tag.to_dicts(),
    }
    # examples of misses by the rarest-explained class: the tag with the highest miss rate first
    ex: dict[str, object] = {}
    for row in (
        per_tag.filter(pl.col("missed") > 0).sort("miss_rate", descending=True).head(8).iter_rows(named=True)
    ):
        t = row["pair_tags"]
        sel = missed.filter(pl.col("pair_tags").list.contains(t))
        ex[t] = show(sel.sample(min(examples, sel.height), seed=1), examples)
    report["miss_examples"] = ex
    return report


def render(report: dict[str, object]) -> str:
    """The report as text."""
    lines = [f"false merges: {report['false_pairs_enumerated']:,} wrongly joined pairs enumerated "
             f"(largest cluster {report['largest_cluster']}, {report['clusters_over_max']} clusters too big "
             "to enumerate)"]  # fmt: skip
    for c in report["false_merge_classes"]:
        lines.append(f"  {c['cls']:<34} {c['len']:>8,}")
    for cls, pairs in report["false_merge_examples"].items():
        lines.append(f"  examples: {cls}")
        for a, b in pairs:
            lines.append("    " + " | ".join(str(a[k]) for k in SHOW[1:]) + f"   [{a['truth']}]")
            lines.append("    " + " | ".join(str(b[k]) for k in SHOW[1:]) + f"   [{b['truth']}]")
            lines.append("")
    lines.append(
        f"misses: {report['missed_pairs']:,} true pairs left apart; by planted difficulty on either record"
    )
    lines.append(f"  {'difficulty':<28} {'true pairs':>10} {'missed':>8} {'miss rate':>9}")
    for r in report["miss_by_tag"]:
        lines.append(
            f"  {r['pair_tags']:<28} {r['true_pairs']:>10,} {r['missed']:>8,} {r['miss_rate']:>9.4f}"
        )
    for tag, pairs in report["miss_examples"].items():
        lines.append(f"  examples: {tag}")
        for a, b in pairs:
            lines.append("    " + " | ".join(str(a[k]) for k in SHOW[1:]) + f"   [{a['truth']}]")
            lines.append("    " + " | ".join(str(b[k]) for k in SHOW[1:]) + f"   [{b['truth']}]")
            lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--clusters", required=True)
    ap.add_argument("--examples", type=int, default=5)
    ap.add_argument("--max-cluster", type=int, default=500)
    ap.add_argument("--json", help="also write the report here")
    args = ap.parse_args()
    report = analyse(pl.read_parquet(args.records), pl.read_parquet(args.truth), pl.read_parquet(args.clusters),
                     args.examples, args.max_cluster)  # fmt: skip
    print(render(report))
    if args.json:
        Path(args.json).write_text(
            json.dumps(report, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
