"""Markdown in the chat over HTTP: an answer's markdown is formatted on the page and in the
fragment the script asks for once a stream ends; hostile markdown stays text; a user's own
message is shown as written."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.console.server import Console, new_conversation, running_console, send_turn
from tests.console.server import signed_in as session

MARKDOWN = "**bold** and `code` [docs](https://example.com)"
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console-md"), embedded=False) as running:
        yield running


def _messages(page: str) -> list[str]:
    listed = re.search(r'<ol id="messages".*?</ol>', page, re.S)
    assert listed is not None
    return re.findall(r'<div class="content[^"]*">(.*?)</div>', listed.group(0), re.S)


def test_an_answers_markdown_is_formatted_and_the_users_text_is_not(console: Console) -> None:
    with session(console, console.tenants["acme"].key) as client:
        path = new_conversation(client)
        send_turn(client, path, MARKDOWN)
        page = client.get(path).text
        fragment = client.get(path + "/messages/1", headers={"Accept": "application/json"})
        asked = client.get(path + "/messages/0").json()

    user, answer = _messages(page)
    assert user == MARKDOWN.replace("&", "&amp;")  # as written, escaped
    assert "<strong>bold</strong>" in answer and "<code>code</code>" in answer
    assert '<a href="https://example.com" rel="noopener noreferrer nofollow">docs</a>' in answer
    assert fragment.status_code == 200
    assert fragment.json()["html"].strip() == answer.strip()
    assert fragment.headers["content-security-policy"].startswith("default-src 'none'")
    assert asked == {"role": "user", "html": None}


def test_hostile_markdown_in_an_answer_is_shown_as_text(console: Console) -> None:
    with session(console, console.tenants["acme"].key) as client:
        path = new_conversation(client)
        send_turn(client, path, HOSTILE)
        page = client.get(path).text
        fragment = client.get(path + "/messages/1").json()["html"]

    for html in (_messages(page)[1], fragment):
        assert "<script" not in html and "<img" not in html and "<a " not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "[x](javascript:alert(1))" in html


def test_a_message_of_another_tenant_or_not_yet_kept_is_not_found(console: Console) -> None:
    with session(console, console.tenants["acme"].key) as acme:
        path = new_conversation(acme)
        send_turn(acme, path, "acme only")
        missing = acme.get(path + "/messages/2", headers={"Accept": "application/json"})
    with session(console, console.tenants["globex"].key) as globex:
        other = globex.get(path + "/messages/1", headers={"Accept": "application/json"})

    assert missing.status_code == 404 and missing.json()["error"]["param"] == "index"
    assert other.status_code == 404 and "acme only" not in other.text
