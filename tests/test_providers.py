"""Online geocoders (geo.providers) against a local HTTP server on 127.0.0.1.

The server replays hand-recorded answers in the shapes the real services use (Nominatim
``/search?format=jsonv2``; AMap v3 ``/v3/place/text`` and ``/v3/geocode/geo``). Nothing here
contacts a real service. Names and coordinates are synthetic.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from geo._errors import LifeCircleError
from geo.facilities.coords import gcj02_to_wgs84
from geo.facilities.providers import (
    AMapGeocoder,
    JsonCache,
    NominatimGeocoder,
    RateLimiter,
    SearchArea,
    make_geocoder,
    make_geocoders,
)

NOMINATIM_HIT = [
    {
        "place_id": 123456,
        "licence": "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright",
        "osm_type": "way",
        "osm_id": 987654321,
        "lat": "31.2041000",
        "lon": "121.4262000",
        "category": "amenity",
        "type": "community_centre",
        "place_rank": 30,
        "importance": 0.11,
        "addresstype": "amenity",
        "name": "合成社区中心",
        "display_name": "合成社区中心, 合成路, 长宁区, 上海市, 200052, 中国",
        "boundingbox": ["31.2040", "31.2042", "121.4261", "121.4263"],
    }
]

AMAP_POI = {
    "status": "1",
    "count": "1",
    "info": "OK",
    "infocode": "10000",
    "suggestion": {"keywords": [], "cities": []},
    "pois": [
        {
            "id": "B0FFSYNTH1",
            "name": "合成社区食堂",
            "type": "餐饮服务;中餐厅;中餐厅",
            "typecode": "050100",
            "address": "合成路1号",
            "location": "121.430500,31.202300",
            "pname": "上海市",
            "cityname": "上海市",
            "adname": "长宁区",
        }
    ],
}

AMAP_NO_POI = {"status": "1", "count": "0", "info": "OK", "infocode": "10000", "pois": []}

AMAP_GEOCODE = {
    "status": "1",
    "info": "OK",
    "infocode": "10000",
    "count": "1",
    "geocodes": [
        {
            "formatted_address": "上海市长宁区合成路",
            "country": "中国",
            "province": "上海市",
            "citycode": "021",
            "city": "上海市",
            "district": "长宁区",
            "adcode": "310105",
            "location": "121.431000,31.201000",
            "level": "道路",
        }
    ],
}

AMAP_BAD_KEY = {"status": "0", "info": "INVALID_USER_KEY", "infocode": "10001"}


class Recorded(BaseHTTPRequestHandler):
    """Serve ``server.routes[(path, key_param_value)]``; record every request."""

    def do_GET(self):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.server.seen.append((url.path, query, dict(self.headers)))
        route = self.server.routes.get((url.path, query.get("q") or query.get("keywords")
                                        or query.get("address")))  # fmt: skip
        if route is None:
            route = self.server.routes.get((url.path, None), (404, {"error": "not found"}))
        status, body = route
        if status == "slow":
            time.sleep(0.5)
            status, body = 200, []
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    srv.routes = {}
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


class FakeClock:
    """A clock whose sleep advances time (records every sleep)."""

    def __init__(self):
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def no_wait() -> RateLimiter:
    return RateLimiter(0.0)


AREA = SearchArea(name="合成街道", district="长宁区", bbox=(121.42, 31.19, 121.44, 31.21))


# --- Nominatim -----------------------------------------------------------------------------
def test_nominatim_returns_wgs84_result(server, tmp_path):
    server.routes[("/search", "合成社区中心 长宁区 上海市")] = (200, NOMINATIM_HIT)
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    res = geo.geocode("合成社区中心", AREA)
    assert (res.lon, res.lat, res.ref, res.kind) == (
        121.4262,
        31.2041,
        "way/987654321",
        "amenity=community_centre",
    )
    assert (res.provider, res.crs_in, res.cached) == ("nominatim", "wgs84", False)


def test_nominatim_request_is_bounded_and_identified(server, tmp_path):
    server.routes[("/search", None)] = (200, [])
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait(), email="a@b.c")
    geo.geocode("合成社区中心", AREA)
    path, query, headers = server.seen[0]
    assert path == "/search"
    assert query["viewbox"] == "121.420000,31.210000,121.440000,31.190000"
    assert (query["bounded"], query["format"], query["email"]) == ("1", "jsonv2", "a@b.c")
    assert headers["User-Agent"].startswith("lifecircle/")


def test_nominatim_empty_answer_is_none(server, tmp_path):
    server.routes[("/search", None)] = (200, [])
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    assert geo.geocode("不存在的地方") is None


def test_second_lookup_comes_from_the_json_cache(server, tmp_path):
    server.routes[("/search", "合成社区中心")] = (200, NOMINATIM_HIT)
    first = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    first.geocode("合成社区中心")
    again = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    res = again.geocode("合成社区中心")
    assert (len(server.seen), again.requests_made, res.cached) == (1, 0, True)
    files = list((tmp_path / "nominatim").glob("*.json"))
    assert len(files) == 1
    assert json.loads(files[0].read_text(encoding="utf-8"))["response"][0]["osm_id"] == 987654321


def test_negative_answers_are_cached_too(server, tmp_path):
    server.routes[("/search", None)] = (200, [])
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    geo.geocode("无结果")
    geo.geocode("无结果")
    assert len(server.seen) == 1


def test_nominatim_is_limited_to_one_request_per_second(server, tmp_path):
    server.routes[("/search", None)] = (200, [])
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock, sleep=clock.sleep)
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=limiter)
    for q in ("甲", "乙", "丙"):
        geo.geocode(q)
    assert clock.sleeps == [1.0, 1.0]


def test_default_nominatim_interval_is_one_second(tmp_path):
    assert NominatimGeocoder(cache_dir=tmp_path).limiter.min_interval_s == 1.0


def test_cache_hits_do_not_wait(server, tmp_path):
    server.routes[("/search", None)] = (200, [])
    clock = FakeClock()
    limiter = RateLimiter(1.0, clock=clock, sleep=clock.sleep)
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=limiter)
    geo.geocode("甲")
    geo.geocode("甲")
    assert clock.sleeps == []


def test_http_error_names_status_and_url(server, tmp_path):
    server.routes[("/search", None)] = (429, {"error": "Too Many Requests"})
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    with pytest.raises(LifeCircleError, match=r"/search: nominatim: HTTP 429; too many requests"):
        geo.geocode("甲")


def test_timeout_gives_one_clear_error(server, tmp_path):
    server.routes[("/search", None)] = ("slow", None)
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait(), timeout_s=0.1)
    with pytest.raises(LifeCircleError, match=r"nominatim: no answer within 0.1 s"):
        geo.geocode("甲")


def test_non_json_answer_is_an_error_and_not_cached(server, tmp_path):
    server.routes[("/search", None)] = (200, b"<html>maintenance</html>")
    geo = NominatimGeocoder(server.url, cache_dir=tmp_path, limiter=no_wait())
    with pytest.raises(LifeCircleError, match="answer is not JSON"):
        geo.geocode("甲")
    assert not (tmp_path / "nominatim").exists()


# --- AMap ----------------------------------------------------------------------------------
def test_amap_poi_is_converted_from_gcj02(server, tmp_path):
    server.routes[("/v3/place/text", "合成社区食堂")] = (200, AMAP_POI)
    geo = AMapGeocoder("SECRETKEY", server.url, cache_dir=tmp_path, limiter=no_wait())
    res = geo.geocode("合成社区食堂", AREA)
    lon, lat = gcj02_to_wgs84(121.4305, 31.2023)
    assert (res.lon, res.lat) == (float(lon), float(lat))
    assert (res.crs_in, res.ref, res.name) == ("gcj02", "poi/B0FFSYNTH1", "合成社区食堂")


def test_amap_request_limits_search_to_city_and_sends_key(server, tmp_path):
    server.routes[("/v3/place/text", None)] = (200, AMAP_POI)
    geo = AMapGeocoder("SECRETKEY", server.url, cache_dir=tmp_path, limiter=no_wait())
    geo.geocode("合成社区食堂", AREA)
    _, query, _ = server.seen[0]
    assert (query["city"], query["citylimit"], query["key"]) == ("上海市", "true", "SECRETKEY")


def test_amap_falls_back_to_address_geocoding(server, tmp_path):
    server.routes[("/v3/place/text", None)] = (200, AMAP_NO_POI)
    server.routes[("/v3/geocode/geo", "长宁区合成路")] = (200, AMAP_GEOCODE)
    geo = AMapGeocoder("SECRETKEY", server.url, cache_dir=tmp_path, limiter=no_wait())
    res = geo.geocode("合成路", AREA)
    lon, lat = gcj02_to_wgs84(121.431, 31.201)
    assert (res.lon, res.lat, res.kind) == (float(lon), float(lat), "道路")


def test_amap_key_is_never_written_to_the_cache(server, tmp_path):
    server.routes[("/v3/place/text", None)] = (200, AMAP_POI)
    geo = AMapGeocoder("SECRETKEY", server.url, cache_dir=tmp_path, limiter=no_wait())
    geo.geocode("合成社区食堂", AREA)
    text = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "amap").glob("*.json"))
    assert "合成社区食堂" in text
    assert "SECRETKEY" not in text


def test_amap_error_status_names_info_but_not_key(server, tmp_path):
    server.routes[("/v3/place/text", None)] = (200, AMAP_BAD_KEY)
    geo = AMapGeocoder("SECRETKEY", server.url, cache_dir=tmp_path, limiter=no_wait())
    with pytest.raises(LifeCircleError) as info:
        geo.geocode("合成社区食堂")
    assert "amap: INVALID_USER_KEY (infocode 10001)" in str(info.value)
    assert "SECRETKEY" not in str(info.value)


def test_amap_without_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("LIFECIRCLE_AMAP_KEY", raising=False)
    with pytest.raises(LifeCircleError, match=r"amap: no key; pass one \(--amap-key\)"):
        AMapGeocoder()


# --- factory / cache helpers ---------------------------------------------------------------
def test_make_geocoder_rejects_unknown_provider():
    with pytest.raises(
        LifeCircleError, match="unknown geocoder 'baidu'; expected one of nominatim, amap"
    ):
        make_geocoder("baidu")


def test_cache_key_ignores_dict_order():
    assert JsonCache.key({"a": 1, "b": 2}) == JsonCache.key({"b": 2, "a": 1})


def test_corrupt_cache_file_counts_as_miss(tmp_path):
    cache = JsonCache(tmp_path)
    (tmp_path / "abc.json").write_text("{not json", encoding="utf-8")
    assert cache.get("abc") is None


def test_make_geocoders_is_empty_by_default(tmp_path):
    assert make_geocoders([], cache_dir=tmp_path) == []


def test_make_geocoders_keeps_order_and_drops_repeats(tmp_path):
    geos = make_geocoders(["amap", "nominatim", "AMAP"], cache_dir=tmp_path, amap_key="K")
    assert [g.name for g in geos] == ["amap", "nominatim"]
