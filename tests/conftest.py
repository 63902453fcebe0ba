"""Shared fixtures. Unit tests build their own small inputs; integration tests use the mirror."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from geo import settings

ARTIFACTS = settings.PROJECT_ROOT / "out" / "test-artifacts"

# Tests never read a developer's local area overlay (`lifecircle areas add`); tests of the
# overlay set their own.
os.environ.setdefault("LIFECIRCLE_AREAS_LOCAL", str(ARTIFACTS / "no-such-areas.local.yaml"))


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The team data mirror ../shared/data (integration tests). Missing in CI is a failure."""
    if not settings.MIRROR_DIR.exists():
        if os.environ.get("CI"):
            pytest.fail(f"data mirror missing: {settings.MIRROR_DIR}")
        pytest.skip("data mirror ../shared/data not present")
    return settings.MIRROR_DIR


@pytest.fixture(scope="session")
def registry(mirror):
    """The real study-area registry resolved against the mirror."""
    from geo.io.areas import load_registry

    return load_registry()


@pytest.fixture(scope="session")
def net_cache(tmp_path_factory) -> Path:
    """A session-wide network cache folder (keeps integration tests fast)."""
    return tmp_path_factory.mktemp("netcache")


@pytest.fixture(scope="session")
def xinhualu_net(registry, net_cache):
    """The real xinhualu walking network (complete area)."""
    from geo.network.network import build_area_network

    return build_area_network(registry, "xinhualu", cache_dir=net_cache)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for test artefacts (screenshots, exports) kept after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def pipeline_out(mirror, tmp_path_factory) -> Path:
    """`lifecircle run` end to end on the mirror data, once per test session (~1 min)."""
    from click.testing import CliRunner

    from geo.cli import main

    out = tmp_path_factory.mktemp("pipeline") / "out"
    result = CliRunner().invoke(main, ["run", "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, (result.stderr or "") + repr(result.exception)
    return out
