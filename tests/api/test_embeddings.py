"""Embeddings from the embedded model, as floats and as base64; an abandoned request stops."""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from corral.storage.tables import UsageRecord
from tests.accounts_kit import Accounts, accounts, sdk, sqlite_url, usage_records
from tests.support import MODEL, RunningServer, start_server


@pytest.mark.parametrize("ids", [[15339, 1917], [[15339, 1917], [9906]]])
def test_token_ids_are_refused_naming_the_cause_and_the_langchain_setting(
    client: openai.OpenAI, ids: list[int] | list[list[int]]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(model=MODEL, input=ids)

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "input"
    assert "token ids" in body["message"] and "check_embedding_ctx_length=False" in body["message"]


def test_one_vector_per_input_normalised(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model=MODEL, input=["a red apple", "the stock market"])

    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == len(result.data[1].embedding) > 100
    assert math.sqrt(sum(x * x for x in result.data[0].embedding)) == pytest.approx(1, abs=1e-4)
    assert result.usage.prompt_tokens > 0
    assert result.data[0].embedding != result.data[1].embedding


def test_base64_decodes_to_the_float_vector(client: openai.OpenAI) -> None:
    as_floats = client.embeddings.create(model=MODEL, input="hello", encoding_format="float")
    raw = client.with_raw_response.embeddings.create(
        model=MODEL, input="hello", encoding_format="base64"
    )

    encoded = raw.http_response.json()["data"][0]["embedding"]
    decoded = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
    assert decoded.tolist() == pytest.approx(as_floats.data[0].embedding, abs=1e-6)


def test_similar_texts_are_closer(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model=MODEL, input=["I love cats", "I adore cats", "Quarterly tax filing deadline"]
    )
    cat, kitty, tax = (np.array(d.embedding) for d in result.data)

    assert float(cat @ kitty) > float(cat @ tax)


# -- a request abandoned midway ---------------------------------------------------------------

SENTENCE = "The quick brown fox jumps over the lazy dog while the cat watches from the window. "
LONG_INPUT = SENTENCE * 4
"""About a second to embed on a small CPU."""
TOKENS_PER_INPUT = 69


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embeddings-e2e")


@pytest.fixture(scope="module")
def tenants(home: Path) -> Iterator[Accounts]:
    with accounts(home, sqlite_url(home)) as books:
        yield books


@pytest.fixture(scope="module")
def gateway(home: Path) -> Iterator[RunningServer]:
    running = start_server(home)
    yield running
    running.stop()


def abandon(server: RunningServer, key: str, inputs: list[str], after_s: float) -> None:
    """Send an embeddings request and hang up after `after_s`, as a client with a timeout."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{server.base_url}/v1/embeddings",
            headers={"Authorization": f"Bearer {key}"},
            json={"model": MODEL, "input": inputs},
            timeout=httpx.Timeout(30, read=after_s),
        )


def test_an_abandoned_request_stops_frees_the_model_and_bills_what_it_embedded(
    gateway: RunningServer, tenants: Accounts, home: Path
) -> None:
    leaver, other = tenants.tenant_with_key("leaver"), tenants.tenant_with_key("other")
    with sdk(gateway, other.secret) as client:
        one_input_s = timed(lambda: client.embeddings.create(model=MODEL, input=LONG_INPUT))
        abandon(gateway, leaver.secret, [LONG_INPUT] * 16, after_s=1.5)
        waited = timed(lambda: client.embeddings.create(model=MODEL, input="right after"))

    # Not behind the other 15 inputs: at most the one in progress was finished.
    assert waited < 3 * one_input_s + 1
    records = usage_records_once(home, leaver.tenant.id)
    assert [r.outcome for r in records] == ["cancelled"]
    assert 0 < records[0].prompt_tokens < 16 * TOKENS_PER_INPUT


def timed(call: Callable[[], object]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def usage_records_once(home: Path, tenant_id: str, within_s: float = 5.0) -> list[UsageRecord]:
    """The tenant's ledger rows once there are any (a cancelled request settles as it stops)."""
    deadline = time.monotonic() + within_s
    while not (records := usage_records(sqlite_url(home), tenant_id)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return records
