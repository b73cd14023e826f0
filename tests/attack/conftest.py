"""The attacker's world: the bundled sample built ONCE through the documented CLI, plus helpers.

Written from issue 9's text and the public documentation only (README "Downstream access",
docs/access.md, schemas/policy/*.yaml, schemas/data_elements.yaml): nothing here reads or imports the
code under attack (assets/publish/) except the documented development key constant.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.attack import support


@dataclass
class World:
    """One built warehouse + its published products, in a temp dir the suite owns."""

    root: Path
    warehouse: Path
    landing: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def published(self) -> Path:
        return self.root / "published"

    def jianfu(
        self,
        *args: str,
        timeout: float = 600,
        env: dict[str, str] | None = None,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the documented CLI as a subprocess (never in-process: the attacker has only the CLI)."""
        return subprocess.run([str(support.JIANFU), *args], env={**self.env, **(env or {})}, text=True,
                              capture_output=True, timeout=timeout, cwd=str(support.REPO), input=input_text)  # fmt: skip

    def clone(self, dest: Path) -> World:
        """A private copy (warehouse copied, products hard-linked, audit logs copied) to attack freely.

        Products are replaced whole, never modified in place (docs/access.md), so hard links are safe;
        append-only logs are copied so tampering with them never touches the original.
        """
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.warehouse, dest / self.warehouse.name)
        for extra in self.warehouse.parent.glob(self.warehouse.name + ".*"):  # a WAL, if any
            shutil.copy2(extra, dest / extra.name)

        def link_or_copy(src: str, dst: str) -> str:
            if src.endswith(".duckdb") and "_audit" not in src:
                os.link(src, dst)
            else:
                shutil.copy2(src, dst)
            return dst

        if self.published.exists():
            shutil.copytree(self.published, dest / "published", symlinks=True, copy_function=link_or_copy)
            # an absolute symlink into the original (e.g. a generation pointer) must point into the clone
            src_root = str(self.published.resolve())
            for link in (dest / "published").rglob("*"):
                if link.is_symlink() and os.readlink(link).startswith(src_root):
                    target = os.readlink(link).replace(src_root, str(dest / "published"), 1)
                    link.unlink()
                    link.symlink_to(target)
        env = {**self.env, "JIANFU_WAREHOUSE": str(dest / self.warehouse.name)}
        return World(root=dest, warehouse=dest / self.warehouse.name, landing=self.landing, env=env)


def base_env(root: Path, warehouse: Path, landing: Path) -> dict[str, str]:
    """The environment `make run` gives the CLI, pointed at our temp dir, without the dev's Dagster home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIANFU_", "DAGSTER_HOME"))}
    env.update({
        "JIANFU_ENV": "dev",
        "JIANFU_WAREHOUSE": str(warehouse),
        "JIANFU_LANDING": str(landing),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(support.REPO),
        "TMPDIR": str(root / "tmp"),
        # pytest-xdist already runs a test per core (tests/conftest.py): no process pools inside the run
        # (docs/deploy.md; the pools give the same tables, tests/ingest/test_district_pool.py and reflow's)
        "JIANFU_INGEST_WORKERS": "1",
        "JIANFU_REFLOW_WORKERS": "1",
    })  # fmt: skip
    (root / "tmp").mkdir(parents=True, exist_ok=True)
    return env


# Under pytest-xdist the attack files are spread over the workers (tests/conftest.py groups them per file, not
# per folder): the world is still built once, by whichever worker asks first, and each worker attacks its own
# clone of it (World.clone: the products every attack reads are hard links, the logs and warehouse copies).
XDIST_GROUP_PER_FILE = True


def _build_world(root: Path, landing: Path) -> World:
    """`jianfu run` on the bundled sample into `root`, as `make run` does."""
    warehouse = root / "jianfu.duckdb"
    w = World(root=root, warehouse=warehouse, landing=landing, env=base_env(root, warehouse, landing))
    proc = w.jianfu("run", "--warehouse", str(warehouse), "--landing", str(landing), timeout=900)
    (root / "run.log").write_text(proc.stdout + "\n" + proc.stderr, encoding="utf-8")
    assert proc.returncode == 0, (
        f"jianfu run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    assert support.visible_products(w.published), f"jianfu run published no product under {w.published}"
    (root / "built").touch()
    return w


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """Build the warehouse and every product once from the bundled sample (`jianfu run`, like `make run`)."""
    landing = support.REPO / "data" / "sample" / "landing"
    reuse = os.environ.get("JIANFU_ATTACK_REUSE")  # developer convenience: an already built world dir
    if reuse and (Path(reuse) / "jianfu.duckdb").exists():
        root = Path(reuse)
        return World(root, root / "jianfu.duckdb", landing, base_env(root, root / "jianfu.duckdb", landing))
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # no xdist: this session's own world
        return _build_world(tmp_path_factory.mktemp("attack_world"), landing)
    # xdist: one build per session in the folder all workers share, under a lock the other workers wait on
    shared = tmp_path_factory.getbasetemp().parent / "attack_world"
    with open(str(shared) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "built").exists():
            shutil.rmtree(shared, ignore_errors=True)  # a build that failed half way is not reused
            shared.mkdir()
            _build_world(shared, landing)
    warehouse = shared / "jianfu.duckdb"
    built = World(shared, warehouse, landing, base_env(shared, warehouse, landing))
    return built.clone(tmp_path_factory.mktemp("attack_world"))


@pytest.fixture(scope="session")
def products(world: World) -> dict[tuple[str, str], Path]:
    """Every product a principal can open: (tier code, jurisdiction[.suffix]) -> file."""
    return support.visible_products(world.published)


@pytest.fixture(scope="session")
def truth(world: World) -> support.Truth:
    """What the operator sees in the engineers' warehouse: the ground truth the attacks are scored on."""
    return support.Truth.load(world.warehouse)


@pytest.fixture(scope="session")
def policy() -> support.Policy:
    return support.Policy.load()


def python() -> str:
    return sys.executable
