"""Evals: evaluation definitions and the graded items of their runs (runs are jobs).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evals",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("data_source_config", sa.JSON(), nullable=False),
        sa.Column("testing_criteria", sa.JSON(), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evals")),
    )
    with op.batch_alter_table("evals", schema=None) as batch_op:
        batch_op.create_index("ix_evals_tenant_created", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "eval_output_items",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("datasource_item", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("sample", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "item_index", name=op.f("pk_eval_output_items")),
        sa.UniqueConstraint("id", name=op.f("uq_eval_output_items_id")),
    )


def downgrade() -> None:
    op.drop_table("eval_output_items")
    with op.batch_alter_table("evals", schema=None) as batch_op:
        batch_op.drop_index("ix_evals_tenant_created")
    op.drop_table("evals")
