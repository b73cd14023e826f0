"""Feature transforms as polars expressions: normalize once per record, compare many times.

The ID-number transform knows GB 11643: 15-digit legacy numbers are widened to 18 digits (century 19,
check digit recomputed), and companions tell whether the check digit and birth date are valid.
"""

from __future__ import annotations

import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import polars as pl

from assets.common.gb11643 import CHECK_CHARS, ID_WEIGHTS, check_digit

ID_CHECK = CHECK_CHARS
_PUNCT = r"[\s\p{P}\p{S}]+"


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


def _strip_prefixes(expr: pl.Expr, prefixes: tuple[str, ...]) -> pl.Expr:
    for prefix in sorted(prefixes, key=len, reverse=True):
        expr = expr.str.strip_prefix(prefix)
    return expr


def _check_chars(first17: pl.Series) -> pl.Series:
    """GB 11643 check characters of 17-digit strings (null stays null), as one numpy dot product."""
    out = np.full(len(first17), None, dtype=object)
    mask = first17.is_not_null().to_numpy()
    if mask.any():
        blob = "".join(first17.filter(first17.is_not_null()).to_list()).encode("ascii")
        digits = (np.frombuffer(blob, dtype=np.uint8).reshape(-1, 17) - 48).astype(np.int64)
        out[mask] = np.array(list(ID_CHECK))[(digits @ np.array(ID_WEIGHTS)) % 11]
    return pl.Series(out.tolist(), dtype=pl.String)


def id_number_frame(frame: pl.DataFrame, col: str, name: str) -> pl.DataFrame:
    """`name` (18 chars or null), `name__valid`, `name__birth`, `name__sex` from the raw column.

    Computed in stages on temporary columns: one big nested expression would repeat its parts."""
    t = f"__{name}_"
    s = pl.col(f"{t}s")
    out = frame.with_columns(
        pl.col(col).cast(pl.String).str.to_uppercase().str.replace_all(r"[^0-9X]", "").alias(f"{t}s")
    )
    out = out.with_columns(
        ((s.str.len_chars() == 15) & s.str.contains(r"^[0-9]{15}$")).alias(f"{t}is15"),
    ).with_columns(
        pl.when(pl.col(f"{t}is15"))
        .then(s.str.slice(0, 6) + pl.lit("19") + s.str.slice(6, 9))
        .when(s.str.contains(r"^[0-9]{17}[0-9X]$"))
        .then(s.str.slice(0, 17))
        .otherwise(None)
        .alias(f"{t}f17")
    )
    f17 = pl.col(f"{t}f17")
    out = out.with_columns(_check_chars(out[f"{t}f17"]).alias(f"{t}chk")).with_columns(
        pl.when(pl.col(f"{t}is15")).then(f17 + pl.col(f"{t}chk")).when(f17.is_not_null()).then(s).alias(name)
    )
    full = pl.col(name)
    out = out.with_columns(
        full.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False).alias(f"{t}birth"),
    ).with_columns(
        ((full.str.slice(17, 1) == pl.col(f"{t}chk")) & pl.col(f"{t}birth").is_not_null())
        .fill_null(False)
        .alias(f"{name}__valid"),
    )
    valid = pl.col(f"{name}__valid")
    out = out.with_columns(
        pl.when(valid).then(pl.col(f"{t}birth")).otherwise(None).alias(f"{name}__birth"),
        pl.when(full.is_not_null())
        .then(
            pl.when(full.str.slice(16, 1).cast(pl.Int32, strict=False).mod(2) == 1)
            .then(pl.lit("男"))
            .otherwise(pl.lit("女"))
        )
        .alias(f"{name}__sex"),
    )
    return out.drop([c for c in out.columns if c.startswith(t)])


@lru_cache(maxsize=65536)
def _char_pinyin(ch: str) -> str:
    """First reading of a character, toneless (ü as v): from pypinyin's character table only, which
    loads in a fraction of the time of its phrase dictionary."""
    from pypinyin.pinyin_dict import pinyin_dict

    reading = pinyin_dict.get(ord(ch))
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
    if t == "address":
        cleaned = col.cast(pl.String).str.normalize("NFKC").str.replace_all(_PUNCT, "")
        return [_blank_to_null(_strip_prefixes(cleaned, feat.strip_prefixes)).alias(name)]
    if t == "date":
        if dtype in (pl.Date, pl.Datetime):
            return [col.cast(pl.Date).alias(name)]
        return [
            col.cast(pl.String).str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias(name)
        ]
    return [col.alias(name)]  # none


def feature_lookups(
    frame: pl.DataFrame, spec_features: dict, need_pinyin: set[str]
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
    """Features computed once per distinct input value.

    Returns (frame with the features that are cheap per row, e.g. of date columns; lookups): each lookup
    maps the distinct values (`__src`) of one input column to that column's features, to be joined back
    in DuckDB. Names, addresses and ID numbers repeat across forms, so this does a fraction of the
    string work of a per-row transform."""
    by_column: dict[str, list[str]] = {}
    for name, feat in spec_features.items():
        if feat.column is not None:
            by_column.setdefault(feat.column, []).append(name)
    direct: list[pl.Expr] = []
    todo: list[tuple[str, list[str]]] = []
    for column, names in by_column.items():
        dtype = frame.schema[column]
        if dtype in (pl.Date, pl.Datetime) or not isinstance(dtype, (pl.String, pl.Categorical)):
            direct.extend(e for n in names for e in _feature_exprs(n, spec_features[n], dtype))
        else:
            todo.append((column, names))

    def derive(column: str, names: list[str]) -> pl.DataFrame:
        dtype = frame.schema[column]
        derived = frame.select(pl.col(column).unique().alias("__src"))
        for n in names:
            feat = spec_features[n]
            if feat.transform == "id_number":
                derived = id_number_frame(derived, "__src", n)
            else:
                derived = derived.with_columns(_feature_exprs(n, feat, dtype, "__src"))
            if feat.transform == "pinyin":
                derived = derived.with_columns(pinyin_series(derived[n]).alias(n))
            if n in need_pinyin:
                derived = derived.with_columns(pinyin_series(derived[n]).alias(f"{n}__py"))
        return derived

    # Columns are independent and polars releases the GIL: derive them side by side.
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(todo)))) as pool:
        results = list(pool.map(lambda item: derive(*item), todo))
    lookups = {column: derived for (column, _), derived in zip(todo, results, strict=True)}
    return frame.select(direct) if direct else pl.DataFrame(), lookups
