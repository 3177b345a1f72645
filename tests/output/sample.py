"""A realistic audit result built in code: load balancers, findings of every status/severity, a coverage error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auditor.findings import AuditResult, Finding, KubeRef, ListenerView, LoadBalancerView, OwnerView, Severity, Status
from auditor.inventory.models import Coverage, CoverageStatus

ACCOUNT = "123456789012"
REGION = "eu-west-1"
STARTED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def lb_arn(kind: str, name: str, lb_id: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{kind}/{name}/{lb_id}"


WEB_ALB = lb_arn("app", "k8s-shop-web-1a2b3c4d5e", "50dc6c495c0c9188")
API_NLB = lb_arn("net", "k8s-shop-api-9f8e7d6c5b", "a1b2c3d4e5f60718")
ORPHAN_ALB = lb_arn("app", "k8s-legacy-old-0000000000", "deadbeefdeadbeef")
WEB_LISTENER = WEB_ALB.replace(":loadbalancer/", ":listener/") + "/1234abcd5678ef90"
HOSTILE_MESSAGE = 'Annotation value "<script>alert(1)</script>" | breaks "tables" & <b>markup</b>'
HOSTILE_TITLE = 'TLS "policy" onmouseover="alert(1)" <img src=x>'
HOSTILE_ANNOTATION = 'alb.ingress.kubernetes.io/actions.x: \'{"Type":"redirect","x":"a\\"b"}\''


def load_balancers() -> list[LoadBalancerView]:
    return [
        LoadBalancerView(
            arn=WEB_ALB,
            name="k8s-shop-web-1a2b3c4d5e",
            type="application",
            scheme="internet-facing",
            dns_name="k8s-shop-web-1a2b3c4d5e-123.eu-west-1.elb.amazonaws.com",
            region=REGION,
            account=ACCOUNT,
            owner=OwnerView(kind="Ingress", namespace="shop", name="web"),
            owner_evidence="stack-tag",
            cluster="prod",
            controller="lbc",
            listeners=[
                ListenerView(port=80, protocol="HTTP", default_action="forward"),
                ListenerView(
                    port=443,
                    protocol="HTTPS",
                    ssl_policy="ELBSecurityPolicy-2016-08",
                    certificate_arns=[f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/abc"],
                    default_action="forward",
                ),
            ],
            monthly_cost_usd=22.51,
            cost_basis="hours + LCU",
        ),
        LoadBalancerView(
            arn=API_NLB,
            name="k8s-shop-api-9f8e7d6c5b",
            type="network",
            scheme="internal",
            dns_name="k8s-shop-api-9f8e7d6c5b-456.elb.eu-west-1.amazonaws.com",
            region=REGION,
            account=ACCOUNT,
            owner=OwnerView(kind="Service", namespace="shop", name="api"),
            cluster="prod",
            controller="lbc",
            listeners=[ListenerView(port=443, protocol="TLS")],
            monthly_cost_usd=None,
        ),
        LoadBalancerView(
            arn=ORPHAN_ALB,
            name="k8s-legacy-old-0000000000",
            type="application",
            scheme="internet-facing",
            dns_name="k8s-legacy-old-0000000000-789.eu-west-1.elb.amazonaws.com",
            region=REGION,
            account=ACCOUNT,
            owner=OwnerView(kind="Ingress", namespace="legacy", name="old"),
            cluster="prod",
            controller="lbc",
            orphan="owner-gone",
            listeners=[],
            monthly_cost_usd=18.4,
        ),
    ]


def finding(
    rule_id: str,
    severity: Severity,
    status: Status,
    message: str,
    *,
    arn: str | None = WEB_ALB,
    kube: KubeRef | None = None,
    remediation: str = "",
    discriminator: str = "",
    title: str | None = None,
) -> Finding:
    return Finding(
        rule_id=rule_id,
        title=title or f"Title of {rule_id}",
        severity=severity,
        status=status,
        message=message,
        resource_arn=arn,
        account=ACCOUNT,
        region=REGION,
        kubernetes=kube,
        remediation=remediation,
        discriminator=discriminator,
        evidence={"checked": rule_id},
    )


WEB = KubeRef(kind="Ingress", namespace="shop", name="web")
API = KubeRef(kind="Service", namespace="shop", name="api")


def findings() -> list[Finding]:
    return [
        finding(
            "EXP001",
            Severity.CRITICAL,
            Status.FAIL,
            "Admin paths of Ingress shop/web are reachable from 0.0.0.0/0.",
            kube=WEB,
            remediation="Set alb.ingress.kubernetes.io/inbound-cidrs: 10.0.0.0/8 on Ingress shop/web.",
        ),
        finding(
            "TLS001",
            Severity.HIGH,
            Status.FAIL,
            "HTTP listener on port 80 forwards traffic without redirecting to HTTPS.",
            arn=WEB_LISTENER,  # owner comes from the load balancer the listener belongs to
            remediation="Add alb.ingress.kubernetes.io/ssl-redirect: '443' to Ingress shop/web.",
            discriminator="80",
        ),
        finding(
            "TLS002",
            Severity.MEDIUM,
            Status.FAIL,
            HOSTILE_MESSAGE,
            kube=WEB,
            remediation=HOSTILE_ANNOTATION,
            title=HOSTILE_TITLE,
        ),
        finding(
            "ORPH001",
            Severity.LOW,
            Status.FAIL,
            "Load balancer k8s-legacy-old-0000000000 outlived Ingress legacy/old.",
            arn=ORPHAN_ALB,
            remediation="Delete the load balancer: its Ingress no longer exists.",
        ),
        finding("INFO001", Severity.INFO, Status.FAIL, "NLB shop/api has no access logs.", arn=API_NLB, kube=API),
        finding(
            "WAF001",
            Severity.HIGH,
            Status.UNKNOWN,
            "wafv2 data was not collected in eu-west-1 (AccessDeniedException).",
            kube=WEB,
            remediation="Attach a WAF: alb.ingress.kubernetes.io/wafv2-acl-arn.",
        ),
        finding("TLS003", Severity.MEDIUM, Status.PASS, "Certificate is valid for 200 days.", kube=WEB),
    ]


def coverage() -> list[Coverage]:
    return [
        Coverage(source="aws", collector="elbv2", account=ACCOUNT, region=REGION, status=CoverageStatus.OK, calls=7),
        Coverage(
            source="aws",
            collector="wafv2",
            account=ACCOUNT,
            region=REGION,
            status=CoverageStatus.ERROR,
            error_code="AccessDeniedException",
            message="User is not authorized to perform wafv2:ListWebACLs",
        ),
        Coverage(source="kubernetes", collector="kubernetes", status=CoverageStatus.OK, calls=12),
    ]


def audit_result(**overrides: object) -> AuditResult:
    data: dict[str, object] = {
        "target": "prod",
        "cluster_name": "prod",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(seconds=42),
        "load_balancers": load_balancers(),
        "findings": findings(),
        "coverage": coverage(),
        "api_calls": {"elasticloadbalancing:DescribeLoadBalancers": 1},
        "status": "partial",
    }
    data.update(overrides)
    return AuditResult.model_validate(data)
