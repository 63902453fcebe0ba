"""Synthetic inputs for the sites and scenarios tests: a straight street and demand beside it."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.io.tables import MENTIONS

X0, Y0 = 350_000.0, 3_450_000.0


def to_lonlat(x, y):
    from pyproj import Transformer

    tr = Transformer.from_crs(settings.PROJECTED_CRS, "EPSG:4326", always_xy=True)
    return tr.transform(np.asarray(x, float), np.asarray(y, float))


def line_network(n_nodes: int = 11, step: float = 100.0, completeness: float = 0.9):
    """A synthetic straight street: nodes every ``step`` m from (X0, Y0) eastwards."""
    from geo.network.network import WalkNetwork

    x = X0 + step * np.arange(n_nodes)
    y = np.full(n_nodes, Y0)
    lon, lat = to_lonlat(x, y)
    nodes = pd.DataFrame(
        {"node_id": np.arange(n_nodes) + 1, "x": x, "y": y, "lon": lon, "lat": lat}
    )
    u, v = np.arange(n_nodes - 1), np.arange(1, n_nodes)
    geoms = shapely.linestrings(
        np.stack([np.column_stack([lon[u], lat[u]]), np.column_stack([lon[v], lat[v]])], axis=1)
    )
    edges = gpd.GeoDataFrame(
        {
            "u": u + 1,
            "v": v + 1,
            "length_m": np.full(n_nodes - 1, step),
            "highway": "footway",
            "name": "",
            "osm_id": np.arange(n_nodes - 1),
        },
        geometry=geoms,
        crs="EPSG:4326",
    )
    return WalkNetwork("synth", nodes, edges, info={"completeness": completeness})


def box(x0, y0, x1, y1):
    """A WGS-84 polygon of a projected box."""
    lon, lat = to_lonlat([x0, x1, x1, x0], [y0, y0, y1, y1])
    return shapely.Polygon(np.column_stack([lon, lat]))


# units 5 m beside the street at x = 40, 240, 640, 960 (m from the first node)
UNIT_X = np.array([40.0, 240.0, 640.0, 960.0])
UNIT_POP = np.array([10.0, 20.0, 35.0, 40.0])


def demand_units(x=UNIT_X, pop=UNIT_POP, dy: float = 5.0) -> gpd.GeoDataFrame:
    """Synthetic demand: 10 m cells centred beside the street."""
    xs, ys = X0 + np.asarray(x), np.full(len(x), Y0 + dy)
    cells = [box(a - 5, b - 5, a + 5, b + 5) for a, b in zip(xs, ys, strict=True)]
    return gpd.GeoDataFrame(
        {
            "unit_id": [f"u{i}" for i in range(len(xs))],
            "area": "synth",
            "population": pop,
            "pop_source": "synthetic",
            "unit_type": "grid",
            "x": xs,
            "y": ys,
        },
        geometry=cells,
        crs="EPSG:4326",
    )


def facilities_table(rows) -> gpd.GeoDataFrame:
    """rows: (category, source, status, precision, x from X0)."""
    lon, lat = to_lonlat([X0 + r[4] for r in rows], [Y0] * len(rows))
    return gpd.GeoDataFrame(
        {
            "facility_id": [f"f{i}" for i in range(len(rows))],
            "area": "synth",
            "name": [f"设施{i}" for i in range(len(rows))],
            "category": [r[0] for r in rows],
            "source": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "precision": [r[3] for r in rows],
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )


MENTION_COLUMNS = [*MENTIONS.names, "counted"]


def mentions_table(rows) -> pd.DataFrame:
    """rows: (area, kind, category, action, quantity, in_area, name)."""
    return pd.DataFrame(
        [
            {
                "doc": "plan",
                "area": a,
                "kind": k,
                "name": n,
                "category": c,
                "action": act,
                "quantity": q,
                "place_hint": "",
                "in_area": ia,
                "start": 0,
                "end": 1,
                "sentence": "",
                "counted": True,
            }
            for a, k, c, act, q, ia, n in rows
        ],
        columns=MENTION_COLUMNS,
    )


class Area:
    """A synthetic area (what the stages read from a registry area)."""

    id = "synth"
    name_zh = "合成街道"
    census_note = None


class Registry:
    """A synthetic registry: one area whose boundary is a box around the street."""

    def boundary(self, area):
        return box(X0 - 20, Y0 - 60, X0 + 1020, Y0 + 60)


TAXONOMY = {
    "meal_service": {
        "tier": 5,
        "threshold_m": 50.0,
        "name_zh": "社区助餐",
        "name_en": "Community meal service",
    }
}
