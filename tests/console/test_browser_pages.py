"""The newer console pages in a real browser: a chat answer's markdown formatted once its
stream ends, a WhatsApp export picked with the file picker and explained with citations that
jump to the cited message, and licences and the operator's queue used with the keyboard
alone at phone width; screenshots of each at desktop and phone width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.browser import PHONE, screenshot, sign_in
from tests.console.server import ECHO, Console, running_console
from tests.console.test_browser import send_and_wait, start_conversation
from tests.support import ADMIN_KEY

CHAT = Path(__file__).parents[1] / "tasks" / "fixtures" / "whatsapp_android_en.txt"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-pages"), embedded=False) as running:
        yield running


def fits(driver: WebDriver) -> bool:
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= 360"))


def tab_to(driver: WebDriver, target: WebElement, limit: int = 80) -> None:
    """Press Tab until `target` has the focus (as a keyboard user reaches it)."""
    for _ in range(limit):
        if driver.switch_to.active_element == target:
            return
        driver.switch_to.active_element.send_keys(Keys.TAB)
    raise AssertionError(
        f"{(target.get_attribute('outerHTML') or '')[:80]} is not reachable by Tab"
    )


def test_an_answers_markdown_is_formatted_when_its_stream_ends(
    console: Console, browser: WebDriver
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    start_conversation(browser, console, ECHO)
    send_and_wait(
        browser, "**done** and `code` [docs](https://example.com) [x](javascript:alert(1))"
    )

    answer = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant .content")[-1]
    assert answer.find_element(By.TAG_NAME, "strong").text == "done"
    assert answer.find_element(By.TAG_NAME, "code").text == "code"
    links = answer.find_elements(By.TAG_NAME, "a")
    assert [a.get_attribute("href") for a in links] == ["https://example.com/"]
    assert links[0].get_attribute("rel") == "noopener noreferrer nofollow"
    assert "[x](javascript:alert(1))" in answer.text


def test_a_picked_chat_export_is_explained_with_citations_that_jump(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    browser.get(console.url + "/tasks")
    browser.find_element(By.ID, "file").send_keys(str(CHAT))
    browser.find_element(By.CSS_SELECTOR, "form[action$='/tasks'] button").click()
    heading = WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.ID, "answer-heading"))

    assert "Explain a chat export" in heading[0].text
    citation = browser.find_element(By.CSS_SELECTOR, "a[href^='#msg-']")
    target = (citation.get_attribute("href") or "").split("#")[1]
    citation.click()
    assert browser.execute_script("return location.hash") == "#" + target
    assert browser.find_element(By.ID, target).is_displayed()
    screenshot(browser, shots, "tasks-desktop")
    browser.set_window_size(*PHONE)
    assert fits(browser)
    screenshot(browser, shots, "tasks-phone")


def test_licence_and_access_queue_by_keyboard_at_phone_width(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    browser.set_window_size(*PHONE)
    sign_in(browser, console, console.tenants["globex"].key)
    browser.get(console.url + "/licences")
    assert fits(browser)
    accept = browser.find_element(By.CSS_SELECTOR, "form[action$='/accept'] button")
    tab_to(browser, accept)
    accept.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: "version 3.1" in d.page_source)
    reason = browser.find_element(By.CSS_SELECTOR, "textarea[name='reason']")
    tab_to(browser, reason)
    reason.send_keys("a support bot")
    reason.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)  # "Request access"
    WebDriverWait(browser, 10).until(lambda d: "status-pending" in d.page_source)
    screenshot(browser, shots, "licences-phone")
    browser.delete_all_cookies()

    sign_in(browser, console, ADMIN_KEY)
    browser.get(console.url + "/operator/access")
    assert fits(browser)
    screenshot(browser, shots, "access-queue-phone")
    approve = browser.find_element(By.CSS_SELECTOR, "button[aria-label^='Approve globex']")
    tab_to(browser, approve)
    approve.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: "No pending requests." in d.page_source)
    browser.get(console.url + "/operator/tenants")
    assert fits(browser)
    screenshot(browser, shots, "tenants-phone")
    browser.delete_all_cookies()

    sign_in(browser, console, console.tenants["globex"].key)
    browser.get(console.url + "/licences")
    assert "status-approved" in browser.page_source
