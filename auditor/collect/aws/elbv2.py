"""Application, Network and Gateway load balancers: listeners, certificates, rules, target groups, health.

A TLS listener's certificates: DescribeListeners gives only the default one; the SNI ones come from ACM's
in-use lists where that answer is unambiguous (``certificates_from_in_use``: about one DescribeCertificate
per certificate in use instead of one DescribeListenerCertificates per TLS listener), else from
DescribeListenerCertificates.

Target health costs one call per target group only where it must: CloudWatch's HealthyHostCount of all of them
comes first, in one GetMetricData call per 500 (``cloudwatch.healthy_host_counts``), and a group it shows with a
healthy target in the last minutes keeps that count (``TargetGroup.healthy_count``) instead of being described.
Every other group — no data point, no healthy target, not the group of exactly one ALB or NLB, lambda or alb
targets — is described with DescribeTargetHealth as before, so the states and reasons of unhealthy targets are
read. When GetMetricData fails, every group is described: the facet is read completely either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from auditor.collect.aws import acm, cloudwatch
from auditor.collect.aws.acm import AcmReading
from auditor.collect.aws.base import CollectorContext, actions_of, call, describe_tags, pages
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet, attributes_scope
from auditor.inventory.models import (
    Action,
    Listener,
    ListenerRule,
    LoadBalancer,
    RedirectConfig,
    RuleCondition,
    TargetGroup,
    TargetHealth,
)

NAME = "elbv2"
SERVICE = "elbv2"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.ELBV2_LOAD_BALANCERS: ("elasticloadbalancing:DescribeLoadBalancers",),
    Facet.ELBV2_TAGS: ("elasticloadbalancing:DescribeTags",),
    Facet.ELBV2_LISTENERS: ("elasticloadbalancing:DescribeListeners",),
    Facet.ELBV2_LISTENER_CERTIFICATES: (
        "elasticloadbalancing:DescribeListenerCertificates",
        # which load balancers serve which certificate (acm.served_by): SNI without a call per listener
        "acm:ListCertificates",
        "acm:DescribeCertificate",
        "iam:ListServerCertificates",
    ),
    Facet.ELBV2_LISTENER_RULES: ("elasticloadbalancing:DescribeRules",),
    Facet.ELBV2_TARGET_GROUPS: ("elasticloadbalancing:DescribeTargetGroups",),
    # HealthyHostCount first, DescribeTargetHealth for the groups it does not show healthy
    Facet.ELBV2_TARGET_HEALTH: ("cloudwatch:GetMetricData", "elasticloadbalancing:DescribeTargetHealth"),
    Facet.ELBV2_ATTRIBUTES: ("elasticloadbalancing:DescribeLoadBalancerAttributes",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

PAGE_SIZE = 400  # the API maximum for DescribeLoadBalancers/Listeners/Rules/TargetGroups
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
_LB_TYPES = ("application", "network", "gateway")


@dataclass
class Elbv2Result:
    load_balancers: list[LoadBalancer] = field(default_factory=list)
    target_groups: list[TargetGroup] = field(default_factory=list)
    acm: AcmReading | None = None  # what was read of ACM for the SNI certificates (the acm collector reuses it)


def collect(ctx: CollectorContext) -> Elbv2Result:
    """Everything about the v2 load balancers of one account/region; per-resource failures leave None."""
    client = ctx.client(SERVICE)
    raw_lbs = [
        lb for page in pages(client, "DescribeLoadBalancers", page_size=PAGE_SIZE) for lb in page["LoadBalancers"]
    ]
    raw_tgs = (
        [tg for page in pages(client, "DescribeTargetGroups", page_size=PAGE_SIZE) for tg in page["TargetGroups"]]
        if ctx.wants(Facet.ELBV2_TARGET_GROUPS)
        else []
    )

    # one batch for both kinds (DescribeTags takes any 20 elbv2 ARNs): one call fewer, all of them on the fan-out
    lb_tags = tg_tags = describe_tags(
        ctx,
        client,
        [lb["LoadBalancerArn"] for lb in raw_lbs] + [tg["TargetGroupArn"] for tg in raw_tgs],
        param="ResourceArns",
        key="ResourceArn",
        what="load balancers and target groups",
        facet=Facet.ELBV2_TAGS,
    )

    load_balancers = [_load_balancer(ctx, raw, lb_tags) for raw in raw_lbs]
    # which load balancers have target groups: some rules read listener rules only of those without
    with_tgs = {arn for tg in raw_tgs for arn in tg.get("LoadBalancerArns", [])}
    tgs_read = ctx.wants(Facet.ELBV2_TARGET_GROUPS)
    target_groups = [_target_group(ctx, raw, tg_tags) for raw in raw_tgs]

    def read_listeners() -> None:
        listeners = ctx.fan_out.map(
            lambda lb: _listeners(ctx, client, lb, (lb.arn in with_tgs) if tgs_read else None), load_balancers
        )
        for lb, found in zip(load_balancers, listeners, strict=True):
            lb.listeners = found

    # Listeners (and their rules) and target health side by side: health asks CloudWatch first, another API
    # with a bucket of its own. Unneeded, either stays None (not read): listeners with their rules, targets.
    jobs: list[Callable[[], None]] = []
    if ctx.wants(Facet.ELBV2_LISTENERS):
        jobs.append(read_listeners)
    if ctx.wants(Facet.ELBV2_TARGET_HEALTH):
        jobs.append(lambda: _target_health(ctx, client, target_groups, load_balancers))
    if ctx.wants(Facet.ELBV2_ATTRIBUTES):
        jobs.append(lambda: _read_attributes(ctx, client, load_balancers))
    ctx.fan_out.map(lambda job: job(), jobs)
    reading = None
    if ctx.wants(Facet.ELBV2_LISTENER_CERTIFICATES):
        reading = _listener_certificates(ctx, client, load_balancers)

    ctx.count("load balancers", len(load_balancers))
    ctx.count("target groups", len(target_groups))
    return Elbv2Result(load_balancers=load_balancers, target_groups=target_groups, acm=reading)


def _load_balancer(ctx: CollectorContext, raw: dict[str, Any], tags: dict[str, dict[str, str]]) -> LoadBalancer:
    # The type comes from the API's Type field, never from the ARN (moto gives NLBs app/ ARNs).
    lb_type = raw.get("Type", "application")
    if lb_type not in _LB_TYPES:
        lb_type = "application"
    return LoadBalancer(
        arn=raw["LoadBalancerArn"],
        name=raw["LoadBalancerName"],
        type=cast(Literal["application", "network", "gateway"], lb_type),
        scheme="internal" if raw.get("Scheme") == "internal" else "internet-facing",
        dns_name=raw.get("DNSName", ""),
        account=ctx.account,
        region=ctx.region,
        vpc_id=raw.get("VpcId"),
        state=(raw.get("State") or {}).get("Code"),
        created_at=raw.get("CreatedTime"),
        ip_address_type=raw.get("IpAddressType"),
        availability_zones=[az["ZoneName"] for az in raw.get("AvailabilityZones", []) if az.get("ZoneName")],
        security_group_ids=list(raw.get("SecurityGroups", [])),
        subnet_ids=[az["SubnetId"] for az in raw.get("AvailabilityZones", []) if az.get("SubnetId")],
        tags=tags.get(raw["LoadBalancerArn"]),
    )


def _listeners(
    ctx: CollectorContext, client: Any, lb: LoadBalancer, has_target_groups: bool | None
) -> list[Listener] | None:
    """The load balancer's listeners; the rules of those some selected rule reads (``wants_rules_of``: the
    others stay None, not read). A TLS listener's ``certificate_arns`` holds its default certificate only, until
    ``_listener_certificates`` adds the SNI ones (None when they are not wanted)."""
    try:
        raw = [
            listener
            for page in pages(client, "DescribeListeners", page_size=PAGE_SIZE, LoadBalancerArn=lb.arn)
            for listener in page["Listeners"]
        ]
    except CollectionError as exc:
        ctx.problem(f"DescribeListeners of {lb.name}", exc, facet=Facet.ELBV2_LISTENERS)
        return None
    listeners = []
    for item in raw:
        listener = Listener(
            arn=item["ListenerArn"],
            port=int(item.get("Port", 0)),
            protocol=item.get("Protocol", ""),
            # only HTTPS/TLS listeners negotiate TLS (moto reports a policy on plain ones too)
            ssl_policy=item.get("SslPolicy") if item.get("Protocol") in TLS_PROTOCOLS else None,
            certificate_arns=[],
            default_actions=[_action(a) for a in item.get("DefaultActions", [])],
        )
        if listener.protocol in TLS_PROTOCOLS:
            listener.certificate_arns = (
                list(dict.fromkeys(c["CertificateArn"] for c in item.get("Certificates", []) if "CertificateArn" in c))
                if ctx.wants(Facet.ELBV2_LISTENER_CERTIFICATES)
                else None
            )
        if lb.type == "application" and ctx.wants_rules_of(lb, listener, has_target_groups):
            listener.rules = _rules(ctx, client, listener)
        listeners.append(listener)
    return listeners


def _read_attributes(ctx: CollectorContext, client: Any, lbs: list[LoadBalancer]) -> None:
    """The attributes of the load balancers a rule judges by them (``attributes_scope``: internet-facing ALBs), one
    call each: the API takes one load balancer per call. Where the call fails they stay None (not read)."""
    public_albs = [lb for lb in lbs if attributes_scope(lb)]

    def read(lb: LoadBalancer) -> None:
        try:
            answer = call(client, "DescribeLoadBalancerAttributes", LoadBalancerArn=lb.arn)
        except CollectionError as exc:
            ctx.problem(f"DescribeLoadBalancerAttributes of {lb.name}", exc, facet=Facet.ELBV2_ATTRIBUTES)
            return
        lb.attributes = {
            str(a["Key"]): str(a.get("Value", "")) for a in answer.get("Attributes", []) if a.get("Key") is not None
        }

    ctx.fan_out.map(read, public_albs)
    ctx.count("load balancers read for attributes", len(public_albs))


def _listener_certificates(ctx: CollectorContext, client: Any, lbs: list[LoadBalancer]) -> acm.AcmReading | None:
    """Every TLS listener's certificates, default first: from ACM's in-use lists where unambiguous, else (and
    for every listener when those lists could not be read whole) from DescribeListenerCertificates."""
    tls = {
        lb.arn: [
            listener
            for listener in lb.listeners or []
            if listener.protocol in TLS_PROTOCOLS and listener.certificate_arns is not None
        ]
        for lb in lbs
    }
    tls = {arn: listeners for arn, listeners in tls.items() if listeners}
    if not tls:
        return None
    found = acm.served_by(ctx)
    serving, reading = found if found is not None else ({}, None)
    todo: list[Listener] = []
    for lb_arn, listeners in tls.items():
        if found is None:
            todo.extend(listeners)
            continue
        resolved = certificates_from_in_use(
            [listener.certificate_arns or [] for listener in listeners], serving.get(lb_arn, set())
        )
        for listener, certs in zip(listeners, resolved, strict=True):
            if certs is None:
                todo.append(listener)
            else:
                listener.certificate_arns = certs

    def read(listener: Listener) -> None:
        listener.certificate_arns = _certificates(ctx, client, listener)

    ctx.fan_out.map(read, todo)
    ctx.count("listeners read for SNI certificates", len(todo))
    return reading


def certificates_from_in_use(defaults: list[list[str]], served: set[str]) -> list[list[str] | None]:
    """Each TLS listener's certificates (default first, then the SNI ones sorted) from what its load balancer
    serves (``served``: every certificate whose InUseBy names it); None where that does not decide.

    ``defaults``: each TLS listener's default certificate(s), from DescribeListeners. A certificate the load
    balancer serves beyond a listener's defaults is an SNI certificate of some TLS listener: of this one if it
    is the only TLS listener, else not known which (that listener's certificates are read instead). A listener
    whose defaults already hold everything the load balancer serves has no SNI certificate.
    """
    resolved: list[list[str] | None] = []
    for own in defaults:
        extra = sorted(served - set(own))
        if not extra:
            resolved.append(list(own))
        elif len(defaults) == 1:
            resolved.append([*own, *extra])
        else:
            resolved.append(None)
    return resolved


def _certificates(ctx: CollectorContext, client: Any, listener: Listener) -> list[str] | None:
    """Default certificate first, then the SNI ones (DescribeListeners only shows the default)."""
    try:
        certs = [
            cert
            for page in pages(client, "DescribeListenerCertificates", ListenerArn=listener.arn)
            for cert in page.get("Certificates", [])
        ]
    except CollectionError as exc:
        ctx.problem(f"DescribeListenerCertificates of {listener.arn}", exc, facet=Facet.ELBV2_LISTENER_CERTIFICATES)
        return None
    ordered = sorted(certs, key=lambda c: not c.get("IsDefault", False))  # stable: SNI order kept
    arns: list[str] = []
    for cert in ordered:
        if cert["CertificateArn"] not in arns:
            arns.append(cert["CertificateArn"])
    return arns


def _rules(ctx: CollectorContext, client: Any, listener: Listener) -> list[ListenerRule] | None:
    try:
        raw = [
            rule
            for page in pages(client, "DescribeRules", page_size=PAGE_SIZE, ListenerArn=listener.arn)
            for rule in page.get("Rules", [])
        ]
    except CollectionError as exc:
        ctx.problem(f"DescribeRules of {listener.arn}", exc, facet=Facet.ELBV2_LISTENER_RULES)
        return None
    return [
        ListenerRule(
            arn=rule["RuleArn"],
            priority=str(rule.get("Priority", "")),
            is_default=bool(rule.get("IsDefault", False)),
            conditions=[_condition(c) for c in rule.get("Conditions", [])],
            actions=[_action(a) for a in rule.get("Actions", [])],
        )
        for rule in raw
    ]


def _condition(raw: dict[str, Any]) -> RuleCondition:
    field_name = raw.get("Field", "")
    values = list(raw.get("Values") or [])
    if not values:
        # The newer *Config shapes carry the values when the legacy Values list is empty.
        if "HostHeaderConfig" in raw:
            values = list(raw["HostHeaderConfig"].get("Values", []))
        elif "PathPatternConfig" in raw:
            values = list(raw["PathPatternConfig"].get("Values", []))
        elif "HttpHeaderConfig" in raw:
            header = raw["HttpHeaderConfig"]
            values = [f"{header.get('HttpHeaderName', '')}: {v}" for v in header.get("Values", [])]
        elif "QueryStringConfig" in raw:
            values = [
                f"{kv.get('Key', '')}={kv.get('Value', '')}" if kv.get("Key") else str(kv.get("Value", ""))
                for kv in raw["QueryStringConfig"].get("Values", [])
            ]
        elif "HttpRequestMethodConfig" in raw:
            values = list(raw["HttpRequestMethodConfig"].get("Values", []))
        elif "SourceIpConfig" in raw:
            values = list(raw["SourceIpConfig"].get("Values", []))
    return RuleCondition(field=field_name, values=values)


def _action(raw: dict[str, Any]) -> Action:
    target_groups: list[str] = []
    if raw.get("TargetGroupArn"):
        target_groups.append(raw["TargetGroupArn"])
    for tg in (raw.get("ForwardConfig") or {}).get("TargetGroups", []):
        if tg.get("TargetGroupArn") and tg["TargetGroupArn"] not in target_groups:
            target_groups.append(tg["TargetGroupArn"])
    redirect = raw.get("RedirectConfig")
    return Action(
        type=raw.get("Type", ""),
        order=raw.get("Order"),
        target_group_arns=target_groups,
        redirect=RedirectConfig(
            protocol=redirect.get("Protocol"),
            port=redirect.get("Port"),
            host=redirect.get("Host"),
            path=redirect.get("Path"),
            query=redirect.get("Query"),
            status_code=redirect.get("StatusCode"),
        )
        if redirect
        else None,
        fixed_response_status=(raw.get("FixedResponseConfig") or {}).get("StatusCode"),
    )


def _target_group(ctx: CollectorContext, raw: dict[str, Any], tags: dict[str, dict[str, str]]) -> TargetGroup:
    return TargetGroup(
        arn=raw["TargetGroupArn"],
        name=raw["TargetGroupName"],
        account=ctx.account,
        region=ctx.region,
        protocol=raw.get("Protocol"),
        port=raw.get("Port"),
        target_type=raw.get("TargetType") or "instance",
        vpc_id=raw.get("VpcId"),
        load_balancer_arns=list(dict.fromkeys(raw.get("LoadBalancerArns", []))),
        health_check_path=raw.get("HealthCheckPath"),
        health_check_port=raw.get("HealthCheckPort"),
        tags=tags.get(raw["TargetGroupArn"]),
    )


def _target_health(
    ctx: CollectorContext, client: Any, target_groups: list[TargetGroup], load_balancers: list[LoadBalancer]
) -> None:
    """Each group's health: CloudWatch's count where it shows a healthy target, DescribeTargetHealth elsewhere."""
    counted = cloudwatch.healthy_host_counts(ctx, target_groups, load_balancers)
    described: list[TargetGroup] = []
    for tg in target_groups:
        seen = counted.get(tg.arn)
        if seen is not None and seen.shows_healthy:
            tg.healthy_count, tg.healthy_count_at = seen.count, seen.at
        else:
            described.append(tg)
    ctx.fan_out.map(lambda tg: _describe_health(ctx, client, tg), described)
    ctx.count("target groups healthy by CloudWatch", len(target_groups) - len(described))


def _describe_health(ctx: CollectorContext, client: Any, tg: TargetGroup) -> None:
    try:
        health = call(client, "DescribeTargetHealth", TargetGroupArn=tg.arn)
    except CollectionError as exc:
        ctx.problem(f"DescribeTargetHealth of {tg.name}", exc, facet=Facet.ELBV2_TARGET_HEALTH)
        return
    tg.targets = [
        TargetHealth(
            id=desc["Target"]["Id"],
            port=desc["Target"].get("Port"),
            state=(desc.get("TargetHealth") or {}).get("State", "unknown"),
            reason=(desc.get("TargetHealth") or {}).get("Reason"),
            description=(desc.get("TargetHealth") or {}).get("Description"),
        )
        for desc in health.get("TargetHealthDescriptions", [])
    ]
