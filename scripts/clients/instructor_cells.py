"""instructor's modes against corral (its default is TOOLS)."""

from __future__ import annotations

import instructor
import openai
from common import API_KEY, BASE_URL, MODEL, run_cells
from pydantic import BaseModel


class City(BaseModel):
    name: str
    country: str


def extract(mode: instructor.Mode) -> object:
    client = instructor.from_openai(openai.OpenAI(base_url=BASE_URL, api_key=API_KEY), mode=mode)
    city = client.chat.completions.create(
        model=MODEL,
        response_model=City,
        messages=[{"role": "user", "content": "Rome is a city in Italy. Extract it."}],
        max_tokens=300,
        max_retries=1,
    )
    assert isinstance(city, City)
    return ""


run_cells(
    {
        "TOOLS": lambda: extract(instructor.Mode.TOOLS),
        "JSON": lambda: extract(instructor.Mode.JSON),
        "JSON_SCHEMA": lambda: extract(instructor.Mode.JSON_SCHEMA),
        "MD_JSON": lambda: extract(instructor.Mode.MD_JSON),
    }
)
