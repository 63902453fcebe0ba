"""Demand units and their population (table *demand*, geo.io.tables.DEMAND).

Units
-----
A fixed 100 m grid (anchored at the origin of EPSG:32651, so a cell never moves) is laid over
the area, clipped to it, minus water (Geofabrik ``gis_osm_water_a_free_1`` + OSM
``natural=water``) and parks (Geofabrik ``gis_osm_pois_a_free_1`` ``fclass=park`` + OSM
``leisure=park``). OSM residential buildings (``building=residential|apartments|house|
dormitory|...``, or ``building=yes`` inside ``landuse=residential``) are read from the area's
network and feature files.

**Mixing rule.** A 100 m cell that holds the representative point of at least one residential
building is *building-covered*: its residents live in those buildings, which become the
demand units there. Every other cell with residential land is itself a demand unit. So the
whole area has demand: buildings where OSM maps them, the grid elsewhere. (Partial building
data, e.g. 五角场 where the extract covers only part of the area, gives a mix.)

Population
----------
*Raster* (``raster=`` a WorldPop / GHS-POP style GeoTIFF of people per pixel, any CRS): the
raster is resampled to a 10 m grid in EPSG:32651 (density-preserving: each fine pixel gets its
source pixel's people per m² times its own area), summed per 100 m cell, and a covered cell's
sum is shared among its buildings by floor area. People on pixels of cells without residential
land (water, parks) are spread over the units in proportion, so the units hold exactly the
raster's total inside the area. ``pop_source = "raster:<file name>"``. Float counts.

*Census totals* (default): the 2010 census total of the subdistrict (``registry.defaults
["population"]``), or a user total. Each 100 m cell's residential land area weighs it
(uniform density at the 100 m scale); a building-covered cell hands its share to its
buildings by residential floor area (footprint × ``building:levels``, or
:data:`DEFAULT_LEVELS`). Keeping floor area inside the cell (``building_rule="cell"``, the
default) is robust to partial building data: a cell where OSM maps one house of a block does
not lose its residents to better-mapped cells a kilometre away. ``building_rule="pool"``
instead gives all covered cells' land share to their buildings by floor area across cells
(the better choice when the buildings are mapped completely). Counts are whole people,
rounded by largest remainder so the area total is kept exactly.
``pop_source = "<label>:floor_area"`` for buildings, ``"<label>:uniform_grid"`` for cells,
with ``label`` ``census2010`` or ``user``.

Table ``out/demand/<area>.gpkg`` (layer ``demand``, WGS-84): ``unit_id, area, population,
pop_source, geometry`` plus ``unit_type`` (building|grid), ``x, y`` (EPSG:32651 representative
point), ``neighbourhood``, ``cell``, ``land_m2``, ``floor_area_m2``, ``levels``, ``osm_id``.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.demand import neighbourhoods as nb
from geo.demand.neighbourhoods import assign_neighbourhood
from geo.io import validate
from geo.io.areas import Area, Registry, network_sources
from geo.io.files import read_text_utf8, write_atomic
from geo.io.geom import bbox_of, clip_polygon, project_geom, to_projected
from geo.io.osm import OsmData, OsmWay, read_osm
from geo.io.tables import DEMAND

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from shapely.geometry.base import BaseGeometry

    from geo._types import ProgressFn

#: Grid cell size (m).
CELL_M: float = 100.0

#: Fine resolution (m) used to sum a population raster per cell.
RASTER_FINE_M: float = 10.0

#: Cells with less residential land than this (m²) are dropped (slivers along the boundary).
MIN_CELL_LAND_M2: float = 10.0

#: ``building=*`` values that are homes.
RESIDENTIAL_BUILDINGS: frozenset[str] = frozenset(
    {
        "residential",
        "apartments",
        "house",
        "dormitory",
        "detached",
        "semidetached_house",
        "terrace",
        "bungalow",
    }
)

#: ``building=*`` values that are homes only inside ``landuse=residential``.
GENERIC_BUILDINGS: frozenset[str] = frozenset({"yes"})

#: Storeys assumed when ``building:levels`` is missing. Shanghai's 1950s-1990s 新村 estates are
#: 5-6 storey walk-ups (6 used); 新华路's garden houses (花园洋房) are 2-3 storeys (2 used).
DEFAULT_LEVELS: dict[str, float] = {
    "house": 2.0, "detached": 2.0, "semidetached_house": 2.0, "terrace": 3.0, "bungalow": 1.0,
    "dormitory": 6.0, "apartments": 6.0, "residential": 6.0, "yes": 6.0,
}  # fmt: skip

#: Layer name of ``out/demand/<area>.gpkg``.
#: Column order of the demand table: the contract (geo.io.tables.DEMAND), then extras.
COLUMNS: tuple[str, ...] = (
    *(c for c in DEMAND.names if c != "geometry"),
    "unit_type", "x", "y", "neighbourhood", "cell", "land_m2", "floor_area_m2", "levels",
    "osm_id", "geometry",
)  # fmt: skip

_OSM_KEYS = ("building", "building:levels", "landuse", "leisure", "natural", "water")


@dataclass(frozen=True)
class PopulationTotal:
    """A population total for one area and where it comes from (``label`` goes in pop_source)."""

    total: int
    label: str
    note: str = ""


@dataclass
class DemandResult:
    """Demand units of one area and how they were made."""

    area: str
    units: gpd.GeoDataFrame
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# inputs: buildings, excluded land, totals
# --------------------------------------------------------------------------------------------
def parse_levels(value: str | None) -> float | None:
    """Storeys from a ``building:levels`` tag (``"6"``, ``"5.5"``, ``"6;7"`` -> first number)."""
    if not value:
        return None
    head = value.replace(",", ";").split(";")[0].strip()
    try:
        levels = float(head)
    except ValueError:
        return None
    if not math.isfinite(levels) or levels <= 0 or levels > 200:
        return None
    return levels


def _ring_polygons(ways: Sequence[OsmWay]) -> np.ndarray:
    """Projected polygons (EPSG:32651) of closed ways; invalid rings are repaired."""
    if not ways:
        return np.array([], dtype=object)
    coords = np.concatenate([w.coords for w in ways])
    x, y = to_projected(coords[:, 0], coords[:, 1])
    idx = np.repeat(np.arange(len(ways)), [len(w.coords) for w in ways])
    rings = shapely.linearrings(np.column_stack([x, y]), indices=idx)
    polys: NDArray[np.object_] = shapely.polygons(rings)
    bad = ~shapely.is_valid(polys)
    if bad.any():
        polys[bad] = shapely.make_valid(polys[bad])
    return polys


def residential_buildings(osm: OsmData, boundary: BaseGeometry) -> gpd.GeoDataFrame:
    """OSM residential buildings whose representative point lies in the area.

    Parameters
    ----------
    osm
        Ways read from the area's OSM files (closed ways become polygons).
    boundary
        WGS-84 area polygon.

    Returns
    -------
    GeoDataFrame
        ``osm_id, building, levels, levels_source (tag|default), footprint_m2,
        floor_area_m2, x, y, geometry`` in EPSG:32651; ``x, y`` the representative point.
    """
    closed = [w for w in osm.ways if w.closed]
    landuse = [w for w in closed if w.tags.get("landuse") == "residential"]
    cands = [
        w
        for w in closed
        if w.tags.get("building") in RESIDENTIAL_BUILDINGS
        or w.tags.get("building") in GENERIC_BUILDINGS
    ]
    empty = gpd.GeoDataFrame(
        {
            "osm_id": pd.Series([], dtype="int64"),
            "building": pd.Series([], dtype=str),
            "levels": pd.Series([], dtype=float),
            "levels_source": pd.Series([], dtype=str),
            "footprint_m2": pd.Series([], dtype=float),
            "floor_area_m2": pd.Series([], dtype=float),
            "x": pd.Series([], dtype=float),
            "y": pd.Series([], dtype=float),
        },
        geometry=gpd.GeoSeries([], crs=settings.PROJECTED_CRS),
    )
    if not cands:
        return empty
    polys = _ring_polygons(cands)
    reps = shapely.point_on_surface(polys)
    poly_area = shapely.make_valid(project_geom(boundary))
    shapely.prepare(poly_area)
    keep = shapely.contains(poly_area, reps) & (shapely.area(polys) > 0)
    generic = np.array([w.tags.get("building") in GENERIC_BUILDINGS for w in cands])
    if generic.any():
        lu = _ring_polygons(landuse)
        if len(lu):
            tree = shapely.STRtree(lu)
            hit = np.zeros(len(cands), dtype=bool)
            pi, _ = tree.query(reps[generic], predicate="within")
            hit[np.flatnonzero(generic)[np.unique(pi)]] = True
            keep &= ~generic | hit
        else:
            keep &= ~generic
    # the same way can come twice (nested Overpass results): keep its first copy
    seen: set[int] = set()
    for i in np.flatnonzero(keep):
        if cands[i].id in seen:
            keep[i] = False
        seen.add(cands[i].id)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return empty
    kinds = [cands[i].tags.get("building", "yes") for i in idx]
    tagged = [parse_levels(cands[i].tags.get("building:levels")) for i in idx]
    levels = np.array(
        [
            t if t is not None else DEFAULT_LEVELS.get(k, 6.0)
            for t, k in zip(tagged, kinds, strict=True)
        ]
    )
    foot = shapely.area(polys[idx])
    return gpd.GeoDataFrame(
        {
            "osm_id": np.array([cands[i].id for i in idx], dtype=np.int64),
            "building": kinds,
            "levels": levels,
            "levels_source": ["tag" if t is not None else "default" for t in tagged],
            "footprint_m2": foot,
            "floor_area_m2": foot * levels,
            "x": shapely.get_x(reps[idx]),
            "y": shapely.get_y(reps[idx]),
        },
        geometry=gpd.GeoSeries(polys[idx], crs=settings.PROJECTED_CRS),
    )


def osm_excluded(osm: OsmData) -> list[BaseGeometry]:
    """Projected water (``natural=water``, ``water=*``) and park (``leisure=park``) polygons."""
    ways = [
        w
        for w in osm.ways
        if w.closed
        and (
            w.tags.get("leisure") == "park" or w.tags.get("natural") == "water" or "water" in w.tags
        )
        and "building" not in w.tags
    ]
    return list(_ring_polygons(ways))


def geofabrik_excluded(
    registry: Registry, bbox: tuple[float, float, float, float]
) -> list[BaseGeometry]:
    """Projected water and park polygons from the Geofabrik layers (empty if not available).

    Water: every polygon of ``gis_osm_water_a_free_1``; parks: ``gis_osm_pois_a_free_1``
    with ``fclass = park``.
    """
    rel = (registry.defaults.get("pois") or {}).get("geofabrik")
    if not rel:
        return []
    try:
        folder = registry.resolve(rel, what="Geofabrik layers")
    except LifeCircleError:
        return []
    out: list[BaseGeometry] = []
    for layer, where in (
        ("gis_osm_water_a_free_1", None),
        ("gis_osm_pois_a_free_1", "fclass = 'park'"),
    ):
        path = folder / f"{layer}.shp"
        if not path.exists():
            continue
        try:
            gdf = gpd.read_file(path, bbox=bbox, where=where)
        except Exception as exc:
            raise LifeCircleError(f"cannot read Geofabrik layer: {exc}", path=path) from None
        if gdf.empty:
            continue
        if gdf.crs is None:
            gdf = gdf.set_crs(settings.STORAGE_CRS)
        geoms = gdf.to_crs(settings.PROJECTED_CRS).geometry.values
        geoms = geoms[~shapely.is_empty(geoms)]
        out.extend(shapely.make_valid(geoms))
    return out


def census_total(registry: Registry, area: Area) -> PopulationTotal:
    """Return the area's 2010 census total from ``registry.defaults['population']``.

    Raises
    ------
    LifeCircleError
        When the area has no ``census_code_2010`` or the file has no row for it.
    """
    spec = registry.defaults.get("population") or {}
    for key in ("file", "key", "column"):
        if key not in spec:
            raise LifeCircleError(
                f"areas.yaml defaults.population has no '{key}'", path=registry.path
            )
    if not area.census_code_2010:
        raise LifeCircleError(
            f"area '{area.id}' has no census_code_2010; give a total with "
            f"--population-total {area.id}=N",
            path=registry.path,
        )
    path = registry.resolve(spec["file"], what="census population file")
    rows = list(csv.DictReader(read_text_utf8(path).splitlines()))
    if rows and (spec["key"] not in rows[0] or spec["column"] not in rows[0]):
        raise LifeCircleError(f"expected columns '{spec['key']}' and '{spec['column']}'", path=path)
    for i, row in enumerate(rows):
        if str(row[spec["key"]]).strip() == area.census_code_2010:
            try:
                total = int(float(row[spec["column"]]))
            except ValueError:
                raise LifeCircleError(
                    f"'{spec['column']}' is not a number", path=path, record=f"line {i + 2}"
                ) from None
            year = spec.get("year", 2010)
            return PopulationTotal(total, f"census{year}", area.census_note or "")
    raise LifeCircleError(
        f"no row with {spec['key']} = {area.census_code_2010} (area '{area.id}')", path=path
    )


#: Largest population one raster pixel may hold (a 1 km pixel of the densest Shanghai blocks
#: holds ~1e5); a larger value is not a population count.
MAX_PIXEL_POPULATION: float = 1e6


def parse_population_totals(
    items: Iterable[str] = (), csv_path: str | os.PathLike[str] | None = None
) -> dict[str, PopulationTotal]:
    """User population totals from ``AREA=N`` strings and/or a CSV with ``area, population``.

    Parameters
    ----------
    items
        Strings like ``"xinhualu=85000"``.
    csv_path
        CSV with columns ``area, population`` (optional ``label``, ``note``).

    Returns
    -------
    dict
        ``{area_id: PopulationTotal(total, label="user" or the CSV label)}``.
    """
    out: dict[str, PopulationTotal] = {}
    if csv_path is not None:
        text = read_text_utf8(csv_path)
        if not text.strip():
            raise InputError("empty file; expected columns 'area' and 'population'", path=csv_path)
        try:
            rows = list(csv.DictReader(text.splitlines()))
        except csv.Error as exc:
            raise InputError(f"malformed CSV: {exc}", path=csv_path) from None
        if rows and not {"area", "population"} <= set(rows[0]):
            raise LifeCircleError("expected columns 'area' and 'population'", path=csv_path)
        for i, row in enumerate(rows):
            out[row["area"].strip()] = PopulationTotal(
                _parse_int(row["population"], csv_path, f"line {i + 2}"),
                (row.get("label") or "user").strip() or "user",
                (row.get("note") or "").strip(),
            )
    for item in items:
        if "=" not in item:
            raise LifeCircleError(f"expected AREA=N, got '{item}'", record="--population-total")
        area, _, value = item.partition("=")
        out[area.strip()] = PopulationTotal(_parse_int(value, "--population-total", item), "user")
    return out


def _parse_int(value: str, path: object, record: str) -> int:
    # the one range check for population totals (finite, whole, at most 1e8): geo.io.validate
    return validate.population(value, path=path, record=record)


# --------------------------------------------------------------------------------------------
# grid and units
# --------------------------------------------------------------------------------------------
def cell_index(
    x: np.ndarray, y: np.ndarray, cell_m: float = CELL_M
) -> tuple[np.ndarray, np.ndarray]:
    """Integer column/row of the fixed grid cell holding each projected point."""
    return (
        np.floor(np.asarray(x, float) / cell_m).astype(np.int64),
        np.floor(np.asarray(y, float) / cell_m).astype(np.int64),
    )


def cell_label(ix: Iterable[int], iy: Iterable[int]) -> list[str]:
    """Stable cell labels ``g<col>_<row>``."""
    return [f"g{i}_{j}" for i, j in zip(ix, iy, strict=True)]


def residential_grid(
    area_poly: BaseGeometry, excluded: Sequence[BaseGeometry] = (), cell_m: float = CELL_M
) -> gpd.GeoDataFrame:
    """Return the fixed grid clipped to a projected area polygon, minus excluded land.

    Parameters
    ----------
    area_poly
        Area (Multi)Polygon in EPSG:32651.
    excluded
        Projected polygons removed from the grid (water, parks).
    cell_m
        Cell size in metres.

    Returns
    -------
    GeoDataFrame
        ``ix, iy, cell, cell_m2`` (cell ∩ area), ``land_m2`` (minus excluded) and the land
        geometry (EPSG:32651); one row per cell touching the area, empty land included.
    """
    x0, y0, x1, y1 = area_poly.bounds
    ix = np.arange(math.floor(x0 / cell_m), math.ceil(x1 / cell_m))
    iy = np.arange(math.floor(y0 / cell_m), math.ceil(y1 / cell_m))
    mx, my = np.meshgrid(ix, iy, indexing="ij")
    gx, gy = mx.ravel(), my.ravel()
    boxes = shapely.box(gx * cell_m, gy * cell_m, (gx + 1) * cell_m, (gy + 1) * cell_m)
    shapely.prepare(area_poly)
    hit = shapely.intersects(area_poly, boxes)
    gx, gy, boxes = gx[hit], gy[hit], boxes[hit]
    inside = shapely.intersection(boxes, area_poly)
    land = inside
    ex = [g for g in excluded if g is not None and not g.is_empty]
    if ex:
        tree = shapely.STRtree(ex)
        ci, ei = tree.query(inside, predicate="intersects")
        if len(ci):
            land = inside.copy()
            for c in np.unique(ci):
                cut = shapely.union_all([ex[e] for e in ei[ci == c]])
                land[c] = shapely.difference(inside[c], cut)
    return gpd.GeoDataFrame(
        {
            "ix": gx,
            "iy": gy,
            "cell": cell_label(gx, gy),
            "cell_m2": shapely.area(inside),
            "land_m2": shapely.area(land),
        },
        geometry=gpd.GeoSeries(land, crs=settings.PROJECTED_CRS),
    )


def demand_units(
    area_id: str,
    grid: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    cell_m: float = CELL_M,
    min_land_m2: float = MIN_CELL_LAND_M2,
) -> gpd.GeoDataFrame:
    """Combine buildings and grid cells by the mixing rule (see the module docstring).

    Parameters
    ----------
    area_id
        Area id (prefix of unit ids: ``<area>-w<osm way id>`` and ``<area>-g<col>_<row>``).
    grid
        Output of :func:`residential_grid`.
    buildings
        Output of :func:`residential_buildings`.

    Returns
    -------
    GeoDataFrame
        ``unit_id, area, unit_type, cell, x, y, land_m2, floor_area_m2, levels, osm_id,
        weight_land`` (the land weight of the unit's cell: a grid unit's land area; for
        buildings the covered cell's land, at least the cell's footprint), EPSG:32651,
        without population yet.
    """
    bx, by = cell_index(buildings["x"].to_numpy(), buildings["y"].to_numpy(), cell_m)
    bcell = pd.Series(cell_label(bx, by), index=buildings.index, dtype=object)
    covered = set(bcell)
    land = grid.set_index("cell")["land_m2"]
    foot = buildings.groupby(bcell)["footprint_m2"].sum()
    cov_land = pd.Series(
        {c: max(float(land.get(c, 0.0)), float(foot.get(c, 0.0))) for c in covered}, dtype=float
    )

    g = grid[~grid["cell"].isin(covered) & (grid["land_m2"] >= min_land_m2)].copy()
    rep = shapely.centroid(g.geometry.values)
    off = ~shapely.contains(g.geometry.values, rep)
    rep[off] = shapely.point_on_surface(g.geometry.values[off])
    grid_units = gpd.GeoDataFrame(
        {
            "unit_id": [f"{area_id}-{c}" for c in g["cell"]],
            "area": area_id,
            "unit_type": "grid",
            "cell": g["cell"].to_numpy(),
            "x": shapely.get_x(rep),
            "y": shapely.get_y(rep),
            "land_m2": g["land_m2"].to_numpy(),
            "floor_area_m2": np.nan,
            "levels": np.nan,
            "osm_id": pd.array([pd.NA] * len(g), dtype="Int64"),
            "weight_land": g["land_m2"].to_numpy(),
        },
        geometry=gpd.GeoSeries(g.geometry.values, crs=settings.PROJECTED_CRS),
    )
    b_units = gpd.GeoDataFrame(
        {
            "unit_id": [f"{area_id}-w{i}" for i in buildings["osm_id"]],
            "area": area_id,
            "unit_type": "building",
            "cell": bcell.to_numpy(),
            "x": buildings["x"].to_numpy(),
            "y": buildings["y"].to_numpy(),
            "land_m2": buildings["footprint_m2"].to_numpy(),
            "floor_area_m2": buildings["floor_area_m2"].to_numpy(),
            "levels": buildings["levels"].to_numpy(),
            "osm_id": pd.array(buildings["osm_id"].to_numpy(), dtype="Int64"),
            "weight_land": cov_land.reindex(bcell.to_numpy()).to_numpy(),
        },
        geometry=gpd.GeoSeries(buildings.geometry.values, crs=settings.PROJECTED_CRS),
    )
    frames = [f for f in (b_units, grid_units) if not f.empty]
    if not frames:
        return grid_units
    units = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.PROJECTED_CRS)
    return units.sort_values("unit_id", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# population
# --------------------------------------------------------------------------------------------
def largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    """Whole numbers proportional to ``weights`` that sum to ``total`` exactly.

    Each share is floored, and the people left over go one by one to the largest fractional
    parts (ties to the earlier index).

    Parameters
    ----------
    weights
        Non-negative weights (at least one positive when ``total > 0``).
    total
        Whole number to share out.

    Returns
    -------
    ndarray of int64
    """
    w = np.asarray(weights, dtype=float)
    if total < 0 or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise LifeCircleError("population weights must be finite and >= 0 and the total >= 0")
    if total == 0 or len(w) == 0:
        if total > 0:
            raise LifeCircleError(f"no demand units to hold {total} people")
        return np.zeros(len(w), dtype=np.int64)
    wsum = w.sum()
    if wsum <= 0:
        raise LifeCircleError(f"all weights are zero; cannot share out {total} people")
    exact = w / wsum * total
    base: NDArray[np.int64] = np.floor(exact).astype(np.int64)
    left = int(total - base.sum())
    if left > 0:
        frac = exact - base
        order = np.lexsort((np.arange(len(w)), -frac))
        base[order[:left]] += 1
    return base


#: How a building-covered cell's land weight reaches its buildings (see the module docstring).
BUILDING_RULES: tuple[str, ...] = ("cell", "pool")


def census_weights(units: pd.DataFrame, building_rule: str = "cell") -> np.ndarray:
    """Census weights: cell land area, handed to a covered cell's buildings by floor area.

    Parameters
    ----------
    units
        Output of :func:`demand_units`.
    building_rule
        ``cell``: a covered cell's land weight (``weight_land``) is shared among its own
        buildings by floor area. ``pool``: the covered cells' land weights are summed and
        shared among all their buildings by floor area.

    Returns
    -------
    ndarray
        One weight per unit (m² of residential land).
    """
    if building_rule not in BUILDING_RULES:
        raise LifeCircleError(
            f"building rule must be one of {', '.join(BUILDING_RULES)}, got '{building_rule}'"
        )
    w = np.zeros(len(units))
    is_b = (units["unit_type"] == "building").to_numpy()
    w[~is_b] = units.loc[~is_b, "land_m2"].to_numpy(dtype=float)
    if not is_b.any():
        return w
    b = units[is_b]
    floor = b["floor_area_m2"].fillna(0.0).to_numpy(dtype=float)
    if building_rule == "pool":
        pool = float(b.groupby("cell")["weight_land"].first().sum())
        w[is_b] = pool * floor / floor.sum() if floor.sum() > 0 else pool / is_b.sum()
        return w
    cell = b["cell"].to_numpy()
    cell_floor = pd.Series(floor).groupby(cell).transform("sum").to_numpy()
    n_in_cell = pd.Series(1.0, index=range(len(b))).groupby(cell).transform("sum").to_numpy()
    share = np.where(
        cell_floor > 0, floor / np.where(cell_floor > 0, cell_floor, 1.0), 1.0 / n_in_cell
    )
    w[is_b] = b["weight_land"].to_numpy(dtype=float) * share
    return w


def distribute_total(
    units: gpd.GeoDataFrame, total: PopulationTotal, building_rule: str = "cell"
) -> gpd.GeoDataFrame:
    """Share a total over the units (largest remainder; sum equals ``total.total`` exactly).

    Parameters
    ----------
    units
        Output of :func:`demand_units`.
    total
        The total and its label.
    building_rule
        ``cell`` (default) or ``pool``; see :func:`census_weights`.

    Returns
    -------
    GeoDataFrame
        A copy with ``population`` (int) and ``pop_source`` (``<label>:floor_area`` or
        ``<label>:uniform_grid``).
    """
    out = units.copy()
    out["population"] = largest_remainder(census_weights(units, building_rule), total.total)
    out["pop_source"] = np.where(
        out["unit_type"] == "building", f"{total.label}:floor_area", f"{total.label}:uniform_grid"
    )
    return out


def _apply_affine(t: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply an affine transform to coordinate arrays."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def raster_cell_population(
    raster: str | os.PathLike[str],
    area_poly: BaseGeometry,
    cell_m: float = CELL_M,
    fine_m: float = RASTER_FINE_M,
) -> pd.Series:
    """People per fixed-grid cell from a population GeoTIFF, inside a projected area polygon.

    The raster (band 1, people per pixel, any CRS) is sampled on a ``fine_m`` grid in
    EPSG:32651: each fine pixel takes its source pixel's density (people / source-pixel area
    in m²) times its own area. Fine pixels whose centres lie in the area are summed per cell.
    Nodata and negative values count as 0.

    Returns
    -------
    Series
        People (float) indexed by cell label ``g<col>_<row>``.
    """
    import rasterio
    from pyproj import Transformer

    path = Path(raster)
    if not path.exists():
        raise LifeCircleError("population raster not found", path=path)
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise LifeCircleError(f"cannot read population raster: {exc}", path=path) from None
    with src:
        if src.crs is None:
            raise LifeCircleError(
                "population raster has no CRS; expected a georeferenced "
                "GeoTIFF (e.g. WorldPop, EPSG:4326)",
                path=path,
            )
        data = src.read(1, masked=True).astype(float).filled(0.0)
        transform = src.transform
        src_crs = src.crs.to_wkt()
    bad = ~np.isfinite(data) | (data < 0)
    if bad.any():  # most likely an undeclared nodata value: say so, count them as empty
        validate.warn(
            f"{int(bad.sum())} pixel(s) with negative or non-finite values read as 0 residents "
            "(declare them as the raster's nodata value)",
            path=path,
        )
        data[bad] = 0.0
    if data.size and float(data.max()) > MAX_PIXEL_POPULATION:
        r, c = np.unravel_index(int(np.argmax(data)), data.shape)
        raise InputError(
            f"pixel value {float(data[r, c]):g} is above {MAX_PIXEL_POPULATION:g} residents",
            path=path,
            record=f"row {r}, column {c}",
            hint="is it a population count raster (persons per pixel)?",
        )

    x0, y0, x1, y1 = area_poly.bounds
    fx = np.arange(math.floor(x0 / fine_m), math.ceil(x1 / fine_m)) * fine_m + fine_m / 2
    fy = np.arange(math.floor(y0 / fine_m), math.ceil(y1 / fine_m)) * fine_m + fine_m / 2
    mx, my = np.meshgrid(fx, fy, indexing="ij")
    gx, gy = mx.ravel(), my.ravel()
    inside = shapely.contains_xy(area_poly, gx, gy)
    gx, gy = gx[inside], gy[inside]
    to_src = Transformer.from_crs(settings.PROJECTED_CRS, src_crs, always_xy=True)
    sx, sy = to_src.transform(gx, gy)
    col_f, row_f = _apply_affine(~transform, np.asarray(sx), np.asarray(sy))
    col = np.floor(col_f).astype(np.int64)
    row = np.floor(row_f).astype(np.int64)
    ok = (row >= 0) & (row < data.shape[0]) & (col >= 0) & (col < data.shape[1])
    if not ok.any():
        raise LifeCircleError("population raster does not overlap the area", path=path)
    # source pixel areas in m², from their four corners projected to EPSG:32651
    pix = np.unique(np.column_stack([row[ok], col[ok]]), axis=0)
    to_m = Transformer.from_crs(src_crs, settings.PROJECTED_CRS, always_xy=True)
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    cx, cy = [], []
    for dc, dr in corners:
        px, py = _apply_affine(transform, pix[:, 1] + dc, pix[:, 0] + dr)
        mx, my = to_m.transform(np.asarray(px), np.asarray(py))
        cx.append(mx)
        cy.append(my)
    xs, ys = np.array(cx), np.array(cy)
    pix_area = 0.5 * np.abs(
        np.sum(xs * np.roll(ys, -1, axis=0) - np.roll(xs, -1, axis=0) * ys, axis=0)
    )
    area_of = pd.Series(pix_area, index=pd.MultiIndex.from_arrays([pix[:, 0], pix[:, 1]]))
    vals = np.zeros(len(gx))
    a = area_of.reindex(pd.MultiIndex.from_arrays([row[ok], col[ok]])).to_numpy()
    vals[ok] = data[row[ok], col[ok]] / a * fine_m * fine_m
    ix, iy = cell_index(gx, gy, cell_m)
    sums = pd.Series(vals).groupby([ix, iy]).sum()
    labels = cell_label(sums.index.get_level_values(0), sums.index.get_level_values(1))
    return pd.Series(sums.to_numpy(), index=labels, dtype=float)


def distribute_raster(units: gpd.GeoDataFrame, cell_pop: pd.Series, label: str) -> gpd.GeoDataFrame:
    """Give units the raster's people: grid cells their cell sum, buildings a floor-area share.

    People of cells without units (water, parks, slivers) are spread over all units in
    proportion, so the units together hold ``cell_pop.sum()``.

    Returns a copy with ``population`` (float) and ``pop_source = label``.
    """
    out = units.copy()
    total = float(cell_pop.sum())
    base = cell_pop.reindex(out["cell"].to_numpy()).fillna(0.0).to_numpy()
    floor = out["floor_area_m2"].fillna(0.0).to_numpy(dtype=float)
    cell_floor = pd.Series(floor).groupby(out["cell"].to_numpy()).transform("sum").to_numpy()
    is_b = (out["unit_type"] == "building").to_numpy()
    n_in_cell = (
        pd.Series(1, index=range(len(out)))
        .groupby(out["cell"].to_numpy())
        .transform("sum")
        .to_numpy()
    )
    share = np.where(
        is_b,
        np.where(
            cell_floor > 0, floor / np.where(cell_floor > 0, cell_floor, 1.0), 1.0 / n_in_cell
        ),
        1.0,
    )
    pop = base * share
    held = pop.sum()
    if held > 0:
        pop = pop * (total / held)
    elif total > 0 and len(pop):
        pop = np.full(len(pop), total / len(pop))
    out["population"] = pop
    out["pop_source"] = label
    return out


# --------------------------------------------------------------------------------------------
# one area end to end
# --------------------------------------------------------------------------------------------
def area_osm(registry: Registry, area: Area, boundary: BaseGeometry) -> OsmData:
    """Return buildings, landuse, parks and water from the area's network and feature files."""
    bbox = bbox_of(clip_polygon(boundary, 200.0), 0.001)
    data = OsmData()
    paths = [
        *network_sources(registry, area),
        *(registry.resolve(f, what=f"feature file of area '{area.id}'") for f in area.features),
    ]
    for p in paths:
        data.extend(read_osm(p, bbox=bbox, keys=_OSM_KEYS))
    return data


def build_demand(
    registry: Registry,
    area: Area | str,
    *,
    neighbourhoods: gpd.GeoDataFrame | None = None,
    raster: str | os.PathLike[str] | None = None,
    total: PopulationTotal | None = None,
    osm: OsmData | None = None,
    cell_m: float = CELL_M,
    building_rule: str = "cell",
) -> DemandResult:
    """Demand units with population for one area (see the module docstring for the rules).

    Parameters
    ----------
    registry, area
        The study area.
    neighbourhoods
        Neighbourhood table of the area (for the ``neighbourhood`` column); None leaves it empty.
    raster
        Population GeoTIFF; when given it is used instead of census totals.
    total
        A user total replacing the 2010 census total.
    osm
        Pre-read OSM data (default: the area's network and feature files).
    cell_m
        Grid cell size (m).
    building_rule
        ``cell`` or ``pool`` (census totals only; see :func:`census_weights`).

    Returns
    -------
    DemandResult
        ``units`` in WGS-84 with the demand columns; ``info`` with counts and sources.
    """
    if isinstance(area, str):
        area = registry.get(area)
    boundary = registry.boundary(area)
    poly = shapely.make_valid(project_geom(boundary))
    osm = osm if osm is not None else area_osm(registry, area, boundary)
    bbox = bbox_of(boundary, 0.002)
    excluded = [*geofabrik_excluded(registry, bbox), *osm_excluded(osm)]
    grid = residential_grid(poly, excluded, cell_m)
    buildings = residential_buildings(osm, boundary)
    units = demand_units(area.id, grid, buildings, cell_m)
    info: dict[str, Any] = {
        "area": area.id,
        "cell_m": cell_m,
        "n_buildings": int((units["unit_type"] == "building").sum()),
        "n_grid": int((units["unit_type"] == "grid").sum()),
        "n_excluded_polygons": len(excluded),
        "area_m2": float(poly.area),
        "residential_land_m2": float(grid["land_m2"].sum()),
        "osm_sources": list(osm.sources),
    }
    if raster is not None:
        cell_pop = raster_cell_population(raster, poly, cell_m)
        units = distribute_raster(units, cell_pop, f"raster:{Path(raster).name}")
        info.update(method="raster", source=str(raster), total=float(cell_pop.sum()))
    else:
        total = total if total is not None else census_total(registry, area)
        units = distribute_total(units, total, building_rule)
        info.update(
            method=total.label, total=total.total, note=total.note, building_rule=building_rule
        )
    if neighbourhoods is not None:
        hoods = neighbourhoods[neighbourhoods["area"] == area.id]
        units["neighbourhood"] = assign_neighbourhood(
            units["x"].to_numpy(), units["y"].to_numpy(), hoods
        )
    else:
        units["neighbourhood"] = None
    units = units.to_crs(settings.STORAGE_CRS)
    return DemandResult(
        area.id, gpd.GeoDataFrame(units[list(COLUMNS)], crs=settings.STORAGE_CRS), info
    )


def demand_path(out: str | os.PathLike[str], area_id: str) -> Path:
    """``<out>/demand/<area>.gpkg``."""
    return DEMAND.path(out, area=area_id)


def write_demand(units: gpd.GeoDataFrame, out: str | os.PathLike[str], area_id: str) -> Path:
    """Write the demand table of one area atomically (layer ``demand``, WGS-84)."""
    gdf = units.to_crs(settings.STORAGE_CRS)
    return write_atomic(
        demand_path(out, area_id), lambda p: gdf.to_file(p, layer=DEMAND.layer, driver="GPKG")
    )


def read_demand(out: str | os.PathLike[str], area_id: str) -> gpd.GeoDataFrame:
    """Read ``<out>/demand/<area>.gpkg`` (raise naming the file and the command when absent)."""
    path = demand_path(out, area_id)
    if not path.exists():
        raise LifeCircleError(
            f"no demand units for area '{area_id}'; run `lifecircle demand --area {area_id}` first",
            path=path,
        )
    gdf = gpd.read_file(path, layer=DEMAND.layer)
    return DEMAND.validate(gdf, path)


def make_demand(
    registry: Registry,
    areas: Sequence[Area],
    out: str | os.PathLike[str],
    *,
    raster: str | os.PathLike[str] | None = None,
    totals: dict[str, PopulationTotal] | None = None,
    neighbourhood_file: str | os.PathLike[str] | None = None,
    hex_m: float | None = None,
    building_rule: str = "cell",
    progress: ProgressFn | None = None,
) -> dict[str, DemandResult]:
    """Build and write neighbourhoods and demand units for several areas.

    Writes ``<out>/neighbourhoods.gpkg`` (other areas already in it are kept) and
    ``<out>/demand/<area>.gpkg`` per area.

    Parameters
    ----------
    registry, areas
        The study areas.
    out
        Results folder.
    raster
        Population GeoTIFF (replaces census totals for every area).
    totals
        User totals per area id (replace the 2010 census total).
    neighbourhood_file
        User 居委 polygons (replace the hexagon grid).
    hex_m
        Hexagon width across flats (m); default :data:`geo.neighbourhoods.DEFAULT_HEX_M`.
    building_rule
        ``cell`` (default) or ``pool``: how census totals reach buildings.
    progress
        Optional wrapper ``progress(iterable, desc)`` for a progress bar.

    Returns
    -------
    dict
        ``{area_id: DemandResult}``.
    """
    totals = totals or {}
    unknown = set(totals) - {a.id for a in registry}
    if unknown:
        raise LifeCircleError(
            f"population total for unknown area(s) {sorted(unknown)}; known: {registry.ids()}"
        )
    bounds = {a.id: registry.boundary(a) for a in areas}
    if neighbourhood_file is not None:
        hoods = nb.user_neighbourhoods(neighbourhood_file, bounds)
    else:
        width = hex_m if hex_m is not None else nb.DEFAULT_HEX_M
        frames = [nb.hex_neighbourhoods(a.id, bounds[a.id], width) for a in areas]
        hoods = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.STORAGE_CRS)
    nb.write_neighbourhoods(hoods, Path(out) / "neighbourhoods.gpkg", [a.id for a in areas])
    results: dict[str, DemandResult] = {}
    it = progress(areas, "demand / 人口需求") if progress is not None else areas
    for area in it:
        res = build_demand(
            registry,
            area,
            neighbourhoods=hoods,
            raster=raster,
            total=totals.get(area.id),
            building_rule=building_rule,
        )
        write_demand(res.units, out, area.id)
        results[area.id] = res
    return results
