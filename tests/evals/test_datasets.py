"""A tenant marks an eval dataset private: from then on a run that would send its items to a
partner model (as the model under test, or as a judge) is refused unless it says
`allow_private_dataset: true`; a local model runs it as before. The mark belongs to the
dataset's content (another upload of the same bytes is private too) and to its owner."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from corral.accounts.admin import KeySpec
from corral.api.app import create_app
from tests.evals.test_runner import CRITERIA, ITEMS, Capitals
from tests.fakes import EchoBackend
from tests.providers.server import serving
from tests.support import echo_entry, in_process_services

JUDGED = {
    "type": "label_model",
    "name": "judged",
    "model": "gpt-mini",
    "input": [{"role": "user", "content": "Is {{sample.output_text}} a capital?"}],
    "labels": ["yes", "no"],
    "passing_labels": ["yes"],
}


def source(model: str, file_id: str) -> Any:
    return {
        "type": "completions",
        "model": model,
        "source": {"type": "file_id", "id": file_id},
        "input_messages": {
            "type": "template",
            "template": [{"role": "user", "content": "Capital of {{item.country}}"}],
        },
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    local = echo_entry("capitals", backend=Capitals())
    partner = echo_entry("gpt-mini", backend=EchoBackend(), tier="partner", kind="openai")
    services = in_process_services(tmp_path, local, partner)
    keys = {}
    for name in ("acme", "globex"):
        services.accounts.admin.create_tenant(name)
        keys[name] = services.accounts.admin.create_key(name, KeySpec())[1]
    with serving(create_app(services)) as url:
        yield url, keys
    services.db.close()


def test_a_private_dataset_goes_to_a_partner_only_when_the_run_says_so(
    served: tuple[str, dict[str, str]],
) -> None:
    url, keys = served
    with (
        openai.OpenAI(base_url=f"{url}/v1", api_key=keys["acme"], max_retries=0) as sdk,
        httpx.Client(base_url=f"{url}/v1", headers=bearer(keys["acme"])) as http,
    ):
        marked = story(sdk, http)
    with httpx.Client(base_url=f"{url}/v1", headers=bearer(keys["globex"])) as globex:
        # Another tenant's dataset is not found, as its files are not.
        assert globex.post(f"/evals/datasets/{marked}", json={"private": False}).status_code == 404
        assert globex.get(f"/evals/datasets/{marked}").status_code == 404


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def story(sdk: openai.OpenAI, http: httpx.Client) -> str:
    """acme's side; the id of its dataset marked private."""
    lines = "".join(json.dumps(row) + "\n" for row in ITEMS).encode()
    first = sdk.files.create(file=("a.jsonl", io.BytesIO(lines)), purpose="evals")
    assert http.get(f"/evals/datasets/{first.id}").json()["private"] is False

    marked = http.post(f"/evals/datasets/{first.id}", json={"private": True}).json()
    assert marked["object"] == "eval.dataset" and marked["private"] is True
    again = sdk.files.create(file=("b.jsonl", io.BytesIO(lines)), purpose="evals")
    assert http.get(f"/evals/datasets/{again.id}").json()["private"] is True  # same bytes

    plain = sdk.evals.create(
        data_source_config={"type": "custom", "item_schema": {}},
        testing_criteria=CRITERIA,  # type: ignore[arg-type]
    ).id
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk.evals.runs.create(plain, data_source=source("gpt-mini", again.id))
    assert refused.value.code == "private_dataset"
    assert "allow_private_dataset" in refused.value.message
    assert sdk.evals.runs.create(plain, data_source=source("capitals", again.id)).status == "queued"
    allowed = sdk.evals.runs.create(
        plain, data_source=source("gpt-mini", again.id), extra_body={"allow_private_dataset": True}
    )
    assert allowed.status == "queued"

    judged = sdk.evals.create(
        data_source_config={"type": "custom", "item_schema": {}},
        testing_criteria=[JUDGED],  # type: ignore[list-item]
    ).id
    with pytest.raises(openai.PermissionDeniedError):  # the judge would read the items
        sdk.evals.runs.create(judged, data_source=source("capitals", first.id))

    http.post(f"/evals/datasets/{again.id}", json={"private": False})  # both uploads again
    assert sdk.evals.runs.create(plain, data_source=source("gpt-mini", first.id))
    http.post(f"/evals/datasets/{first.id}", json={"private": True})
    return first.id
