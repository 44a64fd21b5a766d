"""Signing in, the session cookie, CSRF and sign-out, over plain HTTP (what a browser sends)."""

from __future__ import annotations

import time

import httpx

from tests.console.server import Console, csrf_of, signed_in
from tests.support import ADMIN_KEY


def test_sign_in_gives_a_strict_httponly_cookie_and_never_echoes_the_key(
    console: Console,
) -> None:
    key = console.tenants["acme"].key
    with httpx.Client(base_url=console.base_url) as client:
        response = client.post("/console/sign-in", data={"key": key})
        cookie = response.headers["set-cookie"]
        page = client.get("/console/chat")

    assert response.status_code == 303
    assert response.headers["location"] == "/console/chat"
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http on loopback; under TLS the cookie is Secure
    assert key not in cookie and key not in page.text
    assert page.status_code == 200 and "New conversation" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_a_wrong_key_is_refused_with_a_readable_message(console: Console) -> None:
    with httpx.Client(base_url=console.base_url) as client:
        response = client.post("/console/sign-in", data={"key": "crl_nothing_here"})
        chat = client.get("/console/chat")

    assert response.status_code == 401
    assert "Incorrect API key provided" in response.text
    assert "set-cookie" not in response.headers
    assert chat.status_code == 303 and chat.headers["location"] == "/console/sign-in"


def test_the_operator_signs_in_with_the_admin_key(console: Console) -> None:
    with signed_in(console, ADMIN_KEY) as client:
        usage = client.get("/console/usage")
        chat = client.get("/console/chat")

    assert usage.status_code == 200 and "all tenants" in usage.text
    assert chat.status_code == 403 and "tenant" in chat.text


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        before = client.get("/console/keys").text.count("<tr>")
        missing = client.post("/console/keys", data={"name": "forged"})
        wrong = client.post("/console/keys", data={"name": "forged", "csrf": "guess"})
        after = client.get("/console/keys").text.count("<tr>")

    assert missing.status_code == 403 and wrong.status_code == 403
    assert "did not come from the console" in missing.text
    assert after == before


def test_a_post_from_another_origin_is_refused_even_with_the_token(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        csrf = csrf_of(client.get("/console/keys").text)
        response = client.post(
            "/console/keys",
            data={"name": "forged", "csrf": csrf},
            headers={"Origin": "http://evil.example"},
        )

    assert response.status_code == 403
    assert "another site" in response.text


def test_sign_out_ends_the_session_on_the_server(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        cookie = client.cookies["corral_console"]
        csrf = csrf_of(client.get("/console/chat").text)
        out = client.post("/console/sign-out", data={"csrf": csrf})
    with httpx.Client(base_url=console.base_url, cookies={"corral_console": cookie}) as replay:
        again = replay.get("/console/chat")

    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert again.status_code == 303 and again.headers["location"] == "/console/sign-in"


def test_revoking_the_key_ends_its_sessions_within_a_second(console: Console) -> None:
    with console.admin() as admin:
        made = admin.post("/admin/keys", json={"tenant": "acme", "name": "short-lived"}).json()
        with signed_in(console, made["key"]) as client:
            assert client.get("/console/chat").status_code == 200
            admin.post(f"/admin/keys/{made['id']}/revoke").raise_for_status()
            deadline = time.monotonic() + 1.0
            while (page := client.get("/console/chat")).status_code == 200:
                assert time.monotonic() < deadline, "the session outlived its key"
                time.sleep(0.05)

    assert page.status_code == 303 and page.headers["location"] == "/console/sign-in"


def test_the_cookie_is_secure_when_the_console_is_reached_over_https(console: Console) -> None:
    # A TLS-terminating proxy on loopback says so in X-Forwarded-Proto (trusted by uvicorn).
    with httpx.Client(base_url=console.base_url) as client:
        response = client.post(
            "/console/sign-in",
            data={"key": console.tenants["acme"].key},
            headers={"X-Forwarded-Proto": "https"},
        )

    assert response.status_code == 303
    assert "Secure" in response.headers["set-cookie"]
