"""Shared by the NetworkPolicy rules and lb-without-healthy-targets: does NetworkPolicy drop a target group's traffic?

With ``target-type: ip`` a load balancer sends traffic and health checks straight to pod IPs from its own
addresses (its subnets); a NetworkPolicy selecting those pods must admit them with an ``ipBlock``
(https://kubernetes.io/docs/concepts/services-networking/network-policies/,
https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html,
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html). With client
IP preservation on (NLB ip targets: off by default for TCP; ``preserve_client_ip.enabled=true`` in the Service's
target-group-attributes annotation) the clients' addresses arrive too.

With ``target-type: instance`` the load balancer sends to the Service's nodePort on the nodes and kube-proxy
forwards to the pods' targetPort. The source the pods see depends on the Service's ``externalTrafficPolicy``
(https://kubernetes.io/docs/tutorials/services/source-ip/,
https://kubernetes.io/docs/reference/networking/virtual-ips/#external-traffic-policy): ``Cluster`` (the default)
SNATs to the forwarding node's address, so the nodes' addresses must be admitted; ``Local`` keeps the source the
node received — the load balancer's addresses, or the clients' where the NLB preserves them (on by default for
instance targets). A health check on the traffic port takes the same path; one on another node port (kube-proxy's
healthCheckNodePort under ``Local``) is answered on the node and never reaches a pod.
"""

from __future__ import annotations

import ipaddress
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
    selects,
)
from auditor.inventory.facets import Facet
from auditor.inventory.models import NetworkPolicy, Node, Pod, Service, ServicePort, Subnet, TargetGroup

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
    rests_on: list[str] = field(default_factory=list)  # partial input facets the verdict rests on (node addresses)

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
    nodes: list[Node] | None


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
        nodes=kube.nodes if kube is not None else None,
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
    container ports), else the one port the pod is registered on. None otherwise: targets not described
    (CloudWatch showed them healthy, or no selected rule reads them), the pod registered on no port or on
    several. The group's port is only the default a registration may override, so it is never taken for the pod's."""
    if sp is None:
        registered = {t.port for t in tg.targets or [] if t.port is not None and t.id in pod.ips}
        return registered.pop() if len(registered) == 1 else None
    target = sp.target_port
    if target is None:
        return sp.port
    if isinstance(target, int):
        return target
    if target.isascii() and target.isdigit():  # not "²" (int() refuses it) nor "８０８０" (a name, not 8080)
        return int(target)
    match = next((cp for cp in pod.container_ports if cp.name == target), None)
    return match.port if match else None


# Target group protocols whose client IP preservation is always on, for instance and ip targets alike: the
# preserve_client_ip.enabled attribute applies to TCP and TLS groups only
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/edit-target-group-attributes.html#client-ip-preservation).
_ALWAYS_PRESERVING_PROTOCOLS = frozenset({"UDP", "TCP_UDP", "QUIC", "TCP_QUIC"})


def _client_ranges(node: LbNode, svc: Service, tg: TargetGroup) -> tuple[list[str], str | None]:
    """Client CIDRs that reach the pods when an NLB preserves client IPs, and what was assumed (None: nothing).
    Preservation is always on for UDP, TCP_UDP, QUIC and TCP_QUIC groups; for TCP and TLS groups it is on by default
    for instance targets and off for ip targets (the attribute decides)."""
    if node.lb.type != "network":
        return [], None  # an ALB proxies: pods see its own addresses
    attributes = svc.annotations.get(TARGET_GROUP_ATTRIBUTES, "")
    pairs = dict(part.strip().partition("=")[::2] for part in attributes.split(",") if "=" in part)
    setting = pairs.get("preserve_client_ip.enabled", "").strip().lower()
    always = (tg.protocol or "").upper() in _ALWAYS_PRESERVING_PROTOCOLS
    if not always and setting != "true" and (setting == "false" or tg.target_type != "instance"):
        return [], None
    if svc.load_balancer_source_ranges:
        return list(svc.load_balancer_source_ranges), None
    if node.lb.scheme == "internet-facing":
        return ["0.0.0.0/0"], None
    return [], "client IP preservation is on but the internal clients' ranges are not known; only the subnets judged"


def _host_cidr(address: str) -> str | None:
    """A single address as a CIDR (/32 or /128); None when it is not an address (a snapshot may hold anything)."""
    try:
        return str(ipaddress.ip_network(address))
    except ValueError:
        return None


def _manifest(svc: Service, sources: Iterable[str], ports: Iterable[tuple[int, str]], *, nodes: bool) -> str:
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
    note = (
        "# externalTrafficPolicy Cluster: the pods see the nodes' addresses (kube-proxy SNAT). They change as nodes\n"
        "# come and go: prefer the node subnets' CIDRs or the VPC CIDR to these single addresses.\n"
        if nodes
        else ""
    )
    return note + yaml.safe_dump(doc, sort_keys=False)


def _node_service_port(svc: Service, tg: TargetGroup, backend: BackendRef) -> ServicePort | None:
    """The Service port an instance target group sends to: the one whose nodePort is the target group's port."""
    by_node_port = next((p for p in svc.ports if p.node_port is not None and p.node_port == tg.port), None)
    return by_node_port or _service_port(svc, backend)


def _health_check_pod_port(svc: Service, pod: Pod, tg: TargetGroup, traffic: int) -> int | None:
    """The pod port a health check reaches; None when it never reaches a pod. On the traffic port it goes where the
    traffic goes; another port is a pod port with ip targets, a node port with instance targets (a Service's
    nodePort leads to its targetPort; any other, such as kube-proxy's healthCheckNodePort, is answered on the
    node)."""
    hc = tg.health_check_port
    if not hc or not hc.isdigit():
        return traffic  # "traffic-port"
    if tg.target_type != "instance":
        return int(hc)
    forwarded = next((p for p in svc.ports if p.node_port == int(hc)), None)
    return _pod_port(forwarded, pod, tg) if forwarded is not None else None


def _shown(cidrs: Iterable[str], limit: int = 3) -> str:
    items = sorted(cidrs)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def judge_target_group(graph: ExposureGraph, node: LbNode, tg: TargetGroup) -> TargetGroupVerdict | None:
    """What the enforced NetworkPolicies do to a target group's traffic (ip or instance targets); None when there
    is nothing to judge (another target type, no known Service behind it, no pods behind the Service)."""
    if tg.target_type not in ("ip", "instance"):
        return None
    backend = target_group_backend(graph, tg)
    if backend is None:
        return None
    svc = graph.service(backend.namespace, backend.service)
    if svc is None:
        return None
    index = graph.derived(_index)
    instance = tg.target_type == "instance"
    # externalTrafficPolicy Cluster (the default; "Global" is its old name): kube-proxy SNATs to the node
    via_nodes = instance and (svc.external_traffic_policy or "Cluster") != "Local"
    rests_on = [Facet.KUBE_NODES.value] if via_nodes else []

    def unknown(why: str) -> TargetGroupVerdict:
        return TargetGroupVerdict("unknown", tg, backend, why, rests_on=rests_on)

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
    sp = _node_service_port(svc, tg, backend) if instance else _service_port(svc, backend)
    if instance and sp is None:
        return unknown(f"the port of {backend} behind node port {tg.port} is not known")
    sources: list[str] = []
    assumed: str | None = None
    if via_nodes:
        try:
            selected = any(selects(p, pod) for p in policies for pod in pods)
        except MalformedPolicy as exc:
            return unknown(f"{exc}")
        if selected:  # the nodes' addresses matter only to pods some ingress policy selects
            if index.nodes is None:
                return unknown("the nodes' addresses were not read (externalTrafficPolicy Cluster: pods see them)")
            addresses = {ip: _host_cidr(ip) for n in index.nodes for ip in n.internal_ips}
            bad = sorted(ip for ip, cidr in addresses.items() if cidr is None)
            if bad:
                return unknown(f"node address {bad[0]!r} is not an IP address")
            sources = sorted({cidr for cidr in addresses.values() if cidr is not None})
            if not sources:
                return unknown("no node address (InternalIP) was read (externalTrafficPolicy Cluster: pods see them)")
    else:
        if not node.lb.subnet_ids:
            return unknown(f"the subnets of {node.lb.name} are not known")
        for subnet_id in node.lb.subnet_ids:
            subnet = index.subnets.get(subnet_id)
            if subnet is None or not subnet.cidr_block:
                return unknown(f"the CIDR of subnet {subnet_id} of {node.lb.name} was not read")
            sources.append(subnet.cidr_block)
        clients, assumed = _client_ranges(node, svc, tg)
        sources += clients
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
            ports = {(traffic, protocol)}
            hc = _health_check_pod_port(svc, pod, tg, traffic)
            if hc is not None:
                ports.add((hc, "TCP"))
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
    if via_nodes:
        note += " (instance targets, externalTrafficPolicy Cluster: the pods see the nodes' addresses)"
    elif instance:
        note += " (instance targets, externalTrafficPolicy Local: the pods see the source the node received)"
    if not blocked_pods:
        return TargetGroupVerdict(
            "admitted",
            tg,
            backend,
            f"the NetworkPolicies admit the load balancer's traffic{note}",
            policies=sorted(selecting),
            rests_on=rests_on if sources else [],
        )
    origin = f"the nodes' addresses {_shown(blocked_sources)}" if via_nodes else ", ".join(sorted(blocked_sources))
    return TargetGroupVerdict(
        "blocked",
        tg,
        backend,
        f"{'NetworkPolicy' if len(selecting) == 1 else 'NetworkPolicies'} {', '.join(sorted(selecting))} "
        f"{'drops' if len(selecting) == 1 else 'drop'} traffic from {origin} to "
        f"port(s) {', '.join(f'{p}/{proto}' for p, proto in sorted(blocked_ports))} of {len(blocked_pods)} pod(s) "
        f"behind {backend}{note}",
        pods=blocked_pods,
        policies=sorted(selecting),
        ports=sorted(blocked_ports),
        sources=sorted(blocked_sources),
        fix=_manifest(svc, blocked_sources, blocked_ports, nodes=via_nodes),
        rests_on=rests_on,
    )


def node_verdicts(graph: ExposureGraph, node: LbNode) -> list[TargetGroupVerdict]:
    """The verdicts of every ip or instance target group of a load balancer (those with something to judge)."""
    return [v for v in (judge_target_group(graph, node, tg) for tg in node.target_groups) if v is not None]
