"""Persistence: the schema, the database connection and its migrations (SQLite or PostgreSQL).

The database module (SQLAlchemy) is imported when first asked for, so that a light module of
this package (`private`: the private folder and files) does not bring it into processes that
never open the database, such as `corral serve`'s supervisor.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corral.storage.database import Database, open_database

__all__ = ["Database", "open_database"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("corral.storage.database"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
