"""Rosters: who is on next period's prefilled form of each committee, and why.

Per (committee, form) the roster starts from last period's persons (resolved person ids), adds persons who
were on the same form in another committee and now live here (moved in) and, for forms whose target a golden
record can decide (age, sex), every resident who fits. It then applies the form's rule on the coverage date
and drops persons who moved out, aged out or were removed by the committee with a reason that keeps them off.
Dropped persons stay in the roster table with status `dropped`, so every decision is visible.
"""

from __future__ import annotations

import datetime as dt
import logging

import polars as pl

from assets.reflow.targets import ResolvedRule, Targets, age_on, coverage_date, next_period, period_bounds

log = logging.getLogger(__name__)

ROSTER_SCHEMA = {
    "committee_code": pl.String,
    "form_code": pl.String,
    "period": pl.String,
    "coverage_date": pl.Date,
    "person_id": pl.String,
    "status": pl.String,  # on | dropped
    "reason": pl.String,
    "last_period": pl.String,
    "last_committee": pl.String,
}
# Removal reasons and how far they reach: death everywhere, moving out from the whole committee, anything
# else only from the form it was given on.
GLOBAL_EXITS = frozenset({"死亡"})
COMMITTEE_EXITS = frozenset({"迁出"})


def next_periods(latest: dict[str, str], frequency: dict[str, str], targets: Targets) -> dict[str, str]:
    """form → the period after its latest delivered one, stepped by the form's frequency.

    不定期 forms have no cycle: their next period is the 1st of the month after the latest monthly or
    quarterly period any form was delivered for (the data's "now"), not after their own last delivery."""
    steps = {f: targets.next_period.get(frequency.get(f, "")) for f in latest}
    cyclic = [period_bounds(p)[1] for f, p in latest.items() if steps[f] in ("month", "quarter")]
    now = max(cyclic) if cyclic else max((period_bounds(p)[1] for p in latest.values()), default=None)
    out: dict[str, str] = {}
    for form, period in latest.items():
        step = steps[form]
        if step is None:
            log.warning("form %s: frequency %r has no next_period step; no roster", form, frequency.get(form))
            continue
        if step == "month_start_day" and now is not None:
            period = now.isoformat()
        out[form] = next_period(period, step)
    return out


def applicable_pairs(
    committees: pl.DataFrame, forms: pl.DataFrame, periods: dict[str, str], targets: Targets
) -> pl.DataFrame:
    """(committee, form, period) for every committee whose kind the form is sent to (填报对象 or override)."""
    rows = []
    for form in forms.iter_rows(named=True):
        code = form["form_code"]
        if code not in periods:
            continue
        rule = targets.rule(code)
        kinds = rule.committee_kinds or ([] if form["target"] in (None, "", "全部") else [form["target"]])
        for c in committees.iter_rows(named=True):
            kind = c["committee_kind"] or ""
            if not kinds or any(kind.endswith(k) for k in kinds):
                rows.append((c["committee_code"], code, periods[code]))
    schema = {"committee_code": pl.String, "form_code": pl.String, "period": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _fits(rule: ResolvedRule, birth: dt.date | None, sex: str | None, day: dt.date) -> tuple[bool, str]:
    """Does a person fit the rule on `day`? (fits, why not)."""
    if rule.sex and sex and sex != rule.sex:
        return False, "not_in_target"
    if rule.age_min is None and rule.age_max is None:
        return True, ""
    if birth is None:
        return True, "age_unknown"
    age = age_on(birth, day)
    if rule.age_min is not None and age < rule.age_min:
        return False, "below_age"
    if rule.age_max is not None and age > rule.age_max:
        return False, "aged_out"
    return True, ""


class _RuleCache:
    """`Targets.rule` remembered per form (it resolves defaults each call; rosters ask once per row)."""

    def __init__(self, targets: Targets) -> None:
        self._targets = targets
        self._rules: dict[str, ResolvedRule] = {}
        self.drop_after_removal = targets.drop_after_removal

    def rule(self, form_code: str) -> ResolvedRule:
        rule = self._rules.get(form_code)
        if rule is None:
            rule = self._rules[form_code] = self._targets.rule(form_code)
        return rule


def known_pairs(known: pl.DataFrame) -> set[tuple[str, str]]:
    """(committee, form) of every pair the forms are sent to: pass it to `build_rosters` once for many calls."""
    return set(known.select("committee_code", "form_code").iter_rows())


def build_rosters(
    pairs: pl.DataFrame,
    last: pl.DataFrame,
    persons: pl.DataFrame,
    targets: Targets,
    exits: pl.DataFrame | None = None,
    known: pl.DataFrame | set[tuple[str, str]] | None = None,
) -> pl.DataFrame:
    """The roster of every (committee, form, period) of `pairs`.

    last:    committee_code, form_code, period, person_id — each committee's latest delivery of each form
    persons: person_id, committee_code (where the golden record says the person lives), birth_date, sex
    exits:   person_id, committee_code, form_code, reason — removals staff gave on returned files
    known:   every (committee, form) the forms are sent to, beyond `pairs` (default: `pairs`): a person on
             such a form last period who now lives in a committee of `pairs` has moved in, wherever the
             form was — so building one district at a time gives the rosters of building all at once;
             a set of (committee, form) pairs when the caller builds many districts (made once)
    """
    # columns as lists, rows as tuples: named rows cost a dict per person and row (seconds per district)
    ids, homes = persons["person_id"].to_list(), persons["committee_code"].to_list()

    def column(name: str) -> list:
        return persons[name].to_list() if name in persons.columns else [None] * persons.height

    info = dict(zip(ids, zip(homes, column("birth_date"), column("sex"), strict=True), strict=True))
    targets = _RuleCache(targets)  # type: ignore[assignment]  # one rule lookup per form, not per row
    pair_period = {(r["committee_code"], r["form_code"]): r["period"] for r in pairs.iter_rows(named=True)}
    sent = set(pair_period) | (known_pairs(known) if isinstance(known, pl.DataFrame) else (known or set()))
    kept_exits = set(targets.drop_after_removal)
    gone_everywhere: dict[str, str] = {}
    gone_committee: dict[tuple[str, str], str] = {}
    gone_form: dict[tuple[str, str, str], str] = {}
    for e in (exits if exits is not None else pl.DataFrame()).iter_rows(named=True):
        reason = e["reason"]
        if reason not in kept_exits:
            continue
        if reason in GLOBAL_EXITS:
            gone_everywhere[e["person_id"]] = reason
        elif reason in COMMITTEE_EXITS:
            gone_committee[(e["person_id"], e["committee_code"])] = reason
        else:
            gone_form[(e["person_id"], e["committee_code"], e["form_code"])] = reason

    # candidates: (committee, form) -> person -> (reason, last_period, last_committee); carried beats moved beats enrolled
    cand: dict[tuple[str, str], dict[str, tuple[str, str | None, str | None]]] = {}
    dropped: list[tuple] = []
    rank = {"carried_forward": 0, "moved_in": 1, "enrolled": 2}

    def offer(key: tuple[str, str], pid: str, reason: str, lp: str | None, lc: str | None) -> None:
        have = cand.setdefault(key, {})
        if pid not in have or rank[reason] < rank[have[pid][0]]:
            have[pid] = (reason, lp, lc)

    last_rows = last.unique(["committee_code", "form_code", "person_id"]).select(
        "committee_code", "form_code", "period", "person_id"
    )
    for committee, form, period, pid in last_rows.iter_rows():
        key = (committee, form)
        if key not in sent or not targets.rule(form).carry_forward:
            continue
        p = info.get(pid)
        home = p[0] if p else committee
        if home == committee:
            if key in pair_period:
                offer(key, pid, "carried_forward", period, committee)
            continue
        if key in pair_period:
            dropped.append((*key, pid, "moved_out", period, committee))
        if (home, form) in pair_period:
            offer((home, form), pid, "moved_in", period, committee)
    enrol_forms = {f for (_, f) in pair_period if targets.rule(f).enrol}
    if enrol_forms:
        for pid, home in zip(ids, homes, strict=True):
            for form in enrol_forms:
                key = (home, form)
                if key in pair_period:
                    offer(key, pid, "enrolled", None, None)

    rows: list[tuple] = []
    for (committee, form), people in cand.items():
        rule = targets.rule(form)
        period = pair_period[(committee, form)]
        day = coverage_date(period, rule.coverage_date)
        for pid, (reason, lp, lc) in people.items():
            p = info.get(pid, (None, None, None))
            gone = (gone_everywhere.get(pid) or gone_committee.get((pid, committee))
                    or gone_form.get((pid, committee, form)))  # fmt: skip
            if gone:
                if reason != "enrolled":
                    rows.append((committee, form, period, day, pid, "dropped", f"removed:{gone}", lp, lc))
                continue
            fits, why = _fits(rule, p[1], p[2], day)
            if reason == "enrolled" and why == "age_unknown":
                continue  # an age rule enrols only persons whose age is known; carried-forward ones stay
            if not fits:
                if reason != "enrolled":  # a resident who never was on the form is simply not listed
                    rows.append((committee, form, period, day, pid, "dropped", why, lp, lc))
                continue
            text = reason if reason != "enrolled" else f"enrolled:{rule.target}"
            rows.append(
                (committee, form, period, day, pid, "on", text + (f" ({why})" if why else ""), lp, lc)
            )
    for committee, form, pid, why, lp, lc in dropped:
        period = pair_period[(committee, form)]
        day = coverage_date(period, targets.rule(form).coverage_date)
        rows.append((committee, form, period, day, pid, "dropped", why, lp, lc))
    return pl.DataFrame(rows, schema=ROSTER_SCHEMA, orient="row").sort(
        "committee_code", "form_code", "status", "person_id", descending=[False, False, True, False]
    )
