"""Turn the hand-written feeds (`tests/tasks/fixtures/handwritten/*.feed`) into JSON posts.

A `.feed` file has one post a line, `author | topic | text // comment // comment`, and `#`
comment lines. Its JSON (same name, `.json`) has the posts in the file's order with ids, times
about three hours apart over the weeks the feed covers, a few reactions (seeded, so the file
is reproducible), the comments, and each post's hand-marked `topic` (null for "-"): the ground
truth a summary's topics are scored against (`corral.tasks.quality.feed_score`).

    .venv/bin/python scripts/make_handwritten_feed.py
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parent.parent / "tests" / "tasks" / "fixtures" / "handwritten"
START = dt.datetime(2024, 6, 3, 7, 30, tzinfo=dt.UTC)
EMOJI = ("👍", "❤️", "😂", "😮", "😢")


def posts(source: str, prefix: str, seed: int) -> list[dict[str, Any]]:
    """The posts of one `.feed` text."""
    rng, time = random.Random(seed), START
    out: list[dict[str, Any]] = []
    for line in source.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        author, topic, rest = (part.strip() for part in line.split("|", 2))
        text, *comments = (part.strip() for part in rest.split("//"))
        time += dt.timedelta(minutes=rng.randrange(60, 300))
        out.append(
            {
                "id": f"{prefix}{len(out) + 1:03d}",
                "author": author,
                "time": time.isoformat().replace("+00:00", "Z"),
                "text": text,
                "reactions": {e: rng.randrange(1, 25) for e in rng.sample(EMOJI, 2)},
                "comments": comments,
                "topic": None if topic == "-" else topic,
            }
        )
    return out


def main() -> None:
    for number, path in enumerate(sorted(FOLDER.glob("*.feed"))):
        document = {"posts": posts(path.read_text("utf-8"), path.stem[:2], 100 + number)}
        text = json.dumps(document, ensure_ascii=False, indent=1) + "\n"
        path.with_suffix(".json").write_text(text, "utf-8")


if __name__ == "__main__":
    main()
