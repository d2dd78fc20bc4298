"""How far each calendar job has got, so that it catches up what it missed.

Revision ID: 0011_job_progress
Revises: 0009_ledger_line_index
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import housing.db

revision = "0011_job_progress"
down_revision = "0009_ledger_line_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_progress",
        sa.Column("job", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("done_through", sa.Date(), nullable=False),
        sa.Column("updated_at", housing.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job", name=op.f("pk_job_progress")),
    )


def downgrade() -> None:
    op.drop_table("job_progress")
