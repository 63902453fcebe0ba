"""Fuzz suite, dashboard server: malformed callback bodies (400), bundle probes (404), body limit
(413), idle connections that must not starve a real client, export pruning. Synthetic results.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waitress.server import create_server

from dashboard.app import MAX_BODY_BYTES, create_app, prune_exports, server_options
from dashboard.synthetic import synthetic_registry, synthetic_taxonomy, write_synthetic

UPDATE = "/_dash-update-component"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    paths = write_synthetic(tmp_path_factory.mktemp("synthetic"))
    return create_app(
        paths["out"],
        registry=synthetic_registry(paths),
        taxonomy=synthetic_taxonomy(),
        preload=False,
    )


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


def _lang_body(app, **over):
    """A well-formed body for the language callback (one input: lang.value)."""
    output = next(
        k
        for k, v in app.callback_map.items()
        if v["inputs"] == [{"id": "lang", "property": "value"}]
    )
    outs = [
        {"id": o.component_id, "property": o.component_property}
        for o in app.callback_map[output]["output"]
    ]
    body = {
        "output": output,
        "outputs": outs,
        "inputs": [{"id": "lang", "property": "value", "value": "en"}],
        "changedPropIds": ["lang.value"],
    }
    body.update(over)
    return json.dumps(body).encode()


def test_well_formed_callback_still_answers(app, client):
    assert (
        client.post(UPDATE, data=_lang_body(app), content_type="application/json").status_code
        == 200
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{{{",
        b"[1, 2]",
        b"{}",
        b"5",
        b"null",
        b"[" * 100_000 + b"]" * 100_000,
        json.dumps({"output": "nope.children", "outputs": {}, "inputs": []}).encode(),
    ],
)
def test_malformed_callback_body_is_400(client, body):
    assert client.post(UPDATE, data=body, content_type="application/json").status_code == 400


@pytest.mark.parametrize(
    "over",
    [
        {"inputs": 5},
        {"inputs": [1, 2, 3]},
        {"inputs": [{"id": "area", "property": "value", "value": "x"}]},
        {"inputs": []},
        {"state": "x"},
        {"changedPropIds": 3},
        {"outputs": []},
        {"outputs": {"id": "title", "property": "children"}},
        {"outputs": [1] * 25},
    ],
)
def test_callback_body_not_matching_the_callback_is_400(app, client, over):
    resp = client.post(UPDATE, data=_lang_body(app, **over), content_type="application/json")
    assert resp.status_code == 400


def test_callback_body_without_outputs_is_400(app, client):
    body = json.loads(_lang_body(app))
    del body["outputs"]
    resp = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert resp.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/nope/x.js",
        "/_dash-component-suites/dash/../../etc/passwd",
        "/_dash-component-suites/dash/nope.js",
        "/_dash-component-suites/dash_leaflet/x.js",
        "/_dash-component-suites/dash/deps/react@16.v2_17.min.js",
    ],
)
def test_unknown_bundle_is_404(client, path):
    assert client.get(path).status_code == 404


def test_body_over_the_limit_is_413(client):
    resp = client.post(UPDATE, data=b" " * (MAX_BODY_BYTES + 1), content_type="application/json")
    assert resp.status_code == 413


_json = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=6)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    doc=st.one_of(
        _json,
        st.fixed_dictionaries(
            {"output": st.text(max_size=10), "inputs": _json, "outputs": _json},
            optional={"state": _json, "changedPropIds": _json},
        ),
    )
)
def test_generated_callback_bodies_never_500(client, doc):
    resp = client.post(UPDATE, data=json.dumps(doc), content_type="application/json")
    assert resp.status_code in (200, 204, 400), resp.status_code


def test_200_idle_connections_do_not_starve_a_real_client(app):
    """A real waitress server with the dashboard's settings; 250 idle sockets held open."""
    opts = server_options(threads=4)
    server = create_server(app.server, host="127.0.0.1", port=0, **opts)
    port = server.effective_port
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    idle = []
    try:
        for i in range(250):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
            idle.append(s)
        t0 = time.perf_counter()
        resp = requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=5)
        assert resp.status_code == 200
        assert time.perf_counter() - t0 < 2.0
        # and a body above the limit is refused by the server, before it is read
        big = requests.post(
            f"http://127.0.0.1:{port}{UPDATE}",
            data=b" " * (MAX_BODY_BYTES + 10),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert big.status_code == 413
    finally:
        for s in idle:
            s.close()
        server.close()


def test_exports_pruned_by_age_then_size(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    now = time.time()
    files = {}
    for name, age_h, size in [
        ("old.png", 30, 10),
        ("a.png", 3, 400),
        ("b.png", 2, 400),
        ("c.png", 1, 400),
    ]:
        p = folder / name
        p.write_bytes(b"x" * size)
        os.utime(p, (now - age_h * 3600, now - age_h * 3600))
        files[name] = p
    removed = prune_exports(folder, max_age_s=24 * 3600, max_bytes=1000)
    assert sorted(p.name for p in removed) == ["a.png", "old.png"]
    assert sorted(p.name for p in folder.iterdir()) == ["b.png", "c.png"]
