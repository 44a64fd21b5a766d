"""Debian's Chromium, driven by Selenium through Debian's chromedriver (installed by
`make services`); screenshots go to a folder the test names."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.server import Console

DESKTOP = (1280, 900)
PHONE = (360, 740)


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(f"{names[0]} is missing: run `make services` (installs chromium, chromium-driver)")


@contextmanager
def chromium(size: tuple[int, int] = DESKTOP) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root (CI does)
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(_binary("chromedriver")))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def sign_in(driver: WebDriver, console: Console, key: str) -> None:
    driver.get(console.url + "/sign-in")
    field = driver.find_element(By.ID, "key")
    field.send_keys(key)
    field.submit()
    WebDriverWait(driver, 10).until(lambda d: "/sign-in" not in d.current_url)
