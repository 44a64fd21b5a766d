"""The Files API through the official OpenAI SDK's `client.files`, against the real app on a
loopback port: upload, list, retrieve, content, delete; each tenant sees only its own files;
a bad training file is refused naming its lines; an oversized one is refused with 413."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from tests.providers.server import serving
from tests.support import in_process_services

MAX_BYTES = 64 * 1024
EXAMPLE = {
    "messages": [
        {"role": "system", "content": "You answer for Acme support."},
        {"role": "user", "content": "My email is jo@example.com, where is my order?"},
        {"role": "assistant", "content": "It ships tomorrow."},
    ]
}
TRAINING = "".join(json.dumps(EXAMPLE) + "\n" for _ in range(3)).encode()


@pytest.fixture(scope="module")
def sdks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, openai.OpenAI]]:
    """An SDK client for each of two tenants, acme and globex."""
    home = tmp_path_factory.mktemp("files-home")
    services = in_process_services(home, files={"max_bytes": MAX_BYTES})
    keys = {}
    for name in ("acme", "globex"):
        services.accounts.admin.create_tenant(name)
        keys[name] = services.accounts.admin.create_key(name, KeySpec())[1]
    with serving(create_app(services)) as url:
        clients = {
            name: openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
            for name, key in keys.items()
        }
        yield clients
        for client in clients.values():
            client.close()
    services.db.close()


def test_a_training_file_is_uploaded_listed_read_and_deleted(
    sdks: dict[str, openai.OpenAI], tmp_path: Path
) -> None:
    acme = sdks["acme"]
    path = tmp_path / "train.jsonl"
    path.write_bytes(TRAINING)

    with path.open("rb") as upload:
        made = acme.files.create(file=upload, purpose="fine-tune")

    assert made.id.startswith("file-") and made.object == "file"
    assert (made.filename, made.bytes, made.purpose) == ("train.jsonl", len(TRAINING), "fine-tune")
    assert made.status == "processed" and made.expires_at is None
    extra: Any = made.model_extra["corral"]  # type: ignore[index]
    assert extra["lines"] == 3 and extra["examples"] == 3
    assert extra["pii"]["status"] == "complete" and extra["pii"]["counts"]["EMAIL"] == 3
    assert "jo@example.com" not in json.dumps(extra)

    again = acme.files.retrieve(made.id)
    assert again.id == made.id and again.created_at == made.created_at
    assert made.id in [f.id for f in acme.files.list(purpose="fine-tune")]
    assert acme.files.content(made.id).content == TRAINING

    deleted = acme.files.delete(made.id)
    assert deleted.id == made.id and deleted.deleted
    with pytest.raises(openai.NotFoundError, match=f"No such File object: {made.id}"):
        acme.files.retrieve(made.id)


def test_the_list_pages_with_after_and_limit(sdks: dict[str, openai.OpenAI]) -> None:
    acme = sdks["acme"]
    ids = {acme.files.create(file=(f"{n}.txt", b"x"), purpose="user_data").id for n in range(3)}

    first = acme.files.list(purpose="user_data", limit=2)
    assert len(first.data) == 2 and first.has_more
    every = [f.id for f in acme.files.list(purpose="user_data", limit=2)]  # the SDK pages on
    assert set(every) == ids and len(every) == 3


def test_a_tenant_never_sees_another_tenants_files(sdks: dict[str, openai.OpenAI]) -> None:
    acme, globex = sdks["acme"], sdks["globex"]
    secret = acme.files.create(file=("plans.txt", b"acme only"), purpose="user_data")

    assert secret.id not in [f.id for f in globex.files.list()]
    for attempt in (
        lambda: globex.files.retrieve(secret.id),
        lambda: globex.files.content(secret.id),
        lambda: globex.files.delete(secret.id),
    ):
        with pytest.raises(openai.NotFoundError, match=f"No such File object: {secret.id}"):
            attempt()
    assert acme.files.content(secret.id).content == b"acme only"


def test_a_bad_training_file_is_refused_naming_its_lines(sdks: dict[str, openai.OpenAI]) -> None:
    acme = sdks["acme"]
    no_answer = {"messages": [{"role": "user", "content": "Hi"}]}
    bad = TRAINING + b"{oops\n" + json.dumps(no_answer).encode()
    before = [f.id for f in acme.files.list()]

    with pytest.raises(openai.BadRequestError) as caught:
        acme.files.create(file=("train.jsonl", io.BytesIO(bad)), purpose="fine-tune")

    error: Any = caught.value.body
    assert error["code"] == "invalid_file" and error["param"] == "file"
    assert "line 4: not valid JSON" in error["message"]
    assert "line 5: no assistant message" in error["message"]
    assert [f.id for f in acme.files.list()] == before


def test_an_unknown_purpose_is_refused(sdks: dict[str, openai.OpenAI]) -> None:
    with pytest.raises(openai.BadRequestError, match="purpose"):
        sdks["acme"].files.create(file=("a.txt", b"x"), purpose="pictures")  # type: ignore[arg-type]


def test_an_evaluation_set_is_counted(sdks: dict[str, openai.OpenAI]) -> None:
    rows = b'{"item": {"q": "2+2?", "a": "4"}}\n{"q": "3+3?", "a": "6"}\n'

    made = sdks["acme"].files.create(file=("set.jsonl", rows), purpose="evals")

    assert made.model_dump()["purpose"] == "evals"  # a purpose the SDK types do not list yet
    extra: Any = made.model_extra["corral"]  # type: ignore[index]
    assert extra["lines"] == 2 and extra["examples"] is None and extra["pii"] is None


# Just over the limit, read until it passes; far over it, refused from its declared length.
@pytest.mark.parametrize("size", [MAX_BYTES + 1, MAX_BYTES + 4 * 1024 * 1024])
def test_a_file_over_the_limit_is_refused_with_413(
    sdks: dict[str, openai.OpenAI], size: int
) -> None:
    acme = sdks["acme"]
    before = [f.id for f in acme.files.list()]

    with pytest.raises(openai.APIStatusError) as caught:
        acme.files.create(file=("big.bin", b"x" * size), purpose="user_data")

    assert caught.value.status_code == 413
    assert f"limit of {MAX_BYTES} bytes" in caught.value.message
    assert [f.id for f in acme.files.list()] == before
