"""SYNTHETIC street grids inside real or test polygons, written as one ``.osm.pbf`` (pyosmium).

For tests and the scale benchmark only: the streets are a regular lattice, not real data, and
every way is tagged ``synthetic=yes`` and named ``合成路 synthetic``. Lattice points are
anchored at the origin of EPSG:32651, so neighbouring polygons share the nodes on their common
edge (one node id per lattice point, written once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from geo import settings
from geo.io.geom import project_geom

#: Tags of every synthetic way.
SYNTHETIC_TAGS: dict[str, str] = {
    "highway": "residential",
    "name": "合成路 synthetic",
    "synthetic": "yes",
}


def lattice(polygons: Mapping[str, Any], spacing_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Return lattice points (integer i, j) inside the union of the polygons (WGS-84).

    Points reach half a spacing beyond the edges so the grid reaches the boundary.

    Returns
    -------
    (ij, xy)
        ``ij`` (n, 2) int64 lattice indices and ``xy`` (n, 2) projected metres.
    """
    if spacing_m <= 0:
        raise ValueError("spacing_m must be positive")
    chunks_ij = []
    for geom in polygons.values():
        poly = shapely.buffer(project_geom(geom), spacing_m / 2)
        x0, y0, x1, y1 = poly.bounds
        ii = np.arange(np.floor(x0 / spacing_m), np.ceil(x1 / spacing_m) + 1, dtype=np.int64)
        jj = np.arange(np.floor(y0 / spacing_m), np.ceil(y1 / spacing_m) + 1, dtype=np.int64)
        mi, mj = np.meshgrid(ii, jj)
        gi, gj = mi.ravel(), mj.ravel()
        shapely.prepare(poly)
        inside = shapely.contains_xy(poly, gi * spacing_m, gj * spacing_m)
        chunks_ij.append(np.column_stack([gi[inside], gj[inside]]))
    if not chunks_ij:
        return np.zeros((0, 2), np.int64), np.zeros((0, 2))
    ij = np.unique(np.concatenate(chunks_ij), axis=0)
    return ij, ij.astype(float) * spacing_m


#: Lattice points per synthetic way at most (OSM ways are a few blocks long, not a whole row).
WAY_POINTS: int = 9


def grid_runs(ij: np.ndarray, max_points: int = WAY_POINTS) -> list[np.ndarray]:
    """Return the ways of the lattice as arrays of point indices.

    Runs of consecutive points along each row and column, cut into ways of at most
    ``max_points`` points that share their end points (runs of one point are dropped).
    """
    if max_points < 2:
        raise ValueError("max_points must be at least 2")
    runs: list[np.ndarray] = []
    for axis in (0, 1):  # 0: rows (fixed j, i increasing); 1: columns (fixed i)
        fixed, moving = ij[:, 1 - axis], ij[:, axis]
        order = np.lexsort((moving, fixed))
        f, m = fixed[order], moving[order]
        brk = np.flatnonzero((np.diff(f) != 0) | (np.diff(m) != 1)) + 1
        for seg in np.split(order, brk):
            for start in range(0, len(seg) - 1, max_points - 1):
                runs.append(seg[start : start + max_points])
    return runs


def write_grid_pbf(
    path: str | os.PathLike[str],
    polygons: Mapping[str, Any],
    spacing_m: float,
    *,
    first_id: int = 1,
) -> dict[str, int]:
    """Write a SYNTHETIC street grid covering ``polygons`` (WGS-84) as an ``.osm.pbf``.

    Returns
    -------
    dict
        ``nodes`` and ``ways`` written.
    """
    import osmium
    from pyproj import Transformer

    path = Path(path)
    ij, xy = lattice(polygons, spacing_m)
    to_wgs = Transformer.from_crs(settings.PROJECTED_CRS, settings.STORAGE_CRS, always_xy=True)
    lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1]) if len(xy) else (np.zeros(0), np.zeros(0))
    runs = grid_runs(ij)
    if path.exists():
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = osmium.SimpleWriter(str(path))
    try:
        for k in range(len(ij)):
            writer.add_node(
                osmium.osm.mutable.Node(
                    id=first_id + k, location=(float(lon[k]), float(lat[k])), version=1
                )
            )
        for w, seg in enumerate(runs):
            writer.add_way(
                osmium.osm.mutable.Way(
                    id=first_id + w,
                    nodes=[int(first_id + s) for s in seg],
                    tags=SYNTHETIC_TAGS,
                    version=1,
                )
            )
    finally:
        writer.close()
    return {"nodes": len(ij), "ways": len(runs)}
