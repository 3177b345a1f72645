"""Read-only discovery of what is installed: EKS cluster, IAM (OIDC provider, policy, role), Kubernetes."""

from __future__ import annotations

import base64
import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from auditor.collect.aws.session import AwsAccountSession, error_code
from auditor.controller.versions import normalize_version
from auditor.errors import InstallError, TargetUnreachable
from auditor.install.chart import ChartBackend, chart_values, mark_ours
from auditor.install.kube import (
    CHART_KINDS,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RELEASE_ANNOTATION,
    KubeApiError,
    KubeClient,
    helm_release_of,
    owned_by_us,
)
from auditor.install.model import (
    CHART_NAME,
    OWNER_TAG,
    OWNER_TAG_VALUE,
    ClusterInfo,
    ControllerDeployment,
    IamState,
    InstallOptions,
    JsonObj,
    KubeState,
    ObjectState,
    PodIdentityAssociation,
    PolicyInfo,
    RoleInfo,
    State,
)

log = logging.getLogger(__name__)

CONTROLLER_SELECTOR = f"app.kubernetes.io/name={CHART_NAME}"


def _aws_error(exc: Exception, what: str) -> InstallError:
    if isinstance(exc, ClientError):
        message = str(exc.response.get("Error", {}).get("Message") or exc).splitlines()[0][:300]
        return InstallError(f"{what}: {error_code(exc)}: {message}")
    return InstallError(f"{what}: {exc}")


def discover_cluster(aws: AwsAccountSession, options: InstallOptions) -> ClusterInfo:
    eks = aws.client("eks", options.region)
    try:
        cluster = eks.describe_cluster(name=options.cluster_name)["cluster"]
    except ClientError as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise InstallError(f"EKS cluster {options.cluster_name!r} not found in {options.region}") from exc
        raise _aws_error(exc, "eks:DescribeCluster") from exc
    except BotoCoreError as exc:
        raise TargetUnreachable(f"AWS is not reachable in {options.region}: {exc}") from exc
    vpc_config = cluster.get("resourcesVpcConfig") or {}
    subnets = tuple(vpc_config.get("subnetIds") or ())
    vpc_id = options.vpc_id or vpc_config.get("vpcId") or _vpc_of_subnets(aws, options.region, subnets)
    compute = cluster.get("computeConfig") or {}
    return ClusterInfo(
        name=cluster["name"],
        arn=cluster["arn"],
        kubernetes_version=cluster.get("version"),
        oidc_issuer=((cluster.get("identity") or {}).get("oidc") or {}).get("issuer"),
        vpc_id=vpc_id,
        subnet_ids=subnets,
        auto_mode=bool(compute.get("enabled")),
    )


def _vpc_of_subnets(aws: AwsAccountSession, region: str, subnet_ids: tuple[str, ...]) -> str | None:
    """The VPC of the cluster's subnets (where DescribeCluster has no vpcId)."""
    if not subnet_ids:
        return None
    try:
        found = aws.client("ec2", region).describe_subnets(SubnetIds=list(subnet_ids[:1]))["Subnets"]
    except ClientError as exc:
        log.warning("cannot read the cluster's subnets to find its VPC: %s", error_code(exc))
        return None
    return str(found[0]["VpcId"]) if found else None


def _tags_say_ours(tags: list[dict[str, str]]) -> bool:
    return any(t.get("Key") == OWNER_TAG and t.get("Value") == OWNER_TAG_VALUE for t in tags)


def discover_iam(aws: AwsAccountSession, cluster: ClusterInfo, options: InstallOptions) -> IamState:
    iam = aws.client("iam", options.region)
    account, partition = aws.account_id, aws.partition
    policy_arn = f"arn:{partition}:iam::{account}:policy/{options.policy_name}"
    role_arn = f"arn:{partition}:iam::{account}:role/{options.effective_role_name}"
    try:
        provider_arn, client_ids = _oidc_provider(iam, cluster, account, partition)
        policy = _policy(iam, policy_arn)
        role = _role(iam, options.effective_role_name)
        associations = _pod_identity(aws, options) if options.pod_identity else ()
    except ClientError as exc:
        raise _aws_error(exc, "reading IAM state") from exc
    return IamState(
        account_id=account,
        partition=partition,
        oidc_provider_arn=provider_arn,
        oidc_client_ids=client_ids,
        policy_arn=policy_arn,
        policy=policy,
        role_arn=role.arn if role else role_arn,
        role=role,
        pod_identity=associations,
    )


def _oidc_provider(iam: Any, cluster: ClusterInfo, account: str, partition: str) -> tuple[str | None, tuple[str, ...]]:
    if not cluster.issuer_host:
        return None, ()
    wanted = f"arn:{partition}:iam::{account}:oidc-provider/{cluster.issuer_host}"
    listed = {p["Arn"] for p in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", [])}
    if wanted not in listed:
        return None, ()
    described = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=wanted)
    return wanted, tuple(described.get("ClientIDList") or ())


def _policy(iam: Any, policy_arn: str) -> PolicyInfo | None:
    try:
        policy = iam.get_policy(PolicyArn=policy_arn)["Policy"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    default = policy["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=policy_arn, VersionId=default)["PolicyVersion"]["Document"]
    versions = []
    for page in iam.get_paginator("list_policy_versions").paginate(PolicyArn=policy_arn):
        versions.extend(page["Versions"])
    versions.sort(key=lambda v: (v["CreateDate"], int(str(v["VersionId"]).lstrip("v") or 0)))
    tags = policy.get("Tags") or iam.list_policy_tags(PolicyArn=policy_arn).get("Tags", [])
    return PolicyInfo(
        arn=policy_arn,
        default_version_id=default,
        document=document,
        versions=tuple((v["VersionId"], bool(v["IsDefaultVersion"])) for v in versions),
        owned=_tags_say_ours(tags),
    )


def _role(iam: Any, role_name: str) -> RoleInfo | None:
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    attached: list[str] = []
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        attached.extend(p["PolicyArn"] for p in page["AttachedPolicies"])
    tags = role.get("Tags") or iam.list_role_tags(RoleName=role_name).get("Tags", [])
    return RoleInfo(
        arn=role["Arn"],
        trust=role.get("AssumeRolePolicyDocument") or {},
        owned=_tags_say_ours(tags),
        attached_policy_arns=tuple(attached),
    )


def _pod_identity(aws: AwsAccountSession, options: InstallOptions) -> tuple[PodIdentityAssociation, ...]:
    eks = aws.client("eks", options.region)
    found: list[PodIdentityAssociation] = []
    for page in eks.get_paginator("list_pod_identity_associations").paginate(
        clusterName=options.cluster_name, namespace=options.namespace, serviceAccount=options.service_account
    ):
        for summary in page.get("associations", []):
            described = eks.describe_pod_identity_association(
                clusterName=options.cluster_name, associationId=summary["associationId"]
            )["association"]
            found.append(PodIdentityAssociation(described["associationId"], described.get("roleArn", "")))
    return tuple(found)


def _controller(obj: JsonObj) -> ControllerDeployment:
    meta = obj.get("metadata") or {}
    containers = ((((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
    chosen = next((c for c in containers if CHART_NAME in str(c.get("image", ""))), containers[0] if containers else {})
    image = str(chosen.get("image", ""))
    tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
    helm = helm_release_of(obj)
    installed_by = "install-alb" if owned_by_us(obj) else (f"helm:{helm}" if helm else "other")
    status = obj.get("status") or {}
    wanted = int((obj.get("spec") or {}).get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0) >= wanted and int(status.get("observedGeneration") or 0) >= int(
        meta.get("generation") or 0
    )
    return ControllerDeployment(
        namespace=str(meta.get("namespace", "")),
        name=str(meta.get("name", "")),
        image=image,
        version=normalize_version(tag) if tag else None,
        installed_by=installed_by,
        ready=ready,
    )


def _existing(kube: KubeClient, obj: JsonObj, namespace: str) -> JsonObj | None:
    meta = obj.get("metadata") or {}
    return kube.get(str(obj["apiVersion"]), str(obj["kind"]), str(meta["name"]), meta.get("namespace") or namespace)


def discover_kube(kube: KubeClient, chart: ChartBackend, cluster: ClusterInfo, options: InstallOptions) -> KubeState:
    try:
        service_account = kube.get("v1", "ServiceAccount", options.service_account, options.namespace)
        deployments = {
            (d["metadata"].get("namespace"), d["metadata"]["name"]): d
            for d in kube.list("apps/v1", "Deployment", label_selector=CONTROLLER_SELECTOR)
        }
        named = kube.get("apps/v1", "Deployment", options.release_name, options.namespace)
        if named is not None:
            deployments[(options.namespace, options.release_name)] = named
        controllers = tuple(_controller(d) for _, d in sorted(deployments.items()))
        crds = tuple(ObjectState(c, kube.get(c["apiVersion"], c["kind"], c["metadata"]["name"])) for c in chart.crds())
        values = chart_values(
            cluster_name=options.cluster_name,
            region=options.region,
            vpc_id=cluster.vpc_id,
            service_account=options.service_account,
            controller_version=options.controller_version,
        )
        chart_objects: tuple[ObjectState, ...] = ()
        prunable: tuple[JsonObj, ...] = ()
        helm_release = None
        if chart.name == "local":
            release_ref = f"{options.namespace}/{options.release_name}"
            chart_ref = f"{CHART_NAME}-{chart.chart_version()}"
            rendered = chart.render(values, release=options.release_name, namespace=options.namespace)
            states: list[ObjectState] = []
            for obj in rendered:
                meta = obj.setdefault("metadata", {})
                if obj.get("kind") not in _CLUSTER_SCOPED:
                    meta.setdefault("namespace", options.namespace)
                states.append(ObjectState(mark_ours(obj, release=release_ref, chart=chart_ref), None))
            chart_objects = tuple(ObjectState(s.desired, _existing(kube, s.desired, options.namespace)) for s in states)
            chart_objects = _keep_generated_certificates(chart_objects)
            prunable = _prunable(kube, release_ref, [s.desired for s in chart_objects])
        else:
            helm_release = chart.release(release=options.release_name, namespace=options.namespace)
    except KubeApiError as exc:
        raise InstallError(f"reading Kubernetes state failed: {exc}") from exc
    return KubeState(
        service_account=service_account,
        controllers=controllers,
        crds=crds,
        chart_objects=chart_objects,
        helm_release=helm_release,
        chart_version=chart.chart_version(),
        chart_values=values,
        chart_backend=chart.name,
        prunable=prunable,
    )


def _identity(obj: JsonObj) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name"))


def _prunable(kube: KubeClient, release_ref: str, desired: list[JsonObj]) -> tuple[JsonObj, ...]:
    """The objects install-alb applied for this release (its label and release annotation) that the chart
    no longer renders: only those are deleted, never an object someone else made."""
    wanted = {_identity(obj) for obj in desired}
    found = []
    for api_version, kind, _ in CHART_KINDS:
        for obj in kube.list(api_version, kind, label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"):
            annotations = (obj.get("metadata") or {}).get("annotations") or {}
            if annotations.get(RELEASE_ANNOTATION) == release_ref and owned_by_us(obj) and _identity(obj) not in wanted:
                found.append(obj)
    return tuple(found)


# Kinds a controller chart renders that have no namespace.
_CLUSTER_SCOPED = frozenset(
    {
        "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "IngressClass",
        "IngressClassParams", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        "PriorityClass", "StorageClass", "APIService",
    }
)  # fmt: skip


def _keep_generated_certificates(objects: tuple[ObjectState, ...]) -> tuple[ObjectState, ...]:
    """Keep the webhook certificate the chart generated on the first install (Helm's ``lookup`` does this).

    The chart makes a new CA and certificate on every render; offline rendering cannot look up the
    existing Secret, so without this every run would rotate the webhook certificate and never be
    "0 to change". When our TLS Secret exists, its data and CA are used instead of the new ones.
    """
    secret = next(
        (
            s
            for s in objects
            if s.desired.get("kind") == "Secret"
            and s.desired.get("type") == "kubernetes.io/tls"
            and s.existing is not None
            and owned_by_us(s.existing)
            and (s.existing.get("data") or {}).get("ca.crt")
        ),
        None,
    )
    if secret is None or secret.existing is None:
        return objects
    existing_data = dict(secret.existing.get("data") or {})
    ca_bundle = existing_data["ca.crt"]
    base64.b64decode(ca_bundle, validate=True)  # a broken Secret is not reused: the error names it
    kept: list[ObjectState] = []
    for state in objects:
        desired = state.desired
        if state is secret:
            desired = {**desired, "data": existing_data}
        elif desired.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
            desired = {
                **desired,
                "webhooks": [
                    {**hook, "clientConfig": {**(hook.get("clientConfig") or {}), "caBundle": ca_bundle}}
                    for hook in desired.get("webhooks") or []
                ],
            }
        kept.append(ObjectState(desired, state.existing))
    return tuple(kept)


def discover(aws: AwsAccountSession, kube: KubeClient, chart: ChartBackend, options: InstallOptions) -> State:
    """The current state of everything the installer manages, read-only."""
    cluster = discover_cluster(aws, options)
    iam = discover_iam(aws, cluster, options)
    kube_state = discover_kube(kube, chart, cluster, options)
    return State(cluster=cluster, iam=iam, kube=kube_state)
