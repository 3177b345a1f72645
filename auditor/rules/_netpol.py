"""Shared by the NetworkPolicy rules and lb-without-healthy-targets: does NetworkPolicy drop a target group's traffic?

With ``target-type: ip`` a load balancer sends traffic and health checks straight to pod IPs from its own
addresses (its subnets); a NetworkPolicy selecting those pods must admit them with an ``ipBlock``
(https://kubernetes.io/docs/concepts/services-networking/network-policies/,
https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html). With client
IP preservation on (NLB ip targets: off by default for TCP; ``preserve_client_ip.enabled=true`` in the Service's
target-group-attributes annotation) the clients' addresses arrive too. Instance targets are not judged here:
their traffic reaches pods from the nodes after kube-proxy, and node addresses are not collected.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from auditor.correlate import target_group_backend
from auditor.correlate.annotations import SVC
from auditor.correlate.graph import BackendRef, ExposureGraph, LbNode
from auditor.correlate.netpol import (
    CidrSource,
    Enforcement,
    MalformedPolicy,
    admission,
    by_namespace,
    enforcement,
    ip_block_rule,
)
from auditor.inventory.models import NetworkPolicy, Pod, Service, ServicePort, Subnet, TargetGroup

TARGET_GROUP_ATTRIBUTES = SVC + "aws-load-balancer-target-group-attributes"

Outcome = Literal["blocked", "admitted", "not-enforced", "unknown"]


@dataclass
class TargetGroupVerdict:
    """What NetworkPolicy does to one ip target group's traffic and health checks."""

    outcome: Outcome
    target_group: TargetGroup
    backend: BackendRef
    detail: str  # one sentence part: why (unknown), what enforces, or what is dropped
    pods: list[str] = field(default_factory=list)  # "ns/name" of the pods whose traffic is dropped
    policies: list[str] = field(default_factory=list)  # the ingress policies selecting them
    ports: list[tuple[int, str]] = field(default_factory=list)  # (pod port, protocol) dropped
    sources: list[str] = field(default_factory=list)  # CIDRs not admitted
    fix: str | None = None  # a NetworkPolicy manifest that admits them

    def evidence(self) -> dict[str, Any]:
        return {
            "target_group": self.target_group.name,
            "backend": str(self.backend),
            "outcome": self.outcome,
            "detail": self.detail,
            "pods": self.pods,
            "policies": self.policies,
            "ports": [f"{port}/{proto}" for port, proto in self.ports],
            "sources": self.sources,
        }


@dataclass
class _Index:
    enforcement: Enforcement
    policies: dict[str, list[NetworkPolicy]] | None
    pods: dict[tuple[str, str], Pod] | None
    subnets: dict[str, Subnet]


def _index(graph: ExposureGraph) -> _Index:
    kube = graph.inventory.kubernetes
    policies = kube.network_policies if kube is not None else None
    pods = kube.pods if kube is not None else None
    addon = graph.eks_cluster.vpc_cni if graph.eks_cluster is not None else None
    return _Index(
        enforcement=enforcement(kube, addon),
        policies=by_namespace(policies) if policies is not None else None,
        pods={(p.namespace or "", p.name): p for p in pods} if pods is not None else None,
        subnets={s.id: s for s in graph.inventory.aws.subnets},
    )


def cluster_enforcement(graph: ExposureGraph) -> Enforcement:
    return graph.derived(_index).enforcement


def namespace_policies(graph: ExposureGraph) -> dict[str, list[NetworkPolicy]] | None:
    """Every NetworkPolicy by namespace; None when they were not read."""
    return graph.derived(_index).policies


def _service_port(svc: Service, backend: BackendRef) -> ServicePort | None:
    return next((p for p in svc.ports if str(p.port) == backend.port or (p.name and p.name == backend.port)), None)


def _pod_port(sp: ServicePort | None, pod: Pod, tg: TargetGroup) -> int | None:
    """The pod port the load balancer sends to: the Service port's targetPort (a name resolved against the pod's
    container ports), else the registered targets' or the target group's port."""
    if sp is None:
        registered = {t.port for t in tg.targets or [] if t.port is not None and t.id in pod.ips}
        return registered.pop() if len(registered) == 1 else tg.port
    target = sp.target_port
    if target is None:
        return sp.port
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    match = next((cp for cp in pod.container_ports if cp.name == target), None)
    return match.port if match else None


def _client_ranges(node: LbNode, svc: Service) -> tuple[list[str], str | None]:
    """Client CIDRs that reach the pods when an NLB preserves client IPs, and what was assumed (None: nothing)."""
    if node.lb.type != "network":
        return [], None  # an ALB proxies: pods see its own addresses
    attributes = svc.annotations.get(TARGET_GROUP_ATTRIBUTES, "")
    pairs = dict(part.strip().partition("=")[::2] for part in attributes.split(",") if "=" in part)
    if pairs.get("preserve_client_ip.enabled", "").strip().lower() != "true":
        return [], None
    if svc.load_balancer_source_ranges:
        return list(svc.load_balancer_source_ranges), None
    if node.lb.scheme == "internet-facing":
        return ["0.0.0.0/0"], None
    return [], "client IP preservation is on but the internal clients' ranges are not known; only the subnets judged"


def _manifest(svc: Service, sources: Iterable[str], ports: Iterable[tuple[int, str]]) -> str:
    doc = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"allow-load-balancer-to-{svc.name}", "namespace": svc.namespace},
        "spec": {
            "podSelector": {"matchLabels": dict(svc.selector or {})},
            "policyTypes": ["Ingress"],
            "ingress": [ip_block_rule(sorted(set(sources)), sorted(set(ports)))],
        },
    }
    return yaml.safe_dump(doc, sort_keys=False)


def judge_target_group(graph: ExposureGraph, node: LbNode, tg: TargetGroup) -> TargetGroupVerdict | None:
    """What the enforced NetworkPolicies do to an ip target group's traffic; None when there is nothing to judge
    (instance targets, no known Service behind it, no pods behind the Service)."""
    if tg.target_type != "ip":
        return None
    backend = target_group_backend(graph, tg)
    if backend is None:
        return None
    svc = graph.service(backend.namespace, backend.service)
    if svc is None:
        return None
    index = graph.derived(_index)

    def unknown(why: str) -> TargetGroupVerdict:
        return TargetGroupVerdict("unknown", tg, backend, why)

    slices = graph.endpoint_slices(backend.namespace, backend.service)
    if slices is None:
        return unknown("the Service's EndpointSlices were not read")
    names = sorted(
        {e.target_ref_name for s in slices for e in s.endpoints if e.target_ref_kind == "Pod" and e.target_ref_name}
    )
    if not names:
        return None
    if index.pods is None:
        return unknown("the pods behind the Service were not read")
    pods = [index.pods[(backend.namespace, n)] for n in names if (backend.namespace, n) in index.pods]
    if not pods:
        return None
    if index.enforcement.state == "unknown":
        return unknown(f"whether NetworkPolicy is enforced is not known: {index.enforcement.by}")
    if index.policies is None:
        return unknown("the NetworkPolicies were not read")
    if index.enforcement.state == "not-enforced":
        return TargetGroupVerdict("not-enforced", tg, backend, f"NetworkPolicy is not enforced: {index.enforcement.by}")
    policies = index.policies.get(backend.namespace, [])
    if not node.lb.subnet_ids:
        return unknown(f"the subnets of {node.lb.name} are not known")
    sources: list[str] = []
    for subnet_id in node.lb.subnet_ids:
        subnet = index.subnets.get(subnet_id)
        if subnet is None or not subnet.cidr_block:
            return unknown(f"the CIDR of subnet {subnet_id} of {node.lb.name} was not read")
        sources.append(subnet.cidr_block)
    clients, assumed = _client_ranges(node, svc)
    sources += clients
    sp = _service_port(svc, backend)
    protocol = "UDP" if sp is not None and sp.protocol.upper() == "UDP" else "TCP"
    blocked_pods: list[str] = []
    selecting: set[str] = set()
    blocked_ports: set[tuple[int, str]] = set()
    blocked_sources: set[str] = set()
    judged: dict[tuple[Any, ...], bool] = {}  # pods alike (labels, container ports, ports judged): once
    try:
        for pod in pods:
            traffic = _pod_port(sp, pod, tg)
            if traffic is None:
                return unknown(f"the pod port of {backend} on pod {pod.namespace}/{pod.name} is not known")
            # health checks are TCP, HTTP or HTTPS (over TCP, also for a UDP target group) on the traffic port
            # unless the target group names another one
            hc = tg.health_check_port
            ports = {(traffic, protocol), (int(hc) if hc and hc.isdigit() else traffic, "TCP")}
            alike = (
                tuple(sorted(pod.labels.items())),
                tuple((cp.name, cp.port, cp.protocol) for cp in pod.container_ports),
                tuple(sorted(ports)),
            )
            dropped = judged.get(alike)
            if dropped is None:
                dropped = False
                for port, proto in sorted(ports):
                    for cidr in sources:
                        result = admission(policies, pod, CidrSource(cidr), port, proto)
                        selecting.update(result.selecting)
                        if not result.admitted:
                            dropped = True
                            blocked_ports.add((port, proto))
                            blocked_sources.add(cidr)
                judged[alike] = dropped
            if dropped:
                blocked_pods.append(f"{pod.namespace}/{pod.name}")
    except MalformedPolicy as exc:
        return unknown(f"{exc}")
    note = f" ({assumed})" if assumed else ""
    if not blocked_pods:
        return TargetGroupVerdict(
            "admitted",
            tg,
            backend,
            f"the NetworkPolicies admit the load balancer's traffic{note}",
            policies=sorted(selecting),
        )
    return TargetGroupVerdict(
        "blocked",
        tg,
        backend,
        f"{'NetworkPolicy' if len(selecting) == 1 else 'NetworkPolicies'} {', '.join(sorted(selecting))} "
        f"{'drops' if len(selecting) == 1 else 'drop'} traffic from {', '.join(sorted(blocked_sources))} to "
        f"port(s) {', '.join(f'{p}/{proto}' for p, proto in sorted(blocked_ports))} of {len(blocked_pods)} pod(s) "
        f"behind {backend}{note}",
        pods=blocked_pods,
        policies=sorted(selecting),
        ports=sorted(blocked_ports),
        sources=sorted(blocked_sources),
        fix=_manifest(svc, blocked_sources, blocked_ports),
    )


def node_verdicts(graph: ExposureGraph, node: LbNode) -> list[TargetGroupVerdict]:
    """The verdicts of every ip target group of a load balancer (those with something to judge)."""
    return [v for v in (judge_target_group(graph, node, tg) for tg in node.target_groups) if v is not None]
