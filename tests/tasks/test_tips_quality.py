"""Creator tips, measured: the facts computed from the creator fixture find its planted
patterns (`creator_truth.json`), a tip counts as grounded only when it cites facts and states
no number they do not hold, the model's tips that are not grounded are dropped, and tips
written in code fill in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from corral.api.tasks.protocol import TipsRequest
from corral.api.tasks.serving import TaskServing
from corral.pipeline.auth import ADMIN
from corral.pipeline.gateway import RequestContext
from corral.tasks.creator import creator_csv_posts
from corral.tasks.creator_facts import compute_facts
from corral.tasks.inputs import Fact
from corral.tasks.quality import tips_score, totals
from corral.tasks.tips_rules import written_tips
from tests.support import echo_entry, in_process_services
from tests.tasks.scripted import ScriptedBackend

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TRUTH: dict[str, Any] = json.loads((FIXTURES / "creator_truth.json").read_text("utf-8"))


def computed() -> list[Fact]:
    return compute_facts(creator_csv_posts((FIXTURES / "creator_posts.csv").read_text("utf-8")))


def facts() -> list[dict[str, Any]]:
    return [{"id": f.id, "text": f.text, "numbers": f.numbers} for f in computed()]


def by_id() -> dict[str, dict[str, Any]]:
    return {fact["id"]: fact for fact in facts()}


def tip(text: str, *fact_ids: str) -> dict[str, Any]:
    return {"text": text, "fact_ids": list(fact_ids)}


def test_the_computed_facts_find_every_planted_pattern() -> None:
    found = by_id()

    assert set(TRUTH["planted"]) <= set(found)
    ranks = {name: found[f"format_{name}"]["numbers"]["rank"] for name in TRUTH["format_order"]}
    assert sorted(ranks, key=ranks.__getitem__) == TRUTH["format_order"]
    assert found["trend"]["numbers"]["direction"] == 1  # rising
    assert found["best_hours"]["numbers"]["top1_hour"] in TRUTH["evening_hours"]
    outliers = [i.removeprefix("outlier_") for i in found if i.startswith("outlier_")]
    assert outliers == TRUTH["outliers"]


def test_a_tip_is_grounded_only_by_the_numbers_of_the_facts_it_cites() -> None:
    found = by_id()
    video = found["format_video"]["numbers"]["mean"] * 100
    weekly = found["posting_frequency"]["numbers"]["posts_per_week"]
    answer = {
        "facts": facts(),
        "tips": [
            tip(f"Videos average {video:.1f}%: post more of them.", "format_video"),
            tip(f"Keep posting about {weekly:.0f} times a week.", "posting_frequency"),
            tip("Videos get 12.5% more likes.", "format_video"),  # a number made up
            tip(f"Videos average {video:.1f}%.", "trend"),  # not the fact it cites
            tip("Post in the evening."),  # cites nothing
        ],
    }

    got = tips_score(answer, TRUTH["planted"])

    assert (got["tips"], got["tips_grounded"]) == (5, 2)
    assert (got["planted_true"], got["planted_cited"]) == (5, 2)  # format_video and trend
    assert totals([got])["tips_grounded"] == 0.4


@pytest.mark.parametrize("language", ["en", "de"])
def test_tips_written_in_code_are_grounded_and_cite_every_planted_fact(language: str) -> None:
    tips = written_tips(computed(), language)

    got = tips_score({"facts": facts(), "tips": tips}, TRUTH["planted"])

    assert got["tips_grounded"] == got["tips"] == 5
    assert got["planted_cited"] == got["planted_true"] == 5
    assert all(len(tip["text"]) <= 160 for tip in tips)  # the schema's bound
    assert tips[0]["fact_ids"] == ["format_video", "format_text"]


async def test_the_models_grounded_tips_are_kept_and_made_up_ones_dropped(tmp_path: Path) -> None:
    found = by_id()
    video = found["format_video"]["numbers"]["mean"] * 100
    said = [
        tip(f"Videos do best, {video:.2f}% on average.", "format_video"),
        tip("Keep a steady rhythm.", "posting_frequency"),
        tip("Evenings work, post then.", "best_hours"),
        tip("Videos get 12.5% more likes.", "format_video"),  # a number made up
    ]
    services = in_process_services(
        tmp_path, echo_entry("scripted", backend=ScriptedBackend({"tips": said}))
    )
    request = TipsRequest(model="scripted", csv=(FIXTURES / "creator_posts.csv").read_text())
    try:
        answer = await TaskServing(services.gateway).tips(RequestContext("req_t", ADMIN), request)
    finally:
        await services.ledger.aclose()
        services.db.close()

    assert answer["tips"] == said[:3] and answer["meta"]["fallback"] is False
