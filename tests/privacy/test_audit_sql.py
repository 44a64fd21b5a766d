"""Audit rows go to the database with their request's usage record, in one transaction, or
alone when there is none; on both databases, and readable by the audit log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from corral.accounts.admin import AccountsAdmin
from corral.accounts.keys import KeyHasher
from corral.errors import Conflict
from corral.metering.ledger import Ledger, UsageEntry
from corral.privacy.audit import AuditLog, PartnerCall
from corral.privacy.audit_sql import audit_row
from corral.settings import Policy, load_settings
from corral.storage import Database, open_database
from corral.storage.tables import AuditBody, UsageRecord


@pytest.fixture
def db(database_url: str, tmp_path: Path) -> Iterator[Database]:
    database = open_database(load_settings(home=tmp_path, database_url=database_url))
    yield database
    database.close()


def call(tenant_id: str, request_id: str, policy: Policy = "pseudonymize") -> PartnerCall:
    return PartnerCall(
        request_id, tenant_id, "key_a", "gpt-mini", "openai", policy,
        {"EMAIL": 2}, sent="[EMAIL_1] wrote", received="ok [EMAIL_1]",
    )  # fmt: skip


def entry(tenant_id: str, request_id: str) -> UsageEntry:
    now = dt.datetime.now(dt.UTC)
    return UsageEntry(
        request_id, tenant_id, "key_a", "gpt-mini", "partner", 10, 5, (1, 2), 20, "completed",
        now, now,
    )  # fmt: skip


def count(db: Database, table: type[AuditBody] | type[UsageRecord]) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


async def test_audit_rows_are_written_with_the_usage_record(db: Database) -> None:
    admin = AccountsAdmin(db, KeyHasher(b"t"))
    tenant = admin.create_tenant("acme", policy="pseudonymize_strict").id  # 19 characters fit
    ledger = Ledger(db)
    rows = [
        audit_row(call(tenant, "req_1"), retention_hours=24),
        audit_row(call(tenant, "req_1", "pseudonymize_strict"), retention_hours=None),
    ]
    try:
        await ledger.settle(entry(tenant, "req_1"), None, rows)
        await ledger.audit([audit_row(call(tenant, "req_2"), retention_hours=None)])
    finally:
        await ledger.aclose()

    events = AuditLog(db).events(tenant_id=tenant)
    assert sorted((e.request_id, e.policy) for e in events) == [
        ("req_1", "pseudonymize"),
        ("req_1", "pseudonymize_strict"),
        ("req_2", "pseudonymize"),
    ]
    assert all(e.pii == {"EMAIL": 2} and e.at.tzinfo is not None for e in events)
    assert count(db, UsageRecord) == 1
    with db.read() as session:
        kept = session.execute(select(AuditBody.sent, AuditBody.received)).all()
    assert [tuple(k) for k in kept] == [("[EMAIL_1] wrote", "ok [EMAIL_1]")]  # opted in: one


async def test_a_usage_record_and_its_audit_rows_commit_together_or_not_at_all(
    db: Database,
) -> None:
    tenant = AccountsAdmin(db, KeyHasher(b"t")).create_tenant("acme").id
    ledger = Ledger(db)
    broken = audit_row(call(tenant, "req_1"), retention_hours=None) | {"key_id": None}
    try:
        with pytest.raises(Conflict):  # the audit row breaks the transaction...
            await ledger.settle(entry(tenant, "req_1"), None, [broken])
    finally:
        await ledger.aclose()

    assert count(db, UsageRecord) == 0  # ...so the usage record did not commit either
    assert AuditLog(db).events(tenant_id=tenant) == []
