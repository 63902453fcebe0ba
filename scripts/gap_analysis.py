#!/usr/bin/env python
"""Gap analysis for one area and category: GeoPackage, CSV and Excel files for analysts.

Reads the results of ``lifecircle demand`` / ``access`` / ``coverage`` in ``--out`` and writes
``<out>/analysis/<area>_<category>_<scenario>.{gpkg,csv,xlsx}``:

* GeoPackage (WGS-84, opens in QGIS): layers ``gaps`` (uncovered populated areas, ranked),
  ``units`` (demand units with nearest distance and covered flags) and ``neighbourhoods``
  (neighbourhood polygons with the share covered per tier);
* CSV (UTF-8 with BOM, opens in Excel): the neighbourhood coverage table;
* XLSX: sheets ``coverage``, ``gaps``, ``units`` and ``about`` (sources, basis, CRS, credits).

Example::

    python scripts/gap_analysis.py --area xinhualu --category market --scenario baseline
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo import settings
from geo._errors import LifeCircleError
from geo.demand.neighbourhoods import read_neighbourhoods
from geo.demand.population import read_demand
from geo.io.files import write_atomic
from geo.io.tables import ALL, access_path
from geo.planning.context import category_specs
from geo.planning.coverage import coverage_table, gap_polygons

CREDIT = "Map data © OpenStreetMap contributors (ODbL)"


def _basis(out: Path, area: str, scenario: str) -> tuple[str, float, str]:
    """The area's ``(basis, completeness, note)``: from coverage.csv when present, else from
    which access file exists."""
    cov = out / "coverage.csv"
    if cov.exists():
        table = pd.read_csv(
            cov, encoding="utf-8-sig", usecols=["area", "scenario", "basis", "completeness", "note"]
        )
        rows = table[(table["area"] == area) & (table["scenario"] == scenario)]
        if not rows.empty:
            note = rows["note"].iloc[0]
            return (
                str(rows["basis"].iloc[0]),
                float(rows["completeness"].iloc[0]),
                "" if pd.isna(note) else str(note),
            )
    for basis in ("network", "estimate"):
        if access_path(out, area, basis, scenario).exists():
            return basis, float("nan"), ""
    return "none", float("nan"), ""


def analyse(
    out: Path, area: str, category: str, scenario: str = "baseline", profile: str = "default"
) -> dict[str, Path]:
    """Write the gap-analysis files of one area, category and scenario.

    Parameters
    ----------
    out
        Results folder of the pipeline.
    area, category, scenario
        What to analyse (category ids as in ``data/facilities/taxonomy.yaml``).
    profile
        Walking profile of the ``units`` flags and the coverage sheet (default|elderly).

    Returns
    -------
    dict
        ``{"gpkg": path, "csv": path, "xlsx": path}``.
    """
    specs = category_specs()
    if category not in specs:
        raise LifeCircleError(f"unknown category '{category}'; known: {', '.join(specs)}")
    spec = {category: specs[category]}
    demand = read_demand(out, area)
    hoods = read_neighbourhoods(out / "neighbourhoods.gpkg")
    hoods = hoods[hoods["area"] == area]
    basis, completeness, note = _basis(out, area, scenario)
    if basis == "none":
        access = pd.DataFrame(columns=["unit_id", "category", "nearest_m", "n_within"])
    else:
        path = access_path(out, area, basis, scenario)
        if not path.exists():
            raise LifeCircleError(
                f"no access table for area '{area}', scenario '{scenario}'; "
                "run `lifecircle access` / `lifecircle coverage` first",
                path=path,
            )
        access = pd.read_parquet(path)
    access = access[access["category"] == category]

    cov = coverage_table(
        demand, access, spec, basis=basis, scenario=scenario, completeness=completeness, note=note
    )
    cov = cov[cov["category"] == category].reset_index(drop=True)
    gaps = gap_polygons(demand, access, spec, basis=basis, scenario=scenario)

    acc = access.set_index("unit_id")
    units = demand.copy()
    units["nearest_m"] = acc["nearest_m"].reindex(units["unit_id"]).to_numpy()
    if "n_within" in acc.columns:
        units["n_within"] = acc["n_within"].reindex(units["unit_id"]).to_numpy()
    prof = cov[cov["profile"] == profile]
    for r in prof[prof["unit"] == ALL].itertuples():
        col = f"covered_{int(r.tier)}min"
        units[col] = (units["nearest_m"] <= r.threshold_m) if basis != "none" else pd.NA
    units["basis"] = basis
    units["nearest_m"] = units["nearest_m"].where(units["nearest_m"] < float("inf"))

    wide = prof[prof["unit"] != ALL].pivot(index="unit", columns="tier", values="share")
    wide.columns = [f"share_{int(t)}min" for t in wide.columns]
    pop = prof[prof["unit"] != ALL].groupby("unit")["population"].first()
    hood_layer = hoods.merge(wide, left_on="neighbourhood", right_index=True, how="left")
    hood_layer["population"] = hood_layer["neighbourhood"].map(pop).fillna(0.0)
    hood_layer["category"] = category
    hood_layer["basis"] = basis

    stem = f"{area}_{category}_{scenario}"
    folder = out / "analysis"
    paths = {
        "gpkg": folder / f"{stem}.gpkg",
        "csv": folder / f"{stem}.csv",
        "xlsx": folder / f"{stem}.xlsx",
    }

    def write_gpkg(p: Path) -> None:
        for name, layer in (("gaps", gaps), ("units", units), ("neighbourhoods", hood_layer)):
            gdf = gpd.GeoDataFrame(layer, geometry="geometry").to_crs(settings.STORAGE_CRS)
            gdf.to_file(p, layer=name, driver="GPKG")

    write_atomic(paths["gpkg"], write_gpkg)
    write_atomic(paths["csv"], lambda p: cov.to_csv(p, index=False, encoding="utf-8-sig"))

    def table(gdf: gpd.GeoDataFrame) -> pd.DataFrame:
        if gdf.empty:
            return pd.DataFrame(gdf.drop(columns="geometry"))
        pts = (
            gdf.to_crs(settings.PROJECTED_CRS)
            .geometry.representative_point()
            .to_crs(settings.STORAGE_CRS)
        )
        return pd.DataFrame(gdf.drop(columns="geometry")).assign(
            lon=pts.x.round(6), lat=pts.y.round(6)
        )

    about = pd.DataFrame(
        {
            "item": [
                "area",
                "category",
                "scenario",
                "profile",
                "basis",
                "standard threshold (m)",
                "tier",
                "CRS",
                "credit",
            ],
            "value": [
                area,
                f"{category} {specs[category].name_zh} {specs[category].name_en}",
                scenario,
                profile,
                basis,
                specs[category].threshold_m,
                specs[category].tier,
                "EPSG:4326 (WGS-84); distances in metres (EPSG:32651)",
                CREDIT,
            ],
        }
    )

    def write_xlsx(p: Path) -> None:
        with pd.ExcelWriter(p, engine="openpyxl") as xl:
            cov.to_excel(xl, sheet_name="coverage", index=False)
            table(gaps).to_excel(xl, sheet_name="gaps", index=False)
            table(units).to_excel(xl, sheet_name="units", index=False)
            about.to_excel(xl, sheet_name="about", index=False)

    write_atomic(paths["xlsx"], write_xlsx)
    return paths


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--area", required=True, help="Area id, e.g. xinhualu")
    ap.add_argument("--category", required=True, help="Category id, e.g. market")
    ap.add_argument("--scenario", default="baseline", help="Scenario (default: baseline)")
    ap.add_argument("--profile", default="default", choices=sorted(settings.WALK_SPEEDS_KMH))
    ap.add_argument("--out", type=Path, default=settings.DEFAULT_OUT, help="Results folder")
    args = ap.parse_args(argv)
    try:
        paths = analyse(args.out, args.area, args.category, args.scenario, args.profile)
    except LifeCircleError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for kind, path in paths.items():
        print(f"wrote {kind}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
