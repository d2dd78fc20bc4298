"""Index service requests by filing time: Open311's city-wide list takes the newest 1,000.

Revision ID: 0013_request_time_index
Revises: 0012_staff_readings
"""

from alembic import op

revision = "0013_request_time_index"
down_revision = "0012_staff_readings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_request_created_at_id"), ["created_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_created_at_id"))
