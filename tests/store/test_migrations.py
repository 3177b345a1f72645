"""The Alembic migrations build exactly the schema the ORM models describe (SQLite, PostgreSQL) and keep the data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, delete, func, insert, inspect, select

from auditor.errors import Conflict
from auditor.store.db import check_ready, head_revision, session_factory, upgrade
from auditor.store.models import Base, LoadBalancerRow
from auditor.store.runs import claim_run
from tests.store.results import ARN


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "models changed without a migration: add one under auditor/store/migrations/versions"
    assert check_ready(engine) is None
    assert upgrade(engine) == head_revision()  # upgrading again is a no-op


def _seed_revision_0002(conn: Connection) -> None:
    """One row in every table, written against the 0002 schema as reflected (not today's models)."""
    t = MetaData()
    t.reflect(conn)
    now = datetime.now(UTC)
    conn.execute(
        insert(t.tables["targets"]),
        {"id": 1, "name": "prod", "definition": {"name": "prod"}, "source": "config", "enabled": True}
        | {"created_at": now, "updated_at": now},
    )
    run = {"target_id": 1, "trigger": "cli", "started_at": now, "heartbeat_at": now, "owner": "host:1"}
    counts = dict.fromkeys(
        ("findings_failed", "findings_unknown", "findings_passed", "findings_new", "findings_resolved"), 0
    ) | {"load_balancers": 1, "aws_calls": 1, "collector_errors": 0}
    conn.execute(
        insert(t.tables["runs"]),
        [{"id": 1, "status": "complete", **run, **counts}, {"id": 2, "status": "running", **run, **counts}],
    )
    conn.execute(
        insert(t.tables["load_balancers"]),
        {"run_id": 1, "target_id": 1, "arn": ARN, "name": "k8s-shop-web", "type": "application"}
        | {"scheme": "internet-facing", "dns_name": "x.elb.amazonaws.com", "account": "123456789012"}
        | {"region": "eu-west-1", "cost_basis": "short", "view": {"arn": ARN}},
    )
    conn.execute(
        insert(t.tables["findings"]),
        {"id": 1, "target_id": 1, "fingerprint": "f" * 32, "rule_id": "rule-a", "title": "t", "severity": "high"}
        | {"severity_rank": 3, "state": "open", "is_open": True, "message": "m", "remediation": "r"}
        | {"first_seen": now, "last_seen": now, "reopened": 0, "last_run_id": 1, "resource_arn": ARN},
    )
    conn.execute(
        insert(t.tables["observations"]),
        {"finding_id": 1, "run_id": 1, "observed_at": now, "status": "FAIL", "severity": "high", "message": "m"},
    )
    conn.execute(
        insert(t.tables["suppressions"]),
        {"target_id": 1, "rule_id": "rule-b", "reason": "accepted", "created_by": "ops", "created_at": now},
    )
    conn.execute(
        insert(t.tables["api_tokens"]),
        {"name": "ops", "scope": "admin", "token_hash": "0" * 64, "prefix": "abc", "created_at": now},
    )


def _counts(engine: Engine) -> dict[str, int]:
    """Rows per table, of the tables the database has at its revision."""
    with engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
            if table.name in present
        }


def test_upgrading_to_text_columns_keeps_every_row(empty_engine: Engine) -> None:
    """0003 copies whole tables on SQLite: with foreign keys on, dropping the old copy would cascade and
    empty every table that references it. Nothing of the history may be lost on either backend."""
    upgrade(empty_engine, "0002")
    with empty_engine.begin() as conn:
        _seed_revision_0002(conn)
    before = _counts(empty_engine)
    assert before == dict.fromkeys(before, 1) | {"runs": 2}

    assert upgrade(empty_engine) == head_revision()
    # 0005 adds the (empty) Price List cache, 0007 the (empty) reads shared by replicas
    assert _counts(empty_engine) == before | {"price_lists": 0, "shared_reads": 0}
    factory = session_factory(empty_engine)
    with factory() as session:
        lb = session.scalars(select(LoadBalancerRow)).one()
        assert (lb.arn, lb.cost_basis, lb.view) == (ARN, "short", {"arn": ARN})
        lb.cost_basis = "c" * 5000  # what VARCHAR(200) refused on PostgreSQL
        session.commit()
    with pytest.raises(Conflict, match="still going"):  # the partial unique index came through the copy
        claim_run(factory, 1, trigger="cli", owner="test")
    with empty_engine.begin() as conn:  # and the foreign keys are enforced again, cascades included
        conn.execute(delete(Base.metadata.tables["targets"]))
    assert _counts(empty_engine) == dict.fromkeys(before, 0) | {"api_tokens": 1, "price_lists": 0, "shared_reads": 0}


def test_price_list_cache_migration_up_and_down(empty_engine: Engine) -> None:
    """0005 adds the Price List cache, which keeps what an audit read; downgrading removes it again."""
    from datetime import timedelta

    from auditor.inventory.models import LbPriceEntry, RegionPriceList
    from auditor.store.prices import StorePriceCache

    upgrade(empty_engine, "0004")
    assert "price_lists" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0005")
    cache = StorePriceCache(session_factory(empty_engine), timedelta(days=7))
    now = datetime.now(UTC)
    read = RegionPriceList(
        region="eu-central-1",
        source="AWS Price List API",
        as_of=now,
        load_balancers={"application": LbPriceEntry(hourly=0.027, per_capacity_unit=0.008)},
        public_ipv4_hourly=0.005,
    )
    cache.store([read], now=now)
    cache.store([read], now=now)  # replaced, not duplicated
    assert cache.fresh(["eu-central-1", "us-east-1"], now=now) == {"eu-central-1": read}
    assert cache.fresh(["eu-central-1"], now=now + timedelta(days=8)) == {}
    from alembic import command

    from auditor.store.db import alembic_config

    cfg = alembic_config(empty_engine)
    with empty_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    assert "price_lists" not in inspect(empty_engine).get_table_names()


def test_finding_cost_column_becomes_the_saving_and_keeps_its_values(empty_engine: Engine) -> None:
    """0006 renames findings.monthly_cost_usd (a saving all along) to monthly_saving_usd, values kept."""
    upgrade(empty_engine, "0005")
    with empty_engine.begin() as conn:
        _seed_revision_0002(conn)
        t = MetaData()
        t.reflect(conn)
        conn.execute(t.tables["findings"].update().values(monthly_cost_usd=18.25))
    upgrade(empty_engine, "0006")
    with empty_engine.connect() as conn:
        t = MetaData()
        t.reflect(conn)
        columns = {c.name for c in t.tables["findings"].columns}
        assert "monthly_cost_usd" not in columns
        assert conn.execute(select(t.tables["findings"].c.monthly_saving_usd)).scalars().all() == [18.25]


def test_shared_reads_migration_up_and_down(empty_engine: Engine) -> None:
    """0007 adds the reads kept for the other replicas; downgrading removes them again (they are a cache)."""
    from alembic import command

    from auditor.store.db import alembic_config

    upgrade(empty_engine, "0006")
    assert "shared_reads" not in inspect(empty_engine).get_table_names()
    upgrade(empty_engine, "0007")
    assert "shared_reads" in inspect(empty_engine).get_table_names()
    cfg = alembic_config(empty_engine)
    with empty_engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    assert "shared_reads" not in inspect(empty_engine).get_table_names()
