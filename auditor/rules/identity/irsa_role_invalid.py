"""irsa-role-invalid: the controller's role is missing, or its trust does not let the controller assume it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, install_command, kubernetes_unknown
from auditor.rules.coverage import guarded
from auditor.rules.identity._common import (
    STS_AUDIENCE,
    ControllerIdentity,
    TrustProblem,
    controller_discriminator,
    identity_fields,
    irsa_trust_problems,
    irsa_trust_statement,
    iter_identities_with_role,
    oidc_provider_arn,
    pod_identity_trust_problems,
    pod_identity_trust_statement,
)

META = RuleMeta(
    id="irsa-role-invalid",
    title="Controller role missing or not assumable",
    severity=Severity.HIGH,
    category="identity",
    rationale=(
        "IRSA works only when the role exists, the cluster's OIDC provider is registered in IAM, and the role "
        "trusts that provider for exactly the controller's service account (`sub`) and the STS audience "
        "(`aud`); Pod Identity needs the role to trust pods.eks.amazonaws.com for sts:AssumeRole and "
        "sts:TagSession. Otherwise the controller's AWS calls fail and no load balancer is reconciled."
    ),
    remediation="Repair the role and trust: `auditor install-alb --cluster-name <cluster> --region <region>`.",
    references=(
        "https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html",
        "https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html",
        "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html",
    ),
    inputs=(
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_SERVICE_ACCOUNTS,
        Facet.EKS_CLUSTER,
        Facet.EKS_POD_IDENTITY,
        Facet.IAM_ROLES,
        Facet.IAM_OIDC_PROVIDERS,
    ),
)


_IRSA_CHECKS = ("role-exists", "oidc-provider", "trust-principal", "trust-sub", "trust-aud")
_POD_IDENTITY_CHECKS = ("role-exists", "trust-principal", "trust-action")


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "the controller's IAM role")
        return

    def judge(identity: ControllerIdentity) -> Iterator[Finding]:
        yield _judge(graph, identity)

    identities = iter_identities_with_role(graph)
    yield from guarded(META, graph, identities, judge, describe=lambda i: identity_fields(graph, i))


def _judge(graph: ExposureGraph, identity: ControllerIdentity) -> Finding:
    sa = f"{identity.namespace}/{identity.service_account}"
    mechanism = identity.mechanism or ""
    role_arn = identity.role_arn
    evidence: dict[str, Any] = {"service_account": sa, "mechanism": mechanism, "role_arn": role_arn}
    fields: dict[str, Any] = {
        **cluster_fields(graph),
        "resource_arn": role_arn,
        "resource_name": _role_name(role_arn) if role_arn else sa,
        "kubernetes": identity.ref,
        "discriminator": controller_discriminator(identity),
        "evidence": evidence,
    }

    def unknown(why: str) -> Finding:
        message = f"The {mechanism} role of controller service account {sa}: {why}."
        return META.finding(Status.UNKNOWN, message, **fields)

    if role_arn is None:
        return unknown("the Pod Identity association was not described, so its role is not known")
    if not graph.collected("iam"):
        return unknown("IAM was not collected")
    role = graph.iam_role(role_arn)
    if role is None:
        return unknown(f"role {role_arn} was not collected")
    if role.account:
        fields["account"] = role.account
    if not role.exists:
        problem = TrustProblem("role-exists", f"role {role_arn} in IAM", "no such role")
        return _fail(graph, identity, [problem], fields, None)

    problems: list[TrustProblem] = []
    provider_arn: str | None = None
    if mechanism == "irsa":
        eks = graph.eks_cluster
        if eks is None or eks.oidc_issuer is None:
            return unknown("the EKS cluster (its OIDC issuer) was not collected")
        issuer = eks.oidc_issuer
        provider_arn = oidc_provider_arn(role.account, issuer, _partition(role_arn))
        evidence["oidc_issuer"] = issuer
        evidence["expected_provider_arn"] = provider_arn
        provider = graph.oidc_provider_for(issuer, role.account)
        if provider is None:
            problems.append(TrustProblem("oidc-provider", f"{provider_arn} registered in IAM", "not registered"))
        elif provider.url is not None and STS_AUDIENCE not in provider.client_ids:
            problems.append(
                TrustProblem("oidc-provider-audience", f"client ID {STS_AUDIENCE}", ", ".join(provider.client_ids))
            )
        if role.trust_policy is None:
            if problems:
                return _fail(graph, identity, problems, fields, provider_arn)
            return unknown(f"the trust policy of {role_arn} was not collected")
        problems += irsa_trust_problems(
            role.trust_policy, provider_arn=provider_arn, issuer=issuer, subject=identity.subject
        )
    else:
        if role.trust_policy is None:
            return unknown(f"the trust policy of {role_arn} was not collected")
        problems += pod_identity_trust_problems(role.trust_policy)

    if problems:
        return _fail(graph, identity, problems, fields, provider_arn)
    evidence["checks"] = list(_IRSA_CHECKS if mechanism == "irsa" else _POD_IDENTITY_CHECKS)
    return META.finding(
        Status.PASS, f"Controller service account {sa} can assume its {mechanism} role {role_arn}.", **fields
    )


def _fail(
    graph: ExposureGraph,
    identity: ControllerIdentity,
    problems: list[TrustProblem],
    fields: dict[str, Any],
    provider_arn: str | None,
) -> Finding:
    sa = f"{identity.namespace}/{identity.service_account}"
    role_arn = identity.role_arn or ""
    fields["evidence"]["failed_checks"] = [p.as_json() for p in problems]
    checks = ", ".join(p.check for p in problems)
    fix = [f"Run `{install_command(graph)}` (creates or repairs the OIDC provider, role and trust)."]
    failed = {p.check for p in problems}
    eks = graph.eks_cluster
    if "role-exists" in failed:
        fix.append(f"Or create role {_role_name(role_arn)} with the controller's trust and policy.")
    if "oidc-provider" in failed and eks is not None and eks.oidc_issuer:
        fix.append(
            f"Or register the provider: `aws iam create-open-id-connect-provider --url {eks.oidc_issuer} "
            f"--client-id-list {STS_AUDIENCE}`."
        )
    if failed & {"trust-principal", "trust-sub", "trust-aud", "trust-action"}:
        if identity.mechanism == "irsa" and provider_arn is not None and eks is not None and eks.oidc_issuer:
            statement = irsa_trust_statement(provider_arn, eks.oidc_issuer, identity.subject)
        else:
            statement = pod_identity_trust_statement()
        fix.append(
            f"Or put this statement in the trust policy of {_role_name(role_arn)} "
            f"(`aws iam update-assume-role-policy --role-name {_role_name(role_arn)} --policy-document ...` "
            f"replaces the whole policy): {json.dumps(statement)}"
        )
    return META.finding(
        Status.FAIL,
        f"Controller service account {sa} cannot assume its {identity.mechanism} role {role_arn} ({checks} failed).",
        remediation=" ".join(fix),
        **fields,
    )


RULE = Rule(META, evaluate)
