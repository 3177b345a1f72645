"""invalid-annotation: an Ingress or Service annotation the controller would reject (bad JSON, value, ARN ...).

One FAIL per object and annotation key (several problems of one key are one finding); one PASS per
ALB Ingress or LoadBalancer Service without problems. The subject is the Kubernetes object, not its
load balancer (which may not exist because of the very problem): ``resource_arn`` stays empty so the
fingerprint is the same before and after the fix. Nothing is said without a Kubernetes inventory.

Two kinds of problem are not annotations: a malformed spec field of a controller configuration object —
IngressClassParams, and for Gateways LoadBalancerConfiguration and TargetGroupConfiguration (FAIL, fixed with
``kubectl edit``; one PASS per Gateway configuration object without problems) — and an object the
correlator could not evaluate at all (UNKNOWN, naming it: the audit neither passes nor blames it, and the
log holds the traceback).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, NGINX, UNREADABLE, AnnotationProblem
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._helpers import annotate_command, sentence
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded
from auditor.rules.hygiene._common import KubeExposure, kube_exposures, load_balancer_evidence, problems_by_object

MAX_QUOTED = 200
MAX_SHOWN = 5  # problems of one key named in the message (a hostile value may have thousands)
MAX_EVIDENCE_VALUE = 1000  # characters of each value kept in the evidence
LB_PREFIXES = (ALB, "service.beta.kubernetes.io/", NGINX)

META = RuleMeta(
    id="invalid-annotation",
    title="Invalid load balancer annotation",
    severity=Severity.MEDIUM,
    category="hygiene",
    rationale=(
        "The AWS Load Balancer Controller stops reconciling an Ingress (and every Ingress of its IngressGroup) "
        "or a Service when an annotation does not parse; the in-tree provider silently falls back to defaults, "
        "and so does ingress-nginx for its own annotations (a boolean that is not true or false is ignored). "
        "Either way the load balancer is not what the manifest asks for, and later changes stop applying."
    ),
    remediation="Correct the annotation value (or remove the annotation) with kubectl annotate --overwrite.",
    references=(
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#ingressgroup",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/loadbalancerconfig/",
        "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/",
    ),
    inputs=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_SERVICES,
        Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
        Facet.KUBE_TARGET_GROUP_CONFIGURATIONS,
    ),
    enrich=(Facet.KUBE_INGRESS_CLASS_PARAMS,),
)


def _quote(value: str) -> str:
    return repr(value if len(value) <= MAX_QUOTED else value[:MAX_QUOTED] + "…")


def _fail(item: KubeExposure | None, ref: KubeRef, key: str, problems: list[AnnotationProblem]) -> Finding:
    values = list(dict.fromkeys(p.value[:MAX_EVIDENCE_VALUE] for p in problems))
    what = "; ".join(f"{_quote(p.value)}: {p.message}" for p in problems[:MAX_SHOWN])
    if len(problems) > MAX_SHOWN:
        what += f"; and {len(problems) - MAX_SHOWN} more"
    blocks = ""
    if item is not None and item.group is not None and item.group.explicit and len(item.group.members) > 1:
        blocks = f" Until then the controller does not reconcile any Ingress of IngressGroup {item.group.name!r}."
    if key.startswith("spec."):  # a field of an IngressClassParams, not an annotation
        where = f" -n {ref.namespace}" if ref.namespace else ""
        remediation = f"Correct {key} with kubectl{where} edit {ref.kind.lower()} {ref.name}.{blocks}"
        subject = f"field {key}"
    else:
        remediation = (
            f"Set a valid value: {annotate_command(ref, {key: '<valid value>'})}, or remove the annotation: "
            f"{annotate_command(ref, {key: None})}.{blocks}"
        )
        subject = f"annotation {key}"
    evidence: dict[str, Any] = {
        "annotation": key,
        "values": values,
        "problems": [p.message for p in problems[: MAX_SHOWN * 20]],
        **load_balancer_evidence(item.load_balancer if item else None),
    }
    if item is not None and item.group is not None:
        evidence["ingress_group"] = item.group.name
    return META.finding(
        Status.FAIL,
        f"{sentence(str(ref))} has an invalid {subject} = {what}.",
        remediation=remediation,
        evidence=evidence,
        kubernetes=ref,
        discriminator=key,
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    problems = problems_by_object(graph)
    items = kube_exposures(graph)

    def judge(item: KubeExposure) -> Iterator[Finding]:
        found = problems.get(item.ref) if problems else None
        if found:
            yield from _fails(item, item.ref, found)
            return
        yield META.finding(
            Status.PASS,
            f"{item.label} has no invalid load balancer annotation.",
            evidence={
                "annotations_checked": sorted([k for k in item.annotations() if k.startswith(LB_PREFIXES)]),
                **load_balancer_evidence(item.load_balancer),
            },
            kubernetes=item.ref,
        )

    yield from guarded(META, graph, items, judge, describe=lambda item: {"kubernetes": item.ref})
    kube = graph.inventory.kubernetes
    read = (kube.gateway_configurations or []) if kube is not None else []
    configs = [
        KubeRef(kind=c.kind, namespace=c.namespace, name=c.name)
        for c in read
        if c.kind in ("LoadBalancerConfiguration", "TargetGroupConfiguration")
    ]

    def judge_config(ref: KubeRef) -> Iterator[Finding]:
        if ref not in problems:  # with problems: reported below, with the other objects that have some
            yield META.finding(
                Status.PASS,
                f"{sentence(str(ref))} has no invalid field.",
                evidence={
                    "checked": "scheme, ipAddressType, mergingMode, sourceRanges, listenerConfigurations, "
                    "target group properties"
                },
                kubernetes=ref,
            )

    yield from guarded(META, graph, configs, judge_config, describe=lambda ref: {"kubernetes": ref})
    if problems:
        # problems on objects that are not exposures (e.g. an Ingress of no group), after the exposures
        known = {item.ref for item in items}
        others = [ref for ref in problems if ref not in known]

        def judge_other(ref: KubeRef) -> Iterator[Finding]:
            yield from _fails(None, ref, problems[ref])

        yield from guarded(META, graph, others, judge_other, describe=lambda ref: {"kubernetes": ref})


def _fails(item: KubeExposure | None, ref: KubeRef, found: list[AnnotationProblem]) -> Iterator[Finding]:
    by_key: dict[str, list[AnnotationProblem]] = {}
    for p in found:
        by_key.setdefault(p.annotation, []).append(p)
    for key, key_problems in by_key.items():
        yield _unreadable(ref, key_problems) if key == UNREADABLE else _fail(item, ref, key, key_problems)


def _unreadable(ref: KubeRef, problems: list[AnnotationProblem]) -> Finding:
    return META.finding(
        Status.UNKNOWN,
        f"{sentence(str(ref))} could not be checked: {problems[0].message}.",
        remediation=(
            f"Look at the object (kubectl get {ref.kind.lower()} {ref.name}"
            f"{f' -n {ref.namespace}' if ref.namespace else ''} -o yaml) for a malformed field; the auditor's log "
            "has the traceback (--log-level DEBUG). The rest of the audit is unaffected."
        ),
        evidence={"problems": [p.message for p in problems[:MAX_SHOWN]]},
        kubernetes=ref,
        discriminator=UNREADABLE,
    )


RULE = Rule(META, evaluate)
