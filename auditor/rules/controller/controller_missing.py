"""controller-missing: ALB Ingresses, LBC Services or controller-class Gateways exist, but no AWS Load Balancer
Controller runs to serve them — for Gateways also: the running controller is too old for them or has them switched
off (facts §10)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from auditor.config import RuleSettings
from auditor.controller.versions import DEFAULT_VERSION
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Ingress, Service
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import (
    GATEWAY_FEATURE_GATE,
    cluster_fields,
    cluster_label,
    gateway_support_problem,
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
        "pending, changed certificates or rules are never applied, and deleted objects leak their load balancers. "
        "Gateways of the controller's GatewayClasses (gateway.k8s.aws/alb, gateway.k8s.aws/nlb) need a controller "
        "that serves them: v2.13.3+ for NLB and v2.14.0+ for ALB Gateways, with the ALBGatewayAPI/NLBGatewayAPI "
        "feature gates on before v3.2.0 (it enables them itself from then on unless the gates say false)."
    ),
    remediation="Install or repair the controller: `auditor install-alb --cluster-name <cluster> --region <region>`.",
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/installation/",
        "https://docs.aws.amazon.com/eks/latest/userguide/aws-load-balancer-controller.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/gateway/",
    ),
    inputs=(
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_GATEWAY_CLASSES,
        Facet.KUBE_GATEWAYS,
    ),
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
    yield from _judge_ingresses_and_services(graph)
    yield from _judge_gateways(graph)


def _judge_gateways(graph: ExposureGraph) -> Iterator[Finding]:
    """One verdict on the Gateways of the controller's classes, if there are any (discriminator gateway-api)."""
    managed = [gwx for gwx in graph.gateways if gwx.managed]
    if not managed:
        return
    implementations = sorted({gwx.implementation for gwx in managed if gwx.implementation is not None})
    running = running_controllers(graph)
    problems = {
        impl: [p for c in running if (p := gateway_support_problem(c, impl)) is not None] for impl in implementations
    }
    first = graph.controllers[0] if graph.controllers else None
    evidence: dict[str, Any] = {
        "gateways": {
            "count": len(managed),
            "first": [f"{gwx.gateway.namespace}/{gwx.gateway.name} ({gwx.implementation})" for gwx in managed[:SAMPLE]],
        },
        "controller_deployments": {
            f"{c.namespace}/{c.name}": {"ready_replicas": c.ready_replicas, "version": c.version, "args": c.args}
            for c in graph.controllers
        },
    }
    fields = {
        **cluster_fields(graph),
        "kubernetes": KubeRef(kind="Deployment", namespace=first.namespace, name=first.name) if first else None,
        "discriminator": "gateway-api",
        "evidence": evidence,
    }
    cluster = cluster_label(graph)
    waiting = f"{len(managed)} Gateway(s) of the controller's classes ({', '.join(implementations)})"
    upgrade = install_command(graph, DEFAULT_VERSION)  # the installer's newest: v3.2+ serves Gateways by itself
    if not running:
        state = "has no ready replica" if first is not None else "does not run"
        yield META.finding(
            Status.FAIL,
            f"The AWS Load Balancer Controller {state} in cluster {cluster}, so {waiting} get no load balancer.",
            remediation=f"Install or repair the controller (v3.2+ serves Gateways by itself): `{upgrade}`.",
            **fields,
        )
        return
    blocked = {impl: found for impl, found in problems.items() if len(found) == len(running)}
    if blocked:
        reasons = "; ".join(p for found in blocked.values() for p in found[:1])
        gates = ",".join(f"{GATEWAY_FEATURE_GATE[impl]}=true" for impl in blocked)
        evidence["reasons"] = [p for found in blocked.values() for p in found]
        yield META.finding(
            Status.FAIL,
            f"The AWS Load Balancer Controller in cluster {cluster} does not serve {', '.join(blocked)} Gateways: "
            f"{reasons}. {waiting} are not reconciled.",
            remediation=(
                f"Upgrade the controller (from v3.2.0 it serves Gateways wherever the Gateway API CRDs are installed): "
                f"`{upgrade}`; or, on v2.13.3+/v2.14.0+, turn the feature on with the controller argument "
                f"--feature-gates={gates} (Helm: --set controllerConfig.featureGates.<gate>=true), and remove any "
                "gate set to false."
            ),
            **fields,
        )
        return
    names = ", ".join(f"{c.namespace}/{c.name} {c.version or ''}".strip() for c in running)
    yield META.finding(
        Status.PASS, f"The AWS Load Balancer Controller in cluster {cluster} ({names}) serves its {waiting}.", **fields
    )


def _judge_ingresses_and_services(graph: ExposureGraph) -> Iterator[Finding]:
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
