"""A synthetic town for address tests: two crossing roads, numbered houses, a lane, a compound.

Coordinates are built in metres (EPSG:32651) around an origin in Shanghai and stored as WGS-84,
so expected placements can be written in metres. Nothing here is real data.

Layout (metres from the origin, the area is the square 0..1000 x 0..1000):

* 东西路 (name:en "Dongxi Road"): y = 500, x 0..1000, drawn west to east; odd numbers on the
  north side (y = 510): 1 at x 100, 21 at x 500; even numbers on the south side (y = 490):
  2 at x 100, 42 at x 900.
* 南北路: x = 300, y 0..1000.
* 东西路88弄: a lane (highway=service) from (700, 500) to (700, 600); 东西路88弄5号 at (710, 580).
* 幸福新村: a residential polygon 100..200 x 700..800.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from geo import settings
from geo.io.osm import OsmData, OsmPoint, OsmWay

ORIGIN_LONLAT = (121.40, 31.20)
_FWD = Transformer.from_crs(settings.STORAGE_CRS, settings.PROJECTED_CRS, always_xy=True)
_INV = Transformer.from_crs(settings.PROJECTED_CRS, settings.STORAGE_CRS, always_xy=True)
X0, Y0 = _FWD.transform(*ORIGIN_LONLAT)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS-84 of a point given in metres from the origin."""
    lon, lat = _INV.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def metres(lon: float, lat: float) -> tuple[float, float]:
    """Metres from the origin of a WGS-84 point."""
    x, y = _FWD.transform(lon, lat)
    return float(x - X0), float(y - Y0)


def _coords(*pts: tuple[float, float]) -> np.ndarray:
    return np.array([lonlat(x, y) for x, y in pts])


def boundary(size: float = 1000.0):
    """The synthetic area (WGS-84 polygon)."""
    return shapely.Polygon(_coords((0, 0), (size, 0), (size, size), (0, size), (0, 0)))


def _addr(i: int, street: str, number: str, x: float, y: float) -> OsmPoint:
    lon, lat = lonlat(x, y)
    return OsmPoint("node", i, {"addr:street": street, "addr:housenumber": number}, lon, lat)


def town() -> OsmData:
    """The synthetic OSM data described in the module docstring."""
    ways = [
        OsmWay(1, {"highway": "secondary", "name": "东西路", "name:en": "Dongxi Road"},
               _coords((0, 500), (1000, 500))),
        OsmWay(2, {"highway": "tertiary", "name": "南北路"}, _coords((300, 0), (300, 1000))),
        OsmWay(3, {"highway": "service", "name": "东西路88弄"}, _coords((700, 500), (700, 600))),
        OsmWay(4, {"landuse": "residential", "name": "幸福新村"},
               _coords((100, 700), (200, 700), (200, 800), (100, 800), (100, 700))),
    ]  # fmt: skip
    points = [
        _addr(11, "东西路", "1", 100, 510),
        _addr(12, "东西路", "21号", 500, 510),
        _addr(13, "东西路", "2", 100, 490),
        _addr(14, "东西路", "42", 900, 490),
        _addr(15, "东西路88弄", "5", 710, 580),
    ]
    return OsmData(ways=ways, points=points, sources=["synthetic"])
