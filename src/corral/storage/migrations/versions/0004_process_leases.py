"""Process leases: a live process renews its row; an idempotency claim names its process's.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "process_leases",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_leases")),
    )
    with op.batch_alter_table("process_leases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_process_leases_expires_at"), ["expires_at"], unique=False
        )
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_id", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_records", schema=None) as batch_op:
        batch_op.drop_column("lease_id")
    with op.batch_alter_table("process_leases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_process_leases_expires_at"))
    op.drop_table("process_leases")
