"""The console in a real browser: sign in, chat with the embedded model and watch the tokens
arrive, stop a stream, XSS payloads rendered inert, a cross-site form refused, another
tenant's conversation unreachable, a key created and revoked; screenshots at desktop and
phone width."""

from __future__ import annotations

import http.server
import json
import statistics
import threading
import time
from pathlib import Path

import httpx
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.console.browser import PHONE, screenshot, sign_in
from tests.console.server import ECHO, Console, running_console
from tests.support import MODEL, free_port

XSS = [
    "<script>window.__xss = 'script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    "[click](javascript:window.__xss='link') <a href=\"javascript:window.__xss='a'\">a</a>",
    "**bold** <svg onload=\"window.__xss='svg'\"></svg>",
]


def start_conversation(driver: WebDriver, console: Console, model: str) -> str:
    driver.get(console.url + "/chat")
    Select(driver.find_element(By.ID, "new-model")).select_by_value(model)
    driver.find_element(By.CSS_SELECTOR, "form[action$='/chat/new'] button").click()
    WebDriverWait(driver, 10).until(lambda d: "/chat/conv_" in d.current_url)
    return str(driver.current_url)


def send(driver: WebDriver, text: str) -> None:
    box = driver.find_element(By.ID, "content")
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def send_and_wait(driver: WebDriver, text: str) -> None:
    """Send, and wait for this turn's answer to end (the page adds its message at once and
    says "Done." when the stream has ended)."""
    before = len(driver.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant"))
    send(driver, text)
    WebDriverWait(driver, 30).until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant")) > before
            and status(d) == "Done."
        )
    )


def status(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "status").text)


def last_answer(driver: WebDriver) -> str:
    answers = driver.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant .content")
    return str(answers[-1].text) if answers else ""


def test_sign_in_and_chat_with_the_embedded_model_token_by_token(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    start_conversation(browser, console, MODEL)
    info = browser.find_element(By.ID, "model-info").text
    browser.find_element(By.ID, "max-tokens").send_keys("48")  # ends in seconds on any CPU
    send(browser, "Write two sentences about the sea.")

    seen: list[int] = []  # the answer's length as the page shows it, while it streams
    deadline = time.monotonic() + 60
    while status(browser) == "Generating…" and time.monotonic() < deadline:
        length = len(last_answer(browser))
        if length and (not seen or seen[-1] != length):
            seen.append(length)
        time.sleep(0.01)

    assert "Tier open" in info and "per million tokens" in info
    assert status(browser) == "Done."
    assert len(seen) >= 3, f"the answer did not arrive in pieces: {seen}"
    assert browser.execute_script(
        "return performance.getEntriesByName('corral-first-token').length"
    )
    screenshot(browser, shots, "chat-desktop")
    browser.set_window_size(*PHONE)
    browser.refresh()
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(browser, shots, "chat-phone")


def test_the_stop_button_ends_the_stream_and_keeps_what_came(
    console: Console, browser: WebDriver
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    start_conversation(browser, console, MODEL)
    send(browser, "Tell me a very long story about a lighthouse keeper.")
    WebDriverWait(browser, 30).until(lambda d: len(last_answer(d)) > 10)
    browser.find_element(By.ID, "stop").click()
    WebDriverWait(browser, 10).until(lambda d: status(d) == "Stopped.")
    partial = last_answer(browser)

    time.sleep(0.5)  # the server keeps the answer once the stream is closed
    browser.refresh()
    kept = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant")
    assert kept and "(stopped)" in kept[-1].text
    assert kept[-1].find_element(By.CLASS_NAME, "content").text.startswith(partial[:10])


def _assert_inert(driver: WebDriver) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        alert = None
    assert alert is None
    assert driver.execute_script("return window.__xss === undefined")
    messages = driver.find_element(By.ID, "messages")
    for tag in ("script", "img", "svg", "a"):
        assert not messages.find_elements(By.TAG_NAME, tag), f"a <{tag}> element was made"


def test_model_output_and_user_input_are_rendered_as_text(
    console: Console, browser: WebDriver
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    start_conversation(browser, console, ECHO)  # the echo model answers with the message
    for payload in XSS:
        send_and_wait(browser, payload)
    _assert_inert(browser)
    answers = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.assistant .content")
    # Each payload came back as text; only the markdown ("**bold**") became formatting.
    assert [a.text.strip() for a in answers] == [*XSS[:3], XSS[3].replace("**", "")]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#messages .content.md strong")) == 1
    users = browser.find_elements(By.CSS_SELECTOR, "#messages .msg.user .content")
    assert [u.text.strip() for u in users] == XSS  # the user's own text, as written

    browser.refresh()  # the kept conversation, rendered by the server this time
    _assert_inert(browser)
    texts = browser.find_element(By.ID, "messages").text
    assert "<img src=x onerror=" in texts and "javascript:" in texts


class _Attacker(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        page = (
            f'<form id="f" method="post" action="{self.target}/keys">'
            '<input name="name" value="forged"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


def test_a_cross_site_form_post_is_refused(console: Console, browser: WebDriver) -> None:
    sign_in(browser, console, console.tenants["globex"].key)
    browser.get(console.url + "/keys")
    before = len(browser.find_elements(By.CSS_SELECTOR, "tbody tr"))
    _Attacker.target = console.url
    # Threaded: the browser's spare connections must not hold up the attacker's shutdown.
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Attacker)
    attacker.daemon_threads = True
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        # Another port of the same host: the same site, so SameSite=Strict still sends the
        # cookie, and only the console's own checks (Origin, CSRF token) stand in the way.
        browser.get(f"http://127.0.0.1:{attacker.server_port}/")
        WebDriverWait(browser, 10).until(lambda d: "/console/" in d.current_url)
        refused = browser.find_element(By.TAG_NAME, "main").text
    finally:
        attacker.shutdown()
        attacker.server_close()

    browser.get(console.url + "/keys")
    assert len(browser.find_elements(By.CSS_SELECTOR, "tbody tr")) == before
    assert "forged" not in browser.find_element(By.TAG_NAME, "tbody").text
    assert "came from another site's page and was refused" in refused


def test_another_tenants_conversation_url_is_not_found(
    console: Console, browser: WebDriver
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    url = start_conversation(browser, console, ECHO)
    send_and_wait(browser, "acme only")
    browser.delete_all_cookies()

    sign_in(browser, console, console.tenants["globex"].key)
    browser.get(url)

    assert browser.find_element(By.TAG_NAME, "h1").text == "Not found"
    assert "acme only" not in browser.page_source


def test_create_a_key_see_it_once_and_revoke_it(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    sign_in(browser, console, console.tenants["globex"].key)
    browser.get(console.url + "/keys")
    browser.find_element(By.ID, "key-name").send_keys("browser-made")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/keys'] button").click()
    shown = WebDriverWait(browser, 10).until(lambda d: d.find_elements(By.ID, "new-key"))
    new_key = shown[0].get_attribute("value") or ""
    key_id = "key_" + new_key.split("_")[1]
    screenshot(browser, shots, "keys-desktop")

    browser.get(console.url + "/keys")
    assert new_key not in browser.page_source
    browser.find_element(By.CSS_SELECTOR, f"button[aria-label='Revoke {key_id}']").click()
    row = f"//tr[td[contains(., '{key_id}')]]"
    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda d: "revoked" in d.find_element(By.XPATH, row).text
    )
    assert not browser.find_elements(By.CSS_SELECTOR, f"button[aria-label='Revoke {key_id}']")


def test_usage_page_at_desktop_and_phone_width(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    sign_in(browser, console, console.tenants["acme"].key)
    browser.get(console.url + "/usage")
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar")
    assert browser.find_element(By.ID, "per-model").text.count("\n") >= 2
    screenshot(browser, shots, "usage-desktop")
    browser.set_window_size(*PHONE)
    browser.refresh()
    assert browser.execute_script("return document.documentElement.scrollWidth") <= PHONE[0]
    screenshot(browser, shots, "usage-phone")


def test_keyboard_only_sign_in_and_send(console: Console, browser: WebDriver) -> None:
    browser.get(console.url + "/sign-in")
    body = browser.switch_to.active_element
    for _ in range(10):  # Tab from the top of the page until the key field has focus
        if browser.switch_to.active_element.get_attribute("id") == "key":
            break
        body.send_keys(Keys.TAB)
        body = browser.switch_to.active_element
    field = browser.switch_to.active_element
    assert field.get_attribute("id") == "key"
    field.send_keys(console.tenants["globex"].key, Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith("/console/chat"))
    start_conversation(browser, console, ECHO)

    box = browser.find_element(By.ID, "content")
    box.send_keys("sent from the keyboard")
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda d: status(d) == "Done." and last_answer(d))

    assert last_answer(browser).strip() == "sent from the keyboard"


def _api_first_token_ms(console: Console, key: str, text: str) -> float:
    """The API's own time to its first token for the same request (httpx on loopback)."""
    body = {"model": ECHO, "messages": [{"role": "user", "content": text}], "stream": True}
    with httpx.Client(base_url=console.base_url, timeout=30) as client:
        start = time.perf_counter()
        with client.stream(
            "POST", "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
        ) as response:
            for line in response.iter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    return (time.perf_counter() - start) * 1000
    raise AssertionError("the API streamed no token")


def test_first_token_shows_soon_after_the_apis_first_token(
    console: Console, browser: WebDriver, shots: Path
) -> None:
    key = console.tenants["globex"].key
    sign_in(browser, console, key)
    start_conversation(browser, console, ECHO)
    browser_ms, api_ms = [], []
    for turn in range(5):
        send_and_wait(browser, f"first token please {turn}")
        browser_ms.append(
            browser.execute_script(
                "return performance.measure('t', 'corral-send', 'corral-first-token').duration"
            )
        )
        api_ms.append(_api_first_token_ms(console, key, f"first token please {turn}"))
    extra = statistics.median(browser_ms) - statistics.median(api_ms)
    (shots / "first_token.json").write_text(
        json.dumps({"browser_ms": browser_ms, "api_ms": api_ms, "median_extra_ms": extra})
    )

    # Target 100 ms; the bound here leaves room for a loaded CI machine.
    assert extra <= 250, f"the page showed the first token {extra:.0f} ms after the API"


def test_an_idle_session_ends_and_the_browser_is_sent_to_sign_in(
    tmp_path: Path, browser: WebDriver
) -> None:
    idle_s = 10  # the shortest idle timeout the settings accept
    with running_console(tmp_path, embedded=False, console={"idle_timeout_s": idle_s}) as short:
        sign_in(browser, short, short.tenants["acme"].key)
        browser.get(short.url + "/keys")
        assert browser.find_element(By.TAG_NAME, "h1").text == "API keys"

        time.sleep(idle_s + 1)
        browser.get(short.url + "/keys")

        assert browser.current_url.endswith("/console/sign-in")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
