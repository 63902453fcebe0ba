"""Browser tests: headless Debian Chromium + chromedriver (selenium) against the dashboard.

The app runs in a thread (waitress) on the SYNTHETIC results folder (dashboard.synthetic);
screenshots and an exported PNG go to the test artefacts (out/test-artifacts). When the real
results exist in out/ (after ``lifecircle run``), one more test screenshots the four areas.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dashboard.app import create_app
from dashboard.synthetic import synthetic_registry, synthetic_taxonomy, write_synthetic

pytestmark = pytest.mark.browser

A = "synthetic_a"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
TIMEOUT = 20
CATEGORY_LABELS = {
    "health_station": "社区卫生服务站",
    "meal_service": "社区食堂",
    "composite": "综合得分",
}


def _need_browser() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if os.environ.get("CI"):
        pytest.fail("chromium / chromedriver missing: run scripts/setup.sh")
    pytest.skip("chromium / chromedriver not installed")


def _serve(app: Any) -> tuple[str, Any]:
    from waitress.server import create_server

    server = create_server(app.server, host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{server.effective_port}/", server


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Paths of a synthetic data + results folder."""
    return write_synthetic(tmp_path_factory.mktemp("synthetic"))


@pytest.fixture(scope="module")
def url(synthetic) -> Iterator[str]:
    """URL of the dashboard on the synthetic results, served from a thread."""
    _need_browser()
    app = create_app(
        synthetic["out"], registry=synthetic_registry(synthetic), taxonomy=synthetic_taxonomy()
    )
    base, server = _serve(app)
    yield base
    server.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """Headless Chromium (no sandbox as root, no GPU, no background network)."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--window-size=1500,950",
        "--lang=zh-CN",
    ):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def coverage(synthetic) -> pd.DataFrame:
    """The synthetic coverage.csv, as the panel must show it."""
    return pd.read_csv(synthetic["out"] / "coverage.csv")


# -- helpers ---------------------------------------------------------------------------------
def _wait(drv: Any, cond: Any, timeout: float = TIMEOUT) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # Dash re-renders components: an element found a moment ago may be replaced
    return WebDriverWait(
        drv, timeout, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
    ).until(cond)


def _text(drv: Any, css: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(5):
        try:
            els = drv.find_elements("css selector", css)
            return els[0].text if els else ""
        except StaleElementReferenceException:
            time.sleep(0.1)
    return ""


def _wait_text(drv: Any, css: str, text: str) -> None:
    _wait(drv, lambda d: _text(d, css) == text)


def _open(drv: Any, url: str, category: str | None = "health_station") -> float:
    """Load the page until the map is drawn (seconds); then pick ``category``."""
    t0 = time.perf_counter()
    drv.get(url)
    _wait(
        drv,
        lambda d: (
            len(d.find_elements("css selector", "path.lc-cell")) > 0
            and _text(d, "#area-share") != ""
        ),
    )
    seconds = time.perf_counter() - t0
    if category is not None:
        _dropdown(drv, "category", category)
        _wait(drv, lambda d: category_label(d) == CATEGORY_LABELS[category])
    return seconds


def category_label(drv: Any) -> str:
    """The category shown in the summary header."""
    return _text(drv, "#summary b").split(" · ")[-1]


def _retry(fn: Any, tries: int = 10) -> Any:
    """Call ``fn`` again when Dash re-rendered the element it was using."""
    from selenium.common.exceptions import StaleElementReferenceException

    for i in range(tries):
        try:
            return fn()
        except StaleElementReferenceException:
            if i == tries - 1:
                raise
            time.sleep(0.1)
    return None


def _radio(drv: Any, id_: str, value: str) -> None:
    _retry(lambda: drv.find_element("css selector", f'#{id_} input[value="{value}"]').click())


def _attrs(drv: Any, css: str, attr: str) -> dict[str, str]:
    """``{element attribute: text}`` of the elements matching ``css`` (re-read if stale)."""
    return _retry(
        lambda: {e.get_attribute(attr): e.text for e in drv.find_elements("css selector", css)}
    )


def _dropdown(drv: Any, id_: str, value: str) -> None:
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        StaleElementReferenceException,
    )

    def pick(d: Any) -> bool:
        try:
            if not d.find_elements("css selector", ".dash-dropdown-options"):
                d.find_element("id", id_).click()
            opts = d.find_elements("css selector", f'.dash-dropdown-options input[value="{value}"]')
            if not opts:
                return False
            label = opts[0].find_element("xpath", "../..")
            # long lists scroll under the dropdown's search box: bring the option to the middle
            d.execute_script("arguments[0].scrollIntoView({block: 'center'});", label)
            label.click()
            return True
        except (StaleElementReferenceException, ElementClickInterceptedException):
            return False  # options re-rendered (language callback) or still scrolling

    _wait(drv, pick)
    if drv.find_elements("css selector", ".dash-dropdown-options"):  # value was already chosen
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(drv).send_keys(Keys.ESCAPE).perform()
    _wait(drv, lambda d: not d.find_elements("css selector", ".dash-dropdown-options"))


def _click_centre(drv: Any, css: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _retry(
        lambda: (
            ActionChains(drv)
            .move_to_element(drv.find_element("css selector", css))
            .click()
            .perform()
        )
    )


def _share(
    cov: pd.DataFrame,
    unit: str,
    category: str,
    tier: int,
    scenario: str = "baseline",
    profile: str = "default",
    column: str = "share",
) -> float:
    row = cov[
        (cov["area"] == A)
        & (cov["unit"] == unit)
        & (cov["category"] == category)
        & (cov["tier"] == tier)
        & (cov["scenario"] == scenario)
        & (cov["profile"] == profile)
    ]
    return float(row[column].iloc[0])


# -- tests -----------------------------------------------------------------------------------
def test_page_loads_with_cells_badge_and_streets(driver, url, artifacts):
    seconds = _open(driver, url, category=None)
    assert category_label(driver) == "综合得分"  # the overview comes first
    assert len(driver.find_elements("css selector", "path.lc-cell")) == 4
    assert _text(driver, "#basis-badge") == "路网完整（92%）"
    assert _text(driver, "#title") == "15分钟社区生活圈规划"
    assert seconds < 15
    driver.save_screenshot(str(artifacts / "dashboard_01_load.png"))


def test_switch_category_and_scenario(driver, url, coverage, artifacts):
    _open(driver, url)
    _dropdown(driver, "category", "meal_service")
    _wait_text(driver, "#area-share", f"{_share(coverage, 'ALL', 'meal_service', 15):.1%}")
    _dropdown(driver, "category", "health_station")
    _radio(driver, "tier", "10")
    _radio(driver, "scenario", "plan")
    _wait_text(
        driver, "#area-share", f"{_share(coverage, 'ALL', 'health_station', 10, 'plan'):.1%}"
    )
    _wait(driver, lambda d: len(d.find_elements("css selector", "path.lc-fac")) == 3)
    assert len(driver.find_elements("css selector", "path.lc-fac-plan_new")) == 1
    driver.save_screenshot(str(artifacts / "dashboard_02_plan_scenario.png"))


def test_neighbourhood_panel_matches_coverage_csv(driver, url, coverage, artifacts):
    _open(driver, url)
    _radio(driver, "tier", "10")
    _wait_text(driver, "#area-share", f"{_share(coverage, 'ALL', 'health_station', 10):.1%}")
    unit = f"{A}-n4"
    _click_centre(driver, f"path.lc-cell-{unit}")
    _wait_text(driver, "#panel-unit", unit)  # no human name in the synthetic cells
    shown = _attrs(driver, "#panel-table td.lc-share", "data-category")
    want = {
        c: f"{_share(coverage, unit, c, 10):.1%}"
        for c in ("health_station", "meal_service", "composite")
    }
    assert shown == want
    pop = _share(coverage, unit, "health_station", 10, column="population")
    covered = _share(coverage, unit, "health_station", 10, column="covered_population")
    sentence = _text(driver, "#panel-sentence")
    assert sentence.startswith(f"社区卫生服务站：{pop:,.0f} 位居民中 {covered:,.0f} 位在 667 m")
    # the selected cell is outlined on the map
    assert driver.find_elements("css selector", "path.lc-selected")
    assert "社区卫生服务站" in _text(driver, "#recon-table")
    driver.save_screenshot(str(artifacts / "dashboard_03_panel.png"))


def test_whatif_add_and_remove(driver, url, coverage, artifacts):
    _open(driver, url)
    _radio(driver, "tier", "10")
    base = f"{_share(coverage, 'ALL', 'health_station', 10):.1%}"
    _wait_text(driver, "#area-share", base)
    _radio(driver, "mode", "add")
    t0 = time.perf_counter()
    _click_centre(driver, f"path.lc-cell-{A}-n4")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-summary"))
    seconds = time.perf_counter() - t0
    assert driver.find_elements("css selector", "path.lc-whatif-1")
    summary = _text(driver, "#whatif-summary")
    before, after = (
        float(s.rstrip("%")) for s in summary.split(": ")[1].split(" (")[0].split(" → ")
    )
    assert after > before
    assert seconds < 5  # round trip in the browser; the update itself is timed in the bench
    driver.save_screenshot(str(artifacts / "dashboard_04_whatif_added.png"))
    _retry(lambda: driver.find_element("css selector", "#whatif-list button").click())
    _wait(driver, lambda d: not d.find_elements("css selector", "#whatif-summary"))
    assert not driver.find_elements("css selector", "path.lc-whatif-1")
    assert _text(driver, "#area-share") == base
    driver.save_screenshot(str(artifacts / "dashboard_05_whatif_removed.png"))


def test_export_png_from_the_dashboard(driver, url, synthetic, artifacts):
    _open(driver, url)
    before = set((synthetic["out"] / "exports").glob("*.png"))
    _radio(driver, "export-format", "png")
    _retry(lambda: driver.find_element("id", "export-btn").click())
    _wait(driver, lambda d: d.find_elements("css selector", "#export-done"), timeout=60)
    new = set((synthetic["out"] / "exports").glob("*.png")) - before
    assert len(new) == 1
    path = new.pop()
    assert path.name in _text(driver, "#export-done")
    assert struct.unpack(">II", path.read_bytes()[16:24]) == (2338, 1654)
    shutil.copy(path, artifacts / "dashboard_06_export.png")


def test_thin_data_areas_are_marked(driver, url, artifacts):
    _open(driver, url)
    _dropdown(driver, "area", "synthetic_b")
    _wait_text(driver, "#basis-badge", "≈ 估算：路网数据不完整（65%），按直线距离×绕行系数")

    def labels(d: Any) -> list[str]:
        # the map re-renders its labels while layers load: re-read stale elements
        return _retry(
            lambda: [
                e.get_attribute("textContent") for e in d.find_elements("css selector", ".lc-label")
            ]
        )

    _wait(driver, lambda d: "合成丙街道: 无数据：无法计算覆盖率" in labels(d))
    # one data badge per area: the summary repeats no badge
    assert not driver.find_elements("css selector", "#summary .lc-badge")
    driver.save_screenshot(str(artifacts / "dashboard_07_thin_data.png"))


def test_language_switch_to_english(driver, url, coverage, artifacts):
    _open(driver, url)
    _radio(driver, "lang", "en")
    _wait_text(driver, "#title", "15-minute community life circle")
    _wait_text(driver, "#basis-badge", "complete network (92%)")
    assert _text(driver, "#area-share") == f"{_share(coverage, 'ALL', 'health_station', 15):.1%}"
    driver.save_screenshot(str(artifacts / "dashboard_08_english.png"))


@pytest.fixture(scope="module")
def real_url(pipeline_out) -> Iterator[str]:
    """The dashboard on the real results of `lifecircle run` on the mirror (session fixture)."""
    _need_browser()
    base, server = _serve(create_app(pipeline_out))
    yield base
    server.close()


@pytest.mark.integration
def test_real_results_screenshots(driver, real_url, artifacts):
    seconds = _open(driver, real_url, category=None)
    assert seconds < 20
    for area in ("wujiaochang", "xinhualu", "changbaixincun", "weifangxincun"):
        _dropdown(driver, "area", area)
        _wait(
            driver,
            lambda d, a=area: d.find_elements("css selector", f"path[class*='lc-cell-{a}-']"),
        )
        time.sleep(0.5)
        driver.save_screenshot(str(artifacts / f"dashboard_real_{area}.png"))


@pytest.mark.integration
def test_real_xinhualu_panel_and_whatif(driver, real_url, pipeline_out, artifacts):
    cov = pd.read_csv(pipeline_out / "coverage.csv")
    cov = cov[
        (cov["area"] == "xinhualu")
        & (cov["tier"] == 15)
        & (cov["scenario"] == "baseline")
        & (cov["profile"] == "default")
    ]
    _open(driver, real_url, category=None)
    _dropdown(driver, "area", "xinhualu")
    _dropdown(driver, "category", "health")
    share = cov[(cov["unit"] == "ALL") & (cov["category"] == "health")]["share"].iloc[0]
    _wait_text(driver, "#area-share", f"{share:.1%}")

    def middle_cell_classes() -> list[str]:
        cells = driver.find_elements("css selector", "path[class*='lc-cell-xinhualu-']")
        return cells[len(cells) // 2].get_attribute("class").split()

    unit = next(c for c in _retry(middle_cell_classes) if c.startswith("lc-cell-")).removeprefix(
        "lc-cell-"
    )
    _click_centre(driver, f"path.lc-cell-{unit}")
    _wait(driver, lambda d: unit in _text(d, "#panel"))
    rows = cov[cov["unit"] == unit].set_index("category")["share"]
    shown = _attrs(driver, "#panel-table td.lc-share", "data-category")
    assert shown == {c: f"{v:.1%}" for c, v in rows.items()}
    driver.save_screenshot(str(artifacts / "dashboard_real_xinhualu_panel.png"))
    _radio(driver, "mode", "add")
    _click_centre(driver, f"path.lc-cell-{unit}")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-summary"))
    assert _text(driver, "#whatif-method") == "按路网计算（增量更新）"
    driver.save_screenshot(str(artifacts / "dashboard_real_xinhualu_whatif.png"))
    _retry(lambda: driver.find_element("css selector", "#whatif-list button").click())
    _wait(driver, lambda d: not d.find_elements("css selector", "#whatif-summary"))


def _no_data_choice(pipeline_out: Path) -> tuple[str, str]:
    """An (area, category) of the real results whose coverage has no facility data."""
    cov = pd.read_csv(pipeline_out / "coverage.csv")
    rows = cov[(cov["data_status"] == "no_facility_data") & (cov["unit"] == "ALL")]
    rows = rows[(rows["scenario"] == "baseline") & (rows["category"] != "composite")]
    assert len(rows), "the mirror has categories without facility data (e.g. 潍坊 meal_service)"
    r = rows.sort_values(["area", "category"]).iloc[0]
    return str(r["area"]), str(r["category"])


@pytest.mark.integration
def test_real_category_without_facility_data_is_grey_without_gaps(
    driver, real_url, pipeline_out, artifacts
):
    """No data is not zero: grey '无设施数据 / no facility data', the sources searched, no gap."""
    area, category = _no_data_choice(pipeline_out)
    _open(driver, real_url, category=None)
    _dropdown(driver, "area", area)
    _dropdown(driver, "category", category)
    _wait(driver, lambda d: "无设施数据" in _text(d, "#area-data-status"))
    note = _text(driver, "#area-data-status")
    assert "已检索: OSM (area files + Geofabrik POIs); lists: " in note
    time.sleep(1.0)  # let the gap layer load
    assert driver.find_elements("css selector", "path.lc-gap") == []
    dashes = _retry(
        lambda: {
            c.get_attribute("stroke-dasharray")
            for c in driver.find_elements("css selector", f"path[class*='lc-cell-{area}-']")
        }
    )
    assert dashes == {"4 3"}  # every cell drawn as 'no figure' (grey hatch), none as 0 %
    driver.save_screenshot(str(artifacts / "dashboard_real_no_facility_data.png"))


# -- issue #13: one truth per view, exports, offline HTML, one language ----------------------
def _gap_labels(drv: Any) -> list[str]:
    return _retry(
        lambda: [
            e.get_attribute("textContent")
            for e in drv.find_elements("css selector", ".lc-label")
            if "缺口" in (e.get_attribute("textContent") or "")
        ]
    )


def _uncovered(cov: pd.DataFrame, tier: int) -> float:
    pop = _share(cov, "ALL", "health_station", tier, column="population")
    return pop - _share(cov, "ALL", "health_station", tier, column="covered_population")


def test_gaps_follow_the_tier_and_the_whatif(driver, url, coverage, artifacts):
    _open(driver, url)
    for tier in (15, 5):
        _radio(driver, "tier", str(tier))
        want = [f"缺口 1: {_uncovered(coverage, tier):,.0f} 人"]
        _wait(driver, lambda d, w=want: _gap_labels(d) == w)
    driver.save_screenshot(str(artifacts / "dashboard_09_gaps_5min.png"))
    before = _uncovered(coverage, 5)
    _radio(driver, "mode", "add")
    # in add mode the gap outlines let clicks through to the map
    _wait(driver, lambda d: d.find_elements("css selector", ".lc-mode-add path.lc-gap"))
    gap = driver.find_element("css selector", "path.lc-gap")
    assert driver.execute_script("return getComputedStyle(arguments[0]).pointerEvents", gap) == (
        "none"
    )
    _click_centre(driver, f"path.lc-cell-{A}-n4")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-summary"))

    def gap_people(d: Any) -> float:
        labels = _gap_labels(d)
        return sum(float(s.split(": ")[1].split(" ")[0].replace(",", "")) for s in labels)

    _wait(driver, lambda d: 0 < gap_people(d) < before or not _gap_labels(d))
    driver.save_screenshot(str(artifacts / "dashboard_10_gaps_whatif.png"))
    _retry(lambda: driver.find_element("id", "whatif-clear").click())
    _wait(driver, lambda d: not d.find_elements("css selector", "#whatif-summary"))
    _radio(driver, "mode", "inspect")


def test_whatif_names_restart_after_clear(driver, url, artifacts):
    _open(driver, url)
    _radio(driver, "mode", "add")
    for _ in range(2):
        _click_centre(driver, f"path.lc-cell-{A}-n4")
        _wait(driver, lambda d: d.find_elements("css selector", "#whatif-list button"))
        _retry(lambda: driver.find_element("id", "whatif-clear").click())
        _wait(driver, lambda d: not d.find_elements("css selector", "#whatif-list button"))
    _click_centre(driver, f"path.lc-cell-{A}-n4")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-list button"))
    assert _text(driver, "#whatif-list span").endswith("#1")
    _retry(lambda: driver.find_element("id", "whatif-clear").click())
    _radio(driver, "mode", "inspect")


def test_export_carries_the_whatif(driver, url, synthetic, artifacts):
    _open(driver, url)
    _radio(driver, "mode", "add")
    _click_centre(driver, f"path.lc-cell-{A}-n4")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-summary"))
    shown = _text(driver, "#whatif-summary").split(": ")[1].split(" (")[0]
    before = set((synthetic["out"] / "exports").glob("*.xlsx"))
    _radio(driver, "export-format", "xlsx")
    _retry(lambda: driver.find_element("id", "export-btn").click())
    _wait(driver, lambda d: d.find_elements("css selector", "#export-done"), timeout=60)
    new = set((synthetic["out"] / "exports").glob("*.xlsx")) - before
    assert len(new) == 1
    path = new.pop()
    assert "whatif" in path.name
    about = pd.read_excel(path, sheet_name="about 说明").set_index("item 项目")["value 值"]
    assert shown.replace(" ", "") in about["模拟 / what-if"].replace(" ", "")
    _retry(lambda: driver.find_element("id", "whatif-clear").click())
    _radio(driver, "mode", "inspect")


def test_html_export_draws_with_the_network_off(driver, synthetic, artifacts):
    from geo.reporting.export import export
    from geo.reporting.results import load_results

    res = load_results(
        synthetic["out"], registry=synthetic_registry(synthetic), taxonomy=synthetic_taxonomy()
    )
    path = export(res, A, "health_station", "html", tier=5)
    driver.set_network_conditions(
        offline=True, latency=0, download_throughput=0, upload_throughput=0
    )
    try:
        driver.get(path.resolve().as_uri())
        _wait(driver, lambda d: d.find_element("tag name", "body").get_attribute("data-lc-drawn"))
        paths = driver.find_elements("css selector", "path.leaflet-interactive")
        assert len(paths) >= 5  # cells, gap, boundary, facilities
        driver.save_screenshot(str(artifacts / "export_html_offline.png"))
    finally:
        driver.delete_network_conditions()


_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
#: Latin words a Chinese page may show (formats, units, names of things).
_LATIN_OK = {
    "OSM",
    "OpenStreetMap",
    "contributors",
    "Leaflet",
    "English",
    "km",
    "h",
    "m",
    "PNG",
    "PDF",
    "HTML",
    "XLSX",
    "A",
    "pp",
    "p",
    "synthetic",
}  # fmt: skip  (synthetic: the test data's date)


def _visible_text(drv: Any) -> str:
    """The page's visible text with every explanation opened."""
    for d in drv.find_elements("css selector", "details"):
        drv.execute_script("arguments[0].open = true", d)
    # left out: names from the data (streets, places: .lc-name), file diagnostics, and
    # tooltips Leaflet has faded out (opacity 0) but not yet removed
    return drv.execute_script(
        "document.querySelectorAll('.leaflet-tooltip').forEach(function (e) {"
        "  if (getComputedStyle(e).opacity === '0') { e.setAttribute('data-lc-skip', '1'); } });"
        "var b = document.body.cloneNode(true);"
        "b.querySelectorAll('.lc-streetlabel, .lc-diagnostic, .lc-name, [data-lc-skip]')"
        ".forEach(function (e) { e.remove(); });"
        "document.body.appendChild(b); b.style.position='absolute';"
        "var t = b.innerText; b.remove(); return t;"
    )


def test_one_language_at_a_time(driver, url, artifacts):
    _open(driver, url)
    _click_centre(driver, f"path.lc-cell-{A}-n4")
    _wait(driver, lambda d: d.find_elements("css selector", "#panel-sentence"))
    text = _visible_text(driver)
    words = {w for w in re.findall(r"[A-Za-z][A-Za-z0-9_\-]*", text) if not re.search(r"[\d_]", w)}
    assert words - _LATIN_OK == set(), text
    _radio(driver, "lang", "en")
    _wait_text(driver, "#title", "15-minute community life circle")
    _wait(driver, lambda d: "residents" in _text(d, "#panel-sentence"))
    text = _visible_text(driver)
    assert _CJK.findall(text.replace("中文", "")) == [], text
    driver.save_screenshot(str(artifacts / "dashboard_11_english_panel.png"))
    _radio(driver, "lang", "zh")


@pytest.mark.integration
def test_real_estimate_area_panel_agrees_with_coverage(driver, real_url, pipeline_out, artifacts):
    """An estimate area: the panel's shares are coverage.csv's (marked ≈), and its distances
    come from the same basis: a fully covered category is never 'beyond' its threshold."""
    area, category = "weifangxincun", "culture"
    cov = pd.read_csv(pipeline_out / "coverage.csv")
    cov = cov[
        (cov["area"] == area)
        & (cov["tier"] == 15)
        & (cov["scenario"] == "baseline")
        & (cov["profile"] == "default")
    ]
    _open(driver, real_url, category=None)
    _dropdown(driver, "area", area)
    _dropdown(driver, "category", category)
    share = cov[(cov["unit"] == "ALL") & (cov["category"] == category)]["share"].iloc[0]
    _wait_text(driver, "#area-share", f"≈ {share:.1%}")
    cells = cov[(cov["unit"] != "ALL") & (cov["category"] == category)].dropna(subset=["share"])
    unit = str(cells.sort_values("population").iloc[-1]["unit"])
    _click_centre(driver, f"path.lc-cell-{unit}")
    _wait(driver, lambda d: unit in _text(d, "#panel"))
    rows = cov[cov["unit"] == unit].set_index("category")["share"]
    shown = _attrs(driver, "#panel-table td.lc-share", "data-category")
    assert shown == {c: f"≈ {v:.1%}" for c, v in rows.items() if np.isfinite(v)} | {
        c: "—" for c, v in rows.items() if not np.isfinite(v)
    }
    nearest = _attrs(driver, "#panel-table td.lc-nearest", "data-category")
    for c, v in rows.items():
        if c != "composite" and np.isfinite(v) and v == 1.0:
            assert nearest[c] != "超出搜索范围"
    assert _text(driver, "#basis-badge").startswith("≈ 估算")
    driver.save_screenshot(str(artifacts / f"dashboard_real_estimate_{area}_panel.png"))


@pytest.mark.integration
def test_real_xinhualu_elderly_gaps_and_whatif(driver, real_url, artifacts):
    """新华路 养老 at 5 minutes: gap labels, a simulated facility named by its street."""
    _open(driver, real_url, category=None)
    _dropdown(driver, "area", "xinhualu")
    _dropdown(driver, "category", "elderly_care")
    _radio(driver, "tier", "5")
    _wait(driver, lambda d: _gap_labels(d))
    driver.save_screenshot(str(artifacts / "dashboard_real_xinhualu_elderly_gaps.png"))
    _radio(driver, "mode", "add")
    _click_centre(driver, "path[class*='lc-cell-xinhualu-h008']")
    _wait(driver, lambda d: d.find_elements("css selector", "#whatif-summary"))
    assert _text(driver, "#whatif-list span").endswith("附近 #1")
    driver.save_screenshot(str(artifacts / "dashboard_real_xinhualu_whatif_gaps.png"))
    _retry(lambda: driver.find_element("id", "whatif-clear").click())
    _radio(driver, "mode", "inspect")


def test_unknown_area_or_category_in_the_url_is_a_visible_message(driver, url, artifacts):
    driver.get(url + "?area=atlantis&category=casino")
    _wait(driver, lambda d: "atlantis" in _text(d, "#url-msg"))
    msg = _text(driver, "#url-msg")
    assert "unknown area 'atlantis'" in msg and "unknown category 'casino'" in msg
    # the map still shows the first area
    _wait(driver, lambda d: d.find_elements("css selector", "path.lc-cell"))
    driver.get(url + f"?area={A}&category=meal_service")
    _wait(driver, lambda d: category_label(d) == CATEGORY_LABELS["meal_service"])
    assert _text(driver, "#url-msg") == ""
