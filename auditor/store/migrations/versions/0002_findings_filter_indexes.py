"""Findings list indexes per filter: (namespace|rule_id, is_open, severity_rank, id) replace single-column ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_namespace")
        batch_op.drop_index("ix_findings_rule_id")
        batch_op.create_index(
            "ix_findings_namespace_open_rank_id", ["namespace", "is_open", "severity_rank", "id"], unique=False
        )
        batch_op.create_index(
            "ix_findings_rule_open_rank_id", ["rule_id", "is_open", "severity_rank", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_rule_open_rank_id")
        batch_op.drop_index("ix_findings_namespace_open_rank_id")
        batch_op.create_index("ix_findings_rule_id", ["rule_id"], unique=False)
        batch_op.create_index("ix_findings_namespace", ["namespace"], unique=False)
