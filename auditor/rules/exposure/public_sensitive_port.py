"""public-sensitive-port: an internet-facing load balancer forwards a database or admin port reachable from anywhere.

Reachability comes from the load balancer's security groups (ALB, CLB, NLB with security groups). An
NLB without security groups filters nothing itself: what the controller enforces is the owning
Service's ``spec.loadBalancerSourceRanges`` (else the ``load-balancer-source-ranges`` annotation),
which means 0.0.0.0/0 when empty. An NLB without security groups and without a known Service is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, SVC
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.models import Listener, SecurityGroupPermission, Service
from auditor.rules._helpers import describe_lb, lb_fields, lb_subject, owner_annotate, owner_evidence
from auditor.rules.base import Rule, RuleMeta

SENSITIVE_PORTS: dict[int, str] = {
    21: "FTP",
    22: "SSH",
    23: "Telnet",
    445: "SMB",
    1433: "SQL Server",
    1521: "Oracle",
    2181: "ZooKeeper",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    2379: "etcd",
    2380: "etcd peer",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5601: "Kibana",
    5900: "VNC",
    5984: "CouchDB",
    6379: "Redis",
    6443: "Kubernetes API",
    7000: "Cassandra inter-node",
    8086: "InfluxDB",
    9042: "Cassandra",
    9092: "Kafka",
    9200: "Elasticsearch",
    9300: "Elasticsearch transport",
    10250: "kubelet",
    11211: "Memcached",
    15672: "RabbitMQ management",
    27017: "MongoDB",
}
WORLD = ("0.0.0.0/0", "::/0")
SOURCE_RANGES_ANNOTATIONS = (
    "service.beta.kubernetes.io/load-balancer-source-ranges",  # the Kubernetes key both controllers read
    SVC + "aws-load-balancer-source-ranges",  # seen in the wild; read so a world-open value is not missed
)

META = RuleMeta(
    id="public-sensitive-port",
    title="Database or admin port open to the internet through a load balancer",
    severity=Severity.CRITICAL,
    category="exposure",
    rationale=(
        "Databases, caches, search engines and remote-admin protocols are brute-forced and exploited within "
        "minutes of being reachable from the internet. A type: LoadBalancer Service is open to 0.0.0.0/0 unless "
        "spec.loadBalancerSourceRanges says otherwise, and the in-tree provider makes it internet-facing by default."
    ),
    remediation=(
        "Restrict the sources (spec.loadBalancerSourceRanges on the Service, alb.ingress.kubernetes.io/inbound-cidrs "
        "on an Ingress), make the load balancer internal (service.beta.kubernetes.io/aws-load-balancer-scheme: "
        'internal; in-tree: service.beta.kubernetes.io/aws-load-balancer-internal: "true"), or make the Service '
        "ClusterIP and reach it through a VPN, bastion or kubectl port-forward."
    ),
    references=(
        "AWS Security Hub EC2.19: Security groups should not allow unrestricted access to ports with high risk",
        "AWS Security Hub EC2.18: Security groups should only allow unrestricted incoming traffic for authorized ports",
        "Prowler elbv2_internet_facing, elb_internet_facing, ec2_securitygroup_allow_ingress_from_internet_to_any_port",
        "https://kubernetes.io/docs/concepts/services-networking/service/#aws-nlb-support",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/#lb-source-ranges",
        "https://repost.aws/knowledge-center/eks-cidr-ip-address-loadbalancer",
    ),
    inputs=("elbv2", "elb", "ec2", "kubernetes"),
)


def _ip_protocols(listener: Listener) -> set[str]:
    proto = listener.protocol.upper()
    if proto == "UDP":
        return {"udp", "17"}
    if proto == "TCP_UDP":
        return {"tcp", "6", "udp", "17"}
    return {"tcp", "6"}


def _world_rules(node: LbNode, listener: Listener) -> list[dict[str, Any]]:
    protocols = _ip_protocols(listener)
    found: list[dict[str, Any]] = []
    for sg in node.security_groups:
        for perm in sg.ingress:
            if _opens(perm, listener.port, protocols):
                found.append(
                    {
                        "security_group": sg.id,
                        "protocol": perm.protocol,
                        "from_port": perm.from_port,
                        "to_port": perm.to_port,
                        "cidrs": [c for c in perm.ipv4_ranges + perm.ipv6_ranges if c in WORLD],
                    }
                )
    return found


def _opens(perm: SecurityGroupPermission, port: int, protocols: set[str]) -> bool:
    return perm.open_to_world and (perm.protocol == "-1" or perm.protocol in protocols) and perm.covers_port(port)


def source_ranges(svc: Service) -> tuple[list[str], str]:
    """The CIDRs a Service admits and where they come from (field, annotation, or the 0.0.0.0/0 default)."""
    if svc.load_balancer_source_ranges:
        return list(svc.load_balancer_source_ranges), "spec.loadBalancerSourceRanges"
    for key in SOURCE_RANGES_ANNOTATIONS:
        raw = svc.annotations.get(key)
        if raw and raw.strip():
            return [c.strip() for c in raw.split(",") if c.strip()], key
    return ["0.0.0.0/0"], "default (no loadBalancerSourceRanges)"


def _reachability(graph: ExposureGraph, node: LbNode, listener: Listener) -> tuple[Status, str, dict[str, Any]]:
    """(FAIL|PASS|UNKNOWN, why, evidence) for one listener port."""
    lb = node.lb
    if lb.security_group_ids:
        rules = _world_rules(node, listener)
        if rules:
            groups = ", ".join(sorted({r["security_group"] for r in rules}))
            return Status.FAIL, f"security group {groups} admits it from anywhere", {"open_rules": rules}
        seen = {sg.id for sg in node.security_groups}
        missing = [i for i in lb.security_group_ids if i not in seen]
        if missing or not graph.collected("ec2", node):
            why = f"security group {', '.join(missing or lb.security_group_ids)} was not collected"
            return Status.UNKNOWN, why, {"security_groups_not_collected": missing or lb.security_group_ids}
        return Status.PASS, "no security group rule admits it from anywhere", {"security_groups": lb.security_group_ids}
    svc = node.owner.service if node.owner is not None else None
    if svc is None:
        return (
            Status.UNKNOWN,
            "the load balancer has no security groups and no known Service, so only the targets' security groups "
            "(not evaluated) limit who reaches it",
            {},
        )
    cidrs, origin = source_ranges(svc)
    evidence: dict[str, Any] = {"source_ranges": cidrs, "source_ranges_from": origin}
    world = [c for c in cidrs if c in WORLD]
    if world:
        return Status.FAIL, f"its Service admits {', '.join(world)} ({origin})", evidence
    return Status.PASS, f"its Service admits only {', '.join(cidrs)}", evidence


def _remediation(node: LbNode, port: int) -> str:
    owner = node.owner
    if owner is not None and owner.service is not None:
        ns, name = owner.namespace, owner.name
        patch = (
            f"kubectl -n {ns} patch service {name} --type merge -p "
            '\'{"spec":{"loadBalancerSourceRanges":["<trusted CIDR>"]}}\''
        )
        internal = (
            f"{SVC}aws-load-balancer-internal" if node.controller == "in-tree" else f"{SVC}aws-load-balancer-scheme"
        )
        value = "true" if node.controller == "in-tree" else "internal"
        internal_cmd = owner_annotate(node, {internal: value})[0]
        return (
            f"Restrict who reaches port {port}: {patch}. Better, make it internal ({internal_cmd}; the load balancer "
            f"is recreated with a new DNS name) or change the Service to type ClusterIP and use a VPN, bastion or "
            f"kubectl -n {ns} port-forward svc/{name} {port}."
        )
    commands = owner_annotate(node, {ALB + "inbound-cidrs": "<trusted CIDR>"})
    if commands:
        return (
            f"Restrict the sources of the ALB: {' && '.join(commands)}; or make it internal with "
            f"{ALB}scheme: internal, or remove port {port} from {ALB}listen-ports."
        )
    rules = ", ".join(node.lb.security_group_ids) or "<security group>"
    return (
        f"Not managed by Kubernetes: revoke the world-open rule, e.g. aws ec2 revoke-security-group-ingress "
        f"--group-id {rules} --protocol tcp --port {port} --cidr 0.0.0.0/0."
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    for node in graph.in_scope():
        lb = node.lb
        if not lb.is_public:
            continue
        fields = lb_fields(node)
        if lb.listeners is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The listeners of {describe_lb(node)} were not collected, so its open ports are unknown.",
                evidence=owner_evidence(node),
                **fields,
            )
            continue
        sensitive = [li for li in lb.listeners if li.port in SENSITIVE_PORTS]
        if not sensitive:
            ports = sorted({li.port for li in lb.listeners})
            yield META.finding(
                Status.PASS,
                f"{lb_subject(node)} listens on no database or admin port.",
                evidence=owner_evidence(node, ports=ports),
                **fields,
            )
            continue
        for listener in sensitive:
            what = SENSITIVE_PORTS[listener.port]
            status, why, facts = _reachability(graph, node, listener)
            evidence = owner_evidence(node, port=listener.port, service=what, **facts)
            port = f"{what} port {listener.port}"
            if status == Status.FAIL:
                message = f"{lb_subject(node)} exposes {port} to the internet: {why}."
            elif status == Status.PASS:
                message = f"{lb_subject(node)} listens on {port}, but {why}."
            else:
                message = f"Whether {port} of {describe_lb(node)} is open to the internet is unknown: {why}."
            yield META.finding(
                status,
                message,
                remediation=_remediation(node, listener.port) if status == Status.FAIL else None,
                evidence=evidence,
                discriminator=str(listener.port),
                **fields,
            )


RULE = Rule(META, evaluate)
