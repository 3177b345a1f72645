"""End to end over the built-in demo: the real CLI audits moto + the Kubernetes emulators over HTTP.

Each rule must FAIL on exactly the objects the demo scenario breaks (auditor/demo/environment.py has
the table) and nowhere else, across the three demo clusters.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import cli
from auditor.demo.environment import DemoEnvironment
from auditor.rules.registry import catalog
from tests.support.moto_iam import moto_names

CONTROLLER_SA = "ServiceAccount kube-system/aws-load-balancer-controller"
ORPHAN = "<orphan>"  # stands for the leaked NLB, whose name the audit reports (no Kubernetes owner)
GATEWAY_ORPHAN = "<gateway orphan>"  # the leaked ALB of the deleted Gateway edge/preview
ORPHAN_PREFIXES = {"k8s-data-redis-": ORPHAN, "k8s-edge-preview-": GATEWAY_ORPHAN}

# (target, object) pairs each rule must FAIL on. An object is the finding's Kubernetes ref, else its
# resource name; ungrouped-ingresses is named by the Ingress groups it would merge.
EXPECTED_FAILS: dict[str, set[tuple[str, str]]] = {
    # edge/public: HTTPRoute edge/promo is attached to the Gateway's HTTP listener without a redirect
    # wiki/wiki: class nginx, served as plain HTTP by ingress-nginx behind its internet-facing NLB
    "http-without-redirect": {
        ("demo", "Ingress blog/blog"),
        ("demo", "Gateway edge/public"),
        ("demo", "Ingress wiki/wiki"),
    },
    "public-alb-without-waf": {("demo", "Ingress blog/blog")},
    "certificate-expiring": {("demo", "Service payments/api")},
    "certificate-host-mismatch": {("demo", "Ingress blog/media")},
    # its certificate for cdn.example.com was imported with an RSA 1024-bit key
    "weak-certificate-key": {("demo", "Ingress blog/media")},
    "weak-tls-policy": {("demo", "Ingress blog/media")},
    "public-sensitive-port": {("demo", "Service data/postgres")},
    "implicit-public-scheme": {("demo", "Service data/postgres")},
    "duplicate-load-balancer": {("demo", "Service shop/cart")},
    # payments/api: HTTPS on its own NLB beside the public shop ALB; shop/cart: HTTP on its own internal
    # NLB beside the internal dashboards ALBs
    "http-service-on-own-lb": {("demo", "Service payments/api"), ("demo", "Service shop/cart")},
    "ungrouped-ingresses": {("demo", "data/dashboards + data/grafana")},
    # the NLB of the deleted Service data/redis and the ALB of the deleted Gateway edge/preview
    "orphaned-load-balancer": {("demo", ORPHAN), ("demo", GATEWAY_ORPHAN)},
    "classic-load-balancer": {("demo", "Service legacy/smtp-relay")},
    "invalid-annotation": {("demo", "Ingress legacy/admin")},
    # legacy/admin: rejected for its annotation; web/frontend: no controller replica to provision it
    "ingress-not-provisioned": {("demo", "Ingress legacy/admin"), ("staging", "Service web/frontend")},
    # data/search: no ready pod; the orphan: its Service and pods are gone
    "lb-without-healthy-targets": {("demo", "Service data/search"), ("demo", ORPHAN)},
    # the leaked NLB gets no traffic (the demo seeds CloudWatch metrics for every other load balancer)
    "idle-load-balancer": {("demo", ORPHAN)},
    "irsa-policy-missing-actions": {("demo", CONTROLLER_SA)},
    "controller-missing": {("staging", "Deployment kube-system/aws-load-balancer-controller")},
    "irsa-role-invalid": {("staging", CONTROLLER_SA)},
    "irsa-not-configured": {("sandbox", CONTROLLER_SA)},
    "unmaintained-ingress-controller": {("demo", "Deployment ingress-nginx/ingress-nginx-controller")},
    # orders: default-deny plus an allow for pods only drops its internal ALB's traffic to the ip targets
    "network-policy-blocks-load-balancer": {("demo", "Ingress orders/checkout")},
    # blog's internet-facing backends, in a namespace without any ingress policy
    # ... and ingress-nginx's: its controller behind the internet-facing NLB, and the wiki Services it serves
    # (neither namespace has an ingress policy)
    "public-backend-without-network-policy": {
        ("demo", "Service blog/blog"),
        ("demo", "Service blog/media"),
        ("demo", "Service ingress-nginx/ingress-nginx-controller"),
        ("demo", "Service wiki/docs"),
        ("demo", "Service wiki/wiki"),
    },
    # sandbox: a default-deny policy while the VPC CNI's network policy agent is off (named by the cluster)
    "network-policy-not-enforced": {("sandbox", "sandbox")},
}

DEMO_OWNERS = {
    ("IngressGroup", None, "shop", "application"),
    ("Ingress", "blog", "blog", "application"),
    ("Ingress", "blog", "media", "application"),
    ("Ingress", "data", "dashboards", "application"),
    ("Ingress", "data", "grafana", "application"),
    ("Ingress", "orders", "checkout", "application"),
    ("Service", "shop", "cart", "network"),
    ("Service", "payments", "api", "network"),
    ("Service", "data", "postgres", "network"),
    ("Service", "data", "search", "network"),
    ("Service", "legacy", "smtp-relay", "classic"),
    ("Gateway", "edge", "public", "application"),
    ("Gateway", "data", "queue", "network"),
    ("Service", "ingress-nginx", "ingress-nginx-controller", "network"),
}


SENTINELS = {"AWS_PROFILE": "someone-elses-profile", "AWS_ENDPOINT_URL_ELBV2": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoEnvironment]:
    """The demo environment, entered with a user's AWS settings in place; they must come back unchanged."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in SENTINELS.items():
            mp.setenv(key, value)
        before = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
        with DemoEnvironment() as env:
            yield env
        assert {k: v for k, v in os.environ.items() if k.startswith("AWS_")} == before


@pytest.fixture(scope="module")
def audit(demo: DemoEnvironment) -> dict[str, Any]:
    """`auditor audit --config <the demo's targets file> -o json --include-pass`, through the real CLI."""
    result = CliRunner().invoke(
        cli, ["audit", "--config", str(demo.config_file), "--output", "json", "--include-pass"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)  # stdout is nothing but the JSON document
    assert "Auditing demo" in result.stderr  # progress went to stderr
    return {"stderr": result.stderr, "targets": {t["target"]: t for t in doc["targets"]}}


def _object(finding: dict[str, Any], orphans: dict[str, str]) -> str:
    if finding["rule_id"] == "ungrouped-ingresses" and "members" in finding["evidence"]:
        return " + ".join(sorted(m["group"] for m in finding["evidence"]["members"]))
    ref = finding["kubernetes"]
    if ref is not None:
        where = f"{ref['namespace']}/{ref['name']}" if ref["namespace"] else ref["name"]
        return f"{ref['kind']} {where}"
    return orphans.get(finding["resource_name"], str(finding["resource_name"]))


def _orphan_names(targets: dict[str, Any]) -> dict[str, str]:
    """The demo's ownerless load balancers (their names carry a hash) -> the placeholder the expectations use."""
    orphans = [str(lb["name"]) for lb in targets["demo"]["load_balancers"] if lb["owner"] is None]
    found = {name: label for name in orphans for prefix, label in ORPHAN_PREFIXES.items() if name.startswith(prefix)}
    assert sorted(found.values()) == sorted(ORPHAN_PREFIXES.values()) and len(orphans) == len(found), orphans
    return found


def _by_rule(targets: dict[str, Any], status: str) -> dict[str, set[tuple[str, str]]]:
    orphans = _orphan_names(targets)
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for name, doc in targets.items():
        for f in doc["findings"]:
            if f["status"] == status:
                found[f["rule_id"]].add((name, _object(f, orphans)))
    return found


def test_every_scenario_rule_exists() -> None:
    assert set(EXPECTED_FAILS) <= {m.id for m in catalog()}


def test_the_demo_has_three_clusters_audited_completely(audit: dict[str, Any]) -> None:
    targets = audit["targets"]
    assert set(targets) == {"demo", "staging", "sandbox"}
    for doc in targets.values():
        assert doc["status"] == "complete"
        assert doc["coverage"], doc["target"]
        assert {c["status"] for c in doc["coverage"]} == {"ok"}, [c for c in doc["coverage"] if c["status"] != "ok"]
        assert doc["api_calls"]


@pytest.mark.parametrize("rule_id", sorted(EXPECTED_FAILS))
def test_rule_fails_exactly_where_the_scenario_breaks_it(audit: dict[str, Any], rule_id: str) -> None:
    failed = _by_rule(audit["targets"], "FAIL")
    assert failed.get(rule_id, set()) == EXPECTED_FAILS[rule_id]


def test_no_other_rule_fails_and_nothing_is_unknown(audit: dict[str, Any]) -> None:
    failed = _by_rule(audit["targets"], "FAIL")
    assert set(failed) <= set(EXPECTED_FAILS), sorted(set(failed) - set(EXPECTED_FAILS))
    assert _by_rule(audit["targets"], "UNKNOWN") == {}


def test_healthy_objects_pass(audit: dict[str, Any]) -> None:
    passed = _by_rule(audit["targets"], "PASS")
    # the healthy reference: the shop IngressGroup passes every load balancer check it is subject to
    for rule_id in (
        "http-without-redirect",
        "public-alb-without-waf",
        "weak-tls-policy",
        "weak-certificate-key",
        "lb-without-healthy-targets",
    ):
        assert ("demo", "IngressGroup shop") in passed[rule_id], rule_id
    for member in ("Ingress shop/storefront", "Ingress shop/cart", "Ingress payments/webhooks"):
        assert ("demo", member) in passed["certificate-host-mismatch"]
    assert ("demo", "Service legacy/smtp-relay") in passed["lb-without-healthy-targets"]
    assert ("demo", CONTROLLER_SA) in passed["irsa-role-invalid"]
    assert ("demo", CONTROLLER_SA) in passed["irsa-not-configured"]
    assert ("staging", CONTROLLER_SA) in passed["irsa-policy-missing-actions"]
    assert ("demo", "Deployment kube-system/aws-load-balancer-controller") in passed["controller-missing"]
    # the Gateway side: the ALB Gateway's web ACL, TLS policy and certificates are right, every Gateway has its
    # load balancer, and the controller serves Gateways (its feature gates are on)
    for rule_id in (
        "public-alb-without-waf",
        "weak-tls-policy",
        "weak-certificate-key",
        "orphaned-load-balancer",
        "ingress-not-provisioned",
    ):
        assert ("demo", "Gateway edge/public") in passed[rule_id], rule_id
    for route in ("HTTPRoute edge/catalog", "HTTPRoute edge/promo"):
        assert ("demo", route) in passed["certificate-host-mismatch"], route
    for rule_id in ("ingress-not-provisioned", "lb-without-healthy-targets", "orphaned-load-balancer"):
        assert ("demo", "Gateway data/queue") in passed[rule_id], rule_id
    assert ("demo", "LoadBalancerConfiguration edge/public") in passed["invalid-annotation"]
    # NetworkPolicy: the guide's default-deny plus an allow for the VPC admits the load balancers' traffic
    assert ("demo", "IngressGroup shop") in passed["network-policy-blocks-load-balancer"]
    assert ("demo", "Gateway edge/public") in passed["network-policy-blocks-load-balancer"]
    assert ("demo", "Service payments/api") in passed["public-backend-without-network-policy"]
    assert ("demo", "demo") in passed["network-policy-not-enforced"]
    rules_with_a_pass = {r for r, objects in passed.items() if objects}
    assert len(rules_with_a_pass & set(EXPECTED_FAILS)) >= 15, sorted(set(EXPECTED_FAILS) - rules_with_a_pass)


def test_load_balancers_have_their_seeded_owners(audit: dict[str, Any]) -> None:
    targets = audit["targets"]
    owned = {
        (lb["owner"]["kind"], lb["owner"]["namespace"], lb["owner"]["name"], lb["type"])
        for lb in targets["demo"]["load_balancers"]
        if lb["owner"] is not None
    }
    assert owned == DEMO_OWNERS
    for lb in targets["demo"]["load_balancers"]:
        assert lb["cluster"] == "demo"
        assert lb["controller"] == (
            "in-tree" if lb["owner"] and lb["owner"]["name"] in ("postgres", "smtp-relay") else "lbc"
        )
    orphans = sorted((lb for lb in targets["demo"]["load_balancers"] if lb["owner"] is None), key=lambda lb: lb["name"])
    assert [(lb["name"].rsplit("-", 1)[0], lb["type"], lb["orphan"]) for lb in orphans] == [
        ("k8s-data-redis", "network", "owner-gone"),
        ("k8s-edge-preview", "application", "owner-gone"),
    ]
    gateway = next(lb for lb in targets["demo"]["load_balancers"] if lb["owner"] and lb["owner"]["kind"] == "Gateway")
    assert gateway["owner"]["routes"] and gateway["owner_evidence"] == "stack-tag"
    assert targets["staging"]["load_balancers"] == []  # its Service is still pending
    assert targets["sandbox"]["load_balancers"] == []


def test_gateway_findings_speak_gateway(audit: dict[str, Any]) -> None:
    """The Gateway's HTTP finding names the route to fix and the fix in Gateway API terms; its orphan is priced."""
    findings = audit["targets"]["demo"]["findings"]
    (http,) = [
        f
        for f in findings
        if f["rule_id"] == "http-without-redirect" and f["status"] == "FAIL" and f["kubernetes"]["kind"] == "Gateway"
    ]
    assert "HTTPRoute edge/promo" in http["remediation"] and "RequestRedirect" in http["remediation"]
    assert "annotate" not in http["remediation"]
    (leak,) = [
        f
        for f in findings
        if f["rule_id"] == "orphaned-load-balancer" and f["status"] == "FAIL" and "preview" in f["resource_name"]
    ]
    assert "Gateway edge/preview no longer exists" in leak["message"] and "gateway.k8s.aws/alb" in leak["remediation"]


def test_ingress_nginx_findings_speak_ingress_nginx(audit: dict[str, Any]) -> None:
    """The NLB in front of ingress-nginx carries its Ingresses; its Service is not an HTTP Service to move; the
    plain-HTTP Ingress gets an ingress-nginx fix; the redirected one passes; the retired controller is high."""
    demo = audit["targets"]["demo"]
    (nlb,) = [lb for lb in demo["load_balancers"] if lb["owner"] and lb["owner"]["namespace"] == "ingress-nginx"]
    assert nlb["scheme"] == "internet-facing" and nlb["owner"]["routes"] == ["Ingress wiki/docs", "Ingress wiki/wiki"]
    passed = _by_rule(audit["targets"], "PASS")
    assert ("demo", "Service ingress-nginx/ingress-nginx-controller") in passed["http-service-on-own-lb"]
    assert ("demo", "Ingress wiki/docs") in passed["http-without-redirect"]
    for rule_id in ("ingress-not-provisioned", "invalid-annotation"):
        assert {("demo", "Ingress wiki/wiki"), ("demo", "Ingress wiki/docs")} <= passed[rule_id], rule_id
    by_rule = {
        f["rule_id"]: f
        for f in demo["findings"]
        if f["status"] == "FAIL" and f["kubernetes"] and f["kubernetes"]["namespace"] in ("wiki", "ingress-nginx")
    }
    assert "spec.tls" in by_rule["http-without-redirect"]["remediation"]
    assert "alb.ingress.kubernetes.io" not in by_rule["http-without-redirect"]["remediation"]
    retired = by_rule["unmaintained-ingress-controller"]
    assert retired["severity"] == "high" and "Ingress wiki/wiki" in retired["remediation"]


def test_shop_alb_is_the_healthy_reference(audit: dict[str, Any]) -> None:
    (shop,) = [lb for lb in audit["targets"]["demo"]["load_balancers"] if lb["owner"] and lb["owner"]["name"] == "shop"]
    assert shop["scheme"] == "internet-facing"
    assert shop["web_acl_arn"] is not None
    listeners = {li["port"]: li for li in shop["listeners"]}
    assert listeners[80]["default_action"] == "redirect HTTPS:443"
    assert listeners[443]["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"


def test_demo_costs_are_measured_and_the_shared_alb_is_split_by_requests(audit: dict[str, Any]) -> None:
    lbs = audit["targets"]["demo"]["load_balancers"]
    (shop,) = [lb for lb in lbs if lb["owner"] and lb["owner"]["name"] == "shop"]
    assert shop["cost_measured"] == ["LCUs", "public IPv4: counted on its network interfaces"]
    assert {s["method"] for s in shop["cost_shares"]} == {"requests"}
    assert len(shop["cost_shares"]) == 3
    assert round(sum(s["monthly_usd"] for s in shop["cost_shares"]), 2) == shop["monthly_cost_usd"]
    assert all(lb["cost_measured"] for lb in lbs)  # every demo load balancer's usage was read
    summary = audit["targets"]["demo"]["summary"]
    assert summary["monthly_saving_usd"] > 0


def test_single_target_flags_in_a_separate_process(demo: DemoEnvironment, audit: dict[str, Any]) -> None:
    """The README's form: flags instead of a targets file, in a real process that inherits the AWS settings."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auditor.cli",
            "audit",
            "-o",
            "json",
            "--include-pass",
            "--kubeconfig",
            str(demo.kubeconfig),
            "--context",
            "demo",
            "--cluster-name",
            "demo",
            "--region",
            demo.region,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["target"] == "demo"
    assert "Auditing demo" in proc.stderr
    mine = {(f["fingerprint"], f["status"]) for f in doc["findings"]}
    assert mine == {(f["fingerprint"], f["status"]) for f in audit["targets"]["demo"]["findings"]}


def test_full_audit_as_a_user_holding_only_the_shipped_policy(demo: DemoEnvironment, audit: dict[str, Any]) -> None:
    """iam/auditor-readonly.json is enough: with moto's IAM enforcement on, a full audit of every demo
    cluster by a user holding only that policy completes with no AccessDenied and the same verdicts."""
    import boto3

    policy = (Path(__file__).resolve().parents[1] / "iam/auditor-readonly.json").read_text(encoding="utf-8")
    iam = boto3.client("iam")
    iam.create_user(UserName="auditor-e2e")
    iam.put_user_policy(
        UserName="auditor-e2e",
        PolicyName="auditor-readonly",
        PolicyDocument=json.dumps(moto_names(json.loads(policy))),  # moto checks cloudwatch as monitoring:*
    )
    key = iam.create_access_key(UserName="auditor-e2e")["AccessKey"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    demo.moto.set_iam_enforcement(True)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "auditor.cli",
                "audit",
                "--config",
                str(demo.config_file),
                "-o",
                "json",
                "--include-pass",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=180,
            check=False,
        )
        # enforcement is really on: the same user may not do what the policy does not grant
        denied = subprocess.run(
            [sys.executable, "-c", "import boto3; boto3.client('iam').create_user(UserName='x')"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        demo.moto.set_iam_enforcement(False)
    assert proc.returncode == 0, proc.stderr
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    doc = json.loads(proc.stdout)
    for target in doc["targets"]:
        assert {c["status"] for c in target["coverage"]} == {"ok"}, [
            c for c in target["coverage"] if c["status"] != "ok"
        ]
        expected = {(f["fingerprint"], f["status"]) for f in audit["targets"][target["target"]]["findings"]}
        assert {(f["fingerprint"], f["status"]) for f in target["findings"]} == expected


def test_evolve_fixes_one_finding_and_introduces_one(demo: DemoEnvironment) -> None:
    from auditor.config import Settings
    from auditor.pipeline import run_audit

    def failing(rule_id: str) -> set[str]:
        result = run_audit(demo.target, Settings()).result
        return {str(f.kubernetes) for f in result.failed() if f.rule_id == rule_id}

    assert failing("http-without-redirect") == {"Ingress blog/blog", "Gateway edge/public", "Ingress wiki/wiki"}
    demo.evolve()
    assert failing("http-without-redirect") == {"Gateway edge/public", "Ingress wiki/wiki"}
    assert failing("public-sensitive-port") == {"Service data/postgres", "Service data/mysql"}


def test_environment_points_the_process_at_moto_only(demo: DemoEnvironment) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == demo.moto.url
    assert os.environ["AWS_DEFAULT_REGION"] == demo.region
    assert not set(SENTINELS) & set(os.environ)  # a profile or per-service endpoint would lead elsewhere


def test_only_one_demo_environment_at_a_time(demo: DemoEnvironment) -> None:
    """moto keeps its state per process: a second environment would share (and reset) the first one's."""
    with pytest.raises(RuntimeError, match="already running"), DemoEnvironment():
        pass
    assert os.environ["AWS_ENDPOINT_URL"] == demo.moto.url
