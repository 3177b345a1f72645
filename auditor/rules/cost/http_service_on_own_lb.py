"""http-service-on-own-lb: a LoadBalancer Service serving HTTP(S) that could share the cluster's Ingress ALB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph, IngressGroup, LbNode, ServiceExposure
from auditor.cost.plan import http_ports, service_manifest
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import IN_CLUSTER_CONTROLLERS, LOAD_BALANCERS, PRICED
from auditor.inventory.models import ServicePort
from auditor.rules._helpers import lb_fields
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import kubernetes_unknown
from auditor.rules.cost._common import cost_evidence, lb_collected
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="http-service-on-own-lb",
    title="HTTP Service pays for its own load balancer",
    severity=Severity.LOW,
    category="cost",
    rationale=(
        "Each `type: LoadBalancer` Service gets a load balancer of its own (hours plus public IPs every month). "
        "An HTTP(S) Service can instead be a path or host on the cluster's existing Ingress ALB, which also "
        "brings HTTPS redirects, TLS policy and WAF in one place (LBC #192: one load balancer per exposure is "
        "expensive)."
    ),
    remediation=(
        "Make the Service `type: ClusterIP` and route to it from an Ingress that joins the existing ALB "
        "(`alb.ingress.kubernetes.io/group.name`)."
    ),
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#group.name",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/192",
    ),
    # the Deployments: a Service fronting an in-cluster ingress controller is known from the controller's Deployment
    inputs=(*IN_CLUSTER_CONTROLLERS, *LOAD_BALANCERS),
    enrich=PRICED,
)


def _shared_albs(graph: ExposureGraph) -> dict[str, list[tuple[IngressGroup, LbNode]]]:
    """Ingress ALBs of this cluster per scheme: explicit groups first (they can be joined by name), then by name.

    Computed once per evaluation: every Service of a scheme is offered the same ALBs."""
    found: dict[str, list[tuple[IngressGroup, LbNode]]] = {}
    for group in graph.ingress_groups:
        for node in group.load_balancers:
            if node.orphan is None and node.lb.type == "application":
                found.setdefault(node.lb.scheme, []).append((group, node))
    for albs in found.values():
        albs.sort(key=lambda gn: (not gn[0].explicit, gn[0].name))
    return found


def _snippet(exp: ServiceExposure, port: ServicePort, group: IngressGroup, scheme: str, taken: set[str]) -> str:
    return service_manifest(exp, port, group.members[0], group.name, group.explicit, scheme, taken)


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "which Services could share the Ingress ALB")
        return
    complete = lb_collected(graph)
    shared_by_scheme = _shared_albs(graph)
    # the schemes of the cluster's current Ingress ALBs (of any type), named when none has the Service's scheme
    ingress_schemes = sorted({n.lb.scheme for g in graph.ingress_groups for n in g.load_balancers if n.orphan is None})
    taken = set(graph.groups)

    def judge(exp: ServiceExposure) -> Iterator[Finding]:
        svc = exp.service
        label = f"Service {svc.namespace}/{svc.name}"
        node = next((n for n in exp.load_balancers if n.orphan is None), None)
        ports = http_ports(exp)
        evidence: dict[str, Any] = {"http_ports": [p.port for p in ports], "all_ports": [p.port for p in svc.ports]}
        if node is None:
            if not complete:
                yield META.finding(
                    Status.UNKNOWN,
                    f"{label}: its load balancer is not in the inventory because load balancers were not fully "
                    "collected.",
                    kubernetes=exp.ref,
                    resource_name=f"{svc.namespace}/{svc.name}",
                    evidence=evidence,
                )
            return  # not provisioned: nothing is paid yet (provisioning rules cover it)
        evidence.update(cost_evidence(node))
        fields: dict[str, Any] = {**lb_fields(node), "kubernetes": exp.ref, "evidence": evidence}
        icx = exp.ingress_controller
        if icx is not None:
            # the edge of an in-cluster ingress controller: its load balancer already carries many HTTP backends
            evidence.update(
                ingress_controller=str(icx.ref),
                ingress_classes=icx.class_names,
                ingresses=[str(r) for r in icx.ingress_refs],
            )
            classes = ", ".join(icx.class_names) or "its classes"
            message = (
                f"{label} is the {icx.implementation} controller's Service: its load balancer carries the "
                f"{len(icx.ingresses)} Ingress(es) of class {classes}, not one HTTP Service."
            )
            yield META.finding(Status.PASS, message, **fields)
            return
        if not ports:
            message = f"{label} serves no HTTP ports; it needs a load balancer of its own."
            yield META.finding(Status.PASS, message, **fields)
            return
        shared = shared_by_scheme.get(node.lb.scheme, [])
        if not shared:
            others = ingress_schemes
            evidence["shared_alb"] = None
            note = (
                f"the cluster's Ingress ALBs are {', '.join(others)}, not {node.lb.scheme}"
                if others
                else "the cluster has no Ingress ALB to share"
            )
            evidence["note"] = note
            yield META.finding(
                Status.PASS,
                f"{label} serves HTTP on its own load balancer, but {note}, so moving it would not save a load "
                "balancer unless several such Services move together.",
                **fields,
            )
            return
        group, alb = shared[0]
        cost = evidence["monthly_cost_usd"]  # from cost_evidence above
        evidence.update(shared_alb=alb.lb.name, shared_group=group.name, monthly_saving_usd=cost)
        saving = f" and save about ${cost:.2f}/month" if cost is not None else ""
        yield META.finding(
            Status.FAIL,
            f"{label} serves HTTP on its own load balancer {node.lb.name}; it could share ALB {alb.lb.name} "
            f"({group.ref}){saving}.",
            remediation=_snippet(exp, ports[0], group, node.lb.scheme, taken),
            monthly_saving_usd=cost,
            **fields,
        )

    yield from guarded(META, graph, graph.services, judge, describe=lambda exp: {"kubernetes": exp.ref})


RULE = Rule(META, evaluate)
