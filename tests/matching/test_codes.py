"""Equality comparisons on integer codes give the levels the strings give (assets/matching/codes.py)."""

from __future__ import annotations

import polars as pl

from assets.matching import MatchEngine, parse_spec
from assets.matching import sql as S
from assets.matching.codes import choose, rewrite
from assets.matching.pairs import table_columns

SPEC = {
    "entity": "person",
    "record_id": "rid",
    "features": {
        "name": {"column": "name", "transform": "name"},
        "sex": {"column": "sex", "transform": "sex"},
        "phone": {"column": "phone", "transform": "phone"},
        "addr": {"column": "addr", "transform": "address"},
        "home": {"sql": "coalesce(addr, phone)"},
    },
    "blocking": [{"name": "all", "keys": ["sex"]}],
    "comparisons": [
        {"name": "name", "feature": "name", "levels": [{"kind": "exact"}, {"kind": "levenshtein", "max": 1},
                                                        {"kind": "else"}]},
        {"name": "sex", "feature": "sex", "levels": [{"kind": "exact"}, {"kind": "else"}]},
        {"name": "home", "feature": "home", "levels": [
            {"kind": "sql", "label": "both", "condition": "l.addr = r.addr AND l.phone = r.phone"},
            {"kind": "sql", "label": "phone", "condition": "l.phone = r.phone"},
            {"kind": "sql", "label": "addr", "condition": "l.addr = r.addr AND NOT coalesce(l.phone <> r.phone, false)"},
            {"kind": "else"}]},
    ],
    "threshold": {"match_probability": 0.9},
}  # fmt: skip


def test_rewrite_only_touches_whole_equalities():
    coded = {"a"}
    assert rewrite("l.a = r.a", coded) == 'l."__code_a" = r."__code_a"'
    assert (
        rewrite('NOT coalesce(r."a" <> l."a", false)', coded)
        == 'NOT coalesce(r."__code_a" <> l."__code_a", false)'
    )
    # planted: `||` and `+` bind tighter than `=`: the right side is not r.a alone
    assert rewrite("l.a = r.a || r.b", coded) == "l.a = r.a || r.b"
    assert rewrite("x + l.a = r.a", coded) == "x + l.a = r.a"
    # planted: a function of the value, the same side twice, another feature, IS NOT NULL
    assert rewrite("left(l.a, 3) = left(r.a, 3)", coded) == "left(l.a, 3) = left(r.a, 3)"
    assert rewrite("l.a = l.a", coded) == "l.a = l.a"
    assert rewrite("l.b = r.b", coded) == "l.b = r.b"
    assert rewrite("l.a IS NOT NULL", coded) == "l.a IS NOT NULL"
    # planted: a literal or a comment could hide text that looks like a comparison
    assert rewrite("l.a = r.a AND l.b = 'l.a = r.a'", coded) == "l.a = r.a AND l.b = 'l.a = r.a'"
    assert rewrite("l.a = r.a -- note", coded) == "l.a = r.a -- note"
    assert rewrite("l.h IS NULL OR r.h IS NULL", set(), {"h"}) == 'l."__null_h" OR r."__null_h"'


def test_only_features_read_by_equality_alone_are_coded():
    spec = parse_spec(SPEC, "inline")
    conds = [S.gamma_expr(spec, c) for c in spec.comparisons]
    coded, flagged = choose(conds, ["name", "sex", "phone", "addr"], {"name", "sex", "home"})
    assert coded == {"sex", "phone", "addr"}  # name also has an edit distance: it stays a string
    assert flagged == {"home"}  # read only by its null check


def test_levels_on_codes_equal_levels_on_strings():
    # Values that differ raw but normalize alike (男/1, a full-width phone, address spacing) must agree;
    # nulls on either side must stay null; a household sharing only the address must get level 2.
    rows = pl.DataFrame(
        {
            "rid": ["1", "2", "3", "4", "5", "6"],
            "name": ["张伟", "张伟", "章伟", "王芳", None, "王芳"],
            "sex": ["男", "1", "男", "女", "男", "2"],
            "phone": ["13800000000", "１３８００００００００", None, "13900000000", "13800000000", None],
            "addr": ["幸福路1号", "幸福路 1号", "幸福路1号", None, "幸福路2号", None],
        }
    )
    engine = MatchEngine(parse_spec(SPEC, "inline"), env={"JIANFU_ENV": "dev"})
    engine.load(rows)
    cols = table_columns(engine.con, "__rec")
    assert {"__code_sex", "__code_phone", "__code_addr", "__null_home"} <= cols
    for comp in engine.spec.comparisons:
        plain, fast = S.gamma_expr(engine.spec, comp), S.gamma_expr(engine.spec, comp, cols)
        if comp.name != "name":
            assert "__code_" in fast or "__null_" in fast  # the codes are really used
        got = engine.con.execute(
            f"SELECT l.record_id, r.record_id, {plain} AS s, {fast} AS c FROM __rec l, __rec r ORDER BY 1, 2"
        ).fetchall()
        assert all(s == c for _, _, s, c in got), (comp.name, [g for g in got if g[2] != g[3]])
        levels = {(a, b): s for a, b, s, _ in got}
        if comp.name == "home":
            assert levels[("1", "2")] == 0 and levels[("1", "3")] == 2 and levels[("4", "6")] == -1
        if comp.name == "sex":
            assert levels[("1", "2")] == 0 and levels[("4", "6")] == 0 and levels[("1", "4")] == 1
    engine.close()
