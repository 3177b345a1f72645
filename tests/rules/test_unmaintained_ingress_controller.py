"""unmaintained-ingress-controller: the retired community ingress-nginx controller, by what reaches it."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import IngressControllerWorkload
from auditor.rules.controller.unmaintained_ingress_controller import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

NGINX = "nginx.ingress.kubernetes.io/"
DEPLOYMENT = KubeRef(kind="Deployment", namespace="ingress-nginx", name="ingress-nginx-controller")


def _ingresses():
    return (
        b.ingress("shop", "web", ingress_class="nginx", lb=b.nginx_lb(), annotations={NGINX + "ssl-redirect": "true"}),
        b.ingress("blog", "blog", ingress_class="nginx", lb=b.nginx_lb()),
    )


def test_internet_facing_ingress_nginx_is_high_with_the_ingresses_to_move():
    f = only(RULE, b.nginx_inventory(*_ingresses(), config={}))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH and f.kubernetes == DEPLOYMENT
    assert "retired ingress-nginx controller (v1.11.3)" in f.message and "internet-facing NLB" in f.message
    assert f.evidence["annotations_to_translate"] == {"shop/web": [NGINX + "ssl-redirect"]}
    assert "Ingress shop/web: ssl-redirect -> ALB: alb.ingress.kubernetes.io/ssl-redirect: '443'" in f.remediation
    assert "Ingress blog/blog: no ingress-nginx annotations" in f.remediation
    assert "gateway.k8s.aws/alb" in f.remediation and "Service ingress-nginx/ingress-nginx-controller" in f.remediation


def test_internal_is_medium_and_no_load_balancer_is_low():
    internal = only(RULE, b.nginx_inventory(*_ingresses(), lb=b.nginx_lb(scheme="internal")))
    assert internal.status == Status.FAIL and internal.severity == Severity.MEDIUM
    inv = b.nginx_inventory(*_ingresses())
    assert inv.kubernetes is not None
    inv.kubernetes.services = []
    inv.aws.load_balancers = []
    alone = only(RULE, inv)
    assert alone.severity == Severity.LOW and "no load balancer found" in alone.message


def test_other_in_cluster_controllers_pass_and_no_controller_says_nothing():
    traefik = IngressControllerWorkload(
        namespace="traefik",
        name="traefik",
        implementation="traefik",
        image="traefik:v3.1",
        controller_class="traefik.io/ingress-controller",
    )
    f = only(RULE, b.inventory(ingress_controllers=[traefik]))
    assert f.status == Status.PASS and "not the retired ingress-nginx" in f.message
    assert run(RULE, b.inventory()) == []


def test_unknown_when_deployments_or_services_were_not_read():
    for facet in (Facet.KUBE_DEPLOYMENTS, Facet.KUBE_SERVICES):
        findings = judged(RULE, facet_failed(b.nginx_inventory(*_ingresses()), facet))
        assert findings and {f.status for f in findings} == {Status.UNKNOWN}


def test_unknown_on_a_snapshot_before_in_cluster_controllers_were_read():
    inv = b.nginx_inventory(*_ingresses())
    assert inv.kubernetes is not None
    inv.kubernetes.ingress_controllers = None
    assert only(RULE, inv).status == Status.UNKNOWN
