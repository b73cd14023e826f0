"""The one contract for the project's closed vocabularies.

Code, the Great Expectations suites (`{"vocabulary": "<name>"}` in a `value_set`), the catalog reader and the
docs all name these values; `tests/test_vocabulary.py` fails when any of them names a value that is not here.
A new flag or status is added here first, then emitted by code.
"""

from __future__ import annotations

# field types: the catalog's Chinese 字段类型 label → the type every layer uses
FIELD_TYPE_LABELS: dict[str, str] = {
    "文本": "text",
    "身份证号": "id_number",
    "日期": "date",
    "年月": "year_month",
    "电话": "phone",
    "性别": "sex",
    "整数": "integer",
    "数值": "decimal",
    "是否": "bool",
}
FIELD_TYPES: tuple[str, ...] = tuple(FIELD_TYPE_LABELS.values())

# staging.form_records.id_status
ID_STATUSES: tuple[str, ...] = (
    "valid",
    "converted_15",
    "wrong_check_digit",
    "invalid_date",
    "malformed",
    "precision_lost",
    "placeholder",  # 000000000000000000, 111111111111111111, 无, 不详, /: a stand-in for no number
    "blank",
)

# staging.form_values.value_flag: what a value normalizer says about one value
VALUE_FLAGS: tuple[str, ...] = (
    "malformed",
    "invalid_date",
    "wrong_check_digit",  # id_number (the id status when it is a problem)
    "unparsed_date",
    "unparsed_year_month",
    "unparsed_phone",
    "unparsed_sex",
    "unparsed_bool",
    "not_a_number",
    "not_an_integer",
    "unknown_field_type",  # normalize_frame_by_type: a field type outside FIELD_TYPES
    "precision_lost",  # id_number that went through a float (3.10115E+17, …1000 from Excel's 15 digits)
    "partial_date",  # a date known to the year or month only (1985, 1985.3, 1985年3月): value YYYY or YYYY-MM
    "two_digit_year",  # a date written 85.3.7: read (19yy or 20yy, never after the run date) and flagged
    "placeholder",  # id_number 000000000000000000, 无, 不详, /: no number given (value null)
)

# raw.landing_files.status
FILE_STATUSES: tuple[str, ...] = ("ingested", "rejected", "superseded", "duplicate", "ignored")

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "field_types": FIELD_TYPES,
    "id_statuses": ID_STATUSES,
    "value_flags": VALUE_FLAGS,
    "file_statuses": FILE_STATUSES,
}


def vocabulary(name: str) -> tuple[str, ...]:
    """The values of vocabulary `name` (a clear error naming the known ones otherwise)."""
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise KeyError(f"unknown vocabulary {name!r}; known: {', '.join(sorted(VOCABULARIES))}") from None
