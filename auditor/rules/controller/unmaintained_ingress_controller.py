"""unmaintained-ingress-controller: the community ingress-nginx controller runs in the cluster, retired by Kubernetes
SIG Network and the Security Response Committee (announced 2025-11-11; no releases, bug fixes or security patches
after March 2026, facts §14), so the load balancer in front of it leads to an edge that is no longer patched.

Severity follows what reaches that edge: high behind an internet-facing load balancer (anyone on the internet can
send it requests that a future, unfixed vulnerability needs), medium behind an internal one only (the VPC, peered
networks and VPNs still can), low when no load balancer of it was found (only in-cluster or node-port traffic). The
other in-cluster controllers the auditor recognises (Traefik, HAProxy) pass. F5's NGINX Ingress Controller
(``nginx.org`` annotations) is a different, maintained project and is not recognised as ingress-nginx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import NGINX
from auditor.correlate.graph import ExposureGraph, IngressControllerExposure
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import IN_CLUSTER_CONTROLLERS, LOAD_BALANCERS
from auditor.inventory.ingress_controllers import INGRESS_NGINX
from auditor.rules._helpers import lb_kind
from auditor.rules._ingress_controller import NGINX_DOCS, RETIREMENT, translation
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import kubernetes_unknown
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="unmaintained-ingress-controller",
    title="Retired ingress-nginx controller behind a load balancer",
    severity=Severity.HIGH,
    category="controller",
    rationale=(
        "Kubernetes SIG Network and the Security Response Committee retired the community ingress-nginx controller "
        "(announced 2025-11-11): after March 2026 there are no releases, no bug fixes and no security patches. It "
        "parses every request that reaches its load balancer, so a vulnerability found from then on stays open. "
        "High behind an internet-facing load balancer; medium behind an internal one only (the VPC, peered "
        "networks and VPNs still reach it); low when no load balancer of it was found."
    ),
    remediation=(
        "Move its Ingresses to the AWS Load Balancer Controller — Gateway API (a Gateway of a GatewayClass with "
        "controllerName gateway.k8s.aws/alb and one HTTPRoute per Ingress; ingress2gateway drafts them) or ALB "
        "Ingress (ingressClassName: alb, sharing one ALB through alb.ingress.kubernetes.io/group.name) — translating "
        "the nginx.ingress.kubernetes.io annotations listed in the finding, then delete the controller and its "
        "LoadBalancer Service."
    ),
    references=(
        RETIREMENT,
        "https://github.com/kubernetes/ingress-nginx",
        "https://github.com/kubernetes-sigs/ingress2gateway",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/gateway/",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/",
        NGINX_DOCS,
    ),
    inputs=(*IN_CLUSTER_CONTROLLERS, *LOAD_BALANCERS),
)

MAX_LISTED = 20  # Ingresses spelled out in the remediation (the evidence has all of them)


def _severity(icx: IngressControllerExposure) -> Severity:
    nodes = icx.load_balancers()
    if any(n.lb.is_public for n in nodes):
        return Severity.HIGH
    return Severity.MEDIUM if nodes else Severity.LOW


def _annotations(icx: IngressControllerExposure) -> dict[str, list[str]]:
    """Per Ingress ("ns/name"), the ingress-nginx annotations it uses."""
    return {
        f"{ing.namespace}/{ing.name}": sorted(k for k in ing.annotations if k.startswith(NGINX))
        for ing in icx.ingresses
    }


def _remediation(icx: IngressControllerExposure) -> str:
    used = _annotations(icx)
    classes = ", ".join(icx.class_names) or "its class"
    lines = [
        f"Move the {len(icx.ingresses)} Ingress(es) of class {classes} to the AWS Load Balancer Controller: "
        "Gateway API (GatewayClass controllerName gateway.k8s.aws/alb, a Gateway with HTTP and HTTPS listeners, "
        "one HTTPRoute per Ingress; `ingress2gateway print --providers ingress-nginx` drafts them) or ALB Ingress "
        "(ingressClassName: alb, one ALB shared through alb.ingress.kubernetes.io/group.name)."
    ]
    for name, keys in list(used.items())[:MAX_LISTED]:
        if keys:
            translated = "; ".join(f"{k.removeprefix(NGINX)} -> {translation(k)}" for k in keys)
            lines.append(f"Ingress {name}: {translated}.")
        else:
            lines.append(f"Ingress {name}: no ingress-nginx annotations; its rules, hosts and TLS move as they are.")
    if len(used) > MAX_LISTED:
        lines.append(f"And {len(used) - MAX_LISTED} more Ingresses (all listed in the evidence).")
    where = [str(exp.ref) for exp in icx.services]
    lines.append(
        f"Once traffic has moved (DNS to the new load balancer), delete the controller ({icx.ref})"
        + (f" and its {', '.join(where)}" if where else "")
        + "; TLS certificates move to ACM (the auditor does not read Kubernetes Secrets)."
    )
    return " ".join(lines)


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    kube = graph.inventory.kubernetes
    if kube is None:
        yield kubernetes_unknown(META, graph, "which ingress controllers run in it")
        return
    if not graph.ingress_controllers_read:
        yield kubernetes_unknown(META, graph, "which ingress controllers run in it (a snapshot before schema 4)")
        return
    running = [x for x in graph.ingress_controllers if x.workload is not None or x.services]

    def judge(icx: IngressControllerExposure) -> Iterator[Finding]:
        nodes = icx.load_balancers()
        first = nodes[0] if nodes else None
        evidence: dict[str, Any] = {
            "implementation": icx.implementation,
            "image": icx.workload.image if icx.workload is not None else None,
            "version": icx.workload.version if icx.workload is not None else None,
            "ingress_classes": icx.class_names,
            "services": [str(exp.ref) for exp in icx.services],
            "load_balancers": [
                {"name": n.lb.name, "arn": n.arn, "type": lb_kind(n.lb), "scheme": n.lb.scheme} for n in nodes
            ],
            "ingresses": [str(r) for r in icx.ingress_refs],
        }
        fields: dict[str, Any] = {
            "kubernetes": icx.ref,
            "resource_name": str(icx.ref),
            "account": first.lb.account if first else None,
            "region": first.lb.region if first else None,
            "evidence": evidence,
        }
        if icx.implementation != INGRESS_NGINX.name:
            yield META.finding(
                Status.PASS,
                f"{icx.ref} runs {icx.implementation}, not the retired ingress-nginx controller.",
                **fields,
            )
            return
        evidence["annotations_to_translate"] = {k: v for k, v in _annotations(icx).items() if v}
        severity = _severity(icx)
        if nodes:
            edge = ", ".join(f"{n.lb.scheme} {lb_kind(n.lb)} {n.lb.name}" for n in nodes)
            where = f"behind {edge}"
        else:
            where = "with no load balancer found in front of it"
        yield META.finding(
            Status.FAIL,
            f"{icx.ref} runs the retired ingress-nginx controller ({evidence['version'] or 'version unknown'}) "
            f"{where}, serving {len(icx.ingresses)} Ingress(es): no releases or security fixes after March 2026.",
            severity=severity,
            remediation=_remediation(icx),
            **fields,
        )

    yield from guarded(META, graph, running, judge, describe=lambda icx: {"kubernetes": icx.ref})


RULE = Rule(META, evaluate)
