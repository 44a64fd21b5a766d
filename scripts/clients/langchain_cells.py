"""langchain-openai's ChatOpenAI and OpenAIEmbeddings against corral."""

from __future__ import annotations

from common import API_KEY, BASE_URL, EMBEDDING_MODEL, MODEL, run_cells
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel


class City(BaseModel):
    name: str
    country: str


@tool
def get_weather(city: str) -> str:
    """The current weather in a city."""
    return "sunny"


def llm(**extra: object) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, base_url=BASE_URL, api_key=API_KEY, max_tokens=60, **extra)


def invoke() -> str:
    assert llm().invoke("Say hello.").content
    return ""


def stream() -> str:
    assert "".join(str(c.content) for c in llm().stream("Say hello."))
    return ""


def bind_tools() -> str:
    message = llm().bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")
    return message.tool_calls[0]["name"]


def structured(method: str) -> str:
    city = llm().with_structured_output(City, method=method).invoke("Rome is in Italy.")
    assert isinstance(city, City)
    return ""


def responses_api() -> str:
    assert llm(use_responses_api=True).invoke("Say hello.").content
    return ""


def embeddings() -> str:
    model = OpenAIEmbeddings(
        model=EMBEDDING_MODEL, base_url=BASE_URL, api_key=API_KEY, check_embedding_ctx_length=False
    )
    return f"{len(model.embed_query('hello'))} dims"


run_cells(
    {
        "invoke": invoke,
        "stream": stream,
        "bind_tools": bind_tools,
        "structured output (function_calling)": lambda: structured("function_calling"),
        "structured output (json_schema)": lambda: structured("json_schema"),
        "use_responses_api": responses_api,
        "embeddings": embeddings,
    }
)
