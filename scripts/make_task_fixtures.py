"""Generate the fixtures of the creator and feed tasks reproducibly (seeded `random` and Faker).

Creator history (`creator_posts.csv` and the same posts in `creator_posts.json`): 120 posts
over about six months, clocks at +01:00, with planted patterns the facts must find:

- videos do best, then images, then text posts;
- evening posts (18:00 to 21:59) do better than the rest;
- a rising trend (the rate climbs by 2.5 points from the first post to the last);
- two clear outliers, `p038` and `p089`, gone viral (rates near 40%).

`creator_truth.json` names the facts those patterns must come out as (`planted`: the fact ids
tips should rest on) and what each must say; `corral.tasks.quality.tips_score` scores tips
against it.

Feed (`feed_posts.json`): 220 posts by 30 authors over one week on five topics of unequal size
(each post's `topic` is the ground truth a summary can be checked against; readers ignore it),
with reactions and a few comments.

    .venv/bin/python scripts/make_task_fixtures.py     # writes tests/tasks/fixtures/
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
from pathlib import Path
from typing import Any, TypeVar

from faker import Faker

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "fixtures"
SEED = 20240101
CREATOR_POSTS = 120
OUTLIERS = {37: ("video", 20, 0.42), 88: ("image", 19, 0.38)}
BASE_RATE = {"video": 0.075, "image": 0.045, "text": 0.03}
FORMAT_WEIGHTS = {"video": 35, "image": 40, "text": 25}
HOUR_WEIGHTS = {8: 8, 9: 10, 12: 12, 13: 10, 17: 8, 18: 14, 19: 16, 20: 14, 21: 8}
EVENING = range(18, 22)
CLOCK = dt.timezone(dt.timedelta(hours=1))
COLUMNS = ("id", "time", "format", "views", "likes", "comments", "shares", "text")

FEED_POSTS = 220
AUTHORS = 30
TOPICS: dict[str, tuple[int, list[str], list[str]]] = {
    "city marathon": (
        35,
        [
            "Road closures for the {city} marathon start at 6am on {street}.",
            "Finished the {city} marathon in {time}! Legs are gone but worth it.",
            "Volunteering at the water station on {street} for the marathon, come say hi.",
            "Marathon traffic on {street} is a mess, take the tram if you can.",
            "Cheering for {name} at kilometre 30 of the marathon, what a pace.",
        ],
        ["Congrats!", "Which bus lines are diverted?", "See you at the finish line."],
    ),
    "new phone launch": (
        25,
        [
            "The new phone's battery lasted {hours} hours for me on the first day.",
            "Queued at the {city} store for the phone launch since 5am.",
            "Honest review: the new phone camera is great, the price is not.",
            "Is the new phone worth upgrading from last year's model? Thinking about it.",
            "Preordered the new phone in {color}, arrives on {day}.",
        ],
        ["Too expensive for me.", "How is the camera at night?", "Mine arrived today too."],
    ),
    "local elections": (
        20,
        [
            "Polling stations in {city} open from 7am to 8pm on Sunday.",
            "Debate tonight between the mayoral candidates, streamed at 8pm.",
            "{name} is running for the council in the {street} district.",
            "Reminder: bring an ID to vote, the address on it does not matter.",
            "Turnout in {city} was higher than last time, counting still going.",
        ],
        ["Already voted by mail.", "Where do I check my polling station?", "Thanks for this."],
    ),
    "recipe swap": (
        12,
        [
            "Tried a {color} lentil soup tonight, recipe in the comments.",
            "Sourdough attempt number {hours}: finally a proper crust.",
            "Best pasta sauce trick: a spoon of the cooking water at the end.",
            "Made {name}'s lemon cake for the office, gone in ten minutes.",
        ],
        ["Recipe please!", "Looks delicious.", "Saving this for the weekend."],
    ),
    "lost and found pets": (
        8,
        [
            "Lost cat near {street}, grey with white paws, answers to Milo.",
            "Found a small brown dog by the {city} park, no collar, safe with us.",
            "Milo is home! Thanks to everyone who shared the post.",
        ],
        ["Shared!", "Will keep an eye out.", "So glad he is back."],
    ),
}
CREATOR_TRUTH = {
    "planted": ["format_video", "best_hours", "trend", "outlier_p038", "outlier_p089"],
    "format_order": ["video", "image", "text"],
    "trend": "rising",
    "evening_hours": sorted(EVENING),
    "outliers": ["p038", "p089"],
}
T = TypeVar("T")
EMOJI = ("👍", "❤️", "😂", "😮", "😢")


def creator_posts(rng: random.Random, fake: Faker) -> list[dict[str, Any]]:
    """The creator history, in time order, as plain records."""
    time = dt.datetime(2024, 1, 1, tzinfo=CLOCK)
    posts = []
    for index in range(CREATOR_POSTS):
        time = (time + dt.timedelta(days=rng.choice((1, 1, 1, 2, 2, 3)))).replace(
            hour=_pick(rng, HOUR_WEIGHTS), minute=rng.randrange(60)
        )
        post_format = _pick(rng, FORMAT_WEIGHTS)
        rate = BASE_RATE[post_format] + 0.025 * index / (CREATOR_POSTS - 1)
        rate += 0.025 if time.hour in EVENING else 0.0
        rate = max(0.002, rate + rng.gauss(0, 0.004))
        if index in OUTLIERS:
            post_format, hour, rate = OUTLIERS[index]
            time = time.replace(hour=hour)
        views = int(rng.lognormvariate(math.log(8000), 0.5))
        posts.append(
            {"id": f"p{index + 1:03d}", "time": time.isoformat(), "format": post_format}
            | {"views": views} | _split(rng, round(rate * views))
            | {"text": fake.sentence(nb_words=8)}
        )  # fmt: skip
    return posts


def _split(rng: random.Random, engagements: int) -> dict[str, int]:
    likes = round(engagements * rng.uniform(0.75, 0.85))
    comments = round(engagements * rng.uniform(0.08, 0.12))
    return {"likes": likes, "comments": comments, "shares": engagements - likes - comments}


def feed_posts(rng: random.Random, fake: Faker) -> list[dict[str, Any]]:
    """The feed, in time order, all in one city: authors lean to two topics each."""
    authors = sorted({fake.unique.user_name() for _ in range(AUTHORS)})
    leanings = {author: rng.sample(sorted(TOPICS), 2) for author in authors}
    weights = {topic: spec[0] for topic, spec in TOPICS.items()}
    times = sorted(
        dt.datetime(2024, 5, 6, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(7 * 24 * 60))
        for _ in range(FEED_POSTS)
    )
    city, posts = fake.city(), []
    for index, time in enumerate(times):
        topic = _pick(rng, weights)
        author = rng.choice([a for a in authors if topic in leanings[a]] or authors)
        _, templates, replies = TOPICS[topic]
        posts.append(
            {
                "id": f"f{index + 1:03d}",
                "author": author,
                "time": time.isoformat().replace("+00:00", "Z"),
                "text": _fill(rng, fake, city, rng.choice(templates)),
                "reactions": {e: rng.randrange(1, 40) for e in rng.sample(EMOJI, 2)},
                "comments": rng.sample(replies, rng.randrange(0, 3)),
                "topic": topic,
            }
        )
    return posts


_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _fill(rng: random.Random, fake: Faker, city: str, template: str) -> str:
    return template.format(
        city=city,
        street=fake.street_name(),
        name=fake.first_name(),
        color=fake.color_name().lower(),
        day=rng.choice(_WEEKDAYS),  # Faker's day_of_week() depends on today's date
        hours=rng.randrange(9, 31),
        time=f"{rng.randrange(3, 5)}:{rng.randrange(60):02d}",
    )


def _pick(rng: random.Random, weights: dict[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def write(out_dir: Path) -> None:
    """Write the three fixture files under `out_dir`."""
    rng, fake = random.Random(SEED), Faker("en_US")
    fake.seed_instance(SEED)
    history = creator_posts(rng, fake)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "creator_posts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    _write_json(out_dir / "creator_posts.json", {"posts": history})
    _write_json(out_dir / "creator_truth.json", CREATOR_TRUTH)
    _write_json(out_dir / "feed_posts.json", {"posts": feed_posts(rng, fake)})


def _write_json(path: Path, document: object) -> None:
    path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder to write into")
    write(parser.parse_args().out)


if __name__ == "__main__":
    main()
