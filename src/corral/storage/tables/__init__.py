"""The schema, as SQLAlchemy tables on one metadata (`Base`), a module per area. Changing it
means adding an Alembic migration.

Money is integer micro-units of the configured currency; times are UTC.
"""

from __future__ import annotations

from corral.storage.tables.accounts import (
    AccessRequest,
    ApiKey,
    LicenceAcceptance,
    LicenceGrant,
    ModelPrice,
    Revision,
    Tenant,
)
from corral.storage.tables.base import NAMING, Base, UTCDateTime
from corral.storage.tables.console import ConsoleConversation, ConsoleSession
from corral.storage.tables.metering import (
    BudgetMonth,
    BudgetReservation,
    IdempotencyRecord,
    PendingCharge,
    ProcessLease,
    UsageDaily,
    UsageRecord,
)
from corral.storage.tables.privacy import AuditBody, AuditEvent
from corral.storage.tables.work import (
    EvalDefinition,
    EvalOutputItem,
    FineTunedModel,
    Job,
    JobEvent,
    StoredFile,
    StoredResponse,
)

__all__ = [
    "NAMING",
    "AccessRequest",
    "ApiKey",
    "AuditBody",
    "AuditEvent",
    "Base",
    "BudgetMonth",
    "BudgetReservation",
    "ConsoleConversation",
    "ConsoleSession",
    "EvalDefinition",
    "EvalOutputItem",
    "FineTunedModel",
    "IdempotencyRecord",
    "Job",
    "JobEvent",
    "LicenceAcceptance",
    "LicenceGrant",
    "ModelPrice",
    "PendingCharge",
    "ProcessLease",
    "Revision",
    "StoredFile",
    "StoredResponse",
    "Tenant",
    "UTCDateTime",
    "UsageDaily",
    "UsageRecord",
]
