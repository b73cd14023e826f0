"""Regenerate the committed binary fixtures (needs LibreOffice and msoffcrypto-tool; tests do not).

    apt-get install -y libreoffice-calc-nogui
    uv venv /tmp/tools && VIRTUAL_ENV=/tmp/tools uv pip install msoffcrypto-tool==6.1.0 xlsxwriter==3.3.1
    PYTHONPATH=. /tmp/tools/bin/python -m tests.ingest.outside.make_fixtures

The sources are written by the same case code the tests use, so the planted rows match the expectations.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from .cases_formats import legacy_source
from .forms import MZ01, mz01
from .model import FIXTURES, Ctx
from .writers import Sheet, write_xlsx


def _convert(src: Path, target: str, outdir: Path) -> Path:
    subprocess.run(
        ["soffice", "--headless", "--convert-to", target, "--outdir", str(outdir), str(src)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return outdir / f"{src.stem}.{target.split(':')[0]}"


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for number, target, name in [
            (11, "xls:MS Excel 97", "case11.xls"),
            (12, "xls:MS Excel 97", "case12.et"),
            (13, "ods", "case13.ods"),
        ]:
            src = t / f"src{number}.xlsx"
            write_xlsx(src, legacy_source(Ctx(t / "unused", number)))
            shutil.copyfile(_convert(src, target, t), FIXTURES / name)
        # case 16: an ordinary workbook, then encrypted with an open password (Agile encryption, like Excel 2016)
        import msoffcrypto.format.ooxml as ooxml

        ctx = Ctx(t / "unused", 16)
        period = ctx.period("monthly")
        plain = t / "plain16.xlsx"
        write_xlsx(
            plain, [Sheet("Sheet1", [MZ01] + [mz01(p, i + 1, period) for i, p in enumerate(ctx.people(3))])]
        )
        with plain.open("rb") as fin, (FIXTURES / "case16_encrypted.xlsx").open("wb") as fout:
            ooxml.OOXMLFile(fin).encrypt("123456", fout)
    for f in sorted(FIXTURES.iterdir()):
        print(f.name, f.stat().st_size)


if __name__ == "__main__":
    main()
