"""`data fetch`: Overpass through OSMnx against a local recorded server, and PBF clipping."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from geo.io.areas import load_registry, network_sources
from geo.io.fetch import fetch_area
from geo.io.osm import read_osm
from geo.network.network import build_area_network
from tests._osmfiles import write_pbf
from tests._synth_area import make_area

#: A recorded-shape Overpass `out;` response (synthetic content): nodes + ways with node ids.
RECORDED = {
    "version": 0.6,
    "generator": "Overpass API (recorded for tests)",
    "osm3s": {"timestamp_osm_base": "2026-07-16T08:03:07Z"},
    "elements": [
        {"type": "node", "id": 11, "lat": 31.2000, "lon": 121.4190},
        {"type": "node", "id": 12, "lat": 31.2000, "lon": 121.4200},
        {"type": "node", "id": 13, "lat": 31.2010, "lon": 121.4200},
        {
            "type": "node",
            "id": 14,
            "lat": 31.1995,
            "lon": 121.4205,
            "tags": {"amenity": "clinic", "name": "合成诊所"},
        },
        {"type": "way", "id": 21, "nodes": [11, 12, 13], "tags": {"highway": "footway"}},
    ],
}


class _Handler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        type(self).requests.append(self.path + " " + body[:80])
        payload = json.dumps(RECORDED).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def overpass_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Handler.requests = []
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()


@pytest.fixture
def offline_osmnx(tmp_path, monkeypatch):
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "doh_url_template", None)
    monkeypatch.setattr(ox.settings, "cache_folder", str(tmp_path / "oxcache"))


def test_overpass_fetch_writes_json_that_becomes_the_first_source(
    tmp_path, overpass_server, offline_osmnx
):
    reg = load_registry(make_area(tmp_path), data_dir=tmp_path / "data")
    target = fetch_area(
        reg, reg.get("synth"), overpass_url=overpass_server, dest_root=tmp_path / "data"
    )
    assert target.parent == tmp_path / "data" / "osm" / "synth"
    assert target.name.startswith("synth-overpass-") and target.suffix == ".json"
    assert all(r.startswith("/api/interpreter") for r in _Handler.requests)
    assert len(_Handler.requests) == 2  # network query + features query
    data = read_osm(target)
    assert [w.id for w in data.ways] == [21]
    assert [(p.id, p.tags["name"]) for p in data.points] == [(14, "合成诊所")]
    assert network_sources(reg, reg.get("synth"))[0] == target
    net = build_area_network(reg, "synth")
    assert 11 in set(net.nodes["node_id"]) and 13 in set(net.nodes["node_id"])


def test_pbf_clip_keeps_only_ways_near_the_area(tmp_path):
    reg = load_registry(make_area(tmp_path), data_dir=tmp_path / "data")
    nodes = {
        1: (121.4200, 31.2000),
        2: (121.4210, 31.2000),  # inside
        3: (121.6000, 31.3000),
        4: (121.6010, 31.3000),
    }  # 20 km away
    src = write_pbf(
        tmp_path / "shanghai.osm.pbf",
        nodes=nodes,
        ways=[(1, [1, 2], {"highway": "footway"}), (2, [3, 4], {"highway": "path"})],
    )
    target = fetch_area(reg, reg.get("synth"), pbf=src, dest_root=tmp_path / "user")
    assert target.name.endswith(".osm.pbf")
    data = read_osm(target)
    assert [w.id for w in data.ways] == [1]
