"""Browser test of the city view: headless Chromium clicks a subdistrict and gets its view.

The SYNTHETIC city of tests/_city_synth.py is screened (one area after the other), then
``dashboard.city.create_city_server`` serves the city view at /city/ from a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dashboard.city import create_city_server
from geo.city.catalogue import load_catalogue
from geo.city.screen import read_city
from geo.io.areas import load_registry
from tests._city_synth import IDS, make_city, screen_serially
from tests.test_dashboard_browser import _need_browser, _text, _wait, driver  # noqa: F401

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def city_url(tmp_path_factory) -> Iterator[str]:
    """URL of the city view on the screened synthetic city."""
    _need_browser()
    from waitress.server import create_server

    root = tmp_path_factory.mktemp("citybrowser")
    paths = make_city(root)
    out = root / "out"
    screen_serially(paths, out)
    table, polygons, facts = read_city(out)
    registry = load_catalogue(load_registry(paths["registry"], data_dir=paths["data"]))
    app = create_city_server(out, table, polygons, registry=registry, facts=facts)
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()


def _click(drv: Any, css: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(drv).move_to_element(drv.find_element("css selector", css)).click().perform()


def test_city_view_click_opens_the_subdistrict_view(driver, city_url, artifacts):  # noqa: F811
    a = IDS["A"]
    driver.get(f"{city_url}/")  # no subdistrict chosen and no run results: the city view
    _wait(driver, lambda d: len(d.find_elements("css selector", "path.lc-city-area")) == 2)
    assert driver.current_url == f"{city_url}/city/"
    ranking = _text(driver, "#city-ranking tbody")
    rows = [r.split() for r in ranking.splitlines()]
    assert rows[0][:6] == ["1", "合成A街道", "合成区", "100.0%", "·", "1/11"]  # 1 category has data
    assert rows[1][:3] == ["合成B街道", "合成区", "—"]  # B: no population, unranked
    assert rows[2][:3] == ["合成C街道", "合成区", "—"]  # C: failed (no polygon to draw)
    assert "no population" not in ranking and "无人口数据" in ranking
    driver.save_screenshot(str(artifacts / "city_01_overview.png"))
    _click(driver, f"path.lc-city-{a}")
    _wait(driver, lambda d: d.current_url == f"{city_url}/")
    _wait(driver, lambda d: len(d.find_elements("css selector", "path.lc-cell")) > 0)
    assert driver.get_cookie("lc_area")["value"] == a
    _wait(driver, lambda d: "合成A街道" in _text(d, "#area"))
    assert _text(driver, "#city-back") == "← 全市 city"
    driver.save_screenshot(str(artifacts / "city_02_subdistrict.png"))
    _click(driver, "#city-back")
    _wait(driver, lambda d: d.current_url == f"{city_url}/city/")
