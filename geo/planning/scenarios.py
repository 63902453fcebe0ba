"""Scenarios: coverage with existing, planned and recommended facilities, and the deltas.

Three scenarios, each a superset of the one before:

* ``baseline`` — existing facilities: OSM and gazetteer rows, and plan rows whose status is
  ``existing``;
* ``plan`` — baseline plus the plan's facilities that were *placed* (status ``planned`` or
  ``proposed`` with a position: precision exact, poi or street; plan rows located only to the
  whole area are left out, their position is unknown);
* ``plan+recommended`` — plan plus the recommended sites of ``out/sites.gpkg``
  (:mod:`geo.sites`) and any facility rows with ``source = recommended``.

For each area the access table of every scenario is computed with the access engine (network
basis) or the labelled straight-line × detour estimate (:mod:`geo.estimate`), then turned into
coverage rows with :func:`geo.coverage.coverage_table`. Outputs:

* ``out/scenario_deltas.csv`` — per area and category (and the composite score) at the
  category's standard threshold, default walking profile: ``area, category, scenario,
  covered_population, share, delta_vs_baseline, basis`` + population, threshold, facility
  counts, ``delta_share``, labels and a note;
* ``out/scenarios/<scenario>/access/<area>.parquet`` (``.estimate.parquet`` for estimates) — the
  access tables of the non-baseline scenarios (:func:`geo.coverage.access_path`);
* rows of the non-baseline scenarios added to ``out/coverage.csv`` and ``out/gaps.gpkg`` (the
  baseline rows stay those of ``lifecircle coverage``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import LifeCircleError
from geo.io.files import write_atomic
from geo.planning import data_status

#: Scenario names, in order (each includes the facilities of the one before).
SCENARIOS: tuple[str, ...] = ("baseline", "plan", "plan+recommended")

#: Bilingual scenario labels (Chinese first).
SCENARIO_LABELS: dict[str, tuple[str, str]] = {
    "baseline": ("现状", "Baseline (existing)"),
    "plan": ("规划", "Plan (placed plan facilities)"),
    "plan+recommended": ("规划+推荐选址", "Plan + recommended sites"),
}

#: Facility statuses of plan rows added in the ``plan`` scenario.
PLAN_STATUSES: tuple[str, ...] = ("planned", "proposed")

#: Precisions that do not give a usable position (left out of every scenario).
UNPLACED_PRECISIONS: frozenset[str] = frozenset({"area", "unresolved"})

#: Columns of ``scenario_deltas.csv`` (the contract named in the issue first).
DELTA_COLUMNS: tuple[str, ...] = (
    "area",
    "category",
    "scenario",
    "covered_population",
    "share",
    "delta_vs_baseline",
    "basis",
    "population",
    "delta_share",
    "threshold_m",
    "tier",
    "n_facilities",
    "n_added",
    "category_zh",
    "category_en",
    "scenario_zh",
    "scenario_en",
    "note",
)


# ---------------------------------------------------------------------------------------------
# scenario facilities
# ---------------------------------------------------------------------------------------------
def facility_scenario(source: str, status: str) -> str | None:
    """The first scenario a facility row counts in (None: in none of them).

    Parameters
    ----------
    source
        ``osm | plan | gazetteer | recommended``.
    status
        ``existing | planned | proposed``.

    Returns
    -------
    str or None
        ``baseline``, ``plan`` or ``plan+recommended``.
    """
    if source == "recommended":
        return "plan+recommended"
    if status == "existing":
        return "baseline"
    if status in PLAN_STATUSES:
        return "plan"
    return None


def scenario_mask(facilities: gpd.GeoDataFrame, scenario: str) -> np.ndarray:
    """Which rows of the facilities table count in ``scenario`` (the one rule, also for the
    dashboard and exports).

    A row counts when it has a geometry, is ``counted`` (one row per distinct facility, see
    ``geo.facilities.geocode.counted_rows``), has a usable position (precision not in
    :data:`UNPLACED_PRECISIONS`) and its first scenario (:func:`facility_scenario`) is
    ``scenario`` or an earlier one.

    Returns
    -------
    numpy.ndarray
        Boolean mask aligned with ``facilities``.
    """
    if scenario not in SCENARIOS:
        raise LifeCircleError(
            f"unknown scenario '{scenario}'; expected one of {', '.join(SCENARIOS)}"
        )
    level = SCENARIOS.index(scenario)
    keep = np.array(facilities.geometry.notna() & ~facilities.geometry.is_empty, dtype=bool)
    if "counted" in facilities.columns:
        keep &= facilities["counted"].astype(bool).to_numpy()
    if "precision" in facilities.columns:
        keep &= ~facilities["precision"].astype(str).isin(UNPLACED_PRECISIONS).to_numpy()
    first = [
        facility_scenario(str(s), str(t))
        for s, t in zip(facilities["source"], facilities["status"], strict=True)
    ]
    keep &= np.array([f is not None and SCENARIOS.index(f) <= level for f in first], bool)
    return keep


def scenario_facilities(
    facilities: gpd.GeoDataFrame | None,
    scenario: str,
    *,
    boundary: Any = None,
    sites: gpd.GeoDataFrame | None = None,
    area_id: str | None = None,
    buffer_m: float = settings.CLIP_BUFFER_M,
) -> pd.DataFrame:
    """The facilities that count in ``scenario``, as projected points.

    Parameters
    ----------
    facilities
        The DESIGN *facilities* table (``category, source, status, precision, geometry``; any
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
        raise LifeCircleError(
            f"unknown scenario '{scenario}'; expected one of {', '.join(SCENARIOS)}"
        )
    level = SCENARIOS.index(scenario)
    frames: list[pd.DataFrame] = []
    if facilities is not None and len(facilities):
        fac = facilities
        for col in ("category", "source", "status"):
            if col not in fac.columns:
                raise LifeCircleError(f"facilities table lacks column '{col}'")
        fac = fac[scenario_mask(fac, scenario)]
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
        from geo.io.geom import project_geom

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
class AreaSetup:
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
    """

    area: str
    demand: gpd.GeoDataFrame
    basis: str
    completeness: float
    note: str = ""
    engine: Any = None
    net: Any = None
    factor: float = float("nan")
    boundary: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    def access(
        self,
        facilities: pd.DataFrame,
        thresholds: Mapping[str, float],
        max_m: float | None = None,
    ) -> pd.DataFrame:
        """The DESIGN *access* table of these units for ``facilities`` (``category, x, y``).

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
            from geo.network.access import compute_access

            acc = compute_access(
                self.net, units, facilities, dict(thresholds), max_m=max_m, engine=self.engine
            )
            acc["basis"] = "network"
            acc["note"] = self.note
            return acc
        from geo.network.estimate import estimate_access

        return estimate_access(
            units, facilities, dict(thresholds), self.factor, max_m=max_m, note=self.note
        )


def detour_factor(
    registry: Any,
    out: str | os.PathLike[str],
    facilities: gpd.GeoDataFrame | None = None,
    *,
    categories: Mapping[str, Any] | None = None,
    calibration_area: str = "xinhualu",
    cache_dir: Path | None = None,
) -> Any:
    """The detour calibration used by ``lifecircle coverage`` (the same factor everywhere).

    Delegates to :func:`geo.coverage.detour_calibration` (recomputed only when its inputs
    changed). Without a facilities table, the stored calibration is used, or a street-only
    one (:func:`geo.estimate.calibrate_detour`) is computed and stored.

    Returns
    -------
    geo.estimate.DetourCalibration
    """
    from geo.network import estimate
    from geo.network.network import build_area_network

    if facilities is not None:
        from geo.planning.coverage import detour_calibration

        return detour_calibration(
            registry,
            out,
            facilities,
            calibration_area,
            categories=categories,
            cache_dir=cache_dir,
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


def area_setup(
    registry: Any,
    area: Any,
    out: str | os.PathLike[str],
    net: Any,
    *,
    facilities: gpd.GeoDataFrame | None = None,
    cache_dir: Path | None = None,
    demand: gpd.GeoDataFrame | None = None,
    specs: Mapping[str, Any] | None = None,
) -> AreaSetup:
    """Demand units, basis and distance machinery of one area.

    The basis follows :func:`geo.network.basis_for`: a complete network uses the access engine;
    an incomplete or missing one the straight-line × detour estimate (labelled, as
    ``lifecircle coverage`` does); an area with no facility data at all gets ``none``.

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

    Returns
    -------
    AreaSetup
    """
    from geo.network import estimate
    from geo.network.network import basis_for

    if demand is None:
        from geo.demand.population import read_demand

        demand = read_demand(out, area.id)
    demand = demand_xy(demand)
    comp = float(net.info.get("completeness", 0.0)) if net is not None else 0.0
    boundary = registry.boundary(area)
    if basis_for(comp) == "network":
        from geo.network.access import AccessEngine

        return AreaSetup(
            area.id,
            demand,
            "network",
            comp,
            "",
            AccessEngine.from_network(net),
            net,
            boundary=boundary,
        )
    has_fac = facilities is not None and (facilities["area"].astype(str) == area.id).any()
    if not has_fac:
        note = (
            "no network data and no facilities / 无路网与设施数据"
            if net is None
            else "incomplete network and no facilities / 路网不完整且无设施数据"
        )
        return AreaSetup(area.id, demand, "none", comp, note, boundary=boundary)
    cal = detour_factor(registry, out, facilities, categories=specs, cache_dir=cache_dir)
    note = (estimate.NO_NETWORK_NOTE if net is None else estimate.ESTIMATE_NOTE) + (
        f" (factor {cal.factor:.3f}, MAE {cal.mae_m:.0f} m, calibrated on {cal.area})"
    )
    return AreaSetup(
        area.id, demand, "estimate", comp, note, factor=float(cal.factor), boundary=boundary
    )


# ---------------------------------------------------------------------------------------------
# coverage per scenario and deltas
# ---------------------------------------------------------------------------------------------
def scenario_coverage(
    setup: AreaSetup,
    facilities: Mapping[str, pd.DataFrame],
    specs: Mapping[str, Any],
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Access tables and coverage rows of one area for each scenario.

    Parameters
    ----------
    setup
        The area (:func:`area_setup`).
    facilities
        ``{scenario: facility points}`` (:func:`scenario_facilities`).
    specs
        ``{category: CategorySpec}`` (:func:`geo.coverage.category_specs`).

    Returns
    -------
    (access, coverage)
        ``{scenario: access table}`` and ``{scenario: coverage rows}``
        (:func:`geo.coverage.coverage_table` columns).
    """
    from geo.planning.coverage import coverage_table

    thresholds = {c: float(s.threshold_m) for c, s in specs.items()}
    access: dict[str, pd.DataFrame] = {}
    cover: dict[str, pd.DataFrame] = {}
    for scen, fac in facilities.items():
        if setup.basis == "none":
            acc = pd.DataFrame(columns=["unit_id", "category", "nearest_m"])
        else:
            acc = setup.access(fac, thresholds)
        access[scen] = acc
        search: dict[str, float] | None = None
        if "search_m" in acc.columns and len(acc):
            search = {
                str(k): float(v) for k, v in acc.groupby("category")["search_m"].min().items()
            }
        cov = coverage_table(
            setup.demand,
            acc,
            specs,
            basis=setup.basis,
            completeness=setup.completeness,
            scenario=scen,
            note=setup.note,
            search_m=search,
        )
        sources = sorted({str(s).split(":")[0] for s in setup.demand["pop_source"].dropna()})
        cov["pop_source"] = "+".join(sources)
        cover[scen] = cov
    return access, cover


def deltas_table(
    coverage: pd.DataFrame, facilities: Mapping[tuple[str, str], pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Scenario deltas from coverage rows of several scenarios.

    Parameters
    ----------
    coverage
        :func:`geo.coverage.coverage_table` rows of one or more areas and scenarios (area rows
        ``unit = "ALL"``, default profile, each category's standard tier are used; the
        composite score's standard row too).
    facilities
        Optional ``{(area, scenario): facility points}`` for the facility counts.

    Returns
    -------
    DataFrame
        :data:`DELTA_COLUMNS`: ``delta_vs_baseline`` (people) and ``delta_share`` against the
        same area and category in ``baseline``; empty when the basis is ``none``.
    """
    sel = coverage[
        (coverage["unit"] == "ALL")
        & (coverage["profile"] == "default")
        & coverage["is_standard_tier"].astype(bool)
    ].copy()
    base = sel[sel["scenario"] == "baseline"].set_index(["area", "category"])
    key = list(zip(sel["area"], sel["category"], strict=True))
    b_cov = base["covered_population"].reindex(key).to_numpy(dtype=float)
    b_share = base["share"].reindex(key).to_numpy(dtype=float)
    sel["delta_vs_baseline"] = sel["covered_population"].to_numpy(dtype=float) - b_cov
    sel["delta_share"] = sel["share"].to_numpy(dtype=float) - b_share
    sel["scenario_zh"] = sel["scenario"].map(lambda s: SCENARIO_LABELS.get(s, (s, s))[0])
    sel["scenario_en"] = sel["scenario"].map(lambda s: SCENARIO_LABELS.get(s, (s, s))[1])
    counts: list[float] = []
    for a, c, s in zip(sel["area"], sel["category"], sel["scenario"], strict=True):
        fac = facilities.get((a, s)) if facilities is not None else None
        if fac is None or c == "composite":
            counts.append(math.nan)
        else:
            counts.append(float((fac["category"] == c).sum()))
    sel["n_facilities"] = counts
    base_n = {
        (a, c): n
        for a, c, s, n in zip(sel["area"], sel["category"], sel["scenario"], counts, strict=True)
        if s == "baseline"
    }
    sel["n_added"] = [
        n - base_n.get((a, c), math.nan)
        for a, c, n in zip(sel["area"], sel["category"], counts, strict=True)
    ]
    order = {s: i for i, s in enumerate(SCENARIOS)}
    sel["_s"] = sel["scenario"].map(order).fillna(len(order))
    sel = sel.sort_values(["area", "category", "_s"], kind="stable")
    return sel[list(DELTA_COLUMNS)].reset_index(drop=True)


def deltas_path(out: str | os.PathLike[str]) -> Path:
    """``<out>/scenario_deltas.csv``."""
    return Path(out) / "scenario_deltas.csv"


def write_deltas(table: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``scenario_deltas.csv`` (UTF-8 with BOM), keeping other areas' rows in the file."""
    path = deltas_path(out)
    if path.exists():
        try:
            old = pd.read_csv(path, encoding="utf-8-sig")
            old = old[~old["area"].astype(str).isin(set(table["area"].astype(str)))]
            table = pd.concat([old, table], ignore_index=True)
        except Exception:  # an unreadable old file is rewritten from this run
            pass
    return write_atomic(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))


def _write_parquet(table: pd.DataFrame, target: Path) -> None:
    write_atomic(target, lambda p: table.to_parquet(p, index=False))


def read_facilities(out: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """``<out>/facilities.gpkg`` (layer ``facilities``), or raise naming the command to run."""
    path = Path(out) / "facilities.gpkg"
    if not path.exists():
        raise LifeCircleError(
            "no facilities table; run `lifecircle facilities build` first", path=path
        )
    try:
        return gpd.read_file(path, layer="facilities")
    except Exception as exc:
        raise LifeCircleError(f"cannot read facilities layer: {exc}", path=path) from None


def run_scenarios(
    registry: Any,
    areas: Sequence[Any],
    out: str | os.PathLike[str],
    *,
    nets: Mapping[str, Any],
    cache_dir: Path | None = None,
    taxonomy: Any = None,
    progress: Callable[[Iterable[Any], str], Iterable[Any]] | None = None,
    write_coverage_rows: bool = True,
) -> pd.DataFrame:
    """The scenario stage: access per scenario, coverage rows and ``scenario_deltas.csv``.

    Parameters
    ----------
    registry, areas
        The study areas.
    out
        Results folder: reads ``facilities.gpkg``, ``demand/<area>.gpkg``, ``sites.gpkg``
        (plan+recommended; without it that scenario equals plan), writes the files listed in
        the module docstring.
    nets
        ``{area: WalkNetwork | None}``.
    cache_dir
        Network cache (detour calibration).
    taxonomy
        Taxonomy (default: the project's).
    progress
        ``progress(iterable, desc)`` wrapper for a progress bar.
    write_coverage_rows
        Add the non-baseline scenarios' rows to ``coverage.csv`` and ``gaps.gpkg``.

    Returns
    -------
    DataFrame
        The delta rows of these areas.
    """
    from geo.planning import coverage as cov_mod
    from geo.planning.sites import read_sites

    out = Path(out)
    specs = cov_mod.category_specs(taxonomy)
    fac = read_facilities(out)
    sites = read_sites(out)
    tables: list[pd.DataFrame] = []
    gaps: dict[str, list[gpd.GeoDataFrame]] = {s: [] for s in SCENARIOS[1:]}
    counts: dict[tuple[str, str], pd.DataFrame] = {}
    it = progress(areas, "scenarios / 情景") if progress is not None else areas
    for area in it:
        setup = area_setup(
            registry,
            area,
            out,
            nets.get(area.id),
            facilities=fac,
            cache_dir=cache_dir,
            specs=specs,
        )
        fac_by = {
            s: scenario_facilities(fac, s, boundary=setup.boundary, sites=sites, area_id=area.id)
            for s in SCENARIOS
        }
        for s, f in fac_by.items():
            counts[(area.id, s)] = f
        access, cover = scenario_coverage(setup, fac_by, specs)
        status = {  # no data is not zero (geo.planning.data_status)
            s: data_status.category_status(fac, area.id, setup.boundary, specs, s)
            for s in SCENARIOS
        }
        searched = data_status.sources_searched(area, fac)
        cover = {
            s: data_status.apply_data_status(
                c, status[s], searched, composite_status=status["baseline"]
            )
            for s, c in cover.items()
        }
        for s in SCENARIOS[1:]:
            if setup.basis != "none":
                target = cov_mod.access_path(out, area.id, setup.basis, s)
                _write_parquet(access[s], target)
            gaps[s].append(
                data_status.drop_gaps(
                    cov_mod.gap_polygons(
                        setup.demand, access[s], specs, basis=setup.basis, scenario=s
                    ),
                    status[s],
                )
            )
        tables.append(pd.concat(cover.values(), ignore_index=True))
    if not tables:
        return pd.DataFrame(columns=list(DELTA_COLUMNS))
    allcov = pd.concat(tables, ignore_index=True)
    deltas = deltas_table(allcov, counts)
    write_deltas(deltas, out)
    if write_coverage_rows:
        rows = allcov[allcov["scenario"] != "baseline"]
        cov_mod.write_coverage(rows, out / "coverage.csv")
        for s, frames in gaps.items():
            frames = [f for f in frames if len(f)]
            g = (
                gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
                if frames
                else cov_mod.gap_polygons(
                    setup.demand.iloc[:0], pd.DataFrame(), specs, basis="none", scenario=s
                )
            )
            cov_mod.write_gaps(g, out / "gaps.gpkg", [a.id for a in areas], s)
    return deltas
