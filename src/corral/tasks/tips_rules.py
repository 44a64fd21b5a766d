"""Tips checked against the facts, and tips written in code from them.

A tip is **grounded** when it cites at least one fact and every number it states is one of its
cited facts' numbers (as is, rounded, or as a percentage) or is written in their texts. The
model's tips that are not grounded are dropped; when fewer than `MIN_TIPS` are left, tips
written in code from the facts fill in (`meta.fallback`): each states only its facts'
numbers, rounded as the fact texts round them, and cites them.
`corral.tasks.quality.tips_score` measures with the same definition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from corral.tasks.inputs import Fact

MIN_TIPS = 3
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?")
_WORDS = {
    "en": {
        "format": "Post more {best} posts: they average {a} engagement, against {b} for {worst}.",
        "hour": "Post around {hour}: posts then average {a}, against {b} overall.",
        "rising": "Keep doing what you did lately: engagement rose from {a} to {b}.",
        "falling": "Compare your recent posts with your early ones: engagement fell from {a} to "
        "{b}.",
        "outlier": "Find what made post {id} stand out ({a} engagement) and do more of it.",
    },
    "de": {
        "format": "Poste mehr {best}-Beiträge: sie haben im Schnitt {a} Engagement, {worst} nur "
        "{b}.",
        "hour": "Poste gegen {hour}: Beiträge dann haben im Schnitt {a}, insgesamt {b}.",
        "rising": "Mach weiter wie zuletzt: das Engagement stieg von {a} auf {b}.",
        "falling": "Vergleiche deine neuen Beiträge mit den frühen: das Engagement fiel von {a} "
        "auf {b}.",
        "outlier": "Finde heraus, was Beitrag {id} so erfolgreich machte ({a} Engagement), und "
        "mach mehr davon.",
    },
}


def grounded(tip: Mapping[str, Any], facts: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a tip cites facts and states no number they do not hold."""
    cited = [facts[i] for i in tip["fact_ids"] if i in facts]
    allowed = {v for fact in cited for v in _spellings(fact["numbers"].values())}
    allowed |= {n.replace(",", ".") for f in cited for n in _NUMBER.findall(f["text"])}
    said = {n.replace(",", ".") for n in _NUMBER.findall(tip["text"])}
    return bool(cited) and said <= allowed


def _spellings(numbers: Iterable[float]) -> set[str]:
    out: set[str] = set()
    for number in numbers:
        for value in (number, number * 100):
            out |= {f"{value:g}", f"{round(value)}"}
            out |= {f"{value:.{digits}f}" for digits in (1, 2, 3)}
    return out


def written_tips(facts: Sequence[Fact], language: str) -> list[dict[str, Any]]:
    """Tips from the facts alone, strongest first: the best format against the worst, the
    best hour, the trend, the outliers above the mean."""
    words = _WORDS.get(language, _WORDS["en"])
    by_id = {fact.id: fact for fact in facts}
    tips = []
    formats = sorted((f for f in facts if f.id.startswith("format_")), key=_rank)
    if len(formats) >= 2:
        best, worst = formats[0], formats[-1]
        text = words["format"].format(
            best=_name(best), worst=_name(worst), a=_pct(best, "mean"), b=_pct(worst, "mean")
        )
        tips.append({"text": text, "fact_ids": [best.id, worst.id]})
    if "best_hours" in by_id:
        hours = by_id["best_hours"]
        hour = f"{int(hours.numbers['top1_hour']):02d}:00"
        text = words["hour"].format(
            hour=hour, a=_pct(hours, "top1_mean"), b=_pct(hours, "overall_mean")
        )
        tips.append({"text": text, "fact_ids": ["best_hours"]})
    trend = by_id.get("trend")
    if trend is not None and trend.numbers["direction"] != 0:
        key = "rising" if trend.numbers["direction"] > 0 else "falling"
        first, last = _pct(trend, "first_quarter_mean"), _pct(trend, "last_quarter_mean")
        tips.append({"text": words[key].format(a=first, b=last), "fact_ids": ["trend"]})
    for fact in facts:
        if fact.id.startswith("outlier_") and fact.numbers["z"] > 0:
            text = words["outlier"].format(id=fact.id.removeprefix("outlier_"), a=_pct(fact))
            tips.append({"text": text, "fact_ids": [fact.id]})
    return tips


def _rank(fact: Fact) -> float:
    return fact.numbers["rank"]


def _name(fact: Fact) -> str:
    return fact.id.removeprefix("format_").replace("_", " ")


def _pct(fact: Fact, name: str = "rate") -> str:
    """A rate as the fact texts write it (two decimals), so a check finds it there."""
    return f"{fact.numbers[name] * 100:.2f}%"
