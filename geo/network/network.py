"""Walking networks: from OSM ways to node/edge tables, clipped to a study area.

Tables (docs/ARCHITECTURE.md): nodes ``node_id, x, y`` (projected metres, EPSG:32651) plus
``lon, lat``;
edges ``u, v, length_m, highway, name, geometry`` (WGS-84 LineStrings) plus ``osm_id``.
Every edge is walkable both ways. Lengths are geodesic metres (WGS-84 ellipsoid).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Geod

from geo import settings
from geo._errors import InputError, LifeCircleError
from geo.io.areas import Area, Registry, network_sources
from geo.io.files import fingerprint, write_atomic, write_text_atomic
from geo.io.geom import bbox_of, clip_polygon, project_geom, to_projected
from geo.io.osm import COORD_SCALE, OsmData, OsmWay, osm_format, read_osm

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from shapely.geometry.base import BaseGeometry

_GEOD = Geod(ellps="WGS84")
_FOOT_OPEN = frozenset({"yes", "designated", "permissive"})


@dataclass
class WalkNetwork:
    """An undirected walking network for one area.

    Attributes
    ----------
    nodes
        ``node_id, x, y, lon, lat``; x/y in ``crs`` metres.
    edges
        GeoDataFrame ``u, v, length_m, highway, name, osm_id, geometry`` (WGS-84).
    info
        Provenance and quality: sources, timestamps, completeness, largest component share.
    """

    area: str
    nodes: pd.DataFrame
    edges: gpd.GeoDataFrame
    crs: str = settings.PROJECTED_CRS
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.edges)

    def edges_projected(self) -> gpd.GeoDataFrame:
        """Edges in the projected CRS (metres)."""
        return self.edges.to_crs(self.crs)


def is_walkable(tags: dict[str, str]) -> bool:
    """Whether an OSM way is part of the pedestrian network (see settings.WALK_HIGHWAYS)."""
    hw = tags.get("highway")
    if hw is None:
        return False
    foot = tags.get("foot", "")
    if foot == "no" or tags.get("area") == "yes":
        return False
    if tags.get("access") in ("private", "no") and foot not in _FOOT_OPEN:
        return False
    if hw in settings.WALK_HIGHWAYS:
        return True
    return hw in settings.WALK_IF_FOOT_TAGGED and foot in _FOOT_OPEN


def ways_to_network(
    ways: Sequence[OsmWay],
    *,
    area: str = "",
    clip: Any = None,
    crs: str = settings.PROJECTED_CRS,
    simplify: bool = settings.SIMPLIFY_NETWORK,
) -> WalkNetwork:
    """Split walkable ways at shared coordinates into an undirected edge/node network.

    Ways join where they share a coordinate (at OSM's 1e-7 degree precision), so files
    without node ids (Overpass ``out geom``) and with them produce the same topology.

    Parameters
    ----------
    ways
        OSM ways (non-walkable ones are dropped here).
    clip
        Optional WGS-84 polygon; edges not intersecting it are dropped.
    simplify
        False (default): every OSM vertex is a node and every edge a straight segment, which
        keeps edge snapping exact and simple. True: nodes only at junctions and dead ends.
    """
    walk = [w for w in ways if is_walkable(w.tags) and len(w.coords) >= 2]
    if not walk:
        return _empty_network(area, crs)
    lens = np.fromiter((len(w.coords) for w in walk), dtype=np.int64, count=len(walk))
    coords = np.concatenate([w.coords for w in walk])
    refs = np.concatenate(
        [w.refs if w.refs is not None else np.full(len(w.coords), -1, np.int64) for w in walk]
    )
    way_of = np.repeat(np.arange(len(walk)), lens)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    ends = starts + lens - 1

    ikey = np.round(coords * COORD_SCALE).astype(np.int64)
    # one uint64 per coordinate (lon major, lat minor: the order of a row-wise unique), which
    # sorts ~5x faster than np.unique(axis=0) on large files
    packed = (ikey[:, 0] + _LON_OFFSET).astype(np.uint64) << np.uint64(32) | (
        ikey[:, 1] + _LAT_OFFSET
    ).astype(np.uint64)
    first_of, inverse = np.unique(packed, return_index=True, return_inverse=True)[1:]
    uniq = ikey[first_of]
    inverse = inverse.ravel()
    occurrences = np.bincount(inverse, minlength=len(uniq))
    # a closed way visits its first coordinate twice: that is one junction, not two
    is_split = occurrences[inverse] >= 2 if simplify else np.ones(len(coords), dtype=bool)
    is_split[starts] = True
    is_split[ends] = True

    # segment lengths (geodesic), zero across way boundaries
    seg_len = np.zeros(len(coords))
    if len(coords) > 1:
        _, _, d = _GEOD.inv(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1])
        same_way = way_of[:-1] == way_of[1:]
        seg_len[1:] = np.where(same_way, d, 0.0)
    cum = np.cumsum(seg_len)

    split_pos = np.flatnonzero(is_split)
    # consecutive split points within one way make an edge
    a = split_pos[:-1]
    b = split_pos[1:]
    valid = way_of[a] == way_of[b]
    a, b = a[valid], b[valid]
    length = cum[b] - cum[a]
    keep = (b > a) & ((inverse[a] != inverse[b]) | (length > 0))
    a, b, length = a[keep], b[keep], length[keep]
    if len(a) == 0:
        return _empty_network(area, crs)
    # overlapping duplicate ways (the same street in several merged downloads) give the same
    # edge many times over: keep one (the first way's) before any geometry is built, so memory
    # follows the distinct streets, not the file size, and every later stage sees it once
    ua, ub = inverse[a], inverse[b]
    dup = pd.DataFrame(
        {
            "lo": np.minimum(ua, ub),
            "hi": np.maximum(ua, ub),
            "mm": np.round(length * 1000).astype(np.int64),
        }
    ).duplicated()
    if dup.any():
        first = ~dup.to_numpy()
        a, b, length = a[first], b[first], length[first]

    nverts = b - a + 1
    vidx = np.repeat(a, nverts) + (
        np.arange(nverts.sum()) - np.repeat(np.cumsum(nverts) - nverts, nverts)
    )
    geoms = shapely.linestrings(coords[vidx], indices=np.repeat(np.arange(len(a)), nverts))

    wa = way_of[a]
    edges = pd.DataFrame(
        {
            "u_idx": inverse[a],
            "v_idx": inverse[b],
            "length_m": length,
            "highway": [walk[i].tags.get("highway", "") for i in wa],
            "name": [walk[i].tags.get("name", "") for i in wa],
            "osm_id": np.fromiter((walk[i].id for i in wa), dtype=np.int64, count=len(wa)),
        }
    )
    gdf = gpd.GeoDataFrame(edges, geometry=geoms, crs="EPSG:4326")
    if clip is not None:
        shapely.prepare(clip)
        gdf = gdf[shapely.intersects(clip, gdf.geometry.values)]
        if gdf.empty:
            return _empty_network(area, crs)

    used = np.unique(np.concatenate([gdf["u_idx"].to_numpy(), gdf["v_idx"].to_numpy()]))
    node_ids = _node_ids(uniq, inverse, refs, used)
    lon = uniq[used, 0] / COORD_SCALE
    lat = uniq[used, 1] / COORD_SCALE
    x, y = to_projected(lon, lat, crs)
    nodes = pd.DataFrame({"node_id": node_ids, "x": x, "y": y, "lon": lon, "lat": lat})
    remap = np.full(len(uniq), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    gdf = gdf.assign(
        u=node_ids[remap[gdf["u_idx"].to_numpy()]], v=node_ids[remap[gdf["v_idx"].to_numpy()]]
    )
    gdf = gdf[["u", "v", "length_m", "highway", "name", "osm_id", "geometry"]].reset_index(
        drop=True
    )
    return WalkNetwork(area, nodes, gdf, crs)


_LON_OFFSET = int(180 * COORD_SCALE)  # lon*1e7 + offset in [0, 3.6e9) < 2**32
_LAT_OFFSET = int(90 * COORD_SCALE)


def _node_ids(
    uniq: np.ndarray, inverse: np.ndarray, refs: np.ndarray, used: np.ndarray
) -> np.ndarray:
    """OSM node ids where a coordinate has exactly one; negative synthetic ids otherwise."""
    best = np.full(len(uniq), -1, dtype=np.int64)
    np.maximum.at(best, inverse, refs)
    ids: NDArray[np.int64] = best[used]
    # a ref seen at two coordinates (moved between snapshots) cannot name both
    _, first, counts = np.unique(ids, return_index=True, return_counts=True)
    dup = np.isin(ids, ids[first[counts > 1]]) & (ids >= 0)
    synthetic = (ids < 0) | dup
    ids = ids.copy()
    ids[synthetic] = -(np.flatnonzero(synthetic) + 1)
    return ids


def _empty_network(area: str, crs: str) -> WalkNetwork:
    nodes = pd.DataFrame(
        {"node_id": pd.Series([], dtype="int64"), "x": [], "y": [], "lon": [], "lat": []}
    )
    edges = gpd.GeoDataFrame(
        {
            "u": pd.Series([], dtype="int64"),
            "v": pd.Series([], dtype="int64"),
            "length_m": pd.Series([], dtype=float),
            "highway": pd.Series([], dtype=str),
            "name": pd.Series([], dtype=str),
            "osm_id": pd.Series([], dtype="int64"),
        },
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )
    return WalkNetwork(area, nodes, edges, crs)


# --------------------------------------------------------------------------------------------
# quality measures
# --------------------------------------------------------------------------------------------
def component_labels(net: WalkNetwork) -> np.ndarray:
    """Connected-component label per node (in ``net.nodes`` order)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = net.n_nodes
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    index = pd.Index(net.nodes["node_id"].to_numpy())
    u = index.get_indexer(net.edges["u"].to_numpy())
    v = index.get_indexer(net.edges["v"].to_numpy())
    m = coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    labels: NDArray[np.int32]
    _, labels = connected_components(m, directed=False)
    return labels


def largest_component_share(net: WalkNetwork) -> float:
    """Share of nodes in the largest connected component (0 for an empty network)."""
    labels = component_labels(net)
    if len(labels) == 0:
        return 0.0
    return float(np.bincount(labels).max() / len(labels))


def completeness(
    net: WalkNetwork, boundary: BaseGeometry, radius_m: float = settings.COMPLETENESS_RADIUS_M
) -> float:
    """Share of the area polygon within ``radius_m`` of a walkable way (0-1).

    A complete OSM extract scores about 0.9 in Shanghai (courtyards and water are far from ways).
    """
    if net.n_edges == 0:
        return 0.0
    return _share_near(net.edges_projected().geometry.values, boundary, radius_m, net.crs)


def data_completeness(
    ways: Sequence[OsmWay],
    boundary: BaseGeometry,
    radius_m: float = settings.COMPLETENESS_RADIUS_M,
    crs: str = settings.PROJECTED_CRS,
) -> float:
    """Share of the area within ``radius_m`` of any walk-class ``highway=*`` way in the data (0-1).

    This measures the *data*: access restrictions (``access=private`` compound roads) count,
    because their presence shows the extract is complete there. The routable network may be
    smaller; :func:`completeness` measures that.
    """
    walk_class = settings.WALK_HIGHWAYS | settings.WALK_IF_FOOT_TAGGED
    lines = [w.coords for w in ways if w.tags.get("highway") in walk_class and len(w.coords) >= 2]
    if not lines:
        return 0.0
    x, y = to_projected(np.concatenate(lines)[:, 0], np.concatenate(lines)[:, 1], crs)
    idx = np.repeat(np.arange(len(lines)), [len(c) for c in lines])
    geoms = shapely.linestrings(np.column_stack([x, y]), indices=idx)
    return _share_near(geoms, boundary, radius_m, crs)


def _share_near(lines: np.ndarray, boundary: BaseGeometry, radius_m: float, crs: str) -> float:
    """Share of ``boundary`` within ``radius_m`` of projected ``lines`` (duplicates merged)."""
    poly = project_geom(boundary, crs)
    near = lines[shapely.intersects(shapely.buffer(poly, radius_m), lines)]
    if len(near) == 0:
        return 0.0
    merged = unique_linework(near)
    guard_memory(
        BUFFER_BYTES_PER_VERTEX * int(shapely.get_num_coordinates(merged)),
        what=f"the {radius_m:g} m completeness buffer",
    )
    # one buffer per line, then a cascaded union: GEOS buffering the whole MultiLineString at
    # once nodes every line against every other (9 s vs 0.2 s on a synthetic 2 km grid)
    covered = shapely.union_all(shapely.buffer(shapely.get_parts(merged), radius_m, quad_segs=4))
    return float(shapely.area(shapely.intersection(covered, poly)) / shapely.area(poly))


def unique_linework(lines: np.ndarray, precision_m: float = 0.001) -> Any:
    """Return the lines as one MultiLineString with every overlapping duplicate segment kept once.

    GEOS buffers a MultiLineString by noding all of it: a segment present k times costs k^2
    intersections and the memory to hold them. Files merged from several downloads repeat
    ways (same streets, other ids, overlapping stretches): a 6.6 MB file of such ways took
    43 s and 5.5 GB here. Splitting into segments, dropping repeats (endpoints equal within
    ``precision_m``, either direction) and merging the rest back into lines gives the same
    union, with each segment once.
    """
    coords, which = shapely.get_coordinates(lines, return_index=True)
    if len(coords) < 2:
        return shapely.multilinestrings(lines)
    same = which[:-1] == which[1:]
    a, b = coords[:-1][same], coords[1:][same]
    ka = np.round(a / precision_m).astype(np.int64)
    kb = np.round(b / precision_m).astype(np.int64)
    swap = (ka[:, 0] > kb[:, 0]) | ((ka[:, 0] == kb[:, 0]) & (ka[:, 1] > kb[:, 1]))
    lo = np.where(swap[:, None], kb, ka)
    hi = np.where(swap[:, None], ka, kb)
    keys = np.column_stack([lo, hi])
    nonzero = (keys[:, 0] != keys[:, 2]) | (keys[:, 1] != keys[:, 3])
    rows = np.ascontiguousarray(keys[nonzero])
    _, first = np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * 4))), return_index=True)
    keep = np.flatnonzero(nonzero)[np.sort(first)]
    if len(keep) == 0:
        return shapely.multilinestrings(lines)
    segs = shapely.linestrings(
        np.stack([a[keep], b[keep]], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(len(keep)), 2),
    )
    return shapely.line_merge(shapely.multilinestrings(segs))


#: Peak bytes GEOS needs per vertex of buffered linework (measured with
#: scripts/bench_stress.py on the synthetic grids: ~2 kB; doubled for safety).
BUFFER_BYTES_PER_VERTEX: int = 4096

#: Peak bytes per byte of an OSM input file when all of it lies in the area (worst case).
#: Measured with scripts/bench_stress.py: a 150 MB synthetic XML file of overlapping ways peaks
#: at 3.0 GB (~18x over a 0.25 GB base). JSON is parsed whole (more); PBF is ~8x denser.
READ_BYTES_PER_BYTE: dict[str, float] = {"xml": 20.0, "json": 25.0, "pbf": 150.0}


def memory_limit_bytes() -> int:
    """Return the memory guard's limit: ``$LIFECIRCLE_MEMORY_LIMIT_MB``, else the setting."""
    raw = os.environ.get(MEMORY_ENV)
    if raw:
        try:
            mb = float(raw)
        except ValueError:
            raise InputError(
                f"{MEMORY_ENV}={raw!r} is not a number of megabytes", record=MEMORY_ENV
            ) from None
        if not mb > 0:
            raise InputError(f"{MEMORY_ENV}={raw!r} must be above 0", record=MEMORY_ENV)
        return int(mb * 2**20)
    return int(settings.MEMORY_LIMIT_MB * 2**20)


MEMORY_ENV = "LIFECIRCLE_MEMORY_LIMIT_MB"


def guard_memory(estimate_bytes: int, *, what: str, path: object | None = None) -> None:
    """Refuse, with a message, work whose estimated memory is above the configured limit."""
    limit = memory_limit_bytes()
    if estimate_bytes > limit:
        raise InputError(
            f"{what} would need about {estimate_bytes / 2**30:.1f} GB of memory, above the "
            f"limit of {limit / 2**30:.1f} GB",
            path=path,
            hint=f"use a smaller extract (clip it to the area) or raise {MEMORY_ENV}",
        )


def check_network(net: WalkNetwork, sources: Sequence[str]) -> None:
    """Raise if a network built from declared sources is empty or fully disconnected."""
    where = ", ".join(sources) or "(no files)"
    if net.n_edges == 0:
        raise LifeCircleError(
            f"no walkable ways inside area '{net.area}' (+ clip buffer)", path=where
        )
    labels = component_labels(net)
    if np.bincount(labels).max() <= 2:
        raise LifeCircleError(
            f"network of area '{net.area}' is fully disconnected: {net.n_edges} edges and no two "
            "share a node (do the ways share coordinates or node ids?)",
            path=where,
        )


# --------------------------------------------------------------------------------------------
# per-area build with cache
# --------------------------------------------------------------------------------------------
def cache_key(sources: Sequence[Path], boundary: BaseGeometry, buffer_m: float) -> str:
    """Hash of input contents and the settings that shape a network."""
    h = hashlib.sha256()
    h.update(settings.CACHE_VERSION.encode())
    h.update(
        f"{buffer_m}|{sorted(settings.WALK_HIGHWAYS)}|{settings.PROJECTED_CRS}|"
        f"{settings.SIMPLIFY_NETWORK}".encode()
    )
    h.update(shapely.to_wkb(boundary))
    for p in sources:
        h.update(f"{p.name}:{fingerprint(p)}".encode())  # content, whatever the size
    return h.hexdigest()[:16]


def build_area_network(
    registry: Registry,
    area: Area | str,
    *,
    cache_dir: Path | None = None,
    buffer_m: float = settings.CLIP_BUFFER_M,
    osm_data: OsmData | None = None,
) -> WalkNetwork | None:
    """Build (or load from cache) the walking network of one area.

    Returns None when the area has no network sources at all (status "none"); raises
    LifeCircleError when declared sources give an empty or fully disconnected network.
    """
    if isinstance(area, str):
        area = registry.get(area)
    boundary = registry.boundary(area)
    sources = network_sources(registry, area)
    if not sources and osm_data is None:
        return None
    key = cache_key(sources, boundary, buffer_m)
    if cache_dir is not None and osm_data is None:
        cached = load_network(cache_dir, area.id, key)
        if cached is not None:
            return cached
    clip = clip_polygon(boundary, buffer_m)
    data = osm_data if osm_data is not None else OsmData()
    if osm_data is None:
        need = sum(int(p.stat().st_size * READ_BYTES_PER_BYTE[osm_format(p)]) for p in sources)
        guard_memory(
            need,
            what=f"reading the network files of area '{area.id}' "
            f"({sum(p.stat().st_size for p in sources) / 1e6:.0f} MB)",
            path=sources[0] if len(sources) == 1 else None,
        )
        bbox = bbox_of(clip, 0.002)
        for src in sources:
            data.extend(read_osm(src, bbox=bbox))
    net = ways_to_network(data.ways, area=area.id, clip=clip)
    check_network(net, [str(s) for s in sources])
    net.info = {
        "area": area.id,
        "sources": [str(s) for s in sources],
        "formats": [osm_format(s) for s in sources],
        "timestamps": sorted(set(data.timestamps)),
        "buffer_m": buffer_m,
        "completeness": round(data_completeness(data.ways, boundary), 4),
        "routable_share": round(completeness(net, boundary), 4),
        "largest_component_share": round(largest_component_share(net), 4),
        "cache_key": key,
    }
    if cache_dir is not None and osm_data is None:
        save_network(net, cache_dir, key)
    return net


def _cache_paths(cache_dir: Path, area: str, key: str) -> tuple[Path, Path, Path]:
    base = cache_dir / f"{area}-{key}"
    return (
        base.with_suffix(".nodes.parquet"),
        base.with_suffix(".edges.parquet"),
        base.with_suffix(".info.json"),
    )


def save_network(net: WalkNetwork, cache_dir: Path, key: str) -> None:
    """Write a network as GeoParquet (edges), Parquet (nodes) and JSON info, atomically.

    The info file (written last) records the row counts and a content hash of the two tables,
    so :func:`load_network` can tell a complete, matching cache from a torn or edited one.
    """
    pn, pe, pi = _cache_paths(cache_dir, net.area, key)
    write_atomic(pn, lambda p: net.nodes.to_parquet(p, index=False))
    write_atomic(pe, lambda p: net.edges.to_parquet(p, index=False))
    check = {
        "cache_key": key,
        "n_nodes": net.n_nodes,
        "n_edges": net.n_edges,
        "nodes_hash": fingerprint(pn),
        "edges_hash": fingerprint(pe),
    }
    info = {**net.info, "cache_check": check}
    write_text_atomic(pi, json.dumps(info, ensure_ascii=False, indent=1))  # written last


def load_network(cache_dir: Path, area: str, key: str) -> WalkNetwork | None:
    """Load a cached network, or None when absent, unreadable or inconsistent (rebuilt then).

    The tables' content hashes and row counts must match the info file written with them;
    a cache that fails the check is removed.
    """
    pn, pe, pi = _cache_paths(cache_dir, area, key)
    if not (pn.exists() and pe.exists() and pi.exists()):
        return None
    try:
        info = json.loads(pi.read_text(encoding="utf-8"))
        check = info.pop("cache_check")
        ok = (
            check["cache_key"] == key
            and check["nodes_hash"] == fingerprint(pn)
            and check["edges_hash"] == fingerprint(pe)
        )
        if ok:
            nodes = pd.read_parquet(pn)
            edges = gpd.read_parquet(pe)
            ok = (
                len(nodes) == check["n_nodes"]
                and len(edges) == check["n_edges"]
                and {"node_id", "x", "y", "lon", "lat"} <= set(nodes.columns)
                and {"u", "v", "length_m", "geometry"} <= set(edges.columns)
            )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, LifeCircleError):
        # unreadable JSON/Parquet (ArrowInvalid is a ValueError), a missing check: rebuild
        ok = False
    if not ok:
        for p in (pi, pn, pe):
            p.unlink(missing_ok=True)
        return None
    return WalkNetwork(area, nodes, edges, settings.PROJECTED_CRS, info)


def network_status(registry: Registry, area: Area, net: WalkNetwork | None) -> dict[str, Any]:
    """One status row: ``area, nodes, edges, completeness, largest_component_share, sources``."""
    if net is None:
        return {
            "area": area.id,
            "name_zh": area.name_zh,
            "name_en": area.name_en,
            "nodes": 0,
            "edges": 0,
            "completeness": 0.0,
            "largest_component_share": 0.0,
            "routable_share": 0.0,
            "sources": [],
            "basis": "none",
            "note": "no walking-network data / 无步行路网数据",
        }
    info = net.info
    comp = float(info.get("completeness", 0.0))
    return {
        "area": area.id,
        "name_zh": area.name_zh,
        "name_en": area.name_en,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "completeness": comp,
        "largest_component_share": float(info.get("largest_component_share", 0.0)),
        "routable_share": float(info.get("routable_share", 0.0)),
        "sources": [
            os.path.relpath(s, settings.PROJECT_ROOT) if s.startswith("/") else s
            for s in info.get("sources", [])
        ],
        "data_timestamps": info.get("timestamps", []),
        "basis": basis_for(comp),
        "note": ""
        if comp >= COMPLETE_THRESHOLD
        else f"incomplete network ({comp:.0%} of area within "
        f"{settings.COMPLETENESS_RADIUS_M:.0f} m of a way) / 路网数据不完整",
    }


#: Completeness at or above which network numbers are reported as such (a full extract ~0.9).
COMPLETE_THRESHOLD: float = 0.85


def basis_for(completeness_share: float) -> str:
    """``network`` for a complete network, ``estimate`` for a partial one, ``none`` without."""
    if completeness_share >= COMPLETE_THRESHOLD:
        return "network"
    if completeness_share > 0:
        return "estimate"
    return "none"
