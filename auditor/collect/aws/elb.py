"""Classic load balancers: listeners with their TLS security policy, tags and instance health.

Instance health as for target groups (``auditor.collect.aws.elbv2``): CloudWatch's HealthyHostCount of every
Classic load balancer with registered instances first, one GetMetricData call per 500; DescribeInstanceHealth
only for those it does not show with an InService instance (their states and reasons are read), or for all of
them when that call fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from auditor.collect.aws import cloudwatch
from auditor.collect.aws.base import CollectorContext, actions_of, call, describe_tags, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet, attributes_scope
from auditor.inventory.models import Listener, LoadBalancer, TargetHealth

NAME = "elb"
SERVICE = "elb"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.ELB_LOAD_BALANCERS: ("elasticloadbalancing:DescribeLoadBalancers",),
    Facet.ELB_TAGS: ("elasticloadbalancing:DescribeTags",),
    # HealthyHostCount first, DescribeInstanceHealth for the load balancers it does not show healthy
    Facet.ELB_INSTANCE_HEALTH: ("cloudwatch:GetMetricData", "elasticloadbalancing:DescribeInstanceHealth"),
    Facet.ELB_POLICIES: ("elasticloadbalancing:DescribeLoadBalancerPolicies",),
    Facet.ELB_ATTRIBUTES: ("elasticloadbalancing:DescribeLoadBalancerAttributes",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

PAGE_SIZE = 400  # the API maximum
TLS_PROTOCOLS = frozenset({"HTTPS", "SSL"})
SSL_POLICY_TYPE = "SSLNegotiationPolicyType"
REFERENCE_ATTRIBUTE = "Reference-Security-Policy"
PROTOCOL_ATTRIBUTE = "Protocol-"  # Protocol-SSLv3, Protocol-TLSv1, Protocol-TLSv1.1, Protocol-TLSv1.2: "true" / "false"


def collect(ctx: CollectorContext) -> list[LoadBalancer]:
    client = ctx.client(SERVICE)
    raw = [
        lb
        for page in pages(client, "DescribeLoadBalancers", page_size=PAGE_SIZE)
        for lb in page.get("LoadBalancerDescriptions", [])
    ]
    tags = describe_tags(
        ctx,
        client,
        [lb["LoadBalancerName"] for lb in raw],
        param="LoadBalancerNames",
        key="LoadBalancerName",
        what="classic load balancers",
        facet=Facet.ELB_TAGS,
    )
    counted: dict[str, cloudwatch.HealthyHosts] = {}
    if ctx.wants(Facet.ELB_INSTANCE_HEALTH):
        counted = cloudwatch.classic_healthy_host_counts(
            ctx, [lb["LoadBalancerName"] for lb in raw if lb.get("Instances")]
        )
    balancers = ctx.fan_out.map(lambda item: _load_balancer(ctx, client, item, tags, counted), raw)
    ctx.count("classic load balancers", len(balancers))
    ctx.count("healthy by CloudWatch", sum(1 for lb in balancers if lb.healthy_count))
    return balancers


def _load_balancer(
    ctx: CollectorContext,
    client: Any,
    raw: dict[str, Any],
    tags: dict[str, dict[str, str]],
    counted: dict[str, cloudwatch.HealthyHosts],
) -> LoadBalancer:
    name = raw["LoadBalancerName"]
    descriptions = raw.get("ListenerDescriptions", [])
    ssl_policies = _ssl_policies(ctx, client, name, descriptions)
    listeners = []
    for desc in descriptions:
        item = desc.get("Listener", {})
        protocol = str(item.get("Protocol", "")).upper()
        is_tls = protocol in TLS_PROTOCOLS
        policy: _SslPolicy | None = None
        if is_tls and ssl_policies is not None:
            policy = next((ssl_policies[p] for p in desc.get("PolicyNames", []) if p in ssl_policies), None)
        listeners.append(
            Listener(
                port=int(item.get("LoadBalancerPort", 0)),
                protocol=protocol,
                ssl_policy=policy.name if policy else None,
                ssl_protocols=policy.protocols if policy else None,
                certificate_arns=[item["SSLCertificateId"]] if is_tls and item.get("SSLCertificateId") else [],
                instance_port=item.get("InstancePort"),
                instance_protocol=item.get("InstanceProtocol"),
            )
        )
    seen = counted.get(name)  # only load balancers with registered instances were asked
    if seen is not None and not seen.shows_healthy:
        seen = None  # no InService instance by CloudWatch: described, for their states and reasons
    lb = LoadBalancer(
        # Classic load balancers have no ARN in the API; this is the one AWS uses in IAM and tagging.
        arn=ctx.arn("elasticloadbalancing", f"loadbalancer/{name}"),
        name=name,
        type="classic",
        scheme="internal" if raw.get("Scheme") == "internal" else "internet-facing",
        dns_name=raw.get("DNSName", ""),
        account=ctx.account,
        region=ctx.region,
        vpc_id=raw.get("VPCId"),
        created_at=raw.get("CreatedTime"),
        availability_zones=list(raw.get("AvailabilityZones", [])),
        security_group_ids=list(raw.get("SecurityGroups", [])),
        tags=tags.get(name),
        listeners=listeners,
        instances=None if seen is not None else _instances(ctx, client, name, raw),
        healthy_count=seen.count if seen is not None else None,
        healthy_count_at=seen.at if seen is not None else None,
    )
    if ctx.wants(Facet.ELB_ATTRIBUTES) and attributes_scope(lb):
        lb.attributes = _attributes(ctx, client, name)
    return lb


@dataclass(frozen=True)
class _SslPolicy:
    name: str  # the predefined security policy it references, else its own name
    protocols: list[str] | None  # the protocols its Protocol-* attributes enable; None when it states none


def _ssl_policies(
    ctx: CollectorContext, client: Any, name: str, descriptions: list[dict[str, Any]]
) -> dict[str, _SslPolicy] | None:
    """Policy name -> what it references and enables (one call per CLB with TLS)."""
    wanted = sorted(
        {
            policy
            for desc in descriptions
            if str(desc.get("Listener", {}).get("Protocol", "")).upper() in TLS_PROTOCOLS
            for policy in desc.get("PolicyNames", [])
        }
    )
    if not wanted:
        return {}
    if not ctx.wants(Facet.ELB_POLICIES):
        return None  # no selected rule judges TLS policies: not read
    try:
        answer = call(client, "DescribeLoadBalancerPolicies", LoadBalancerName=name, PolicyNames=wanted)
    except CollectionError as exc:
        ctx.problem(f"DescribeLoadBalancerPolicies of {name}", exc, facet=Facet.ELB_POLICIES)
        return None
    found: dict[str, _SslPolicy] = {}
    for policy in answer.get("PolicyDescriptions", []):
        if policy.get("PolicyTypeName") != SSL_POLICY_TYPE:
            continue
        attributes = {
            str(a.get("AttributeName")): str(a.get("AttributeValue"))
            for a in policy.get("PolicyAttributeDescriptions", [])
        }
        # A custom policy (no reference) is reported by its own name; what it enables is rated, not its name
        # (https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-security-policy-table.html).
        stated = {
            k.removeprefix(PROTOCOL_ATTRIBUTE): v for k, v in attributes.items() if k.startswith(PROTOCOL_ATTRIBUTE)
        }
        found[policy["PolicyName"]] = _SslPolicy(
            name=attributes.get(REFERENCE_ATTRIBUTE) or policy["PolicyName"],
            protocols=sorted(p for p, on in stated.items() if on.lower() == "true") if stated else None,
        )
    return found


def _attributes(ctx: CollectorContext, client: Any, name: str) -> dict[str, str] | None:
    """The AdditionalAttributes (``elb.http.desyncmitigationmode``) of a Classic load balancer a rule judges by them
    (``attributes_scope``); None when the call fails."""
    try:
        answer = call(client, "DescribeLoadBalancerAttributes", LoadBalancerName=name)
    except CollectionError as exc:
        ctx.problem(f"DescribeLoadBalancerAttributes of {name}", exc, facet=Facet.ELB_ATTRIBUTES)
        return None
    extra = (answer.get("LoadBalancerAttributes") or {}).get("AdditionalAttributes") or []
    return {str(a["Key"]): str(a.get("Value", "")) for a in extra if a.get("Key") is not None}


def _instances(ctx: CollectorContext, client: Any, name: str, raw: dict[str, Any]) -> list[TargetHealth] | None:
    if not raw.get("Instances"):
        return []  # nothing registered: no call needed
    if not ctx.wants(Facet.ELB_INSTANCE_HEALTH):
        return None  # no selected rule judges instance health: not read
    try:
        answer = call(client, "DescribeInstanceHealth", LoadBalancerName=name)
    except CollectionError as exc:
        ctx.problem(f"DescribeInstanceHealth of {name}", exc, facet=Facet.ELB_INSTANCE_HEALTH)
        return None
    return [
        TargetHealth(
            id=state["InstanceId"],
            state=state.get("State", "Unknown"),
            reason=state.get("ReasonCode"),
            description=state.get("Description"),
        )
        for state in answer.get("InstanceStates", [])
    ]
