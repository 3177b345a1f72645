"""http-without-redirect in front of ingress-nginx: each Ingress of the controller is judged by how ingress-nginx
answers HTTP (ssl-redirect on by default only with spec.tls, force-ssl-redirect, the ConfigMap defaults)."""

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.rules.tls.http_without_redirect import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

NGINX = "nginx.ingress.kubernetes.io/"
SHOP = KubeRef(kind="Ingress", namespace="shop", name="web")


def _ing(**kw):
    return b.ingress("shop", "web", ingress_class="nginx", hosts=("shop.example.com",), lb=b.nginx_lb(), **kw)


def test_ingress_without_tls_is_served_as_plain_http():
    f = only(RULE, b.nginx_inventory(_ing(), config={}))
    assert f.status == Status.FAIL and f.kubernetes == SHOP
    assert f.resource_arn == b.nginx_lb().arn
    assert "plain HTTP on port 80" in f.message and "no spec.tls" in f.message
    assert f.evidence["plain_hosts"] == ["shop.example.com"]
    assert "spec.tls" in f.remediation and "kubectl -n shop edit ingress web" in f.remediation
    assert "ConfigMap ingress-nginx/ingress-nginx-controller" in f.remediation


def test_tls_ends_at_the_nlb_so_the_fix_is_force_ssl_redirect():
    lb = b.nginx_lb(listeners=[b.listener(80, "TCP"), b.listener(443, "TLS")])
    ing = b.ingress("shop", "web", ingress_class="nginx", hosts=("shop.example.com",), lb=lb)
    f = only(RULE, b.nginx_inventory(ing, lb=lb, config={}))
    assert f.status == Status.FAIL
    assert f"kubectl -n shop annotate ingress web {NGINX}force-ssl-redirect='true' --overwrite" in f.remediation


def test_ingress_with_tls_is_redirected_by_default():
    f = only(RULE, b.nginx_inventory(_ing(tls_hosts=("shop.example.com",))))  # no ConfigMap: the defaults
    assert f.status == Status.PASS and "redirects HTTP to HTTPS" in f.message


def test_force_ssl_redirect_annotation_or_configmap_passes():
    forced = _ing(annotations={NGINX + "force-ssl-redirect": "true"})
    assert only(RULE, b.nginx_inventory(forced, config={})).status == Status.PASS
    assert only(RULE, b.nginx_inventory(_ing(), config={"force-ssl-redirect": "true"})).status == Status.PASS


def test_ssl_redirect_switched_off_fails_even_with_tls():
    off = _ing(tls_hosts=("shop.example.com",), annotations={NGINX + "ssl-redirect": "false"})
    f = only(RULE, b.nginx_inventory(off, config={}))
    assert f.status == Status.FAIL and f"{NGINX}ssl-redirect is false" in f.message
    assert f"{NGINX}ssl-redirect-" in f.remediation
    by_config = only(RULE, b.nginx_inventory(_ing(tls_hosts=("shop.example.com",)), config={"ssl-redirect": "false"}))
    assert by_config.status == Status.FAIL and "ConfigMap key ssl-redirect is false" in by_config.message


def test_a_host_outside_spec_tls_is_plain():
    ing = b.ingress(
        "shop", "web", ingress_class="nginx", hosts=("a.example.com", "b.example.com"), tls_hosts=("a.example.com",)
    )
    f = only(RULE, b.nginx_inventory(ing, config={}))
    assert f.status == Status.FAIL and f.evidence["plain_hosts"] == ["b.example.com"]


def test_internal_or_no_http_listener_is_not_flagged():
    internal = b.nginx_lb(scheme="internal")
    assert run(RULE, b.nginx_inventory(_ing(), lb=internal, config={})) == []
    tls_only = b.nginx_lb(listeners=[b.listener(443, "TCP")])
    f = only(RULE, b.nginx_inventory(_ing(), lb=tls_only, config={}))
    assert f.status == Status.PASS and "passes no plain HTTP" in f.message


def test_unread_configmap_is_unknown():
    inv = facet_failed(b.nginx_inventory(_ing()), Facet.KUBE_INGRESS_CONTROLLER_CONFIGS)
    (f,) = [f for f in judged(RULE, inv) if f.kubernetes == SHOP]
    assert f.status == Status.UNKNOWN and "kubernetes.ingress-controller-configs" in f.message


def test_unread_deployments_are_unknown():
    inv = facet_failed(b.nginx_inventory(_ing(), config={}), Facet.KUBE_DEPLOYMENTS)
    (f,) = [f for f in judged(RULE, inv) if f.kubernetes == SHOP]
    assert f.status == Status.UNKNOWN


def test_unread_listeners_are_unknown():
    lb = b.nginx_lb()
    lb.listeners = None
    f = only(RULE, b.nginx_inventory(_ing(), lb=lb, config={}))
    assert f.status == Status.UNKNOWN and "listeners" in f.message


def test_a_controller_known_only_by_its_service_labels_is_unknown():
    """A DaemonSet controller (or no Deployment found): its ConfigMap and arguments are unknown, so is its redirect."""
    inv = b.nginx_inventory(_ing(), config={"force-ssl-redirect": "true"})
    assert inv.kubernetes is not None
    inv.kubernetes.ingress_controllers = []
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and f.kubernetes == SHOP
    forced = _ing(annotations={NGINX + "force-ssl-redirect": "true"})  # the Ingress's own annotation decides
    inv = b.nginx_inventory(forced)
    assert inv.kubernetes is not None
    inv.kubernetes.ingress_controllers = []
    assert only(RULE, inv).status == Status.PASS
