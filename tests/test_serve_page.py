"""The page of `spoofscan serve` in real headless Chromium: upload a clip, see the verdict and the drawn timeline.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them as root); skipped, with the reason, without."""
from __future__ import annotations

import shutil

import pytest

from conftest import speechlike, vocode, write
from test_serve import live_server  # noqa: F401 (a fixture)

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip("no Chromium and chromedriver on PATH: apt-get install chromium chromium-driver (.ci/run does)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,1300"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)  # no Selenium Manager: offline
    yield driver
    driver.quit()


def test_page_scores_an_upload_and_draws_the_timeline(tiny_run, live_server, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from spoofscan.serve import ServeConfig, create_app

    url = live_server(create_app(ServeConfig(checkpoint=str(tiny_run["best"]))))
    clip = write(tmp_path / "suspect.wav", vocode(speechlike(3.0, seed=42)))
    browser.get(url + "/")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.ID, "model-name").text == tiny_run["best"].name)

    browser.find_element(By.ID, "file-input").send_keys(str(clip))
    wait.until(lambda d: d.find_element(By.ID, "timeline").get_attribute("data-drawn") == "true")
    verdict = browser.find_element(By.ID, "verdict").text
    assert verdict in ("Likely synthetic (fake)", "Likely real")
    numbers = browser.find_element(By.ID, "numbers").text
    assert "P(fake)" in numbers and "suspect.wav" in numbers and "threshold" in numbers
    windows = int(browser.find_element(By.ID, "timeline").get_attribute("data-windows"))
    assert windows >= 2
    inked = """const c = document.getElementById(arguments[0]); const d = c.getContext('2d')
                 .getImageData(0, 0, c.width, c.height).data; let n = 0;
               for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0 && (d[i] < 200 || d[i + 2] < 200)) n++; return n;"""
    assert browser.execute_script(inked, "timeline") > 500  # the curve, dots, threshold line and marked window
    assert browser.execute_script(inked, "spectrogram") > 50_000  # the picture fills the canvas
    assert "most suspicious window" in browser.find_element(By.ID, "caption").text
    screenshot = tmp_path / "serve_page.png"
    assert browser.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000

    bad = tmp_path / "notes.mp3"
    bad.write_bytes(b"this is not audio" * 50)
    browser.find_element(By.ID, "file-input").send_keys(str(bad))
    wait.until(lambda d: "HTTP 415" in d.find_element(By.ID, "status").text)
    assert "notes.mp3" in browser.find_element(By.ID, "status").text
    assert not browser.find_element(By.ID, "result").is_displayed()


def test_page_asks_for_the_token(tiny_run, live_server, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from spoofscan.serve import ServeConfig, create_app

    url = live_server(create_app(ServeConfig(checkpoint=str(tiny_run["best"]), token="letmein")))
    browser.get(url + "/")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.ID, "token-box").is_displayed())
    browser.find_element(By.ID, "token").send_keys("letmein")
    browser.find_element(By.CSS_SELECTOR, "#token-box button").click()
    wait.until(lambda d: d.find_element(By.ID, "model-name").text == tiny_run["best"].name)
    clip = write(tmp_path / "clip.wav", speechlike(2.0, seed=3))
    browser.find_element(By.ID, "file-input").send_keys(str(clip))
    wait.until(lambda d: d.find_element(By.ID, "timeline").get_attribute("data-drawn") == "true")
