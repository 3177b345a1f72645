"""public-backend-without-network-policy: pods behind an internet-facing load balancer, and no ingress policy at all.

The Kubernetes NetworkPolicy guidance is a default-deny per namespace plus explicit allows: a namespace whose
pods take internet traffic and that has no ingress NetworkPolicy lets anything in the cluster reach them too
(a compromised pod anywhere can talk to them directly). Judged per backend Service reached through an
internet-facing load balancer. Whether policies are enforced is network-policy-not-enforced's question.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, ExposurePath
from auditor.correlate.netpol import MalformedPolicy, is_ingress_policy
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import GATEWAYS, KUBE_EXPOSURES, ROUTES, Facet
from auditor.rules._netpol import namespace_policies
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="public-backend-without-network-policy",
    title="Internet-facing backend in a namespace without any ingress NetworkPolicy",
    severity=Severity.LOW,
    category="exposure",
    rationale=(
        "Pods behind an internet-facing load balancer take untrusted traffic; in a namespace with no ingress "
        "NetworkPolicy every pod of the cluster can reach them as well. The Kubernetes guidance is a default-deny "
        "ingress policy per namespace plus explicit allows (for the load balancer: an ipBlock of its subnets)."
    ),
    remediation=(
        "Add a default-deny ingress policy to the namespace and allow what the pods need, including the load "
        "balancer (ipBlock of its subnets or the VPC CIDR on the traffic and health-check ports)."
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic",
        "https://docs.aws.amazon.com/eks/latest/best-practices/network-security.html",
    ),
    inputs=(*KUBE_EXPOSURES, Facet.KUBE_NETWORK_POLICIES, Facet.ELBV2_LOAD_BALANCERS, Facet.ELB_LOAD_BALANCERS),
    enrich=(*GATEWAYS, *ROUTES, Facet.KUBE_REFERENCE_GRANTS),
)

_DENY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: {namespace}
spec:
  podSelector: {{}}
  policyTypes: [Ingress]
"""


def _public(paths: list[ExposurePath]) -> list[ExposurePath]:
    return [
        p
        for p in paths
        if p.load_balancer is not None
        and p.load_balancer.orphan is None
        and p.load_balancer.lb.scheme == "internet-facing"
    ]


def _services(graph: ExposureGraph) -> list[tuple[str, str, list[ExposurePath]]]:
    """(namespace, service, public paths) of every existing backend Service behind an internet-facing LB."""
    found: dict[tuple[str, str], list[ExposurePath]] = {}
    for ref, paths in graph.backends.items():
        public = _public(paths)
        if public and graph.service(ref.namespace, ref.service) is not None:
            found.setdefault((ref.namespace, ref.service), []).extend(public)
    return [(ns, svc, found[(ns, svc)]) for ns, svc in sorted(found)]


def _fields(item: tuple[str, str, list[ExposurePath]]) -> dict[str, Any]:
    namespace, service, paths = item
    node = paths[0].load_balancer
    return {
        "resource_name": f"{namespace}/{service}",
        "account": node.lb.account if node else None,
        "region": node.lb.region if node else None,
        "kubernetes": KubeRef(kind="Service", namespace=namespace, name=service),
    }


def _judge(graph: ExposureGraph, item: tuple[str, str, list[ExposurePath]]) -> Iterator[Finding]:
    namespace, service, paths = item
    policies = namespace_policies(graph)
    fields = _fields(item)
    lbs = sorted({p.load_balancer.lb.name for p in paths if p.load_balancer is not None})
    evidence: dict[str, Any] = {"load_balancers": lbs, "via": sorted({str(p.via) for p in paths})}
    if policies is None:
        yield META.finding(
            Status.UNKNOWN, f"The NetworkPolicies of namespace {namespace} were not read.", evidence=evidence, **fields
        )
        return
    try:
        ingress = [f"{p.namespace}/{p.name}" for p in policies.get(namespace, []) if is_ingress_policy(p)]
    except MalformedPolicy as exc:
        yield META.finding(Status.UNKNOWN, f"{exc}.", evidence={**evidence, "policy": exc.policy}, **fields)
        return
    subject = f"Service {namespace}/{service} (behind internet-facing {', '.join(lbs)})"
    if ingress:
        yield META.finding(
            Status.PASS,
            f"{subject} is in a namespace with ingress NetworkPolicies ({', '.join(ingress)}).",
            evidence={**evidence, "policies": ingress},
            **fields,
        )
        return
    yield META.finding(
        Status.FAIL,
        f"{subject} is in namespace {namespace}, which has no ingress NetworkPolicy: every pod of the cluster "
        "can reach its pods.",
        remediation=(
            f"Add a default-deny ingress policy to {namespace} and explicit allows for what its pods need (the load "
            f"balancer: an ipBlock of its subnets): kubectl apply -f - <<'EOF'\n{_DENY.format(namespace=namespace)}EOF"
        ),
        evidence=evidence,
        **fields,
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    yield from guarded(META, graph, _services(graph), lambda item: _judge(graph, item), describe=_fields)


RULE = Rule(META, evaluate)
