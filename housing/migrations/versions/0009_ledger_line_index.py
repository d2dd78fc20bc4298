"""Index ledger entries by the invoice line they correct.

Revision ID: 0009_ledger_line_index
Revises: 0008_user_language
"""

from alembic import op

revision = "0009_ledger_line_index"
down_revision = "0008_user_language"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_entry_invoice_line_id"), ["invoice_line_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entry_invoice_line_id"))
