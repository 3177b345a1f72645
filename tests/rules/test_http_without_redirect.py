"""http-without-redirect: ALB HTTP listeners must only redirect to HTTPS; public CLBs must not serve HTTP."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import Action, Listener, RedirectConfig, RouteRedirect
from auditor.rules.tls.http_without_redirect import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"


def _alb(*listeners, name="k8s-shop-web", stack="shop/web", **kw):
    return b.load_balancer(name, tags=b.ingress_tags(stack), listeners=list(listeners), **kw)


def test_alb_forwarding_http_fails_with_ingress_fix():
    lb = _alb(b.listener(80, "HTTP", default=b.forward("tg")))
    ing = b.ingress("shop", "web", lb=lb)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH
    assert f.resource_arn == lb.arn and f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.evidence["http_listeners"] == [{"port": 80, "protocol": "HTTP", "default_action": ["forward"]}]
    assert "port 80" in f.message and "Ingress shop/web" in f.message
    assert "kubectl -n shop annotate ingress web" in f.remediation
    assert f'{ALB}listen-ports=\'[{{"HTTP": 80}}, {{"HTTPS": 443}}]\'' in f.remediation
    assert f"{ALB}ssl-redirect='443'" in f.remediation
    assert "certificate-arn" in f.remediation  # no certificate anywhere yet


def test_redirect_default_but_forwarding_rule_fails():
    http = b.listener(
        80,
        "HTTP",
        default=b.redirect_https(),
        rules=[b.rule(1, hosts=("a.example.com",), action=b.forward("tg"))],
    )
    lb = _alb(http, b.listener(443, "HTTPS", default=b.forward("tg")))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.FAIL
    assert f.evidence["http_listeners"][0]["rules_not_redirecting"] == ["1"]


def test_redirect_to_http_is_not_a_redirect_to_https():
    keep_http = Action(type="redirect", redirect=RedirectConfig(protocol="#{protocol}", port="8080"))
    lb = _alb(b.listener(80, "HTTP", default=keep_http))
    assert only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)])).status == Status.FAIL


def test_ssl_redirect_alb_passes():
    http = b.listener(80, "HTTP", default=b.redirect_https(), rules=[b.rule(1, action=b.redirect_https())])
    lb = _alb(http, b.listener(443, "HTTPS", default=b.forward("tg")))
    ing = b.ingress("shop", "web", lb=lb, annotations={ALB + "ssl-redirect": "443"})
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.PASS and f.evidence["redirecting_http_ports"] == [80]
    assert f.evidence["ssl_redirect_annotations"] == {"shop/web": "443"}


def test_https_only_alb_passes():
    lb = _alb(b.listener(443, "HTTPS", default=b.forward("tg")))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.PASS and "no plain-HTTP listener" in f.message


def test_rules_not_collected_is_unknown():
    http = b.listener(80, "HTTP", default=b.redirect_https())
    http.rules = None
    lb = _alb(http)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.UNKNOWN and "rules of HTTP listener 80 were not collected" in f.message


def test_listeners_not_collected_is_unknown_but_a_known_failure_wins():
    lb = _alb()
    lb.listeners = None
    assert only(RULE, b.inventory(lbs=[lb])).status == Status.UNKNOWN
    unknown = b.listener(8080, "HTTP", default=b.redirect_https())
    unknown.rules = None
    lb2 = _alb(unknown, b.listener(80, "HTTP", default=b.forward("tg")), name="k8s-two")
    assert only(RULE, b.inventory(lbs=[lb2])).status == Status.FAIL


def test_internal_and_network_load_balancers_are_not_examined():
    internal = _alb(b.listener(80, "HTTP", default=b.forward("tg")), scheme="internal")
    nlb = b.load_balancer("k8s-nlb", type="network", listeners=[b.listener(80, "TCP", default=b.forward("tg"))])
    assert run(RULE, b.inventory(lbs=[internal, nlb])) == []


def test_group_fix_adds_https_port_to_each_member_and_redirect_once():
    lb = _alb(b.listener(80, "HTTP", default=b.forward("tg")), name="k8s-shop", stack="shop")
    group = {ALB + "group.name": "shop"}
    web = b.ingress("shop", "web", lb=lb, annotations={**group, ALB + "certificate-arn": b.arn("acm", "certificate/c")})
    api = b.ingress("shop", "api", lb=lb, annotations=group)
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[web, api]))
    assert f.kubernetes == KubeRef(kind="IngressGroup", name="shop")
    # web already gets HTTPS:443 by default (it has a certificate); api needs it; ssl-redirect on the first only
    assert "annotate ingress api" in f.remediation and f.remediation.count("ssl-redirect") == 1
    assert "discovers a matching ACM certificate" not in f.remediation


def test_public_clb_with_http_fails_and_speaks_service_annotations():
    clb = b.load_balancer(
        "a0123",
        type="classic",
        tags=b.intree_tags("legacy/app"),
        listeners=[Listener(port=80, protocol="HTTP", instance_port=30080, instance_protocol="HTTP")],
    )
    f = only(RULE, b.inventory(lbs=[clb], services=[b.service("legacy", "app", lb=clb)]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="app")
    assert "service.beta.kubernetes.io/aws-load-balancer-ssl-cert" in f.remediation
    assert "aws-load-balancer-ssl-ports='443'" in f.remediation


def test_clb_tcp_80_fails_and_https_only_clb_passes():
    tcp = b.load_balancer("a1", type="classic", listeners=[Listener(port=80, protocol="TCP", instance_port=30080)])
    https = b.load_balancer(
        "a2", type="classic", listeners=[Listener(port=443, protocol="HTTPS", ssl_policy="ELBSecurityPolicy-2016-08")]
    )
    by_name = {f.resource_name: f for f in run(RULE, b.inventory(lbs=[tcp, https]))}
    assert by_name["a1"].status == Status.FAIL and "aws elb delete-load-balancer-listeners" in by_name["a1"].remediation
    assert by_name["a2"].status == Status.PASS


def test_unmanaged_alb_gets_aws_side_fix():
    lb = b.load_balancer("manual", listeners=[b.listener(80, "HTTP", default=b.forward("tg"))])
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.FAIL and f.kubernetes is None and "aws elbv2 modify-listener" in f.remediation


def test_annotations_already_right_but_not_applied_points_at_the_controller():
    lb = _alb(b.listener(80, "HTTP", default=b.forward("tg")), b.listener(443, "HTTPS"))
    ing = b.ingress(
        "shop",
        "web",
        lb=lb,
        annotations={ALB + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]', ALB + "ssl-redirect": "443"},
        tls_hosts=("shop.example.com",),
    )
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing]))
    assert f.status == Status.FAIL and "controller has not applied it" in f.remediation
    assert "kubectl" not in f.remediation and "aws elbv2" not in f.remediation


# ---------------------------------------------------------------- Gateway-made ALBs


def _gateway_alb(*listeners):
    return b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"), listeners=list(listeners))


def _gateway_inventory(lb, *routes):
    gw = b.gateway("shop", "web", lb=lb, listeners=[b.gw_listener("http", 80), b.gw_listener("https", 443, "HTTPS")])
    return b.inventory(lbs=[lb], gateways=[gw], routes=list(routes))


def test_gateway_http_listener_forwarding_fails_with_a_redirect_route_fix():
    lb = _gateway_alb(b.listener(80, "HTTP", default=b.fixed_404(), rules=[b.rule(1, action=b.forward("tg"))]))
    store = b.route("shop", "store", gateway="web", backends=("store",))  # no sectionName: both listeners
    f = only(RULE, _gateway_inventory(lb, store))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["http_listeners"][0]["rules_not_redirecting"] == ["1"]
    assert "through HTTPRoute shop/store" in f.remediation
    assert "RequestRedirect" in f.remediation and "scheme: https" in f.remediation
    assert "sectionName: https" in f.remediation and "annotate" not in f.remediation


def test_gateway_http_listener_that_only_redirects_passes():
    """The controller's default action on a Gateway listener is a fixed 404: it serves no content."""
    lb = _gateway_alb(b.listener(80, "HTTP", default=b.fixed_404(), rules=[b.rule(1, action=b.redirect_https())]))
    redirect = b.route(
        "shop", "to-https", gateway="web", section="http", redirect=RouteRedirect(scheme="https", status_code=301)
    )
    f = only(RULE, _gateway_inventory(lb, redirect))
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert "answers every HTTP request on port 80 with a redirect to HTTPS or a fixed response" in f.message
    # the same fixed response on an Ingress's ALB is still judged as before (not a redirect)
    ing_lb = _alb(b.listener(80, "HTTP", default=b.fixed_404()))
    assert only(RULE, b.inventory(lbs=[ing_lb], ingresses=[b.ingress("shop", "web", lb=ing_lb)])).status == Status.FAIL


def test_gateway_http_listener_rules_not_read_is_unknown():
    http = b.listener(80, "HTTP", default=b.fixed_404())
    http.rules = None  # DescribeRules failed for it
    f = only(RULE, _gateway_inventory(_gateway_alb(http)))
    assert f.status == Status.UNKNOWN and "rules of HTTP listener 80 were not collected" in f.message
