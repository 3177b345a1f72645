"""The ec2 collector against moto: security groups of load balancers and the managed prefix lists they refer to."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from auditor.collect.aws import ec2
from auditor.collect.aws.base import CollectorContext
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings
from auditor.correlate.reachability import Openness, security_groups
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus
from tests.collect.test_aws_seed import REGION, network

TCP = frozenset({"tcp", "6"})


def _context() -> tuple[CollectorContext, CallCounter, list[dict[str, Any]]]:
    counter = CallCounter()
    session = open_account(AccountConfig(), AwsSettings(max_attempts=1), region=REGION, counter=counter)
    ctx = CollectorContext(name="ec2", session=session, region=REGION)
    sent: list[dict[str, Any]] = []
    ctx.client("ec2").meta.events.register(
        "provide-client-params.ec2.*", lambda params, model, **_: sent.append({"op": model.name, **params})
    )
    return ctx, counter, sent


def _ec2_calls(counter: CallCounter) -> dict[str, int]:
    return {a: n for a, n in counter.snapshot().items() if a.startswith("ec2:")}  # not open_account's STS call


def _seed() -> dict[str, str]:
    client = boto3.client("ec2", region_name=REGION)
    vpc = network().vpc
    halves = client.create_managed_prefix_list(
        PrefixListName="partners",
        AddressFamily="IPv4",
        MaxEntries=5,
        Entries=[{"Cidr": "0.0.0.0/1", "Description": "a"}, {"Cidr": "128.0.0.0/1", "Description": "b"}],
    )["PrefixList"]["PrefixListId"]
    unused = client.create_managed_prefix_list(
        PrefixListName="unused", AddressFamily="IPv4", MaxEntries=5, Entries=[{"Cidr": "0.0.0.0/0"}]
    )["PrefixList"]["PrefixListId"]
    aws_owned = next(
        pl
        for pl in client.describe_managed_prefix_lists(Filters=[{"Name": "owner-id", "Values": ["AWS"]}])["PrefixLists"]
        if pl["PrefixListName"].endswith(".s3")
    )["PrefixListId"]
    db = client.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "PrefixListIds": [{"PrefixListId": halves}, {"PrefixListId": aws_owned}],
            }
        ],
    )
    other = client.create_security_group(GroupName="other", Description="not on an LB", VpcId=vpc)["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=other,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "PrefixListIds": [{"PrefixListId": unused}]}
        ],
    )
    return {"db": db, "halves": halves, "unused": unused, "aws_owned": aws_owned}


def test_prefix_lists_of_the_collected_groups_are_resolved(aws):
    seeded = _seed()
    ctx, counter, sent = _context()
    result = ec2.collect(ctx, [seeded["db"]])

    [group] = result.security_groups
    assert sorted(group.ingress[0].prefix_list_ids) == sorted([seeded["halves"], seeded["aws_owned"]])
    lists = {pl.id: pl for pl in result.prefix_lists}
    assert set(lists) == {seeded["halves"], seeded["aws_owned"]}  # not the list only "other" refers to
    halves = lists[seeded["halves"]]
    assert (halves.name, halves.address_family, sorted(halves.cidrs or [])) == (
        "partners",
        "IPv4",
        ["0.0.0.0/1", "128.0.0.0/1"],
    )
    owned = lists[seeded["aws_owned"]]
    assert owned.owner_id == "AWS" and owned.cidrs  # AWS-managed lists are read the same way
    assert ctx.problems == []

    # the described lists are selected by filter, then each one's entries read, all with the largest page
    [describe] = [p for p in sent if p["op"] == "DescribeManagedPrefixLists"]
    assert describe["Filters"] == [{"Name": "prefix-list-id", "Values": sorted(lists)}]
    assert describe["MaxResults"] == 100
    entries = [p for p in sent if p["op"] == "GetManagedPrefixListEntries"]
    assert sorted(p["PrefixListId"] for p in entries) == sorted(lists)
    assert {p["MaxResults"] for p in entries} == {100}
    assert set(_ec2_calls(counter)) <= set(ec2.IAM_ACTIONS)  # declared, so in the shipped policy

    # and what they resolve to is what reachability judges: the two halves are the world
    verdict = security_groups([group], 5432, TCP, lists).judge()
    assert verdict.openness == Openness.WORLD


def test_no_prefix_list_calls_without_a_reference(aws):
    seeded = _seed()
    client = boto3.client("ec2", region_name=REGION)
    plain = client.create_security_group(GroupName="plain", Description="plain", VpcId=network().vpc)["GroupId"]
    ctx, counter, _ = _context()
    result = ec2.collect(ctx, [plain, "sg-0000000000deleted"])
    assert [g.id for g in result.security_groups] == [plain] and result.prefix_lists == []
    assert set(_ec2_calls(counter)) == {"ec2:DescribeSecurityGroups"}
    assert seeded  # the account holds prefix lists; none is read


def _deny(operation: str):
    """A before-call hook answering ``operation`` with UnauthorizedOperation (as AWS does without the action)."""

    def hook(model, **_: Any):
        if model.name != operation:
            return None
        error = {"Error": {"Code": "UnauthorizedOperation", "Message": "not authorized"}}
        return AWSResponse("https://ec2", 403, {}, None), {**error, "ResponseMetadata": {"HTTPStatusCode": 403}}

    return hook


@pytest.mark.parametrize("denied", ["GetManagedPrefixListEntries", "DescribeManagedPrefixLists"])
def test_a_prefix_list_that_cannot_be_read_stays_none(aws, denied):
    seeded = _seed()
    ctx, _, _ = _context()
    ctx.client("ec2").meta.events.register_first("before-call.ec2.*", _deny(denied))
    result = ec2.collect(ctx, [seeded["db"]])

    assert len(result.security_groups) == 1  # the groups themselves were read
    assert {pl.id: pl.cidrs for pl in result.prefix_lists} == {seeded["halves"]: None, seeded["aws_owned"]: None}
    assert any(denied in p and "UnauthorizedOperation" in p for p in ctx.problems)
    assert not any("NotFound" in p for p in ctx.problems)  # denied is not "does not exist"
    facets = ctx.facet_coverage(CoverageStatus.PARTIAL)
    assert facets[Facet.EC2_PREFIX_LISTS].status == CoverageStatus.PARTIAL
    assert facets[Facet.EC2_SECURITY_GROUPS].status == CoverageStatus.OK
    # a list not read is never "admits nothing"
    lists = {pl.id: pl for pl in result.prefix_lists}
    assert security_groups(result.security_groups, 5432, TCP, lists).judge().openness == Openness.UNKNOWN


def test_a_referenced_list_that_is_not_visible_is_recorded_unread(aws):
    client = boto3.client("ec2", region_name=REGION)
    sg = client.create_security_group(GroupName="gone", Description="gone", VpcId=network().vpc)["GroupId"]
    client.authorize_security_group_ingress(
        GroupId=sg,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "PrefixListIds": [{"PrefixListId": "pl-0badc0de"}]}
        ],
    )
    ctx, _, _ = _context()
    result = ec2.collect(ctx, [sg])
    [pl] = result.prefix_lists
    assert (pl.id, pl.cidrs) == ("pl-0badc0de", None)
    assert ctx.problems == ["prefix list pl-0badc0de: InvalidPrefixListID.NotFound"]


# --------------------------------------------------------------------------- the load balancers' subnets


def test_the_load_balancers_subnets_are_read_by_id_and_a_gone_one_is_left_out(aws):
    net = network()
    ctx, counter, sent = _context()
    result = ec2.collect(ctx, [], subnet_ids=[*net.subnets, net.subnets[0], "subnet-0gone"])
    assert sorted((s.id, s.cidr_block, s.vpc_id) for s in result.subnets) == sorted(
        [(net.subnets[0], "10.0.0.0/24", net.vpc), (net.subnets[1], "10.0.1.0/24", net.vpc)]
    )
    (call,) = [c for c in sent if c["op"] == "DescribeSubnets"]
    assert call["Filters"] == [{"Name": "subnet-id", "Values": sorted({*net.subnets, "subnet-0gone"})}]
    assert "ec2:DescribeSecurityGroups" not in _ec2_calls(counter)  # no group asked for: nothing listed


def test_subnets_not_wanted_are_not_read_and_denied_ones_are_a_facet_problem(aws):
    net = network()
    ctx, counter, _ = _context()
    ctx.wanted = frozenset({Facet.EC2_SECURITY_GROUPS})
    assert ec2.collect(ctx, [], subnet_ids=net.subnets).subnets == []
    assert "ec2:DescribeSubnets" not in _ec2_calls(counter)

    ctx, _, _ = _context()
    ctx.client("ec2").meta.events.register_first("before-call.ec2.*", _deny("DescribeSubnets"))
    assert ec2.collect(ctx, [], subnet_ids=net.subnets).subnets == []
    facets = ctx.facet_coverage(CoverageStatus.PARTIAL)
    assert facets[Facet.EC2_SUBNETS].status == CoverageStatus.PARTIAL
