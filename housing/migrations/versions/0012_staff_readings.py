"""Dated readings entered by staff: who entered each and why, beside the reading (source staff).

Revision ID: 0012_staff_readings
Revises: 0011_job_progress
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import housing.db

revision = "0012_staff_readings"
down_revision = "0011_job_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meter_id"], ["meter.id"], name=op.f("fk_staff_reading_meter_id_meter")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_staff_reading_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_reading")),
        sa.UniqueConstraint("meter_id", "taken_at", name=op.f("uq_staff_reading_meter_id_taken_at")),
    )


def downgrade() -> None:
    op.drop_table("staff_reading")
