"""One area of the city screen: the stages of ``lifecircle run`` into the area's own folder.

:func:`screen_area` runs, for one subdistrict, into ``<out>/areas/<id>/`` (an ordinary results
folder, readable by the dashboard):

network (from the screen's PBF subset, or the area's own files; none -> estimate) ->
facility inventory (OSM files + Geofabrik; the plan rows of ``lifecircle facilities build``
exist only for the four plan areas and are left out so every unit is screened the same way) ->
neighbourhoods and demand (2010 census; ``population_source = none`` where the census has no
row for the unit's code) -> access (network areas) -> coverage and gaps (estimate where the
network is incomplete, with the screen's one detour calibration).

It never raises: bad data of an area (empty or invalid boundary, unreadable file, ...) is
returned as ``status = "failed"`` with a one-line reason, so the other areas go on.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.demand import neighbourhoods as nb
from geo.demand.population import PopulationTotal, build_demand, write_demand
from geo.facilities.inventory import build_inventory
from geo.facilities.taxonomy import load_taxonomy
from geo.io.areas import Area, Registry
from geo.io.files import write_text_atomic
from geo.io.osm import OsmData
from geo.io.tables import ALL, COMPOSITE, COVERAGE, CSV_ENCODING, FACILITIES, write_facilities
from geo.network import access as access_mod
from geo.network.network import WalkNetwork, build_area_network, is_walkable, network_status
from geo.planning.context import category_specs, detour_calibration
from geo.planning.coverage import coverage_check, run_coverage

if TYPE_CHECKING:
    from geo.network.estimate import DetourCalibration

#: Stages timed per area (``stage_seconds``), in order.
STAGES: tuple[str, ...] = ("network", "facilities", "demand", "access", "coverage")

#: File written last in an area folder: status, key, timings.
STATUS_FILE: str = "screen.json"

#: ``population_source`` of a unit without census population.
NO_POPULATION: str = "none"


@contextmanager
def _timed(seconds: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] = round(seconds.get(stage, 0.0) + time.perf_counter() - t0, 3)


def check_boundary(registry: Registry, area: Area) -> Any:
    """Return the area's boundary (WGS-84); raise :class:`InputError` if empty or invalid."""
    geom = registry.boundary(area)
    if geom is None or geom.is_empty or geom.area == 0:
        raise InputError(f"empty boundary for area '{area.id}'", record=area.id)
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(f"boundary of area '{area.id}' is a {geom.geom_type}, not a polygon")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        raise InputError(f"invalid boundary polygon for area '{area.id}': {reason}")
    return geom


def area_network(
    registry: Registry,
    area: Area,
    *,
    osm: OsmData | None = None,
    pbf_name: str = "",
    cache_dir: Path | None = None,
) -> WalkNetwork | None:
    """Return the area's walking network (None without any: the estimate is used).

    From the screen's PBF subset when it has walkable ways there, else from the area's own
    files.
    """
    if osm is not None and any(is_walkable(w.tags) for w in osm.ways):
        net = build_area_network(registry, area, osm_data=osm)
        if net is not None:
            net.info["sources"] = [pbf_name] if pbf_name else net.info.get("sources", [])
        return net
    return build_area_network(registry, area, cache_dir=cache_dir)


def population_total(area: Area) -> PopulationTotal | None:
    """Return None (the census total is looked up) or a labelled zero without a census code.

    :func:`screen_area` turns the labelled zero into missing population (never a silent zero).
    """
    if area.census_code_2010:
        return None
    return PopulationTotal(0, NO_POPULATION, area.census_note or "no census code for this unit")


def calibrate(
    registry: Registry,
    out: str | Path,
    calibration_area: str = settings.CALIBRATION_AREA,
    *,
    cache_dir: Path | None = None,
) -> Any:
    """Return the one detour calibration of a screen, computed in ``out`` (its own folder).

    Uses the calibration area's facility inventory and demand units (built there) with
    :func:`geo.planning.context.detour_calibration` (cached by its inputs).
    """
    out = Path(out)
    area = registry.get(calibration_area)
    tax = load_taxonomy()
    fac = build_inventory(registry, area, tax)
    write_facilities(FACILITIES.path(out), fac, replace_areas=[area.id])
    write_demand(build_demand(registry, area).units, out, area.id)
    return detour_calibration(
        registry,
        out,
        fac,
        area.id,
        categories=category_specs(tax),
        cache_dir=cache_dir,
        check=coverage_check,
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, LifeCircleError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def area_rows(coverage: pd.DataFrame) -> pd.DataFrame:
    """Return the whole-area rows of the default walking profile (one per category and tier)."""
    sel = coverage[(coverage["unit"] == ALL) & (coverage["profile"] == "default")]
    return sel.reset_index(drop=True)


def screen_area(
    registry: Registry,
    area_id: str,
    out: str | Path,
    *,
    content_key: str = "",
    osm: OsmData | None = None,
    pbf_name: str = "",
    calibration: DetourCalibration | None = None,
    cache_dir: Path | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Run the stages for one area into ``out`` (its own folder, emptied first).

    Parameters
    ----------
    registry
        The catalogue (see :func:`geo.city.catalogue.load_catalogue`).
    area_id
        The area.
    out
        The area's results folder (``<screen out>/areas/<id>``).
    content_key
        Content key of the inputs (stored; a rerun with the same key skips the area).
    osm
        The area's part of the screen's PBF, or None (the area's own files).
    pbf_name
        Name of that PBF (recorded as the network source).
    calibration
        The screen's detour calibration (for estimates), or None to compute one in ``out``.
    cache_dir
        Network cache for networks built from the area's own files.
    threads
        Threads of the access engine in this process (1 when the cluster runs one task per
        core).

    Returns
    -------
    dict
        ``area, status (ok|failed), reason, key, seconds, stage_seconds, nodes, edges, units,
        basis, completeness, population, population_source, population_note`` and ``rows``
        (the area rows of the coverage table, default profile, as records).
    """
    access_mod.THREADS = max(1, int(threads))
    out = Path(out)
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    result: dict[str, Any] = {"area": area_id, "key": content_key, "status": "failed", "reason": ""}
    try:
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        area = registry.get(area_id)
        boundary = check_boundary(registry, area)
        with _timed(seconds, "network"):
            net = area_network(registry, area, osm=osm, pbf_name=pbf_name, cache_dir=cache_dir)
            status = network_status(registry, area, net)
            write_text_atomic(
                out / "network_status.json", json.dumps([status], ensure_ascii=False, indent=1)
            )
        tax = load_taxonomy()
        with _timed(seconds, "facilities"):
            fac = build_inventory(registry, area, tax)
            write_facilities(FACILITIES.path(out), fac)
        with _timed(seconds, "demand"):
            hoods = nb.hex_neighbourhoods(area.id, boundary, nb.DEFAULT_HEX_M)
            nb.write_neighbourhoods(hoods, out / "neighbourhoods.gpkg", [area.id])
            total = population_total(area)
            dem = build_demand(registry, area, neighbourhoods=hoods, total=total, osm=osm)
            units = dem.units
            if total is not None and total.label == NO_POPULATION:
                units["population"] = np.nan
            write_demand(units, out, area.id)
        nets = {area.id: net}
        with _timed(seconds, "access"):
            access_mod.run_access([area], nets, out)
        with _timed(seconds, "coverage"):
            table, _ = run_coverage(
                registry,
                [area],
                out,
                nets=nets,
                taxonomy=tax,
                cache_dir=cache_dir,
                calibration=calibration,
            )
        rows = area_rows(table)
        comp = rows[rows["category"] == COMPOSITE]
        pop = float(units["population"].sum(min_count=1))
        result.update(
            status="ok",
            nodes=net.n_nodes if net is not None else 0,
            edges=net.n_edges if net is not None else 0,
            units=len(units),
            basis=str(comp["basis"].iloc[0]) if len(comp) else status["basis"],
            completeness=float(status["completeness"]),
            population=None if math.isnan(pop) else pop,
            population_source=str(rows["pop_source"].iloc[0]) if len(rows) else "",
            population_note=str(rows["population_note"].iloc[0] or "") if len(rows) else "",
            rows=rows.to_dict("records"),
        )
    except Exception as exc:  # one area's bad data fails that area alone
        result["reason"] = _one_line(exc)
    result["seconds"] = round(time.perf_counter() - started, 3)
    result["stage_seconds"] = seconds
    if out.is_dir():
        meta = {k: v for k, v in result.items() if k != "rows"}
        write_text_atomic(
            out / STATUS_FILE, json.dumps(meta, ensure_ascii=False, indent=1, default=str)
        )
    return result


def read_status(out: str | Path) -> dict[str, Any] | None:
    """Return the ``screen.json`` of an area folder, or None when absent or unreadable."""
    path = Path(out) / STATUS_FILE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def read_area_rows(out: str | Path) -> pd.DataFrame:
    """Return the area rows (default profile) of an area folder's ``coverage.csv``."""
    return area_rows(pd.read_csv(COVERAGE.path(out), encoding=CSV_ENCODING))
