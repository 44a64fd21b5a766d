"""The operator's price overrides: a model's price set at run time, replacing the config file's.

Overrides live in the database (`model_prices`), so the admin API and the CLI write the same
rows and every server sees them: each change bumps the accounts revision, and servers drop
their cached prices when it moves (see `accounts.directory`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from corral.accounts.bounds import AccountLimits
from corral.clock import now
from corral.storage import Database
from corral.storage.revision import bump_revision
from corral.storage.tables import ModelPrice


@dataclass(frozen=True, slots=True)
class PriceOverride:
    model: str
    input_micros: int
    """Micro-units per million prompt tokens."""
    output_micros: int
    """Micro-units per million completion tokens."""
    updated_at: dt.datetime


class PriceOverrides:
    def __init__(self, db: Database, limits: AccountLimits | None = None) -> None:
        self._db = db
        self._limits = limits or AccountLimits()
        self._dialect: Any = postgresql if db.dialect == "postgresql" else sqlite

    def set(self, model: str, input_micros: int, output_micros: int) -> PriceOverride:
        """Set (or replace) the model's prices per million tokens, in micro-units."""
        self._limits.price(input_micros, "input")
        self._limits.price(output_micros, "output")
        stamp = now()
        values = {
            "model": model,
            "input_micros": input_micros,
            "output_micros": output_micros,
            "updated_at": stamp,
        }
        statement = self._dialect.insert(ModelPrice).values(**values)
        with self._db.write() as session:
            session.execute(statement.on_conflict_do_update(index_elements=["model"], set_=values))
            bump_revision(session)
        return PriceOverride(model, input_micros, output_micros, stamp)

    def clear(self, model: str) -> bool:
        """Drop the model's override (it goes back to the config file's price).

        Returns whether there was one; clearing nothing changes nothing.
        """
        with self._db.write() as session:
            gone = session.execute(delete(ModelPrice).where(ModelPrice.model == model))
            removed = bool(gone.rowcount)  # type: ignore[attr-defined]
            if removed:
                bump_revision(session)
        return removed
