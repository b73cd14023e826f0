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

import json
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
RECORD_DIGESTS = "ops.record_digests"  # staged record id -> digest of its values (operational state)
ASSET_GRAPH_STAGE = "runner:asset_graph"  # the asset keys of each stage's selection (pipelines/runner.py)
LEGS_STAGE = "reflow:legs"  # the per-district legs below, kept for the nights that cannot have changed them
# Who last wrote what the legs read besides the downstream fingerprint's inputs: the persons asset (Gate.record)
# and the reconciliation of returns (assets/reflow/returns.py). A write by any run, the UI's included, moves them.
LEG_WRITERS = ("asset:core/persons", "asset:core/person_records", "written:reflow.returns")


def row_hash(tag: str, *exprs: str) -> str:
    """SQL for one row's hash over the text of its columns, tagged with the leg.

    Not DuckDB's multi-argument `hash(a, b)`: it combines the columns' hashes linearly, so in a `bit_xor`
    over rows every column contributes on its own (two persons swapping phones, or two records swapping
    persons, would cancel out), and equal rows of two legs cancel whatever they hold."""
    cols = ", ".join(f"coalesce(CAST({e} AS VARCHAR), chr(1))" for e in exprs)
    return f"hash('{tag}' || concat_ws(chr(31), {cols}))"


# What district d's prefilled forms and reconciled returns are computed from, as order-independent digests
# attributed to d (left(committee_code, 6)): a count and a bit_xor of row hashes per leg (`row_hash`).
#  A  the persons living in d (their golden record);
#  B  the records of d's committees with their person, by content: place, form, period, source row and the
#     digest of their values (ops.record_digests), never the record id: a re-delivered file is new record ids,
#     and a record whose values are the same is no change for anybody's prefilled form;
#  C  the records, anywhere, of persons living in d (their delivered values are prefilled), by content;
#  D  the persons on d's records, wherever they live now (moved out: dropped from d's rosters);
#  E  values corrected or typed on returns for persons living in d (they count as delivered);
#  F  staff removals (exits) of d's committees.
_REFLOW_LEGS = """
WITH pers AS MATERIALIZED (SELECT person_id, left(committee_code, 6) AS d, {person_hash} AS h FROM core.persons p),
rec AS MATERIALIZED ({records}),
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
  UNION ALL SELECT pers.d, hash('E' || {cell_hash}) FROM reflow.return_cells c JOIN pers USING (person_id)
            WHERE c.outcome IN ('corrected', 'typed')
  UNION ALL SELECT left(committee_code, 6), {exit_hash} FROM reflow.roster_exits
"""
_LEGS_VERSION = fp.digest(_REFLOW_LEGS, _RETURN_LEGS, row_hash("x", "y"))


def update_record_digests(con: duckdb.DuckDBPyConnection) -> int:
    """Bring ops.record_digests up to date: per staged record, its district and a digest of what reflow reads
    of it (place, form, period, source row, and its values: field order and value), never its id.

    A record's values never change under its id (the id carries its file's content hash), so only records
    that appeared are digested and those that disappeared are dropped: a night that re-delivers one
    district's month digests that month's records, not the city's. Returns the number digested."""
    # the registry of ingested files says whether any staged record came or went (fingerprint.py)
    registry = fp.digest(fp.district_registry(con))
    columns = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'ops' "
                          "AND table_name = 'record_digests' ORDER BY ordinal_position").fetchall()  # fmt: skip
    if [c for (c,) in columns] != ["record_id", "d", "digest"]:  # absent, or of an earlier layout
        con.execute("CREATE SCHEMA IF NOT EXISTS ops")
        con.execute(
            f"CREATE OR REPLACE TABLE {RECORD_DIGESTS} (record_id VARCHAR, d VARCHAR, digest UBIGINT)"
        )
    elif (
        fp.tables_exist(con, ("raw.landing_files",))
        and fp.stored(con, [RECORD_DIGESTS]).get(RECORD_DIGESTS) == registry
    ):
        return 0
    con.execute(f"DELETE FROM {RECORD_DIGESTS} WHERE record_id IN "
                f"(SELECT record_id FROM {RECORD_DIGESTS} ANTI JOIN staging.form_records USING (record_id))")  # fmt: skip
    value = row_hash("v", "field_order", "coalesce(value, value_raw)")
    record = row_hash("r", "n.source_file", "n.row_number", "n.committee_code", "n.form_code", "n.period",
                      "coalesce(v.digest, '0:0')")  # fmt: skip
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _rd_new AS
                    SELECT record_id, source_file, row_number, committee_code, form_code, period
                    FROM staging.form_records ANTI JOIN {RECORD_DIGESTS} USING (record_id)""")  # fmt: skip
    try:
        con.execute(f"""
            INSERT INTO {RECORD_DIGESTS}
            SELECT n.record_id, left(n.committee_code, 6), {record} FROM _rd_new n LEFT JOIN (
                SELECT record_id, count(*) || ':' || bit_xor({value}) AS digest
                FROM staging.form_values SEMI JOIN _rd_new USING (record_id) GROUP BY 1) v USING (record_id)""")
        fp.record(con, {RECORD_DIGESTS: registry})
        return int(con.execute("SELECT count(*) FROM _rd_new").fetchall()[0][0])
    finally:
        con.execute("DROP TABLE IF EXISTS _rd_new")


def _writers(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    if not fp.tables_exist(con, (fp.STATE_TABLE,)):
        return []
    return con.execute(
        f"SELECT stage, fingerprint, run_id, CAST(recorded_at AS VARCHAR) FROM {fp.STATE_TABLE} "
        "WHERE stage IN (SELECT unnest(?::VARCHAR[])) ORDER BY 1", [list(LEG_WRITERS)],
    ).fetchall()  # fmt: skip


def legs_key(con: duckdb.DuckDBPyConnection, downstream: str) -> str:
    """What the legs are a function of, cheaply: the downstream fingerprint (ingested data, evidence,
    catalog, code, salt), the last writes of persons and returns, the code and the legs' SQL."""
    return fp.digest(downstream, [list(map(str, w)) for w in _writers(con)], _LEGS_VERSION,
                     fp.code_fingerprint((*downstream_code(), *REFLOW_CODE)))  # fmt: skip


def stored_legs(con: duckdb.DuckDBPyConnection, key: str) -> dict[str, object] | None:
    """The legs recorded under `key` by an earlier night, or None."""
    if not fp.tables_exist(con, (fp.STATE_TABLE,)):
        return None
    rows = con.execute(
        f"SELECT fingerprint, parts FROM {fp.STATE_TABLE} WHERE stage = ?", [LEGS_STAGE]
    ).fetchall()
    if not rows or rows[0][0] != key:
        return None
    return json.loads(rows[0][1]).get(LEGS_STAGE)


def reflow_legs(con: duckdb.DuckDBPyConnection) -> dict[str, object] | None:
    """The warehouse part of every district's reflow fingerprint: {"shared": …, "per": {district: …}}.
    None when its input tables are missing. Reads ops.record_digests (update_record_digests first)."""
    need = (
        "core.persons",
        "core.person_records",
        "staging.form_records",
        "catalog.forms",
        "catalog.form_fields",
    )
    if not fp.tables_exist(con, need):
        return None
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
    returns = (
        _RETURN_LEGS.format(
            cell_hash=row_hash("e", "c.return_file", "c.row_number", "c.element_code", "c.returned_value",
                               "c.period", "c.form_code"),
            exit_hash=row_hash("F", "person_id", "committee_code", "form_code", "reason"),
        )
        if fp.tables_exist(con, ("reflow.return_cells", "reflow.roster_exits"))
        else ""
    )  # fmt: skip
    # the golden record, not when it was last resolved (run_id / resolved_at change for every person each run)
    columns = [c for (c,) in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'core' AND table_name = 'persons' "
        "ORDER BY ordinal_position").fetchall() if c not in PERSON_RUN_COLUMNS]  # fmt: skip
    if fp.tables_exist(con, (RECORD_DIGESTS,)):  # by content (update_record_digests)
        records = (f"SELECT dg.d, pr.person_id, {row_hash('r', 'dg.digest', 'pr.person_id')} AS h "
                   f"FROM {RECORD_DIGESTS} dg LEFT JOIN core.person_records pr USING (record_id) WHERE dg.d IS NOT NULL")  # fmt: skip
    else:  # a warehouse the runner has not fingerprinted yet: by record id
        records = (f"SELECT left(r.committee_code, 6) AS d, pr.person_id, "
                   f"{row_hash('r', 'r.record_id', 'r.committee_code', 'r.form_code', 'r.period', 'pr.person_id')} AS h "
                   "FROM staging.form_records r LEFT JOIN core.person_records pr USING (record_id) "
                   "WHERE r.committee_code IS NOT NULL")  # fmt: skip
    sql = _REFLOW_LEGS.format(
        returns=returns, person_hash=row_hash("p", *(f'p."{c}"' for c in columns)), records=records
    )
    per = {str(d): f"{n}:{h}" for d, n, h in con.execute(sql).fetchall()}
    return {"shared": shared, "per": per}


def reflow_fingerprints(
    con: duckdb.DuckDBPyConnection,
    districts: Iterable[str],
    returns_root: Path | None,
    legs: dict[str, object] | None = None,
) -> dict[str, str]:
    """`reflow:<d>` per district: only the districts whose own inputs changed rebuild their prefilled forms
    and reconcile their returns. From the warehouse after the downstream stage (read only), or from `legs`
    computed earlier (`reflow_legs`), plus each district's returned-files folder (stat)."""
    legs = reflow_legs(con) if legs is None else legs
    if legs is None:
        return {f"reflow:{d}": "inputs missing" for d in districts}
    per: dict[str, str] = legs["per"]  # type: ignore[assignment]
    root = Path(returns_root).resolve() if returns_root else None
    return {
        f"reflow:{d}": fp.digest(
            legs["shared"], per.get(d, "empty"), fp.folder_fingerprint(root / d) if root else ""
        )
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
