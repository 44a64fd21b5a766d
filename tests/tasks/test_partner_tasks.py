"""The three tasks on a partner model, over HTTP to a fake OpenAI that reads what it is sent.

A task makes many calls for one request (chunks, merges, picks). Under `pseudonymize` each
call must carry its own text, masked with its own mapping, the partner's answer must come back
with the values restored, and each call must leave one audit row.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from corral.accounts.admin import KeySpec
from corral.api.tasks.protocol import ExplainRequest, SummarizeRequest, TipsRequest
from corral.api.tasks.serving import TaskServing
from corral.backends import factories
from corral.pipeline.gateway import RequestContext
from corral.services import Services
from corral.tasks.explain import PICK_TOKENS
from corral.tasks.quality import feed_score, score, totals
from tests.providers.openai_fake import KEY, OpenAIFake
from tests.providers.partner_kit import gpt_mini_config
from tests.support import echo_entry, in_process_services
from tests.tasks.test_explain_fast import HANDWRITTEN, rules_answer, truth

PLACEHOLDER = re.compile(r"\[(?:PERSON|EMAIL|PHONE|IBAN|CARD|IP|ADDRESS|DOB)_\d+\]")
HANDWRITTEN_FEEDS = sorted((Path(__file__).parent / "fixtures" / "handwritten").glob("*.feed"))
EMAIL = re.compile(r"guest\d+@example\.org")
Answer = Callable[[dict[str, Any]], str | None]


@dataclass
class Partner:
    tasks: TaskServing
    ctx: RequestContext
    fake: OpenAIFake
    services: Services

    def bodies(self) -> list[dict[str, Any]]:
        return list(self.fake.bodies())

    def user_texts(self) -> list[str]:
        return [b["messages"][-1]["content"] for b in self.bodies()]


@pytest.fixture(scope="module")
def provider() -> Iterator[tuple[OpenAIFake, str]]:
    fake = OpenAIFake(keys=(KEY,))
    with fake.running() as url:
        yield fake, url


@pytest.fixture
async def partner(
    tmp_path: Path, provider: tuple[OpenAIFake, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Partner]:
    fake, url = provider
    fake.reset()
    monkeypatch.setenv("FAKE_OPENAI_KEY", KEY)
    backend = factories.build(gpt_mini_config(url)).backend
    entry = echo_entry(
        "gpt-mini", tier="partner", kind="openai", backend=backend, context_length=1200
    )
    services = in_process_services(tmp_path, entry)
    services.accounts.admin.create_tenant("acme", policy="pseudonymize")
    _, key = services.accounts.admin.create_key("acme", KeySpec())
    ctx = RequestContext("req_task", await services.authenticator.authenticate("Bearer " + key))
    yield Partner(TaskServing(services.gateway), ctx, fake, services)
    fake.answer_with = None
    await backend.close()
    await services.ledger.aclose()
    services.db.close()


def assert_nothing_in_the_clear(partner: Partner) -> None:
    sent = json.dumps(partner.bodies())
    assert not EMAIL.search(sent), "an e-mail address reached the partner"
    assert "+49 30 555" not in sent, "a phone number reached the partner"


def assert_one_audit_row_per_call(partner: Partner) -> None:
    rows = partner.services.audit.events(limit=1000)
    bodies = partner.bodies()
    assert len(rows) == len(bodies)
    assert {row.request_id for row in rows} == {"req_task"}
    # Each row counts what its own call carried (calls may run concurrently: compared as bags).
    audited = sorted(row.pii.get("EMAIL", 0) for row in rows)
    carried = sorted(json.dumps(b["messages"]).count("[EMAIL_") for b in bodies)
    assert audited == carried


def first(pattern: str, text: str) -> str:
    found = re.search(pattern, text)
    assert found is not None, f"{pattern!r} not in what the partner received"
    return found.group(0)


def pick(body: dict[str, Any]) -> bool:
    """A call that asks which messages of a chunk matter (explain-conversation's map step)."""
    return body.get("max_completion_tokens", body.get("max_tokens")) == PICK_TOKENS


def contact(i: int) -> str:
    return f"write to guest{i}@example.org or call +49 30 555{i:04d}"


async def test_summarize_sends_each_chunk_masked_and_restores_the_merged_answer(
    partner: Partner,
) -> None:
    def answer(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        text = "Contact " + first(r"\[EMAIL_\d+\]", user)
        post = first(r"p\d+", user)
        return json.dumps({"topics": [{"title": "Trip", "points": [
            {"text": text, "post_ids": [post]}]}]})  # fmt: skip

    partner.fake.answer_with = answer
    posts = [
        {"id": f"p{i}", "author": f"user{i}", "text": f"The lake trip, {contact(i)}."}
        for i in range(1, 41)
    ]

    result = await partner.tasks.summarize(
        partner.ctx, SummarizeRequest(model="gpt-mini", posts=posts, mode="thorough")
    )

    chunks = result["meta"]["chunks"]
    assert chunks > 2
    mapped = partner.user_texts()[:chunks]
    assert len(set(mapped)) == chunks, "a chunk was sent twice"
    ids = [set(re.findall(r"^\[(p\d+)\]", text, re.MULTILINE)) for text in mapped]
    assert set().union(*ids) == {f"p{i}" for i in range(1, 41)}  # every post sent once
    assert sum(len(i) for i in ids) == 40
    for text, sent_ids in zip(mapped, ids, strict=True):  # its own mapping: numbered from 1
        assert text.count("[EMAIL_") == len(sent_ids)
        assert "[EMAIL_1]" in text
    assert_nothing_in_the_clear(partner)
    point = result["topics"][0]["points"][0]["text"]
    assert EMAIL.search(point) and "[EMAIL_" not in point  # restored, through the merges
    assert_one_audit_row_per_call(partner)


async def test_explain_conversation_picks_per_chunk_and_restores_the_explanation(
    partner: Partner,
) -> None:
    def answer(body: dict[str, Any]) -> str:
        user = body["messages"][-1]["content"]
        if pick(body):  # a chunk: name its first message
            return json.dumps({"ids": [int(first(r"\[(\d+)\]", user)[1:-1])]})
        email = first(r"\[EMAIL_\d+\]", user)
        return json.dumps(
            {"explanation": f"Everyone writes to {email}.", "decisions": [], "open_questions": []}
        )

    partner.fake.answer_with = answer
    messages = [
        {"author": "Anna" if i % 2 else "Ben", "text": f"About the trip, {contact(i)}."}
        for i in range(1, 201)
    ]

    result = await partner.tasks.explain(
        partner.ctx, ExplainRequest(model="gpt-mini", messages=messages, mode="thorough")
    )

    picks = [t for b, t in zip(partner.bodies(), partner.user_texts(), strict=True) if pick(b)]
    assert len(picks) >= result["meta"]["chunks"] > 2  # a chunk may be asked in halves
    assert len(set(picks)) == len(picks), "a chunk was sent twice"
    first_round: list[int] = []  # then a round over the picked messages, if still too long
    for text in picks:
        if len(first_round) < 200:
            first_round += [int(n) for n in re.findall(r"^\[(\d+)\]", text, re.MULTILINE)]
    assert sorted(first_round) == list(range(1, 201))  # every message sent, once
    assert_nothing_in_the_clear(partner)
    assert EMAIL.search(result["explanation"]) and "[EMAIL_" not in result["explanation"]
    assert_one_audit_row_per_call(partner)


async def test_creator_tips_send_facts_not_posts_and_are_audited(partner: Partner) -> None:
    def answer(body: dict[str, Any]) -> str:
        fact = first(r"^\[([a-z_0-9]+)\]", body["messages"][-1]["content"])[1:-1]
        return json.dumps({"tips": [{"text": "Post at the same hour.", "fact_ids": [fact]}]})

    partner.fake.answer_with = answer
    posts = [
        {"id": f"p{i}", "time": f"2026-10-{i + 1:02d}T18:00:00Z", "format": "video",
         "views": 1000 + i, "likes": 100 + i, "comments": 10, "shares": 5,
         "text": f"Giveaway! {contact(i)}"}
        for i in range(12)
    ]  # fmt: skip

    result = await partner.tasks.tips(partner.ctx, TipsRequest(model="gpt-mini", posts=posts))

    assert len(partner.bodies()) == 1
    assert_nothing_in_the_clear(partner)  # the posts' texts never leave: only computed facts
    assert "Giveaway" not in json.dumps(partner.bodies())
    facts = {fact["id"] for fact in result["facts"]}
    assert result["tips"][0]["fact_ids"][0] in facts
    assert_one_audit_row_per_call(partner)


async def test_explain_conversation_fast_sends_only_the_findings_masked(partner: Partner) -> None:
    def answer(body: dict[str, Any]) -> str:
        email = first(r"\[EMAIL_\d+\]", body["messages"][-1]["content"])
        return f"They meet on Saturday. Questions go to {email}."

    partner.fake.answer_with = answer
    messages = [
        {"author": "Anna" if i % 2 else "Ben", "text": f"About the trip, {contact(i)}."}
        for i in range(1, 201)
    ]
    messages[150] = {"author": "Anna", "text": f"Ok decision: we meet Saturday, {contact(1)}"}

    result = await partner.tasks.explain(
        partner.ctx, ExplainRequest(model="gpt-mini", messages=messages)
    )

    assert len(partner.bodies()) == 1  # one short call, not a read of all 200 messages
    assert partner.user_texts()[0].count("About the trip") == 0
    assert result["decisions"][0]["message_ids"][0] == 151
    assert_nothing_in_the_clear(partner)
    assert "guest1@example.org" in result["explanation"] and not result["meta"]["fallback"]
    assert_one_audit_row_per_call(partner)


async def test_summarize_fast_sends_only_the_topics_brief_masked(partner: Partner) -> None:
    def answer(body: dict[str, Any]) -> str:
        keys = body["response_format"]["json_schema"]["schema"]["properties"]
        return json.dumps(dict(zip(keys, ["Lake trip plans", "Bake sale cakes"], strict=False)))

    partner.fake.answer_with = answer
    lake = [f"The lake trip on Saturday: who drives the minibus? {contact(i)}" for i in range(20)]
    bake = [
        f"Bake sale cakes for the school fair, lemon or chocolate? {contact(i)}" for i in range(20)
    ]
    posts = [
        {"id": f"p{i}", "author": f"user{i % 7}", "text": text}
        for i, text in enumerate(t for pair in zip(lake, bake, strict=True) for t in pair)
    ]

    result = await partner.tasks.summarize(
        partner.ctx, SummarizeRequest(model="gpt-mini", posts=posts)
    )

    assert len(partner.bodies()) == 1  # one short call: the topics, not all 40 posts
    assert partner.user_texts()[0].count("who drives the minibus") == 1  # one example
    assert_nothing_in_the_clear(partner)
    assert sorted(t["title"] for t in result["topics"]) == ["Bake sale cakes", "Lake trip plans"]
    assert result["meta"]["mode"] == "fast" and not result["meta"]["fallback"]
    assert_one_audit_row_per_call(partner)


async def test_the_partner_path_scores_as_the_embedded_one_on_the_hand_written_inputs(
    partner: Partner,
) -> None:
    """The same pipeline behind the privacy guard: the findings come from code on the input,
    so a partner's fast-mode answers score exactly as the rules do."""

    def answer_with(body: dict[str, Any]) -> str:
        if "response_format" not in body:  # the chat's explanation, in plain text
            return "The group planned its weeks together and settled most of the open points."
        keys = body["response_format"]["json_schema"]["schema"]["properties"]
        return json.dumps({key: "Bins and rubbish" for key in keys})

    partner.fake.answer_with = answer_with
    chats = []
    for path in HANDWRITTEN:
        request = ExplainRequest(model="gpt-mini", chat=path.read_text("utf-8"))
        answer = await partner.tasks.explain(partner.ctx, request)
        chats.append((score(answer, truth(path)), score(rules_answer(path), truth(path))))
    feeds = []
    for path in HANDWRITTEN_FEEDS:
        posts = json.loads(path.with_suffix(".json").read_text("utf-8"))["posts"]
        answer = await partner.tasks.summarize(
            partner.ctx, SummarizeRequest(model="gpt-mini", posts=posts)
        )
        feeds.append(feed_score(answer, {p["id"]: p["topic"] for p in posts}))

    assert totals(s for s, _ in chats) == totals(r for _, r in chats)
    assert totals(feeds)["topic_recall"] >= 0.7
    assert_nothing_in_the_clear(partner)
