"""weak-certificate-key: ACM's KeyAlgorithm of every certificate a load balancer serves; unread is UNKNOWN."""

import pytest

from auditor.findings import KubeRef, Severity, Status
from auditor.rules.tls.certificate_expiring import RULE as CERTIFICATE_EXPIRING
from auditor.rules.tls.weak_certificate_key import RULE, key_is_strong
from tests.rules._harness import judged, only, run
from tests.support import builders as b

CERT_ANN = "alb.ingress.kubernetes.io/certificate-arn"
SSL_CERT_ANN = "service.beta.kubernetes.io/aws-load-balancer-ssl-cert"


def _setup(certs, *, name="k8s-shop-web", stack="shop/web", scheme="internet-facing", annotate=True):
    """An Ingress's ALB serving ``certs`` on HTTPS:443 (the first the default, the others SNI)."""
    lb = b.load_balancer(
        name,
        scheme=scheme,
        tags=b.ingress_tags(stack),
        listeners=[b.listener(443, "HTTPS", default=b.forward("tg"), certs=list(certs), lb_name=name)],
    )
    ns, _, ing_name = stack.partition("/")
    ing = b.ingress(ns, ing_name, lb=lb, annotations={CERT_ANN: ",".join(certs)} if annotate else {})
    return lb, ing


def test_rsa_1024_on_an_internet_facing_load_balancer_is_high():
    cert = b.certificate("weak", "shop.example.com", sans=("*.shop.example.com",), key="RSA_1024")
    cert.type = "IMPORTED"
    lb, ing = _setup([cert.arn])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert (f.status, f.severity) == (Status.FAIL, Severity.HIGH)
    assert f.resource_arn == cert.arn and f.discriminator == cert.arn and f.resource_name == "shop.example.com"
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.evidence["key_algorithm"] == "RSA_1024" and f.evidence["used_by"][0]["ports"] == [443]
    assert "has an RSA_1024 key, weaker than RSA 2048 or ECDSA P-256" in f.message and "k8s-shop-web" in f.message
    # a new certificate for the same names (the wildcard quoted for the shell), the annotation to change, the delete
    assert (
        "aws acm request-certificate --domain-name shop.example.com --subject-alternative-names '*.shop.example.com' "
        "--validation-method DNS --key-algorithm EC_prime256v1" in f.remediation
    )
    assert f"replace the ARN in Ingress shop/web ({CERT_ANN})" in f.remediation
    assert f"aws acm delete-certificate --certificate-arn {cert.arn}" in f.remediation


def test_rsa_1024_on_internal_load_balancers_only_is_medium_and_high_once_one_is_internet_facing():
    cert = b.certificate("weak", "shop.internal", key="RSA_1024")
    lb, ing = _setup([cert.arn], scheme="internal")
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert (f.status, f.severity) == (Status.FAIL, Severity.MEDIUM)

    public, public_ing = _setup([cert.arn], name="k8s-edge-web", stack="edge/web")
    f = only(RULE, b.inventory(lbs=[lb, public], ingresses=[ing, public_ing], certificates=[cert]))
    assert (f.status, f.severity) == (Status.FAIL, Severity.HIGH)
    assert [u["load_balancer"] for u in f.evidence["used_by"]] == ["k8s-shop-web", "k8s-edge-web"]


@pytest.mark.parametrize("key", ["RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"])
def test_rsa_2048_and_up_and_every_acm_curve_pass(key):
    cert = b.certificate("ok", "shop.example.com", key=key)
    lb, ing = _setup([cert.arn])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.PASS and f"has an {key} key" in f.message


def test_every_key_algorithm_of_acm_is_judged():
    """ACM's KeyAlgorithm enum (botocore acm 2015-12-08): only RSA_1024 is weak; nothing known is left unjudged."""
    known = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1", "EC_secp384r1", "EC_secp521r1"]
    assert {k: key_is_strong(k) for k in known} == {k: k != "RSA_1024" for k in known}


@pytest.mark.parametrize("key", ["EC_secp192r1", "ML_DSA_65", "RSA", "", "RSA_²", "RSA_２０４８"])
def test_a_key_algorithm_the_auditor_does_not_know_is_unknown_never_pass(key):
    cert = b.certificate("odd", "shop.example.com", key=key)
    lb, ing = _setup([cert.arn])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.UNKNOWN and "does not know" in f.message


def test_a_key_algorithm_not_collected_is_unknown():
    # the summary lacked KeyAlgorithm and DescribeCertificate failed: the field stays None ("not collected")
    cert = b.certificate("c1", "shop.example.com")
    cert.key_algorithm = None
    lb, ing = _setup([cert.arn])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.UNKNOWN and "key algorithm of certificate shop.example.com" in f.message


def test_acm_not_collected_is_unknown():
    lb, ing = _setup([b.arn("acm", "certificate/c1")])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], failed={"acm": "AccessDeniedException"}))
    assert f.status == Status.UNKNOWN and f"ACM of {b.ACCOUNT}/{b.REGION} was not collected" in f.message
    assert f.message.startswith("The key algorithm of certificate c1 ")


def test_a_strong_key_read_while_acm_failed_in_its_scope_is_not_a_pass():
    """A verdict resting on a facet that failed is UNKNOWN in the audit (auditor.rules.coverage)."""
    cert = b.certificate("ok", "shop.example.com", key="EC_prime256v1")
    lb, ing = _setup([cert.arn])
    inv = b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert], failed={"acm": "AccessDeniedException"})
    assert only(RULE, inv).status == Status.PASS  # what the rule saw
    findings = judged(RULE, inv)
    assert findings and {f.status for f in findings} == {Status.UNKNOWN}


def test_certificate_missing_from_complete_acm_is_unknown_not_fail():
    lb, ing = _setup([b.arn("acm", "certificate/ghost")])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and "ACM did not return it" in f.message


def test_iam_server_certificate_is_unknown():
    iam_cert = f"arn:aws:iam::{b.ACCOUNT}:server-certificate/legacy-cert"
    lb, ing = _setup([iam_cert])
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and f.evidence["source"] == "iam"
    assert "outside ACM; the auditor does not read its key algorithm" in f.message


def test_an_sni_certificate_is_judged_on_its_own():
    default = b.certificate("default", "shop.example.com", key="EC_prime256v1")
    sni = b.certificate("sni", "legacy.example.com", key="RSA_1024")
    lb, ing = _setup([default.arn, sni.arn])
    found = {f.resource_arn: f for f in run(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[default, sni]))}
    assert found[default.arn].status == Status.PASS
    assert found[sni.arn].status == Status.FAIL and found[sni.arn].evidence["used_by"][0]["ports"] == [443]
    assert f"Ingress shop/web ({CERT_ANN})" in found[sni.arn].remediation


def test_certificate_found_by_discovery_says_where_to_name_the_new_one():
    cert = b.certificate("weak", "shop.example.com", key="RSA_1024")
    lb, ing = _setup([cert.arn], annotate=False)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.FAIL and "no object names this one" in f.remediation
    assert CERT_ANN in f.remediation


def test_certificate_of_a_gateway_names_its_load_balancer_configuration():
    cert = b.certificate("gw", "shop.example.com", key="RSA_1024")
    lb = b.load_balancer(
        "k8s-shop-web-gw",
        tags=b.gateway_tags("shop/web"),
        listeners=[b.listener(443, "HTTPS", default=b.fixed_404(), certs=[cert.arn], lb_name="k8s-shop-web-gw")],
    )
    cfg = b.lb_configuration(
        "shop", "pub", listenerConfigurations=[{"protocolPort": "HTTPS:443", "defaultCertificate": cert.arn}]
    )
    gw = b.gateway("shop", "web", lb=lb, config="pub")
    f = only(RULE, b.inventory(lbs=[lb], gateways=[gw], gateway_configurations=[cfg], certificates=[cert]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert "LoadBalancerConfiguration shop/pub (spec.listenerConfigurations HTTPS:443)" in f.remediation


def test_a_classic_load_balancer_keeps_an_rsa_key():
    cert = b.certificate("weak", "mail.example.com", key="RSA_1024")
    clb = b.load_balancer(
        "a0123", type="classic", tags=b.intree_tags("legacy/smtp"), listeners=[b.listener(465, "SSL", certs=[cert.arn])]
    )
    svc = b.service("legacy", "smtp", ports=(465,), lb=clb, annotations={SSL_CERT_ANN: cert.arn})
    f = only(RULE, b.inventory(lbs=[clb], services=[svc], certificates=[cert]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="smtp")
    assert "--key-algorithm RSA_2048 (a Classic Load Balancer serves it" in f.remediation
    assert f"Service legacy/smtp ({SSL_CERT_ANN})" in f.remediation


def test_listeners_or_their_certificates_not_collected_are_unknown_per_load_balancer_and_listener():
    lb, ing = _setup(["unused"])
    lb.listeners[0].certificate_arns = None
    other, other_ing = _setup(["unused"], name="k8s-blog", stack="blog/web")
    other.listeners = None
    found = {f.discriminator: f for f in run(RULE, b.inventory(lbs=[lb, other], ingresses=[ing, other_ing]))}
    assert set(found) == {"listener:443", "listeners"}
    assert {f.status for f in found.values()} == {Status.UNKNOWN}
    assert found["listener:443"].resource_arn == lb.arn and found["listeners"].resource_arn == other.arn


def test_certificates_not_served_by_in_scope_load_balancers_are_ignored():
    unused = b.certificate("unused", "x.example.com", key="RSA_1024")
    other_cert = b.certificate("other", "o.example.com", key="RSA_1024")
    other = b.load_balancer(
        "k8s-prod",
        tags=b.ingress_tags("a/b", cluster="prod"),
        listeners=[b.listener(443, "HTTPS", certs=[other_cert.arn])],
    )
    inv = b.inventory(lbs=[other], certificates=[unused, other_cert], cluster_names=["demo", "prod"])
    assert run(RULE, inv) == []


def test_it_judges_the_certificates_certificate_expiring_judges_and_reads_what_it_reads():
    """One mapping for both rules: the same certificates, named the same way, from the same facets."""
    weak = b.certificate("weak", "a.example.com", key="RSA_1024", days=3)
    ok = b.certificate("ok", "b.example.com", days=200)
    lb1, ing1 = _setup([weak.arn, ok.arn])
    lb2, ing2 = _setup([b.arn("acm", "certificate/ghost")], name="k8s-b", stack="b/web")
    lb2.listeners.append(b.listener(8443, "HTTPS", certs=None, lb_name="k8s-b"))
    lb2.listeners[1].certificate_arns = None
    inv = b.inventory(lbs=[lb1, lb2], ingresses=[ing1, ing2], certificates=[weak, ok])

    def named(rule):
        return [(f.resource_arn, f.discriminator, f.kubernetes) for f in run(rule, inv)]

    assert named(RULE) == named(CERTIFICATE_EXPIRING) and len(named(RULE)) == 4
    assert (RULE.meta.inputs, RULE.meta.enrich) == (CERTIFICATE_EXPIRING.meta.inputs, CERTIFICATE_EXPIRING.meta.enrich)
