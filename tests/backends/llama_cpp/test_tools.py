"""How a local model is asked for tool calls, and how its answer is read back."""

from __future__ import annotations

import json

import pytest

from corral.backends.base import ChatMessage, SamplingParams, ToolCall, ToolSpec
from corral.backends.llama_cpp import tools
from corral.errors import InvalidRequest

WEATHER = ToolSpec("get_weather", "Weather in a city.", {"type": "object"})
TIME = ToolSpec("get_time", None, None)


def test_no_plan_without_tools_or_with_tool_choice_none() -> None:
    assert tools.plan(SamplingParams()) is None
    assert tools.plan(SamplingParams(tools=(WEATHER,), tool_choice="none")) is None


def test_a_named_choice_offers_only_that_function() -> None:
    plan = tools.plan(SamplingParams(tools=(WEATHER, TIME), tool_choice="get_time"))

    assert plan is not None
    offered = plan.schema["properties"]["tool_call"]["anyOf"]
    assert [o["properties"]["name"]["const"] for o in offered] == ["get_time"]
    assert "You must call the function 'get_time'." in plan.instructions


def test_an_unknown_named_function_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="no function named 'nope'"):
        tools.plan(SamplingParams(tools=(WEATHER,), tool_choice="nope"))


def test_auto_with_a_response_format_answers_json_directly() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    plan = tools.plan(SamplingParams(tools=(WEATHER,), json_schema=schema))

    assert plan is not None and plan.response_is_json
    answer = tools.read('{"response": {"a": 3}}', "stop", plan)
    assert json.loads(answer.text) == {"a": 3} and answer.tool_calls is None


def test_a_call_is_read_as_an_openai_tool_call() -> None:
    plan = tools.plan(SamplingParams(tools=(WEATHER,)))
    assert plan is not None

    answer = tools.read(
        '{"tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}}', "stop", plan
    )

    assert answer.finish_reason == "tool_calls" and answer.text == ""
    assert answer.tool_calls is not None
    assert answer.tool_calls[0].name == "get_weather"
    assert json.loads(answer.tool_calls[0].arguments) == {"city": "Oslo"}


def test_an_answer_cut_short_is_returned_as_written() -> None:
    plan = tools.plan(SamplingParams(tools=(WEATHER,)))
    assert plan is not None

    answer = tools.read('{"response": "It is', "length", plan)

    assert answer.text == '{"response": "It is' and answer.finish_reason == "length"


def test_history_shows_calls_as_json_and_results_as_user_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"city": "Oslo"}')
    history = [
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Weather in Oslo?"),
        ChatMessage("assistant", "", (call,)),
        ChatMessage("tool", "rainy", tool_call_id="call_1"),
    ]

    rendered = tools.render(history, tools.plan(SamplingParams(tools=(WEATHER,))))

    assert rendered[0]["role"] == "system"
    assert rendered[0]["content"].startswith("Be brief.\n\nYou can call these functions")
    assert json.loads(rendered[2]["content"]) == {
        "tool_call": {"name": "get_weather", "arguments": {"city": "Oslo"}}
    }
    assert rendered[3] == {
        "role": "user",
        "content": "Result of get_weather (call call_1):\nrainy",
    }
