"""How right a task's answer is, against its fixture's ground truth.

Explanations (the chats' sidecar JSON): decisions and open questions found, by the message ids
they cite, whom questions wait on, and the participants.

A found item counts as right when it cites at least one message id of a true item; a true item
counts as found when some found item cites one of its ids. Decisions that were revised later
(`superseded`) are not asked for, but citing one is not wrong either. Counts, not ratios, are
returned, so that several chats add up (`totals`).

Summaries (`feed_score`, each post's planted `topic`): a summary topic is right when most of
the posts it cites belong to one planted topic, and it recalls that topic (one found topic
recalls one planted topic: a topic split in two is recalled once, its second half is not
right); topic recall is planted topics recalled over planted topics; a cited post is assigned
right when it belongs to its summary topic's planted topic.

Tips (`tips_score`): a tip rests only on computed facts when it is grounded
(`corral.tasks.tips_rules.grounded`: it cites at least one fact and states no number its
cited facts do not hold); the planted patterns of the creator fixture
(`planted` fact ids) count as found when some tip cites them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from corral.tasks.tips_rules import grounded

_EVERYONE = {"", "everyone", "alle", "all", "the group", "die gruppe"}


def score(answer: dict[str, Any], truth: dict[str, Any]) -> dict[str, int]:
    decided, asked = truth.get("decisions", []), truth.get("open_questions", [])
    wanted = [d for d in decided if not d.get("superseded")]
    out = _matched("decisions", answer["decisions"], wanted, decided)
    out.update(_matched("questions", answer["open_questions"], asked, asked))
    right = checked = 0
    for item in asked:
        ids = set(item["message_ids"])
        found = [q for q in answer["open_questions"] if ids & set(q["message_ids"])]
        if found:
            checked += 1
            right += _same_person(found[0].get("waiting_on", ""), item.get("waiting_on") or "")
    people = [{"name": n, "message_count": c} for n, c in truth["participants"]]
    return {
        **out,
        "waiting_on_checked": checked,
        "waiting_on_right": right,
        "participants_exact": int(answer["participants"] == people),
        "chats": 1,
    }


def _matched(
    name: str,
    found: list[dict[str, Any]],
    wanted: list[dict[str, Any]],
    known: list[dict[str, Any]],
) -> dict[str, int]:
    cited = [set(item["message_ids"]) for item in found]
    true_ids = set().union(*(set(k["message_ids"]) for k in known)) if known else set()
    return {
        f"{name}_true": len(wanted),
        f"{name}_recalled": sum(any(set(w["message_ids"]) & c for c in cited) for w in wanted),
        f"{name}_found": len(found),
        f"{name}_right": sum(bool(c & true_ids) for c in cited),
    }


def _same_person(said: str, truth: str) -> bool:
    said, truth = said.strip().lower(), truth.strip().lower()
    if said in _EVERYONE or truth in _EVERYONE:
        return said in _EVERYONE and truth in _EVERYONE
    return said == truth or said.split()[0] == truth.split()[0]


def feed_score(answer: dict[str, Any], topic_of: Mapping[str, str | None]) -> dict[str, int]:
    """A summary against the planted topic of every post (`None`: a post on no topic)."""
    recalled: set[str] = set()
    right_topics = cited = right_posts = 0
    for topic in answer["topics"]:
        ids = {i for point in topic["points"] for i in point["post_ids"]}
        labels = Counter(topic_of.get(i) for i in ids)
        label, count = labels.most_common(1)[0] if labels else (None, 0)
        cited += len(ids)
        if label is not None and 2 * count > len(ids):
            right_posts += count
            if label not in recalled:
                recalled.add(label)
                right_topics += 1
    return {
        "topics_true": len({t for t in topic_of.values() if t is not None}),
        "topics_recalled": len(recalled),
        "topics_found": len(answer["topics"]),
        "topics_right": right_topics,
        "posts_cited": cited,
        "posts_right": right_posts,
        "feeds": 1,
    }


def tips_score(answer: dict[str, Any], planted: Iterable[str] = ()) -> dict[str, int]:
    """Tips against the facts of the same answer (computed in code) and the planted facts."""
    facts = {fact["id"]: fact for fact in answer["facts"]}
    grounded_tips = sum(grounded(tip, facts) for tip in answer["tips"])
    wanted = [p for p in planted if p in facts]
    cited_ids = {i for tip in answer["tips"] for i in tip["fact_ids"]}
    return {
        "tips": len(answer["tips"]),
        "tips_grounded": grounded_tips,
        "planted_true": len(wanted),
        "planted_cited": sum(p in cited_ids for p in wanted),
        "histories": 1,
    }


def totals(scores: Iterable[dict[str, int]]) -> dict[str, float | int]:
    """Counts summed over chats, and the ratios a report quotes."""
    total: dict[str, int] = {}
    for one in scores:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    ratios: dict[str, float | int] = dict(total)
    if "chats" in total:
        for name in ("decisions", "questions"):
            ratios[f"{name}_recall"] = _ratio(
                total.get(f"{name}_recalled", 0), total.get(f"{name}_true", 0)
            )
            ratios[f"{name}_precision"] = _ratio(
                total.get(f"{name}_right", 0), total.get(f"{name}_found", 0)
            )
        ratios["waiting_on_accuracy"] = _ratio(
            total.get("waiting_on_right", 0), total.get("waiting_on_checked", 0)
        )
        ratios["participants_exact"] = _ratio(total["participants_exact"], total["chats"])
    if "feeds" in total:
        ratios["topic_recall"] = _ratio(total["topics_recalled"], total["topics_true"])
        ratios["topic_precision"] = _ratio(total["topics_right"], total["topics_found"])
        ratios["assignment_accuracy"] = _ratio(total["posts_right"], total["posts_cited"])
    if "histories" in total:
        ratios["tips_grounded"] = _ratio(total["tips_grounded"], total["tips"])
        ratios["planted_recall"] = _ratio(total["planted_cited"], total["planted_true"])
    return ratios


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 1.0
