"""The models, keys and usage pages used with the keyboard alone at 360 px: a licence
accepted from the models page, a key made with a model scope and a rate limit, the usage
chart narrowed to the signed-in key; none scrolls sideways. Screenshots of each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.browser import PHONE, screenshot, sign_in
from tests.console.server import ECHO, LICENCE, Console, running_console
from tests.console.test_browser_pages import fits, tab_to


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-models-browser"), embedded=False) as c:
        yield c


def test_models_keys_and_usage_by_keyboard_at_phone_width(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    browser.set_window_size(*PHONE)
    sign_in(browser, console, console.tenants["acme"].key)
    browser.get(console.url + "/models")
    assert fits(browser)
    screenshot(browser, shots, "models-phone")
    accept = browser.find_element(By.CSS_SELECTOR, f"#accept-{LICENCE['id']} button")
    tab_to(browser, accept)
    accept.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(
        lambda d: not d.find_elements(By.ID, f"accept-{LICENCE['id']}")
    )
    assert browser.current_url.endswith("/console/models")

    browser.get(console.url + "/keys")
    field = browser.find_element(By.ID, "key-models")
    tab_to(browser, field)
    field.send_keys(ECHO, Keys.TAB, Keys.TAB, "7", Keys.ENTER)  # models, tiers, rpm
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "new-key"))
    row = browser.find_elements(By.CSS_SELECTOR, "tbody tr")[0].text
    assert ECHO in row and "7 rpm" in row
    assert fits(browser)
    screenshot(browser, shots, "keys-phone")

    acme = console.tenants["acme"]
    httpx.post(
        console.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {acme.key}"},
        json={"model": ECHO, "messages": [{"role": "user", "content": "count me"}]},
        timeout=30,
    ).raise_for_status()
    browser.get(console.url + "/usage")
    picker = browser.find_element(By.ID, "usage-key")
    tab_to(browser, picker)
    assert [o.text for o in Select(picker).options] == ["every key", acme.key_id]
    picker.send_keys(Keys.DOWN)
    browser.find_element(By.CSS_SELECTOR, "form[action$='/usage'] button").send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: "key=" in d.current_url)
    assert acme.key_id in browser.find_element(By.ID, "chart-heading").text
    assert fits(browser)
    screenshot(browser, shots, "usage-by-key-phone")
