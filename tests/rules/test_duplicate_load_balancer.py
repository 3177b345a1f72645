"""duplicate-load-balancer: a backend port behind two load balancers; the redundant one priced."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.rules.cost.duplicate_load_balancer import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

LBC = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}


def _svc_and_ingress(**inv_kw):
    alb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    nlb = b.load_balancer("k8s-shop-front", type="network", tags=b.service_tags("shop/front"))
    svc = b.service("shop", "front", lb=nlb, annotations=LBC, lb_class="service.k8s.aws/nlb")
    ing = b.ingress("shop", "web", backend=("front", 80), lb=alb)
    return alb, nlb, b.inventory(lbs=[alb, nlb], services=[svc], ingresses=[ing], **inv_kw)


def test_service_with_own_nlb_and_ingress_fails_pricing_the_nlb():
    alb, nlb, inv = _svc_and_ingress()
    f = only(RULE, inv)
    assert f.status == Status.FAIL
    assert f.kubernetes == KubeRef(kind="Service", namespace="shop", name="front")
    assert f.discriminator == "shop/front:80" and f.resource_arn == nlb.arn
    assert f.evidence["keep"] == alb.name and f.evidence["redundant"] == [nlb.name]
    assert {p["via"] for p in f.evidence["paths"]} == {"Ingress shop/web", "Service shop/front"}
    assert f.monthly_saving_usd == pytest.approx(730 * 0.0225 + 2 * 730 * 0.005, abs=0.01)
    assert "kubectl -n shop patch service front" in f.remediation
    assert '"type": "ClusterIP"' in f.remediation and '"loadBalancerClass": null' in f.remediation
    assert nlb.dns_name in f.remediation


def test_two_ingress_groups_for_one_backend_fail_keeping_the_shared_alb():
    shared = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"))
    single = b.load_balancer("k8s-shop-extra", tags=b.ingress_tags("shop/extra"))
    grp = {"alb.ingress.kubernetes.io/group.name": "shared"}
    inv = b.inventory(
        lbs=[shared, single],
        ingresses=[
            b.ingress("shop", "web", annotations=grp, lb=shared),
            b.ingress("shop", "api", annotations=grp, backend=("api", 80), lb=shared),
            b.ingress("shop", "extra", lb=single),
        ],
    )
    findings = {f.discriminator: f for f in run(RULE, inv)}
    dup = findings["shop/web:80"]
    assert dup.status == Status.FAIL and dup.evidence["keep"] == "k8s-shared"
    assert "remove the paths to web:80 from Ingress shop/extra" in dup.remediation
    assert findings["shop/api:80"].status == Status.PASS


def test_single_path_passes_and_orphans_do_not_count():
    alb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    f = only(RULE, b.inventory(lbs=[alb], ingresses=[b.ingress("shop", "web", lb=alb)]))
    assert f.status == Status.PASS and f.resource_arn == alb.arn
    # the ALB left behind by a regrouping is an orphan, not a second path
    old = b.load_balancer("k8s-shop-old", tags=b.ingress_tags("shop/web"))
    new = b.load_balancer("k8s-shop-grp", tags=b.ingress_tags("shop"))
    grp = {"alb.ingress.kubernetes.io/group.name": "shop"}
    f = only(RULE, b.inventory(lbs=[old, new], ingresses=[b.ingress("shop", "web", annotations=grp, lb=new)]))
    assert f.status == Status.PASS and f.resource_arn == new.arn


def test_unknown_when_load_balancers_not_collected_or_kubernetes_missing():
    svc = b.service("shop", "front", annotations=LBC)
    ing = b.ingress("shop", "web", backend=("front", 80))
    f = only(RULE, b.inventory(services=[svc], ingresses=[ing], failed={"elbv2": "Throttling"}))
    assert f.status == Status.UNKNOWN and "not fully collected" in f.message
    # all collected, neither provisioned: nothing is exposed through a load balancer yet
    assert run(RULE, b.inventory(services=[svc], ingresses=[ing])) == []
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN


# ---------------------------------------------------------------- Gateways


def _gateway_and_ingress(*, gateway_backend="front", grant=True, route_ns="shop"):
    gw_lb = b.load_balancer("k8s-edge-gw", tags=b.gateway_tags("edge/web"))
    alb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    gw = b.gateway("edge", "web", lb=gw_lb, listeners=[b.gw_listener("http", 80, allowed="All")])
    backend = gateway_backend if route_ns == "shop" else f"shop/{gateway_backend}"
    route = b.route(route_ns, "front", gateway="web", gateway_namespace="edge", backends=(backend,))
    grants = [b.reference_grant("shop", route_ns)] if grant and route_ns != "shop" else []
    ing = b.ingress("shop", "web", backend=("front", 80), lb=alb)
    # the Ingress serves more backends: it is the one to keep
    ing.rules[0].paths.append(ing.rules[0].paths[0].model_copy(deep=True))
    ing.rules[0].paths[1].backend.service_name = "other"
    return (
        gw_lb,
        alb,
        b.inventory(lbs=[gw_lb, alb], gateways=[gw], routes=[route], ingresses=[ing], reference_grants=grants),
    )


def test_backend_behind_a_gateway_and_an_ingress_fails_with_a_route_fix():
    gw_lb, alb, inv = _gateway_and_ingress()
    got = {f.discriminator: f for f in run(RULE, inv)}
    f = got["shop/front:80"]
    assert f.status == Status.FAIL and f.resource_arn == gw_lb.arn
    assert {p["via"] for p in f.evidence["paths"]} == {"Gateway edge/web", "Ingress shop/web"}
    assert f.evidence["keep"] == alb.name and f.evidence["redundant"] == [gw_lb.name]
    assert "remove the backendRefs to front:80 from HTTPRoute shop/front attached to Gateway edge/web" in f.remediation


def test_cross_namespace_route_without_reference_grant_is_not_a_second_path():
    _, _, inv = _gateway_and_ingress(route_ns="team", grant=False)
    f = {f.discriminator: f for f in run(RULE, inv)}["shop/front:80"]
    assert f.status == Status.PASS and [p["via"] for p in f.evidence["paths"]] == ["Ingress shop/web"]
    _, _, inv = _gateway_and_ingress(route_ns="team", grant=True)
    assert {f.discriminator: f for f in run(RULE, inv)}["shop/front:80"].status == Status.FAIL


def test_backend_paths_unknown_when_routes_were_not_read():
    _, _, inv = _gateway_and_ingress()
    inv = facet_failed(inv, Facet.KUBE_HTTP_ROUTES)
    findings = judged(RULE, inv)
    assert findings and all(f.status == Status.UNKNOWN for f in findings)
    assert any("kubernetes.http-routes" in str(f.evidence) for f in findings)


def _nginx_and_own_nlb(**kw):
    own = b.load_balancer("k8s-shop-web-nlb", type="network", tags=b.service_tags("shop/web"))
    ing = b.ingress("shop", "web", ingress_class="nginx", lb=b.nginx_lb())
    return b.nginx_inventory(ing, lbs=[own], services=[b.service("shop", "web", lb=own, annotations=LBC)], **kw), own


def test_backend_behind_ingress_nginx_and_its_own_nlb_fails():
    inv, own = _nginx_and_own_nlb(config={})
    (f,) = [f for f in run(RULE, inv) if f.status == Status.FAIL]
    assert f.kubernetes == KubeRef(kind="Service", namespace="shop", name="web")
    assert f.resource_arn == own.arn  # the Service's own NLB is the redundant one; the nginx NLB is shared
    assert {p["via"] for p in f.evidence["paths"]} == {"Ingress shop/web", "Service shop/web"}
    assert f.evidence["keep"] == b.nginx_lb().name
    assert "kubectl -n shop patch service web" in f.remediation


def test_backend_only_behind_ingress_nginx_passes():
    ing = b.ingress("shop", "web", ingress_class="nginx", lb=b.nginx_lb())
    found = {f.resource_name: f for f in run(RULE, b.nginx_inventory(ing, config={}))}
    assert found["shop/web:80"].status == Status.PASS
    assert found["shop/web:80"].resource_arn == b.nginx_lb().arn


def test_ingress_nginx_paths_unknown_without_deployments():
    inv, _ = _nginx_and_own_nlb(config={})
    findings = judged(RULE, facet_failed(inv, Facet.KUBE_DEPLOYMENTS))
    assert {f.status for f in findings} == {Status.UNKNOWN}
