"""Integration: walking networks of the four seed areas from the real mirror data."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from geo import settings
from geo.cli import main
from geo.io.areas import load_registry
from geo.network.network import build_area_network, network_status

pytestmark = pytest.mark.integration


def test_xinhualu_network_is_complete_and_connected(xinhualu_net):
    # 2347 segments, one of them drawn twice by two overlapping ways: kept once
    assert (xinhualu_net.n_nodes, xinhualu_net.n_edges) == (2127, 2346)
    assert xinhualu_net.info["largest_component_share"] >= 0.90
    assert xinhualu_net.info["completeness"] == pytest.approx(0.9118, abs=0.0005)
    assert xinhualu_net.nodes[["x", "y"]].notna().all().all()
    # every edge is a straight segment with a positive geodesic length
    assert (xinhualu_net.edges["length_m"] > 0).all()


def test_status_of_the_four_seed_areas(registry, net_cache):
    rows = {}
    for area in registry:
        net = build_area_network(registry, area, cache_dir=net_cache)
        rows[area.id] = network_status(registry, area, net)
    assert rows["xinhualu"]["basis"] == "network"
    assert rows["wujiaochang"]["completeness"] == pytest.approx(0.657, abs=0.005)
    assert rows["wujiaochang"]["basis"] == "estimate"
    assert rows["weifangxincun"]["completeness"] == pytest.approx(0.124, abs=0.005)
    assert (rows["changbaixincun"]["nodes"], rows["changbaixincun"]["basis"]) == (0, "none")


def test_data_status_json_cli(mirror, tmp_path):
    result = CliRunner().invoke(main, ["data", "status", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["area"] for r in rows] == [
        "wujiaochang",
        "xinhualu",
        "changbaixincun",
        "weifangxincun",
    ]
    for r in rows:
        assert 0.0 <= r["completeness"] <= 1.0
        assert set(r) >= {
            "area",
            "nodes",
            "edges",
            "completeness",
            "largest_component_share",
            "sources",
        }


def test_a_fifth_subdistrict_needs_only_a_yaml_entry(mirror, tmp_path):
    raw = yaml.safe_load(settings.AREAS_FILE.read_text(encoding="utf-8"))
    raw["areas"].append(
        {
            "id": "nanjingdonglu",
            "name_zh": "南京东路街道",
            "name_en": "Nanjing Dong Lu Subdistrict",
            "district": "黄浦区",
            "osm_relation": 12236005,
            "network": [],
            "plans": [],
        }
    )
    path = tmp_path / "areas.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    reg = load_registry(path)
    boundary = reg.boundary("nanjingdonglu")
    assert boundary.representative_point().within(boundary)
    assert 121.46 < boundary.centroid.x < 121.50
    assert network_status(reg, reg.get("nanjingdonglu"), None)["basis"] == "none"
