"""Field-matching precision and recall on a hand-labelled set of form fields.

Why: the matcher decides which facts count as "the same", so its errors become wrong prefills. This measures
it against labels a person wrote (synth/forms/labelled_fields.csv: field_label, field_type, true_element
(blank = must map to nothing), values_kind, note). `values_kind` asks for synthetic staged values so that
value profiling is exercised too: own_id, other_id, phone, own_birth_date, own_sex, disability_cert,
other_date.

Run: `.venv/bin/python -m synth.forms.evaluate [labelled.csv]` (prints P/R and every miss).
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.forms.dictionary import (
    Dictionary,
    MatchingSettings,
    Overrides,
    exact_key,
    load_dictionary,
    load_matching_settings,
    load_overrides,
)
from assets.forms.matching import FieldProfile, Targets, match_catalog, normalize_label, profile_values

LABELLED_PATH = Path(__file__).with_name("labelled_fields.csv")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def make_id(region: str, birth: dt.date, seq: int) -> str:
    """A valid 18-digit GB 11643 number (sex from the parity of `seq`)."""
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True)) % 11]


def synthetic_people(n: int = 12, offset: int = 0) -> pl.DataFrame:
    """A tiny deterministic population: name, valid ID, birth date and sex agreeing with the ID."""
    rows = []
    for i in range(n):
        k = i + offset
        birth = dt.date(1930 + (k * 7) % 60, 1 + (k * 5) % 12, 1 + (k * 11) % 28)
        seq = 100 + k * 3
        rows.append(
            {
                "person_name": f"测试{k:02d}",
                "id_number": make_id("310101", birth, seq),
                "id_birth_date": birth.isoformat(),
                "id_sex": "男" if seq % 2 else "女",
            }
        )
    return pl.DataFrame(rows)


def synthetic_profile(kind: str) -> FieldProfile | None:
    """The profile of a staged column of `kind`, paired with its rows' own identity."""
    if not kind:
        return None
    own = synthetic_people()
    other = synthetic_people(offset=40)
    values = {
        "own_id": own["id_number"].to_list(),
        "other_id": other["id_number"].to_list(),
        "phone": [f"139{i:08d}" for i in range(own.height)],
        "own_birth_date": [d.replace("-", "/") for d in own["id_birth_date"].to_list()],
        "own_sex": own["id_sex"].to_list(),
        "disability_cert": [f"{x}{i % 7 + 11}" for i, x in enumerate(own["id_number"].to_list())],
        "other_date": [f"2026-0{1 + i % 9}-1{i % 10}" for i in range(own.height)],
    }.get(kind)
    if values is None:
        raise ValueError(f"unknown values_kind {kind!r}")
    return profile_values(values, {c: own[c].to_list() for c in own.columns})


@dataclass(frozen=True)
class Evaluation:
    n: int
    n_absent_from_synonyms: int
    n_beyond_normalization: int
    n_must_map_to_nothing: int
    true_positive: int
    false_positive: int
    false_negative: int
    precision: float
    recall: float
    results: pl.DataFrame  # one row per labelled field with the prediction

    def summary(self) -> str:
        return (
            f"field matching on {self.n} labelled fields ({self.n_absent_from_synonyms} absent from the synonyms, "
            f"{self.n_beyond_normalization} of them not even after normalization, "
            f"{self.n_must_map_to_nothing} that must map to nothing): precision {self.precision:.3f} "
            f"({self.true_positive}/{self.true_positive + self.false_positive}), recall {self.recall:.3f} "
            f"({self.true_positive}/{self.true_positive + self.false_negative})"
        )


def evaluate(
    labelled: pl.DataFrame,
    dictionary: Dictionary,
    overrides: Overrides,
    settings: MatchingSettings,
) -> Evaluation:
    """Match the labelled fields and score them. A prediction is the element of a `mapped` field; review,
    candidate and not_element predict nothing (so review costs recall, never precision)."""
    labelled = labelled.with_columns(
        pl.col("true_element").fill_null("").str.strip_chars(), pl.col("values_kind").fill_null("")
    ).with_row_index("field_order", offset=1)
    fields = labelled.select(
        pl.lit("EVAL").alias("form_code"), pl.col("field_order").cast(pl.Int64), "field_label", "field_type"
    )
    profiles = {
        ("EVAL", int(r["field_order"])): p
        for r in labelled.iter_rows(named=True)
        if (p := synthetic_profile(r["values_kind"])) is not None
    }
    matched = match_catalog(fields, dictionary, overrides, settings, profiles)
    results = labelled.join(
        matched.select(
            pl.col("field_order").cast(pl.UInt32), "element_code", "method", "confidence", "status", "detail"
        ),
        on="field_order",
    ).with_columns(
        pl.when(pl.col("status") == "mapped")
        .then(pl.col("element_code"))
        .otherwise(pl.lit(""))
        .alias("predicted")
    )
    truth, pred = results["true_element"].to_list(), results["predicted"].to_list()
    tp = sum(1 for t, p in zip(truth, pred, strict=True) if p and p == t)
    fp = sum(1 for t, p in zip(truth, pred, strict=True) if p and p != t)
    fn = sum(1 for t, p in zip(truth, pred, strict=True) if t and p != t)
    known = {exact_key(label) for e in dictionary.elements for label in e.labels}
    absent = sum(1 for label in results["field_label"].to_list() if exact_key(label) not in known)
    targets = Targets.build(dictionary, settings)
    beyond = sum(
        1
        for label in results["field_label"].to_list()
        if normalize_label(label, settings) not in targets.by_label
    )
    return Evaluation(
        n=results.height,
        n_absent_from_synonyms=absent,
        n_beyond_normalization=beyond,
        n_must_map_to_nothing=sum(1 for t in truth if not t),
        true_positive=tp,
        false_positive=fp,
        false_negative=fn,
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / (tp + fn) if tp + fn else 1.0,
        results=results,
    )


def read_labelled(path: Path = LABELLED_PATH) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def evaluate_default(path: Path = LABELLED_PATH) -> Evaluation:
    """The evaluation with the current schemas/ files (what the closing note quotes)."""
    dictionary = load_dictionary()
    return evaluate(read_labelled(path), dictionary, load_overrides(dictionary), load_matching_settings())


# generator field source → the element it is (sources not listed here are no catalogued element)
GENERATOR_SOURCES = {
    "name": "person_name", "id": "citizen_id", "sex": "sex", "birth_date": "birth_date",
    "birth_month": "birth_month", "age": "age", "ethnicity": "ethnicity", "marital": "marital_status",
    "education": "education", "party": "political_status", "phone": "phone", "hukou_addr": "household_address",
    "res_addr": "residence_address", "hh_size": "household_size", "relation": "relation_to_head",
    "employment": "employment_status", "disability_category": "disability_category",
    "disability_level": "disability_grade", "dibao_no": "dibao_cert_no", "alone": "lives_alone",
    "elderly_subsidy": "elderly_allowance", "ev_need": "ev_charging_need", "discharge_date": "veteran_discharge_date",
    "health": "health_condition", "insurance": "insurance_type",
}  # fmt: skip
_CATALOG_TYPES = {"文本": "text", "身份证号": "id_number", "日期": "date", "年月": "year_month", "电话": "phone",
                  "性别": "sex", "整数": "integer", "数值": "decimal", "是否": "bool"}  # fmt: skip


def generator_catalog_labelled() -> pl.DataFrame | None:
    """The sample generator's catalog as a second labelled set (labels written by another engineer; the truth
    is each field's `source`). Labels only: no values. None when the generator is not importable."""
    try:
        from synth.generator.catalog import FORMS
    except ImportError:
        return None
    rows = [
        (
            f.label,
            _CATALOG_TYPES.get(f.type, "text"),
            GENERATOR_SOURCES.get(f.source, ""),
            "",
            f"{form.code}/{f.source}",
        )
        for form in FORMS
        for f in form.fields
    ]
    return pl.DataFrame(
        rows, schema=["field_label", "field_type", "true_element", "values_kind", "note"], orient="row"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    ev = evaluate_default(Path(args[0]) if args else LABELLED_PATH)
    print(ev.summary())
    gen = generator_catalog_labelled()
    if gen is not None and not args:
        dictionary = load_dictionary()
        gen_ev = evaluate(gen, dictionary, load_overrides(dictionary), load_matching_settings())
        print("generator catalog (labels only): " + gen_ev.summary().split(": ", 1)[1])
    wrong = ev.results.filter(pl.col("predicted") != pl.col("true_element"))
    for r in wrong.iter_rows(named=True):
        print(
            f"  {r['field_label']!s:<24} truth={r['true_element'] or '-':<22} got={r['predicted'] or '-':<22} "
            f"{r['status']:<9} {r['method']:<13} {r['confidence']:.2f}  {r['detail']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
