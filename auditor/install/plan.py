"""Turn the discovered state into an ordered plan: each step create / update / unchanged, with diffs.

Pure: no AWS or Kubernetes calls, so every decision (and every safety refusal) is testable from a
hand-built ``State``.
"""

from __future__ import annotations

import json
from typing import Any

from auditor.controller.versions import (
    POLICY_RELEASES,
    actions_in,
    parse_version,
    policy_document,
    policy_release_for,
)
from auditor.install.documents import document_diff, merged_trust, same_document, trust_document
from auditor.install.kube import FIELD_MANAGER, helm_release_of, object_ref, owned_by_us
from auditor.install.model import (
    CLUSTER_TAG,
    OWNER_TAG,
    OWNER_TAG_VALUE,
    WEB_IDENTITY_AUDIENCE,
    Action,
    InstallOptions,
    JsonObj,
    ObjectState,
    Plan,
    State,
    Step,
)
from auditor.rules.identity._common import (
    irsa_trust_problems,
    irsa_trust_statement,
    pod_identity_trust_problems,
    pod_identity_trust_statement,
)

ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
MAX_POLICY_VERSIONS = 5


def contains(existing: Any, desired: Any) -> bool:
    """True when ``existing`` already has every field of ``desired`` (servers add defaults; that is fine)."""
    if isinstance(desired, dict):
        return isinstance(existing, dict) and all(
            k in existing and contains(existing[k], v) for k, v in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(existing, list)
            and len(existing) == len(desired)
            and all(contains(e, d) for e, d in zip(existing, desired, strict=True))
        )
    return bool(existing == desired)


def _applied_fields(existing: JsonObj) -> list[tuple[str, ...]]:
    """The fields the installer's last apply set: paths of FieldsV1 keys (``f:name``, list items ``k:{...}``,
    ``v:...``, ``i:N``) from its managedFields entry, down to the leaves; status left out."""
    found: list[tuple[str, ...]] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        children = [k for k in node if k != "."] if isinstance(node, dict) else []
        if not children:
            found.append(path)
        for key in children:
            walk(node[key], (*path, key))

    for entry in (existing.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            fields = {k: v for k, v in (entry.get("fieldsV1") or {}).items() if k != "f:status"}
            walk(fields, ())
    return [p for p in found if p]


def _item_matches(item: Any, key: str) -> bool:
    """Does a list item match a FieldsV1 list key: ``k:{"name":"x"}`` (key fields) or ``v:<json>`` (the value)."""
    try:
        wanted = json.loads(key[2:])
    except ValueError:
        return False
    if key.startswith("v:"):
        return bool(item == wanted)
    return isinstance(item, dict) and isinstance(wanted, dict) and all(item.get(k) == v for k, v in wanted.items())


def _present(desired: Any, path: tuple[str, ...]) -> bool:
    """Whether ``desired`` still sets the field at a FieldsV1 path (a list the server tracks as a whole counts
    as present when the list is)."""
    node = desired
    for key in path:
        if key.startswith("f:") and isinstance(node, dict):
            if key[2:] not in node:
                return False
            node = node[key[2:]]
        elif key.startswith(("k:", "v:")) and isinstance(node, list):
            node = next((item for item in node if _item_matches(item, key)), _MISSING)
            if node is _MISSING:
                return False
        elif key.startswith("i:") and isinstance(node, list):
            index = int(key[2:]) if key[2:].isdigit() else len(node)
            if index >= len(node):
                return False
            node = node[index]
        else:
            return False
    return True


_MISSING = object()


def fields_given_up(existing: JsonObj, desired: JsonObj) -> list[str]:
    """Fields the installer applied before and ``desired`` no longer sets: the next apply removes them."""
    return sorted(
        "".join(f".{key[2:]}" if key.startswith("f:") else f"[{key[2:]}]" for key in path)
        for path in _applied_fields(existing)
        if not _present(desired, path)
    )


def owner_tags(cluster_name: str) -> list[dict[str, str]]:
    return [{"Key": OWNER_TAG, "Value": OWNER_TAG_VALUE}, {"Key": CLUSTER_TAG, "Value": cluster_name}]


def plan(state: State, options: InstallOptions) -> Plan:
    """The steps that bring the cluster to the requested controller install, and what refuses them."""
    result = Plan(steps=[])
    _safety(state, options, result)
    if not options.pod_identity:
        result.steps.append(_oidc_step(state))
    result.steps.append(_policy_step(state, options, result))
    result.steps.append(_role_step(state, options))
    result.steps.append(_attachment_step(state))
    if options.pod_identity:
        result.steps.append(_pod_identity_step(state, options))
    result.steps.append(_service_account_step(state, options))
    result.steps.append(_crds_step(state))
    result.steps.append(_chart_step(state, options, result))
    result.steps.append(_rollout_step(state, options))
    if state.cluster.vpc_id is None:
        result.notes.append("the cluster's VPC is unknown: the controller will ask IMDS (pass --vpc-id to pin it)")
    return result


# ---------------------------------------------------------------------- safety


def _safety(state: State, options: InstallOptions, result: Plan) -> None:
    if state.cluster.auto_mode:
        message = (
            f"cluster {state.cluster.name} runs EKS Auto Mode, which has its own load balancing "
            "(controller eks.amazonaws.com/alb); installing the AWS Load Balancer Controller there conflicts with it"
        )
        _refuse_or_note(result, options.force, message)
    if not options.pod_identity and not state.cluster.oidc_issuer:
        result.refusals.append(f"cluster {state.cluster.name} has no OIDC issuer: use --pod-identity")
    _kubernetes_version_check(state, options, result)
    ours = f"{options.namespace}/{options.release_name}"
    for controller in state.kube.controllers:
        where = f"Deployment {controller.namespace}/{controller.name}"
        foreign = controller.installed_by == "other" or (
            controller.installed_by.startswith("helm:")
            and (controller.installed_by != f"helm:{ours}" or state.kube.chart_backend != "helm")
        )
        if foreign:
            how = (
                "by other means"
                if controller.installed_by == "other"
                else f"by Helm release {controller.installed_by[5:]}"
            )
            _refuse_or_note(
                result, options.force, f"a controller is already installed {how} ({where}, {controller.image})"
            )
        target, running = (
            parse_version(options.controller_version),
            (parse_version(controller.version) if controller.version else None),
        )
        if target and running and running > target:
            message = f"{where} runs {controller.version}; installing {options.controller_version} is a downgrade"
            if options.allow_downgrade:
                result.notes.append(message + " (allowed by --allow-downgrade)")
            else:
                result.refusals.append(message + ": pass --allow-downgrade to do it")


# The controller from v2.5.0 needs Kubernetes 1.22 or newer (its install guide; it reads networking.k8s.io/v1 objects
# only): https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/installation/
_NEEDS_KUBERNETES_1_22 = (2, 5, 0)


def _kubernetes_version_check(state: State, options: InstallOptions, result: Plan) -> None:
    """Refuse a controller the cluster's Kubernetes version cannot run (the version DescribeCluster reports)."""
    reported = state.cluster.kubernetes_version
    cluster = parse_version(reported) if reported else None
    wanted = parse_version(options.controller_version)
    if cluster is None or wanted is None or wanted < _NEEDS_KUBERNETES_1_22 or cluster[:2] >= (1, 22):
        return
    result.refusals.append(
        f"cluster {state.cluster.name} runs Kubernetes {reported}, and controller {options.controller_version} needs "
        "1.22 or newer: upgrade the cluster, or install v2.4.7 (--controller-version v2.4.7)"
    )


def _refuse_or_note(result: Plan, force: bool, message: str) -> None:
    if force:
        result.notes.append(message + " (going ahead: --force)")
    else:
        result.refusals.append(message + ": pass --force to go ahead anyway")


# ---------------------------------------------------------------------- IAM


def _oidc_step(state: State) -> Step:
    iam, cluster = state.iam, state.cluster
    if not cluster.issuer_host or not cluster.oidc_issuer:
        return Step("oidc-provider", Action.UNCHANGED, "-", "cluster has no OIDC issuer")
    arn = f"arn:{iam.partition}:iam::{iam.account_id}:oidc-provider/{cluster.issuer_host}"
    if iam.oidc_provider_arn is None:
        return Step(
            "oidc-provider", Action.CREATE, arn, f"register the cluster's OIDC issuer {cluster.oidc_issuer}",
            payload={"url": cluster.oidc_issuer, "arn": arn},
        )  # fmt: skip
    if WEB_IDENTITY_AUDIENCE not in iam.oidc_client_ids:
        return Step(
            "oidc-provider", Action.UPDATE, arn, f"add client id {WEB_IDENTITY_AUDIENCE}",
            payload={"arn": arn, "add_client_id": WEB_IDENTITY_AUDIENCE},
        )  # fmt: skip
    return Step("oidc-provider", Action.UNCHANGED, arn, "registered")


def _policy_step(state: State, options: InstallOptions, result: Plan) -> Step:
    iam = state.iam
    desired = policy_document(options.controller_version)
    release = policy_release_for(options.controller_version)
    summary = f"controller policy for {options.controller_version} (as of {release})"
    if iam.policy is None:
        count = f"{len(actions_in(desired))} actions in {len(desired['Statement'])} statements"
        return Step(
            "iam-policy", Action.CREATE, iam.policy_arn, summary, details=[count], payload={"document": desired},
        )  # fmt: skip
    current = iam.policy.document
    if same_document(current, desired):
        return Step("iam-policy", Action.UNCHANGED, iam.policy_arn, summary)
    newer = [r for r in POLICY_RELEASES if parse_version(r) > parse_version(release)]  # type: ignore[operator]
    for newer_release in newer:
        if same_document(current, policy_document(newer_release)):
            return Step(
                "iam-policy", Action.UNCHANGED, iam.policy_arn,
                f"already at the newer {newer_release} policy, a superset: not downgraded",
            )  # fmt: skip
    missing = sorted(actions_in(desired) - actions_in(current))
    details = [f"adds {a}" for a in missing]
    payload: dict[str, Any] = {"document": desired}
    if len(iam.policy.versions) >= MAX_POLICY_VERSIONS:
        oldest = next((v for v, is_default in iam.policy.versions if not is_default), None)
        payload["prune_version"] = oldest
        details.append(f"deletes the oldest non-default version {oldest} (IAM keeps at most 5)")
        if not iam.policy.owned:
            _refuse_or_note(
                result, options.force,
                f"policy {iam.policy_arn} was not created by install-alb and already has 5 versions; "
                f"updating it deletes version {oldest}",
            )  # fmt: skip
    return Step(
        "iam-policy", Action.UPDATE, iam.policy_arn, summary + ": new default version",
        diff=document_diff(current, desired, label=iam.policy_arn), details=details, payload=payload,
    )  # fmt: skip


def _provider_arn(state: State) -> str:
    iam, cluster = state.iam, state.cluster
    return f"arn:{iam.partition}:iam::{iam.account_id}:oidc-provider/{cluster.issuer_host}"


def _desired_trust_statement(state: State, options: InstallOptions) -> JsonObj:
    if options.pod_identity:
        return pod_identity_trust_statement()
    return irsa_trust_statement(_provider_arn(state), state.cluster.issuer_host or "", options.service_account_subject)


def _trust_problems(state: State, options: InstallOptions, trust: JsonObj) -> list[str]:
    """The audit's own trust checks (irsa-role-invalid), so install and verify never disagree on a trust."""
    if options.pod_identity:
        return [str(p) for p in pod_identity_trust_problems(trust)]
    problems = irsa_trust_problems(
        trust,
        provider_arn=_provider_arn(state),
        issuer=state.cluster.issuer_host or "",
        subject=options.service_account_subject,
    )
    return [str(p) for p in problems]


def _role_step(state: State, options: InstallOptions) -> Step:
    iam = state.iam
    statement = _desired_trust_statement(state, options)
    kind = "Pod Identity" if options.pod_identity else "IRSA"
    if iam.role is None:
        desired = trust_document(statement)
        return Step(
            "iam-role", Action.CREATE, iam.role_arn, f"controller role, {kind} trust",
            diff=document_diff(None, desired, label=f"{iam.role_arn} trust"),
            payload={"trust": desired, "name": options.effective_role_name, "tags": owner_tags(options.cluster_name)},
        )  # fmt: skip
    problems = _trust_problems(state, options, iam.role.trust)
    if not problems:
        return Step("iam-role", Action.UNCHANGED, iam.role_arn, f"{kind} trust in place")
    desired = trust_document(statement) if iam.role.owned else merged_trust(iam.role.trust, statement)
    kept = [] if iam.role.owned else ["role not created by install-alb: its other statements are kept"]
    return Step(
        "iam-role", Action.UPDATE, iam.role_arn, f"repair the {kind} trust policy",
        diff=document_diff(iam.role.trust, desired, label=f"{iam.role_arn} trust"),
        details=problems + kept,
        payload={"trust": desired, "name": options.effective_role_name},
    )  # fmt: skip


def _attachment_step(state: State) -> Step:
    iam = state.iam
    target = f"{iam.role_arn} <- {iam.policy_arn}"
    if iam.role is not None and iam.policy_arn in iam.role.attached_policy_arns:
        return Step("policy-attachment", Action.UNCHANGED, target, "policy attached to the role")
    return Step(
        "policy-attachment", Action.CREATE, target, "attach the policy to the role",
        payload={"role_name": iam.role_arn.rsplit("/", 1)[-1], "policy_arn": iam.policy_arn},
    )  # fmt: skip


def _pod_identity_step(state: State, options: InstallOptions) -> Step:
    iam = state.iam
    target = f"Pod Identity association {options.cluster_name} {options.namespace}/{options.service_account}"
    if not iam.pod_identity:
        return Step(
            "pod-identity", Action.CREATE, target, f"associate the service account with {iam.role_arn}",
            payload={"role_arn": iam.role_arn},
        )  # fmt: skip
    current = iam.pod_identity[0]
    if current.role_arn == iam.role_arn:
        return Step("pod-identity", Action.UNCHANGED, target, f"associated with {iam.role_arn}")
    return Step(
        "pod-identity", Action.UPDATE, target, f"associate with {iam.role_arn} (now {current.role_arn})",
        payload={"role_arn": iam.role_arn, "association_id": current.association_id},
    )  # fmt: skip


# ---------------------------------------------------------------------- Kubernetes


def _service_account_step(state: State, options: InstallOptions) -> Step:
    target = f"ServiceAccount {options.namespace}/{options.service_account}"
    annotations = {} if options.pod_identity else {ROLE_ARN_ANNOTATION: state.iam.role_arn}
    existing = state.kube.service_account
    if existing is None:
        return Step(
            "service-account", Action.CREATE, target,
            "create it" + (f" annotated with {state.iam.role_arn}" if annotations else ""),
            payload={"annotations": annotations, "ours": True},
        )  # fmt: skip
    current = ((existing.get("metadata") or {}).get("annotations") or {}).get(ROLE_ARN_ANNOTATION)
    if not annotations or current == annotations[ROLE_ARN_ANNOTATION]:
        return Step("service-account", Action.UNCHANGED, target, "in place")
    return Step(
        "service-account", Action.UPDATE, target,
        f"annotate {ROLE_ARN_ANNOTATION}={state.iam.role_arn}" + (f" (was {current})" if current else ""),
        payload={"annotations": annotations, "ours": owned_by_us(existing)},
    )  # fmt: skip


def _object_actions(objects: tuple[ObjectState, ...]) -> list[tuple[ObjectState, Action]]:
    """Create what is missing; update what differs or still has fields the chart dropped (an apply removes them)."""
    found = []
    for state in objects:
        if state.existing is None:
            found.append((state, Action.CREATE))
        elif contains(state.existing, state.desired) and not fields_given_up(state.existing, state.desired):
            found.append((state, Action.UNCHANGED))
        else:
            found.append((state, Action.UPDATE))
    return found


def _aggregate(actions: list[Action]) -> Action:
    if actions and all(a is Action.CREATE for a in actions):
        return Action.CREATE
    return Action.UPDATE if any(a.changes for a in actions) else Action.UNCHANGED


def _crds_step(state: State) -> Step:
    actions = _object_actions(state.kube.crds)
    names = ", ".join(s.desired["metadata"]["name"] for s, _ in actions)
    details = [
        f"{a.value} {object_ref(s.desired)}"
        + ("" if s.existing is None or owned_by_us(s.existing) else " (not created by install-alb; upgraded in place)")
        for s, a in actions
        if a.changes
    ]
    return Step(
        "crds", _aggregate([a for _, a in actions]), f"CustomResourceDefinitions {names}",
        "apply the chart's CRDs (helm upgrade does not)", details=details,
        payload={"objects": [s.desired for s, a in actions if a.changes]},
    )  # fmt: skip


def _image_of(obj: JsonObj | None) -> str | None:
    if not obj:
        return None
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return str(containers[0].get("image")) if containers else None


def _chart_step(state: State, options: InstallOptions, result: Plan) -> Step:
    kube = state.kube
    release_ref = f"{options.namespace}/{options.release_name}"
    target = f"Helm release {release_ref} (chart {kube.chart_version}, app {options.controller_version})"
    if kube.chart_backend == "helm":
        release = kube.helm_release
        payload = {"values": kube.chart_values}
        if release is None:
            return Step("chart", Action.CREATE, target, "helm install", payload=payload)
        if release.chart_version == kube.chart_version and contains(release.values, kube.chart_values):
            return Step(
                "chart", Action.UNCHANGED, target, f"chart {release.chart_version} installed ({release.status})"
            )
        return Step(
            "chart", Action.UPDATE, target, f"helm upgrade from chart {release.chart_version}",
            diff=document_diff(release.values, kube.chart_values, label="values"), payload=payload,
        )  # fmt: skip
    actions = _object_actions(kube.chart_objects)
    details: list[str] = []
    foreign: list[str] = []
    for obj_state, action in actions:
        if obj_state.existing is not None and not owned_by_us(obj_state.existing) and action.changes:
            helm = helm_release_of(obj_state.existing)
            foreign.append(object_ref(obj_state.desired) + (f" (Helm release {helm})" if helm else ""))
        if action.changes:
            line = f"{action.value} {object_ref(obj_state.desired)}"
            if obj_state.desired.get("kind") == "Deployment" and obj_state.existing is not None:
                before, after = _image_of(obj_state.existing), _image_of(obj_state.desired)
                if before != after:
                    line += f": image {before} -> {after}"
            if obj_state.existing is not None:
                dropped = fields_given_up(obj_state.existing, obj_state.desired)
                if dropped:
                    line += f": removes {', '.join(dropped)}"
            details.append(line)
    for obj in kube.prunable:
        details.append(f"delete {object_ref(obj)}: install-alb applied it, chart {kube.chart_version} no longer has it")
    if foreign:
        _refuse_or_note(result, options.force, "objects exist that install-alb did not create: " + ", ".join(foreign))
    overall = _aggregate([a for _, a in actions])
    if kube.prunable:
        overall = Action.UPDATE
    summary = {
        Action.CREATE: f"install {len(actions)} objects",
        Action.UPDATE: f"{sum(a.changes for _, a in actions)} of {len(actions)} objects to apply",
        Action.UNCHANGED: f"{len(actions)} objects in place",
    }[overall]
    if kube.prunable:
        summary += f", {len(kube.prunable)} to delete"
    return Step(
        "chart", overall, target, summary, details=details,
        payload={"objects": [s.desired for s, a in actions if a.changes], "prune": list(kube.prunable)},
    )  # fmt: skip


def _rollout_step(state: State, options: InstallOptions) -> Step:
    deployments = [s.desired for s in state.kube.chart_objects if s.desired.get("kind") == "Deployment"]
    name = deployments[0]["metadata"]["name"] if deployments else options.release_name
    target = f"Deployment {options.namespace}/{name}"
    return Step(
        "rollout", Action.WAIT, target, f"wait up to {options.timeout:.0f}s for the controller to be ready",
        payload={"namespace": options.namespace, "name": name},
    )  # fmt: skip
