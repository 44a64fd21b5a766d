"""Every prompt a task sends, with the schema its answer follows and its token budget, in one
place and versioned.

A prompt's `version` goes into the answer's `meta.prompt_version`, so a quality figure measured
on an answer (`bench/tasks.py`) can be tied to the prompt that produced it. Change a prompt's
text or schema, and its version changes with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corral.tasks.engine import OUTPUT_TOKENS
from corral.tasks.schemas import EXPLANATION_OUTPUT, SUMMARY_OUTPUT, TIPS_OUTPUT, titles_output


@dataclass(frozen=True, slots=True)
class Prompt:
    version: str
    system: str
    """The instruction; `{language}` is the answer's language where it has one."""
    output: dict[str, Any]
    """The JSON schema of the model's answer."""
    tokens: int
    """The answer's token budget."""


# --- summarize ----------------------------------------------------------------------------------

SUMMARIZE = Prompt(
    "summarize/1",
    "You summarise social media posts. Group them into a few main topics. For each topic give "
    "short points; every point lists the ids of the posts it comes from (post_ids). Use only "
    "ids that appear in the input. Write in {language}. Answer with JSON only.",
    SUMMARY_OUTPUT,
    OUTPUT_TOKENS,
)
SUMMARIZE_MERGE = Prompt(
    "summarize/1",
    "You merge partial summaries of one feed into a single summary with a few main topics. "
    "Keep the post_ids of every point you keep. Write in {language}. Answer with JSON only.",
    SUMMARY_OUTPUT,
    OUTPUT_TOKENS,
)

SUMMARIZE_FAST = Prompt(
    "summarize/fast-1",
    "Each line is one topic of a social media feed: its key, an example post and its key "
    "words. For each key, write a short headline of two to five words saying what the topic "
    "is about. Write in {language}. Answer with JSON only.",
    titles_output(["topic"]),  # the form; a call asks for one title under each topic's key
    # six keys and titles of 28 characters at most, ~15 tokens each; every generated token
    # costs 50-100 ms on two loaded CPU cores
    112,
)

# --- creator-tips -------------------------------------------------------------------------------

TIPS = Prompt(
    "creator-tips/1",
    "You coach a content creator. Using only the facts given (each has an id), give a few "
    "concrete tips; every tip lists the ids of the facts it rests on (fact_ids). Write in "
    "{language}. Answer with JSON only.",
    TIPS_OUTPUT,
    OUTPUT_TOKENS,
)

# --- explain-conversation, mode "thorough": the model reads every message -----------------------

EXPLAIN_PICK = Prompt(
    "explain-conversation/thorough-1",
    "This is one part of a group chat, one message per line: [id] author: text. Give the ids "
    "of the few messages that matter most: decisions, plans, and questions still open. Answer "
    "with JSON only.",
    {
        "type": "object",
        "properties": {"ids": {"type": "array", "items": {"type": "integer"}, "maxItems": 8}},
        "required": ["ids"],
        "additionalProperties": False,
    },
    96,  # eight ids and the JSON around them; small, since generating is what costs on a CPU
)
EXPLAIN_THOROUGH = Prompt(
    "explain-conversation/thorough-1",
    "You explain a group chat to someone who was not there. Say plainly what happened "
    "(explanation), list decisions made and open questions (with whom each waits on). Every "
    "decision and question lists the ids of the messages behind it (message_ids), using only "
    "ids in the input. Write in {language}. Answer with JSON only.",
    EXPLANATION_OUTPUT,
    # a chat's emoji and names can take several tokens a character, so the explanation gets
    # more room than OUTPUT_TOKENS (a 1,024-token answer was once cut short mid-string)
    3072,
)

# --- explain-conversation, mode "fast": rules find, the model only phrases ----------------------

EXPLAIN_FAST = Prompt(
    "explain-conversation/fast-3",
    "Rewrite these notes about a group chat as two or three short, plain sentences for someone "
    "who was not there: what the group is doing, what it decided, and what is still open. Do "
    "not greet, do not list dates, do not repeat yourself. Write in {language}, plain text.",
    # plain text, not JSON: a JSON string cut off by the token budget would cost a repair call,
    # while text is cut at its last full sentence (`ModelCaller.say`) and then checked
    {"type": "string"},
    # ~3 short sentences; every generated token costs ~50 ms on two CPU cores
    80,
)
