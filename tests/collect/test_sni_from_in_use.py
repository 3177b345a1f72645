"""SNI certificates from ACM's in-use lists (issue #11): DescribeListenerCertificates only where they cannot decide.

Real moto server over HTTP; the demo's moto patch gives ``InUseBy`` as AWS keeps it (load balancer ARNs,
default and SNI certificates, current). Calls are counted on the wire by the product's own counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from auditor.collect.aws import collect_aws
from auditor.collect.aws.elbv2 import certificates_from_in_use
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer
from auditor.inventory.models import AwsInventory, CoverageStatus, Listener
from auditor.rules.selection import select
from tests.collect.test_aws_seed import REGION, moto_env, network, self_signed

# --------------------------------------------------------------------------- the decision (pure)


@pytest.mark.parametrize(
    ("defaults", "served", "expected"),
    [
        # one TLS listener: everything else its load balancer serves is its SNI
        ([["d"]], {"d", "b", "a"}, [["d", "a", "b"]]),
        ([["d"]], {"d"}, [["d"]]),
        # served lags behind or misses the default: the default still comes from DescribeListeners
        ([["d"]], set(), [["d"]]),
        # two TLS listeners sharing the default and nothing else served: no SNI anywhere
        ([["d"], ["d"]], {"d"}, [["d"], ["d"]]),
        # two listeners, a certificate beyond each one's default: which serves it is not known
        ([["d1"], ["d2"]], {"d1", "d2"}, [None, None]),
        ([["d"], ["d"]], {"d", "x"}, [None, None]),
        # a listener whose defaults already hold all that is served is decided; the other is not
        ([["d1", "d2"], ["d1"]], {"d1", "d2"}, [["d1", "d2"], None]),
    ],
)
def test_certificates_from_in_use(
    defaults: list[list[str]], served: set[str], expected: list[list[str] | None]
) -> None:
    assert certificates_from_in_use(defaults, served) == expected


# --------------------------------------------------------------------------- against moto


@dataclass
class Fleet:
    single: str  # ALB, one HTTPS listener with an SNI certificate
    single_listener: str
    double: str  # ALB, two HTTPS listeners with different defaults
    double_listeners: list[str]
    shared: str  # NLB, two TLS listeners with the same default, no SNI
    certs: dict[str, str]


def _seed() -> Fleet:
    net = network()
    acm = boto3.client("acm", region_name=REGION)
    certs = {}
    for name in ("a", "b", "c", "d", "unused"):
        cert, key = self_signed(f"{name}.example.com", [f"{name}.example.com"], days=60)
        certs[name] = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    elbv2 = boto3.client("elbv2", region_name=REGION)
    fixed: Any = [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}]

    def lb(name: str, kind: str = "application") -> str:
        return str(
            elbv2.create_load_balancer(Name=name, Subnets=net.subnets, Type=kind)["LoadBalancers"][0]["LoadBalancerArn"]
        )

    def listener(lb_arn: str, port: int, cert: str, protocol: str = "HTTPS", actions: Any = fixed) -> str:
        return str(
            elbv2.create_listener(
                LoadBalancerArn=lb_arn,
                Protocol=protocol,
                Port=port,
                Certificates=[{"CertificateArn": cert}],
                DefaultActions=actions,
            )["Listeners"][0]["ListenerArn"]
        )

    single = lb("single")
    single_listener = listener(single, 443, certs["a"])
    elbv2.add_listener_certificates(ListenerArn=single_listener, Certificates=[{"CertificateArn": certs["b"]}])
    double = lb("double")
    double_listeners = [listener(double, 443, certs["a"]), listener(double, 8443, certs["c"])]
    elbv2.add_listener_certificates(ListenerArn=double_listeners[0], Certificates=[{"CertificateArn": certs["d"]}])
    shared = lb("shared", "network")
    tg = elbv2.create_target_group(Name="tls", Protocol="TCP", Port=443, VpcId=net.vpc)["TargetGroups"][0]
    forward: Any = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
    listener(shared, 443, certs["d"], "TLS", forward)
    listener(shared, 8443, certs["d"], "TLS", forward)
    return Fleet(single, single_listener, double, double_listeners, shared, certs)


def _collect(rules: str | None = None) -> tuple[AwsInventory, CallCounter, dict[str, CoverageStatus]]:
    settings = Settings()
    counter = CallCounter()
    session = open_account(AccountConfig(), settings.aws, region=REGION, counter=counter)
    selection = select([rules] if rules else None)
    inv, cov = collect_aws(
        TargetConfig(name="t", regions=[REGION]),
        settings,
        counter=counter,
        sessions=[session],
        wanted=selection.facets,
        listener_rules=selection.listener_rules,
    )
    return inv, counter, {c.collector: c.status for c in cov}


def _listeners(inv: AwsInventory, lb_arn: str) -> dict[int, Listener]:
    lb = next(lb for lb in inv.load_balancers if lb.arn == lb_arn)
    return {listener.port: listener for listener in lb.listeners or []}


@pytest.fixture(scope="module")
def seeded(moto_server: MotoServer) -> Iterator[tuple[Fleet, MotoServer]]:
    with moto_env(moto_server):
        yield _seed(), moto_server


def test_sni_certificates_come_from_in_use_lists_where_unambiguous(seeded: tuple[Fleet, MotoServer]) -> None:
    fleet, _ = seeded
    inv, counter, coverage = _collect()
    calls = counter.snapshot()
    c = fleet.certs
    assert _listeners(inv, fleet.single)[443].certificate_arns == [c["a"], c["b"]]  # default, then SNI
    double = _listeners(inv, fleet.double)
    assert double[443].certificate_arns == [c["a"], c["d"]]
    assert double[8443].certificate_arns == [c["c"]]
    shared = _listeners(inv, fleet.shared)
    assert shared[443].certificate_arns == shared[8443].certificate_arns == [c["d"]]
    # only the two listeners of "double" could not be decided from the in-use lists
    assert calls["elasticloadbalancing:DescribeListenerCertificates"] == 2
    # each certificate in use described once (a, b, c, d), the unused one never; listed once for both collectors
    assert calls["acm:DescribeCertificate"] == 4
    assert calls["acm:ListCertificates"] == 1
    assert calls["iam:ListServerCertificates"] == 1
    assert coverage["elbv2"] == coverage["acm"] == CoverageStatus.OK
    described = {cert.arn: cert for cert in inv.certificates}
    assert described[c["a"]].in_use_by == sorted([fleet.single, fleet.double])
    assert described[c["unused"]].in_use is False and described[c["unused"]].in_use_by is None


def test_every_listener_is_read_when_the_account_holds_iam_server_certificates(
    seeded: tuple[Fleet, MotoServer],
) -> None:
    fleet, _ = seeded
    cert, key = self_signed("legacy.example.com", ["legacy.example.com"], days=60)
    iam = boto3.client("iam", region_name=REGION)
    iam.upload_server_certificate(
        ServerCertificateName="legacy", CertificateBody=cert.decode(), PrivateKey=key.decode()
    )
    try:
        inv, counter, coverage = _collect()
    finally:
        iam.delete_server_certificate(ServerCertificateName="legacy")
    calls = counter.snapshot()
    # an IAM certificate could be any listener's SNI, and nothing says whose: every TLS listener is read
    assert calls["elasticloadbalancing:DescribeListenerCertificates"] == 5
    assert "acm:DescribeCertificate" not in calls
    assert _listeners(inv, fleet.single)[443].certificate_arns == [fleet.certs["a"], fleet.certs["b"]]
    assert coverage["elbv2"] == CoverageStatus.OK


@pytest.mark.usefixtures("seeded")
def test_without_certificate_rules_nothing_of_it_is_read() -> None:
    _, counter, _ = _collect("classic-load-balancer")
    calls = counter.snapshot()
    assert not {"acm:ListCertificates", "acm:DescribeCertificate", "iam:ListServerCertificates"} & set(calls)
    assert "elasticloadbalancing:DescribeListenerCertificates" not in calls
