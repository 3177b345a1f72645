"""A run triggered through the API may narrow its rules (``rules`` / ``skip_rules``): only their data is read,
only they report, and a bad selection is refused before a run is claimed."""

from __future__ import annotations

import time
from typing import Any

from auditor.demo.motoserver import MotoServer
from auditor.rules.registry import catalog
from auditor.rules.selection import EVERYTHING
from tests.api.conftest import Api

DEV = {"name": "dev", "regions": ["eu-west-1"], "kubernetes": False}


def _finished(api: Api, run: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while run["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
        run = api.client.get(f"/api/v1/runs/{run['id']}", headers=api.read).json()
    return run


def test_a_narrowed_run_reads_and_reports_only_its_rules(api: Api, aws: MotoServer) -> None:
    assert api.client.post("/api/v1/targets", headers=api.admin, json=DEV).status_code == 201
    body = {"target": "dev", "rules": ["weak-tls-policy,certificate-expiring"], "skip_rules": ["certificate-expiring"]}
    started = api.client.post("/api/v1/runs", headers=api.admin, json=body)
    assert started.status_code == 202, started.text
    run = _finished(api, started.json())
    assert run["status"] == "complete", run
    report = api.client.get(f"/api/v1/runs/{run['id']}/report?format=json", headers=api.read).json()
    assert report["rules"] == ["weak-tls-policy"]
    assert {f["rule_id"] for f in report["findings"]} <= {"weak-tls-policy"}
    services = {call.split(":", 1)[0] for call in report["api_calls"]}
    assert services.isdisjoint({"wafv2", "acm", "iam", "ec2"}), services  # not needed by that rule

    # the target itself is unchanged: a later run without a selection runs every rule but the opt-in ones
    full = _finished(api, api.client.post("/api/v1/runs", headers=api.admin, json={"target": "dev"}).json())
    ran = api.client.get(f"/api/v1/runs/{full['id']}/report?format=json", headers=api.read).json()["rules"]
    assert set(ran) == EVERYTHING.rule_ids and "http-desync-unmitigated" not in ran
    # "all" is every rule, the opt-in ones too
    every = _finished(
        api, api.client.post("/api/v1/runs", headers=api.admin, json={"target": "dev", "rules": ["all"]}).json()
    )
    report = api.client.get(f"/api/v1/runs/{every['id']}/report?format=json", headers=api.read).json()
    assert set(report["rules"]) == {m.id for m in catalog()}


def test_a_bad_selection_is_refused_before_a_run_is_claimed(api: Api) -> None:
    assert api.client.post("/api/v1/targets", headers=api.admin, json=DEV).status_code == 201
    for body, says in (
        ({"rules": ["no-such-rule"]}, "unknown rule or category no-such-rule"),
        ({"rules": ["weak-tls-policy"], "skip_rules": ["tls"]}, "leaves no rule to run"),
    ):
        r = api.client.post("/api/v1/runs", headers=api.admin, json={"target": "dev", **body})
        assert r.status_code == 422, r.text
        assert says in r.json()["message"]
    for bad in (["a\x00b"], ["r" * 101], [""]):
        r = api.client.post("/api/v1/runs", headers=api.admin, json={"target": "dev", "rules": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "rules"], r.text
    assert api.client.get("/api/v1/runs?cluster=dev", headers=api.read).json()["items"] == []
