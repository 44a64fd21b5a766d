"""The official openai SDK's common paths against corral."""

from __future__ import annotations

import json

import openai
from common import API_KEY, BASE_URL, EMBEDDING_MODEL, MODEL, run_cells
from pydantic import BaseModel

client = openai.OpenAI(base_url=BASE_URL, api_key=API_KEY)
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
        },
    },
}


class City(BaseModel):
    name: str
    country: str


def chat() -> str:
    answer = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=10)
    assert answer.choices[0].message.content
    return ""


def stream() -> str:
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=ASK,
            max_tokens=10,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None
    return ""


def parse() -> str:
    parsed = client.beta.chat.completions.parse(
        model=MODEL,
        messages=[{"role": "user", "content": "A city in Italy?"}],
        response_format=City,
        max_tokens=60,
    )
    assert isinstance(parsed.choices[0].message.parsed, City)
    return ""


def tools() -> str:
    answer = client.chat.completions.create(
        model=MODEL, messages=ASK, tools=[TOOL], tool_choice="required", max_tokens=80
    )
    call = answer.choices[0].message.tool_calls[0]
    json.loads(call.function.arguments)
    return call.function.name


def embeddings() -> str:
    vectors = client.embeddings.create(model=EMBEDDING_MODEL, input=["a", "b"])
    return f"{len(vectors.data[0].embedding)} dims"


def responses() -> str:
    answer = client.responses.create(model=MODEL, input="Say hello.", max_output_tokens=20)
    assert answer.output_text
    return ""


def responses_stream() -> str:
    with client.responses.stream(model=MODEL, input="Say hi.", max_output_tokens=300) as events:
        assert events.get_final_response().output_text
    return ""


def scoring() -> str:
    scored = client.completions.create(
        model=MODEL, prompt="The sky is blue", echo=True, logprobs=1, max_tokens=0
    )
    assert scored.choices[0].logprobs.token_logprobs[0] is None
    return ""


run_cells(
    {
        "chat": chat,
        "stream": stream,
        "structured output (parse)": parse,
        "tools": tools,
        "embeddings": embeddings,
        "responses": responses,
        "responses stream": responses_stream,
        "scoring (echo)": scoring,
    }
)
