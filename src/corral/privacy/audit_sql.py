"""Audit rows written by the ledger's group commit, in the transaction of a usage record.

A partner call's audit row travels with its request (`GenerationRequest.audit`) and is written
with that request's settlement (`metering.group_commit`): no second round trip per call. A
call that leaves no usage record (it failed before any token) has its rows written alone,
through the same group commit. The SQL for each database is here; `privacy.audit` reads them.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

import orjson

from corral.privacy.audit import PartnerCall

AuditRow = dict[str, Any]

_COLUMNS = "at, request_id, tenant_id, key_id, model, backend, policy, pii"
_SQLITE_EVENT = f"INSERT INTO audit_events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_SQLITE_EVENT_ID = _SQLITE_EVENT + " RETURNING id"
_SQLITE_BODY = "INSERT INTO audit_bodies (event_id, sent, received, expires_at) VALUES (?, ?, ?, ?)"
# Ids drawn first, so that each body finds its event's id in one statement for a whole batch.
POSTGRES_AUDIT = """
WITH a AS (
    SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) AS id, a.*
    FROM json_to_recordset(%(rows)s::json) AS a(at timestamptz, request_id text,
        tenant_id text, key_id text, model text, backend text, policy text, pii json,
        sent text, received text, expires_at timestamptz)
),
events AS (
    INSERT INTO audit_events (id, at, request_id, tenant_id, key_id, model, backend, policy, pii)
    SELECT id, at, request_id, tenant_id, key_id, model, backend, policy, pii FROM a
)
INSERT INTO audit_bodies (event_id, sent, received, expires_at)
SELECT id, sent, received, expires_at FROM a WHERE expires_at IS NOT NULL
"""


def audit_row(call: PartnerCall, retention_hours: int | None) -> AuditRow:
    """The audit row of one partner call; with `retention_hours`, its bodies kept that long."""
    now = dt.datetime.now(dt.UTC)
    keep = bool(retention_hours)
    return {
        "at": now,
        "request_id": call.request_id,
        "tenant_id": call.tenant_id,
        "key_id": call.key_id,
        "model": call.model,
        "backend": call.backend,
        "policy": call.policy,
        "pii": call.pii,
        "sent": call.sent if keep else None,
        "received": call.received if keep else None,
        "expires_at": now + dt.timedelta(hours=retention_hours or 0) if keep else None,
    }


def write_sqlite(connection: sqlite3.Connection, rows: list[AuditRow]) -> None:
    """Inside the caller's transaction. Rows without bodies (the usual) in one statement."""
    plain = []
    for row in rows:
        event = _sqlite_event(row)
        if row["expires_at"] is None:
            plain.append(event)
            continue
        (event_id,) = connection.execute(_SQLITE_EVENT_ID, event).fetchone()
        body = (event_id, row["sent"], row["received"], _sqlite_time(row["expires_at"]))
        connection.execute(_SQLITE_BODY, body)
    if plain:
        connection.executemany(_SQLITE_EVENT, plain)


def _sqlite_event(row: AuditRow) -> tuple[Any, ...]:
    # A tuple for positional parameters: a copy of the row as a dict per event, bound by
    # name, cost a sixth of the audit write's time on every partner request.
    # orjson: JSON the column reads back alike (compact: json.dumps adds spaces), in a
    # tenth of the time.
    return (
        _sqlite_time(row["at"]),
        row["request_id"],
        row["tenant_id"],
        row["key_id"],
        row["model"],
        row["backend"],
        row["policy"],
        orjson.dumps(row["pii"]).decode(),
    )


def postgres_rows(rows: list[AuditRow]) -> str:
    return orjson.dumps(rows).decode()  # datetimes as ISO 8601, which timestamptz reads


def _sqlite_time(moment: dt.datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime writes (see `ledger_sqlite._sqlite_values`).
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
