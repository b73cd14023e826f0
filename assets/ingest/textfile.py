"""Delimited text as offices export it: guess the encoding and the dialect, keep physical line numbers.

Excel and WPS write CSV in UTF-8 (with or without BOM), GBK or GB18030; "Unicode text" is UTF-16 LE with a
BOM and tab-separated; hand edits leave a BOM that no longer matches the bytes after it; some districts use
semicolons or pipes. Nothing here interprets cell values.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig", "utf-8"),
    (b"\xff\xfe", "utf-16-le", "utf-16-le"),  # Excel "Unicode text"
    (b"\xfe\xff", "utf-16-be", "utf-16-be"),
)
PLAIN_ENCODINGS = ("utf-8", "gbk", "gb18030")
DELIMITERS = (",", "\t", ";", "|")
SNIFF_RECORDS = 200


class TextDecodeError(ValueError):
    """Bytes that are none of the encodings districts use."""


@dataclass
class Decoded:
    text: str
    encoding: str
    notes: list[str] = field(default_factory=list)


# ASCII printable, tab and line breaks; ° · × in Latin-1; CJK ideographs (with extension A); punctuation, number
# forms, ① ② …, arrows, shapes, √; CJK punctuation; compatibility ideographs; full-width forms; CJK extensions
# B… (GB18030 four-byte codes)
_PLAUSIBLE = re.compile(
    "[\x20-\x7e\t\r\n\xa0-\xff\u3400-\u9fff\u2000-\u2bff\u3000-\u303f\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003ffff]+"
)


def _plausible(text: str) -> float:
    """Share of characters a Chinese office file is made of (ASCII, CJK, CJK and full-width punctuation).

    Decoding UTF-8 bytes as UTF-16 "succeeds" but yields Hangul and rare ideographs with no line breaks;
    this score tells such a decode from a real one.
    """
    sample = text[:20000]
    if not sample:
        return 1.0
    good = sum(len(run) for run in _PLAUSIBLE.findall(sample))
    score = good / len(sample)
    if len(sample) > 200 and "\n" not in sample and "\r" not in sample:
        score /= 2  # a real export of that size has line breaks
    return score


def _tabular(text: str) -> bool:
    """Any table exported as text has a line break or a delimiter; random bytes read as UTF-16 have none."""
    return any(ch in text for ch in "\n\r\t,;|")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 exported without a BOM shows as NUL bytes on one side of every ASCII character."""
    sample = data[:4000]
    if len(sample) < 4 or sample.count(0) < len(sample) // 8:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    return "utf-16-be" if even_nuls > odd_nuls else "utf-16-le"


def decode_bytes(data: bytes, source_file: str) -> Decoded:
    """Decode text bytes: the BOM's encoding when it fits, else UTF-16 by NUL pattern, UTF-8, GBK, GB18030.

    A BOM that does not match the bytes after it (a GBK file with a UTF-8 BOM pasted in front, a UTF-8
    file behind a UTF-16 BOM) is dropped with a note instead of rejecting the file.
    """
    notes: list[str] = []
    body = data
    for bom, name, codec in BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                text = body.decode(codec)
            except UnicodeDecodeError:
                text = None
            if text is not None and _plausible(text) >= 0.9 and (codec == "utf-8" or _tabular(text)):
                return Decoded(text, name)
            notes.append(f"{name} byte-order mark does not match the content; ignored")
            break
    guessed = _utf16_without_bom(body)
    candidates = ((guessed,) if guessed else ()) + PLAIN_ENCODINGS
    best: Decoded | None = None
    best_score = -1.0
    for codec in candidates:
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec.startswith("utf-16") and not _tabular(text):
            continue
        found = list(notes)
        nuls = text.count("\x00")
        if nuls:
            if nuls > len(text) // 100:
                continue  # many NULs: the bytes are not in this encoding
            text = text.replace("\x00", "")
            found.append(f"{nuls} NUL character(s) removed")
        score = _plausible(text)
        if codec == "utf-8" or score >= 0.98:  # bytes that are valid UTF-8 by chance are vanishingly rare
            return Decoded(text.lstrip("\ufeff"), codec, found)
        if score > best_score:
            best, best_score = Decoded(text.lstrip("\ufeff"), codec, found), score
    if best is not None and best_score >= 0.8:
        return best
    raise TextDecodeError(f"{source_file}: not UTF-8, UTF-16, GBK or GB18030 text")


@dataclass
class Dialect:
    delimiter: str
    quotechar: str = '"'
    consistency: float = 0.0  # share of non-blank records with the modal number of cells
    columns: int = 1


def _records(text: str, delimiter: str, quotechar: str, limit: int | None) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar, strict=False)
    out: list[list[str]] = []
    try:
        for cells in reader:
            out.append(cells)
            if limit is not None and len(out) >= limit:
                break
    except csv.Error:
        return out
    return out


def _sep_hint(text: str) -> str | None:
    """Excel's "sep=;" first line names the delimiter outright."""
    first = text[:12].split("\n", 1)[0].strip()
    if first.lower().startswith("sep=") and len(first) == 5:
        return first[4]
    return None


def sniff_dialect(
    text: str, delimiters: tuple[str, ...] = DELIMITERS, sample: int = SNIFF_RECORDS
) -> Dialect:
    """The delimiter under which most records have the same number of cells (and more than one).

    Title, blank and sign-off rows have one cell under every delimiter, so they do not decide; a stray
    comma inside an address breaks one record under ',' but not the majority. Ties go to more columns,
    then to the order of `delimiters` (comma first).
    """
    hint = _sep_hint(text)
    if hint:
        records = _records(text, hint, '"', sample)
        return Dialect(hint, '"', 1.0, max((len(r) for r in records), default=1))
    best = Dialect(delimiters[0])
    best_key: tuple[float, int, int] = (-1.0, 0, 0)
    for rank, delimiter in enumerate(delimiters):
        records = _records(text, delimiter, '"', sample)
        widths = [len(r) for r in records if any(c.strip() for c in r)]
        multi = [w for w in widths if w > 1]
        if not multi:
            continue
        mode, count = Counter(multi).most_common(1)[0]
        consistency = count / len(widths)
        key = (round(consistency, 2), mode, -rank)
        if key > best_key:
            best_key, best = key, Dialect(delimiter, '"', consistency, mode)
    return best


def _runaway(cells: list[str], dialect: Dialect) -> bool:
    """A stray quote swallowed whole rows: a continuation line of one cell looks like a row of its own."""
    needed = max(2, dialect.columns // 2)
    for cell in cells:
        if "\n" in cell or "\r" in cell:
            for line in cell.splitlines()[1:]:
                if line.count(dialect.delimiter) >= needed:
                    return True
    return False


def read_records(
    text: str, dialect: Dialect, flags: dict[int, list[str]] | None = None
) -> list[tuple[int, list[str]]]:
    """Every record with the PHYSICAL line number it starts on (a quoted cell may span lines).

    A record that a stray, unbalanced quote stretched over following rows is split back into its
    physical lines, each read on its own and flagged `unbalanced_quote` in `flags` (row → flags).
    """
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=dialect.delimiter, quotechar=dialect.quotechar
    )
    rows: list[tuple[int, list[str]]] = []
    lines: list[str] | None = None
    start = 1
    for cells in reader:
        end = reader.line_num
        if end > start and _runaway(cells, dialect):
            lines = lines if lines is not None else io.StringIO(text, newline="").readlines()
            for number in range(start, end + 1):
                line = lines[number - 1] if number <= len(lines) else ""
                one = next(csv.reader([line.rstrip("\r\n")], delimiter=dialect.delimiter,
                                      quotechar=dialect.quotechar), [])  # fmt: skip
                rows.append((number, one))
                if flags is not None:
                    flags.setdefault(number, []).append("unbalanced_quote")
        else:
            rows.append((start, cells))
        start = end + 1
    return rows


def clean_cell(text: str) -> str:
    """Drop control characters some exporters leave in cells (keep line breaks and tabs)."""
    if text.isprintable():
        return text
    return "".join(ch for ch in text if ch in "\r\n\t" or unicodedata.category(ch) != "Cc")
