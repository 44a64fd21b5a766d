"""The third slice's pages in Chromium at phone width, used with the keyboard alone: a job's
loss curve, a run's attestation, the chat's "what left this machine" opened with Enter, and
the operator's prices (a price set by keyboard), audit and health pages; none scrolls
sideways at 360 px. Screenshots of each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.console.browser import PHONE, screenshot, sign_in
from tests.console.server import Console, running_console, signed_in
from tests.console.test_browser_pages import fits, tab_to
from tests.console.test_detail_pages import DIGEST, SERVED, _fine_tuned, _scored_run
from tests.console.test_operator_pages import EMAIL, PARTNER, _partner_turn
from tests.support import ADMIN_KEY, echo_entry


def wider(driver: WebDriver) -> list[str]:
    """What sticks out past 360 px (the message when a page scrolls sideways)."""
    return list(
        driver.execute_script(
            "return [...document.querySelectorAll('body *')]"
            ".filter(e => e.getBoundingClientRect().right > 361)"
            ".map(e => e.tagName + '.' + e.className + ' ' + e.textContent.slice(0, 40))"
        )
    )


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-detail-browser")
    extra = [
        echo_entry(SERVED, context_length=1000, digest=DIGEST),
        echo_entry(PARTNER, tier="partner", kind="openai", context_length=10_000),
    ]
    with running_console(home, embedded=False, extra=extra, jobs={"worker_in_server": False}) as c:
        with c.admin() as admin:
            admin.patch("/admin/tenants/acme", json={"retention_hours": 24}).raise_for_status()
        yield c


def test_detail_and_operator_pages_by_keyboard_at_phone_width(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    acme = console.tenants["acme"]
    job_id, _ = _fine_tuned(console, acme.id)
    run_id = _scored_run(console, acme.id, DIGEST)
    with signed_in(console, acme.key) as client:
        chat = _partner_turn(client, f"Please write to {EMAIL}")
    browser.set_window_size(*PHONE)
    sign_in(browser, console, acme.key)

    browser.get(console.url + "/fine-tuning")
    link = browser.find_element(By.CSS_SELECTOR, f"a[href$='/fine-tuning/{job_id}']")
    tab_to(browser, link)
    link.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.loss"))
    assert fits(browser), wider(browser)
    screenshot(browser, shots, "fine-tuning-job-phone")
    browser.find_element(By.CSS_SELECTOR, "svg.loss").screenshot(str(shots / "loss-curve.png"))
    browser.get(console.url + f"/evals/runs/{run_id}")
    assert "verifies" in browser.find_element(By.ID, "signature").text
    assert fits(browser), wider(browser)
    screenshot(browser, shots, "eval-run-phone")
    browser.get(console.base_url + chat)
    summary = browser.find_element(By.CSS_SELECTOR, "details.left summary")
    tab_to(browser, summary)
    summary.send_keys(Keys.ENTER)
    sent = browser.find_element(By.CSS_SELECTOR, "details.left .sent")
    WebDriverWait(browser, 5).until(lambda d: sent.is_displayed())
    assert "[EMAIL_1]" in sent.text and EMAIL not in sent.text
    assert fits(browser), wider(browser)
    screenshot(browser, shots, "chat-what-left-phone")
    browser.delete_all_cookies()

    sign_in(browser, console, ADMIN_KEY)
    browser.get(console.url + "/operator/prices")
    assert fits(browser), wider(browser)
    field = browser.find_element(By.ID, "in-1")
    model = browser.find_element(By.CSS_SELECTOR, "#price-1 td").text
    tab_to(browser, field)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("0.25")
    field.send_keys(Keys.ENTER)  # submits the row's form: its first button, "Set"
    WebDriverWait(browser, 10).until(lambda d: "set by the operator" in d.page_source)
    assert "0.250000" in browser.find_element(By.ID, "price-1").text
    screenshot(browser, shots, "operator-prices-phone")
    for page in ("audit", "health"):
        browser.get(console.url + f"/operator/{page}")
        assert fits(browser), (page, wider(browser))
        screenshot(browser, shots, f"operator-{page}-phone")
    with httpx.Client(base_url=console.base_url) as plain:
        readyz = plain.get("/readyz").json()
    assert f">{readyz['status']}</strong>" in browser.page_source
    with console.admin() as admin:  # leave the module's console as it was
        admin.delete(f"/admin/models/{model}/price").raise_for_status()
