"""NetworkPolicy evaluation (pure): which ingress policies select a pod, and whether together they admit a source.

The semantics are Kubernetes' (https://kubernetes.io/docs/concepts/services-networking/network-policies/):

- a policy selects the pods of its namespace its ``podSelector`` matches (``{}``: all of them) and is an ingress
  policy when its ``policyTypes`` name ``Ingress`` — or, with no ``policyTypes``, always (Kubernetes then sets
  ``Ingress``, and ``Egress`` only when the policy has egress rules);
- a pod no ingress policy selects admits every ingress; a selected pod admits what at least one rule of one of
  the policies selecting it admits (policies add up, never subtract);
- a rule admits a source when one of its ``from`` peers matches it (no ``from``: every source) on one of its
  ``ports`` (no ``ports``: every port); a port is a number, a range up to ``endPort``, or the name of a container
  port of the pod; the protocol defaults to TCP;
- an ``ipBlock`` peer admits addresses in its ``cidr`` and outside its ``except``; ``podSelector`` and
  ``namespaceSelector`` peers admit pods only, never addresses outside the pod network such as a load balancer's.

A source here is a CIDR (every address of it must be admitted: a load balancer sends from any address of its
subnets) or a pod (its namespace's labels and its own). A policy this module cannot read (a malformed selector,
port or CIDR) raises ``MalformedPolicy`` naming it: the caller judges that pod unknown rather than guess.

Enforcement (whether any of this takes effect) is decided by ``enforcement``: the AWS VPC CNI enforces
NetworkPolicy only when its network policy agent runs with ``--enable-network-policy=true``
(https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html,
https://github.com/aws/aws-network-policy-agent); Calico and Cilium enforce it whenever they run.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from auditor.correlate.reachability import Network, parse_cidr
from auditor.inventory.models import KubeInventory, NetworkDaemonSet, NetworkPolicy, Pod, VpcCniAddon


class MalformedPolicy(ValueError):
    """A NetworkPolicy whose spec cannot be read (the API server would have rejected it; a snapshot may not)."""

    def __init__(self, policy: NetworkPolicy, detail: str) -> None:
        self.policy = f"{policy.namespace}/{policy.name}"
        super().__init__(f"NetworkPolicy {self.policy} cannot be read: {detail}")


@dataclass(frozen=True)
class CidrSource:
    """Traffic from every address of a CIDR (a load balancer's subnet, a client range)."""

    cidr: str


@dataclass(frozen=True)
class PodSource:
    """Traffic from a pod: its namespace and labels, and its namespace's labels."""

    namespace: str
    labels: Mapping[str, str]
    namespace_labels: Mapping[str, str]


Source = CidrSource | PodSource


@dataclass
class Admission:
    """Whether the ingress policies selecting a pod admit a source on a port, and which policies those are."""

    admitted: bool
    selecting: list[str] = field(default_factory=list)  # "ns/name" of the ingress policies selecting the pod
    admitted_by: list[str] = field(default_factory=list)  # those of them with a rule admitting the source


# --------------------------------------------------------------------------- selectors


def _labels_match(selector: Any, labels: Mapping[str, str], policy: NetworkPolicy) -> bool:
    """A LabelSelector (matchLabels AND matchExpressions); ``{}`` matches everything."""
    if selector is None:
        selector = {}
    if not isinstance(selector, dict):
        raise MalformedPolicy(policy, f"selector {selector!r} is not an object")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, dict):
        raise MalformedPolicy(policy, f"matchLabels {match_labels!r} is not an object")
    if any(labels.get(str(k)) != str(v) for k, v in match_labels.items()):
        return False
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise MalformedPolicy(policy, f"matchExpressions {expressions!r} is not a list")
    for expr in expressions:
        if not isinstance(expr, dict) or not isinstance(expr.get("key"), str):
            raise MalformedPolicy(policy, f"match expression {expr!r} has no key")
        key, operator, values = expr["key"], expr.get("operator"), expr.get("values") or []
        if not isinstance(values, list):
            raise MalformedPolicy(policy, f"match expression values {values!r} are not a list")
        if operator == "In":
            ok = key in labels and labels[key] in [str(v) for v in values]
        elif operator == "NotIn":
            ok = key not in labels or labels[key] not in [str(v) for v in values]
        elif operator == "Exists":
            ok = key in labels
        elif operator == "DoesNotExist":
            ok = key not in labels
        else:
            raise MalformedPolicy(policy, f"unknown match expression operator {operator!r}")
        if not ok:
            return False
    return True


def is_ingress_policy(policy: NetworkPolicy) -> bool:
    """Whether a policy restricts ingress: ``policyTypes`` names Ingress, or there are no ``policyTypes``."""
    types = policy.spec.get("policyTypes")
    if types is None:
        return True
    if not isinstance(types, list):
        raise MalformedPolicy(policy, f"policyTypes {types!r} is not a list")
    return "Ingress" in types


def selects(policy: NetworkPolicy, pod: Pod) -> bool:
    """Whether an ingress policy applies to the pod (same namespace, ``podSelector`` matches)."""
    if (policy.namespace or "") != (pod.namespace or "") or not is_ingress_policy(policy):
        return False
    return _labels_match(policy.spec.get("podSelector"), pod.labels, policy)


# --------------------------------------------------------------------------- peers and ports


@lru_cache(maxsize=4096)
def _network(text: str) -> Network | None:
    """``parse_cidr``, remembered: the same few CIDRs (subnets, ipBlocks) are judged for every pod and port."""
    return parse_cidr(text)


def _cidr(text: Any, policy: NetworkPolicy) -> Network:
    net = _network(text) if isinstance(text, str) else None
    if net is None:
        raise MalformedPolicy(policy, f"ipBlock CIDR {text!r} is not a CIDR")
    return net


def _within(inner: Network, outer: Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _overlaps(a: Network, b: Network) -> bool:
    return a.version == b.version and a.overlaps(b)  # type: ignore[arg-type]


def _peer_admits(peer: Any, source: Source, namespace: str, policy: NetworkPolicy) -> bool:
    if not isinstance(peer, dict):
        raise MalformedPolicy(policy, f"peer {peer!r} is not an object")
    block = peer.get("ipBlock")
    if block is not None:
        if not isinstance(block, dict):
            raise MalformedPolicy(policy, f"ipBlock {block!r} is not an object")
        if not isinstance(source, CidrSource):
            return False  # ipBlock is meant for addresses outside the cluster; a pod source is judged by selectors
        src = _network(source.cidr)
        if src is None:
            return False
        if not _within(src, _cidr(block.get("cidr"), policy)):
            return False
        excepted = block.get("except")
        if excepted is None:
            excepted = []
        if not isinstance(excepted, list):  # 0, "" or {} too: read as "no exception" they would admit the source
            raise MalformedPolicy(policy, f"ipBlock except {excepted!r} is not a list")
        return not any(_overlaps(src, _cidr(e, policy)) for e in excepted)
    if "podSelector" not in peer and "namespaceSelector" not in peer:
        raise MalformedPolicy(policy, "a peer names neither ipBlock, podSelector nor namespaceSelector")
    if not isinstance(source, PodSource):
        return False  # selectors match pods only: a load balancer's addresses are not pods
    if "namespaceSelector" in peer:
        if not _labels_match(peer.get("namespaceSelector"), source.namespace_labels, policy):
            return False
    elif source.namespace != namespace:
        return False  # podSelector alone: pods of the policy's own namespace
    return "podSelector" not in peer or _labels_match(peer.get("podSelector"), source.labels, policy)


# A port name as the API server validates it (IANA_SVC_NAME: at most 15 lowercase letters, digits and single
# inner "-", at least one letter; apimachinery's validation.IsValidPortName)
_PORT_NAME = re.compile(r"^(?=.{1,15}$)(?=[a-z0-9-]*[a-z])[a-z0-9]+(-[a-z0-9]+)*$")


def _port_admits(entry: Any, pod: Pod, port: int, protocol: str, policy: NetworkPolicy) -> bool:
    if not isinstance(entry, dict):
        raise MalformedPolicy(policy, f"port {entry!r} is not an object")
    if str(entry.get("protocol") or "TCP").upper() != protocol.upper():
        return False
    value = entry.get("port")
    if value is None:
        return True  # every port of the protocol
    # ASCII digits only: str.isdigit() also takes "²" and "８０", which int() then refuses or reads as a number
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        if not _PORT_NAME.fullmatch(value):  # fullmatch: "$" also matches before a final newline ("http\n")
            raise MalformedPolicy(policy, f"port {value[:80]!r} is neither a number nor a port name")
        # a named port: the pod's container port of that name (and protocol)
        return any(
            cp.name == value and cp.port == port and cp.protocol.upper() == protocol.upper()
            for cp in pod.container_ports
        )
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPolicy(policy, f"port {value!r} is neither a number nor a name")
    first = int(value)
    end = entry.get("endPort")
    if end is None:
        return port == first
    if isinstance(end, bool) or not isinstance(end, int):
        raise MalformedPolicy(policy, f"endPort {end!r} is not a number")
    return first <= port <= end


def _rule_admits(rule: Any, pod: Pod, source: Source, port: int, protocol: str, policy: NetworkPolicy) -> bool:
    if not isinstance(rule, dict):
        raise MalformedPolicy(policy, f"ingress rule {rule!r} is not an object")
    ports = rule.get("ports") or []
    peers = rule.get("from") or []
    if not isinstance(ports, list) or not isinstance(peers, list):
        raise MalformedPolicy(policy, "an ingress rule's ports or from is not a list")
    if ports and not any(_port_admits(p, pod, port, protocol, policy) for p in ports):
        return False
    return not peers or any(_peer_admits(p, source, policy.namespace or "", policy) for p in peers)


def policy_admits(policy: NetworkPolicy, pod: Pod, source: Source, port: int, protocol: str = "TCP") -> bool:
    """Whether one ingress policy's rules admit the source to the pod's port (no rules: nothing)."""
    rules = policy.spec.get("ingress") or []
    if not isinstance(rules, list):
        raise MalformedPolicy(policy, f"ingress {rules!r} is not a list")
    return any(_rule_admits(rule, pod, source, port, protocol, policy) for rule in rules)


def admission(
    policies: Iterable[NetworkPolicy], pod: Pod, source: Source, port: int, protocol: str = "TCP"
) -> Admission:
    """Whether the ingress policies among ``policies`` (those of the pod's namespace will do) admit the source."""
    selecting = [p for p in policies if selects(p, pod)]
    if not selecting:
        return Admission(admitted=True)
    names = [f"{p.namespace}/{p.name}" for p in selecting]
    admitted_by = [f"{p.namespace}/{p.name}" for p in selecting if policy_admits(p, pod, source, port, protocol)]
    return Admission(admitted=bool(admitted_by), selecting=names, admitted_by=admitted_by)


def by_namespace(policies: Iterable[NetworkPolicy]) -> dict[str, list[NetworkPolicy]]:
    """Policies indexed by namespace (a pod is only ever selected by its own namespace's)."""
    found: dict[str, list[NetworkPolicy]] = {}
    for p in policies:
        found.setdefault(p.namespace or "", []).append(p)
    return found


def ip_block_rule(cidrs: Iterable[str], ports: Iterable[tuple[int, str]]) -> dict[str, Any]:
    """The ingress rule admitting ``cidrs`` on ``ports`` ((number, protocol)), as a NetworkPolicy spec writes it."""
    return {
        "from": [{"ipBlock": {"cidr": str(ipaddress.ip_network(c, strict=False))}} for c in cidrs],
        "ports": [{"protocol": proto, "port": port} for port, proto in ports],
    }


# --------------------------------------------------------------------------- enforcement

EnforcementState = Literal["enforced", "not-enforced", "unknown"]
# The VPC CNI's network policy agent: container aws-eks-nodeagent (EKS add-on) or aws-network-policy-agent
# (manifests), image amazon/aws-network-policy-agent, flag --enable-network-policy (default false).
_AGENT_CONTAINERS = ("aws-eks-nodeagent", "aws-network-policy-agent")
_AGENT_IMAGE = "aws-network-policy-agent"
_POLICY_FLAG = "--enable-network-policy"


@dataclass(frozen=True)
class Enforcement:
    state: EnforcementState
    by: str  # what enforces them (or why not / why unknown), one sentence part


def _flag(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if arg == name:
            return args[i + 1] if i + 1 < len(args) and not args[i + 1].startswith("-") else "true"
    return None


def enforcement(kube: KubeInventory | None, addon: VpcCniAddon | None = None) -> Enforcement:
    """Whether anything in the cluster enforces NetworkPolicy, from the pod network's DaemonSets (what runs);
    the vpc-cni add-on's ``enableNetworkPolicy`` (what was asked for) speaks only when they were not read, or
    explains why the agent is off."""
    if kube is None or kube.network_daemon_sets is None:
        if addon is not None and addon.network_policy:
            return Enforcement(
                "enforced", "the VPC CNI's network policy agent (vpc-cni add-on configuration enableNetworkPolicy)"
            )
        return Enforcement("unknown", "the cluster's DaemonSets were not read")
    found = _from_daemon_sets(kube.network_daemon_sets)
    if found.state == "not-enforced" and addon is not None and addon.network_policy:
        return Enforcement(
            "not-enforced",
            f"{found.by}, although the vpc-cni add-on's configuration sets enableNetworkPolicy (the add-on update "
            "has not reached the DaemonSet)",
        )
    return found


def _from_daemon_sets(sets: list[NetworkDaemonSet]) -> Enforcement:
    for ds in sets:
        images = " ".join(c.image for c in ds.containers)
        if ds.name == "calico-node" or "calico/node" in images:
            return Enforcement("enforced", f"Calico (DaemonSet {ds.namespace}/{ds.name})")
        if ds.name == "cilium" or "cilium/cilium" in images:
            return Enforcement("enforced", f"Cilium (DaemonSet {ds.namespace}/{ds.name})")
    for ds in sets:
        agent = next(
            (c for c in ds.containers if c.name in _AGENT_CONTAINERS or _AGENT_IMAGE in c.image),
            None,
        )
        if agent is not None:
            value = _flag(agent.args, _POLICY_FLAG)
            if (value or "").lower() == "true":
                return Enforcement(
                    "enforced", f"the VPC CNI's network policy agent ({ds.namespace}/{ds.name}, {_POLICY_FLAG}=true)"
                )
            return Enforcement(
                "not-enforced",
                f"the VPC CNI's network policy agent in {ds.namespace}/{ds.name} runs with "
                f"{_POLICY_FLAG}={value or 'false (the default)'}",
            )
    aws_node = next((ds for ds in sets if ds.name == "aws-node"), None)
    if aws_node is not None:
        return Enforcement(
            "not-enforced",
            f"the VPC CNI (DaemonSet {aws_node.namespace}/{aws_node.name}) runs without its network policy agent",
        )
    # no VPC CNI, Calico or Cilium seen: another pod network (or EKS Auto Mode) may enforce them
    return Enforcement("unknown", "no known pod network (VPC CNI, Calico, Cilium) was found among the DaemonSets")


__all__ = [
    "Admission",
    "CidrSource",
    "Enforcement",
    "MalformedPolicy",
    "PodSource",
    "admission",
    "by_namespace",
    "enforcement",
    "ip_block_rule",
    "is_ingress_policy",
    "policy_admits",
    "selects",
]
