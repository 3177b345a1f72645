"""The installer's data: options, the discovered state of a cluster, and the plan made from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.controller.versions import DEFAULT_VERSION

JsonObj = dict[str, Any]

CHART_REPOSITORY = "https://aws.github.io/eks-charts"
CHART_NAME = "aws-load-balancer-controller"
DEFAULT_POLICY_NAME = "AWSLoadBalancerControllerIAMPolicy"
WEB_IDENTITY_AUDIENCE = "sts.amazonaws.com"
# Tags on the IAM resources the installer creates: it deletes or rewrites only what carries them.
OWNER_TAG = "eks-exposure-auditor/managed-by"
OWNER_TAG_VALUE = "install-alb"
CLUSTER_TAG = "eks-exposure-auditor/cluster"


@dataclass(frozen=True)
class InstallOptions:
    """What the user asked for (``auditor install-alb`` flags)."""

    cluster_name: str
    region: str
    controller_version: str = DEFAULT_VERSION
    chart_version: str | None = None  # None = pinned per controller version
    chart_dir: Path | None = None  # a local chart: rendered with the Helm library, applied via the API
    pod_identity: bool = False
    role_name: str | None = None
    policy_name: str = DEFAULT_POLICY_NAME
    vpc_id: str | None = None
    namespace: str = "kube-system"
    service_account: str = "aws-load-balancer-controller"
    release_name: str = "aws-load-balancer-controller"
    force: bool = False
    allow_downgrade: bool = False
    timeout: float = 300.0
    kubeconfig: Path | None = None
    context: str | None = None

    @property
    def effective_role_name(self) -> str:
        """One role per cluster by default: its trust names this cluster's OIDC provider."""
        return self.role_name or f"{self.cluster_name}-aws-load-balancer-controller"[:64]

    @property
    def service_account_subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


@dataclass(frozen=True)
class ClusterInfo:
    """The EKS cluster as DescribeCluster reports it."""

    name: str
    arn: str
    kubernetes_version: str | None
    oidc_issuer: str | None
    vpc_id: str | None
    subnet_ids: tuple[str, ...] = ()
    auto_mode: bool = False

    @property
    def issuer_host(self) -> str | None:
        return self.oidc_issuer.removeprefix("https://") if self.oidc_issuer else None


@dataclass(frozen=True)
class PolicyInfo:
    arn: str
    default_version_id: str
    document: JsonObj
    versions: tuple[tuple[str, bool], ...]  # (version id, is default), oldest first
    owned: bool


@dataclass(frozen=True)
class RoleInfo:
    arn: str
    trust: JsonObj
    owned: bool
    attached_policy_arns: tuple[str, ...]


@dataclass(frozen=True)
class PodIdentityAssociation:
    association_id: str
    role_arn: str


@dataclass(frozen=True)
class IamState:
    account_id: str
    partition: str
    oidc_provider_arn: str | None  # the provider for this cluster's issuer, when registered
    oidc_client_ids: tuple[str, ...]
    policy_arn: str  # where the policy is (or will be)
    policy: PolicyInfo | None
    role_arn: str
    role: RoleInfo | None
    pod_identity: tuple[PodIdentityAssociation, ...] = ()


@dataclass(frozen=True)
class ControllerDeployment:
    """A Deployment running the controller, and who installed it."""

    namespace: str
    name: str
    image: str
    version: str | None  # normalized image tag; None when the tag is not a version
    installed_by: str  # "install-alb" | "helm:<ns>/<release>" | "other"
    ready: bool


@dataclass(frozen=True)
class ObjectState:
    """One object we want (rendered chart object or CRD) and what the cluster has under its name."""

    desired: JsonObj
    existing: JsonObj | None


@dataclass(frozen=True)
class HelmReleaseInfo:
    """An installed Helm release as ``helm list`` / ``helm get values`` report it."""

    chart_version: str
    app_version: str
    status: str
    values: JsonObj


@dataclass(frozen=True)
class KubeState:
    service_account: JsonObj | None
    controllers: tuple[ControllerDeployment, ...]
    crds: tuple[ObjectState, ...]
    chart_objects: tuple[ObjectState, ...]  # local chart backend: every rendered object
    helm_release: HelmReleaseInfo | None  # helm binary backend: the release, when installed
    chart_version: str
    chart_values: JsonObj
    chart_backend: str  # "helm" | "local"
    # local chart backend: objects install-alb applied for this release that the chart no longer renders
    prunable: tuple[JsonObj, ...] = ()


@dataclass(frozen=True)
class State:
    """Everything ``plan`` needs, discovered read-only."""

    cluster: ClusterInfo
    iam: IamState
    kube: KubeState


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    WAIT = "wait"  # not a change: the rollout check

    @property
    def changes(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE)


@dataclass
class Step:
    """One idempotent step of the plan. ``payload`` carries what ``apply`` needs to carry it out."""

    name: str
    action: Action
    target: str
    summary: str
    diff: str = ""
    details: list[str] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    steps: list[Step]
    refusals: list[str] = field(default_factory=list)  # safety checks that stop apply unless --force
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(1 for s in self.steps if s.action.changes)

    def counts(self) -> dict[str, int]:
        found = {a.value: 0 for a in (Action.CREATE, Action.UPDATE, Action.UNCHANGED)}
        for step in self.steps:
            if step.action in (Action.CREATE, Action.UPDATE, Action.UNCHANGED):
                found[step.action.value] += 1
        return found


@dataclass
class StepResult:
    name: str
    status: str  # done | failed | not started
    changes: list[str] = field(default_factory=list)  # one line per change: ARN or Kubernetes object
    error: str = ""


@dataclass
class ApplyReport:
    results: list[StepResult]

    @property
    def ok(self) -> bool:
        return all(r.status == "done" for r in self.results)

    @property
    def finished(self) -> list[str]:
        return [r.name for r in self.results if r.status == "done"]

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.status == "failed"]

    @property
    def not_started(self) -> list[str]:
        return [r.name for r in self.results if r.status == "not started"]

    @property
    def changes(self) -> list[str]:
        return [c for r in self.results for c in r.changes]
