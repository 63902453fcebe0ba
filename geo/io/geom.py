"""Geometry helpers shared by every stage.

Projection between WGS-84 and metres, bounding boxes, buffered clip polygons. All stored geometry
is WGS-84; distance work is in ``settings.PROJECTED_CRS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import shapely
from pyproj import Transformer

from geo import settings

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from shapely.geometry.base import BaseGeometry


def to_projected(
    lon: ArrayLike, lat: ArrayLike, crs: str = settings.PROJECTED_CRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS-84 lon/lat arrays to ``crs`` metres; returns (x, y)."""
    tr = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xy: tuple[NDArray[np.float64], NDArray[np.float64]] = tr.transform(
        np.asarray(lon, float), np.asarray(lat, float)
    )
    return xy


def project_geom(
    geom: BaseGeometry, crs: str = settings.PROJECTED_CRS, inverse: bool = False
) -> BaseGeometry:
    """Project a shapely geometry between WGS-84 and ``crs``."""
    src, dst = ("EPSG:4326", crs) if not inverse else (crs, "EPSG:4326")
    tr = Transformer.from_crs(src, dst, always_xy=True)
    return shapely.transform(geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))


def bbox_of(geom: BaseGeometry, margin_deg: float = 0.0) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of a WGS-84 geometry, widened by a margin."""
    x0, y0, x1, y1 = geom.bounds
    return (x0 - margin_deg, y0 - margin_deg, x1 + margin_deg, y1 + margin_deg)


def clip_polygon(
    boundary: BaseGeometry, buffer_m: float, crs: str = settings.PROJECTED_CRS
) -> BaseGeometry:
    """Return the WGS-84 boundary buffered by ``buffer_m`` metres (in the projected CRS)."""
    return project_geom(shapely.buffer(project_geom(boundary, crs), buffer_m), crs, inverse=True)
