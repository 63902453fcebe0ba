"""One view of the results: what a map shows for one area, category and setting.

The dashboard and every export draw a :class:`View`, so a map on screen and the file made
from it show the same cells, shares, gaps and facilities. Gaps are computed for the view
(its tier, walking profile and scenario, and any simulated facilities) with the pipeline's
gap rule (:func:`geo.planning.coverage.gap_polygons`) from the access table the coverage
figures came from: gaps and shares always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.planning.context import CategorySpec
from geo.planning.coverage import GAP_BUILDING_BUFFER_M, gap_polygons
from geo.reporting.results import (
    COMPOSITE,
    Results,
    area_summary,
    cell_shares,
    check_choice,
    data_status,
    scenario_facilities,
)

#: Label of simulated facilities and figures, on screen and in every export.
WHATIF_LABEL: tuple[str, str] = ("模拟", "what-if")


@dataclass(frozen=True)
class WhatIfPoint:
    """A facility a user added (simulated): WGS-84 position and its label."""

    lon: float
    lat: float
    label_zh: str
    label_en: str

    def label(self, lang: str = "zh") -> str:
        """Return the label in ``lang``."""
        return self.label_en if lang == "en" else self.label_zh


@dataclass(frozen=True)
class WhatIfOverlay:
    """Simulated facilities of one area and category, and the distances they give.

    ``nearest_m`` is per demand unit (order of :meth:`Results.demand`), the access table's
    distance or the distance to a simulated facility, whichever is shorter.
    """

    points: tuple[WhatIfPoint, ...]
    nearest_m: np.ndarray
    method: str = "network"
    factor: float = 1.0


@dataclass
class View:
    """What one map shows (see the module docstring)."""

    area: str
    category: str
    tier: int
    scenario: str
    profile: str
    threshold_m: float
    basis: str
    cells: pd.DataFrame  # unit, population, covered_population, share, basis, threshold_m
    summary: dict[str, Any]
    gaps: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    whatif: WhatIfOverlay | None = None
    before: dict[str, Any] = field(default_factory=dict)  # summary without the what-if

    @property
    def simulated(self) -> bool:
        """Whether simulated (what-if) facilities change the figures."""
        return self.whatif is not None and len(self.whatif.points) > 0


def _empty_gaps() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [], "rank": [], "threshold_m": []}, geometry=[], crs=settings.STORAGE_CRS
    )


def _gap_demand(results: Results, area: str) -> gpd.GeoDataFrame:
    """Return the area's demand units, projected, buildings already buffered.

    Buffered as :func:`~geo.planning.coverage.gap_polygons` buffers them (once per area).
    """

    def load() -> gpd.GeoDataFrame:
        dem = results.demand(area)
        if dem.empty or "unit_id" not in dem:
            return dem
        proj = dem.to_crs(settings.PROJECTED_CRS)
        if "unit_type" in proj:
            is_b = (proj["unit_type"] == "building").to_numpy()
            geoms = proj.geometry.values.copy()
            geoms[is_b] = shapely.buffer(geoms[is_b], GAP_BUILDING_BUFFER_M, quad_segs=4)
            proj = proj.set_geometry(geoms).assign(unit_type="buffered")
        return proj

    return results._cached("gap_demand", area, load)


def view_gaps(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int,
    scenario: str,
    profile: str,
    nearest_m: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Gap polygons of one view: populated units beyond the view's threshold, dissolved.

    Parameters
    ----------
    results, area, category
        The results and the view's area and category (``composite`` has no gaps).
    tier, scenario, profile
        The view's setting; the threshold is the one ``coverage.csv`` states for it.
    nearest_m
        Distances per demand unit (default: the scenario's access table).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`geo.planning.coverage.GAP_COLUMNS`, WGS-84, ranked by population.
    """
    basis = results.coverage_basis(area)
    if category == COMPOSITE or basis == "none":
        return _empty_gaps()
    if data_status(results, area, category, scenario=scenario, profile=profile)[0] != "ok":
        return _empty_gaps()  # no facility data is not a gap (issue 11)
    dem = _gap_demand(results, area)
    if dem.empty or "unit_id" not in dem:
        return _empty_gaps()
    thr = results.threshold(area, category, tier, profile)
    near = results.nearest(area, category, scenario) if nearest_m is None else nearest_m
    if near is None:
        return _empty_gaps()
    acc = pd.DataFrame(
        {"unit_id": dem["unit_id"].astype(str).to_numpy(), "category": category, "nearest_m": near}
    )
    spec = {category: CategorySpec(category, int(tier), float(thr))}
    return gap_polygons(dem, acc, spec, basis=basis, scenario=scenario)


def _simulated_cells(
    results: Results, area: str, nearest_m: np.ndarray, thr: float, cells: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, float]]:
    dem = results.demand(area)
    pop = pd.to_numeric(dem["population"], errors="coerce").fillna(0).to_numpy(float)
    covered = pop * (nearest_m <= thr + 1e-9)
    if "neighbourhood" in dem:
        hood = dem["neighbourhood"].astype(str).to_numpy()
    else:
        proj = dem.to_crs(settings.PROJECTED_CRS).geometry.representative_point()
        hood = results.neighbourhood_of(area, proj.x.to_numpy(), proj.y.to_numpy()).astype(str)
    per = pd.DataFrame({"unit": hood, "p": pop, "c": covered}).groupby("unit").sum()
    out = cells.copy()
    p = out["unit"].map(per["p"])
    c = out["unit"].map(per["c"])
    out["share_before"] = out["share"]
    known = out["share"].notna() & p.notna()
    out.loc[known, "covered_population"] = c[known]
    out.loc[known, "share"] = np.where(p[known] > 0, c[known] / p[known], np.nan)
    total = float(pop.sum())
    area_fig = {
        "population": total,
        "covered_population": float(covered.sum()),
        "share": float(covered.sum() / total) if total > 0 else float("nan"),
    }
    return out, area_fig


def make_view(
    results: Results,
    area: str,
    category: str,
    *,
    tier: int = 15,
    scenario: str = "baseline",
    profile: str = "default",
    whatif: WhatIfOverlay | None = None,
) -> View:
    """Return the view of one area, category and setting, with simulated facilities if any.

    Without ``whatif`` the cells and the area figure are those of ``coverage.csv``. With it,
    they are recomputed from ``whatif.nearest_m`` at the same threshold, and the figures
    without it are kept in ``before``.
    """
    results.area(area)
    results.category(category)
    check_choice(int(tier), (5, 10, 15), "tier")
    thr = results.threshold(area, category, tier, profile) if category != COMPOSITE else np.nan
    cells = cell_shares(results, area, category, tier=tier, scenario=scenario, profile=profile)
    summary = area_summary(results, area, category, tier=tier, scenario=scenario, profile=profile)
    if whatif is not None and not whatif.points:
        whatif = None
    before: dict[str, Any] = {}
    nearest = None
    if whatif is not None and category != COMPOSITE:
        nearest = whatif.nearest_m
        before = dict(summary)
        cells, fig = _simulated_cells(results, area, nearest, float(thr), cells)
        summary = {**summary, **fig}
    gaps = view_gaps(
        results,
        area,
        category,
        tier=tier,
        scenario=scenario,
        profile=profile,
        nearest_m=nearest,
    )
    fac = scenario_facilities(results, area, None if category == COMPOSITE else category, scenario)
    return View(
        area=area,
        category=category,
        tier=int(tier),
        scenario=scenario,
        profile=profile,
        threshold_m=float(thr),
        basis=results.coverage_basis(area),
        cells=cells,
        summary=summary,
        gaps=gaps,
        facilities=fac,
        whatif=whatif,
        before=before,
    )
