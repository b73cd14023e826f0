"""Dagster wiring: the publishing asset and its blocking checks, materialized in process on the tiny warehouse."""

from __future__ import annotations

import argparse
from pathlib import Path

import dagster as dg
import pytest

from assets.common.resources import WarehouseResource
from assets.publish import cli, defs, manifest
from assets.publish.products import product_files
from tests.publish.conftest import build_warehouse


def test_definitions_load_with_upstream_assets_not_yet_defined() -> None:
    d = dg.Definitions(
        assets=defs.ASSETS,
        asset_checks=defs.CHECKS,
        resources={**defs.RESOURCES, "warehouse": WarehouseResource()},
    )
    graph = d.resolve_asset_graph()
    assert defs.PRODUCTS_KEY in graph.get_all_asset_keys()
    assert {c.name for c in defs.CHECKS for c in c.check_specs} == {
        "leak_scan",
        "deny_by_default",
        "audit_chain",
    }
    assert all(spec.blocking for c in defs.CHECKS for spec in c.check_specs)


def test_materialize_publishes_and_checks_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dictionary_path: Path
) -> None:
    wh = build_warehouse(tmp_path / "jianfu.duckdb")
    monkeypatch.setenv("JIANFU_ENV", "dev")  # documented dev key; JIANFU_MASK_KEY unset
    resources = {
        "warehouse": WarehouseResource(path=str(wh)),
        "publish": defs.PublishResource(dictionary=str(dictionary_path)),
    }
    result = dg.materialize(
        [*defs.ASSETS, *defs.CHECKS], resources=resources, instance=dg.DagsterInstance.ephemeral()
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["leak_scan"].passed
    # the fixture plants an unclassified column (core.persons.golden_method): a WARN-level policy gap
    assert not checks["deny_by_default"].passed
    assert checks["deny_by_default"].severity == dg.AssetCheckSeverity.WARN
    mat = next(m for m in result.get_asset_materialization_events() if m.asset_key == defs.PRODUCTS_KEY)
    meta = mat.materialization.metadata
    assert meta["product_count"].value == len(product_files(tmp_path / "published"))
    assert "PASS" in meta["leak_scan"].value
    assert "dev-default" in meta["mask_key_fingerprint"].value


def test_materialize_without_a_key_fails_before_writing(tmp_path: Path, dictionary_path: Path) -> None:
    wh = build_warehouse(tmp_path / "jianfu.duckdb")
    resources = {
        "warehouse": WarehouseResource(path=str(wh)),
        "publish": defs.PublishResource(dictionary=str(dictionary_path)),
    }
    result = dg.materialize(
        defs.ASSETS, resources=resources, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    assert not (tmp_path / "published").exists()


def test_cli_publish(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = build_warehouse(tmp_path / "jianfu.duckdb")
    parser = argparse.ArgumentParser()
    cli.configure_publish(parser)
    args = parser.parse_args(["--warehouse", str(wh), "--tier", "district", "--tier", "街镇"])
    assert cli.run_publish(args) == 2  # no key, not dev
    monkeypatch.setenv("JIANFU_MASK_KEY", "a-real-secret-of-32-characters!!")
    assert cli.run_publish(args) == 2  # and no audit key
    monkeypatch.setenv("JIANFU_AUDIT_KEY", "a-real-secret-of-32-characters!!")
    assert cli.run_publish(args) == 2  # the same secret as the mask key
    monkeypatch.setenv("JIANFU_AUDIT_KEY", "another-secret-for-the-audit-chain-71")
    assert cli.run_publish(args) == 0
    out = capsys.readouterr().out
    assert "leak scan PASS" in out
    assert {p.parent.name for p in product_files(tmp_path / "published")} == {"district", "township"}
    audit_args = argparse.ArgumentParser()
    cli.configure_audit(audit_args)
    verify = audit_args.parse_args(["verify", "--warehouse", str(wh)])
    assert cli.run_audit(verify) == 0
    chain = manifest.audit_dir(tmp_path / "published") / manifest.MANIFEST_JSONL
    lines = chain.read_text(encoding="ascii").splitlines()
    chain.write_text("\n".join(lines[:-1]) + "\n", encoding="ascii")  # planted: the run entry dropped
    assert cli.run_audit(verify) == 1
    assert cli.run_publish(args) == 2  # a broken audit stops publication


def test_a_bad_policy_fails_the_asset_not_the_code_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            dictionary_path: Path) -> None:  # fmt: skip
    wh = build_warehouse(tmp_path / "jianfu.duckdb")
    bad = tmp_path / "policy"
    bad.mkdir()
    (bad / "rules.yaml").write_text("rules: [{id: x, classifications: [personal], treatment: reveal}]")
    monkeypatch.setenv("JIANFU_ENV", "dev")
    import importlib

    importlib.reload(defs)  # nothing is read at import time
    resources = {"warehouse": WarehouseResource(path=str(wh)),
                 "publish": defs.PublishResource(policy_dir=str(bad), dictionary=str(dictionary_path))}  # fmt: skip
    result = dg.materialize(defs.ASSETS, resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)  # fmt: skip
    assert not result.success


def test_upstream_deps_cover_every_table_the_policy_reads() -> None:
    import re

    from assets.publish.policy import load_policy
    from assets.publish.run import DICTIONARY, POLICY_DIR

    policy = load_policy(POLICY_DIR, DICTIONARY)
    sqls = [s.select_sql for ds in policy.datasets.values() for s in ds.sources]
    sqls += [s.select_sql for ds in policy.datasets.values() if ds.golden for s in ds.golden.lineage]
    sqls += [s.select_sql for s in (policy.form_elements.sources if policy.form_elements else [])]
    read = {m for sql in sqls for m in re.findall(r"\b((?:staging|catalog|core|marts)\.[a-z_]+)", sql)}
    assert read <= {".".join(k.path) for k in defs.UPSTREAM}
