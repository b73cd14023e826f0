"""One publication run end to end, shared by the Dagster asset and `jianfu publish`.

Order (each step only if the previous one held):
1. verify the audit chains and their warehouse copy (`manifest.verify_all`): a rewritten audit stops publication;
2. build, scan and seal a new generation (`products.publish`), warehouse attached read-only;
3. append the generation to the audit manifest — it is recorded before it becomes visible;
4. switch `current` to it;
5. append the audit rows to the warehouse (briefly opened for writing; the asset holds the `warehouse` pool).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assets.common import paths, warehouse
from assets.publish import manifest, products
from assets.publish.audit import AuditError
from assets.publish.keys import AuditKey, MaskKey, resolve_audit_key, resolve_mask_key
from assets.publish.policy import Policy, load_policy
from assets.publish.types import TIER_CODES, Tier

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
    audit_key: AuditKey | None = None
    heads_dir: Path | None = None

    @property
    def audit(self) -> manifest.AuditSettings:
        if self.audit_key is None:
            raise AuditError("no audit key: set JIANFU_AUDIT_KEY (or JIANFU_ENV=dev for synthetic data)")
        return manifest.audit_settings(self.published_dir, self.audit_key.key, self.heads_dir)


def encryption_keys_from(env: Mapping[str, str]) -> dict[Tier, str]:
    """Per-tier product keys: JIANFU_PRODUCT_KEY_CITY / _DISTRICT / _TOWNSHIP / _COMMITTEE."""
    out = {}
    for tier, code in TIER_CODES.items():
        value = env.get(f"JIANFU_PRODUCT_KEY_{code.upper()}")
        if value:
            out[tier] = value
    return out


def default_published(warehouse_path: str | Path) -> Path:
    return Path(warehouse_path).resolve().parent / "published"


def settings_from(
    env: Mapping[str, str],
    warehouse_path: str | Path | None = None,
    published_dir: str | Path | None = None,
    mask_key: str | None = None,
    environment: str | None = None,
    audit_key: str | None = None,
) -> Settings:
    """Settings from explicit values (Dagster resource fields) falling back to an environment mapping (CLI)."""
    wh = Path(warehouse_path or paths.DEFAULT_WAREHOUSE)
    environment = environment if environment is not None else env.get("JIANFU_ENV")
    mk = resolve_mask_key(mask_key or env.get("JIANFU_MASK_KEY"), environment)
    return Settings(
        warehouse_path=wh,
        published_dir=Path(published_dir) if published_dir else default_published(wh),
        mask_key=mk,
        encryption_keys=encryption_keys_from(env),
        audit_key=resolve_audit_key(audit_key or env.get("JIANFU_AUDIT_KEY"), environment, mk.key),
    )


def publish_and_record(
    settings: Settings,
    *,
    policy: Policy | None = None,
    run_id: str | None = None,
    tiers: Iterable[Tier] | None = None,
    write_warehouse_audit: bool = True,
) -> products.PublishResult:
    """Verify the audit, publish a generation, record it, make it visible, copy the audit to the warehouse."""
    audit = settings.audit
    problems = manifest.verify_all(audit, settings.warehouse_path if write_warehouse_audit else None)
    if problems:
        raise AuditError("the audit does not verify, nothing was published (see `jianfu audit verify`):\n  "
                         + "\n  ".join(problems[:20]))  # fmt: skip
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
        switch_now=False,
    )
    macs = manifest.write_jsonl_manifest(audit, result)
    products.switch(result)
    if write_warehouse_audit:
        with warehouse.connect(settings.warehouse_path) as con:
            manifest.record_publication(con, result, audit, macs)
            manifest.sync_query_log(con, audit)
    return result
