"""litellm as a client library against corral (an OpenAI-compatible base URL)."""

from __future__ import annotations

import json

import litellm
from common import API_KEY, BASE_URL, EMBEDDING_MODEL, MODEL, run_cells

ROUTE = {"model": f"openai/{MODEL}", "api_base": BASE_URL, "api_key": API_KEY}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def completion() -> str:
    assert litellm.completion(messages=ASK, max_tokens=10, **ROUTE).choices[0].message.content
    return ""


def stream() -> str:
    chunks = list(litellm.completion(messages=ASK, max_tokens=10, stream=True, **ROUTE))
    assert chunks
    return ""


def tools() -> str:
    answer = litellm.completion(
        messages=ASK, tools=[TOOL], tool_choice="required", max_tokens=80, **ROUTE
    )
    call = answer.choices[0].message.tool_calls[0]
    json.loads(call.function.arguments)
    return call.function.name


def embedding() -> str:
    route = {**ROUTE, "model": f"openai/{EMBEDDING_MODEL}"}
    return f"{len(litellm.embedding(input=['hello'], **route).data[0]['embedding'])} dims"


def responses() -> str:
    answer = litellm.responses(input="Say hello.", max_output_tokens=20, **ROUTE)
    assert answer.output
    return ""


run_cells(
    {
        "completion": completion,
        "stream": stream,
        "tools": tools,
        "embedding": embedding,
        "responses": responses,
    }
)
