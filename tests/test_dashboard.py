"""The Dash app on a small SYNTHETIC results folder, through Flask's test client (no browser).

Callbacks are called the way the browser calls them (POST /_dash-update-component), so bad
input is checked exactly as a client could send it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.callbacks import callback_outputs
from dashboard.synthetic import synthetic_registry, synthetic_taxonomy, to_wgs, write_synthetic
from dashboard.whatif import EstimateWhatIf, WhatIfError, WhatIfService, _shares

A = "synthetic_a"
SID = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Paths of a synthetic data + results folder (written once per module)."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def app(synthetic):
    """The dashboard on the synthetic results."""
    return create_app(
        synthetic["out"], registry=synthetic_registry(synthetic), taxonomy=synthetic_taxonomy()
    )


@pytest.fixture(scope="module")
def client(app):
    """A Flask test client."""
    return app.server.test_client()


@pytest.fixture
def service(app):
    """A fresh what-if service on the app's data (sessions not shared between tests)."""
    return WhatIfService(app.lifecircle["data"], max_sessions=4, max_added=3)


def _view(
    client,
    area=A,
    category="health_station",
    tier=15,
    scenario="baseline",
    profile="default",
    lang="zh",
    session=SID,
):
    outputs = callback_outputs("on_view")
    inputs = [
        ("area", "value", area),
        ("category", "value", category),
        ("tier", "value", tier),
        ("scenario", "value", scenario),
        ("profile", "value", profile),
        ("lang", "value", lang),
        ("whatif-rev", "data", 0),
    ]
    body = {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outputs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outputs],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": "session", "property": "data", "value": session}],
        "changedPropIds": ["category.value"],
    }
    resp = client.post("/_dash-update-component", json=body)
    assert resp.status_code == 200
    return resp.get_json()["response"]


def _layer(client, resp, layer):
    """The GeoJSON a view response points the map at (data when sent, else the URL's)."""
    sent = resp[layer].get("data")
    if sent:
        return sent
    got = client.get(resp[layer]["url"])
    assert got.status_code == 200
    return got.get_json()


# -- serving ---------------------------------------------------------------------------------
def test_index_loads_every_script_and_stylesheet_locally(client):
    page = client.get("/").get_data(as_text=True)
    refs = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert refs
    assert [r for r in refs if not r.startswith("/")] == []


def test_dash_leaflet_bundle_is_served_by_the_app(client):
    page = client.get("/").get_data(as_text=True)
    src = re.search(r'src="(/_dash-component-suites/dash_leaflet/dash_leaflet[^"]*)"', page)
    assert src is not None
    assert client.get(src.group(1)).status_code == 200


def test_streets_route_serves_road_classes_of_the_area(client):
    data = client.get(f"/lifecircle/streets/{A}.geojson").get_json()
    assert sorted(f["properties"]["highway"] for f in data["features"]) == [
        "footway",
        "residential",
    ]


def test_streets_route_rejects_unknown_areas(client):
    assert client.get("/lifecircle/streets/etc.geojson").status_code == 404


def test_each_page_load_gets_its_own_session_id(client):
    ids = [
        re.search(
            r'"id":\s*"session"[^}]*"data":\s*"([0-9a-f]+)"',
            client.get("/_dash-layout").get_data(as_text=True),
        )
        for _ in range(2)
    ]
    assert all(i is not None and len(i.group(1)) == 32 for i in ids)
    assert ids[0].group(1) != ids[1].group(1)


def test_missing_results_show_a_notice_not_an_error(tmp_path):
    app = create_app(tmp_path, registry=None, taxonomy=[])
    layout = app.server.test_client().get("/_dash-layout").get_data(as_text=True)
    assert '"no-results"' in layout


# -- main view callback ------------------------------------------------------------------------
def test_view_colours_cells_by_the_coverage_shares(client, synthetic):
    cov = pd.read_csv(synthetic["out"] / "coverage.csv")
    want = (
        cov[
            (cov["area"] == A)
            & (cov["category"] == "health_station")
            & (cov["tier"] == 10)
            & (cov["scenario"] == "plan")
            & (cov["profile"] == "default")
            & (cov["unit"] != "ALL")
        ]
        .set_index("unit")["share"]
        .to_dict()
    )
    cells = _layer(client, _view(client, tier=10, scenario="plan"), "cells")["features"]
    assert {f["properties"]["unit"]: f["properties"]["share"] for f in cells} == want


def test_view_shows_scenario_facilities(client):
    fac = _layer(client, _view(client, scenario="plan"), "facilities")["features"]
    assert [f["properties"]["klass"] for f in fac] == ["osm", "plan_existing", "plan_new"]


def test_view_hatches_cells_without_figures(client):
    cells = _layer(client, _view(client, area="synthetic_c", category="meal_service"), "cells")
    assert [f["properties"]["style"]["fillColor"] for f in cells["features"]] == ["url(#lc-hatch)"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"area": "../../etc/passwd"}, "unknown area '../../etc/passwd'"),
        ({"category": "<script>"}, "unknown category '<script>'"),
        ({"tier": "x"}, "unknown tier 'x'"),
        ({"scenario": None}, "unknown scenario 'None'"),
        ({"profile": 3}, "unknown walking profile '3'"),
    ],
)
def test_view_bad_input_is_a_visible_message(client, kwargs, message):
    resp = _view(client, **kwargs)
    assert message in json.dumps(resp["message"]["children"], ensure_ascii=False)
    assert resp["cells"]["url"] is None


def test_layers_are_cacheable_static_geojson(client):
    resp = _view(client)
    assert resp["cells"]["data"] is None
    got = client.get(resp["gaps"]["url"])
    assert got.headers["Cache-Control"] == "public, max-age=86400"
    assert [f["properties"]["population"] for f in got.get_json()["features"]] == [67.0]


@pytest.mark.parametrize(
    "query",
    [
        "cells.geojson?area=synthetic_a&category=health_station&tier=7",
        "cells.geojson?area=..%2F..&category=health_station",
        "secrets.geojson?area=synthetic_a&category=health_station",
    ],
)
def test_layer_route_rejects_bad_parameters(client, query):
    got = client.get(f"/lifecircle/layer/{query}")
    assert got.status_code == 404
    assert "unknown" in got.get_data(as_text=True)


# -- neighbourhood panel ------------------------------------------------------------------------
def test_unit_table_matches_coverage(app):
    rows = app.lifecircle["data"].unit_table(
        A, f"{A}-n4", tier=10, scenario="baseline", profile="default"
    )
    assert [(r["category"], r["covered_population"], r["share"], r["in_gaps"]) for r in rows] == [
        ("health_station", 35.0, 0.1268, 241.0),
        ("meal_service", 209.0, 0.7572, 67.0),
        ("composite", 122.0, 0.442, 154.0),
    ]


def test_unit_table_nearest_quartiles_in_metres(app):
    rows = app.lifecircle["data"].unit_table(
        A, f"{A}-n1", tier=15, scenario="baseline", profile="default"
    )
    # units of n1 (local 50..450 m) to the facilities at (150, 150) and (150, 450)
    assert rows[0]["q"] == (100.0, 200.0, 300.0)


# -- what-if -----------------------------------------------------------------------------------
def test_shares_weighted_by_population():
    ev = _shares(
        ["a", "b"],
        np.array([0, 0, 1, -1]),
        np.array([10.0, 30.0, 5.0, 99.0]),
        np.array([True, False, False, True]),
        np.array([True, True, False, True]),
        300.0,
        1,
    )
    assert ev.before.tolist() == [0.25, 0.0]
    assert ev.after.tolist() == [1.0, 0.0]
    assert ev.population.tolist() == [40.0, 5.0]


def test_whatif_add_raises_coverage(service):
    lon, lat = to_wgs(A, 850.0, 850.0)
    service.add(SID, A, "health_station", lon, lat)
    ev = service.evaluate(SID, A, "health_station", 10, "baseline", "default")
    assert ev.n_added == 1
    assert ev.after[3] > ev.before[3]
    assert ev.area_after > ev.area_before


def test_whatif_remove_equals_never_adding(service):
    first, second = to_wgs(A, 850.0, 850.0), to_wgs(A, 850.0, 150.0)
    a = service.add(SID, A, "health_station", *first)
    service.add(SID, A, "health_station", *second)
    service.evaluate(SID, A, "health_station", 10, "baseline", "default")
    assert service.remove(SID, A, "health_station", a.id)
    after_remove = service.evaluate(SID, A, "health_station", 10, "baseline", "default")
    other = "f" * 32
    service.add(other, A, "health_station", *second)
    only_second = service.evaluate(other, A, "health_station", 10, "baseline", "default")
    assert after_remove.after.tolist() == only_second.after.tolist()


def test_whatif_without_additions_shows_the_results(service):
    assert service.evaluate(SID, A, "health_station", 10, "baseline", "default") is None


@pytest.mark.parametrize(
    ("area", "category", "point", "key"),
    [
        (A, "health_station", (1500.0, 500.0), "whatif_outside"),
        (A, "composite", (500.0, 500.0), "whatif_composite"),
    ],
)
def test_whatif_refuses_with_a_message_key(service, area, category, point, key):
    lon, lat = to_wgs(area, *point)
    with pytest.raises(WhatIfError) as err:
        service.add(SID, area, category, lon, lat)
    assert err.value.key == key


def test_whatif_without_network_is_a_labelled_estimate(service):
    # synthetic_c has no streets: straight line x detour factor (1.3 without a calibration)
    lon, lat = to_wgs("synthetic_c", 250.0, 250.0)
    service.add(SID, "synthetic_c", "meal_service", lon, lat)
    ev = service.evaluate(SID, "synthetic_c", "meal_service", 5, "baseline", "default")
    assert (ev.method, ev.factor) == ("estimate", 1.3)
    # 5 min = 333.33 m walking = 256.4 m straight: the existing canteen at the centre reaches
    # 24 of the 100 units (261 people); the added one at (250, 250) reaches 21, 5 of them
    # already reached: 40 units, 440 people of 1,099
    assert (round(ev.area_before, 4), round(ev.area_after, 4)) == (0.2375, 0.4004)


def test_estimate_whatif_remove_restores_the_base():
    wi = EstimateWhatIf(
        np.array([0.0, 100.0]), np.array([0.0, 0.0]), np.array([0.0]), np.array([300.0]), 2.0
    )
    assert wi.nearest_m.tolist() == [600.0, 2 * float(np.hypot(100, 300))]
    h = wi.add(100.0, 10.0)
    assert wi.nearest_m.tolist() == [2 * float(np.hypot(100, 10)), 20.0]
    wi.remove(h)
    assert wi.nearest_m.tolist() == [600.0, 2 * float(np.hypot(100, 300))]


def test_whatif_rejects_non_numeric_coordinates(service):
    with pytest.raises(WhatIfError) as err:
        service.add(SID, A, "health_station", "121.4; rm -rf", None)
    assert err.value.key == "bad_input"


def test_whatif_rejects_malformed_session_ids(service):
    lon, lat = to_wgs(A, 500.0, 500.0)
    with pytest.raises(WhatIfError, match="invalid session id"):
        service.add("../../x", A, "health_station", lon, lat)


def test_whatif_limits_added_facilities(service):
    lon, lat = to_wgs(A, 500.0, 500.0)
    for _ in range(3):
        service.add(SID, A, "health_station", lon, lat)
    with pytest.raises(WhatIfError) as err:
        service.add(SID, A, "health_station", lon, lat)
    assert err.value.key == "whatif_limit"


def test_whatif_keeps_a_bounded_number_of_sessions(service):
    lon, lat = to_wgs(A, 500.0, 500.0)
    sessions = [f"{i:032x}" for i in range(5)]
    for s in sessions:
        service.add(s, A, "health_station", lon, lat)
    assert service.n_sessions == 4
    assert service.added(sessions[0], A, "health_station") == []
    assert len(service.added(sessions[4], A, "health_station")) == 1


def test_whatif_callback_adds_on_map_click_in_add_mode(client):
    lon, lat = to_wgs(A, 850.0, 850.0)
    body = {
        "output": "..whatif-rev.data...whatif-list.children...whatif-msg.children..",
        "outputs": [
            {"id": "whatif-rev", "property": "data"},
            {"id": "whatif-list", "property": "children"},
            {"id": "whatif-msg", "property": "children"},
        ],
        "inputs": [
            {"id": "map", "property": "n_clicks", "value": 1},
            [],
            {"id": "whatif-clear", "property": "n_clicks", "value": 0},
            {"id": "area", "property": "value", "value": A},
            {"id": "category", "property": "value", "value": "health_station"},
            {"id": "lang", "property": "value", "value": "en"},
        ],
        "state": [
            {"id": "map", "property": "clickData", "value": {"latlng": {"lat": lat, "lng": lon}}},
            {"id": "mode", "property": "value", "value": "add"},
            {"id": "session", "property": "data", "value": "e" * 32},
            {"id": "whatif-rev", "property": "data", "value": 4},
        ],
        "changedPropIds": ["map.n_clicks"],
    }
    resp = client.post("/_dash-update-component", json=body).get_json()["response"]
    assert resp["whatif-rev"]["data"] == 5
    assert "#1" in json.dumps(resp["whatif-list"]["children"], ensure_ascii=False)
    view = _view(client, tier=10, session="e" * 32, lang="en")
    assert [f["properties"]["cls"] for f in view["whatif-layer"]["data"]["features"]] == [
        "lc-whatif lc-whatif-1"
    ]
    assert "What-if (1)" in json.dumps(view["summary"]["children"])


def test_export_callback_writes_into_exports(client, synthetic):
    body = {
        "output": "..download.data...export-msg.children..",
        "outputs": [
            {"id": "download", "property": "data"},
            {"id": "export-msg", "property": "children"},
        ],
        "inputs": [
            {"id": "export-btn", "property": "n_clicks", "value": 1},
            {"id": "report-btn", "property": "n_clicks", "value": 0},
        ],
        "state": [
            {"id": i, "property": p, "value": v}
            for i, p, v in (
                ("export-format", "value", "xlsx"),
                ("export-paper", "value", "A4"),
                ("area", "value", A),
                ("category", "value", "meal_service"),
                ("tier", "value", 10),
                ("scenario", "value", "baseline"),
                ("profile", "value", "default"),
                ("lang", "value", "zh"),
                ("session", "data", SID),
            )
        ],
        "changedPropIds": ["export-btn.n_clicks"],
    }
    resp = client.post("/_dash-update-component", json=body).get_json()["response"]
    name = resp["download"]["data"]["filename"]
    assert re.fullmatch(
        r"synthetic_a_meal_service_baseline_10min_default_\d{8}-\d{6}_[0-9a-f]{6}"
        r"\.xlsx",
        name,
    )
    assert (synthetic["out"] / "exports" / name).exists()


def test_dashboard_imports_only_reporting_the_access_engine_settings_and_errors():
    import ast

    allowed = ("geo.reporting", "geo.network.access", "geo.settings", "geo._errors")
    bad = []
    for path in sorted(Path(__file__).resolve().parents[1].joinpath("dashboard").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods = (
                    [node.module] if node.module != "geo" else [f"geo.{a.name}" for a in node.names]
                )
                names = mods
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [
                f"{path.name}: {n}"
                for n in names
                if (n == "geo" or n.startswith("geo.")) and not n.startswith(allowed)
            ]
    assert bad == []


def test_a_failed_export_says_why_in_the_page(client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("dashboard.callbacks.export", broken)
    body = {
        "output": "..download.data...export-msg.children..",
        "outputs": [
            {"id": "download", "property": "data"},
            {"id": "export-msg", "property": "children"},
        ],
        "inputs": [
            {"id": "export-btn", "property": "n_clicks", "value": 1},
            {"id": "report-btn", "property": "n_clicks", "value": 0},
        ],
        "state": [
            {"id": i, "property": p, "value": v}
            for i, p, v in (
                ("export-format", "value", "png"),
                ("export-paper", "value", "A4"),
                ("area", "value", A),
                ("category", "value", "meal_service"),
                ("tier", "value", 10),
                ("scenario", "value", "baseline"),
                ("profile", "value", "default"),
                ("lang", "value", "en"),
                ("session", "data", SID),
            )
        ],
        "changedPropIds": ["export-btn.n_clicks"],
    }
    resp = client.post("/_dash-update-component", json=body).get_json()["response"]
    msg = resp["export-msg"]["children"]["props"]
    assert msg["id"] == "export-error"
    assert msg["children"] == "Export failed: OSError: [Errno 28] No space left on device"
