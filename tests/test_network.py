"""Walking networks: topology, pedestrian filter, geodesic lengths, clipping, quality, cache."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from geo._errors import LifeCircleError
from geo.io.areas import load_registry
from geo.io.geom import project_geom
from geo.io.osm import OsmWay, read_osm
from geo.network.network import (
    WalkNetwork,
    build_area_network,
    check_network,
    completeness,
    is_walkable,
    largest_component_share,
    ways_to_network,
)
from tests._osmfiles import write_overpass_geom, write_pbf, write_xml
from tests._synth_area import make_area

LON_0001_M = 95.30435712763726  # geodesic length of 0.001 deg of longitude at 31.2 N
LAT_0001_M = 110.87291670469168  # 0.001 deg of latitude north of 31.2 N


def _edge_set(net: WalkNetwork) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    xy = net.nodes.set_index("node_id")[["lon", "lat"]]
    out = []
    for u, v, length in net.edges[["u", "v", "length_m"]].itertuples(index=False):
        a, b = tuple(np.round(xy.loc[u], 7)), tuple(np.round(xy.loc[v], 7))
        out.append((*sorted([a, b]), round(length, 6)))
    return sorted(out)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "footway"}, True),
        ({"highway": "primary_link"}, True),
        ({"highway": "motorway"}, False),
        ({"highway": "residential", "foot": "no"}, False),
        ({"highway": "service", "access": "private"}, False),
        ({"highway": "service", "access": "private", "foot": "yes"}, True),
        ({"highway": "pedestrian", "area": "yes"}, False),
        ({"highway": "cycleway"}, False),
        ({"highway": "cycleway", "foot": "designated"}, True),
        ({"building": "yes"}, False),
    ],
)
def test_pedestrian_filter(tags, expected):
    assert is_walkable(tags) is expected


def test_network_from_xml_keeps_walkable_ways_split_at_vertices(tmp_path):
    net = ways_to_network(read_osm(write_xml(tmp_path / "a.osm")).ways, area="synth")
    assert sorted(net.nodes["node_id"]) == [1, 2, 3, 4, 5, 7]
    assert net.n_edges == 5
    lengths = sorted(np.round(net.edges["length_m"], 6))
    assert lengths == sorted(
        np.round([LON_0001_M, LON_0001_M, 110.87289945273129, LAT_0001_M, LAT_0001_M], 6)
    )


def test_json_without_node_ids_joins_ways_at_shared_coordinates(tmp_path):
    xml = ways_to_network(read_osm(write_xml(tmp_path / "a.osm")).ways)
    js = ways_to_network(read_osm(write_overpass_geom(tmp_path / "a.json")).ways)
    pbf = ways_to_network(read_osm(write_pbf(tmp_path / "a.osm.pbf")).ways)
    assert _edge_set(js) == _edge_set(xml) == _edge_set(pbf)
    assert (js.nodes["node_id"] < 0).all()  # synthetic ids where the file has none
    assert largest_component_share(js) == 1.0


def test_edges_carry_tags_and_wgs84_geometry(tmp_path):
    net = ways_to_network(read_osm(write_xml(tmp_path / "a.osm")).ways)
    row = net.edges[(net.edges["u"] == 2) & (net.edges["v"] == 1)].iloc[0]
    assert (row["highway"], row["name"], row["osm_id"]) == ("residential", "合成路", 100)
    assert net.edges.crs.to_epsg() == 4326
    assert list(row.geometry.coords) == [(121.419, 31.2), (121.42, 31.2)]


def test_nodes_are_projected_to_utm51n(tmp_path):
    net = ways_to_network(read_osm(write_xml(tmp_path / "a.osm")).ways)
    n1 = net.nodes.set_index("node_id").loc[1]
    assert (round(n1["x"], 3), round(n1["y"], 3)) == (349470.441, 3452842.644)


def test_simplify_keeps_only_junctions_and_ends():
    way = OsmWay(
        1, {"highway": "footway"}, np.array([[121.40, 31.2], [121.401, 31.2], [121.402, 31.2]])
    )
    full = ways_to_network([way])
    simple = ways_to_network([way], simplify=True)
    assert (full.n_nodes, full.n_edges) == (3, 2)
    assert (simple.n_nodes, simple.n_edges) == (2, 1)
    assert simple.edges["length_m"].iloc[0] == pytest.approx(full.edges["length_m"].sum(), abs=1e-9)


def test_clip_drops_edges_outside_polygon(tmp_path):
    ways = read_osm(write_xml(tmp_path / "a.osm")).ways
    clip = shapely.box(121.4185, 31.1985, 121.4205, 31.2015)  # excludes node 3 and 7 side
    net = ways_to_network(ways, clip=clip)
    # edge 1-3 touches the box at node 1, so it stays; 3-7 is outside
    assert sorted(net.nodes["node_id"]) == [1, 2, 3, 4, 5]
    assert net.n_edges == 4


def test_completeness_is_share_of_area_within_50m():
    # a 1 km square crossed by one straight street: 100 m wide band -> 10 %
    square = project_geom(shapely.box(350000, 3450000, 351000, 3451000), inverse=True)
    line = project_geom(shapely.LineString([(349000, 3450500), (352000, 3450500)]), inverse=True)
    import geopandas as gpd

    edges = gpd.GeoDataFrame(
        {
            "u": [1],
            "v": [2],
            "length_m": [3000.0],
            "highway": ["footway"],
            "name": [""],
            "osm_id": [1],
        },
        geometry=[line],
        crs="EPSG:4326",
    )
    nodes = pd.DataFrame(
        {
            "node_id": [1, 2],
            "x": [349000.0, 352000.0],
            "y": [3450500.0, 3450500.0],
            "lon": [0.0, 0.0],
            "lat": [0.0, 0.0],
        }
    )
    net = WalkNetwork("sq", nodes, edges)
    assert completeness(net, square) == pytest.approx(0.1, abs=1e-6)


def test_largest_component_share_counts_nodes():
    ways = [
        OsmWay(
            1, {"highway": "footway"}, np.array([[121.40, 31.2], [121.401, 31.2], [121.402, 31.2]])
        ),
        OsmWay(2, {"highway": "footway"}, np.array([[121.50, 31.2], [121.501, 31.2]])),
    ]
    assert largest_component_share(ways_to_network(ways)) == pytest.approx(3 / 5)


def test_empty_network_is_an_error():
    net = ways_to_network(
        [OsmWay(1, {"highway": "motorway"}, np.array([[121.4, 31.2], [121.41, 31.2]]))]
    )
    with pytest.raises(LifeCircleError, match=r"roads\.osm: no walkable ways"):
        check_network(net, ["roads.osm"])


def test_fully_disconnected_network_is_an_error():
    ways = [
        OsmWay(
            i,
            {"highway": "footway"},
            np.array([[121.4 + i * 0.01, 31.2], [121.4 + i * 0.01, 31.201]]),
        )
        for i in range(3)
    ]
    with pytest.raises(LifeCircleError, match=r"x\.json: network of area '' is fully disconnected"):
        check_network(ways_to_network(ways), ["x.json"])


def test_area_network_is_cached_and_cache_only_saves_time(tmp_path, monkeypatch):
    reg = load_registry(make_area(tmp_path), data_dir=tmp_path / "data")
    cache = tmp_path / "cache"
    first = build_area_network(reg, "synth", cache_dir=cache)
    assert len(list(cache.glob("synth-*.edges.parquet"))) == 1

    import geo.network.network as netmod

    def no_read(*a, **k):
        raise AssertionError("cache miss: OSM file was read again")

    monkeypatch.setattr(netmod, "read_osm", no_read)
    second = build_area_network(reg, "synth", cache_dir=cache)
    pd.testing.assert_frame_equal(first.nodes, second.nodes)
    pd.testing.assert_frame_equal(
        pd.DataFrame(first.edges.drop(columns="geometry")),
        pd.DataFrame(second.edges.drop(columns="geometry")),
    )
    assert first.info == second.info
    monkeypatch.undo()
    for f in cache.iterdir():
        f.unlink()
    third = build_area_network(reg, "synth", cache_dir=cache)
    assert _edge_set(third) == _edge_set(first)
    assert third.info["completeness"] == first.info["completeness"]


def test_area_network_info_reports_quality(tmp_path):
    reg = load_registry(make_area(tmp_path), data_dir=tmp_path / "data")
    net = build_area_network(reg, "synth")
    assert (net.n_nodes, net.n_edges) == (6, 5)
    assert net.info["largest_component_share"] == 1.0
    # data completeness counts the private service way and the foot=no footway too
    assert net.info["completeness"] > net.info["routable_share"] > 0


def test_area_without_network_sources_gives_none(tmp_path):
    reg = load_registry(make_area(tmp_path, network_writer=None), data_dir=tmp_path / "data")
    assert build_area_network(reg, "synth") is None
