"""The dashboard's data: ``out/`` read once at start, with per-area arrays ready for callbacks.

Nothing here reruns the pipeline. Callbacks only look things up in memory (and the what-if
panel asks the access engine for an incremental update, see :mod:`dashboard.whatif`).
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.reporting.results import (
    COMPOSITE,
    PROFILES,
    SCENARIOS,
    TIERS,
    Results,
    load_results,
    scenario_facilities,
)

_T = TypeVar("_T")


class Busy:
    """Count of requests in progress (the background warm-up waits while any is)."""

    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Count a request that starts."""
        with self._lock:
            self._n += 1

    def release(self) -> None:
        """Count a request that ends."""
        with self._lock:
            self._n = max(0, self._n - 1)

    @property
    def active(self) -> bool:
        """Whether a request is being handled."""
        return self._n > 0


@dataclass(frozen=True)
class CovRec:
    """One ``coverage.csv`` figure: population, covered population, share, basis, threshold."""

    population: float
    covered: float
    share: float
    basis: str
    threshold_m: float


CoverageIndex = dict[tuple[str, int, str, str], dict[str, dict[str, CovRec]]]


def _index_coverage(cov: pd.DataFrame) -> CoverageIndex:
    """``{(area, tier, scenario, profile): {category: {unit: CovRec}}}`` for O(1) lookups."""
    index: CoverageIndex = {}
    if cov.empty:
        return index
    cols = [
        "area",
        "tier",
        "scenario",
        "profile",
        "category",
        "unit",
        "population",
        "covered_population",
        "share",
        "basis",
        "threshold_m",
    ]
    frame = cov.reindex(columns=cols)
    row: Any
    for row in frame.itertuples(index=False):
        key = (str(row.area), int(row.tier), str(row.scenario), str(row.profile))
        cats = index.setdefault(key, {})
        cats.setdefault(str(row.category), {})[str(row.unit)] = CovRec(
            _f(row.population),
            _f(row.covered_population),
            _f(row.share),
            str(row.basis) if isinstance(row.basis, str) else "none",
            _f(row.threshold_m),
        )
    return index


def _f(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f


@dataclass
class AreaArrays:
    """Demand units of one area as arrays (projected metres), with their neighbourhood."""

    unit_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    population: np.ndarray
    cell_idx: np.ndarray  # index into ``cells`` (-1 = none)
    cells: list[str]


class DashboardData:
    """Results plus derived per-area structures (GeoJSON geometry, unit arrays, quartiles).

    Parameters
    ----------
    results
        From :func:`geo.export.load_results`.
    preload
        Build every area's structures (and street GeoJSON) now, so that no callback waits.
    memo_size
        Static layers kept serialised in memory (4 areas x 12 categories x every setting
        is about 2,200 layers, ~50 MB).
    """

    def __init__(self, results: Results, *, preload: bool = True, memo_size: int = 4096) -> None:
        self.results = results
        self.memo_size = memo_size
        self.busy = Busy()
        self._lock = threading.Lock()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lru: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._coverage = _index_coverage(results.coverage)
        if preload:
            for area in results.areas:
                self.cell_features(area)
                self.streets_json(area)
                self.area_arrays(area)
                self.nearest_quartiles(area)
                results.street_labels(area)  # the area callback then only looks them up
                results.neighbourhood_names(area)
            self.boundary_features()

    @classmethod
    def load(
        cls,
        out_dir: str | Path,
        *,
        registry: Any = None,
        taxonomy: Any = None,
        preload: bool = True,
        areas: Any = None,
    ) -> DashboardData:
        """Read ``out_dir`` (see :func:`geo.export.load_results`) and prepare the dashboard."""
        return cls(
            load_results(out_dir, registry=registry, taxonomy=taxonomy, areas=areas),
            preload=preload,
        )

    # -- validation (bad callback input becomes a LifeCircleError with a clear message) -----
    def check(
        self,
        area: Any,
        category: Any | None = None,
        tier: Any = 15,
        scenario: Any = "baseline",
        profile: Any = "default",
    ) -> tuple[str, str, int, str, str]:
        """Validate callback input; returns ``(area, category, tier, scenario, profile)``."""
        if not isinstance(area, str) or area not in self.results.areas:
            known = ", ".join(self.results.areas) or "(none)"
            raise LifeCircleError(f"unknown area '{area}'; known areas: {known}")
        cat = str(category) if category is not None else ""
        if category is not None and (
            not isinstance(category, str) or category not in self.results.category_keys()
        ):
            known = ", ".join(self.results.category_keys()) or "(none)"
            raise LifeCircleError(f"unknown category '{category}'; known categories: {known}")
        try:
            tier_i = int(tier)
        except (TypeError, ValueError):
            tier_i = -1
        if tier_i not in TIERS:
            raise LifeCircleError(f"unknown tier '{tier}'; expected one of 5, 10, 15")
        if scenario not in SCENARIOS:
            raise LifeCircleError(
                f"unknown scenario '{scenario}'; expected one of {', '.join(SCENARIOS)}"
            )
        if profile not in PROFILES:
            raise LifeCircleError(
                f"unknown walking profile '{profile}'; expected one of {', '.join(PROFILES)}"
            )
        return area, cat, tier_i, str(scenario), str(profile)

    # -- cached builders -----------------------------------------------------------------
    def _cached(self, key: tuple[Any, ...], build: Callable[[], _T]) -> _T:
        with self._lock:
            if key in self._cache:
                hit: _T = self._cache[key]
                return hit
        value = build()
        with self._lock:
            stored: _T = self._cache.setdefault(key, value)
            return stored

    def cell_features(self, area: str) -> list[dict[str, Any]]:
        """GeoJSON features (geometry + ``unit``, ``name``) of the area's neighbourhood cells."""

        def build() -> list[dict[str, Any]]:
            hoods = self.results.neighbourhoods
            sel = hoods[hoods["area"] == area]
            names = sel["name"].astype(str).tolist() if "name" in sel else [""] * len(sel)
            return [
                {
                    "type": "Feature",
                    "id": unit,
                    "geometry": _geojson_geom(geom),
                    "properties": {"unit": unit, "name": name},
                }
                for unit, name, geom in zip(sel["unit"], names, sel.geometry, strict=True)
            ]

        return self._cached(("cells", area), build)

    def boundary_features(self) -> list[dict[str, Any]]:
        """GeoJSON features of every area's boundary (``area``, ``basis``, ``completeness``)."""

        def build() -> list[dict[str, Any]]:
            feats = []
            for a in self.results.areas.values():
                if a.boundary is None:
                    continue
                feats.append(
                    {
                        "type": "Feature",
                        "id": a.id,
                        "geometry": _geojson_geom(a.boundary),
                        "properties": {
                            "area": a.id,
                            "basis": a.basis,
                            "completeness": a.completeness,
                            "name_zh": a.name_zh,
                            "name_en": a.name_en,
                        },
                    }
                )
            return feats

        return self._cached(("boundaries",), build)

    def bounds(self, area: str) -> list[list[float]]:
        """Leaflet bounds ``[[south, west], [north, east]]`` of an area."""
        info = self.results.areas[area]
        geom = info.boundary
        if geom is None:
            cells = self.results.neighbourhoods
            cells = cells[cells["area"] == area]
            if cells.empty:
                return [[31.1, 121.3], [31.4, 121.6]]
            minx, miny, maxx, maxy = cells.total_bounds
        else:
            minx, miny, maxx, maxy = geom.bounds
        return [[float(miny), float(minx)], [float(maxy), float(maxx)]]

    def streets_json(self, area: str) -> bytes:
        """Return the area's streets as GeoJSON bytes (one MultiLineString per road class)."""

        def build() -> bytes:
            streets = self.results.streets(area)
            feats = []
            if not streets.empty:
                for hw, grp in streets.groupby(streets["highway"].astype(str)):
                    merged = shapely.line_merge(shapely.union_all(grp.geometry.values))
                    cls = _road_class(hw)
                    feats.append(
                        {
                            "type": "Feature",
                            "geometry": _geojson_geom(merged),
                            "properties": {"highway": hw, "style": _STREET_STYLES[cls]},
                        }
                    )
            fc = {"type": "FeatureCollection", "features": feats}
            return json.dumps(fc, separators=(",", ":")).encode("utf-8")

        return self._cached(("streets", area), build)

    def area_arrays(self, area: str) -> AreaArrays:
        """Demand units as projected arrays with their neighbourhood cell index."""

        def build() -> AreaArrays:
            cells = [f["properties"]["unit"] for f in self.cell_features(area)]
            dem = self.results.demand(area)
            if dem.empty:
                z = np.zeros(0)
                return AreaArrays(np.zeros(0, object), z, z, z, np.zeros(0, np.int64), cells)
            if {"x", "y"} <= set(dem.columns):
                x = dem["x"].to_numpy(float)
                y = dem["y"].to_numpy(float)
            else:
                pts = dem.to_crs(settings.PROJECTED_CRS).geometry.representative_point()
                x, y = pts.x.to_numpy(), pts.y.to_numpy()
            if "neighbourhood" in dem.columns:
                hood = dem["neighbourhood"].astype(str).to_numpy()
            else:
                hood = self.results.neighbourhood_of(area, x, y).astype(str)
            index = {c: i for i, c in enumerate(cells)}
            cell_idx = np.array([index.get(h, -1) for h in hood], np.int64)
            pop = pd.to_numeric(dem["population"], errors="coerce").fillna(0).to_numpy(float)
            return AreaArrays(dem["unit_id"].astype(str).to_numpy(), x, y, pop, cell_idx, cells)

        return self._cached(("arrays", area), build)

    def nearest_quartiles(
        self, area: str, scenario: str = "baseline"
    ) -> dict[tuple[str, str], tuple[float, float, float]]:
        """Return ``{(unit, category): (p25, median, p75)}`` of nearest-facility metres.

        From the scenario's access table on the area's coverage basis (the table the shares
        come from, so distances and shares always agree).
        """

        def build() -> dict[tuple[str, str], tuple[float, float, float]]:
            acc = self.results.access(area, scenario)
            arr = self.area_arrays(area)
            if acc.empty or len(arr.unit_id) == 0 or "nearest_m" not in acc:
                return {}
            cell_of = pd.Series(
                [arr.cells[i] if i >= 0 else None for i in arr.cell_idx], index=arr.unit_id
            )
            df = acc[["unit_id", "category", "nearest_m"]].assign(cell=acc["unit_id"].map(cell_of))
            df = df.dropna(subset=["cell"])
            out: dict[tuple[str, str], tuple[float, float, float]] = {}
            values = df["nearest_m"].to_numpy(float)
            groups: Any = df.groupby(["cell", "category"]).indices
            for (cell, cat), idx in groups.items():
                v = values[idx]
                q = np.quantile(
                    np.where(np.isfinite(v), v, np.inf), [0.25, 0.5, 0.75], method="lower"
                )
                out[str(cell), str(cat)] = (float(q[0]), float(q[1]), float(q[2]))
            return out

        return self._cached(("quartiles", area, scenario), build)

    def cell_quartiles(
        self, area: str, nearest_m: np.ndarray
    ) -> dict[str, tuple[float, float, float]]:
        """Return ``{unit: (p25, median, p75)}`` of per-demand-unit distances (demand order)."""
        arr = self.area_arrays(area)
        out: dict[str, tuple[float, float, float]] = {}
        if len(nearest_m) != len(arr.cell_idx):
            return out
        for i, cell in enumerate(arr.cells):
            v = nearest_m[arr.cell_idx == i]
            if len(v):
                q = np.quantile(v, [0.25, 0.5, 0.75], method="lower")
                out[cell] = (float(q[0]), float(q[1]), float(q[2]))
        return out

    def facility_street(self, area: str, unit: str, category: str, scenario: str) -> str:
        """Return the street of the facility nearest (straight line) to a neighbourhood's centre.

        Where its residents' nearest facility is, in words.
        """

        def centres() -> dict[str, tuple[float, float]]:
            hoods = self.results.neighbourhoods
            cells = hoods[hoods["area"] == area].to_crs(settings.PROJECTED_CRS)
            pts = cells.geometry.representative_point()
            return {str(u): (p.x, p.y) for u, p in zip(cells["unit"], pts, strict=True)}

        def facilities() -> tuple[np.ndarray, np.ndarray]:
            fac = scenario_facilities(self.results, area, category, scenario)
            if fac.empty:
                return np.zeros((0, 2)), np.zeros(0, object)
            pts = fac.to_crs(settings.PROJECTED_CRS).geometry
            xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
            streets = [self.results.nearest_street(area, x, y) for x, y in xy]
            return xy, np.asarray(streets, dtype=object)

        centre = self._cached(("centres", area), centres).get(unit)
        xy, streets = self._cached(("facstreets", area, category, scenario), facilities)
        if centre is None or not len(xy):
            return ""
        d = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
        return str(streets[int(np.argmin(d))])

    # -- queries -------------------------------------------------------------------------
    def coverage(
        self, area: str, tier: int, scenario: str, profile: str
    ) -> tuple[dict[str, dict[str, CovRec]], bool]:
        """``({category: {unit: CovRec}}, fallback)`` of one setting (units incl. ``ALL``).

        ``fallback`` is True when the results lack the scenario/profile and the baseline /
        default figures are returned instead (the page says so).
        """
        exact = self._coverage.get((area, tier, scenario, profile))
        if exact is not None:
            return exact, False
        base = self._coverage.get((area, tier, "baseline", "default"))
        return (base, True) if base is not None else ({}, False)

    def memo(self, key: tuple[Any, ...], build: Callable[[], _T]) -> _T:
        """Return ``build()``, memoised in a bounded LRU cache (``memo_size`` entries).

        For outputs that depend only on validated inputs (the static layers' GeoJSON bytes).
        """
        with self._lock:
            if key in self._lru:
                self._lru.move_to_end(key)
                hit: _T = self._lru[key]
                return hit
        value = build()
        with self._lock:
            self._lru[key] = value
            while len(self._lru) > self.memo_size:
                self._lru.popitem(last=False)
        return value

    def unit_table(
        self, area: str, unit: str, *, tier: int, scenario: str, profile: str
    ) -> list[dict[str, Any]]:
        """Per-category figures of one neighbourhood, in category order.

        Each row: ``category, population, covered_population, share, basis, in_gaps``
        (uncovered population) and ``q`` (nearest-distance quartiles in metres, or None).
        """
        cats, _ = self.coverage(area, tier, scenario, profile)
        quart = self.nearest_quartiles(area, scenario)
        rows = []
        for key in self.results.category_keys():
            rec = cats.get(key, {}).get(unit)
            if rec is None:
                continue
            rows.append(
                {
                    "category": key,
                    "population": rec.population,
                    "covered_population": rec.covered,
                    "share": rec.share,
                    "basis": rec.basis,
                    "in_gaps": rec.population - rec.covered,
                    "q": quart.get((unit, key)),
                }
            )
        return rows

    def unit_ids(self, area: str) -> set[str]:
        """Neighbourhood ids of an area."""
        return {f["properties"]["unit"] for f in self.cell_features(area)}

    def category_label(self, key: str, lang: str) -> str:
        """Return a category's label in ``lang``."""
        try:
            cat = self.results.category(key)
        except LifeCircleError:
            return key
        return cat.label(lang) or key

    def category_options(self, lang: str) -> list[dict[str, str]]:
        """Dropdown options for the categories (composite last)."""
        return [
            {
                "label": self.category_label(k, lang)
                if k != COMPOSITE
                else ("综合得分" if lang == "zh" else "Composite score"),
                "value": k,
            }
            for k in self.results.category_keys()
        ]


_STREET_STYLES = {
    "major": {"color": "#404040", "weight": 2.4, "opacity": 0.9},
    "minor": {"color": "#5e5e5e", "weight": 1.3, "opacity": 0.8},
    "path": {"color": "#7a7a7a", "weight": 1.0, "opacity": 0.8, "dashArray": "3 2"},
}


def _road_class(highway: str) -> str:
    if highway.startswith(("primary", "secondary", "tertiary", "trunk")):
        return "major"
    if highway in (
        "footway",
        "path",
        "steps",
        "pedestrian",
        "track",
        "corridor",
        "cycleway",
        "bridleway",
    ):
        return "path"
    return "minor"


def _geojson_geom(geom: Any, ndigits: int = 6) -> dict[str, Any]:
    """GeoJSON geometry dict with coordinates rounded to ``ndigits`` (~0.1 m at 6)."""
    rounded = shapely.transform(geom, lambda c: np.round(c, ndigits))
    geojson: dict[str, Any] = json.loads(shapely.to_geojson(rounded))
    return geojson
