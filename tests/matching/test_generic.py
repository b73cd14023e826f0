"""The engine is not tied to residents: an enterprise spec on another column set."""

from __future__ import annotations

import polars as pl

from assets.matching import MatchEngine, evaluate_clusters, parse_spec

SYNTHETIC_ENV = {"JIANFU_ENV": "dev"}  # synthetic rows: the documented dev person-id salt

ENTERPRISE_SPEC = {
    "entity": "enterprise",
    "record_id": "row_id",
    "features": {
        "name": {"column": "企业名称", "transform": "text"},
        "code": {"column": "统一社会信用代码", "transform": "upper"},
        "addr": {"column": "注册地址", "transform": "address", "strip_prefixes": ["上海市"]},
    },
    "blocking": [
        {"name": "code", "keys": ["code"]},
        {"name": "name", "keys": ["name__py"]},
    ],
    "comparisons": [
        {"name": "name", "feature": "name", "levels": [{"kind": "exact"}, {"kind": "jaro_winkler", "min": 0.9},
                                                        {"kind": "else"}]},
        {"name": "code", "feature": "code", "levels": [{"kind": "exact"}, {"kind": "levenshtein", "max": 1},
                                                        {"kind": "else"}]},
        {"name": "addr", "feature": "addr", "levels": [{"kind": "exact"}, {"kind": "jaro_winkler", "min": 0.9},
                                                        {"kind": "else"}]},
    ],
    "threshold": {"match_probability": 0.9},
    "identity": {"prefix": "ENT", "anchor": "code"},
}  # fmt: skip


def test_enterprise_spec_resolves_companies():
    spec = parse_spec(ENTERPRISE_SPEC, "enterprise (inline)")
    rows, truth = [], []
    for i in range(60):
        code = f"91310{i:04d}MA1FL{i:04d}X"
        name = f"上海{'宏达华鑫明珠申通'[i % 4 * 2 : i % 4 * 2 + 2]}{i}号贸易有限公司"
        # streets vary, as real addresses do (random pairs rarely share one: that is what u measures)
        addr = f"上海市{'浦东新区张杨路|黄浦区南京东路|徐汇区漕溪北路|静安区延安中路|闵行区莘庄路'.split('|')[i % 5]}{100 + i * 7}号"
        for j in range(1 + i % 3):
            # planted variants: a lowercase code, the city prefix dropped from the address
            rows.append({"row_id": f"e{i}_{j}", "企业名称": name, "统一社会信用代码": code.lower() if j == 1 else code,
                         "注册地址": addr[3:] if j == 2 else addr})  # fmt: skip
            truth.append({"row_id": f"e{i}_{j}", "true_id": str(i)})
    engine = MatchEngine(spec, env=SYNTHETIC_ENV)
    result = engine.resolve(pl.DataFrame(rows))
    engine.close()
    m = evaluate_clusters(
        result.assignments.rename({"entity_id": "cluster_id", "record_id": "row_id"}),
        pl.DataFrame(truth),
        on="row_id",
    )
    assert m["pairwise_f1"] == 1.0
    assert result.assignments["entity_id"].str.starts_with("ENT").all()
