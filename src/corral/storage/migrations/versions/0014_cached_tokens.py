"""Prompt tokens served from the prefix cache, and the price they were billed at, on each usage
record and on a stream's write-ahead bill.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("usage_records", "pending_charges")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("cached_tokens", sa.BigInteger(), nullable=False, server_default="0")
            )
            batch.add_column(sa.Column("cached_price_micros", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("cached_price_micros")
            batch.drop_column("cached_tokens")
