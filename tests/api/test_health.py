"""Liveness, readiness, metrics and request ids."""

from __future__ import annotations

import time

import httpx
import openai

from tests.support import ADMIN_KEY, MODEL, RunningServer

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_healthz_and_readyz(server: RunningServer) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json() == {"status": "ok"}

    bare = httpx.get(f"{server.base_url}/readyz")
    tenant = httpx.get(f"{server.base_url}/readyz", headers={"Authorization": "Bearer crl_x"})
    detailed = httpx.get(f"{server.base_url}/readyz", headers=ADMIN)

    assert bare.status_code == tenant.status_code == detailed.status_code == 200
    assert bare.json() == tenant.json() == {"status": "ready"}  # a load balancer needs no more
    assert detailed.json()["models"][MODEL] == "1 instance(s) loaded"
    assert detailed.json()["dependencies"] == {"database": "ok"}


def test_request_id_is_honoured_or_generated(server: RunningServer) -> None:
    given = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "my-trace-123"})
    generated = httpx.get(f"{server.base_url}/healthz")
    too_long = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "t" * 49})

    assert given.headers["x-request-id"] == "my-trace-123"
    assert generated.headers["x-request-id"].startswith("req_")
    assert too_long.headers["x-request-id"].startswith("req_")  # longer than the ledger keeps


def test_request_id_appears_in_the_json_log(server: RunningServer, client: openai.OpenAI) -> None:
    client.models.list(extra_headers={"X-Request-ID": "trace-for-log-test"})

    # The access line is written once the response is sent, so it may trail the client a little.
    deadline = time.monotonic() + 5
    while '"request_id":"trace-for-log-test"' not in server.log_text():
        assert time.monotonic() < deadline, "no log line carries the request id"
        time.sleep(0.05)


def test_metrics_count_requests_and_tokens(server: RunningServer, client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True
    ).close()
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=3
    )

    anonymous = httpx.get(f"{server.base_url}/metrics")
    text = httpx.get(f"{server.base_url}/metrics", headers=ADMIN).text

    assert anonymous.status_code == 401  # [ops] public_metrics is off by default

    assert 'corral_requests_total{method="POST",route="/v1/chat/completions",status="200"}' in text
    assert f'corral_tokens_total{{direction="output",model="{MODEL}"}}' in text
    assert "corral_request_duration_seconds_bucket" in text
    assert f'corral_queue_depth{{model="{MODEL}"}} 0.0' in text
    assert "corral_time_to_first_token_seconds" in text
    assert f'corral_engine_active_sequences{{model="{MODEL}"}} 0.0' in text
    assert f'corral_engine_queue_wait_seconds_count{{model="{MODEL}"}}' in text
    assert f'corral_engine_cached_prompt_tokens_total{{model="{MODEL}"}}' in text
    assert f'corral_engine_prefix_restores_total{{model="{MODEL}"}} 0.0' in text
    assert f'corral_engine_kv_cache_full_total{{model="{MODEL}"}} 0.0' in text
