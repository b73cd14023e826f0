"""What a run has to do: each stage's input fingerprint against the one recorded after its last success.

Stages and what their fingerprint covers (see assets/common/fingerprint.py for how each part is read):

| stage            | inputs                                                                  |
|------------------|-------------------------------------------------------------------------|
| `catalog`        | landing catalog/ folder (stat), reference data, catalog and reference code |
| `ingest:<d>`     | landing <d>/ folder (stat), catalog fingerprint, ingestion code          |
| `downstream`     | ingested data per district (registry), catalog and divisions content, code |
|                  | and schemas of every downstream domain, the person-id salt (keyed digest) |
| `reflow:<d>`     | district d's share of the persons and records (below), the catalog, the latest |
|                  | period per form, d's returned-files folder, reflow code, targets and policy |
| `publish`        | the reflow fingerprints, publishing code, policy, mask and product keys |

A stage runs when its fingerprint differs from the recorded one, when its output tables are missing, or on
a full refresh. No dagster import.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from assets.common import fingerprint as fp

CATALOG_CODE = ("assets/ingest/catalog.py", "assets/reference", "data/reference")
INGEST_CODE = ("assets/ingest", "assets/common", "schemas/data_elements.yaml")
PUBLISH_CODE = ("assets/publish", "assets/common", "schemas/policy", "schemas/data_elements.yaml")
CATALOG_TABLES = fp.CATALOG_TABLES
downstream_code = fp.downstream_code
INGEST_TABLES = ("raw.landing_files", "staging.form_records", "staging.form_values", "quarantine.rows",
                 "raw.skipped_rows")  # fmt: skip


@dataclass
class Plan:
    """Fingerprints computed for this run, the recorded ones, and what must run."""

    stored: dict[str, str]
    current: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def must_run(self, stage: str, outputs_present: bool, full_refresh: bool = False) -> bool:
        if full_refresh:
            self.reasons[stage] = "full refresh"
        elif not outputs_present:
            self.reasons[stage] = "outputs missing"
        elif stage not in self.stored:
            self.reasons[stage] = "never recorded"
        elif self.stored[stage] != self.current[stage]:
            self.reasons[stage] = "inputs changed"
        else:
            self.reasons[stage] = "unchanged"
            return False
        return True


def read_state(warehouse: Path) -> tuple[dict[str, str], set[str]]:
    """Recorded fingerprints and the set of existing tables (empty when the warehouse does not exist)."""
    if not Path(warehouse).exists():
        return {}, set()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
            ).fetchall()
        }
        return fp.stored(con), tables
    finally:
        con.close()


def catalog_fingerprint(landing: Path) -> str:
    return fp.digest(str(Path(landing).resolve()), fp.folder_fingerprint(Path(landing) / "catalog"),
                     fp.code_fingerprint(CATALOG_CODE))  # fmt: skip


def district_fingerprints(landing: Path, districts: Iterable[str], catalog: str) -> dict[str, str]:
    """Per district: its landing folder (stat only), the catalog it is parsed against, the ingestion code."""
    code = fp.code_fingerprint(INGEST_CODE)
    root = Path(landing).resolve()
    return {
        f"ingest:{d}": fp.digest(str(root), d, fp.folder_fingerprint(root / d), catalog, code)
        for d in districts
    }


def downstream_fingerprint(con: duckdb.DuckDBPyConnection, salt: str) -> tuple[str, dict[str, object]]:
    """The forms/persons layer's inputs: what is ingested (per district), the catalog, code, the salt."""
    return fp.downstream_inputs(con, salt)


PERSON_RUN_COLUMNS = {"run_id", "resolved_at"}  # core.persons columns that say when, not what
REFLOW_CODE = ("schemas/reflow", "schemas/policy", "assets/publish/policy.py")
# What district d's prefilled forms and reconciled returns are computed from, as order-independent digests
# attributed to d (left(committee_code, 6)). Each leg is one row per entity, tagged, so equal hashes of two
# different legs never cancel in the XOR (the tag is hashed as text with the row's hash: DuckDB's
# multi-argument hash combines linearly, so hash('B', h) XOR hash('C', h) would not depend on h at all):
#  A  the persons living in d (their golden record);
#  B  the records of d's committees (record id = file hash, so values are covered) with their person;
#  C  the records, anywhere, of persons living in d (their delivered values are prefilled);
#  D  the persons on d's records, wherever they live now (moved out: dropped from d's rosters);
#  E  values corrected or typed on returns for persons living in d (they count as delivered);
#  F  staff removals (exits) of d's committees.
_REFLOW_LEGS = """
WITH pers AS (SELECT person_id, left(committee_code, 6) AS d, hash({person_columns}) AS h FROM core.persons p),
rec AS (SELECT left(r.committee_code, 6) AS d, pr.person_id,
               hash(r.record_id, r.committee_code, r.form_code, r.period, pr.person_id) AS h
        FROM staging.form_records r LEFT JOIN core.person_records pr USING (record_id)
        WHERE r.committee_code IS NOT NULL),
legs AS (
  SELECT d, hash('A' || h) AS h FROM pers
  UNION ALL SELECT d, hash('B' || h) FROM rec
  UNION ALL SELECT pers.d, hash('C' || rec.h) FROM rec JOIN pers USING (person_id)
  UNION ALL SELECT DISTINCT rec.d, hash('D' || pers.h) FROM rec JOIN pers USING (person_id)
  {returns}
)
SELECT d, count(*), bit_xor(h) FROM legs WHERE d IS NOT NULL GROUP BY d
"""
_RETURN_LEGS = """
  UNION ALL SELECT pers.d, hash('E' || hash(c.return_file, c.row_number, c.element_code, c.returned_value,
                                c.period, c.form_code)) FROM reflow.return_cells c JOIN pers USING (person_id)
            WHERE c.outcome IN ('corrected', 'typed')
  UNION ALL SELECT left(committee_code, 6), hash('F' || hash(person_id, committee_code, form_code, reason))
            FROM reflow.roster_exits
"""


def reflow_fingerprints(
    con: duckdb.DuckDBPyConnection, districts: Iterable[str], returns_root: Path | None
) -> dict[str, str]:
    """`reflow:<d>` per district: only the districts whose own inputs changed rebuild their prefilled forms
    and reconcile their returns. Computed from the warehouse after the downstream stage (read only)."""
    need = (
        "core.persons",
        "core.person_records",
        "staging.form_records",
        "catalog.forms",
        "catalog.form_fields",
    )
    if not fp.tables_exist(con, need):
        return {f"reflow:{d}": "inputs missing" for d in districts}
    shared = fp.digest(
        fp.code_fingerprint((*downstream_code(), *REFLOW_CODE)),
        {t: fp.table_content(con, t) for t in ("catalog.forms", "core.divisions")},
        # the columns of catalog.form_fields reflow reads (a confidence that moved is no change)
        con.execute(
            "SELECT count(*), bit_xor(hash(form_code, field_order, field_label, field_type, element_code, "
            "status)) FROM catalog.form_fields"
        ).fetchall()[0],  # fmt: skip
        con.execute(
            "SELECT list((form_code, p) ORDER BY form_code) FROM "
            "(SELECT form_code, max(period) AS p FROM staging.form_records GROUP BY 1)"
        ).fetchall()[0][0],  # fmt: skip
    )
    returns = _RETURN_LEGS if fp.tables_exist(con, ("reflow.return_cells", "reflow.roster_exits")) else ""
    # the golden record, not when it was last resolved (run_id / resolved_at change for every person each run)
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'persons' "
        "ORDER BY ordinal_position").fetchall() if c not in PERSON_RUN_COLUMNS]  # fmt: skip
    sql = _REFLOW_LEGS.format(returns=returns, person_columns=", ".join(f'p."{c}"' for c in columns))
    per = {str(d): f"{n}:{h}" for d, n, h in con.execute(sql).fetchall()}
    root = Path(returns_root).resolve() if returns_root else None
    return {
        f"reflow:{d}": fp.digest(shared, per.get(d, "empty"), fp.folder_fingerprint(root / d) if root else "")
        for d in districts
    }


def publish_fingerprint(downstream: str, published_dir: Path, mask_key: str, product_keys: str) -> str:
    return fp.digest(downstream, fp.code_fingerprint(PUBLISH_CODE), str(Path(published_dir).resolve()), mask_key,
                     product_keys)  # fmt: skip


def products_present(published_dir: Path) -> bool:
    return Path(published_dir).is_dir() and any(Path(published_dir).rglob("*.duckdb"))


def contiguous_ranges(selected: Sequence[str], ordered: Sequence[str]) -> list[tuple[str, str]]:
    """Group the selected partition keys into runs of neighbours in `ordered` (one Dagster run per range)."""
    chosen = set(selected)
    ranges: list[tuple[str, str]] = []
    start = prev = None
    for key in ordered:
        if key in chosen:
            start = start or key
            prev = key
        elif start is not None:
            ranges.append((start, prev))  # type: ignore[arg-type]
            start = None
    if start is not None:
        ranges.append((start, prev))  # type: ignore[arg-type]
    return ranges
