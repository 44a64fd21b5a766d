"""How right an explanation is, against a chat's ground truth (the fixtures' sidecar JSON):
decisions and open questions found, by the message ids they cite, whom questions wait on, and
the participants.

A found item counts as right when it cites at least one message id of a true item; a true item
counts as found when some found item cites one of its ids. Decisions that were revised later
(`superseded`) are not asked for, but citing one is not wrong either. Counts, not ratios, are
returned, so that several chats add up (`totals`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def totals(scores: Iterable[dict[str, int]]) -> dict[str, float | int]:
    """Counts summed over chats, and the ratios a report quotes."""
    total: dict[str, int] = {}
    for one in scores:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    ratios: dict[str, float | int] = dict(total)
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
    ratios["participants_exact"] = _ratio(total.get("participants_exact", 0), total.get("chats", 0))
    return ratios


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 1.0
