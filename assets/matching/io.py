"""Read and write record files (CSV or Parquet) for the command line and benchmarks."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def read_table(path: str | Path, columns: list[str] | None = None) -> pl.DataFrame:
    """CSV (UTF-8, every column as text) or Parquet, by suffix; only `columns` when given (and present)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (0 bytes), no header and no records")
    if path.suffix.lower() in (".parquet", ".pq"):
        if columns is not None:
            present = set(pl.read_parquet_schema(path))
            return pl.read_parquet(path, columns=[c for c in columns if c in present])
        return pl.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        frame = frame.rename({c: c.strip() for c in frame.columns})  # "a, b" headers: names without spaces
        return frame.select([c for c in columns if c in frame.columns]) if columns is not None else frame
    raise ValueError(f"{path}: unsupported file type (use .csv or .parquet)")


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
