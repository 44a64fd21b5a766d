"""axe-core (vendored: tests/console/vendor/) run in Chromium on every console page, the
tenant's and the operator's, at desktop width and at 360 px: no serious or critical
violation, and no page scrolls sideways at 360 px. One browser session visits them all
(starting Chromium is the slow part)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.console.browser import DESKTOP, PHONE, sign_in
from tests.console.server import Console, new_conversation, running_console, send_turn, signed_in
from tests.console.test_browser_pages import fits
from tests.support import ADMIN_KEY

VENDOR = Path(__file__).parent / "vendor"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
TENANT_PAGES = (
    "/chat",
    "/tasks",
    "/keys",
    "/models",
    "/licences",
    "/usage",
    "/fine-tuning",
    "/evals",
    "/evals/leaderboard",
)
OPERATOR_PAGES = (
    "/operator/tenants",
    "/operator/access",
    "/usage",
    "/operator/prices",
    "/operator/audit",
    "/operator/health",
)


def axe_source() -> str:
    data = (VENDOR / "axe.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == AXE_SHA256, "axe.min.js is not the vendored file"
    return data.decode()


def serious(driver: WebDriver, source: str) -> list[str]:
    """The page's serious and critical violations, one line each (empty when none)."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(source)
    result: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: []}]));"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in result
        if v["impact"] in ("serious", "critical")
    ]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-axe"), embedded=False) as c:
        yield c


def _visit(driver: WebDriver, console: Console, paths: tuple[str, ...], source: str) -> list[str]:
    found = []
    for size in (DESKTOP, PHONE):
        driver.set_window_size(*size)
        for path in paths:
            driver.get(console.url + path)
            found += [f"{path} at {size[0]} px: {line}" for line in serious(driver, source)]
            if size == PHONE and not fits(driver):
                found.append(f"{path} scrolls sideways at 360 px")
    return found


def test_every_page_has_no_serious_accessibility_violation(
    console: Console, browser: WebDriver
) -> None:
    source = axe_source()
    with signed_in(console, console.tenants["acme"].key) as client:
        chat = new_conversation(client)
        send_turn(client, chat, "A *formatted* answer with a [link](https://example.org).")
    browser.get(console.url + "/sign-in")
    found = [f"/sign-in: {line}" for line in serious(browser, source)]
    sign_in(browser, console, console.tenants["acme"].key)
    found += _visit(browser, console, (*TENANT_PAGES, chat.removeprefix("/console")), source)
    browser.delete_all_cookies()
    sign_in(browser, console, ADMIN_KEY)
    found += _visit(browser, console, OPERATOR_PAGES, source)
    assert found == [], "\n".join(found)
