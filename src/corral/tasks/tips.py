"""Tips for a creator: facts computed exactly in code, and tips from the model grounded on them
(each tip names the facts it rests on, and states only their numbers).

A tip of the model's that is not grounded (`tips_rules.grounded`: it cites no fact, or states
a number its facts do not hold) is dropped; when fewer than `MIN_TIPS` are left, tips written
in code from the facts fill in, and `meta.fallback` says so. A model that cannot answer in the
format at all costs the request nothing but its tips: code writes them.
"""

from __future__ import annotations

from typing import Any

from corral.errors import InvalidModelOutput
from corral.tasks.engine import LANGUAGES, ModelCaller, keep_known
from corral.tasks.inputs import Fact
from corral.tasks.prompts import TIPS
from corral.tasks.schemas import TIPS_OUTPUT, tips_output
from corral.tasks.tips_rules import MIN_TIPS, grounded, written_tips

MOST_TIPS = 5


async def creator_tips(caller: ModelCaller, facts: list[Fact], language: str) -> dict[str, Any]:
    caller.meta.chunks, caller.meta.prompt_version = 1, TIPS.version
    listing = "\n".join(f"[{fact.id}] {fact.text}" for fact in facts)
    system = TIPS.system.format(language=LANGUAGES[language])
    bounded = tips_output(longest_id=max(len(fact.id) for fact in facts))
    caller.stage("tips")
    try:
        answer = await caller.ask(system, listing, TIPS_OUTPUT, decode=bounded)
    except InvalidModelOutput:
        answer = {"tips": []}
    tips, dropped = keep_known(answer["tips"], "fact_ids", {fact.id for fact in facts})
    caller.meta.dropped_references += dropped
    shown: list[dict[str, Any]] = [
        {"id": f.id, "text": f.text, "numbers": f.numbers} for f in facts
    ]
    by_id = {fact["id"]: fact for fact in shown}
    kept = _unique([tip for tip in tips if grounded(tip, by_id)])
    if len(kept) < MIN_TIPS:
        caller.meta.fallback = True
        cited = {i for tip in kept for i in tip["fact_ids"]}
        kept += [t for t in written_tips(facts, language) if not cited & set(t["fact_ids"])]
    return {"facts": shown, "tips": kept[:MOST_TIPS]}


def _unique(tips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for tip in tips:
        key = tip["text"].strip().lower()
        if key not in seen:
            seen.add(key)
            out.append(tip)
    return out
