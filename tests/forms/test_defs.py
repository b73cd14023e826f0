"""The forms assets and checks materialize on the toy warehouse, and the chart lands in the metadata."""

import dagster as dg

from assets.common.resources import RunEnvironmentResource, WarehouseResource
from assets.forms import defs

from .toy_warehouse import build


def test_forms_group_materializes_with_checks(tmp_path):
    path = build(tmp_path / "toy.duckdb")
    result = dg.materialize(
        [*defs.ASSETS, *defs.CHECKS],
        resources={"warehouse": WarehouseResource(path=str(path)), "run_env": RunEnvironmentResource()},
    )
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {name: True for name in checks} and len(checks) == 4
    meta = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert len(meta) == 10
    chart = meta["marts/burden_by_committee"]["chart"].value
    assert chart.startswith("![") and "data:image/png;base64," in chart
    head = meta["marts/burden_by_committee"]["headline"].value
    assert head["entries_per_month_after"] < head["entries_per_month_before"]


def test_assets_follow_house_conventions():
    graph = dg.Definitions(
        assets=defs.ASSETS,
        asset_checks=defs.CHECKS,
        resources={"warehouse": WarehouseResource(path="unused"), "run_env": RunEnvironmentResource()},
    ).resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    assert len(keys) == 10
    for key in keys:
        node = graph.get(key)
        assert len(key.path) == 2 and node.description and node.owners and node.kinds
        assert node.group_name == "forms"
