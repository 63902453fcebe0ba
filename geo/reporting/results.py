"""The results read model: ``out/`` read once into one :class:`Results` object.

The dashboard and every export (:mod:`geo.reporting.maps`, :mod:`~geo.reporting.html`,
:mod:`~geo.reporting.xlsx`) share it. Missing files become empty tables plus a visible note,
never an exception. Nothing here recomputes the pipeline: which facilities count in a scenario
is the pipeline's own rule (:func:`geo.io.tables.scenario_mask`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo import settings
from geo._errors import LifeCircleError
from geo.demand.neighbourhoods import assign_neighbourhood
from geo.facilities.taxonomy import load_taxonomy
from geo.io.areas import load_registry, network_sources
from geo.io.geom import clip_polygon, project_geom
from geo.io.osm import read_many
from geo.io.tables import COMPOSITE, PROFILES, SCENARIOS, TIERS, access_path, scenario_mask
from geo.network.estimate import FALLBACK_DETOUR, read_calibration
from geo.network.network import build_area_network
from geo.planning.data_status import DATA_STATUS_LABELS

if TYPE_CHECKING:
    from geo.io.areas import Registry

_T = TypeVar("_T")

__all__ = ["COMPOSITE", "PROFILES", "SCENARIOS", "TIERS"]

#: Licence credit every map and table must carry (ODbL).
OSM_CREDIT: str = "© OpenStreetMap contributors"

SCENARIO_LABELS: dict[str, tuple[str, str]] = {
    "baseline": ("现状", "baseline"),
    "plan": ("规划", "plan"),
    "plan+recommended": ("规划+推荐选址", "plan + recommended"),
}
PROFILE_LABELS: dict[str, tuple[str, str]] = {
    "default": ("一般步速", "default pace"),
    "elderly": ("老年步速", "elderly pace"),
}
BASIS_LABELS: dict[str, tuple[str, str]] = {
    "network": ("路网计算", "network"),
    "estimate": ("路网数据不完整，估算", "estimate (incomplete network)"),
    "none": ("无路网数据", "no network data"),
}

#: Facility display classes: (key, label_zh, label_en, colour, matplotlib marker).
FACILITY_CLASSES: tuple[tuple[str, str, str, str, str], ...] = (
    ("osm", "现状(OSM)", "existing (OSM)", "#1f77b4", "o"),
    ("gazetteer", "现状(核对)", "existing (gazetteer)", "#17becf", "D"),
    ("plan_existing", "规划-现有", "plan: existing", "#2ca02c", "s"),
    ("plan_new", "规划-新增", "plan: new", "#ff7f0e", "^"),
    ("recommended", "推荐选址", "recommended site", "#9467bd", "*"),
)

_SHARE_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#d9ef8b", "#91cf60", "#1a9850")
_SHARE_BREAKS = (0.2, 0.4, 0.6, 0.8, 0.95)
_NO_DATA_COLOUR = "#bdbdbd"
_UNIT_COLUMNS = ("unit", "unit_id", "neighbourhood", "neighbourhood_id", "cell_id", "id")


# -------------------------------------------------------------------------------------------
# categories
# -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Category:
    """A facility category as the results show it (labels bilingual, Chinese first)."""

    key: str
    label_zh: str
    label_en: str
    tier: int | None = None
    threshold_m: float | None = None
    threshold_source: str = ""

    def label(self, lang: str = "zh") -> str:
        """Return the label in ``lang`` ("zh" or "en")."""
        return self.label_zh if lang == "zh" else self.label_en

    @property
    def bilingual(self) -> str:
        """``"中文 English"``."""
        return f"{self.label_zh} {self.label_en}" if self.label_en else self.label_zh


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def categories_from_taxonomy(taxonomy: Any) -> dict[str, Category]:
    """Adapt a taxonomy (object, mapping or list of category records) to ``{key: Category}``.

    Parameters
    ----------
    taxonomy
        What ``geo.taxonomy.load_taxonomy()`` returns, a mapping ``{key: record}``, or an
        iterable of records; each record has ``key, label_zh, label_en`` and optionally
        ``tier, threshold_m`` (attributes or mapping keys).

    Returns
    -------
    dict
        ``{key: Category}`` in the taxonomy's order.
    """
    items: Any = _get(taxonomy, "categories", taxonomy)
    if callable(items):
        items = items()
    if isinstance(items, Mapping):
        records = [(k, v) for k, v in items.items()]
    else:
        records = [(_get(v, "key"), v) for v in items]
    out: dict[str, Category] = {}
    for key, rec in records:
        key = str(_get(rec, "key", key))
        tier = _get(rec, "tier")
        thr = _get(rec, "threshold_m")
        out[key] = Category(
            key=key,
            label_zh=str(_get(rec, "label_zh", key) or key),
            label_en=str(_get(rec, "label_en", "") or ""),
            tier=int(tier) if isinstance(tier, int | float) and not math.isnan(tier) else None,
            threshold_m=float(thr) if isinstance(thr, int | float) else None,
            threshold_source=str(_get(rec, "threshold_source", "") or ""),
        )
    return out


def _load_taxonomy_categories() -> tuple[dict[str, Category], str | None]:
    try:
        return categories_from_taxonomy(load_taxonomy()), None
    except Exception as exc:  # a broken taxonomy must not take the dashboard down
        return {}, f"taxonomy not loaded ({exc}); category labels taken from the results"


# -------------------------------------------------------------------------------------------
# results
# -------------------------------------------------------------------------------------------
@dataclass
class AreaInfo:
    """What the results know about one study area."""

    id: str
    name_zh: str
    name_en: str
    data_date: str | None = None
    completeness: float | None = None
    basis: str = "none"
    note: str = ""
    boundary: Any = None  # shapely geometry, WGS-84

    def label(self, lang: str = "zh") -> str:
        """Return the area's name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    @property
    def bilingual(self) -> str:
        """``"中文 English"``."""
        return f"{self.name_zh} {self.name_en}"


@dataclass(frozen=True)
class AreaIndex:
    """An area's ``coverage.csv`` facts: basis, thresholds and data status.

    Thresholds ``{(category, tier, profile): m}``; data status
    ``{(category, scenario, profile): (status, sources searched)}``.
    """

    basis: str
    thresholds: dict[tuple[str, int, str], float]
    status: dict[tuple[str, str, str], tuple[str, str]]


@dataclass(frozen=True)
class StreetLabel:
    """A street name and where to write it (projected ``x, y``, WGS-84 ``lon, lat``)."""

    name: str
    x: float
    y: float
    lon: float
    lat: float
    angle: float


#: Prefixes of generated cell names (not a place name): the cell id is shown instead.
_GENERIC_NAMES: tuple[str, ...] = ("六边形", "hexagon", "网格", "grid")

_TO_WGS = Transformer.from_crs(settings.PROJECTED_CRS, settings.STORAGE_CRS, always_xy=True)


@dataclass
class Results:
    """Everything under ``out/`` the dashboard and exports show, read once.

    Missing or unreadable files become empty tables plus a line in ``missing`` (shown to the
    user), never an exception. Geometry is WGS-84; neighbourhood ids are in column ``unit``.
    """

    out_dir: Path
    areas: dict[str, AreaInfo]
    categories: dict[str, Category]
    coverage: pd.DataFrame
    neighbourhoods: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    gaps: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    reconciliation: pd.DataFrame
    mentions: pd.DataFrame
    deltas: pd.DataFrame
    status: dict[str, dict[str, Any]]
    missing: list[str] = field(default_factory=list)
    registry: Registry | None = None
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- validation ---------------------------------------------------------------------
    def area(self, area_id: str) -> AreaInfo:
        """Return the area, or a LifeCircleError naming the known ids."""
        if area_id not in self.areas:
            known = ", ".join(self.areas) or "(none: run `lifecircle run` first)"
            raise LifeCircleError(
                f"unknown area '{area_id}'; known areas: {known}", path=self.out_dir
            )
        return self.areas[area_id]

    def category(self, key: str) -> Category:
        """Return the category (``composite`` included), or a LifeCircleError naming known keys."""
        if key == COMPOSITE:
            return Category(COMPOSITE, "综合生活圈得分", "composite life-circle score")
        if key not in self.categories:
            known = ", ".join(self.categories) or "(none)"
            raise LifeCircleError(
                f"unknown category '{key}'; known categories: {known}", path=self.out_dir
            )
        return self.categories[key]

    def category_keys(self, with_composite: bool = True) -> list[str]:
        """Category keys present in the results (plus ``composite`` when it has rows)."""
        keys = list(self.categories)
        if (
            with_composite
            and not self.coverage.empty
            and (self.coverage["category"] == COMPOSITE).any()
        ):
            keys.append(COMPOSITE)
        return keys

    # -- lazily loaded per-area tables --------------------------------------------------
    def _cached(self, kind: str, area: str, loader: Callable[[], _T]) -> _T:
        key = (kind, area)
        with self._lock:
            if key in self._cache:
                hit: _T = self._cache[key]
                return hit
        value = loader()
        with self._lock:
            self._cache.setdefault(key, value)
            stored: _T = self._cache[key]
            return stored

    def demand(self, area: str) -> gpd.GeoDataFrame:
        """Demand units of an area (``out/demand/<area>.gpkg``), WGS-84; empty when missing."""
        self.area(area)
        return self._cached(
            "demand",
            area,
            lambda: _read_frame(
                self.out_dir / "demand" / f"{area}.gpkg", self.missing, layer="demand", geo=True
            ),
        )

    def area_index(self, area: str) -> AreaIndex:
        """Return the area's ``coverage.csv`` facts as dictionaries (callbacks look them up)."""
        info = self.area(area)

        def load() -> AreaIndex:
            cov = self.coverage[self.coverage["area"] == area]
            basis = _basis_of(cov, area) if len(cov) else info.basis
            thresholds: dict[tuple[str, int, str], float] = {}
            if "threshold_m" in cov:
                thr = cov.dropna(subset=["threshold_m"]).drop_duplicates(
                    ["category", "tier", "profile"]
                )
                for c, tr, p, v in zip(
                    thr["category"], thr["tier"], thr["profile"], thr["threshold_m"], strict=True
                ):
                    thresholds[(str(c), int(tr), str(p))] = float(v)
            status: dict[tuple[str, str, str], tuple[str, str]] = {}
            if "data_status" in cov:
                rows = cov[cov["unit"] == "ALL"].drop_duplicates(
                    ["category", "scenario", "profile"]
                )
                searched = (
                    rows["sources_searched"]
                    if "sources_searched" in rows
                    else pd.Series("", index=rows.index)
                )
                for c, s, p, st, se in zip(
                    rows["category"], rows["scenario"], rows["profile"], rows["data_status"],
                    searched, strict=True,
                ):  # fmt: skip
                    status[(str(c), str(s), str(p))] = (
                        st if isinstance(st, str) and st else "ok",
                        se if isinstance(se, str) else "",
                    )
            return AreaIndex(basis, thresholds, status)

        return self._cached("index", area, load)

    def coverage_basis(self, area: str) -> str:
        """Return the basis of the area's coverage figures (``network | estimate | none``).

        The one basis its distances, shares and gaps are shown on.
        """
        return self.area_index(area).basis

    def access(self, area: str, scenario: str = "baseline") -> pd.DataFrame:
        """Return the per-unit access table of a scenario on the area's coverage basis.

        The table the coverage figures were computed from (see
        :func:`geo.planning.coverage.access_path`); empty when missing.
        """
        self.area(area)
        check_choice(scenario, SCENARIOS, "scenario")

        def load() -> pd.DataFrame:
            empty = pd.DataFrame({"unit_id": pd.Series(dtype=str), "category": [], "nearest_m": []})
            basis = self.coverage_basis(area)
            if basis == "none":
                return empty
            path = access_path(self.out_dir, area, basis, scenario)
            if not path.exists():
                self.missing.append(f"{path.name} ({scenario}): not found (run `lifecircle run`)")
                return empty
            try:
                df = pd.read_parquet(path)
            except Exception as exc:
                self.missing.append(f"{path}: unreadable ({exc})")
                return empty
            df["unit_id"] = df["unit_id"].astype(str)
            return df

        return self._cached(f"access:{scenario}", area, load)

    def nearest(self, area: str, category: str, scenario: str = "baseline") -> np.ndarray | None:
        """Return walking distance (m) to the nearest facility per demand unit.

        In the order of :meth:`demand` (``inf`` where the access table has no figure or no
        facility within its search bound); None when the results have no access table for it.
        """
        return self._cached(
            f"nearest:{scenario}:{category}",
            area,
            lambda: self._nearest(area, category, scenario),
        )

    def _nearest(self, area: str, category: str, scenario: str) -> np.ndarray | None:
        dem = self.demand(area)
        acc = self.access(area, scenario)
        acc = acc[acc["category"] == category]
        if acc.empty:
            return None
        by_unit = pd.Series(
            pd.to_numeric(acc["nearest_m"], errors="coerce").to_numpy(float),
            index=acc["unit_id"].to_numpy(),
        )
        by_unit = by_unit[~by_unit.index.duplicated()]
        ids = dem["unit_id"].astype(str) if "unit_id" in dem else pd.Series([], dtype=str)
        out = ids.map(by_unit).to_numpy(float)
        return np.where(np.isfinite(out), out, np.inf)

    def threshold(self, area: str, category: str, tier: int, profile: str) -> float:
        """Return walking threshold (m) of a view, as ``coverage.csv`` states it.

        The category's standard distance at its own tier, else tier x walking speed.
        """
        thr = self.area_index(area).thresholds.get((category, int(tier), profile))
        if thr is not None:
            return thr
        return float(round(int(tier) * settings.WALK_SPEEDS_KMH[profile] * 1000.0 / 60.0))

    def network(self, area: str) -> Any:
        """Return the area's walking network from the cache (``geo.network``), or None."""
        self.area(area)

        def load() -> Any:
            if self.registry is None:
                return None
            try:
                return build_area_network(
                    self.registry, area, cache_dir=self.out_dir / "cache" / "network"
                )
            except LifeCircleError as exc:
                self.missing.append(f"network for {area}: {exc}")
                return None

        return self._cached("network", area, load)

    def streets(self, area: str) -> gpd.GeoDataFrame:
        """Street segments clipped to the area's boundary buffered by 150 m (WGS-84)."""

        def load() -> gpd.GeoDataFrame:
            net = self.network(area)
            if net is None or net.edges.empty:
                return gpd.GeoDataFrame({"highway": []}, geometry=[], crs=settings.STORAGE_CRS)
            edges = net.edges[["highway", "name", "geometry"]]
            boundary = self.areas[area].boundary
            if boundary is not None:
                keep = shapely.intersects(edges.geometry.values, clip_polygon(boundary, 150.0))
                edges = edges[keep]
            return gpd.GeoDataFrame(edges, geometry="geometry", crs=settings.STORAGE_CRS)

        return self._cached("streets", area, load)

    def street_lines(self, area: str) -> list[np.ndarray]:
        """Return the area's streets as merged projected polylines (``(n, 2)`` metre arrays).

        For drawing: a few hundred lines instead of thousands of edges.
        """

        def load() -> list[np.ndarray]:
            st = self.streets(area)
            if st.empty:
                return []
            merged = shapely.line_merge(shapely.union_all(project_geom(st.geometry.values)))
            return [shapely.get_coordinates(g) for g in shapely.get_parts(merged)]

        return self._cached("street_lines", area, load)

    def _named_streets(self, area: str) -> tuple[Any, np.ndarray]:
        """STRtree of the area's named street segments (projected) and their names."""

        def load() -> tuple[Any, np.ndarray]:
            st = self.streets(area)
            if st.empty or "name" not in st:
                return None, np.zeros(0, object)
            names = st["name"].astype(str).str.strip()
            named = st[st["name"].notna() & ~names.isin(["", "nan", "None"])]
            if named.empty:
                return None, np.zeros(0, object)
            geoms = project_geom(named.geometry.values)
            return shapely.STRtree(geoms), named["name"].astype(str).to_numpy(object)

        return self._cached("named_streets", area, load)

    def nearest_street(self, area: str, x: float, y: float, max_m: float = 250.0) -> str:
        """Return the name of the named street nearest to projected ``(x, y)`` within ``max_m``.

        From the walking network's ``name`` tags; ``""`` when there is none.
        """
        tree, names = self._named_streets(area)
        if tree is None:
            return ""
        idx = tree.query_nearest(shapely.points([x], [y]), max_distance=max_m, all_matches=False)
        if len(idx[1]) == 0:
            return ""
        return str(names[int(idx[1][0])])

    def street_labels(self, area: str, max_labels: int = 14) -> list[StreetLabel]:
        """Return where to write street names (projected metres, angle in degrees).

        The longest named streets (network ``name`` tags) inside the area, one label each at
        the middle of their longest piece, at least 180 m apart; angles readable (-90..90).
        """

        def load() -> list[StreetLabel]:
            streets = self.streets(area)
            if streets.empty or "name" not in streets:
                return []
            names = streets["name"].astype(str).str.strip()
            named = streets[streets["name"].notna() & ~names.isin(["", "nan", "None"])]
            if named.empty:
                return []
            proj = named.to_crs(settings.PROJECTED_CRS).dissolve(by="name")
            proj["len"] = proj.geometry.length
            boundary = self.projected_boundary(area)
            out: list[StreetLabel] = []
            for name, row in proj.sort_values("len", ascending=False).iterrows():
                if row["len"] < 150:
                    break
                parts = list(getattr(row.geometry, "geoms", [row.geometry]))
                part = max(parts, key=lambda g: g.length)
                mid = part.interpolate(0.5, normalized=True)
                if boundary is not None and not boundary.contains(mid):
                    continue
                if any(np.hypot(mid.x - o.x, mid.y - o.y) < 180 for o in out):
                    continue
                at = part.project(mid)
                a0 = part.interpolate(max(0.0, at - 20))
                a1 = part.interpolate(min(part.length, at + 20))
                angle = float(np.degrees(np.arctan2(a1.y - a0.y, a1.x - a0.x)))
                angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
                lon, lat = _TO_WGS.transform(mid.x, mid.y)
                out.append(StreetLabel(str(name), mid.x, mid.y, float(lon), float(lat), angle))
            return out

        return self._cached("street_labels", area, load)[:max_labels]

    def neighbourhood_names(self, area: str) -> dict[str, str]:
        """Return ``{unit: name}``: a name people use for each neighbourhood cell, else its id.

        In order: the cell's own name in ``neighbourhoods.gpkg`` (user-drawn neighbourhoods);
        the named OSM residential compound (``landuse=residential``, ``place=neighbourhood``,
        e.g. 吉浦小区) that covers the largest part of the cell, when it covers at least
        :data:`MIN_NAME_COVER` of it; otherwise the id (e.g. ``xinhualu-h007``).
        """

        def load() -> dict[str, str]:
            hoods = self.neighbourhoods[self.neighbourhoods["area"] == area]
            names = hoods["name"] if "name" in hoods else pd.Series("", index=hoods.index)
            compounds = _compound_names(self, area, hoods) if len(hoods) else {}
            out = {}
            for unit, name in zip(hoods["unit"], names, strict=True):
                text = str(name or "").strip()
                generic = not text or text == "nan" or text.startswith(_GENERIC_NAMES)
                out[str(unit)] = compounds.get(str(unit), str(unit)) if generic else text
            return out

        return self._cached("names", area, load)

    def zone(self, area: str) -> Any:
        """Return the area's boundary buffered by ``settings.CLIP_BUFFER_M`` (projected, prepared).

        Facilities inside count for the area, as in the pipeline; None without a boundary.
        """
        info = self.area(area)

        def load() -> Any:
            if info.boundary is None:
                return None
            z = shapely.buffer(project_geom(info.boundary), settings.CLIP_BUFFER_M)
            shapely.prepare(z)
            return z

        return self._cached("zone", area, load)

    def projected_boundary(self, area: str) -> Any:
        """Return the area's boundary in the projected CRS (metres), prepared; None without one."""
        info = self.area(area)

        def load() -> Any:
            if info.boundary is None:
                return None
            geom = project_geom(info.boundary)
            shapely.prepare(geom)
            return geom

        return self._cached("projected_boundary", area, load)

    def detour_factor(self) -> float:
        """Return the detour factor of the estimate basis.

        The ``lifecircle coverage`` calibration, else ``geo.network.estimate.FALLBACK_DETOUR``.
        """
        try:
            cal = read_calibration(self.out_dir)
        except LifeCircleError as exc:
            self.missing.append(f"detour calibration: {exc}")
            cal = None
        return float(cal.factor) if cal is not None else float(FALLBACK_DETOUR)

    def neighbourhood_of(self, area: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Return the neighbourhood id (``unit``) of each projected point of ``area``.

        Points on no cell get the nearest cell.
        """
        hoods = self.neighbourhoods[self.neighbourhoods["area"] == area]
        return assign_neighbourhood(x, y, hoods.rename(columns={"unit": "neighbourhood"}))

    def data_date(self, area: str) -> str:
        """Return data date of the area's OSM inputs, as the registry or network status gives it."""
        info = self.area(area)
        if info.data_date:
            return str(info.data_date)
        stamps = self.status.get(area, {}).get("data_timestamps") or []
        return str(max(stamps))[:10] if stamps else "unknown 未知"


#: Share of a cell a named residential compound must cover to name the cell.
MIN_NAME_COVER: float = 0.10
#: OSM tags of named residential places (compounds, 居委 neighbourhoods).
_PLACE_TAGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("landuse", ("residential",)),
    ("place", ("neighbourhood", "quarter")),
    ("residential", ()),  # any value
)


def _compound_names(results: Results, area: str, hoods: gpd.GeoDataFrame) -> dict[str, str]:
    """Return ``{unit: name}`` of the named OSM residential compound covering most of each cell."""
    reg = results.registry
    if reg is None:
        return {}
    try:
        info = reg.get(area)
        paths = network_sources(reg, info) + [reg.resolve(f) for f in info.features]
        data = read_many(paths, keys=tuple(k for k, _ in _PLACE_TAGS)) if paths else None
    except (LifeCircleError, OSError) as exc:
        results.missing.append(f"neighbourhood names for {area}: {exc}")
        return {}
    if data is None:
        return {}
    polys: list[Any] = []
    labels: list[str] = []
    for w in data.ways:
        name = str(w.tags.get("name") or "").strip()
        if not name or not w.closed:
            continue
        if not any(k in w.tags and (not v or w.tags[k] in v) for k, v in _PLACE_TAGS):
            continue
        poly = shapely.make_valid(shapely.Polygon(w.coords))
        if not poly.is_empty and poly.area > 0:
            polys.append(poly)
            labels.append(name)
    if not polys:
        return {}
    named = gpd.GeoDataFrame({"name": labels}, geometry=polys, crs=settings.STORAGE_CRS)
    named = named.to_crs(settings.PROJECTED_CRS).dissolve(by="name").reset_index()
    cells = hoods.to_crs(settings.PROJECTED_CRS)
    tree = shapely.STRtree(named.geometry.values)
    out: dict[str, str] = {}
    for unit, cell in zip(cells["unit"], cells.geometry.values, strict=True):
        hits = tree.query(cell, predicate="intersects")
        if not len(hits):
            continue
        cover = shapely.area(shapely.intersection(named.geometry.values[hits], cell))
        best = int(np.argmax(cover))
        if cover[best] >= MIN_NAME_COVER * shapely.area(cell):
            out[str(unit)] = str(named["name"].iloc[hits[best]])
    return out


def read_registry(
    areas_file: str | Path | None = None, data_dir: str | Path | None = None
) -> Registry:
    """Return the study-area registry (default ``data/osm/areas.yaml``).

    See :func:`geo.io.areas.load_registry`.
    """
    if areas_file is None:
        return load_registry(data_dir=data_dir)
    return load_registry(areas_file, data_dir=data_dir)


def _read_frame(
    path: Path, missing: list[str], *, layer: str | None = None, geo: bool = False
) -> Any:
    """Read a CSV/GPKG, or return an empty frame and note why."""
    if not path.exists():
        missing.append(f"{path.name}: not found (run `lifecircle run`)")
        return gpd.GeoDataFrame(geometry=[], crs=settings.STORAGE_CRS) if geo else pd.DataFrame()
    try:
        if geo:
            try:
                gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
            except Exception:
                if layer is None:
                    raise
                gdf = gpd.read_file(path)  # a single unnamed layer
            if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
                gdf = gdf.to_crs(settings.STORAGE_CRS)
            elif gdf.crs is None:
                gdf = gdf.set_crs(settings.STORAGE_CRS)
            return gdf
        return pd.read_csv(path, dtype={"unit": str, "unit_id": str})
    except Exception as exc:
        missing.append(f"{path.name}: unreadable ({exc})".replace("\n", " "))
        return gpd.GeoDataFrame(geometry=[], crs=settings.STORAGE_CRS) if geo else pd.DataFrame()


def _unit_column(frame: pd.DataFrame) -> str | None:
    return next((c for c in _UNIT_COLUMNS if c in frame.columns), None)


def _normalise_coverage(cov: pd.DataFrame) -> pd.DataFrame:
    if cov.empty:
        return pd.DataFrame(
            columns=[
                "area",
                "unit",
                "category",
                "tier",
                "threshold_m",
                "population",
                "covered_population",
                "share",
                "basis",
                "profile",
                "scenario",
            ]
        )
    cov = cov.copy()
    cov["unit"] = cov["unit"].astype(str)
    cov["area"] = cov["area"].astype(str)
    cov["category"] = cov["category"].astype(str)
    # tier 0 = "each category at its own standard tier" (composite rows with an empty tier)
    cov["tier"] = pd.to_numeric(cov["tier"], errors="coerce").fillna(0).astype(int)
    if "scenario" not in cov:
        cov["scenario"] = "baseline"
    if "profile" not in cov:
        cov["profile"] = "default"
    if "basis" not in cov:
        cov["basis"] = "network"
    for col in ("population", "covered_population", "share", "threshold_m"):
        if col in cov:
            cov[col] = pd.to_numeric(cov[col], errors="coerce")
    return cov


def load_results(
    out_dir: str | Path,
    *,
    registry: Any = None,  # a Registry; None: the default one
    taxonomy: Any = None,
    areas: Iterable[str] | None = None,
) -> Results:
    """Read every result table under ``out_dir`` once.

    Parameters
    ----------
    out_dir
        The results folder (``lifecircle --out``; default ``out/``).
    registry
        A ``geo.areas.Registry`` for area names, boundaries, data dates and the cached
        walking networks. ``None`` tries ``geo.areas.load_registry()`` and otherwise works
        without (boundaries then come from the neighbourhood cells; no streets).
    taxonomy
        Category records (see :func:`categories_from_taxonomy`); ``None`` loads the project's.
    areas
        Only these area ids (default: every area in the results).

    Returns
    -------
    Results
        Tables with neighbourhood ids in column ``unit``; missing files listed in ``missing``.
    """
    out = Path(out_dir)
    only = set(areas) if areas else None
    missing: list[str] = []
    if not out.is_dir():
        missing.append(f"{out}: results folder not found (run `lifecircle run`)")
    if registry is None:
        try:
            registry = load_registry()
        except LifeCircleError as exc:
            missing.append(f"registry not loaded: {exc}")

    status_rows: list[dict[str, Any]] = []
    status_path = out / "network_status.json"
    if status_path.exists():
        try:
            status_rows = list(json.loads(status_path.read_text(encoding="utf-8")))
        except Exception as exc:
            missing.append(f"network_status.json: unreadable ({exc})")
    else:
        missing.append("network_status.json: not found (run `lifecircle run`)")
    status = {str(r["area"]): r for r in status_rows if isinstance(r, dict) and "area" in r}

    coverage = _normalise_coverage(_read_frame(out / "coverage.csv", missing))
    hoods = _read_frame(out / "neighbourhoods.gpkg", missing, geo=True)
    ucol = _unit_column(hoods)
    if ucol is not None:
        hoods = hoods.rename(columns={ucol: "unit"})
        hoods["unit"] = hoods["unit"].astype(str)
        hoods["area"] = hoods["area"].astype(str)
    elif not hoods.empty:
        missing.append(
            "neighbourhoods.gpkg: no neighbourhood id column "
            f"(expected one of {', '.join(_UNIT_COLUMNS)})"
        )
        hoods = gpd.GeoDataFrame({"unit": [], "area": []}, geometry=[], crs=settings.STORAGE_CRS)
    if hoods.empty:
        hoods = gpd.GeoDataFrame(
            {"unit": pd.Series(dtype=str), "area": pd.Series(dtype=str)},
            geometry=[],
            crs=settings.STORAGE_CRS,
        )
    facilities = _read_frame(out / "facilities.gpkg", missing, layer="facilities", geo=True)
    if not facilities.empty:
        facilities = facilities[facilities.geometry.notna() & ~facilities.geometry.is_empty]
        facilities = facilities.assign(
            area=facilities["area"].astype(str), category=facilities["category"].astype(str)
        )
    gaps = _read_frame(out / "gaps.gpkg", missing, geo=True)
    sites = _read_frame(out / "sites.gpkg", missing, geo=True)
    recon = _read_frame(out / "inventory_reconciliation.csv", missing)
    mentions = _read_frame(out / "plan_mentions.csv", missing)
    deltas = _read_frame(out / "scenario_deltas.csv", missing)

    if taxonomy is not None:
        categories, note = categories_from_taxonomy(taxonomy), None
    else:
        categories, note = _load_taxonomy_categories()
    if note:
        missing.append(note)
    present = [c for c in coverage["category"].drop_duplicates() if c != COMPOSITE]
    labels: dict[str, tuple[str, str]] = {}
    if {"category_zh", "category_en"} <= set(coverage.columns):
        for row in coverage.drop_duplicates("category").itertuples():
            labels[str(row.category)] = (str(row.category_zh), str(row.category_en))
    if not recon.empty and {"category", "label_zh"} <= set(recon.columns):
        for row in recon.drop_duplicates("category").itertuples():
            labels[str(row.category)] = (str(row.label_zh), str(getattr(row, "label_en", "")))
    if present:  # keep the taxonomy order, restricted to categories with results
        ordered = [k for k in categories if k in present] + [
            k for k in present if k not in categories
        ]
        categories = {k: categories.get(k) or Category(k, *labels.get(k, (k, k))) for k in ordered}
    area_ids: list[str] = []
    for source in (list(status), coverage["area"].tolist(), hoods["area"].tolist()):
        for a in source:
            if a not in area_ids and (only is None or a in only):
                area_ids.append(a)
    infos: dict[str, AreaInfo] = {}
    for aid in area_ids:
        srow: dict[str, Any] = status.get(aid, {})
        reg_area = None
        if registry is not None:
            try:
                reg_area = registry.get(aid)
            except LifeCircleError:
                reg_area = None
        boundary = None
        if reg_area is not None:
            try:
                boundary = registry.boundary(reg_area)
            except LifeCircleError as exc:
                missing.append(f"boundary of {aid}: {exc}")
        cells = hoods[hoods["area"] == aid]
        if boundary is None and not cells.empty:
            boundary = shapely.union_all(cells.geometry.values)
        comp = srow.get("completeness")
        if comp is None and "completeness" in coverage:  # no network_status.json
            vals = coverage.loc[coverage["area"] == aid, "completeness"].dropna()
            comp = float(vals.iloc[0]) if len(vals) else None
        infos[aid] = AreaInfo(
            id=aid,
            name_zh=str(srow.get("name_zh") or (reg_area.name_zh if reg_area else aid)),
            name_en=str(srow.get("name_en") or (reg_area.name_en if reg_area else aid)),
            data_date=(reg_area.data_date if reg_area is not None else None),
            completeness=float(comp) if comp is not None else None,
            basis=str(srow.get("basis") or _basis_of(coverage, aid)),
            note=str(srow.get("note") or ""),
            boundary=boundary,
        )
    return Results(
        out_dir=out,
        areas=infos,
        categories=categories,
        coverage=coverage,
        neighbourhoods=hoods,
        facilities=facilities,
        gaps=gaps,
        sites=sites,
        reconciliation=recon,
        mentions=mentions,
        deltas=deltas,
        status=status,
        missing=missing,
        registry=registry,
    )


def _basis_of(coverage: pd.DataFrame, area: str) -> str:
    rows = coverage[coverage["area"] == area]
    if rows.empty or "basis" not in rows:
        return "none"
    return str(rows["basis"].mode().iloc[0])


# -------------------------------------------------------------------------------------------
# queries shared by the dashboard and the exports
# -------------------------------------------------------------------------------------------
def check_choice(value: Any, allowed: Iterable[Any], what: str) -> None:
    """Raise a LifeCircleError unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise LifeCircleError(
            f"unknown {what} '{value}'; expected one of {', '.join(str(a) for a in allowed)}"
        )


def coverage_rows(
    results: Results,
    area: str,
    *,
    tier: int,
    scenario: str,
    profile: str,
    category: str | None = None,
) -> pd.DataFrame:
    """``coverage.csv`` rows for one area and setting (optionally one category).

    When the results hold no rows for the requested scenario or profile (an older run),
    the baseline / default rows are returned with column ``fallback`` set to True.
    """
    cov = results.coverage
    sel = cov[(cov["area"] == area) & (cov["tier"] == int(tier))]
    if category is not None:
        sel = sel[sel["category"] == category]
    exact = sel[(sel["scenario"] == scenario) & (sel["profile"] == profile)]
    if not exact.empty or sel.empty:
        return exact.assign(fallback=False)
    fb = sel[(sel["scenario"] == "baseline") & (sel["profile"] == "default")]
    return fb.assign(fallback=True)


def cell_shares(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
) -> pd.DataFrame:
    """Coverage per neighbourhood cell for one category and setting.

    Returns
    -------
    pandas.DataFrame
        ``unit, population, covered_population, share, basis, threshold_m`` for every cell
        of the area (share NaN where the results have no figure).
    """
    rows = coverage_rows(
        results, area, tier=tier, scenario=scenario, profile=profile, category=category
    )
    rows = rows[rows["unit"] != "ALL"]
    cells = results.neighbourhoods[results.neighbourhoods["area"] == area][["unit"]]
    cols = ["unit", "population", "covered_population", "share", "basis", "threshold_m"]
    for c in cols:
        if c not in rows:
            rows = rows.assign(**{c: np.nan})
    merged: pd.DataFrame = cells.merge(rows[cols].drop_duplicates("unit"), on="unit", how="left")
    return merged.reset_index(drop=True)


def data_status(
    results: Results,
    area: str,
    category: str,
    *,
    scenario: str = "baseline",
    profile: str = "default",
) -> tuple[str, str]:
    """``(data_status, sources_searched)`` of an area's category from ``coverage.csv``.

    ``ok`` when the results predate the column. Values and meanings:
    :data:`geo.planning.data_status.DATA_STATUS` (``no_facility_data``, ``not_placed`` are
    shown grey, without gaps).
    """
    if area not in results.areas:
        return "ok", ""
    return results.area_index(area).status.get((category, scenario, profile), ("ok", ""))


def data_status_label(status: str, lang: str | None = None) -> str:
    """Return the label of a ``data_status`` value.

    Bilingual (``无设施数据 / no facility data``, exports) or in one language (``lang`` ``zh``
    / ``en``, the dashboard).
    """
    zh, en = DATA_STATUS_LABELS.get(status, (status, status))
    if lang in ("zh", "en"):
        return zh if lang == "zh" else en
    return f"{zh} / {en}"


def area_summary(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
) -> dict[str, Any]:
    """Area-wide figure (unit ``ALL``) for one category: population, covered, share, basis."""
    rows = coverage_rows(
        results, area, tier=tier, scenario=scenario, profile=profile, category=category
    )
    allrow = rows[rows["unit"] == "ALL"]
    if allrow.empty and not rows.empty:
        pop = float(rows["population"].sum())
        cov = float(rows["covered_population"].sum())
        share = cov / pop if pop > 0 and rows["share"].notna().any() else float("nan")
        basis = str(rows["basis"].iloc[0])
        thr = float(rows["threshold_m"].iloc[0]) if "threshold_m" in rows else float("nan")
    elif allrow.empty:
        return {
            "population": float("nan"),
            "covered_population": float("nan"),
            "share": float("nan"),
            "basis": results.areas[area].basis,
            "threshold_m": float("nan"),
            "fallback": False,
        }
    else:
        r = allrow.iloc[0]
        pop, cov, share = float(r["population"]), float(r["covered_population"]), float(r["share"])
        basis = str(r["basis"])
        thr = float(r.get("threshold_m", float("nan")))
    status, searched = data_status(results, area, category, scenario=scenario, profile=profile)
    return {
        "population": pop,
        "covered_population": cov,
        "share": share,
        "basis": basis,
        "threshold_m": thr,
        "fallback": bool(rows["fallback"].any()) if len(rows) else False,
        "data_status": status,
        "sources_searched": searched,
    }


def facility_class(source: str, status: str) -> str:
    """Display class of a facility: osm | gazetteer | plan_existing | plan_new | recommended."""
    if source == "recommended":
        return "recommended"
    if source == "plan":
        return "plan_existing" if status == "existing" else "plan_new"
    if source == "gazetteer":
        return "gazetteer"
    return "osm"


def scenario_facilities(
    results: Results, area: str, category: str | None, scenario: str
) -> gpd.GeoDataFrame:
    """Facilities that count for one area (and category) in ``scenario``, with ``klass``.

    The pipeline's rule (:func:`geo.io.tables.scenario_mask`: counted rows with a
    usable position, by first scenario) applied to every facility within
    ``settings.CLIP_BUFFER_M`` of the area (residents near the edge use facilities across
    it), plus the area's recommended sites in ``plan+recommended``: the same facilities the
    coverage figures were computed with. Computed once per area, category and scenario
    (the result is shared: do not modify it).
    """
    check_choice(scenario, SCENARIOS, "scenario")
    results.area(area)
    return results._cached(
        f"facilities:{category}:{scenario}",
        area,
        lambda: _scenario_facilities(results, area, category, scenario),
    )


def _scenario_facilities(
    results: Results, area: str, category: str | None, scenario: str
) -> gpd.GeoDataFrame:
    fac = results.facilities
    if fac.empty:
        fac = gpd.GeoDataFrame(
            {"area": [], "category": [], "source": [], "status": []},
            geometry=[],
            crs=settings.STORAGE_CRS,
        )
    if category is not None and category != COMPOSITE:
        fac = fac[fac["category"] == category]
    sel = fac[scenario_mask(fac, scenario)] if len(fac) else fac
    zone = results.zone(area)
    if zone is not None and len(sel):
        pts = shapely.point_on_surface(project_geom(sel.geometry.values))
        sel = sel[shapely.contains(zone, pts)]
    elif len(sel):
        sel = sel[sel["area"] == area]
    sel = sel.assign(
        klass=[
            facility_class(str(s), str(t))
            for s, t in zip(sel["source"], sel["status"], strict=True)
        ]
    )
    if scenario == "plan+recommended" and not results.sites.empty:
        sites = results.sites[results.sites["area"].astype(str) == area]
        if category is not None and category != COMPOSITE:
            sites = sites[sites["category"].astype(str) == category]
        if not sites.empty:
            extra = gpd.GeoDataFrame(
                {
                    "facility_id": [
                        f"site-{area}-{c}-{int(r)}"
                        for c, r in zip(sites["category"], sites["rank"], strict=True)
                    ],
                    "area": area,
                    "name": "",
                    "category": sites["category"].astype(str).values,
                    "source": "recommended",
                    "status": "proposed",
                    "precision": "exact",
                    "klass": "recommended",
                    "gain_population": sites.get(
                        "gain_population", pd.Series(np.nan, index=sites.index)
                    ).values,
                },
                geometry=sites.geometry.values,
                crs=settings.STORAGE_CRS,
            )
            sel = pd.concat([sel, extra], ignore_index=True)
    if "facility_id" in sel.columns:
        sel = sel.drop_duplicates("facility_id")
    return gpd.GeoDataFrame(sel, geometry="geometry", crs=settings.STORAGE_CRS)


def area_gaps(
    results: Results, area: str, category: str, scenario: str = "baseline"
) -> gpd.GeoDataFrame:
    """Gap polygons of one area and category (scenario-filtered when the table has one)."""
    gaps = results.gaps
    if gaps.empty or "area" not in gaps:
        return gpd.GeoDataFrame(
            {"population": [], "rank": []}, geometry=[], crs=settings.STORAGE_CRS
        )
    sel = gaps[(gaps["area"].astype(str) == area) & (gaps["category"].astype(str) == category)]
    if "scenario" in sel and (sel["scenario"] == scenario).any():
        sel = sel[sel["scenario"] == scenario]
    elif "scenario" in sel:
        sel = sel[sel["scenario"] == "baseline"]
    if "rank" in sel:
        sel = sel.sort_values("rank")
    return sel


def share_colour(share: float | None) -> str:
    """Fill colour for a share covered (0-1); grey for no figure."""
    if share is None or not np.isfinite(share):
        return _NO_DATA_COLOUR
    i = int(np.searchsorted(np.asarray(_SHARE_BREAKS), share, side="right"))
    return _SHARE_COLOURS[i]


def share_legend() -> list[tuple[str, str]]:
    """Legend entries ``(colour, label)`` for the share classes, low to high."""
    edges = (0.0, *_SHARE_BREAKS, 1.0)
    return [(c, f"{edges[i]:.0%}–{edges[i + 1]:.0%}") for i, c in enumerate(_SHARE_COLOURS)]


def neighbourhood_table(
    results: Results,
    area: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
) -> pd.DataFrame:
    """Return the neighbourhood figures of an area (every category) for one setting.

    Returns
    -------
    pandas.DataFrame
        ``area, unit, category, label_zh, label_en, tier, threshold_m, population,
        covered_population, uncovered_population, share, basis, scenario, profile``.
    """
    rows = coverage_rows(results, area, tier=tier, scenario=scenario, profile=profile)
    rows = rows.copy()
    rows["label_zh"] = [
        results.category(c).label_zh if c in results.categories or c == COMPOSITE else c
        for c in rows["category"]
    ]
    rows["label_en"] = [
        results.category(c).label_en if c in results.categories or c == COMPOSITE else c
        for c in rows["category"]
    ]
    rows["uncovered_population"] = rows["population"] - rows["covered_population"]
    cols = [
        "area",
        "unit",
        "category",
        "label_zh",
        "label_en",
        "tier",
        "threshold_m",
        "population",
        "covered_population",
        "uncovered_population",
        "share",
        "basis",
        "scenario",
        "profile",
    ]
    for c in cols:
        if c not in rows:
            rows[c] = np.nan
    order = {k: i for i, k in enumerate(results.category_keys())}
    rows["_o"] = rows["category"].map(order).fillna(len(order))
    rows["_u"] = rows["unit"] == "ALL"
    return rows.sort_values(["_u", "unit", "_o"])[cols].reset_index(drop=True)


def titles(
    results: Results, area: str, category: str, tier: int, scenario: str, profile: str
) -> tuple[str, str]:
    a = results.areas[area]
    c = results.category(category)
    s_zh, s_en = SCENARIO_LABELS[scenario]
    p_zh, p_en = PROFILE_LABELS[profile]
    zh = f"{a.name_zh} · {c.label_zh} · {tier}分钟步行覆盖率（{s_zh}，{p_zh}）"
    en = (
        f"{a.name_en} — {c.label_en or c.key}: share of residents within a {tier}-minute "
        f"walk ({s_en}, {p_en})"
    )
    return zh, en


def footer_line(results: Results, area: str, profile: str, basis: str, sep: str = "   ·   ") -> str:
    a = results.areas[area]
    speed = settings.WALK_SPEEDS_KMH[profile]
    comp = f" {a.completeness:.0%}" if a.completeness is not None else ""
    b_zh, b_en = BASIS_LABELS.get(basis, (basis, basis))
    now = _dt.date.today().isoformat()
    return (
        f"数据日期 Data date: {results.data_date(area)}{sep}步行速度 Walking speed: "
        f"{speed:g} km/h ({PROFILE_LABELS[profile][0]} {profile}){sep}依据 Basis: "
        f"{b_zh} {b_en}{comp}{sep}生成 Made {now} (lifecircle){sep}{OSM_CREDIT}"
    )
