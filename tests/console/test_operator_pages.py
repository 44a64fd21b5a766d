"""The operator's prices, privacy-audit and health pages, and the chat's "what left this
machine", over HTTP against a console with a partner model (the echo backend under tier
`partner`: the real privacy guard masks what it is sent and audits the call)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.console.server import (
    ECHO,
    Console,
    csrf_of,
    new_conversation,
    running_console,
    send_turn,
    signed_in,
)
from tests.support import ADMIN_KEY, echo_entry

PARTNER = "partner-echo"
EMAIL = "jane.doe@example.com"
OPERATOR_PAGES = ("/console/operator/prices", "/console/operator/audit", "/console/operator/health")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    home = tmp_path_factory.mktemp("console-operator")
    partner = echo_entry(PARTNER, tier="partner", kind="openai", context_length=10_000)
    with running_console(home, embedded=False, extra=[partner]) as running:
        with running.admin() as admin:  # acme keeps what its partner calls sent for a day
            admin.patch("/admin/tenants/acme", json={"retention_hours": 24}).raise_for_status()
        yield running


def _partner_turn(client: httpx.Client, text: str) -> str:
    path = new_conversation(client, model=PARTNER)
    csrf = csrf_of(client.get(path).text)
    with client.stream(
        "POST",
        path + "/messages",
        json={"content": text, "model": PARTNER},
        headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
    ) as response:
        assert response.status_code == 200, response.read()
        response.read()
    return path


def _page_when(client: httpx.Client, path: str, wanted: str) -> str:
    """The page once it shows `wanted` (the call's audit row is written as the stream ends)."""
    deadline = time.monotonic() + 10
    while True:
        html = client.get(path).text
        if wanted in html or time.monotonic() > deadline:
            return html
        time.sleep(0.1)


def test_a_partner_answer_shows_what_left_the_machine_only_where_it_is_kept(
    console: Console,
) -> None:
    acme, globex = console.tenants["acme"], console.tenants["globex"]
    with signed_in(console, acme.key) as client:
        path = _partner_turn(client, f"Please write to {EMAIL} today")
        kept = _page_when(client, path, "What left this machine")
        local = new_conversation(client, model=ECHO)
        send_turn(client, local, "stays here")
        local_page = client.get(local).text
    with signed_in(console, globex.key) as client:
        other_path = _partner_turn(client, f"Mail {EMAIL}")
        not_kept = _page_when(client, other_path, "What left this machine")
        foreign = client.get(path)

    [left] = re.findall(r'<details class="left">(.*?)</details>', kept, re.S)
    assert "[EMAIL_1]" in left and EMAIL not in left  # what the partner got: masked
    assert "EMAIL 1" in left
    assert EMAIL in kept  # the answer itself, restored for the tenant
    [other] = re.findall(r'<details class="left">(.*?)</details>', not_kept, re.S)
    assert "not kept" in other and "[EMAIL_1]" not in other and "EMAIL 1" in other
    assert foreign.status_code == 404 and "[EMAIL_1]" not in foreign.text
    assert "stays here" in local_page and "What left this machine" not in local_page


def test_the_operator_sees_partner_calls_counts_and_only_kept_bodies(console: Console) -> None:
    acme = console.tenants["acme"]
    with signed_in(console, acme.key) as client:
        _partner_turn(client, f"Reach me at {EMAIL}")
    with signed_in(console, ADMIN_KEY) as client:
        html = _page_when(client, "/console/operator/audit", "acme")

    rows = re.findall(r"<tr><td>(\w+)</td><td class=\"mono\">([\w-]+)</td>", html)
    assert ("acme", PARTNER) in rows
    assert EMAIL not in html  # never a value
    bodies = re.findall(r'<div class="pre sent">(.*?)</div>', html, re.S)
    assert any("user: Reach me at [EMAIL_1]" in b for b in bodies)
    assert "EMAIL" in re.search(r'<table id="by-kind">(.*?)</table>', html, re.S).group(1)  # type: ignore[union-attr]


def test_the_operator_sets_and_clears_a_price(console: Console) -> None:
    with signed_in(console, ADMIN_KEY) as client:
        csrf = csrf_of(client.get("/console/operator/prices").text)
        done = client.post(
            "/console/operator/prices",
            data={"csrf": csrf, "model": ECHO, "input": "1.50", "output": "3", "action": "set"},
        )
        after = client.get("/console/operator/prices").text
        with signed_in(console, console.tenants["globex"].key) as tenant:
            picker = tenant.get("/console/chat").text  # the price the API bills shows there
        bad = client.post(
            "/console/operator/prices",
            data={"csrf": csrf, "model": ECHO, "input": "cheap", "output": "3", "action": "set"},
        )
        forged = client.post(
            "/console/operator/prices", data={"model": ECHO, "input": "0", "output": "0"}
        )
        client.post(
            "/console/operator/prices", data={"csrf": csrf, "model": ECHO, "action": "clear"}
        )
        cleared = client.get("/console/operator/prices").text
    assert done.status_code == 303
    row = re.search(rf'<td data-label="Model" class="mono">{ECHO}</td>.*?</tr>', after, re.S)
    assert row and "1.50" in row.group(0) and "3.00" in row.group(0)
    assert "set by the operator (config: 2.00" in after
    assert bad.status_code == 400 and "is not an amount" in bad.text
    assert forged.status_code == 403
    cleared_row = re.search(
        rf'<td data-label="Model" class="mono">{ECHO}</td>.*?</tr>', cleared, re.S
    )
    assert cleared_row and "config file" in cleared_row.group(0)
    assert f"{ECHO} · open · 1.500000/3.000000" in picker


def test_the_health_page_reports_readiness_and_each_backend(console: Console) -> None:
    with signed_in(console, ADMIN_KEY) as client:
        html = client.get("/console/operator/health").text
    with httpx.Client(base_url=console.base_url) as plain:
        ready = plain.get("/readyz", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()

    assert f'<strong class="ok">{ready["status"]}</strong>' in html
    for store, state in ready["dependencies"].items():
        assert f'<dt>{store}</dt><dd class="ok">{state}</dd>' in html
    for model in (ECHO, PARTNER):
        assert f'<td data-label="Model" class="mono">{model}</td>' in html
    assert '<td data-label="Waiting" class="num">0</td>' in html


def test_operator_pages_refuse_a_tenant(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        answers = {path: client.get(path) for path in OPERATOR_PAGES}
        nav = client.get("/console/chat").text
    for path, answer in answers.items():
        assert answer.status_code == 403, path
        assert "sign in with the admin key" in answer.text
    assert "/console/operator/audit" not in nav
