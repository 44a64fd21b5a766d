"""The hand-written privacy corpus end to end: every text sent through `corral serve` to a
partner model under `pseudonymize`, and what the recording fake provider received read for
the labelled values. A value that arrives verbatim has leaked."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from corral.accounts.admin import AccountsAdmin, KeySpec
from corral.accounts.keys import key_hasher
from corral.settings import load_settings
from corral.storage import open_database
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.server import serving
from tests.support import RunningServer, start_server

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "privacy" / "handwritten"
CONFIG = """
[[models]]
name = "gpt-mini"
tier = "partner"
backend = "openai"
base_url = "{url}/v1"
api_key_env = "FAKE_OPENAI_KEY"
upstream_model = "gpt-4o-mini"
timeout_s = 10
"""
STRUCTURED = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")
MAX_LEAK_SHARE = 0.03


def corpus() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for lang in ("en", "de"):
        lines = (CORPUS / f"{lang}.jsonl").read_text("utf-8").splitlines()
        rows += [json.loads(line) for line in lines]
    return rows


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenAIFake]:
    fake = OpenAIFake(keys=(KEY,))
    with serving(fake.app) as url:
        fake.url = url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, provider: OpenAIFake
) -> Iterator[RunningServer]:
    home = tmp_path_factory.mktemp("privacy-corpus")
    config = CONFIG.format(url=provider.url)  # type: ignore[attr-defined]
    running = start_server(home, config, {"FAKE_OPENAI_KEY": KEY})
    yield running
    running.stop()


def tenant_key(home: Path, name: str, policy: str) -> str:
    db = open_database(load_settings(home=home, embedded_model=False))
    try:
        admin = AccountsAdmin(db, key_hasher(home, None))
        tenant = admin.create_tenant(name, policy=policy)
        return admin.create_key(tenant.id, KeySpec())[1]
    finally:
        db.close()


def verbatim(value: str, sent: str) -> bool:
    """Whether value stands in sent as a whole word or number (not inside a longer one)."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", sent) is not None


def test_the_handwritten_corpus_reaches_the_partner_masked(
    server: RunningServer, provider: OpenAIFake
) -> None:
    provider.reset()
    key = tenant_key(server.home, "corpus", "pseudonymize")
    rows = corpus()
    with openai.OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0) as sdk:
        for row in rows:
            sdk.chat.completions.create(
                model="gpt-mini", messages=[{"role": "user", "content": row["text"]}]
            )

    bodies = provider.bodies()
    assert len(bodies) == len(rows)
    labelled: Counter[str] = Counter()
    leaked: Counter[str] = Counter()
    examples = []
    for row, body in zip(rows, bodies, strict=True):
        sent = body["messages"][-1]["content"]
        for span in row["spans"]:
            value = row["text"][span["start"] : span["end"]]
            labelled[span["label"]] += 1
            if verbatim(value, sent):
                leaked[span["label"]] += 1
                examples.append((span["label"], value))
    share = sum(leaked.values()) / sum(labelled.values())
    assert share <= MAX_LEAK_SHARE, (share, examples)
    assert all(leaked[c] == 0 for c in STRUCTURED), examples
    assert sum(labelled.values()) > 500  # the whole corpus went through, not a sample
