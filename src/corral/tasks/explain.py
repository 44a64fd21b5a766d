"""Explain a conversation: who took part, what happened, what was decided, what is still open
and whom it waits on, each point citing the messages behind it."""

from __future__ import annotations

from typing import Any

from corral.tasks.chat_export import participants
from corral.tasks.engine import LANGUAGES, ModelCaller, chunks, keep_known
from corral.tasks.inputs import ChatMessageLine
from corral.tasks.schemas import EXPLANATION_OUTPUT

_SYSTEM = (
    "You explain a group chat to someone who was not there. Say plainly what happened "
    "(explanation), list decisions made and open questions (with whom each waits on). Every "
    "decision and question lists the ids of the messages behind it (message_ids), using only "
    "ids in the input. Write in {language}. Answer with JSON only."
)
_COMBINE = (
    "These are explanations of consecutive parts of one group chat. Write one plain-language "
    "explanation of the whole conversation. Write in {language}. Answer with JSON only."
)
EXPLANATION_ONLY: dict[str, Any] = {
    "type": "object",
    "properties": {"explanation": {"type": "string", "minLength": 1, "maxLength": 600}},
    "required": ["explanation"],
    "additionalProperties": False,
}


def render_line(line: ChatMessageLine) -> str:
    who = line.author or "(system)"
    text = line.text if line.kind == "text" else f"<{line.kind}>"
    return f"[{line.id}] {who}: {text}"


async def explain(
    caller: ModelCaller, lines: list[ChatMessageLine], language: str
) -> dict[str, Any]:
    system = _SYSTEM.format(language=LANGUAGES[language])
    spoken = [line for line in lines if line.kind != "system"]
    rendered = [render_line(line) for line in spoken]
    runs = chunks(rendered, caller.input_budget)
    caller.meta.chunks = len(runs)
    parts = await caller.ask_each(
        [(system, [rendered[i] for i in run]) for run in runs], EXPLANATION_OUTPUT
    )
    explanation = parts[0]["explanation"]
    if len(parts) > 1:
        combined = "\n\n".join(f"Part {n}: {p['explanation']}" for n, p in enumerate(parts, 1))
        merged = await caller.ask(
            _COMBINE.format(language=LANGUAGES[language]), combined, EXPLANATION_ONLY
        )
        explanation = merged["explanation"]
    known = {line.id for line in lines}
    decisions, dropped_d = keep_known(_union(p["decisions"] for p in parts), "message_ids", known)
    questions, dropped_q = keep_known(
        _union(p["open_questions"] for p in parts), "message_ids", known
    )
    caller.meta.dropped_references += dropped_d + dropped_q
    return {
        "participants": [{"name": n, "message_count": c} for n, c in participants(lines)],
        "explanation": explanation,
        "decisions": decisions,
        "open_questions": questions,
    }


def _union(groups: Any) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for group in groups:
        for item in group:
            key = item["text"].strip().lower()
            if key not in seen:
                seen.add(key)
                out.append(item)
    return out
