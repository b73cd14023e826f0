"""The delivered form catalog (报表目录): which forms exist and which fields each one asks for."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from assets.common import vocabulary
from assets.ingest.layout import CatalogField
from assets.ingest.reader import decode_text

FREQUENCIES = {"月报": "monthly", "季报": "quarterly", "年报": "annual", "不定期": "adhoc"}
FIELD_TYPES = vocabulary.FIELD_TYPE_LABELS  # 字段类型 label → field type (the contract)
FORM_COLUMNS = {"报表编号": "form_code", "报表名称": "form_name", "主管部门": "department",
                "下发层级": "issuer_level", "填报频次": "frequency", "填报对象": "target"}  # fmt: skip
FIELD_COLUMNS = {"报表编号": "form_code", "字段序号": "field_order", "字段名称": "field_label",
                 "字段类型": "field_type", "是否必填": "required"}  # fmt: skip


class CatalogError(Exception):
    """The catalog itself is unusable (missing file or columns): nothing can be ingested without it."""


@dataclass
class Catalog:
    forms: pl.DataFrame  # form_code, form_name, department, issuer_level, frequency, target
    fields: pl.DataFrame  # form_code, field_order, field_label, field_type, required
    problems: pl.DataFrame  # source_file, row_number, reason_code, message

    def fields_by_form(
        self, elements: dict[tuple[str, str], str] | None = None
    ) -> dict[str, list[CatalogField]]:
        """Catalog fields per form, each with its data element when the label matcher mapped one."""
        elements = elements or {}
        out: dict[str, list[CatalogField]] = {}
        for row in self.fields.sort("form_code", "field_order").iter_rows(named=True):
            out.setdefault(row["form_code"], []).append(
                CatalogField(
                    row["field_order"],
                    row["field_label"],
                    row["field_type"],
                    row["required"],
                    elements.get((row["form_code"], row["field_label"])),
                )  # fmt: skip
            )
        return out

    def frequency_by_form(self) -> dict[str, str]:
        return dict(zip(self.forms["form_code"], self.forms["frequency"], strict=True))


def label_elements(fields: pl.DataFrame) -> dict[tuple[str, str], str]:
    """(form_code, field_label) → element code, by the forms domain's label matcher (no value profiling yet:
    ingestion runs before there are staged values). Only confident mappings are used; the rest stay untagged."""
    from assets.forms.dictionary import load_dictionary, load_matching_settings, load_overrides
    from assets.forms.matching import match_catalog

    if fields.is_empty():
        return {}
    dictionary = load_dictionary()
    matched = match_catalog(fields, dictionary, load_overrides(dictionary), load_matching_settings())
    mapped = matched.filter(pl.col("status") == "mapped")
    return dict(
        zip(zip(mapped["form_code"], mapped["field_label"], strict=True), mapped["element_code"], strict=True)
    )


def _read_rows(path: Path, columns: dict[str, str]) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise CatalogError(f"{path}: catalog file is missing")
    text, _ = decode_text(path.read_bytes(), str(path))
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in columns if c not in header]
    if missing:
        raise CatalogError(f"{path}: missing column(s) {', '.join(missing)}")
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        rows.append(
            (
                number,
                {
                    columns[h]: (cells[i].strip() if i < len(cells) else "")
                    for i, h in enumerate(header)
                    if h in columns
                },
            )
        )
    return rows


def load_catalog(landing_root: Path) -> Catalog:
    """Read and check `catalog/forms.csv` and `catalog/form_fields.csv`; bad rows become problems."""
    catalog_dir = Path(landing_root) / "catalog"
    problems: list[dict[str, object]] = []
    forms: list[dict[str, object]] = []
    seen_forms: set[str] = set()
    forms_file = catalog_dir / "forms.csv"
    for number, row in _read_rows(forms_file, FORM_COLUMNS):
        where = f"catalog/forms.csv row {number}"
        frequency = FREQUENCIES.get(row["frequency"])
        if not row["form_code"]:
            problems.append(
                _problem("catalog/forms.csv", number, "missing_form_code", f"{where}: 报表编号 is empty")
            )
        elif row["form_code"] in seen_forms:
            problems.append(
                _problem(
                    "catalog/forms.csv",
                    number,
                    "duplicate_form",
                    f"{where}: 报表编号 {row['form_code']} is listed twice",
                )
            )
        elif frequency is None:
            problems.append(
                _problem(
                    "catalog/forms.csv",
                    number,
                    "bad_frequency",
                    f"{where}: 填报频次 '{row['frequency']}' is not one of {', '.join(FREQUENCIES)}",
                )
            )
        else:
            seen_forms.add(row["form_code"])
            forms.append({**row, "frequency": frequency})
    fields: list[dict[str, object]] = []
    seen_fields: set[tuple[str, int]] = set()
    for number, row in _read_rows(catalog_dir / "form_fields.csv", FIELD_COLUMNS):
        where = f"catalog/form_fields.csv row {number}"
        field_type = FIELD_TYPES.get(row["field_type"])
        try:
            order = int(row["field_order"])
        except ValueError:
            order = None
        reason = None
        if row["form_code"] not in seen_forms:
            reason = ("unknown_form", f"{where}: 报表编号 '{row['form_code']}' is not in forms.csv")
        elif order is None:
            reason = ("bad_field_order", f"{where}: 字段序号 '{row['field_order']}' is not an integer")
        elif field_type is None:
            reason = (
                "bad_field_type",
                f"{where}: 字段类型 '{row['field_type']}' is not one of {', '.join(FIELD_TYPES)}",
            )
        elif not row["field_label"]:
            reason = ("missing_field_label", f"{where}: 字段名称 is empty")
        elif (row["form_code"], order) in seen_fields:
            reason = ("duplicate_field", f"{where}: 字段序号 {order} is listed twice for {row['form_code']}")
        if reason:
            problems.append(_problem("catalog/form_fields.csv", number, *reason))
            continue
        seen_fields.add((row["form_code"], order))
        fields.append(
            {**row, "field_order": order, "field_type": field_type, "required": row["required"] == "是"}
        )
    return Catalog(
        forms=pl.DataFrame(forms, schema={c: pl.String for c in FORM_COLUMNS.values()}),
        fields=pl.DataFrame(
            fields,
            schema={
                "form_code": pl.String,
                "field_order": pl.Int32,
                "field_label": pl.String,
                "field_type": pl.String,
                "required": pl.Boolean,
            },
        ),
        problems=pl.DataFrame(
            problems,
            schema={
                "source_file": pl.String,
                "row_number": pl.Int32,
                "reason_code": pl.String,
                "message": pl.String,
            },
        ),
    )


def _problem(source_file: str, row_number: int, reason_code: str, message: str) -> dict[str, object]:
    return {
        "source_file": source_file,
        "row_number": row_number,
        "reason_code": reason_code,
        "message": message,
    }
