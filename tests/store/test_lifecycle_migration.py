"""Migration 0004: findings that an UNKNOWN alone opened (the old lifecycle) are no findings any more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, MetaData, insert, select

from auditor.store.db import upgrade

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)


def test_rows_opened_by_unknown_alone_go_and_first_seen_is_the_first_fail(empty_engine: Engine) -> None:
    upgrade(empty_engine, "0003")
    t = MetaData()
    t.reflect(empty_engine)
    # what the old store wrote for: rule-u UNKNOWN twice; rule-p UNKNOWN then PASS (resolved);
    # rule-l UNKNOWN then FAIL; rule-f FAIL then UNKNOWN (open, not re-checked: stays)
    history = {
        "rule-u": (["UNKNOWN", "UNKNOWN"], "unknown", True),
        "rule-p": (["UNKNOWN", "PASS"], "resolved", False),
        "rule-l": (["UNKNOWN", "FAIL"], "open", True),
        "rule-f": (["FAIL", "UNKNOWN"], "unknown", True),
    }
    with empty_engine.begin() as conn:
        conn.execute(
            insert(t.tables["targets"]),
            {"id": 1, "name": "prod", "definition": {}, "source": "config", "enabled": True}
            | {"created_at": T0, "updated_at": T0},
        )
        counts = dict.fromkeys(
            ("findings_failed", "findings_unknown", "findings_passed", "findings_new", "findings_resolved"), 0
        ) | {"load_balancers": 0, "aws_calls": 0, "collector_errors": 0}
        conn.execute(
            insert(t.tables["runs"]),
            [
                {"id": n, "target_id": 1, "trigger": "cli", "status": "complete", "owner": "h:1"}
                | {"started_at": T0 + timedelta(hours=n), "heartbeat_at": T0}
                | counts
                for n in (1, 2)
            ],
        )
        for i, (rule, (statuses, state, is_open)) in enumerate(history.items(), start=1):
            conn.execute(
                insert(t.tables["findings"]),
                {"id": i, "target_id": 1, "fingerprint": rule, "rule_id": rule, "title": "t", "severity": "high"}
                | {"severity_rank": 3, "state": state, "is_open": is_open, "message": "m", "remediation": ""}
                | {"first_seen": T0 + timedelta(hours=1), "last_seen": T0 + timedelta(hours=2), "reopened": 0},
            )
            conn.execute(
                insert(t.tables["observations"]),
                [
                    {"finding_id": i, "run_id": n, "observed_at": T0 + timedelta(hours=n), "status": status}
                    | {"severity": "high", "message": "m"}
                    for n, status in enumerate(statuses, start=1)
                ],
            )

    assert upgrade(empty_engine, "0004") == "0004"  # the migration under test (later ones change columns read below)

    findings, observations = t.tables["findings"], t.tables["observations"]
    with empty_engine.connect() as conn:
        rows = {r.rule_id: r for r in conn.execute(select(findings))}
        kept_observations = {r.finding_id for r in conn.execute(select(observations))}
    assert set(rows) == {"rule-l", "rule-f"}
    assert kept_observations == {rows["rule-l"].id, rows["rule-f"].id}
    # reflected columns: aware on PostgreSQL, naive UTC on SQLite
    first_seen = {rule: r.first_seen.replace(tzinfo=r.first_seen.tzinfo or UTC) for rule, r in rows.items()}
    assert first_seen == {"rule-l": T0 + timedelta(hours=2), "rule-f": T0 + timedelta(hours=1)}
