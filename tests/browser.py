"""Render a page in headless Chromium (Debian's chromium + chromium-driver, through Selenium)
and report what a reader's browser would see: requests, failures, console messages, images."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--window-size=1280,1000")


@dataclass
class Rendered:
    requests: list[str]  # every URL the page asked for, the page itself first
    failed: list[str]  # requests that did not load, with the browser's reason
    console: list[dict]  # console and page errors (level, message)
    images: list[dict]  # per <img>: alt, complete, naturalWidth, naturalHeight
    section_ids: list[str]
    headings: list[str]


def chromium_or_skip() -> None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no {CHROMIUM} and {CHROMEDRIVER}: `make test` installs Debian's chromium "
                    "and chromium-driver when it runs as root with apt-get")
    pytest.importorskip("selenium")


def render(page: Path, screenshot: Path) -> Rendered:
    """Open page (a local file) in headless Chromium, wait for the load event, take a
    full-width screenshot and collect the network and console logs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # An explicit driver path: Selenium Manager (which downloads drivers) is never asked.
    driver = webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(page.resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
            " naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))")
        section_ids = driver.execute_script(
            "return Array.from(document.querySelectorAll('section')).map(s => s.id)")
        headings = driver.execute_script(
            "return Array.from(document.querySelectorAll('h1, h2')).map(h => h.textContent)")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(int(height) + 100, 16000))
        driver.save_screenshot(str(screenshot))
        events = [json.loads(entry["message"])["message"]
                  for entry in driver.get_log("performance")]
        console = [{"level": e["level"], "message": e["message"]}
                   for e in driver.get_log("browser")]
    finally:
        driver.quit()
    requests = {e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in events if e["method"] == "Network.requestWillBeSent"}
    failed = [f"{requests.get(e['params']['requestId'], '?')[:80]}: "
              f"{e['params'].get('errorText', '')}"
              for e in events if e["method"] == "Network.loadingFailed"]
    return Rendered(list(requests.values()), failed, console, images, section_ids, headings)
