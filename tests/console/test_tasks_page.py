"""The assistant tasks page over HTTP: a WhatsApp export pasted, picked as a .txt and as the
.zip WhatsApp makes, explained through the API's own task serving (metered to the tenant),
with citations linking to the cited messages; a feed summarised; bad input a readable error."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.console.server import ECHO, Console, csrf_of, running_console, signed_in
from tests.support import ADMIN_KEY, echo_entry
from tests.tasks.scripted import ScriptedBackend

FIXTURES = Path(__file__).parents[1] / "tasks" / "fixtures"
CHAT = (FIXTURES / "whatsapp_android_en.txt").read_text(encoding="utf-8")


SUMMARY = {
    "topics": [
        {
            "title": "Marathon",
            "points": [{"text": "Someone finished the marathon", "post_ids": ["f001", "f999"]}],
        }
    ]
}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    # A model that answers a summary in the task's format, citing a post and a made-up id.
    scripted = echo_entry("scripted", backend=ScriptedBackend(SUMMARY), context_length=100_000)
    home = tmp_path_factory.mktemp("console-tasks")
    with running_console(home, embedded=False, extra=[scripted]) as running:
        yield running


def _run(
    client: httpx.Client, files: dict[str, tuple[str, bytes, str]] | None = None, **fields: str
) -> httpx.Response:
    csrf = csrf_of(client.get("/console/tasks").text)
    data = {"csrf": csrf, "model": ECHO, "task": "explain-conversation", **fields}
    if files is None:
        return client.post("/console/tasks", data=data)
    return client.post("/console/tasks", data=data, files=files)


def _zipped(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("WhatsApp Chat with Seville trip.txt", text)
        archive.writestr("IMG-20240304-WA0001.jpg", b"\xff\xd8\xff\xe0")
    return buffer.getvalue()


def _answer(page: str) -> str:
    found = re.search(
        r'<section class="card" aria-labelledby="answer-heading">.*?</section>', page, re.S
    )
    assert found is not None, page
    return found.group(0)


def test_a_chat_export_pasted_or_picked_is_explained_with_linked_citations(
    console: Console,
) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        pasted = _run(client, text=CHAT)
        as_txt = _run(client, files={"file": ("chat.txt", CHAT.encode(), "text/plain")})
        as_zip = _run(client, files={"file": ("chat.zip", _zipped(CHAT), "application/zip")})
        usage = client.get("/console/usage").text

    assert pasted.status_code == 200, pasted.text
    answers = [_answer(r.text) for r in (pasted, as_txt, as_zip)]
    assert answers[0] == answers[1] == answers[2]  # the same chat, however it came
    answer = answers[0]
    assert "Explain a chat export: the answer" in answer
    links = re.findall(r'<a href="#msg-(\d+)">', answer)
    anchors = re.findall(r'<li id="msg-(\d+)">', answer)
    assert links and set(links) == set(anchors)  # every citation lands on a shown message
    meta = re.search(r"(\d+) prompt and (\d+) completion tokens", answer)
    assert meta is not None and int(meta.group(1)) > 0
    # Metered to the tenant as an API call is: three runs, three times the tokens.
    row = re.search(r'<tr><td>echo</td><td>open</td><td class="num">\d+</td>'
                    r'<td class="num">(\d+)</td><td class="num">(\d+)</td>', usage)  # fmt: skip
    assert row is not None, usage
    assert (int(row.group(1)), int(row.group(2))) == (
        3 * int(meta.group(1)),
        3 * int(meta.group(2)),
    )


def test_a_feed_is_summarised_and_its_posts_cited(console: Console) -> None:
    feed = (FIXTURES / "feed_posts.json").read_text(encoding="utf-8")
    with signed_in(console, console.tenants["globex"].key) as client:
        # Thorough: the model reads the posts and its summary is what the page shows.
        response = _run(client, task="summarize", text=feed, model="scripted", mode="thorough")
        unusable = _run(client, task="summarize", text=feed, mode="thorough")  # echo: no JSON
        fast = _run(client, task="summarize", text=feed)  # code finds the topics

    assert response.status_code == 200, response.text
    answer = _answer(response.text)
    assert "<h3>Marathon</h3>" in answer and "Someone finished the marathon" in answer
    assert re.findall(r'<a href="#post-([^"]+)">', answer) == ["f001"]  # f999 dropped
    assert re.findall(r'<li id="post-([^"]+)">', answer) == ["f001"]
    assert "Finished the South Natalieshire marathon" in answer  # the cited post itself
    assert unusable.status_code == 502 and "did not answer in the task" in unusable.text
    assert fast.status_code == 200 and re.findall(r'<a href="#post-([^"]+)">', _answer(fast.text))


def test_bad_input_gets_a_readable_error_page(console: Console) -> None:
    with signed_in(console, console.tenants["acme"].key) as client:
        empty = _run(client, text="   ")
        not_json = _run(client, task="summarize", text="{nope")
        unknown_model = _run(client, text=CHAT, model="nope")
        no_task = _run(client, text=CHAT, task="rm -rf")
        not_a_zip = _run(client, files={"file": ("chat.zip", b"PK\x03\x04xx", "application/zip")})
        no_csrf = client.post("/console/tasks", data={"task": "summarize", "text": "[]"})

    assert empty.status_code == 400 and "Paste the input or pick a file" in empty.text
    assert not_json.status_code == 400 and "not valid JSON" in not_json.text
    assert unknown_model.status_code == 404 and "nope" in unknown_model.text
    assert no_task.status_code == 400 and "Pick one of the tasks" in no_task.text
    assert not_a_zip.status_code == 400 and "cannot be read" in not_a_zip.text
    assert no_csrf.status_code == 403
    for page in (empty, not_json, unknown_model, no_task, not_a_zip, no_csrf):
        assert "Traceback" not in page.text and "<h1>" in page.text


def test_the_tasks_page_is_a_tenants(console: Console) -> None:
    with signed_in(console, ADMIN_KEY) as operator:
        response = operator.get("/console/tasks")

    assert response.status_code == 403 and "tenant" in response.text
