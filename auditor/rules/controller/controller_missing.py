"""controller-missing: ALB Ingresses or LBC Services exist, but no AWS Load Balancer Controller runs to serve them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Ingress, Service
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import (
    cluster_fields,
    cluster_label,
    install_command,
    kubernetes_unknown,
    running_controllers,
)
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="controller-missing",
    title="AWS Load Balancer Controller not running",
    severity=Severity.HIGH,
    category="controller",
    rationale=(
        "Ingresses of the ALB class and Services handed to the AWS Load Balancer Controller get no load "
        "balancer, no updates and no clean-up while no controller replica is ready: new exposures stay "
        "pending, changed certificates or rules are never applied, and deleted objects leak their load balancers."
    ),
    remediation="Install or repair the controller: `auditor install-alb --cluster-name <cluster> --region <region>`.",
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/installation/",
        "https://docs.aws.amazon.com/eks/latest/userguide/aws-load-balancer-controller.html",
    ),
    inputs=(Facet.KUBE_DEPLOYMENTS, Facet.KUBE_INGRESSES, Facet.KUBE_SERVICES, Facet.KUBE_INGRESS_CLASSES),
)


SAMPLE = 20


def _sample(objects: Sequence[Ingress | Service]) -> dict[str, Any]:
    return {"count": len(objects), "first": [f"{o.namespace}/{o.name}" for o in objects[:SAMPLE]]}


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "whether the AWS Load Balancer Controller runs")
        return
    yield from guarded(META, graph, (graph,), _judge_cluster, describe=cluster_fields)  # the one object it judges


def _judge_cluster(graph: ExposureGraph) -> Iterator[Finding]:
    ingresses = [m for g in graph.ingress_groups for m in g.members]
    services = [e.service for e in graph.services if e.settings.controller == "lbc"]
    deployments = {
        f"{c.namespace}/{c.name}": {"ready_replicas": c.ready_replicas, "replicas": c.replicas, "version": c.version}
        for c in graph.controllers
    }
    evidence = {
        # counts and the first few names: a large cluster has thousands, which no reader of a finding wants
        "alb_ingresses": _sample(ingresses),
        "lbc_services": _sample(services),
        "controller_deployments": deployments,
    }
    first = graph.controllers[0] if graph.controllers else None
    ref = KubeRef(kind="Deployment", namespace=first.namespace, name=first.name) if first else None
    fields = {**cluster_fields(graph), "kubernetes": ref, "evidence": evidence}
    cluster = cluster_label(graph)
    if not ingresses and not services:
        yield META.finding(
            Status.PASS,
            f"Cluster {cluster} has no ALB Ingresses or controller-managed Services that need the controller.",
            **fields,
        )
        return
    running = running_controllers(graph)
    if running:
        names = ", ".join(f"{c.namespace}/{c.name}" for c in running)
        message = f"The AWS Load Balancer Controller runs in cluster {cluster} ({names})."
        yield META.finding(Status.PASS, message, **fields)
        return
    waiting = f"{len(ingresses)} ALB Ingress(es) and {len(services)} controller-managed Service(s)"
    if first is not None:
        message = (
            f"The AWS Load Balancer Controller {first.namespace}/{first.name} in cluster {cluster} has no ready "
            f"replica, so {waiting} are not reconciled."
        )
        remediation = (
            f"Check why the controller is not ready: `kubectl -n {first.namespace} describe deployment {first.name}` "
            f"and its pod logs (IAM, webhook certificate, --cluster-name); then repair it with "
            f"`{install_command(graph)}`."
        )
    else:
        message = f"No AWS Load Balancer Controller runs in cluster {cluster}, so {waiting} are not reconciled."
        remediation = f"Install the controller: `{install_command(graph)}` (shows the plan first; safe to re-run)."
    yield META.finding(Status.FAIL, message, remediation=remediation, **fields)


RULE = Rule(META, evaluate)
