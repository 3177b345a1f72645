"""network-policy-blocks-load-balancer: NetworkPolicy drops a load balancer's traffic to its targets' pods.

With ``target-type: ip`` the load balancer's traffic and health checks reach pod IPs from the load balancer's own
addresses (its subnets), not from a pod: a namespace's default-deny policy, or one that admits only
``podSelector``/``namespaceSelector`` peers (even kube-system), drops them — 504s and unhealthy targets while every
AWS-side check passes. Judged per load balancer on the traffic port and the health-check port of every ip target
group, from each of its subnets' CIDRs (and the client ranges where an NLB preserves client IPs); only where
NetworkPolicy is enforced. Instance targets are judged on the pods' targetPort behind the node port: from the
nodes' addresses under ``externalTrafficPolicy: Cluster`` (kube-proxy SNAT; those verdicts rest on the nodes
facet, ``evidence['rests_on']``), from the load balancer's subnets and preserved client ranges under ``Local``
(auditor.rules._netpol).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._helpers import lb_fields, lb_subject, owner_evidence
from auditor.rules._netpol import node_verdicts
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import RESTS_ON, guarded

META = RuleMeta(
    id="network-policy-blocks-load-balancer",
    title="NetworkPolicy drops the load balancer's traffic to its targets' pods",
    # high: when it applies the backend is down through its load balancer (every target unhealthy once the
    # health checks are dropped), and nothing on the AWS side shows why
    severity=Severity.HIGH,
    category="hygiene",
    rationale=(
        "With target-type ip the load balancer sends traffic and health checks to pod IPs from its own subnets' "
        "addresses. An ingress NetworkPolicy that selects those pods and admits no ipBlock covering them (a "
        "namespace's default-deny, or peers by podSelector/namespaceSelector only) silently drops them: targets "
        "go unhealthy and clients get 502/504, while every AWS-side check passes. With target-type instance the "
        "traffic reaches the pods through the node port: from the nodes' addresses under externalTrafficPolicy "
        "Cluster (kube-proxy SNAT), from the load balancer's (or the preserved clients') addresses under Local."
    ),
    remediation=(
        "Add a NetworkPolicy (policies add up) admitting the load balancer's subnets (or the VPC CIDR) with an "
        "ipBlock on the traffic port and the health-check port, plus the client CIDRs when client IP preservation "
        "is on; for instance targets with externalTrafficPolicy Cluster, the node subnets (or the VPC CIDR) on the "
        "pods' targetPort. The finding gives the manifest."
    ),
    references=(
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/",
        "https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#target-type",
        "https://kubernetes.io/docs/tutorials/services/source-ip/",
        "https://kubernetes.io/docs/reference/networking/virtual-ips/#external-traffic-policy",
        "https://github.com/kubernetes/kubernetes/issues/122151",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/973",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_TARGET_GROUPS,
        Facet.EC2_SUBNETS,
        Facet.KUBE_SERVICES,
        Facet.KUBE_ENDPOINT_SLICES,
        Facet.KUBE_PODS,
        Facet.KUBE_NETWORK_POLICIES,
        Facet.KUBE_NETWORK_DAEMON_SETS,
    ),
    enrich=(Facet.KUBE_INGRESSES, Facet.KUBE_TARGET_GROUP_BINDINGS, Facet.EKS_CLUSTER, Facet.EKS_ADDONS),
    # only the verdicts on instance targets under externalTrafficPolicy Cluster rest on the nodes' addresses
    partial_inputs=(Facet.KUBE_NODES,),
)


def _judge(graph: ExposureGraph, node: LbNode) -> Iterator[Finding]:
    if node.lb.type == "classic" or node.orphan is not None:
        return
    verdicts = node_verdicts(graph, node)
    if not verdicts:
        return  # no ip target group with pods behind it: nothing NetworkPolicy could drop
    fields = lb_fields(node)
    evidence = owner_evidence(node, target_groups=[v.evidence() for v in verdicts])
    rests_on = sorted({f for v in verdicts for f in v.rests_on})
    if rests_on:
        evidence[RESTS_ON] = rests_on
    blocked = [v for v in verdicts if v.outcome == "blocked"]
    if blocked:
        pods = sorted({p for v in blocked for p in v.pods})
        policies = sorted({p for v in blocked for p in v.policies})
        fixes = "\n---\n".join(dict.fromkeys(v.fix for v in blocked if v.fix))
        yield META.finding(
            Status.FAIL,
            f"{lb_subject(node)}: {'; '.join(v.detail for v in blocked)}.",
            remediation=(
                f"Admit the traffic's sources to the pods selected by {', '.join(policies)} "
                f"(policies add up, so this does not loosen the others): kubectl apply -f - <<'EOF'\n{fixes}EOF"
            ),
            evidence={**evidence, "pods": pods, "policies": policies},
            **fields,
        )
        return
    unknown = [v for v in verdicts if v.outcome == "unknown"]
    if unknown:
        yield META.finding(
            Status.UNKNOWN,
            f"Whether NetworkPolicy drops the traffic of {lb_subject(node)} is unknown: "
            f"{'; '.join(f'{v.backend}: {v.detail}' for v in unknown)}.",
            evidence=evidence,
            **fields,
        )
        return
    yield META.finding(
        Status.PASS,
        f"{lb_subject(node)}: {'; '.join(dict.fromkeys(v.detail for v in verdicts))}.",
        evidence=evidence,
        **fields,
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    yield from guarded(META, graph, graph.in_scope(), lambda node: _judge(graph, node), describe=lb_fields)


RULE = Rule(META, evaluate)
