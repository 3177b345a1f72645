"""ingress-not-provisioned and invalid-annotation on the Ingresses of an in-cluster ingress controller (ingress-nginx):
an Ingress without an address with its reason; ingress-nginx annotations whose documented format is not met."""

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.rules.hygiene.ingress_not_provisioned import RULE as NOT_PROVISIONED
from auditor.rules.hygiene.invalid_annotation import RULE as INVALID
from tests.rules._harness import facet_failed, judged, run
from tests.support import builders as b

NGINX = "nginx.ingress.kubernetes.io/"
SHOP = KubeRef(kind="Ingress", namespace="shop", name="web")


def _of(findings, ref=SHOP):
    (f,) = [f for f in findings if f.kubernetes == ref]
    return f


def test_nginx_ingress_with_address_passes():
    ing = b.ingress("shop", "web", ingress_class="nginx", lb=b.nginx_lb())
    f = _of(run(NOT_PROVISIONED, b.nginx_inventory(ing)))
    assert (
        f.status == Status.PASS
        and f.evidence["ingress_controller"] == "Deployment ingress-nginx/ingress-nginx-controller"
    )
    assert f.evidence["load_balancer"] == b.nginx_lb().name


def test_nginx_ingress_without_address_names_the_missing_controller():
    ing = b.ingress("shop", "web", ingress_class="nginx")
    inv = b.inventory(ingresses=[ing], ingress_classes=[b.nginx_class()])
    f = _of(run(NOT_PROVISIONED, inv))
    assert f.status == Status.FAIL
    assert "no ingress-nginx controller for IngressClass nginx (k8s.io/ingress-nginx) runs" in f.message


def test_nginx_ingress_without_address_behind_a_pending_service():
    ing = b.ingress("shop", "web", ingress_class="nginx")
    inv = b.nginx_inventory(ing)
    assert inv.kubernetes is not None
    inv.aws.load_balancers = []
    inv.kubernetes.services[0].status_ingress = []
    inv.kubernetes.ingress_controllers[0].ready_replicas = 0  # type: ignore[index]
    f = _of(run(NOT_PROVISIONED, inv))
    assert f.status == Status.FAIL
    assert "has no ready replica" in f.message and "has no load balancer yet" in f.message


def test_nginx_ingress_unknown_when_deployments_unread():
    ing = b.ingress("shop", "web", ingress_class="nginx")
    inv = facet_failed(b.nginx_inventory(ing), Facet.KUBE_DEPLOYMENTS)
    assert _of(judged(NOT_PROVISIONED, inv)).status == Status.UNKNOWN


def test_nginx_boolean_annotation_that_is_not_a_boolean_fails():
    ing = b.ingress(
        "shop",
        "web",
        ingress_class="nginx",
        lb=b.nginx_lb(),
        annotations={NGINX + "ssl-redirect": "yes", NGINX + "backend-protocol": "HTTPS"},
    )
    f = _of(run(INVALID, b.nginx_inventory(ing)))
    assert f.status == Status.FAIL and f.evidence["annotation"] == NGINX + "ssl-redirect"
    assert "must be a boolean" in f.message
    assert f"kubectl -n shop annotate ingress web {NGINX}ssl-redirect=" in f.remediation


def test_nginx_ingress_with_valid_annotations_passes_and_others_are_left_alone():
    ing = b.ingress(
        "shop",
        "web",
        ingress_class="nginx",
        lb=b.nginx_lb(),
        annotations={NGINX + "ssl-redirect": "False", NGINX + "whitelist-source-range": "10.0.0.0/8, 192.168.0.0/16"},
    )
    foreign = b.ingress("misc", "other", ingress_class="contour", annotations={NGINX + "ssl-redirect": "yes"})
    inv = b.nginx_inventory(ing, foreign)
    found = run(INVALID, inv)
    f = _of(found)
    assert f.status == Status.PASS and NGINX + "ssl-redirect" in f.evidence["annotations_checked"]
    assert not [f for f in found if f.kubernetes == KubeRef(kind="Ingress", namespace="misc", name="other")]


def test_nginx_cidr_list_that_is_not_cidrs_fails():
    ing = b.ingress("shop", "web", ingress_class="nginx", annotations={NGINX + "allowlist-source-range": "office"})
    f = _of(run(INVALID, b.nginx_inventory(ing)))
    assert f.status == Status.FAIL and "'office' is not a CIDR" in f.message


def test_nginx_annotations_unknown_when_ingresses_unread():
    ing = b.ingress("shop", "web", ingress_class="nginx", annotations={NGINX + "ssl-redirect": "yes"})
    inv = facet_failed(b.nginx_inventory(ing), Facet.KUBE_INGRESSES)
    assert _of(judged(INVALID, inv)).status == Status.UNKNOWN
