"""public-alb-without-waf: an internet-facing ALB has no AWS WAF web ACL in front of it."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._gateway import gateway_of, lb_configuration_fix
from auditor.rules._helpers import describe_lb, lb_fields, lb_subject, owner_annotate, owner_evidence
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

WAF_ANNOTATION = ALB + "wafv2-acl-arn"
WAF_CLASSIC_ANNOTATION = ALB + "waf-acl-id"

META = RuleMeta(
    id="public-alb-without-waf",
    title="Internet-facing ALB without a WAF web ACL",
    severity=Severity.MEDIUM,
    category="waf",
    rationale=(
        "An internet-facing ALB takes requests from anyone. Without an AWS WAF web ACL nothing filters common "
        "exploits (SQL injection, known bad inputs), bots or request floods before they reach the pods."
    ),
    remediation=(
        f"Set {WAF_ANNOTATION} to a regional WAFv2 web ACL ARN on one Ingress of the group (the controller "
        "associates it with the whole ALB), or wafv2AclArn in the IngressClassParams of the class. Remove any "
        f"'{WAF_ANNOTATION}: none', which detaches the web ACL. Gateway: spec.wafV2.webACL in the Gateway's "
        "LoadBalancerConfiguration."
    ),
    references=(
        "AWS Security Hub ELB.16: Application Load Balancers should be associated with an AWS WAF web ACL",
        "AWS Config rule alb-waf-enabled",
        "Prowler elbv2_waf_acl_attached",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#wafv2-acl-arn",
        "https://docs.aws.amazon.com/waf/latest/developerguide/web-acl-associating-aws-resource.html",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/main/apis/gateway/v1beta1/"
        "loadbalancerconfig_types.go (spec.wafV2.webACL)",
    ),
    inputs=(Facet.ELBV2_LOAD_BALANCERS, Facet.WAFV2_WEB_ACLS, Facet.WAFV2_ASSOCIATIONS),
    enrich=(Facet.KUBE_INGRESSES, Facet.KUBE_GATEWAYS, Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS),
)


def _acls_not_listed(graph: ExposureGraph) -> dict[tuple[str, str], list[str]]:
    """Web ACLs whose associations could not be listed, per (account, region), in inventory order.

    Built once per evaluation: every public ALB of an account/region asks for the same list."""
    found: dict[tuple[str, str], list[str]] = {}
    for acl in graph.inventory.aws.web_acls:
        if acl.resource_arns is None:
            found.setdefault((acl.account, acl.region), []).append(acl.name)
    return found


def _waf_classic(node: LbNode) -> dict[str, str]:
    """The WAF Classic web ACL ID each Ingress of the ALB's group asks for (not "none", which detaches)."""
    group = node.owner.group if node.owner else None
    found: dict[str, str] = {}
    for m in group.members if group else []:
        acl_id = group.settings_of(m).waf_classic_acl_id if group else None
        if acl_id and acl_id.strip().lower() != "none":
            found[f"{m.namespace}/{m.name}"] = acl_id
    return found


def _remediation(node: LbNode, annotations: dict[str, str]) -> str:
    gwx = gateway_of(node)
    if gwx is not None:
        return "Associate a web ACL through the Gateway: " + lb_configuration_fix(
            gwx, "wafV2: {webACL: <regional WAFv2 web ACL ARN>}"
        )
    detaching = [ref for ref, value in annotations.items() if value.strip().lower() == "none"]
    commands = owner_annotate(node, {WAF_ANNOTATION: "<regional WAFv2 web ACL ARN>"}, every_member=False)
    if commands:
        text = f"Associate a web ACL through Kubernetes: {commands[0]}."
        if detaching:
            text += (
                f" Ingress {', '.join(detaching)} sets {WAF_ANNOTATION}: none, which detaches any web ACL; "
                "replace it with the ARN (or remove it)."
            )
        return text
    return (
        "Not managed by Kubernetes: aws wafv2 associate-web-acl --web-acl-arn <regional web ACL ARN> "
        f"--resource-arn {node.arn}."
    )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    not_listed = _acls_not_listed(graph)

    def judge(node: LbNode) -> Iterator[Finding]:
        lb = node.lb
        if lb.type != "application" or not lb.is_public:
            return
        fields = lb_fields(node)
        evidence = owner_evidence(node)
        group = node.owner.group if node.owner else None
        # what each Ingress asks for: its annotation, or wafv2AclArn of its IngressClassParams
        annotations: dict[str, str] = {}
        for m in group.members if group else []:
            acl = group.settings_of(m).wafv2_acl_arn if group else None
            if acl is not None:
                annotations[f"{m.namespace}/{m.name}"] = acl
        evidence["wafv2_acl_arn_annotations"] = annotations
        gwx = gateway_of(node)
        if gwx is not None:
            waf = gwx.configuration.spec.get("wafV2") if gwx.configuration is not None else None
            evidence["gateway_waf_v2"] = waf if isinstance(waf, dict) else None
        if node.web_acl is not None:
            yield META.finding(
                Status.PASS,
                f"{lb_subject(node)} is protected by WAF web ACL {node.web_acl.name}.",
                evidence={**evidence, "web_acl": node.web_acl.arn},
                **fields,
            )
            return
        if not graph.collected("wafv2", node):
            yield META.finding(
                Status.UNKNOWN,
                f"WAF web ACLs of {lb.account}/{lb.region} were not collected, so whether {describe_lb(node)} "
                "has one is unknown.",
                evidence=evidence,
                **fields,
            )
            return
        classic = _waf_classic(node)
        if classic:
            # WAF Classic (waf-regional) associations are not read: the controller may have attached that web ACL
            yield META.finding(
                Status.UNKNOWN,
                f"{lb_subject(node)} has no WAFv2 web ACL, but Ingress {', '.join(classic)} asks for WAF Classic "
                f"web ACL {', '.join(sorted(set(classic.values())))} ({WAF_CLASSIC_ANNOTATION} or its alias "
                "web-acl-id), whose associations the auditor does not read.",
                evidence={**evidence, "waf_classic_acl_ids": classic},
                **fields,
            )
            return
        incomplete = not_listed.get((lb.account, lb.region), [])
        if incomplete:
            yield META.finding(
                Status.UNKNOWN,
                f"The resources of WAF web ACL {', '.join(incomplete)} could not be listed, so whether "
                f"{describe_lb(node)} has a web ACL is unknown.",
                evidence={**evidence, "web_acls_not_listed": incomplete},
                **fields,
            )
            return
        yield META.finding(
            Status.FAIL,
            f"{lb_subject(node)} has no WAF web ACL.",
            remediation=_remediation(node, annotations),
            evidence=evidence,
            **fields,
        )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
