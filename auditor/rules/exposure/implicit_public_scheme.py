"""implicit-public-scheme: a Service is internet-facing only because the in-tree provider defaults to it.

The finding is about the Service (``kubernetes``); its load balancer is evidence, not the resource,
because making it internal replaces the load balancer.

Kubernetes-only: without a Kubernetes inventory there are no Service exposures and the rule says nothing.
Services of the AWS Load Balancer Controller default to internal and are not examined.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.annotations import SVC
from auditor.correlate.graph import ExposureGraph, ServiceExposure
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._helpers import annotate_command
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

INTERNAL = SVC + "aws-load-balancer-internal"
SCHEME = SVC + "aws-load-balancer-scheme"

META = RuleMeta(
    id="implicit-public-scheme",
    title="Service internet-facing by the in-tree provider's default",
    severity=Severity.HIGH,
    category="exposure",
    rationale=(
        "The legacy in-tree provider makes every type: LoadBalancer Service internet-facing unless "
        f"{INTERNAL} is set, the opposite of the AWS Load Balancer Controller (internal by default). A Service "
        "meant for in-VPC callers silently becomes reachable from the internet; the in-tree provider also ignores "
        f"{SCHEME}, so a Service asking for internal that way is public anyway."
    ),
    remediation=(
        f'Internal: {INTERNAL}: "true" (the load balancer is recreated with a new DNS name). Public on purpose: '
        f"say so explicitly, best by moving to the AWS Load Balancer Controller "
        f"({SVC}aws-load-balancer-type: external and {SCHEME}: internet-facing)."
    ),
    references=(
        "https://kubernetes.io/docs/reference/labels-annotations-taints/#service-beta-kubernetes-io-aws-load-balancer-internal",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/#lb-scheme",
        "https://docs.aws.amazon.com/eks/latest/userguide/network-load-balancing.html",
        "Prowler elb_internet_facing, elbv2_internet_facing (AWS side only, without the Kubernetes cause)",
    ),
    inputs=(Facet.KUBE_SERVICES,),
    enrich=(Facet.ELBV2_LOAD_BALANCERS, Facet.ELB_LOAD_BALANCERS),
)


def _fields(exp: ServiceExposure) -> dict[str, Any]:
    # No resource_arn: the fix (internal scheme) recreates the load balancer under a new ARN, and the
    # fingerprint must stay the same so the FAIL shows up as resolved rather than as a new finding.
    node = next((n for n in exp.load_balancers if not n.orphan), None)
    return {
        "account": node.lb.account if node else None,
        "region": node.lb.region if node else None,
        "kubernetes": exp.ref,
    }


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(exp: ServiceExposure) -> Iterator[Finding]:
        s = exp.settings
        if s.controller != "in-tree":
            return
        annotations = exp.service.annotations
        evidence: dict[str, Any] = {
            "controller": s.controller,
            "load_balancer_type": s.lb_type,
            "scheme": s.scheme,
            "scheme_explicit": s.scheme_explicit,
            INTERNAL: annotations.get(INTERNAL),
            SCHEME: annotations.get(SCHEME),
        }
        fields = _fields(exp)
        node = next((n for n in exp.load_balancers if not n.orphan), None)
        if node is not None:
            evidence.update(load_balancer=node.lb.name, load_balancer_arn=node.arn)
        if s.scheme == "internal":
            yield META.finding(Status.PASS, f"{exp.ref} is internal ({INTERNAL} is set).", evidence=evidence, **fields)
            return
        if s.scheme_explicit:
            yield META.finding(
                Status.PASS,
                f"{exp.ref} is internet-facing on purpose (set explicitly by annotation).",
                evidence=evidence,
                **fields,
            )
            return
        ignored = annotations.get(SCHEME)
        cause = (
            f"; its {SCHEME}: {ignored} is ignored by the in-tree provider"
            if ignored is not None
            else f", because no {INTERNAL} annotation is set"
        )
        make_internal = annotate_command(exp.ref, {INTERNAL: "true"})
        yield META.finding(
            Status.FAIL,
            f"{exp.ref} got an internet-facing {'Classic' if s.lb_type == 'classic' else 'Network'} Load Balancer "
            f"from the in-tree provider's default{cause}.",
            remediation=(
                f"If only in-VPC callers need it: {make_internal} (the load balancer is recreated with a new DNS "
                f"name). If it must be public, state it: move it to the AWS Load Balancer Controller with "
                f"{SVC}aws-load-balancer-type: external and {SCHEME}: internet-facing, or annotate "
                f'{INTERNAL}: "false".'
            ),
            evidence=evidence,
            **fields,
        )

    yield from guarded(META, graph, graph.services, judge, describe=_fields)


RULE = Rule(META, evaluate)
