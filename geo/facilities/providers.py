"""Optional online geocoders (off by default): Nominatim and AMap (高德, user key).

Both sit behind one interface, :meth:`Geocoder.geocode`, which returns a WGS-84
:class:`GeocodeResult` or ``None``. AMap answers in GCJ-02; its coordinates are converted with
:func:`geo.coords.gcj02_to_wgs84` before they leave this module.

Every answer (including "no result") is cached as plain JSON under ``out/cache/geocode/<provider>/``
so a run can be repeated offline and services are asked once per query. Requests are rate limited
(Nominatim's usage policy allows at most 1 request per second and asks for an identifying
User-Agent) and time out. Nothing here is called unless the user asks for a provider.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo._errors import LifeCircleError
from geo.facilities.coords import gcj02_to_wgs84
from geo.io.files import write_text_atomic
from geo.io.geom import clip_polygon

if TYPE_CHECKING:
    from geo.io.areas import Area, Registry

#: Default endpoints (override with ``base_url``; tests point them at 127.0.0.1).
NOMINATIM_URL: str = "https://nominatim.openstreetmap.org"
AMAP_URL: str = "https://restapi.amap.com"

#: Nominatim usage policy: "an absolute maximum of 1 request per second".
NOMINATIM_MIN_INTERVAL_S: float = 1.0
#: AMap: individual developer keys allow a few queries per second; stay at 3 per second.
AMAP_MIN_INTERVAL_S: float = 0.34

#: Request timeout (seconds).
TIMEOUT_S: float = 10.0

#: Environment variable read for the AMap key when none is passed.
AMAP_KEY_ENV: str = "LIFECIRCLE_AMAP_KEY"

#: Default user agent (Nominatim requires one that identifies the application).
USER_AGENT: str = "lifecircle/0.1 (15-minute life-circle planner)"

#: Bump when the cached request/answer layout changes.
CACHE_VERSION: str = "geocode-1"


@dataclass(frozen=True)
class SearchArea:
    """Where to search: a city (and district) name and an optional WGS-84 bounding box."""

    name: str | None = None
    city: str = "上海市"
    district: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # lon_min, lat_min, lon_max, lat_max

    @classmethod
    def from_area(
        cls, registry: Registry, area: Area | str, buffer_m: float = 1000.0
    ) -> SearchArea:
        """Build a search area from a registry area: its district and buffered bounding box.

        Parameters
        ----------
        registry
            The :class:`geo.areas.Registry`.
        area
            An :class:`geo.areas.Area` or area id.
        buffer_m
            Buffer around the boundary in metres.

        Returns
        -------
        SearchArea
        """
        if isinstance(area, str):
            area = registry.get(area)
        poly = clip_polygon(registry.boundary(area), buffer_m)
        x0, y0, x1, y1 = poly.bounds
        return cls(name=area.name_zh, district=area.district, bbox=(x0, y0, x1, y1))


@dataclass(frozen=True)
class GeocodeResult:
    """One geocoder answer, always in WGS-84 degrees."""

    query: str
    lon: float
    lat: float
    name: str
    provider: str
    crs_in: str
    kind: str = ""
    ref: str = ""
    score: float | None = None
    cached: bool = False


class RateLimiter:
    """Keep at least ``min_interval_s`` between calls (clock and sleep injectable for tests)."""

    def __init__(
        self,
        min_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.min_interval_s = float(min_interval_s)
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        """Sleep as long as needed, then record the call time."""
        now = self.clock()
        if self._last is not None:
            remaining = self.min_interval_s - (now - self._last)
            if remaining > 0:
                self.sleep(remaining)
                now = self.clock()
        self._last = now


class JsonCache:
    """A folder of JSON files keyed by a hash of the request (no pickle)."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None

    @staticmethod
    def key(request: Mapping[str, Any]) -> str:
        """Return a stable hash of a request description."""
        blob = json.dumps(
            {"v": CACHE_VERSION, **request}, sort_keys=True, ensure_ascii=False
        ).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:32]

    def path(self, key: str) -> Path | None:
        """Return the file holding ``key`` (None when caching is off)."""
        return None if self.folder is None else self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """Return the cached entry, or None (a corrupt file counts as a miss)."""
        path = self.path(key)
        if path is None or not path.exists():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and "response" in entry else None

    def put(self, key: str, entry: dict[str, Any]) -> None:
        """Store ``entry`` atomically."""
        path = self.path(key)
        if path is not None:
            write_text_atomic(path, json.dumps(entry, ensure_ascii=False, indent=1))


class Geocoder(ABC):
    """One interface for every provider: ``geocode(query, area) -> GeocodeResult | None``."""

    #: Provider name (also the cache sub-folder).
    name: str = "geocoder"
    #: Coordinate system the provider answers in.
    crs: str = "wgs84"

    @abstractmethod
    def geocode(self, query: str, area: SearchArea | None = None) -> GeocodeResult | None:
        """Look up ``query`` near ``area``.

        Parameters
        ----------
        query
            A facility name or address, as written in the plan.
        area
            Optional search area (city, district, bounding box).

        Returns
        -------
        GeocodeResult or None
            The best answer in WGS-84, or None when the provider finds nothing.
        """


class HttpGeocoder(Geocoder):
    """Shared HTTP plumbing: JSON cache, rate limit, timeout and one-line errors."""

    def __init__(
        self,
        base_url: str,
        *,
        cache_dir: str | Path | None = None,
        min_interval_s: float = 1.0,
        timeout_s: float = TIMEOUT_S,
        user_agent: str = USER_AGENT,
        session: Any = None,
        limiter: RateLimiter | None = None,
    ):
        import requests

        self.base_url = base_url.rstrip("/")
        self.cache = JsonCache(Path(cache_dir) / self.name if cache_dir is not None else None)
        self.limiter = limiter or RateLimiter(min_interval_s)
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.requests_made = 0

    def _secret_params(self) -> dict[str, str]:
        """Parameters sent but never cached or shown (API keys)."""
        return {}

    def fetch(self, path: str, params: dict[str, Any]) -> tuple[Any, bool]:
        """GET ``base_url + path`` as JSON, through the cache; returns (json, from_cache)."""
        import requests

        key = self.cache.key({"provider": self.name, "path": path, "params": params})
        hit = self.cache.get(key)
        if hit is not None:
            return hit["response"], True
        url = self.base_url + path
        self.limiter.wait()
        self.requests_made += 1
        try:
            resp = self.session.get(
                url, params={**params, **self._secret_params()}, timeout=self.timeout_s
            )
        except requests.Timeout:
            raise LifeCircleError(
                f"{self.name}: no answer within {self.timeout_s:g} s", path=url
            ) from None
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise LifeCircleError(f"{self.name}: request failed ({reason})", path=url) from None
        if resp.status_code != 200:
            hint = {
                429: "too many requests; wait and retry (answers so far are cached)",
                403: "refused; check the user agent / key",
            }.get(resp.status_code, "expected 200")
            raise LifeCircleError(f"{self.name}: HTTP {resp.status_code}; {hint}", path=url)
        try:
            data = resp.json()
        except ValueError:
            raise LifeCircleError(f"{self.name}: answer is not JSON", path=url) from None
        self.check_answer(data, url)
        self.cache.put(
            key,
            {"provider": self.name, "path": path, "params": params, "response": data,
             "fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z")},
        )  # fmt: skip
        return data, False

    def check_answer(self, data: Any, url: str) -> None:
        """Raise for a provider-level error inside a 200 answer (default: none)."""


class NominatimGeocoder(HttpGeocoder):
    """OpenStreetMap Nominatim (WGS-84). Respect its usage policy: 1 request/s, identify yourself.

    Parameters
    ----------
    base_url
        Endpoint (default the public server; a self-hosted one is better for bulk work).
    email
        Contact address sent with each request, as the usage policy asks for bulk users.
    **kwargs
        Passed to :class:`HttpGeocoder` (``cache_dir``, ``timeout_s``, ``user_agent``, ...).
    """

    name = "nominatim"
    crs = "wgs84"

    def __init__(self, base_url: str = NOMINATIM_URL, *, email: str | None = None, **kwargs: Any):
        kwargs.setdefault("min_interval_s", NOMINATIM_MIN_INTERVAL_S)
        super().__init__(base_url, **kwargs)
        self.email = email

    def check_answer(self, data: Any, url: str) -> None:
        """Nominatim answers a search with a JSON list; an object carries an error."""
        if isinstance(data, dict) and "error" in data:
            err = data["error"]
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise LifeCircleError(f"nominatim: {msg}", path=url)
        if not isinstance(data, list):
            raise LifeCircleError("nominatim: expected a JSON list of places", path=url)

    def geocode(self, query: str, area: SearchArea | None = None) -> GeocodeResult | None:
        """Search Nominatim; with ``area.bbox`` the search is bounded to it."""
        text = (
            query if area is None else " ".join(p for p in (query, area.district, area.city) if p)
        )
        params: dict[str, Any] = {"q": text, "format": "jsonv2", "limit": 1,
                                  "countrycodes": "cn", "accept-language": "zh"}  # fmt: skip
        if area is not None and area.bbox is not None:
            x0, y0, x1, y1 = area.bbox
            params["viewbox"] = f"{x0:.6f},{y1:.6f},{x1:.6f},{y0:.6f}"
            params["bounded"] = 1
        if self.email:
            params["email"] = self.email
        data, cached = self.fetch("/search", params)
        if not data:
            return None
        top = data[0]
        try:
            lon, lat = float(top["lon"]), float(top["lat"])
        except (KeyError, TypeError, ValueError):
            raise LifeCircleError(
                "nominatim: result without lon/lat", path=self.base_url, record=query
            ) from None
        importance = top.get("importance")
        return GeocodeResult(
            query=query,
            lon=lon,
            lat=lat,
            name=str(top.get("name") or top.get("display_name") or ""),
            provider=self.name,
            crs_in=self.crs,
            kind=f"{top.get('category', top.get('class', ''))}={top.get('type', '')}",
            ref=f"{top.get('osm_type', '')}/{top.get('osm_id', '')}",
            score=float(importance) if importance is not None else None,
            cached=cached,
        )


class AMapGeocoder(HttpGeocoder):
    """AMap (高德) web service with a user key; answers in GCJ-02, returned in WGS-84.

    Searches POIs by keyword first (``/v3/place/text``, limited to the city) and falls back to
    address geocoding (``/v3/geocode/geo``).

    Parameters
    ----------
    key
        The user's AMap web-service key (or set ``$LIFECIRCLE_AMAP_KEY``). Never cached or shown.
    base_url
        Endpoint (default the public server).
    **kwargs
        Passed to :class:`HttpGeocoder`.
    """

    name = "amap"
    crs = "gcj02"

    def __init__(self, key: str | None = None, base_url: str = AMAP_URL, **kwargs: Any):
        import os

        key = key or os.environ.get(AMAP_KEY_ENV)
        if not key:
            raise LifeCircleError(
                f"amap: no key; pass one (--amap-key) or set ${AMAP_KEY_ENV}. AMap needs a "
                "web-service key from https://console.amap.com"
            )
        kwargs.setdefault("min_interval_s", AMAP_MIN_INTERVAL_S)
        super().__init__(base_url, **kwargs)
        self._key = key

    def _secret_params(self) -> dict[str, str]:
        return {"key": self._key}

    def check_answer(self, data: Any, url: str) -> None:
        """AMap reports errors as ``status: "0"`` with ``info`` and ``infocode``."""
        if not isinstance(data, dict):
            raise LifeCircleError("amap: expected a JSON object", path=url)
        if str(data.get("status")) != "1":
            raise LifeCircleError(
                f"amap: {data.get('info', 'error')} (infocode {data.get('infocode', '?')})",
                path=url,
            )

    def geocode(self, query: str, area: SearchArea | None = None) -> GeocodeResult | None:
        """Search AMap POIs (then addresses) in ``area.city``; result converted to WGS-84."""
        city = area.city if area is not None else None
        params: dict[str, Any] = {"keywords": query, "offset": 1, "page": 1, "output": "JSON"}
        if city:
            params["city"] = city
            params["citylimit"] = "true"
        data, cached = self.fetch("/v3/place/text", params)
        pois = data.get("pois") or []
        if pois:
            top = pois[0]
            ref = f"poi/{top.get('id', '')}"
            name = str(top.get("name", ""))
            return self._result(query, top.get("location"), name, str(top.get("type", "")), ref,
                                cached)  # fmt: skip
        address = query if area is None or area.district is None else f"{area.district}{query}"
        geo_params: dict[str, Any] = {"address": address, "output": "JSON"}
        if city:
            geo_params["city"] = city
        data, cached = self.fetch("/v3/geocode/geo", geo_params)
        geocodes = data.get("geocodes") or []
        if not geocodes:
            return None
        top = geocodes[0]
        return self._result(query, top.get("location"), str(top.get("formatted_address", "")),
                            str(top.get("level", "")), "geocode/", cached)  # fmt: skip

    def _result(
        self, query: str, location: Any, name: str, kind: str, ref: str, cached: bool
    ) -> GeocodeResult | None:

        if not location or not isinstance(location, str) or "," not in location:
            return None
        try:
            glon, glat = (float(v) for v in location.split(",")[:2])
        except ValueError:
            raise LifeCircleError(
                f"amap: bad location '{location}'", path=self.base_url, record=query
            ) from None
        lon, lat = gcj02_to_wgs84(glon, glat)
        return GeocodeResult(
            query=query, lon=float(lon), lat=float(lat), name=name, provider=self.name,
            crs_in=self.crs, kind=kind, ref=ref, score=None, cached=cached,
        )  # fmt: skip


#: Provider names accepted by :func:`make_geocoder`.
PROVIDERS: dict[str, type[HttpGeocoder]] = {"nominatim": NominatimGeocoder, "amap": AMapGeocoder}


def make_geocoder(name: str, **kwargs: Any) -> Geocoder:
    """Create a provider by name (``nominatim`` or ``amap``).

    Parameters
    ----------
    name
        Provider name.
    **kwargs
        Passed to the provider (``cache_dir``, ``key``, ``base_url``, ``timeout_s``, ...).

    Returns
    -------
    Geocoder
    """
    try:
        cls = PROVIDERS[name.lower()]
    except KeyError:
        raise LifeCircleError(
            f"unknown geocoder '{name}'; expected one of {', '.join(PROVIDERS)}"
        ) from None
    return cls(**kwargs)


def make_geocoders(
    names: Sequence[str], *, cache_dir: str | Path | None, amap_key: str | None = None
) -> list[Geocoder]:
    """Return providers for the command line's ``--geocoder`` options (empty: all off, the default).

    Parameters
    ----------
    names
        Provider names, in the order they are asked.
    cache_dir
        JSON cache root (``out/cache/geocode``).
    amap_key
        AMap key (else ``$LIFECIRCLE_AMAP_KEY``).

    Returns
    -------
    list of Geocoder
    """
    out: list[Geocoder] = []
    for name in dict.fromkeys(n.lower() for n in names):
        kwargs: dict[str, Any] = {"cache_dir": cache_dir}
        if name == "amap":
            kwargs["key"] = amap_key
        out.append(make_geocoder(name, **kwargs))
    return out


def result_record(result: GeocodeResult) -> dict[str, Any]:
    """Return a plain dict of a result (for reports and JSON output)."""
    return asdict(result)
