"""The controller's AWS identity: its service account, IRSA role or Pod Identity association, role trust and
the actions the role's policies allow. Pure functions over the graph, reusable by the installer's verify step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from auditor.correlate.graph import ExposureGraph
from auditor.findings import KubeRef
from auditor.inventory.models import ControllerDeployment, IamRole, PodIdentityAssociation, ServiceAccount
from auditor.rules.controller._common import cluster_fields

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
STS_AUDIENCE = "sts.amazonaws.com"
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
POD_IDENTITY_PRINCIPAL = "pods.eks.amazonaws.com"
POD_IDENTITY_ACTIONS = ("sts:AssumeRole", "sts:TagSession")

Mechanism = Literal["irsa", "pod-identity"]


# ---------------------------------------------------------------------------- who the controller runs as


@dataclass
class ControllerIdentity:
    """How one controller Deployment gets AWS credentials."""

    controller: ControllerDeployment
    namespace: str
    service_account: str
    sa: ServiceAccount | None  # None: the service account object was not found
    irsa_role_arn: str | None
    pod_identity: PodIdentityAssociation | None
    pod_identity_known: bool  # False: Pod Identity associations were not collected

    @property
    def mechanism(self) -> Mechanism | None:
        """IRSA wins when both are set: web identity comes before container credentials in the SDK chain."""
        if self.irsa_role_arn:
            return "irsa"
        if self.pod_identity is not None:
            return "pod-identity"
        return None

    @property
    def role_arn(self) -> str | None:
        """The role the controller assumes; None when none is configured or the association was not described."""
        if self.irsa_role_arn:
            return self.irsa_role_arn
        return self.pod_identity.role_arn if self.pod_identity is not None else None

    @property
    def ref(self) -> KubeRef:
        return KubeRef(kind="ServiceAccount", namespace=self.namespace, name=self.service_account)

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def controller_service_account(ctrl: ControllerDeployment) -> tuple[str, str]:
    """(namespace, name) of the service account a controller Deployment runs as ("default" when unset)."""
    return ctrl.namespace or "kube-system", ctrl.service_account_name or "default"


def controller_identity(graph: ExposureGraph, ctrl: ControllerDeployment) -> ControllerIdentity:
    namespace, name = controller_service_account(ctrl)
    sa = graph.service_account(namespace, name)
    role_arn = sa.annotations.get(ROLE_ARN_ANNOTATION, "").strip() if sa is not None else ""
    eks = graph.eks_cluster
    associations = eks.pod_identity_associations if eks is not None else None
    association = next(
        (a for a in associations or [] if a.namespace == namespace and a.service_account == name),
        None,
    )
    return ControllerIdentity(
        controller=ctrl,
        namespace=namespace,
        service_account=name,
        sa=sa,
        irsa_role_arn=role_arn or None,
        pod_identity=association,
        pod_identity_known=associations is not None,
    )


def controller_identities(graph: ExposureGraph) -> list[ControllerIdentity]:
    return [controller_identity(graph, c) for c in graph.controllers]


def controller_discriminator(identity: ControllerIdentity) -> str:
    ctrl = identity.controller
    return f"{ctrl.namespace}/{ctrl.name}"


def identity_fields(graph: ExposureGraph, identity: ControllerIdentity) -> dict[str, Any]:
    """The Finding fields naming a controller's identity: its role, service account and Deployment."""
    return {
        **cluster_fields(graph),
        "resource_arn": identity.role_arn,
        "resource_name": f"{identity.namespace}/{identity.service_account}",
        "kubernetes": identity.ref,
        "discriminator": controller_discriminator(identity),
    }


# ---------------------------------------------------------------------------- IAM policy language


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def statements(document: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The statements of a policy document (``Statement`` as a list or a single object)."""
    if not document:
        return []
    found = document.get("Statement", [])
    return [s for s in _as_list(found) if isinstance(s, dict)]


@cache
def _pattern(glob: str) -> re.Pattern[str]:
    """IAM wildcards: ``*`` any run, ``?`` one character; everything else literal; case-insensitive."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL)


def iam_match(pattern: str, value: str) -> bool:
    """Whether an IAM action/StringLike pattern matches a value (``elasticloadbalancing:Describe*``)."""
    return bool(_pattern(pattern).match(value))


def statement_allows_action(statement: dict[str, Any], action: str) -> bool:
    return any(isinstance(p, str) and iam_match(p, action) for p in _as_list(statement.get("Action")))


# ---------------------------------------------------------------------------- trust policies


@dataclass(frozen=True)
class TrustProblem:
    """One failed check of a role's trust policy: which check, what was expected, what is there."""

    check: str
    expected: str
    actual: str
    summary: str = ""  # one line a person reads, where the check has a better one than expected/actual

    def as_json(self) -> dict[str, str]:
        return {"check": self.check, "expected": self.expected, "actual": self.actual}

    def __str__(self) -> str:
        return self.summary or f"{self.check}: expected {self.expected}, found {self.actual}"


def oidc_host(issuer: str) -> str:
    return issuer.removeprefix("https://").rstrip("/")


def oidc_provider_arn(account: str, issuer: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:oidc-provider/{oidc_host(issuer)}"


def _condition_values(statement: dict[str, Any], key: str) -> list[tuple[str, list[str]]]:
    """(operator, values) of every condition on ``key`` (keys compare case-insensitively, as IAM does)."""
    found: list[tuple[str, list[str]]] = []
    conditions = statement.get("Condition") or {}
    if not isinstance(conditions, dict):
        return found
    for operator, block in conditions.items():
        if not isinstance(block, dict):
            continue
        for k, v in block.items():
            if k.lower() == key.lower():
                found.append((operator.split(":")[-1], [str(x) for x in _as_list(v)]))
    return found


def _condition_satisfied(operator: str, values: list[str], actual: str) -> bool | None:
    """Whether ``actual`` passes one condition; None for operators this check does not model."""
    if operator == "StringEquals":
        return actual in values
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in (v.lower() for v in values)
    if operator == "StringLike":
        return any(iam_match(v, actual) for v in values)
    return None


def _check_condition(
    statement: dict[str, Any], key: str, actual: str, check: str, *, required: bool
) -> TrustProblem | None:
    conditions = _condition_values(statement, key)
    if not conditions:
        if required:
            return TrustProblem(check, f"{key} = {actual}", f"no condition on {key}", f"no condition on {key}")
        return None
    for operator, values in conditions:
        ok = _condition_satisfied(operator, values, actual)
        if ok is False or ok is None:
            shown = f"{operator} {key} {values}" if ok is False else f"unsupported operator {operator} on {key}"
            summary = f"condition {key} is not {actual}" if ok is False else shown
            return TrustProblem(check, f"StringEquals/StringLike {key} matching {actual}", shown, summary)
    return None


def _principals(statement: dict[str, Any], kind: str) -> list[str]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        return [str(p) for p in _as_list(principal.get(kind))]
    return []


def irsa_trust_problems(trust: dict[str, Any], *, provider_arn: str, issuer: str, subject: str) -> list[TrustProblem]:
    """Why a trust policy does not let ``subject`` assume the role through the cluster's OIDC provider.

    Empty = fine. The best Allow statement for ``sts:AssumeRoleWithWebIdentity`` is judged: its Federated
    principal must be the provider, its ``<issuer>:sub`` condition must match the subject (StringEquals or
    StringLike; missing = any service account of the cluster could assume the role, reported), and an
    ``<issuer>:aud`` condition, when present, must allow ``sts.amazonaws.com`` (without one STS still checks
    the audience against the provider's client IDs).
    """
    host = oidc_host(issuer)
    candidates = [
        s for s in statements(trust) if s.get("Effect") == "Allow" and statement_allows_action(s, WEB_IDENTITY_ACTION)
    ]
    if not candidates:
        return [TrustProblem("trust-action", f"Allow {WEB_IDENTITY_ACTION}", "no statement allows it")]
    best: list[TrustProblem] | None = None
    for s in candidates:
        problems: list[TrustProblem] = []
        federated = _principals(s, "Federated")
        if provider_arn not in federated:
            actual = ", ".join(federated) or "none"
            problems.append(TrustProblem("trust-principal", f"Federated {provider_arn}", actual))
        for problem in (
            _check_condition(s, f"{host}:sub", subject, "trust-sub", required=True),
            _check_condition(s, f"{host}:aud", STS_AUDIENCE, "trust-aud", required=False),
        ):
            if problem is not None:
                problems.append(problem)
        if best is None or len(problems) < len(best):
            best = problems
    return best or []


def pod_identity_trust_problems(trust: dict[str, Any]) -> list[TrustProblem]:
    """Why a trust policy does not let EKS Pod Identity assume the role (needs AssumeRole and TagSession)."""
    allowed = [
        s
        for s in statements(trust)
        if s.get("Effect") == "Allow" and POD_IDENTITY_PRINCIPAL in _principals(s, "Service")
    ]
    if not allowed:
        return [TrustProblem("trust-principal", f"Service {POD_IDENTITY_PRINCIPAL}", "not trusted")]
    missing = [a for a in POD_IDENTITY_ACTIONS if not any(statement_allows_action(s, a) for s in allowed)]
    if missing:
        granted = sorted({str(a) for s in allowed for a in _as_list(s.get("Action"))})
        return [TrustProblem("trust-action", " + ".join(POD_IDENTITY_ACTIONS), ", ".join(granted) or "none")]
    return []


def irsa_trust_statement(provider_arn: str, issuer: str, subject: str) -> dict[str, Any]:
    """The trust statement IRSA needs (facts §6)."""
    host = oidc_host(issuer)
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": WEB_IDENTITY_ACTION,
        "Condition": {"StringEquals": {f"{host}:sub": subject, f"{host}:aud": STS_AUDIENCE}},
    }


def pod_identity_trust_statement() -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_PRINCIPAL},
        "Action": list(POD_IDENTITY_ACTIONS),
    }


# ---------------------------------------------------------------------------- permissions


@dataclass
class RolePermissions:
    """The actions a role's identity policies allow: Allow minus Deny, matched with IAM wildcards.

    Conservative simplifications: conditions and resources are not evaluated (an Allow counts, a Deny
    subtracts); ``NotAction`` statements are ignored on both sides; permission boundaries and SCPs are
    not collected and so not applied.
    """

    allow: list[tuple[str, str]] = field(default_factory=list)  # (pattern, policy name)
    deny: list[tuple[str, str]] = field(default_factory=list)
    ignored_not_action: int = 0

    def add(self, document: dict[str, Any], policy: str) -> None:
        for s in statements(document):
            if "NotAction" in s:
                self.ignored_not_action += 1
                continue
            target = self.allow if s.get("Effect") == "Allow" else self.deny if s.get("Effect") == "Deny" else None
            if target is not None:
                target.extend((p, policy) for p in _as_list(s.get("Action")) if isinstance(p, str))

    def denied_by(self, action: str) -> str | None:
        return next((policy for p, policy in self.deny if iam_match(p, action)), None)

    def allows(self, action: str) -> bool:
        return self.denied_by(action) is None and any(iam_match(p, action) for p, _ in self.allow)

    def missing(self, actions: Iterable[str]) -> list[str]:
        return sorted(a for a in actions if not self.allows(a))


def unreadable_policies(role: IamRole) -> list[str]:
    """What could not be read of a role's policies (empty: everything was collected)."""
    problems: list[str] = []
    if role.attached_policies is None:
        problems.append("attached policies")
    else:
        problems += [f"policy {p.arn}" for p in role.attached_policies if p.document is None]
    if role.inline_policies is None:
        problems.append("inline policies")
    return problems


def role_permissions(role: IamRole) -> RolePermissions | None:
    """What a role's policies allow; None when any of its policy documents was not collected."""
    if unreadable_policies(role):
        return None
    perms = RolePermissions()
    for policy in role.attached_policies or []:
        perms.add(policy.document or {}, policy.name)
    for name, document in (role.inline_policies or {}).items():
        perms.add(document, f"inline:{name}")
    return perms


def iter_identities_with_role(graph: ExposureGraph) -> Iterator[ControllerIdentity]:
    """Controller identities that name a role (IRSA annotation, or a described Pod Identity association)."""
    for identity in controller_identities(graph):
        if identity.mechanism is not None:
            yield identity
