"""The facts tips must cite, computed from a creator's posts (read by `creator`).

Facts. All computed in code, deterministically, in float arithmetic with correctly rounded sums
(`math.fsum`), over the posts in time order (ties keep input order):

- engagement rate of a post = (likes + comments + shares) / views; a post with 0 views has
  rate 0 and is listed in the `zero_views` fact;
- `posting_frequency`: posts, span, posts per week = (posts - 1) / span in weeks;
- `rate_overall`: mean, median, population standard deviation, min, max of the rates, and the
  pooled rate (all engagements / all views);
- `trend` (4 posts or more): least-squares slope of the rate over the post index, and the mean
  rate of the first and of the last quarter (n // 4 posts each). "flat" when the fitted line
  moves by less than 5% of the mean rate over the history, else rising or falling;
- `best_hours` / `best_weekdays`: buckets by the hour / weekday of each post's own clock (its
  offset as given, UTC when none) with at least 3 posts, top 3 by mean rate (ties: earlier
  hour / day first); left out when no bucket has 3 posts;
- `format_<name>`: per format, mean rate, posts, and rank (best first);
- `outlier_<post id>`: posts whose rate is more than 2 population standard deviations from the
  mean (the z-score rule, not IQR), in time order.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from corral.errors import InvalidRequest
from corral.tasks.inputs import CreatorPost, Fact

MIN_BUCKET = 3
TOP = 3
OUTLIER_SDS = 2.0
FLAT_SHARE = 0.05
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def engagement_rate(post: CreatorPost) -> float:
    """(likes + comments + shares) / views, correctly rounded; 0 for a post with 0 views."""
    if post.views == 0:
        return 0.0
    return (post.likes + post.comments + post.shares) / post.views


def compute_facts(posts: Sequence[CreatorPost]) -> list[Fact]:
    """The facts of a history (see the module docstring); the same posts give the same facts."""
    if not posts:
        raise InvalidRequest("the creator history has no posts")
    ordered = sorted(posts, key=lambda post: _utc(post.time))
    rates = [engagement_rate(post) for post in ordered]
    facts = [_frequency(ordered), _overall(ordered, rates), *_trend(rates)]
    facts += _best_buckets(
        "best_hours", "hour", [p.time.hour for p in ordered], rates, lambda h: f"{h:02d}:00"
    )
    facts += _best_buckets(
        "best_weekdays", "weekday", [p.time.weekday() for p in ordered], rates, WEEKDAYS.__getitem__
    )
    facts += _formats(ordered, rates)
    facts += _outliers(ordered, rates)
    facts += _zero_views(ordered)
    return facts


def _frequency(ordered: Sequence[CreatorPost]) -> Fact:
    n = len(ordered)
    first, last = _utc(ordered[0].time), _utc(ordered[-1].time)
    days = (last - first).total_seconds() / 86400
    numbers: dict[str, float] = {"posts": n, "days": days}
    text = f"{_plural(n, 'post')} from {first:%Y-%m-%d} to {last:%Y-%m-%d} ({days:.1f} days)"
    if n >= 2 and days > 0:
        numbers["posts_per_week"] = (n - 1) / days * 7
        numbers["mean_gap_days"] = days / (n - 1)
        text += (
            f": about {numbers['posts_per_week']:.1f} posts a week "
            f"(one every {numbers['mean_gap_days']:.1f} days on average)"
        )
    return Fact("posting_frequency", text + ".", numbers)


def _overall(ordered: Sequence[CreatorPost], rates: Sequence[float]) -> Fact:
    mean, sd = _mean(rates), _pstdev(rates)
    views = sum(post.views for post in ordered)
    engaged = sum(post.likes + post.comments + post.shares for post in ordered)
    numbers: dict[str, float] = {
        "posts": len(rates),
        "mean": mean,
        "median": _median(rates),
        "stdev": sd,
        "min": min(rates),
        "max": max(rates),
        "pooled": engaged / views if views else 0.0,
    }
    text = (
        f"Engagement rate, (likes + comments + shares) / views, "
        f"over {_plural(len(rates), 'post')}: "
        f"mean {_pct(mean)}, median {_pct(numbers['median'])}, standard deviation "
        f"{_points(sd)}, from {_pct(numbers['min'])} to {_pct(numbers['max'])}; "
        f"all engagements over all views: {_pct(numbers['pooled'])}."
    )
    return Fact("rate_overall", text, numbers)


def _trend(rates: Sequence[float]) -> list[Fact]:
    n = len(rates)
    if n < 4:
        return []
    x_mean, y_mean = (n - 1) / 2, _mean(rates)
    sxx = math.fsum((i - x_mean) ** 2 for i in range(n))
    sxy = math.fsum((i - x_mean) * (rate - y_mean) for i, rate in enumerate(rates))
    slope = sxy / sxx
    quarter = n // 4
    first, last = _mean(rates[:quarter]), _mean(rates[-quarter:])
    fitted_change = slope * (n - 1)
    direction = 0 if abs(fitted_change) <= FLAT_SHARE * y_mean else (1 if slope > 0 else -1)
    word = {1: "rising", 0: "flat", -1: "falling"}[direction]
    numbers: dict[str, float] = {
        "direction": direction,
        "slope_per_post": slope,
        "fitted_change": fitted_change,
        "first_quarter_mean": first,
        "last_quarter_mean": last,
        "change": last - first,
        "posts_per_quarter": quarter,
    }
    text = (
        f"Engagement is {word}: the least-squares slope of the rate over the posts in time order "
        f"is {slope * 100:+.3f} percentage points per post; the first {quarter} posts averaged "
        f"{_pct(first)} and the last {quarter} averaged {_pct(last)} "
        f"({(last - first) * 100:+.2f} points)."
    )
    return [Fact("trend", text, numbers)]


def _best_buckets(
    fact_id: str,
    noun: str,
    keys: Sequence[int],
    rates: Sequence[float],
    label: Callable[[int], str],
) -> list[Fact]:
    groups: dict[int, list[float]] = defaultdict(list)
    for key, rate in zip(keys, rates, strict=True):
        groups[key].append(rate)
    eligible = [(key, _mean(group), len(group)) for key, group in groups.items()]
    eligible = [bucket for bucket in eligible if bucket[2] >= MIN_BUCKET]
    ranked = sorted(eligible, key=lambda bucket: (-bucket[1], bucket[0]))[:TOP]
    if not ranked:
        return []
    numbers: dict[str, float] = {}
    parts = []
    for rank, (key, mean, count) in enumerate(ranked, 1):
        numbers |= {f"top{rank}_{noun}": key, f"top{rank}_mean": mean, f"top{rank}_posts": count}
        parts.append(f"{label(key)} (mean rate {_pct(mean)}, {_plural(count, 'post')})")
    numbers["overall_mean"] = _mean(rates)
    text = (
        f"Best {noun}s to post, by mean engagement rate among those with at least "
        f"{MIN_BUCKET} posts (times as given, UTC when no offset): {'; '.join(parts)}; "
        f"overall mean {_pct(numbers['overall_mean'])}."
    )
    return [Fact(fact_id, text, numbers)]


def _formats(ordered: Sequence[CreatorPost], rates: Sequence[float]) -> list[Fact]:
    groups: dict[str, list[float]] = defaultdict(list)
    for post, rate in zip(ordered, rates, strict=True):
        groups[post.format].append(rate)
    ranked = sorted(groups.items(), key=lambda item: (-_mean(item[1]), item[0]))
    overall = _mean(rates)
    facts = []
    for rank, (name, group) in enumerate(ranked, 1):
        mean = _mean(group)
        text = (
            f"{name.capitalize()} posts: {len(group)} of {len(rates)}, mean engagement rate "
            f"{_pct(mean)} ({_ordinal(rank)} of {_plural(len(ranked), 'format')}; "
            f"overall mean {_pct(overall)})."
        )
        numbers: dict[str, float] = {
            "mean": mean,
            "posts": len(group),
            "rank": rank,
            "formats": len(ranked),
        }
        facts.append(Fact("format_" + re.sub(r"\s+", "_", name), text, numbers))
    return facts


def _outliers(ordered: Sequence[CreatorPost], rates: Sequence[float]) -> list[Fact]:
    mean, sd = _mean(rates), _pstdev(rates)
    facts = []
    for post, rate in zip(ordered, rates, strict=True):
        if sd == 0 or abs(rate - mean) <= OUTLIER_SDS * sd:
            continue
        z = (rate - mean) / sd
        text = (
            f"Post {post.id} ({post.format}, {post.time:%Y-%m-%d %H:%M}) is an outlier: "
            f"engagement rate {_pct(rate)}, {abs(z):.1f} standard deviations "
            f"{'above' if z > 0 else 'below'} the mean of {_pct(mean)} "
            f"({post.views:,} views, {post.likes:,} likes, {post.comments:,} comments, "
            f"{post.shares:,} shares)."
        )
        numbers: dict[str, float] = {"rate": rate, "mean": mean, "stdev": sd, "z": z}
        numbers |= {"views": post.views, "likes": post.likes}
        numbers |= {"comments": post.comments, "shares": post.shares}
        facts.append(Fact(f"outlier_{post.id}", text, numbers))
    return facts


def _zero_views(ordered: Sequence[CreatorPost]) -> list[Fact]:
    ids = [post.id for post in ordered if post.views == 0]
    if not ids:
        return []
    shown = ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else "")
    text = (
        f"{_plural(len(ids), 'post')} had 0 views ({shown}); their engagement rate counts as 0 "
        "in every figure."
    )
    return [Fact("zero_views", text, {"posts": len(ids)})]


def _utc(time: dt.datetime) -> dt.datetime:
    return time if time.tzinfo is not None else time.replace(tzinfo=dt.UTC)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return math.fsum(values) / len(values)


def _pstdev(values: Sequence[float]) -> float:
    mean = _mean(values)
    return math.sqrt(math.fsum((value - mean) ** 2 for value in values) / len(values))


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _points(rate: float) -> str:
    return f"{rate * 100:.2f} percentage points"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _ordinal(rank: int) -> str:
    suffix = "th" if 10 <= rank % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(rank % 10, "th")
    return f"{rank}{suffix}"
