"""A small HTTP client for the dashboard's callbacks (benchmarks and load tests).

It sends exactly what the browser sends (``POST /_dash-update-component``), so timings
include Dash's request handling and JSON encoding.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests

from dashboard.callbacks import callback_outputs

VIEW_OUTPUTS = callback_outputs("on_view")
WHATIF_OUTPUTS = callback_outputs("on_whatif")


def _body(
    outputs: list[tuple[str, str]], inputs: list[Any], state: list[Any], changed: str
) -> dict[str, Any]:
    return {
        "output": (
            f"{outputs[0][0]}.{outputs[0][1]}"
            if len(outputs) == 1
            else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        ),
        "outputs": (
            {"id": outputs[0][0], "property": outputs[0][1]}
            if len(outputs) == 1
            else [{"id": i, "property": p} for i, p in outputs]
        ),
        "inputs": inputs,
        "state": state,
        "changedPropIds": [changed],
    }


def _prop(id_: str, prop: str, value: Any) -> dict[str, Any]:
    return {"id": id_, "property": prop, "value": value}


def cell_points(cells: dict[str, Any]) -> list[tuple[str, float, float]]:
    """Return ``(unit, lon, lat)`` of each neighbourhood cell of a cells FeatureCollection.

    The point is the mean of the outer ring's vertices (inside for the hexagon cells).
    """
    out = []
    for f in cells.get("features", []):
        geom = f["geometry"]
        ring = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]
        lon = sum(c[0] for c in ring[:-1]) / max(len(ring) - 1, 1)
        lat = sum(c[1] for c in ring[:-1]) / max(len(ring) - 1, 1)
        out.append((f["properties"]["unit"], lon, lat))
    return out


def added_ids(whatif_response: dict[str, Any]) -> list[int]:
    """Ids of the added facilities listed in a what-if response (its remove buttons)."""
    found: list[int] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            nid = node.get("id")
            if isinstance(nid, dict) and nid.get("type") == "whatif-remove":
                found.append(int(nid["index"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(whatif_response.get("whatif-list", {}))
    return found


class DashClient:
    """One simulated browser session against a running dashboard.

    Parameters
    ----------
    base_url
        E.g. ``http://127.0.0.1:8050/``.
    timeout
        Seconds per request.
    parse
        Decode responses (False: only check that every output is present, as a load test
        needs, which keeps the client's own CPU use low).
    """

    def __init__(self, base_url: str, timeout: float = 30.0, parse: bool = True) -> None:
        self.parse = parse
        self.base = base_url.rstrip("/")
        self.http = requests.Session()
        self.timeout = timeout
        self.session_id = ""
        self.rev = 0
        self.fetched: set[str] = set()  # layer URLs this "browser" has in its cache
        self.map_clicks = 0

    # -- plumbing ------------------------------------------------------------------------
    def _post(
        self, body: dict[str, Any], parse: bool | None = None
    ) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        resp = self.http.post(
            f"{self.base}/_dash-update-component", json=body, timeout=self.timeout
        )
        dt = time.perf_counter() - t0
        if resp.status_code == 204:  # no_update everywhere
            return dt, {}
        resp.raise_for_status()
        # load tests: check that every output is there, without decoding
        if not (self.parse if parse is None else parse):
            want = [
                o["id"]
                for o in (
                    body["outputs"] if isinstance(body["outputs"], list) else [body["outputs"]]
                )
            ]
            missing = [
                w for w in want if isinstance(w, str) and f'"{w}"'.encode() not in resp.content
            ]
            if missing:
                raise ValueError(f"response lacks {', '.join(missing)}")
            return dt, {}
        return dt, resp.json().get("response", {})

    def load_page(self) -> float:
        """GET the page, its scripts/styles, the layout and dependencies (a cold load).

        Returns the seconds taken and keeps the page's session id.
        """
        t0 = time.perf_counter()
        page = self.http.get(f"{self.base}/", timeout=self.timeout)
        page.raise_for_status()
        for ref in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):
            self.http.get(f"{self.base}{ref}", timeout=self.timeout).raise_for_status()
        layout = self.http.get(f"{self.base}/_dash-layout", timeout=self.timeout)
        layout.raise_for_status()
        self.http.get(f"{self.base}/_dash-dependencies", timeout=self.timeout).raise_for_status()
        m = re.search(r'"id":\s*"session"[^}]*"data":\s*"([0-9a-f]{32})"', layout.text)
        self.session_id = m.group(1) if m else ""
        return time.perf_counter() - t0

    def fetch_layers(
        self, view_response: dict[str, Any], *, parse: bool = True, cached: bool = True
    ) -> tuple[float, dict[str, Any]]:
        """GET the static layers a view response points to, as the browser does.

        URLs already fetched by this client are skipped when ``cached`` (the browser's HTTP
        cache). Returns the seconds taken and ``{layer: FeatureCollection}`` (parsed ones).
        """
        t0 = time.perf_counter()
        out: dict[str, Any] = {}
        for layer in ("cells", "facilities", "gaps"):
            url = view_response.get(layer, {}).get("url")
            if not url or (cached and url in self.fetched):
                continue
            resp = self.http.get(f"{self.base}{url}", timeout=self.timeout)
            resp.raise_for_status()
            self.fetched.add(url)
            if parse:
                out[layer] = resp.json()
        return time.perf_counter() - t0, out

    def new_session(self) -> None:
        """Fetch the layout only, to get a fresh session id."""
        layout = self.http.get(f"{self.base}/_dash-layout", timeout=self.timeout)
        layout.raise_for_status()
        m = re.search(r'"id":\s*"session"[^}]*"data":\s*"([0-9a-f]{32})"', layout.text)
        self.session_id = m.group(1) if m else ""

    # -- callbacks -----------------------------------------------------------------------
    def language(self, lang: str = "zh") -> tuple[float, dict[str, Any]]:
        """Post the language callback (labels and options); return its time and response."""
        outputs = callback_outputs("on_language")
        return self._post(_body(outputs, [_prop("lang", "value", lang)], [], "lang.value"))

    def area(self, area: str, lang: str = "zh") -> tuple[float, dict[str, Any]]:
        """Post the area callback (streets URL, outlines, viewport, badge)."""
        outputs = callback_outputs("on_area")
        return self._post(
            _body(
                outputs,
                [_prop("area", "value", area), _prop("lang", "value", lang)],
                [],
                "area.value",
            )
        )

    def view(
        self,
        area: str,
        category: str,
        tier: int = 15,
        scenario: str = "baseline",
        profile: str = "default",
        lang: str = "zh",
    ) -> tuple[float, dict[str, Any]]:
        """Post the main map callback (cells, facilities, gaps, what-if layer, summary)."""
        inputs = [
            _prop("area", "value", area),
            _prop("category", "value", category),
            _prop("tier", "value", tier),
            _prop("scenario", "value", scenario),
            _prop("profile", "value", profile),
            _prop("lang", "value", lang),
            _prop("whatif-rev", "data", self.rev),
        ]
        # the response is small (layer URLs, summary): always decoded, the URLs are needed
        return self._post(
            _body(
                VIEW_OUTPUTS, inputs, [_prop("session", "data", self.session_id)], "category.value"
            ),
            parse=True,
        )

    def panel(
        self,
        area: str,
        unit: str,
        category: str,
        tier: int = 15,
        scenario: str = "baseline",
        profile: str = "default",
        lang: str = "zh",
    ) -> tuple[float, dict[str, Any]]:
        """Post the neighbourhood panel callback (a click on cell ``unit``)."""
        inputs = [
            _prop("cells", "clickData", {"properties": {"unit": unit}}),
            _prop("area", "value", area),
            _prop("tier", "value", tier),
            _prop("scenario", "value", scenario),
            _prop("profile", "value", profile),
            _prop("lang", "value", lang),
            _prop("whatif-rev", "data", self.rev),
            _prop("category", "value", category),
        ]
        return self._post(
            _body(
                callback_outputs("on_panel"),
                inputs,
                [_prop("session", "data", self.session_id)],
                "cells.clickData",
            )
        )

    def _whatif(
        self,
        changed: str,
        click: Any,
        removes: list[Any],
        clear: int,
        area: str,
        category: str,
        lang: str = "zh",
    ) -> tuple[float, dict[str, Any]]:
        self.map_clicks += 1 if click is not None else 0
        inputs = [
            _prop("map", "n_clicks", self.map_clicks),
            removes,
            _prop("whatif-clear", "n_clicks", clear),
            _prop("area", "value", area),
            _prop("category", "value", category),
            _prop("lang", "value", lang),
        ]
        state = [
            _prop("map", "clickData", click),
            _prop("mode", "value", "add"),
            _prop("session", "data", self.session_id),
            _prop("whatif-rev", "data", self.rev),
        ]
        dt, resp = self._post(_body(WHATIF_OUTPUTS, inputs, state, changed), parse=True)
        rev = resp.get("whatif-rev", {}).get("data")
        if isinstance(rev, int):
            self.rev = rev
        return dt, resp

    def whatif_add(
        self, area: str, category: str, lon: float, lat: float
    ) -> tuple[float, dict[str, Any]]:
        """Post a map click in "add a facility" mode."""
        return self._whatif(
            "map.n_clicks", {"latlng": {"lat": lat, "lng": lon}}, [], 0, area, category
        )

    def whatif_remove(
        self, area: str, category: str, added_id: int
    ) -> tuple[float, dict[str, Any]]:
        """Post a click on the remove button of added facility ``added_id``."""
        removes = [
            {"id": {"type": "whatif-remove", "index": added_id}, "property": "n_clicks", "value": 1}
        ]
        body_changed = f'{{"index":{added_id},"type":"whatif-remove"}}.n_clicks'
        return self._whatif(body_changed, None, removes, 0, area, category)

    def export(
        self,
        area: str,
        category: str,
        fmt: str = "png",
        tier: int = 15,
        scenario: str = "baseline",
        profile: str = "default",
        paper: str = "A4",
    ) -> tuple[float, dict[str, Any]]:
        """Post a click on the export button."""
        state = [
            _prop("export-format", "value", fmt),
            _prop("export-paper", "value", paper),
            _prop("area", "value", area),
            _prop("category", "value", category),
            _prop("tier", "value", tier),
            _prop("scenario", "value", scenario),
            _prop("profile", "value", profile),
            _prop("lang", "value", "zh"),
            _prop("session", "data", self.session_id),
        ]
        return self._post(
            _body(
                callback_outputs("on_export"),
                [_prop("export-btn", "n_clicks", 1), _prop("report-btn", "n_clicks", 0)],
                state,
                "export-btn.n_clicks",
            )
        )
