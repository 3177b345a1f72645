"""ungrouped-ingresses: Ingresses on separate ALBs that could share one IngressGroup within ALB limits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, GROUP_NAME, LBC_DEFAULT_SSL_POLICY
from auditor.correlate.graph import ExposureGraph, IngressGroup, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._helpers import annotate_commands, lb_fields
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, kubernetes_unknown
from auditor.rules.cost._common import monthly_cost
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="ungrouped-ingresses",
    title="Ingresses that could share one ALB",
    severity=Severity.LOW,
    category="cost",
    rationale=(
        "Every Ingress without `alb.ingress.kubernetes.io/group.name` is its own IngressGroup and gets its own "
        "ALB, billed every hour (LBC #192, #1107). Ingresses with the same scheme and the same group-wide "
        "settings (TLS policy, inbound CIDRs, WAF) can share one ALB while it stays within the ALB limits "
        "(100 rules, 25 certificates, 100 target groups)."
    ),
    remediation="Put the listed Ingresses in one IngressGroup: `alb.ingress.kubernetes.io/group.name: <name>` on each.",
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#group.name",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/192",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/2028",
    ),
    inputs=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_INGRESS_CLASS_PARAMS,
        Facet.ELBV2_LOAD_BALANCERS,
    ),
    # the certificates the merged ALB would carry (its limits); the rule itself says UNKNOWN when not read
    enrich=(Facet.ELBV2_LISTENERS, Facet.ELBV2_LISTENER_CERTIFICATES),
)

MAX_RULES = 100
MAX_CERTIFICATES = 25
MAX_TARGET_GROUPS = 100

Key = tuple[str, str, tuple[str, ...], str | None]  # scheme, ssl policy, inbound CIDRs, WAFv2 ACL


@dataclass(slots=True)
class _Unit:
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
            "monthly_cost_usd": monthly_cost(self.node),
        }


@dataclass
class _Bin:
    """Units packed onto one ALB, with their combined ports, redirects, rules, certificates and target groups
    kept as units join, so checking one more unit costs the size of that unit, not of the whole bin."""

    units: list[_Unit] = field(default_factory=list)
    ports: dict[int, str] = field(default_factory=dict)
    ssl_redirects: set[int] = field(default_factory=set)
    rules: int = 0
    certificates: set[str] = field(default_factory=set)
    backends: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, unit: _Unit) -> _Bin:
        packed = cls()
        packed.add(unit)
        return packed

    def add(self, unit: _Unit) -> None:
        self.units.append(unit)
        for port, proto in unit.ports.items():
            self.ports.setdefault(port, proto)
        self.ssl_redirects |= unit.ssl_redirects
        self.rules += unit.rules
        self.certificates |= unit.certificates
        self.backends |= unit.backends

    @property
    def seed_explicit(self) -> _Unit | None:
        return self.units[0] if self.units and self.units[0].group.explicit else None

    def fits(self, unit: _Unit) -> bool:
        # A bin's own units never disagree on a port (each joined only when it fitted), so only the newcomer's
        # ports can clash: the same port as HTTP in one Ingress and HTTPS in another.
        if any(self.ports.get(port, proto) != proto for port, proto in unit.ports.items()):
            return False
        return (
            len(self.ssl_redirects | unit.ssl_redirects) <= 1
            and self.rules + unit.rules <= MAX_RULES
            and len(self.certificates) + len(unit.certificates - self.certificates) <= MAX_CERTIFICATES
            and len(self.backends) + len(unit.backends - self.backends) <= MAX_TARGET_GROUPS
        )


def _pack(units: list[_Unit]) -> list[_Bin]:
    """First fit, in group-name order: explicit groups seed a bin each, every other unit joins the first bin
    it fits in, else starts one. Bins at the rule limit are set aside for units that bring rules (they
    cannot fit there), which keeps packing a large cluster close to linear."""
    bins = [_Bin.of(u) for u in units if u.group.explicit]
    open_bins = [b for b in bins if b.rules < MAX_RULES]  # creation order, like bins
    for unit in (u for u in units if not u.group.explicit):
        pool = open_bins if unit.rules > 0 else bins
        target = next((b for b in pool if b.fits(unit)), None)
        if target is None:
            target = _Bin.of(unit)
            bins.append(target)
            if target.rules < MAX_RULES:
                open_bins.append(target)
        else:
            target.add(unit)
            if target.rules >= MAX_RULES:
                open_bins.remove(target)
    return bins


def _unit(group: IngressGroup, node: LbNode) -> _Unit | None:
    """The group as a unit; None when its own members disagree on a group-wide setting (already broken)."""
    # One pass over the members' settings (every ALB of the cluster comes through here).
    policies: set[str] = set()
    cidrs: set[tuple[str, ...]] = set()
    wafs: set[str] = set()
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
        for proto, port in s.listen_ports:
            if ports.setdefault(port, proto) != proto:
                return None
        certs.update(s.certificate_arns)
        if s.ssl_redirect is not None:
            ssl_redirects.add(s.ssl_redirect)
    if len(policies) > 1 or len(cidrs) > 1 or len(wafs) > 1:
        return None
    key: Key = (
        group.scheme,
        next(iter(policies), LBC_DEFAULT_SSL_POLICY),
        next(iter(cidrs), ()),
        next(iter(wafs), None),
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
    return _Unit(
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


def _suggest_name(units: list[_Unit], taken: set[str]) -> str:
    explicit = next((u for u in units if u.group.explicit), None)
    if explicit is not None:
        return explicit.group.name
    namespaces = {m.namespace or "default" for u in units for m in u.group.members}
    scheme = "public" if units[0].key[0] == "internet-facing" else "internal"
    base = namespaces.pop() if len(namespaces) == 1 else f"shared-{scheme}"
    if not GROUP_NAME.match(base):  # a namespace as stored need not be a valid group name (no suffix makes it one)
        base = f"shared-{scheme}"
    name, n = base, 2
    while name in taken:  # a valid base stays valid with a "-<n>" suffix
        name = f"{base[:58]}-{n}"
        n += 1
    return name


def _needs_order(units: list[_Unit]) -> bool:
    seen: set[tuple[str, str]] = set()
    for u in units:
        if u.routes & seen:
            return True
        seen |= u.routes
    return False


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "which Ingresses could share an ALB")
        return
    if not graph.collected("elbv2"):
        yield META.finding(
            Status.UNKNOWN,
            "Application load balancers were not fully collected, so which Ingresses could share one is unknown.",
            discriminator="elbv2-not-collected",
            **cluster_fields(graph),
        )
        return
    buckets: dict[Key, list[_Unit]] = defaultdict(list)

    def sort_in(group: IngressGroup) -> tuple[Finding, ...]:
        """Put the group's unit in its bucket; a group that cannot be read gets its UNKNOWN and stays out."""
        node = next((n for n in group.load_balancers if n.orphan is None and n.lb.type == "application"), None)
        unit = _unit(group, node) if node is not None else None
        if unit is not None:
            buckets[unit.key].append(unit)
        return ()  # its verdict comes with its bin's, below

    yield from guarded(META, graph, graph.ingress_groups, sort_in, describe=_group_fields)
    taken = set(graph.groups)
    candidates = [candidate for units in buckets.values() for candidate in _pack(units)]

    def judge(candidate: _Bin) -> Iterator[Finding]:
        if len(candidate.units) >= 2:
            yield _candidate_finding(graph, candidate, taken)
        elif not candidate.units[0].group.explicit:
            unit = candidate.units[0]
            yield META.finding(
                Status.PASS,
                f"Ingress {unit.label} has no compatible ALB to share within the ALB limits.",
                discriminator=unit.label,
                evidence={"member": unit.as_json(), "scheme": unit.key[0], "ssl_policy": unit.key[1]},
                **lb_fields(unit.node),
            )

    yield from guarded(META, graph, candidates, judge, describe=_bin_fields)


def _group_fields(group: IngressGroup) -> dict[str, Any]:
    return {"kubernetes": group.ref, "resource_name": group.name}


def _bin_fields(candidate: _Bin) -> dict[str, Any]:
    """As the bin's finding names it: the ALB kept (the first unit's), and every group in the discriminator."""
    return {
        **lb_fields(candidate.units[0].node),
        "kubernetes": candidate.units[0].group.ref,
        "discriminator": ",".join(sorted(u.label for u in candidate.units)),
    }


def _candidate_finding(graph: ExposureGraph, candidate: _Bin, taken: set[str]) -> Finding:
    units = candidate.units
    explicit = candidate.seed_explicit
    kept = explicit or units[0]
    joining = [u for u in units if u is not kept] if explicit else list(units)
    removed = [u for u in units if u is not kept]
    costs = [c for c in (monthly_cost(u.node) for u in removed) if c is not None]
    saving = round(sum(costs), 2) if costs else None
    name = _suggest_name(units, taken)
    order = _needs_order(units)
    labels = sorted(u.label for u in units)
    scheme, policy, cidrs, waf = kept.key
    evidence: dict[str, Any] = {
        "members": [u.as_json() for u in sorted(units, key=lambda u: u.label)],
        "suggested_group": name,
        "joins_existing_group": explicit is not None,
        "scheme": scheme,
        "ssl_policy": policy,
        "inbound_cidrs": list(cidrs),
        "wafv2_acl_arn": waf,
        "rules": sum(u.rules for u in units),
        "certificates": len(set().union(*(u.certificates for u in units))),
        "target_groups": len(set().union(*(u.backends for u in units))),
        "limits": {"rules": MAX_RULES, "certificates": MAX_CERTIFICATES, "target_groups": MAX_TARGET_GROUPS},
        "albs_saved": len(units) - 1,
        "monthly_saving_usd": saving,
    }
    fields: dict[str, Any] = {
        **lb_fields(kept.node),
        "kubernetes": kept.group.ref,
        "discriminator": ",".join(labels),
        "evidence": evidence,
        "monthly_saving_usd": saving,
    }
    subject = f"{len(units)} ALBs ({', '.join(labels)})"
    if not all(u.certificates_known for u in units):
        return META.finding(
            Status.UNKNOWN,
            f"{subject} could share one IngressGroup, but the certificates of some listeners were not collected, "
            "so the 25-certificate limit cannot be checked.",
            **fields,
        )
    commands = []
    for i, unit in enumerate(joining):
        annotations: dict[str, str | None] = {f"{ALB}group.name": name}
        if order:
            annotations[f"{ALB}group.order"] = str((i + 1) * 10)
        commands += annotate_commands([unit.group.ref_of(m) for m in unit.group.members], annotations)
    if explicit is not None:
        effect = (
            f"They join IngressGroup {explicit.label} on {explicit.node.lb.name}; their own ALBs go away and "
            "their hostnames change to that ALB's DNS name."
        )
    else:
        effect = (
            "The controller creates one new ALB for the group (a new DNS name for every listed Ingress) and "
            "should delete the old ones."
        )
    remediation = (
        "\n".join(commands)
        + f"\n{effect} Update DNS records, then check that the old ALBs are gone (LBC #2028 can leave them)."
    )
    if order:
        remediation += " Some host/path pairs repeat across these Ingresses: group.order decides which rule wins."
    price = f", saving about ${saving:.2f}/month" if saving is not None else ""
    return META.finding(
        Status.FAIL,
        f"{subject} could share one IngressGroup {name!r}{price}.",
        remediation=remediation,
        **fields,
    )


RULE = Rule(META, evaluate)
