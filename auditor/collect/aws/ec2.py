"""The security groups attached to the collected load balancers, with their ingress permissions.

Only those groups are read (never the whole account). They are selected with the ``group-id``
filter (≤ 200 values per call) rather than ``GroupIds``: a group deleted since the load balancer
was read would make a ``GroupIds`` call fail as a whole, the filter simply leaves it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.collect.aws.base import CollectorContext, chunked, pages
from auditor.inventory.models import SecurityGroup, SecurityGroupPermission

NAME = "ec2"
SERVICE = "ec2"
IAM_ACTIONS: tuple[str, ...] = ("ec2:DescribeSecurityGroups",)

IDS_PER_CALL = 200  # filter values per call
PAGE_SIZE = 1000  # MaxResults maximum


def collect(ctx: CollectorContext, group_ids: Iterable[str]) -> list[SecurityGroup]:
    client = ctx.client(SERVICE)
    wanted = sorted(set(group_ids))
    groups: list[SecurityGroup] = []
    for chunk in chunked(wanted, IDS_PER_CALL):
        filters = [{"Name": "group-id", "Values": chunk}]
        for page in pages(client, "DescribeSecurityGroups", page_size=PAGE_SIZE, Filters=filters):
            groups.extend(_group(ctx, raw) for raw in page.get("SecurityGroups", []))
    ctx.count("security groups", len(groups))
    return groups


def _group(ctx: CollectorContext, raw: dict[str, Any]) -> SecurityGroup:
    return SecurityGroup(
        id=raw["GroupId"],
        name=raw.get("GroupName", ""),
        account=ctx.account,
        region=ctx.region,
        vpc_id=raw.get("VpcId"),
        ingress=[_permission(p) for p in raw.get("IpPermissions", [])],
        tags={t["Key"]: t.get("Value", "") for t in raw.get("Tags", [])},
    )


def _permission(raw: dict[str, Any]) -> SecurityGroupPermission:
    return SecurityGroupPermission(
        protocol=str(raw.get("IpProtocol", "-1")),
        from_port=raw.get("FromPort"),
        to_port=raw.get("ToPort"),
        ipv4_ranges=[r["CidrIp"] for r in raw.get("IpRanges", []) if r.get("CidrIp")],
        ipv6_ranges=[r["CidrIpv6"] for r in raw.get("Ipv6Ranges", []) if r.get("CidrIpv6")],
        source_group_ids=[g["GroupId"] for g in raw.get("UserIdGroupPairs", []) if g.get("GroupId")],
        prefix_list_ids=[p["PrefixListId"] for p in raw.get("PrefixListIds", []) if p.get("PrefixListId")],
    )
