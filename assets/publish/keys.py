"""Secrets of publishing, read at run time (never at import): the mask key, the audit key, JIANFU_ENV.

One strict reading of JIANFU_ENV: the development defaults apply only when it is exactly `dev` (the same
test as the person-id salt in assets/matching/spec.py). A value that only looks like dev (`Dev`, ` dev`)
is an error, not silently production or silently dev. Keys that are known (the documented dev keys outside
dev), short, low in entropy or padded with whitespace are refused. The audit key must differ from the mask
key: whoever may compute keyed hashes must not be able to rewrite the audit.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections import Counter
from dataclasses import dataclass

DEV_MASK_KEY = "jianfu-DEV-ONLY-mask-key--not-secret--never-use-in-production"
DEV_AUDIT_KEY = "jianfu-DEV-ONLY-audit-key--not-secret--never-use-in-production"
MIN_KEY_BYTES = 16
MIN_KEY_BITS = 64.0  # estimated from character frequencies
KNOWN_KEYS = frozenset({DEV_MASK_KEY, DEV_AUDIT_KEY, "jianfu-dev-salt-not-secret"})
GENERATE_HINT = "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"


class MaskKeyError(RuntimeError):
    """No usable key: set JIANFU_MASK_KEY / JIANFU_AUDIT_KEY (or JIANFU_ENV=dev for the documented dev keys)."""


def is_dev(environment: str | None) -> bool:
    """True only for exactly `dev`; raises for a value that merely resembles it."""
    if environment is None or environment == "":
        return False
    if environment == "dev":
        return True
    if environment.strip().lower() == "dev":
        raise MaskKeyError(
            f"JIANFU_ENV={environment!r} is not exactly 'dev': set JIANFU_ENV=dev for synthetic data, "
            "or unset it in production (no case or whitespace variants are accepted)"
        )
    return False


def _entropy_bits(text: str) -> float:
    counts = Counter(text)
    n = len(text)
    return -n * sum(c / n * math.log2(c / n) for c in counts.values())


def check_key(value: str, name: str, dev: bool) -> bytes:
    """The key's bytes, or MaskKeyError saying why it is not acceptable."""
    raw = value.encode("utf-8")
    if value != value.strip() or not value.strip():
        raise MaskKeyError(
            f"{name} has leading/trailing whitespace or is blank: set a random secret, {GENERATE_HINT}"
        )
    if len(raw) < MIN_KEY_BYTES:
        raise MaskKeyError(f"{name} must be at least {MIN_KEY_BYTES} bytes, {GENERATE_HINT}")
    if value in KNOWN_KEYS and not dev:
        raise MaskKeyError(
            f"{name} is a documented development key: it is public; set a secret, {GENERATE_HINT}"
        )
    if _entropy_bits(value) < MIN_KEY_BITS or len(set(value)) < 8:
        raise MaskKeyError(
            f"{name} has too little entropy (repeated or few distinct characters), {GENERATE_HINT}"
        )
    return raw


@dataclass(frozen=True)
class MaskKey:
    key: bytes
    source: str  # "env" | "dev-default" | "explicit"

    @property
    def fingerprint(self) -> str:
        """Identifies the key in manifests without revealing it (HMAC of a fixed label, 12 hex)."""
        return hmac.new(self.key, b"jianfu-mask-key-fingerprint", hashlib.sha256).hexdigest()[:12]


def resolve_mask_key(key: str | None, environment: str | None) -> MaskKey:
    """The key for keyed hashes: the given key, or the dev default only when JIANFU_ENV is exactly 'dev'."""
    dev = is_dev(environment)
    if key:
        return MaskKey(check_key(key, "JIANFU_MASK_KEY", dev), "env")
    if dev:
        return MaskKey(DEV_MASK_KEY.encode("utf-8"), "dev-default")
    raise MaskKeyError(
        f"JIANFU_MASK_KEY is not set. Set it to a random secret of at least {MIN_KEY_BYTES} bytes ({GENERATE_HINT}), "
        "or set JIANFU_ENV=dev to use the documented, non-secret dev key."
    )


@dataclass(frozen=True)
class AuditKey:
    key: bytes
    source: str

    @property
    def fingerprint(self) -> str:
        return hmac.new(self.key, b"jianfu-audit-key-fingerprint", hashlib.sha256).hexdigest()[:12]


def resolve_audit_key(key: str | None, environment: str | None, mask_key: bytes | None = None) -> AuditKey:
    """The HMAC key of the audit chain (JIANFU_AUDIT_KEY); the dev default only under JIANFU_ENV=dev."""
    dev = is_dev(environment)
    if key:
        raw = check_key(key, "JIANFU_AUDIT_KEY", dev)
        if mask_key is not None and hmac.compare_digest(raw, mask_key):
            raise MaskKeyError("JIANFU_AUDIT_KEY must differ from JIANFU_MASK_KEY")
        return AuditKey(raw, "env")
    if dev:
        return AuditKey(DEV_AUDIT_KEY.encode("utf-8"), "dev-default")
    raise MaskKeyError(
        f"JIANFU_AUDIT_KEY is not set. Set it to a random secret kept off this machine's backups ({GENERATE_HINT}), "
        "or set JIANFU_ENV=dev for synthetic data."
    )
