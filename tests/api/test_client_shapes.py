"""The request bodies third-party clients send, as they send them (raw HTTP, no SDK between).

Written after the bodies these clients build in their own code: lm-evaluation-harness 0.4.13
(`local-completions` loglikelihood: token-id prompts in a batch, `max_tokens: 1`, `echo`),
instructor 1.17 (TOOLS mode: a forced function named after the model), langchain-openai 1.8
(`bind_tools(tool_choice="any")`, `use_responses_api`). The clients themselves run against
corral in `scripts/clients_check.py`; these keep their shapes in CI without the libraries.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import ADMIN_KEY, MODEL, RunningServer

CITY = {
    "properties": {
        "name": {"title": "Name", "type": "string"},
        "country": {"title": "Country", "type": "string"},
    },
    "required": ["name", "country"],
    "type": "object",
}


@pytest.fixture(scope="module")
def http(server: RunningServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=120) as client:
        yield client


def test_lm_eval_loglikelihood_batches_get_one_scored_choice_per_prompt(
    http: httpx.Client,
) -> None:
    context = [19842, 42, 1780, 3680, 314, 260, 7205, 30, 198, 19468, 42]
    batch = [[*context, option] for option in (3529, 3637, 2243, 9528)]
    body = {
        "model": MODEL,
        "prompt": batch,
        "temperature": 0,
        "max_tokens": 1,
        "logprobs": 1,
        "seed": 1234,
        "echo": True,
    }

    answer = http.post("/v1/completions", json=body).json()

    choices = sorted(answer["choices"], key=lambda c: c["index"])
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    for prompt, choice in zip(batch, choices, strict=True):
        logprobs = choice["logprobs"]
        # lm-eval reads token_logprobs[len(context):-1]: the prompt's own, then one more.
        assert len(logprobs["token_logprobs"]) == len(prompt) + 1
        assert logprobs["token_logprobs"][0] is None
        assert all(lp is not None for lp in logprobs["token_logprobs"][1:])


def test_instructor_tools_mode_gets_its_forced_function_called(http: httpx.Client) -> None:
    body: dict[str, Any] = {
        "messages": [{"role": "user", "content": "Rome is a city in Italy. Extract it."}],
        "model": MODEL,
        "max_tokens": 80,
        "temperature": 0,  # sampled, the 135M model can fill max_tokens inside an argument
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "City",
                    "description": "Correctly extracted `City` with all the required "
                    "parameters with correct types",
                    "parameters": CITY,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "City"}},
    }

    message = http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]

    assert message["tool_calls"][0]["function"]["name"] == "City"
    assert message["tool_calls"][0]["type"] == "function"


def test_langchain_bind_tools_with_any_is_answered_with_a_call(http: httpx.Client) -> None:
    body: dict[str, Any] = {
        "messages": [{"content": "Weather in Paris?", "role": "user"}],
        "model": MODEL,
        "max_tokens": 60,
        "temperature": 0,  # sampled, the 135M model can fill max_tokens inside an argument
        "stream": False,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "The current weather in a city.",
                    "parameters": {
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                        "type": "object",
                    },
                },
            }
        ],
        "tool_choice": "required",
    }

    answer = http.post("/v1/chat/completions", json=body).json()

    assert answer["choices"][0]["finish_reason"] == "tool_calls"


def test_langchain_responses_api_body_is_answered(http: httpx.Client) -> None:
    body = {
        "model": MODEL,
        "max_output_tokens": 40,
        "stream": False,
        "input": [{"content": "Say hello.", "role": "user", "type": "message"}],
    }

    answer = http.post("/v1/responses", json=body).json()

    assert answer["object"] == "response"
    assert answer["output"][0]["content"][0]["type"] == "output_text"
