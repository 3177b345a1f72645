"""irsa-policy-missing-actions: the controller's role lacks IAM actions its running version needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from auditor.config import RuleSettings
from auditor.controller.versions import (
    OPTIONAL_ACTIONS,
    UnsupportedVersion,
    beyond_known,
    normalize_version,
    policy_release_for,
    policy_version_for,
    required_actions,
)
from auditor.correlate.graph import ExposureGraph
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import ControllerDeployment
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.controller._common import cluster_fields, install_command, kubernetes_unknown
from auditor.rules.coverage import guarded
from auditor.rules.identity._common import (
    ControllerIdentity,
    controller_discriminator,
    identity_fields,
    iter_identities_with_role,
    role_permissions,
    unreadable_policies,
)

META = RuleMeta(
    id="irsa-policy-missing-actions",
    title="Controller IAM policy older than the controller",
    severity=Severity.HIGH,
    category="identity",
    rationale=(
        "Each controller release may call new AWS APIs (listener attributes in v2.9, capacity reservations in "
        "v2.11, IPAM pools and rule priorities in v2.12, route tables in v2.13). Upgrading the controller "
        "without its IAM policy makes reconciliation fail with AccessDenied — the most common complaint after "
        "upgrades (LBC #3399, eksctl #7987)."
    ),
    remediation=(
        "Update the policy: `auditor install-alb --cluster-name <cluster> --region <region> --controller-version "
        "<version>`, or apply iam/controller/<version>.json."
    ),
    references=(
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/main/docs/install/iam_policy.json",
        "https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/3399",
    ),
    inputs=(
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_SERVICE_ACCOUNTS,
        Facet.EKS_POD_IDENTITY,
        Facet.IAM_ROLES,
        Facet.IAM_POLICIES,
    ),
)


def running_version(ctrl: ControllerDeployment) -> str | None:
    """The controller's version: the collected tag, else the image tag (None for digests or odd tags)."""
    tag = ctrl.version
    if tag is None:
        name = ctrl.image.split("@", 1)[0]
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
    return normalize_version(tag) if tag else None


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    if not graph.kube_collected:
        yield kubernetes_unknown(META, graph, "the controller's IAM policy")
        return

    def judge(identity: ControllerIdentity) -> Iterator[Finding]:
        yield _judge(graph, identity)

    identities = iter_identities_with_role(graph)
    yield from guarded(META, graph, identities, judge, describe=lambda i: identity_fields(graph, i))


def _judge(graph: ExposureGraph, identity: ControllerIdentity) -> Finding:
    ctrl = identity.controller
    deployment = controller_discriminator(identity)
    role_arn = identity.role_arn
    evidence: dict[str, Any] = {"controller": deployment, "image": ctrl.image, "role_arn": role_arn}
    fields: dict[str, Any] = {
        **cluster_fields(graph),
        "resource_arn": role_arn,
        "resource_name": role_arn.rsplit("/", 1)[-1] if role_arn else deployment,
        "kubernetes": identity.ref,
        "discriminator": deployment,
        "evidence": evidence,
    }
    subject = f"The role of controller {deployment}"

    def unknown(why: str) -> Finding:
        return META.finding(Status.UNKNOWN, f"{subject}: {why}.", **fields)

    version = running_version(ctrl)
    evidence["version"] = version
    if version is None:
        return unknown(f"the controller version cannot be read from image {ctrl.image!r}")
    try:
        policy_version_for(version)
        release = policy_release_for(version)
        needed = required_actions(version) - OPTIONAL_ACTIONS
    except UnsupportedVersion as exc:
        return unknown(str(exc))
    evidence["policy_release"] = release
    if role_arn is None:
        return unknown("the Pod Identity association was not described, so its role is not known")
    if not graph.collected("iam"):
        return unknown("IAM was not collected")
    role = graph.iam_role(role_arn)
    if role is None:
        return unknown(f"role {role_arn} was not collected")
    fields["account"] = role.account or fields["account"]
    fix = _remediation(graph, version, release, role.attached_policies or [])
    if not role.exists:
        evidence["missing_actions"] = sorted(needed)
        return META.finding(
            Status.FAIL,
            f"{subject} ({role_arn}) does not exist, so none of the {len(needed)} actions controller {version} "
            "needs are granted.",
            remediation=fix,
            **fields,
        )
    perms = role_permissions(role)
    if perms is None:
        return unknown(f"{', '.join(unreadable_policies(role))} of {role_arn} could not be read")
    missing = perms.missing(needed)
    evidence["required_actions"] = len(needed)
    if perms.ignored_not_action:
        evidence["ignored_not_action_statements"] = perms.ignored_not_action
    if not missing and beyond_known(version):
        evidence["newer_than_known"] = True
        return unknown(
            f"controller {version} is newer than the policies this auditor knows; {role_arn} allows every action of "
            f"the {release} policy, but whether {version} needs more is not known"
        )
    if not missing:
        return META.finding(
            Status.PASS, f"{subject} ({role_arn}) allows every action controller {version} needs.", **fields
        )
    evidence["missing_actions"] = missing
    denied = {a: p for a in missing if (p := perms.denied_by(a)) is not None}
    if denied:
        evidence["denied_by"] = denied
    return META.finding(
        Status.FAIL,
        f"{subject} ({role_arn}) lacks {len(missing)} action(s) controller {version} needs, e.g. {missing[0]}.",
        remediation=fix,
        **fields,
    )


def _remediation(graph: ExposureGraph, version: str, release: str, attached: list[Any]) -> str:
    text = (
        f"Run `{install_command(graph, version)}` (updates the controller policy), or replace the policy "
        f"document with iam/controller/{release}.json"
    )
    customer = [p for p in attached if ":aws:policy/" not in p.arn]
    if len(customer) == 1:
        text += (
            f": `aws iam create-policy-version --policy-arn {customer[0].arn} "
            f"--policy-document file://iam/controller/{release}.json --set-as-default`"
        )
    return text + "."


RULE = Rule(META, evaluate)
