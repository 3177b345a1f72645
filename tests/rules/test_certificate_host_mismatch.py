"""certificate-host-mismatch: each Ingress host must be covered by a certificate on its ALB's HTTPS listeners."""

import pytest

from auditor.findings import KubeRef, Severity, Status
from auditor.rules.tls.certificate_host_mismatch import RULE, host_covered
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"


def _alb(*cert_arns, name="k8s-shop-web", stack="shop/web", extra=()):
    listeners = [b.listener(443, "HTTPS", default=b.forward("tg"), certs=list(cert_arns)), *extra]
    return b.load_balancer(name, tags=b.ingress_tags(stack), listeners=listeners)


@pytest.mark.parametrize(
    ("host", "name", "covered"),
    [
        ("a.example.com", "a.example.com", True),
        ("A.Example.COM", "a.example.com", True),
        ("a.example.com", "*.example.com", True),
        ("a.example.com", "*.EXAMPLE.com", True),
        ("example.com", "*.example.com", False),
        ("a.b.example.com", "*.example.com", False),
        ("*.example.com", "*.example.com", True),
        ("*.example.com", "a.example.com", False),
        ("a.example.com.", "a.example.com", True),
        ("a.example.org", "*.example.com", False),
    ],
)
def test_wildcard_covers_exactly_one_label(host, name, covered):
    assert host_covered(host, name) is covered


def test_uncovered_host_fails_on_its_ingress():
    cert = b.certificate("www", "www.example.com")
    lb = _alb(cert.arn)
    ing = b.ingress("shop", "web", lb=lb, hosts=("api.example.com",), annotations={ALB + "certificate-arn": cert.arn})
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.resource_arn == lb.arn and f.discriminator == "api.example.com"
    assert f.evidence["uncovered_ports"] == [443]
    assert f.evidence["certificate_names"] == {"443": {cert.arn: ["www.example.com"]}}
    assert "aws acm request-certificate --domain-name api.example.com" in f.remediation
    # the fix keeps the existing certificate and appends one for the host
    assert f"{ALB}certificate-arn='{cert.arn},<ACM certificate ARN for api.example.com>'" in f.remediation


def test_wildcard_and_sni_certificates_cover_hosts_case_insensitively():
    default = b.certificate("default", "www.example.com")
    wildcard = b.certificate("wild", "example.org", sans=("*.Example.com",))
    lb = _alb(default.arn, wildcard.arn)
    ing = b.ingress("shop", "web", lb=lb, hosts=("API.example.com",), tls_hosts=("www.example.com",))
    found = run(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[default, wildcard]))
    assert {(f.discriminator, f.status) for f in found} == {
        ("api.example.com", Status.PASS),
        ("www.example.com", Status.PASS),
    }
    assert next(f for f in found if f.discriminator == "api.example.com").evidence["covered_by"] == {
        "443": wildcard.arn
    }


def test_wildcard_does_not_cover_apex_or_two_labels():
    cert = b.certificate("wild", "*.example.com")
    lb = _alb(cert.arn)
    ing = b.ingress("shop", "web", lb=lb, hosts=("example.com", "a.b.example.com"))
    found = run(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[cert]))
    assert {f.discriminator: f.status for f in found} == {"example.com": Status.FAIL, "a.b.example.com": Status.FAIL}
    assert "discovers it from the Ingress hosts" in found[0].remediation  # no certificate-arn annotation


def test_certificate_not_collected_is_unknown_unless_a_known_one_covers():
    known = b.certificate("known", "www.example.com")
    ghost = b.arn("acm", "certificate/ghost")
    lb = _alb(known.arn, ghost)
    ing = b.ingress("shop", "web", lb=lb, hosts=("www.example.com", "api.example.com"))
    found = {f.discriminator: f for f in run(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[known]))}
    assert found["www.example.com"].status == Status.PASS
    assert found["api.example.com"].status == Status.UNKNOWN
    assert ghost in found["api.example.com"].message


def test_listener_certificates_not_collected_is_unknown():
    lb = _alb()
    lb.listeners[0].certificate_arns = None
    ing = b.ingress("shop", "web", lb=lb, hosts=("a.example.com",))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.UNKNOWN and "listener 443 were not collected" in f.message


def test_listeners_not_collected_is_unknown():
    lb = _alb()
    lb.listeners = None
    ing = b.ingress("shop", "web", lb=lb, hosts=("a.example.com",))
    assert only(RULE, b.inventory(lbs=[lb], ingresses=[ing])).status == Status.UNKNOWN


def test_alb_without_https_listener_is_left_to_http_without_redirect():
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"), listeners=[b.listener(80, "HTTP")])
    ing = b.ingress("shop", "web", lb=lb, hosts=("a.example.com",))
    assert run(RULE, b.inventory(lbs=[lb], ingresses=[ing])) == []


def test_ingress_is_judged_on_its_own_https_port():
    on_443 = b.certificate("c443", "a.example.com")
    on_8443 = b.certificate("c8443", "other.example.com")
    lb = _alb(on_443.arn, extra=[b.listener(8443, "HTTPS", certs=[on_8443.arn])])
    ing = b.ingress(
        "shop", "web", lb=lb, hosts=("a.example.com",), annotations={ALB + "listen-ports": '[{"HTTPS": 8443}]'}
    )
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], certificates=[on_443, on_8443]))
    assert f.status == Status.FAIL and f.evidence["uncovered_ports"] == [8443]


def test_each_group_member_gets_its_own_findings():
    cert = b.certificate("c", "*.example.com")
    lb = _alb(cert.arn, name="k8s-shop", stack="shop")
    group = {ALB + "group.name": "shop"}
    web = b.ingress("shop", "web", lb=lb, hosts=("www.example.com",), annotations=group)
    blog = b.ingress("blog", "site", lb=lb, hosts=("blog.example.net",), annotations=group)
    found = run(RULE, b.inventory(lbs=[lb], ingresses=[web, blog], certificates=[cert]))
    assert {(str(f.kubernetes), f.discriminator, f.status) for f in found} == {
        ("Ingress shop/web", "www.example.com", Status.PASS),
        ("Ingress blog/site", "blog.example.net", Status.FAIL),
    }


# ---------------------------------------------------------------- Gateways: listener and route hostnames


def _gateway_case(cert_domain, *, certificates=True):
    cert = b.certificate("c1", cert_domain)
    https = b.listener(443, "HTTPS", certs=[cert.arn])
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"), listeners=[https])
    gw = b.gateway(
        "shop",
        "web",
        lb=lb,
        listeners=[b.gw_listener("https", 443, "HTTPS", hostname="shop.example.com")],
    )
    routes = [b.route("shop", "api", gateway="web", hostnames=("api.example.com",), backends=("api",))]
    return b.inventory(lbs=[lb], gateways=[gw], routes=routes, certificates=[cert] if certificates else [])


def test_gateway_route_host_without_certificate_fails_in_gateway_terms():
    got = {f.kubernetes.kind: f for f in run(RULE, _gateway_case("shop.example.com"))}
    assert got["Gateway"].status == Status.PASS  # the listener hostname is covered
    f = got["HTTPRoute"]
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="HTTPRoute", namespace="shop", name="api")
    assert f.evidence["host"] == "api.example.com" and f.evidence["gateway"] == "Gateway shop/web"
    assert "spec.listenerConfigurations[] entry {protocolPort: HTTPS:443, certificates: [" in f.remediation
    assert "<ACM certificate ARN for api.example.com>" in f.remediation
    assert "infrastructure.parametersRef" in f.remediation  # no LoadBalancerConfiguration yet


def test_gateway_hosts_covered_by_a_wildcard_pass():
    findings = run(RULE, _gateway_case("*.example.com"))
    assert {f.kubernetes.kind for f in findings} == {"Gateway", "HTTPRoute"}
    assert all(f.status == Status.PASS for f in findings)


def test_gateway_host_with_an_unread_certificate_is_unknown():
    findings = run(RULE, _gateway_case("shop.example.com", certificates=False))
    assert findings and all(f.status == Status.UNKNOWN for f in findings)
    assert "was not collected" in findings[0].message
