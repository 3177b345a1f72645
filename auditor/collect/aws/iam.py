"""IAM (global): OIDC providers and the roles the load balancer controller runs as, with their policies.

Only the roles that matter are read: the ``eks.amazonaws.com/role-arn`` annotation of the
controller's service accounts (IRSA) and the roles of Pod Identity associations for those service
accounts. Only the provider matching the cluster's issuer is described (for its client ids); the
URL of the others is part of their ARN.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import Any
from urllib.parse import unquote

from auditor.collect.aws.base import CollectorContext, actions_of, call, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import IamRole, KubeInventory, ManagedPolicy, OidcProvider, PodIdentityAssociation

NAME = "iam"
SERVICE = "iam"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.IAM_OIDC_PROVIDERS: ("iam:ListOpenIDConnectProviders", "iam:GetOpenIDConnectProvider"),
    Facet.IAM_ROLES: ("iam:GetRole",),
    Facet.IAM_POLICIES: (
        "iam:ListAttachedRolePolicies",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
    ),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
DEFAULT_CONTROLLER_SA = ("kube-system", "aws-load-balancer-controller")


def controller_service_accounts(kube: KubeInventory | None) -> list[tuple[str, str]]:
    """(namespace, name) of the service accounts the controller deployments run as (or the chart default)."""
    found: list[tuple[str, str]] = []
    for deployment in kube.controllers if kube else []:
        key = (deployment.namespace or "default", deployment.service_account_name or "default")
        if key not in found:
            found.append(key)
    return found or [DEFAULT_CONTROLLER_SA]


def controller_role_arns(kube: KubeInventory | None, associations: Iterable[PodIdentityAssociation]) -> list[str]:
    """Role ARNs named by the controller's service accounts (IRSA) and their Pod Identity associations."""
    wanted = set(controller_service_accounts(kube))
    arns: list[str] = []
    for sa in kube.service_accounts if kube else []:
        arn = sa.annotations.get(ROLE_ANNOTATION, "").strip()
        if (sa.namespace or "default", sa.name) in wanted and arn and arn not in arns:
            arns.append(arn)
    for association in associations:
        role = association.role_arn
        if (association.namespace, association.service_account) in wanted and role and role not in arns:
            arns.append(role)
    return arns


def collect(
    ctx: CollectorContext, issuers: Collection[str], role_arns: Iterable[str]
) -> tuple[list[OidcProvider], list[IamRole]]:
    client = ctx.client(SERVICE)
    # a facet no selected rule needs is not read (its coverage says SKIPPED; policies stay None)
    providers = _providers(ctx, client, {_bare(i) for i in issuers}) if ctx.wants(Facet.IAM_OIDC_PROVIDERS) else []
    mine = [arn for arn in role_arns if _arn_account(arn) == ctx.account]
    policies: dict[str, ManagedPolicy] = {}  # roles often share managed policies: read each once
    roles = [_role(ctx, client, arn, policies) for arn in mine]
    ctx.count("OIDC providers", len(providers))
    ctx.count("roles", len(roles))
    return providers, roles


def _bare(url: str) -> str:
    return url.removeprefix("https://").removeprefix("http://").rstrip("/")


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _providers(ctx: CollectorContext, client: Any, issuers: set[str]) -> list[OidcProvider]:
    listed = call(client, "ListOpenIDConnectProviders").get("OpenIDConnectProviderList", [])
    providers = []
    for item in listed:
        arn = item["Arn"]
        provider = OidcProvider(arn=arn, account=ctx.account, url=arn.partition(":oidc-provider/")[2] or None)
        if provider.url in issuers:
            try:
                detail = call(client, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)
            except CollectionError as exc:
                ctx.problem(f"GetOpenIDConnectProvider {arn}", exc, facet=Facet.IAM_OIDC_PROVIDERS)
                provider.url = None  # the model's "could not be read"
            else:
                provider.url = _bare(detail.get("Url") or provider.url or "")
                provider.client_ids = list(detail.get("ClientIDList", []))
        providers.append(provider)
    return providers


def _document(raw: Any) -> dict[str, Any] | None:
    """Policy documents come URL-encoded JSON from IAM (botocore usually decodes them already)."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw:
        decoded = json.loads(unquote(raw))
        return decoded if isinstance(decoded, dict) else None
    return None


def _role(ctx: CollectorContext, client: Any, arn: str, policies: dict[str, ManagedPolicy]) -> IamRole:
    name = arn.rsplit("/", 1)[-1]
    role = IamRole(arn=arn, name=name, account=ctx.account)
    try:
        detail = call(client, "GetRole", RoleName=name)["Role"]
    except CollectionError as exc:
        if exc.code == "NoSuchEntity":
            role.exists = False
            return role
        ctx.problem(f"GetRole {name}", exc, facet=Facet.IAM_ROLES)
        return role
    role.trust_policy = _document(detail.get("AssumeRolePolicyDocument"))
    if ctx.wants(Facet.IAM_POLICIES):
        role.attached_policies = _attached(ctx, client, name, policies)
        role.inline_policies = _inline(ctx, client, name)
    return role


def _attached(
    ctx: CollectorContext, client: Any, role: str, cache: dict[str, ManagedPolicy]
) -> list[ManagedPolicy] | None:
    try:
        attached = [
            p for page in pages(client, "ListAttachedRolePolicies", RoleName=role) for p in page["AttachedPolicies"]
        ]
    except CollectionError as exc:
        ctx.problem(f"ListAttachedRolePolicies {role}", exc, facet=Facet.IAM_POLICIES)
        return None
    result = []
    for item in attached:
        arn = item["PolicyArn"]
        if arn not in cache:
            cache[arn] = _managed_policy(ctx, client, arn, item.get("PolicyName", arn.rsplit("/", 1)[-1]))
        result.append(cache[arn])
    return result


def _managed_policy(ctx: CollectorContext, client: Any, arn: str, name: str) -> ManagedPolicy:
    policy = ManagedPolicy(arn=arn, name=name)
    try:
        policy.default_version_id = call(client, "GetPolicy", PolicyArn=arn)["Policy"].get("DefaultVersionId")
        if policy.default_version_id:
            version = call(client, "GetPolicyVersion", PolicyArn=arn, VersionId=policy.default_version_id)
            policy.document = _document(version["PolicyVersion"].get("Document"))
    except CollectionError as exc:
        ctx.problem(f"{exc.operation} {arn}", exc, facet=Facet.IAM_POLICIES)
    return policy


def _inline(ctx: CollectorContext, client: Any, role: str) -> dict[str, dict[str, Any]] | None:
    try:
        names = [n for page in pages(client, "ListRolePolicies", RoleName=role) for n in page["PolicyNames"]]
        found: dict[str, dict[str, Any]] = {}
        for name in names:
            document = _document(call(client, "GetRolePolicy", RoleName=role, PolicyName=name).get("PolicyDocument"))
            found[name] = document or {}
    except CollectionError as exc:
        ctx.problem(f"{exc.operation} of role {role}", exc, facet=Facet.IAM_POLICIES)
        return None
    return found
