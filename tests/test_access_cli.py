"""`lifecircle access`: tables per area from the real networks and a small facility file."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from geo.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory, registry, xinhualu_net) -> Path:
    """A results folder with two facilities placed exactly on xinhualu network nodes."""
    out = tmp_path_factory.mktemp("access_out")
    nodes = xinhualu_net.nodes.iloc[[10, 500]]
    fac = gpd.GeoDataFrame(
        {
            "facility_id": ["f1", "f2", "f3"],
            "area": "xinhualu",
            "category": ["synthetic_clinic", "synthetic_clinic", "synthetic_clinic"],
            "status": ["existing", "planned", "existing"],
        },
        geometry=[shapely.Point(xy) for xy in zip(nodes["lon"], nodes["lat"], strict=True)]
        + [None],
        crs="EPSG:4326",
    )
    fac.to_file(out / "facilities.gpkg", layer="facilities", driver="GPKG")
    return out


def _run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["access", "--no-progress", *args])
    return res.exit_code, res.output


def test_access_writes_node_table_with_contract_columns(out_dir, xinhualu_net):
    code, text = _run("--out", str(out_dir), "--area", "xinhualu")
    assert code == 0, text
    t = pd.read_parquet(out_dir / "access" / "xinhualu.parquet")
    assert list(t.columns[1:6]) == ["unit_id", "category", "nearest_m", "nearest_min", "n_within"]
    clinic = t[t["category"] == "synthetic_clinic"].set_index("unit_id")
    assert len(clinic) == xinhualu_net.n_nodes  # no demand file: every node is a unit
    on_node = xinhualu_net.nodes["node_id"].iloc[10]
    assert clinic.loc[on_node, "nearest_m"] == 0.0
    assert clinic.loc[on_node, "n_within"] == 1  # the planned one is not counted


def test_access_counts_planned_when_asked(out_dir, xinhualu_net):
    code, text = _run(
        "--out", str(out_dir), "--area", "xinhualu", "--status", "existing", "--status", "planned"
    )
    assert code == 0, text
    t = pd.read_parquet(out_dir / "access" / "xinhualu.parquet")
    planned_node = xinhualu_net.nodes["node_id"].iloc[500]
    row = t[(t["category"] == "synthetic_clinic") & (t["unit_id"] == planned_node)]
    assert row["nearest_m"].tolist() == [0.0]


def test_access_elderly_profile_uses_3_kmh(out_dir):
    code, text = _run("--out", str(out_dir), "--area", "xinhualu", "--profile", "elderly")
    assert code == 0, text
    t = pd.read_parquet(out_dir / "access" / "xinhualu.elderly.parquet")
    fin = np.isfinite(t["nearest_m"])
    assert fin.sum() > 500
    np.testing.assert_allclose(t.loc[fin, "nearest_min"], t.loc[fin, "nearest_m"] / 50.0)


def test_access_skips_area_without_network(out_dir):
    code, text = _run("--out", str(out_dir), "--area", "changbaixincun", "--json")
    assert code == 0, text
    rows = json.loads(text)
    assert rows[0]["status"] == "skipped"
    assert not (out_dir / "access" / "changbaixincun.parquet").exists()


def test_access_without_facilities_is_one_line_error(tmp_path, registry):
    code, text = _run("--out", str(tmp_path), "--area", "xinhualu")
    assert code == 2
    assert "facilities build" in text
    assert text.count("\n") == 1
