"""The per-area context every planning stage works in: one place, built once per area.

:class:`AreaContext` holds an area's demand units, its distance basis (network engine or the
labelled straight-line x detour estimate), the detour calibration and the area polygon.
:func:`scenario_facilities` is the one scenario rule (which facilities count in baseline, plan
and plan+recommended); coverage, sites, scenarios, the exports and the dashboard all use it.
:class:`CategorySpec` carries each category's standard tier and threshold.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError, MissingStageError
from geo.demand.population import read_demand
from geo.facilities.taxonomy import load_taxonomy
from geo.io.geom import project_geom
from geo.io.tables import FACILITIES, SCENARIOS, TIERS, facility_scenario, scenario_mask
from geo.network import estimate
from geo.network.access import AccessEngine, compute_access
from geo.network.estimate import DetourCalibration, estimate_access
from geo.network.network import basis_for, build_area_network

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from geo.io.areas import Area, Registry

#: ``check(net, units, facility_points, categories, factor)``: rows comparing network and
#: estimate coverage, stored with the calibration (geo.planning.coverage.coverage_check).
CoverageCheck = Callable[..., list[dict[str, Any]]]


# ---------------------------------------------------------------------------------------------
# category thresholds
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CategorySpec:
    """A category's standard tier and threshold (default walking profile)."""

    category: str
    tier: int
    threshold_m: float
    name_zh: str = ""
    name_en: str = ""


def tier_threshold_m(tier: float, speed_kmh: float) -> float:
    """Distance (m) walked in ``tier`` minutes at ``speed_kmh``, rounded to the metre."""
    return float(round(tier * speed_kmh * 1000.0 / 60.0))


def profile_speed(profile: str) -> float:
    """Return walking speed (km/h) of a profile from ``settings.WALK_SPEEDS_KMH``."""
    try:
        return settings.WALK_SPEEDS_KMH[profile]
    except KeyError:
        raise LifeCircleError(
            f"unknown walking profile '{profile}'; known: {', '.join(settings.WALK_SPEEDS_KMH)}"
        ) from None


def _field(obj: Any, names: Sequence[str]) -> Any:
    for n in names:
        val = obj.get(n) if isinstance(obj, Mapping) else getattr(obj, n, None)
        if val is not None:
            return val
    return None


def _tier_of(value: Any) -> int | None:
    """Tier minutes from 5 / "5" / "5min" / "5-min" / "15分钟"."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if math.isfinite(value) else None
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else None


def _load_taxonomy() -> Any:
    return load_taxonomy()


def category_specs(taxonomy: Any = None, fallback: Iterable[str] = ()) -> dict[str, CategorySpec]:
    """Return standard tier and threshold per category, from the taxonomy.

    Parameters
    ----------
    taxonomy
        The result of ``geo.taxonomy.load_taxonomy()`` (default: loaded here when that module
        exists): an object with ``categories`` (mapping or sequence) or the categories
        themselves; each has an id (``id|category|key|name``), ``tier`` (minutes) and
        ``threshold_m``. A missing tier is the smallest tier whose default-speed distance
        reaches the threshold; a missing threshold is the tier's distance.
    fallback
        Categories to use when there is no taxonomy at all: tier 15, 1000 m each.

    Returns
    -------
    dict
        ``{category: CategorySpec}``.
    """
    if taxonomy is None:
        taxonomy = _load_taxonomy()
    if taxonomy is None:
        t = TIERS[-1]
        t_m = tier_threshold_m(t, settings.WALK_SPEEDS_KMH["default"])
        return {c: CategorySpec(c, t, t_m) for c in fallback}
    cats = getattr(taxonomy, "categories", taxonomy)
    items: list[tuple[Any, Any]] = (
        list(cats.items()) if isinstance(cats, Mapping) else [(None, c) for c in cats]
    )
    speed = settings.WALK_SPEEDS_KMH["default"]
    out: dict[str, CategorySpec] = {}
    for key, c in items:
        cid = _field(c, ("id", "category", "key")) or key or _field(c, ("name",))
        if cid is None:
            continue
        tier = _tier_of(_field(c, ("tier", "tier_min", "tier_minutes", "minutes")))
        raw_thr = _field(c, ("threshold_m", "threshold"))
        thr = float(raw_thr) if raw_thr is not None else None
        if tier is None and thr is None:
            tier = TIERS[-1]
        if tier is None:
            assert thr is not None
            tier = next((t for t in TIERS if tier_threshold_m(t, speed) >= thr), TIERS[-1])
        if thr is None:
            thr = tier_threshold_m(tier, speed)
        out[str(cid)] = CategorySpec(
            str(cid),
            int(tier),
            float(thr),
            str(_field(c, ("name_zh", "label_zh", "zh")) or ""),
            str(_field(c, ("name_en", "label_en", "en")) or ""),
        )
    return out


# ---------------------------------------------------------------------------------------------
# scenario facilities
# ---------------------------------------------------------------------------------------------
def scenario_facilities(
    facilities: gpd.GeoDataFrame | None,
    scenario: str,
    *,
    boundary: Any = None,
    sites: gpd.GeoDataFrame | None = None,
    area_id: str | None = None,
    buffer_m: float = settings.CLIP_BUFFER_M,
) -> pd.DataFrame:
    """Return the facilities that count in ``scenario``, as projected points.

    Parameters
    ----------
    facilities
        The contract *facilities* table (``category, source, status, precision, geometry``; any
        CRS, WGS-84 assumed when unset). None: no facilities.
    scenario
        One of :data:`SCENARIOS`.
    boundary
        WGS-84 area polygon; when given only facilities within ``buffer_m`` of it are kept
        (residents near the edge use facilities across it).
    sites
        Recommended sites (``out/sites.gpkg``: ``area, category, rank, geometry``), added in
        ``plan+recommended`` (only those of ``area_id`` when given).
    area_id
        Area whose sites are added.
    buffer_m
        Buffer (m) around ``boundary``.

    Returns
    -------
    DataFrame
        ``facility_id, category, source, status, scenario, x, y`` (EPSG:32651 metres), where
        ``scenario`` is the first scenario the row counts in.
    """
    if scenario not in SCENARIOS:
        raise InputError(
            f"unknown scenario '{scenario}'", hint=f"expected one of {', '.join(SCENARIOS)}"
        )
    level = SCENARIOS.index(scenario)
    frames: list[pd.DataFrame] = []
    if facilities is not None and len(facilities):
        fac = facilities[scenario_mask(facilities, scenario)]
        first_kept = [
            facility_scenario(str(s), str(t))
            for s, t in zip(fac["source"], fac["status"], strict=True)
        ]
        frames.append(
            _points(
                fac,
                ids=(
                    fac["facility_id"].astype(str).to_numpy()
                    if "facility_id" in fac.columns
                    else np.array([f"facility-{i}" for i in range(len(fac))], dtype=object)
                ),
                source=fac["source"].astype(str).to_numpy(),
                status=fac["status"].astype(str).to_numpy(),
                first=np.asarray(first_kept, dtype=object),
            )
        )
    if level >= SCENARIOS.index("plan+recommended") and sites is not None and len(sites):
        s = sites
        if area_id is not None:
            s = s[s["area"].astype(str) == area_id]
        s = s[s.geometry.notna() & ~s.geometry.is_empty]
        ids = np.array(
            [
                f"site-{a}-{c}-{int(r)}"
                for a, c, r in zip(s["area"], s["category"], s["rank"], strict=True)
            ],
            dtype=object,
        )
        frames.append(
            _points(
                s,
                ids=ids,
                source=np.full(len(s), "recommended", dtype=object),
                status=np.full(len(s), "proposed", dtype=object),
                first=np.full(len(s), "plan+recommended", dtype=object),
            )
        )
    cols = ["facility_id", "category", "source", "status", "scenario", "x", "y"]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series([], dtype=float if c in "xy" else object) for c in cols})
    out = pd.concat(frames, ignore_index=True)[cols]
    if boundary is not None:
        zone = shapely.buffer(project_geom(boundary), buffer_m)
        out = out[shapely.contains_xy(zone, out["x"].to_numpy(), out["y"].to_numpy())]
    return out.drop_duplicates("facility_id").reset_index(drop=True)


def _points(
    gdf: gpd.GeoDataFrame,
    *,
    ids: np.ndarray,
    source: np.ndarray,
    status: np.ndarray,
    first: np.ndarray,
) -> pd.DataFrame:
    g = gdf if gdf.crs is not None else gdf.set_crs(settings.STORAGE_CRS)
    pts = shapely.point_on_surface(g.to_crs(settings.PROJECTED_CRS).geometry.values)
    return pd.DataFrame(
        {
            "facility_id": ids,
            "category": g["category"].astype(str).to_numpy(),
            "source": source,
            "status": status,
            "scenario": first,
            "x": shapely.get_x(pts),
            "y": shapely.get_y(pts),
        }
    )


# ---------------------------------------------------------------------------------------------
# per-area set-up: demand, basis, access engine or detour factor
# ---------------------------------------------------------------------------------------------
@dataclass
class AreaContext:
    """What distance work in one area needs.

    Attributes
    ----------
    area
        Area id.
    demand
        Demand units (``unit_id, area, population, x, y`` EPSG:32651, ...).
    basis
        ``network`` (complete walk network: access engine), ``estimate`` (straight line ×
        ``factor``) or ``none`` (no facility data: coverage unknown).
    completeness
        Network completeness (0-1).
    note
        Caveat carried by every row of the area (the estimate's label).
    engine, net
        The compiled access engine and network (network basis only).
    factor
        Detour factor (estimate basis only).
    boundary
        WGS-84 area polygon.
    census_note
        Caveat of the area's census figure (``areas.yaml``), copied to coverage rows.
    """

    area: str
    demand: gpd.GeoDataFrame
    basis: str
    completeness: float
    note: str = ""
    engine: AccessEngine | None = None
    net: Any = None  # the WalkNetwork on the network basis
    factor: float = float("nan")
    boundary: BaseGeometry | None = None
    info: dict[str, Any] = field(default_factory=dict)
    census_note: str = ""

    def access(
        self,
        facilities: pd.DataFrame,
        thresholds: Mapping[str, float],
        max_m: float | None = None,
    ) -> pd.DataFrame:
        """Return the contract *access* table of these units for ``facilities`` (category, x, y).

        Parameters
        ----------
        facilities
            ``category, x, y`` (EPSG:32651 metres).
        thresholds
            ``{category: metres}``; every category gets rows.
        max_m
            Search bound (m) for ``nearest_m``. Default: as ``lifecircle access`` (twice each
            category's threshold on the network) and ``lifecircle coverage`` (no bound for
            the estimate), so the baseline equals those stages' tables.

        Returns
        -------
        DataFrame
            ``unit_id, category, nearest_m, nearest_min, n_within`` (+ ``search_m`` on the
            network, ``basis``, ``note``).
        """
        units = pd.DataFrame(
            {
                "unit_id": self.demand["unit_id"].to_numpy(),
                "x": self.demand["x"].to_numpy(float),
                "y": self.demand["y"].to_numpy(float),
            }
        )
        if self.basis == "network":
            acc = compute_access(
                self.net, units, facilities, dict(thresholds), max_m=max_m, engine=self.engine
            )
            acc["basis"] = "network"
            acc["note"] = self.note
            return acc
        return estimate_access(
            units, facilities, dict(thresholds), self.factor, max_m=max_m, note=self.note
        )


def detour_factor(
    registry: Registry,
    out: str | os.PathLike[str],
    facilities: gpd.GeoDataFrame | None = None,
    *,
    categories: Mapping[str, Any] | None = None,
    calibration_area: str = settings.CALIBRATION_AREA,
    cache_dir: Path | None = None,
    check: CoverageCheck | None = None,
) -> DetourCalibration:
    """Return the detour calibration every estimate uses (the same factor everywhere).

    Delegates to :func:`detour_calibration` (recomputed only when its inputs changed). Without
    a facilities table, the stored calibration is used, or a street-only one
    (:func:`geo.network.estimate.calibrate_detour`) is computed and stored.
    """
    if facilities is not None:
        return detour_calibration(
            registry,
            out,
            facilities,
            calibration_area,
            categories=categories,
            cache_dir=cache_dir,
            check=check,
        )
    cal = estimate.read_calibration(out)
    if cal is not None:
        return cal
    net = build_area_network(registry, calibration_area, cache_dir=cache_dir)
    if net is None:
        raise LifeCircleError(f"calibration area '{calibration_area}' has no walking network")
    cal = estimate.calibrate_detour(net, boundary=registry.boundary(calibration_area))
    estimate.write_calibration(cal, out)
    return cal


def demand_xy(demand: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Demand units with ``x, y`` (EPSG:32651 representative points) filled in when absent."""
    if {"x", "y"} <= set(demand.columns):
        return demand
    proj = demand.to_crs(settings.PROJECTED_CRS)
    pts = shapely.point_on_surface(proj.geometry.values)
    return demand.assign(x=shapely.get_x(pts), y=shapely.get_y(pts))


def build_context(
    registry: Registry,
    area: Area,
    out: str | os.PathLike[str],
    net: Any,  # a WalkNetwork, or None
    *,
    facilities: gpd.GeoDataFrame | None = None,
    cache_dir: Path | None = None,
    demand: gpd.GeoDataFrame | None = None,
    specs: Mapping[str, Any] | None = None,
    check: CoverageCheck | None = None,
    engine: bool = True,
    calibration: DetourCalibration | None = None,
) -> AreaContext:
    """Demand units, basis and distance machinery of one area.

    The basis follows :func:`geo.network.network.basis_for`: a complete network uses the access
    engine; an incomplete or missing one the straight-line × detour estimate (labelled); an
    area with no placed facility within its buffer in any scenario gets ``none``.

    Parameters
    ----------
    registry, area
        The study area.
    out
        Results folder (demand units, detour calibration).
    net
        The area's WalkNetwork or None.
    facilities
        The facilities table (to tell ``none`` from ``estimate``).
    cache_dir
        Network cache (for calibrating the detour factor).
    demand
        Demand units (default: read ``<out>/demand/<area>.gpkg``).
    specs
        ``{category: CategorySpec}`` handed to the detour calibration (as coverage does).
    check
        Network-vs-estimate comparison stored with a new calibration
        (:func:`geo.planning.coverage.coverage_check`).
    engine
        Compile the access engine of a complete network (False when only stored access
        tables are read).
    calibration
        A detour calibration computed beforehand (the city screen computes it once for all
        areas); default :func:`detour_factor` in ``out``.

    Returns
    -------
    AreaContext
    """
    if demand is None:
        demand = read_demand(out, area.id)
    demand = demand_xy(demand)
    comp = float(net.info.get("completeness", 0.0)) if net is not None else 0.0
    boundary = registry.boundary(area)
    census_note = str(getattr(area, "census_note", "") or "")
    if basis_for(comp) == "network":
        return AreaContext(
            area.id,
            demand,
            "network",
            comp,
            "",
            AccessEngine.from_network(net) if engine else None,
            net,
            boundary=boundary,
            census_note=census_note,
        )
    if facilities is None:
        raise MissingStageError(
            f"facilities table (needed for the estimate of area '{area.id}')",
            path=FACILITIES.path(out),
            command="lifecircle facilities build",
        )
    known = scenario_facilities(facilities, SCENARIOS[-1], boundary=boundary)
    if known.empty:
        note = (
            "no network data and no facilities / 无路网与设施数据"
            if net is None
            else "incomplete network and no facilities / 路网不完整且无设施数据"
        )
        return AreaContext(
            area.id, demand, "none", comp, note, boundary=boundary, census_note=census_note
        )
    cal = calibration or detour_factor(
        registry, out, facilities, categories=specs, cache_dir=cache_dir, check=check
    )
    note = (estimate.NO_NETWORK_NOTE if net is None else estimate.ESTIMATE_NOTE) + (
        f" (factor {cal.factor:.3f}, MAE {cal.mae_m:.0f} m, calibrated on {cal.area})"
    )
    return AreaContext(
        area.id,
        demand,
        "estimate",
        comp,
        note,
        factor=float(cal.factor),
        boundary=boundary,
        census_note=census_note,
    )


# ---------------------------------------------------------------------------------------------
# detour calibration (estimate basis)
# ---------------------------------------------------------------------------------------------
def detour_calibration(
    registry: Registry,
    out: str | os.PathLike[str],
    facilities: gpd.GeoDataFrame,
    calibration_area: str = settings.CALIBRATION_AREA,
    *,
    categories: Mapping[str, CategorySpec] | None = None,
    cache_dir: Path | None = None,
    check: CoverageCheck | None = None,
) -> DetourCalibration:
    """Return the detour factor for estimates from ``<out>/detour_calibration.json``.

    Recomputed when its inputs (calibration network, demand units, facilities) changed.

    The factor is fitted on nearest-facility distances of the calibration area
    (:func:`geo.network.estimate.calibrate_nearest`); the street-only node-pair calibration is
    stored
    beside it (``node_pairs``) for reference. With ``categories`` and ``check``
    (:func:`geo.planning.coverage.coverage_check`), ``coverage_check`` compares
    the area's population share covered at each standard threshold by network and by
    estimate: the error a planner sees in ``coverage.csv``.

    Returns
    -------
    geo.network.estimate.DetourCalibration
    """
    area = registry.get(calibration_area)
    net = build_area_network(registry, area, cache_dir=cache_dir)
    if net is None:
        raise LifeCircleError(f"calibration area '{calibration_area}' has no network")
    units = read_demand(out, area.id)  # MissingStageError names `lifecircle demand`
    pts = estimate.facility_points(facilities, registry.boundary(area))
    h = hashlib.sha256()
    h.update(f"nearest-1|{net.info.get('cache_key', '')}|{estimate.CALIBRATION_BAND_M}".encode())
    h.update(repr(sorted((c, s.threshold_m) for c, s in (categories or {}).items())).encode())
    h.update(
        pd.util.hash_pandas_object(units[["unit_id", "x", "y"]], index=False).to_numpy().tobytes()
    )
    h.update(
        pd.util.hash_pandas_object(pts[["category", "x", "y"]], index=False).to_numpy().tobytes()
    )
    key = h.hexdigest()[:16]
    cal = estimate.read_calibration(out)
    if cal is not None and cal.area == area.id and cal.inputs_key == key:
        return cal
    nodes = estimate.calibrate_detour(net, boundary=registry.boundary(area))
    try:
        cal = estimate.calibrate_nearest(net, units, pts)
    except LifeCircleError:  # no facilities there: the street-only factor is all there is
        cal = estimate.calibrate_detour(net, boundary=registry.boundary(area))
    cal.node_pairs = {
        "factor": nodes.factor,
        "mae_m": nodes.mae_m,
        "n_pairs": nodes.n_pairs,
        "ratio_percentiles": nodes.ratio_percentiles,
        "method": nodes.method,
    }
    if categories and check is not None:
        cal.coverage_check = check(net, units, pts, categories, cal.factor)
    cal.inputs_key = key
    estimate.write_calibration(cal, out)
    return cal
