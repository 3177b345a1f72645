"""findings.monthly_cost_usd becomes monthly_saving_usd: the figure is what fixing the finding saves, not a cost.

Every rule that set it already stored a saving there (the cost of the load balancer to delete or merge);
the values are kept. Classic Load Balancer findings stored the CLB's whole cost; from now on their saving is
the difference to an NLB, written by the next run that sees them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column("monthly_cost_usd", new_column_name="monthly_saving_usd")


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.alter_column("monthly_saving_usd", new_column_name="monthly_cost_usd")
