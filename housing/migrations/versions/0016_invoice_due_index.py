"""Index invoices by due day: the daily payment reminders find those due soon or just overdue.

Revision ID: 0016_invoice_due_index
Revises: 0015_announcements
"""

from alembic import op

revision = "0016_invoice_due_index"
down_revision = "0015_announcements"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_due_date_status"), ["due_date", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_due_date_status"))
