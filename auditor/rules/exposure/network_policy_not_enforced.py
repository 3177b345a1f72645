"""network-policy-not-enforced: the cluster has NetworkPolicies and nothing enforces them.

On EKS the VPC CNI enforces NetworkPolicy only when its network policy agent is enabled
(``--enable-network-policy=true``: the ``enableNetworkPolicy`` setting of the vpc-cni add-on); without it, or
without another enforcing pod network (Calico, Cilium), every policy is decoration: reviewers read isolation that
does not exist. Judged from the pod network's DaemonSets, the vpc-cni add-on's configuration only where they
could not be read (``auditor.correlate.netpol.enforcement``).
"""

from __future__ import annotations

from collections.abc import Iterator

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules._netpol import cluster_enforcement
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, cluster_label, kubernetes_unknown
from auditor.rules.coverage import guarded

META = RuleMeta(
    id="network-policy-not-enforced",
    title="NetworkPolicies exist but nothing enforces them",
    severity=Severity.MEDIUM,
    category="exposure",
    rationale=(
        "A NetworkPolicy takes effect only where the pod network enforces it. On EKS the VPC CNI does so only with "
        "its network policy agent enabled; otherwise (and without Calico or Cilium) default-deny and allow-lists "
        "are inert while they read as isolation in every review."
    ),
    remediation=(
        "Enable the VPC CNI's network policy support: aws eks update-addon --cluster-name <cluster> "
        '--addon-name vpc-cni --configuration-values \'{"enableNetworkPolicy": "true"}\' (self-managed: '
        "--enable-network-policy=true on the aws-network-policy-agent container of the aws-node DaemonSet), "
        "or run a policy-enforcing CNI. Test the policies first: enforcing them may cut traffic they do not admit "
        "(see network-policy-blocks-load-balancer)."
    ),
    references=(
        "https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html",
        "https://github.com/aws/aws-network-policy-agent",
        "https://kubernetes.io/docs/concepts/services-networking/network-policies/#prerequisites",
    ),
    inputs=(Facet.KUBE_NETWORK_POLICIES, Facet.KUBE_NETWORK_DAEMON_SETS),
    # the vpc-cni add-on's setting: a verdict only where the DaemonSets were not read, else an explanation
    enrich=(Facet.EKS_CLUSTER, Facet.EKS_ADDONS),
)


def _judge(graph: ExposureGraph) -> Iterator[Finding]:
    kube = graph.inventory.kubernetes
    if kube is None or kube.network_policies is None:
        yield kubernetes_unknown(META, graph, "whether its NetworkPolicies are enforced")
        return
    fields = cluster_fields(graph)
    cluster = cluster_label(graph)
    count = len(kube.network_policies)
    state = cluster_enforcement(graph)
    evidence = {"network_policies": count, "enforcement": state.state, "detail": state.by}
    if not count:
        yield META.finding(Status.PASS, f"Cluster {cluster} has no NetworkPolicy.", evidence=evidence, **fields)
    elif state.state == "enforced":
        yield META.finding(
            Status.PASS,
            f"The NetworkPolicies of cluster {cluster} ({count}) are enforced by {state.by}.",
            evidence=evidence,
            **fields,
        )
    elif state.state == "unknown":
        yield META.finding(
            Status.UNKNOWN,
            f"Whether the NetworkPolicies of cluster {cluster} ({count}) are enforced is unknown: {state.by}.",
            evidence=evidence,
            **fields,
        )
    else:
        namespaces = sorted({p.namespace or "" for p in kube.network_policies})
        yield META.finding(
            Status.FAIL,
            f"Cluster {cluster} has {count} NetworkPolic{'y' if count == 1 else 'ies'} (namespaces "
            f"{', '.join(namespaces)}) and nothing "
            f"enforces them: {state.by}.",
            evidence={**evidence, "namespaces": namespaces},
            **fields,
        )


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    yield from guarded(META, graph, [graph], _judge, describe=cluster_fields)


RULE = Rule(META, evaluate)
