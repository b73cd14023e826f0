"""Simulate committees returning their prefilled forms (数据回流 closes the loop), seeded and deterministic.

Staff open the prefilled workbook, fill the blank cells, correct what is wrong, mark or delete persons who
died or moved out, add new residents, and send it back. Some send a copy that lost the hidden sheet (pasted
into a new workbook), a few retype the whole form from scratch. The returned workbooks land under
`<out>/<district>/<form>/<period>/<committee>_<form name>_<period>_回流.xlsx`, the landing layout, so they
are ordinary deliveries as well. The bundled sample is never touched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from assets.reflow.workbook import FormSheet, read_returned, write_workbook
from synth.generator import idcard, lexicon


@dataclass(frozen=True)
class ReturnRates:
    """Knobs of the simulation (per file, then per row)."""

    share_returned: float = 0.5  # of prefilled files, how many come back in this run
    no_id: float = 0.05  # returned without the hidden sheet (copied into a new workbook)
    retyped: float = 0.03  # typed again from scratch, no prefill at all
    death: float = 0.02
    move_out: float = 0.03
    note_instead_of_delete: float = 0.6  # a leaving person is kept with 变动说明 rather than deleted
    phone_fix: float = 0.06  # of rows with a prefilled phone
    fill_blank: float = 0.9  # of blank cells staff fill in
    new_residents: float = 0.3  # chance a file gains new rows (1-2)


@dataclass
class ReturnsSummary:
    files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    edits: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1, kind: bool = False) -> None:
        target = self.by_kind if kind else self.edits
        target[key] = target.get(key, 0) + n


def _rng(seed: int, key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(f"{seed}|{key}".encode()).hexdigest()[:16], 16))


def _phone(rng: random.Random) -> str:
    return (
        rng.choice(("139", "138", "137", "136", "135", "158", "186", "189")) + f"{rng.randrange(10**8):08d}"
    )


def _name(rng: random.Random, sex: str) -> str:
    surname = rng.choices(lexicon.SURNAMES, weights=lexicon.SURNAME_WEIGHTS)[0]
    chars = lexicon.MALE_CHARS if sex == "男" else lexicon.FEMALE_CHARS
    return surname + "".join(rng.choice(chars) for _ in range(rng.choice((1, 2))))


def _typed_value(rng: random.Random, label: str, ftype: str, period: str) -> str:
    """A plausible value staff would type into a blank cell of this type."""
    if ftype == "sex":
        return rng.choice(("男", "女"))
    if ftype == "bool":
        return rng.choice(("是", "否"))
    if ftype == "date":
        return f"{period[:4]}-{(period[5:7] if len(period) >= 7 and period[4] == '-' else '01')}-{rng.randint(1, 28):02d}"
    if ftype == "year_month":
        return period[:7] if len(period) >= 7 and period[4] == "-" else f"{period[:4]}-01"
    if ftype == "integer":
        return str(rng.randint(1, 5))
    if ftype == "decimal":
        return str(rng.choice((75, 150, 300, 600, 1200)))
    if ftype == "phone":
        return _phone(rng)
    if any(w in label for w in ("地址", "住址", "所在地", "户籍地", "详址")):
        road = rng.choice(("长寿路", "新闸路", "共和新路", "沪太路", "浦东大道", "虹梅路", "龙华西路"))
        return f"上海市{road}{rng.randint(1, 999)}弄{rng.randint(1, 40)}号{rng.randint(101, 1204)}室"
    if "姓名" in label or label.endswith("人"):
        return _name(rng, rng.choice(("男", "女")))
    return rng.choice(("已核实", "正常", "无", "一般", "良好", "其他"))


def _new_person(
    rng: random.Random, labels: list[str], types: list[str], period: str, committee: str
) -> list[str]:
    sex = rng.choice(("男", "女"))
    birth = dt.date(rng.randint(1940, 2020), rng.randint(1, 12), rng.randint(1, 28))
    pid = idcard.make_id(committee[:6], birth, rng.randrange(1, 499) * 2 + (1 if sex == "男" else 0))
    out = []
    for label, ftype in zip(labels, types, strict=True):
        if ftype == "id_number" or any(w in label for w in ("身份证", "证件号码", "身份号码")):
            out.append(pid)
        elif "姓名" in label and "监护人" not in label and "紧急" not in label:
            out.append(_name(rng, sex))
        elif ftype == "sex":
            out.append(sex)
        elif ftype == "date" and ("出生" in label or "生日" in label):
            out.append(birth.isoformat())
        elif ftype == "year_month" and "出生" in label:
            out.append(birth.isoformat()[:7])
        else:
            out.append(_typed_value(rng, label, ftype, period))
    return out


def simulate_returns(
    prefill_root: Path,
    out_root: Path,
    seed: int = 20261201,
    rates: ReturnRates | None = None,
    districts: list[str] | None = None,
    replace: bool = False,
) -> ReturnsSummary:
    """Return a seeded share of the prefilled workbooks under `prefill_root` into `out_root`.

    A committee returns a form once per period: when a return of that committee, form and period already
    exists it is kept (the warehouse keeps the prefill ids it was made from), so repeated runs converge
    instead of inventing new deaths every time. `replace` re-simulates the districts' folders from scratch."""
    rates = rates or ReturnRates()
    summary = ReturnsSummary()
    folders = [Path(prefill_root) / d for d in districts] if districts else [Path(prefill_root)]
    if replace:
        for d in districts or []:
            shutil.rmtree(Path(out_root) / d, ignore_errors=True)
    paths = sorted(p for f in folders if f.is_dir() for p in f.rglob("*_预填.xlsx"))
    for path in paths:
        rel = path.relative_to(prefill_root)
        rng = _rng(seed, rel.as_posix())
        if rng.random() >= rates.share_returned:
            continue
        target = Path(out_root) / rel.parent / path.name.replace("_预填.xlsx", "_回流.xlsx")
        if target.exists():
            summary.count("kept_earlier_return", kind=True)
            continue
        sheet = _load(path)
        if sheet is None:
            continue
        draw = rng.random()
        kind = (
            "no_id" if draw < rates.no_id else "retyped" if draw < rates.no_id + rates.retyped else "edited"
        )
        returned = _edit(sheet, rng, rates, summary, retype=kind == "retyped")
        write_workbook(target, returned, with_id=kind == "edited")
        summary.files += 1
        summary.count(kind, kind=True)
    return summary


def _load(path: Path) -> FormSheet | None:
    """The prefilled workbook as a FormSheet (title and info rows are re-created from the hidden sheet)."""
    data = path.read_bytes()
    sheet = read_returned(data)
    if sheet.header_row is None or sheet.prefill_id is None:
        return None
    from python_calamine import CalamineWorkbook

    first = CalamineWorkbook.from_path(str(path))
    title = str(first.get_sheet_by_name(first.sheet_names[0]).to_python()[0][0])
    labels = sheet.header[1:-1]
    rows = [cells[1 : 1 + len(labels)] for _, cells in sheet.rows]
    parts = sheet.prefill_id.split("-")  # PF-<committee>-<form>-<period…>-<digest>
    committee, form, period = parts[1], parts[2], "-".join(parts[3:-1])
    form_name = first.sheet_names[0]
    return FormSheet(
        prefill_id=sheet.prefill_id, committee_code=committee, committee_name=title.split(form_name)[0] or committee,
        form_code=form, form_name=form_name, department="", period=period, coverage_date="", labels=labels,
        field_types=[_guess_type(label, [r[i] for r in rows]) for i, label in enumerate(labels)],
        rows=[[v or None for v in r] for r in rows], prefilled=[[bool(v) for v in r] for r in rows],
        seqs=[cells[0] for _, cells in sheet.rows], person_ids=[sheet.row_map.get(c[0]) for _, c in sheet.rows],
    )  # fmt: skip


def _guess_type(label: str, values: list[str]) -> str:
    """The field type staff would infer from the label (the generator does not read the warehouse)."""
    if label == "性别":
        return "sex"
    if any(w in label for w in ("身份证", "证件号码", "身份号码")):
        return "id_number"
    if "电话" in label or "手机" in label or "联系方式" in label:
        return "phone"
    if "年月" in label or "月份" in label:
        return "year_month"
    if "日期" in label or "时间" in label or "生日" in label:
        return "date"
    if label.startswith("是否") or label in ("独居", "疫苗接种", "新能源车充电需求", "加装电梯意愿"):
        return "bool"
    if label.endswith(("数", "等级", "档次", "楼层", "年龄", "小时数", "小组")):
        return "integer"
    if label.endswith(("金额", "面积", "租金", "补贴")):
        return "decimal"
    return "text"


def _is_subject_identity(label: str, ftype: str) -> bool:
    """The resident's own name, ID, sex, birth date, phone or address: staff type the true value, which the
    simulation does not know, so a blank one is left blank (the form-specific fields are what staff fill)."""
    other = any(w in label for w in ("监护", "紧急", "填报"))
    own = ftype in ("id_number", "sex", "phone") or any(
        w in label for w in ("姓名", "出生", "生日", "地址", "住址", "所在地", "户籍地", "详址")
    )
    return own and not other


def _edit(
    s: FormSheet, rng: random.Random, rates: ReturnRates, summary: ReturnsSummary, retype: bool
) -> FormSheet:
    labels, types = s.labels, s.field_types
    phone_cols = [
        i for i, t in enumerate(types) if t == "phone" and "监护" not in labels[i] and "紧急" not in labels[i]
    ]
    rows, notes, seqs, pids = [], [], [], []
    for i, values in enumerate(s.rows):
        values = list(values)
        leaving = "死亡" if rng.random() < rates.death else "迁出" if rng.random() < rates.move_out else None
        if leaving:
            summary.count(f"leave:{leaving}")
            if rng.random() >= rates.note_instead_of_delete:
                summary.count("row_deleted")
                continue
            rows.append(values)
            notes.append(leaving)
            seqs.append(s.seqs[i])
            pids.append(s.person_ids[i])
            continue
        for c in phone_cols:
            if values[c] and rng.random() < rates.phone_fix:
                values[c] = _phone(rng)
                summary.count("phone_corrected")
        for c, v in enumerate(values):
            if not v and _is_subject_identity(labels[c], types[c]):
                continue  # staff cannot invent a resident's own name or ID; a missing one stays missing here
            if not v and rng.random() < rates.fill_blank:
                values[c] = _typed_value(rng, labels[c], types[c], s.period)
                summary.count("blank_filled")
        rows.append(values)
        notes.append(None)
        seqs.append(s.seqs[i])
        pids.append(s.person_ids[i])
    if rng.random() < rates.new_residents:
        for _ in range(rng.choice((1, 2))):
            rows.append(_new_person(rng, labels, types, s.period, s.committee_code))
            notes.append(None)
            seqs.append(str(len(rows)))
            pids.append(None)
            summary.count("row_added")
    if retype:
        order = list(range(len(rows)))
        rng.shuffle(order)
        rows, notes = [rows[k] for k in order], [notes[k] for k in order]
        seqs, pids = [str(k + 1) for k in range(len(rows))], [None] * len(rows)
    return FormSheet(
        prefill_id=s.prefill_id, committee_code=s.committee_code, committee_name=s.committee_name,
        form_code=s.form_code, form_name=s.form_name, department=s.department, period=s.period,
        coverage_date=s.coverage_date, labels=labels, field_types=types, rows=rows,
        prefilled=[[False] * len(labels) for _ in rows], notes=notes, seqs=seqs, person_ids=pids,
    )  # fmt: skip
