"""Which delivery counts: identical bytes, corrections, and roll-ups that repeat committees' rows.

Pure decisions over files already read, so they can be tested without a warehouse:
- the same bytes filed twice in one form/period folder are one delivery: the others are `duplicate`;
- a report is (committee, form, period). A committee's rows come from exactly one file: the best-ranked
  usable file that carries that committee (`landing.ranking`: declared correction, then the committee's own
  file over a district or township roll-up, then modification time, then name). A district-wide file is
  identified by the committees its rows carry, so two township files in one folder both count;
- rows of a committee that another file delivers are replaced, naming that file; a file whose rows are all
  replaced is `superseded`. Unreadable (rejected) files take no part: they never replace anything.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from assets.ingest.landing import LandingFile, ranking


@dataclass
class Usable:
    """A readable delivery and the committees it carries rows for."""

    file: LandingFile
    committees: list[str]


def duplicates(files: Iterable[tuple[LandingFile, str]]) -> dict[str, LandingFile]:
    """source_file → the file kept for identical bytes (same hash) in the same district/form/period folder."""
    groups: dict[tuple[str, str, str, str], list[LandingFile]] = {}
    for file, file_hash in files:
        groups.setdefault((file.district_code, file.form_code, file.period, file_hash), []).append(file)
    out: dict[str, LandingFile] = {}
    for group in groups.values():
        if len(group) < 2:
            continue
        # A plain name beats a hand-made copy (名册 - 副本.xlsx) of the same bytes; then the usual ranking.
        keep = max(group, key=lambda f: (not f.is_copy, *ranking(f)))
        for f in group:
            if f is not keep:
                out[f.source_file] = keep
    return out


def same_bytes_elsewhere(files: Iterable[tuple[LandingFile, str]]) -> dict[str, list[str]]:
    """source_file → other folders' files with the same bytes (a file re-sent as another period: a warning)."""
    by_hash: dict[str, list[LandingFile]] = {}
    for file, file_hash in files:
        by_hash.setdefault(file_hash, []).append(file)
    out: dict[str, list[str]] = {}
    for group in by_hash.values():
        for f in group:
            others = [g.source_file for g in group if (g.form_code, g.period) != (f.form_code, f.period)]
            if others:
                out[f.source_file] = others
    return out


def replacements(usable: list[Usable]) -> dict[str, dict[str, str]]:
    """source_file → {committee: the source_file that delivers that committee's rows instead}.

    Files absent from the result keep all their rows.
    """
    claims: dict[tuple[str, str, str], list[LandingFile]] = {}
    for u in usable:
        for committee in u.committees:
            claims.setdefault((u.file.form_code, u.file.period, committee), []).append(u.file)
    winners = {key: max(files, key=ranking) for key, files in claims.items()}
    out: dict[str, dict[str, str]] = {}
    for u in usable:
        lost = {
            c: winners[(u.file.form_code, u.file.period, c)].source_file
            for c in u.committees
            if winners[(u.file.form_code, u.file.period, c)] is not u.file
        }
        if lost:
            out[u.file.source_file] = lost
    return out


def is_superseded(u: Usable, lost: dict[str, str]) -> bool:
    """Every committee the file carries is delivered by another file."""
    return bool(u.committees) and set(u.committees) <= set(lost)


def main_replacer(lost: dict[str, str]) -> str | None:
    """The file that took over most of a file's committees (named in raw.landing_files.replaced_by)."""
    if not lost:
        return None
    counts: dict[str, int] = {}
    for winner in lost.values():
        counts[winner] = counts.get(winner, 0) + 1
    return max(sorted(counts), key=lambda w: counts[w])


def disposition(
    status: str, lost: dict[str, str] | None, replaced_by: str | None = None, note: str = ""
) -> str:
    """A short fingerprint of what a file's rows became (and what it is warned about): a kept file is re-staged
    when this changes."""
    text = f"{status}|{replaced_by or ''}|{note}|" + ";".join(
        f"{c}>{w}" for c, w in sorted((lost or {}).items())
    )
    return hashlib.sha1(text.encode()).hexdigest()[:12]
