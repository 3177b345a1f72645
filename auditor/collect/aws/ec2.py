"""The security groups attached to the collected load balancers, their ingress permissions, the managed
prefix lists those permissions refer to, the load balancers' subnets (their CIDRs: where a load balancer's
traffic to its targets comes from, which a NetworkPolicy must admit), and the public IPv4 addresses on the load
balancers' network interfaces.

Only those groups are read (never the whole account). They are selected with the ``group-id``
filter (≤ 200 values per call) rather than ``GroupIds``: a group deleted since the load balancer
was read would make a ``GroupIds`` call fail as a whole, the filter simply leaves it out. Prefix lists
are read the same way (``prefix-list-id`` filter), then each one's entries with
``GetManagedPrefixListEntries`` (DescribeManagedPrefixLists returns no CIDRs:
https://docs.aws.amazon.com/vpc/latest/userguide/working-with-managed-prefix-lists.html). A list that
cannot be read keeps ``cidrs = None``: rules treat what it admits as unknown, never as nothing.

Public IPv4 addresses are billed per address-hour (https://aws.amazon.com/vpc/pricing/); an ALB holds one per
node and the count grows as it scales, so they are counted on the load balancer's network interfaces
(``DescribeNetworkInterfaces`` filtered on their ``description``, ``ELB app/<name>/<id>``, ``ELB net/...``,
``ELB <name>`` for Classic; ≤ 200 values per call) rather than assumed per Availability Zone.

Subnets are read by the ``subnet-id`` filter as well (a subnet that is gone is simply not returned).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from auditor.collect.aws.base import CollectorContext, actions_of, chunked, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import LoadBalancer, ManagedPrefixList, SecurityGroup, SecurityGroupPermission, Subnet

NAME = "ec2"
SERVICE = "ec2"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.EC2_SECURITY_GROUPS: ("ec2:DescribeSecurityGroups",),
    Facet.EC2_PREFIX_LISTS: ("ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries"),
    Facet.EC2_NETWORK_INTERFACES: ("ec2:DescribeNetworkInterfaces",),
    Facet.EC2_SUBNETS: ("ec2:DescribeSubnets",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

IDS_PER_CALL = 200  # filter values per call
PAGE_SIZE = 1000  # DescribeSecurityGroups MaxResults maximum
PREFIX_LIST_PAGE_SIZE = 100  # DescribeManagedPrefixLists and GetManagedPrefixListEntries MaxResults maximum
ENI_PAGE_SIZE = 1000  # DescribeNetworkInterfaces MaxResults maximum


@dataclass
class Ec2Result:
    security_groups: list[SecurityGroup] = field(default_factory=list)
    prefix_lists: list[ManagedPrefixList] = field(default_factory=list)
    # load balancer ARN -> public IPv4 addresses on its network interfaces (only those with interfaces found)
    public_ipv4: dict[str, int] = field(default_factory=dict)
    subnets: list[Subnet] = field(default_factory=list)


def collect(
    ctx: CollectorContext,
    group_ids: Iterable[str],
    load_balancers: Iterable[LoadBalancer] = (),
    subnet_ids: Iterable[str] = (),
) -> Ec2Result:
    """What the selected rules need of these (a facet no selected rule needs is not read: coverage SKIPPED)."""
    client = ctx.client(SERVICE)
    result = Ec2Result()
    if ctx.wants(Facet.EC2_SUBNETS):
        result.subnets = _subnets(ctx, client, sorted(set(subnet_ids)))
    if ctx.wants(Facet.EC2_SECURITY_GROUPS) or ctx.wants(Facet.EC2_PREFIX_LISTS):
        result.security_groups, result.prefix_lists = _security_groups(ctx, client, sorted(set(group_ids)))
    if ctx.wants(Facet.EC2_NETWORK_INTERFACES):
        result.public_ipv4 = _public_ipv4(ctx, client, list(load_balancers))
    return result


def _subnets(ctx: CollectorContext, client: Any, ids: list[str]) -> list[Subnet]:
    """The subnets of ``ids`` that exist; a failed call is a problem of the subnets facet (the others go on)."""
    found: list[Subnet] = []
    for chunk in chunked(ids, IDS_PER_CALL):
        filters = [{"Name": "subnet-id", "Values": chunk}]
        try:
            for page in pages(client, "DescribeSubnets", page_size=PAGE_SIZE, Filters=filters):
                found.extend(
                    Subnet(
                        id=raw["SubnetId"],
                        account=ctx.account,
                        region=ctx.region,
                        vpc_id=raw.get("VpcId"),
                        cidr_block=raw.get("CidrBlock"),
                        ipv6_cidr_blocks=[
                            a["Ipv6CidrBlock"]
                            for a in raw.get("Ipv6CidrBlockAssociationSet", [])
                            if a.get("Ipv6CidrBlock")
                        ],
                    )
                    for raw in page.get("Subnets", [])
                )
        except CollectionError as exc:
            ctx.problem(f"DescribeSubnets of {len(chunk)} subnets", exc, facet=Facet.EC2_SUBNETS)
    if found:
        ctx.count("subnets", len(found))
    return found


def _security_groups(
    ctx: CollectorContext, client: Any, wanted: list[str]
) -> tuple[list[SecurityGroup], list[ManagedPrefixList]]:
    groups: list[SecurityGroup] = []
    for chunk in chunked(wanted, IDS_PER_CALL):
        filters = [{"Name": "group-id", "Values": chunk}]
        for page in pages(client, "DescribeSecurityGroups", page_size=PAGE_SIZE, Filters=filters):
            groups.extend(_group(ctx, raw) for raw in page.get("SecurityGroups", []))
    ctx.count("security groups", len(groups))
    referenced = sorted({pl for g in groups for perm in g.ingress for pl in perm.prefix_list_ids})
    prefix_lists = _prefix_lists(ctx, client, referenced) if referenced and ctx.wants(Facet.EC2_PREFIX_LISTS) else []
    if prefix_lists:
        ctx.count("prefix lists", len(prefix_lists))
    return groups, prefix_lists


def eni_description(lb: LoadBalancer) -> str:
    """The description ELB gives a load balancer's network interfaces: ``ELB app/<name>/<id>``, ``ELB <name>``."""
    if lb.type == "classic":
        return f"ELB {lb.name}"
    return "ELB " + lb.arn.split(":loadbalancer/", 1)[-1]


def _public_ipv4(ctx: CollectorContext, client: Any, load_balancers: list[LoadBalancer]) -> dict[str, int]:
    """Load balancer ARN -> distinct public IPv4 addresses on its interfaces (internet-facing ones only)."""
    by_description = {eni_description(lb): lb.arn for lb in load_balancers if lb.is_public}
    addresses: dict[str, set[str]] = {}
    for chunk in chunked(sorted(by_description), IDS_PER_CALL):
        filters = [{"Name": "description", "Values": chunk}]
        try:
            for page in pages(client, "DescribeNetworkInterfaces", page_size=ENI_PAGE_SIZE, Filters=filters):
                for eni in page.get("NetworkInterfaces", []):
                    arn = by_description.get(eni.get("Description", ""))
                    if arn is None:
                        continue
                    found = addresses.setdefault(arn, set())
                    if ip := eni.get("Association", {}).get("PublicIp"):
                        found.add(ip)
                    for private in eni.get("PrivateIpAddresses", []):
                        if ip := private.get("Association", {}).get("PublicIp"):
                            found.add(ip)
        except CollectionError as exc:
            what = f"DescribeNetworkInterfaces of {len(chunk)} load balancers"
            ctx.problem(what, exc, facet=Facet.EC2_NETWORK_INTERFACES)
    if addresses:
        ctx.count("load balancer network interfaces", len(addresses))
    return {arn: len(ips) for arn, ips in addresses.items()}


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


# --------------------------------------------------------------------------- managed prefix lists


def _prefix_lists(ctx: CollectorContext, client: Any, ids: list[str]) -> list[ManagedPrefixList]:
    """Every referenced prefix list, described and with its entries; one that could not be read has cidrs None."""
    found: dict[str, ManagedPrefixList] = {}
    unread: set[str] = set()  # ids of a failed DescribeManagedPrefixLists call (already a problem)
    for chunk in chunked(ids, IDS_PER_CALL):
        filters = [{"Name": "prefix-list-id", "Values": chunk}]
        try:
            for page in pages(client, "DescribeManagedPrefixLists", page_size=PREFIX_LIST_PAGE_SIZE, Filters=filters):
                for raw in page.get("PrefixLists", []):
                    pl = _described(ctx, raw)
                    found[pl.id] = pl
        except CollectionError as exc:
            ctx.problem(f"DescribeManagedPrefixLists of {len(chunk)} prefix lists", exc, facet=Facet.EC2_PREFIX_LISTS)
            unread.update(i for i in chunk if i not in found)
    described = [found[i] for i in ids if i in found]
    ctx.fan_out.map(lambda pl: _entries(ctx, client, pl), described)
    for missing in (i for i in ids if i not in found):
        found[missing] = ManagedPrefixList(id=missing, account=ctx.account, region=ctx.region)
        if missing in unread:
            continue
        # Not visible to this account (deleted, or a list shared through RAM that is no longer shared):
        # a rule still refers to it, so what it admits is unknown.
        not_found = CollectionError(
            f"prefix list {missing} is referenced by a security group but not visible",
            service=SERVICE,
            operation="DescribeManagedPrefixLists",
            code="InvalidPrefixListID.NotFound",
        )
        ctx.problem(f"prefix list {missing}", not_found, facet=Facet.EC2_PREFIX_LISTS)
    return [found[i] for i in ids]


def _described(ctx: CollectorContext, raw: dict[str, Any]) -> ManagedPrefixList:
    return ManagedPrefixList(
        id=raw["PrefixListId"],
        account=ctx.account,
        region=ctx.region,
        name=raw.get("PrefixListName"),
        address_family=raw.get("AddressFamily"),
        owner_id=raw.get("OwnerId"),
    )


def _entries(ctx: CollectorContext, client: Any, pl: ManagedPrefixList) -> None:
    """The list's current entries (the latest version); on failure its cidrs stay None."""
    cidrs: list[str] = []
    try:
        for page in pages(client, "GetManagedPrefixListEntries", page_size=PREFIX_LIST_PAGE_SIZE, PrefixListId=pl.id):
            cidrs.extend(e["Cidr"] for e in page.get("Entries", []) if e.get("Cidr"))
    except CollectionError as exc:
        ctx.problem(f"GetManagedPrefixListEntries of {pl.id}", exc, facet=Facet.EC2_PREFIX_LISTS)
        return
    pl.cidrs = cidrs
