"""The eks collector reads the vpc-cni add-on's network policy setting (DescribeAddon), against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from auditor.collect.aws import eks
from auditor.collect.aws.base import CollectorContext
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus, VpcCniAddon
from tests.collect.test_aws_seed import ACCOUNT, REGION, network


def _context() -> tuple[CollectorContext, CallCounter]:
    counter = CallCounter()
    session = open_account(AccountConfig(), AwsSettings(max_attempts=1), region=REGION, counter=counter)
    return CollectorContext(name="eks", session=session, region=REGION), counter


def _cluster(name: str = "demo") -> Any:
    client = boto3.client("eks", region_name=REGION)
    client.create_cluster(
        name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={"subnetIds": network().subnets}
    )
    return client


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ('{"enableNetworkPolicy": "true"}', True),
        ("enableNetworkPolicy: 'false'\n", False),
        ('{"env": {"WARM_IP_TARGET": "5"}}', None),
        ("", None),
    ],
)
def test_the_addons_network_policy_setting_is_read(aws, values, expected):
    _cluster().create_addon(clusterName="demo", addonName="vpc-cni", configurationValues=values)
    ctx, counter = _context()
    cluster = eks.collect(ctx, "demo", []).cluster
    assert cluster is not None and cluster.vpc_cni is not None
    assert (cluster.vpc_cni.installed, cluster.vpc_cni.network_policy) == (True, expected)
    assert counter.snapshot().get("eks:DescribeAddon") == 1


def test_no_addon_is_a_self_managed_cni_and_not_wanted_is_not_read(aws):
    _cluster()
    ctx, _ = _context()
    assert eks.collect(ctx, "demo", []).cluster.vpc_cni == VpcCniAddon(installed=False)  # type: ignore[union-attr]
    ctx, counter = _context()
    ctx.wanted = frozenset({Facet.EKS_CLUSTERS, Facet.EKS_CLUSTER})
    assert eks.collect(ctx, "demo", []).cluster.vpc_cni is None  # type: ignore[union-attr]
    assert "eks:DescribeAddon" not in counter.snapshot()


def test_a_denied_describe_addon_is_a_facet_problem(aws):
    _cluster()
    ctx, _ = _context()

    def deny(**kwargs: Any) -> None:
        if kwargs["model"].name == "DescribeAddon":
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeAddon")

    ctx.client("eks").meta.events.register_first("before-call.eks.*", deny)
    cluster = eks.collect(ctx, "demo", []).cluster
    assert cluster is not None and cluster.vpc_cni is None
    assert ctx.facet_coverage(CoverageStatus.PARTIAL)[Facet.EKS_ADDONS].status == CoverageStatus.PARTIAL
