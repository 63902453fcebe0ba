"""Chinese web-map coordinate systems: WGS-84 <-> GCJ-02 <-> BD-09 (vectorised).

Chinese web maps do not publish WGS-84 coordinates. AMap (高德), Tencent and Google China use
GCJ-02 (国测局坐标, "Mars coordinates"), an obfuscated offset of WGS-84; Baidu uses BD-09, a
further offset of GCJ-02. In Shanghai both offsets are several hundred metres, so a location
copied from one of these maps must be converted before it is used with OSM data.

The forward formulas are the widely published ones (the Krasovsky-ellipsoid constants used by
eviltransform, coordtransform and gcoord). The inverses have no closed form; they are computed
here by fixed-point iteration of the forward formula, to ``INVERSE_TOL_DEG`` (1e-9 degree,
about 0.1 mm), well inside the 0.5 m the project requires.

All functions take and return longitude first, in degrees, as float64 numpy arrays (scalars give
0-d arrays). Outside China GCJ-02 equals WGS-84 (the usual ``out_of_china`` rectangle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo import settings
from geo._errors import LifeCircleError

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

#: A forward datum shift ``(lon, lat) -> (lon, lat)`` on arrays (degrees).
_Shift: TypeAlias = Callable[
    [NDArray[np.float64], NDArray[np.float64]], tuple[NDArray[np.float64], NDArray[np.float64]]
]

#: Coordinate systems a gazetteer or input table may declare in its ``crs`` column.
CRS_NAMES: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

CrsName = Literal["wgs84", "gcj02", "bd09"]

#: Semi-major axis of the Krasovsky 1940 ellipsoid (m), as used by the GCJ-02 formula.
_A: float = 6378245.0
#: First eccentricity squared of the Krasovsky 1940 ellipsoid.
_EE: float = 0.00669342162296594323
#: BD-09 angular constant (pi * 3000 / 180).
_X_PI: float = np.pi * 3000.0 / 180.0

#: Bounding rectangle outside which GCJ-02 / BD-09 are not applied (lon/lat degrees).
CHINA_BOX: tuple[float, float, float, float] = (72.004, 0.8293, 137.8347, 55.8271)

#: Convergence tolerance of the iterative inverses (degrees; 1e-9 deg ~ 0.1 mm).
INVERSE_TOL_DEG: float = 1e-9

#: Iteration cap of the inverses (they converge in 3-5 steps in China).
INVERSE_MAX_ITER: int = 30


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
        x, y = x.astype(np.float64), y.astype(np.float64)
    return x, y


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Return True where a point lies outside the rectangle in which GCJ-02 is applied.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees.

    Returns
    -------
    numpy.ndarray
        Boolean array (NaN coordinates count as outside, so they pass through unchanged).
    """
    x, y = _arrays(lon, lat)
    x0, y0, x1, y1 = CHINA_BOX
    with np.errstate(invalid="ignore"):
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    return ~inside


def _gcj_delta(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS-84 point (x, y)."""
    u = x - 105.0
    v = y - 35.0
    pu = u * np.pi
    pv = v * np.pi
    common = (20.0 * np.sin(6.0 * pu) + 20.0 * np.sin(2.0 * pu)) * 2.0 / 3.0
    dlat = (
        -100.0 + 2.0 * u + 3.0 * v + 0.2 * v * v + 0.1 * u * v + 0.2 * np.sqrt(np.abs(u))
        + common
        + (20.0 * np.sin(pv) + 40.0 * np.sin(pv / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(pv / 12.0) + 320.0 * np.sin(pv / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    dlon = (
        300.0 + u + 2.0 * v + 0.1 * u * u + 0.1 * u * v + 0.1 * np.sqrt(np.abs(u))
        + common
        + (20.0 * np.sin(pu) + 40.0 * np.sin(pu / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(pu / 12.0) + 300.0 * np.sin(pu / 30.0)) * 2.0 / 3.0
    )  # fmt: skip
    rad = y / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to GCJ-02 (AMap/Tencent).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees (scalars or arrays of one shape).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)`` in degrees; unchanged outside China.
    """
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(x, y)
    keep = out_of_china(x, y)
    return np.where(keep, x, x + dlon), np.where(keep, y, y + dlat)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol: float = INVERSE_TOL_DEG
) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to WGS-84 by fixed-point iteration of the forward formula.

    Starts at ``gcj - delta(gcj)`` (the 1-2 m one-step inverse) and repeats
    ``wgs -= wgs84_to_gcj02(wgs) - gcj`` until every point is within ``tol`` degrees.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.
    tol
        Convergence tolerance in degrees on the forward residual (default 1e-9, ~0.1 mm).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)`` in degrees; unchanged outside China.
    """
    gx, gy = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, gx, gy, tol)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 longitude and latitude in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)`` in degrees; unchanged outside China.
    """
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    bx = z * np.cos(theta) + 0.0065
    by = z * np.sin(theta) + 0.006
    keep = out_of_china(x, y)
    return np.where(keep, x, bx), np.where(keep, y, by)


def _bd09_to_gcj02_approx(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the published one-step BD-09 -> GCJ-02 formula (error up to ~1e-5 degree)."""
    u = x - 0.0065
    v = y - 0.006
    z = np.hypot(u, v) - 0.00002 * np.sin(v * _X_PI)
    theta = np.arctan2(v, u) - 0.000003 * np.cos(u * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, *, tol: float = INVERSE_TOL_DEG
) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to GCJ-02: the published formula refined by fixed-point iteration.

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees.
    tol
        Convergence tolerance in degrees on the forward residual.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)`` in degrees; unchanged outside China.
    """
    bx, by = _arrays(lon, lat)
    keep = out_of_china(bx, by)
    gx, gy = _bd09_to_gcj02_approx(bx, by)
    gx, gy = _refine(gcj02_to_bd09, bx, by, gx, gy, tol)
    return np.where(keep, bx, gx), np.where(keep, by, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS-84 to BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 longitude and latitude in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)`` in degrees.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol: float = INVERSE_TOL_DEG
) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 to WGS-84 (via GCJ-02, both inverses iterative).

    Parameters
    ----------
    lon, lat
        BD-09 longitude and latitude in degrees.
    tol
        Convergence tolerance in degrees of each inverse step.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)`` in degrees.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat, tol=tol), tol=tol)


def _invert(
    forward: _Shift, tx: np.ndarray, ty: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (tx, ty)`` starting from the one-step guess."""
    fx, fy = forward(tx, ty)
    x0 = tx - (fx - tx)
    y0 = ty - (fy - ty)
    return _refine(forward, tx, ty, x0, y0, tol)


def _refine(
    forward: _Shift, tx: np.ndarray, ty: np.ndarray, x: np.ndarray, y: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-point iteration ``p -= forward(p) - target`` (the offsets vary slowly in space)."""
    x = np.array(x, dtype=np.float64, copy=True)
    y = np.array(y, dtype=np.float64, copy=True)
    for _ in range(INVERSE_MAX_ITER):
        fx, fy = forward(x, y)
        ex = fx - tx
        ey = fy - ty
        with np.errstate(invalid="ignore"):
            done = (np.abs(ex) <= tol) & (np.abs(ey) <= tol)
        if bool(np.all(done | ~np.isfinite(ex) | ~np.isfinite(ey))):
            break
        x = x - np.where(done, 0.0, ex)
        y = y - np.where(done, 0.0, ey)
    return np.asarray(x), np.asarray(y)


_TO_WGS84 = {
    "wgs84": lambda x, y: (np.asarray(x, np.float64), np.asarray(y, np.float64)),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def normalise_crs(crs: object, *, path: object | None = None, record: object | None = None) -> str:
    """Return the canonical crs name (``wgs84|gcj02|bd09``) or raise naming the record.

    Accepts common spellings: ``WGS-84``, ``EPSG:4326``, ``GCJ-02``, ``BD-09``.
    """
    key = str(crs).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    aliases = {"wgs84": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84", "gcj02": "gcj02",
               "gcj": "gcj02", "bd09": "bd09", "bd09ll": "bd09"}  # fmt: skip
    if key not in aliases:
        raise LifeCircleError(
            f"unknown coordinate system '{crs}'; expected one of {', '.join(CRS_NAMES)}",
            path=path,
            record=record,
        )
    return aliases[key]


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates declared in ``crs`` to WGS-84.

    Parameters
    ----------
    lon, lat
        Longitude and latitude in degrees, in ``crs``.
    crs
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (common spellings such as ``GCJ-02`` accepted).

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)`` in degrees.

    Raises
    ------
    LifeCircleError
        For an unknown ``crs``.
    """
    return _TO_WGS84[normalise_crs(crs)](lon, lat)


# -------------------------------------------------------------------------------------------
# sanity checks for coordinates typed in by people
# -------------------------------------------------------------------------------------------
#: Rough extent of UTM zone 51N metres over Shanghai (easting, northing ranges).
_UTM51_SHANGHAI = ((250_000.0, 450_000.0), (3_350_000.0, 3_550_000.0))


@dataclass(frozen=True)
class CoordProblem:
    """One suspicious coordinate: the record, the values and what looks wrong."""

    record: object
    lon: float
    lat: float
    problem: str

    def message(self) -> str:
        """One line naming the record, the values and the likely fix."""
        return f"record {self.record}: ({self.lon:g}, {self.lat:g}) {self.problem}"


def detect_wrong_crs(
    lon: ArrayLike,
    lat: ArrayLike,
    area: BaseGeometry | None = None,
    *,
    records: ArrayLike | None = None,
    buffer_m: float = 5000.0,
) -> list[CoordProblem]:
    """Find coordinates that are not WGS-84/GCJ-02/BD-09 degrees near the study area.

    Catches the usual mistakes of hand-made tables: projected metres (e.g. EPSG:32651) entered
    as degrees, latitude and longitude swapped, blanks, and points far from the area.

    Parameters
    ----------
    lon, lat
        Coordinates as given (degrees expected).
    area
        Optional shapely (Multi)Polygon in WGS-84; points farther than ``buffer_m`` from it
        are reported.
    records
        Labels used in the messages (default: the 1-based row number).
    buffer_m
        Allowed distance from the area in metres (covers the GCJ-02/BD-09 offsets, < 1 km).

    Returns
    -------
    list of CoordProblem
        Empty when every point looks right.
    """
    x, y = _arrays(lon, lat)
    x = np.atleast_1d(x)
    y = np.atleast_1d(y)
    labels = list(range(1, len(x) + 1)) if records is None else list(np.atleast_1d(records))
    if len(labels) != len(x):
        raise ValueError(f"{len(labels)} record labels for {len(x)} coordinates")
    far = np.zeros(len(x), dtype=bool)
    far_swapped = np.zeros(len(x), dtype=bool)
    if area is not None and len(x):
        far = _far_from(area, x, y, buffer_m)
        far_swapped = _far_from(area, y, x, buffer_m)
    (ex0, ex1), (ny0, ny1) = _UTM51_SHANGHAI
    x0, y0, x1, y1 = CHINA_BOX
    problems: list[CoordProblem] = []
    for i in range(len(x)):
        xi, yi = float(x[i]), float(y[i])
        if not (np.isfinite(xi) and np.isfinite(yi)):
            msg = "is missing or not a number; expected longitude/latitude in degrees"
        elif not (x0 <= xi <= x1 and y0 <= yi <= y1) and (x0 <= yi <= x1 and y0 <= xi <= y1):
            msg = (
                "has latitude and longitude swapped; expected longitude first "
                "(lon ~121 in Shanghai)"
            )
        elif abs(xi) > 180.0 or abs(yi) > 90.0:
            msg = "is not in degrees; it looks like projected metres"
            if ex0 <= xi <= ex1 and ny0 <= yi <= ny1:
                msg += " (UTM 51N, EPSG:32651)"
            msg += "; give longitude/latitude in degrees with crs wgs84|gcj02|bd09"
        elif far[i] and not far_swapped[i]:
            msg = "has latitude and longitude swapped; expected longitude first"
        elif far[i]:
            msg = (
                f"is more than {buffer_m:g} m from the study area; check the coordinates "
                "and their crs (wgs84|gcj02|bd09)"
            )
        else:
            continue
        problems.append(CoordProblem(labels[i], xi, yi, msg))
    return problems


def check_coordinates(
    lon: ArrayLike,
    lat: ArrayLike,
    area: BaseGeometry | None = None,
    *,
    records: ArrayLike | None = None,
    buffer_m: float = 5000.0,
    path: object | None = None,
) -> None:
    """Raise one clear :class:`LifeCircleError` for the first suspicious coordinate.

    Parameters
    ----------
    lon, lat, area, records, buffer_m
        As :func:`detect_wrong_crs`.
    path
        The file the coordinates came from (named in the message).

    Raises
    ------
    LifeCircleError
        Naming the record, its values, what looks wrong and how many other rows are affected.
    """
    problems = detect_wrong_crs(lon, lat, area, records=records, buffer_m=buffer_m)
    if problems:
        first = problems[0]
        more = f" ({len(problems) - 1} more rows with problems)" if len(problems) > 1 else ""
        raise LifeCircleError(
            f"({first.lon:g}, {first.lat:g}) {first.problem}{more}",
            path=path,
            record=first.record,
        )


def _far_from(area: BaseGeometry, x: np.ndarray, y: np.ndarray, buffer_m: float) -> np.ndarray:
    """Return True where a lon/lat point is farther than ``buffer_m`` from ``area`` (approx.)."""
    import shapely
    from pyproj import Transformer

    ok = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    out = np.ones(len(x), dtype=bool)  # unusable coordinates are "far" from everything
    if not ok.any():
        return out
    tr = Transformer.from_crs(settings.STORAGE_CRS, settings.PROJECTED_CRS, always_xy=True)
    px, py = tr.transform(x[ok], y[ok])
    area_p = shapely.transform(area, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
    pts = shapely.points(np.asarray(px), np.asarray(py))
    with np.errstate(invalid="ignore"):
        dist = shapely.distance(area_p, pts)
    out[ok] = ~(dist <= buffer_m)
    return out
