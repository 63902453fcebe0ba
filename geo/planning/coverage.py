"""Coverage, gaps and reconciliation: who is covered, where the gaps are, what the map lacks.

Coverage table (``out/coverage.csv``; contract ``area, unit, category, tier,
threshold_m, population, covered_population, share``) has, per area, neighbourhood (``unit``;
plus ``unit = "ALL"`` for the whole area), category, walking profile and tier, the residents
whose nearest facility of the category is within the threshold:

* ``tier`` 5 / 10 / 15 minutes; ``threshold_m`` = tier × walking speed of the ``profile``
  (default 4 km/h: 333 / 667 / 1000 m; elderly 3 km/h: 250 / 500 / 750 m), rounded to metres.
  At the category's own tier (``is_standard_tier``) the threshold is the taxonomy's
  ``threshold_m`` (its cited standard), scaled by the profile's speed for the elderly
  (``threshold_source = "taxonomy"``; otherwise ``"tier"``).
* ``category = "composite"``: the life-circle score, the population-weighted share of
  categories reachable. With ``is_standard_tier = True`` (``tier`` empty) each category is
  judged at its own standard threshold; the rows with a tier judge every category at the
  threshold of its row for that tier. ``covered_population`` is Σ population × share of
  categories reached.
* ``basis`` (network | estimate | none), ``completeness`` (share of the area near a mapped
  way), ``note``: an estimate is never shown as a network number; ``none`` rows have empty
  ``covered_population`` and ``share``.
* ``pop_source`` (e.g. ``census2010``) and ``population_note`` (a caveat of the census
  figure, e.g. 五角场's 2010 boundary) from the demand units.
* ``scenario`` (baseline unless given) and, on area rows, the plan-vs-OSM counts of
  ``out/inventory_reconciliation.csv`` (``plan_existing, plan_new, plan_upgrade, osm_count,
  plan_minus_osm``) when that file exists.

Gaps (``out/gaps.gpkg``, layer ``gaps``, WGS-84): per area and category, the populated units
not covered at the category's standard threshold (default profile), dissolved into polygons
(grid cells union directly; buildings are buffered :data:`GAP_BUILDING_BUFFER_M` first, so a
block of uncovered buildings becomes one polygon). Each polygon has ``population, area_m2``
and ``rank`` (1 = most people, within area and category).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import LifeCircleError, MissingStageError
from geo.demand.neighbourhoods import assign_neighbourhood
from geo.demand.population import read_demand
from geo.io.files import set_aside, write_atomic, write_text_atomic
from geo.io.tables import (
    ACCESS,
    ALL,
    COMPOSITE,
    COVERAGE,
    FACILITIES,
    GAPS,
    PROFILES,
    TIERS,
    access_path,
    read_facilities,
)
from geo.network import estimate
from geo.network.access import compute_access
from geo.network.estimate import DetourCalibration
from geo.planning import data_status
from geo.planning.context import (
    AreaContext,
    CategorySpec,
    build_context,
    category_specs,
    profile_speed,
    tier_threshold_m,
)

if TYPE_CHECKING:
    from geo._types import ProgressFn
    from geo.io.areas import Area, Registry
    from geo.network.network import WalkNetwork

#: Buffer (m) around uncovered buildings before dissolving them into gap polygons.
GAP_BUILDING_BUFFER_M: float = 25.0


#: Bilingual label of the composite rows.
COMPOSITE_LABEL: tuple[str, str] = ("生活圈综合得分", "Life-circle composite score")

#: Reconciliation columns joined into the area rows when present.
RECONCILIATION_COLUMNS: tuple[str, ...] = ("plan_existing", "plan_new", "plan_upgrade", "osm_count")


def _nearest_matrix(units: pd.Series, access: pd.DataFrame, cats: Sequence[str]) -> np.ndarray:
    """(n_units, n_cats) nearest distances; inf where the access table has no value."""
    if access.empty:
        return np.full((len(units), len(cats)), np.inf)
    acc = access[access["category"].isin(cats)]
    dup = acc.duplicated(["unit_id", "category"])
    if dup.any():
        first = acc[dup].iloc[0]
        raise LifeCircleError(
            f"access table has two rows for unit '{first['unit_id']}' and "
            f"category '{first['category']}'"
        )
    piv = acc.pivot(index="unit_id", columns="category", values="nearest_m")
    piv = piv.reindex(index=units.to_numpy(), columns=list(cats))
    mat = piv.to_numpy(dtype=float, copy=True)
    mat[np.isnan(mat)] = np.inf
    return mat


def coverage_table(
    demand: pd.DataFrame,
    access: pd.DataFrame,
    categories: Mapping[str, CategorySpec],
    *,
    neighbourhoods: gpd.GeoDataFrame | None = None,
    basis: str = "network",
    completeness: float = float("nan"),
    scenario: str = "baseline",
    profiles: Sequence[str] = PROFILES,
    tiers: Sequence[int] = TIERS,
    note: str = "",
    search_m: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Covered population per area, neighbourhood, category, profile and tier (in memory).

    Parameters
    ----------
    demand
        ``unit_id, area, population`` and ``neighbourhood`` (or ``x, y`` in EPSG:32651 when
        ``neighbourhoods`` is given).
    access
        ``unit_id, category, nearest_m`` (contract *access*); units or categories without rows
        count as not covered.
    categories
        ``{category: CategorySpec}`` (see :func:`category_specs`).
    neighbourhoods
        Neighbourhood polygons to assign units to (default: the ``neighbourhood`` column).
    basis
        ``network``, ``estimate`` or ``none`` (``none``: coverage unknown, left empty).
    completeness
        Network completeness of the area (0-1), copied to every row.
    scenario, note
        Copied to every row.
    profiles, tiers
        Walking profiles and tiers (minutes) reported.
    search_m
        Optional ``{category: bound}`` of the access search; a threshold beyond it is noted.

    Returns
    -------
    DataFrame
        :data:`geo.io.tables.COVERAGE` columns, area rows (``unit = "ALL"``) first within each area.
    """
    if basis not in ("network", "estimate", "none"):
        raise LifeCircleError(f"basis must be network, estimate or none, got '{basis}'")
    for col in ("unit_id", "area", "population"):
        if col not in demand.columns:
            raise LifeCircleError(f"demand table lacks column '{col}'")
    cats = list(categories)
    pop = demand["population"].to_numpy(dtype=float)
    if neighbourhoods is not None:
        hood = np.empty(len(demand), dtype=object)
        for area_id, idx in demand.groupby("area").indices.items():
            sub = neighbourhoods[neighbourhoods["area"] == area_id]
            hood[idx] = assign_neighbourhood(
                demand["x"].to_numpy(float)[idx], demand["y"].to_numpy(float)[idx], sub
            )
    elif "neighbourhood" in demand.columns:
        hood = demand["neighbourhood"].to_numpy(dtype=object)
    else:
        hood = np.full(len(demand), None, dtype=object)
    near = _nearest_matrix(demand["unit_id"], access, cats)
    area = demand["area"].to_numpy(dtype=object)
    keys = pd.DataFrame({"area": area, "unit": hood})
    groups: list[tuple[str, str, np.ndarray]] = []
    for a, ix in keys.groupby("area").indices.items():
        idx = np.asarray(ix, dtype=np.int64)
        groups.append((str(a), ALL, idx))
        sub = keys.iloc[idx]
        for u, jdx in sub[sub["unit"].notna()].groupby("unit").indices.items():
            groups.append((str(a), str(u), idx[np.asarray(jdx, dtype=np.int64)]))
    default_speed = settings.WALK_SPEEDS_KMH["default"]
    known = basis != "none"
    rows: list[dict[str, Any]] = []

    def emit(
        category: str,
        tier: float,
        thr: float,
        reach: np.ndarray,
        profile: str,
        standard: bool,
        source: str,
        row_note: str,
    ) -> None:
        for a, u, idx in groups:
            p = float(pop[idx].sum())
            cov = float((pop[idx] * reach[idx]).sum()) if known else math.nan
            rows.append(
                {
                    "area": a,
                    "unit": u,
                    "category": category,
                    "tier": tier,
                    "threshold_m": thr,
                    "population": p,
                    "covered_population": cov,
                    "share": cov / p if known and p > 0 else math.nan,
                    "profile": profile,
                    "is_standard_tier": standard,
                    "threshold_source": source,
                    "n_units": len(idx),
                    "note": row_note,
                }
            )

    for profile in profiles:
        speed = profile_speed(profile)
        std_thr = np.array([categories[c].threshold_m * speed / default_speed for c in cats])
        for tier in tiers:
            t_thr = tier_threshold_m(tier, speed)
            thr_row = np.array(
                [std_thr[k] if categories[c].tier == tier else t_thr for k, c in enumerate(cats)]
            )
            for k, c in enumerate(cats):
                is_std = categories[c].tier == tier
                row_note = note
                if search_m is not None and c in search_m and thr_row[k] > search_m[c]:
                    row_note = (f"{note}; " if note else "") + (
                        f"access searched only to {search_m[c]:.0f} m: lower bound"
                    )
                emit(
                    c,
                    tier,
                    round(float(thr_row[k]), 1),
                    (near[:, k] <= thr_row[k]).astype(float),
                    profile,
                    is_std,
                    "taxonomy" if is_std else "tier",
                    row_note,
                )
            if cats:
                frac = (near <= thr_row[None, :]).mean(axis=1)
                emit(COMPOSITE, tier, t_thr, frac, profile, False, "tier", note)
        if cats:
            frac = (near <= std_thr[None, :]).mean(axis=1)
            emit(COMPOSITE, math.nan, math.nan, frac, profile, True, "taxonomy", note)
    out = pd.DataFrame(
        rows, columns=[c for c in COVERAGE.names if c not in ("basis", "completeness", "scenario")]
    )
    out["basis"] = basis
    out["completeness"] = completeness
    out["scenario"] = scenario
    labels = {c: (s.name_zh, s.name_en) for c, s in categories.items()}
    labels[COMPOSITE] = COMPOSITE_LABEL
    out["category_zh"] = out["category"].map(lambda c: labels.get(c, ("", ""))[0])
    out["category_en"] = out["category"].map(lambda c: labels.get(c, ("", ""))[1])
    return out[list(COVERAGE.names)]


def join_reconciliation(
    coverage: pd.DataFrame, reconciliation: pd.DataFrame | None
) -> pd.DataFrame:
    """Add plan-vs-OSM counts to the area rows (``unit = "ALL"``) of a coverage table.

    Parameters
    ----------
    coverage
        Output of :func:`coverage_table`.
    reconciliation
        ``area, category`` and any of ``plan_existing, plan_new, plan_upgrade, osm_count``
        (``out/inventory_reconciliation.csv``); None leaves the table unchanged.

    Returns
    -------
    DataFrame
        ``coverage`` plus those columns, ``plan_minus_osm`` (facilities the plan says exist
        that the map lacks, when positive) and ``reconciliation_note`` (the table's ``note``);
        empty on neighbourhood and composite rows.
    """
    if reconciliation is None or reconciliation.empty:
        return coverage
    for col in ("area", "category"):
        if col not in reconciliation.columns:
            raise LifeCircleError(f"reconciliation table lacks column '{col}'")
    cols = [c for c in RECONCILIATION_COLUMNS if c in reconciliation.columns]
    rec = reconciliation[["area", "category", *cols]].copy()
    rec = rec.groupby(["area", "category"], as_index=False)[cols].sum(min_count=1)
    if "plan_existing" in cols and "osm_count" in cols:
        rec["plan_minus_osm"] = rec["plan_existing"] - rec["osm_count"]
        cols.append("plan_minus_osm")
    text = "reconciliation_note"
    if "note" in reconciliation.columns:
        notes = reconciliation.groupby(["area", "category"])["note"].first().rename(text)
        rec = rec.merge(notes.reset_index(), on=["area", "category"], how="left")
    base = coverage.drop(columns=[c for c in [*cols, text] if c in coverage.columns])
    area_rows = (base["unit"] == ALL) & (base["category"] != COMPOSITE)
    joined = base[area_rows].reset_index().merge(rec, on=["area", "category"], how="left")
    joined = joined.set_index("index")
    out = base.copy()
    for c in cols:
        out[c] = np.nan
        out.loc[joined.index, c] = joined[c].to_numpy(dtype=float)
    if text in joined.columns:
        out[text] = ""
        out.loc[joined.index, text] = joined[text].fillna("").astype(str).to_numpy()
    return out


# --------------------------------------------------------------------------------------------
# gaps
# --------------------------------------------------------------------------------------------
def gap_polygons(
    demand: gpd.GeoDataFrame,
    access: pd.DataFrame,
    categories: Mapping[str, CategorySpec],
    *,
    basis: str = "network",
    scenario: str = "baseline",
    buffer_m: float = GAP_BUILDING_BUFFER_M,
) -> gpd.GeoDataFrame:
    """Uncovered populated units per category, dissolved and ranked (see the module docstring).

    Parameters
    ----------
    demand
        Demand units (``unit_id, area, population``, ``unit_type`` building|grid, geometry in
        any CRS; ``x, y`` EPSG:32651 representative points if present).
    access
        ``unit_id, category, nearest_m``.
    categories
        ``{category: CategorySpec}``; a unit is uncovered when its nearest facility is beyond
        the category's standard ``threshold_m``.
    basis
        Basis of the access numbers; ``none`` gives no gaps (coverage unknown).
    scenario
        Copied to every row.
    buffer_m
        Buffer (m) around buildings before dissolving.

    Returns
    -------
    GeoDataFrame
        :data:`geo.io.tables.GAPS` columns in WGS-84, sorted by area, category, rank.
    """
    empty = gpd.GeoDataFrame(
        {c: [] for c in GAPS.names if c != "geometry"},
        geometry=gpd.GeoSeries([], crs=settings.STORAGE_CRS),
    )
    if basis == "none" or demand.empty:
        return empty
    proj = demand.to_crs(settings.PROJECTED_CRS) if demand.crs is not None else demand
    geoms = proj.geometry.values
    if "unit_type" in proj.columns:
        is_b = (proj["unit_type"] == "building").to_numpy()
        geoms = geoms.copy()
        geoms[is_b] = shapely.buffer(geoms[is_b], buffer_m, quad_segs=4)
    if {"x", "y"} <= set(proj.columns):
        reps = shapely.points(proj["x"].to_numpy(float), proj["y"].to_numpy(float))
    else:
        reps = shapely.point_on_surface(proj.geometry.values)
    cats = list(categories)
    near = _nearest_matrix(proj["unit_id"], access, cats)
    pop = proj["population"].to_numpy(dtype=float)
    area = proj["area"].to_numpy(dtype=object)
    rows: list[dict[str, Any]] = []
    for k, c in enumerate(cats):
        thr = categories[c].threshold_m
        gap = (near[:, k] > thr) & (pop > 0)
        for a in pd.unique(area[gap]):
            idx = np.flatnonzero(gap & (area == a))
            merged = shapely.union_all(shapely.buffer(geoms[idx], 0))
            parts = shapely.get_parts(merged)
            parts = parts[shapely.area(parts) > 0]
            if len(parts) == 0:
                continue
            tree = shapely.STRtree(parts)
            ui, pi = tree.query(reps[idx], predicate="intersects")
            # a point on a shared edge belongs to the first part only
            first = pd.Series(pi).groupby(ui).first()
            owner = np.full(len(idx), -1)
            owner[first.index.to_numpy()] = first.to_numpy()
            lost = owner < 0
            if lost.any():  # rep point off its buffered polygon: nearest part
                nn = tree.query_nearest(reps[idx][lost], all_matches=False)
                owner[np.flatnonzero(lost)[nn[0]]] = nn[1]
            part_pop = np.bincount(owner, weights=pop[idx], minlength=len(parts))
            part_n = np.bincount(owner, minlength=len(parts))
            for j, g in enumerate(parts):
                if part_n[j] == 0:
                    continue
                rows.append(
                    {
                        "area": a,
                        "category": c,
                        "population": float(part_pop[j]),
                        "area_m2": float(shapely.area(g)),
                        "basis": basis,
                        "n_units": int(part_n[j]),
                        "threshold_m": thr,
                        "scenario": scenario,
                        "geometry": g,
                    }
                )
    if not rows:
        return empty
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.PROJECTED_CRS)
    gdf = gdf.sort_values(
        ["area", "category", "population", "area_m2"],
        ascending=[True, True, False, False],
        kind="stable",
    )
    gdf["rank"] = gdf.groupby(["area", "category"]).cumcount() + 1
    gdf["gap_id"] = [
        f"{a}-{c}-{r:03d}"
        for a, c, r in zip(gdf["area"], gdf["category"], gdf["rank"], strict=True)
    ]
    gdf = gdf.reset_index(drop=True)[list(GAPS.names)]
    return gdf.to_crs(settings.STORAGE_CRS)


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
def read_reconciliation(out: str | os.PathLike[str]) -> pd.DataFrame | None:
    """``<out>/inventory_reconciliation.csv`` or None."""
    path = Path(out) / "inventory_reconciliation.csv"
    if not path.exists():
        return None
    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except Exception as exc:
        raise LifeCircleError(f"cannot read reconciliation table: {exc}", path=path) from None


def write_coverage(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``coverage.csv``, keeping the rows of other areas and scenarios already in it.

    UTF-8 with BOM, so Excel reads the Chinese.
    """
    path = Path(path)
    if path.exists():
        try:
            old = pd.read_csv(path, encoding="utf-8-sig")
            keys = set(zip(table["area"], table["scenario"], strict=True))
            keep = [k not in keys for k in zip(old["area"], old["scenario"], strict=True)]
            table = pd.concat([old[keep], table], ignore_index=True)
        except Exception as exc:  # pandas raises many kinds for a broken CSV
            set_aside(path, exc)
    return write_atomic(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))


def write_gaps(
    gaps: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    replace_areas: Iterable[str],
    scenario: str = "baseline",
) -> Path:
    """Write ``gaps.gpkg`` (layer ``gaps``, WGS-84), keeping other areas/scenarios in the file."""
    path = Path(path)
    areas = set(replace_areas)
    frames = [gaps.to_crs(settings.STORAGE_CRS)]
    if path.exists():
        try:
            old = gpd.read_file(path, layer="gaps")
            drop = old["area"].isin(areas) & (old["scenario"] == scenario)
            frames.insert(0, old[~drop].to_crs(settings.STORAGE_CRS))
        except Exception as exc:  # pyogrio raises several types for a broken GeoPackage
            set_aside(path, exc)
    frames = [f for f in frames if not f.empty]
    merged = (
        gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
        if frames
        else gaps.to_crs(settings.STORAGE_CRS)
    )
    return write_atomic(path, lambda p: merged.to_file(p, layer="gaps", driver="GPKG"))


# --------------------------------------------------------------------------------------------
# the stage
# --------------------------------------------------------------------------------------------
def coverage_check(
    net: WalkNetwork,
    units: pd.DataFrame,
    pts: pd.DataFrame,
    categories: Mapping[str, CategorySpec],
    factor: float,
) -> list[dict[str, Any]]:
    """Share covered at each standard threshold by network and by estimate (default profile).

    Stored with the detour calibration (:func:`geo.planning.context.detour_calibration`).
    """
    thr = {c: s.threshold_m for c, s in categories.items()}
    on_net = compute_access(net, units[["unit_id", "x", "y"]], pts[["category", "x", "y"]], thr)
    est = estimate.estimate_access(units, pts, thr, factor)
    a = coverage_table(units, on_net, categories, profiles=("default",))
    b = coverage_table(units, est, categories, basis="estimate", profiles=("default",))
    sa = a[(a["unit"] == ALL) & a["is_standard_tier"]]
    sb = b[(b["unit"] == ALL) & b["is_standard_tier"]]
    net_share = sa["share"].to_numpy(dtype=float)
    est_share = sb["share"].to_numpy(dtype=float)
    thr_m = sa["threshold_m"].to_numpy(dtype=float)
    rows: list[dict[str, Any]] = []
    for k, cat in enumerate(sa["category"].astype(str)):
        rows.append(
            {
                "category": cat,
                "threshold_m": None if np.isnan(thr_m[k]) else float(thr_m[k]),
                "network_share": round(float(net_share[k]), 4),
                "estimate_share": round(float(est_share[k]), 4),
                "difference": round(float(est_share[k] - net_share[k]), 4),
            }
        )
    return rows


def area_coverage_rows(
    ctx: AreaContext,
    access: pd.DataFrame,
    specs: Mapping[str, CategorySpec],
    *,
    scenario: str,
    status: Mapping[str, str] | None = None,
    searched: str = "",
    composite_status: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Coverage rows of one area from its access table (every stage that makes rows uses this).

    Adds the search-bound note, the ``data_status`` of each category (``status``, from
    :func:`geo.planning.data_status.category_status`: no data is not 0 %), ``pop_source``
    (where the people come from) and ``population_note`` (a caveat of the census figure) to
    :func:`coverage_table`.
    """
    search: dict[str, float] | None = None
    if "search_m" in access.columns and not access.empty:
        bounds = access.groupby("category")["search_m"].min()
        search = {str(k): float(v) for k, v in bounds.items()}
    cov = coverage_table(
        ctx.demand,
        access,
        specs,
        basis=ctx.basis,
        completeness=ctx.completeness,
        scenario=scenario,
        note=ctx.note,
        search_m=search,
    )
    if status is not None:
        cov = data_status.apply_data_status(
            cov, status, searched, composite_status=composite_status
        )
    sources = sorted({str(s).split(":")[0] for s in ctx.demand["pop_source"].dropna()})
    census = any(s.startswith("census") for s in sources)
    cov["pop_source"] = "+".join(sources)
    cov["population_note"] = ctx.census_note if census else ""
    return cov


def stage_context(
    registry: Registry,
    area: Area,
    out: str | os.PathLike[str],
    nets: Mapping[str, WalkNetwork | None],
    facilities: gpd.GeoDataFrame | None,
    specs: Mapping[str, CategorySpec],
    *,
    cache_dir: Path | None = None,
    **options: Any,
) -> AreaContext:
    """Return the :class:`AreaContext` of one area as every planning stage builds it.

    The area's network from ``nets``, and :func:`coverage_check` stored with a new detour
    calibration; ``options`` go to :func:`geo.planning.context.build_context`.
    """
    return build_context(
        registry,
        area,
        out,
        nets.get(area.id),
        facilities=facilities,
        cache_dir=cache_dir,
        specs=specs,
        check=coverage_check,
        **options,
    )


def stage_access(
    ctx: AreaContext,
    out: str | os.PathLike[str],
    facilities: gpd.GeoDataFrame | None,
    specs: Mapping[str, CategorySpec],
    scenario: str = "baseline",
) -> pd.DataFrame:
    """Return the access table coverage uses for one area.

    Network basis: the table ``lifecircle access`` wrote (never recomputed here). Estimate
    basis: the straight-line x detour estimate to the existing facilities, written beside it
    (:func:`geo.io.tables.access_path`). Basis ``none``: an empty table.
    """
    if ctx.basis == "network":
        path = access_path(out, ctx.area, "network", scenario)
        if not path.exists():
            raise MissingStageError(
                f"access table of area '{ctx.area}'",
                path=path,
                command=f"lifecircle access --area {ctx.area}",
            )
        acc = pd.read_parquet(path)
        return ACCESS.validate(acc, path)
    if ctx.basis == "none" or facilities is None:
        return pd.DataFrame(columns=["unit_id", "category", "nearest_m"])
    pts = estimate.facility_points(facilities, ctx.boundary)
    thresholds = {c: s.threshold_m for c, s in specs.items()}
    acc = estimate.estimate_access(ctx.demand, pts, thresholds, ctx.factor, note=ctx.note)
    target = access_path(out, ctx.area, "estimate", scenario)
    write_atomic(target, lambda p: acc.to_parquet(p, index=False))
    return acc


def run_coverage(
    registry: Registry,
    areas: Sequence[Area],
    out: str | os.PathLike[str],
    *,
    nets: Mapping[str, Any],
    scenario: str = "baseline",
    taxonomy: Any = None,
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    calibration: DetourCalibration | None = None,
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Run the coverage stage: ``coverage.csv`` and ``gaps.gpkg`` for the chosen areas.

    Reads ``<out>/demand/<area>.gpkg`` (``lifecircle demand``), the access table or an
    estimate (:func:`stage_access`), the taxonomy and, when present,
    ``<out>/inventory_reconciliation.csv``. ``calibration``: a detour calibration to use for
    estimates instead of the one in ``<out>`` (the city screen computes it once).

    Returns
    -------
    (DataFrame, GeoDataFrame)
        The coverage rows and gap polygons of these areas (the files also keep other areas).
    """
    out = Path(out)
    fac = read_facilities(out) if FACILITIES.path(out).exists() else None
    tables, gap_frames = [], []
    specs: dict[str, CategorySpec] | None = (
        category_specs(taxonomy) if taxonomy is not None else None
    )
    it = progress(areas, "coverage / 覆盖率") if progress is not None else areas
    for area in it:
        demand = read_demand(out, area.id)
        if specs is None:
            specs = category_specs()
        if not specs:  # no taxonomy: categories of the access table (tier 15)
            path = access_path(out, area.id, "network", scenario)
            cats: list[str] = (
                [str(c) for c in pd.read_parquet(path)["category"].unique()]
                if path.exists()
                else []
            )
            specs = category_specs(None, fallback=cats)
        ctx = stage_context(
            registry,
            area,
            out,
            nets,
            fac,
            specs,
            cache_dir=cache_dir,
            demand=demand,
            engine=False,
            calibration=calibration,
        )
        acc = stage_access(ctx, out, fac, specs, scenario)
        status = data_status.category_status(fac, area.id, ctx.boundary, specs, scenario)
        cov = area_coverage_rows(
            ctx,
            acc,
            specs,
            scenario=scenario,
            status=status,
            searched=data_status.sources_searched(area, fac),
        )
        tables.append(cov)
        gap_frames.append(
            data_status.drop_gaps(
                gap_polygons(ctx.demand, acc, specs, basis=ctx.basis, scenario=scenario), status
            )
        )
    table = (
        pd.concat(tables, ignore_index=True)
        if tables
        else pd.DataFrame(columns=list(COVERAGE.names))
    )
    table = join_reconciliation(table, read_reconciliation(out))
    gaps = gpd.GeoDataFrame(pd.concat(gap_frames, ignore_index=True), crs=settings.STORAGE_CRS)
    write_coverage(table, COVERAGE.path(out))
    write_gaps(gaps, GAPS.path(out), [a.id for a in areas], scenario)
    write_text_atomic(out / "coverage_README.txt", README_TEXT + data_status.readme_text())
    return table, gaps


README_TEXT = """coverage.csv / gaps.gpkg — 15分钟社区生活圈 coverage (lifecircle coverage)
basis: network = walking distance on the OSM network; estimate = straight-line distance x a
detour factor calibrated on a complete network (see detour_calibration.json), NOT network
distance; none = no data, coverage unknown.
tier thresholds: default 4 km/h (5/10/15 min = 333/667/1000 m), elderly 3 km/h (250/500/750 m);
at a category's own tier (is_standard_tier) its taxonomy threshold is used.
Population: 2010 census by subdistrict unless stated in out/demand/<area>.gpkg pop_source.
Map data © OpenStreetMap contributors (ODbL).
"""
