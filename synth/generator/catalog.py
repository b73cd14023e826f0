"""The form catalog districts receive: 36 forms from 13 departments, their fields and who each form covers.

Each field names a `source` (what the renderer puts in the cell). The same data element carries different
labels on different forms (身份证号 / 公民身份号码 / 公民身份证号 / 居民身份证号码 …); several are outside the
synonym lists of schemas/data_elements.yaml (常住地址, 对象姓名, 移动电话, 联系手机, 现居地址, 户籍登记地址,
出生时间, …) so the field matcher has real work.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth.generator.population import Person

FIELD_TYPES = ("文本", "身份证号", "日期", "年月", "电话", "性别", "整数", "数值", "是否")


@dataclass(frozen=True)
class FormField:
    label: str
    type: str
    required: bool
    source: str


@dataclass(frozen=True)
class Form:
    code: str
    name: str
    department: str
    level: str  # 市级 | 区级 | 街镇
    frequency: str  # 月报 | 季报 | 年报 | 不定期
    target: str  # 居委会 | 村委会 | 全部
    rule: Callable[[Person], bool]
    rule_text: str
    fields: tuple[FormField, ...]
    district_wide_ok: bool = True  # may a district deliver it as one district-wide file

    def field_index(self, source: str) -> int | None:
        for i, f in enumerate(self.fields):
            if f.source == source:
                return i
        return None

    def serves(self, committee_kind: str) -> bool:
        """Whether a committee of this kind (居委会/村委会/类似…) fills this form."""
        return self.target == "全部" or committee_kind.endswith(self.target)


def _f(label: str, type_: str, required: str, source: str) -> FormField:
    assert type_ in FIELD_TYPES, type_
    return FormField(label, type_, required == "是", source)


# Shorthands for the most common fields.
SEQ = _f("序号", "整数", "否", "seq")


def _name(label: str = "姓名") -> FormField:
    return _f(label, "文本", "是", "name")


def _id(label: str = "身份证号", type_: str = "身份证号", required: str = "是") -> FormField:
    return _f(label, type_, required, "id")


def _phone(label: str = "联系电话", required: str = "否") -> FormField:
    return _f(label, "电话", required, "phone")


def _res(label: str = "居住地址", required: str = "是") -> FormField:
    return _f(label, "文本", required, "res_addr")


def _hukou(label: str = "户籍地址", required: str = "否") -> FormField:
    return _f(label, "文本", required, "hukou_addr")


SEX = _f("性别", "性别", "是", "sex")


def _sample(p: Person, salt: int, share: float) -> bool:
    return p.u(salt) < share


def _needy(p: Person) -> bool:
    return p.hh.dibao_no is not None or p.disabled is not None or (p.alone and p.age >= 70)


FORMS: tuple[Form, ...] = (
    # ---------------- 民政局 ----------------
    Form(
        "MZ01",
        "高龄老人补贴发放名册",
        "民政局",
        "市级",
        "月报",
        "全部",
        lambda p: p.age >= 80,
        "年满80周岁（2026-10-01）",
        (
            SEQ,
            _name("老人姓名"),
            _id(),
            SEX,
            _f("出生日期", "日期", "是", "birth_date"),
            _phone(),
            _res(),
            _f("高龄补贴金额", "数值", "是", "elderly_subsidy"),
            _f("发放月份", "年月", "是", "period_month"),
        ),
    ),
    Form(
        "MZ02",
        "最低生活保障家庭成员名册",
        "民政局",
        "市级",
        "月报",
        "全部",
        lambda p: p.hh.dibao_no is not None,
        "低保家庭全部成员",
        (
            _name(),
            _id("公民身份号码"),
            _f("与户主关系", "文本", "是", "relation"),
            _f("低保证号", "文本", "是", "dibao_no"),
            _f("家庭人口数", "整数", "是", "hh_size"),
            _f("低保金额", "数值", "是", "dibao_amount"),
            _hukou("户籍所在地", "是"),
            _phone("联系方式"),
        ),
    ),
    Form(
        "MZ03",
        "独居老人关爱服务名册",
        "民政局",
        "市级",
        "季报",
        "全部",
        lambda p: p.age >= 60 and p.alone,
        "60岁以上独居",
        (
            _name("老人姓名"),
            _id("证件号码"),
            _f("出生年月", "年月", "否", "birth_month"),
            _f("独居", "是否", "是", "alone"),
            _res("现住址"),
            _phone("本人电话"),
            _f("紧急联系人", "文本", "否", "emergency_name"),
            _f("紧急联系人电话", "电话", "否", "emergency_phone"),
        ),
    ),
    Form(
        "MZ04",
        "养老服务需求评估表",
        "民政局",
        "市级",
        "年报",
        "全部",
        lambda p: p.age >= 60 and _sample(p, 104, 0.5),
        "60岁以上，抽样50%",
        (
            _name(),
            _id("身份证号码"),
            SEX,
            _f("年龄", "整数", "是", "age"),
            _res(),
            _f("养老服务需求", "文本", "否", "service_need"),
            _f("是否失能", "是否", "是", "frail"),
            _f("照护等级", "整数", "否", "care_level"),
        ),
    ),
    Form(
        "MZ05",
        "困难群众临时救助台账",
        "民政局",
        "区级",
        "不定期",
        "全部",
        lambda p: (
            (p.hh.dibao_no is not None and p.is_head) or (p.disabled is not None and _sample(p, 105, 0.3))
        ),
        "低保户主及部分残疾人",
        (
            _name("救助对象姓名"),
            _id("身份证件号码"),
            _f("救助类型", "文本", "是", "aid_type"),
            _f("救助金额", "数值", "是", "aid_amount"),
            _f("救助日期", "日期", "是", "period_date"),
            _hukou(),
        ),
    ),
    Form(
        "MZ06",
        "老年人助餐服务登记表",
        "民政局",
        "区级",
        "季报",
        "居委会",
        lambda p: p.age >= 70 and _sample(p, 106, 0.4),
        "70岁以上，抽样40%",
        (
            SEQ,
            _name(),
            _id("身份证号（18位）"),
            _phone("联系人手机"),
            _f("用餐方式", "文本", "是", "meal_mode"),
            _res("常住地址"),
        ),
    ),
    # ---------------- 卫健委 ----------------
    Form(
        "WJ01",
        "65岁及以上老年人健康体检名册",
        "卫健委",
        "市级",
        "年报",
        "全部",
        lambda p: p.age >= 65 and _sample(p, 201, 0.7),
        "65岁以上，抽样70%",
        (
            _name(),
            _id(),
            SEX,
            _f("出生日期", "日期", "是", "birth_date"),
            _f("体检日期", "日期", "是", "event_date"),
            _phone(),
            _res("家庭住址"),
            _f("健康状况", "文本", "否", "health"),
        ),
    ),
    Form(
        "WJ02",
        "家庭医生签约居民名册",
        "卫健委",
        "市级",
        "季报",
        "全部",
        lambda p: _sample(p, 202, 0.05 + 0.004 * p.age),
        "按年龄加权抽样",
        (
            _name("居民姓名"),
            _id("身份证号码"),
            SEX,
            _phone("手机号码"),
            _f("签约日期", "日期", "是", "event_date"),
            _f("签约医生", "文本", "是", "doctor"),
            _res("现住址"),
        ),
    ),
    Form(
        "WJ03",
        "疫苗接种情况登记表",
        "卫健委",
        "区级",
        "月报",
        "全部",
        lambda p: p.age >= 60 and _sample(p, 203, 0.3),
        "60岁以上，抽样30%",
        (
            _name(),
            _id(),
            _f("疫苗接种", "是否", "是", "vaccinated"),
            _f("接种日期", "日期", "否", "vaccine_date"),
            _phone(),
        ),
    ),
    Form(
        "WJ04",
        "育龄妇女信息登记表",
        "卫健委",
        "市级",
        "年报",
        "全部",
        lambda p: p.sex == "女" and 20 <= p.age <= 49,
        "20-49岁女性",
        (
            _name(),
            _id("公民身份号码"),
            _f("出生年月", "年月", "是", "birth_month"),
            _f("婚姻状况", "文本", "是", "marital"),
            _f("现有子女数", "整数", "是", "children"),
            _hukou("户籍地"),
            _phone(),
        ),
    ),
    Form(
        "WJ05",
        "0-6岁儿童健康管理名册",
        "卫健委",
        "市级",
        "季报",
        "全部",
        lambda p: p.age <= 6,
        "0-6岁儿童",
        (
            _name("儿童姓名"),
            _id(),
            SEX,
            _f("生日", "日期", "是", "birth_date"),
            _f("监护人姓名", "文本", "是", "guardian_name"),
            _f("监护人电话", "电话", "是", "guardian_phone"),
            _res(),
        ),
    ),
    # ---------------- 人社局 ----------------
    Form(
        "RS01",
        "登记失业人员名册",
        "人社局",
        "市级",
        "月报",
        "全部",
        lambda p: p.employment == "失业",
        "登记失业人员",
        (
            _name(),
            _id(),
            SEX,
            _f("就业状态", "文本", "是", "employment"),
            _f("失业登记日期", "日期", "是", "unemployed_date"),
            _phone("手机号码"),
            _hukou(),
            _f("文化程度", "文本", "否", "education"),
        ),
    ),
    Form(
        "RS02",
        "就业困难人员认定名册",
        "人社局",
        "区级",
        "季报",
        "全部",
        lambda p: (
            p.employment == "失业" and (p.age >= 45 or p.disabled is not None or p.hh.dibao_no is not None)
        ),
        "失业且大龄/残疾/低保",
        (
            _name("人员姓名"),
            _id("证件号码"),
            _f("出生日期", "日期", "是", "birth_date"),
            _f("困难类型", "文本", "是", "hardship"),
            _f("认定日期", "日期", "是", "event_date"),
            _phone("联系手机"),
        ),
    ),
    Form(
        "RS03",
        "城乡居民养老保险参保名册",
        "人社局",
        "市级",
        "年报",
        "全部",
        lambda p: p.age >= 16 and p.employment in ("无业", "灵活就业") and p.insurance == "城乡居民医保",
        "16岁以上无业或灵活就业的城乡居民",
        (
            _name(),
            _id(),
            _f("参保状态", "文本", "是", "pension_status"),
            _f("缴费档次", "整数", "否", "pension_tier"),
            _hukou("户籍所在地"),
            _phone(),
        ),
    ),
    # ---------------- 公安局 ----------------
    Form(
        "GA01",
        "实有人口信息登记表",
        "公安局",
        "市级",
        "季报",
        "全部",
        lambda p: True,
        "全部实有人口",
        (
            SEQ,
            _name(),
            _id("公民身份号码"),
            SEX,
            _f("民族", "文本", "否", "ethnicity"),
            _f("出生日期", "日期", "是", "birth_date"),
            _hukou("户籍地址", "是"),
            _res("现住址"),
            _phone(),
        ),
    ),
    Form(
        "GA02",
        "来沪人员居住登记表",
        "公安局",
        "市级",
        "月报",
        "全部",
        lambda p: p.migrant and p.age >= 16,
        "16岁以上来沪人员",
        (
            _name(),
            _id(),
            SEX,
            _hukou("户籍详址", "是"),
            _res("现居住地址"),
            _f("来沪日期", "日期", "否", "arrival_date"),
            _f("居住事由", "文本", "否", "stay_reason"),
            _phone("手机号"),
        ),
    ),
    Form(
        "GA03",
        "出租房屋登记表",
        "公安局",
        "区级",
        "季报",
        "全部",
        lambda p: p.is_head and p.hh.house_type == "租赁",
        "租住户的承租人（户主）",
        (
            _f("承租人姓名", "文本", "是", "name"),
            _id("承租人证件号码", "文本"),
            _phone(),
            _f("出租房屋地址", "文本", "是", "res_addr"),
            _f("起租日期", "日期", "否", "lease_date"),
            _f("月租金", "数值", "否", "rent"),
        ),
    ),
    # ---------------- 残联 ----------------
    Form(
        "CL01",
        "残疾人基本服务状况调查表",
        "残联",
        "市级",
        "年报",
        "全部",
        lambda p: p.disabled is not None,
        "持证残疾人",
        (
            _name("残疾人姓名"),
            _id(),
            SEX,
            _f("残疾证号", "文本", "是", "disability_cert"),
            _f("残疾类别", "文本", "是", "disability_category"),
            _f("残疾等级", "文本", "是", "disability_level"),
            _hukou(),
            _phone(),
        ),
    ),
    Form(
        "CL02",
        "残疾人两项补贴发放名册",
        "残联",
        "市级",
        "月报",
        "全部",
        lambda p: p.disabled is not None and (p.disabled[1] in ("一级", "二级") or p.hh.dibao_no is not None),
        "重度残疾或低保家庭残疾人",
        (
            _name(),
            _id("身份证号码"),
            _f("残疾类别", "文本", "是", "disability_category"),
            _f("残疾等级", "文本", "是", "disability_level"),
            _f("补贴类型", "文本", "是", "disability_subsidy_type"),
            _f("补贴金额", "数值", "是", "disability_subsidy"),
            _f("发放月份", "年月", "是", "period_month"),
        ),
    ),
    # ---------------- 退役军人事务局 ----------------
    Form(
        "TY01",
        "退役军人信息采集表",
        "退役军人事务局",
        "市级",
        "年报",
        "全部",
        lambda p: p.veteran is not None,
        "退役军人",
        (
            _name(),
            _id(),
            SEX,
            _f("出生年月", "年月", "是", "birth_month"),
            _f("入伍时间", "日期", "是", "enlist_date"),
            _f("退役时间", "日期", "是", "discharge_date"),
            _f("政治面貌", "文本", "否", "party"),
            _phone("联系方式"),
            _hukou("户籍所在地"),
        ),
    ),
    Form(
        "TY02",
        "重点优抚对象名册",
        "退役军人事务局",
        "区级",
        "季报",
        "全部",
        lambda p: p.veteran is not None and p.age >= 60,
        "60岁以上退役军人",
        (
            _name(),
            _id("公民身份号码", "文本"),
            _f("优抚类别", "文本", "是", "veteran_kind"),
            _phone(),
            _res(),
        ),
    ),
    # ---------------- 应急管理局 ----------------
    Form(
        "YJ01",
        "防汛防台转移安置人员名册",
        "应急管理局",
        "区级",
        "不定期",
        "全部",
        lambda p: (
            (p.age >= 75 and p.alone)
            or (p.disabled is not None and p.disabled[1] == "一级")
            or (p.hh.house_type in ("老式里弄", "农村自建房") and _sample(p, 601, 0.25))
        ),
        "高龄独居、重度残疾、危旧房居民",
        (
            SEQ,
            _name("对象姓名"),
            _id(),
            _phone("移动电话"),
            _res(),
            _f("避难场所", "文本", "是", "shelter"),
            _f("转移方式", "文本", "否", "evac_mode"),
        ),
    ),
    Form(
        "YJ02",
        "灾害信息员登记表",
        "应急管理局",
        "市级",
        "年报",
        "全部",
        lambda p: 25 <= p.age <= 60 and _sample(p, 602, 0.02),
        "25-60岁，抽样2%",
        (_name(), _id(), _phone("手机号码", "是"), _f("所属网格", "文本", "否", "grid")),
    ),
    # ---------------- 住建委 ----------------
    Form(
        "ZJ01",
        "住房困难家庭情况登记表",
        "住建委",
        "市级",
        "季报",
        "全部",
        lambda p: (
            p.is_head
            and (p.hh.dibao_no is not None or (p.hh.house_type == "老式里弄" and _sample(p, 701, 0.3)))
        ),
        "低保户主及部分旧里户主",
        (
            _name("户主姓名"),
            _id(),
            _f("家庭人口数", "整数", "是", "hh_size"),
            _f("房屋类型", "文本", "是", "house_type"),
            _f("居住面积", "数值", "是", "area"),
            _res("现住址"),
            _phone(),
        ),
    ),
    Form(
        "ZJ02",
        "新能源车充电需求调查表",
        "住建委",
        "区级",
        "不定期",
        "居委会",
        lambda p: 25 <= p.age <= 65 and _sample(p, 702, 0.12),
        "25-65岁，抽样12%",
        (
            _name(),
            _phone("手机号码", "是"),
            _res(),
            _f("新能源车充电需求", "是否", "是", "ev_need"),
            _f("车牌号", "文本", "否", "plate"),
        ),
        district_wide_ok=False,
    ),
    Form(
        "ZJ03",
        "既有多层住宅加装电梯意愿征询表",
        "住建委",
        "区级",
        "不定期",
        "居委会",
        lambda p: p.is_head and p.hh.house_type in ("售后公房", "商品房") and _sample(p, 703, 0.3),
        "多层住宅户主，抽样30%",
        (
            _name("户主姓名"),
            _id("公民身份证号"),
            _f("所在楼层", "整数", "是", "floor"),
            _f("加装电梯意愿", "是否", "是", "elevator"),
            _phone(),
            _f("房屋地址", "文本", "是", "res_addr"),
        ),
    ),
    # ---------------- 统计局 ----------------
    Form(
        "TJ01",
        "人口抽样调查登记表",
        "统计局",
        "市级",
        "年报",
        "全部",
        lambda p: _sample(p, 801, 0.2),
        "全部居民，抽样20%",
        (
            _name(),
            _id("公民身份号码"),
            SEX,
            _f("出生年月", "年月", "是", "birth_month"),
            _f("民族", "文本", "是", "ethnicity"),
            _f("受教育程度", "文本", "是", "education"),
            _hukou("户籍所在地"),
            _res("现住址"),
            _f("家庭人口数", "整数", "是", "hh_size"),
        ),
    ),
    Form(
        "TJ02",
        "劳动力调查表",
        "统计局",
        "市级",
        "季报",
        "全部",
        lambda p: 16 <= p.age <= 64 and _sample(p, 802, 0.08),
        "16-64岁，抽样8%",
        (
            _name(),
            _id(),
            _f("年龄", "整数", "是", "age"),
            _f("就业状态", "文本", "是", "employment"),
            _f("行业", "文本", "否", "industry"),
            _f("周工作小时数", "整数", "否", "work_hours"),
        ),
    ),
    # ---------------- 医保局 ----------------
    Form(
        "YB01",
        "城乡居民基本医疗保险参保登记表",
        "医保局",
        "市级",
        "年报",
        "全部",
        lambda p: p.insurance == "城乡居民医保" and _sample(p, 901, 0.6),
        "城乡居民医保参保人，抽样60%",
        (
            _name(),
            _id("身份证号", "文本"),
            SEX,
            _f("医保类型", "文本", "是", "insurance"),
            _f("参保日期", "日期", "否", "event_date"),
            _phone(),
            _hukou(),
        ),
    ),
    Form(
        "YB02",
        "长期护理保险评估申请名册",
        "医保局",
        "市级",
        "季报",
        "全部",
        lambda p: (
            p.age >= 60 and (p.disabled is not None or _sample(p, 902, 0.04 + 0.003 * max(0, p.age - 60)))
        ),
        "60岁以上残疾或失能风险人员",
        (
            _name("申请人姓名"),
            _id(),
            _f("年龄", "整数", "是", "age"),
            _f("照护等级", "整数", "是", "care_level"),
            _f("申请日期", "日期", "是", "event_date"),
            _phone(),
            _res("现居地址"),
        ),
    ),
    # ---------------- 街镇自建 ----------------
    Form(
        "JZ01",
        "社区网格化人员走访表",
        "街镇自建",
        "街镇",
        "月报",
        "全部",
        lambda p: p.age >= 80 or _needy(p),
        "高龄、独居、残疾、低保人员",
        (
            _name(),
            _id("居民身份证号码"),
            _f("所属网格", "文本", "是", "grid"),
            _f("走访日期", "日期", "是", "period_date"),
            _f("走访情况", "文本", "否", "visit_note"),
            _phone(),
            _res("家庭住址"),
        ),
    ),
    Form(
        "JZ02",
        "社区志愿者登记表",
        "街镇自建",
        "街镇",
        "不定期",
        "全部",
        lambda p: 18 <= p.age <= 70 and _sample(p, 1002, 0.05),
        "18-70岁，抽样5%",
        (
            _name(),
            SEX,
            _f("出生年月日", "日期", "是", "birth_date"),
            _phone("手机号码", "是"),
            _f("志愿服务特长", "文本", "否", "skill"),
            _res("现住址"),
        ),
        district_wide_ok=False,
    ),
    Form(
        "JZ03",
        "村民小组人口花名册",
        "街镇自建",
        "街镇",
        "年报",
        "村委会",
        lambda p: True,
        "村内全部人口",
        (
            SEQ,
            _f("村民小组", "整数", "是", "group_no"),
            _name(),
            _id(),
            SEX,
            _f("与户主关系", "文本", "是", "relation"),
            _hukou("户籍地址"),
        ),
    ),
    Form(
        "JZ04",
        "重点人群关爱帮扶台账",
        "街镇自建",
        "街镇",
        "月报",
        "全部",
        lambda p: _needy(p),
        "低保、残疾、70岁以上独居",
        (_name(), _id("身份证号", "文本"), _f("帮扶类型", "文本", "是", "help_type"), _phone(), _res()),
    ),
    # ---------------- 农业农村委 / 妇联 ----------------
    Form(
        "NY01",
        "农村宅基地使用情况登记表",
        "农业农村委",
        "区级",
        "年报",
        "村委会",
        lambda p: p.is_head and not p.migrant,
        "本地户籍户主",
        (
            _name("户主姓名"),
            _id("身份证号码"),
            _f("家庭人口数", "整数", "是", "hh_size"),
            _f("宅基地面积", "数值", "是", "area"),
            _hukou("户籍登记地址"),
        ),
    ),
    Form(
        "FL01",
        "困境儿童关爱名册",
        "妇联",
        "区级",
        "季报",
        "全部",
        lambda p: p.age < 18 and (p.hh.dibao_no is not None or p.parent_disabled),
        "低保或残疾人家庭的未成年人",
        (
            _name("儿童姓名"),
            _id(),
            SEX,
            _f("出生时间", "日期", "是", "birth_date"),
            _f("监护人姓名", "文本", "是", "guardian_name"),
            _f("监护人电话", "电话", "否", "guardian_phone"),
            _f("困境类型", "文本", "是", "plight"),
        ),
    ),
)

FORMS_BY_CODE: dict[str, Form] = {f.code: f for f in FORMS}

# Labels a clerk may swap in for a catalog label (the "renamed column" defect); all mean the same element.
SYNONYM_SWAPS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "居民姓名", "人员姓名"),
    "id": ("身份证号", "公民身份号码", "身份证号码", "证件号码"),
    "phone": ("联系电话", "手机号码", "联系方式", "手机"),
    "res_addr": ("居住地址", "现住址", "现居住地址", "家庭住址"),
    "hukou_addr": ("户籍地址", "户籍所在地", "户口所在地"),
    "birth_date": ("出生日期", "出生年月日"),
}


def write_catalog(landing: Path) -> list[Path]:
    """Write catalog/forms.csv and catalog/form_fields.csv (UTF-8 with BOM, Chinese headers)."""
    folder = landing / "catalog"
    folder.mkdir(parents=True, exist_ok=True)
    forms_path, fields_path = folder / "forms.csv", folder / "form_fields.csv"
    with forms_path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["报表编号", "报表名称", "主管部门", "下发层级", "填报频次", "填报对象"])
        for f in FORMS:
            w.writerow([f.code, f.name, f.department, f.level, f.frequency, f.target])
    with fields_path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(["报表编号", "字段序号", "字段名称", "字段类型", "是否必填"])
        for f in FORMS:
            for i, fld in enumerate(f.fields, start=1):
                w.writerow([f.code, i, fld.label, fld.type, "是" if fld.required else "否"])
    return [forms_path, fields_path]
