"""Consolidation: which Ingresses can share one ALB (IngressGroup) and which HTTP Services can move behind it.

The one home of this logic: the rules ``ungrouped-ingresses`` and ``http-service-on-own-lb`` report from it,
and ``auditor.cost.consolidation`` turns it into a plan of moves with load balancer counts and costs.

Two Ingress groups may share an ALB only when everything the AWS Load Balancer Controller applies to the
whole load balancer is the same on both (its "exclusive" annotations, see
https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/ and
https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/ingress_class/):
scheme, TLS policy, inbound CIDRs, the WAF web ACL (the annotation, else the one AWS shows attached), the
IngressClassParams in force, and the other group-wide annotations (load balancer attributes, IP address type,
subnets, security groups, Shield, WAF classic, load balancer name). A merged ALB stays within the Application
Load Balancer quotas: 100 rules (adjustable), 25 certificates, 100 target groups per load balancer
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from auditor.correlate.annotations import ALB, GROUP_NAME, LBC_DEFAULT_SSL_POLICY, SVC, ingress_class_of
from auditor.correlate.graph import IngressGroup, LbNode, ServiceExposure
from auditor.cost.estimate import node_estimate
from auditor.inventory.models import Ingress, ServicePort
from auditor.rules._helpers import annotate_commands

MAX_RULES = 100
MAX_CERTIFICATES = 25
MAX_TARGET_GROUPS = 100
LIMITS = {"rules": MAX_RULES, "certificates": MAX_CERTIFICATES, "target_groups": MAX_TARGET_GROUPS}
QUOTAS_URL = "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html"

# Group-wide annotations besides those the key names on its own: the controller refuses a group whose members
# set them differently, and an Ingress that joins takes the group's values (its ALB would change).
GROUP_WIDE = tuple(
    ALB + name
    for name in (
        "load-balancer-attributes",
        "ip-address-type",
        "subnets",
        "security-groups",
        "shield-advanced-protection",
        "waf-acl-id",
        "load-balancer-name",
        "customer-owned-ipv4-pool",
        "security-group-prefix-lists",
        "mutual-authentication",
    )
)

HTTP_PORTS = {80, 443, 8080, 8443}
TLS_PORTS = {443, 8443}
HTTP_PROTOCOLS = {"http", "https", "kubernetes.io/h2c"}
OPEN_CIDRS = ("0.0.0.0/0",)


class Key(NamedTuple):
    """What must be equal for two Ingress groups to share an ALB."""

    scheme: str
    ssl_policy: str
    inbound_cidrs: tuple[str, ...]  # () = the controller's default (open)
    wafv2_acl_arn: str | None
    class_params: str | None  # the IngressClassParams in force
    group_wide: tuple[tuple[str, str], ...]  # the other group-wide annotations that are set


def _monthly_cost(node: LbNode) -> float | None:
    est = node_estimate(node)
    return est.monthly_usd if est else None


@dataclass(slots=True)
class Unit:
    """One IngressGroup (implicit or explicit) with its ALB and what it would bring into a shared ALB."""

    group: IngressGroup
    node: LbNode
    key: Key
    ports: dict[int, str]
    ssl_redirects: set[int]
    rules: int
    certificates: set[str]
    certificates_known: bool
    backends: set[str]
    routes: set[tuple[str, str]]

    @property
    def label(self) -> str:
        return self.group.name

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.label,
            "explicit": self.group.explicit,
            "load_balancer": self.node.lb.name,
            "rules": self.rules,
            "certificates": len(self.certificates) if self.certificates_known else None,
            "target_groups": len(self.backends),
            "monthly_cost_usd": _monthly_cost(self.node),
        }


@dataclass
class Bin:
    """Units packed onto one ALB, with their combined ports, redirects, rules, certificates and target groups
    kept as units join, so checking one more unit costs the size of that unit, not of the whole bin."""

    units: list[Unit] = field(default_factory=list)
    ports: dict[int, str] = field(default_factory=dict)
    ssl_redirects: set[int] = field(default_factory=set)
    rules: int = 0
    certificates: set[str] = field(default_factory=set)
    backends: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, unit: Unit) -> Bin:
        packed = cls()
        packed.add(unit)
        return packed

    def add(self, unit: Unit) -> None:
        self.units.append(unit)
        self.take(unit.ports, unit.ssl_redirects, unit.rules, unit.certificates, unit.backends)

    def take(
        self, ports: dict[int, str], ssl_redirects: set[int], rules: int, certificates: set[str], backends: set[str]
    ) -> None:
        for port, proto in ports.items():
            self.ports.setdefault(port, proto)
        self.ssl_redirects |= ssl_redirects
        self.rules += rules
        self.certificates |= certificates
        self.backends |= backends

    @property
    def key(self) -> Key:
        return self.units[0].key

    @property
    def seed_explicit(self) -> Unit | None:
        return self.units[0] if self.units and self.units[0].group.explicit else None

    def fits(self, unit: Unit) -> bool:
        return self.admits(unit.ports, unit.ssl_redirects, unit.rules, unit.certificates, unit.backends)

    def admits(
        self, ports: dict[int, str], ssl_redirects: set[int], rules: int, certificates: set[str], backends: set[str]
    ) -> bool:
        # A bin's own units never disagree on a port (each joined only when it fitted), so only the newcomer's
        # ports can clash: the same port as HTTP in one Ingress and HTTPS in another.
        if any(self.ports.get(port, proto) != proto for port, proto in ports.items()):
            return False
        return (
            len(self.ssl_redirects | ssl_redirects) <= 1
            and self.rules + rules <= MAX_RULES
            and len(self.certificates) + len(certificates - self.certificates) <= MAX_CERTIFICATES
            and len(self.backends) + len(backends - self.backends) <= MAX_TARGET_GROUPS
        )


def pack(units: list[Unit]) -> list[Bin]:
    """First fit, in group-name order, of units that share one Key: explicit groups seed a bin each, every
    other unit joins the first bin it fits in, else starts one. Bins at the rule limit are set aside for
    units that bring rules (they cannot fit there), which keeps packing a large cluster close to linear."""
    bins = [Bin.of(u) for u in units if u.group.explicit]
    open_bins = [b for b in bins if b.rules < MAX_RULES]  # creation order, like bins
    for unit in (u for u in units if not u.group.explicit):
        pool = open_bins if unit.rules > 0 else bins
        target = next((b for b in pool if b.fits(unit)), None)
        if target is None:
            target = Bin.of(unit)
            bins.append(target)
            if target.rules < MAX_RULES:
                open_bins.append(target)
        else:
            target.add(unit)
            if target.rules >= MAX_RULES:
                open_bins.remove(target)
    return bins


def _group_wide(members_annotations: list[dict[str, str]]) -> tuple[tuple[str, str], ...] | None:
    """The group-wide annotations the members set; None when two members set one differently."""
    found: dict[str, str] = {}
    for values in members_annotations:
        for key in GROUP_WIDE:
            value = values.get(key)
            if value is None:
                continue
            if key == ALB + "load-balancer-attributes":  # order of the pairs does not matter
                value = ",".join(sorted(p.strip() for p in value.split(",") if p.strip()))
            if found.setdefault(key, value) != value:
                return None
    return tuple(sorted(found.items()))


def unit_of(group: IngressGroup, node: LbNode) -> Unit | None:
    """The group as a unit; None when its own members disagree on a group-wide setting (already broken)."""
    # One pass over the members' settings (every ALB of the cluster comes through here).
    policies: set[str] = set()
    cidrs: set[tuple[str, ...]] = set()
    wafs: set[str] = set()
    params: set[str | None] = set()
    schemes: set[str] = set()
    ports: dict[int, str] = {}
    certs: set[str] = set()
    ssl_redirects: set[int] = set()
    for s in group.settings.values():
        if s.ssl_policy:
            policies.add(s.ssl_policy)
        if s.inbound_cidrs:
            cidrs.add(tuple(sorted(s.inbound_cidrs)))
        if s.wafv2_acl_arn:
            wafs.add(s.wafv2_acl_arn)
        params.add(s.class_params)
        if s.scheme_explicit:
            schemes.add(s.scheme)
        for proto, port in s.listen_ports:
            if ports.setdefault(port, proto) != proto:
                return None
        certs.update(s.certificate_arns)
        if s.ssl_redirect is not None:
            ssl_redirects.add(s.ssl_redirect)
    group_wide = _group_wide([m.annotations for m in group.members])
    if len(schemes) > 1 or len(policies) > 1 or len(cidrs) > 1 or len(wafs) > 1 or len(params) > 1:
        return None
    if group_wide is None:
        return None
    waf = next(iter(wafs), None)
    if waf is None and node.web_acl is not None:  # attached outside Kubernetes: a move must not drop it
        waf = node.web_acl.arn
    key = Key(
        scheme=group.scheme,
        ssl_policy=next(iter(policies), LBC_DEFAULT_SSL_POLICY),
        inbound_cidrs=next(iter(cidrs), ()),
        wafv2_acl_arn=None if waf == "none" else waf,
        class_params=next(iter(params), None),
        group_wide=group_wide,
    )
    known = node.lb.listeners is not None
    for listener in node.lb.listeners or []:
        if listener.protocol.upper() == "HTTPS":
            if listener.certificate_arns is None:
                known = False
            else:
                certs.update(listener.certificate_arns)
    routes: set[tuple[str, str]] = set()
    backends: set[str] = set()
    rules = 0
    for ing in group.members:
        for rule in ing.rules:
            host = rule.host or "*"
            for path in rule.paths:
                rules += 1
                routes.add((host, path.path or "/"))
                backend = path.backend
                if backend.service_name:
                    svc_port = backend.service_port_number or backend.service_port_name
                    backends.add(f"{ing.namespace}/{backend.service_name}:{svc_port}")
    return Unit(
        group=group,
        node=node,
        key=key,
        ports=ports,
        ssl_redirects=ssl_redirects,
        rules=rules,
        certificates=certs,
        certificates_known=known,
        backends=backends,
        routes=routes,
    )


def group_alb(group: IngressGroup) -> LbNode | None:
    """The group's current ALB (not an orphan), if it has one."""
    return next((n for n in group.load_balancers if n.orphan is None and n.lb.type == "application"), None)


def suggest_name(units: list[Unit], taken: set[str]) -> str:
    """The group.name a bin's Ingresses get: the explicit group's, else their namespace's or a shared one."""
    explicit = next((u for u in units if u.group.explicit), None)
    if explicit is not None:
        return explicit.group.name
    namespaces = {m.namespace or "default" for u in units for m in u.group.members}
    scheme = "public" if units[0].key.scheme == "internet-facing" else "internal"
    base = namespaces.pop() if len(namespaces) == 1 else f"shared-{scheme}"
    if not GROUP_NAME.match(base):  # a namespace as stored need not be a valid group name (no suffix makes it one)
        base = f"shared-{scheme}"
    name, n = base, 2
    while name in taken:  # a valid base stays valid with a "-<n>" suffix
        name = f"{base[:58]}-{n}"
        n += 1
    return name


def join_commands(joining: list[Unit], name: str, order: bool) -> list[str]:
    """The kubectl commands that put every member of ``joining`` into IngressGroup ``name`` (with a group.order
    per unit when some host/path pair repeats: the lower order wins)."""
    commands = []
    for i, unit in enumerate(joining):
        annotations: dict[str, str | None] = {f"{ALB}group.name": name}
        if order:
            annotations[f"{ALB}group.order"] = str((i + 1) * 10)
        commands += annotate_commands([unit.group.ref_of(m) for m in unit.group.members], annotations)
    return commands


def needs_order(units: list[Unit]) -> bool:
    """Whether some host/path pair repeats across the units (then group.order decides which rule wins)."""
    seen: set[tuple[str, str]] = set()
    for u in units:
        if u.routes & seen:
            return True
        seen |= u.routes
    return False


# ------------------------------------------------------------------ Services behind the shared ALB


def http_ports(exp: ServiceExposure) -> list[ServicePort]:
    """The Service's ports that speak HTTP(S): well-known port, appProtocol, or the backend-protocol annotation."""
    backend = (exp.service.annotations.get(f"{SVC}aws-load-balancer-backend-protocol") or "").lower()
    found = []
    for port in exp.service.ports:
        if port.protocol.upper() != "TCP":
            continue
        if (
            port.port in HTTP_PORTS
            or (port.app_protocol or "").lower() in HTTP_PROTOCOLS
            or backend in ("http", "https")
        ):
            found.append(port)
    return found


def is_tls(port: ServicePort) -> bool:
    return port.port in TLS_PORTS or (port.app_protocol or "").lower() == "https"


def source_cidrs(exp: ServiceExposure) -> tuple[str, ...]:
    """Who may reach the Service's load balancer, as an ALB's inbound CIDRs key says it (() = open)."""
    ranges = tuple(sorted(exp.service.load_balancer_source_ranges))
    return () if ranges in ((), OPEN_CIDRS, ("0.0.0.0/0", "::/0")) else ranges


def service_manifest(
    exp: ServiceExposure,
    port: ServicePort,
    member: Ingress,
    group_name: str,
    explicit: bool,
    scheme: str,
    taken: set[str],
) -> str:
    """The manifest changes that put an HTTP Service behind an Ingress ALB: the Service becomes ClusterIP and an
    Ingress rule routes to it, on the ALB of ``member``'s group (``group_name``; ``explicit``: a group.name)."""
    svc = exp.service
    ns, name = svc.namespace or "default", svc.name
    cls = ingress_class_of(member) or "alb"
    tls = is_tls(port)
    annotations = [f"    {ALB}scheme: {scheme}", f"    {ALB}target-type: ip"]
    same_ns_implicit = not explicit and member.namespace == ns
    steps: list[str] = []
    if explicit:
        annotations.insert(0, f"    {ALB}group.name: {group_name}")
    elif not same_ns_implicit:
        suggested = ns if ns not in taken else f"{ns}-shared"
        annotations.insert(0, f"    {ALB}group.name: {suggested}")
        steps.append(
            f"Ingress {member.namespace}/{member.name} is not in an IngressGroup: give it the same "
            f"`{ALB}group.name: {suggested}` too. That moves it to a new ALB with a new DNS name (update its DNS, "
            "then delete the old ALB, LBC #2028)."
        )
    if tls:
        annotations.append(f"    {ALB}listen-ports: '[{{\"HTTPS\": 443}}]'")
        cert = svc.annotations.get(f"{SVC}aws-load-balancer-ssl-cert")
        annotations.append(f"    {ALB}certificate-arn: {cert or '<acm-certificate-arn>'}")
        if not cert:
            annotations.append(f"    {ALB}backend-protocol: HTTPS  # the pods terminate TLS themselves")
    service_yaml = (
        f"# 1. Service {ns}/{name}: stop paying for its own load balancer\n"
        "spec:\n"
        "  type: ClusterIP  # drop nodePort values and the service.beta.kubernetes.io/aws-load-balancer-* annotations\n"
    )
    if same_ns_implicit:
        ingress_yaml = (
            f"# 2. add a rule to Ingress {member.namespace}/{member.name} (same namespace, same ALB):\n"
            "spec:\n  rules:\n"
            f"    - host: {name}.<your-domain>\n      http:\n        paths:\n"
            "          - path: /\n            pathType: Prefix\n            backend:\n"
            f"              service:\n                name: {name}\n                port:\n"
            f"                  number: {port.port}\n"
        )
    else:
        ingress_yaml = (
            "# 2. an Ingress on the shared ALB\n"
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
            f"metadata:\n  name: {name}\n  namespace: {ns}\n  annotations:\n" + "\n".join(annotations) + "\n"
            f"spec:\n  ingressClassName: {cls}\n  rules:\n"
            f"    - host: {name}.<your-domain>\n      http:\n        paths:\n"
            "          - path: /\n            pathType: Prefix\n            backend:\n"
            f"              service:\n                name: {name}\n                port:\n"
            f"                  number: {port.port}\n"
        )
    text = service_yaml + "---\n" + ingress_yaml
    if steps:
        text += "\n" + " ".join(steps)
    return text + ("\nClients of the Service's load balancer DNS name must move to the Ingress host before step 1.")
