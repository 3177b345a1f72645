"""Hand-built AuditResults for store, API and scheduler tests (the shape the pipeline returns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditor.findings import (
    AuditResult,
    CostShareView,
    Finding,
    KubeRef,
    LoadBalancerView,
    OwnerView,
    Severity,
    Status,
)
from auditor.inventory.models import Coverage, CoverageStatus

T0 = datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/k8s-shop-web/1"
ARN2 = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/k8s-pay-api/2"


def finding(
    rule: str = "alb-http-no-redirect",
    *,
    status: Status = Status.FAIL,
    severity: Severity = Severity.HIGH,
    arn: str = ARN,
    namespace: str = "shop",
    name: str = "web",
    saving: float | None = None,
) -> Finding:
    return Finding(
        rule_id=rule,
        title=f"{rule} title",
        severity=severity,
        status=status,
        message=f"{rule} on {name}",
        resource_arn=arn,
        resource_name=arn.rsplit("/", 2)[-2],
        account="123456789012",
        region="eu-west-1",
        kubernetes=KubeRef(kind="Ingress", namespace=namespace, name=name),
        remediation="add alb.ingress.kubernetes.io/ssl-redirect: '443'",
        monthly_saving_usd=saving,
    )


def lb(
    arn: str = ARN, *, orphan: str | None = None, type_: str = "application", cost: float | None = 22.0
) -> LoadBalancerView:
    return LoadBalancerView(
        arn=arn,
        name=arn.rsplit("/", 2)[-2],
        type=type_,
        scheme="internet-facing",
        dns_name="x.elb.amazonaws.com",
        region="eu-west-1",
        account="123456789012",
        owner=None if orphan else OwnerView(kind="Ingress", namespace="shop", name="web"),
        controller="lbc",
        orphan=orphan,
        monthly_cost_usd=cost,
        cost_shares=[]
        if cost is None
        else [
            CostShareView(
                owner="(no owner)" if orphan else "Ingress shop/web",
                namespace="(no namespace)" if orphan else "shop",
                cluster="prod-eks",
                team="(no team)" if orphan else "storefront",
                monthly_usd=cost,
                method="unowned" if orphan else "sole-owner",
            )
        ],
    )


def result(
    findings: list[Finding],
    *,
    n: int = 0,
    status: str = "complete",
    load_balancers: list[LoadBalancerView] | None = None,
    target: str = "prod",
) -> AuditResult:
    started = T0 + timedelta(hours=n)
    coverage = [
        Coverage(
            source="aws",
            collector="elbv2",
            account="123456789012",
            region="eu-west-1",
            status=CoverageStatus.OK if status == "complete" else CoverageStatus.ERROR,
            calls=3,
        ),
    ]
    return AuditResult(
        target=target,
        cluster_name=target,
        started_at=started,
        finished_at=started + timedelta(seconds=5),
        findings=findings,
        load_balancers=load_balancers if load_balancers is not None else [lb()],
        coverage=coverage,
        api_calls={"elasticloadbalancing:DescribeLoadBalancers": 1, "sts:GetCallerIdentity": 1},
        status=status,  # type: ignore[arg-type]
    )
