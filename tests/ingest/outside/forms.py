"""Rows of the catalog forms the cases use (labels from data/sample/landing/catalog/form_fields.csv)."""

from __future__ import annotations

from .people import Person

MZ01 = [
    "序号",
    "老人姓名",
    "身份证号",
    "性别",
    "出生日期",
    "联系电话",
    "居住地址",
    "高龄补贴金额",
    "发放月份",
]
MZ01_NAME = "高龄老人补贴发放名册"  # monthly
MZ02 = ["姓名", "公民身份号码", "与户主关系", "低保证号", "家庭人口数", "低保金额", "户籍所在地", "联系方式"]
MZ02_NAME = "最低生活保障家庭成员名册"  # monthly
RS01 = ["姓名", "身份证号", "性别", "就业状态", "失业登记日期", "手机号码", "户籍地址", "文化程度"]
RS01_NAME = "登记失业人员名册"  # monthly
GA01 = ["序号", "姓名", "公民身份号码", "性别", "民族", "出生日期", "户籍地址", "现住址", "联系电话"]
GA01_NAME = "实有人口信息登记表"  # quarterly
WJ01 = ["姓名", "身份证号", "性别", "出生日期", "体检日期", "联系电话", "家庭住址", "健康状况"]
WJ01_NAME = "65岁及以上老年人健康体检名册"  # annual
MZ05 = ["救助对象姓名", "身份证件号码", "救助类型", "救助金额", "救助日期", "户籍地址"]
MZ05_NAME = "困难群众临时救助台账"  # ad hoc

SIGN_OFF = ["填表人：周海燕", "审核人：陈建国", "单位（盖章）：", "联系电话：63281234"]


def mz01(p: Person, seq: int, period: str, amount: int = 150) -> list:
    """A typed MZ01 row (text ID, ISO birth date)."""
    return [seq, p.name, p.id_number, p.sex, p.birth_iso, p.phone, p.address, amount, period]


def mz02(p: Person, seq: int) -> list:
    return [p.name, p.id_number, "户主", f"黄低{2026000 + p.index}", 1 + seq % 3, 1420, p.address, p.phone]


def rs01(p: Person, reg_date: object) -> list:
    return [p.name, p.id_number, p.sex, "失业", reg_date, p.phone, p.address, "高中"]


def ga01(p: Person, seq: int) -> list:
    return [seq, p.name, p.id_number, p.sex, "汉族", p.birth_iso, p.address, p.address, p.phone]


def wj01(p: Person, exam: str, health: str) -> list:
    return [p.name, p.id_number, p.sex, p.birth_iso, exam, p.phone, p.address, health]


def mz05(p: Person, when: str) -> list:
    return [p.name, p.id_number, "临时救助", 800, when, p.address]


def pad(row: list, width: int) -> list:
    """A one-cell line (title, sign-off) padded like Excel writes it into a CSV."""
    return row + [None] * (width - len(row))
