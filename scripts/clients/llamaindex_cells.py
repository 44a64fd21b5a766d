"""llama-index's OpenAILike against corral."""

from __future__ import annotations

from common import API_KEY, BASE_URL, MODEL, run_cells
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai_like import OpenAILike


def get_weather(city: str) -> str:
    """The current weather in a city."""
    return "sunny"


llm = OpenAILike(
    model=MODEL,
    api_base=BASE_URL,
    api_key=API_KEY,
    is_chat_model=True,
    is_function_calling_model=True,
    max_tokens=60,
    context_window=8192,
)


def complete() -> str:
    assert llm.complete("Say hello.").text
    return ""


def chat() -> str:
    assert llm.chat([ChatMessage(role="user", content="Say hello.")]).message.content
    return ""


def stream_chat() -> str:
    pieces = list(llm.stream_chat([ChatMessage(role="user", content="Say hello.")]))
    assert pieces
    return ""


def function_calling() -> str:
    tool = FunctionTool.from_defaults(fn=get_weather)
    response = llm.chat_with_tools([tool], user_msg="Weather in Paris?", tool_required=True)
    calls = llm.get_tool_calls_from_response(response, error_on_no_tool_call=True)
    return calls[0].tool_name


run_cells(
    {
        "complete": complete,
        "chat": chat,
        "stream_chat": stream_chat,
        "function calling": function_calling,
    }
)
