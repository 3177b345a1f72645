"""Correlation of Gateway API objects from snapshots: a Gateway owns its load balancer (stack tag, else status
address), only under the controller's GatewayClass; routes attach and lead to backends, across namespaces only
with a ReferenceGrant; a backend behind a Gateway and an Ingress is one backend with two paths."""

import json

from auditor.correlate import BackendRef, correlate
from auditor.inventory.models import Inventory
from tests.support import builders as b


def test_gateway_owns_its_alb_by_stack_tag_with_its_routes():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    gw = b.gateway("shop", "web", lb=lb)
    routes = [
        b.route("shop", "store", gateway="web", backends=("store",)),
        b.route("shop", "api", gateway="web", backends=("api",), port=8080),
    ]
    g = correlate(b.inventory(lbs=[lb], gateways=[gw], routes=routes, services=[]))
    node = g.lb(lb.arn)
    assert node is not None and node.owner is not None
    assert (node.owner.kind, node.owner.namespace, node.owner.name) == ("Gateway", "shop", "web")
    assert node.owner_evidence == "stack-tag" and node.orphan is None and node.controller == "lbc"
    assert node.stack == "shop/web"
    (gwx,) = g.gateways
    assert gwx.managed and gwx.implementation == "alb" and gwx.load_balancers == [node]
    assert [str(r) for r in gwx.route_refs] == ["HTTPRoute shop/store", "HTTPRoute shop/api"]
    assert node.backends == {BackendRef("shop", "store", "80"), BackendRef("shop", "api", "8080")}


def test_nlb_gateway_by_its_own_stack_tag():
    lb = b.load_balancer("k8s-db-gw", type="network", tags=b.gateway_tags("db/tcp", kind="nlb"))
    gw = b.gateway(
        "db", "tcp", cls="nlb", listeners=[b.gw_listener("pg", 5432, "TCP")], lb=None
    )  # no address yet: the tag alone decides
    g = correlate(
        b.inventory(
            lbs=[lb],
            gateway_classes=[b.gateway_class("nlb", "gateway.k8s.aws/nlb")],
            gateways=[gw],
            routes=[b.route("db", "pg", gateway="tcp", kind="TCPRoute", backends=("pg",), port=5432)],
        )
    )
    node = g.lb(lb.arn)
    assert node.owner is not None and node.owner.kind == "Gateway" and node.owner_evidence == "stack-tag"
    assert node.owner.gateway is not None and node.owner.gateway.implementation == "nlb"
    assert node.backends == {BackendRef("db", "pg", "5432")}


def test_status_address_is_the_fallback():
    lb = b.load_balancer("no-stack-tag", tags={"elbv2.k8s.aws/cluster": b.CLUSTER})
    g = correlate(b.inventory(lbs=[lb], gateways=[b.gateway("shop", "web", lb=lb)]))
    node = g.lb(lb.arn)
    assert node.owner is not None and node.owner.kind == "Gateway" and node.owner_evidence == "hostname"
    assert node.orphan is None


def test_a_gateway_of_another_implementation_is_listed_not_an_owner():
    lb = b.load_balancer("istio-lb", type="network", tags={})
    foreign = b.gateway("mesh", "edge", cls="istio", lb=lb)
    g = correlate(
        b.inventory(
            lbs=[lb],
            gateway_classes=[b.gateway_class(), b.gateway_class("istio", "istio.io/gateway-controller")],
            gateways=[foreign],
            routes=[b.route("mesh", "r", gateway="edge", backends=("svc",))],
        )
    )
    (gwx,) = g.gateways
    assert not gwx.managed and gwx.implementation is None
    node = g.lb(lb.arn)
    assert node.owner is None  # its address names the LB, but this controller did not make it
    assert BackendRef("mesh", "svc", "80") not in g.backends


def test_gateways_of_other_implementations_are_listed_in_the_result_and_the_reports():
    from auditor.config import Settings
    from auditor.output import render
    from auditor.pipeline import analyze

    lb = b.load_balancer("istio-lb", type="network", tags={})
    foreign = b.gateway("mesh", "edge", cls="istio", lb=lb)
    result = analyze(
        b.inventory(
            lbs=[lb],
            gateway_classes=[b.gateway_class(), b.gateway_class("istio", "istio.io/gateway-controller")],
            gateways=[foreign, b.gateway("shop", "web")],
        ),
        Settings(),
    ).result
    [listed] = result.other_gateways  # the controller's own Gateway is not in the list
    assert (listed.namespace, listed.name, listed.gateway_class) == ("mesh", "edge", "istio")
    assert listed.controller == "istio.io/gateway-controller" and listed.addresses == [lb.dns_name]
    assert json.loads(render(result, "json"))["other_gateways"][0]["name"] == "edge"
    assert "| mesh/edge | istio | istio.io/gateway-controller |" in render(result, "markdown")
    assert 'id="other-gateways"' in render(result, "html")


def test_gateway_tagged_alb_whose_gateway_moved_to_another_class_is_orphaned():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    gw = b.gateway("shop", "web", cls="istio")
    g = correlate(
        b.inventory(
            lbs=[lb],
            gateway_classes=[b.gateway_class(), b.gateway_class("istio", "istio.io/gateway-controller")],
            gateways=[gw],
        )
    )
    node = g.lb(lb.arn)
    assert node.owner is None and node.orphan == "owner-gone"
    assert "no longer served by the AWS Load Balancer Controller" in node.orphan_detail


def test_gateway_gone_is_an_orphan():
    lb = b.load_balancer("k8s-shop-old-gw", tags=b.gateway_tags("shop/old"))
    g = correlate(b.inventory(lbs=[lb], gateways=[b.gateway("shop", "web")]))
    node = g.lb(lb.arn)
    assert node.orphan == "owner-gone" and node.orphan_detail == "Gateway shop/old no longer exists"


def test_gateways_not_read_never_make_an_orphan():
    """A snapshot older than schema 3 (or a failed Gateway list): no verdict on Gateway-tagged load balancers."""
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    ing_lb = b.load_balancer("k8s-gone", tags=b.ingress_tags("shop/gone"))
    g = correlate(b.inventory(lbs=[lb, ing_lb], gateways_read=False))
    assert g.lb(lb.arn).orphan is None and g.lb(lb.arn).owner is None
    assert g.lb(ing_lb.arn).orphan == "owner-gone"  # other load balancers are judged as before


def test_old_snapshot_reads_with_gateways_not_read():
    inv = b.inventory(gateways_read=False)
    doc = inv.model_dump(mode="json")
    doc["schema_version"] = 2
    for key in ("gateway_classes", "gateways", "routes", "reference_grants", "gateway_configurations", "api_versions"):
        doc["kubernetes"].pop(key)
    old = Inventory.parse(json.dumps(doc))
    assert old.kubernetes is not None and old.kubernetes.gateways is None
    assert not correlate(old).gateways_read


def test_cross_namespace_routes_need_a_reference_grant():
    lb = b.load_balancer("k8s-infra-edge", tags=b.gateway_tags("infra/edge"))
    gw = b.gateway("infra", "edge", listeners=[b.gw_listener("http", 80, allowed="All")], lb=lb)
    routes = [
        b.route("team", "granted", gateway="edge", gateway_namespace="infra", backends=("shop/cart",)),
        b.route("team", "refused", gateway="edge", gateway_namespace="infra", backends=("billing/pay",)),
        b.route("team", "local", gateway="edge", gateway_namespace="infra", backends=("web",)),
    ]
    grants = [b.reference_grant("shop", "team", service="cart"), b.reference_grant("billing", "other-ns")]
    g = correlate(b.inventory(lbs=[lb], gateways=[gw], routes=routes, reference_grants=grants))
    node = g.lb(lb.arn)
    assert node.backends == {BackendRef("shop", "cart", "80"), BackendRef("team", "web", "80")}
    (gwx,) = g.gateways
    assert gwx.refused == ["HTTPRoute team/refused -> Service billing/pay: no ReferenceGrant in billing allows it"]


def test_routes_of_other_namespaces_attach_only_where_the_listener_allows():
    lb = b.load_balancer("k8s-infra-edge", tags=b.gateway_tags("infra/edge"))
    gw = b.gateway("infra", "edge", lb=lb)  # allowedRoutes default: Same
    routes = [
        b.route("team", "outside", gateway="edge", gateway_namespace="infra", backends=("web",)),
        b.route("infra", "inside", gateway="edge", backends=("status",)),
        b.route("infra", "other-gw", gateway="nope", backends=("x",)),
    ]
    g = correlate(b.inventory(lbs=[lb], gateways=[gw], routes=routes))
    (gwx,) = g.gateways
    assert [r.name for r in gwx.routes] == ["inside"]
    assert g.lb(lb.arn).backends == {BackendRef("infra", "status", "80")}


def test_a_backend_behind_a_gateway_and_an_ingress_is_one_backend():
    gw_lb = b.load_balancer("k8s-shop-gw", tags=b.gateway_tags("shop/web"))
    ing_lb = b.load_balancer("k8s-shop-ing", tags=b.ingress_tags("shop/web"))
    g = correlate(
        b.inventory(
            lbs=[gw_lb, ing_lb],
            gateways=[b.gateway("shop", "web", lb=gw_lb)],
            routes=[b.route("shop", "web", gateway="web", backends=("web",))],
            ingresses=[b.ingress("shop", "web", lb=ing_lb)],
        )
    )
    paths = g.backends[BackendRef("shop", "web", "80")]
    assert sorted(str(p.via) for p in paths) == ["Gateway shop/web", "Ingress shop/web"]
    assert {p.load_balancer.lb.name for p in paths if p.load_balancer} == {"k8s-shop-gw", "k8s-shop-ing"}


def test_lb_configuration_of_the_gateway_or_its_class():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    configs = [
        b.lb_configuration("shop", "public", scheme="internet-facing"),
        b.lb_configuration("infra", "class-default", scheme="internal"),
    ]
    g = correlate(
        b.inventory(
            lbs=[lb],
            gateway_classes=[b.gateway_class(config="class-default")],
            gateways=[b.gateway("shop", "web", lb=lb, config="public"), b.gateway("shop", "plain")],
            gateway_configurations=configs,
        )
    )
    by_name = {x.gateway.name: x for x in g.gateways}
    # both set the scheme: the class's wins (mergingMode prefer-gateway-class, the default)
    assert by_name["web"].scheme == "internal"
    assert by_name["plain"].scheme == "internal" and by_name["plain"].configuration is not None


def test_a_gateway_with_two_load_balancers_keeps_the_one_its_status_names():
    """A scheme change makes the controller create a new load balancer; the old one, still tagged, is left over."""
    old = b.load_balancer("k8s-shop-web-old", scheme="internal", tags=b.gateway_tags("shop/web"))
    new = b.load_balancer("k8s-shop-web-new", tags=b.gateway_tags("shop/web"))
    g = correlate(b.inventory(lbs=[old, new], gateways=[b.gateway("shop", "web", lb=new)]))
    assert g.lb(new.arn).orphan is None
    assert g.lb(old.arn).orphan == "superseded" and "now uses k8s-shop-web-new" in g.lb(old.arn).orphan_detail
    (gwx,) = g.gateways
    assert gwx.load_balancers == [g.lb(new.arn)]
