"""The leaderboard page in a real headless browser (Debian chromium + chromium-driver, via selenium).

Loads ``index.html`` from a synthetic build (with heatmaps), reads the browser's
console log, sorts and filters the tables, and opens a program page, whose
heatmap images must load. A screenshot is saved
under ``$ARTIFACTS_DIR`` (default ``tmp/artifacts`` in the repository) and its
path printed. Skipped, with the reason, only when chromium, its driver or
selenium is not installed (CI installs them).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from test_heatmaps import entries_with_programs

from bench.leaderboard.build import build

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,1800",
)
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR") or Path(__file__).resolve().parents[1] / "tmp" / "artifacts")


def _browser(profile: str):
    if not CHROMIUM or not DRIVER:
        pytest.skip("chromium and chromium-driver are not installed (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(DRIVER))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("leaderboard")
    build(entries_with_programs(tmp_path_factory.mktemp("submissions"), ("decompile",)), out, heatmaps=True)
    return out


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    driver = _browser(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def column(driver, table_id: str, index: int, *, visible_only: bool = False) -> list[str]:
    rows = driver.find_elements("css selector", f"#{table_id} tbody tr")
    return [r.find_elements("tag name", "td")[index].text for r in rows if r.is_displayed() or not visible_only]


def header(driver, table_id: str, label: str):
    return next(h for h in driver.find_elements("css selector", f"#{table_id} thead th") if h.text == label)


def errors_in_log(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def test_page_loads_sorts_filters_and_opens_a_program(site, browser):
    browser.get((site / "index.html").as_uri())
    assert browser.title == "rasp-bench leaderboard"
    assert errors_in_log(browser) == []

    # every submission is shown, in rank order
    methods = [m.split("\n")[0] for m in column(browser, "overall", 1)]
    assert methods == ["decompile", "oracle", "lookup"]
    images = browser.find_elements("css selector", ".figures img")
    assert len(images) == 2 and all(browser.execute_script("return arguments[0].naturalWidth", i) > 0 for i in images)

    # sorting by a column reorders the rows; a second click reverses
    header(browser, "overall", "median n_ops").click()
    assert column(browser, "overall", 5) == ["1", "8", "30"]
    assert [m.split("\n")[0] for m in column(browser, "overall", 1)] == ["lookup", "oracle", "decompile"]
    header(browser, "overall", "median n_ops").click()
    assert column(browser, "overall", 5) == ["30", "8", "1"]
    header(browser, "per-model", "method").click()
    assert column(browser, "per-model", 3) == sorted(column(browser, "per-model", 3))
    header(browser, "per-model", "match 101-150").click()
    values = [float(v) for v in column(browser, "per-model", 7) if v != "–"]
    assert values == sorted(values) and column(browser, "per-model", 7)[-1] == "–"  # missing sorts last

    # the filter hides rows that do not mention the text
    box = browser.find_element("css selector", 'input[data-table="per-model"]')
    box.send_keys("sort_control")
    assert set(column(browser, "per-model", 0, visible_only=True)) == {"sort_control"}
    box.clear()
    box.send_keys(" ")  # an "input" event with blank text shows every row again
    assert len(column(browser, "per-model", 0, visible_only=True)) == 12

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "leaderboard_index.png"
    assert browser.save_screenshot(str(shot))
    print(f"\nscreenshot: {shot}")

    # a program view opens and shows the program as code
    browser.find_element("css selector", "#overall a.programs").click()
    assert browser.current_url.endswith("programs/decompile/index.html")
    browser.find_element("css selector", "a.program").click()
    code = browser.find_element("css selector", "pre.program").text
    assert "select(tokens, tokens, EQ)" in code and "decompile on majority" in code
    heatmaps = browser.find_elements("css selector", ".heatmaps img")
    assert [i.get_attribute("alt") for i in heatmaps] == [
        "heatmap 01-attend.png", "heatmap 03-logits-term0.png", "heatmap 03-logits-bias.png"]
    assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) > 0
               for i in heatmaps)
    assert errors_in_log(browser) == []
    shot = ARTIFACTS / "leaderboard_program.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
