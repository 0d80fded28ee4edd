"""The web page in a real headless Chromium (Debian's chromium + chromedriver, driven by Selenium).

Opens the page served by a real uvicorn server, uploads the bundled sample through the file
picker, waits for the result and checks that the image behind the download link is exactly
what the Upscaler produces. With LITESR_SERVE_SCREENSHOT=path it also saves a screenshot
(docs/img/serve.png is made this way).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serve_helpers import LiveFactory, decode, skip_without_extra

import litesr_edge
from litesr_edge import Upscaler, read_image

skip_without_extra()
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

CHROMIUM = os.environ.get("LITESR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LITESR_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOT_ENV = "LITESR_SERVE_SCREENSHOT"
# Without the background-networking flags Chromium's own connections are refused on a closed network.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1000,1150")

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no browser: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="litesr-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager (which would download a driver) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


_FETCH = """
const done = arguments[arguments.length - 1];
fetch(arguments[0]).then((r) => r.arrayBuffer()).then((buf) => {
  let text = "";
  const bytes = new Uint8Array(buf);
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  done(btoa(text));
}).catch((err) => done("error: " + err));
"""


def test_the_page_upscales_the_sample_in_chromium(live_server: LiveFactory, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    server = live_server(scale=4)
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, 120)
    wait.until(lambda d: len(Select(d.find_element(By.ID, "scale")).options) == 3)  # filled from /v1/models
    Select(browser.find_element(By.ID, "scale")).select_by_value("4")
    browser.find_element(By.ID, "file").send_keys(str(litesr_edge.SAMPLE_IMAGE))
    wait.until(ec.element_to_be_clickable((By.ID, "go"))).click()
    wait.until(ec.visibility_of_element_located((By.ID, "result")))
    assert browser.find_element(By.ID, "error").get_attribute("hidden") is not None
    link = browser.find_element(By.ID, "download")
    assert link.get_attribute("download") == "sample_x4.png"
    encoded = browser.execute_async_script(_FETCH, link.get_attribute("href"))
    assert not encoded.startswith("error"), encoded
    expected = Upscaler(scale=4).upscale(read_image(litesr_edge.SAMPLE_IMAGE))
    np.testing.assert_array_equal(decode(base64.b64decode(encoded)), expected)
    natural = browser.execute_script(
        "const i = document.getElementById('after'); return [i.naturalWidth, i.naturalHeight];")
    assert natural == [900, 600]
    assert "litesrnet_x4_d19.onnx" in browser.find_element(By.ID, "info").text
    _slide_and_screenshot(browser)
    browser.get(server.url + "/docs")  # the offline API page renders /openapi.json
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".op")) == 3)  # upscale, models, healthz
    assert "/v1/upscale" in browser.find_element(By.ID, "ops").text


def _slide_and_screenshot(browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.execute_script(
        "const s = document.getElementById('slider'); s.value = 35; s.dispatchEvent(new Event('input'));")
    width = browser.execute_script("return document.getElementById('before-clip').style.width;")
    assert width == "35%"  # the before/after slider moves the split
    target = os.environ.get(SCREENSHOT_ENV)
    if target:
        browser.find_element(By.TAG_NAME, "body").screenshot(target)
