"""http-service-on-own-lb: HTTP LoadBalancer Services that could share the Ingress ALB."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.rules.cost.http_service_on_own_lb import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
LBC = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
}


def _shared_group():
    alb = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"))
    ing = b.ingress("shop", "web", annotations={ALB + "group.name": "shared"}, lb=alb)
    return alb, ing


def test_http_service_fails_when_a_shared_alb_exists_with_yaml_fix():
    alb, ing = _shared_group()
    nlb = b.load_balancer("k8s-blog-front", type="network", tags=b.service_tags("blog/front"))
    svc = b.service("blog", "front", ports=(8080,), lb=nlb, annotations=LBC)
    f = only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc]))
    assert f.status == Status.FAIL and f.resource_arn == nlb.arn
    assert f.kubernetes == KubeRef(kind="Service", namespace="blog", name="front")
    assert f.evidence["shared_group"] == "shared" and f.evidence["shared_alb"] == "k8s-shared"
    assert f.monthly_saving_usd == pytest.approx(f.evidence["monthly_saving_usd"])
    assert f.monthly_saving_usd == pytest.approx(730 * 0.0225 + 2 * 730 * 0.005, abs=0.01)
    assert "type: ClusterIP" in f.remediation
    assert f"{ALB}group.name: shared" in f.remediation
    assert "kind: Ingress" in f.remediation and "number: 8080" in f.remediation
    assert "ingressClassName: alb" in f.remediation


def test_app_protocol_and_backend_protocol_count_as_http_and_tls_port_gets_certificate():
    alb, ing = _shared_group()
    nlb = b.load_balancer("k8s-blog-api", type="network", tags=b.service_tags("blog/api"))
    svc = b.service("blog", "api", ports=(9000,), lb=nlb, annotations=LBC, app_protocol="http")
    assert only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc])).status == Status.FAIL

    ann = {**LBC, "service.beta.kubernetes.io/aws-load-balancer-backend-protocol": "http"}
    svc = b.service("blog", "api", ports=(9000,), lb=nlb, annotations=ann)
    assert only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc])).status == Status.FAIL

    tls = {**LBC, "service.beta.kubernetes.io/aws-load-balancer-ssl-cert": "arn:aws:acm:eu-west-1:1:certificate/x"}
    svc = b.service("blog", "api", ports=(443,), lb=nlb, annotations=tls)
    f = only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc]))
    assert f"{ALB}certificate-arn: arn:aws:acm:eu-west-1:1:certificate/x" in f.remediation
    assert '"HTTPS": 443' in f.remediation


def test_non_http_service_passes():
    alb, ing = _shared_group()
    nlb = b.load_balancer("k8s-db-pg", type="network", tags=b.service_tags("db/pg"))
    svc = b.service("db", "pg", ports=(5432,), lb=nlb, annotations=LBC)
    f = only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc]))
    assert f.status == Status.PASS and f.evidence["http_ports"] == []


def test_no_ingress_alb_or_other_scheme_is_a_note_not_a_failure():
    nlb = b.load_balancer("k8s-blog-front", type="network", tags=b.service_tags("blog/front"))
    svc = b.service("blog", "front", lb=nlb, annotations=LBC)
    f = only(RULE, b.inventory(lbs=[nlb], services=[svc]))
    assert f.status == Status.PASS and "no Ingress ALB to share" in f.message

    internal = b.load_balancer("k8s-int", scheme="internal", tags=b.ingress_tags("int"))
    ing = b.ingress("shop", "web", annotations={ALB + "group.name": "int"}, lb=internal)
    f = only(RULE, b.inventory(lbs=[nlb, internal], services=[svc], ingresses=[ing]))
    assert f.status == Status.PASS and "internal, not internet-facing" in f.message


def test_implicit_alb_in_same_namespace_gets_a_rule_other_namespace_gets_a_group_warning():
    alb = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web"))
    ing = b.ingress("blog", "web", lb=alb)
    nlb = b.load_balancer("k8s-blog-front", type="network", tags=b.service_tags("blog/front"))
    svc = b.service("blog", "front", lb=nlb, annotations=LBC)
    f = only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[svc]))
    assert f.status == Status.FAIL and "add a rule to Ingress blog/web" in f.remediation

    other = b.service("shop", "front", lb=nlb, annotations=LBC)
    nlb.tags = b.service_tags("shop/front")
    f = only(RULE, b.inventory(lbs=[alb, nlb], ingresses=[ing], services=[other]))
    assert f"{ALB}group.name: shop" in f.remediation and "#2028" in f.remediation


def test_unknown_when_load_balancers_or_kubernetes_not_collected():
    svc = b.service("blog", "front", annotations=LBC)
    f = only(RULE, b.inventory(services=[svc], failed={"elbv2": "AccessDenied"}))
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Service", namespace="blog", name="front")
    assert run(RULE, b.inventory(services=[svc])) == []  # collected, not provisioned: nothing paid
    assert only(RULE, b.inventory(kube=False)).status == Status.UNKNOWN


def test_the_ingress_nginx_controllers_service_is_not_an_http_service_to_move():
    """Its NLB carries the Ingresses of class nginx: moving it behind the ALB would not save a load balancer."""
    alb = b.load_balancer("k8s-shop", tags=b.ingress_tags("shop"))
    inv = b.nginx_inventory(
        b.ingress("shop", "web", ingress_class="nginx", lb=b.nginx_lb()),
        lbs=[alb],
        config={},
    )
    assert inv.kubernetes is not None
    inv.kubernetes.ingresses.append(
        b.ingress("shop", "alb", lb=alb, annotations={"alb.ingress.kubernetes.io/group.name": "shop"})
    )
    f = only(RULE, inv)
    assert f.status == Status.PASS and "ingress-nginx controller's Service" in f.message
    assert f.evidence["ingresses"] == ["Ingress shop/web"]
    without_controller = b.nginx_inventory(lbs=[alb], config={})
    assert without_controller.kubernetes is not None
    without_controller.kubernetes.ingress_controllers = []
    without_controller.kubernetes.services[0].selector = {"app": "web"}  # no longer recognisable
    without_controller.kubernetes.ingresses.append(
        b.ingress("shop", "alb", lb=alb, annotations={"alb.ingress.kubernetes.io/group.name": "shop"})
    )
    assert only(RULE, without_controller).status == Status.FAIL  # a plain HTTP Service: the rule still bites


def test_deployments_not_read_leave_it_unknown():
    inv = facet_failed(b.nginx_inventory(config={}), Facet.KUBE_DEPLOYMENTS)
    assert {f.status for f in judged(RULE, inv)} == {Status.UNKNOWN}
