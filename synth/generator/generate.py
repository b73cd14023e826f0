"""Write a whole landing zone (catalog + district deliveries) and its ground truth, one committee at a time.

Order is fixed (districts, committees, forms and periods sorted) and every random stream is seeded from
the config seed and stable keys, so the same config always produces byte-identical files.
"""

from __future__ import annotations

import csv
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import compress
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from assets.common.paths import REFERENCE_DIR
from synth.generator import idcard
from synth.generator.catalog import FORMS, SYNONYM_SWAPS, Form, write_catalog
from synth.generator.config import GeneratorConfig
from synth.generator.filejobs import BufferedSink, FileJob, FileWriter
from synth.generator.periods import (
    SHANGHAI_TZ,
    Period,
    adhoc_periods,
    annual_periods,
    delivery_time,
    monthly_periods,
    quarterly_periods,
)
from synth.generator.population import (
    CommitteeCtx,
    Resident,
    World,
    _given,
    _mobile,
    _surname,
    committee_residents,
    plan_movers,
    stable_seed,
)
from synth.generator.render import (
    FILE_KINDS,
    ROW_KINDS,
    Layout,
    PeriodCtx,
    Planter,
    RenderedRow,
    Style,
    choose_style,
    render_rows,
)
from synth.generator.vrender import Block, render_block
from synth.generator.writers import CsvSink, XlsxSink, write_broken

DIVISIONS_CSV = REFERENCE_DIR / "shanghai_divisions.csv"
FIXED_MTIME = datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI_TZ).timestamp()
BROKEN_KINDS = ("empty", "not_zip", "no_header", "unknown_form")
UNKNOWN_FORM = ("ZZ99", "临时摸底统计表")
EXTRA_COLUMNS = ("备注", "所属网格", "楼组长", "核对情况")
XLSX_SAFE_PEOPLE = 800_000
AMOUNT_SOURCES = {"elderly_subsidy", "dibao_amount", "aid_amount", "disability_subsidy", "rent"}
GT_SCHEMA = pl.Schema(
    {
        "source_file": pl.String,
        "sheet": pl.String,
        "row_number": pl.Int32,
        "person_id": pl.String,
        "household_id": pl.String,
        "committee_code": pl.String,
        "noise": pl.List(pl.String),
        "district_code": pl.String,
        "form_code": pl.String,
        "period": pl.String,
    }
)


@dataclass
class GenerationSummary:
    """What a run wrote, for the CLI printout and for tests."""

    out_dir: Path
    config: GeneratorConfig
    districts: int = 0
    committees: int = 0
    persons: int = 0
    households: int = 0
    movers: int = 0
    twin_pairs: int = 0
    common_name_persons: int = 0
    files: int = 0
    bytes: int = 0
    data_rows: int = 0
    district_wide_files: int = 0
    files_by_kind: Counter = field(default_factory=Counter)
    noise: Counter = field(default_factory=Counter)
    rejected_files: list[str] = field(default_factory=list)
    corrections: list[str] = field(default_factory=list)
    column_anomalies: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.data_rows / self.elapsed_s if self.elapsed_s else 0.0

    def render(self) -> str:
        lines = [
            f"jianfu sample data → {self.out_dir}",
            f"  seed {self.config.seed}; {self.districts} districts, {self.committees} committees, "
            f"{self.config.periods} monthly periods",
            f"  residents {self.persons:,} in {self.households:,} households; movers {self.movers:,}; "
            f"twin pairs {self.twin_pairs:,}; common-name people {self.common_name_persons:,}",
            f"  files {self.files:,} ({self.bytes / 1e6:.1f} MB), district-wide {self.district_wide_files}, "
            f"data rows {self.data_rows:,}",
            "  files by format/encoding: "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.files_by_kind.items())),
            f"  planted rejects: {', '.join(self.rejected_files) or 'none'}",
            f"  corrections (_更正): {', '.join(self.corrections) or 'none'}",
            f"  column anomalies: {len(self.column_anomalies)}",
            "  noise tags (rows): " + ", ".join(f"{k} {v}" for k, v in sorted(self.noise.items())),
            f"  time {self.elapsed_s:.2f} s ({self.rows_per_s:,.0f} rows/s)",
        ]
        return "\n".join(lines)


class GroundTruth:
    """Buffers ground-truth rows and appends them to one Parquet file, one row group per flush.

    Built with polars and written through pyarrow's ParquetWriter (pa.array on Python lists would import
    pandas, which costs a second).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None
        self._cols: dict[str, list] = {n: [] for n in GT_SCHEMA.names()}

    def add(
        self,
        source: str,
        sheet: str | None,
        row_number: int,
        row: RenderedRow,
        tags: list[str],
        dc: str,
        form: str,
        period: str,
    ) -> None:
        c = self._cols
        c["source_file"].append(source)
        c["sheet"].append(sheet)
        c["row_number"].append(row_number)
        c["person_id"].append(row.person.pid)
        c["household_id"].append(row.person.hh.hid)
        c["committee_code"].append(row.committee.code)
        c["noise"].append("|".join(tags))
        c["district_code"].append(dc)
        c["form_code"].append(form)
        c["period"].append(period)
        if len(c["period"]) >= 500_000:
            self.flush()  # bounded memory on city-sized districts

    def add_block(
        self,
        source: str,
        sheet: str | None,
        first_row: int,
        block: Block,
        tags: list[list[str]],
        dc: str,
        form: str,
        period: str,
    ) -> None:
        """A whole block's rows, numbered `first_row`, `first_row + 1`, … (the vector engine's path)."""
        c = self._cols
        n = len(block.persons)
        c["source_file"].extend([source] * n)
        c["sheet"].extend([sheet] * n)
        c["row_number"].extend(range(first_row, first_row + n))
        c["person_id"].extend([p.pid for p in block.persons])
        c["household_id"].extend([p.hh.hid for p in block.persons])
        c["committee_code"].extend([block.committee.code] * n)
        c["noise"].extend(["|".join(t) for t in tags])
        c["district_code"].extend([dc] * n)
        c["form_code"].extend([form] * n)
        c["period"].extend([period] * n)
        if len(c["period"]) >= 500_000:
            self.flush()

    def flush(self) -> None:
        if self._cols["source_file"] or self._writer is None:
            frame = pl.DataFrame(self._cols, schema={**GT_SCHEMA, "noise": pl.String}).with_columns(
                pl.col("noise")
                .str.split("|")
                .list.filter(pl.element() != "")  # joined text → list: much faster
            )
            table = frame.to_arrow()
            if self._writer is None:
                self._writer = pq.ParquetWriter(str(self.path), table.schema, compression="zstd")
            self._writer.write_table(table)
            self._cols = {n: [] for n in GT_SCHEMA.names()}

    def close(self) -> None:
        self.flush()
        assert self._writer is not None
        self._writer.close()


# ----------------------------------------------------------------------------------------------------
# Selection of districts and committees
# ----------------------------------------------------------------------------------------------------


def _load_divisions(path: Path = DIVISIONS_CSV) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return sorted(rows, key=lambda r: r["committee_code"])


def select_committees(cfg: GeneratorConfig, divisions: list[dict[str, str]]) -> list[dict[str, str]]:
    """Spread districts over the city, and pick committees from different townships (both kinds if present)."""
    codes = sorted({r["district_code"] for r in divisions})
    n = cfg.districts or len(codes)
    picked = sorted({codes[round(i * len(codes) / n)] for i in range(n)})
    out: list[dict[str, str]] = []
    for dc in picked:
        rows = [r for r in divisions if r["district_code"] == dc]
        k = cfg.committees_per_district
        if k is None or k >= len(rows):
            out.extend(rows)
            continue
        rng = random.Random(stable_seed(cfg.seed, "pick", dc))
        by_town: dict[str, list[dict[str, str]]] = {}
        for r in rows:
            by_town.setdefault(r["township_code"], []).append(r)
        towns = sorted(by_town)
        rng.shuffle(towns)
        for t in towns:
            rng.shuffle(by_town[t])
        chosen: list[dict[str, str]] = []
        while len(chosen) < k:
            for t in towns:
                if by_town[t] and len(chosen) < k:
                    chosen.append(by_town[t].pop())
        villages = [r for r in rows if r["committee_kind"].endswith("村委会")]
        urban = [r for r in rows if not r["committee_kind"].endswith("村委会")]
        if k >= 2 and villages and urban:
            if not any(r in villages for r in chosen):
                chosen[-1] = rng.choice(villages)
            elif not any(r in urban for r in chosen):
                chosen[-1] = rng.choice(urban)
        out.extend(sorted(chosen, key=lambda r: r["committee_code"]))
    return out


# ----------------------------------------------------------------------------------------------------
# The run
# ----------------------------------------------------------------------------------------------------


def _committee_cell(header: str, ctx: CommitteeCtx) -> str:
    """A district-wide file's committee column: township name, committee code or committee name."""
    if header == "街镇":
        return ctx.township_name
    return ctx.code if header in ("居（村）委会", "所属居委") else ctx.name


@dataclass
class _Column:
    kind: str  # field | committee | extra
    header: str
    index: int = -1  # field index for kind == field


@dataclass
class _OpenFile:
    sink: CsvSink | XlsxSink | BufferedSink
    rel: str
    cols: list[_Column]
    period: Period
    anomaly: str | None = None
    sums: dict[int, float] = field(default_factory=dict)
    rows: int = 0


class _Run:
    def __init__(self, out_dir: Path, cfg: GeneratorConfig, divisions_csv: Path, writers: int = 0) -> None:
        self.cfg = cfg
        self.writers = writers
        self.out = out_dir
        self.landing = out_dir / "landing"
        self.summary = GenerationSummary(out_dir=out_dir, config=cfg)
        self.divisions = _load_divisions(divisions_csv)
        rows = select_committees(cfg, self.divisions)
        self.ctxs = [
            CommitteeCtx(
                i,
                r["district_code"],
                r["district_name"],
                r["township_code"],
                r["township_name"],
                r["committee_code"],
                r["committee_name"],
                r["committee_kind"],
            )
            for i, r in enumerate(rows)
        ]
        self.selected = {c.code for c in self.ctxs}
        self.periods: dict[str, list[Period]] = {
            "月报": monthly_periods(cfg.periods),
            "季报": quarterly_periods(cfg.periods),
            "年报": annual_periods(cfg.periods),
        }
        self.form_periods = {
            f.code: (
                adhoc_periods(cfg.periods, random.Random(stable_seed(cfg.seed, "adhoc", f.code)))
                if f.frequency == "不定期"
                else self.periods[f.frequency]
            )
            for f in FORMS
        }
        refs = sorted({p.ref for ps in self.form_periods.values() for p in ps})
        self.world = World(cfg=cfg, committees={c.code: c for c in self.ctxs}, refs=refs)
        plan_rng = random.Random(stable_seed(cfg.seed, "plan"))
        plan_movers(self.world, plan_rng)
        n = len(self.ctxs)
        self.world.twins_needed_at = plan_rng.randrange(max(1, (n + 1) // 2))
        self.row_planter = Planter(ROW_KINDS, n, plan_rng)
        self.file_planter = Planter(FILE_KINDS, n, plan_rng)
        self.correction_due = sorted(plan_rng.randrange(max(1, n)) for _ in range(cfg.noise.corrections))
        districts = sorted({c.district_code for c in self.ctxs})
        n_dw = round(len(districts) * cfg.noise.district_wide_districts)
        if n_dw == 0 and cfg.noise.district_wide_districts > 0 and len(districts) >= 2:
            n_dw = 1
        self.dw_forms: dict[str, set[str]] = {}
        for dc in sorted(plan_rng.sample(districts, n_dw)):
            forms = {
                f.code
                for f in FORMS
                if f.district_wide_ok and plan_rng.random() < cfg.noise.district_wide_forms
            }
            self.dw_forms[dc] = forms or {"GA01"}
        self.broken_at: dict[str, list[str]] = {}
        for i, kind in enumerate(BROKEN_KINDS[: cfg.noise.broken_files]):
            self.broken_at.setdefault(districts[(i * 5 + 1) % len(districts)], []).append(kind)
        self.layouts = {f.code: Layout.of(f) for f in FORMS}
        self.dirs: set[Path] = set()
        self.corrected: set[str] = set()
        self.gt: GroundTruth | None = None
        self.files: FileWriter | None = None

    # -- helpers ---------------------------------------------------------------------------------------
    def _path(self, rel: str) -> Path:
        path = self.landing / rel
        if path.parent not in self.dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.dirs.add(path.parent)
        return path

    def _done(self, path: Path, rel: str, kind: str, period: Period) -> None:
        t = delivery_time(period, stable_seed(self.cfg.seed, "mtime", rel))
        os.utime(path, (t, t))
        self._written(path.stat().st_size, kind)

    def _written(self, size: int, kind: str) -> None:
        self.summary.files += 1
        self.summary.bytes += size
        self.summary.files_by_kind[kind] += 1

    def _columns(
        self, form: Form, style: Style, rng: random.Random, ci: int, rel: str, allow_anomaly: bool
    ) -> tuple[list[_Column], str | None]:
        """Output columns of one file: the form's fields, committee columns, and maybe one anomaly."""
        cols = [_Column("field", fld.label, i) for i, fld in enumerate(form.fields)]
        if style.committee_cols:
            at = 1 if form.fields[0].source == "seq" else 0
            cols[at:at] = [_Column("committee", h) for h in style.committee_cols]
        pending = self.file_planter.pending(ci) if allow_anomaly else set()
        if not allow_anomaly or not (pending or rng.random() < self.cfg.noise.column_anomaly):
            return cols, None
        kind = sorted(pending)[0] if pending else rng.choice(FILE_KINDS)
        fields = [c for c in cols if c.kind == "field"]
        if kind == "column_missing":
            options = [c for c in fields if form.fields[c.index].source not in ("name", "id", "seq")]
            cols.remove(rng.choice(options))
        elif kind == "column_renamed":
            options = [c for c in fields if form.fields[c.index].source in SYNONYM_SWAPS]
            if not options:
                return cols, None
            col = rng.choice(options)
            col.header = rng.choice(
                [s for s in SYNONYM_SWAPS[form.fields[col.index].source] if s != col.header]
            )
        else:
            cols.append(_Column("extra", rng.choice(EXTRA_COLUMNS)))
        self.file_planter.mark({kind})
        self.summary.column_anomalies.append(f"{kind}:{rel}")
        return cols, kind

    def _open(
        self,
        rel: str,
        form: Form,
        style: Style,
        period: Period,
        title: str,
        ci: int,
        allow_anomaly: bool = True,
    ) -> _OpenFile:
        rng = random.Random(stable_seed(self.cfg.seed, "file", rel))
        cols, anomaly = self._columns(form, style, rng, ci, rel, allow_anomaly)
        header = [c.header for c in cols]
        path = self._path(rel)
        sink: CsvSink | XlsxSink | BufferedSink
        if not style.committee_cols:  # a committee file: complete once rendered, written by self.files
            sink = BufferedSink(FileJob(path, style, header, title, len(cols)))
        elif style.fmt == "xlsx":
            sink = XlsxSink(path, style, header, title, len(cols), streaming=bool(style.committee_cols))
        else:
            sink = CsvSink(path, style, header)
        return _OpenFile(sink, rel, cols, period, anomaly=anomaly)

    def _write_rows(self, of: _OpenFile, rows: list[RenderedRow], form: Form, dc: str) -> None:
        assert self.gt is not None
        layout = self.layouts[form.code]
        month_cols = frozenset(
            j for j, c in enumerate(of.cols) if c.kind == "field" and layout.types[c.index] == "年月"
        )
        amount_cols = {
            j
            for j, c in enumerate(of.cols)
            if c.kind == "field" and form.fields[c.index].source in AMOUNT_SOURCES
        }
        sink = of.sink
        xlsx = sink.encoding == "xlsx"
        sheet = sink.sheet if not isinstance(sink, CsvSink) else None
        # committee files hold only form fields: pick them by index (the per-column loop is for the rest)
        fields_only = all(c.kind == "field" for c in of.cols)
        idxs = [c.index for c in of.cols]
        seq_at = next(
            (j for j, c in enumerate(of.cols) if c.kind == "field" and c.index == layout.seq_i), None
        )
        for row in rows:
            of.rows += 1
            if fields_only:
                rc = row.cells
                cells = [rc[i] for i in idxs]
                if seq_at is not None:
                    cells[seq_at] = of.rows if xlsx else str(of.rows)
            else:
                cells = self._mixed_cells(of, row, layout.seq_i, xlsx)
            for j in amount_cols:
                v = cells[j]
                if isinstance(v, float):
                    of.sums[j] = of.sums.get(j, 0.0) + v
            rn = sink.write(cells, month_cols) if xlsx else sink.write(cells)
            tags = [*row.tags, of.anomaly] if of.anomaly else row.tags
            self.gt.add(of.rel, sheet, rn, row, tags, dc, form.code, of.period.code)
            self.summary.data_rows += 1
            self.summary.noise.update(tags)

    def _write_block(self, of: _OpenFile, block: Block, form: Form, dc: str) -> None:
        """`_write_rows` a block at a time, for files without extra columns (committee columns are one
        value per block: every row of a block comes from the same committee)."""
        assert self.gt is not None
        layout = self.layouts[form.code]
        sink = of.sink
        xlsx = sink.encoding == "xlsx"
        ctx = block.committee
        spec = [
            (c.index, None) if c.kind == "field" else (-1, _committee_cell(c.header, ctx)) for c in of.cols
        ]
        if [i for i, _ in spec] == list(range(len(layout.types))):
            rows = block.rows
        else:
            rows = [[r[i] if i >= 0 else v for i, v in spec] for r in block.rows]
        first = of.rows + 1
        seq_at = next(
            (j for j, c in enumerate(of.cols) if c.kind == "field" and c.index == layout.seq_i), None
        )
        if seq_at is not None:
            for k, r in enumerate(rows, start=first):
                r[seq_at] = k if xlsx else str(k)
        fields = [(j, c.index) for j, c in enumerate(of.cols) if c.kind == "field"]
        for j, i in fields:
            if form.fields[i].source in AMOUNT_SOURCES:
                total = of.sums.get(j, 0.0)
                for r in rows:
                    v = r[j]
                    if isinstance(v, float):
                        total += v
                of.sums[j] = total
        month_cols = frozenset(j for j, i in fields if layout.types[i] == "年月")
        if isinstance(sink, BufferedSink):
            sink.job.month_cols = month_cols
            rn = sink.write_many(rows)
        elif isinstance(sink, CsvSink):
            rn = sink.rows + 1
            sink.write_many(rows)
        else:
            rn = sink.row + 1
            for cells in rows:
                sink.write(cells, month_cols)
        of.rows += len(rows)
        tags = [[*t, of.anomaly] for t in block.tags] if of.anomaly else block.tags
        sheet = sink.sheet if not isinstance(sink, CsvSink) else None
        self.gt.add_block(of.rel, sheet, rn, block, tags, dc, form.code, of.period.code)
        self.summary.data_rows += len(rows)
        noise = self.summary.noise
        for t in tags:
            if t:
                noise.update(t)

    def _mixed_cells(self, of: _OpenFile, row: RenderedRow, seq_i: int | None, xlsx: bool) -> list[object]:
        """One row's cells when the file also has committee or extra columns."""
        cells: list[object] = []
        for col in of.cols:
            if col.kind == "field":
                v = row.cells[col.index]
                if col.index == seq_i:
                    v = of.rows if xlsx else str(of.rows)
                cells.append(v)
            elif col.kind == "committee":
                cells.append(_committee_cell(col.header, row.committee))
            else:
                r = stable_seed(row.person.pid, of.rel) % 10
                cells.append("" if r < 7 else ("已核实", "新迁入", "电话未接通")[r % 3])
        return cells

    def _close(self, of: _OpenFile, rng: random.Random) -> None:
        sink = of.sink
        if isinstance(sink, BufferedSink):
            job = sink.job
            if job.style.fmt == "xlsx":
                job.signer = (
                    _surname(rng) + _given(rng, "女", 1975),
                    _surname(rng) + _given(rng, "男", 1970),
                )
                job.mtime = delivery_time(of.period, stable_seed(self.cfg.seed, "mtime", of.rel))
                job.filed = datetime.fromtimestamp(job.mtime, SHANGHAI_TZ).date()
                job.sums = of.sums
            else:
                job.mtime = delivery_time(of.period, stable_seed(self.cfg.seed, "mtime", of.rel))
            assert self.files is not None
            self.files.submit(job)
            return
        if isinstance(sink, XlsxSink):
            signer = (_surname(rng) + _given(rng, "女", 1975), _surname(rng) + _given(rng, "男", 1970))
            filed = datetime.fromtimestamp(
                delivery_time(of.period, stable_seed(self.cfg.seed, "mtime", of.rel)), SHANGHAI_TZ
            ).date()
            sink.close(sums=of.sums, signer=signer, filed=filed)
            kind = "xlsx"
        else:
            sink.close()
            kind = f"csv/{sink.encoding}"
        self._done(self.landing / of.rel, of.rel, kind, of.period)

    # -- main loop -------------------------------------------------------------------------------------
    def run(self) -> GenerationSummary:
        t0 = time.perf_counter()
        self.files = FileWriter(self.writers, self._written)  # before polars starts any thread
        try:
            return self._run(t0)
        except BaseException:
            self.files.abort()  # the first error is the one to report: do not wait for queued files
            raise

    def _run(self, t0: float) -> GenerationSummary:
        self.landing.mkdir(parents=True, exist_ok=True)
        for p in write_catalog(self.landing):
            os.utime(p, (FIXED_MTIME, FIXED_MTIME))
            self.summary.files += 1
            self.summary.bytes += p.stat().st_size
            self.summary.files_by_kind["catalog"] += 1
        self.gt = GroundTruth(self.out / "ground_truth.parquet")
        by_district: dict[str, list[CommitteeCtx]] = {}
        for c in self.ctxs:
            by_district.setdefault(c.district_code, []).append(c)
        self.summary.districts = len(by_district)
        self.summary.committees = len(self.ctxs)
        for dc in sorted(by_district):
            self._district(dc, by_district[dc])
            self.gt.flush()
        assert self.files is not None
        self.files.close()
        self.gt.close()
        os.utime(self.gt.path, (FIXED_MTIME, FIXED_MTIME))
        w = self.world
        s = self.summary
        s.persons, s.households, s.movers = w.n_persons, w.n_households, w.n_movers
        s.twin_pairs, s.common_name_persons = w.n_twin_pairs, w.n_common
        s.elapsed_s = time.perf_counter() - t0
        return s

    def _district(self, dc: str, ctxs: list[CommitteeCtx]) -> None:
        dw = self.dw_forms.get(dc, set())
        open_dw: dict[tuple[str, str], _OpenFile] = {}
        dw_styles = {
            code: choose_style(
                random.Random(stable_seed(self.cfg.seed, "style", dc, code)),
                self.cfg.noise,
                next(f for f in FORMS if f.code == code),
                district_wide=True,
            )
            for code in sorted(dw)
        }
        if len(ctxs) * self.cfg.residents_per_committee > XLSX_SAFE_PEOPLE:
            # a district-wide sheet could pass Excel's 1,048,576-row limit: deliver those as CSV
            dw_styles = {
                k: replace(
                    v,
                    fmt="csv",
                    title=False,
                    title_gap=False,
                    total_row=False,
                    footer=0,
                    blank_tail=0,
                    second_sheet=False,
                    date_style="iso" if v.date_style in ("serial", "cell") else v.date_style,
                )
                for k, v in dw_styles.items()
            }
        for ctx in ctxs:
            residents, _ = committee_residents(self.world, ctx)
            persons = [r.person for r in residents]
            for form in FORMS:
                if not form.serves(ctx.kind):
                    continue
                eligible = list(compress(residents, map(form.rule, persons)))
                if not eligible:
                    continue
                for period in self.form_periods[form.code]:
                    ref = period.ref
                    sel = [
                        r
                        for r in eligible
                        if r.person.birth <= ref and (r.role == "native" or r.present(ref))
                    ]
                    if not sel:
                        continue
                    if form.code in dw:
                        self._district_chunk(dc, ctx, form, period, sel, dw_styles[form.code], open_dw)
                    else:
                        self._committee_file(dc, ctx, form, period, sel)
        for key in sorted(open_dw):
            of = open_dw[key]
            self._close(of, random.Random(stable_seed(self.cfg.seed, "close", of.rel)))
            self.summary.district_wide_files += 1
        for kind in self.broken_at.get(dc, []):
            self._broken(dc, ctxs, kind)

    def _render_block(
        self, ctx: CommitteeCtx, form: Form, period: Period, sel: list[Resident], style: Style
    ) -> Block:
        gen = np.random.default_rng(stable_seed(self.cfg.seed, "rows", ctx.code, form.code, period.code))
        force = self.row_planter.pending(ctx.index)
        block, planted = render_block(
            self.layouts[form.code], sel, PeriodCtx(period, ctx), style, gen, self.cfg.noise, force
        )
        self.row_planter.mark(planted)
        return block

    def _render(
        self, ctx: CommitteeCtx, form: Form, period: Period, sel: list[Resident], style: Style
    ) -> list[RenderedRow]:
        if self.cfg.engine == "vector":
            return self._render_block(ctx, form, period, sel, style).rendered()
        rng = random.Random(stable_seed(self.cfg.seed, "rows", ctx.code, form.code, period.code))
        force = self.row_planter.pending(ctx.index)
        rows, planted = render_rows(
            self.layouts[form.code], sel, PeriodCtx(period, ctx), style, rng, self.cfg.noise, force
        )
        self.row_planter.mark(planted)
        return rows

    def _district_chunk(
        self,
        dc: str,
        ctx: CommitteeCtx,
        form: Form,
        period: Period,
        sel: list[Resident],
        style: Style,
        open_dw: dict[tuple[str, str], _OpenFile],
    ) -> None:
        key = (form.code, period.code)
        of = open_dw.get(key)
        if of is None:
            ext = style.fmt
            rel = f"{dc}/{form.code}/{period.code}/{ctx.district_name}_{form.name}_{period.code}.{ext}"
            title = f"{ctx.district_name}{form.name}（{period.label}）"
            of = open_dw[key] = self._open(rel, form, style, period, title, ctx.index)
        if self.cfg.engine == "vector" and all(c.kind != "extra" for c in of.cols):
            self._write_block(of, self._render_block(ctx, form, period, sel, style), form, dc)
            return
        self._write_rows(of, self._render(ctx, form, period, sel, style), form, dc)

    def _committee_file(
        self, dc: str, ctx: CommitteeCtx, form: Form, period: Period, sel: list[Resident]
    ) -> None:
        style = choose_style(
            random.Random(stable_seed(self.cfg.seed, "style", ctx.code, form.code)),
            self.cfg.noise,
            form,
            False,
        )
        base = f"{dc}/{form.code}/{period.code}/{ctx.code}_{form.name}"
        rel = f"{base}.{style.fmt}"
        title = f"{ctx.name}{form.name}（{period.label}）"
        if self.cfg.engine == "vector":
            block = self._render_block(ctx, form, period, sel, style)
            if not self._correction_pending(ctx):
                of = self._open(rel, form, style, period, title, ctx.index)
                if all(c.kind != "extra" for c in of.cols):
                    self._write_block(of, block, form, dc)
                else:
                    self._write_rows(of, block.rendered(), form, dc)
                self._close(of, random.Random(stable_seed(self.cfg.seed, "close", rel)))
                return
            rows = block.rendered()
        else:
            rows = self._render(ctx, form, period, sel, style)
        fix = self._correction_target(ctx, rows)
        if fix is not None:
            j, col, good, bad = fix
            original = [RenderedRow(list(r.cells), list(r.tags), r.person, r.committee) for r in rows]
            original[j].cells[col] = bad
            original[j].tags.append("value_superseded")
            of = self._open(rel, form, style, period, title, ctx.index, allow_anomaly=False)
            self._write_rows(of, original, form, dc)
            self._close(of, random.Random(stable_seed(self.cfg.seed, "close", rel)))
            rel2 = f"{base}_更正.{style.fmt}"
            fixed = [
                RenderedRow(list(r.cells), [*r.tags, "correction_file"], r.person, r.committee) for r in rows
            ]
            fixed[j].tags.append("value_corrected")
            of2 = self._open(rel2, form, style, period, title + "（更正）", ctx.index, allow_anomaly=False)
            self._write_rows(of2, fixed, form, dc)
            self._close(of2, random.Random(stable_seed(self.cfg.seed, "close", rel)))
            self.summary.corrections.append(rel2)
            return
        of = self._open(rel, form, style, period, title, ctx.index)
        self._write_rows(of, rows, form, dc)
        self._close(of, random.Random(stable_seed(self.cfg.seed, "close", rel)))

    def _correction_pending(self, ctx: CommitteeCtx) -> bool:
        return (
            bool(self.correction_due)
            and ctx.index >= self.correction_due[0]
            and ctx.code not in self.corrected
        )

    def _correction_target(
        self, ctx: CommitteeCtx, rows: list[RenderedRow]
    ) -> tuple[int, int, object, object] | None:
        """When a correction is due, the (row, cell) whose phone the original delivery got wrong."""
        if not self.correction_due or ctx.index < self.correction_due[0]:
            return None
        if ctx.code in self.corrected:
            return None  # one correction per committee
        for j, row in enumerate(rows):
            for col, v in enumerate(row.cells):
                text = str(v)
                if len(text) == 11 and text.isdigit() and text.startswith("1"):
                    last = int(text[-1])
                    bad_text = text[:-1] + str((last + 3) % 10)
                    bad = int(bad_text) if isinstance(v, int) else bad_text
                    self.correction_due.pop(0)
                    self.corrected.add(ctx.code)
                    return j, col, v, bad
        return None

    def _broken(self, dc: str, ctxs: list[CommitteeCtx], kind: str) -> None:
        rng = random.Random(stable_seed(self.cfg.seed, "broken", dc, kind))
        spare = [
            r for r in self.divisions if r["district_code"] == dc and r["committee_code"] not in self.selected
        ]
        code = rng.choice(spare)["committee_code"] if spare else rng.choice(ctxs).code
        suffix = "" if spare else "（副本）"
        sample = []
        for _ in range(rng.randint(3, 6)):
            sex = rng.choice(("男", "女"))
            birth = date(rng.randint(1940, 2000), rng.randint(1, 12), rng.randint(1, 28))
            sample.append(
                [
                    _surname(rng) + _given(rng, sex, birth.year),
                    idcard.make_id(dc, birth, rng.randrange(1, 999)),
                    _mobile(rng),
                ]
            )
        period = self.periods["月报"][-1]
        if kind == "unknown_form":
            rel = f"{dc}/{UNKNOWN_FORM[0]}/{period.code}/{code}_{UNKNOWN_FORM[1]}.csv"
        else:
            form = FORMS[0] if kind != "no_header" else FORMS[1]
            ext = "xlsx" if kind == "not_zip" else "csv"
            rel = f"{dc}/{form.code}/{period.code}/{code}_{form.name}{suffix}.{ext}"
        path = self._path(rel)
        write_broken(path, kind, sample)
        self._done(path, rel, f"broken/{kind}", period)
        self.summary.rejected_files.append(f"{kind}:{rel}")


def generate(
    out_dir: Path, config: GeneratorConfig, divisions_csv: Path = DIVISIONS_CSV, writers: int = 0
) -> GenerationSummary:
    """Write `<out_dir>/landing/...` and `<out_dir>/ground_truth.parquet`; returns what was written.

    `writers` > 0 serializes committee files in that many forked processes; the bytes do not change.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return _Run(out_dir, config, divisions_csv, writers).run()
