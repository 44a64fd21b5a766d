"""Reading OpenAI's answers straight from their JSON: what each field becomes, and a clear
`ValueError` (a malformed answer, to the backend) for any field of the wrong shape."""

from __future__ import annotations

from typing import Any

import pytest

from corral.backends.base import (
    ChatMessage,
    GenerationRequest,
    SamplingParams,
    TextDelta,
    ToolCallDelta,
)
from corral.backends.openai_api import translate


def request(**params: Any) -> GenerationRequest:
    return GenerationRequest(
        request_id="req_t", params=SamplingParams(**params), messages=(ChatMessage("user", "hi"),)
    )


def answer(**message: Any) -> dict[str, Any]:
    return {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                "logprobs": {
                    "content": [
                        {"token": "Hi", "logprob": -0.5, "bytes": [72, 105], "top_logprobs": []}
                    ]
                },
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
    }


def test_an_answer_gives_its_text_usage_tool_calls_and_logprobs() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    wanted = request(logprobs=True)

    result = translate.result(answer(content="Hi", tool_calls=[call]), wanted)

    assert (result.text, result.finish_reason) == ("Hi", "tool_calls")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 2)
    assert result.tool_calls is not None and result.tool_calls[0].name == "f"
    assert result.logprobs is not None and result.logprobs[0].bytes == [72, 105]
    assert (wanted.meter.prompt_tokens, wanted.meter.completion_tokens) == (9, 2)


def test_an_answer_without_usage_is_estimated() -> None:
    body = answer(content="Hello there")
    del body["usage"]
    estimated = request()

    result = translate.result(body, estimated)

    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"choices": []},
        {"choices": "none"},
        {"choices": [{"message": "Hi"}]},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {"content": "Hi"}}], "usage": {"prompt_tokens": "9"}},
        {"choices": [{"message": {"content": "", "tool_calls": [{"function": {"name": 1}}]}}]},
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_value_error(body: Any) -> None:
    with pytest.raises(ValueError):
        translate.result(body, request())


def test_stream_chunks_become_text_tool_call_deltas_and_an_end() -> None:
    state = translate.StreamState()
    tool = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a"'}}

    events = [
        *state.feed({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        *state.feed({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}),
        *state.feed({"choices": [{"index": 0, "delta": {"tool_calls": [tool]}}]}),
        *state.feed({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}),
        *state.feed({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}),
    ]

    assert events == [
        TextDelta("Hi", []),
        ToolCallDelta(index=0, id="call_1", name="f", arguments='{"a"'),
    ]
    assert state.reason == "length"
    assert translate.usage(state.reported, request().meter).completion_tokens == 4


@pytest.mark.parametrize(
    "chunk",
    ["text", {"choices": {}}, {"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]}],
)
def test_a_chunk_of_the_wrong_shape_is_a_value_error(chunk: Any) -> None:
    with pytest.raises(ValueError):
        translate.StreamState().feed(chunk)


def test_embeddings_come_back_in_input_order() -> None:
    body = {
        "data": [{"index": 1, "embedding": [0.2]}, {"index": 0, "embedding": [0.1]}],
        "usage": {"prompt_tokens": 4},
    }

    assert translate.embeddings(body) == ([[0.1], [0.2]], 4)


def test_logit_bias_goes_upstream_as_openai_spells_it() -> None:
    options = translate.Options(model="gpt-4o-mini")

    biased = translate.chat_arguments(request(logit_bias=((15339, -100.0), (9, 5.0))), options)
    plain = translate.chat_arguments(request(), options)

    assert biased["logit_bias"] == {"15339": -100.0, "9": 5.0}
    assert "logit_bias" not in plain
