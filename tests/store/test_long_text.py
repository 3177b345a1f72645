"""Free text of any length is recorded and read back unchanged, on PostgreSQL as on SQLite.

PostgreSQL enforces a VARCHAR's length where SQLite ignores it: a 340-character cost basis in a
VARCHAR(200) lost the whole run there while every SQLite test passed. Both backends run these.
"""

from __future__ import annotations

import hashlib
import math

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from auditor.config import TargetConfig
from auditor.findings import AuditResult
from auditor.store import runs as store_runs
from auditor.store.models import FindingRow
from auditor.store.queries import FindingFilter, LoadBalancerFilter, get_finding, list_findings, list_load_balancers
from auditor.store.targets import sync_targets
from tests.store.results import finding, lb, result


def _text(seed: str, n: int) -> str:
    """n characters that do not compress (a btree entry is limited after compression) and are not all ASCII."""
    out, i = [], 0
    while sum(map(len, out)) < n:
        out.append(hashlib.sha256(f"{seed}{i}".encode()).hexdigest() + " €—ü ")
        i += 1
    return "".join(out)[:n]


def _long_result() -> AuditResult:
    # An ARN is at most 2048 characters (IAM's ARN type); it is indexed, so it is the longest value tested.
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/" + _text("arn", 2048 - 70)
    base = finding("rule-long", arn=arn, namespace=_text("ns", 300), name=_text("kube", 600))
    long_finding = base.model_copy(
        update={
            "title": _text("title", 3000),
            "message": _text("message", 20_000),
            "remediation": _text("remediation", 8000),
            "resource_name": _text("resource", 1000),
            "evidence": {"annotations": {_text("key", 300): _text("value", 5000)}, "paths": [_text("p", 900)] * 5},
        }
    )
    view = lb(arn).model_copy(
        update={
            "name": _text("name", 500),
            "dns_name": _text("dns", 800),
            "cost_basis": _text("basis", 4000),  # a real internet-facing ALB's is 270-340 characters
        }
    )
    return result([long_finding], load_balancers=[view])


def test_long_text_records_and_reads_back_identical(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        [target] = sync_targets(s, [TargetConfig(name=_text("target", 200).strip(), regions=["eu-west-1"])])
        s.commit()
        target_id, target_name = target.id, target.name
    res = _long_result()
    owner = _text("owner", 400)
    run = store_runs.claim_run(factory, target_id, trigger="api", owner=owner)
    recorded = store_runs.record_result(factory, run.id, res)
    assert (recorded.status, recorded.new) == ("complete", 1)

    [want] = res.findings
    [view] = res.load_balancers
    with factory() as s:
        [item] = list_findings(s, FindingFilter(), limit=10).items
        detail, history = get_finding(s, item["id"])
        evidence = s.scalars(select(FindingRow.evidence)).one()
        lbs, total = list_load_balancers(s, LoadBalancerFilter(cluster=target_name), limit=10)
        stored_run = store_runs.get_run(s, run.id)
        stored_result = store_runs.run_result(s, stored_run)
    assert item["cluster"] == target_name
    for got in (item, detail):
        assert got["title"] == want.title and got["message"] == want.message
        assert got["remediation"] == want.remediation and got["resource_name"] == want.resource_name
        assert got["resource_arn"] == want.resource_arn and got["kube_name"] == want.kubernetes.name  # type: ignore[union-attr]
        assert got["namespace"] == want.kubernetes.namespace  # type: ignore[union-attr]
    assert detail["evidence"] == evidence == want.evidence
    assert history[0]["message"] == want.message
    assert total == 1
    assert {k: lbs[0][k] for k in ("arn", "name", "dns_name", "cost_basis")} == {
        "arn": view.arn,
        "name": view.name,
        "dns_name": view.dns_name,
        "cost_basis": view.cost_basis,
    }
    assert [f["title"] for f in lbs[0]["findings"]] == [want.title]
    assert stored_run.owner == owner and stored_run.status == "complete"
    assert stored_result == res


def test_a_long_failure_reason_is_kept_whole(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        [target] = sync_targets(s, [TargetConfig(name="prod", regions=["eu-west-1"])])
        s.commit()
    run = store_runs.claim_run(factory, target.id, trigger="api", owner="test")
    message = "recording failed: " + _text("error", 6000)
    store_runs.fail_run(factory, run.id, message)
    with factory() as s:
        stored = store_runs.get_run(s, run.id)
    assert (stored.status, stored.error) == ("failed", message)


def test_a_nul_character_is_stored_as_a_replacement_character_not_refused(factory: sessionmaker[Session]) -> None:
    """PostgreSQL's text and jsonb cannot hold NUL, which an annotation value can carry: it is stored as
    U+FFFD on both backends (the rest of the text, and a literal backslash-u0000, unchanged)."""
    with factory() as s:
        [target] = sync_targets(s, [TargetConfig(name="prod", regions=["eu-west-1"])])
        s.commit()
    nul, literal = "a\x00b", "\\u0000 and \\\\u0000 are text"
    base = finding("rule-nul")
    res = result(
        [base.model_copy(update={"title": nul, "message": nul, "evidence": {f"k{nul}": [nul, literal]}})],
        load_balancers=[lb().model_copy(update={"cost_basis": nul})],
    )
    run = store_runs.claim_run(factory, target.id, trigger="api", owner=nul)
    assert store_runs.record_result(factory, run.id, res).status == "complete"
    with factory() as s:
        [item] = list_findings(s, FindingFilter(), limit=10).items
        detail, _ = get_finding(s, item["id"])
        [stored_lb], _ = list_load_balancers(s, LoadBalancerFilter(), limit=10)
        stored_run = store_runs.get_run(s, run.id)
        stored_result = store_runs.run_result(s, stored_run)
    assert (item["title"], item["message"], stored_lb["cost_basis"], stored_run.owner) == ("a\ufffdb",) * 4
    assert detail["evidence"] == {"ka\ufffdb": ["a\ufffdb", literal]}
    assert stored_result.findings[0].message == "a\ufffdb" and stored_result.load_balancers[0].cost_basis == "a\ufffdb"


def test_a_non_finite_number_is_stored_not_refused(factory: sessionmaker[Session]) -> None:
    """JSON has no NaN nor Infinity and jsonb refuses the tokens json.dumps writes for them (SQLite stores them):
    a billed cost Cost Explorer sent as "NaN" cost the whole run on PostgreSQL. Stored as strings, read back as the
    same floats on both backends."""
    with factory() as s:
        [target] = sync_targets(s, [TargetConfig(name="prod", regions=["eu-west-1"])])
        s.commit()
    nan, inf = float("nan"), float("inf")
    res = result(
        [finding("rule-nan", saving=nan).model_copy(update={"evidence": {"usage": [inf, -inf, 1.5]}})],
        load_balancers=[lb(cost=inf).model_copy(update={"billed_usd": nan})],
    )
    run = store_runs.claim_run(factory, target.id, trigger="api", owner="test")
    assert store_runs.record_result(factory, run.id, res).status == "complete"
    with factory() as s:
        [item] = list_findings(s, FindingFilter(), limit=10).items
        detail, _ = get_finding(s, item["id"])
        stored = store_runs.run_result(s, store_runs.get_run(s, run.id))
    assert detail["evidence"] == {"usage": ["Infinity", "-Infinity", 1.5]}
    [view] = stored.load_balancers
    assert view.monthly_cost_usd == inf and math.isnan(view.billed_usd or 0.0)
    assert math.isnan(stored.findings[0].monthly_saving_usd or 0.0)
