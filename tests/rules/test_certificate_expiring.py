"""certificate-expiring: judged against the snapshot's collected_at; one finding per certificate in use."""

from datetime import UTC, datetime, timedelta

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import Gateway, GatewayConfiguration, LoadBalancer
from auditor.rules.tls.certificate_expiring import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

CERT_ANN = "alb.ingress.kubernetes.io/certificate-arn"


def _setup(cert_arn, *, name="k8s-shop-web", stack="shop/web", annotate=True, scheme="internet-facing"):
    lb = b.load_balancer(
        name,
        scheme=scheme,
        tags=b.ingress_tags(stack),
        listeners=[b.listener(443, "HTTPS", default=b.forward("tg"), certs=[cert_arn], lb_name=name)],
    )
    ns, _, ing_name = stack.partition("/")
    ing = b.ingress(ns, ing_name, lb=lb, annotations={CERT_ANN: cert_arn} if annotate else {})
    return lb, ing


def test_expiring_within_warning_days_is_high():
    cert = b.certificate("c1", "shop.example.com", days=20)
    lb, ing = _setup(cert.arn)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH
    assert f.resource_arn == cert.arn and f.discriminator == cert.arn and f.resource_name == "shop.example.com"
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.evidence["days_left"] == 20 and f.evidence["used_by"][0]["ports"] == [443]
    assert "expires in 20 days" in f.message and "k8s-shop-web" in f.message
    assert "restore the DNS validation CNAME records" in f.remediation
    assert f"Ingress shop/web ({CERT_ANN})" in f.remediation


def test_critical_when_close_expired_or_not_issued():
    close = b.certificate("close", "a.example.com", days=5)
    gone = b.certificate("gone", "b.example.com", days=-3)
    revoked = b.certificate("revoked", "c.example.com", status="REVOKED")
    lbs, ings = [], []
    for i, c in enumerate((close, gone, revoked)):
        lb, ing = _setup(c.arn, name=f"k8s-lb{i}", stack=f"ns{i}/web")
        lbs.append(lb)
        ings.append(ing)
    found = {
        f.resource_arn: f for f in run(RULE, b.inventory(lbs=lbs, ingresses=ings, certificates=[close, gone, revoked]))
    }
    assert {f.status for f in found.values()} == {Status.FAIL}
    assert {f.severity for f in found.values()} == {Severity.CRITICAL}
    assert "expired on" in found[gone.arn].message and "3 days before the audit" in found[gone.arn].message
    assert "REVOKED, not ISSUED" in found[revoked.arn].message


def test_far_expiry_passes_and_thresholds_come_from_settings():
    cert = b.certificate("c1", "shop.example.com", days=20)
    lb, ing = _setup(cert.arn)
    inv = b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert])
    f = only(RULE, inv, certificate_warning_days=10, certificate_critical_days=3)
    assert f.status == Status.PASS and "valid for 20 more days" in f.message


def test_boundaries_are_inclusive():
    at_warning = b.certificate("w", "w.example.com", days=30)
    at_critical = b.certificate("c", "c.example.com", days=7)
    lb1, ing1 = _setup(at_warning.arn, name="k8s-1", stack="a/web")
    lb2, ing2 = _setup(at_critical.arn, name="k8s-2", stack="b/web")
    inv = b.inventory(lbs=[lb1, lb2], ingresses=[ing1, ing2], certificates=[at_warning, at_critical])
    found = {f.resource_arn: f for f in run(RULE, inv)}
    assert (found[at_warning.arn].status, found[at_warning.arn].severity) == (Status.FAIL, Severity.HIGH)
    assert (found[at_critical.arn].status, found[at_critical.arn].severity) == (Status.FAIL, Severity.CRITICAL)


def test_time_is_the_snapshot_not_the_wall_clock():
    cert = b.certificate("old", "old.example.com")
    collected = datetime(2019, 3, 1, tzinfo=UTC)
    cert.not_after = collected + timedelta(days=10)  # long expired by any wall clock today
    lb, ing = _setup(cert.arn)
    inv = b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert])
    inv.collected_at = collected
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "expires in 10 days" in f.message


def test_one_finding_per_certificate_shared_by_two_load_balancers():
    cert = b.certificate("shared", "*.example.com", days=3, status="ISSUED")
    cert.type = "IMPORTED"
    lb1, ing1 = _setup(cert.arn, name="k8s-a", stack="a/web", annotate=False)
    lb2, ing2 = _setup(cert.arn, name="k8s-b", stack="b/web")
    f = only(RULE, b.inventory(lbs=[lb1, lb2], ingresses=[ing1, ing2], certificates=[cert]))
    assert [u["load_balancer"] for u in f.evidence["used_by"]] == ["k8s-a", "k8s-b"]
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="a", name="web")  # the first owner
    assert f"aws acm import-certificate --certificate-arn {cert.arn}" in f.remediation
    assert f"Ingress b/web ({CERT_ANN})" in f.remediation and "Ingress a/web" not in f.remediation


def test_acm_not_collected_is_unknown():
    cert = b.certificate("c1", "shop.example.com", days=3)
    lb, ing = _setup(cert.arn)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], failed={"acm": "AccessDeniedException"}))
    assert f.status == Status.UNKNOWN and f"ACM of {b.ACCOUNT}/{b.REGION} was not collected" in f.message
    assert f.region == b.REGION and f.account == b.ACCOUNT


def test_certificate_missing_from_complete_acm_is_unknown_not_fail():
    lb, ing = _setup(b.arn("acm", "certificate/ghost"))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and "ACM did not return it" in f.message


def test_iam_server_certificate_is_unknown_with_a_clear_message():
    iam_cert = f"arn:aws:iam::{b.ACCOUNT}:server-certificate/legacy-cert"
    lb, ing = _setup(iam_cert)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and "outside ACM" in f.message and f.evidence["source"] == "iam"


def test_listener_certificates_not_collected_is_unknown_per_listener():
    lb, ing = _setup("unused")
    lb.listeners[0].certificate_arns = None
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and f.resource_arn == lb.arn and f.discriminator == "listener:443"


def test_listeners_not_collected_is_unknown_per_load_balancer():
    # DescribeListeners of one load balancer failed: which certificates it serves is unknown, and the load
    # balancer is named (an expired certificate only it serves would otherwise vanish from the report)
    lb, ing = _setup("unused")
    lb.listeners = None
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and f.resource_arn == lb.arn and f.discriminator == "listeners"
    assert "listeners of" in f.message and "were not collected" in f.message


def test_missing_expiry_date_is_unknown():
    cert = b.certificate("c1", "shop.example.com")
    cert.not_after = None
    lb, ing = _setup(cert.arn)
    assert only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert])).status == Status.UNKNOWN


def test_certificates_not_attached_to_in_scope_listeners_are_ignored():
    unused = b.certificate("unused", "x.example.com", days=1)
    other_cert = b.certificate("other", "o.example.com", days=1)
    other = b.load_balancer(
        "k8s-prod",
        tags=b.ingress_tags("a/b", cluster="prod"),
        listeners=[b.listener(443, "HTTPS", certs=[other_cert.arn])],
    )
    inv = b.inventory(lbs=[other], certificates=[unused, other_cert], cluster_names=["demo", "prod"])
    assert run(RULE, inv) == []


def test_a_certificate_on_many_load_balancers_names_three_in_the_message_and_all_in_the_evidence():
    cert = b.certificate("c1", "shop.example.com", days=3)
    pairs = [_setup(cert.arn, name=f"k8s-shop-web{i}", stack=f"shop/web{i}") for i in range(5)]
    f = only(RULE, b.inventory(lbs=[lb for lb, _ in pairs], ingresses=[ing for _, ing in pairs], certificates=[cert]))
    assert f.status == Status.FAIL
    assert "k8s-shop-web0" in f.message and "k8s-shop-web2" in f.message and "k8s-shop-web3" not in f.message
    assert "and 2 more load balancers" in f.message
    assert [u["load_balancer"] for u in f.evidence["used_by"]] == [f"k8s-shop-web{i}" for i in range(5)]


def _gateway_with(
    cert_arn: str, **listener_configuration: object
) -> tuple[LoadBalancer, Gateway, GatewayConfiguration]:
    """A Gateway's HTTPS:443 load balancer serving ``cert_arn``, its LoadBalancerConfiguration's entry for it."""
    lb = b.load_balancer(
        "k8s-shop-web-gw",
        tags=b.gateway_tags("shop/web"),
        listeners=[b.listener(443, "HTTPS", default=b.fixed_404(), certs=[cert_arn], lb_name="k8s-shop-web-gw")],
    )
    entry = {"protocolPort": "HTTPS:443", "defaultCertificate": cert_arn, **listener_configuration}
    cfg = b.lb_configuration("shop", "pub", listenerConfigurations=[entry])
    return lb, b.gateway("shop", "web", lb=lb, config="pub"), cfg


def test_certificate_of_a_gateway_names_its_load_balancer_configuration():
    cert = b.certificate("c1", "shop.example.com", days=20)
    lb, gw, cfg = _gateway_with(cert.arn)
    inv = b.inventory(lbs=[lb], gateways=[gw], gateway_configurations=[cfg], certificates=[cert])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert "LoadBalancerConfiguration shop/pub (spec.listenerConfigurations HTTPS:443)" in f.remediation


def test_a_gateway_whose_certificates_field_is_no_list_is_still_judged():
    """``certificates: 5`` raised TypeError (value after * must be an iterable) on the certificate: UNKNOWN."""
    cert = b.certificate("c1", "shop.example.com", days=20)
    lb, gw, cfg = _gateway_with(cert.arn, certificates=5)
    inv = b.inventory(lbs=[lb], gateways=[gw], gateway_configurations=[cfg], certificates=[cert])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "LoadBalancerConfiguration shop/pub" in f.remediation
