"""Fuzz suite, OSM inputs and the network cache: duplicate ways, bad coordinates, Overpass
remarks, generated fragments, the memory guard, content fingerprints and cache checks.

All data synthetic (tests/_osmfiles.py, tests/_synth_area.py).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from geo.io.areas import load_registry
from geo.io.osm import read_osm
from geo.network.network import build_area_network, completeness, ways_to_network
from tests._fuzz import assert_refused, refused_unchanged, run_cli, snapshot
from tests._osmfiles import NODES, WAYS, write_overpass_geom, write_xml
from tests._synth_area import SQUARE, make_area

FAST = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples in CI every time (no flaky suite)
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _out(tmp_path):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "network_status.json").write_text("[]", encoding="utf-8")
    return out


# -- overlapping duplicate ways ------------------------------------------------------------
def _duplicated_ways(copies: int):
    """Every way ``copies`` times under new ids, plus overlapping sub-stretches of way 100."""
    ways = []
    for k in range(copies):
        ways += [(wid + 1000 * k, refs, tags) for wid, refs, tags in WAYS]
        ways.append((900 + k, [2, 1], {"highway": "residential"}))  # part of way 100
    return ways


def test_duplicate_ways_give_the_network_of_one_copy(tmp_path):
    one = ways_to_network(read_osm(write_xml(tmp_path / "one.osm")).ways)
    many = ways_to_network(
        read_osm(write_xml(tmp_path / "many.osm", ways=_duplicated_ways(30))).ways
    )
    assert (many.n_nodes, many.n_edges) == (one.n_nodes, one.n_edges) == (6, 5)
    assert sorted(many.edges["length_m"].round(3)) == sorted(one.edges["length_m"].round(3))


def test_duplicate_ways_keep_the_completeness_share(tmp_path):
    import shapely

    square = shapely.Polygon(SQUARE)
    one = ways_to_network(read_osm(write_xml(tmp_path / "one.osm")).ways)
    many = ways_to_network(
        read_osm(write_xml(tmp_path / "many.osm", ways=_duplicated_ways(30))).ways
    )
    assert completeness(many, square) == pytest.approx(completeness(one, square), abs=1e-9)


def test_memory_guard_refuses_with_a_message(tmp_path, monkeypatch):
    areas = make_area(tmp_path)
    out = _out(tmp_path)
    monkeypatch.setenv("LIFECIRCLE_MEMORY_LIMIT_MB", "0.01")
    line = refused_unchanged(["data", "status"], areas, tmp_path / "data", out, "t.osm")
    assert "memory" in line and "LIFECIRCLE_MEMORY_LIMIT_MB" in line


# -- coordinates and remarks -----------------------------------------------------------------
@pytest.mark.parametrize(("lon", "lat"), [(121.42, 95.0), (200.0, 31.2), (121.42, -91.0)])
def test_xml_way_node_outside_lon_lat_is_refused(tmp_path, lon, lat):
    nodes = {**NODES, 5: (lon, lat)}
    areas = make_area(tmp_path, network_writer=lambda p: write_xml(p, nodes=nodes))
    refused_unchanged(["data", "status"], areas, tmp_path / "data", _out(tmp_path), "t.osm", "/5")


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "95.5"])
def test_json_way_with_nan_or_out_of_range_coordinates_is_refused(tmp_path, bad):
    def writer(path):
        write_overpass_geom(path)
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        way = next(e for e in doc["elements"] if e["type"] == "way")
        way["geometry"][0]["lat"] = float(bad)
        path.write_text(json.dumps(doc), encoding="utf-8")  # json writes NaN/Infinity

    areas = make_area(tmp_path, network_writer=writer, network_name="t.json")
    refused_unchanged(
        ["data", "status"], areas, tmp_path / "data", _out(tmp_path), "t.json", "way/"
    )


def test_overpass_remark_is_an_error(tmp_path):
    def writer(path):
        write_overpass_geom(path)
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["remark"] = 'runtime error: Query timed out in "query" at line 1 after 25 seconds.'
        path.write_text(json.dumps(doc), encoding="utf-8")

    areas = make_area(tmp_path, network_writer=writer, network_name="t.json")
    line = refused_unchanged(
        ["data", "status"], areas, tmp_path / "data", _out(tmp_path), "t.json", "remark"
    )
    assert "timed out" in line


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.json", ""),  # zero bytes
        ("t.json", "[" * 200_000 + "]" * 200_000),  # nested 200k deep
        ("t.osm", ""),
        ("t.json", "\x00\x01garbage"),
    ],
)
def test_empty_deep_or_binary_network_file(tmp_path, name, content):
    areas = make_area(
        tmp_path,
        network_writer=lambda p: p.write_text(content, encoding="utf-8"),
        network_name=name,
    )
    refused_unchanged(["data", "status"], areas, tmp_path / "data", _out(tmp_path), name)


# -- generated fragments -----------------------------------------------------------------------
_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
_element = st.fixed_dictionaries(
    {"type": st.sampled_from(["node", "way", "relation", "area", 7])},
    optional={
        "id": st.one_of(st.integers(-5, 10**12), st.text(max_size=5), st.floats()),
        "lat": _scalar,
        "lon": _scalar,
        "tags": st.one_of(
            st.dictionaries(st.sampled_from(["highway", "amenity", "name"]), st.text(max_size=6)),
            _scalar,
        ),
        "geometry": st.one_of(
            st.lists(
                st.one_of(st.fixed_dictionaries({"lat": _scalar, "lon": _scalar}), _scalar),
                max_size=4,
            ),
            _scalar,
        ),
        "nodes": st.one_of(st.lists(_scalar, max_size=4), _scalar),
        "center": st.one_of(st.fixed_dictionaries({"lat": _scalar, "lon": _scalar}), _scalar),
    },
)


@FAST
@given(elements=st.lists(_element, max_size=5))
def test_generated_overpass_json_never_crashes(tmp_path_factory, elements):
    """Any Overpass-shaped document: a network (exit 0) or one line naming the file (exit 2)."""
    tmp = tmp_path_factory.mktemp("fz")
    good = json.loads(write_overpass_geom(tmp / "good.json").read_text(encoding="utf-8"))

    def writer(path):
        doc = {**good, "elements": [*good["elements"], *elements]}
        path.write_text(json.dumps(doc), encoding="utf-8")

    areas = make_area(tmp, network_writer=writer, network_name="t.json")
    out = _out(tmp)
    before = snapshot(out)
    result = run_cli(["data", "status", "--json", "--out", str(out)], areas, tmp / "data")
    if result.exit_code != 0:
        assert_refused(result, "t.json")
        assert snapshot(out) == before


_xml_attr = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "abc", "1e400", "-0", "95", "181", "31.2", "121.42"]),
)


@FAST
@given(lat=_xml_attr, lon=_xml_attr, ref=st.sampled_from(["1", "99", "x", "-1", ""]))
@example(lat="0.0", lon="31.2", ref="1")  # a way from Shanghai to the Atlantic: projected to inf
def test_generated_osm_xml_node_never_crashes(tmp_path_factory, lat, lon, ref):
    tmp = tmp_path_factory.mktemp("fx")

    def writer(path):
        write_xml(path)
        text = path.read_text(encoding="utf-8").replace(
            "</osm>",
            f' <node id="77" version="1" lat="{lat}" lon="{lon}"/>\n'
            f' <way id="777" version="1"><nd ref="77"/><nd ref="{ref}"/>'
            '<tag k="highway" v="footway"/></way>\n</osm>',
        )
        path.write_text(text, encoding="utf-8")

    areas = make_area(tmp, network_writer=writer)
    out = _out(tmp)
    before = snapshot(out)
    result = run_cli(["data", "status", "--json", "--out", str(out)], areas, tmp / "data")
    if result.exit_code != 0:
        assert_refused(result, "t.osm")
        assert snapshot(out) == before


# -- fingerprints and the cache -------------------------------------------------------------
def test_file_changed_in_place_with_same_size_and_mtime_is_rebuilt(tmp_path):
    areas = make_area(tmp_path)
    reg = load_registry(areas, data_dir=tmp_path / "data")
    osm = tmp_path / "data" / "osm" / "synth" / "t.osm"
    cache = tmp_path / "cache"
    first = build_area_network(reg, "synth", cache_dir=cache)
    st_ = osm.stat()
    text = osm.read_text(encoding="utf-8")
    # same length: drop the footway tag of way 105 (foot=no -> the dead end disappears)
    changed = text.replace(
        '<nd ref="7"/>\n  <tag k="highway" v="footway"/>',
        '<nd ref="7"/>\n  <tag k="highway" v="footwax"/>',
    )
    assert len(changed) == len(text) and changed != text
    osm.write_text(changed, encoding="utf-8")
    os.utime(osm, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    second = build_area_network(reg, "synth", cache_dir=cache)
    assert (first.n_edges, second.n_edges) == (5, 4)


@pytest.mark.parametrize("damage", ["truncate", "edit-info", "garbage"])
def test_damaged_cache_is_rebuilt(tmp_path, damage):
    areas = make_area(tmp_path)
    reg = load_registry(areas, data_dir=tmp_path / "data")
    cache = tmp_path / "cache"
    first = build_area_network(reg, "synth", cache_dir=cache)
    (edges,) = cache.glob("*.edges.parquet")
    (info,) = cache.glob("*.info.json")
    if damage == "truncate":
        edges.write_bytes(edges.read_bytes()[:100])
    elif damage == "garbage":
        edges.write_bytes(b"PAR1" + b"\x00" * 500 + b"PAR1")
    else:
        doc = json.loads(info.read_text(encoding="utf-8"))
        doc["cache_check"]["n_edges"] = 99
        info.write_text(json.dumps(doc), encoding="utf-8")
    second = build_area_network(reg, "synth", cache_dir=cache)
    assert (second.n_nodes, second.n_edges) == (first.n_nodes, first.n_edges) == (6, 5)
    # rebuilt and saved again: a third load is a cache hit with a valid check
    assert json.loads(info.read_text(encoding="utf-8"))["cache_check"]["n_edges"] == 5
