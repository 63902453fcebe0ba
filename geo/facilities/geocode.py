"""Geocoding plan mentions offline, with honest precision (mentions -> facilities).

Each named mention of a plan (``out/plan_mentions.csv``) is resolved in a fixed order; the first
step that succeeds wins, so a lower precision never overrides a higher one:

1. ``gazetteer`` -> precision ``exact``: ``data/facilities/gazetteer.csv``, hand-checked
   locations, each row citing its public source and declaring its ``crs``.
2. ``poi`` -> precision ``poi``: a fuzzy name match (rapidfuzz) against the OSM inventory
   (OSM + Geofabrik names) within the area plus a buffer; the category must agree.
   (Optional online geocoders, off by default, also give ``poi``.)
3. ``street`` -> precision ``street``: the place hint's road (e.g. 民治路, 控江路121弄) matched
   to the area's named OSM highway ways. A lane/house number found in OSM addresses or lane
   names places the point there; otherwise the road's midpoint inside the area is used.
4. ``area`` -> precision ``area``: only the area is known; geometry empty, listed as unplaced.

A mention flagged ``in_area=no`` never gets a geometry (precision ``unresolved``). Generic
mentions (``kind=generic``) are not placed here; they go to site recommendation.

All geometry is WGS-84; distances are measured in ``settings.PROJECTED_CRS`` metres.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.facilities.coords import check_coordinates, normalise_crs, to_wgs84
from geo.facilities.providers import SearchArea
from geo.facilities.taxonomy import load_taxonomy
from geo.io import validate
from geo.io.areas import network_sources
from geo.io.files import read_text_utf8, write_atomic
from geo.io.geom import bbox_of, clip_polygon, project_geom
from geo.io.osm import FEATURE_KEYS, OsmData, OsmWay, read_osm
from geo.io.tables import FACILITIES, MENTIONS

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo._types import ProgressFn
    from geo.facilities.taxonomy import Taxonomy
    from geo.io.areas import Area, Registry

#: The committed gazetteer of hand-checked locations.
GAZETTEER_FILE: Path = settings.PROJECT_DATA_DIR / "facilities" / "gazetteer.csv"

#: Columns a gazetteer must have (``aliases``, ``osm_element``, ``checked``, ``note`` optional).
GAZETTEER_COLUMNS: tuple[str, ...] = ("id", "area", "name", "category", "lon", "lat", "crs",
                                      "source")  # fmt: skip


#: Precision values, best first (contract "facilities").
PRECISIONS: tuple[str, ...] = ("exact", "poi", "street", "area", "unresolved")
PRECISION_RANK: dict[str, int] = {p: len(PRECISIONS) - i for i, p in enumerate(PRECISIONS)}

#: POI candidates may lie this far outside the area boundary (m).
POI_BUFFER_M: float = 500.0
#: Lane / house-number features may lie this far outside the boundary (m).
LANE_BUFFER_M: float = 200.0
#: Gazetteer rows must lie within this distance of their area (m); catches swapped/offset rows.
GAZETTEER_BUFFER_M: float = 1000.0
#: Online geocoder answers farther than this from the area are rejected (m).
ONLINE_BUFFER_M: float = 500.0

#: Minimum rapidfuzz ratio (0-100) of normalised names for a POI match.
POI_MIN_SCORE: float = 80.0
#: Minimum ratio for a fuzzy (not exact) gazetteer match.
GAZETTEER_MIN_SCORE: float = 92.0

#: Confidence per resolution method (POI confidence also scales with the match score).
CONFIDENCE: dict[str, float] = {
    "gazetteer": 0.95,
    "poi": 0.85,  # at score 100; falls linearly to 0.6 at POI_MIN_SCORE
    "online": 0.5,
    "street_number": 0.6,
    "street_midpoint": 0.3,
    "area": 0.0,
    "unresolved": 0.0,
}

#: Generic facility words: a name made only of these cannot be matched to one POI.
GENERIC_TERMS: tuple[str, ...] = (
    "综合为老服务中心", "为老服务中心", "党群服务中心", "社区事务受理服务中心", "事务受理",
    "受理服务中心", "文化活动中心", "文化服务中心", "卫生服务中心", "卫生服务站", "养老服务站",
    "日间照料中心", "长者照护之家", "睦邻中心", "睦邻点", "睦邻家园", "邻里汇", "口袋公园",
    "菜市场", "市场", "菜场",
    "服务中心", "服务站", "活动中心", "活动室", "工作站", "食堂", "助餐点", "养老院", "敬老院",
    "幼儿园", "幼稚园", "托育", "小学", "中学", "学校", "医院", "卫生站", "门诊部", "图书馆",
    "公园", "绿地", "广场", "健身苑", "健身点", "球场", "体育场", "中心", "驿站", "家门口",
    "社区", "街道", "小区", "新村", "综合", "服务", "便民", "示范", "精品", "实体", "智慧",
)  # fmt: skip

#: Quotes and separators removed by :func:`normalise_name`.
_DROP_CHARS = "\"'“”‘’「」『』《》〈〉【】·・•‧∙.,、，。:：;；!！?？-—_~～/\\|"
_DROP_TABLE = {ord(c): None for c in _DROP_CHARS}

#: Shanghai's district names (stripped as prefixes when comparing names).
SHANGHAI_DISTRICTS: tuple[str, ...] = (
    "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "浦东新区", "闵行区",
    "宝山区", "嘉定区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区",
)  # fmt: skip

#: A lane or house number right after a road name: 121弄, 217 弄, 600号, 2065弄12号.
_NUMBER_RE = re.compile(r"^\s*(\d+)\s*(支弄|弄|号|巷)?")
#: A road name ends like a road (五角场, 五角场广场 and 复兴东路隧道(上层) are not roads).
_ROAD_NAME_RE = re.compile(r"(?:路|街|大道|公路|巷|弄|道)$")
#: Subdistrict names (新华路街道) are removed from hint text before roads are looked for.
_SUBDISTRICT_RE = re.compile(r"[\u4e00-\u9fff]{2,4}街道")
#: Road-like names in free text (used only when no road data is available, for the report).
_ROAD_RE = re.compile(r"[\u4e00-\u9fff]{2,6}?(?:大道|公路|支路|路|街)")


# -------------------------------------------------------------------------------------------
# names
# -------------------------------------------------------------------------------------------
def normalise_name(text: object) -> str:
    """Normalise a facility name for comparison.

    NFKC (full-width -> half-width letters, digits and brackets), lower case, no spaces,
    quotes or separators (新华·社区营造中心 -> 新华社区营造中心), a leading 上海市 removed and the
    words 街道 and 社区 removed (五角场街道社区文化活动中心 -> 五角场文化活动中心).

    Parameters
    ----------
    text
        A name as written (NaN/None give "").

    Returns
    -------
    str
    """
    if _missing(text):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    s = re.sub(r"\s+", "", s).translate(_DROP_TABLE)
    s = s.removeprefix("上海市").removeprefix("上海")
    return s.replace("街道", "").replace("社区", "")


def road_norm(text: object) -> str:
    """Normalise a road or place-hint text: NFKC, lower case, no spaces, quotes or separators.

    Unlike :func:`normalise_name` it keeps 街道/社区, so a subdistrict name such as 新华路街道
    can be recognised (and dropped by :meth:`RoadIndex.find_road`) instead of read as 新华路.
    """
    if _missing(text):
        return ""
    s = unicodedata.normalize("NFKC", str(text)).lower()
    return re.sub(r"\s+", "", s).translate(_DROP_TABLE)


def is_road_name(name: str) -> bool:
    """Return True for names that read as a road or lane (…路, …街, …大道, …公路, …巷, …弄, …道)."""
    return bool(_ROAD_NAME_RE.search(name))


def strip_district(name: str) -> str:
    """Remove a leading Shanghai district name (杨浦区中心医院 -> 中心医院)."""
    for d in SHANGHAI_DISTRICTS:
        if name.startswith(d):
            return name[len(d) :]
    return name


def specific_part(name: str, terms: Iterable[str] = GENERIC_TERMS) -> str:
    """Return a normalised name without its generic facility words (longest removed first).

    Parameters
    ----------
    name
        A normalised name (:func:`normalise_name`).
    terms
        Generic words; :func:`generic_terms` adds the taxonomy keywords.

    Returns
    -------
    str
    """
    s = name
    for term in sorted({normalise_name(t) for t in terms}, key=len, reverse=True):
        if term:
            s = s.replace(term, "")
    return re.sub(r"[()\d]+", "", s)


def generic_terms(taxonomy: Taxonomy | None = None) -> tuple[str, ...]:
    """:data:`GENERIC_TERMS` plus every category keyword of the taxonomy (if it loads)."""
    terms = list(GENERIC_TERMS)
    try:
        if taxonomy is None:
            taxonomy = load_taxonomy()
        for cat in taxonomy.categories.values():
            terms.extend(cat.keywords)
    except (ImportError, LifeCircleError):
        pass
    return tuple(dict.fromkeys(terms))


def name_score(a: str, b: str) -> float:
    """Similarity (0-100) of two normalised names, with and without a district prefix."""
    from rapidfuzz import fuzz

    return float(max(fuzz.ratio(a, b), fuzz.ratio(strip_district(a), strip_district(b))))


# -------------------------------------------------------------------------------------------
# gazetteer
# -------------------------------------------------------------------------------------------
def load_gazetteer(
    path: str | Path | None = None, registry: Registry | None = None
) -> gpd.GeoDataFrame:
    """Read and validate the gazetteer; coordinates are converted to WGS-84.

    Parameters
    ----------
    path
        CSV file (default ``data/facilities/gazetteer.csv``). UTF-8; one row per location with
        ``id, area, name, category, lon, lat, crs, source`` and optional ``aliases`` (names as
        written in plans, ``|``-separated), ``osm_element`` (e.g. ``way/123``), ``checked``,
        ``note``, ``precision`` (exact|poi|street, default exact: a row that only knows the
        compound or street a facility is in says so) and ``confidence`` (0-1, default 0.95).
    registry
        When given, every row's area must exist and its point must lie within
        ``GAZETTEER_BUFFER_M`` of the area (catches swapped or unconverted coordinates).

    Returns
    -------
    geopandas.GeoDataFrame
        The rows plus ``lon_wgs84, lat_wgs84`` and a WGS-84 point geometry.

    Raises
    ------
    LifeCircleError
        Naming the file and row for a missing column/value, unknown crs or bad coordinates.
    """
    path = Path(path) if path is not None else GAZETTEER_FILE
    if not path.exists():
        raise LifeCircleError("gazetteer not found", path=path)
    import io

    try:
        df = pd.read_csv(io.StringIO(read_text_utf8(path)), dtype=str, keep_default_na=False,
                         comment=None)  # fmt: skip
    except pd.errors.EmptyDataError:
        raise InputError(
            f"empty file; expected a CSV with columns {', '.join(GAZETTEER_COLUMNS)}", path=path
        ) from None
    except pd.errors.ParserError as exc:
        raise LifeCircleError(f"malformed CSV: {exc}", path=path) from None
    missing = [c for c in GAZETTEER_COLUMNS if c not in df.columns]
    if missing:
        raise LifeCircleError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(GAZETTEER_COLUMNS)}",
            path=path,
        )
    for col in ("aliases", "osm_element", "checked", "note", "precision", "confidence"):
        if col not in df.columns:
            df[col] = ""
    df = df.map(lambda v: v.strip() if isinstance(v, str) else v)
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise LifeCircleError(f"duplicate id '{dup.iloc[0]}'", path=path)
    lon = np.full(len(df), np.nan)
    lat = np.full(len(df), np.nan)
    records: list[Any] = [pd.Series(r) for r in df.to_dict("records")]
    for i, row in enumerate(records):
        rec = f"line {i + 2}, id {row.id or '?'}"
        for col in ("id", "area", "name", "source", "crs"):
            if not row[col]:
                raise LifeCircleError(f"empty '{col}'; every row needs it", path=path, record=rec)
        crs = normalise_crs(row.crs, path=path, record=rec)
        if row.precision and row.precision not in ("exact", "poi", "street"):
            raise LifeCircleError(
                f"precision '{row.precision}'; expected exact, poi or street (empty = exact)",
                path=path,
                record=rec,
            )
        if row.confidence:
            try:
                ok = 0.0 <= float(row.confidence) <= 1.0
            except ValueError:
                ok = False
            if not ok:
                raise LifeCircleError(
                    f"confidence '{row.confidence}'; expected a number from 0 to 1 (empty = 0.95)",
                    path=path,
                    record=rec,
                )
        try:
            x, y = float(row.lon), float(row.lat)
        except ValueError:
            raise LifeCircleError(
                f"lon/lat '{row.lon}', '{row.lat}' are not numbers; expected degrees",
                path=path,
                record=rec,
            ) from None
        if not (math.isfinite(x) and math.isfinite(y)):  # ranges: check_coordinates below
            raise InputError(
                f"lon/lat '{row.lon}', '{row.lat}' are not finite", path=path, record=rec
            )
        area_poly = None
        if registry is not None:
            if row.area not in registry.areas:  # the gazetteer row is wrong, not areas.yaml
                raise InputError(
                    f"area '{row.area}' is not in the study-area registry; known areas: "
                    f"{', '.join(registry.areas)}",
                    path=path,
                    record=rec,
                )
            area_poly = registry.boundary(row.area)
        check_coordinates([x], [y], area_poly, records=[rec], buffer_m=GAZETTEER_BUFFER_M + 1000,
                          path=path)  # fmt: skip
        wx, wy = to_wgs84([x], [y], crs)
        check_coordinates(wx, wy, area_poly, records=[rec], buffer_m=GAZETTEER_BUFFER_M,
                          path=path)  # fmt: skip
        lon[i], lat[i] = float(wx[0]), float(wy[0])
    df["lon_wgs84"] = lon
    df["lat_wgs84"] = lat
    gaz = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=settings.STORAGE_CRS)
    gaz.attrs["path"] = str(path)  # warnings name the file
    return gaz


# -------------------------------------------------------------------------------------------
# streets
# -------------------------------------------------------------------------------------------
@dataclass
class LanePoint:
    """A located lane/house number on a road (from an OSM lane way or address)."""

    road: str
    number: int
    point: Any  # shapely Point, WGS-84
    ref: str  # OSM element, e.g. "way/123"


@dataclass
class RoadIndex:
    """Named roads of one area (geometry clipped to the area) and located lane numbers."""

    area: str
    roads: dict[str, Any] = field(default_factory=dict)  # normalised name -> WGS-84 lines
    road_refs: dict[str, list[str]] = field(default_factory=dict)
    lanes: dict[tuple[str, int], LanePoint] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def available(self) -> bool:
        """True when the area has any named road to match against."""
        return bool(self.roads)

    def find_road(self, text: str) -> tuple[str, int | None] | None:
        """Return the longest known road name occurring in ``text`` and a number right after it.

        Subdistrict names (新华路街道) are removed first, so they are not read as roads.
        """
        s = _SUBDISTRICT_RE.sub("|", road_norm(text))
        best: tuple[str, int | None] | None = None
        for road in self.roads:
            pos = s.find(road)
            if pos < 0 or (best is not None and len(road) <= len(best[0])):
                continue
            m = _NUMBER_RE.match(s[pos + len(road) :])
            best = (road, int(m.group(1)) if m else None)
        return best


def _lane_key(text: str) -> tuple[str, int] | None:
    """Split '番禺路 222 弄 50 支弄' / '国定路140弄' into ('番禺路', 222)."""
    s = road_norm(text)
    m = re.match(r"^(.+?(?:大道|公路|支路|路|街|巷))(\d+)(?:弄|号|支弄)?", s)
    return (m.group(1), int(m.group(2))) if m else None


def build_road_index(
    area_id: str, boundary: BaseGeometry, data: OsmData, *, sources: Sequence[str] = ()
) -> RoadIndex:
    """Index named highway ways and numbered lanes/addresses of OSM data for one area.

    Parameters
    ----------
    area_id
        The area id.
    boundary
        The area polygon (WGS-84).
    data
        A :class:`geo.osm.OsmData` (ways with ``highway`` and ``name``; features with
        ``addr:street``/``addr:housenumber`` or lane names).
    sources
        File names, recorded for the report.

    Returns
    -------
    RoadIndex
    """
    idx = RoadIndex(area=area_id, sources=list(sources))
    lane_zone = clip_polygon(boundary, LANE_BUFFER_M)
    parts: dict[str, list[Any]] = {}
    for way in data.ways:
        tags = way.tags
        names = [tags[k] for k in ("name", "name:zh") if tags.get(k)]
        if "highway" in tags and names:
            line = shapely.LineString(way.coords)
            for name in dict.fromkeys(road_norm(n) for n in names):
                lane = _lane_key(name)
                if lane is not None:
                    if line.intersects(lane_zone) and lane not in idx.lanes:
                        mid = line.interpolate(0.5, normalized=True)
                        idx.lanes[lane] = LanePoint(lane[0], lane[1], mid, f"way/{way.id}")
                    continue
                if not is_road_name(name):
                    continue
                inside = line.intersection(boundary)
                if not inside.is_empty:
                    parts.setdefault(name, []).append(inside)
                    idx.road_refs.setdefault(name, []).append(f"way/{way.id}")
        _add_address(idx, tags, lambda w=way: shapely.Polygon(w.coords) if w.closed
                     else shapely.LineString(w.coords), f"way/{way.id}", lane_zone)  # fmt: skip
    for pt in data.points:
        _add_address(idx, pt.tags, lambda p=pt: shapely.Point(p.lon, p.lat),
                     f"{pt.osm_type}/{pt.id}", lane_zone)  # fmt: skip
    for name, geoms in parts.items():
        merged = shapely.line_merge(shapely.union_all(geoms))
        idx.roads[name] = merged
    return idx


def _add_address(
    idx: RoadIndex,
    tags: Mapping[str, str],
    geom_fn: Callable[..., BaseGeometry],  # called without arguments
    ref: str,
    zone: BaseGeometry,
) -> None:
    """Record a numbered address or a lane-named feature as a lane point."""
    keys: list[tuple[str, int]] = []
    street = tags.get("addr:street")
    number = tags.get("addr:housenumber")
    if street:
        lane = _lane_key(street)
        if lane is not None:
            keys.append(lane)
        elif number:
            m = _NUMBER_RE.match(unicodedata.normalize("NFKC", number))
            if m:
                keys.append((road_norm(street), int(m.group(1))))
    name = tags.get("name")
    if name and "highway" not in tags:
        lane = _lane_key(name)
        if lane is not None:
            keys.append(lane)
    if not keys:
        return
    geom = geom_fn()
    if geom.is_empty or not geom.intersects(zone):
        return
    point = geom.representative_point() if geom.geom_type == "Polygon" else geom
    if geom.geom_type == "LineString":
        point = geom.interpolate(0.5, normalized=True)
    for key in keys:
        idx.lanes.setdefault(key, LanePoint(key[0], key[1], point, ref))


def road_midpoint(lines: BaseGeometry) -> tuple[Any, float]:
    """Return the midpoint of the longest connected piece of a road, and its uncertainty.

    Parameters
    ----------
    lines
        WGS-84 (Multi)LineString of one road inside the area.

    Returns
    -------
    tuple
        (WGS-84 Point, uncertainty in metres = the farthest road vertex from the point).
    """
    proj = project_geom(lines)
    pieces = list(getattr(proj, "geoms", [proj]))
    longest = max(pieces, key=lambda g: g.length)
    mid = longest.interpolate(0.5, normalized=True)
    coords = shapely.get_coordinates(proj)
    far = float(np.hypot(coords[:, 0] - mid.x, coords[:, 1] - mid.y).max()) if len(coords) else 0
    return project_geom(mid, inverse=True), far


def area_road_index(
    registry: Registry, area: Area | str, *, data: OsmData | None = None
) -> RoadIndex:
    """Read the area's OSM network/feature files (or a Geofabrik roads layer) into a RoadIndex.

    Parameters
    ----------
    registry
        The :class:`geo.areas.Registry`.
    area
        An :class:`geo.areas.Area` or id.
    data
        Optional pre-read :class:`geo.osm.OsmData` (skips file reading).

    Returns
    -------
    RoadIndex
        ``note`` says where the roads came from, or why there are none.
    """
    if isinstance(area, str):
        area = registry.get(area)
    boundary = registry.boundary(area)
    if data is not None:
        idx = build_road_index(area.id, boundary, data, sources=data.sources)
        idx.note = f"{len(idx.roads)} named roads from given OSM data"
        return idx
    files = [*network_sources(registry, area)]
    for rel in area.features:
        files.append(registry.resolve(rel, what=f"feature file of area '{area.id}'"))
    bbox = bbox_of(clip_polygon(boundary, 500.0))
    keys = (*FEATURE_KEYS, "addr:street", "addr:housenumber")
    osm = OsmData()
    for path in files:
        osm.extend(read_osm(path, bbox=bbox, keys=keys))
    roads_layer = _geofabrik_roads(registry, bbox)
    if roads_layer is not None:
        osm.extend(roads_layer)
    idx = build_road_index(area.id, boundary, osm, sources=[str(p) for p in files])
    if idx.roads:
        extra = " + Geofabrik roads layer" if roads_layer is not None else ""
        idx.note = f"{len(idx.roads)} named roads from {len(files)} OSM file(s){extra}"
    elif not files:
        idx.note = (
            "no street-level matching: the area has no OSM network data, and the Geofabrik "
            "roads layer (gis_osm_roads_free_1) is not in the data folder"
        )
    else:
        idx.note = "no named roads inside the area in its OSM files"
    return idx


def _geofabrik_roads(registry: Registry, bbox: tuple[float, float, float, float]) -> OsmData | None:
    """Named roads from a Geofabrik ``gis_osm_roads_free_1`` layer, if a user supplied one."""
    folder = (registry.defaults.get("pois") or {}).get("geofabrik")
    if not folder:
        return None
    try:
        base = registry.resolve(folder, what="Geofabrik folder")
    except LifeCircleError:
        return None
    shp = base / "gis_osm_roads_free_1.shp"
    if not shp.exists():
        return None

    gdf = gpd.read_file(shp, bbox=bbox)
    gdf = gdf[gdf["name"].notna() & (gdf.geom_type == "LineString")]
    ways = [
        OsmWay(int(r.osm_id), {"highway": str(r.fclass), "name": str(r.name)},
               np.asarray(r.geometry.coords))
        for r in gdf.itertuples()
    ]  # fmt: skip
    return OsmData(ways=ways, sources=[str(shp)])


# -------------------------------------------------------------------------------------------
# POI candidates
# -------------------------------------------------------------------------------------------
@dataclass
class PoiCandidates:
    """Named, categorised features near one area (from the OSM/Geofabrik inventory)."""

    names: list[str]
    norm: list[str]
    category: list[str]
    ref: list[str]
    osm_id: list[Any]
    points: list[Any]  # WGS-84 Points
    radius_m: list[float]


def poi_candidates(inventory: gpd.GeoDataFrame | None, zone: BaseGeometry) -> PoiCandidates:
    """Inventory rows with a name and category whose geometry intersects ``zone``.

    Parameters
    ----------
    inventory
        GeoDataFrame with at least ``name``, ``category``, ``geometry`` (WGS-84) and optionally
        ``osm_id``, ``facility_id``.
    zone
        WGS-84 polygon (area + buffer).

    Returns
    -------
    PoiCandidates
    """
    out = PoiCandidates([], [], [], [], [], [], [])
    if inventory is None or len(inventory) == 0:
        return out
    inv = inventory[inventory["name"].notna() & inventory.geometry.notna()]
    inv = inv[inv.geometry.intersects(zone)]
    seen: set[str] = set()
    for row in inv.itertuples():
        name = str(row.name).strip()
        norm = normalise_name(name)
        osm_id = getattr(row, "osm_id", None)
        key = f"{osm_id}|{norm}" if osm_id is not None and not pd.isna(osm_id) else ""
        if not norm or (key and key in seen):
            continue
        seen.add(key)
        geom = row.geometry
        point = geom if geom.geom_type == "Point" else geom.representative_point()
        radius = 0.0
        if geom.geom_type != "Point":
            pg, pp = project_geom(geom), project_geom(point)
            c = shapely.get_coordinates(pg)
            radius = float(np.hypot(c[:, 0] - pp.x, c[:, 1] - pp.y).max())
        out.names.append(name)
        out.norm.append(norm)
        out.category.append(_text(getattr(row, "category", "")))
        out.ref.append(_text(getattr(row, "facility_id", "")) or _text(osm_id))
        out.osm_id.append(osm_id)
        out.points.append(point)
        out.radius_m.append(radius)
    return out


# -------------------------------------------------------------------------------------------
# resolution
# -------------------------------------------------------------------------------------------
@dataclass
class Resolution:
    """Where a mention was placed and how sure the tool is."""

    precision: str
    method: str
    confidence: float
    geometry: Any = None
    match_name: str = ""
    match_ref: str = ""
    match_score: float = float("nan")
    uncertainty_m: float = float("nan")
    osm_id: Any = None
    note: str = ""


def _text(value: object) -> str:
    """``str(value)``, with None/NaN/pd.NA as ""."""
    return "" if _missing(value) else str(value)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return (isinstance(value, float) and np.isnan(value)) or str(value) == ""


def _match_gazetteer(mention: Mapping[str, Any], gaz: gpd.GeoDataFrame | None) -> Resolution | None:
    if gaz is None or len(gaz) == 0:
        return None
    norm = normalise_name(mention["name"])
    if not norm:
        return None
    rows = gaz[gaz["area"] == mention["area"]]
    best: tuple[float, Any] | None = None
    for row in rows.itertuples():
        names = [row.name, *[a for a in str(row.aliases or "").split("|") if a.strip()]]
        cat_ok = _missing(mention.get("category")) or not row.category or (
            row.category == mention.get("category"))  # fmt: skip
        if not cat_ok:
            continue
        score = max(name_score(norm, normalise_name(n)) for n in names)
        if score >= GAZETTEER_MIN_SCORE and (best is None or score > best[0]):
            best = (score, row)
    if best is None:
        return None
    score, row = best
    precision = row.precision or "exact"
    confidence = float(row.confidence) if row.confidence else CONFIDENCE["gazetteer"]
    return Resolution(
        precision, "gazetteer", confidence, row.geometry, match_name=row.name,
        match_ref=f"gazetteer:{row.id}" + (f" ({row.osm_element})" if row.osm_element else ""),
        match_score=score, uncertainty_m=0.0, osm_id=row.osm_element or None,
        note=f"source: {row.source}",
    )  # fmt: skip


def _match_poi(
    mention: Mapping[str, Any], cands: PoiCandidates, terms: Iterable[str] = GENERIC_TERMS
) -> Resolution | None:
    from rapidfuzz import fuzz

    category = mention.get("category")
    norm = normalise_name(mention["name"])
    if _missing(category) or not norm or not cands.names:
        return None
    spec = specific_part(norm, terms)
    if len(spec) < 2:
        return None  # a generic name cannot single out one facility
    best: tuple[float, int] | None = None
    for i, cand in enumerate(cands.norm):
        if cands.category[i] != category:
            continue
        if fuzz.partial_ratio(spec, cand) < POI_MIN_SCORE:
            continue  # the distinctive part of the name must appear in the candidate
        score = name_score(norm, cand)
        if score >= POI_MIN_SCORE and (best is None or score > best[0]):
            best = (score, i)
    if best is None:
        return None
    score, i = best
    conf = 0.6 + (CONFIDENCE["poi"] - 0.6) * (score - POI_MIN_SCORE) / (100.0 - POI_MIN_SCORE)
    return Resolution(
        "poi", "poi", round(conf, 3), cands.points[i], match_name=cands.names[i],
        match_ref=cands.ref[i], match_score=score, uncertainty_m=round(cands.radius_m[i], 1),
        osm_id=cands.osm_id[i],
    )  # fmt: skip


def _match_online(
    mention: Mapping[str, Any],
    geocoders: Sequence[Any],
    search_area: SearchArea | None,
    zone: BaseGeometry | None,
) -> Resolution | None:
    for geocoder in geocoders:
        res = geocoder.geocode(str(mention["name"]), search_area)
        if res is None:
            continue
        point = shapely.Point(res.lon, res.lat)
        if not point.intersects(zone):
            continue
        return Resolution(
            "poi", f"online:{res.provider}", CONFIDENCE["online"], point, match_name=res.name,
            match_ref=res.ref, note=f"{res.provider} answer ({res.crs_in} converted to WGS-84)",
        )  # fmt: skip
    return None


def _match_street(mention: Mapping[str, Any], roads: RoadIndex | None) -> Resolution | None:
    if roads is None or not roads.available:
        return None
    for text in (mention.get("place_hint"), mention.get("name")):
        if _missing(text):
            continue
        found = roads.find_road(str(text))
        if found is None:
            continue
        road, number = found
        if number is not None and (road, number) in roads.lanes:
            lane = roads.lanes[(road, number)]
            return Resolution(
                "street", "street", CONFIDENCE["street_number"], lane.point,
                match_name=f"{road}{number}", match_ref=lane.ref, uncertainty_m=50.0,
                note=f"number {number} located on {road} from OSM {lane.ref}",
            )  # fmt: skip
        point, far = road_midpoint(roads.roads[road])
        why = f"number {number} not found in OSM; " if number is not None else ""
        return Resolution(
            "street", "street", CONFIDENCE["street_midpoint"], point, match_name=road,
            match_ref=",".join(roads.road_refs.get(road, [])[:5]),
            uncertainty_m=round(far, 1), note=f"{why}midpoint of {road} inside the area",
        )  # fmt: skip
    return None


def resolve_mention(
    mention: Mapping[str, Any],
    *,
    gazetteer: gpd.GeoDataFrame | None = None,
    candidates: PoiCandidates | None = None,
    roads: RoadIndex | None = None,
    geocoders: Sequence[Any] = (),
    search_area: SearchArea | None = None,
    online_zone: BaseGeometry | None = None,
    terms: Iterable[str] = GENERIC_TERMS,
) -> Resolution:
    """Resolve one named mention through gazetteer -> poi -> (online) -> street -> area.

    Parameters
    ----------
    mention
        One row of the mentions table (contract "mentions").
    gazetteer
        Output of :func:`load_gazetteer` (or None).
    candidates
        POI candidates near the area (:func:`poi_candidates`).
    roads
        The area's :class:`RoadIndex` (None or empty: no street-level matching).
    geocoders
        Optional online :class:`geo.providers.Geocoder` objects (off by default).
    search_area, online_zone
        Passed to the online geocoders / polygon their answers must fall in.
    terms
        Generic facility words (:func:`generic_terms`); a name made only of them is not
        matched to a single POI.

    Returns
    -------
    Resolution
    """
    if str(mention.get("in_area", "")).strip().lower() == "no":
        return Resolution("unresolved", "skipped", CONFIDENCE["unresolved"],
                          note="outside the area according to the plan (in_area=no)")  # fmt: skip
    steps: list[Callable[[], Resolution | None]] = [
        lambda: _match_gazetteer(mention, gazetteer),
        lambda: _match_poi(mention, candidates, terms) if candidates is not None else None,
        lambda: _match_online(mention, geocoders, search_area, online_zone) if geocoders
        else None,
        lambda: _match_street(mention, roads),
    ]  # fmt: skip
    for step in steps:
        res = step()
        if res is not None:
            return res
    note = "no gazetteer, POI or street match"
    hint = " ".join(
        str(mention.get(k)) for k in ("place_hint", "name") if not _missing(mention.get(k))
    )
    road_words = list(dict.fromkeys(_ROAD_RE.findall(_SUBDISTRICT_RE.sub("|", road_norm(hint)))))
    if roads is not None and not roads.available:
        note += f"; {roads.note}"
        if road_words:
            note += f" (road named: {', '.join(road_words)})"
    elif road_words:
        note += f"; road(s) {', '.join(road_words)} not found inside the area in the OSM data"
    return Resolution("area", "area", CONFIDENCE["area"], note=note)


def _validate_mentions(mentions: pd.DataFrame) -> None:
    missing = [c for c in MENTIONS.names if c not in mentions.columns]
    if missing:
        raise LifeCircleError(
            f"mentions table lacks column(s) {', '.join(missing)}; expected the contract "
            f"'mentions' columns: {', '.join(MENTIONS.names)}"
        )


def geocode_mentions(
    registry: Registry,
    mentions_df: pd.DataFrame,
    inventory_gdf: gpd.GeoDataFrame | None = None,
    gazetteer: gpd.GeoDataFrame | str | Path | Literal[False] | None = None,
    *,
    roads: Mapping[str, RoadIndex] | None = None,
    geocoders: Sequence[Any] = (),
    poi_buffer_m: float = POI_BUFFER_M,
    progress: ProgressFn | None = None,
) -> gpd.GeoDataFrame:
    """Place every named plan mention, recording precision and confidence.

    Parameters
    ----------
    registry
        The :class:`geo.areas.Registry` (area boundaries, OSM files).
    mentions_df
        The mentions table (contract "mentions"); only ``kind == "named"`` rows are resolved.
    inventory_gdf
        The OSM/Geofabrik facility inventory (contract "facilities" columns, ``source=osm``),
        used for the ``poi`` step; None skips it.
    gazetteer
        A GeoDataFrame from :func:`load_gazetteer`, a path, None for the default file
        ``data/facilities/gazetteer.csv`` (a missing default file counts as empty), or False
        for none.
    roads
        Optional ``{area_id: RoadIndex}``; areas not given are read with
        :func:`area_road_index`.
    geocoders
        Optional online geocoders (``geo.providers``); off unless given.
    poi_buffer_m
        POI candidates may lie this far outside the area (m).
    progress
        Optional wrapper ``progress(iterable, desc)`` for a progress bar.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per named mention: the mention columns plus ``facility_id, precision, method,
        confidence, match_name, match_ref, match_score, uncertainty_m, osm_id, note`` and a
        WGS-84 point ``geometry`` (None for ``area`` / ``unresolved``).
    """
    _validate_mentions(mentions_df)
    if gazetteer is False:
        gazetteer = None
    elif gazetteer is None:
        gazetteer = load_gazetteer(registry=registry) if GAZETTEER_FILE.exists() else None
    elif isinstance(gazetteer, str | Path):
        gazetteer = load_gazetteer(gazetteer, registry=registry)
    terms = generic_terms()
    named = mentions_df[mentions_df["kind"].astype(str).str.strip().str.lower() == "named"]
    roads = dict(roads or {})
    rows: list[dict[str, Any]] = []
    area_ids = list(dict.fromkeys(named["area"].astype(str)))
    iterator: Iterable[str] = progress(area_ids, "geocode / 地理编码") if progress else area_ids
    for area_id in iterator:
        area = registry.get(area_id)
        boundary = registry.boundary(area)
        zone = clip_polygon(boundary, poi_buffer_m)
        cands = poi_candidates(inventory_gdf, zone)
        if area_id not in roads:
            roads[area_id] = area_road_index(registry, area)
        search = SearchArea.from_area(registry, area, ONLINE_BUFFER_M) if geocoders else None
        online_zone = clip_polygon(boundary, ONLINE_BUFFER_M) if geocoders else None
        for _, m in named[named["area"].astype(str) == area_id].iterrows():
            mention = {str(k): v for k, v in m.items()}
            res = resolve_mention(mention, gazetteer=gazetteer, candidates=cands,
                                  roads=roads[area_id], geocoders=geocoders, search_area=search,
                                  online_zone=online_zone, terms=terms)  # fmt: skip
            rows.append({**mention, "facility_id": plan_facility_id(mention),
                         "precision": res.precision, "method": res.method,
                         "confidence": res.confidence, "match_name": res.match_name,
                         "match_ref": res.match_ref, "match_score": res.match_score,
                         "uncertainty_m": res.uncertainty_m, "osm_id": res.osm_id,
                         "note": res.note, "geometry": res.geometry})  # fmt: skip
    columns = [*mentions_df.columns, "facility_id", "precision", "method", "confidence",
               "match_name", "match_ref", "match_score", "uncertainty_m", "osm_id", "note",
               "geometry"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs=settings.STORAGE_CRS)
    bad = gdf[(gdf["in_area"].astype(str).str.lower() == "no") & gdf.geometry.notna()]
    assert bad.empty, "in_area=no mentions must never get a geometry"
    return gdf


def plan_facility_id(mention: Mapping[str, Any]) -> str:
    """Return a stable id for a plan mention: ``plan:<doc stem>:<start offset>``."""
    doc = Path(str(mention.get("doc", ""))).stem
    return f"plan:{doc}:{mention.get('start', '')}"


#: Plan action -> facility status.
ACTION_STATUS: dict[str, str] = {"existing": "existing", "upgrade": "existing", "new": "planned"}


def plan_facilities(geocoded: gpd.GeoDataFrame, registry: Registry | None = None) -> Any:
    """Turn geocoded mentions into ``source=plan`` facility rows (contract "facilities").

    Mentions with ``in_area=no`` are dropped (they are outside the area). ``status`` is
    ``existing`` for actions existing/upgrade and ``planned`` for new. ``osm_id`` is the OSM
    element the mention was matched to (gazetteer or POI step), so a consumer can tell a plan
    row that restates an OSM facility. Extra columns keep the evidence: ``sentence, action,
    quantity, place_hint, mention_in_area`` (the plan's yes/unknown), ``method, match_name,
    match_ref, match_score, uncertainty_m, note, duplicate_of`` (the first mention of the same
    facility) and, as in the OSM inventory, a boolean ``in_area`` and ``sources``.

    Parameters
    ----------
    geocoded
        Output of :func:`geocode_mentions`.
    registry
        When given, ``in_area`` is whether the point lies inside the area boundary; rows without
        a point take the plan's word (``mention_in_area == "yes"``).

    Returns
    -------
    geopandas.GeoDataFrame
    """
    g = geocoded[geocoded["in_area"].astype(str).str.lower() != "no"].copy()
    g["source"] = "plan"
    g["status"] = g["action"].astype(str).str.strip().str.lower().map(ACTION_STATUS)
    g["status"] = g["status"].fillna("planned")
    g["mention_doc"] = g["doc"]
    g["mention_start"] = pd.to_numeric(g["start"], errors="coerce").astype("Int64")
    key = g["area"].astype(str) + "|" + g["name"].map(normalise_name)
    first = g.groupby(key)["facility_id"].transform("first")
    g["duplicate_of"] = np.where(first != g["facility_id"], first, "")
    g["osm_id"] = g["osm_id"].map(lambda v: "" if _missing(v) else str(v))
    g["mention_in_area"] = g["in_area"].astype(str)
    inside = (g["mention_in_area"] == "yes").to_numpy().copy()
    if registry is not None:
        for i, (area_id, geom) in enumerate(zip(g["area"], g.geometry, strict=True)):
            if geom is not None and not geom.is_empty:
                inside[i] = bool(registry.boundary(str(area_id)).covers(geom))
    # a point outside Shanghai (an online geocoder's namesake in another province) is never
    # in-area, whatever the plan says and whether or not a registry was given
    centre = shapely.centroid(np.asarray(g.geometry.values, dtype=object))
    xs, ys = shapely.get_x(centre), shapely.get_y(centre)  # NaN where there is no point
    inside &= np.isnan(xs) | validate.in_shanghai(xs, ys)
    g["in_area"] = inside
    g["sources"] = (
        g["doc"].astype(str).map(lambda d: d if d.lower().endswith(".txt") else f"plans/{d}.txt")
    )
    extra = ["in_area", "sources", "sentence", "action", "quantity", "place_hint",
             "mention_in_area", "method", "match_name", "match_ref", "match_score",
             "uncertainty_m", "note", "duplicate_of"]  # fmt: skip
    cols = [c for c in FACILITIES.names if c != "geometry"] + extra + ["geometry"]
    return gpd.GeoDataFrame(g[cols], geometry="geometry", crs=settings.STORAGE_CRS)


# -------------------------------------------------------------------------------------------
# QA report
# -------------------------------------------------------------------------------------------
def geocode_report(
    geocoded: gpd.GeoDataFrame,
    mentions_df: pd.DataFrame | None = None,
    roads: Mapping[str, RoadIndex] | None = None,
) -> pd.DataFrame:
    """Per area: mentions placed at each precision, and the unplaced list.

    Parameters
    ----------
    geocoded
        Output of :func:`geocode_mentions`.
    mentions_df
        The full mentions table (adds counts of generic mentions), optional.
    roads
        The road indexes used (adds the street-data note and a row for every indexed area),
        optional.

    Returns
    -------
    pandas.DataFrame
        Columns ``area, named, generic, exact, poi, street, area_only, unresolved, placed,
        unplaced_n, unplaced, street_data`` (:func:`geocode_stage` adds ``gazetteer_check``:
        each gazetteer row's distance to the OSM element it cites, where the inventory has
        it). ``area_only`` counts precision ``area`` (row kept, no geometry); ``unresolved``
        counts ``in_area=no`` mentions (never placed).
    """
    areas = list(geocoded["area"].astype(str))
    if mentions_df is not None:
        areas += list(mentions_df["area"].astype(str))
    if roads is not None:
        areas += list(roads)  # areas without any mention still get a row
    areas = list(dict.fromkeys(areas))
    rows = []
    for a in areas:
        g = geocoded[geocoded["area"].astype(str) == a]
        counts = g["precision"].value_counts()
        unplaced = g[g["precision"] == "area"]
        generic = 0
        if mentions_df is not None:
            md = mentions_df[mentions_df["area"].astype(str) == a]
            generic = int((md["kind"].astype(str).str.lower() == "generic").sum())
        listing = "; ".join(
            f"{r.name} ({Path(str(r.doc)).stem}@{r.start})" for r in unplaced.itertuples()
        )
        rows.append({
            "area": a, "named": len(g), "generic": generic,
            "exact": int(counts.get("exact", 0)), "poi": int(counts.get("poi", 0)),
            "street": int(counts.get("street", 0)), "area_only": int(counts.get("area", 0)),
            "unresolved": int(counts.get("unresolved", 0)),
            "placed": int(g.geometry.notna().sum()), "unplaced_n": len(unplaced),
            "unplaced": listing,
            "street_data": (roads[a].note if roads is not None and a in roads else ""),
        })  # fmt: skip
    return pd.DataFrame(rows)


def format_report(report: pd.DataFrame) -> str:
    """Return a bilingual text table of :func:`geocode_report` for the terminal."""
    head = (f"{'area 区域':<16}{'named 具名':>10}{'exact 精确':>11}{'poi 兴趣点':>11}"
            f"{'street 道路':>12}{'area 仅区域':>12}{'out 区外':>9}")  # fmt: skip
    lines = [head]
    recs: list[Any] = list(report.itertuples())
    for r in recs:
        lines.append(f"{r.area:<16}{r.named:>10}{r.exact:>11}{r.poi:>11}{r.street:>12}"
                     f"{r.area_only:>12}{r.unresolved:>9}")  # fmt: skip
    for r in recs:
        if r.street_data and "no street-level" in r.street_data:
            lines.append(f"  {r.area}: {r.street_data}")
        if r.unplaced_n:
            lines.append(f"  {r.area} unplaced 未定位 ({r.unplaced_n}): {r.unplaced}")
    return "\n".join(lines)


def verify_gazetteer(
    gazetteer: gpd.GeoDataFrame, inventory: gpd.GeoDataFrame | None, max_m: float = 50.0
) -> pd.DataFrame:
    """Distance from each gazetteer row to the OSM element it cites, where the inventory has it.

    Parameters
    ----------
    gazetteer
        Output of :func:`load_gazetteer`.
    inventory
        The OSM inventory GeoDataFrame (``osm_id`` like ``way/123`` or a number).
    max_m
        Rows farther than this are flagged ``ok=False``.

    Returns
    -------
    pandas.DataFrame
        ``id, osm_element, found, distance_m, ok``.
    """
    inv_ids: dict[str, Any] = {}
    if inventory is not None and "osm_id" in inventory.columns:
        for oid, geom in zip(inventory["osm_id"].astype(str), inventory.geometry, strict=False):
            inv_ids.setdefault(oid, geom)
    rows = []
    for r in gazetteer.itertuples():
        ref = str(r.osm_element or "")
        geom = inv_ids.get(ref) or inv_ids.get(ref.split("/")[-1])
        if geom is None:
            rows.append({"id": r.id, "osm_element": ref, "found": False,
                         "distance_m": float("nan"), "ok": True})  # fmt: skip
            continue
        d = float(project_geom(geom).distance(project_geom(r.geometry)))
        rows.append({"id": r.id, "osm_element": ref, "found": True, "distance_m": round(d, 1),
                     "ok": d <= max_m})  # fmt: skip
    return pd.DataFrame(rows, columns=["id", "osm_element", "found", "distance_m", "ok"])


# -------------------------------------------------------------------------------------------
# the stage, as the command line runs it
# -------------------------------------------------------------------------------------------
#: Report file of the geocoding stage (per area: counts per precision, unplaced list).
REPORT_NAME: str = "geocode_report.csv"


def combine_facilities(
    osm_rows: gpd.GeoDataFrame | None, plan_rows: gpd.GeoDataFrame | None
) -> gpd.GeoDataFrame:
    """OSM inventory rows followed by plan rows, as one WGS-84 GeoDataFrame.

    Parameters
    ----------
    osm_rows
        The OSM inventory (``geo.inventory.build_facilities``).
    plan_rows
        Output of :func:`plan_facilities`.

    Returns
    -------
    geopandas.GeoDataFrame
        The union of both column sets; plan rows have empty geometry when unplaced. Column
        ``counted`` marks the rows that count as distinct facilities in access figures (see
        :func:`counted_rows`).
    """
    frames = [f for f in (osm_rows, plan_rows) if f is not None and len(f)]
    if not frames:
        return osm_rows
    frames = [pd.DataFrame(f.to_crs(settings.STORAGE_CRS)) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    out["counted"] = counted_rows(out)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=settings.STORAGE_CRS)


def counted_rows(fac: pd.DataFrame) -> np.ndarray:
    """Which facility rows count as distinct, located facilities (the one rule for all stages).

    A row is left out when it has no usable location (no geometry, or precision ``area`` /
    ``unresolved``), when it repeats an earlier OSM row (the same OSM element listed for two
    areas whose buffers overlap), when it is a plan mention of the same facility as an earlier
    mention (``duplicate_of``), or when a plan row was placed on an OSM facility that is
    already in the table (the OSM row counts for it). Without this, ``n_within`` would count
    one clinic several times.
    """
    n = len(fac)
    geom = fac["geometry"]
    located = np.array([g is not None and not g.is_empty for g in geom], dtype=bool)
    if "precision" in fac.columns:
        located &= ~fac["precision"].astype(str).isin(["area", "unresolved"]).to_numpy()
    source = fac["source"].astype(str).to_numpy() if "source" in fac.columns else np.full(n, "")
    osm_id = (
        fac["osm_id"].fillna("").astype(str).to_numpy()
        if "osm_id" in fac.columns
        else np.full(n, "")
    )
    dup_of = (
        fac["duplicate_of"].fillna("").astype(str).to_numpy()
        if "duplicate_of" in fac.columns
        else np.full(n, "")
    )
    is_osm = source == "osm"
    osm_ids = set(osm_id[is_osm & (osm_id != "")])
    seen: set[str] = set()
    keep = np.zeros(n, bool)
    for i in range(n):
        if not located[i]:
            continue
        if is_osm[i]:
            if osm_id[i] and osm_id[i] in seen:
                continue
            seen.add(osm_id[i])
            keep[i] = True
        else:
            keep[i] = not dup_of[i] and not (osm_id[i] and osm_id[i] in osm_ids)
    return keep


def geocode_stage(
    registry: Registry,
    mentions_df: pd.DataFrame,
    inventory_gdf: gpd.GeoDataFrame | None,
    out: str | Path,
    *,
    area_ids: Sequence[str] | None = None,
    gazetteer: gpd.GeoDataFrame | str | Path | Literal[False] | None = None,
    geocoders: Sequence[Any] = (),
    progress: ProgressFn | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.DataFrame, Path]:
    """Geocode the mentions of the chosen areas and write ``out/geocode_report.csv``.

    Parameters
    ----------
    registry
        The study-area registry.
    mentions_df
        The mentions table (all kinds; generic ones are only counted).
    inventory_gdf
        The OSM inventory used for POI matching.
    out
        Results folder.
    area_ids
        Areas whose report rows are replaced (rows of other areas already in the file stay);
        default: the areas in ``mentions_df``.
    gazetteer, geocoders, progress
        As :func:`geocode_mentions`.

    Returns
    -------
    tuple
        (geocoded mentions, plan facility rows, report DataFrame, report path)
    """
    ids = list(area_ids) if area_ids is not None else list(dict.fromkeys(mentions_df["area"]))
    mentions_df = mentions_df[mentions_df["area"].astype(str).isin(ids)]
    roads: dict[str, RoadIndex] = {}
    for area_id in ids:
        roads[area_id] = area_road_index(registry, area_id)
    if gazetteer is None:
        gazetteer = load_gazetteer(registry=registry) if GAZETTEER_FILE.exists() else False
    elif isinstance(gazetteer, str | Path):
        gazetteer = load_gazetteer(gazetteer, registry=registry)
    geocoded = geocode_mentions(registry, mentions_df, inventory_gdf, gazetteer, roads=roads,
                                geocoders=geocoders, progress=progress)  # fmt: skip
    rows = plan_facilities(geocoded, registry=registry)
    report = geocode_report(geocoded, mentions_df, roads)
    report["gazetteer_check"] = [_gazetteer_check(gazetteer, inventory_gdf, a)
                                 for a in report["area"]]  # fmt: skip
    path = Path(out) / REPORT_NAME
    full = report
    if path.exists():
        try:
            old = pd.read_csv(path, dtype={"area": str}, keep_default_na=False)
            keep = old[~old["area"].isin(ids)]
            if len(keep):
                full = pd.concat([keep, report], ignore_index=True)
        except (OSError, ValueError, KeyError):
            full = report  # an unreadable old report is replaced
    write_atomic(path, lambda p: full.to_csv(p, index=False, encoding="utf-8-sig"))
    return geocoded, rows, report, path


def _gazetteer_check(
    gazetteer: gpd.GeoDataFrame | Literal[False] | None,
    inventory: gpd.GeoDataFrame | None,
    area_id: str,
) -> str:
    """One report cell: how the area's gazetteer rows compare with the OSM inventory."""
    if gazetteer is None or gazetteer is False or len(gazetteer) == 0:
        return "no gazetteer"
    rows = gazetteer[gazetteer["area"] == area_id]
    if rows.empty:
        return "0 rows"
    check = verify_gazetteer(rows, inventory)
    found = check[check["found"]]
    text = f"{len(rows)} rows, {len(found)} found in the OSM inventory"
    if len(found):
        text += f" (max {found['distance_m'].max():.1f} m)"
    bad = check[~check["ok"]]
    if len(bad):
        text += "; CHECK " + ", ".join(f"{r.id} {r.distance_m:.0f} m" for r in bad.itertuples())
        for r in bad.itertuples():  # on the console too, not only in the report's CSV cell
            validate.warn(
                f"lies {r.distance_m:.0f} m from the OSM element it cites ({r.osm_element}); "
                "is its crs right (GCJ-02 read as WGS-84 is ~500 m off)?",
                path=gazetteer.attrs.get("path", "gazetteer"),
                record=f"id {r.id}",
            )
    return text
