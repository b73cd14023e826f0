"""Which fields of a form may be prefilled for a committee: the access policy, decided by the publish domain.

The one dependency on the publish code is `Policy.resolve(principal, dataset, column, element)` (with
`load_policy` and `Principal`/`Tier` of assets/publish/policy.py): a prefilled cell is what a committee
principal would receive of the `form_values.value` column for that data element, for the form's purpose.
Only `show` prefills (a masked value is no use on a form); 不予共享 never does (the resolver denies it before
any rule); 有条件 only when a rule names the form's purpose for the committee tier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assets.common import paths

POLICY_DIR = paths.SCHEMAS_DIR / "policy"
DICTIONARY = paths.SCHEMAS_DIR / "data_elements.yaml"
DATASET, COLUMN = "form_values", "value"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: str  # rule | not_shared | no_rule | no_element | masked:<treatment> | …
    reason: str
    sharing: str | None


class AccessGate:
    """Caches one decision per (purpose, element); treatments never depend on the jurisdiction."""

    def __init__(self, policy_dir: str | Path = POLICY_DIR, dictionary: str | Path = DICTIONARY) -> None:
        from assets.publish.policy import load_policy  # read at run time, never at import time

        self.policy = load_policy(policy_dir, dictionary)
        self._cache: dict[tuple[str, str | None], Decision] = {}

    def decide(self, committee_code: str, element: str | None, purpose: str) -> Decision:
        key = (purpose, element)
        if key not in self._cache:
            self._cache[key] = self._decide(committee_code, element, purpose)
        return self._cache[key]

    def _decide(self, committee_code: str, element: str | None, purpose: str) -> Decision:
        from assets.publish.policy import Principal, Tier

        if element is None:
            return Decision(False, "no_element", "the field has no catalogued data element", None)
        principal = Principal(tier=Tier.COMMITTEE, jurisdiction=committee_code, purpose=purpose)
        t = self.policy.resolve(principal, DATASET, COLUMN, element)
        sharing = t.sharing.value if t.sharing is not None else None
        if t.action == "show":
            return Decision(True, t.code, t.reason, sharing)
        code = t.code if t.action == "deny" else f"masked:{t.action}"
        return Decision(False, code, t.reason, sharing)
