"""Alembic migrations of corral's schema (applied at start by `Database.migrate`)."""
