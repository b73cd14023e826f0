"""Settings checked before any work starts.

A run that would fail after a 20-minute ingestion because a secret is missing should fail in its first
second instead, saying what to set. The secrets themselves are read from the environment at run time (as
the assets read them); only keyed fingerprints of them leave this module, so a changed key makes the
stages that use it run again without the key being stored anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assets.common import fingerprint as fp
from assets.persons.resolve import DEFAULT_SPEC


class SettingsError(SystemExit):
    """Raised before any stage runs; its message lists every missing or bad setting and how to fix it."""


@dataclass(frozen=True)
class SecretFingerprints:
    """Keyed digests of the secrets (never the secrets): they join the stage fingerprints."""

    person_id_salt: str
    mask_key: str
    product_keys: str


def check(
    warehouse: Path, landing: Path, env: Mapping[str, str] | None = None, spec_path: Path = DEFAULT_SPEC
) -> SecretFingerprints:
    """Every setting a full run needs, checked together; raises SettingsError naming what to set."""
    from assets.matching.spec import SpecError, load_spec
    from assets.publish.masking import MaskKeyError, resolve_mask_key
    from assets.publish.run import encryption_keys_from

    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    if not Path(landing).is_dir():
        problems.append(f"landing zone {landing} is not a folder (pass --landing DIR or set JIANFU_LANDING)")
    elif not (Path(landing) / "catalog").is_dir():
        problems.append(f"landing zone {landing} has no catalog/ folder (forms.csv, form_fields.csv)")
    if Path(warehouse).exists() and not Path(warehouse).is_file():
        problems.append(f"warehouse {warehouse} exists but is not a file (pass --warehouse FILE)")

    salt = ""
    try:
        identity = load_spec(spec_path).identity
        if identity.salt_env:
            name = identity.salt_env
            salt = env.get(name) or ""
            if not salt and env.get("JIANFU_ENV") != "dev":
                problems.append(
                    f"{name} is not set: the person-id salt (a secret, e.g. "
                    "`python -c 'import secrets; print(secrets.token_hex(32))'`), or JIANFU_ENV=dev for "
                    "synthetic data"
                )
        else:
            salt = identity.salt
    except SpecError as exc:
        problems.append(f"matching spec: {exc}")

    mask = ""
    try:
        mask = resolve_mask_key(env.get("JIANFU_MASK_KEY"), env.get("JIANFU_ENV")).fingerprint
    except MaskKeyError as exc:
        problems.append(str(exc))

    if problems:
        raise SettingsError(
            "jianfu run: settings missing or wrong, nothing was started:\n  - " + "\n  - ".join(problems)
        )
    product_keys = encryption_keys_from(env)
    return SecretFingerprints(
        person_id_salt=fp.keyed(salt or "dev"),
        mask_key=mask,
        product_keys=fp.keyed("|".join(f"{t}={k}" for t, k in sorted(product_keys.items()))),
    )
