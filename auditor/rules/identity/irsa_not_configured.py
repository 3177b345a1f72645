"""irsa-not-configured: the controller's service account has neither an IRSA role nor a Pod Identity association."""

from __future__ import annotations

from collections.abc import Iterator

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, install_command, kubernetes_unknown
from auditor.rules.coverage import guarded
from auditor.rules.identity._common import (
    ROLE_ARN_ANNOTATION,
    ControllerIdentity,
    controller_discriminator,
    controller_identities,
    identity_fields,
)

META = RuleMeta(
    id="irsa-not-configured",
    title="Controller has no IAM role of its own (IRSA or Pod Identity)",
    severity=Severity.MEDIUM,
    category="identity",
    rationale=(
        "Without `eks.amazonaws.com/role-arn` on its service account or an EKS Pod Identity association, the "
        "AWS Load Balancer Controller falls back to the node's instance role. Then either it cannot manage load "
        "balancers, or the node role carries those permissions and every pod on the node can create, change "
        "and delete load balancers and security groups."
    ),
    remediation=(
        "Give the controller its own role: `auditor install-alb --cluster-name <cluster> --region <region>` "
        "(OIDC provider, role with trust and policy, annotated service account)."
    ),
    references=(
        "https://docs.aws.amazon.com/eks/latest/userguide/iam-roles-for-service-accounts.html",
        "https://docs.aws.amazon.com/eks/latest/userguide/pod-identities.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/installation/",
    ),
    inputs=(Facet.KUBE_DEPLOYMENTS, Facet.KUBE_SERVICE_ACCOUNTS, Facet.EKS_POD_IDENTITY),
)


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "the controller's service account")
        return

    def judge(identity: ControllerIdentity) -> Iterator[Finding]:
        sa = f"{identity.namespace}/{identity.service_account}"
        deployment = controller_discriminator(identity)
        evidence = {
            "controller": deployment,
            "service_account": sa,
            "service_account_found": identity.sa is not None,
            "role_arn_annotation": identity.irsa_role_arn,
            "pod_identity_association": identity.pod_identity.association_id if identity.pod_identity else None,
            "pod_identity_collected": identity.pod_identity_known,
        }
        fields = {
            **cluster_fields(graph),
            "resource_arn": identity.role_arn,
            "resource_name": sa,
            "kubernetes": identity.ref,
            "discriminator": deployment,
            "evidence": evidence,
        }
        if identity.irsa_role_arn:
            message = f"Controller service account {sa} uses IRSA role {identity.irsa_role_arn}."
            yield META.finding(Status.PASS, message, **fields)
        elif identity.pod_identity is not None:
            association = identity.pod_identity.association_id
            message = f"Controller service account {sa} has Pod Identity association {association}."
            yield META.finding(Status.PASS, message, **fields)
        elif not identity.pod_identity_known:
            yield META.finding(
                Status.UNKNOWN,
                f"Controller service account {sa} has no {ROLE_ARN_ANNOTATION} annotation and the cluster's Pod "
                "Identity associations were not collected.",
                **fields,
            )
        else:
            missing = "" if identity.sa is not None else " (the service account itself was not found)"
            yield META.finding(
                Status.FAIL,
                f"Controller service account {sa} has neither an IRSA role nor a Pod Identity association, so the "
                f"controller runs with the node's instance role{missing}.",
                remediation=(
                    f"Run `{install_command(graph)}` (creates the OIDC provider, the role and its policy, and "
                    f"annotates the service account). By hand: `kubectl -n {identity.namespace} annotate "
                    f"serviceaccount {identity.service_account} {ROLE_ARN_ANNOTATION}=arn:aws:iam::<account>:role/"
                    f"<controller-role> --overwrite` then `kubectl -n {identity.controller.namespace} rollout restart "
                    f"deployment {identity.controller.name}` (credentials are injected only into new pods)."
                ),
                **fields,
            )

    yield from guarded(META, graph, controller_identities(graph), judge, describe=lambda i: identity_fields(graph, i))


RULE = Rule(META, evaluate)
