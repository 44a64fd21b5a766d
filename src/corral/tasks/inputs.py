"""The inputs of the tasks, as parsed from JSON, CSV or chat exports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

MessageKind = Literal["text", "media", "deleted", "system"]


@dataclass(frozen=True, slots=True)
class ChatMessageLine:
    """One message of a conversation; `id` is what answers cite (1-based, in input order)."""

    id: int
    time: dt.datetime | None
    author: str | None
    """None for system lines (encryption notice, joins, leaves)."""
    text: str
    kind: MessageKind = "text"


@dataclass(frozen=True, slots=True)
class Post:
    """One post of a feed."""

    id: str
    author: str
    time: dt.datetime | None
    text: str
    reactions: dict[str, int] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CreatorPost:
    """One post of a creator's history, with its engagement figures."""

    id: str
    time: dt.datetime
    format: str
    """video, image, text, reel, story, ... as the input names it."""
    views: int
    likes: int
    comments: int
    shares: int
    text: str = ""


@dataclass(frozen=True, slots=True)
class Fact:
    """A figure computed exactly in code, which tips must cite by `id`."""

    id: str
    text: str
    numbers: dict[str, float]
