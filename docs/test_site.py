"""The built site in a real headless browser (Debian's chromium through chromedriver, driven by Selenium).

Run by ``nox -s docs`` after the build (not by the main test run): ``pytest docs/test_site.py``. The site in
``docs/_build/html`` (or ``$XPNET_SITE``) is served on 127.0.0.1 by an ``http.server`` thread; for the index, one
API page and one notebook page the browser's console must hold no error (a failed request is one), every image
must have loaded (``naturalWidth > 0``), the notebook must show its figures, and the search page must find
``TwoLayerNet``. A screenshot of each page goes to ``docs/_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent
SITE = Path(os.environ.get("XPNET_SITE", DOCS / "_build" / "html"))
SHOTS = DOCS / "_build" / "screenshots"
CHROMIUM = os.environ.get("XPNET_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("XPNET_CHROMEDRIVER", "/usr/bin/chromedriver")
NOTEBOOK = "generated/notebooks/layers_and_spiral.html"  # needs no data set: its figures are always there
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"no built site in {SITE}: run sphinx-build first (nox -s docs does)")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"no {CHROMIUM} / {CHROMEDRIVER}: apt-get install chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (nox -s docs installs it)")
    profile = tempfile.mkdtemp(prefix="xpnet-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def broken_images(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));"
    )


def open_page(driver, server: str, path: str, shot: str) -> None:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(server + path)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    driver.save_screenshot(str(SHOTS / f"{shot}.png"))


def api_page() -> str:
    pages = sorted(SITE.glob("generated/api/*.TwoLayerNet.html"))
    assert pages, f"no API page for TwoLayerNet in {SITE / 'generated/api'}"
    return pages[0].relative_to(SITE).as_posix()


@pytest.mark.parametrize("page", ["index", "api", "notebook"])
def test_page_loads_without_console_errors(browser, server, page):
    path = {"index": "index.html", "api": api_page(), "notebook": NOTEBOOK}[page]
    open_page(browser, server, path, page)
    assert "xpnet" in browser.title
    errors = console_errors(browser)
    assert not errors, f"{path}: console errors: {errors}"
    broken = broken_images(browser)
    assert not broken, f"{path}: images that did not load: {broken}"
    if page == "api":
        assert "TwoLayerNet" in browser.find_element("css selector", "h1").text
        assert browser.find_elements("css selector", "dl.py.class dt.sig"), "the class signature is on the page"


def test_notebook_figures_are_loaded_images(browser, server):
    open_page(browser, server, NOTEBOOK, "notebook-figures")
    sizes = browser.execute_script(
        "return Array.from(document.querySelectorAll('.cell_output img')).map(i => [i.complete, i.naturalWidth]);"
    )
    assert sizes, f"{NOTEBOOK}: no figure among the cell outputs"
    assert all(done and width > 0 for done, width in sizes), f"{NOTEBOOK}: figures not loaded: {sizes}"
    assert not console_errors(browser)


def test_search_finds_twolayernet(browser, server):
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, server, "search.html?q=TwoLayerNet", "search-start")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('#search-results ul.search li').length") > 0
    )
    browser.save_screenshot(str(SHOTS / "search.png"))
    links = [a.text for a in browser.find_elements("css selector", "#search-results ul.search li a")]
    assert any("TwoLayerNet" in text for text in links), f"search results: {links}"
    assert not console_errors(browser)
