"""Attacks 3 and 4 of issue 9: recover suppressed small cells by differencing; find identifiers used as
aggregate dimensions. Suppressed cells are known from the operator's warehouse (the truth); the attacker
only uses what principals receive."""

from __future__ import annotations

import re
from collections import defaultdict

import yaml

from tests.attack import support
from tests.attack.support import open_ro, rows

Cell = tuple  # (slice, *other dims in the table's order)


def _counts_tables(con) -> dict[str, list[str]]:
    """`*_counts` table -> its dimension columns (all but n)."""
    out = {}
    for t in support.tables(con):
        if support.is_count_table(t):
            cols = list(support.columns(con, t))
            if "n" in cols and "jurisdiction_code" in cols:
                out[t] = [c for c in cols if c != "n"]
    return out


def _form_values_source() -> str:
    spec = yaml.safe_load((support.POLICY_DIR / "datasets.yaml").read_text(encoding="utf-8"))
    ds = next(d for d in spec["datasets"] if d["name"] == "form_values")
    for source in ds["sources"]:
        if "sql" in source:
            return source["sql"]
        return f"SELECT * FROM {source['table']}"
    raise AssertionError("form_values has no source")


def _aggregated_elements(policy, tier: str) -> list[str]:
    out = []
    for code, e in policy.elements.items():
        if e.get("sharing") == "不予共享":
            continue
        if policy.treatment(tier, str(e.get("classification"))) == "aggregate":
            out.append(code)
    return out


def _truth_cells(truth, policy, tier: str, jurisdiction: str, dims: list[str], width: int) -> dict[Cell, int]:
    """The cells of `form_values_counts` before suppression, from the operator's warehouse."""
    elements = _aggregated_elements(policy, tier)
    if not elements:
        return {}
    other = [d for d in dims if d != "jurisdiction_code"]
    sel = ", ".join([f"left(committee_code, {width})", *(f'"{d}"' for d in other)])
    with truth.con() as con:
        got = rows(con, f"""
            WITH src AS ({_form_values_source()})
            SELECT {sel}, count(*) FROM src
            WHERE starts_with(committee_code, ?) AND element_code IN ({",".join("?" * len(elements))})
            GROUP BY ALL""", [jurisdiction, *elements])  # fmt: skip
    return {tuple(r[:-1]): int(r[-1]) for r in got}


def _width(con, table: str, default: int) -> int:
    got = rows(con, f'SELECT DISTINCT length(jurisdiction_code) FROM "{table}"')
    return int(got[0][0]) if len(got) == 1 else default


def _margins(con, dims: list[str], width: int) -> list[tuple[list[str], dict[tuple, int], int]]:
    """Margins the principal can compute from its own product: row counts of every row-level table and
    every other counts table, keyed by the dimensions they share with the attacked table."""
    out = []
    other = [d for d in dims if d != "jurisdiction_code"]
    for table in support.tables(con):
        if table.startswith("_"):
            continue
        cols = support.columns(con, table)
        if support.is_count_table(table):
            if "jurisdiction_code" not in cols or "n" not in cols:
                continue
            shared = [d for d in other if d in cols and d != "value"]
            w = _width(con, table, width)
            if w > width:
                continue
            sel = ", ".join(["jurisdiction_code", *(f'"{d}"' for d in shared)])
            got = rows(con, f'SELECT {sel}, sum(n) FROM "{table}" GROUP BY ALL')
            out.append((["jurisdiction_code", *shared], {tuple(r[:-1]): int(r[-1]) for r in got}, w))
        elif "committee_code" in cols:
            shared = [d for d in other if d in cols and d != "value"]
            if not shared:
                continue
            sel = ", ".join([f"left(committee_code, {width})", *(f'"{d}"' for d in shared)])
            got = rows(con, f'SELECT {sel}, count(*) FROM "{table}" GROUP BY ALL')
            out.append((["jurisdiction_code", *shared], {tuple(r[:-1]): int(r[-1]) for r in got}, width))
    return out


def _recover(
    truth_cells: dict[Cell, int], shown: dict[Cell, int], dims: list[str], margins, min_cell: int
) -> set[Cell]:
    """Suppressed cells whose exact count follows from a margin minus the shown cells of its group."""
    suppressed = {c: n for c, n in truth_cells.items() if c not in shown and 0 < n < min_cell}
    recovered: set[Cell] = set()
    for mdims, values, w in margins:
        idx = [dims.index(d) for d in mdims[1:]]

        def group(cell: Cell, w=w, idx=idx) -> tuple:
            return (str(cell[0])[:w], *(cell[i] for i in idx))

        shown_sum: dict[tuple, int] = defaultdict(int)
        for c, n in shown.items():
            shown_sum[group(c)] += n
        hidden: dict[tuple, list[Cell]] = defaultdict(list)
        for c in suppressed:
            hidden[group(c)].append(c)
        for g, cells in hidden.items():
            if g in values and len(cells) == 1 and values[g] - shown_sum.get(g, 0) == suppressed[cells[0]]:
                recovered.add(cells[0])
        if "element_code" in dims and "element_code" not in mdims:
            # the attacker's assumption: one value per record and element (a roster row fills each field
            # once), so a record count of (slice, form, period) is also each element's margin
            e = dims.index("element_code")
            shown_e: dict[tuple, int] = defaultdict(int)
            for c, n in shown.items():
                shown_e[(*group(c), c[e])] += n
            hidden_e: dict[tuple, list[Cell]] = defaultdict(list)
            for c in suppressed:
                hidden_e[(*group(c), c[e])].append(c)
            for g, cells in hidden_e.items():
                m = values.get(g[:-1])
                if m is not None and len(cells) == 1 and m - shown_e.get(g, 0) == suppressed[cells[0]]:
                    recovered.add(cells[0])
    return recovered


def test_suppressed_cells_cannot_be_recovered_by_differencing(products, truth, policy) -> None:
    """Attack: for each principal's `*_counts` tables, subtract the shown cells from every margin the same
    principal receives (row counts of form_values/form_records/person_records per slice × form × period
    × element, other counts tables, coarser cells) — a group with one suppressed cell gives its count away.
    Then pool the counts of every aggregate-only product (a principal who also holds another tier's
    table) and difference coarser against finer cells. Property: no suppressed cell (1 ≤ n < min_cell
    in the warehouse) is recovered."""
    min_cell = policy.min_cell
    tiers = policy.tiers_without_sensitive_rows()
    recovered: dict[str, int] = {}
    total_suppressed = 0
    pool_shown: dict[tuple, dict[Cell, int]] = defaultdict(dict)  # (table, dims) -> shown cells, all products
    pool_truth: dict[tuple, dict[Cell, int]] = defaultdict(dict)
    for (tier, code), path in products.items():
        if tier not in tiers:
            continue
        jurisdiction = code.split(".")[0]
        with open_ro(path) as con:
            for table, dims in _counts_tables(con).items():
                if table != "form_values_counts":
                    continue  # the truth of other counts tables is not modelled; their shown cells still serve as margins
                width = _width(con, table, max(9, support.TIERS[tier][1]))
                shown = {
                    tuple(r[:-1]): int(r[-1])
                    for r in rows(con, f'SELECT {", ".join(dims)}, n FROM "{table}"')
                }
                tcells = _truth_cells(truth, policy, tier, jurisdiction, dims, width)
                total_suppressed += sum(1 for c, n in tcells.items() if c not in shown and 0 < n < min_cell)
                got = _recover(tcells, shown, dims, _margins(con, dims, width), min_cell)
                if got:
                    recovered[f"{tier}:{code}"] = len(got)
                pool_shown[(table, tuple(dims), width)].update(shown)
                pool_truth[(table, tuple(dims), width)].update(tcells)
    # across tiers: a coarser shown cell minus the finer shown cells under it
    cross = 0
    for (table, dims, width), tcells in pool_truth.items():
        fine_shown = pool_shown[(table, dims, width)]
        for (t2, d2, w2), coarse in pool_shown.items():
            if t2 != table or d2 != dims or w2 >= width:
                continue
            margin = [(["jurisdiction_code", *[d for d in dims if d != "jurisdiction_code"]],
                       {(str(c[0])[:w2], *c[1:]): n for c, n in coarse.items()}, w2)]  # fmt: skip
            cross += len(_recover(tcells, fine_shown, list(dims), margin, min_cell))
    n = sum(recovered.values()) + cross
    assert n == 0, (f"{n} suppressed cells recovered ({cross} across tiers) out of {total_suppressed} suppressed, "
                    f"in {len(recovered)} products, e.g. {dict(list(recovered.items())[:5])}")  # fmt: skip


COUNT_COLUMNS = ("rows", "rows_covered", "rows_returned", "rows_derived", "n", "records", "persons")


def test_no_small_count_of_a_sensitive_roster_outside_counts(products, truth, policy) -> None:
    """Attack: counts of a sensitive roster's rows hide in tables that are not `*_counts` (e.g. a plan or
    burden table saying a committee delivered 2 rows of the disability roster). Property: in aggregate-
    only tiers, no count column of a sensitive form at committee level shows 1 ≤ n < min_cell."""
    sensitive = sorted(truth.sensitive_forms)
    found: dict[str, int] = {}
    for (tier, code), path in products.items():
        if tier not in policy.tiers_without_sensitive_rows():
            continue
        with open_ro(path) as con:
            for table in support.tables(con):
                if table.startswith("_") or support.is_count_table(table):
                    continue
                cols = support.columns(con, table)
                if "form_code" not in cols or "committee_code" not in cols:
                    continue
                for c in COUNT_COLUMNS:
                    if c in cols and cols[c].upper() in ("BIGINT", "INTEGER", "HUGEINT", "DOUBLE", "UBIGINT"):
                        n = rows(con, f"""SELECT count(*) FROM "{table}" WHERE form_code IN ({",".join("?" * len(sensitive))})
                                          AND "{c}" >= 1 AND "{c}" < {policy.min_cell}""", sensitive)[0][0]  # fmt: skip
                        if n:
                            found[f"{tier}:{code}.{table}.{c}"] = n
    assert not found, (
        f"{len(found)} small counts of sensitive rosters outside *_counts: {dict(list(found.items())[:5])}"
    )


IDENTIFIER_ELEMENTS = {"citizen_id", "person_name", "phone", "household_address", "residence_address",
                       "dibao_cert_no", "work_unit"}  # fmt: skip
IDENTIFIER_PATTERNS = [
    re.compile(r"^\d{15}$|^\d{17}[\dXx]$"),  # citizen ID
    re.compile(r"^1[3-9]\d{9}$"),  # mobile phone
    re.compile(r"^[A-Z]{1,4}-?\d{6,}$"),  # certificate numbers (低保证号 …)
    re.compile(r"(路|街|弄|巷|村).*\d+号"),  # street addresses
]


def test_no_identifier_is_an_aggregate_dimension(products, truth) -> None:
    """Attack: read every `*_counts` table of every product and look at its dimension values: an element
    that identifies a person (ID, name, phone, address, certificate number) or a value shaped like one, or
    a value that is an identifier delivered in the warehouse. Property: none — counts keyed by an
    identifier publish the identifier in clear."""
    found: dict[str, set[str]] = defaultdict(set)
    for (tier, code), path in products.items():
        with open_ro(path) as con:
            for table, dims in _counts_tables(con).items():
                for dim in dims:
                    if dim in ("jurisdiction_code", "n"):
                        continue
                    for (v,) in rows(
                        con,
                        f'SELECT DISTINCT CAST("{dim}" AS VARCHAR) FROM "{table}" WHERE "{dim}" IS NOT NULL',
                    ):
                        if dim == "element_code" and (v in IDENTIFIER_ELEMENTS or v.endswith(("_no", "_id"))):
                            found[f"element {v}"].add(f"{tier}:{code}")
                        elif dim != "element_code" and (
                            v in truth.identifier_values or any(p.search(v) for p in IDENTIFIER_PATTERNS)
                        ):
                            found[f"{table}.{dim}"].add(f"{tier}:{code}")
    assert not found, "identifier-like aggregate dimensions: " + "; ".join(
        f"{k} in {len(v)} products" for k, v in found.items()
    )
