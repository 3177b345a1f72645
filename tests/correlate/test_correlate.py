"""Correlation from snapshots: owners by tags and hostname, orphans in their three forms, backends."""

from auditor.correlate import BackendRef, correlate
from tests.support import builders as b


def test_ingress_group_owns_its_alb_by_stack_tag():
    lb = b.load_balancer("k8s-shop-abc", tags=b.ingress_tags("shop"))
    ings = [
        b.ingress("shop", "web", annotations={"alb.ingress.kubernetes.io/group.name": "shop"}, lb=lb),
        b.ingress(
            "shop", "api", annotations={"alb.ingress.kubernetes.io/group.name": "shop"}, backend=("api", 8080), lb=lb
        ),
    ]
    g = correlate(b.inventory(lbs=[lb], ingresses=ings))
    node = g.lb(lb.arn)
    assert node is not None and node.owner is not None
    assert (node.owner.kind, node.owner.name, node.owner_evidence) == ("IngressGroup", "shop", "stack-tag")
    assert node.orphan is None
    assert node.backends == {BackendRef("shop", "web", "80"), BackendRef("shop", "api", "8080")}
    assert g.groups["shop"].load_balancers == [node]


def test_implicit_group_service_and_intree_owners():
    alb = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web"))
    nlb = b.load_balancer("k8s-db-pg", type="network", tags=b.service_tags("db/pg"))
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"))
    inv = b.inventory(
        lbs=[alb, nlb, clb],
        ingresses=[b.ingress("blog", "web", lb=alb)],
        services=[
            b.service(
                "db",
                "pg",
                ports=(5432,),
                lb=nlb,
                annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"},
            ),
            b.service("legacy", "app", lb=clb),
        ],
    )
    g = correlate(inv)
    owners = {n.lb.name: (n.owner.kind, n.owner.namespace, n.owner.name) for n in g.load_balancers if n.owner}
    assert owners == {
        "k8s-blog-web": ("Ingress", "blog", "web"),
        "k8s-db-pg": ("Service", "db", "pg"),
        "a0123": ("Service", "legacy", "app"),
    }
    controllers = {n.lb.name: n.controller for n in g.load_balancers}
    assert controllers == {"k8s-blog-web": "lbc", "k8s-db-pg": "lbc", "a0123": "in-tree"}
    svc = {e.service.name: e.settings.controller for e in g.services}
    assert svc == {"pg": "lbc", "app": "in-tree"}


def test_hostname_fallback_when_tags_are_missing():
    lb = b.load_balancer("untagged", tags={})
    g = correlate(b.inventory(lbs=[lb], services=[b.service("web", "front", lb=lb)]))
    node = g.lb(lb.arn)
    assert node.owner is not None and node.owner_evidence == "hostname"
    assert node.scope == "cluster"


def test_hostname_match_is_case_insensitive():
    lb = b.load_balancer("MixedCase", tags={})
    svc = b.service("web", "front", lb=lb)
    svc.status_ingress[0].hostname = lb.dns_name.upper()
    g = correlate(b.inventory(lbs=[lb], services=[svc]))
    assert g.lb(lb.arn).owner is not None


def test_orphans_owner_gone_cluster_gone_and_superseded():
    gone = b.load_balancer("k8s-old-svc", type="network", tags=b.service_tags("old/svc"))
    dead_cluster = b.load_balancer("k8s-x", tags=b.ingress_tags("x/y", cluster="deleted-cluster"))
    moved_old = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    moved_new = b.load_balancer("k8s-shop-grp", tags=b.ingress_tags("shop"))
    inv = b.inventory(
        lbs=[gone, dead_cluster, moved_old, moved_new],
        ingresses=[
            b.ingress("shop", "web", annotations={"alb.ingress.kubernetes.io/group.name": "shop"}, lb=moved_new)
        ],
    )
    g = correlate(inv)
    orphans = {n.lb.name: n.orphan for n in g.orphans()}
    assert orphans == {"k8s-old-svc": "owner-gone", "k8s-x": "cluster-gone", "k8s-shop-web": "superseded"}
    assert "moved to IngressGroup 'shop'" in g.lb(moved_old.arn).orphan_detail
    assert {n.lb.name for n in g.in_scope()} == {"k8s-old-svc", "k8s-x", "k8s-shop-web", "k8s-shop-grp"}


def test_scheme_change_leaves_superseded_lb():
    old = b.load_balancer("k8s-blog-web-int", scheme="internal", tags=b.ingress_tags("blog/web"))
    new = b.load_balancer("k8s-blog-web-pub", tags=b.ingress_tags("blog/web"))
    ing = b.ingress("blog", "web", annotations={"alb.ingress.kubernetes.io/scheme": "internet-facing"}, lb=new)
    g = correlate(b.inventory(lbs=[old, new], ingresses=[ing]))
    assert g.lb(old.arn).orphan == "superseded"
    assert g.lb(new.arn).orphan is None
    assert g.groups["blog/web"].load_balancers == [g.lb(new.arn)]


def test_other_live_cluster_is_out_of_scope_and_not_orphaned():
    other = b.load_balancer("k8s-other", tags=b.ingress_tags("a/b", cluster="prod"))
    g = correlate(b.inventory(lbs=[other], cluster_names=["demo", "prod"]))
    node = g.lb(other.arn)
    assert node.scope == "other-cluster" and node.orphan is None
    assert g.in_scope() == []


def test_no_orphan_verdict_when_kubernetes_was_not_collected():
    gone = b.load_balancer("k8s-old-svc", type="network", tags=b.service_tags("old/svc"))
    g = correlate(b.inventory(lbs=[gone], failed={"kubernetes": "Unreachable"}))
    assert g.lb(gone.arn).orphan is None


def test_backend_reachable_two_ways_is_recorded():
    nlb = b.load_balancer("k8s-web-front", type="network", tags=b.service_tags("web/front"))
    alb = b.load_balancer("k8s-web-ing", tags=b.ingress_tags("web/ing"))
    inv = b.inventory(
        lbs=[nlb, alb],
        services=[
            b.service(
                "web", "front", lb=nlb, annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
            )
        ],
        ingresses=[b.ingress("web", "ing", backend=("front", 80), lb=alb)],
    )
    g = correlate(inv)
    paths = g.backends[BackendRef("web", "front", "80")]
    assert sorted(p.load_balancer.lb.name for p in paths) == ["k8s-web-front", "k8s-web-ing"]


def test_non_alb_ingresses_are_left_alone():
    ing = b.ingress("web", "nginx", ingress_class="nginx")
    g = correlate(b.inventory(ingresses=[ing]))
    assert g.groups == {} and g.other_ingresses == [ing]


def test_bad_annotations_are_problems_not_crashes():
    ing = b.ingress(
        "web",
        "bad",
        annotations={
            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80},',
            "alb.ingress.kubernetes.io/scheme": "public",
            "alb.ingress.kubernetes.io/actions.x": "{not json",
        },
    )
    g = correlate(b.inventory(ingresses=[ing]))
    keys = sorted(p.annotation for _, p in g.annotation_problems)
    assert keys == [
        "alb.ingress.kubernetes.io/actions.x",
        "alb.ingress.kubernetes.io/listen-ports",
        "alb.ingress.kubernetes.io/scheme",
    ]
    assert g.groups["web/bad"].settings_of(ing).scheme == "internal"
