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

import pytest

from tests.accounts_kit import sdk
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.partner_kit import GPT_MINI, OPENAI_ENV, Partner, behind_corral, tenant_key

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "privacy" / "handwritten"
STRUCTURED = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")
MAX_LEAK_SHARE = 0.03


def corpus() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for lang in ("en", "de"):
        lines = (CORPUS / f"{lang}.jsonl").read_text("utf-8").splitlines()
        rows += [json.loads(line) for line in lines]
    return rows


@pytest.fixture(scope="module")
def partner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Partner[OpenAIFake]]:
    home = tmp_path_factory.mktemp("privacy-corpus")
    with behind_corral(OpenAIFake(keys=(KEY,)), home, GPT_MINI, OPENAI_ENV) as partner:
        yield partner


def verbatim(value: str, sent: str) -> bool:
    """Whether value stands in sent as a whole word or number (not inside a longer one)."""
    return re.search(rf"(?<!\w){re.escape(value)}(?!\w)", sent) is not None


def test_the_handwritten_corpus_reaches_the_partner_masked(
    partner: Partner[OpenAIFake],
) -> None:
    provider = partner.fresh()
    key = tenant_key(partner.server.home, "corpus", "pseudonymize")
    rows = corpus()
    with sdk(partner.server, key) as client:
        for row in rows:
            client.chat.completions.create(
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
