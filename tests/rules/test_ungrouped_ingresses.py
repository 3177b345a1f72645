"""ungrouped-ingresses: ALBs of implicit IngressGroups that could share one, within ALB limits."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.rules.cost.ungrouped_ingresses import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
ONE_ALB = 730 * 0.0225 + 2 * 730 * 0.005


def pair(ns, name, *, annotations=None, hosts=(), backend=("web", 80), scheme="internet-facing", listeners=None):
    lb = b.load_balancer(f"k8s-{ns}-{name}", scheme=scheme, tags=b.ingress_tags(f"{ns}/{name}"), listeners=listeners)
    ann = dict(annotations or {})
    if scheme == "internet-facing":
        ann.setdefault(ALB + "scheme", "internet-facing")
    return lb, b.ingress(ns, name, annotations=ann, hosts=hosts, backend=backend, lb=lb)


def inv_of(*pairs, **kw):
    return b.inventory(lbs=[p[0] for p in pairs], ingresses=[p[1] for p in pairs], **kw)


def statuses(findings):
    return {f.discriminator: f.status for f in findings}


def test_two_compatible_ingresses_fail_with_group_annotation_and_savings():
    a = pair("shop", "web", hosts=("www.example.com",))
    c = pair("shop", "api", hosts=("api.example.com",), backend=("api", 8080))
    f = only(RULE, inv_of(a, c))
    assert f.status == Status.FAIL
    assert f.discriminator == "shop/api,shop/web"
    assert f.evidence["suggested_group"] == "shop"
    assert f.evidence["albs_saved"] == 1 and f.evidence["rules"] == 2
    assert f.monthly_saving_usd == pytest.approx(ONE_ALB, abs=0.01)
    assert f"kubectl -n shop annotate ingress web {ALB}group.name='shop' --overwrite" in f.remediation
    assert f"kubectl -n shop annotate ingress api {ALB}group.name='shop' --overwrite" in f.remediation
    assert "group.order" not in f.remediation
    assert "#2028" in f.remediation


def test_different_scheme_ssl_policy_cidrs_or_waf_are_not_grouped():
    a = pair("shop", "web")
    internal = pair("shop", "int", scheme="internal")
    policy = pair("shop", "tls", annotations={ALB + "ssl-policy": "ELBSecurityPolicy-TLS13-1-2-2021-06"})
    cidrs = pair("shop", "vpn", annotations={ALB + "inbound-cidrs": "10.0.0.0/8"})
    waf = pair("shop", "waf", annotations={ALB + "wafv2-acl-arn": b.arn("wafv2", "regional/webacl/x/1")})
    got = statuses(run(RULE, inv_of(a, internal, policy, cidrs, waf)))
    assert got == {k: Status.PASS for k in ("shop/web", "shop/int", "shop/tls", "shop/vpn", "shop/waf")}


def test_conflicting_listen_ports_are_not_grouped():
    a = pair("shop", "web", annotations={ALB + "listen-ports": '[{"HTTP": 8443}]'})
    c = pair("shop", "api", annotations={ALB + "listen-ports": '[{"HTTPS": 8443}]'})
    assert set(statuses(run(RULE, inv_of(a, c))).values()) == {Status.PASS}


def test_rule_limit_of_100_splits_candidates():
    big = pair("a", "big", hosts=tuple(f"h{i}.example.com" for i in range(60)))
    big2 = pair("a", "big2", hosts=tuple(f"g{i}.example.com" for i in range(50)))
    small = pair("a", "small", hosts=("s.example.com",))
    got = run(RULE, inv_of(big, big2, small))
    # 60 + 50 rules would exceed 100: big2 stays alone, small joins big (first fit)
    assert statuses(got) == {"a/big,a/small": Status.FAIL, "a/big2": Status.PASS}
    assert next(f for f in got if f.status == Status.FAIL).evidence["rules"] == 61


def test_certificate_limit_of_25_is_respected():
    certs = [b.arn("acm", f"certificate/c{i}") for i in range(40)]
    a = pair("shop", "web", annotations={ALB + "certificate-arn": ",".join(certs[:20])})
    c = pair("shop", "api", annotations={ALB + "certificate-arn": ",".join(certs[20:])})
    assert set(statuses(run(RULE, inv_of(a, c))).values()) == {Status.PASS}
    d = pair("shop", "doc", annotations={ALB + "certificate-arn": ",".join(certs[:5])})
    f = next(f for f in run(RULE, inv_of(a, d)) if f.status == Status.FAIL)
    assert f.evidence["certificates"] == 20  # shared certificates count once


def test_implicit_ingress_joins_a_compatible_explicit_group():
    shared = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"))
    grp = {ALB + "group.name": "shared", ALB + "scheme": "internet-facing"}
    member = b.ingress("blog", "home", annotations=grp, lb=shared)
    lone = pair("shop", "web")
    inv = b.inventory(lbs=[shared, lone[0]], ingresses=[member, lone[1]])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.evidence["joins_existing_group"] is True
    assert f.resource_arn == shared.arn and f.kubernetes == KubeRef(kind="IngressGroup", name="shared")
    assert f.evidence["suggested_group"] == "shared"
    assert "annotate ingress web" in f.remediation and "annotate ingress home" not in f.remediation
    assert f.monthly_saving_usd == pytest.approx(ONE_ALB, abs=0.01)


def test_overlapping_routes_get_group_order_and_mixed_namespaces_get_a_shared_name():
    a = pair("shop", "web", hosts=("www.example.com",))
    c = pair("blog", "web", hosts=("www.example.com",))
    f = only(RULE, inv_of(a, c))
    assert f.evidence["suggested_group"] == "shared-public"
    assert f"{ALB}group.order='10'" in f.remediation and f"{ALB}group.order='20'" in f.remediation


def test_unknown_cases():
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN
    a, c = pair("shop", "web"), pair("shop", "api")
    f = only(RULE, inv_of(a, c, failed={"elbv2": "Throttling"}))
    assert f.status == Status.UNKNOWN and f.discriminator == "elbv2-not-collected"
    https = b.listener(443, "HTTPS", certs=None)
    https.certificate_arns = None
    d = pair("shop", "tls", listeners=[https])
    f = only(RULE, inv_of(a, d))
    assert f.status == Status.UNKNOWN and "certificates" in f.message


def test_explicit_group_alone_and_orphans_are_not_reported():
    shared = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"))
    member = b.ingress("blog", "home", annotations={ALB + "group.name": "shared"}, lb=shared)
    assert run(RULE, b.inventory(lbs=[shared], ingresses=[member])) == []


def test_a_namespace_that_is_no_group_name_gets_a_shared_name():
    """Regression (found by the fuzz tests): a namespace as stored that no suffix makes a valid group name
    sent the name suggestion into an endless loop."""
    a = pair("Bad_NS", "web", hosts=("www.example.com",))
    c = pair("Bad_NS", "api", hosts=("api.example.com",), backend=("api", 8080))
    f = only(RULE, inv_of(a, c))
    assert f.status == Status.FAIL
    assert f.evidence["suggested_group"] == "shared-public"
