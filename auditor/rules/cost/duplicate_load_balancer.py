"""duplicate-load-balancer: one backend Service port reachable through more than one load balancer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import BackendRef, ExposureGraph, ExposurePath, LbNode
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import GATEWAYS, IN_CLUSTER_CONTROLLERS, LOAD_BALANCERS, PRICED, ROUTES, Facet
from auditor.rules._helpers import lb_kind, shell_quote
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import kubernetes_unknown
from auditor.rules.cost._common import lb_collected, monthly_cost, total_cost
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="duplicate-load-balancer",
    title="Backend exposed through more than one load balancer",
    severity=Severity.MEDIUM,
    category="cost",
    rationale=(
        "A Service port served both by its own `type: LoadBalancer` and by an Ingress (or by two IngressGroups, or "
        "by an in-cluster ingress controller such as ingress-nginx and another load balancer) "
        "pays for every extra load balancer and has a second front door to secure: TLS, WAF and source ranges "
        "set on one path do not protect the other."
    ),
    remediation=(
        "Keep one path: e.g. set the Service to `type: ClusterIP` when the Ingress already serves it, or remove "
        "the backend from the second Ingress or from the routes of the second Gateway."
    ),
    references=("https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/",),
    inputs=(*IN_CLUSTER_CONTROLLERS, *GATEWAYS, *ROUTES, Facet.KUBE_REFERENCE_GRANTS, *LOAD_BALANCERS),
    enrich=(Facet.KUBE_TARGET_GROUP_BINDINGS, *PRICED),
)


def _keep_first(nodes: list[LbNode]) -> list[LbNode]:
    """The load balancer to keep first: the most shared (most backends), Ingress- or Gateway-made before
    Service-made."""
    return sorted(
        nodes,
        key=lambda n: (
            -len(n.backends),
            0
            if n.owner is not None
            and (n.owner.group is not None or n.owner.gateway is not None or n.owner.ingress_controller is not None)
            else 1,
            n.lb.name,
        ),
    )


def _path_evidence(path: ExposurePath) -> dict[str, Any]:
    node = path.load_balancer
    return {
        "via": str(path.via),
        "load_balancer": node.lb.name if node else None,
        "arn": node.arn if node else None,
        "type": lb_kind(node.lb) if node else None,
        "scheme": node.lb.scheme if node else None,
        "monthly_cost_usd": monthly_cost(node) if node else None,
    }


def _fix_for(node: LbNode, ref: BackendRef, kept: LbNode) -> str:
    owner = node.owner
    if owner is not None and owner.ingress_controller is not None:
        icx = owner.ingress_controller
        using = [
            str(icx.ref_of(ing))
            for ing in icx.ingresses
            if ing.namespace == ref.namespace
            and any(p.backend.service_name == ref.service for r in ing.rules for p in r.paths)
        ]
        classes = ", ".join(icx.class_names) or icx.controller
        return (
            f"remove the paths to {ref.service}:{ref.port} from {', '.join(using) or 'the Ingresses'} of class "
            f"{classes} (served by the {icx.implementation} controller through {node.lb.name}); it stays reachable "
            f"through {kept.lb.name}"
        )
    if owner is not None and owner.service is not None:
        svc = owner.service
        patch: dict[str, Any] = {"spec": {"type": "ClusterIP"}}
        if svc.load_balancer_class:
            patch["spec"]["loadBalancerClass"] = None
        return (
            f"`kubectl -n {svc.namespace} patch service {svc.name} -p {shell_quote(json.dumps(patch))}` "
            f"(or `type: ClusterIP` in its manifest, without nodePort values) removes {node.lb.name}; clients of "
            f"{node.lb.dns_name} must move to {kept.lb.dns_name} first"
        )
    if owner is not None and owner.group is not None:
        using = [
            f"{m.namespace}/{m.name}"
            for m in owner.group.members
            if m.namespace == ref.namespace
            and any(p.backend.service_name == ref.service for r in m.rules for p in r.paths)
        ]
        return (
            f"remove the paths to {ref.service}:{ref.port} from Ingress {', '.join(using) or '(the group members)'} "
            f"of {owner.ref} (served by {node.lb.name}); it stays reachable through {kept.lb.name}"
        )
    if owner is not None and owner.gateway is not None:
        gwx = owner.gateway
        using = [
            f"{r.kind} {r.namespace}/{r.name}"
            for r in gwx.routes
            if any(
                b.name == ref.service and (b.namespace or r.namespace) == ref.namespace
                for rule in r.rules
                for b in rule.backend_refs
            )
        ]
        return (
            f"remove the backendRefs to {ref.service}:{ref.port} from {', '.join(using) or 'the routes'} attached to "
            f"{gwx.ref} (served by {node.lb.name}); it stays reachable through {kept.lb.name}"
        )
    return f"delete the exposure through {node.lb.name}"


def _backend_fields(ref: BackendRef) -> dict[str, Any]:
    """How a backend's findings name it (the Service, and the port in resource_name and discriminator)."""
    label = str(ref)
    kube = KubeRef(kind="Service", namespace=ref.namespace, name=ref.service)
    return {"kubernetes": kube, "resource_name": label, "discriminator": label}


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "which backends are exposed twice")
        return
    complete = lb_collected(graph)
    # the LoadBalancer Services already have their KubeRef; other backends get one made here
    service_refs = {(e.service.namespace, e.service.name): e.ref for e in graph.services}

    def judge(ref: BackendRef) -> Iterator[Finding]:
        paths = graph.backends[ref]
        nodes: list[LbNode] = []
        for p in paths:
            node = p.load_balancer
            if node is not None and node.orphan is None and node not in nodes:
                nodes.append(node)
        label = str(ref)
        fields: dict[str, Any] = {
            "kubernetes": service_refs.get((ref.namespace, ref.service))
            or KubeRef(kind="Service", namespace=ref.namespace, name=ref.service),
            "resource_name": label,
            "discriminator": label,
            "evidence": {"backend": label, "paths": [_path_evidence(p) for p in paths]},
        }
        if len(nodes) >= 2:
            kept, *redundant = _keep_first(nodes)
            cost = total_cost(redundant)
            fields.update(
                resource_arn=redundant[0].arn,
                account=redundant[0].lb.account,
                region=redundant[0].lb.region,
                monthly_saving_usd=cost,
            )
            fields["evidence"].update(
                keep=kept.lb.name,
                redundant=[n.lb.name for n in redundant],
                redundant_monthly_cost_usd=cost,
            )
            price = f", ${cost:.2f}/month more than needed" if cost is not None else ""
            fixes = "; ".join(_fix_for(n, ref, kept) for n in redundant)
            yield META.finding(
                Status.FAIL,
                f"Backend {label} is reachable through {len(nodes)} load balancers "
                f"({', '.join(n.lb.name for n in nodes)}){price}.",
                remediation=f"Keep one path ({kept.lb.name}): {fixes}.",
                **fields,
            )
        elif (
            not complete
            and len(vias := {str(p.via) for p in paths}) >= 2
            and any(p.load_balancer is None for p in paths)
        ):
            yield META.finding(
                Status.UNKNOWN,
                f"Backend {label} is exposed by {len(vias)} objects but load balancers were not fully collected, so "
                "whether they share one load balancer is unknown.",
                **fields,
            )
        elif len(nodes) == 1:
            node = nodes[0]
            fields.update(resource_arn=node.arn, account=node.lb.account, region=node.lb.region)
            message = f"Backend {label} is reachable through one load balancer ({node.lb.name})."
            yield META.finding(Status.PASS, message, **fields)

    backends = sorted(graph.backends)  # namespace, Service, port
    yield from guarded(META, graph, backends, judge, describe=_backend_fields)


RULE = Rule(META, evaluate)
