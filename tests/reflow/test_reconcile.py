"""Returned prefilled files reconciled per row and cell: every kind of edit."""

from __future__ import annotations

from pathlib import Path

from assets.reflow.reconcile import PrefilledRow, reconcile
from assets.reflow.workbook import FormSheet, read_returned, write_workbook

LABELS = ["老人姓名", "身份证号", "性别", "联系电话", "高龄补贴金额"]
TYPES = ["text", "id_number", "sex", "phone", "decimal"]
ELEMENTS = ["person_name", "citizen_id", "sex", "phone", None]
PREFILL = [  # seq, person, values (None = left blank for staff)
    (1, "p1", ["张伟", "310101194001011236", "男", "13800138000", None]),
    (2, "p2", ["李娜", "310101194501011245", "女", "13900139000", None]),
    (3, "p3", ["王芳", "310101194601011221", "女", "13700137000", None]),
    (4, "p4", ["赵强", "310101194701011218", "男", "13600136000", None]),
    (5, "p5", ["孙丽", "310101194801011222", "女", None, None]),
]


def sheet(
    rows, notes=None, seqs=None, pid="PF-310101002001-MZ01-2026-11-abcd1234", with_prefill=True
) -> FormSheet:
    return FormSheet(
        prefill_id=pid, committee_code="310101002001", committee_name="云南中路居委会", form_code="MZ01",
        form_name="高龄老人补贴发放名册", department="民政局", period="2026-11", coverage_date="2026-11-30",
        labels=LABELS, field_types=TYPES, rows=rows,
        prefilled=[[v is not None for v in r] for r in rows] if with_prefill else [],
        notes=notes or [], seqs=seqs or [], person_ids=[p for _, p, _ in PREFILL][: len(rows)],
    )  # fmt: skip


def prefilled_rows() -> list[PrefilledRow]:
    return [
        PrefilledRow(
            seq, pid, {o + 1: (LABELS[o], v, v is not None, ELEMENTS[o]) for o, v in enumerate(values)}
        )
        for seq, pid, values in PREFILL
    ]


def test_every_kind_of_edit(tmp_path: Path) -> None:
    prefill_path = tmp_path / "prefill.xlsx"
    write_workbook(prefill_path, sheet([v for _, _, v in PREFILL], seqs=[str(s) for s, _, _ in PREFILL]))
    returned_rows = [
        [
            "王芳",
            "310101194601011221",
            "女",
            "13700137000",
            "300",
        ],  # p3 moved up (reordered), confirmed, amount typed
        ["张伟", "310101194001011236", "男", "13812345678", "300"],  # p1: phone corrected, amount typed
        [
            "李娜",
            "310101194501011245",
            "女",
            "13900139000",
            "",
        ],  # p2: marked 死亡 in 变动说明 → removed with reason
        # p4 deleted from the sheet → removed, no reason
        ["孙丽", "310101194801011222", "女", "", ""],  # p5: untouched (blank phone stays blank) → confirmed
        ["钱新", "310101195001011212", "男", "13500135000", "300"],  # new resident → added, all typed
    ]
    notes = [None, None, "死亡", None, None]
    returned_path = tmp_path / "returned.xlsx"
    write_workbook(returned_path, sheet(returned_rows, notes=notes, seqs=["3", "1", "2", "5", "6"]))
    back = read_returned(returned_path.read_bytes())
    assert back.prefill_id == "PF-310101002001-MZ01-2026-11-abcd1234"
    result = reconcile(prefilled_rows(), back)
    rows = {(r["person_id"], r["outcome"], r["staff_reason"]) for r in result.rows}
    assert rows == {("p3", "confirmed", None), ("p1", "corrected", None), ("p2", "removed", "死亡"),
                    ("p4", "removed", None), ("p5", "confirmed", None), (None, "added", None)}  # fmt: skip
    cells = {(c["person_id"], c["field_label"]): (c["outcome"], c["prefilled_value"], c["returned_value"])
             for c in result.cells}  # fmt: skip
    assert cells[("p1", "联系电话")] == ("corrected", "13800138000", "13812345678")
    assert cells[("p1", "高龄补贴金额")] == ("typed", None, "300")
    assert cells[("p3", "老人姓名")] == ("confirmed", "王芳", "王芳")
    assert cells[("p5", "联系电话")] == ("blank", None, None)
    assert cells[(None, "老人姓名")] == ("typed", None, "钱新")
    assert not any(c["person_id"] == "p2" for c in result.cells)  # a removed row's cells were not filled
    assert sum(1 for r in result.rows if r["outcome"] == "added") == 1


def test_rows_match_by_name_when_the_id_was_corrected_and_by_seq_when_both_were(tmp_path: Path) -> None:
    rows = [[v for v in values] for _, _, values in PREFILL]
    rows[0][1] = "310101194001011244"  # p1: ID corrected → matched by name, the ID cell is `corrected`
    rows[1][0], rows[1][1] = (
        "李 娜娜",
        "310101194501011253",
    )  # p2: name and ID corrected → matched by 序号 row map
    path = tmp_path / "r.xlsx"
    write_workbook(path, sheet(rows, seqs=[str(s) for s, _, _ in PREFILL]))
    result = reconcile(prefilled_rows(), read_returned(path.read_bytes()))
    how = {r["person_id"]: (r["outcome"], r["matched_by"]) for r in result.rows}
    assert how["p1"] == ("corrected", "name")
    assert how["p2"] == ("corrected", "seq")
    assert how["p3"] == ("confirmed", "id_number")


def test_a_copy_without_the_hidden_sheet_has_no_prefill_id(tmp_path: Path) -> None:
    path = tmp_path / "copy.xlsx"
    write_workbook(path, sheet([v for _, _, v in PREFILL]), with_id=False)
    back = read_returned(path.read_bytes())
    assert back.prefill_id is None and back.row_map == {} and len(back.rows) == 5


def test_a_deleted_column_is_not_a_correction(tmp_path: Path) -> None:
    # planted: staff deleted the 联系电话 column; its prefilled phones are not "cleared" corrections
    labels = [lb for lb in LABELS if lb != "联系电话"]
    rows = [[v for lb, v in zip(LABELS, values, strict=True) if lb != "联系电话"] for _, _, values in PREFILL]
    s = sheet(rows, seqs=[str(q) for q, _, _ in PREFILL])
    s.labels, s.field_types = labels, [t for lb, t in zip(LABELS, TYPES, strict=True) if lb != "联系电话"]
    path = tmp_path / "r.xlsx"
    write_workbook(path, s)
    result = reconcile(prefilled_rows(), read_returned(path.read_bytes()))
    phone = [c["outcome"] for c in result.cells if c["field_label"] == "联系电话"]
    assert phone and set(phone) == {"column_missing"}
    assert {r["outcome"] for r in result.rows} == {"confirmed"}
