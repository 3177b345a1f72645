"""orphaned-load-balancer: load balancers left behind by a deleted owner, a deleted cluster or a regrouping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.build import gateway_stack
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import PRICED, Facet
from auditor.rules._helpers import describe_lb, lb_fields, owner_evidence
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.cost._common import cost_evidence
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="orphaned-load-balancer",
    title="Orphaned load balancer",
    severity=Severity.MEDIUM,
    category="ownership",
    rationale=(
        "A load balancer whose Service, Ingress or Gateway is gone, whose cluster was deleted, or that was left over "
        "when its Ingress moved to an IngressGroup or changed scheme still costs money every hour, and an "
        "internet-facing one keeps answering on a DNS name that may still be published — possibly routing to "
        "IPs now used by something else. No controller will ever clean it up."
    ),
    remediation=(
        "Delete the leftover load balancer (and its target groups and managed security groups) after checking "
        "that nothing still resolves its DNS name."
    ),
    references=(
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/2028",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/3841",
        "https://github.com/eksctl-io/eksctl/issues/2278",
    ),
    inputs=(
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_TAGS,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ELB_TAGS,
        Facet.EKS_CLUSTERS,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_GATEWAY_CLASSES,
        Facet.KUBE_GATEWAYS,
    ),
    # the managed security groups its delete commands name, what it costs, and the healthy targets in its evidence
    enrich=(Facet.EC2_SECURITY_GROUPS, *PRICED, Facet.ELBV2_TARGET_HEALTH, Facet.ELB_INSTANCE_HEALTH),
)

# The resource tag the controller puts on the security group it manages for a load balancer: Ingress, Service and
# Gateway stacks (the Gateway model builds it under the same id "ManagedLBSecurityGroup", tagged with its stack's
# gateway.k8s.aws.alb/nlb prefix: pkg/gateway/model in kubernetes-sigs/aws-load-balancer-controller)
_MANAGED_SG_TAGS = (
    "ingress.k8s.aws/resource",
    "service.k8s.aws/resource",
    "gateway.k8s.aws.alb/resource",
    "gateway.k8s.aws.nlb/resource",
)

_WHY = {
    "owner-gone": (
        "Its Kubernetes owner was deleted while the controller could not clean up (controller down, finalizer "
        "removed, or a controller change), LBC #3841."
    ),
    "cluster-gone": "Its cluster was deleted before its load balancers, eksctl #2278.",
    "gateway-gone": (
        "Its Gateway was deleted (or moved to a GatewayClass of another implementation) while the controller could "
        "not clean up — the controller removes a Gateway's load balancer only while its finalizer "
        "gateway.k8s.aws/alb or gateway.k8s.aws/nlb is in place."
    ),
    "superseded": (
        "Its owner now uses another load balancer: moving an Ingress into an IngressGroup or changing its scheme "
        "makes the controller create a new one and can leave the old one behind (LBC #2028)."
    ),
}


def _delete_commands(node: LbNode) -> list[str]:
    lb = node.lb
    region = lb.region
    if lb.type == "classic":
        cmds = [f"aws elb delete-load-balancer --region {region} --load-balancer-name {lb.name}"]
    else:
        cmds = [f"aws elbv2 delete-load-balancer --region {region} --load-balancer-arn {lb.arn}"]
        cmds += [
            f"aws elbv2 delete-target-group --region {region} --target-group-arn {tg.arn}" for tg in node.target_groups
        ]
    managed = [
        sg
        for sg in node.security_groups
        if any(sg.tags.get(key) == "ManagedLBSecurityGroup" for key in _MANAGED_SG_TAGS)
        or sg.name == f"k8s-elb-{lb.name}"
    ]
    cmds += [f"aws ec2 delete-security-group --region {region} --group-id {sg.id}" for sg in managed]
    return cmds


def _evidence(node: LbNode) -> dict[str, Any]:
    tgs = node.target_groups
    healthy = sum(tg.healthy_targets or 0 for tg in tgs)  # described or counted by CloudWatch
    if node.lb.type == "classic":
        healthy = node.lb.healthy_instances or 0
    return {
        "load_balancer": node.lb.name,
        "type": node.lb.type,
        "scheme": node.lb.scheme,
        "dns_name": node.lb.dns_name,
        "cluster_tag": node.cluster_tag,
        "stack": node.stack,
        "owner": node.owner.label if node.owner else None,
        "orphan": node.orphan,
        "orphan_detail": node.orphan_detail or None,
        "created_at": node.lb.created_at.isoformat() if node.lb.created_at else None,
        "listeners": len(node.lb.listeners) if node.lb.listeners is not None else None,
        "target_groups": [tg.name for tg in tgs],
        "healthy_targets": healthy,
        **cost_evidence(node),
    }


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    kube_collected = graph.kube_collected
    gateways_read = graph.gateways_read
    cluster = graph.cluster_name

    def judge(node: LbNode) -> Iterator[Finding]:
        if node.orphan is None and node.owner is not None:
            # owned: the evidence is who owns it and what it costs (the full picture is for orphans)
            cost = cost_evidence(node)
            evidence = owner_evidence(node, cluster_tag=node.cluster_tag, stack=node.stack, **cost)
            yield META.finding(
                Status.PASS,
                f"{describe_lb(node)} has a live Kubernetes owner.",
                evidence=evidence,
                **lb_fields(node),
            )
            return
        if node.orphan is None and node.lb.tags is None:
            # its DescribeTags batch failed: which cluster and stack it was made for is unknown, so it is neither
            # owned nor an orphan (the facet's gap is this rule's scope UNKNOWN; this names the load balancer)
            yield META.finding(
                Status.UNKNOWN,
                f"The tags of load balancer {node.lb.name} were not read, so which cluster made it and whether its "
                "owner still exists are unknown.",
                **lb_fields(node),
                evidence=_evidence(node),
            )
            return
        gateway_tagged = node.lb.tags is not None and gateway_stack(node.lb.tags) is not None
        if node.orphan is None and node.scope == "cluster" and gateway_tagged and not gateways_read:
            yield META.finding(
                Status.UNKNOWN,
                f"Load balancer {node.lb.name} was made for Gateway {node.stack}, but the cluster's Gateways were not "
                "read (Gateway API access failed, or a snapshot older than Gateway support), so whether its "
                "owner still exists is unknown.",
                **lb_fields(node),
                evidence=_evidence(node),
            )
            return
        if node.orphan is None and node.scope == "cluster" and node.cluster_tag is not None and cluster is None:
            yield META.finding(
                Status.UNKNOWN,
                f"Load balancer {node.lb.name} is tagged for cluster {node.cluster_tag} and no Kubernetes object "
                "of the audited cluster owns it, but the audited cluster's name is not known (no cluster_name for "
                "the target, no controller Deployment with --cluster-name), so whether it is this cluster's and "
                "its owner is gone is unknown.",
                **lb_fields(node),
                evidence=_evidence(node),
            )
            return
        if node.orphan is None and (node.cluster_tag is None or node.scope != "cluster" or kube_collected):
            return  # not made for this cluster, or judged below only when Kubernetes is unknown
        evidence = _evidence(node)
        fields = {**lb_fields(node), "evidence": evidence, "monthly_saving_usd": evidence["monthly_cost_usd"]}
        if node.orphan is not None:
            cost = fields["monthly_saving_usd"]
            price = f" and costs about ${cost:.2f}/month" if cost is not None else ""
            steps = "\n".join(_delete_commands(node))
            why = _WHY["gateway-gone" if node.orphan == "owner-gone" and gateway_tagged else node.orphan]
            remediation = (
                f"{why} First check the evidence: no DNS record (Route 53, external-dns) or client "
                f"still uses {node.lb.dns_name}, and no traffic reaches it. Then delete it and what the controller "
                f"made for it:\n{steps}\n(If deletion protection is on, turn it off first; a security group can be "
                "deleted only once the load balancer's network interfaces are gone, a few minutes later.)"
            )
            yield META.finding(
                Status.FAIL,
                f"Load balancer {node.lb.name} is orphaned ({node.orphan}): {node.orphan_detail}{price}.",
                severity=Severity.HIGH if node.lb.is_public else Severity.MEDIUM,
                remediation=remediation,
                **fields,
            )
        else:
            yield META.finding(
                Status.UNKNOWN,
                f"Load balancer {node.lb.name} is tagged for cluster {node.cluster_tag} but Kubernetes was not "
                "collected, so whether its owner still exists is unknown.",
                **fields,
            )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
