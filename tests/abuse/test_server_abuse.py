"""The hostile requests of issue 28, each against a real `corral serve` while another tenant
streams a chat.

For every case: the server is still running, the case got no 5xx, the other tenant's stream
completed in time, and the server's memory came back within 10 % of its baseline. A case that
is a limit refusal must be a 400, 413 or 429 whose error names the parameter. Each case is
bounded in time (client timeouts); a case that killed or soiled the server gets a fresh one
(same home, same tenants) for the next.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.abuse.harness import (
    PARTNER,
    RSS_MARGIN,
    VICTIM_LIMIT_S,
    Harness,
    Outcome,
    auth,
    beside_victim,
    chat,
)
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.server import serving
from tests.support import ADMIN_KEY, MODEL

REQUEST_TIMEOUT_S = 20.0
CONNECTION_LIMIT_S = 20.0
"""A connection that sends nothing, or too little, must be closed by the server by then."""
TASKS = Path(__file__).parent.parent / "tasks" / "fixtures"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    fake = OpenAIFake(keys=(KEY,))
    with serving(fake.app) as url:
        running = Harness(tmp_path_factory.mktemp("abuse"), url)
        yield running
        running.stop()


def post(
    h: Harness,
    path: str,
    key: str,
    body: Any,
    expected_param: str | None = None,
    what: str | None = None,
    method: str = "POST",
) -> Outcome:
    """One abusive request, as JSON (or raw bytes), answered within `REQUEST_TIMEOUT_S`."""
    label = what or path
    content = body if isinstance(body, bytes) else None
    try:
        response = httpx.request(
            method,
            f"{h.url}{path}",
            json=None if content is not None else body,
            content=content,
            headers={**auth(key), "Content-Type": "application/json"},
            timeout=REQUEST_TIMEOUT_S,
        )
    except httpx.TimeoutException:
        return Outcome(
            label, 0, message=f"no answer in {REQUEST_TIMEOUT_S} s", expected_param=expected_param
        )
    except httpx.TransportError as exc:
        return Outcome(
            label, 0, message=f"connection broken: {exc!r}", expected_param=expected_param
        )
    return Outcome.of(label, response, expected_param)


def json_schema_chat(schema: dict[str, Any], max_tokens: int) -> dict[str, Any]:
    spec = {"name": "answer", "schema": schema}
    return chat(
        MODEL, "Answer.", max_tokens, response_format={"type": "json_schema", "json_schema": spec}
    )


# -- the cases -------------------------------------------------------------------------------


def tiny_schema_with_a_long_string(h: Harness) -> list[Outcome]:
    body = json_schema_chat({"type": "string", "maxLength": 20000}, 8)
    return [post(h, "/v1/chat/completions", h.tenants.abuser, body)]


def schemas_that_cannot_fit_max_tokens(h: Harness) -> list[Outcome]:
    return [
        post(
            h,
            "/v1/chat/completions",
            h.tenants.abuser,
            json_schema_chat({"type": "string", "minLength": 10_000_000 + i}, 1),
            "response_format",
        )
        for i in range(4)
    ]


def deeply_nested_items(h: Harness) -> list[Outcome]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(150):
        schema = {"type": "array", "items": schema}
    body = json_schema_chat(schema, 8)
    return [post(h, "/v1/chat/completions", h.tenants.abuser, body, "response_format")]


def quadratic_text_to_a_partner_model(h: Harness) -> list[Outcome]:
    body = chat(PARTNER, "Ab-" * 16000, 8)
    return [post(h, "/v1/chat/completions", h.tenants.abuser, body)]


def large_chat_export(h: Harness) -> list[Outcome]:
    """A 62 KB export is valid input whose explanation takes minutes on a small CPU: the client
    gives up after `REQUEST_TIMEOUT_S`. Meanwhile the other tenant is served in its turn, and
    once the client has left the server stops working on it."""
    sample = (TASKS / "whatsapp_android_en.txt").read_text()
    export = (sample * (62_000 // len(sample) + 1))[:62_000]
    body = {"model": MODEL, "chat": export}
    outcome = post(h, "/v1/tasks/explain-conversation", h.tenants.abuser, body)
    if outcome.status != 0:
        return [outcome]
    time.sleep(3)  # the step of the prompt being evaluated when the client left may finish
    busy_s = h.cpu_seconds(during_s=3)
    if busy_s > 1.5:
        return [Outcome("an abandoned task", 0, message=f"still computing: {busy_s:.1f} s CPU")]
    return []


def csv_with_a_huge_header(h: Harness) -> list[Outcome]:
    header = ",".join(f"column{i}" for i in range(26_000))  # 262 KB
    body = {"model": MODEL, "csv": header + "\n" + "1," * 25_999 + "1\n"}
    outcome = post(h, "/v1/tasks/creator-tips", h.tenants.abuser, body)
    if len(outcome.message) > 2000:  # the error must not echo every column
        outcome.status, outcome.message = 500, f"an error message of {len(outcome.message)} chars"
    return [outcome]


def views_with_5000_digits(h: Harness) -> list[Outcome]:
    post_json = '{"id": "p1", "time": "2024-01-02T17:25:00+01:00", "format": "text", '
    post_json += (
        '"likes": 1, "comments": 1, "shares": 1, "text": "Hi", "views": ' + "9" * 5000 + "}"
    )
    raw = f'{{"model": "{MODEL}", "posts": [{post_json}]}}'.encode()
    return [post(h, "/v1/tasks/creator-tips", h.tenants.abuser, raw, "views")]


def a_user_message_without_content(h: Harness) -> list[Outcome]:
    body = {"model": MODEL, "messages": [{"role": "user"}], "max_tokens": 4}
    return [post(h, "/v1/chat/completions", h.tenants.abuser, body, "messages[0].content")]


def admin_numbers_beyond_int64(h: Harness) -> list[Outcome]:
    tenants = [
        ({"name": "big1", "budget": "1e30"}, "budget"),
        ({"name": "big2", "budget": "10000000000000"}, "budget"),
        ({"name": "big3", "mau": 10**20}, "mau"),
    ]
    keys = [
        ({"tenant": "abuser", "rpm": 10**20}, "rpm"),
        ({"tenant": "abuser", "tpm": 2**63}, "tpm"),
    ]
    prices = [
        ({"input": "1e30", "output": "1"}, "input"),
        ({"input": "1", "output": "99999999999999"}, "output"),
    ]
    outcomes = [post(h, "/admin/tenants", ADMIN_KEY, body, param) for body, param in tenants]
    outcomes += [post(h, "/admin/keys", ADMIN_KEY, body, param) for body, param in keys]
    price = f"/admin/models/{MODEL}/price"
    outcomes += [post(h, price, ADMIN_KEY, body, param, method="PUT") for body, param in prices]
    return outcomes


def idle_and_partial_connections(h: Harness) -> list[Outcome]:
    port = h.server.port
    sends = {
        "a connection that sends nothing": b"",
        "half a header": b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthor",
        "Content-Length 100000 and one byte": (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        ),
    }
    with ThreadPoolExecutor(len(sends)) as pool:
        futures = {what: pool.submit(closed_by_server, port, data) for what, data in sends.items()}
        return [
            Outcome(what, future.result(), message=f"held open {CONNECTION_LIMIT_S} s")
            for what, future in futures.items()
        ]


def closed_by_server(port: int, data: bytes) -> int:
    """The status the server answered before closing (200 for none), 0 if it kept it open."""
    with socket.create_connection(("127.0.0.1", port), timeout=CONNECTION_LIMIT_S) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return 0
        except ConnectionResetError:
            return 200
    head = received.split(b"\r\n", 1)[0].split()
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else 200


def abandoned_embeddings(h: Harness) -> list[Outcome]:
    body = {"model": MODEL, "input": [f"sentence {i} " + "words " * 60 for i in range(128)]}
    with ThreadPoolExecutor(4) as pool:
        for _ in range(4):
            pool.submit(abandon, h, "/v1/embeddings", body, 0.5)
    return []  # the victim's stream, meanwhile, must complete in time


def abandoned_chats_then_another_tenant(h: Harness) -> list[Outcome]:
    body = chat(MODEL, "Write a long story about the sea.", 200)
    with ThreadPoolExecutor(45) as pool:
        for _ in range(45):
            pool.submit(abandon, h, "/v1/chat/completions", body, 1.0)
    after = chat(MODEL, "Hi", 4)
    return [post(h, "/v1/chat/completions", h.tenants.victim, after, what="another tenant's chat")]


def abandon(h: Harness, path: str, body: dict[str, Any], after_s: float) -> None:
    with contextlib.suppress(httpx.TimeoutException):  # dropped, as the abusive client does
        httpx.post(f"{h.url}{path}", json=body, headers=auth(h.tenants.abuser), timeout=after_s)


@dataclass(frozen=True)
class Case:
    run: Callable[[Harness], list[Outcome]]

    def __str__(self) -> str:
        return self.run.__name__


CASES = [
    Case(tiny_schema_with_a_long_string),
    Case(schemas_that_cannot_fit_max_tokens),
    Case(deeply_nested_items),
    Case(quadratic_text_to_a_partner_model),
    Case(large_chat_export),
    Case(csv_with_a_huge_header),
    Case(views_with_5000_digits),
    Case(a_user_message_without_content),
    Case(admin_numbers_beyond_int64),
    Case(idle_and_partial_connections),
    Case(abandoned_embeddings),
    Case(abandoned_chats_then_another_tenant),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_server_withstands(harness: Harness, case: Case) -> None:
    harness.ready_for_a_case()
    started = time.monotonic()
    try:
        with beside_victim(harness) as victim:
            outcomes = case.run(harness)
        stream = victim.result(timeout=VICTIM_LIMIT_S + 5)
        alive = harness.alive()
        rss_kb = harness.settled_rss_kb() if alive else 0
        problems = judge(outcomes, alive, stream, rss_kb, harness.baseline_kb)
    except BaseException:
        harness.dirty = True
        raise
    harness.dirty = bool(problems)
    took = time.monotonic() - started
    assert not problems, f"{case} ({took:.0f} s):\n" + "\n".join(problems)


def judge(
    outcomes: list[Outcome], alive: bool, stream: str, rss_kb: int, baseline_kb: int
) -> list[str]:
    problems = [] if alive else ["the server process died"]
    for o in outcomes:
        if o.status == 0 or o.status >= 500:
            problems.append(f"{o.what}: {o.status or 'no answer'} {o.message[:300]}")
        elif o.expected_param is not None and (
            o.status not in (400, 413, 429) or o.expected_param not in (o.param or "")
        ):
            problems.append(
                f"{o.what}: a limit refusal must be 400/413/429 naming '{o.expected_param}', "
                f"got {o.status} param={o.param!r} {o.message[:200]}"
            )
    if stream != "done":
        problems.append(f"the other tenant's stream: {stream}")
    if alive and rss_kb > baseline_kb * RSS_MARGIN:
        problems.append(f"RSS {rss_kb // 1024} MB, baseline {baseline_kb // 1024} MB (> +10 %)")
    return problems
