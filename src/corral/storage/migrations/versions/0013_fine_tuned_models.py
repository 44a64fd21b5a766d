"""Fine-tuned models: a tenant's private models, LoRA adapters on a served base.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fine_tuned_models",
        sa.Column("id", sa.String(length=256), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("base_model", sa.String(length=128), nullable=False),
        sa.Column("adapter_path", sa.Text(), nullable=False),
        sa.Column("adapter_sha256", sa.String(length=64), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fine_tuned_models")),
        sa.UniqueConstraint("job_id", name=op.f("uq_fine_tuned_models_job_id")),
    )
    with op.batch_alter_table("fine_tuned_models", schema=None) as batch_op:
        batch_op.create_index("ix_fine_tuned_models_tenant", ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fine_tuned_models", schema=None) as batch_op:
        batch_op.drop_index("ix_fine_tuned_models_tenant")
    op.drop_table("fine_tuned_models")
