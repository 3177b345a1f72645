"""Carry out a plan step by step, logging every change, stopping at the first failure with a report.

Every step is idempotent: a re-run discovers again, the finished steps plan as ``unchanged`` and
the run resumes where it failed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from botocore.exceptions import BotoCoreError, ClientError

from auditor.collect.aws.session import AwsAccountSession, error_code
from auditor.errors import AuditorError, InstallError, InstallRefused
from auditor.install.chart import ChartBackend
from auditor.install.kube import MANAGED_BY_LABEL, MANAGED_BY_VALUE, KubeApiError, KubeClient, object_ref
from auditor.install.model import (
    WEB_IDENTITY_AUDIENCE,
    Action,
    ApplyReport,
    InstallOptions,
    JsonObj,
    Plan,
    Step,
    StepResult,
)
from auditor.install.plan import owner_tags
from auditor.progress import ProgressEvent, ProgressFn, no_progress

log = logging.getLogger(__name__)


@dataclass
class ApplyContext:
    """The clients and settings the steps act through."""

    aws: AwsAccountSession
    kube: KubeClient
    chart: ChartBackend
    options: InstallOptions
    progress: ProgressFn = no_progress
    poll_interval: float = 1.0
    clock: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], None] = field(default=time.sleep)


Executor = Callable[[ApplyContext, Step], list[str]]


def _changed(step: Step, line: str) -> str:
    log.info("install-alb %s: %s", step.name, line)
    return line


# ---------------------------------------------------------------------- IAM / EKS


def _oidc_provider(ctx: ApplyContext, step: Step) -> list[str]:
    iam = ctx.aws.client("iam", ctx.options.region)
    if "add_client_id" in step.payload:
        iam.add_client_id_to_open_id_connect_provider(
            OpenIDConnectProviderArn=step.payload["arn"], ClientID=step.payload["add_client_id"]
        )
        return [_changed(step, f"updated {step.payload['arn']}: client id {step.payload['add_client_id']}")]
    created = iam.create_open_id_connect_provider(
        Url=step.payload["url"], ClientIDList=[WEB_IDENTITY_AUDIENCE], Tags=owner_tags(ctx.options.cluster_name)
    )
    return [_changed(step, f"created {created['OpenIDConnectProviderArn']}")]


def _policy(ctx: ApplyContext, step: Step) -> list[str]:
    iam = ctx.aws.client("iam", ctx.options.region)
    document = json.dumps(step.payload["document"])
    if step.action is Action.CREATE:
        created = iam.create_policy(
            PolicyName=ctx.options.policy_name,
            PolicyDocument=document,
            Description="AWS Load Balancer Controller (eks-exposure-auditor install-alb)",
            Tags=owner_tags(ctx.options.cluster_name),
        )["Policy"]
        return [_changed(step, f"created {created['Arn']} ({created['DefaultVersionId']})")]
    changes = []
    prune = step.payload.get("prune_version")
    if prune:
        iam.delete_policy_version(PolicyArn=step.target, VersionId=prune)
        changes.append(_changed(step, f"deleted version {prune} of {step.target}"))
    version = iam.create_policy_version(PolicyArn=step.target, PolicyDocument=document, SetAsDefault=True)
    changes.append(
        _changed(step, f"updated {step.target}: new default version {version['PolicyVersion']['VersionId']}")
    )
    return changes


def _role(ctx: ApplyContext, step: Step) -> list[str]:
    iam = ctx.aws.client("iam", ctx.options.region)
    trust = json.dumps(step.payload["trust"])
    if step.action is Action.CREATE:
        created = iam.create_role(
            RoleName=step.payload["name"],
            AssumeRolePolicyDocument=trust,
            Description=f"AWS Load Balancer Controller of EKS cluster {ctx.options.cluster_name}",
            Tags=step.payload["tags"],
        )["Role"]
        return [_changed(step, f"created {created['Arn']}")]
    iam.update_assume_role_policy(RoleName=step.payload["name"], PolicyDocument=trust)
    return [_changed(step, f"updated {step.target}: trust policy")]


def _attachment(ctx: ApplyContext, step: Step) -> list[str]:
    iam = ctx.aws.client("iam", ctx.options.region)
    iam.attach_role_policy(RoleName=step.payload["role_name"], PolicyArn=step.payload["policy_arn"])
    return [_changed(step, f"attached {step.payload['policy_arn']} to role {step.payload['role_name']}")]


def _pod_identity(ctx: ApplyContext, step: Step) -> list[str]:
    eks = ctx.aws.client("eks", ctx.options.region)
    options = ctx.options
    if step.action is Action.CREATE:
        made = eks.create_pod_identity_association(
            clusterName=options.cluster_name,
            namespace=options.namespace,
            serviceAccount=options.service_account,
            roleArn=step.payload["role_arn"],
            tags={"eks-exposure-auditor/managed-by": "install-alb"},
        )["association"]
        return [_changed(step, f"created {made.get('associationArn', made['associationId'])}")]
    eks.update_pod_identity_association(
        clusterName=options.cluster_name, associationId=step.payload["association_id"], roleArn=step.payload["role_arn"]
    )
    return [_changed(step, f"updated Pod Identity association {step.payload['association_id']}")]


# ---------------------------------------------------------------------- Kubernetes


def _service_account(ctx: ApplyContext, step: Step) -> list[str]:
    """Apply the controller's ServiceAccount; of one we did not create, only the annotation becomes ours."""
    options = ctx.options
    meta: JsonObj = {"name": options.service_account, "namespace": options.namespace}
    if step.payload.get("ours", step.action is Action.CREATE):
        meta["labels"] = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, "app.kubernetes.io/name": "aws-load-balancer-controller"}
    if step.payload["annotations"]:
        meta["annotations"] = step.payload["annotations"]
    ctx.kube.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
    return [_changed(step, f"{'created' if step.action is Action.CREATE else 'annotated'} {step.target}")]


def _apply_objects(ctx: ApplyContext, step: Step) -> list[str]:
    """Server-side apply each object (field manager ``auditor``), then delete the ones to prune."""
    changes = []
    objects: list[JsonObj] = step.payload["objects"]
    for index, obj in enumerate(objects, start=1):
        meta = obj.get("metadata") or {}
        ctx.progress(ProgressEvent(f"install:{step.name}", f"applying {object_ref(obj)}", index, len(objects)))
        existing = ctx.kube.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        ctx.kube.apply(obj)
        changes.append(_changed(step, f"{'created' if existing is None else 'updated'} {object_ref(obj)}"))
    for obj in step.payload.get("prune", []):
        ctx.progress(ProgressEvent(f"install:{step.name}", f"deleting {object_ref(obj)}"))
        ctx.kube.delete(obj)
        changes.append(_changed(step, f"deleted {object_ref(obj)} (no longer in the chart)"))
    return changes


def _chart(ctx: ApplyContext, step: Step) -> list[str]:
    if ctx.chart.name == "helm":
        options = ctx.options
        done = ctx.chart.upgrade_install(
            step.payload["values"], release=options.release_name, namespace=options.namespace
        )
        return [_changed(step, f"{'installed' if step.action is Action.CREATE else 'upgraded'} {done}")]
    return _apply_objects(ctx, step)


def _rollout(ctx: ApplyContext, step: Step) -> list[str]:
    """Wait until the Deployment has rolled out: every replica updated and ready, generation observed."""
    namespace, name = step.payload["namespace"], step.payload["name"]
    deadline = ctx.clock() + ctx.options.timeout
    stage = "install:rollout"
    while True:
        deployment = ctx.kube.get("apps/v1", "Deployment", name, namespace)
        if deployment is None:
            message = f"Deployment {namespace}/{name} does not exist"
        else:
            wanted = int((deployment.get("spec") or {}).get("replicas", 1))
            status = deployment.get("status") or {}
            generation = int((deployment.get("metadata") or {}).get("generation") or 0)
            ready = int(status.get("readyReplicas") or 0)
            updated = int(status.get("updatedReplicas") or 0)
            observed = int(status.get("observedGeneration") or 0)
            if observed >= generation and ready >= wanted and updated >= wanted:
                ctx.progress(ProgressEvent(stage, f"{namespace}/{name} ready", ready, wanted, status="ok"))
                return []
            message = f"{namespace}/{name}: {ready}/{wanted} ready, {updated}/{wanted} updated"
        ctx.progress(ProgressEvent(stage, message))
        if ctx.clock() >= deadline:
            raise InstallError(f"timed out after {ctx.options.timeout:.0f}s waiting for the controller: {message}")
        ctx.sleep(ctx.poll_interval)


EXECUTORS: dict[str, Executor] = {
    "oidc-provider": _oidc_provider,
    "iam-policy": _policy,
    "iam-role": _role,
    "policy-attachment": _attachment,
    "pod-identity": _pod_identity,
    "service-account": _service_account,
    "crds": _apply_objects,
    "chart": _chart,
    "rollout": _rollout,
}


def _describe_failure(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message") or exc).splitlines()[0][:300]
        return f"{exc.operation_name}: {error_code(exc)}: {message}"
    if isinstance(exc, BotoCoreError | KubeApiError | AuditorError):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def apply(plan: Plan, ctx: ApplyContext) -> ApplyReport:
    """Run the plan's steps in order; stop at the first failure. Refuses a plan with refusals."""
    if plan.refusals:
        raise InstallRefused("; ".join(plan.refusals))
    results = [StepResult(step.name, "not started") for step in plan.steps]
    for step, result in zip(plan.steps, results, strict=True):
        if step.action is Action.UNCHANGED:
            result.status = "done"
            continue
        ctx.progress(ProgressEvent(f"install:{step.name}", f"{step.action.value} {step.target}"))
        try:
            result.changes = EXECUTORS[step.name](ctx, step)
        except Exception as exc:  # every failure is reported with the steps that did and did not run
            result.status = "failed"
            result.error = _describe_failure(exc)
            log.error("install-alb step %s failed: %s", step.name, result.error)
            ctx.progress(ProgressEvent(f"install:{step.name}", result.error, status="error"))
            if not isinstance(exc, ClientError | BotoCoreError | KubeApiError | AuditorError):
                log.debug("unexpected failure", exc_info=exc)
            break
        result.status = "done"
        ctx.progress(ProgressEvent(f"install:{step.name}", "done", status="ok"))
    return ApplyReport(results)
