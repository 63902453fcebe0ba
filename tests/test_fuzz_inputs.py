"""Fuzz suite, registry and boundaries: bad geometry, wrong CRS, bad ids, generated YAML entries.

All data synthetic (tests/_synth_area.py).
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._fuzz import assert_refused, refused_unchanged, run_cli, snapshot
from tests._synth_area import SQUARE, make_area

FAST = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _out(tmp_path):
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    (out / "network_status.json").write_text("[]", encoding="utf-8")
    return out


def _set_boundary(tmp_path, geometry):
    path = tmp_path / "data" / "boundaries" / "b.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"][0]["geometry"] = geometry
    path.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    ("geometry", "why"),
    [
        ({"type": "Point", "coordinates": [121.42, 31.2]}, "Point"),
        (
            {"type": "Polygon", "coordinates": [[[121.42, 31.2], [121.43, 31.2], [121.42, 31.2]]]},
            "",
        ),  # zero area
        (
            {
                "type": "Polygon",
                "coordinates": [[[350000, 3450000], [351000, 3450000], [351000, 3451000],
                                 [350000, 3450000]]],
            },
            "outside lon",
        ),  # metres (UTM) in a file read as lon/lat
        ({"type": "LineString", "coordinates": [[121.42, 31.2], [121.43, 31.21]]}, "LineString"),
    ],
)  # fmt: skip
def test_unusable_boundary_is_refused(tmp_path, geometry, why):
    areas = make_area(tmp_path)
    _set_boundary(tmp_path, geometry)
    refused_unchanged(
        ["data", "status"], areas, tmp_path / "data", _out(tmp_path), "b.geojson", why
    )


def test_self_intersecting_boundary_is_repaired_with_a_warning(tmp_path):
    areas = make_area(tmp_path)
    (x0, y0), (x1, y1) = SQUARE[0], SQUARE[2]
    bowtie = [[x0, y0], [x1, y1], [x1, y0], [x0, y1], [x0, y0]]
    _set_boundary(tmp_path, {"type": "Polygon", "coordinates": [bowtie]})
    result = run_cli(["data", "status", "--out", str(_out(tmp_path))], areas, tmp_path / "data")
    assert result.exit_code == 0, result.stderr
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "b.geojson" in warnings[0] and "make_valid" in warnings[0]


@pytest.mark.parametrize("relation", ["r13469094", "1.5", "-3", "[1, 2]", "true"])
def test_relation_id_that_is_not_a_whole_number(tmp_path, relation):
    areas = make_area(tmp_path)
    reg = yaml.safe_load(areas.read_text(encoding="utf-8"))
    reg["areas"][0]["osm_relation"] = yaml.safe_load(relation)
    areas.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    refused_unchanged(
        ["data", "status"], areas, tmp_path / "data", _out(tmp_path), "areas.yaml", "osm_relation"
    )


_value = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


@FAST
@given(
    field=st.sampled_from(
        ["id", "name_zh", "osm_relation", "network", "plans", "boundary", "census_code_2010"]
    ),
    value=_value,
)
def test_generated_registry_entries_never_crash(tmp_path_factory, field, value):
    """A registry entry with any value in any field: runs (exit 0) or one line naming the file."""
    tmp = tmp_path_factory.mktemp("fy")
    areas = make_area(tmp)
    reg = yaml.safe_load(areas.read_text(encoding="utf-8"))
    reg["areas"][0][field] = value
    areas.write_text(yaml.safe_dump(reg, allow_unicode=True), encoding="utf-8")
    out = _out(tmp)
    before = snapshot(out)
    result = run_cli(["data", "status", "--json", "--out", str(out)], areas, tmp / "data")
    if result.exit_code != 0:
        line = assert_refused(result)
        assert "areas.yaml" in line or "b.geojson" in line or "osm" in line, line
        assert snapshot(out) == before


@pytest.mark.parametrize("value", [".inf", ".nan", "0", "-400", "5001", "1e9", "'800'", "true"])
def test_taxonomy_threshold_outside_0_5000_is_refused(tmp_path, value):
    """A threshold of .inf would cover everyone and .nan no one: refused, naming the category."""
    from geo import settings as geo_settings
    from geo._errors import LifeCircleError
    from geo.facilities.taxonomy import load_taxonomy

    src = geo_settings.PROJECT_DATA_DIR / "facilities" / "taxonomy.yaml"
    text = src.read_text(encoding="utf-8")
    first = text.index("threshold_m:")
    end = text.index("\n", first)
    path = tmp_path / "taxonomy.yaml"
    path.write_text(text[:first] + f"threshold_m: {value}" + text[end:], encoding="utf-8")
    with pytest.raises(
        LifeCircleError, match=r"threshold_m must be a positive number of metres, in \(0, 5000\]"
    ) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value) and "category '" in str(err.value)


@pytest.mark.parametrize(
    "data", [b"", b"[" * 200_000, b"\x00\xff" * 50, b"- 1\n", "分类: 1\n".encode("gbk")]
)
def test_garbage_taxonomy_is_one_error_naming_it(tmp_path, data):
    from geo._errors import LifeCircleError
    from geo.facilities.taxonomy import load_taxonomy

    path = tmp_path / "taxonomy.yaml"
    path.write_bytes(data)
    with pytest.raises(LifeCircleError) as err:
        load_taxonomy(path)
    assert str(path) in str(err.value)
