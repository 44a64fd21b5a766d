"""Budget reservations are keyed by their own id: `request_id` held reservation ids, never a
request's, and is renamed `id`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("budget_reservations") as batch:
        batch.alter_column("request_id", new_column_name="id", existing_type=sa.String(length=64))


def downgrade() -> None:
    with op.batch_alter_table("budget_reservations") as batch:
        batch.alter_column("id", new_column_name="request_id", existing_type=sa.String(length=64))
