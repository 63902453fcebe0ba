"""Straight-line access estimates for areas without a complete walking network.

Where the OSM network is incomplete (:func:`geo.network.network.basis_for` gives ``estimate``) or
absent (``none``, e.g. 长白新村 here), walking distance is estimated as the straight-line
distance times a *detour factor* calibrated on a complete network (新华路). The estimate is
always labelled: every row carries ``basis = "estimate"`` and a note. It is never presented
as a network number.

Calibration (:func:`calibrate_nearest`, used by the coverage stage): on the complete area, the
access engine's network distance from every demand unit to its nearest facility of each
category (including the walk from the unit and to the facility off the network) is compared
with the straight-line distance to the nearest facility. The factor is the median of
``network / straight-line`` over unit-category pairs 100-1500 m apart; its error is the
distribution of ``|factor × straight-line - network|``. This is exactly the quantity the
estimate replaces.

:func:`calibrate_detour` is the street-only variant: nodes of the largest connected component
thinned to one per 50 m cell, shortest paths (scipy ``csgraph.dijkstra``) between random
node pairs. It omits the walk to and from the street, so it underestimates the factor for
demand units and facilities (on 新华路 1.32 against 1.5 for nearest facilities); it is kept
for reference in the calibration file.

Access table (:func:`estimate_access`): contract *access* columns ``unit_id, category,
nearest_m, nearest_min, n_within`` plus ``basis`` and ``note``.
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from geo import settings
from geo._errors import InputError
from geo.io.files import read_json, write_text_atomic
from geo.io.geom import project_geom
from geo.network.access import compute_access
from geo.network.network import WalkNetwork

if TYPE_CHECKING:
    import geopandas as gpd
    from scipy.sparse import csr_matrix
    from shapely.geometry.base import BaseGeometry

#: Detour factor used when no calibration is available (a typical urban value; the calibrated
#: 新华路 value replaces it once ``out/detour_calibration.json`` exists).
FALLBACK_DETOUR: float = 1.3

#: Crow-fly band (m) of the pairs the factor is fitted on (walking trips of the life circle).
CALIBRATION_BAND_M: tuple[float, float] = (100.0, 1500.0)

#: Thinning cell (m): at most one calibration node per cell.
THIN_CELL_M: float = 50.0

#: Note carried by every estimated row.
ESTIMATE_NOTE: str = (
    "straight-line × detour factor (estimate, not network distance) / 直线距离×绕行系数估算"
)
NO_NETWORK_NOTE: str = (
    "no network data — straight-line × detour factor / 无路网数据，直线距离×绕行系数估算"
)


@dataclass
class DetourCalibration:
    """A calibrated detour factor and its error (distances in metres)."""

    factor: float
    n_pairs: int
    area: str = ""
    band_m: tuple[float, float] = CALIBRATION_BAND_M
    ratio_percentiles: dict[str, float] = field(default_factory=dict)
    mae_m: float = float("nan")
    abs_error_percentiles_m: dict[str, float] = field(default_factory=dict)
    rel_error_percentiles: dict[str, float] = field(default_factory=dict)
    fitted_ratio: float = float("nan")
    by_band: list[dict[str, float]] = field(default_factory=list)
    n_sources: int = 0
    seed: int = 0
    method: str = (
        "median of network/crow-fly distance over node pairs of the largest component, nodes "
        "thinned to one per 50 m cell, scipy csgraph dijkstra"
    )
    inputs_key: str = ""
    node_pairs: dict[str, Any] = field(default_factory=dict)
    coverage_check: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        """JSON text (UTF-8, indented)."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)


def detour_stats(
    network_m: NDArray[np.float64],
    crow_m: NDArray[np.float64],
    band_m: tuple[float, float] = CALIBRATION_BAND_M,
) -> DetourCalibration:
    """Fit the detour factor on pairs of network and straight-line distances.

    Parameters
    ----------
    network_m, crow_m
        Network and straight-line distance of each pair (m).
    band_m
        Only pairs with ``band_m[0] <= crow <= band_m[1]`` (and a finite network distance) count.

    Returns
    -------
    DetourCalibration
        ``factor`` = median ratio; errors of ``factor × crow`` against the network distance.
    """
    net = np.asarray(network_m, float)
    crow = np.asarray(crow_m, float)
    keep = np.isfinite(net) & (crow >= band_m[0]) & (crow <= band_m[1]) & (crow > 0)
    net, crow = net[keep], crow[keep]
    if len(net) == 0:
        raise InputError(
            f"no node pairs {band_m[0]:.0f}-{band_m[1]:.0f} m apart to "
            "calibrate the detour factor on"
        )
    ratio = net / crow
    factor = float(np.median(ratio))
    err = np.abs(factor * crow - net)
    rel = (factor * crow - net) / net
    qs = (10, 25, 50, 75, 90)
    bands = []
    edges = [band_m[0], 500.0, 1000.0, band_m[1]]
    for lo, hi in itertools.pairwise(edges):
        m = (crow >= lo) & (crow <= hi)
        if m.any():
            bands.append(
                {
                    "from_m": lo,
                    "to_m": hi,
                    "n_pairs": int(m.sum()),
                    "median_ratio": round(float(np.median(ratio[m])), 4),
                    "mae_m": round(float(err[m].mean()), 1),
                }
            )
    return DetourCalibration(
        factor=round(factor, 4),
        n_pairs=len(net),
        band_m=band_m,
        ratio_percentiles={f"p{q}": round(float(np.percentile(ratio, q)), 4) for q in qs},
        mae_m=round(float(err.mean()), 2),
        abs_error_percentiles_m={
            f"p{q}": round(float(np.percentile(err, q)), 1) for q in (50, 75, 90, 95)
        },
        rel_error_percentiles={f"p{q}": round(float(np.percentile(rel, q)), 4) for q in qs},
        fitted_ratio=round(float((net * crow).sum() / (crow * crow).sum()), 4),
        by_band=bands,
    )


def _graph(net: WalkNetwork) -> csr_matrix:
    """Return the network as a symmetric sparse matrix of edge lengths (m) by node row."""
    n = net.n_nodes
    index = pd.Index(net.nodes["node_id"].to_numpy())
    u = index.get_indexer(net.edges["u"].to_numpy())
    v = index.get_indexer(net.edges["v"].to_numpy())
    w = net.edges["length_m"].to_numpy(dtype=float)
    # zero-length edges would vanish from a sparse matrix; a tiny length keeps them
    w = np.maximum(w, 1e-6)
    m = coo_matrix(
        (np.concatenate([w, w]), (np.concatenate([u, v]), np.concatenate([v, u]))), shape=(n, n)
    ).tocsr()
    m.sum_duplicates()
    return m


def calibrate_detour(
    net: WalkNetwork,
    n_sources: int = 400,
    band_m: tuple[float, float] = CALIBRATION_BAND_M,
    seed: int = 0,
    thin_m: float = THIN_CELL_M,
    boundary: BaseGeometry | None = None,
) -> DetourCalibration:
    """Calibrate the detour factor on a (complete) walking network.

    Parameters
    ----------
    net
        Walking network; only its largest connected component is used.
    n_sources
        Number of random source nodes (after thinning).
    band_m
        Crow-fly band of the fitted pairs (m).
    seed
        Random seed (the sample is reproducible).
    thin_m
        Keep at most one node per ``thin_m`` grid cell.
    boundary
        Optional WGS-84 area polygon: pairs are taken among nodes inside it (where the data
        is complete), while paths may leave it.

    Returns
    -------
    DetourCalibration
    """
    if net.n_nodes == 0:
        raise InputError(f"network of area '{net.area}' is empty; cannot calibrate")
    g = _graph(net)
    # csgraph reads the explicit stored entries (the graph is symmetric by construction)
    _, labels = connected_components(g, directed=False)
    big = np.flatnonzero(labels == np.bincount(labels).argmax())
    x = net.nodes["x"].to_numpy(float)
    y = net.nodes["y"].to_numpy(float)
    if boundary is not None:
        big = big[shapely.contains_xy(project_geom(boundary), x[big], y[big])]
        if len(big) < 2:
            raise InputError(f"fewer than 2 network nodes inside area '{net.area}'")
    cells = pd.DataFrame({"i": np.floor(x[big] / thin_m), "j": np.floor(y[big] / thin_m)})
    thinned = big[~cells.duplicated().to_numpy()]
    rng = np.random.default_rng(seed)
    src = rng.choice(thinned, size=min(n_sources, len(thinned)), replace=False)
    limit = band_m[1] * 4.0
    dist = dijkstra(g, directed=False, indices=src, limit=limit)
    d_net = dist[:, thinned]
    d_crow = np.hypot(x[src][:, None] - x[thinned][None, :], y[src][:, None] - y[thinned][None, :])
    cal = detour_stats(d_net.ravel(), d_crow.ravel(), band_m)
    cal.area = net.area
    cal.n_sources = len(src)
    cal.seed = seed
    return cal


def calibrate_nearest(
    net: WalkNetwork,
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    band_m: tuple[float, float] = CALIBRATION_BAND_M,
) -> DetourCalibration:
    """Calibrate the detour factor on nearest-facility distances of a complete area.

    Parameters
    ----------
    net
        Walking network of the calibration area.
    units
        Demand units ``unit_id, x, y`` (EPSG:32651).
    facilities
        ``category, x, y`` (EPSG:32651).
    band_m
        Straight-line band of the fitted unit-category pairs (m).

    Returns
    -------
    DetourCalibration
        Fitted on (access-engine nearest distance, straight-line nearest distance) per unit and
        category; ``n_sources`` is the number of units.
    """
    cats = sorted(str(c) for c in facilities["category"].dropna().unique())
    if not cats or units.empty:
        raise InputError(f"no units or facilities in area '{net.area}' to calibrate on")
    thr = dict.fromkeys(cats, band_m[1])
    fac = facilities[["category", "x", "y"]]
    on_net = compute_access(net, units[["unit_id", "x", "y"]], fac, thr, max_m=3.0 * band_m[1])
    crow = estimate_access(units, fac, thr, factor=1.0)
    pairs = on_net.merge(crow, on=["unit_id", "category"], suffixes=("_net", "_crow"))
    cal = detour_stats(
        pairs["nearest_m_net"].to_numpy(float), pairs["nearest_m_crow"].to_numpy(float), band_m
    )
    cal.area = net.area
    cal.n_sources = len(units)
    cal.method = (
        "median of network/straight-line distance to the nearest facility, per demand unit and "
        "category (access engine, including the walk to and from the street)"
    )
    return cal


def calibration_path(out: str | os.PathLike[str]) -> Path:
    """``<out>/detour_calibration.json``."""
    return Path(out) / "detour_calibration.json"


def write_calibration(cal: DetourCalibration, out: str | os.PathLike[str]) -> Path:
    """Write ``<out>/detour_calibration.json`` atomically."""
    return write_text_atomic(calibration_path(out), cal.to_json())


def read_calibration(out: str | os.PathLike[str]) -> DetourCalibration | None:
    """Read the stored calibration; None when absent."""
    path = calibration_path(out)
    if not path.exists():
        return None
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object", path=path)
    try:
        raw["band_m"] = tuple(raw.get("band_m", CALIBRATION_BAND_M))
        return DetourCalibration(**raw)
    except TypeError as exc:
        raise InputError(f"unexpected calibration fields: {exc}", path=path) from None


def estimate_access(
    units: pd.DataFrame,
    facilities: pd.DataFrame,
    thresholds: dict[str, float],
    factor: float,
    speed_kmh: float = settings.WALK_SPEEDS_KMH["default"],
    max_m: float | None = None,
    note: str = ESTIMATE_NOTE,
) -> pd.DataFrame:
    """Access table from straight-line distance × detour factor.

    Parameters
    ----------
    units
        ``unit_id, x, y`` (EPSG:32651 metres).
    facilities
        ``category, x, y`` (EPSG:32651 metres).
    thresholds
        ``{category: radius_m}``: ``n_within`` counts facilities whose *estimated* walking
        distance is within the radius. Every category here gets rows, with or without
        facilities.
    factor
        Detour factor (network / straight-line distance), >= 1 in practice.
    speed_kmh
        Walking speed for ``nearest_min``.
    max_m
        Estimated distances beyond this become ``inf`` (default: no limit).
    note
        Text of the ``note`` column.

    Returns
    -------
    DataFrame
        ``unit_id, category, nearest_m, nearest_min, n_within, basis, note``, one row per unit
        and category; ``nearest_m = inf`` where no facility is (within ``max_m``).
    """
    if not np.isfinite(factor) or factor <= 0:
        raise InputError(f"detour factor must be positive, got {factor}")
    for col, df, what in (("unit_id", units, "units"), ("category", facilities, "facilities")):
        for c in (col, "x", "y"):
            if c not in df.columns:
                raise InputError(f"{what} table lacks column '{c}'")
    ux = units["x"].to_numpy(float)
    uy = units["y"].to_numpy(float)
    pts = np.column_stack([ux, uy])
    per_min = speed_kmh * 1000.0 / 60.0
    frames = []
    for cat, radius in thresholds.items():
        fac = facilities[facilities["category"] == cat]
        fxy = fac[["x", "y"]].to_numpy(float)
        fxy = fxy[np.all(np.isfinite(fxy), axis=1)]
        if len(fxy) == 0 or len(pts) == 0:
            near = np.full(len(pts), np.inf)
            count = np.zeros(len(pts), dtype=np.int64)
        else:
            tree = cKDTree(fxy)
            d, _ = tree.query(pts, k=1)
            near = np.asarray(d, float) * factor
            count = np.asarray(
                tree.query_ball_point(pts, r=radius / factor, return_length=True), dtype=np.int64
            )
        if max_m is not None:
            near = np.where(near <= max_m, near, np.inf)
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": units["unit_id"].to_numpy(),
                    "category": cat,
                    "nearest_m": near,
                    "nearest_min": near / per_min,
                    "n_within": count,
                }
            )
        )
    cols = ["unit_id", "category", "nearest_m", "nearest_min", "n_within"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: [] for c in cols})
    out["basis"] = "estimate"
    out["note"] = note
    return out


def facility_points(
    facilities: gpd.GeoDataFrame,
    boundary: BaseGeometry,
    buffer_m: float = settings.CLIP_BUFFER_M,
    statuses: tuple[str, ...] = ("existing",),
) -> pd.DataFrame:
    """Facilities (any ``area``) within ``buffer_m`` of an area, as ``category, x, y`` metres.

    Parameters
    ----------
    facilities
        GeoDataFrame of the contract *facilities* table (point geometry, any CRS).
    boundary
        WGS-84 area polygon.
    buffer_m
        Residents near the edge use facilities across it.
    statuses
        Facility ``status`` values kept (baseline: existing).

    Returns
    -------
    DataFrame
        ``facility_id, category, x, y`` (EPSG:32651); facilities placed only at ``area`` or
        ``unresolved`` precision are left out (their position is not known).
    """
    fac = facilities
    if "counted" in fac.columns:  # one row per distinct facility (geocode.counted_rows)
        fac = fac[fac["counted"].astype(bool)]
    if "status" in fac.columns:
        fac = fac[fac["status"].isin(statuses)]
    if "precision" in fac.columns:
        fac = fac[~fac["precision"].isin(["area", "unresolved"])]
    fac = fac[fac.geometry.notna() & ~fac.geometry.is_empty]
    if fac.crs is None:
        fac = fac.set_crs(settings.STORAGE_CRS)
    proj = fac.to_crs(settings.PROJECTED_CRS)
    pts = shapely.point_on_surface(proj.geometry.values)
    zone = shapely.buffer(project_geom(boundary), buffer_m)
    inside = shapely.contains_xy(zone, shapely.get_x(pts), shapely.get_y(pts))
    ids = proj["facility_id"].to_numpy() if "facility_id" in proj.columns else np.arange(len(proj))
    out = pd.DataFrame(
        {
            "facility_id": ids,
            "category": proj["category"].to_numpy(),
            "x": shapely.get_x(pts),
            "y": shapely.get_y(pts),
        }
    )
    kept: pd.DataFrame = out[inside].drop_duplicates("facility_id").reset_index(drop=True)
    return kept
