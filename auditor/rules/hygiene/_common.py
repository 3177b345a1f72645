"""The Kubernetes exposures hygiene rules walk (ALB Ingresses, LoadBalancer Services, the controller's Gateways, the
Ingresses of in-cluster ingress controllers such as ingress-nginx) and their annotation problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.correlate.annotations import AnnotationProblem
from auditor.correlate.graph import (
    ExposureGraph,
    GatewayExposure,
    IngressControllerExposure,
    IngressGroup,
    LbNode,
    ServiceExposure,
)
from auditor.findings import KubeRef
from auditor.inventory.models import Ingress, LoadBalancerIngress
from auditor.rules._helpers import sentence


@dataclass(slots=True)
class KubeExposure:
    """One ALB-class Ingress (with its group), one type: LoadBalancer Service, or one Gateway of the controller."""

    ref: KubeRef
    ingress: Ingress | None = None
    group: IngressGroup | None = None
    service: ServiceExposure | None = None
    gateway: GatewayExposure | None = None
    ingress_controller: IngressControllerExposure | None = None  # the in-cluster controller serving ``ingress``
    # read several times per finding by both hygiene rules: worked out once, when the item is made
    load_balancer: LbNode | None = field(init=False, default=None)  # the current (non-orphaned) one, if any
    address: str | None = field(init=False, default=None)  # the first hostname/IP the controller wrote into status
    label: str = field(init=False, default="")  # "Ingress ns/name", as a message starts with it

    def __post_init__(self) -> None:
        nodes = self.group.load_balancers if self.group is not None else []
        if self.service is not None:
            nodes = self.service.load_balancers
        if self.gateway is not None:
            nodes = self.gateway.load_balancers
        if self.ingress_controller is not None:
            nodes = self.ingress_controller.load_balancers()
        for node in nodes:
            if not node.orphan:
                self.load_balancer = node
                break
        for status in self.status_ingress:
            if address := status.hostname or status.ip:
                self.address = address
                break
        self.label = sentence(str(self.ref))

    @property
    def status_ingress(self) -> list[LoadBalancerIngress]:
        if self.gateway is not None:  # status.addresses: the load balancer's DNS name
            return [LoadBalancerIngress(hostname=a) for a in self.gateway.gateway.addresses]
        if self.ingress is not None:
            return self.ingress.status_ingress
        return self.service.service.status_ingress if self.service is not None else []

    def annotations(self) -> dict[str, str]:
        if self.ingress is not None:
            return self.ingress.annotations
        return self.service.service.annotations if self.service is not None else {}


def kube_exposures(graph: ExposureGraph) -> list[KubeExposure]:
    """ALB Ingresses (group by group, in group order), LoadBalancer Services, then the Ingresses of in-cluster ingress
    controllers, as the graph holds them.

    Made once per graph (both hygiene rules walk them); callers must not modify the list or its items."""
    return graph.derived(_kube_exposures)


def _kube_exposures(graph: ExposureGraph) -> list[KubeExposure]:
    found: list[KubeExposure] = []
    for group in graph.ingress_groups:
        for ing in group.members:
            found.append(KubeExposure(ref=group.ref_of(ing), ingress=ing, group=group))
    found.extend(KubeExposure(ref=exp.ref, service=exp) for exp in graph.services)
    for icx in graph.ingress_controllers:
        found.extend(KubeExposure(ref=icx.ref_of(ing), ingress=ing, ingress_controller=icx) for ing in icx.ingresses)
    return found


def gateway_exposures(graph: ExposureGraph) -> list[KubeExposure]:
    """The Gateways of the controller's GatewayClasses, in inventory order (made once per graph)."""
    return graph.derived(_gateway_exposures)


def _gateway_exposures(graph: ExposureGraph) -> list[KubeExposure]:
    return [KubeExposure(ref=gwx.ref, gateway=gwx) for gwx in graph.gateways if gwx.managed]


def problems_by_object(graph: ExposureGraph) -> dict[KubeRef, list[AnnotationProblem]]:
    """Annotation problems per Kubernetes object, in the order the correlator found them (once per graph)."""
    return graph.derived(_problems_by_object)


def _problems_by_object(graph: ExposureGraph) -> dict[KubeRef, list[AnnotationProblem]]:
    out: dict[KubeRef, list[AnnotationProblem]] = {}
    for ref, problem in graph.annotation_problems:
        out.setdefault(ref, []).append(problem)
    return out


def load_balancer_evidence(node: LbNode | None) -> dict[str, str]:
    return {"load_balancer": node.lb.name, "load_balancer_arn": node.arn} if node is not None else {}
