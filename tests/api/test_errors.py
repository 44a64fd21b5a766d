"""Bad requests get OpenAI's error envelope with the right status, and the server keeps serving."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from tests.support import ADMIN_KEY, MODEL, RunningServer

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def post(server: RunningServer, path: str, **kwargs: Any) -> httpx.Response:
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return httpx.post(f"{server.base_url}{path}", headers=headers, timeout=60, **kwargs)


def assert_envelope(response: httpx.Response, status: int, **expected: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    for key, value in expected.items():
        assert error[key] == value, error
    return error


def test_missing_key_is_401(server: RunningServer) -> None:
    response = httpx.post(
        f"{server.base_url}/v1/chat/completions", json={"model": MODEL, "messages": HELLO}
    )

    assert_envelope(response, 401, code="missing_api_key")


def test_wrong_key_is_401_and_not_echoed(server: RunningServer) -> None:
    bad = openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="sk-wrong-secret", max_retries=0)

    with bad, pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()

    assert "sk-wrong-secret" not in str(caught.value.body)
    assert "sk-wrong-secret" not in server.log_text()


def test_body_that_is_not_json_is_400(server: RunningServer) -> None:
    response = post(server, "/v1/chat/completions", content=b"{not json")

    assert_envelope(response, 400, type="invalid_request_error", code="invalid_json")


def test_invalid_utf8_is_400(server: RunningServer) -> None:
    body = (
        b'{"model": "' + MODEL.encode() + b'", "messages": [{"role": "user", "content": "\xff"}]}'
    )

    response = post(server, "/v1/chat/completions", content=body)

    assert_envelope(response, 400, code="invalid_json")


def test_json_that_is_not_an_object_is_400(server: RunningServer) -> None:
    assert_envelope(post(server, "/v1/chat/completions", json=[1, 2]), 400)


def test_missing_parameter_is_named(server: RunningServer) -> None:
    response = post(server, "/v1/chat/completions", json={"model": MODEL})

    error = assert_envelope(response, 400, param="messages")
    assert "messages" in error["message"]


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("temperature", "hot", "temperature"),
        ("max_tokens", -5, "max_tokens"),
        ("max_tokens", "10", "max_tokens"),
        ("messages", [{"role": "user", "content": 42}], "messages[0].content"),
        ("messages", [{"role": "robot", "content": "x"}], "messages[0].role"),
        ("top_logprobs", 50, "top_logprobs"),
        ("stop", ["a", "b", "c", "d", "e"], "stop"),
        ("n", 2, "n"),
        ("stream", "yes", "stream"),
    ],
)
def test_wrong_values_are_400_naming_the_param(
    server: RunningServer, field: str, value: Any, param: str
) -> None:
    body = {"model": MODEL, "messages": HELLO, "max_tokens": 2, field: value}
    if field == "top_logprobs":
        body["logprobs"] = True

    response = post(server, "/v1/chat/completions", json=body)

    assert_envelope(response, 400, type="invalid_request_error", param=param)


def test_unknown_fields_are_tolerated(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=2,
        extra_body={"some_future_option": {"x": 1}},
    )

    assert completion.choices[0].message.content is not None


def test_prompt_beyond_the_context_window_is_400(client: openai.OpenAI) -> None:
    too_long = "hello " * 9000

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": too_long}], max_tokens=5
        )

    assert caught.value.code == "context_length_exceeded"
    assert "8192" in caught.value.message


def test_body_over_the_limit_is_413(server: RunningServer) -> None:
    fifty_mb = b'{"model": "x", "messages": [], "pad": "' + b"x" * (50 * 1024 * 1024) + b'"}'

    response = post(server, "/v1/chat/completions", content=fifty_mb)

    assert_envelope(response, 413, code="request_too_large")


def test_body_over_the_limit_without_length_is_413(server: RunningServer) -> None:
    def chunks() -> Any:
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    response = post(server, "/v1/chat/completions", content=chunks())

    assert_envelope(response, 413, code="request_too_large")


def test_unknown_route_is_404_envelope_naming_the_url_as_openai(server: RunningServer) -> None:
    # OpenAI's wording: LangChain reads a bare "Not Found" as a missing model.
    posted = post(server, "/v1/responses-not-here", json={})
    fetched = httpx.get(f"{server.base_url}/v1/nothing/here", headers=AUTH)

    assert_envelope(posted, 404, message="Invalid URL (POST /v1/responses-not-here)", code=None)
    assert_envelope(fetched, 404, message="Invalid URL (GET /v1/nothing/here)")


def test_unknown_route_through_the_sdk_is_not_found_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.post("/nothing-here", body={}, cast_to=object)

    assert caught.value.message.endswith("Invalid URL (POST /v1/nothing-here)")


def test_server_still_serves_after_bad_requests(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2)

    assert completion.usage is not None and completion.usage.completion_tokens == 2


def test_n_above_one_is_a_400_that_says_how_to_get_several_choices(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=2, n=3)

    body: dict[str, Any] = caught.value.body  # type: ignore[assignment]
    assert body["param"] == "n"
    assert "'n' 3 is not supported" in body["message"] and "once per choice" in body["message"]
