"""Feature transforms: normalize once per distinct value, compare many times.

The civil-data transforms are ingestion's vectorized normalizers (assets/ingest/normalize.py) and the
shared Chinese text rules (assets/common/civil_text.py), so the pipeline and the engine read a value the
same way: `id_number` (GB 11643: full-width digits, lowercase x, spaces and dashes, 15 → 18 digits; companions
`__valid`, `__birth`, `__sex`), `date` (every form ingestion accepts, and 出生年月 year-months), `sex`
(男/女/1/2/M/F), `phone` (+86, 0086, dashes, spaces, 021 landlines with or without the area code), `name`
(traditional → simplified, middle dots, spaces; companion `__py`, toneless pinyin) and `address`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from assets.common.civil_text import address, person_name
from assets.common.gb11643 import check_digit
from assets.ingest.normalize import (
    normalize_id_number,
    normalize_phone,
    normalize_sex,
    parse_date,
    parse_year_month,
)
from assets.matching.codes import code_column
from assets.matching.parse_report import EXAMPLES, READING_TRANSFORMS, present_expr


def id_to_18(raw: str | None) -> str | None:
    """Python twin of the id_number transform (for tests and small inputs)."""
    if raw is None:
        return None
    s = "".join(c for c in raw.upper() if c.isdigit() or c == "X")
    if len(s) == 15 and s.isdigit():
        body = s[:6] + "19" + s[6:]
        return body + check_digit(body)
    return s if len(s) == 18 and s[:17].isdigit() else None


def _blank_to_null(expr: pl.Expr) -> pl.Expr:
    # (not when/then: that would repeat the whole expression tree and compute it twice)
    return expr.replace("", None)


def _text(expr: pl.Expr) -> pl.Expr:
    return _blank_to_null(expr.cast(pl.String).str.normalize("NFKC").str.replace_all(r"\s+", ""))


def id_number_frame(frame: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
    """`name` (18 chars, or null when blank or malformed), `name__valid`, `name__birth`, `name__sex`, by
    ingestion's `normalize_id_number`. Valid = a real birth date (1900 to today) and the right check
    character; a converted 15-digit number is valid."""
    t = f"__{name}_"
    out = frame.with_columns(
        normalize_id_number(
            pl.col(col).cast(pl.String), min_birth_date=dt.date(1900, 1, 1), max_birth_date=dt.date.today()
        ).alias(t)
    )
    status = pl.col(t).struct.field("status")
    valid = status.is_in(["valid", "converted_15"])
    well_formed = ~status.is_in(["blank", "malformed", "placeholder"])  # 000000000000000000 is no number
    out = out.with_columns(
        pl.when(well_formed).then(pl.col(t).struct.field("value")).alias(name),
        valid.fill_null(False).alias(f"{name}__valid"),
        pl.when(valid).then(pl.col(t).struct.field("birth_date")).alias(f"{name}__birth"),
        pl.when(well_formed).then(pl.col(t).struct.field("sex")).alias(f"{name}__sex"),
    )
    return out.drop(t)


@lru_cache(maxsize=1)
def _pinyin_table() -> dict[int, str]:
    """pypinyin's character table (code point -> readings), read from its data file: importing the
    `pypinyin` package also loads its phrase dictionary (~0.3 s), which a character table does not need."""
    found = importlib.util.find_spec("pypinyin")  # (a top-level name: the package is not executed)
    for where in (found.submodule_search_locations or []) if found else []:
        path = Path(where) / "pinyin_dict.json"
        if path.is_file():
            return {int(k): v for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    from pypinyin.pinyin_dict import pinyin_dict  # another layout: the package's own loader

    return pinyin_dict


@lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    """First reading of a character, toneless (ü as v): from pypinyin's character table only, which
    loads in a fraction of the time of its phrase dictionary."""
    reading = _pinyin_table().get(ord(ch))
    if not reading:
        return ch
    first = unicodedata.normalize("NFD", reading.split(",")[0]).replace("u\u0308", "v")
    return "".join(c for c in first if not unicodedata.combining(c))


def pinyin_series(values: pl.Series) -> pl.Series:
    """Toneless pinyin of each string, character by character (first reading of a polyphone), so
    homophone typos such as 张伟/章伟 become equal. One Aho-Corasick pass over a per-character table."""
    chars = set("".join(values.drop_nulls().unique().to_list()))
    mapping = {c: _char_pinyin(c) for c in sorted(chars) if not c.isascii()}
    if not mapping:
        return values
    return values.str.replace_many(list(mapping), list(mapping.values()))


def _feature_exprs(name: str, feat, dtype: pl.DataType, source: str | None = None) -> list[pl.Expr]:
    col = pl.col(source or feat.column)
    t = feat.transform
    if t in ("text", "pinyin"):
        return [_text(col).alias(name)]
    if t == "upper":
        return [_text(col).str.to_uppercase().alias(name)]
    if t == "digits":
        return [
            _blank_to_null(col.cast(pl.String).str.normalize("NFKC").str.replace_all(r"\D", "")).alias(name)
        ]
    if t == "phone":
        return [normalize_phone(col.cast(pl.String)).struct.field("value").alias(name)]
    if t == "sex":
        return [normalize_sex(col.cast(pl.String)).struct.field("value").alias(name)]
    if t == "date":
        if dtype in (pl.Date, pl.Datetime):
            return [col.cast(pl.Date).alias(name)]
        text = col.cast(pl.String)
        return [
            pl.coalesce(
                parse_date(text).struct.field("value"), parse_year_month(text).struct.field("value")
            ).alias(name)
        ]
    return [col.alias(name)]  # none; name and address are series functions (see _series_feature)


def _series_feature(name: str, feat, values: pl.Series) -> pl.Series | None:
    """Transforms that work on a whole column of distinct values (a character table, not an expression)."""
    if feat.transform == "name":
        return person_name(values).alias(name)
    if feat.transform == "address":
        return address(values, tuple(feat.strip_prefixes)).alias(name)
    return None


FREQ = "__freq"  # suffix of a feature's frequency column (see record_features)


def distinct_codes(values: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(the distinct values, per row the index of its value among them), so that work done once per
    distinct value is spread back to the rows by a gather instead of a join.

    Rows are grouped by a 64-bit hash (no string hash table), and the grouping is then checked against
    the strings themselves; if two different values ever shared a hash, the exact (slower)
    unique-and-join path is taken instead."""
    n = len(values)
    hashes = values.hash(seed=0)
    uniq = hashes.unique()
    if len(uniq) * 8 <= n:  # few distinct values (sex, a committee code): a join on the hash is cheaper
        index = uniq.to_frame("h").with_row_index("i")
        codes = hashes.to_frame("h").join(index, on="h", how="left", maintain_order="left")["i"]
    else:  # many: a dense rank (one sort of integers) beats a hash table of them
        codes = hashes.rank("dense") - 1
    codes = codes.cast(pl.UInt32)
    k = len(uniq)
    first = np.zeros(k, dtype=np.int64)
    first[codes.to_numpy()] = np.arange(n)  # any row of each group stands for it
    distinct = values.gather(first)
    if not distinct.gather(codes).eq_missing(values).all():
        distinct = values.unique()
        index = distinct.to_frame("v").with_row_index("i")
        codes = (
            values.to_frame("v").join(index, on="v", how="left", nulls_equal=True, maintain_order="left")["i"]
        ).cast(pl.UInt32)
    return distinct, codes


def _value_codes(values: pl.Series) -> pl.Series:
    """An integer per value, equal iff the values are equal, null iff null (codes.py)."""
    _, idx = distinct_codes(values)
    return idx.zip_with(values.is_not_null(), pl.repeat(None, len(idx), dtype=idx.dtype, eager=True))


def _count_unread(
    derived: pl.DataFrame,
    codes: pl.Series,
    height: int,
    names: list[list[str]],
    spec_features: dict,
    unread: dict[str, tuple[int, int, tuple[str, ...]]],
) -> None:
    """parse_report.unparsed_counts on the distinct values `__src` of `derived`, weighted by how many rows
    of each column hold them (column j's rows are `codes[j * height : (j + 1) * height]`)."""
    template = names[0]
    reading = [k for k, t in enumerate(template) if spec_features[t].transform in READING_TRANSFORMS]
    if not reading:
        return
    present = derived.select(present_expr(pl.col("__src"))).to_series().to_numpy()
    for j, own in enumerate(names):
        count = np.bincount(codes.slice(j * height, height).to_numpy(), minlength=derived.height)
        for k in reading:
            hit = present & derived[template[k]].is_null().to_numpy()
            idx = np.flatnonzero(hit & (count > 0))
            top = (
                pl.DataFrame({"v": derived["__src"].gather(idx).cast(pl.String), "n": count[idx]})
                .sort(["n", "v"], descending=[True, False])
                .head(EXAMPLES)
            )
            unread[own[k]] = (int(count[present].sum()), int(count[hit].sum()), tuple(top["v"].to_list()))


def record_features(
    frame: pl.DataFrame,
    spec_features: dict,
    need_pinyin: set[str],
    counted: set[str] = frozenset(),
    coded: set[str] = frozenset(),
    unread: dict[str, tuple[int, int, tuple[str, ...]]] | None = None,
) -> pl.DataFrame:
    """Every feature of every record, with the string work done once per distinct input value.

    Names, addresses and ID numbers repeat across forms: each text column is reduced to its distinct
    values, normalized there, and the results are gathered back to the rows, so a million rows cost what
    their vocabulary costs. Features of date and number columns are computed per row (cheap). A feature
    named in `counted` also gets `<feature>__freq`: how many records hold its (normalized) value, null
    when it is null (from the distinct values' counts, far cheaper than a window over all records). A
    text feature named in `coded` also gets `__code_<feature>`, an integer code of its value (codes.py),
    computed on the distinct values. With `unread`, it receives per feature read from a text column by a
    parsing transform (parse_report.py) the rows with a raw value, those whose feature came out empty,
    and the most frequent such raw values (counted on the distinct values, not row by row)."""
    by_column: dict[str, list[str]] = {}
    for name, feat in spec_features.items():
        if feat.column is not None:
            by_column.setdefault(feat.column, []).append(name)
    direct: list[pl.Expr] = []
    todo: list[tuple[str, list[str]]] = []
    for column, names in by_column.items():
        dtype = frame.schema[column]
        if dtype in (pl.Date, pl.Datetime) or not isinstance(dtype, (pl.String, pl.Categorical)):
            if any(spec_features[n].transform in ("name", "address") for n in names):
                frame = frame.with_columns(pl.col(column).cast(pl.String))
                todo.append((column, names))
                continue
            direct.extend(e for n in names for e in _feature_exprs(n, spec_features[n], dtype))
        else:
            todo.append((column, names))

    def derive(columns: list[str], names: list[list[str]]) -> list[pl.DataFrame]:
        """Features of `columns` (one list of feature names per column, transformed alike): the distinct
        values of all of them are normalized once, and each column gathers its own rows."""
        dtype = frame.schema[columns[0]]
        raw = frame[columns[0]] if len(columns) == 1 else pl.concat([frame[c] for c in columns])
        values, codes = distinct_codes(raw)
        del raw
        derived = values.alias("__src").to_frame()
        template = names[0]
        if any(n in counted for n in template):  # (never for several columns: counts are per column)
            derived = derived.with_columns(
                pl.Series("__n", np.bincount(codes.to_numpy(), minlength=len(values)))
            )
        for n in template:
            feat = spec_features[n]
            if feat.transform == "id_number":
                derived = id_number_frame(derived, "__src", n)
            elif feat.transform in ("name", "address"):
                derived = derived.with_columns(_series_feature(n, feat, derived["__src"].cast(pl.String)))
            else:
                derived = derived.with_columns(_feature_exprs(n, feat, dtype, "__src"))
            if feat.transform == "pinyin":
                derived = derived.with_columns(pinyin_series(derived[n]).alias(n))
            if n in need_pinyin:
                derived = derived.with_columns(pinyin_series(derived[n]).alias(f"{n}__py"))
            if n in counted:
                freq = pl.when(pl.col(n).is_not_null()).then(pl.col("__n").sum().over(n))
                derived = derived.with_columns(freq.cast(pl.Float64).alias(n + FREQ))
            if n in coded and derived.schema[n] == pl.String:
                derived = derived.with_columns(_value_codes(derived[n]).alias(code_column(n)))
        if unread is not None:
            _count_unread(derived, codes, frame.height, names, spec_features, unread)
        derived = derived.drop("__src", "__n", strict=False)
        out = []
        for j, own in enumerate(names):
            rename = {}
            for t, n in zip(template, own, strict=True):
                rename.update(
                    {c: n + c[len(t) :] for c in derived.columns if c == t or c.startswith(t + "__")}
                )
                if code_column(t) in derived.columns:
                    rename[code_column(t)] = code_column(n)
            rows = codes.slice(j * frame.height, frame.height)
            out.append(derived.gather(rows).rename(rename))
        return out

    # Columns whose features are the same transforms (a household and a residence address) share one
    # vocabulary: their distinct values are normalized once.
    jobs: dict[tuple, tuple[list[str], list[list[str]]]] = {}
    for column, names in todo:
        key = (
            frame.schema[column],
            tuple(
                (
                    spec_features[n].model_dump_json(exclude={"column"}),
                    n in need_pinyin,
                    n in counted,
                    n in coded,
                )
                for n in names
            ),
        )
        if any(n in counted for n in names):
            key = (column, *key)  # a frequency is the column's own
        cols, groups = jobs.setdefault(key, ([], []))
        cols.append(column)
        groups.append(names)
    # Columns are independent and polars releases the GIL: derive them side by side.
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(jobs)))) as pool:
        parts = list(pool.map(lambda job: derive(*job), jobs.values()))
    by_col = {
        c: f
        for (cols, _), part in zip(jobs.values(), parts, strict=True)
        for c, f in zip(cols, part, strict=True)
    }
    return pl.concat([frame.select(direct), *(by_col[c] for c, _ in todo)], how="horizontal")
