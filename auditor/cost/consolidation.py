"""The consolidation plan: concrete moves that cut a cluster's load balancers, with counts and costs before and after.

Pure, from the ExposureGraph (``auditor.pipeline.analyze`` makes one per audit; ``auditor plan-consolidation`` and
``GET /api/v1/consolidation`` show it). Ingress groups are packed with ``auditor.cost.plan`` — the same packing
the rule ``ungrouped-ingresses`` reports — so a move never mixes settings the controller applies to the whole
ALB (scheme and WAF included: no move makes a public load balancer internal or the other way round, or drops a
WAF) and never exceeds the ALB quotas. HTTP ``LoadBalancer`` Services (``http-service-on-own-lb``) then move
behind an ALB of their own scheme that admits them within the same quotas and has the same inbound CIDRs as
their source ranges.

Fail closed: what was not read is not planned. Without Kubernetes or the ALBs nothing is proposed; a group whose
listener certificates or WAF association were not read, or a Service whose load balancers were not all read, is
listed under ``not_planned`` with the reason.

Savings: a load balancer that goes away stops its hours and public IPv4 addresses (``auditor.cost.estimate``);
its traffic moves with its objects, so its measured capacity units (LCU/NLCU) or Classic data charge are kept
in the "after" figure. A new group's ALB costs what the group's first ALB costs now (same type and scheme).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import NamedTuple

from auditor.correlate.graph import ExposureGraph, LbNode, ServiceExposure
from auditor.cost.estimate import node_estimate
from auditor.cost.plan import (
    LIMITS,
    QUOTAS_URL,
    Bin,
    Key,
    Unit,
    group_alb,
    http_ports,
    is_tls,
    join_commands,
    needs_order,
    pack,
    service_manifest,
    source_cidrs,
    suggest_name,
    unit_of,
)
from auditor.findings import ConsolidationMove, ConsolidationPlan, NotPlanned
from auditor.inventory.models import ServicePort

log = logging.getLogger(__name__)
NEW_CERTIFICATE = "<a certificate for the Service's host>"
BASIS = (
    "Before: this cluster's load balancers (owned by its Ingresses, Services and Gateways; orphans are not "
    "counted). A load balancer that goes away saves its hours and public IPv4 addresses; its measured capacity "
    "units move with its traffic and stay in the cost after. Limits per ALB: 100 rules, 25 certificates, "
    f"100 target groups ({QUOTAS_URL})."
)


def _fixed(node: LbNode) -> float | None:
    """What a load balancer costs a month whatever its traffic: hours + public IPv4 (None: no price)."""
    est = node_estimate(node)
    return round(est.hours_usd + est.public_ipv4_usd, 2) if est is not None else None


def _cost(node: LbNode) -> float | None:
    est = node_estimate(node)
    return est.monthly_usd if est is not None else None


def _sum(values: list[float | None]) -> float | None:
    """The sum, or None when any part has no price (a partial sum would look like a whole one)."""
    return None if any(v is None for v in values) else round(sum(v for v in values if v is not None), 2)


def _cluster_nodes(graph: ExposureGraph) -> list[LbNode]:
    return [n for n in graph.load_balancers if n.scope == "cluster" and n.orphan is None]


def plan_consolidation(graph: ExposureGraph) -> ConsolidationPlan:
    """The plan for one audited cluster; never raises (a defect becomes an incomplete plan, logged)."""
    try:
        return _plan(graph)
    except Exception as exc:  # a defect must not cost the audit its result: say so, propose nothing
        log.exception("consolidation plan failed")
        plan = _totals(graph, ConsolidationPlan(cluster=graph.cluster_name, complete=False))
        plan.not_planned.append(NotPlanned(object="cluster", reason=f"the planner failed: {type(exc).__name__}"))
        return plan


def _totals(graph: ExposureGraph, plan: ConsolidationPlan) -> ConsolidationPlan:
    nodes = _cluster_nodes(graph)
    costs = [c for c in (_cost(n) for n in nodes) if c is not None]
    plan.unpriced_load_balancers = len(nodes) - len(costs)
    plan.load_balancers_before = len(nodes)
    plan.monthly_usd_before = round(sum(costs), 2)
    saved_lbs = sum(m.load_balancers_before - m.load_balancers_after for m in plan.moves)
    saving = round(sum(m.monthly_saving_usd or 0.0 for m in plan.moves), 2)
    plan.load_balancers_after = plan.load_balancers_before - saved_lbs
    plan.monthly_saving_usd = saving
    plan.monthly_usd_after = round(plan.monthly_usd_before - saving, 2)
    plan.basis = BASIS
    plan.limits = dict(LIMITS)
    return plan


def _plan(graph: ExposureGraph) -> ConsolidationPlan:
    plan = ConsolidationPlan(cluster=graph.cluster_name, complete=True)
    if not graph.kube_collected:
        plan.complete = False
        plan.not_planned.append(NotPlanned(object="cluster", reason="Kubernetes was not read: owners are unknown"))
        return _totals(graph, plan)
    if not graph.collected("elbv2"):
        plan.complete = False
        plan.not_planned.append(
            NotPlanned(object="cluster", reason="application load balancers were not fully read (elbv2 coverage)")
        )
        return _totals(graph, plan)
    buckets: dict[Key, list[Unit]] = defaultdict(list)
    unread: set[str] = set()  # schemes with an ALB left out for want of its inputs
    for group in graph.ingress_groups:
        node = group_alb(group)
        if node is None:
            continue  # no ALB yet (or only a leftover one): nothing is paid for it that a move could save
        label = f"{'IngressGroup' if group.explicit else 'Ingress'} {group.name}"
        unit = unit_of(group, node)
        reason = None
        if unit is None:
            reason = "its Ingresses disagree on a group-wide setting; fix that first"
        elif not unit.certificates_known:
            reason = "its listener certificates were not read: the 25-certificate limit cannot be checked"
        elif not graph.collected("wafv2", node):
            reason = "WAF associations were not read in its account and region: a move could drop a WAF"
        if reason is not None:
            if unit is not None:  # an input is missing, not a setting wrong: the plan is incomplete
                plan.complete = False
                unread.add(node.lb.scheme)
            plan.not_planned.append(NotPlanned(object=f"{label} ({node.lb.name})", reason=reason))
            continue
        assert unit is not None
        buckets[unit.key].append(unit)
    taken = set(graph.groups)
    bins = [candidate for units in buckets.values() for candidate in pack(units)]
    names: dict[int, str] = {}
    for candidate in bins:
        if len(candidate.units) >= 2:
            names[id(candidate)] = name = suggest_name(candidate.units, taken)
            taken.add(name)
            plan.moves.append(_join_move(candidate, name))
    _plan_services(graph, plan, bins, names, taken, unread)
    return _totals(graph, plan)


def _join_move(candidate: Bin, name: str) -> ConsolidationMove:
    units = candidate.units
    explicit = candidate.seed_explicit
    kept = explicit or units[0]
    joining = [u for u in units if u is not kept] if explicit else list(units)
    retired = [u for u in units if u is not explicit]  # a new group's ALB replaces every old one
    before = [_cost(u.node) for u in units]
    saving = _sum([_fixed(u.node) for u in units if u is not kept])
    before_usd = _sum(before)
    notes = []
    if explicit is None:
        notes.append(
            f"The controller creates one new ALB for group {name!r}: every listed Ingress gets a new DNS name. "
            "Update DNS records, then check that the old ALBs are gone (LBC #2028 can leave them)."
        )
    else:
        notes.append(
            f"They join IngressGroup {explicit.label} on {explicit.node.lb.name}: their hostnames change to that "
            "ALB's DNS name. Update DNS records, then check that their old ALBs are gone (LBC #2028)."
        )
    order = needs_order(units)
    if order:
        notes.append("Some host/path pairs repeat across these Ingresses: group.order decides which rule wins.")
    return ConsolidationMove(
        kind="join-group",
        group=name,
        joins_existing_group=explicit is not None,
        load_balancer=kept.node.lb.name if explicit is not None else f"(new ALB of group {name})",
        moves=[f"Ingress {m.namespace}/{m.name}" for u in joining for m in u.group.members],
        retires=[u.node.lb.name for u in retired],
        commands=join_commands(joining, name, order),
        scheme=kept.key.scheme,
        wafv2_acl_arn=kept.key.wafv2_acl_arn,
        rules=candidate.rules,
        certificates=len(candidate.certificates),
        target_groups=len(candidate.backends),
        load_balancers_before=len(units),
        load_balancers_after=1,
        monthly_usd_before=before_usd,
        monthly_usd_after=round(before_usd - saving, 2) if before_usd is not None and saving is not None else None,
        monthly_saving_usd=saving,
        notes=notes,
    )


def _service_target(exp: ServiceExposure, node: LbNode, addition: _Addition, bins: list[Bin]) -> Bin | None:
    """The first bin of the Service's scheme and source ranges that admits its rule, target group and
    certificate: existing explicit groups first, then the groups this plan makes, then single Ingresses."""
    cidrs = source_cidrs(exp)
    ranked = sorted(
        (b for b in bins if b.key.scheme == node.lb.scheme and b.key.inbound_cidrs == cidrs),
        key=lambda b: (b.seed_explicit is None, len(b.units) < 2),
    )
    return next((b for b in ranked if b.admits(addition.ports, set(), 1, addition.certs, addition.backends)), None)


class _Addition(NamedTuple):
    """What one Service brings to an ALB: a listener port, a certificate (TLS), a target group, one rule."""

    ports: dict[int, str]
    certs: set[str]
    backends: set[str]


def _plan_services(
    graph: ExposureGraph,
    plan: ConsolidationPlan,
    bins: list[Bin],
    names: dict[int, str],
    taken: set[str],
    unread: set[str],
) -> None:
    complete = graph.collected("elbv2") and graph.collected("elb")
    for exp in graph.services:
        svc = exp.service
        label = f"Service {svc.namespace}/{svc.name}"
        node = next((n for n in exp.load_balancers if n.orphan is None), None)
        if node is None:
            if not complete:
                plan.complete = False
                plan.not_planned.append(NotPlanned(object=label, reason="its load balancer was not read"))
            continue
        if exp.ingress_controller is not None:
            continue  # an in-cluster ingress controller's edge: moving it would move every Ingress it serves
        ports = http_ports(exp)
        if not ports:
            continue  # not HTTP: it needs a load balancer of its own
        port = ports[0]
        tls = is_tls(port)
        cert = svc.annotations.get("service.beta.kubernetes.io/aws-load-balancer-ssl-cert")
        addition = _Addition(
            ports={443: "HTTPS"} if tls else {80: "HTTP"},
            certs={cert or NEW_CERTIFICATE} if tls else set(),
            backends={f"{svc.namespace}/{svc.name}:{port.port}"},
        )
        candidate = _service_target(exp, node, addition, bins)
        if candidate is None:
            reason = f"no {node.lb.scheme} ALB with the same inbound CIDRs has room for it"
            if node.lb.scheme in unread:
                reason = f"some {node.lb.scheme} ALBs were left out (their inputs were not read); " + reason
            plan.not_planned.append(NotPlanned(object=f"{label} ({node.lb.name})", reason=reason))
            continue
        plan.moves.append(_service_move(exp, node, port, candidate, addition, names, taken))


def _service_move(
    exp: ServiceExposure,
    node: LbNode,
    port: ServicePort,
    candidate: Bin,
    addition: _Addition,
    names: dict[int, str],
    taken: set[str],
) -> ConsolidationMove:
    svc = exp.service
    kept = candidate.seed_explicit or candidate.units[0]
    member = kept.group.members[0]
    commands: list[str] = []
    notes = ["Clients of the Service's load balancer DNS name must move to the Ingress host first."]
    name = names.get(id(candidate)) or (kept.group.name if kept.group.explicit else None)
    new_alb = len(candidate.units) >= 2 and candidate.seed_explicit is None
    if name is None and member.namespace == svc.namespace:
        # a single Ingress of the same namespace: a rule on it, no group needed
        manifest = service_manifest(exp, port, member, kept.group.name, False, node.lb.scheme, taken)
        name = kept.group.name
    else:
        if name is None:  # a single Ingress of another namespace: both join a new group (a new ALB for it)
            names[id(candidate)] = name = suggest_name(candidate.units, taken)
            taken.add(name)
            commands = join_commands([kept], name, False)
            new_alb = True
            notes.append(
                f"Ingress {member.namespace}/{member.name} joins group {name!r} too: the controller replaces its "
                "ALB with a new one (new DNS name; check the old ALB is gone, LBC #2028)."
            )
        manifest = service_manifest(exp, port, member, name, True, node.lb.scheme, taken)
    candidate.take(addition.ports, set(), 1, addition.certs, addition.backends)
    own, alb = _cost(node), _cost(kept.node)
    saving = _fixed(node)
    before_usd = _sum([own, alb])
    if candidate.key.wafv2_acl_arn:
        notes.append(f"Its traffic passes WAF web ACL {candidate.key.wafv2_acl_arn} on the shared ALB.")
    return ConsolidationMove(
        kind="service-behind-alb",
        group=name,
        joins_existing_group=candidate.seed_explicit is not None,
        load_balancer=f"(new ALB of group {name})" if new_alb else kept.node.lb.name,
        moves=[f"Service {svc.namespace}/{svc.name}"]
        + ([f"Ingress {member.namespace}/{member.name}"] if commands else []),
        retires=[node.lb.name],
        commands=commands,
        manifest=manifest,
        scheme=node.lb.scheme,
        wafv2_acl_arn=candidate.key.wafv2_acl_arn,
        rules=candidate.rules,
        certificates=len(candidate.certificates),
        target_groups=len(candidate.backends),
        load_balancers_before=2,
        load_balancers_after=1,
        monthly_usd_before=before_usd,
        monthly_usd_after=round(before_usd - saving, 2) if before_usd is not None and saving is not None else None,
        monthly_saving_usd=saving,
        notes=notes,
    )
