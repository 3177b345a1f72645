"""Correlation of in-cluster ingress controllers from snapshots: an IngressClass whose controller runs in the cluster
(ingress-nginx, Traefik, HAProxy) is tied to the controller's LoadBalancer Service and so to its load balancer; the
class's Ingresses are exposure paths through that load balancer (facts §14)."""

from auditor.correlate import BackendRef, correlate
from auditor.cost.prices import default_price_book
from auditor.views import load_balancer_view
from tests.support import builders as b


def _nginx_snapshot(**kw):
    lb = b.load_balancer(
        "k8s-ingressn-ingressn-0a1b2c3d4e",
        type="network",
        tags=b.service_tags("ingress-nginx/ingress-nginx-controller"),
    )
    shop = b.ingress("shop", "web", ingress_class="nginx", hosts=("shop.example.com",), backend=("web", 80), lb=lb)
    blog = b.ingress("blog", "blog", ingress_class="nginx", backend=("blog", 8080), lb=lb)
    inv = b.inventory(
        lbs=[lb],
        services=[b.nginx_service(lb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"})],
        ingresses=[shop, blog],
        ingress_classes=[b.alb_class(), b.nginx_class()],
        ingress_controllers=[b.nginx_controller()],
        **kw,
    )
    return inv, lb


def test_nginx_class_is_tied_to_its_load_balancer_and_its_ingresses_are_paths():
    inv, lb = _nginx_snapshot()
    g = correlate(inv)
    (icx,) = g.ingress_controllers
    assert icx.implementation == "ingress-nginx" and icx.class_names == ["nginx"]
    assert [str(r) for r in icx.ingress_refs] == ["Ingress shop/web", "Ingress blog/blog"]
    assert [s.ref.name for s in icx.services] == ["ingress-nginx-controller"]
    node = g.lb(lb.arn)
    assert node is not None and node.owner is not None and node.owner.kind == "Service"
    assert node.owner.ingress_controller is icx and icx.load_balancers() == [node]
    assert {BackendRef("shop", "web", "80"), BackendRef("blog", "blog", "8080")} <= node.backends
    vias = {str(p.via) for p in g.backends[BackendRef("shop", "web", "80")]}
    assert vias == {"Ingress shop/web"}
    assert not g.groups  # not the AWS controller's Ingresses
    view = load_balancer_view(node, default_price_book())
    assert view.owner is not None and view.owner.routes == ["Ingress shop/web", "Ingress blog/blog"]


def test_service_found_by_selector_without_publish_service():
    lb = b.load_balancer(
        "a0123456789abcdef", type="network", tags=b.intree_tags("ingress-nginx/ingress-nginx-controller")
    )
    ing = b.ingress("shop", "web", ingress_class="nginx", lb=lb)
    g = correlate(
        b.inventory(
            lbs=[lb],
            services=[b.nginx_service(lb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"})],
            ingresses=[ing],
            ingress_classes=[b.nginx_class()],
            ingress_controllers=[b.nginx_controller(publish=None)],
        )
    )
    (icx,) = g.ingress_controllers
    assert icx.load_balancers() == [g.lb(lb.arn)] and icx.ingresses == [ing]


def test_service_found_by_documented_labels_without_a_deployment():
    """A controller run as a DaemonSet (or Deployments not read): its Service's selector says what it is."""
    lb = b.load_balancer("nlb", type="network", tags=b.service_tags("ingress-nginx/ingress-nginx-controller"))
    ing = b.ingress("shop", "web", ingress_class="nginx", lb=lb)
    g = correlate(
        b.inventory(lbs=[lb], services=[b.nginx_service(lb)], ingresses=[ing], ingress_classes=[b.nginx_class()])
    )
    (icx,) = g.ingress_controllers
    assert icx.workload is None and icx.ingresses == [ing] and icx.load_balancers() == [g.lb(lb.arn)]
    assert str(icx.ref) == "Service ingress-nginx/ingress-nginx-controller"


def test_a_class_without_its_controller_has_nowhere_to_go():
    ing = b.ingress("shop", "web", ingress_class="traefik")
    g = correlate(
        b.inventory(ingresses=[ing], ingress_classes=[b.nginx_class("traefik", "traefik.io/ingress-controller")])
    )
    (icx,) = g.ingress_controllers
    assert icx.implementation == "traefik" and not icx.services and icx.ingresses == [ing]
    assert str(icx.ref) == "IngressClass traefik"
    (path,) = g.backends[BackendRef("shop", "web", "80")]
    assert path.load_balancer is None


def test_ingress_without_class_goes_to_the_controller_watching_them():
    inv, _lb = _nginx_snapshot()
    assert inv.kubernetes is not None and inv.kubernetes.ingress_controllers is not None
    inv.kubernetes.ingress_controllers[0].watch_without_class = True
    plain = b.ingress("misc", "plain", ingress_class=None)
    legacy = b.ingress("misc", "legacy", ingress_class=None, annotations={"kubernetes.io/ingress.class": "nginx"})
    other = b.ingress("misc", "other", ingress_class="contour")
    inv.kubernetes.ingresses += [plain, legacy, other]
    (icx,) = correlate(inv).ingress_controllers
    assert [i.name for i in icx.ingresses] == ["web", "blog", "plain", "legacy"]


def test_a_backend_behind_nginx_and_its_own_load_balancer_is_one_backend_with_two_paths():
    inv, lb = _nginx_snapshot()
    own = b.load_balancer("k8s-shop-web-nlb", type="network", tags=b.service_tags("shop/web"))
    assert inv.kubernetes is not None
    inv.kubernetes.services.append(b.service("shop", "web", lb=own))
    inv.aws.load_balancers.append(own)
    g = correlate(inv)
    paths = g.backends[BackendRef("shop", "web", "80")]
    assert {(str(p.via), p.load_balancer.lb.name if p.load_balancer else None) for p in paths} == {
        ("Ingress shop/web", lb.name),
        ("Service shop/web", own.name),
    }
