"""One finding lifecycle: a finding exists from its first FAIL; rows an UNKNOWN alone made are removed.

Until now the store opened a finding on UNKNOWN as well as on FAIL (state ``unknown``, listed as open,
counted as new), while the reports ignored UNKNOWN. ``auditor.lifecycle`` now decides for both: UNKNOWN
never opens nor resolves a finding. A row whose rule never FAILed on its resource (no FAIL observation:
every FAIL was observed) was opened by UNKNOWN alone; under the new rule it is no finding, and left in
place it would stay "open, not re-checked" for good. Such rows are deleted with their observations. A
finding that was UNKNOWN before its first FAIL keeps its row; its ``first_seen`` becomes that first FAIL.

Data only: the schema does not change. The counts of runs recorded before stay as they were recorded.
The downgrade has nothing to undo and cannot bring the deleted rows back.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 04:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_FAILED = "SELECT 1 FROM observations o WHERE o.finding_id = findings.id AND o.status = 'FAIL'"


def upgrade() -> None:
    never_failed = f"SELECT id FROM findings WHERE NOT EXISTS ({_FAILED})"
    op.execute(f"DELETE FROM observations WHERE finding_id IN ({never_failed})")
    op.execute(f"DELETE FROM findings WHERE NOT EXISTS ({_FAILED})")
    op.execute(
        "UPDATE findings SET first_seen = (SELECT min(o.observed_at) FROM observations o"
        " WHERE o.finding_id = findings.id AND o.status = 'FAIL')"
    )


def downgrade() -> None:
    pass
