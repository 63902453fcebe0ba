"""The city-wide screen on ``dask.distributed``: one task per subdistrict, one city table.

:func:`run_screen` connects to a cluster (a ``LocalCluster`` of worker processes by default,
or an existing scheduler), reads a user's ``.osm.pbf`` once and hands every area its part
(ways whose bounding box meets the area's clip box, assigned with a partitioned
``dask_geopandas`` spatial join), computes the detour calibration once, then runs
:func:`geo.city.area.screen_area` for every area whose inputs changed since the last run
(content-hash keys in ``<out>/areas/<id>/screen.json``) or that failed last time.

Outputs (``<out>/city/``):

* ``coverage_by_subdistrict.parquet`` and ``.csv``: one row per subdistrict × category × tier
  (default walking profile) with ``basis``, ``completeness``, ``population_source``,
  ``data_status`` (the coverage table's: ``ok`` | ``not_placed`` | ``no_facility_data``, see
  :mod:`geo.planning.data_status`; ``failed`` for a failed area) and ``area_status`` (``ok`` |
  ``estimate`` | ``no_data`` | ``no_population`` | ``failed``); a failed area keeps its rows,
  empty, with the reason in ``note``;
* ``subdistricts.gpkg`` (layer ``subdistricts``, WGS-84): one polygon per subdistrict with its
  status, composite and per-category shares at the standard threshold and its rank;
* ``screen.json``: run facts (workers, wall time, per-area and per-stage seconds).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo._errors import InputError, LifeCircleError, MissingDependencyError, MissingStageError
from geo.city.area import STAGES, calibrate, read_area_rows, read_status, screen_area
from geo.city.catalogue import catalogue_table
from geo.facilities.taxonomy import TAXONOMY_FILE
from geo.io.areas import Area, Registry, network_sources
from geo.io.files import write_atomic, write_text_atomic
from geo.io.geom import bbox_of, clip_polygon
from geo.io.osm import OsmData, read_osm
from geo.io.tables import COMPOSITE
from geo.network.network import cache_key

if TYPE_CHECKING:
    from geo.network.estimate import DetourCalibration

#: Salt of the area keys: bump when the meaning of a screened area's results changes.
SCREEN_VERSION: str = "screen-1"

#: Name (without suffix) of the city table.
CITY_TABLE: str = "coverage_by_subdistrict"

#: Layer of ``subdistricts.gpkg``.
CITY_LAYER: str = "subdistricts"

#: Columns of the city table, in order.
CITY_COLUMNS: tuple[str, ...] = (
    "area", "name_zh", "name_en", "district", "code_2023", "category", "category_zh",
    "category_en", "tier", "threshold_m", "is_standard_tier", "population", "covered_population",
    "share", "n_categories", "basis", "completeness", "population_source", "population_note",
    "data_status", "area_status", "note",
)  # fmt: skip

#: ``area_status`` values, worst first (an area gets the first that applies).
AREA_STATUSES: tuple[str, ...] = ("failed", "no_population", "no_data", "estimate", "ok")


README_TEXT = """coverage_by_subdistrict.* / subdistricts.gpkg — city screen (lifecircle screen)
One row per subdistrict x category x tier, default walking profile (4 km/h); at a category's own
tier (is_standard_tier) its standard threshold. Composite = population-weighted share of
categories reached.
basis: network = walking distance on the OSM network; estimate = straight-line distance x a
detour factor calibrated on 新华路 (not network distance); none = no data.
population_source: census2010 (2010 census by subdistrict); none = the unit's code has no
2010 census row: population unknown, shares empty (never zero).
data_status: ok | not_placed | no_facility_data (no facility data is not 0 %: share empty;
the composite averages only categories with data, n_categories says how many) | failed.
area_status: ok | estimate | no_data | no_population | failed (reason in note).
Facilities: OSM + Geofabrik only (the plan lists exist for 4 subdistricts and are left out so
every unit is screened the same way).
Map data © OpenStreetMap contributors (ODbL).
"""


# --------------------------------------------------------------------------------------------
# inputs checked before any work
# --------------------------------------------------------------------------------------------
def check_pbf(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`InputError` unless ``path`` is an OSM PBF file (header block first)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("PBF file not found", path=path)
    with path.open("rb") as fh:
        head = fh.read(64)
    # a PBF starts with a 4-byte length and a BlobHeader of type "OSMHeader"
    if len(head) < 16 or b"OSMHeader" not in head[4:32]:
        raise InputError(
            "not an OSM PBF file (no OSMHeader block)", path=path, hint="expected .osm.pbf"
        )
    return path


def _client(scheduler: str | None, workers: int, threads: int) -> tuple[Any, Any]:
    """Return a dask.distributed client: to ``scheduler`` or to a new LocalCluster of processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - a declared dependency
        raise MissingDependencyError(
            "dask[distributed]",
            purpose="lifecircle screen",
            install="pip install 'dask[distributed]'",
        ) from None
    if scheduler:
        try:
            # distributed leaves Client/LocalCluster/as_completed unannotated
            client = Client(scheduler, timeout="3s", set_as_default=True)  # type: ignore[no-untyped-call]
            return client, None
        except (OSError, TimeoutError, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"cannot reach the Dask scheduler: {msg}",
                path=scheduler,
                hint="start one with `dask scheduler` or omit --scheduler",
            ) from None
    cluster = LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        memory_limit=0,
        env={"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)},
    )
    return Client(cluster, set_as_default=True), cluster  # type: ignore[no-untyped-call]


def dashboard_link(client: Any) -> str | None:
    """Return the Dask dashboard address when the scheduler serves one (it needs bokeh)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:
        return None
    return str(client.dashboard_link) if "dashboard" in services else None


# --------------------------------------------------------------------------------------------
# the PBF, read once and split by area
# --------------------------------------------------------------------------------------------
def clip_boxes(registry: Registry, areas: Sequence[Area]) -> gpd.GeoDataFrame:
    """Each area's clip box (boundary + clip buffer, as the network stage reads files)."""
    rows, geoms = [], []
    for a in areas:
        try:
            geom = registry.boundary(a)
            box = shapely.box(*bbox_of(clip_polygon(geom, settings.CLIP_BUFFER_M), 0.002))
        except Exception:  # a bad boundary fails its own task later, with the reason
            continue
        rows.append(a.id)
        geoms.append(box)
    return gpd.GeoDataFrame({"area": rows}, geometry=geoms, crs=settings.STORAGE_CRS)


def split_osm(
    data: OsmData, boxes: gpd.GeoDataFrame, *, npartitions: int = 4
) -> dict[str, OsmData]:
    """Return the ways of ``data`` whose bounding box meets each area's box: ``{area: OsmData}``.

    The ways' boxes form a partitioned ``dask_geopandas`` GeoDataFrame joined with the area
    boxes on the current Dask client (the PBF was read once, in the client).
    """
    import dask_geopandas

    if not data.ways or boxes.empty:
        return {}
    lo = np.array([w.coords.min(axis=0) for w in data.ways])
    hi = np.array([w.coords.max(axis=0) for w in data.ways])
    ways = gpd.GeoDataFrame(
        {"way": np.arange(len(data.ways))},
        geometry=shapely.box(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]),
        crs=settings.STORAGE_CRS,
    )
    parts = dask_geopandas.from_geopandas(ways, npartitions=max(1, npartitions))
    pairs = parts.sjoin(boxes, predicate="intersects").compute()
    out: dict[str, OsmData] = {}
    for area_id, idx in pairs.groupby("area")["way"]:
        out[str(area_id)] = OsmData(
            ways=[data.ways[i] for i in np.sort(idx.to_numpy())],
            sources=list(data.sources),
            timestamps=list(data.timestamps),
        )
    return out


# --------------------------------------------------------------------------------------------
# content keys
# --------------------------------------------------------------------------------------------
def _fingerprint(path: Path) -> str:
    st = path.stat()
    if st.st_size > 64 * 1024 * 1024:
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def shared_inputs_key(registry: Registry, pbf: Path | None = None) -> str:
    """Hash of inputs every area reads: taxonomy, Geofabrik layers, census file, the PBF."""
    h = hashlib.sha256(f"{SCREEN_VERSION}|{settings.CACHE_VERSION}".encode())
    h.update(_fingerprint(TAXONOMY_FILE).encode())
    pois = ((registry.defaults or {}).get("pois") or {}).get("geofabrik")
    if pois:
        try:
            folder = registry.resolve(pois, what="Geofabrik POI folder")
            for p in sorted(folder.iterdir()):
                st = p.stat()
                h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        except LifeCircleError as exc:
            h.update(str(exc).encode())
    census = (registry.defaults or {}).get("population") or {}
    if census.get("file"):
        try:
            h.update(_fingerprint(registry.resolve(census["file"])).encode())
        except LifeCircleError as exc:
            h.update(str(exc).encode())
    if pbf is not None:
        h.update(_fingerprint(pbf).encode())
    return h.hexdigest()[:16]


def area_key(
    registry: Registry, area: Area, shared: str, calibration: DetourCalibration | None = None
) -> str:
    """Return the content key of one area: its entry, boundary, files, shared inputs, calibration.

    The network and feature files count by content. Unchanged key + ``ok`` status = nothing to
    redo.
    """
    h = hashlib.sha256(shared.encode())
    h.update(
        repr(
            (
                area.id, area.name_zh, area.district, area.osm_relation, area.census_code_2010,
                area.census_note, area.network, area.features,
            )
        ).encode()
    )  # fmt: skip
    try:
        boundary = registry.boundary(area)
        h.update(shapely.to_wkb(boundary))
        h.update(
            cache_key(network_sources(registry, area), boundary, settings.CLIP_BUFFER_M).encode()
        )
        for rel in area.features:
            h.update(_fingerprint(registry.resolve(rel)).encode())
    except (LifeCircleError, OSError) as exc:
        h.update(f"error:{exc}".encode())
    if calibration is not None:
        h.update(f"{calibration.factor}|{getattr(calibration, 'inputs_key', '')}".encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# the city table
# --------------------------------------------------------------------------------------------
def area_status(result: dict[str, Any]) -> str:
    """``failed``, ``no_population``, ``no_data`` (basis none), ``estimate`` or ``ok``."""
    if result.get("status") != "ok":
        return "failed"
    if result.get("population_source") == "none":
        return "no_population"
    basis = result.get("basis")
    if basis == "none":
        return "no_data"
    return "estimate" if basis == "estimate" else "ok"


def city_table(results: Sequence[dict[str, Any]], catalogue: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return the city table from the area results (see the module docstring for the columns)."""
    meta = catalogue.drop(columns="geometry").set_index("area")
    template: pd.DataFrame | None = None
    frames = []
    for r in results:
        if r.get("status") == "ok" and r.get("rows"):
            template = pd.DataFrame(r["rows"])[
                [
                    "category",
                    "category_zh",
                    "category_en",
                    "tier",
                    "threshold_m",
                    "is_standard_tier",
                ]
            ]
            break
    for r in results:
        aid = r["area"]
        status = area_status(r)
        if status != "failed":
            df = pd.DataFrame(r["rows"]).rename(columns={"pop_source": "population_source"})
        else:
            df = (
                template.copy() if template is not None else pd.DataFrame({"category": [COMPOSITE]})
            )
            for col in ("population", "covered_population", "share", "completeness"):
                df[col] = math.nan
            df["basis"] = ""
            df["data_status"] = "failed"
            df["population_source"] = ""
            df["population_note"] = ""
            df["note"] = r.get("reason", "")
        df["area"] = aid
        for col in ("name_zh", "name_en", "district", "code_2023"):
            df[col] = meta.at[aid, col] if aid in meta.index else ""
        df["area_status"] = status
        if status == "no_population":
            note = str(r.get("population_note") or meta.get("census_note", {}).get(aid, ""))
            df["population_note"] = note
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=list(CITY_COLUMNS))
    table = pd.concat(frames, ignore_index=True)
    for col in CITY_COLUMNS:
        if col not in table.columns:
            table[col] = None
    table = table[list(CITY_COLUMNS)]
    table["population_note"] = table["population_note"].fillna("").astype(str)
    table["note"] = table["note"].fillna("").astype(str)
    return table


def standard_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per area and category at its standard threshold (composite: all standard)."""
    return table[table["is_standard_tier"].fillna(False).astype(bool)]


def rank_areas(table: pd.DataFrame, category: str = COMPOSITE) -> pd.DataFrame:
    """Rank areas by share at the category's standard threshold (1 = best).

    Areas without a share (failed, no population, no data) come last, unranked.
    """
    sel = standard_rows(table)
    sel = sel[sel["category"] == category].copy()
    sel["rank"] = sel["share"].rank(ascending=False, method="min")
    return sel.sort_values(["rank", "area"], na_position="last").reset_index(drop=True)


def subdistricts_frame(
    table: pd.DataFrame, catalogue: gpd.GeoDataFrame, results: Sequence[dict[str, Any]]
) -> gpd.GeoDataFrame:
    """One polygon per area with status, reason, basis, population and standard shares."""
    by_area = {r["area"]: r for r in results}
    std = standard_rows(table)
    wide = std.pivot_table(index="area", columns="category", values="share", dropna=False)
    wide.columns = [f"share_{c}" for c in wide.columns]
    ranks = rank_areas(table).set_index("area")["rank"]
    gdf = catalogue[catalogue["area"].isin(by_area)].copy()
    gdf["status"] = [by_area[a].get("status", "") for a in gdf["area"]]
    gdf["reason"] = [by_area[a].get("reason", "") for a in gdf["area"]]
    gdf["area_status"] = [area_status(by_area[a]) for a in gdf["area"]]
    gdf["basis"] = [by_area[a].get("basis", "") for a in gdf["area"]]
    gdf["completeness"] = [by_area[a].get("completeness", math.nan) for a in gdf["area"]]
    gdf["population"] = [by_area[a].get("population") for a in gdf["area"]]
    gdf["population_source"] = [by_area[a].get("population_source", "") for a in gdf["area"]]
    gdf["rank_composite"] = gdf["area"].map(ranks)
    gdf = gdf.merge(wide, left_on="area", right_index=True, how="left")
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=settings.STORAGE_CRS)


def write_city(
    out: Path, table: pd.DataFrame, gdf: gpd.GeoDataFrame, facts: dict[str, Any]
) -> dict[str, Path]:
    """Write the city table (Parquet + CSV), ``subdistricts.gpkg`` and ``screen.json``."""
    folder = Path(out) / "city"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "parquet": write_atomic(
            folder / f"{CITY_TABLE}.parquet", lambda p: table.to_parquet(p, index=False)
        ),
        "csv": write_atomic(
            folder / f"{CITY_TABLE}.csv",
            lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"),
        ),
    }
    valid = gdf[gdf.geometry.notna()]
    paths["gpkg"] = write_atomic(
        folder / f"{CITY_LAYER}.gpkg", lambda p: valid.to_file(p, layer=CITY_LAYER, driver="GPKG")
    )
    paths["json"] = write_text_atomic(
        folder / "screen.json", json.dumps(facts, ensure_ascii=False, indent=1, default=str)
    )
    write_text_atomic(folder / "README.txt", README_TEXT)
    return paths


def has_city(out: str | os.PathLike[str]) -> bool:
    """Whether ``out`` holds a city screen (``city/coverage_by_subdistrict.parquet``)."""
    return (Path(out) / "city" / f"{CITY_TABLE}.parquet").exists()


def read_city(
    out: str | os.PathLike[str],
) -> tuple[pd.DataFrame, gpd.GeoDataFrame, dict[str, Any]]:
    """Return the city table, the subdistrict polygons and the run facts of ``<out>/city/``."""
    folder = Path(out) / "city"
    path = folder / f"{CITY_TABLE}.parquet"
    if not path.exists():
        raise MissingStageError("the city table", path=path, command="lifecircle screen --all")
    try:
        table = pd.read_parquet(path)
        polys = gpd.read_file(folder / f"{CITY_LAYER}.gpkg", layer=CITY_LAYER)
        facts = json.loads((folder / "screen.json").read_text(encoding="utf-8"))
    except Exception as exc:
        raise InputError(f"unreadable city screen: {exc}", path=folder) from None
    return table, polys, facts


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------
@dataclass
class ScreenResult:
    """What a screen did: area results (in area order), the table and the written files."""

    results: list[dict[str, Any]]
    table: pd.DataFrame
    paths: dict[str, Path]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """Results of the areas that failed."""
        return [r for r in self.results if r.get("status") != "ok"]


def run_screen(
    catalogue: Registry,
    areas: Sequence[Area],
    out: str | os.PathLike[str],
    *,
    pbf: str | os.PathLike[str] | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    threads: int = 1,
    calibration_area: str | None = settings.CALIBRATION_AREA,
    echo: Callable[[str], Any] = print,
    progress: Callable[[Iterable[Any], int, int], Iterable[Any]] | None = None,
) -> ScreenResult:
    """Screen ``areas`` on a Dask cluster into ``<out>/areas/<id>/`` and ``<out>/city/``.

    Parameters
    ----------
    catalogue
        Registry holding the areas (:func:`geo.city.catalogue.load_catalogue`).
    areas
        The areas to screen.
    out
        Results folder.
    pbf
        A user's ``.osm.pbf``: read once, each area's part becomes its network and buildings.
    scheduler
        Address of a running Dask scheduler; default a LocalCluster of ``workers`` processes.
    workers
        Worker processes of the LocalCluster (one task at a time each).
    threads
        Threads of the access engine inside each task.
    calibration_area
        Complete area calibrating the estimates' detour factor (None: no calibration run).
    echo
        Where one-line messages go (dashboard address, failures).
    progress
        ``progress(iterable, total, initial)``: a bar over areas (default none).

    Returns
    -------
    ScreenResult
    """
    from dask.distributed import as_completed

    started = time.perf_counter()
    out = Path(out)
    pbf_path = check_pbf(pbf) if pbf is not None else None
    if workers < 1:
        raise InputError(f"--workers must be at least 1, got {workers}")
    catalogue_gdf = catalogue_table(catalogue, areas)  # loads the boundaries once
    client, cluster = _client(scheduler, workers, threads)
    facts: dict[str, Any] = {
        "areas": len(areas),
        "workers": len(client.scheduler_info().get("workers", {})),
        "scheduler": scheduler or "LocalCluster",
        "pbf": str(pbf_path) if pbf_path else None,
    }
    try:
        link = dashboard_link(client)
        if link:
            echo(f"Dask dashboard / 任务面板: {link}")
        facts["dashboard"] = link
        reg_future = client.scatter(catalogue, broadcast=True, hash=False)
        cache_dir = out / "cache" / "network"
        cal_future = None
        if calibration_area and calibration_area in catalogue.areas:
            cal_future = client.submit(
                calibrate,
                reg_future,
                out / "city" / "calibration",
                calibration_area,
                cache_dir=cache_dir,
                key=f"calibrate-{calibration_area}",
                pure=False,
            )
        t0 = time.perf_counter()
        parts: dict[str, OsmData] = {}
        if pbf_path is not None:
            data = read_osm(pbf_path)
            facts["pbf_ways"] = len(data.ways)
            facts["pbf_nodes"] = int(sum(len(w.coords) for w in data.ways))
            parts = split_osm(
                data, clip_boxes(catalogue, areas), npartitions=2 * max(1, facts["workers"])
            )
            del data
        facts["pbf_seconds"] = round(time.perf_counter() - t0, 3)
        shared = shared_inputs_key(catalogue, pbf_path)
        calibration = None
        if cal_future is not None:
            try:
                calibration = cal_future.result()
            except Exception as exc:
                echo(f"warning: detour calibration failed ({exc}); estimates calibrate per area")
        facts["calibration"] = (
            {"area": calibration.area, "factor": calibration.factor, "mae_m": calibration.mae_m}
            if calibration is not None
            else None
        )
        facts["setup_seconds"] = round(time.perf_counter() - started, 3)
        keys = {a.id: area_key(catalogue, a, shared, calibration) for a in areas}
        done: dict[str, dict[str, Any]] = {}
        todo: list[Area] = []
        for a in areas:
            prev = read_status(out / "areas" / a.id)
            if prev and prev.get("status") == "ok" and prev.get("key") == keys[a.id]:
                try:
                    rows = read_area_rows(out / "areas" / a.id)
                    done[a.id] = {**prev, "rows": rows.to_dict("records"), "reused": True}
                    continue
                except (OSError, ValueError, KeyError):
                    pass
            todo.append(a)
        facts["reused"] = len(done)
        futures = {}
        part_futures = {aid: client.scatter(p, hash=False) for aid, p in parts.items()}
        # largest areas first (longest tasks first keeps the workers busy to the end)
        size = dict(
            zip(
                catalogue_gdf["area"],
                catalogue_gdf.to_crs(settings.PROJECTED_CRS).area.fillna(0.0),
                strict=True,
            )
        )
        for a in todo:
            fut = client.submit(
                screen_area,
                reg_future,
                a.id,
                out / "areas" / a.id,
                content_key=keys[a.id],
                osm=part_futures.get(a.id),
                pbf_name=pbf_path.name if pbf_path else "",
                calibration=calibration,
                cache_dir=cache_dir,
                threads=threads,
                pure=False,
                priority=int(size.get(a.id, 0.0) // 1000),
            )
            futures[fut] = a.id
        t_tasks = time.perf_counter()
        stream: Iterable[Any] = as_completed(list(futures))  # type: ignore[no-untyped-call]
        if progress is not None:
            stream = progress(stream, len(areas), len(done))
        for fut in stream:
            aid = futures[fut]
            try:
                res = fut.result()
            except Exception as exc:  # the worker died (memory, signal): this area only
                res = {"area": aid, "status": "failed", "reason": f"worker error: {exc}"}
            done[aid] = res
            if res.get("status") != "ok":
                echo(f"failed / 失败: {aid}: {res.get('reason')}")
        facts["tasks_seconds"] = round(time.perf_counter() - t_tasks, 3)
        facts["workers_memory"] = _memory(client)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    results = [done[a.id] for a in areas]
    table = city_table(results, catalogue_gdf)
    gdf = subdistricts_frame(table, catalogue_gdf, results)
    facts["wall_seconds"] = round(time.perf_counter() - started, 3)
    facts["per_area"] = [
        {
            k: r.get(k)
            for k in ("area", "status", "reason", "seconds", "nodes", "edges", "units", "basis")
        }
        | {"stage_seconds": r.get("stage_seconds", {}), "reused": bool(r.get("reused"))}
        for r in results
    ]
    facts["stages"] = list(STAGES)
    paths = write_city(out, table, gdf, facts)
    return ScreenResult(results, table, paths, facts)


def peak_rss() -> int:
    """Peak resident memory of this process (bytes; Linux ``ru_maxrss`` is in KiB)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def _memory(client: Any) -> dict[str, Any]:
    """Peak memory (bytes) of each worker process and of the scheduler's process."""
    try:
        return {
            "workers": {str(k): int(v) for k, v in client.run(peak_rss).items()},
            "scheduler": int(client.run_on_scheduler(peak_rss)),
        }
    except Exception:  # a remote scheduler may refuse run_on_scheduler
        return {}
