"""Initial schema: targets, runs, load balancers, findings, observations, suppressions, API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 15:34:17.669644
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_api_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cluster_name", sa.String(length=200), nullable=True),
        sa.Column("schedule", sa.String(length=100), nullable=True),
        sa.Column("definition", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
        sa.UniqueConstraint("name", name=op.f("uq_targets_name")),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("findings_failed", sa.Integer(), nullable=False),
        sa.Column("findings_unknown", sa.Integer(), nullable=False),
        sa.Column("findings_passed", sa.Integer(), nullable=False),
        sa.Column("findings_new", sa.Integer(), nullable=False),
        sa.Column("findings_resolved", sa.Integer(), nullable=False),
        sa.Column("load_balancers", sa.Integer(), nullable=False),
        sa.Column("aws_calls", sa.Integer(), nullable=False),
        sa.Column("collector_errors", sa.Integer(), nullable=False),
        sa.Column("coverage", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("api_calls", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("result", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_runs_target_id_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("target_id", "scheduled_for", name="uq_runs_target_scheduled_for"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_target_started", ["target_id", "started_at"], unique=False)
        batch_op.create_index(
            "uq_runs_running_target",
            ["target_id"],
            unique=True,
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("rule_id", sa.String(length=100), nullable=True),
        sa.Column("resource_arn", sa.String(length=400), nullable=True),
        sa.Column("namespace", sa.String(length=253), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_suppressions_target_id_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("resource_arn", sa.String(length=400), nullable=True),
        sa.Column("resource_name", sa.String(length=300), nullable=True),
        sa.Column("account", sa.String(length=20), nullable=True),
        sa.Column("region", sa.String(length=30), nullable=True),
        sa.Column("kube_kind", sa.String(length=40), nullable=True),
        sa.Column("namespace", sa.String(length=253), nullable=True),
        sa.Column("kube_name", sa.String(length=253), nullable=True),
        sa.Column("remediation", sa.Text(), nullable=False),
        sa.Column("monthly_cost_usd", sa.Float(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["runs.id"], name=op.f("fk_findings_last_run_id_runs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_findings_target_id_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
        sa.UniqueConstraint("target_id", "fingerprint", name="uq_findings_target_fingerprint"),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_findings_first_seen"), ["first_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_namespace"), ["namespace"], unique=False)
        batch_op.create_index("ix_findings_resource", ["resource_arn"], unique=False)
        batch_op.create_index(batch_op.f("ix_findings_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index("ix_findings_open_rank_id", ["is_open", "severity_rank", "id"], unique=False)
        batch_op.create_index(
            "ix_findings_target_open_rank_id", ["target_id", "is_open", "severity_rank", "id"], unique=False
        )

    op.create_table(
        "load_balancers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("arn", sa.String(length=400), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("dns_name", sa.String(length=300), nullable=False),
        sa.Column("account", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=30), nullable=False),
        sa.Column("owner_kind", sa.String(length=40), nullable=True),
        sa.Column("owner_namespace", sa.String(length=253), nullable=True),
        sa.Column("owner_name", sa.String(length=253), nullable=True),
        sa.Column("controller", sa.String(length=20), nullable=True),
        sa.Column("orphan", sa.String(length=20), nullable=True),
        sa.Column("monthly_cost_usd", sa.Float(), nullable=True),
        sa.Column("cost_basis", sa.String(length=200), nullable=True),
        sa.Column("view", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_load_balancers_run_id_runs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["targets.id"], name=op.f("fk_load_balancers_target_id_targets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_load_balancers")),
        sa.UniqueConstraint("run_id", "arn", name="uq_load_balancers_run_arn"),
    )
    with op.batch_alter_table("load_balancers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_load_balancers_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_load_balancers_target_id"), ["target_id"], unique=False)

    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"], name=op.f("fk_observations_finding_id_findings"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_observations_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
        sa.UniqueConstraint("finding_id", "run_id", name="uq_observations_finding_run"),
    )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observations_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_run_id"))

    op.drop_table("observations")
    with op.batch_alter_table("load_balancers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_balancers_target_id"))
        batch_op.drop_index(batch_op.f("ix_load_balancers_run_id"))

    op.drop_table("load_balancers")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_target_open_rank_id")
        batch_op.drop_index("ix_findings_open_rank_id")
        batch_op.drop_index(batch_op.f("ix_findings_rule_id"))
        batch_op.drop_index("ix_findings_resource")
        batch_op.drop_index(batch_op.f("ix_findings_namespace"))
        batch_op.drop_index(batch_op.f("ix_findings_first_seen"))

    op.drop_table("findings")
    op.drop_table("suppressions")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_runs_running_target",
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index("ix_runs_target_started")

    op.drop_table("runs")
    op.drop_table("targets")
    op.drop_table("api_tokens")
