"""classic-load-balancer: legacy Classic Load Balancers made by the in-tree provider for LoadBalancer Services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import SVC
from auditor.correlate.graph import ExposureGraph, LbNode, ServiceExposure
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import PRICED, Facet
from auditor.inventory.models import Service
from auditor.rules._helpers import describe_lb, lb_fields
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, kubernetes_unknown
from auditor.rules.cost._common import cost_evidence, saving_by_replacing
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="classic-load-balancer",
    title="Legacy Classic Load Balancer from the in-tree provider",
    severity=Severity.MEDIUM,
    category="ownership",
    rationale=(
        "A LoadBalancer Service without a load balancer class or `aws-load-balancer-type` annotation gets a "
        "Classic Load Balancer from the legacy in-tree provider: previous-generation, no modern TLS policies, "
        "no IP targets, instance-level health only, more expensive per hour than an NLB, and the in-tree "
        "provider gets no new features. The AWS Load Balancer Controller provisions an NLB instead."
    ),
    remediation=(
        "Hand the Service to the AWS Load Balancer Controller: "
        f"`{SVC}aws-load-balancer-type: external`, `{SVC}aws-load-balancer-nlb-target-type: ip` and an explicit "
        f"`{SVC}aws-load-balancer-scheme`. This replaces the load balancer and its DNS name."
    ),
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/nlb/",
        "https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html",
    ),
    inputs=(Facet.ELB_LOAD_BALANCERS, Facet.ELB_TAGS, Facet.KUBE_SERVICES),
    enrich=PRICED,  # the saving of replacing it
)

_CARRY_OVER = ("aws-load-balancer-ssl-cert", "aws-load-balancer-ssl-ports", "aws-load-balancer-ssl-negotiation-policy")


def _migration(svc: Service, scheme: str) -> str:
    ns, name = svc.namespace or "default", svc.name
    annotations = {
        f"{SVC}aws-load-balancer-type": "external",
        f"{SVC}aws-load-balancer-nlb-target-type": "ip",
        f"{SVC}aws-load-balancer-scheme": scheme,
    }
    kept = [f"{SVC}{k}" for k in _CARRY_OVER if f"{SVC}{k}" in svc.annotations]
    yaml = "\n".join(f"    {k}: {v}" for k, v in annotations.items())
    text = (
        f"Move Service {ns}/{name} to the AWS Load Balancer Controller (an NLB). Safest without downtime: apply a "
        f"copy named {name}-nlb with these annotations (keep ports, selector and loadBalancerSourceRanges), point "
        f"DNS at its new hostname, then delete {ns}/{name} so the in-tree provider removes its Classic LB:\n"
        f"metadata:\n  annotations:\n{yaml}\n"
        "Changing the annotation in place also works only if the Service is recreated (delete + apply): the in-tree "
        "provider stops managing a Service it no longer owns and can leave the old Classic LB behind. Either way "
        "this REPLACES the load balancer and its DNS name."
    )
    if kept:
        text += f" Keep {', '.join(kept)}: the controller honours them for the NLB's TLS listeners."
    if f"{SVC}aws-load-balancer-backend-protocol" in svc.annotations:
        text += (
            " The Service uses aws-load-balancer-backend-protocol (HTTP features of the Classic LB), which an NLB "
            "does not offer: serve it through an ALB Ingress instead."
        )
    return text


def _service_evidence(exp: ServiceExposure) -> dict[str, Any]:
    svc = exp.service
    return {
        "service": f"{svc.namespace}/{svc.name}",
        "load_balancer_type_annotation": svc.annotations.get(f"{SVC}aws-load-balancer-type"),
        "load_balancer_class": svc.load_balancer_class,
        "ports": [p.port for p in svc.ports],
    }


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    seen_services: set[tuple[str, str]] = set()

    def judge_node(node: LbNode) -> Iterator[Finding]:
        owner = node.owner
        service = owner.service if owner is not None else None
        made_by_kubernetes = node.controller == "in-tree" or service is not None
        if node.orphan is not None or not made_by_kubernetes:
            return  # orphans: orphaned-load-balancer; unmanaged CLBs are not the in-tree provider's
        if service is not None:
            seen_services.add((service.namespace or "", service.name))
        yield _judge_node(node, service)

    yield from guarded(META, graph, graph.in_scope(), judge_node, describe=lb_fields)
    classic_requests = [e for e in graph.services if e.settings.lb_type == "classic"]
    if not graph.kube_collected:
        if not graph.collected("elb"):
            yield kubernetes_unknown(META, graph, "which Services use legacy Classic Load Balancers")
        return

    def judge_service(exp: ServiceExposure) -> Iterator[Finding]:
        svc = exp.service
        if (svc.namespace or "", svc.name) in seen_services or exp.load_balancers:
            return
        fields = {**cluster_fields(graph), "kubernetes": exp.ref, "evidence": _service_evidence(exp)}
        fields["resource_name"] = f"{svc.namespace}/{svc.name}"
        if not graph.collected("elb"):
            yield META.finding(
                Status.UNKNOWN,
                f"Service {svc.namespace}/{svc.name} asks the in-tree provider for a Classic Load Balancer, but "
                "Classic load balancers were not collected.",
                **fields,
            )
        else:
            yield META.finding(
                Status.FAIL,
                f"Service {svc.namespace}/{svc.name} asks the in-tree provider for a Classic Load Balancer "
                "(none exists in AWS yet).",
                remediation=_migration(svc, exp.settings.scheme),
                **fields,
            )

    yield from guarded(META, graph, classic_requests, judge_service, describe=lambda exp: {"kubernetes": exp.ref})


def _judge_node(node: LbNode, service: Service | None) -> Finding:
    evidence: dict[str, Any] = {
        "load_balancer": node.lb.name,
        "type": node.lb.type,
        "scheme": node.lb.scheme,
        "controller": node.controller,
        "owner": node.owner.label if node.owner else None,
        **cost_evidence(node),
    }
    fields: dict[str, Any] = {**lb_fields(node), "evidence": evidence}
    if node.lb.type != "classic":
        return META.finding(Status.PASS, f"{describe_lb(node)} is not a Classic Load Balancer.", **fields)
    saving, basis = saving_by_replacing(node, "network")
    evidence.update(monthly_saving_usd=saving, saving_basis=basis)
    fields["monthly_saving_usd"] = saving
    if service is None:
        remediation = (
            f"Find the Service named by its tags ({node.stack or 'kubernetes.io/service-name'}) and move it to the "
            f"controller: `{SVC}aws-load-balancer-type: external`, `{SVC}aws-load-balancer-nlb-target-type: ip`, "
            f"`{SVC}aws-load-balancer-scheme: {node.lb.scheme}` (replaces the load balancer and its DNS name)."
        )
    else:
        remediation = _migration(service, node.lb.scheme)
    return META.finding(
        Status.FAIL,
        f"{describe_lb(node)} is a legacy Classic Load Balancer made by the in-tree provider.",
        remediation=remediation,
        **fields,
    )


RULE = Rule(META, evaluate)
