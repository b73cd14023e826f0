"""Exhaustive leak scan of published products (used before the swap, by an asset check and the tests).

For every table of every product it checks, independently of how the product was built:
- jurisdiction: no row outside the principal's prefix (a table without its jurisdiction column fails);
- structure: every column is classified and visible for this principal under the current policy (a
  column added to a source without a classification must appear nowhere), every data element of a long
  table is visible, no 不予共享 dataset is present, aggregate cells are not below the threshold;
- clear values: no source ID number, phone number or full name appears in any text cell, except in a
  column the principal is allowed to see that kind of value in clear. Digit runs (spaces and dashes
  removed) are cut into every window of each token length; Han runs into every window of each name
  length >= 3; two-character names must equal the whole cell (a substring test would flag place names).
Findings never carry the clear value: examples are masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from assets.publish.masking import quote_ident, quote_literal
from assets.publish.policy import Policy, Principal, Sharing

if TYPE_CHECKING:
    from assets.publish.binding import BoundDataset

KINDS = ("id_number", "phone", "name")
FORM_CLASS_TABLE = "memory.main._form_class"  # staged by binding.stage_form_classes
TOKENS_TABLE = "memory.main._leak_tokens"
CELLS_TABLE = "memory.main._leak_cells"
SCAN_ALIAS = "scanned"
META_TABLES = ("_product", "_columns")
_SKIP_TYPES = ("BOOLEAN", "DATE", "TIME", "TIMESTAMP", "INTERVAL")


@dataclass
class Finding:
    product: str
    principal: str
    table: str | None
    column: str | None
    kind: str  # out_of_jurisdiction | clear_value | unexpected_column | unexpected_table | …
    detail: str
    count: int = 1
    example: str | None = None  # always masked


@dataclass
class LeakReport:
    tokens: dict[str, int] = field(default_factory=dict)
    products: int = 0
    tables: int = 0
    rows: int = 0
    cells: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        toks = ", ".join(f"{k} {v:,}" for k, v in sorted(self.tokens.items()))
        if not self.tokens and self.products and self.passed:  # every product carried with its recorded scan
            return (f"leak scan PASS: {self.products} products (each scanned when it was written; none new), "
                    f"{self.tables} tables, {self.rows:,} rows, {self.cells:,} distinct text cells")  # fmt: skip
        verdict = "PASS" if self.passed else f"FAIL ({len(self.findings)} findings)"
        return (
            f"leak scan {verdict}: {self.products} products, {self.tables} tables, {self.rows:,} rows, "
            f"{self.cells:,} distinct text cells against {toks or 'no'} source values"
        )


def mask_example(kind: str, value: str) -> str:
    """A finding's example, masked so that the report itself does not leak."""
    if kind == "id_number" and len(value) >= 10:
        return value[:6] + "*" * (len(value) - 10) + value[-4:]
    if kind == "phone" and len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return value[:1] + "*" * max(len(value) - 1, 1)


# ------------------------------------------------------------------------------------------- tokens


_NORMALIZE = {
    "id_number": (
        "upper(regexp_replace(CAST(v AS VARCHAR), '[\\s\\-]', '', 'g'))",
        "regexp_full_match(t, '[0-9X]{15,18}')",
    ),
    "phone": ("regexp_replace(CAST(v AS VARCHAR), '[^0-9]', '', 'g')", "length(t) BETWEEN 7 AND 13"),
    "name": ("trim(CAST(v AS VARCHAR))", "length(t) BETWEEN 2 AND 12 AND regexp_matches(t, '\\p{Han}')"),
}


def _token_queries(policy: Policy, bound: Iterable[BoundDataset]) -> list[tuple[str, str]]:
    """(kind, SELECT v …) for every column whose values are names, IDs or phones, per policy."""
    out: list[tuple[str, str]] = []
    for b in bound:
        ds = b.spec
        for col in b.column_names:
            spec = ds.columns.get(col)
            q = quote_ident(col)
            if spec is not None and spec.element_from:
                driver = quote_ident(spec.element_from)
                by_kind: dict[str, list[str]] = {}  # one pass over a long table per kind, not per element
                for elem in policy.elements.values():
                    kind = spec.semantic or elem.value_semantic
                    if kind in KINDS:
                        by_kind.setdefault(kind, []).append(quote_literal(elem.code))
                for kind, codes in sorted(by_kind.items()):
                    out.append(
                        (kind, f"SELECT {q} AS v FROM {b.relation} WHERE {driver} IN ({', '.join(codes)})")
                    )
                continue
            _, semantic, _, _ = policy.column_class(ds, col)
            if semantic in KINDS:
                out.append((semantic, f"SELECT {q} AS v FROM {b.relation}"))
    return out


def build_tokens(
    con: duckdb.DuckDBPyConnection, policy: Policy, bound: Iterable[BoundDataset]
) -> dict[str, int]:
    """Create the table of clear source values (kind, token) the scan looks for; return counts per kind."""
    con.execute(f"CREATE OR REPLACE TABLE {TOKENS_TABLE} (kind VARCHAR, token VARCHAR)")
    queries = [(kind, sql, False) for kind, sql in _token_queries(policy, bound)]
    queries += [(x.kind, f"SELECT * FROM ({x.sql.strip().rstrip(';')})", True) for x in policy.leak_tokens]
    for kind, sql, optional in queries:
        expr, keep = _NORMALIZE[kind]
        try:
            con.execute(
                f"INSERT INTO {TOKENS_TABLE} SELECT DISTINCT {quote_literal(kind)}, t FROM "
                f"(SELECT {expr} AS t FROM ({sql}) AS src(v)) WHERE t IS NOT NULL AND {keep}"
            )
        except duckdb.Error:
            if not optional:
                raise
            # an extra token source of datasets.yaml whose table does not exist (yet)
    con.execute(f"CREATE OR REPLACE TABLE {TOKENS_TABLE} AS SELECT DISTINCT kind, token FROM {TOKENS_TABLE}")
    return {
        k: int(n) for k, n in con.execute(f"SELECT kind, count(*) FROM {TOKENS_TABLE} GROUP BY 1").fetchall()
    }


# --------------------------------------------------------------------------------------------- scan


def _allowed_kind_sql(
    policy: Policy, principal: Principal, dataset: str, column: str, driver: str | None
) -> str:
    """SQL giving, per row, the kind of clear value the principal may see in this column (or NULL)."""
    ds = policy.datasets[dataset]
    spec = ds.columns.get(column)
    if spec is not None and spec.element_from and driver:
        branches = []
        for elem in policy.elements.values():
            t = policy.resolve(principal, dataset, column, elem.code)
            if t.action == "show" and t.semantic in KINDS:
                branches.append(f"WHEN {quote_literal(elem.code)} THEN {quote_literal(t.semantic)}")
        return f"CASE {quote_ident(driver)} {' '.join(branches)} END" if branches else "NULL"
    t = policy.resolve(principal, dataset, column)
    return quote_literal(t.semantic) if t.action == "show" and t.semantic in KINDS else "NULL"


def _clear_value_hits(
    con: duckdb.DuckDBPyConnection, columns: Mapping[tuple[str, str], tuple[str, str]]
) -> tuple[int, list[tuple[str, str, int, str]]]:
    """(distinct cells, [(table.column, kind, hits, example token)]) for a whole product.

    columns: (table label, column) -> (qualified table, SQL of the kind allowed in clear per row)."""
    if not columns:
        return 0, []
    # one scan per table: every row becomes a list of (column, cell, allowed kind) structs
    by_table: dict[str, list[str]] = {}
    for (label, c), (qt, allowed) in columns.items():
        by_table.setdefault(qt, []).append(
            f"struct_pack(col := {quote_literal(label + '.' + c)}, cell := CAST({quote_ident(c)} AS VARCHAR), "
            f"allowed := CAST({allowed} AS VARCHAR))"
        )
    cells = " UNION ALL ".join(
        f"SELECT unnest([{', '.join(structs)}], recursive := true) FROM {qt}"
        for qt, structs in by_table.items()
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {CELLS_TABLE} AS SELECT DISTINCT col, cell, allowed FROM ({cells}) "
        "WHERE cell IS NOT NULL"
    )
    n_cells = int(con.execute(f"SELECT count(*) FROM {CELLS_TABLE}").fetchall()[0][0])
    sql = f"""
    WITH lens AS (SELECT DISTINCT length(token) AS w FROM {TOKENS_TABLE} WHERE kind IN ('id_number', 'phone')),
    nlens AS (SELECT DISTINCT length(token) AS w FROM {TOKENS_TABLE} WHERE kind = 'name' AND length(token) >= 3),
    druns AS (
        SELECT col, allowed, unnest(regexp_extract_all(regexp_replace(upper(cell), '[\\s\\-]', '', 'g'),
                                                       '[0-9X]{{7,}}')) AS run FROM {CELLS_TABLE}),
    -- A run that is itself a value this column may show in clear (a committee's own resident's ID) is not
    -- searched inside: at city scale some phone number is, by chance, a substring of some ID number.
    shown AS (
        SELECT DISTINCT d.col, d.run FROM druns d JOIN {TOKENS_TABLE} t ON t.token = d.run AND t.kind = d.allowed),
    dsearch AS (SELECT * FROM druns d WHERE NOT EXISTS (SELECT 1 FROM shown s WHERE s.col = d.col AND s.run = d.run)),
    dwin AS (
        SELECT col, allowed, unnest(list_transform(range(1, length(run) - w + 2),
                                                   lambda i: substr(run, i::BIGINT, w))) AS cand
        FROM dsearch, lens WHERE length(run) >= w),
    hruns AS (SELECT col, allowed, unnest(regexp_extract_all(cell, '[\\p{{Han}}·]{{3,}}')) AS run FROM {CELLS_TABLE}),
    hwin AS (
        SELECT col, allowed, unnest(list_transform(range(1, length(run) - w + 2),
                                                   lambda i: substr(run, i::BIGINT, w))) AS cand
        FROM hruns, nlens WHERE length(run) >= w),
    hits AS (
        SELECT d.col, t.kind, t.token FROM dwin d JOIN {TOKENS_TABLE} t
            ON t.token = d.cand AND t.kind IN ('id_number', 'phone') WHERE coalesce(d.allowed, '') <> t.kind
        UNION ALL
        SELECT h.col, t.kind, t.token FROM hwin h JOIN {TOKENS_TABLE} t
            ON t.token = h.cand AND t.kind = 'name' WHERE coalesce(h.allowed, '') <> 'name'
        UNION ALL
        SELECT c.col, t.kind, t.token FROM {CELLS_TABLE} c JOIN {TOKENS_TABLE} t
            ON t.token = trim(c.cell) AND t.kind = 'name' WHERE coalesce(c.allowed, '') <> 'name'
    )
    SELECT col, kind, count(DISTINCT token), min(token) FROM hits GROUP BY ALL ORDER BY ALL
    """
    rows = con.execute(sql).fetchall()
    con.execute(f"DROP TABLE {CELLS_TABLE}")
    return n_cells, [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]


def _check_table(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    principal: Principal,
    table: str,
    qt: str,
    cols: list[tuple[str, str]],
    find: Callable[..., None],
) -> dict[str, str]:
    """Structural and jurisdiction checks of one product table; returns column -> allowed-kind SQL."""
    names = [c for c, _ in cols]
    text_cols = [c for c, t in cols if not t.upper().startswith(_SKIP_TYPES)]
    nothing_allowed = {c: "NULL" for c in text_cols}
    if table in META_TABLES:
        return nothing_allowed
    is_counts = table.endswith("_counts") and table[: -len("_counts")] in policy.datasets
    ds_name = table[: -len("_counts")] if is_counts else table
    ds = policy.datasets.get(ds_name)
    if ds is None:
        find(table, None, "unexpected_table", "not a dataset of datasets.yaml")
        return nothing_allowed
    if ds.sharing is None or ds.sharing is Sharing.NOT_SHARED:
        find(table, None, "not_shared_dataset", f"dataset sharing is {ds.sharing}")
    scan_cols: dict[str, str] = {}
    if is_counts:
        for c in names:
            if c in ("jurisdiction_code", "n"):
                continue
            spec = ds.columns.get(c)
            ok = spec is not None and (
                spec.element_from is not None
                or policy.resolve(principal, ds_name, c).action in ("show", "aggregate")
            )
            if not ok:
                find(table, c, "unexpected_column", "not a shown or aggregate-only column here")
        scan_cols = dict(nothing_allowed)
        if "n" in names:
            small = con.execute(f"SELECT count(*) FROM {qt} WHERE n < {policy.min_cell}").fetchall()[0][0]
            if small:
                find(table, "n", "small_cell", f"{small} cells below {policy.min_cell}", int(small))
        else:
            find(table, None, "unverifiable_table", "counts table lacks its count column n")
        jcol: str | None = "jurisdiction_code"
    else:
        driver = ds.driver if ds.driver in names else None
        for c in names:
            spec = ds.columns.get(c)
            if spec is None:
                find(table, c, "unexpected_column", "column is not classified in datasets.yaml")
                continue
            if spec.element_from:
                if driver is None:
                    find(table, c, "unverifiable_table", f"element column {ds.driver} is missing")
                continue
            t = policy.resolve(principal, ds_name, c)
            if not t.visible:
                find(table, c, "unexpected_column", f"column is {t.action} for this principal ({t.reason})")
        if driver is not None:
            per_row = [c for c in names if (s := ds.columns.get(c)) is not None and s.element_from]
            counts = con.execute(f"SELECT {quote_ident(driver)}, count(*) FROM {qt} GROUP BY 1").fetchall()
            for elem, n in counts:
                bad = [c for c in per_row if not policy.resolve(principal, ds_name, c, elem).visible]
                if bad:
                    find(
                        table,
                        ",".join(bad),
                        "unexpected_element",
                        f"rows of element {elem!r} are not visible",
                        int(n),
                    )
        if ds.membership and ds.membership in names:
            _check_rosters(con, policy, principal, ds_name, ds.membership, table, qt, find)
        scan_cols = {c: _allowed_kind_sql(policy, principal, ds_name, c, driver) for c in text_cols}
        if ds.reference:
            # Reference data (division and form names) comes from public code lists, not from residents: a
            # resident whose name is also a place name is a coincidence, not a leak. IDs and phones are
            # still searched there.
            scan_cols = {c: ("'name'" if sql == "NULL" else sql) for c, sql in scan_cols.items()}
        jcol = ds.jurisdiction
    if jcol is not None:
        if jcol not in names:
            find(table, jcol, "unverifiable_table", "jurisdiction column is missing")
        else:
            outside = con.execute(
                f"SELECT count(*) FROM {qt} WHERE NOT starts_with(coalesce(CAST({quote_ident(jcol)} AS VARCHAR), ''), ?)",
                [principal.jurisdiction],
            ).fetchall()[0][0]
            if outside:
                find(
                    table,
                    jcol,
                    "out_of_jurisdiction",
                    f"{outside} rows outside {principal.jurisdiction}",
                    int(outside),
                )
    return scan_cols


def _check_rosters(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    principal: Principal,
    dataset: str,
    column: str,
    table: str,
    qt: str,
    find: Callable[..., None],
) -> None:
    """No row of a sensitive roster in a row table unless this principal may see that class in rows."""
    try:
        rosters = con.execute(f"SELECT form_code, level FROM {FORM_CLASS_TABLE}").fetchall()
    except duckdb.Error:
        find(table, column, "unverifiable_table", "sensitive rosters unknown (form classes not staged)")
        return
    hidden = [
        str(f) for f, lv in rosters if not policy.resolve_membership(principal, dataset, str(lv)).visible
    ]
    if not hidden:
        return
    n = con.execute(f"SELECT count(*) FROM {qt} WHERE CAST({quote_ident(column)} AS VARCHAR) IN "
                    f"({', '.join(quote_literal(f) for f in hidden)})").fetchall()[0][0]  # fmt: skip
    if n:
        find(
            table,
            column,
            "sensitive_roster_rows",
            f"{n} rows of rosters whose membership this tier may not see",
            int(n),
        )


def scan_product(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    principal: Principal,
    path: Path,
    report: LeakReport,
    encryption_key: str | None = None,
    expected_relpath: str | None = None,
) -> None:
    """Scan one product file into `report` (`con` holds the tokens table, see build_tokens)."""
    label = expected_relpath or path.name
    ref = principal.ref

    def find(
        table: str | None, column: str | None, kind: str, detail: str, count: int = 1, ex: str | None = None
    ) -> None:
        report.findings.append(Finding(label, ref, table, column, kind, detail, count, ex))

    opts = f"ENCRYPTION_KEY {quote_literal(encryption_key)}, READ_ONLY" if encryption_key else "READ_ONLY"
    try:
        con.execute(f"ATTACH {quote_literal(str(path))} AS {SCAN_ALIAS} ({opts})")
    except duckdb.Error as exc:
        find(None, None, "unreadable_product", str(exc).splitlines()[0][:200])
        return
    report.products += 1
    try:
        tables = [
            str(r[0])
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main' ORDER BY 1",
                [SCAN_ALIAS],
            ).fetchall()
        ]
        if "_product" in tables:
            meta = con.execute(f"SELECT principal FROM {SCAN_ALIAS}.main._product").fetchall()
            if not meta or meta[0][0] != ref:
                find(
                    "_product",
                    "principal",
                    "wrong_principal",
                    f"product says {meta[0][0] if meta else None!r}",
                )
        else:
            find(None, None, "missing_meta", "no _product table")
        scan_all: dict[tuple[str, str], tuple[str, str]] = {}
        # every table's columns and row count in two queries (not two per table: a product has ~15 tables)
        described: dict[str, list[tuple[str, str]]] = {}
        for t, c, typ in con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = ? "
            "AND schema_name = 'main' ORDER BY table_name, column_index",
            [SCAN_ALIAS],
        ).fetchall():
            described.setdefault(str(t), []).append((str(c), str(typ)))
        if tables:
            counts = " UNION ALL ".join(f"SELECT {quote_literal(t)}, count(*) FROM {SCAN_ALIAS}.main.{quote_ident(t)}"
                                        for t in tables)  # fmt: skip
            report.rows += sum(int(n) for _, n in con.execute(counts).fetchall())
        for table in tables:
            report.tables += 1
            qt = f"{SCAN_ALIAS}.main.{quote_ident(table)}"
            cols = described.get(table, [])
            scan_cols = _check_table(con, policy, principal, table, qt, cols, find)
            scan_all.update({(table, c): (qt, allowed) for c, allowed in scan_cols.items()})
        n_cells, hits = _clear_value_hits(con, scan_all)
        report.cells += n_cells
        for label, kind, n, token in hits:
            table, _, col = label.partition(".")
            find(
                table,
                col,
                "clear_value",
                f"{n} distinct source {kind} values in clear",
                n,
                mask_example(kind, token),
            )
    finally:
        con.execute(f"DETACH {SCAN_ALIAS}")
