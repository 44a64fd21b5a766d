"""A gateway killed mid-load (`kill -9`) leaves a ledger that bills each answer exactly once.

Every request carries its own `X-Request-ID`, which the server adopts and the ledger keys its
rows by, so after the crash each request the client sent can be looked up: an answer the client
received has exactly one usage record; a request that ended in a broken connection has a record
only if it produced tokens.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import openai

from tests.accounts_kit import OK, accounts, outcome, sdk, sqlite_url, usage_records
from tests.support import MODEL, RunningServer, start_server

WORKERS = 4
LOAD_S = 2.0
"""At least this long under load before the kill, and until a few answers came back."""
ANSWERS_BEFORE_KILL = 3
PATIENCE_S = 60.0


@dataclass
class Sent:
    request_id: str
    answered: bool = False
    header_id: str | None = None
    completion_tokens: int | None = None


def keep_asking(
    server: RunningServer, key: str, worker: int, stop: threading.Event, sent: list[Sent]
) -> None:
    """Requests one after another, each with its own request id, until `stop` is set."""
    with sdk(server, key) as client:
        while not stop.is_set():
            request = Sent(f"req_crash_{worker}_{len(sent)}")
            sent.append(request)
            try:
                raw = client.chat.completions.with_raw_response.create(
                    model=MODEL,
                    messages=[{"role": "user", "content": f"Tell me a story, take {len(sent)}."}],
                    max_tokens=1 + len(sent) % 4,
                    extra_headers={"X-Request-ID": request.request_id},
                )
            except openai.APIConnectionError:
                continue  # killed under this request, or refused once the server was gone
            completion = raw.parse()
            assert completion.usage is not None
            request.header_id = raw.headers["x-request-id"]
            request.completion_tokens = completion.usage.completion_tokens
            request.answered = True


def load_then_kill(server: RunningServer, key: str) -> list[Sent]:
    """Keep `WORKERS` requests in flight, then `kill -9` the server under them."""
    sent: list[list[Sent]] = [[] for _ in range(WORKERS)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=keep_asking, args=(server, key, i, stop, sent[i]))
        for i in range(WORKERS)
    ]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    while time.monotonic() - started < PATIENCE_S:
        answers = sum(request.answered for requests in sent for request in requests)
        if time.monotonic() - started >= LOAD_S and answers >= ANSWERS_BEFORE_KILL:
            break
        time.sleep(0.05)
    server.process.kill()
    server.process.wait()
    stop.set()
    for thread in threads:
        thread.join()
    return [request for requests in sent for request in requests]


def test_kill_9_mid_load_leaves_exactly_one_record_per_answer(tmp_path: Path) -> None:
    home = tmp_path / "home"
    server = start_server(home)
    with accounts(home, sqlite_url(home)) as books:
        caller = books.tenant_with_key("steady-customer")

    sent = load_then_kill(server, caller.secret)
    restarted = start_server(home)
    try:
        after_restart = outcome(restarted, caller.secret)
    finally:
        restarted.stop()

    rows = usage_records(sqlite_url(home), caller.tenant.id)
    records = Counter(row.request_id for row in rows)
    by_id = {row.request_id: row for row in rows}
    answered = [request for request in sent if request.answered]
    broken = [request for request in sent if not request.answered]
    assert answered and broken, "the kill should land mid-load"
    for request in answered:
        assert request.header_id == request.request_id
        assert records[request.request_id] == 1
        row = by_id[request.request_id]
        assert (row.outcome, row.completion_tokens) == ("completed", request.completion_tokens)
    for request in broken:
        assert records[request.request_id] <= 1
        assert request.request_id not in by_id or by_id[request.request_id].completion_tokens > 0
    assert [row for row in rows if row.completion_tokens == 0 and row.outcome != "completed"] == []
    assert after_restart == OK
    assert len(set(records) - {request.request_id for request in sent}) == 1  # after the restart
