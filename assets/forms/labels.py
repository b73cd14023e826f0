"""Which element does a field's label name? Label normalization, similarity, and the dictionary's targets.

Why a module of its own: the label side of field matching (assets/forms/matching.py) is a pure function of
the label and schemas/forms/matching.yaml; the value side lives in assets/forms/profiling.py.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from assets.forms.dictionary import Dictionary, MatchingSettings, SchemaFileError

_BRACKETED = re.compile(
    r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|<[^<>]*>|「[^「」]*」|『[^『』]*』|\{[^{}]*\}"
)
_NOT_WORD = re.compile(r"[\W_]+")


# ── label normalization and similarity ──────────────────────────────────────────────────────────────────


def _strip_brackets(text: str) -> str:
    previous = None
    while previous != text:  # nested notes: 身份证号（18位（必填））
        previous, text = text, _BRACKETED.sub("", text)
    return text


def base_label(label: str) -> str:
    """NFKC, lower case, bracketed notes and punctuation/whitespace removed: the words actually asked."""
    text = unicodedata.normalize("NFKC", label or "").lower()
    return _NOT_WORD.sub("", _strip_brackets(text))


def normalize_label(label: str, settings: MatchingSettings) -> str:
    """The comparison form of a label: base label, 号码→号, fillers removed, leading subject words stripped.

    "身份证号码（18位）" → "身份证号"; "老人的联系电话" → "联系电话"; "是否独居" → "独居".
    A prefix is stripped only when at least two characters remain, so a label never empties.
    """
    text = base_label(label)
    for word, same in settings.normalize.equivalents.items():
        text = text.replace(word, same)
    for filler in settings.normalize.fillers:
        text = text.replace(filler, "")
    prefixes = sorted(settings.normalize.strip_prefixes, key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for prefix in prefixes:
            if text.startswith(prefix) and len(text) - len(prefix) >= 2:
                text = text[len(prefix) :]
                changed = True
                break
    return text


def other_person_marker(label: str, settings: MatchingSettings) -> str | None:
    """The marker word when the label is about someone other than the row's subject (监护人身份证号)."""
    text = base_label(label)
    return next((m for m in settings.normalize.other_person_markers if m and m in text), None)


def similarity(label: str, target: str, settings: MatchingSettings) -> float:
    """Similarity in [0, 1] of two normalized labels.

    Character-level Indel ratio (rapidfuzz) catches variants such as 户籍详址/户籍地址. Chinese noun compounds
    are head-final, so a target that *ends* the label ("本人电话" → 电话) is strong evidence, while a target
    elsewhere inside it ("姓名拼音", "身份证有效期") is weak: the head noun is something else. A label that is
    only the tail of a target ("补贴金额" of "高龄补贴金额") lacks the qualifier and is capped as weak too.
    """
    if not label or not target:
        return 0.0
    if label == target:
        return 1.0
    score = fuzz.ratio(label, target) / 100.0
    th = settings.thresholds
    if len(label) < len(target) and target.endswith(label):
        # the label is the target without its qualifier ("补贴金额" vs "高龄补贴金额"): too generic to be sure
        return round(min(score, th.inner_base), 4)
    if len(target) >= 2 and len(target) < len(label):
        share = len(target) / len(label)
        if label.endswith(target):
            score = max(score, th.suffix_base + (1 - th.suffix_base) * share)
        elif target in label:
            score = max(score, th.inner_base * (0.5 + 0.5 * share))
    return round(score, 4)


@dataclass(frozen=True)
class Targets:
    """Normalized names and synonyms of the dictionary, each pointing at one element."""

    by_label: dict[str, str]

    @classmethod
    def build(cls, dictionary: Dictionary, settings: MatchingSettings) -> Targets:
        by_label: dict[str, str] = {}
        for element in dictionary.elements:
            for label in element.labels:
                key = normalize_label(label, settings)
                if by_label.get(key, element.code) != element.code:
                    raise SchemaFileError(
                        f"data_elements.yaml: label {label!r} of {element.code!r} normalizes to {key!r}, "
                        f"which is already a label of {by_label[key]!r} (see normalize: in forms/matching.yaml)"
                    )
                by_label[key] = element.code
        return cls(by_label)

    def ranked(self, label: str, settings: MatchingSettings) -> list[tuple[str, float, str]]:
        """(element, best score, the target label that gave it) per element, best first."""
        best: dict[str, tuple[float, str]] = {}
        for target, code in self.by_label.items():
            s = similarity(label, target, settings)
            if s > best.get(code, (-1.0, ""))[0]:
                best[code] = (s, target)
        return sorted(((c, s, t) for c, (s, t) in best.items()), key=lambda x: (-x[1], x[0]))
