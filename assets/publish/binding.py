"""Bind datasets.yaml to the warehouse: attach it read-only, pick each dataset's first source that exists,
stage it once in memory (sorted by jurisdiction), and stage the facts the compiler needs as a set: which
elements each form collects (a roster's membership class) and where each golden value was delivered.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.common.warehouse import spill_directory
from assets.publish.masking import quote_ident, quote_literal, register_hmac
from assets.publish.policy import Policy
from assets.publish.policy_model import Dataset, Source
from assets.publish.types import Denial, PublishError

log = logging.getLogger(__name__)

WAREHOUSE_ALIAS = "wh"
FORM_CLASS_TABLE = "memory.main._form_class"  # form_code -> membership level (sensitive rosters only)
# staged sources and treated tables spill to `spill_directory()` beyond this (publishing's peak RSS goal: 4 GB)
PUBLISH_MEMORY_LIMIT = "3GB"
LINEAGE_PREFIX = "_lineage_"  # memory.main._lineage_<dataset>: (key, element_code, value, committee_code)


@dataclass
class BoundDataset:
    spec: Dataset
    source: Source
    columns: list[tuple[str, str]]
    relation: str  # a table name (staged) or a parenthesized SELECT
    rows: int = 0
    element_rows: dict[str | None, int] = field(default_factory=dict)
    lineage: str | None = None  # staged lineage table of a golden dataset
    staged_as: str = ""  # lazily bound: the memory table `materialize` copies `relation` into
    lineage_staged_as: str = ""

    @property
    def source_relation(self) -> str:
        return f"({self.source.select_sql})"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def column_type(self, name: str) -> str:
        return dict(self.columns)[name]


def open_sources(warehouse_path: str | Path, mask_key: object | None = None) -> duckdb.DuckDBPyConnection:
    """In-memory connection with the warehouse attached READ_ONLY as the default catalog."""
    path = Path(warehouse_path)
    if not path.exists():
        raise PublishError(f"warehouse {path} does not exist")
    con = duckdb.connect(":memory:")
    # Staged masked tables live in memory: bound them and spill to a temp folder at city scale.
    con.execute(
        f"SET memory_limit = {quote_literal(os.environ.get('JIANFU_PUBLISH_MEMORY_LIMIT', PUBLISH_MEMORY_LIMIT))}"
    )
    con.execute(f"SET temp_directory = {quote_literal(spill_directory())}")
    con.execute(f"ATTACH {quote_literal(str(path))} AS {WAREHOUSE_ALIAS} (READ_ONLY)")
    con.execute(f"USE {WAREHOUSE_ALIAS}")
    if mask_key is not None:
        register_hmac(con, getattr(mask_key, "key", mask_key))  # a MaskKey or raw bytes
    return con


def _error_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _first_binding(
    con: duckdb.DuckDBPyConnection, sources: Iterable[Source]
) -> tuple[Source | None, list, list[str]]:
    errors: list[str] = []
    for src in sources:
        try:
            described = con.execute(f"DESCRIBE {src.select_sql}").fetchall()
        except duckdb.Error as exc:
            errors.append(f"{src.label}: {_error_line(exc)}")
            continue
        return src, [(str(r[0]), str(r[1])) for r in described], errors
    return None, [], errors


def bind_datasets(
    con: duckdb.DuckDBPyConnection, policy: Policy, stage: bool = True, lazy: bool = False
) -> tuple[list[BoundDataset], list[Denial]]:
    """Bind each dataset to the first source that exists; stage it in memory (sorted by jurisdiction).

    `lazy`: measure now (rows, element rows, rows without a jurisdiction: what resolving and fingerprinting
    need) but leave each relation a filtered SELECT over the source; `materialize` copies them into memory
    once a product must really be written. A run that carries every product never copies a table."""
    bound: list[BoundDataset] = []
    denials: list[Denial] = []
    for ds in policy.datasets.values():
        src, columns, errors = _first_binding(con, ds.sources)
        if src is None:
            denials.append(Denial("dataset", ds.name, "source_missing",
                                  "skipped: no source binds yet — " + " | ".join(errors)))  # fmt: skip
            continue
        names = [c for c, _ in columns]
        problem = None
        if len(set(names)) != len(names):
            problem = ("duplicate_columns", f"source has duplicate column names {names}")
        else:
            for what, col in (("jurisdiction", ds.jurisdiction), ("element", ds.driver),
                              ("membership", ds.membership), ("subject", ds.subject)):  # fmt: skip
                if col is not None and col not in names:
                    problem = (f"no_{what}_column", f"source lacks column {col!r}")
                    break
        if problem:
            denials.append(Denial("dataset", ds.name, *problem))
            continue
        b = BoundDataset(ds, src, columns, relation=f"({src.select_sql})")
        if stage:
            _stage(con, b, denials, lazy)
            if ds.golden is not None:
                _stage_lineage(con, b, denials, lazy)
        bound.append(b)
    if stage:
        stage_form_classes(con, policy)
    return bound, denials


def _stage(
    con: duckdb.DuckDBPyConnection, b: BoundDataset, denials: list[Denial], lazy: bool = False
) -> None:
    table = f"memory.main.{quote_ident('_src_' + b.name)}"
    jcol = b.spec.jurisdiction
    if jcol is None:
        selected = f"(SELECT * FROM {b.relation} AS s)"
    else:
        j = quote_ident(jcol)
        digits = b.spec.jurisdiction_digits
        ok = f"regexp_full_match(CAST({j} AS VARCHAR), '[0-9]{{{digits}}}')"
        selected = f"(SELECT * FROM {b.relation} AS s WHERE {ok})"
    if lazy:
        b.staged_as, b.relation = table, selected
        total, kept = con.execute(f"SELECT count(*), count(*) FILTER (WHERE {ok}) FROM {b.source_relation} AS s"
                                  if jcol is not None else f"SELECT count(*), count(*) FROM {selected}").fetchall()[0]  # fmt: skip
    else:
        total = con.execute(f"SELECT count(*) FROM {b.relation} AS s").fetchall()[0][0]
        order = f" ORDER BY {quote_ident(jcol)}" if jcol is not None else ""
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {selected}{order}")
        b.relation = table
        kept = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    if jcol is not None and total - kept:
        denials.append(Denial("rows", b.name, "no_jurisdiction",
                              f"{total - kept} rows have no {b.spec.jurisdiction_digits}-digit {jcol}: "
                              "no principal receives them", column=jcol, rows_affected=int(total - kept)))  # fmt: skip
    b.rows = int(kept)
    if b.spec.driver:
        d = quote_ident(b.spec.driver)
        b.element_rows = {
            (None if e is None else str(e)): int(n)
            for e, n in con.execute(f"SELECT {d}, count(*) FROM {b.relation} GROUP BY 1").fetchall()
        }


def materialize(con: duckdb.DuckDBPyConnection, bound: Iterable[BoundDataset], into: str = "memory",
                prefixes: list[str] | None = None) -> int:  # fmt: skip
    """Copy lazily bound datasets (and lineage) into memory, sorted by jurisdiction, so that each product's
    scoped reads skip row groups; returns how many tables were copied. Digests and measurements taken on
    the lazy relations stay valid: the same rows, only stored. `into` another attached catalog (the stage
    file of `pool.py`) copies there instead, moving the tables already in memory there too; `prefixes` then
    keeps only the rows (and lineage) under those jurisdiction prefixes (what the pool's jobs read)."""
    n = 0

    def under(column: str | None) -> str:
        if not prefixes or column is None:
            return ""
        c = f"CAST({quote_ident(column)} AS VARCHAR)"
        return " WHERE " + " OR ".join(f"starts_with({c}, {quote_literal(p)})" for p in prefixes)

    def there(table: str) -> str:
        return table if into == "memory" else into + table[len("memory") :]

    for b in bound:
        if b.staged_as:
            jcol = b.spec.jurisdiction
            order = f" ORDER BY {quote_ident(jcol)}" if jcol is not None else ""
            table = there(b.staged_as)
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {b.relation}{under(jcol)}{order}")
            b.relation, b.staged_as = table, ""
            n += 1
        elif into != "memory" and b.relation.startswith("memory.main."):
            con.execute(f"CREATE OR REPLACE TABLE {there(b.relation)} AS SELECT * FROM {b.relation}"
                        f"{under(b.spec.jurisdiction)}")  # fmt: skip
            con.execute(f"DROP TABLE {b.relation}")
            b.relation = there(b.relation)
            n += 1
        if b.lineage_staged_as:
            table = there(b.lineage_staged_as)
            con.execute(
                f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {b.lineage}{under('committee_code')}"
            )
            b.lineage, b.lineage_staged_as = table, ""
            n += 1
        elif into != "memory" and b.lineage and b.lineage.startswith("memory.main."):
            con.execute(f"CREATE OR REPLACE TABLE {there(b.lineage)} AS SELECT * FROM {b.lineage}"
                        f"{under('committee_code')}")  # fmt: skip
            con.execute(f"DROP TABLE {b.lineage}")
            b.lineage = there(b.lineage)
            n += 1
    return n


def _stage_lineage(
    con: duckdb.DuckDBPyConnection, b: BoundDataset, denials: list[Denial], lazy: bool = False
) -> None:
    """Stage (key, element_code, value, committee_code, form_code): where each value of a golden record was delivered."""
    assert b.spec.golden is not None
    src, _, errors = _first_binding(con, b.spec.golden.lineage)
    table = f"memory.main.{quote_ident(LINEAGE_PREFIX + b.name)}"
    if src is None:
        # no lineage: no golden value can be shown to anyone but the city-wide tier (judged in plan)
        con.execute(f"CREATE OR REPLACE TABLE {table} (key VARCHAR, element_code VARCHAR, value VARCHAR, "
                    "committee_code VARCHAR, form_code VARCHAR)")  # fmt: skip
        denials.append(Denial("dataset", b.name, "lineage_missing",
                              "golden values without lineage are not shown: " + " | ".join(errors)))  # fmt: skip
        b.lineage = table
        return
    select = ("SELECT DISTINCT CAST(key AS VARCHAR) AS key, "
              "CAST(element_code AS VARCHAR) AS element_code, trim(CAST(value AS VARCHAR)) AS value, "
              "CAST(committee_code AS VARCHAR) AS committee_code, CAST(form_code AS VARCHAR) AS form_code "
              f"FROM ({src.select_sql}) WHERE value IS NOT NULL AND committee_code IS NOT NULL")  # fmt: skip
    if lazy:
        b.lineage, b.lineage_staged_as = f"({select})", table
    else:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {select}")
        b.lineage = table


def stage_form_classes(con: duckdb.DuckDBPyConnection, policy: Policy) -> dict[str, str]:
    """form_code -> membership level for every roster whose elements make membership sensitive."""
    con.execute(f"CREATE OR REPLACE TABLE {FORM_CLASS_TABLE} (form_code VARCHAR, level VARCHAR)")
    if policy.form_elements is None:
        return {}
    src, _, errors = _first_binding(con, policy.form_elements.sources)
    if src is None:
        raise PublishError("form_elements: no source binds, so sensitive rosters cannot be recognized — "
                           + " | ".join(errors))  # fmt: skip
    by_form: dict[str, set[str]] = {}
    for form, elem in con.execute(
        f"SELECT DISTINCT form_code, element_code FROM ({src.select_sql})"
    ).fetchall():
        if form is not None and elem is not None:
            by_form.setdefault(str(form), set()).add(str(elem))
    classes = {f: lv for f, els in by_form.items() if (lv := policy.membership_level(els)) is not None}
    if classes:
        values = ", ".join(f"({quote_literal(f)}, {quote_literal(lv)})" for f, lv in sorted(classes.items()))
        con.execute(f"INSERT INTO {FORM_CLASS_TABLE} VALUES {values}")
    log.info("sensitive rosters: %s", ", ".join(f"{f} ({lv})" for f, lv in sorted(classes.items())) or "none")
    return classes


def form_classes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return {
        str(f): str(lv)
        for f, lv in con.execute(f"SELECT form_code, level FROM {FORM_CLASS_TABLE}").fetchall()
    }


def drop_staged(con: duckdb.DuckDBPyConnection, bound: Iterable[BoundDataset]) -> None:
    for b in bound:
        for table in (b.relation, b.lineage):
            if table and table.startswith("memory.main."):
                con.execute(f"DROP TABLE IF EXISTS {table}")


def jurisdictions_present(con: duckdb.DuckDBPyConnection, bound: Iterable[BoundDataset]) -> list[str]:
    """12-digit codes with at least one row in a non-reference, committee-level dataset."""
    parts = [
        f"SELECT DISTINCT CAST({quote_ident(b.spec.jurisdiction)} AS VARCHAR) AS c FROM {b.relation}"
        for b in bound
        if b.spec.jurisdiction and not b.spec.reference and b.spec.jurisdiction_digits == 12
    ]
    if not parts:
        return []
    return [r[0] for r in con.execute(" UNION ".join(parts)).fetchall() if r[0]]


def division_names(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], list[str]]:
    """Code -> name for districts, townships and committees of core.divisions (and all committee codes)."""
    try:
        rows = con.execute(
            "SELECT DISTINCT district_code, district_name, township_code, township_name, "
            "committee_code, committee_name FROM core.divisions"
        ).fetchall()
    except duckdb.Error:
        return {"31": "上海市"}, []
    names: dict[str, str] = {"31": "上海市"}
    committees = []
    for dc, dn, tc, tn, cc, cn in rows:
        names[str(dc)] = dn
        names[str(tc)] = tn
        names[str(cc)] = cn
        committees.append(str(cc))
    return names, committees
