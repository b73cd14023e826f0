"""Spec sections after the comparisons: estimation, threshold, clustering, golden records, identity.

Part of the match spec (assets/matching/spec.py re-exports every name here).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class SpecError(ValueError):
    """A match spec that cannot be used; the message names the file and the entry."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deterministic(_Model):
    """Pairs certainly the same entity, as agreement patterns (comparison -> levels), and the share of all
    true matches they are assumed to find: λ = (pairs meeting a rule / recall) / all pairs."""

    rules: tuple[dict[str, tuple[str, ...]], ...] = Field(min_length=1)
    recall: float = Field(gt=0.0, le=1.0)


class Sanity(_Model):
    """What a fitted model must satisfy to be used (besides monotone level weights): the first level of each
    `strong` comparison (a valid identifier agreeing) outweighs the best levels of all `location`
    comparisons together."""

    strong: tuple[str, ...] = ()
    location: tuple[str, ...] = ()


class Estimation(_Model):
    """Fellegi–Sunter parameters as Splink trains them (see docs/matching.md): u from random pairs, m by EM
    per blocking rule, λ from deterministic rules."""

    method: Literal["em"] = "em"
    max_iterations: int = Field(default=200, ge=1)
    tolerance: float = Field(default=1e-7, gt=0)
    seed: int = 42  # the random record sample for u
    u_max_pairs: int = Field(default=1_000_000, ge=10)  # random pairs for u (a sample's cross product)
    # Blocking rules (by name) whose pairs each train m in one EM session; default: every plain rule.
    em_blocking: tuple[str, ...] = ()
    deterministic: Deterministic | None = None  # default: the first comparison's first level, recall 1
    smoothing: float = Field(default=0.5, ge=0)  # pseudo-count per level (Dirichlet prior)
    sanity: Sanity = Sanity()
    # A model JSON (as `jianfu match --model-out` writes; relative to the spec file) kept when a fit is
    # refused by the sanity report and no previous model is given: e.g. a fit on a small batch.
    prior_model: str | None = None


class Threshold(_Model):
    match_probability: float = Field(gt=0.0, lt=1.0)
    # Agreement patterns that are never a link, whatever their weight. Each rule maps comparison names to
    # the levels (or `missing`) that together make it fire. Fellegi–Sunter assumes comparisons independent
    # given the match status; where they are not (one household shares phone, addresses and committee),
    # a rule states what the model cannot learn.
    never_link: tuple[dict[str, tuple[str, ...]], ...] = ()


class CannotLink(_Model):
    """Two records whose `feature` values differ, both with `when` true, are never in one cluster."""

    feature: str
    when: str | None = None


class Clustering(_Model):
    strong_link: float = Field(default=0.999, gt=0.0, lt=1.0)
    min_average_link: float = Field(default=0.5, ge=0.0, le=1.0)
    cannot_link: CannotLink | None = None
    # Clusters of 3 to k records get every member pair that blocking did not produce compared and are
    # clustered again with that evidence (0: off); see assets/matching/complete.py.
    complete_within: int = Field(default=0, ge=0, le=200)
    # How two groups joined by a weak link must agree: `average` (mean probability of the pairs between
    # them >= min_average_link) or `profile` (that, and their best level per comparison, counted once,
    # makes a match); see assets/matching/cluster.py.
    group_evidence: Literal["average", "profile"] = "average"


SortKey = Annotated[str, Field(pattern=r"^(frequency|recency|-?[a-z][a-z0-9_]*)$")]


class GoldenAttribute(_Model):
    """Survivorship: among a cluster's non-null values of `column`, keep the first by `prefer`.
    Keys: `frequency` (most records), `recency` (latest record), a column (higher first) or `-column`
    (lower first). Ties end with the smallest record id, so the choice is deterministic."""

    name: str
    column: str
    prefer: tuple[SortKey, ...] = ("frequency", "recency")


class Golden(_Model):
    recency: str | None = None  # a column ordering records in time (e.g. the period's first day)
    attributes: tuple[GoldenAttribute, ...] = ()


DEV_SALT = "jianfu-dev-salt-not-secret"  # documented: only for synthetic data under JIANFU_ENV=dev


class Identity(_Model):
    """How a new entity is named: a hash of its anchor value (e.g. a valid ID number) when it has one,
    else of its smallest record id. Existing ids are carried forward by their records."""

    prefix: str = "E"
    anchor: str | None = None
    anchor_when: str | None = None
    salt: str = ""
    # Name of an environment variable holding the salt, read when the engine runs (never at import time).
    # Without a secret salt, an id hashed from an ID number can be reversed by enumerating ID numbers.
    salt_env: str | None = None
    digits: int = Field(default=16, ge=8, le=32)

    def resolved_salt(self, env: Mapping[str, str]) -> str:
        """The salt to hash with: `env[salt_env]` when `salt_env` is set. The caller passes the environment
        (the persons asset from its resource, `jianfu match` os.environ): this module reads none.

        A missing variable is an error, except under JIANFU_ENV=dev (synthetic data), where a documented
        development salt is used."""
        if not self.salt_env:
            return self.salt
        value = env.get(self.salt_env)
        if value:
            return value
        if env.get("JIANFU_ENV") == "dev":
            return DEV_SALT
        raise SpecError(
            f"identity.salt_env: environment variable {self.salt_env} is not set (set it to a secret, "
            "or JIANFU_ENV=dev for synthetic data)"
        )
