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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from geo import settings
from geo.io.files import set_aside, write_atomic
from geo.io.tables import COVERAGE, DELTAS, GAPS, SCENARIOS, access_path, read_facilities
from geo.planning import coverage as cov_mod
from geo.planning import data_status
from geo.planning.context import AreaContext, category_specs, scenario_facilities
from geo.planning.coverage import area_coverage_rows
from geo.planning.sites import read_sites

if TYPE_CHECKING:
    from geo._types import ProgressFn
    from geo.io.areas import Area, Registry

#: Bilingual scenario labels (Chinese first).
SCENARIO_LABELS: dict[str, tuple[str, str]] = {
    "baseline": ("现状", "Baseline (existing)"),
    "plan": ("规划", "Plan (placed plan facilities)"),
    "plan+recommended": ("规划+推荐选址", "Plan + recommended sites"),
}


# ---------------------------------------------------------------------------------------------
# coverage per scenario and deltas
# ---------------------------------------------------------------------------------------------
def scenario_coverage(
    setup: AreaContext,
    facilities: Mapping[str, pd.DataFrame],
    specs: Mapping[str, Any],
    status: Mapping[str, Mapping[str, str]] | None = None,
    searched: str = "",
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Access tables and coverage rows of one area for each scenario.

    Parameters
    ----------
    setup
        The area (:func:`geo.planning.context.build_context`).
    facilities
        ``{scenario: facility points}`` (:func:`scenario_facilities`).
    specs
        ``{category: CategorySpec}`` (:func:`geo.planning.context.category_specs`).
    status, searched
        ``{scenario: {category: data_status}}`` and the sources searched
        (:mod:`geo.planning.data_status`); without them no ``data_status`` is added.

    Returns
    -------
    (access, coverage)
        ``{scenario: access table}`` and ``{scenario: coverage rows}``
        (:func:`geo.coverage.coverage_table` columns).
    """
    thresholds = {c: float(s.threshold_m) for c, s in specs.items()}
    access: dict[str, pd.DataFrame] = {}
    cover: dict[str, pd.DataFrame] = {}
    for scen, fac in facilities.items():
        if setup.basis == "none":
            acc = pd.DataFrame(columns=["unit_id", "category", "nearest_m"])
        else:
            acc = setup.access(fac, thresholds)
        access[scen] = acc
        cov = area_coverage_rows(
            setup,
            acc,
            specs,
            scenario=scen,
            status=None if status is None else status[scen],
            searched=searched,
            composite_status=None if status is None else status[SCENARIOS[0]],
        )
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
        :data:`DELTAS.names`: ``delta_vs_baseline`` (people) and ``delta_share`` against the
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
    return sel[list(DELTAS.names)].reset_index(drop=True)


def deltas_path(out: str | os.PathLike[str]) -> Path:
    """``<out>/scenario_deltas.csv``."""
    return DELTAS.path(out)


def write_deltas(table: pd.DataFrame, out: str | os.PathLike[str]) -> Path:
    """Write ``scenario_deltas.csv`` (UTF-8 with BOM), keeping other areas' rows in the file."""
    path = deltas_path(out)
    if path.exists():
        try:
            old = pd.read_csv(path, encoding="utf-8-sig")
            old = old[~old["area"].astype(str).isin(set(table["area"].astype(str)))]
            table = pd.concat([old, table], ignore_index=True)
        except Exception as exc:  # pandas raises many kinds for a broken CSV
            set_aside(path, exc)
    return write_atomic(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))


def _write_parquet(table: pd.DataFrame, target: Path) -> None:
    write_atomic(target, lambda p: table.to_parquet(p, index=False))


def run_scenarios(
    registry: Registry,
    areas: Sequence[Area],
    out: str | os.PathLike[str],
    *,
    nets: Mapping[str, Any],
    cache_dir: Path | None = None,
    taxonomy: Any = None,
    progress: ProgressFn | None = None,
    write_coverage_rows: bool = True,
) -> pd.DataFrame:
    """Run the scenario stage: access per scenario, coverage rows and ``scenario_deltas.csv``.

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
    out = Path(out)
    specs = category_specs(taxonomy)
    fac = read_facilities(out)
    sites = read_sites(out)
    tables: list[pd.DataFrame] = []
    gaps: dict[str, list[gpd.GeoDataFrame]] = {s: [] for s in SCENARIOS[1:]}
    counts: dict[tuple[str, str], pd.DataFrame] = {}
    it = progress(areas, "scenarios / 情景") if progress is not None else areas
    for area in it:
        setup = cov_mod.stage_context(registry, area, out, nets, fac, specs, cache_dir=cache_dir)
        fac_by = {
            s: scenario_facilities(fac, s, boundary=setup.boundary, sites=sites, area_id=area.id)
            for s in SCENARIOS
        }
        for s, f in fac_by.items():
            counts[(area.id, s)] = f
        status = {  # no data is not zero (geo.planning.data_status)
            s: data_status.category_status(fac, area.id, setup.boundary, specs, s)
            for s in SCENARIOS
        }
        searched = data_status.sources_searched(area, fac)
        access, cover = scenario_coverage(setup, fac_by, specs, status, searched)
        for s in SCENARIOS[1:]:
            if setup.basis != "none":
                target = access_path(out, area.id, setup.basis, s)
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
        return pd.DataFrame(columns=list(DELTAS.names))
    allcov = pd.concat(tables, ignore_index=True)
    deltas = deltas_table(allcov, counts)
    write_deltas(deltas, out)
    if write_coverage_rows:
        rows = allcov[allcov["scenario"] != "baseline"]
        cov_mod.write_coverage(rows, COVERAGE.path(out))
        for s, frames in gaps.items():
            frames = [f for f in frames if len(f)]
            g = (
                gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
                if frames
                else cov_mod.gap_polygons(
                    setup.demand.iloc[:0], pd.DataFrame(), specs, basis="none", scenario=s
                )
            )
            cov_mod.write_gaps(g, GAPS.path(out), [a.id for a in areas], s)
    return deltas
