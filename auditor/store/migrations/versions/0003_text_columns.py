"""Free text becomes TEXT: names, ARNs, titles, cost bases and the like no longer have arbitrary lengths.

PostgreSQL raised ``StringDataRightTruncation`` for an internet-facing ALB's cost basis (270-340
characters in a VARCHAR(200)) and the run was lost; SQLite never enforced the lengths. Bounded types
stay where the program itself bounds the value (statuses, severities, scopes, hex digests).

On PostgreSQL, VARCHAR(n) to TEXT is binary coercible: no table rewrite, and the indexes stay as they
are (https://www.postgresql.org/docs/15/sql-altertable.html, "Notes"). On SQLite, batch mode copies
each table (https://alembic.sqlalchemy.org/en/latest/batch.html); ``auditor.store.db.upgrade`` turns
foreign keys off around it, as SQLite's own procedure for such changes says
(https://www.sqlite.org/lang_altertable.html#otheralter), so no ON DELETE CASCADE fires.

The downgrade restores the old lengths; on PostgreSQL it fails, rather than truncate, when a stored
value is longer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# table -> (column, old length, nullable)
COLUMNS: dict[str, list[tuple[str, int, bool]]] = {
    "targets": [("name", 200, False), ("cluster_name", 200, True), ("schedule", 100, True)],
    "runs": [("owner", 200, False)],
    "load_balancers": [
        ("arn", 400, False),
        ("name", 200, False),
        ("type", 20, False),
        ("scheme", 20, False),
        ("dns_name", 300, False),
        ("account", 20, False),
        ("region", 30, False),
        ("owner_kind", 40, True),
        ("owner_namespace", 253, True),
        ("owner_name", 253, True),
        ("controller", 20, True),
        ("orphan", 20, True),
        ("cost_basis", 200, True),
    ],
    "findings": [
        ("rule_id", 100, False),
        ("title", 300, False),
        ("resource_arn", 400, True),
        ("resource_name", 300, True),
        ("account", 20, True),
        ("region", 30, True),
        ("kube_kind", 40, True),
        ("namespace", 253, True),
        ("kube_name", 253, True),
    ],
    "suppressions": [
        ("rule_id", 100, True),
        ("resource_arn", 400, True),
        ("namespace", 253, True),
        ("fingerprint", 64, True),
        ("created_by", 200, False),
    ],
    "api_tokens": [("name", 200, False)],
}


def upgrade() -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length, nullable in columns:
                batch_op.alter_column(
                    column, existing_type=sa.String(length=length), type_=sa.Text(), existing_nullable=nullable
                )


def downgrade() -> None:
    for table, columns in reversed(COLUMNS.items()):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column, length, nullable in columns:
                batch_op.alter_column(
                    column, existing_type=sa.Text(), type_=sa.String(length=length), existing_nullable=nullable
                )
