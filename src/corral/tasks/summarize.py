"""Summarise a feed: the main topics, each with points that cite the posts they come from."""

from __future__ import annotations

from typing import Any

from corral.tasks.engine import LANGUAGES, ModelCaller, chunks, keep_known
from corral.tasks.inputs import Post
from corral.tasks.prompts import SUMMARIZE, SUMMARIZE_MERGE
from corral.tasks.schemas import SUMMARY_OUTPUT, summary_output


def render_post(post: Post) -> str:
    when = f" ({post.time:%Y-%m-%d %H:%M})" if post.time else ""
    line = f"[{post.id}] {post.author}{when}: {post.text}"
    if post.reactions:
        line += " | reactions: " + ", ".join(f"{k} {v}" for k, v in post.reactions.items())
    if post.comments:
        line += " | comments: " + " / ".join(post.comments[:5])
    return line


async def summarize(
    caller: ModelCaller, posts: list[Post], focus: str | None, language: str
) -> dict[str, Any]:
    caller.meta.prompt_version = SUMMARIZE.version
    system = SUMMARIZE.system.format(language=LANGUAGES[language])
    if focus:
        system += f" Focus on: {focus}."
    lines = [render_post(p) for p in posts]
    runs = chunks(lines, caller.input_budget())
    caller.meta.chunks = len(runs)
    bounded = summary_output(longest_id=max(len(p.id) for p in posts))
    prompts = [(system, [lines[i] for i in run]) for run in runs]
    caller.stage("chunks")
    partials = await caller.ask_each(prompts, SUMMARY_OUTPUT, decode=bounded)
    topics = (
        partials[0]["topics"]
        if len(partials) == 1
        else await _merge(caller, partials, language, bounded)
    )
    kept = []
    for topic in topics:
        points, dropped = keep_known(topic["points"], "post_ids", {p.id for p in posts})
        caller.meta.dropped_references += dropped
        kept.append({"title": topic["title"], "points": points})
    return {"topics": kept}


async def _merge(
    caller: ModelCaller, partials: list[dict[str, Any]], language: str, bounded: dict[str, Any]
) -> list[dict[str, Any]]:
    """Reduce: merge partial topic lists, in groups that fit, until one remains."""
    system = SUMMARIZE_MERGE.system.format(language=LANGUAGES[language])
    caller.stage("merging")
    while len(partials) > 1:
        texts = [_render_topics(p["topics"]) for p in partials]
        groups = chunks(texts, caller.input_budget())
        if all(len(group) == 1 for group in groups) and len(groups) > 1:
            groups = [[i, i + 1] for i in range(0, len(texts) - 1, 2)] + (
                [[len(texts) - 1]] if len(texts) % 2 else []
            )
        prompts = [(system, [texts[i] for i in group]) for group in groups]
        partials = await caller.ask_each(prompts, SUMMARY_OUTPUT, decode=bounded)
    topics: list[dict[str, Any]] = partials[0]["topics"]
    return topics


def _render_topics(topics: list[dict[str, Any]]) -> str:
    out = []
    for topic in topics:
        out.append(f"Topic: {topic['title']}")
        out += [f"- {p['text']} {p['post_ids']}" for p in topic["points"]]
    return "\n".join(out)
