"""What the end-to-end partner tests share: a fake provider on loopback behind a real
`corral serve`, the official SDK pointed at that server, tenants under a data policy, and the
turns a client sends back after a tool call."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import openai
from openai.types.chat import (
    ChatCompletionMessageParam,
    ChatCompletionMessageToolCall,
    ChatCompletionToolParam,
)

from corral.settings import RemoteModelConfig
from tests.accounts_kit import accounts, sdk, sqlite_url
from tests.providers.openai_fake import KEY
from tests.support import ADMIN_KEY, RunningServer, start_server

OPENAI_ENV = {"FAKE_OPENAI_KEY": KEY}
"""The environment of a server whose config reads the fake OpenAI's key (`api_key_env`)."""
GPT_MINI = """
[[models]]
name = "gpt-mini"
tier = "partner"
backend = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
timeout_s = 10
"""
"""The config of a partner model `gpt-mini` on the fake OpenAI at `{url}` (a template)."""


def gpt_mini_config(url: str) -> RemoteModelConfig:
    """`GPT_MINI` for the fake OpenAI at `url`, as the server reads it from its config."""
    (model,) = tomllib.loads(GPT_MINI.format(url=url))["models"]
    return RemoteModelConfig(**model)


class Fake(Protocol):
    """What every fake provider offers: served on loopback, and forgetful between tests."""

    def running(self) -> AbstractContextManager[str]: ...

    def reset(self) -> None: ...


F = TypeVar("F", bound=Fake)


@dataclass
class Partner(Generic[F]):
    """A fake provider, the `corral serve` in front of it, and the operator's SDK on that."""

    fake: F
    server: RunningServer
    sdk: openai.OpenAI

    def fresh(self) -> F:
        """The fake, with what earlier tests sent it and planned for it forgotten."""
        self.fake.reset()
        return self.fake


@contextmanager
def behind_corral(
    fake: F, home: Path, config: str, env: dict[str, str], **fields: str
) -> Iterator[Partner[F]]:
    """`fake` served on loopback behind `corral serve` in `home`, both stopped at the end.

    `config` is a template: `{url}` stands for the fake's base URL, other fields for `fields`.
    """
    with fake.running() as url:
        server = start_server(home, config.format(url=url, **fields), env)
        try:
            with sdk(server, ADMIN_KEY) as client:
                yield Partner(fake, server, client)
        finally:
            server.stop()


def tenant_key(home: Path, name: str, policy: str) -> str:
    """A key of a new tenant under data policy `policy`, made on the server's database."""
    with accounts(home, sqlite_url(home)) as operator:
        tenant = operator.admin.create_tenant(name, policy=policy)
        return operator.key(tenant).secret


def weather_tool(argument: str) -> ChatCompletionToolParam:
    """`get_weather`, taking one string (the fakes fill it in with the user's words)."""
    return {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {"type": "object", "properties": {argument: {"type": "string"}}},
        },
    }


def with_tool_result(
    question: list[ChatCompletionMessageParam], call: ChatCompletionMessageToolCall, result: str
) -> list[ChatCompletionMessageParam]:
    """The conversation a client sends back after a tool call: its question, the assistant's
    call as the model made it, and the tool's answer to that call."""
    return [
        *question,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ]
