"""Read and write record files (CSV or Parquet) for the command line and benchmarks."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

log = logging.getLogger(__name__)


def read_table(path: str | Path, columns: list[str] | None = None) -> pl.DataFrame:
    """CSV (every column as text) or Parquet, by suffix; only `columns` when given, all of which the file
    must have (the error lists the file's own columns). A CSV that is not UTF-8 (GBK, GB18030, UTF-16 as
    offices export it) is decoded by ingestion's detection, with a log line naming the encoding."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes), no header and no records")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        present = list(pl.read_parquet_schema(path))
        _require(path, columns, present)
        return pl.read_parquet(path, columns=columns)
    if suffix in (".csv", ".txt"):
        frame = _read_csv(path)
        frame = frame.rename({c: c.strip() for c in frame.columns})  # "a, b" headers: names without spaces
        _require(path, columns, frame.columns)
        return frame.select(columns) if columns is not None else frame
    raise ValueError(f"{path}: unsupported file type (use .csv or .parquet)")


def _require(path: Path, columns: list[str] | None, present: list[str]) -> None:
    missing = [c for c in columns or [] if c not in present]
    if missing:
        raise ValueError(f"{path}: lacks column(s) {missing} that the spec needs; the file has: {present}")


def _read_csv(path: Path) -> pl.DataFrame:
    """UTF-8 straight from the file; anything else (invalid UTF-8, a UTF-16 byte-order mark or NUL bytes)
    through ingestion's encoding detection, so GBK text is never read as mojibake."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head
    if not utf16:
        try:
            return pl.read_csv(path, infer_schema=False)
        except pl.exceptions.ComputeError as err:
            if "utf-8" not in str(err).lower() and "utf8" not in str(err).lower():
                raise
    from assets.ingest.textfile import decode_bytes  # only for files that are not UTF-8

    decoded = decode_bytes(path.read_bytes(), str(path))  # TextDecodeError (a ValueError) names the file
    log.info("%s: read as %s%s", path, decoded.encoding, "".join(f"; {n}" for n in decoded.notes))
    return pl.read_csv(decoded.text.encode("utf-8"), infer_schema=False)


def write_table(frame: pl.DataFrame, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".parquet", ".pq"):
        frame.write_parquet(path, compression="lz4")  # fast to write and read; outputs are intermediate
    elif path.suffix.lower() in (".csv", ".txt"):
        flat = frame.with_columns(
            [pl.col(c).list.join(",") for c, t in frame.schema.items() if isinstance(t, pl.List)]
        )
        flat.write_csv(path)
    else:
        raise ValueError(f"{path}: unsupported file type (use .csv or .parquet)")
