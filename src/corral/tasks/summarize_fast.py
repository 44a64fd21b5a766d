"""Summarise a feed in seconds (mode "fast", the default): code finds the topics and the posts
that stand for them (`feed_topics`), and the model only titles them, from a brief of a few
hundred tokens.

A 135M model on two CPU cores reads ~150 prompt tokens a second: a 500-post feed (~20k
tokens) read in full takes minutes, while grouping its posts by shared words takes well under a
second. Each topic's points are its most central posts (their text, shortened), citing them
and the posts nearest them; the model writes one title per topic. A title is kept only if it
reads as one and names something of its topic (one of its key words); else code titles the
topic with its key words, and `meta.fallback` says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from corral.errors import InvalidModelOutput
from corral.tasks import chat_phrases as ph
from corral.tasks.engine import LANGUAGES, ModelCaller
from corral.tasks.feed_topics import (
    STOP_WORDS,
    FeedSignals,
    Topic,
    find_topics,
    stem,
    words,
)
from corral.tasks.inputs import Post
from corral.tasks.prompts import SUMMARIZE_FAST
from corral.tasks.schemas import titles_output

MOST_TOPICS = 6
POINTS, CITED = 3, 4
"""Points per topic, and posts each point cites: a topic cites its 12 most central posts."""
_EXAMPLE_CHARS, _POINT_CHARS = 110, 160
TITLE_CHARS = 28
"""The longest title the model may write (its grammar's bound): one that long was cut off."""


async def summarize_fast(
    caller: ModelCaller, posts: Sequence[Post], focus: str | None, language: str
) -> dict[str, Any]:
    meta = caller.meta
    meta.mode, meta.chunks, meta.prompt_version = "fast", 1, SUMMARIZE_FAST.version
    caller.stage("topics")
    topics = _focused(find_topics(posts, MOST_TOPICS) or _everything(posts), posts, focus)
    caller.stage("titles")
    notes = brief(posts, topics)
    said = await _titles(caller, notes, topic_keys(topics), language)
    babble = same_pattern(said)
    titles: list[str] = []
    for index, topic in enumerate(topics):
        title = None if index in babble or index >= len(said) else said[index]
        title = checked_title(title or "", topic, titles)
        if title is None:
            meta.fallback = True
            title = keyword_title(topic)
        titles.append(title)
    return {"topics": [_topic(posts, t, title) for t, title in zip(topics, titles, strict=True)]}


def summary_in_code(posts: Sequence[Post], signals: FeedSignals = FeedSignals()) -> dict[str, Any]:
    """The summary with no model at all (titles from key words): what the grouping alone is
    worth, for the ablation in `bench/tasks.py`."""
    topics = find_topics(posts, MOST_TOPICS, signals=signals) or _everything(posts)
    return {"topics": [_topic(posts, t, keyword_title(t)) for t in topics]}


def _everything(posts: Sequence[Post]) -> list[Topic]:
    """A feed too small or too scattered for topics: one topic of all its posts."""
    ranked = sorted(range(len(posts)), key=lambda i: -sum(posts[i].reactions.values()))
    counts: dict[str, int] = {}
    for post in posts:
        for word in words(post.text):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    return [Topic(ranked, sorted(counts, key=lambda w: -counts[w])[:5], float(len(posts)))]


def _focused(topics: list[Topic], posts: Sequence[Post], focus: str | None) -> list[Topic]:
    """With a focus, the topics whose key words or posts share a word with it come first."""
    if not focus:
        return topics
    wanted = {stem(w) for w in words(focus)}

    def hits(topic: Topic) -> int:
        said = {stem(w) for i in topic.posts[:20] for w in words(posts[i].text)}
        return len(wanted & (said | {stem(k) for k in topic.keywords}))

    return sorted(topics, key=lambda t: -hits(t))  # stable: by weight within equal hits


def topic_keys(topics: Sequence[Topic]) -> list[str]:
    """Each topic's key in the model's answer: its strongest key word, numbered if repeated."""
    keys: list[str] = []
    for number, topic in enumerate(topics, 1):
        key = (topic.keywords[:1] or ["topic"])[0].lower()
        keys.append(key if key not in keys else f"{key} {number}")
    return keys


async def _titles(caller: ModelCaller, notes: str, keys: list[str], language: str) -> list[str]:
    system = SUMMARIZE_FAST.system.format(language=LANGUAGES[language])
    try:
        answer = await caller.ask(
            system, notes, titles_output(keys, TITLE_CHARS), SUMMARIZE_FAST.tokens, repair=False
        )
    except InvalidModelOutput:  # the titles are the model's only part: code can write them
        return []
    return [str(answer[key]) for key in keys]


def brief(posts: Sequence[Post], topics: Sequence[Topic]) -> str:
    """What the model reads: per topic its size, key words and its most central post."""
    out = [f"A feed of {len(posts)} posts."]
    for key, topic in zip(topic_keys(topics), topics, strict=True):
        example = _cut(" ".join(posts[topic.posts[0]].text.split()), _EXAMPLE_CHARS)
        out.append(f"{key}: {example} (key words: {', '.join(topic.keywords)})")
    return "\n".join(out)


def _topic(posts: Sequence[Post], topic: Topic, title: str) -> dict[str, Any]:
    points = []
    for start in range(0, min(len(topic.posts), POINTS * CITED), CITED):
        cited = topic.posts[start : start + CITED]
        text = " ".join(posts[cited[0]].text.split()) or posts[cited[0]].author
        points.append({"text": _cut(text, _POINT_CHARS), "post_ids": [posts[i].id for i in cited]})
    return {"title": title, "points": points}


_JUNK = re.compile(r"[{}\[\]<>]|^\W*topic\s*\d|^\W*(?:thema|titel|title)\b", re.IGNORECASE)


def same_pattern(titles: Sequence[str]) -> set[int]:
    """The titles that share most of their words with another topic's ("The marathon is a fun
    way to run", "The phone is a fun way to talk"): a pattern filled in, not a headline."""
    bags = [set(re.findall(r"\w+", t.lower())) for t in titles]
    out = set()
    for a, bag in enumerate(bags):
        for b in range(a + 1, len(bags)):
            if bag and bags[b] and len(bag & bags[b]) >= 0.5 * min(len(bag), len(bags[b])):
                out |= {a, b}
    return out


def checked_title(title: str, topic: Topic, taken: Sequence[str]) -> str | None:
    """The model's title if it reads as one and names its topic, else None: not cut off."""
    cut = len(title) >= TITLE_CHARS
    title = " ".join(title.split()).strip(" \"'.:-")
    said = words(title)
    if cut or not 3 <= len(title) <= 60 or not said or _JUNK.search(title):
        return None
    last = re.findall(r"\w+", title.lower())[-1:]
    if not last or last[0] in STOP_WORDS or len(last[0]) < 3:
        return None  # ends mid-phrase ("... a fun way to", "Neues zur Wahl: das")
    if sum(c.isalpha() or c.isspace() for c in title) < 0.8 * len(title):
        return None
    if ph.GREETING.match(title) or title.lower() in {t.lower() for t in taken}:
        return None
    if not {stem(w) for w in said} & {stem(k) for k in topic.keywords}:
        return None  # says nothing of this topic's words: not checkably about it
    return title[0].upper() + title[1:]


def keyword_title(topic: Topic) -> str:
    """A title written in code: the topic's three strongest key words."""
    title = ", ".join(topic.keywords[:3]) or "Posts"
    return _cut(title[0].upper() + title[1:], 60)


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1].rstrip() + "…"
