"""public-sensitive-port: an internet-facing load balancer forwards a database or admin port reachable from anywhere.

Who may connect is computed by ``auditor.correlate.reachability`` (merged ranges, not string matches: the two
halves 0.0.0.0/1 + 128.0.0.0/1 are the world). The inputs are the load balancer's security groups (ALB, CLB,
NLB with security groups), prefix lists included. An NLB without security groups filters nothing itself:
what the controller enforces is the owning Service's ``spec.loadBalancerSourceRanges`` (else the
``load-balancer-source-ranges`` annotation), which means 0.0.0.0/0 when empty. FAIL when the port is open to
the world or broadly open; PASS only when the merged ranges are computed and limited; UNKNOWN when an input
(a security group, a prefix list, a malformed range) leaves the answer open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate import reachability
from auditor.correlate.annotations import ALB, SVC
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.correlate.reachability import Admitted, Reachability, Source
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus, Listener, ManagedPrefixList
from auditor.rules._gateway import gateway_of, lb_configuration_fix
from auditor.rules._helpers import describe_lb, lb_fields, lb_subject, owner_annotate, owner_evidence
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

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
        "on an Ingress, spec.sourceRanges in a Gateway's LoadBalancerConfiguration), make the load balancer "
        "internal (service.beta.kubernetes.io/aws-load-balancer-scheme: "
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
        "https://docs.aws.amazon.com/vpc/latest/userguide/managed-prefix-lists.html",
        "RFC 6890 and the IANA IPv4/IPv6 Special-Purpose Address Registries (what is not public address space)",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_LISTENERS,
        Facet.ELB_LOAD_BALANCERS,
        Facet.EC2_SECURITY_GROUPS,
        Facet.EC2_PREFIX_LISTS,
        Facet.KUBE_SERVICES,
    ),
    enrich=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASS_PARAMS,
        Facet.KUBE_GATEWAYS,
        Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
    ),
)


def _ip_protocols(listener: Listener) -> frozenset[str]:
    proto = listener.protocol.upper()
    if proto == "UDP":
        return frozenset({"udp", "17"})
    if proto == "TCP_UDP":
        return frozenset({"tcp", "6", "udp", "17"})
    return frozenset({"tcp", "6"})


def _prefix_lists(graph: ExposureGraph) -> dict[tuple[str, str], dict[str, ManagedPrefixList]]:
    """(account, region) -> prefix list id -> the collected list (ids are unique within a region)."""
    found: dict[tuple[str, str], dict[str, ManagedPrefixList]] = {}
    for pl in graph.inventory.aws.prefix_lists:
        found.setdefault((pl.account, pl.region), {})[pl.id] = pl
    return found


def _declared(node: LbNode) -> tuple[Admitted, str] | None:
    """What the Kubernetes owner asks the controller to admit (its intent, not what AWS enforces)."""
    owner = node.owner
    if owner is None:
        return None
    if owner.service is not None:
        return reachability.service_source_ranges(owner.service, node.controller)
    if owner.gateway is not None:
        cfg = owner.gateway.configuration
        return reachability.gateway_source_ranges(cfg.spec if cfg is not None else None)
    if owner.group is None:
        return None
    admitted, origins = Admitted(), []
    for ing in owner.group.members:
        member, origin = reachability.ingress_inbound_cidrs(owner.group.settings_of(ing), ing.annotations)
        admitted.extend(member)
        origins.append(f"Ingress {ing.namespace}/{ing.name}: {origin}")
    return admitted, "; ".join(origins)


def _security_group_verdict(
    graph: ExposureGraph, node: LbNode, listener: Listener
) -> tuple[Reachability, dict[str, Any]]:
    lb = node.lb
    prefix_lists = graph.derived(_prefix_lists).get((lb.account, lb.region), {})
    admitted = reachability.security_groups(node.security_groups, listener.port, _ip_protocols(listener), prefix_lists)
    evidence: dict[str, Any] = {"security_groups": list(lb.security_group_ids)}
    seen = {sg.id for sg in node.security_groups}
    missing = [i for i in lb.security_group_ids if i not in seen]
    if missing:
        admitted.unresolved.extend(f"security group {i} was not collected" for i in missing)
        evidence["security_groups_not_collected"] = missing
    else:
        # The groups are there, but the listing that read them did not finish: a closed group is no proof.
        # (A prefix list that failed is not this: it is None on its own and judged per rule above.)
        cov = graph.inventory.coverage_of("ec2", account=lb.account, region=lb.region)
        state = cov.facet(Facet.EC2_SECURITY_GROUPS).status if cov is not None else None
        if state != CoverageStatus.OK:
            shown = state.value if state is not None else "not collected"
            admitted.unresolved.append(
                f"the security groups of {lb.account}/{lb.region} were not completely read (ec2 {shown})"
            )
    return admitted.judge(), evidence


def _verdict(
    graph: ExposureGraph, node: LbNode, listener: Listener
) -> tuple[Status, str, dict[str, Any], list[Source]]:
    """(FAIL|PASS|UNKNOWN, why, evidence, the sources that admit public addresses) for one listener port."""
    lb = node.lb
    if lb.security_group_ids:
        result, evidence = _security_group_verdict(graph, node, listener)
        through, keeps = "its security groups", "keep"
    else:
        svc = node.owner.service if node.owner is not None else None
        if svc is None:
            why = (
                "the load balancer has no security groups and no known Service, so only the targets' security groups "
                "(not evaluated) limit who reaches it"
            )
            return Status.UNKNOWN, why, {}, []
        admitted, origin = reachability.service_source_ranges(svc, node.controller)
        result = admitted.judge()
        evidence = {"source_ranges": [s.cidr for s in admitted.sources], "source_ranges_from": origin}
        through = (
            "its Service sets no loadBalancerSourceRanges, which"
            if origin == reachability.SERVICE_DEFAULT
            else f"its Service's {origin}"
        )
        keeps = "keeps"
    evidence.update(result.evidence())
    if result.open:
        public = result.public_sources()
        groups = sorted({s.security_group for s in public if s.security_group})
        by = f"security group {', '.join(groups)}" if groups else through
        return Status.FAIL, f"{by} leaves it {result.summary()}", evidence, public
    if result.openness == reachability.Openness.LIMITED:
        return Status.PASS, f"{through} {keeps} it {result.summary()}", evidence, []
    declared = _declared(node) if lb.security_group_ids else None
    if declared is not None:
        intent = declared[0].judge()
        evidence["declared"] = {"reachability": intent.openness.value, "from": declared[1]}
    return Status.UNKNOWN, result.summary().removeprefix("unknown: "), evidence, []


def _revoke(source: Source, port: int) -> str | None:
    """The AWS CLI command that removes the security group rule a public source came from."""
    perm = source.permission
    if source.security_group is None or perm is None:
        return None
    protocol = "-1" if perm.protocol == "-1" else perm.protocol
    if perm.protocol == "-1" or perm.from_port is None:
        ports = ""
    else:
        ports = f",FromPort={perm.from_port},ToPort={perm.to_port if perm.to_port is not None else perm.from_port}"
    if source.prefix_list is not None:
        ranges = f"PrefixListIds=[{{PrefixListId={source.prefix_list}}}]"
    elif ":" in source.cidr:
        ranges = f"Ipv6Ranges=[{{CidrIpv6={source.cidr}}}]"
    else:
        ranges = f"IpRanges=[{{CidrIp={source.cidr}}}]"
    return (
        f"aws ec2 revoke-security-group-ingress --group-id {source.security_group} "
        f"--ip-permissions 'IpProtocol={protocol}{ports},{ranges}'"
    )


def _remediation(node: LbNode, port: int, public: list[Source]) -> str:
    owner = node.owner
    gwx = gateway_of(node)
    if gwx is not None:
        listeners = [li.name for li in gwx.gateway.listeners if li.port == port]
        return (
            f"Restrict who reaches port {port}: "
            + lb_configuration_fix(gwx, "sourceRanges: [<trusted CIDR>]")
            + " Better, make it internal (spec.scheme: internal there; the load balancer is recreated with a new DNS "
            f"name), or remove listener {', '.join(listeners) or port} from Gateway {gwx.gateway.namespace}/"
            f"{gwx.gateway.name} and reach the backend through a VPN, bastion or kubectl port-forward."
        )
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
    revokes = list(dict.fromkeys(c for s in public if (c := _revoke(s, port)) is not None))
    if not revokes:
        group = ", ".join(node.lb.security_group_ids) or "<security group>"
        return f"Not managed by Kubernetes: remove the rules of {group} that admit public ranges on port {port}."
    more = f" (and {len(revokes) - 3} more)" if len(revokes) > 3 else ""
    return (
        f"Not managed by Kubernetes: revoke the rules that admit public ranges on port {port} and allow only "
        f"trusted CIDRs, e.g. {' && '.join(revokes[:3])}{more}."
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(node: LbNode) -> Iterator[Finding]:
        lb = node.lb
        if not lb.is_public:
            return
        fields = lb_fields(node)
        if lb.listeners is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The listeners of {describe_lb(node)} were not collected, so its open ports are unknown.",
                evidence=owner_evidence(node),
                **fields,
            )
            return
        sensitive = [li for li in lb.listeners if li.port in SENSITIVE_PORTS]
        if not sensitive:
            ports = sorted({li.port for li in lb.listeners})
            yield META.finding(
                Status.PASS,
                f"{lb_subject(node)} listens on no database or admin port.",
                evidence=owner_evidence(node, ports=ports),
                **fields,
            )
            return
        for listener in sensitive:
            what = SENSITIVE_PORTS[listener.port]
            status, why, facts, public = _verdict(graph, node, listener)
            evidence = owner_evidence(node, port=listener.port, service=what, **facts)
            port = f"{what} port {listener.port}"
            remediation = None
            if status == Status.FAIL:
                message = f"{lb_subject(node)} exposes {port} to the internet: {why}."
                remediation = _remediation(node, listener.port, public)
            elif status == Status.PASS:
                message = f"{lb_subject(node)} listens on {port}, but {why}."
            else:
                message = f"Whether {port} of {describe_lb(node)} is open to the internet is unknown: {why}."
            yield META.finding(
                status,
                message,
                remediation=remediation,
                evidence=evidence,
                discriminator=str(listener.port),
                **fields,
            )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
