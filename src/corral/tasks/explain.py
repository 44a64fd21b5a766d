"""Explain a conversation by reading all of it (mode "thorough"): who took part, what happened,
what was decided, what is still open and whom it waits on, each point citing the messages behind
it. For partner models with large contexts, where reading everything is cheap; the default
mode, "fast", is `explain_fast`."""

from __future__ import annotations

from typing import Any

from corral.tasks.chat_export import participants
from corral.tasks.engine import LANGUAGES, ModelCaller, chunks, keep_known
from corral.tasks.inputs import ChatMessageLine
from corral.tasks.prompts import EXPLAIN_PICK, EXPLAIN_THOROUGH

PICK_TOKENS = EXPLAIN_PICK.tokens
EXPLAIN_TOKENS = EXPLAIN_THOROUGH.tokens


def render_line(line: ChatMessageLine) -> str:
    who = line.author or "(system)"
    text = line.text if line.kind == "text" else f"<{line.kind}>"
    return f"[{line.id}] {who}: {text}"


async def explain(
    caller: ModelCaller, lines: list[ChatMessageLine], language: str
) -> dict[str, Any]:
    """Explain the chat in one call on the messages that matter most.

    A chat too long for the model is narrowed first, extractively: each chunk names its key
    messages (ids only, which is quick to generate), and only those go on, in order, until what
    is left fits one call. Reading every message once is the unavoidable cost; this keeps the
    rest small.
    """
    spoken = {line.id: render_line(line) for line in lines if line.kind != "system"}
    ids = list(spoken)
    caller.meta.chunks, caller.meta.prompt_version = 1, EXPLAIN_THOROUGH.version
    while len(chunks([spoken[i] for i in ids], caller.input_budget(EXPLAIN_TOKENS))) > 1:
        runs = chunks([spoken[i] for i in ids], caller.input_budget(PICK_TOKENS))
        if len(ids) == len(spoken):
            caller.meta.chunks = len(runs)
        caller.stage("picking")
        ids = await _key_messages(caller, [[ids[i] for i in run] for run in runs], spoken)
    lead = _overview(lines, len(ids) < len(spoken))
    caller.stage("explaining")
    answer = await caller.ask(
        EXPLAIN_THOROUGH.system.format(language=LANGUAGES[language]),
        lead + "\n".join(spoken[i] for i in ids),
        EXPLAIN_THOROUGH.output,
        EXPLAIN_TOKENS,
    )
    known = {line.id for line in lines}
    decisions, dropped_d = keep_known(_unique(answer["decisions"]), "message_ids", known)
    questions, dropped_q = keep_known(_unique(answer["open_questions"]), "message_ids", known)
    caller.meta.dropped_references += dropped_d + dropped_q
    return {
        "participants": [{"name": n, "message_count": c} for n, c in participants(lines)],
        "explanation": answer["explanation"],
        "decisions": decisions,
        "open_questions": questions,
    }


async def _key_messages(
    caller: ModelCaller, runs: list[list[int]], spoken: dict[int, str]
) -> list[int]:
    """The ids the runs' answers name, in chat order; at most half of each run, so the
    narrowing always shrinks, and a run none of whose messages is named keeps its last one.

    Answers are matched to runs by the ids themselves: a run too long for the model after all
    is answered in halves (`ask_each`), so there may be more answers than runs.
    """
    answers = await caller.ask_each(
        [(EXPLAIN_PICK.system, [spoken[i] for i in run]) for run in runs],
        EXPLAIN_PICK.output,
        PICK_TOKENS,
    )
    run_of = {i: number for number, run in enumerate(runs) for i in run}
    named: list[list[int]] = [[] for _ in runs]
    for answer in answers:
        for i in dict.fromkeys(answer["ids"]):
            if i in run_of:
                named[run_of[i]].append(i)
            else:
                caller.meta.dropped_references += 1
    kept: list[int] = []
    for run, ids in zip(runs, named, strict=True):
        unique = list(dict.fromkeys(ids))
        kept.extend(sorted(unique[: max(1, len(run) // 2)]) or run[-1:])
    return kept


def _overview(lines: list[ChatMessageLine], narrowed: bool) -> str:
    times = [line.time for line in lines if line.time is not None]
    names = ", ".join(name for name, _ in participants(lines))
    span = f" from {min(times):%Y-%m-%d} to {max(times):%Y-%m-%d}" if times else ""
    which = "the messages that matter most" if narrowed else "the messages"
    return f"A chat of {len(lines)} messages{span} between {names}. Here are {which}:\n"


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for item in items:
        key = item["text"].strip().lower()
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
