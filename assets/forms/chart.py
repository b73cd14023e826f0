"""The burden chart shown in the Dagster UI: monthly field-entries before and after prefill.

matplotlib with the Agg backend (no display). Chinese names are drawn only when a CJK font is installed;
otherwise committees are labelled by code and departments by an English name (or pinyin).
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from pypinyin import lazy_pinyin  # noqa: E402

DEPARTMENTS_EN = {
    "民政局": "Civil Affairs", "卫健委": "Health Commission", "人社局": "Human Resources & Social Security",
    "公安局": "Public Security", "残联": "Disabled Persons' Federation", "退役军人事务局": "Veterans Affairs",
    "应急管理局": "Emergency Management", "住建委": "Housing & Construction", "统计局": "Statistics",
    "街镇自建": "Township (own forms)",
}  # fmt: skip
_CJK_HINTS = ("Noto Sans CJK", "Noto Serif CJK", "Source Han", "WenQuanYi", "SimHei", "Microsoft YaHei", "PingFang",
              "AR PL", "Droid Sans Fallback")  # fmt: skip


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The name of an installed font that can draw Chinese, if any."""
    for font in font_manager.fontManager.ttflist:
        if any(h.lower() in font.name.lower() for h in _CJK_HINTS):
            return font.name
    return None


def _department_label(name: str | None, cjk: bool) -> str:
    if not name:
        return "(unknown)"
    if cjk:
        return name
    return DEPARTMENTS_EN.get(name) or " ".join(lazy_pinyin(name)).title()


def burden_chart_png(by_committee: pl.DataFrame, by_department: pl.DataFrame, top: int = 15) -> bytes:
    """Two panels: the `top` committees by entries before, and every issuing department, before vs after."""
    font = cjk_font()
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with plt.rc_context(rc):
        fig, axes = plt.subplots(1, 2, figsize=(13, 6), dpi=90)
        com = by_committee.sort("entries_before", descending=True).head(top).reverse()
        labels = [
            f"{r['committee_name']}" if font and r.get("committee_name") else r["committee_code"]
            for r in com.iter_rows(named=True)
        ]
        _bars(axes[0], labels, com["entries_before"].to_list(), com["entries_after"].to_list())
        axes[0].set_title(f"Top {com.height} committees: field-entries per month")
        dep = by_department.sort("entries_before").tail(top)
        _bars(
            axes[1],
            [_department_label(d, bool(font)) for d in dep["department"].to_list()],
            dep["entries_before"].to_list(),
            dep["entries_after"].to_list(),
        )
        axes[1].set_title("By issuing department: field-entries per month")
        total_b, total_a = by_committee["entries_before"].sum(), by_committee["entries_after"].sum()
        share = (total_b - total_a) / total_b if total_b else 0.0
        fig.suptitle(
            f"One form for many: {total_b:,.0f} -> {total_a:,.0f} field-entries/month ({share:.1%} prefilled)"
        )
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
    return buf.getvalue()


def _bars(ax: plt.Axes, labels: list[str], before: list[float], after: list[float]) -> None:
    y = range(len(labels))
    ax.barh([i + 0.2 for i in y], before, height=0.4, label="before", color="#b0b0b0")
    ax.barh([i - 0.2 for i in y], after, height=0.4, label="after prefill", color="#2a7ab9")
    ax.set_yticks(list(y), labels, fontsize=8)
    ax.set_xlabel("field-entries per month (rows x fields x deliveries/month)")
    ax.legend(loc="lower right", fontsize=8)


def markdown_image(png: bytes, alt: str = "burden chart") -> str:
    """A Markdown image with the PNG inlined as a base64 data URI (what dg.MetadataValue.md shows)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
