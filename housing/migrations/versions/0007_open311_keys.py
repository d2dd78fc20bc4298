"""open311 api keys: who may file requests through GeoReport v2, and under which user

Revision ID: 0007_open311_keys
Revises: 0006_quality_scores
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import housing.db

revision: str = "0007_open311_keys"
down_revision: str | None = "0006_quality_scores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "open311_api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_open311_api_key_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_api_key_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_api_key_name")),
    )
    with op.batch_alter_table("open311_api_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_open311_api_key_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("open311_api_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_open311_api_key_user_id"))

    op.drop_table("open311_api_key")
