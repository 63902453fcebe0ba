"""`lifecircle areas list|add` and the subdistrict catalogue (geo/io/subdistricts.py).

Unit tests build a synthetic three-unit boundary file, attribute table and census table; the
integration test adds a real subdistrict of the mirror and runs the pipeline on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from geo.cli import main
from geo.io.areas import load_registry
from geo.io.subdistricts import find_subdistrict, load_catalogue

SYNTH_UNITS = [
    # name, district, relation, code 2023, census population (None: code changed since 2010)
    ("甲乙路街道", "测试区", 901, "310199001000", 1000.0),
    ("甲丙路街道", "测试区", 902, "310199002000", 2000.0),
    ("丁戊镇", "测试区", 903, "310199103000", None),
]
SYNTH_CENSUS = [("310199001", "JiaYiLuJieDao", 1000), ("310199002", "JiaBingLuJieDao", 2000)]


def _square(i: int) -> list:
    x = 121.0 + i * 0.01
    return [[[x, 31.0], [x + 0.01, 31.0], [x + 0.01, 31.01], [x, 31.01], [x, 31.0]]]


@pytest.fixture
def synth(tmp_path, monkeypatch) -> Path:
    """A synthetic registry (one shipped area) with a three-unit boundary file."""
    (tmp_path / "boundaries").mkdir()
    (tmp_path / "population").mkdir()
    feats = [
        {
            "type": "Feature",
            "properties": {
                "osm_name": n,
                "district": d,
                "osm_relation_id_source": str(r),
                "official_control_code_2023": c,
            },
            "geometry": {"type": "Polygon", "coordinates": _square(i)},
        }
        for i, (n, d, r, c, _p) in enumerate(SYNTH_UNITS)
    ]
    (tmp_path / "boundaries" / "synthetic_units.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": feats}), encoding="utf-8"
    )
    rows = ["district,official_control_code_2023,osm_relation_id_source,area_km2_utm51n,"
            "rep_lon,rep_lat,pop2010_census_same_code"]  # fmt: skip
    for _n, d, r, c, p in SYNTH_UNITS:
        rows.append(f"{d},{c},{r},1.0,121.0,31.0,{'' if p is None else p}")
    (tmp_path / "boundaries" / "synthetic_units_attributes.csv").write_text(
        "\n".join(rows) + "\n", encoding="utf-8"
    )
    census = ["gbcode_9,name_pinyin,pop_total_2010"] + [f"{a},{b},{c}" for a, b, c in SYNTH_CENSUS]
    (tmp_path / "population" / "synthetic_census.csv").write_text(
        "\n".join(census) + "\n", encoding="utf-8"
    )
    reg = {
        "defaults": {
            "boundary": {"file": "boundaries/synthetic_units.geojson",
                         "key": "osm_relation_id_source"},
            "population": {"file": "population/synthetic_census.csv", "key": "gbcode_9",
                           "column": "pop_total_2010", "year": 2010},
        },
        "areas": [{"id": "jiayilu", "name_zh": "甲乙路街道", "name_en": "Jiayilu Subdistrict",
                   "district": "测试区", "osm_relation": 901}],
    }  # fmt: skip
    (tmp_path / "areas.yaml").write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("LIFECIRCLE_AREAS", str(tmp_path / "areas.yaml"))
    monkeypatch.setenv("LIFECIRCLE_DATA", str(tmp_path))
    monkeypatch.delenv("LIFECIRCLE_AREAS_LOCAL", raising=False)
    return tmp_path


def test_catalogue_reads_units_with_census_codes_and_pinyin_ids(synth):
    cat = load_catalogue(load_registry(data_dir=synth))
    assert [(s.name_zh, s.census_code_2010, s.pop_2010) for s in cat] == [
        ("甲乙路街道", "310199001", 1000),
        ("甲丙路街道", "310199002", 2000),
        ("丁戊镇", None, None),
    ]
    assert [s.area_id for s in cat[:2]] == ["jiayilu", "jiabinglu"]
    assert cat[2].area_id == "dingwu" and cat[2].name_en == "Dingwu Town"


def test_find_by_name_short_name_or_relation_id(synth):
    cat = load_catalogue(load_registry(data_dir=synth))
    assert find_subdistrict(cat, "甲丙路街道").osm_relation == 902
    assert find_subdistrict(cat, "甲丙路").osm_relation == 902
    assert find_subdistrict(cat, "903").name_zh == "丁戊镇"
    assert find_subdistrict(cat, "jiabinglu").osm_relation == 902


def test_areas_add_writes_the_local_overlay_not_the_registry(synth):
    before = (synth / "areas.yaml").read_text(encoding="utf-8")
    res = CliRunner().invoke(main, ["areas", "add", "甲丙路街道"])
    assert res.exit_code == 0, res.output
    assert (synth / "areas.yaml").read_text(encoding="utf-8") == before
    local = yaml.safe_load((synth / "osm" / "areas.local.yaml").read_text(encoding="utf-8"))
    entry = local["areas"][0]
    assert (entry["id"], entry["osm_relation"], entry["census_code_2010"]) == (
        "jiabinglu",
        902,
        "310199002",
    )
    reg = load_registry(data_dir=synth)
    assert reg.ids() == ["jiayilu", "jiabinglu"]
    assert reg.get("jiabinglu").network == ()


def test_areas_add_twice_or_a_registered_unit_adds_nothing(synth):
    runner = CliRunner()
    assert runner.invoke(main, ["areas", "add", "902"]).exit_code == 0
    res = runner.invoke(main, ["areas", "add", "甲丙路街道"])
    assert res.exit_code == 0 and "already in the registry as 'jiabinglu'" in res.output
    res = runner.invoke(main, ["areas", "add", "甲乙路"])
    assert "already in the registry as 'jiayilu'" in res.output
    local = yaml.safe_load((synth / "osm" / "areas.local.yaml").read_text(encoding="utf-8"))
    assert len(local["areas"]) == 1


def test_unit_without_census_code_gets_a_note_not_a_code(synth):
    res = CliRunner().invoke(main, ["areas", "add", "丁戊镇"])
    assert res.exit_code == 0, res.output
    entry = load_registry(data_dir=synth).get("dingwu")
    assert entry.census_code_2010 is None and "changed" in (entry.census_note or "")


def test_unknown_name_lists_the_three_closest_and_exits_2(synth):
    res = CliRunner().invoke(main, ["areas", "add", "甲丁路街道"])
    assert res.exit_code == 2
    line = res.stderr.strip()
    assert "\n" not in line and "closest: " in line
    assert sorted(line.split("closest: ")[1].split(", ")) == sorted(
        ["甲乙路街道", "甲丙路街道", "丁戊镇"]
    )
    assert not (synth / "osm" / "areas.local.yaml").exists()


def test_areas_list_shows_every_unit_with_its_status(synth):
    CliRunner().invoke(main, ["areas", "add", "902"])
    res = CliRunner().invoke(main, ["areas", "list", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.output)}
    assert {k: (r["registry"], r["census_2010"]) for k, r in rows.items()} == {
        "jiayilu": ("shipped", 1000),
        "jiabinglu": ("local", 2000),
        "dingwu": ("no", None),
    }


@pytest.mark.integration
def test_areas_add_then_run_on_a_fifth_subdistrict(mirror, tmp_path, monkeypatch):
    """江浦路街道 (not one of the four): add it, then run every stage on the estimate basis."""
    monkeypatch.setenv("LIFECIRCLE_AREAS_LOCAL", str(tmp_path / "areas.local.yaml"))
    runner = CliRunner()
    res = runner.invoke(main, ["areas", "add", "江浦路街道"])
    assert res.exit_code == 0, res.output
    assert "added jiangpulu" in res.output
    out = tmp_path / "out"
    res = runner.invoke(main, ["run", "--area", "jiangpulu", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, (res.stderr or "") + repr(res.exception)
    import pandas as pd

    cov = pd.read_csv(out / "coverage.csv")
    assert set(cov["area"]) == {"jiangpulu"}
    assert set(cov["basis"]) == {"estimate"}
    status = json.loads((out / "network_status.json").read_text(encoding="utf-8"))
    assert [r["area"] for r in status] == ["jiangpulu"]


@pytest.mark.parametrize(
    ("cell", "expected"), [(None, None), ("", None), ("x", None), ("3.5", 3.5)]
)
def test_attribute_cells_read_as_numbers_or_none(cell, expected):
    from geo.io.subdistricts import _float

    assert _float(cell) == expected
