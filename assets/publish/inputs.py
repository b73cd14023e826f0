"""What each product is made of, as digests computed before anything is planned or written.

A product is a function of (a) things every product of the run shares — the policy, the masking key, the
publishing code, reference datasets without a jurisdiction, which rosters are sensitive, which values may
group counts — (b) its profile's decisions (tier, department, purpose), and (c) the source rows inside its
jurisdiction. (c) is read once per run: one GROUP BY per dataset gives, per jurisdiction code, the row count
and an order-independent sum of row hashes; a principal's digest for that dataset is the sum over the codes
under its prefix (a district's is the sum of its committees'). Lineage of golden values (where each value was
delivered) is digested per delivering committee the same way.

So a district that re-delivers changes the digests of its own committees, townships and district and of the
city, and of nothing else: every other product keeps its fingerprint and is carried over without being
planned, written or scanned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping

import duckdb

from assets.common import fingerprint as fp
from assets.publish.binding import BoundDataset
from assets.publish.masking import quote_ident
from assets.publish.types import TIER_DIGITS

FORMAT_VERSION = "3"  # bump when the layout of a product changes: every fingerprint changes with it
# the modules that decide a product's bytes (not the CLI, the checks or the audit): a change rewrites every product
PRODUCT_CODE = tuple(
    f"assets/publish/{m}.py"
    for m in (
        "binding",
        "inputs",
        "masking",
        "plan",
        "policy",
        "policy_model",
        "privacy",
        "scope",
        "types",
        "writer",
    )
)
PRODUCT_CODE += ("schemas/data_elements.yaml",)
_MOD = 1 << 128
_LEVELS = sorted(set(TIER_DIGITS.values()))


def _select(columns: Iterable[str]) -> str:
    """One value per row of the given columns (a row constructor, hashed as a whole)."""
    return f"row({', '.join(quote_ident(c) for c in columns)})"


def _per_code(con: duckdb.DuckDBPyConnection, relation: str, column: str,
              columns: Iterable[str]) -> dict[str, tuple[int, int]]:  # fmt: skip
    """jurisdiction code -> (rows, sum of row hashes mod 2^128) of one staged relation (`columns` only)."""
    rows = con.execute(
        f"SELECT CAST(j AS VARCHAR), count(*), sum(hash(t)::HUGEINT) FROM (SELECT {quote_ident(column)} AS j, "
        f"{_select(columns)} AS t FROM {relation}) GROUP BY 1"
    ).fetchall()
    return {str(c): (int(n), int(h or 0) % _MOD) for c, n, h in rows if c is not None}


def _by_prefix(per_code: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    """Sum the per-code digests up every tier's prefix length (2, 6, 9, 12 digits)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for code, (n, h) in per_code.items():
        for level in _LEVELS:
            if len(code) >= level:
                acc = out[code[:level]]
                acc[0] += n
                acc[1] = (acc[1] + h) % _MOD
    return {k: (v[0], v[1]) for k, v in out.items()}


@dataclasses.dataclass
class InputDigests:
    """Per dataset (and lineage) and jurisdiction prefix: (rows, hash sum); plus the run-wide part."""

    shared: str
    datasets: dict[str, dict[str, tuple[int, int]]]
    seconds: float = 0.0
    codes: dict[str, dict[str, tuple[int, int]]] = dataclasses.field(default_factory=dict)  # exact codes only

    def parts(self, prefix: str) -> dict[str, dict[str, str]]:
        """Per dataset, each jurisdiction code under `prefix` and the digest of its rows (pieces of a product)."""
        return {name: {c: f"{n}:{h:x}" for c, (n, h) in by.items() if c.startswith(prefix)}
                for name, by in sorted(self.codes.items())}  # fmt: skip

    def for_prefix(self, prefix: str) -> list[object]:
        return [[name, *by.get(prefix, (0, 0))] for name, by in sorted(self.datasets.items())]


def used_columns(bound: Iterable[BoundDataset], decisions: Iterable[object]) -> dict[str, list[str]]:
    """Per dataset, the columns some profile receives in any form (shown, masked, counted), and those that shape
    rows (jurisdiction, element, roster, person, golden key, record/person links). A column every profile is
    denied (a run id, a file hash) cannot change a product, so a re-ingestion rewriting it changes no digest."""
    out: dict[str, set[str]] = {}
    for b in bound:
        ds = b.spec
        keep = {ds.jurisdiction, ds.driver, ds.membership, ds.subject, ds.golden.key if ds.golden else None,
                "record_id", "person_id"}  # fmt: skip
        out[b.name] = {c for c in b.column_names if c in keep}
    for d in decisions:
        cols = out.setdefault(d.b.name, set())  # type: ignore[attr-defined]
        cols.update(c for c, t in d.fixed.items() if t.visible or t.action == "aggregate")  # type: ignore[attr-defined]
        if d.row_elems or d.agg_elems or d.agg_forms:  # type: ignore[attr-defined]
            cols.update(d.per_row_cols)  # type: ignore[attr-defined]
    return {name: sorted(cols) for name, cols in out.items()}


def compute(
    con: duckdb.DuckDBPyConnection,
    bound: Iterable[BoundDataset],
    forms: Mapping[str, str],
    dimension_safety: Mapping[str, object],
    used: Mapping[str, list[str]] | None = None,
) -> InputDigests:
    """One pass over every staged dataset: per-jurisdiction digests, and the digest of what all products share."""
    import time

    t0 = time.perf_counter()
    shared: list[object] = [FORMAT_VERSION, fp.code_fingerprint(PRODUCT_CODE), sorted(forms.items()),
                            json.dumps(dimension_safety, sort_keys=True, default=str)]  # fmt: skip
    datasets: dict[str, dict[str, tuple[int, int]]] = {}
    codes: dict[str, dict[str, tuple[int, int]]] = {}
    for b in sorted(bound, key=lambda x: x.name):
        cols = (used or {}).get(b.name) or b.column_names
        shared.append([b.name, b.source.label, b.columns, cols])
        if b.spec.jurisdiction is None:
            n, h = con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM (SELECT {_select(cols)} AS t "
                               f"FROM {b.relation})").fetchall()[0]  # fmt: skip
            shared.append([b.name, int(n), str(h)])
        else:
            per_code = _per_code(con, b.relation, b.spec.jurisdiction, cols)
            codes[b.name] = per_code
            datasets[b.name] = _by_prefix(per_code)
        if b.lineage is not None:
            lineage_cols = ["key", "element_code", "value", "committee_code", "form_code"]
            datasets[f"lineage:{b.name}"] = _by_prefix(
                _per_code(con, b.lineage, "committee_code", lineage_cols)
            )
    text = json.dumps(shared, sort_keys=True, ensure_ascii=True, default=str)
    return InputDigests(
        hashlib.sha256(text.encode("ascii")).hexdigest(), datasets, time.perf_counter() - t0, codes
    )


def decisions_digest(decisions: Iterable[object]) -> str:
    """The profile's decisions (treatment per column and element, rosters shown as counts or hidden)."""
    parts = []
    for d in decisions:
        parts.append({
            "dataset": d.b.name,  # type: ignore[attr-defined]
            "fixed": {c: dataclasses.asdict(t) for c, t in d.fixed.items()},  # type: ignore[attr-defined]
            "per_elem": {c: {str(e): dataclasses.asdict(t) for e, t in m.items()}
                         for c, m in d.per_elem.items()},  # type: ignore[attr-defined]
            "lists": [d.row_elems, d.agg_elems, d.agg_forms, d.hidden_forms],  # type: ignore[attr-defined]
        })  # fmt: skip
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def product_fingerprint(
    digests: InputDigests,
    profile_digest: str,
    principal_dump: Mapping[str, object],
    policy_version: str,
    key_fingerprint: str,
    encrypted: bool,
) -> str:
    """sha256 of everything one product is made of (equal => same contents up to `_product`'s run and time)."""
    prefix = str(principal_dump["jurisdiction"])
    parts = [digests.shared, profile_digest, policy_version, key_fingerprint, dict(principal_dump), encrypted,
             digests.for_prefix(prefix)]  # fmt: skip
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def base_digest(
    digests: InputDigests,
    profile_digest: str,
    principal_dump: Mapping[str, object],
    policy_version: str,
    key_fingerprint: str,
    encrypted: bool,
) -> str:
    """Everything a product is made of except its rows: equal bases mean a partition whose rows did not change
    is treated exactly as before (`pieces.py`)."""
    parts = [digests.shared, profile_digest, policy_version, key_fingerprint, dict(principal_dump), encrypted]
    text = json.dumps(parts, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()
