"""Finding, decoding and splitting delivered files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import xlsxwriter

from assets.ingest.reader import (
    FileRejected,
    current_deliveries,
    decode_text,
    discover,
    parse_file,
    validate_location,
)

TEXT = "姓名,公民身份号码\n张伟,310101194001011234\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),  # Excel's "CSV UTF-8" adds a BOM
        (TEXT.encode("gbk"), "gbk"),
        ("𠀀,䶮\n".encode("gb18030"), "gb18030"),  # characters outside GBK need GB18030's 4-byte codes
    ],
)
def test_decode_text_detects_encodings(data: bytes, encoding: str) -> None:
    text, found = decode_text(data, "f.csv")
    assert found == encoding
    assert text.startswith(("姓名", "𠀀"))


def test_decode_text_rejects_garbage() -> None:
    with pytest.raises(FileRejected) as info:
        decode_text(b"\xff\xfe\x00\x81\x30\xff", "310101/X/2026-10/bad.csv")  # invalid in all three codecs
    assert info.value.reason_code == "undecodable" and "bad.csv" in info.value.message


def _touch(root: Path, rel: str, data: bytes = b"x") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_discover_reads_place_and_committee_from_path(tmp_path: Path) -> None:
    _touch(tmp_path, "310101/MZ01/2026-10/310101002001_名册.csv")
    _touch(tmp_path, "310101/MZ01/2026-10/黄浦区_名册.xlsx")  # district-wide: no code in the name
    _touch(tmp_path, "310101/MZ01/stray.csv")  # one level short
    _touch(tmp_path, "310101/MZ01/2026-10/~$310101002001_名册.xlsx")  # Excel lock file: ignored
    files, misplaced = discover(tmp_path)
    assert [(f.form_code, f.period, f.committee_code, f.file_format) for f in files] == [
        ("MZ01", "2026-10", "310101002001", "csv"),
        ("MZ01", "2026-10", None, "xlsx"),
    ]
    assert [m.reason_code for m in misplaced] == ["bad_location"]


def test_a_correction_supersedes_the_original(tmp_path: Path) -> None:
    _touch(tmp_path, "310101/MZ01/2026-10/310101002001_名册_更正.csv")
    _touch(tmp_path, "310101/MZ01/2026-10/310101002001_名册.csv")  # written later, but not a correction
    _touch(tmp_path, "310101/MZ01/2026-10/310101002002_名册.csv")
    files, _ = discover(tmp_path)
    current, superseded = current_deliveries(files)
    assert [f.source_file.rsplit("/", 1)[1] for f in current] == [
        "310101002001_名册_更正.csv",
        "310101002002_名册.csv",
    ]
    assert list(superseded) == ["310101/MZ01/2026-10/310101002001_名册.csv"]


def test_xlsx_rows_keep_their_sheet_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "310101" / "MZ01" / "2026-10" / "310101002001_名册.xlsx"
    path.parent.mkdir(parents=True)
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet("名册")
    sheet.write(1, 0, "XX居委会名册")  # title in row 2: row 1 is empty and must still count
    sheet.write_row(2, 0, ["姓名", "出生日期", "金额"])
    sheet.write_string(3, 0, "张伟")
    sheet.write_datetime(3, 1, dt.datetime(1940, 1, 1), workbook.add_format({"num_format": "yyyy-mm-dd"}))
    sheet.write_number(3, 2, 300)  # integral float → "300", not "300.0"
    workbook.close()
    files, _ = discover(tmp_path)
    parsed = parse_file(files[0], path.read_bytes())
    assert parsed.sheet == "名册"
    assert parsed.rows[1] == (2, ["XX居委会名册", "", ""])
    assert parsed.rows[3] == (4, ["张伟", "1940-01-01", "300"])


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("310101002001_a.xlsx", b"this is not a zip", "unreadable_workbook"),
        ("310101002001_a.csv", b"", "empty_file"),
        ("310101002001_a.docx", b"PK", "unsupported_format"),  # a scanned .pdf is ignored, not read
    ],
)
def test_broken_files_are_rejected_with_a_reason(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    _touch(tmp_path, f"310101/MZ01/2026-10/{name}", data)
    files, _ = discover(tmp_path)
    with pytest.raises(FileRejected) as info:
        parse_file(files[0], data)
    assert info.value.reason_code == reason


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("310101/XX99/2026-10/310101002001_a.csv", "unknown_form"),
        ("310101/MZ01/2026Q3/310101002001_a.csv", "bad_period"),  # a monthly form filed under a quarter
        ("310101/MZ01/2026-10/310104002001_a.csv", "foreign_committee"),  # another district's committee
        ("310101/MZ01/2026-10/310101999999_a.csv", "unknown_committee"),
    ],
)
def test_location_is_validated(tmp_path: Path, rel: str, reason: str) -> None:
    _touch(tmp_path, rel)
    files, _ = discover(tmp_path)
    with pytest.raises(FileRejected) as info:
        validate_location(files[0], {"MZ01": "monthly"}, {"310101002001", "310104002001"})
    assert info.value.reason_code == reason
