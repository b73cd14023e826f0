"""Skip a downstream asset whose inputs did not change since it last succeeded (Dagster side of
assets/common/fingerprint.py).

An asset between ingestion and publishing is a function of the ingested data, the catalog, the code and
schemas of those layers and the person-id salt (`fingerprint.downstream_inputs`), and of the assets it
depends on. Its input fingerprint is the digest of the first and of the recorded fingerprints of the
second, so an asset materialized alone on stale inputs is recomputed once they are refreshed. When the
fingerprint is the one recorded after the asset's last success and its tables exist, it reports a
materialization marked `skipped` and writes nothing. `full_rebuild`-style configs bypass it.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg
import duckdb

from assets.common import fingerprint as fp


def _salt_digest(env: Mapping[str, str]) -> str:
    from assets.matching.spec import SpecError, load_spec
    from assets.persons.resolve import DEFAULT_SPEC

    try:
        return fp.keyed(load_spec(DEFAULT_SPEC).identity.resolved_salt(env))
    except SpecError:
        return "unset"  # the persons asset fails on its own, with the message saying what to set


def _stage(key: dg.AssetKey) -> str:
    return "asset:" + key.to_user_string()


class Gate:
    """One asset step's input fingerprint; `current()` says whether it may skip."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        con: duckdb.DuckDBPyConnection,
        env: Mapping[str, str],
    ) -> None:
        """`env` holds the person-id salt (part of every downstream fingerprint): the asset declares the
        `run_env` resource (RunEnvironmentResource) and passes `run_env.environ()`."""
        self.context, self.con = context, con
        self.keys = sorted(context.selected_asset_keys, key=lambda k: k.to_user_string())
        deps = {d for k in self.keys for d in context.assets_def.asset_deps.get(k, set())} - set(self.keys)
        recorded = fp.stored(con, [_stage(d) for d in deps])
        base, _ = fp.downstream_inputs(con, _salt_digest(env))
        self.fingerprint = fp.digest(base, recorded)

    def current(self) -> bool:
        """True when every selected asset recorded this fingerprint and its table still exists."""
        stored = fp.stored(self.con, [_stage(k) for k in self.keys])
        tables = [".".join(k.path) for k in self.keys]
        return all(stored.get(_stage(k)) == self.fingerprint for k in self.keys) and fp.tables_exist(
            self.con, tables
        )

    def skipped(self) -> list[dg.MaterializeResult]:
        self.context.log.info(f"inputs unchanged (fingerprint {self.fingerprint}): nothing recomputed")
        meta = {"skipped": dg.MetadataValue.text("inputs unchanged since the last materialization"),
                "input_fingerprint": dg.MetadataValue.text(self.fingerprint)}  # fmt: skip
        return [
            dg.MaterializeResult(asset_key=k, metadata=meta, data_version=self.version) for k in self.keys
        ]

    @property
    def version(self) -> dg.DataVersion:
        return dg.DataVersion(self.fingerprint)

    def record(self) -> None:
        """After the asset wrote its tables: remember the fingerprint it was computed from."""
        fp.record(self.con, {_stage(k): self.fingerprint for k in self.keys}, run_id=self.context.run_id)
