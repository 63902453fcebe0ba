"""OSM facility inventory: de-duplication, the synthetic-area build, reconciliation, writing."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from shapely.geometry import Point, Polygon

from geo import settings
from geo.facilities.inventory import (
    build_inventory,
    dedupe_facilities,
    normalise_name,
    reconcile,
    similar_names,
    write_reconciliation,
)
from geo.facilities.taxonomy import load_taxonomy
from geo.io.areas import load_registry
from geo.io.geom import project_geom
from geo.io.tables import FACILITIES, read_facilities, write_facilities

#: Synthetic boundary: about 950 m x 1110 m.
SQUARE = [(121.40, 31.20), (121.41, 31.20), (121.41, 31.21), (121.40, 31.21), (121.40, 31.20)]


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def offset(lon: float, lat: float, dx: float, dy: float = 0.0) -> Point:
    """The point ``dx``/``dy`` metres east/north of lon/lat (EPSG:32651)."""
    p = project_geom(Point(lon, lat))
    return project_geom(Point(p.x + dx, p.y + dy), inverse=True)


def frame(rows):
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=settings.STORAGE_CRS)


# -- names and de-duplication ---------------------------------------------------------------------
def test_normalise_name_drops_spaces_and_brackets():
    assert normalise_name(" 长白（社区）食堂 ") == "长白社区食堂"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [("华山路站", "华山路", True), ("长白社区食堂", "长白社区 食堂", True),
     ("阳光幼儿园", "星星幼儿园", False), (None, "华山路", False)],
)  # fmt: skip
def test_similar_names(a, b, same):
    assert similar_names(a, b) is same


def test_dedupe_merges_similar_names_nearby_and_same_osm_ids():
    base = Point(121.405, 31.205)
    rows = [
        {"name": "长白社区食堂", "category": "meal_service", "osm_id": "node/1",
         "sources": "osm-file", "geometry": base},
        {"name": "长白社区 食堂", "category": "meal_service", "osm_id": "node/2",
         "sources": "geofabrik:p", "geometry": offset(121.405, 31.205, 30)},
        {"name": "长白社区食堂", "category": "meal_service", "osm_id": "node/3",
         "sources": "geofabrik:p", "geometry": offset(121.405, 31.205, 80)},
        {"name": "长白社区食堂", "category": "childcare", "osm_id": "node/4",
         "sources": "geofabrik:p", "geometry": offset(121.405, 31.205, 10)},
        {"name": None, "category": "meal_service", "osm_id": "node/1",
         "sources": "geofabrik:q", "geometry": offset(121.405, 31.205, 500)},
    ]  # fmt: skip
    out = dedupe_facilities(frame(rows))
    assert list(
        zip(out["osm_id"], out["category"], out["merged"], out["sources"], strict=True)
    ) == [
        ("node/1", "meal_service", 3, "osm-file;geofabrik:p;geofabrik:q"),
        ("node/3", "meal_service", 1, "geofabrik:p"),
        ("node/4", "childcare", 1, "geofabrik:p"),
    ]


def test_dedupe_keeps_unnamed_neighbours_apart():
    rows = [
        {"name": None, "category": "sports", "osm_id": f"way/{i}", "sources": "osm-file",
         "geometry": offset(121.405, 31.205, 10 * i)}
        for i in range(3)
    ]  # fmt: skip
    assert len(dedupe_facilities(frame(rows))) == 3


def test_dedupe_matches_way_ids_to_geofabrik_polygon_ids():
    rows = [
        {"name": "街心公园", "category": "park_green", "osm_id": "way/10", "sources": "osm-file",
         "geometry": Point(121.405, 31.205)},
        {"name": "街心公园", "category": "park_green", "osm_id": "relation/10",
         "sources": "geofabrik:a", "geometry": offset(121.405, 31.205, 300)},
    ]  # fmt: skip
    assert dedupe_facilities(frame(rows))["merged"].tolist() == [2]


# -- a synthetic area: OSM file + Geofabrik layers ------------------------------------------------
def _node(i, lon, lat, **tags):
    return {"type": "node", "id": i, "lon": lon, "lat": lat, "tags": tags}


@pytest.fixture(scope="module")
def synth_registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthfac")
    data = root / "data"
    (data / "boundaries").mkdir(parents=True)
    (data / "features").mkdir()
    (data / "gf").mkdir()
    boundary = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"rel": "7", "osm_name": "合成街道"},
        "geometry": {"type": "Polygon", "coordinates": [[list(c) for c in SQUARE]]}}]}  # fmt: skip
    (data / "boundaries" / "b.geojson").write_text(json.dumps(boundary), encoding="utf-8")
    park = [[121.402, 31.207], [121.403, 31.207], [121.403, 31.208], [121.402, 31.208],
            [121.402, 31.207]]  # fmt: skip
    stop2 = offset(121.4052, 31.2051, 20)
    elements = [
        _node(1, 121.405, 31.205, amenity="kindergarten", name="阳光幼儿园"),
        _node(2, 121.4052, 31.2051, highway="bus_stop", name="华山路站"),
        _node(3, stop2.x, stop2.y, public_transport="platform", bus="yes", name="华山路站"),
        _node(4, 121.406, 31.203, amenity="restaurant", name="长白社区食堂"),
        _node(5, 121.407, 31.203, amenity="cafe", name="咖啡馆"),
        _node(6, 121.50, 31.30, amenity="school", name="远处小学"),
        _node(7, 121.415, 31.205, amenity="school", name="外围小学"),
        {"type": "way", "id": 10, "tags": {"leisure": "park", "name": "街心公园"},
         "geometry": [{"lon": x, "lat": y} for x, y in park]},
    ]  # fmt: skip
    (data / "features" / "pois.json").write_text(
        json.dumps({"elements": elements}), encoding="utf-8"
    )
    pts = gpd.GeoDataFrame(
        {"osm_id": ["1", "99"], "code": [2008, 2501], "fclass": ["kindergarten", "supermarket"],
         "name": ["阳光幼儿园", "联华超市"]},
        geometry=[Point(121.405, 31.205), Point(121.402, 31.202)], crs=4326)  # fmt: skip
    pts.to_file(data / "gf" / "gis_osm_pois_free_1.shp", encoding="UTF-8")
    polys = gpd.GeoDataFrame(
        {"osm_id": ["10"], "code": [4201], "fclass": ["park"], "name": ["街心公园"]},
        geometry=[Polygon(park)], crs=4326)  # fmt: skip
    polys.to_file(data / "gf" / "gis_osm_pois_a_free_1.shp", encoding="UTF-8")
    reg = {
        "defaults": {"boundary": {"file": "boundaries/b.geojson", "key": "rel"},
                     "pois": {"geofabrik": "gf"}},
        "areas": [{"id": "synthfac", "name_zh": "合成街道", "name_en": "Synthetic",
                   "district": "测试区", "osm_relation": 7, "network": [],
                   "features": ["features/pois.json"], "plans": []}],
    }  # fmt: skip
    path = root / "areas.yaml"
    path.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    return load_registry(path, data_dir=data)


@pytest.fixture(scope="module")
def synth_inventory(synth_registry, tax):
    return build_inventory(synth_registry, "synthfac", tax)


def test_synthetic_inventory_rows(synth_inventory):
    inv = synth_inventory
    got = sorted(zip(inv["category"], inv["name"], inv["in_area"], inv["merged"], strict=True))
    assert got == [
        ("childcare", "阳光幼儿园", True, 2),
        ("market", "联华超市", True, 1),
        ("meal_service", "长白社区食堂", True, 1),
        ("park_green", "街心公园", True, 2),
        ("school", "外围小学", False, 1),
        ("transit", "华山路站", True, 2),
    ]


def test_synthetic_inventory_has_the_design_columns(synth_inventory):
    assert list(synth_inventory.columns[: len(FACILITIES.names)]) == list(FACILITIES.names)
    assert synth_inventory.crs.to_epsg() == 4326
    row = synth_inventory[synth_inventory["name"] == "阳光幼儿园"].iloc[0]
    assert (row["facility_id"], row["source"], row["status"], row["precision"],
            row["confidence"], row["sources"]) == (
        "osm:synthfac:node/1", "osm", "existing", "exact", 1.0,
        "osm-file;geofabrik:gis_osm_pois_free_1")  # fmt: skip


def test_polygon_becomes_a_point_inside_it(synth_inventory):
    park = Polygon([(121.402, 31.207), (121.403, 31.207), (121.403, 31.208), (121.402, 31.208)])
    geom = synth_inventory[synth_inventory["name"] == "街心公园"].geometry.iloc[0]
    assert geom.geom_type == "Point" and park.contains(geom)


# -- reconciliation -------------------------------------------------------------------------------
def _mention(**kw):
    base = {"doc": "d", "area": "synthfac", "kind": "generic", "name": "x", "category": "sports",
            "action": "existing", "quantity": None, "in_area": "yes", "sentence": "s",
            "counted": True}  # fmt: skip
    return {**base, **kw}


def test_reconcile_counts_plan_statements_against_osm(synth_inventory, tax):
    mentions = pd.DataFrame([
        _mention(name="健身苑点", quantity=32, sentence="a"),
        _mention(name="健身步道", quantity=7, sentence="a"),
        _mention(name="健身苑点", quantity=10, sentence="b"),
        _mention(category="meal_service", action="new", name="社区食堂", quantity=1),
        _mention(category="meal_service", action="new", name="助餐点", quantity=2),
        _mention(category="meal_service", action="new", name="助餐点", quantity=2),  # repeated
        _mention(category="meal_service", action="new", name="长者食堂", quantity=1,
                 in_area="no"),
        _mention(category="childcare", kind="named", name="阳光幼儿园", quantity=1),
    ])  # fmt: skip
    mentions["quantity"] = mentions["quantity"].astype("Int64")
    rec = reconcile(mentions, synth_inventory, ["synthfac"], tax).set_index("category")
    assert len(rec) == len(tax.categories)
    assert (rec.loc["sports", "plan_existing"], rec.loc["sports", "osm_count"],
            rec.loc["sports", "difference"]) == (39, 0, 39)  # fmt: skip
    assert rec.loc["meal_service", "plan_new"] == 3
    assert (rec.loc["childcare", "plan_existing"], rec.loc["childcare", "difference"]) == (1, 0)
    assert pd.isna(rec.loc["school", "plan_existing"]) and rec.loc["school", "osm_count"] == 0


def test_reconciliation_csv_keeps_other_areas(tmp_path, synth_inventory, tax):
    path = tmp_path / "inventory_reconciliation.csv"
    empty = pd.DataFrame(columns=["doc", "area", "kind", "name", "category", "action",
                                  "quantity", "in_area", "sentence", "counted"])  # fmt: skip
    old = reconcile(empty, synth_inventory, ["synthfac"], tax).assign(area="other")
    write_reconciliation(old, path)
    write_reconciliation(reconcile(empty, synth_inventory, ["synthfac"], tax), path,
                         replace_areas=["synthfac"])  # fmt: skip
    back = pd.read_csv(path, encoding="utf-8-sig")
    assert back["area"].value_counts().to_dict() == {"other": 11, "synthfac": 11}


# -- writing --------------------------------------------------------------------------------------
def test_write_facilities_keeps_other_areas(tmp_path, synth_inventory):
    path = tmp_path / "facilities.gpkg"
    other = synth_inventory.copy()
    other["area"] = "other"
    write_facilities(path, pd.concat([synth_inventory, other], ignore_index=True))
    fewer = synth_inventory.iloc[:2]
    write_facilities(path, fewer, replace_areas=["synthfac"])
    back = read_facilities(path)
    assert back["area"].value_counts().to_dict() == {"other": 6, "synthfac": 2}
    assert back.crs.to_epsg() == 4326


# -- the real mirror ------------------------------------------------------------------------------
@pytest.mark.integration
def test_real_inventory_of_xinhualu(registry, tax):
    inv = build_inventory(registry, "xinhualu", tax)
    assert inv.crs.to_epsg() == 4326
    assert inv["facility_id"].is_unique and inv["osm_id"].is_unique
    assert set(inv["category"]) <= set(tax.categories)
    inside = inv[inv["in_area"]]
    assert len(inside) > 20
    boundary = registry.boundary("xinhualu")
    assert bool(inside.geometry.within(boundary.buffer(1e-9)).all())


@pytest.mark.integration
def test_cli_facilities_build_for_one_area(tmp_path, mirror):
    from click.testing import CliRunner

    from geo.cli import main

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["facilities", "build", "--area", "xinhualu", "--out",
                                    str(out), "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    fac = read_facilities(out / "facilities.gpkg")
    rec = pd.read_csv(out / "inventory_reconciliation.csv", encoding="utf-8-sig")
    assert set(fac["area"]) == {"xinhualu"} and set(rec["area"]) == {"xinhualu"}
    assert "© OpenStreetMap contributors" in res.output


@pytest.mark.integration
def test_cli_plans_extract_json(tmp_path, mirror):
    from click.testing import CliRunner

    from geo.cli import main

    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["plans", "extract", "--json", "--area", "xinhualu",
                                    "--out", str(out)])  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["plans"]["xinhualu_2024_work_points"]["categories"]["meal_service"]["new"] == 2
    assert Path(summary["file"]).exists()
