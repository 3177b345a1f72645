"""ingress-not-provisioned: an ALB Ingress, LoadBalancer Service, controller-class Gateway or Ingress of an in-cluster
ingress controller (ingress-nginx ...) has no address, with the likely reason.

Reasons the inventory can show: no controller Deployment (or none ready) for objects the AWS Load
Balancer Controller handles, invalid annotations on the object or on another member of its IngressGroup
(one bad member blocks the whole group), a ``loadBalancerClass`` nobody here serves, or a load balancer
that exists while the status was never written back; for a Gateway also a controller too old for Gateways or
with them switched off, an invalid LoadBalancerConfiguration, or a GatewayClass the controller did not accept; for
an in-cluster controller's Ingress a controller that is missing or not ready, or without a LoadBalancer Service.
The subject is the Kubernetes object (``resource_arn`` empty), so the finding keeps its fingerprint once the
address appears. With an incomplete Kubernetes inventory an object without address is UNKNOWN (the reason may be
missing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import LBC_SERVICE_CLASS, AnnotationProblem
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._helpers import sentence
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import gateway_support_problem, running_controllers
from auditor.rules.coverage import guarded
from auditor.rules.hygiene._common import (
    KubeExposure,
    gateway_exposures,
    kube_exposures,
    load_balancer_evidence,
    problems_by_object,
)

META = RuleMeta(
    id="ingress-not-provisioned",
    title="Ingress or LoadBalancer Service has no load balancer address",
    severity=Severity.MEDIUM,
    category="hygiene",
    rationale=(
        "An exposure without an address serves no traffic: the controller never created (or never finished) "
        "its load balancer. The usual causes are visible from the cluster: the AWS Load Balancer Controller is "
        "not running, an annotation it cannot parse (which blocks every Ingress of the IngressGroup), or a "
        "loadBalancerClass no controller serves."
    ),
    remediation=(
        "Fix the cause named in the finding, then check kubectl describe on the object for the controller's "
        "events and the controller logs (kubectl -n kube-system logs deploy/aws-load-balancer-controller)."
    ),
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/installation/",
        "https://repost.aws/knowledge-center/eks-load-balancer-controller-troubleshoot",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#ingressgroup",
        "https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html",
        "https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/",
    ),
    inputs=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_GATEWAY_CLASSES,
        Facet.KUBE_GATEWAYS,
    ),
    enrich=(Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,),
)


Reason = tuple[str, str]  # (why, what to do)


def _controller_reasons(graph: ExposureGraph) -> list[Reason]:
    cluster = graph.cluster_name or "<cluster name>"
    if not graph.controllers:
        return [
            (
                "no AWS Load Balancer Controller Deployment runs in the cluster",
                "install it: helm install aws-load-balancer-controller eks/aws-load-balancer-controller -n "
                f"kube-system --set clusterName={cluster} (with an IAM role for its service account)",
            )
        ]
    if all(c.ready_replicas == 0 for c in graph.controllers):
        names = ", ".join(f"{c.namespace}/{c.name}" for c in graph.controllers)
        first = graph.controllers[0]
        return [
            (
                f"the AWS Load Balancer Controller ({names}) has no ready replica",
                f"find out why its pods are not ready: kubectl -n {first.namespace} describe deployment {first.name}",
            )
        ]
    return []


def _keys(problems: list[AnnotationProblem]) -> str:
    return ", ".join(dict.fromkeys(p.annotation for p in problems))


def _members_with_problems(
    graph: ExposureGraph, problems: dict[KubeRef, list[AnnotationProblem]]
) -> dict[str, list[KubeRef]]:
    """Per IngressGroup, its members with annotation problems (group order): one bad member blocks the group.

    Built once per evaluation, so an Ingress without address looks at the few bad members of its group
    rather than at every member."""
    found: dict[str, list[KubeRef]] = {}
    for group in graph.ingress_groups:
        found[group.name] = [ref for m in group.members if problems.get(ref := group.ref_of(m))]
    return found


def _gateway_reasons(
    graph: ExposureGraph, item: KubeExposure, problems: dict[KubeRef, list[AnnotationProblem]]
) -> list[Reason]:
    gwx = item.gateway
    if gwx is None or gwx.implementation is None:
        return []
    reasons: list[Reason] = []
    running = running_controllers(graph)
    unsupported = [p for c in running if (p := gateway_support_problem(c, gwx.implementation)) is not None]
    if running and len(unsupported) == len(running):
        reasons.append(
            (unsupported[0], "upgrade the controller or turn its Gateway feature on (see controller-missing)")
        )
    cls = gwx.gateway_class
    if cls is not None and cls.accepted is False:
        reasons.append(
            (
                f"GatewayClass {cls.name} is not accepted by the controller",
                f"read its status conditions: kubectl describe gatewayclass {cls.name}",
            )
        )
    cfg = gwx.configuration
    if cfg is not None:
        cfg_ref = KubeRef(kind=cfg.kind, namespace=cfg.namespace, name=cfg.name)
        bad = problems.get(cfg_ref, [])
        if bad:
            reasons.append(
                (
                    f"its {cfg_ref} has invalid {_keys(bad)}",
                    f"correct {_keys(bad)} with kubectl -n {cfg.namespace} edit loadbalancerconfiguration "
                    f"{cfg.name} (see invalid-annotation)",
                )
            )
    return reasons


def _in_cluster_reasons(item: KubeExposure) -> list[Reason]:
    """Why an Ingress of an in-cluster controller (ingress-nginx ...) has no address: the controller is not there or
    not ready, it has no LoadBalancer Service, or that Service has no load balancer yet."""
    icx = item.ingress_controller
    if icx is None:
        return []
    classes = ", ".join(icx.class_names) or "its class"
    if icx.workload is None and not icx.services:
        return [
            (
                f"no {icx.implementation} controller for IngressClass {classes} ({icx.controller}) runs in the cluster",
                f"install the {icx.implementation} controller, or set spec.ingressClassName to a class that is served",
            )
        ]
    reasons: list[Reason] = []
    wl = icx.workload
    if wl is not None and wl.ready_replicas == 0:
        reasons.append(
            (
                f"the {icx.implementation} controller ({wl.namespace}/{wl.name}) has no ready replica",
                f"find out why its pods are not ready: kubectl -n {wl.namespace} describe deployment {wl.name}",
            )
        )
    if not icx.services:
        reasons.append(
            (
                f"the {icx.implementation} controller has no type: LoadBalancer Service in front of it",
                "expose the controller with a LoadBalancer Service (and name it in --publish-service)",
            )
        )
    elif item.load_balancer is None:
        names = ", ".join(str(exp.ref) for exp in icx.services)
        reasons.append(
            (
                f"the controller's {names} has no load balancer yet",
                "fix that Service first (see its own ingress-not-provisioned finding)",
            )
        )
    return reasons


def _reasons(
    graph: ExposureGraph,
    item: KubeExposure,
    problems: dict[KubeRef, list[AnnotationProblem]],
    bad_members: dict[str, list[KubeRef]],
) -> list[Reason]:
    reasons: list[Reason] = []
    own = problems.get(item.ref, [])
    if own:
        reasons.append(
            (f"invalid annotation {_keys(own)}", f"correct {_keys(own)} on {item.ref} (see invalid-annotation)")
        )
    if item.group is not None:
        reasons = _controller_reasons(graph) + reasons
        for ref in bad_members[item.group.name]:
            if ref != item.ref:
                reasons.append(
                    (
                        f"{ref} of the same IngressGroup {item.group.name!r} has invalid annotation "
                        f"{_keys(problems[ref])}, which blocks the whole group",
                        f"correct {_keys(problems[ref])} on {ref}",
                    )
                )
    elif item.gateway is not None:
        reasons = _controller_reasons(graph) + reasons + _gateway_reasons(graph, item, problems)
    elif item.ingress_controller is not None:
        reasons += _in_cluster_reasons(item)
    elif item.service is not None:
        settings = item.service.settings
        svc = item.service.service
        if settings.controller == "lbc":
            reasons = _controller_reasons(graph) + reasons
        elif settings.controller == "other":
            lbc_class = next(
                (c.load_balancer_class_arg for c in graph.controllers if c.load_balancer_class_arg), LBC_SERVICE_CLASS
            )
            reasons.append(
                (
                    f"spec.loadBalancerClass {svc.load_balancer_class!r} is not the AWS Load Balancer Controller's "
                    f"({lbc_class!r}) and no controller in the inventory serves it",
                    f"recreate the Service with spec.loadBalancerClass: {lbc_class} (the field is immutable)",
                )
            )
    node = item.load_balancer
    if node is not None and not reasons:
        reasons.append(
            (
                f"load balancer {node.lb.name} exists, but the controller never wrote its address back",
                "the controller fails to reconcile it: read its events and logs",
            )
        )
    if not reasons:
        if item.service is not None and item.service.settings.controller == "in-tree":
            reasons.append(
                (
                    "the in-tree provider gave no load balancer",
                    "read the Service events; usual causes are subnets without the kubernetes.io/role/elb "
                    "(public) or kubernetes.io/role/internal-elb (internal) tag, or a load balancer quota",
                )
            )
        else:
            reasons.append(("nothing in the inventory explains it", "read the object's events and the controller logs"))
    return reasons


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    problems = problems_by_object(graph)
    bad_members = _members_with_problems(graph, problems)
    complete = graph.kube_collected

    def judge(item: KubeExposure) -> Iterator[Finding]:
        node = item.load_balancer
        evidence: dict[str, Any] = dict(load_balancer_evidence(node))
        common: dict[str, Any] = {
            "kubernetes": item.ref,
            "account": node.lb.account if node else None,
            "region": node.lb.region if node else None,
        }
        if item.group is not None:
            evidence["ingress_group"] = item.group.name
        if item.service is not None:
            evidence["controller"] = item.service.settings.controller
        if item.ingress_controller is not None:
            evidence["ingress_controller"] = str(item.ingress_controller.ref)
        if item.gateway is not None:
            evidence["gateway_class"] = item.gateway.gateway.gateway_class_name
            evidence["routes"] = [str(r) for r in item.gateway.route_refs]
        address = item.address
        if address is not None:
            evidence["address"] = address
            yield META.finding(
                Status.PASS,
                f"{item.label} has its load balancer address {address}.",
                evidence=evidence,
                **common,
            )
            return
        reasons = _reasons(graph, item, problems, bad_members)
        if not complete:
            yield META.finding(
                Status.UNKNOWN,
                f"{item.label} has no address, and the Kubernetes inventory is incomplete, so whether "
                "it is stuck and why is not known.",
                evidence={**evidence, "reasons_seen": [why for why, _ in reasons]},
                **common,
            )
            return
        kind = item.ref.kind.lower()
        describe = f"kubectl -n {item.ref.namespace} describe {kind} {item.ref.name}"
        yield META.finding(
            Status.FAIL,
            f"{item.label} has no load balancer address: {'; '.join(why for why, _ in reasons)}.",
            remediation=f"{sentence('; '.join(fix for _, fix in reasons))}. Then check {describe}.",
            evidence={**evidence, "reasons": [why for why, _ in reasons]},
            **common,
        )

    items = [*kube_exposures(graph), *gateway_exposures(graph)]
    yield from guarded(META, graph, items, judge, describe=lambda item: {"kubernetes": item.ref})


RULE = Rule(META, evaluate)
