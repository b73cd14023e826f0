"""One publication run end to end, shared by the Dagster asset and `jianfu publish`.

Products are built while the warehouse is attached read-only; the warehouse is opened for writing only
afterwards, briefly, to append the audit rows (the Dagster asset holds the `warehouse` pool meanwhile).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assets.common import paths, warehouse
from assets.publish import manifest, products
from assets.publish.masking import MaskKey, resolve_mask_key
from assets.publish.policy import TIER_CODES, Policy, Tier, load_policy

POLICY_DIR = paths.SCHEMAS_DIR / "policy"
DICTIONARY = paths.SCHEMAS_DIR / "data_elements.yaml"


@dataclass(frozen=True)
class Settings:
    """Run-time settings (resolved from the environment by the caller, never at import time)."""

    warehouse_path: Path
    published_dir: Path
    mask_key: MaskKey
    encryption_keys: Mapping[Tier, str]
    policy_dir: Path = POLICY_DIR
    dictionary: Path = DICTIONARY
    unsafe_test_crypto: bool = False


def encryption_keys_from(env: Mapping[str, str]) -> dict[Tier, str]:
    """Per-tier product keys: JIANFU_PRODUCT_KEY_CITY / _DISTRICT / _TOWNSHIP / _COMMITTEE."""
    out = {}
    for tier, code in TIER_CODES.items():
        value = env.get(f"JIANFU_PRODUCT_KEY_{code.upper()}")
        if value:
            out[tier] = value
    return out


def settings_from(
    env: Mapping[str, str],
    warehouse_path: str | Path | None = None,
    published_dir: str | Path | None = None,
    mask_key: str | None = None,
    environment: str | None = None,
) -> Settings:
    wh = Path(warehouse_path or paths.DEFAULT_WAREHOUSE)
    return Settings(
        warehouse_path=wh,
        published_dir=Path(published_dir) if published_dir else wh.resolve().parent / "published",
        mask_key=resolve_mask_key(
            mask_key or env.get("JIANFU_MASK_KEY"), environment or env.get("JIANFU_ENV")
        ),
        encryption_keys=encryption_keys_from(env),
    )


def publish_and_record(
    settings: Settings,
    *,
    policy: Policy | None = None,
    run_id: str | None = None,
    tiers: Iterable[Tier] | None = None,
    write_warehouse_audit: bool = True,
) -> products.PublishResult:
    """Publish, append the JSONL manifest, and (optionally) the warehouse audit tables."""
    policy = policy or load_policy(settings.policy_dir, settings.dictionary)
    result = products.publish(
        settings.warehouse_path,
        settings.published_dir,
        policy,
        settings.mask_key,
        run_id=run_id,
        tiers=tiers,
        encryption_keys=settings.encryption_keys,
        unsafe_test_crypto=settings.unsafe_test_crypto,
    )
    manifest.write_jsonl_manifest(settings.published_dir, result)
    if write_warehouse_audit:
        with warehouse.connect(settings.warehouse_path) as con:
            manifest.record_publication(con, result)
            manifest.sync_query_log(con, settings.published_dir)
    return result
