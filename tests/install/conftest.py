"""Install tests: an EKS cluster in moto, the Kubernetes emulator (Deployments roll out), the fixture chart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from auditor.cli_install import install_alb

REGION = "eu-west-1"
CLUSTER = "prod"
CHART_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "chart" / "aws-load-balancer-controller"


@pytest.fixture
def cluster(aws: Any) -> dict[str, Any]:
    """An EKS cluster 'prod' in a VPC with two subnets."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in ((1, "a"), (2, "b"))
    ]
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}))
    eks = boto3.client("eks", region_name=REGION)
    made = eks.create_cluster(
        name=CLUSTER, version="1.31", roleArn=role["Role"]["Arn"], resourcesVpcConfig={"subnetIds": subnets}
    )["cluster"]
    return {"vpc_id": vpc, "subnets": subnets, "issuer": made["identity"]["oidc"]["issuer"], "arn": made["arn"]}


@pytest.fixture
def cluster_api(kube: Any) -> Any:
    """The emulator with a deployment controller: Deployments report ready once applied."""
    kube.auto_ready = True
    return kube


@pytest.fixture
def install(cluster: dict[str, Any], cluster_api: Any) -> Callable[..., Result]:
    """Run `auditor install-alb` against moto + the emulator with the fixture chart; extra flags appended."""

    def run(*extra: str, chart_dir: Path = CHART_DIR) -> Result:
        args = [
            "--cluster-name", CLUSTER, "--region", REGION, "--kubeconfig", str(cluster_api.kubeconfig),
            "--chart-dir", str(chart_dir), "--timeout", "5", *extra,
        ]  # fmt: skip
        return CliRunner().invoke(install_alb, args, catch_exceptions=False)

    return run


def aws_state() -> dict[str, Any]:
    """Everything IAM and EKS hold that the installer could touch, read through boto3."""
    iam: Any = boto3.client("iam", region_name=REGION)
    eks: Any = boto3.client("eks", region_name=REGION)
    state: dict[str, Any] = {"oidc": {}, "policies": {}, "roles": {}, "clusters": {}}
    for provider in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]:
        described = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
        described.pop("ResponseMetadata", None)
        state["oidc"][provider["Arn"]] = described
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
        state["policies"][policy["Arn"]] = {
            "default": policy["DefaultVersionId"],
            "versions": {
                v["VersionId"]: iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=v["VersionId"])[
                    "PolicyVersion"
                ]["Document"]
                for v in versions
            },
            "tags": iam.list_policy_tags(PolicyArn=policy["Arn"])["Tags"],
        }
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        state["roles"][name] = {
            "trust": role["AssumeRolePolicyDocument"],
            "attached": iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"],
            "tags": iam.list_role_tags(RoleName=name)["Tags"],
        }
    for name in eks.list_clusters()["clusters"]:
        described = eks.describe_cluster(name=name)["cluster"]
        associations = eks.list_pod_identity_associations(clusterName=name)["associations"]
        state["clusters"][name] = {"cluster": described, "pod_identity": associations}
    normalized: dict[str, Any] = json.loads(json.dumps(state, default=str))
    return normalized


def kube_state(kube: Any) -> dict[str, Any]:
    """Every object the emulator stores, resourceVersion included (any write changes it)."""
    found = {}
    for rt in kube.resource_types():
        name = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
        found[name] = kube.objects(name)
    return found
