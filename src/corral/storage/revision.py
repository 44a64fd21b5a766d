"""The accounts revision: one counter that every change to tenants, keys, grants or prices
bumps in its own transaction; servers poll it and drop their caches when it moves (see
`accounts.directory`)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from corral.storage.tables import Revision


def bump_revision(session: Session) -> None:
    session.execute(update(Revision).where(Revision.id == 1).values(revision=Revision.revision + 1))
