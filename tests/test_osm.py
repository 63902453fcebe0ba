"""OSM readers: XML, Overpass JSON (out geom, no node ids) and PBF give the same data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geo._errors import LifeCircleError
from geo.io.osm import read_many, read_osm
from tests._osmfiles import write_overpass_geom, write_pbf, write_xml


@pytest.fixture(params=["xml", "json", "pbf"])
def osm_file(request, tmp_path):
    writers = {
        "xml": (write_xml, "t.osm"),
        "json": (write_overpass_geom, "t.json"),
        "pbf": (write_pbf, "t.osm.pbf"),
    }
    writer, name = writers[request.param]
    return writer(tmp_path / name)


def test_reader_returns_all_tagged_ways_with_coordinates(osm_file):
    data = read_osm(osm_file)
    assert sorted(w.id for w in data.ways) == [100, 101, 102, 103, 104, 105]
    way100 = next(w for w in data.ways if w.id == 100)
    np.testing.assert_allclose(way100.coords, [[121.419, 31.2], [121.42, 31.2], [121.421, 31.2]])
    assert way100.tags == {"highway": "residential", "name": "合成路"}


def test_reader_returns_tagged_points(osm_file):
    data = read_osm(osm_file)
    assert [(p.id, p.tags["name"]) for p in data.points] == [(1, "合成睦邻中心")]


def test_xml_and_pbf_keep_node_ids_json_geom_has_none(tmp_path):
    xml = read_osm(write_xml(tmp_path / "a.osm"))
    js = read_osm(write_overpass_geom(tmp_path / "a.json"))
    assert list(next(w for w in xml.ways if w.id == 101).refs) == [4, 1, 5]
    assert next(w for w in js.ways if w.id == 101).refs is None


def test_overpass_json_with_node_refs_resolves_coordinates(tmp_path):
    doc = {
        "elements": [
            {"type": "node", "id": 1, "lat": 31.2, "lon": 121.42},
            {"type": "node", "id": 2, "lat": 31.201, "lon": 121.42},
            {"type": "way", "id": 9, "nodes": [1, 2], "tags": {"highway": "footway"}},
        ]
    }
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (way,) = read_osm(path).ways
    assert list(way.refs) == [1, 2]
    np.testing.assert_allclose(way.coords, [[121.42, 31.2], [121.42, 31.201]])


def test_read_many_keeps_first_file_on_duplicate_way_id(tmp_path):
    first = write_xml(tmp_path / "new.osm", ways=[(100, [2, 1], {"highway": "footway"})])
    second = write_xml(
        tmp_path / "old.osm",
        ways=[(100, [2, 1, 3], {"highway": "primary"}), (101, [4, 1], {"highway": "path"})],
    )
    merged = read_many([first, second])
    assert sorted((w.id, w.tags["highway"]) for w in merged.ways) == [
        (100, "footway"),
        (101, "path"),
    ]


def test_bbox_drops_ways_outside(tmp_path):
    data = read_osm(write_xml(tmp_path / "a.osm"), bbox=(121.4215, 31.1995, 121.43, 31.2005))
    assert sorted(w.id for w in data.ways) == [102, 103]


def test_malformed_xml_names_the_file(tmp_path):
    bad = tmp_path / "broken.osm"
    bad.write_text(
        '<osm version="0.6"><node id="1" lat="31" lon="121"><tag k="a" v="b"></osm>',
        encoding="utf-8",
    )
    with pytest.raises(LifeCircleError, match=r"broken\.osm: malformed OSM file"):
        read_osm(bad)


def test_malformed_json_names_file_line_and_column(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text('{"elements": [\n {"type": "way",, }\n]}', encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"broken\.json: malformed JSON at line 2, column 17"):
        read_osm(bad)


def test_gbk_encoded_xml_is_reported_as_gbk(tmp_path):
    bad = tmp_path / "gbk.osm"
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">'
        '<node id="1" version="1" lat="31.2" lon="121.4"><tag k="name" v="新华路"/></node></osm>'
    )
    bad.write_bytes(text.encode("gbk"))
    with pytest.raises(LifeCircleError, match=r"gbk\.osm: not valid UTF-8 at byte 122.*GBK"):
        read_osm(bad)


def test_gbk_encoded_json_is_reported_as_gbk(tmp_path):
    bad = tmp_path / "gbk.json"
    bad.write_bytes(
        '{"elements": [{"type": "node", "id": 1, "lat": 31.2, "lon": 121.4, '
        '"tags": {"name": "新华路"}}]}'.encode("gbk")
    )
    with pytest.raises(LifeCircleError, match=r"gbk\.json: not valid UTF-8 .*GBK"):
        read_osm(bad)


def test_unknown_extension_is_rejected(tmp_path):
    with pytest.raises(LifeCircleError, match=r"roads\.shp: unknown OSM file type"):
        read_osm(tmp_path / "roads.shp")


def test_json_without_elements_is_rejected(tmp_path):
    bad = tmp_path / "nominatim.json"
    bad.write_text('[{"place_id": 1}]', encoding="utf-8")
    with pytest.raises(LifeCircleError, match=r"nominatim\.json: no Overpass 'elements'"):
        read_osm(bad)
