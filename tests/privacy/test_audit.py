"""The audit log: counts of what was masked for every partner call, bodies only on opt-in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import KeyHasher
from corral.privacy.audit import AuditLog, PartnerCall
from corral.settings import load_settings
from corral.storage import Database, open_database
from corral.storage.tables import AuditBody


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


def call(tenant_id: str | None, request_id: str = "req_1") -> PartnerCall:
    return PartnerCall(
        request_id, tenant_id, "key_a", "gpt-mini", "openai", "pseudonymize",
        {"EMAIL": 2, "PERSON": 1}, sent="[PERSON_1] wrote", received="ok",
    )  # fmt: skip


def bodies(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(AuditBody)) or 0


def test_events_keep_counts_and_each_tenant_sees_its_own(db: Database) -> None:
    admin = AccountsAdmin(db, KeyHasher(b"t"))
    acme, globex = admin.create_tenant("acme").id, admin.create_tenant("globex").id
    log = AuditLog(db)

    log.record(call(acme, "req_1"), retention_hours=None)
    log.record(call(globex, "req_2"), retention_hours=None)

    own = log.events(tenant_id=acme)
    assert [(e.request_id, e.tenant, e.pii) for e in own] == [
        ("req_1", "acme", {"EMAIL": 2, "PERSON": 1})
    ]
    assert len(log.events()) == 2
    assert bodies(db) == 0  # nothing sent or received is kept without an opt-in


def test_opted_in_bodies_are_kept_until_they_expire(db: Database) -> None:
    tenant = AccountsAdmin(db, KeyHasher(b"t")).create_tenant("acme", retention_hours=24).id
    log = AuditLog(db)
    log.record(call(tenant), retention_hours=24)
    assert bodies(db) == 1

    with db.write() as session:  # a day passes
        session.execute(
            update(AuditBody).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
    purged = log.purge_expired()

    assert purged == 1 and bodies(db) == 0
    assert len(log.events(tenant_id=tenant)) == 1  # the event itself stays
