"""A SYNTHETIC city for the city-screen tests (geo.city): three units, a grid PBF, a census.

Two 600 m squares A and B side by side (UTM 51N metres, on the 100 m grid of the demand cells),
covered by a synthetic 100 m street grid written as one PBF, and C, whose boundary is a flat
(zero-area) ring. A has a census total of 3,600 people; B's code has no census row. One
synthetic clinic (Geofabrik layer) sits at each square's centre. Not real data.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import shapely
import yaml

from geo.city.synthetic import write_grid_pbf
from geo.io.geom import project_geom

X0, Y0, SIDE = 350_000.0, 3_450_000.0, 600.0
IDS = {"A": "hechenga", "B": "hechengB", "C": "hechengC"}
CODES = {"A": "310999001000", "B": "310999002000", "C": "310999003000"}


def _wgs(geom):
    return project_geom(geom, inverse=True)


def _square(k: int):
    return _wgs(shapely.box(X0 + k * SIDE, Y0, X0 + (k + 1) * SIDE, Y0 + SIDE))


def _flat():
    """A "polygon" whose corners lie on one line: invalid, and no repair makes it an area."""
    lon, lat = 121.46, 31.17  # on one parallel, in lon/lat as stored
    return shapely.Polygon([(lon, lat), (lon + 0.005, lat), (lon + 0.01, lat), (lon, lat)])


def make_city(root: Path, *, c_geometry=None) -> dict[str, Path]:
    """The synthetic city's data folder, registry and PBF; returns their paths."""
    data = root / "data"
    (data / "boundaries").mkdir(parents=True)
    (data / "population").mkdir()
    (data / "pois" / "gf").mkdir(parents=True)
    polys = {
        "A": _square(0),
        "B": _square(1),
        "C": c_geometry if c_geometry is not None else _flat(),
    }
    features = [
        {
            "type": "Feature",
            "properties": {
                "osm_relation_id_source": str(900 + i),
                "official_control_code_2023": CODES[k],
                "official_control_name_2023": f"合成{k}街道",
                "osm_name": f"合成{k}街道",
                "district": "合成区",
            },
            "geometry": shapely.geometry.mapping(g) if g is not None else None,
        }
        for i, (k, g) in enumerate(polys.items())
    ]
    (data / "boundaries" / "city.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    (data / "boundaries" / "city_attributes.csv").write_text(
        "osm_relation_id_source,official_control_code_2023,area_km2_utm51n,rep_lon,rep_lat,"
        "pop2010_census_same_code\n"
        f"900,{CODES['A']},0.36,,,3600\n901,{CODES['B']},0.36,,,\n902,{CODES['C']},,,,\n",
        encoding="utf-8",
    )
    (data / "population" / "census.csv").write_text(
        "gbcode_9,name_pinyin,pop_total_2010\n310999001,HeChengAJieDao,3600\n", encoding="utf-8"
    )
    centres = [_wgs(shapely.Point(X0 + (k + 0.5) * SIDE, Y0 + SIDE / 2)) for k in (0, 1)]
    gpd.GeoDataFrame(
        {"osm_id": ["1", "2"], "fclass": ["clinic", "clinic"], "name": ["合成诊所", "合成诊所"]},
        geometry=centres,
        crs="EPSG:4326",
    ).to_file(data / "pois" / "gf" / "gis_osm_pois_free_1.shp")
    registry = {
        "defaults": {
            "boundary": {"file": "boundaries/city.geojson", "key": "osm_relation_id_source"},
            "population": {
                "file": "population/census.csv",
                "key": "gbcode_9",
                "column": "pop_total_2010",
            },
            "pois": {"geofabrik": "pois/gf"},
        },
        "areas": [],
    }
    reg = root / "areas.yaml"
    reg.write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    pbf = root / "synthetic-city.osm.pbf"
    write_grid_pbf(pbf, {"A": polys["A"], "B": polys["B"]}, 100.0)
    return {"data": data, "registry": reg, "pbf": pbf}


def screen_serially(paths: dict[str, Path], out: Path) -> None:
    """The screen's outputs for the synthetic city, one area after the other (no Dask)."""
    from geo.city.area import screen_area
    from geo.city.catalogue import catalogue_table, load_catalogue, select_areas
    from geo.city.screen import city_table, subdistricts_frame, write_city
    from geo.io.areas import load_registry
    from geo.io.osm import read_osm

    cat = load_catalogue(load_registry(paths["registry"], data_dir=paths["data"]))
    areas = select_areas(cat, all_areas=True)
    osm = read_osm(paths["pbf"])  # tiny: every area gets all of it (the network is clipped)
    results = [
        screen_area(cat, a.id, out / "areas" / a.id, osm=osm, pbf_name=paths["pbf"].name)
        for a in areas
    ]
    gdf = catalogue_table(cat, areas)
    table = city_table(results, gdf)
    write_city(out, table, subdistricts_frame(table, gdf, results), {"wall_seconds": 0})
