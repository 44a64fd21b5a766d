"""Tips for a creator: facts computed exactly in code, and tips from the model grounded on them
(each tip names the facts it rests on)."""

from __future__ import annotations

from typing import Any

from corral.tasks.engine import LANGUAGES, ModelCaller, keep_known
from corral.tasks.inputs import Fact
from corral.tasks.prompts import TIPS
from corral.tasks.schemas import TIPS_OUTPUT, tips_output


async def creator_tips(caller: ModelCaller, facts: list[Fact], language: str) -> dict[str, Any]:
    caller.meta.chunks, caller.meta.prompt_version = 1, TIPS.version
    listing = "\n".join(f"[{fact.id}] {fact.text}" for fact in facts)
    system = TIPS.system.format(language=LANGUAGES[language])
    bounded = tips_output(longest_id=max(len(fact.id) for fact in facts))
    caller.stage("tips")
    answer = await caller.ask(system, listing, TIPS_OUTPUT, decode=bounded)
    tips, dropped = keep_known(answer["tips"], "fact_ids", {fact.id for fact in facts})
    caller.meta.dropped_references += dropped
    return {
        "facts": [{"id": f.id, "text": f.text, "numbers": f.numbers} for f in facts],
        "tips": tips,
    }
