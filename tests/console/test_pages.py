"""The chat, keys and usage pages over plain HTTP: a streamed turn is kept and billed, one
tenant cannot reach another's conversation, keys are shown once and revoked."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import httpx

from tests.console.server import ECHO, Console, csrf_of, new_conversation, send_turn, signed_in
from tests.support import corral_env


def test_a_turn_streams_the_apis_frames_and_is_kept_with_its_cost(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        path = new_conversation(client)
        chunks = send_turn(client, path, "hello there console")
        page = client.get(path).text
        export = client.get(path + "/export").json()

    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "hello there console "
    assert [m["role"] for m in export["messages"]] == ["user", "assistant"]
    assert export["messages"][1]["content"] == "hello there console "
    assert export["messages"][1]["cost_micros"] > 0
    assert export["title"] == "hello there console"
    assert "hello there console" in page and "Cost so far" in page


def test_the_max_tokens_setting_caps_the_answer(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        path = new_conversation(client)
        chunks = send_turn(client, path, "one two three four five six", max_tokens=3)

    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.split() == ["one", "two", "three"]


def test_another_tenants_conversation_is_not_found(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as acme:
        path = new_conversation(acme)
        send_turn(acme, path, "acme secret plans")
    with signed_in(console, console.tenants["globex"].key) as globex:
        csrf = csrf_of(globex.get("/console/chat").text)
        listed = globex.get("/console/chat").text
        page = globex.get(path)
        export = globex.get(path + "/export")
        deleted = globex.post(path + "/delete", data={"csrf": csrf})
        sent = globex.post(
            path + "/messages",
            json={"content": "hi", "model": ECHO},
            headers={"X-CSRF-Token": csrf, "Accept": "application/json"},
        )

    assert "acme secret plans" not in listed
    assert page.status_code == 404 and "acme secret plans" not in page.text
    assert export.status_code == 404 and deleted.status_code == 404
    assert sent.status_code == 404 and sent.json()["error"]["message"] == "No such conversation."


def test_a_bad_message_gets_a_readable_error_not_a_500(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        path = new_conversation(client)
        csrf = csrf_of(client.get(path).text)
        headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
        empty = client.post(path + "/messages", json={"content": " "}, headers=headers)
        garbage = client.post(path + "/messages", content=b"{not json", headers=headers)
        unknown = client.post(
            path + "/messages", json={"content": "hi", "model": "nope"}, headers=headers
        )
        no_csrf = client.post(path + "/messages", json={"content": "hi"})
        no_tokens = client.post(
            path + "/messages", json={"content": "hi", "max_tokens": 0}, headers=headers
        )

    assert empty.status_code == 400 and "Write a message" in empty.json()["error"]["message"]
    assert garbage.status_code == 400
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]["message"]
    assert no_csrf.status_code == 403
    assert no_tokens.status_code == 400 and no_tokens.json()["error"]["param"] == "max_tokens"


def test_a_new_key_is_shown_once_and_can_be_revoked(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        csrf = csrf_of(client.get("/console/keys").text)
        created = client.post("/console/keys", data={"csrf": csrf, "name": "ci"})
        plaintext = re.search(r'value="(crl_[^"]+)"', created.text)
        assert plaintext is not None
        key_id = "key_" + plaintext.group(1).split("_")[1]
        later = client.get("/console/keys").text
        revoked = client.post(f"/console/keys/{key_id}/revoke", data={"csrf": csrf})
        after = client.get("/console/keys").text
        other = client.post("/console/keys/key_000000000000/revoke", data={"csrf": csrf})

    assert created.status_code == 201
    assert plaintext.group(1) not in later and key_id in later
    assert revoked.status_code == 303
    assert re.search(rf"{key_id}.*?<td>revoked</td>", after, re.S)
    assert other.status_code == 404
    with httpx.Client(base_url=console.base_url) as fresh:
        refused = fresh.post("/console/sign-in", data={"key": plaintext.group(1)})
    assert refused.status_code == 401 and "revoked" in refused.text


def test_usage_page_shows_the_months_spend_against_the_budget(console: Console) -> None:
    with signed_in(console, console.tenants["globex"].key) as client:
        path = new_conversation(client)
        chunks = send_turn(client, path, "count these five words")
        page = client.get("/console/usage").text

    usage = chunks[-1]["usage"]
    assert usage is not None
    assert re.search(r'id="budget">5\.000000<', page)
    assert re.search(r'id="spent">0\.0000[1-9]\d<', page)  # a few tokens at 2 and 4 per million
    assert "<td>echo</td>" in page and "<svg" in page and 'class="bar"' in page


def test_the_invoice_csv_is_the_one_corral_invoice_prints(console: Console) -> None:
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    with signed_in(console, console.tenants["acme"].key) as client:
        send_turn(client, new_conversation(client), "bill me for these words")
        download = client.get(f"/console/usage/invoice.csv?month={month}")
        bad = client.get("/console/usage/invoice.csv?month=last-year")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "corral",
            "invoice",
            "--tenant",
            "acme",
            "--month",
            month,
            "--format",
            "csv",
        ],
        env=corral_env(console.home),
        capture_output=True,
        text=True,
        check=True,
    )

    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    assert download.text == cli.stdout
    assert download.text.splitlines()[1].startswith("echo,open,")
    assert bad.status_code == 400 and "YYYY-MM" in bad.text


def test_a_conversation_needs_a_model_the_key_may_see(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        csrf = csrf_of(client.get("/console/chat").text)
        response = client.post("/console/chat/new", data={"csrf": csrf, "model": "nope"})

    assert response.status_code == 404
    assert "The model &#39;nope&#39; does not exist" in response.text
