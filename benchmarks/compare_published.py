"""Compare two publications product by product: the same product files, and in each the same tables, columns,
types and rows (as multisets: row order is not part of a product), and the same `_product` / `_columns`
except the fields that name the run (run id, generation, time).

    .venv/bin/python benchmarks/compare_published.py PUBLISHED_A PUBLISHED_B

Prints one line per difference and a summary; exits 1 if anything differs. Used to show that a change to how
products are built (batching, a process pool) left every product's contents as they were.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

RUN_FIELDS = ("run_id", "generation", "published_at")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _files(published: Path) -> dict[str, Path]:
    out = {}
    for tier in sorted(p for p in published.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        if tier.name in ("generations", "current"):
            continue
        for f in sorted(tier.glob("*.duckdb")):
            out[f"{tier.name}/{f.name}"] = f
    return out


def _tables(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for t, c, typ in con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY table_name, column_index",
        [alias],
    ).fetchall():
        out.setdefault(str(t), []).append((str(c), str(typ)))
    return out


def compare_product(a: Path, b: Path) -> list[str]:
    """Differences between two product files (empty when their contents are the same)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{b}' AS b (READ_ONLY)")
        ta, tb = _tables(con, "a"), _tables(con, "b")
        problems = [f"table {t} only in A" for t in sorted(set(ta) - set(tb))]
        problems += [f"table {t} only in B" for t in sorted(set(tb) - set(ta))]
        for t in sorted(set(ta) & set(tb)):
            if ta[t] != tb[t]:
                problems.append(f"table {t}: columns differ {ta[t]} vs {tb[t]}")
                continue
            cols = ", ".join(_q(c) for c, _ in ta[t] if not (t == "_product" and c in RUN_FIELDS))
            for x, y in (("a", "b"), ("b", "a")):
                n = con.execute(f"SELECT count(*) FROM (SELECT {cols} FROM {x}.main.{_q(t)} EXCEPT ALL "
                                f"SELECT {cols} FROM {y}.main.{_q(t)})").fetchall()[0][0]  # fmt: skip
                if n:
                    problems.append(f"table {t}: {n} rows only in {x.upper()}")
        return problems
    finally:
        con.close()


def compare(a: Path, b: Path) -> tuple[int, list[str]]:
    """(products compared, differences) between two published folders."""
    fa, fb = _files(a), _files(b)
    problems = [f"{p}: only in A" for p in sorted(set(fa) - set(fb))]
    problems += [f"{p}: only in B" for p in sorted(set(fb) - set(fa))]
    both = sorted(set(fa) & set(fb))
    for p in both:
        problems += [f"{p}: {d}" for d in compare_product(fa[p], fb[p])]
    return len(both), problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args()
    n, problems = compare(args.a, args.b)
    for line in problems:
        print(line)
    print(f"{n} products compared, {len(problems)} differences")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
