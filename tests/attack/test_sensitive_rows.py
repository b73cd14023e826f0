"""Attack 2 of issue 9: tell which person is on a disability / 低保 / other sensitive roster from the rows
of a tier that may see sensitive data only as counts (docs/access.md, schemas/policy/rules.yaml)."""

from __future__ import annotations

from tests.attack import support
from tests.attack.support import open_ro, rows

PERSON_LINKS = ("record_id", "person_id", "person_name", "id_number", "id_number_raw", "row_number")


def _aggregate_only_products(products, policy):
    tiers = policy.tiers_without_sensitive_rows()
    return {(t, c): p for (t, c), p in products.items() if t in tiers}


def test_no_sensitive_roster_rows_for_aggregate_only_tiers(products, truth, policy) -> None:
    """Attack: in every product of a tier allowed sensitive data only as aggregates (township, district,
    city under the shipped rules), look at every row-level table (not `*_counts`) that carries a form
    code and anything tying the row to a person (record_id, person_id, name, ID, row number), or names
    a sensitive form's delivered file, and count rows of a sensitive roster (forms holding a sensitive
    element: CL01, CL02, MZ02, …). Property: no such row — the tier gets the aggregate only."""
    sensitive = sorted(truth.sensitive_forms)
    leaks: dict[str, dict[str, int]] = {}
    for (tier, code), path in _aggregate_only_products(products, policy).items():
        with open_ro(path) as con:
            for table in support.tables(con):
                if table.startswith("_") or support.is_count_table(table):
                    continue
                cols = support.columns(con, table)
                links = [c for c in PERSON_LINKS if c in cols]
                if not links:
                    continue
                conds = []
                if "form_code" in cols:
                    conds.append(f"form_code IN ({','.join('?' * len(sensitive))})")
                params = list(sensitive) * (1 if conds else 0)
                for c in ("source_file", "file_name", "path"):
                    if c in cols:
                        for form in sensitive:
                            conds.append(f'contains(CAST("{c}" AS VARCHAR), ?)')
                            params.append(f"/{form}/")
                if not conds:
                    continue
                n = rows(con, f'SELECT count(*) FROM "{table}" WHERE {" OR ".join(conds)}', params)[0][0]
                if n:
                    leaks.setdefault(f"{tier}:{code}", {})[table] = n
    assert not leaks, (f"sensitive roster rows in {len(leaks)} products "
                       f"({sum(len(v) for v in leaks.values())} product×table groups), e.g. {dict(list(leaks.items())[:4])}")  # fmt: skip


def test_no_sensitive_column_shown_row_level_to_aggregate_only_tiers(products, policy) -> None:
    """Attack: read each product's own description (`_columns`, documented) and its long tables: a
    sensitive_personal column or a sensitive element's value shown in a row-level table. Property: none —
    sensitive values of these tiers live only in `*_counts`."""
    sens = sorted(policy.sensitive_elements())
    leaks: dict[str, list[str]] = {}
    for (tier, code), path in _aggregate_only_products(products, policy).items():
        with open_ro(path) as con:
            names = support.tables(con)
            if "_columns" in names:
                for table, column, treatment, _cls in rows(con, """
                        SELECT table_name, column_name, treatment, classification FROM _columns
                        WHERE classification LIKE 'sensitive%'"""):  # fmt: skip
                    if not support.is_count_table(table) and treatment not in (
                        "aggregate",
                        "hide",
                        "nullify",
                    ):
                        leaks.setdefault(f"{tier}:{code}", []).append(f"{table}.{column}:{treatment}")
            for table in names:
                cols = support.columns(con, table)
                if support.is_count_table(table) or not {"element_code", "value"} <= set(cols):
                    continue
                n = rows(con, f"""SELECT count(*) FROM "{table}" WHERE element_code IN ({",".join("?" * len(sens))})
                                  AND (value IS NOT NULL{" OR value_raw IS NOT NULL" if "value_raw" in cols else ""})""",
                         sens)[0][0]  # fmt: skip
                if n:
                    leaks.setdefault(f"{tier}:{code}", []).append(f"{table}: {n} sensitive values")
    assert not leaks, f"sensitive values in rows of {len(leaks)} products: {dict(list(leaks.items())[:4])}"


def test_hidden_records_do_not_betray_roster_membership(products, policy) -> None:
    """Attack: a person row says how many records/forms the person has (record_count, form_count); the
    person's visible records (person_records) are fewer when some were withheld — and if only sensitive
    rosters are withheld, "has hidden records" means "is on a sensitive roster". Property: in every
    aggregate-only tier, each person's shown count equals the records the product shows for them."""
    leaks: dict[str, int] = {}
    for (tier, code), path in _aggregate_only_products(products, policy).items():
        with open_ro(path) as con:
            names = support.tables(con)
            if "persons" not in names or "person_records" not in names:
                continue
            pcols = support.columns(con, "persons")
            if "person_id" not in pcols:
                continue
            for col, expr in (("record_count", "count(*)"), ("form_count", "count(DISTINCT form_code)")):
                if col not in pcols or (
                    col == "form_count" and "form_code" not in support.columns(con, "person_records")
                ):
                    continue
                n = rows(con, f"""
                    SELECT count(*) FROM persons AS p
                    LEFT JOIN (SELECT person_id, {expr} AS shown FROM person_records GROUP BY person_id) AS r
                    USING (person_id)
                    WHERE p.{col} IS NOT NULL AND p.{col} <> coalesce(r.shown, 0)""")[0][0]  # fmt: skip
                if n:
                    leaks[f"{tier}:{code}.{col}"] = n
    assert not leaks, (f"persons with withheld records in {len(leaks)} product columns "
                       f"(e.g. {dict(list(leaks.items())[:5])})")  # fmt: skip
