"""Persistence: the schema, the database connection and its migrations (SQLite or PostgreSQL)."""

from corral.storage.database import Database, open_database

__all__ = ["Database", "open_database"]
