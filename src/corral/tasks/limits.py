"""What one task input may hold (`task_inputs` in the configuration).

Each bound is far above a real chat export or post history and keeps a hostile input's parsing
cost small; a refusal is a 400 naming the parameter (`chat`, `messages[3].author`, `csv`,
`posts[0].views`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TaskInputLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_messages: int = Field(default=5000, ge=1, le=10_000_000)
    """Messages of one conversation (a chat export's or a JSON list's)."""
    max_message_chars: int = Field(default=65_536, ge=1, le=100_000_000)
    """Characters of one message, continuation lines included."""
    max_author_chars: int = Field(default=100, ge=1, le=10_000)
    """An author's name; in a chat export a longer "Name: " prefix is not read as an author."""
    max_posts: int = Field(default=5000, ge=1, le=10_000_000)
    """Posts of a feed or of a creator's history."""
    max_columns: int = Field(default=100, ge=1, le=100_000)
    """Columns of a creator history's CSV, fields of one JSON post."""
    max_field_chars: int = Field(default=65_536, ge=1, le=100_000_000)
    """Characters of one field of a post (its text, a comment, a CSV cell)."""
    max_count: int = Field(default=10**15, ge=1, le=2**63 - 1)
    """A count (views, likes, comments, shares, reactions)."""
