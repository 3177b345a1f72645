"""ungrouped-ingresses: Ingresses on separate ALBs that could share one IngressGroup within ALB limits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, IngressGroup
from auditor.cost.plan import LIMITS, Bin, Key, Unit, group_alb, join_commands, needs_order, pack, suggest_name
from auditor.cost.plan import unit_of as _unit  # by this name: a test makes one group unreadable through it
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import PRICED, Facet
from auditor.rules._helpers import lb_fields
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
    enrich=(Facet.ELBV2_LISTENERS, Facet.ELBV2_LISTENER_CERTIFICATES, *PRICED),
)


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
    buckets: dict[Key, list[Unit]] = defaultdict(list)

    def sort_in(group: IngressGroup) -> tuple[Finding, ...]:
        """Put the group's unit in its bucket; a group that cannot be read gets its UNKNOWN and stays out."""
        node = group_alb(group)
        unit = _unit(group, node) if node is not None else None
        if unit is not None:
            buckets[unit.key].append(unit)
        return ()  # its verdict comes with its bin's, below

    yield from guarded(META, graph, graph.ingress_groups, sort_in, describe=_group_fields)
    taken = set(graph.groups)
    candidates = [candidate for units in buckets.values() for candidate in pack(units)]

    def judge(candidate: Bin) -> Iterator[Finding]:
        if len(candidate.units) >= 2:
            yield _candidate_finding(graph, candidate, taken)
        elif not candidate.units[0].group.explicit:
            unit = candidate.units[0]
            yield META.finding(
                Status.PASS,
                f"Ingress {unit.label} has no compatible ALB to share within the ALB limits.",
                discriminator=unit.label,
                evidence={"member": unit.as_json(), "scheme": unit.key.scheme, "ssl_policy": unit.key.ssl_policy},
                **lb_fields(unit.node),
            )

    yield from guarded(META, graph, candidates, judge, describe=_bin_fields)


def _group_fields(group: IngressGroup) -> dict[str, Any]:
    return {"kubernetes": group.ref, "resource_name": group.name}


def _bin_fields(candidate: Bin) -> dict[str, Any]:
    """As the bin's finding names it: the ALB kept (the first unit's), and every group in the discriminator."""
    return {
        **lb_fields(candidate.units[0].node),
        "kubernetes": candidate.units[0].group.ref,
        "discriminator": ",".join(sorted(u.label for u in candidate.units)),
    }


def _candidate_finding(graph: ExposureGraph, candidate: Bin, taken: set[str]) -> Finding:
    units = candidate.units
    explicit = candidate.seed_explicit
    kept = explicit or units[0]
    joining = [u for u in units if u is not kept] if explicit else list(units)
    removed = [u for u in units if u is not kept]
    costs = [c for c in (monthly_cost(u.node) for u in removed) if c is not None]
    saving = round(sum(costs), 2) if costs else None
    name = suggest_name(units, taken)
    order = needs_order(units)
    labels = sorted(u.label for u in units)
    scheme, policy, cidrs, waf = kept.key[:4]
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
        "limits": dict(LIMITS),
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
    commands = join_commands(joining, name, order)
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
