"""Licences and gated access over HTTP: a tenant accepts a licence and asks for access, the
operator sees the request in the queue and approves it, the tenant sees the decision and is
served; the operator's tenants page; one tenant never sees another's requests; a tenant's
session cannot open the operator's pages."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.console.server import (
    ECHO,
    GATED,
    LICENCE,
    Console,
    csrf_of,
    new_conversation,
    running_console,
    send_turn,
    signed_in,
)
from tests.support import ADMIN_KEY


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-access"), embedded=False) as running:
        yield running


def _chat_status(console: Console, key: str) -> tuple[int, str]:
    response = httpx.post(
        console.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": GATED, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    body = response.json()
    return response.status_code, body["error"]["code"] if "error" in body else "ok"


def _post(client: httpx.Client, path: str, **fields: str) -> httpx.Response:
    csrf = csrf_of(client.get("/console/licences").text)
    return client.post(path, data={"csrf": csrf, **fields})


def test_accept_request_approve_and_the_tenant_is_served(console: Console) -> None:
    acme = console.tenants["acme"]
    assert _chat_status(console, acme.key) == (403, "licence_not_accepted")
    with signed_in(console, acme.key) as client:
        accepted = _post(client, f"/console/licences/{LICENCE['id']}/accept")
        after_accept = _chat_status(console, acme.key)
        asked = _post(client, "/console/access-requests", model=GATED, reason="support <b>bot</b>")
        page = client.get("/console/licences").text
    with signed_in(console, ADMIN_KEY) as operator:
        queue = operator.get("/console/operator/access").text
        request_id = re.search(r'<tr id="(acc_[0-9a-f]+)">', queue)
        assert request_id is not None, queue
        csrf = csrf_of(queue)
        approved = operator.post(
            f"/console/operator/access/{request_id.group(1)}/approve",
            data={"csrf": csrf, "reason": "fine"},
        )
        again = operator.post(
            f"/console/operator/access/{request_id.group(1)}/deny", data={"csrf": csrf}
        )
        decided = operator.get("/console/operator/access?status=approved").text
    with signed_in(console, acme.key) as client:
        later = client.get("/console/licences").text

    assert accepted.status_code == 303 and asked.status_code == 303
    assert after_accept == (403, "access_not_granted")
    accepted_cell = r'id="licence-llama-community">.*?<td data-label="Accepted">version 3.1<'
    assert re.search(accepted_cell, page, re.S)
    assert '<span class="badge status-pending">pending</span>' in page
    assert "support &lt;b&gt;bot&lt;/b&gt;" in queue
    assert '<td data-label="Tenant">acme</td>' in queue
    assert approved.status_code == 303
    assert again.status_code == 409 and "already approved" in again.text
    assert request_id.group(1) in decided and "approved: fine" in decided
    assert '<span class="badge status-approved">approved</span> (fine)' in later
    assert _chat_status(console, acme.key) == (200, "ok")


def test_one_tenant_never_sees_anothers_requests(console: Console) -> None:
    with signed_in(console, console.tenants["globex"].key) as globex:
        _post(globex, "/console/access-requests", model=GATED, reason="globex private reason")
        own = globex.get("/console/licences").text
    with signed_in(console, console.tenants["acme"].key) as acme:
        other = acme.get("/console/licences").text

    assert "globex private reason" in own
    assert "globex private reason" not in other


def test_a_tenants_session_cannot_use_the_operators_pages(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        csrf = csrf_of(client.get("/console/licences").text)
        pages = [client.get(p) for p in ("/console/operator/tenants", "/console/operator/access")]
        decide = client.post("/console/operator/access/acc_0/approve", data={"csrf": csrf})
    with signed_in(console, ADMIN_KEY) as operator:
        licences = operator.get("/console/licences")

    for response in (*pages, decide):
        assert response.status_code == 403 and "operator" in response.text
    assert licences.status_code == 403 and "tenant" in licences.text


def test_the_operator_sees_every_tenants_month(console: Console) -> None:
    with signed_in(console, console.tenants["globex"].key) as client:
        send_turn(client, new_conversation(client, ECHO), "five words for the bill")
    with signed_in(console, ADMIN_KEY) as operator:
        page = operator.get("/console/operator/tenants").text
        bad = operator.get("/console/operator/access?status=maybe")

    globex = re.search(r'<tr id="tenant-globex">(.*?)</tr>', page, re.S)
    assert globex is not None and re.search(r'<td class="num">0\.0000[1-9]\d</td>', globex[1])
    assert '<td class="num">5.000000</td>' in globex[1]  # its budget
    assert '<tr id="tenant-acme">' in page
    assert bad.status_code == 400 and "status is one of" in bad.text
