"""No data is not zero: data_status per category, the composite without no-data categories."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.io.tables import ALL, COMPOSITE
from geo.planning.context import CategorySpec
from geo.planning.coverage import coverage_table
from geo.planning.data_status import (
    DATA_STATUS,
    apply_data_status,
    category_status,
    drop_gaps,
    readme_text,
)
from tests import _synth_addresses as synth

CATS = {
    "shop": CategorySpec("shop", 5, 300.0, "商店", "Shop"),
    "school": CategorySpec("school", 15, 1000.0, "学校", "School"),
    "care": CategorySpec("care", 5, 300.0, "养老", "Care"),
}
DEMAND = pd.DataFrame(
    {"unit_id": ["u1", "u2"], "area": "t", "population": [100, 50], "neighbourhood": ["A", "B"]}
)
ACCESS = pd.DataFrame(
    {
        "unit_id": ["u1", "u2", "u1", "u2"],
        "category": ["shop", "shop", "school", "school"],
        "nearest_m": [200.0, 400.0, 900.0, 1100.0],
    }
)


def _row(table, unit, category, tier, profile="default"):
    sel = (table["unit"] == unit) & (table["category"] == category) & (table["profile"] == profile)
    sel &= table["tier"].isna() if tier is None else table["tier"] == tier
    assert sel.sum() == 1
    return table[sel].iloc[0]


@pytest.fixture(scope="module")
def table():
    return coverage_table(DEMAND, ACCESS, CATS, basis="network")


def test_no_data_category_is_empty_not_zero_and_left_out_of_the_composite(table):
    out = apply_data_status(table, {"shop": "ok", "school": "ok", "care": "no_facility_data"},
                            "OSM; lists: x.csv")  # fmt: skip
    care = _row(out, ALL, "care", 5)
    assert care["data_status"] == "no_facility_data"
    assert math.isnan(care["share"]) and math.isnan(care["covered_population"])
    assert "无设施数据/no facility data (searched: OSM; lists: x.csv)" in care["note"]
    comp = _row(out, ALL, COMPOSITE, None)
    # shop (300 m): u1 covered (100 of 150); school (1000 m): u1 covered (100 of 150)
    assert comp["covered_population"] == pytest.approx(100.0)
    assert comp["share"] == pytest.approx(100.0 / 150.0)
    assert comp["n_categories"] == 2
    assert comp["data_status"] == "ok"
    assert (
        "averages 2 of 3 categories; left out: care (无设施数据/no facility data)" in comp["note"]
    )
    before = _row(table, ALL, COMPOSITE, None)
    assert before["covered_population"] == pytest.approx(200.0 / 3.0)  # care counted as 0 %


def test_with_every_category_ok_the_composite_is_unchanged(table):
    out = apply_data_status(table, dict.fromkeys(CATS, "ok"))
    comp = out[out["category"] == COMPOSITE]
    ref = table[table["category"] == COMPOSITE]
    np.testing.assert_allclose(comp["covered_population"].to_numpy(float),
                               ref["covered_population"].to_numpy(float))  # fmt: skip
    assert set(comp["n_categories"]) == {3}


def test_nothing_known_leaves_the_composite_empty(table):
    out = apply_data_status(table, dict.fromkeys(CATS, "no_facility_data"))
    comp = _row(out, ALL, COMPOSITE, None)
    assert comp["data_status"] == "no_facility_data"
    assert math.isnan(comp["share"])
    assert comp["n_categories"] == 0


def _fac(rows):
    return gpd.GeoDataFrame(
        pd.DataFrame(
            rows,
            columns=["area", "category", "source", "status", "precision", "counted", "geometry"],
        ),
        geometry="geometry",
        crs="EPSG:4326",
    )


def test_category_status_by_scenario():
    b = synth.boundary()
    inside = shapely.Point(*synth.lonlat(500, 500))
    beyond = shapely.Point(*synth.lonlat(500, 3500))  # 2.5 km outside: beyond the buffer
    fac = _fac([
        ["synth", "shop", "osm", "existing", "exact", True, inside],
        ["synth", "care", "list", "existing", "area", False, None],  # named, not placed
        ["synth", "school", "plan", "planned", "coordinates", True, inside],
        ["other", "market", "osm", "existing", "exact", True, beyond],
    ])  # fmt: skip
    cats = ["shop", "care", "school", "market", "park"]
    base = category_status(fac, "synth", b, cats, "baseline")
    assert base == {"shop": "ok", "care": "not_placed", "school": "not_placed",
                    "market": "no_facility_data", "park": "no_facility_data"}  # fmt: skip
    assert category_status(fac, "synth", b, cats, "plan")["school"] == "ok"
    assert category_status(None, "synth", b, ["shop"]) == {"shop": "no_facility_data"}


def test_no_red_gap_without_data():
    gaps = pd.DataFrame({"category": ["shop", "care"], "population": [10, 20]})
    assert drop_gaps(gaps, {"shop": "ok", "care": "no_facility_data"})["category"].tolist() == [
        "shop"
    ]


def test_readme_documents_every_value():
    text = readme_text()
    for key in DATA_STATUS:
        assert f"  {key} (" in text


def test_scenarios_average_the_baseline_categories(table):
    plan = {"shop": "ok", "school": "ok", "care": "ok"}
    base = {"shop": "ok", "school": "ok", "care": "not_placed"}
    out = apply_data_status(table, plan, composite_status=base)
    comp = _row(out, ALL, COMPOSITE, None)
    assert comp["n_categories"] == 2
    assert "left out: care (no data in the baseline / 现状设施未定位)" in comp["note"]
    assert comp["covered_population"] == pytest.approx(100.0)
    assert _row(out, ALL, "care", 5)["data_status"] == "ok"
