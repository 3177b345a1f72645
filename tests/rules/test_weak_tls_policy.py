"""weak-tls-policy: TLS listeners must use a TLS 1.2+ policy; the controller's default 2016-08 is weak."""

import pytest

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import Listener, LoadBalancer
from auditor.rules.tls.weak_tls_policy import RULE, classify
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"


@pytest.mark.parametrize(
    ("policy", "acceptable", "oldest"),
    [
        ("ELBSecurityPolicy-TLS13-1-2-2021-06", True, None),
        ("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", True, None),
        ("ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09", True, None),
        ("ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04", True, None),
        ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", True, None),
        ("ELBSecurityPolicy-FS-1-2-Res-2020-10", True, None),
        ("ELBSecurityPolicy-2016-08", False, "TLS 1.0"),
        ("ELBSecurityPolicy-2015-05", False, "TLS 1.0"),
        ("ELBSecurityPolicy-TLS-1-0-2015-04", False, "TLS 1.0"),
        ("ELBSecurityPolicy-TLS-1-1-2017-01", False, "TLS 1.1"),
        ("ELBSecurityPolicy-FS-2018-06", False, "TLS 1.0"),
        ("ELBSecurityPolicy-FS-1-1-2019-08", False, "TLS 1.1"),
        ("ELBSecurityPolicy-TLS13-1-0-2021-06", False, "TLS 1.0"),
        ("ELBSecurityPolicy-TLS13-1-1-FIPS-2023-04", False, "TLS 1.1"),
        ("ELBSecurityPolicy-2011-08", False, "SSL 3.0"),
        ("ELBSample-OpenSSLDefaultCipherPolicy", False, "SSL 3.0"),
        ("AWSConsole-SSLNegotiationPolicy-my-elb-1234", None, None),
    ],
)
def test_policy_table(policy, acceptable, oldest):
    assert classify(policy) == (acceptable, oldest)


def _alb(policy, *, name="k8s-shop-web", stack="shop/web", scheme="internet-facing"):
    https = b.listener(443, "HTTPS", default=b.forward("tg"), ssl_policy=policy, lb_name=name)
    return b.load_balancer(name, scheme=scheme, tags=b.ingress_tags(stack), listeners=[https, b.listener(80, "HTTP")])


def test_controller_default_policy_fails_with_ssl_policy_annotation():
    lb = _alb("ELBSecurityPolicy-2016-08")
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert f.resource_arn == lb.arn and f.discriminator == "443"
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.evidence["controller_default"] is True and f.evidence["oldest_protocol"] == "TLS 1.0"
    assert "controller's default" in f.message
    assert (
        f"kubectl -n shop annotate ingress web {ALB}ssl-policy='ELBSecurityPolicy-TLS13-1-2-2021-06' --overwrite"
        in f.remediation
    )


def test_explicit_weak_policy_on_a_group_names_every_member():
    lb = _alb("ELBSecurityPolicy-TLS-1-1-2017-01", name="k8s-shop", stack="shop")
    group = {ALB + "group.name": "shop", ALB + "ssl-policy": "ELBSecurityPolicy-TLS-1-1-2017-01"}
    ings = [b.ingress("shop", "web", lb=lb, annotations=group), b.ingress("shop", "api", lb=lb, annotations=group)]
    f = only(RULE, b.inventory(lbs=[lb], ingresses=ings))
    assert f.status == Status.FAIL and f.evidence["controller_default"] is False
    assert f.evidence["requested_policies"] == {
        "shop/api": "ELBSecurityPolicy-TLS-1-1-2017-01",
        "shop/web": "ELBSecurityPolicy-TLS-1-1-2017-01",
    }
    assert "annotate ingress web" in f.remediation and "annotate ingress api" in f.remediation


def test_modern_policy_passes_internal_load_balancers_included():
    lb = _alb("ELBSecurityPolicy-TLS13-1-2-Res-2021-06", scheme="internal")
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.PASS and "TLS 1.2 or newer" in f.message


def test_policy_not_collected_or_listeners_not_collected_is_unknown():
    lb = _alb("ELBSecurityPolicy-2016-08")
    lb.listeners[0].ssl_policy = None
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.UNKNOWN and f.discriminator == "443"
    lb.listeners = None
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.UNKNOWN and "listeners" in f.message


def test_classic_reference_policy_is_judged_and_fix_uses_the_classic_policy():
    clb = b.load_balancer(
        "a0123",
        type="classic",
        tags=b.intree_tags("legacy/app"),
        listeners=[Listener(port=443, protocol="SSL", ssl_policy="ELBSecurityPolicy-2011-08", instance_port=30443)],
    )
    f = only(RULE, b.inventory(lbs=[clb], services=[b.service("legacy", "app", ports=(443,), lb=clb)]))
    assert f.status == Status.FAIL and "SSL 3.0" in f.message
    assert f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="app")
    assert f"{SVC}aws-load-balancer-ssl-negotiation-policy='ELBSecurityPolicy-TLS-1-2-2017-01'" in f.remediation


def test_classic_custom_policy_is_unknown_and_missing_reference_is_unknown():
    custom = b.load_balancer(
        "a1", type="classic", listeners=[Listener(port=443, protocol="HTTPS", ssl_policy="my-custom-policy")]
    )
    missing = b.load_balancer("a2", type="classic", listeners=[Listener(port=443, protocol="HTTPS")])
    found = {f.resource_name: f for f in run(RULE, b.inventory(lbs=[custom, missing]))}
    assert found["a1"].status == Status.UNKNOWN and "cannot rate" in found["a1"].message
    assert found["a2"].status == Status.UNKNOWN and "not collected" in found["a2"].message


def test_classic_policy_is_rated_by_the_protocols_it_enables_whatever_its_name():
    """A custom policy may carry a predefined policy's name; what its Protocol-* attributes enable decides."""

    def clb(name: str, policy: str, protocols: list[str]) -> LoadBalancer:
        listener = Listener(port=443, protocol="HTTPS", ssl_policy=policy, ssl_protocols=protocols)
        return b.load_balancer(name, type="classic", listeners=[listener])

    lbs = [
        clb("named-strong", "ELBSecurityPolicy-TLS-1-2-2017-01", ["TLSv1", "TLSv1.2"]),
        clb("custom-modern", "my-custom-policy", ["TLSv1.2"]),
        clb("custom-none", "my-empty-policy", []),
        clb("named-weak", "ELBSecurityPolicy-2016-08", ["TLSv1.2"]),
    ]
    found = {f.resource_name: f for f in run(RULE, b.inventory(lbs=lbs))}
    assert found["named-strong"].status == Status.FAIL and "still accepts TLS 1.0" in found["named-strong"].message
    assert "its attributes enable TLSv1, TLSv1.2" in found["named-strong"].message
    assert found["named-strong"].evidence["ssl_protocols"] == ["TLSv1", "TLSv1.2"]
    assert found["custom-modern"].status == Status.PASS
    assert found["custom-none"].status == Status.UNKNOWN and "enables no protocol" in found["custom-none"].message
    assert found["named-weak"].status == Status.PASS  # its attributes, not its name


def test_nlb_service_fix_uses_negotiation_policy_annotation():
    nlb = b.load_balancer(
        "k8s-db-pg",
        type="network",
        tags=b.service_tags("db/pg"),
        listeners=[b.listener(5432, "TLS", default=b.forward("tg"), ssl_policy="ELBSecurityPolicy-2016-08")],
    )
    svc = b.service("db", "pg", ports=(5432,), lb=nlb, annotations={SVC + "aws-load-balancer-type": "external"})
    f = only(RULE, b.inventory(lbs=[nlb], services=[svc]))
    assert f.status == Status.FAIL and f.discriminator == "5432" and f.evidence["controller_default"] is True
    assert "(the controller's default, no ssl-negotiation-policy annotation)" in f.message
    assert (
        f"kubectl -n db annotate service pg {SVC}aws-load-balancer-ssl-negotiation-policy="
        "'ELBSecurityPolicy-TLS13-1-2-2021-06' --overwrite" in f.remediation
    )


def test_unmanaged_listener_gets_modify_listener_and_http_only_is_not_examined():
    lb = b.load_balancer(
        "manual", listeners=[b.listener(443, "HTTPS", ssl_policy="ELBSecurityPolicy-2016-08", lb_name="manual")]
    )
    http_only = b.load_balancer("plain", listeners=[b.listener(80, "HTTP")])
    found = run(RULE, b.inventory(lbs=[lb, http_only]))
    assert len(found) == 1 and found[0].kubernetes is None
    assert f"aws elbv2 modify-listener --listener-arn {lb.listeners[0].arn}" in found[0].remediation


# ---------------------------------------------------------------- Gateway-made load balancers


def _gateway_inventory(lb, *, config=None):
    configs = [b.lb_configuration("shop", "pub", **config)] if config is not None else []
    gw = b.gateway("shop", "web", lb=lb, config="pub" if config is not None else None)
    return b.inventory(lbs=[lb], gateways=[gw], gateway_configurations=configs)


def test_gateway_https_listener_on_the_default_policy_fails_with_listener_configuration_fix():
    https = b.listener(443, "HTTPS", ssl_policy="ELBSecurityPolicy-2016-08", certs=["arn:cert"])
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"), listeners=[https])
    f = only(RULE, _gateway_inventory(lb, config={"scheme": "internet-facing"}))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["controller_default"] is True
    assert "no sslPolicy in its LoadBalancerConfiguration" in f.message
    assert (
        "spec.listenerConfigurations[] entry {protocolPort: HTTPS:443, sslPolicy: ELBSecurityPolicy-TLS13-1-2-2021-06}"
        " in LoadBalancerConfiguration shop/pub" in f.remediation
    )


def test_gateway_tls_listener_on_a_modern_policy_passes():
    tls = b.listener(443, "TLS", ssl_policy="ELBSecurityPolicy-TLS13-1-2-2021-06", certs=["arn:cert"])
    lb = b.load_balancer("k8s-db-tcp-gw", type="network", tags=b.gateway_tags("shop/web", kind="nlb"), listeners=[tls])
    entry = {"protocolPort": "TLS:443", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}
    inv = _gateway_inventory(lb, config={"listenerConfigurations": [entry]})
    inv.kubernetes.gateway_classes.append(b.gateway_class("nlb", "gateway.k8s.aws/nlb"))
    inv.kubernetes.gateways[0].gateway_class_name = "nlb"
    f = only(RULE, inv)
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["requested_policies"] == {"shop/pub TLS:443": "ELBSecurityPolicy-TLS13-1-2-2021-06"}


def test_gateway_listener_policy_not_collected_is_unknown():
    https = b.listener(443, "HTTPS", certs=["arn:cert"])
    https.ssl_policy = None
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"), listeners=[https])
    f = only(RULE, _gateway_inventory(lb))
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
