"""ingress-not-provisioned: exposures without an address, with the reason the inventory shows."""

from auditor.findings import KubeRef, Status
from auditor.rules.hygiene.ingress_not_provisioned import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"


def test_no_controller_is_the_reason():
    f = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.resource_arn is None
    assert "no AWS Load Balancer Controller Deployment runs" in f.message
    assert "helm install aws-load-balancer-controller" in f.remediation and "clusterName=demo" in f.remediation
    assert "kubectl -n shop describe ingress web" in f.remediation


def test_controller_without_ready_replicas_is_the_reason():
    f = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")], controllers=[b.controller(ready=0)]))
    assert f.status == Status.FAIL and "has no ready replica" in f.message
    assert "kubectl -n kube-system describe deployment aws-load-balancer-controller" in f.remediation


def test_addressed_ingress_passes_and_fingerprint_survives_provisioning():
    before = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")], controllers=[b.controller()]))
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    after = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)], controllers=[b.controller()]))
    assert before.status == Status.FAIL and "nothing in the inventory explains it" in before.message
    assert after.status == Status.PASS and after.evidence["address"] == lb.dns_name
    assert after.evidence["load_balancer"] == "k8s-shop-web"
    assert before.fingerprint == after.fingerprint


def test_invalid_annotation_on_another_member_blocks_the_group():
    group = {ALB + "group.name": "shop"}
    web = b.ingress("shop", "web", annotations=group)
    api = b.ingress("shop", "api", annotations={**group, ALB + "listen-ports": "[80]"})
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(ingresses=[web, api], controllers=[b.controller()]))}
    assert found["api"].status == Status.FAIL and "invalid annotation alb.ingress.kubernetes.io/listen-ports" in (
        found["api"].message
    )
    assert found["web"].status == Status.FAIL
    assert "Ingress shop/api of the same IngressGroup 'shop'" in found["web"].message
    assert "blocks the whole group" in found["web"].message
    assert "Correct alb.ingress.kubernetes.io/listen-ports on Ingress shop/api" in found["web"].remediation


def test_load_balancer_exists_but_status_is_empty():
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web")], controllers=[b.controller()]))
    assert f.status == Status.FAIL and "k8s-shop-web exists, but the controller never wrote its address" in f.message


def test_service_with_foreign_load_balancer_class():
    svc = b.service("web", "front", lb_class="example.com/other")
    f = only(RULE, b.inventory(services=[svc], controllers=[b.controller()]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Service", namespace="web", name="front")
    assert "'example.com/other' is not the AWS Load Balancer Controller's ('service.k8s.aws/nlb')" in f.message
    assert "spec.loadBalancerClass: service.k8s.aws/nlb" in f.remediation


def test_lbc_service_needs_the_controller_intree_service_does_not():
    lbc = b.service("db", "pg", annotations={SVC + "aws-load-balancer-type": "external"})
    intree = b.service("legacy", "app")
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(services=[lbc, intree]))}
    assert "no AWS Load Balancer Controller Deployment" in found["pg"].message
    assert "Controller Deployment" not in found["app"].message
    assert "kubernetes.io/role/elb" in found["app"].remediation


def test_incomplete_kubernetes_inventory_is_unknown_for_unaddressed_objects():
    lb = b.load_balancer("k8s-shop-api", tags=b.ingress_tags("shop/api"))
    inv = b.inventory(
        lbs=[lb],
        ingresses=[b.ingress("shop", "web"), b.ingress("shop", "api", lb=lb)],
        failed={"kubernetes": "Timeout"},
    )
    found = {f.kubernetes.name: f.status for f in run(RULE, inv)}
    assert found == {"web": Status.UNKNOWN, "api": Status.PASS}


def test_no_kubernetes_no_findings():
    assert run(RULE, b.inventory(kube=False, lbs=[b.load_balancer("x")])) == []


# ---------------------------------------------------------------- Gateways of the controller's classes


def test_gateway_without_address_fails_with_the_reasons_seen():
    bad = b.lb_configuration("shop", "pub", scheme="public")
    inv = b.inventory(
        gateways=[b.gateway("shop", "web", config="pub")],
        gateway_configurations=[bad],
        controllers=[b.controller("v2.12.0")],
    )
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert (
        "older than v2.14.0" in f.message and "LoadBalancerConfiguration shop/pub has invalid spec.scheme" in f.message
    )
    assert "kubectl -n shop edit loadbalancerconfiguration pub" in f.remediation
    assert "kubectl -n shop describe gateway web" in f.remediation


def test_gateway_with_its_address_passes_and_a_foreign_gateway_is_not_judged():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    inv = b.inventory(
        lbs=[lb],
        gateways=[b.gateway("shop", "web", lb=lb), b.gateway("mesh", "edge", cls="istio")],
        gateway_classes=[b.gateway_class(), b.gateway_class("istio", "istio.io/gateway-controller")],
        controllers=[b.controller("v3.2.2")],
    )
    f = only(RULE, inv)  # the istio Gateway without address is listed, not judged
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["address"] == lb.dns_name and f.evidence["load_balancer"] == lb.name


def test_gateway_without_address_is_unknown_when_kubernetes_is_incomplete():
    inv = b.inventory(gateways=[b.gateway("shop", "web")], failed={"kubernetes": "403"})
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
