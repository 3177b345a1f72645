"""Every rule guards every object it judges: one object that makes it raise gets one UNKNOWN, the rest is judged.

For each rule (parametrized over the registry, so a new rule without the guard fails here), the judge the rule
hands to ``auditor.rules.coverage.guarded`` is wrapped so that judging one chosen object raises; the test then
holds the rule's findings against a run without the fault, and the error against ``graph.rule_errors``, the log
and the audit result.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from auditor.config import RuleSettings, Settings
from auditor.correlate import correlate
from auditor.correlate.graph import ExposureGraph, RuleError
from auditor.findings import Finding, Status
from auditor.inventory.models import CoverageStatus, Inventory
from auditor.pipeline import analyze
from auditor.rules import coverage
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.registry import all_rules
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"


class InjectedFault(RuntimeError):
    """What the chosen object's judge raises."""


def _busy_snapshot() -> Inventory:
    """A cluster on which every rule judges at least one object (most several): ALBs of an explicit and of
    implicit IngressGroups, an NLB and a CLB made from Services, a backend served twice, certificates, the
    controller with its IRSA role, an ingress-nginx controller behind its own NLB."""
    cert = b.certificate("shop", "*.example.com", days=10)
    other_cert = b.certificate("blog", "blog.example.com", days=200)
    shop = b.load_balancer(
        "k8s-shop",
        tags=b.ingress_tags("shop"),
        listeners=[
            b.listener(80, "HTTP", default=b.forward("tg")),
            b.listener(443, "HTTPS", certs=[cert.arn], ssl_policy="ELBSecurityPolicy-2016-08"),
        ],
    )
    blog = b.load_balancer(
        "k8s-blog-site",
        tags=b.ingress_tags("blog/site"),
        listeners=[
            b.listener(80, "HTTP", default=b.redirect_https()),
            b.listener(443, "HTTPS", certs=[other_cert.arn], ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06"),
        ],
    )
    docs = b.load_balancer(
        "k8s-blog-docs",
        tags=b.ingress_tags("blog/docs"),
        listeners=[b.listener(443, "HTTPS", certs=[other_cert.arn], ssl_policy="ELBSecurityPolicy-2016-08")],
    )
    shop.subnet_ids = ["subnet-a"]
    tg = b.target_group("k8s-shop-tg", shop, tags={"ingress.k8s.aws/resource": "shop/web-web:80"})
    web_pod = b.pod("shop", "web-1", "10.0.1.10", labels={"app": "web"})
    nlb = b.load_balancer(
        "k8s-db-pg", type="network", tags=b.service_tags("db/pg"), listeners=[b.listener(5432, "TCP")]
    )
    web_nlb = b.load_balancer(
        "k8s-shop-web", type="network", tags=b.service_tags("shop/web"), listeners=[b.listener(80, "TCP")]
    )
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"), listeners=[b.listener(80, "HTTP")])
    role = b.role("lbc", actions=["elasticloadbalancing:*", "ec2:*"])
    group = {f"{ALB}group.name": "shop"}
    nginx = b.nginx_lb()
    return b.inventory(
        lbs=[shop, blog, docs, nlb, web_nlb, clb, nginx],
        target_groups=[tg],
        certificates=[cert, other_cert],
        security_groups=[b.security_group("sg-k8s-shop", 80, 443), b.security_group("sg-a0123", 80)],
        oidc_providers=[b.oidc_provider()],
        iam_roles=[role],
        eks_clusters=[b.eks_cluster()],
        ingresses=[
            b.ingress("shop", "web", lb=shop, annotations=group, hosts=("www.example.com", "example.com")),
            b.ingress("shop", "api", lb=shop, annotations={**group, f"{ALB}scheme": "nope"}),
            b.ingress("blog", "site", lb=blog, hosts=("blog.example.com",), backend=("site", 80)),
            b.ingress("blog", "docs", lb=docs, hosts=("docs.example.com",), backend=("docs", 80)),
            b.ingress("blog", "pending"),
            b.ingress("shop", "nginx", ingress_class="nginx", lb=nginx, hosts=("n.example.com",)),
        ],
        services=[
            b.service("db", "pg", ports=(5432,), lb=nlb, annotations={f"{SVC}aws-load-balancer-type": "external"}),
            b.service("shop", "web", lb=web_nlb, annotations={f"{SVC}aws-load-balancer-type": "external"}),
            b.service("legacy", "app", lb=clb),
            b.service("legacy", "mail", annotations={f"{SVC}aws-load-balancer-internal": "true"}),
            b.service("blog", "site", type="ClusterIP"),
            b.service("blog", "docs", type="ClusterIP"),
            b.nginx_service(nginx, annotations={f"{SVC}aws-load-balancer-type": "external"}),
        ],
        ingress_classes=[b.alb_class(), b.nginx_class()],
        ingress_controllers=[b.nginx_controller()],
        endpoint_slices=[b.pod_slice("shop", "web", web_pod), b.endpoint_slice("blog", "site")],
        pods=[web_pod],
        network_policies=[b.default_deny("shop")],
        subnets=[b.subnet("subnet-a", "10.0.0.0/24")],
        controllers=[b.controller()],
        service_accounts=[b.controller_sa(role.arn)],
    )


@dataclass
class _Spy:
    """Wraps every judge a rule hands to ``guarded``: records what each object gave, raises for one of them."""

    fault_at: int | None = None  # the object (numbered across the rule's guarded loops) whose judging raises
    found: list[list[Finding]] = field(default_factory=list)  # per object numbered so far: its findings
    named: dict[int, dict[str, Any]] = field(default_factory=dict)  # the faulted object's naming fields

    def install(self, monkeypatch: pytest.MonkeyPatch, rule: Rule) -> None:
        module = sys.modules[rule.evaluate.__module__]
        real = coverage.guarded
        spy = self

        def spying_guarded(
            meta: RuleMeta,
            graph: ExposureGraph,
            items: Iterable[Any],
            judge: Callable[[Any], Iterable[Finding]],
            *,
            describe: Callable[[Any], dict[str, Any]],
        ) -> list[Finding]:
            def faulty(item: Any) -> list[Finding]:
                number = len(spy.found)
                spy.found.append([])
                if number == spy.fault_at:
                    spy.named[number] = describe(item)
                    raise InjectedFault(f"injected into object {number}")
                spy.found[number] = list(judge(item))
                return spy.found[number]

            return real(meta, graph, items, faulty, describe=describe)

        # raising=True: a rule module that does not judge through guarded has no such name, and fails here
        monkeypatch.setattr(module, "guarded", spying_guarded, raising=True)


def _run(rule: Rule, inv: Inventory) -> tuple[list[Finding], ExposureGraph]:
    graph = correlate(inv)
    return list(rule.evaluate(graph, RuleSettings())), graph


def _fingerprints(findings: list[Finding]) -> list[str]:
    return [f.fingerprint for f in findings]


RULES = all_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.meta.id for r in RULES])
def test_one_object_that_raises_gets_one_unknown_and_the_others_are_judged(
    rule: Rule, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    inv = _busy_snapshot()
    clean = _Spy()
    clean.install(monkeypatch, rule)
    normal, graph = _run(rule, inv)
    assert graph.rule_errors == []
    assert normal and clean.found, f"{rule.meta.id} judged no object through guarded on the busy snapshot"
    # the first object that gives findings: its verdicts must be replaced by the UNKNOWN, not added to
    chosen = next(i for i, found in enumerate(clean.found) if found)
    theirs = clean.found[chosen]
    others = [f for f in normal if not any(f is t for t in theirs)]

    faulty = _Spy(fault_at=chosen)
    faulty.install(monkeypatch, rule)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        findings, graph = _run(rule, inv)

    unknowns = [f for f in findings if f.evidence.get("exception") == "InjectedFault"]
    assert len(unknowns) == 1, [f.message for f in findings]
    [unknown] = unknowns
    assert unknown.status == Status.UNKNOWN and unknown.rule_id == rule.meta.id
    assert f"injected into object {chosen}" in unknown.evidence["detail"]
    # it names the object as the object's own findings do (its resource, or its Kubernetes object)
    naming = faulty.named[chosen]
    assert unknown.resource_arn == naming.get("resource_arn")
    assert unknown.kubernetes == naming.get("kubernetes")
    assert (
        (unknown.resource_arn is not None and unknown.resource_arn in {t.resource_arn for t in theirs})
        or unknown.resource_name in {t.resource_name for t in theirs}
        or (unknown.kubernetes is not None and unknown.kubernetes in {t.kubernetes for t in theirs})
    ), (unknown.resource_arn, unknown.resource_name, unknown.kubernetes, [t.model_dump() for t in theirs])
    # every other object's findings are exactly what they were, in the same order
    assert [f.as_json() for f in findings if f is not unknown] == [f.as_json() for f in others]
    prints = _fingerprints(findings)
    assert len(prints) == len(set(prints)), "fingerprints must stay unique within the rule"
    # recorded, with the object, and logged with the traceback
    label = unknown.evidence["object"]
    assert graph.rule_errors == [RuleError(rule.meta.id, "InjectedFault", f"injected into object {chosen}", label)]
    logged = [r for r in caplog.records if rule.meta.id in r.getMessage() and label in r.getMessage()]
    assert logged and logged[0].exc_info is not None and logged[0].exc_info[0] is InjectedFault


@pytest.mark.parametrize("rule", RULES, ids=[r.meta.id for r in RULES])
def test_the_audit_is_partial_and_its_coverage_names_the_rule_and_the_object(
    rule: Rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    inv = _busy_snapshot()
    assert analyze(inv, Settings()).result.status == "complete"
    clean = _Spy()
    clean.install(monkeypatch, rule)
    _run(rule, inv)
    chosen = next(i for i, found in enumerate(clean.found) if found)

    _Spy(fault_at=chosen).install(monkeypatch, rule)
    result = analyze(inv, Settings()).result
    assert result.status == "partial"
    [entry] = [c for c in result.coverage if c.source == "rule"]
    assert (entry.collector, entry.status, entry.error_code) == (rule.meta.id, CoverageStatus.ERROR, "InjectedFault")
    [unknown] = [f for f in result.findings if f.evidence.get("exception") == "InjectedFault"]
    assert f"rule {rule.meta.id} crashed on {unknown.evidence['object']}: InjectedFault" in (entry.message or "")
    # the other rules are untouched
    assert {f.rule_id for f in result.findings} == {r.meta.id for r in RULES}


# ------------------------------------------------------------------ real rule code that raises


def test_an_object_that_raises_midway_leaves_no_half_verdict_and_coverage_names_each_object(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """weak-tls-policy cannot rate one policy: the two ALBs using it get one UNKNOWN each, the third its PASS."""
    from auditor.rules.tls import weak_tls_policy

    real = weak_tls_policy.classify

    def classify(policy: str) -> tuple[bool | None, str | None]:
        if policy == "ELBSecurityPolicy-2016-08":
            raise KeyError(policy)
        return real(policy)

    monkeypatch.setattr(weak_tls_policy, "classify", classify)
    inv = _busy_snapshot()
    findings, graph = _run(weak_tls_policy.RULE, inv)
    by_lb = {f.resource_name: f for f in findings}
    assert len(findings) == len(by_lb) == 3  # one per ALB with a TLS listener: nothing half-judged
    assert by_lb["k8s-blog-site"].status == Status.PASS
    for name in ("k8s-shop", "k8s-blog-docs"):
        assert by_lb[name].status == Status.UNKNOWN
        assert by_lb[name].evidence["exception"] == "KeyError"
    assert [(e.exception, e.object) for e in graph.rule_errors] == [
        ("KeyError", by_lb["k8s-shop"].evidence["object"]),
        ("KeyError", by_lb["k8s-blog-docs"].evidence["object"]),
    ]
    result = analyze(inv, Settings()).result
    [entry] = [c for c in result.coverage if c.source == "rule"]  # one entry per rule and exception type
    assert entry.message is not None and entry.message.startswith("rule weak-tls-policy crashed on k8s-shop (")
    assert "k8s-blog-docs" in entry.message


def test_ungrouped_ingresses_leaves_a_group_it_cannot_read_out_of_the_packing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A group whose settings cannot be read gets its UNKNOWN; the other groups are packed without it."""
    from auditor.rules.cost import ungrouped_ingresses

    real = ungrouped_ingresses._unit

    def unit(group: Any, node: Any) -> Any:
        if group.name == "blog/docs":
            raise ValueError("unreadable group settings")
        return real(group, node)

    monkeypatch.setattr(ungrouped_ingresses, "_unit", unit)
    findings, graph = _run(ungrouped_ingresses.RULE, _busy_snapshot())
    [unknown] = [f for f in findings if f.status == Status.UNKNOWN]
    assert unknown.resource_name == "blog/docs" and unknown.evidence["exception"] == "ValueError"
    assert [e.object for e in graph.rule_errors] == [unknown.evidence["object"]]
    [fail] = [f for f in findings if f.status == Status.FAIL]
    assert fail.discriminator == "blog/site,shop"  # packed without the group that raised
