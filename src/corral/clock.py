"""The wall clock every stored timestamp comes from: aware UTC, never naive local time."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
