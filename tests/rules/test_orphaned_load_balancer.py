"""orphaned-load-balancer: owner gone, cluster gone, superseded — priced; UNKNOWN without Kubernetes."""

import pytest

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.rules.ownership.orphaned_load_balancer import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

GROUP = {"alb.ingress.kubernetes.io/group.name": "shop"}


def by_name(findings):
    return {f.resource_name: f for f in findings}


def test_owner_gone_nlb_fails_with_cost_and_delete_commands():
    nlb = b.load_balancer("k8s-old-svc", type="network", scheme="internal", tags=b.service_tags("old/svc"))
    tg = b.target_group("k8s-old-svc-tg", nlb, protocol="TCP")
    f = only(RULE, b.inventory(lbs=[nlb], target_groups=[tg]))
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert f.resource_arn == nlb.arn and f.kubernetes is None
    assert f.evidence["orphan"] == "owner-gone"
    assert "Service old/svc no longer exists" in f.message
    assert f.monthly_saving_usd == pytest.approx(730 * 0.0225, abs=0.01)
    assert f.evidence["cost_basis"].startswith("NLB")
    assert f"aws elbv2 delete-load-balancer --region eu-west-1 --load-balancer-arn {nlb.arn}" in f.remediation
    assert f"aws elbv2 delete-target-group --region eu-west-1 --target-group-arn {tg.arn}" in f.remediation
    assert f.evidence["healthy_targets"] == 1
    # a group CloudWatch's HealthyHostCount showed healthy (not described) counts the same
    tg.targets, tg.healthy_count = None, 2
    assert only(RULE, b.inventory(lbs=[nlb], target_groups=[tg])).evidence["healthy_targets"] == 2


def test_cluster_gone_public_alb_is_high_and_superseded_explains_regrouping():
    dead = b.load_balancer("k8s-x", tags=b.ingress_tags("x/y", cluster="deleted-cluster"))
    old = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    new = b.load_balancer("k8s-shop-grp", tags=b.ingress_tags("shop"))
    inv = b.inventory(lbs=[dead, old, new], ingresses=[b.ingress("shop", "web", annotations=GROUP, lb=new)])
    got = by_name(run(RULE, inv))
    assert got["k8s-x"].status == Status.FAIL and got["k8s-x"].severity == Severity.HIGH
    assert got["k8s-x"].evidence["orphan"] == "cluster-gone"
    assert "deleted-cluster" in got["k8s-x"].message
    sup = got["k8s-shop-web"]
    assert sup.status == Status.FAIL and sup.evidence["orphan"] == "superseded"
    assert "#2028" in sup.remediation and "IngressGroup" in sup.remediation
    assert got["k8s-shop-grp"].status == Status.PASS
    assert got["k8s-shop-grp"].kubernetes == KubeRef(kind="IngressGroup", name="shop")


def test_classic_orphan_uses_the_classic_api_and_deletes_its_security_group():
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"), sgs=["sg-elb"])
    sg = b.security_group("sg-elb", 80)
    sg.name = "k8s-elb-a0123"
    f = only(RULE, b.inventory(lbs=[clb], security_groups=[sg]))
    assert f.status == Status.FAIL
    assert "aws elb delete-load-balancer --region eu-west-1 --load-balancer-name a0123" in f.remediation
    assert "aws ec2 delete-security-group --region eu-west-1 --group-id sg-elb" in f.remediation


def test_owned_load_balancer_passes():
    lb = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web"))
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("blog", "web", lb=lb)]))
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Ingress", namespace="blog", name="web")
    assert f.monthly_saving_usd is None  # nothing to fix, nothing to save
    # who owns it and what it costs; the orphan's full picture (DNS name, age, targets) is for FAILs
    assert f.evidence["owner"] == "Ingress blog/web" and f.evidence["stack"] == "blog/web"
    assert f.evidence["orphan"] is None and f.evidence["monthly_cost_usd"] == pytest.approx(
        730 * 0.0225 + 2 * 730 * 0.005, abs=0.01
    )
    assert "dns_name" not in f.evidence


def test_cluster_tagged_without_kubernetes_is_unknown_and_unmanaged_is_not_judged():
    lb = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web"))
    plain = b.load_balancer("hand-made", tags={})
    findings = run(RULE, b.inventory(lbs=[lb, plain], kube=False))
    assert len(findings) == 1
    f = findings[0]
    assert f.status == Status.UNKNOWN and f.resource_arn == lb.arn
    assert "Kubernetes was not collected" in f.message


def test_other_live_clusters_load_balancers_are_out_of_scope():
    other = b.load_balancer("k8s-prod", tags=b.ingress_tags("a/b", cluster="prod"))
    assert run(RULE, b.inventory(lbs=[other], cluster_names=["demo", "prod"])) == []


def test_without_the_audited_clusters_name_an_ownerless_tagged_load_balancer_is_unknown_not_orphaned():
    # no cluster_name for the target and no controller Deployment naming one: a load balancer of another live
    # cluster sharing the account must not be called orphaned (with delete commands) for having no owner here
    other = b.load_balancer("k8s-prod-web", tags=b.ingress_tags("shop/web", cluster="prod"))
    dead = b.load_balancer("k8s-gone-web", tags=b.ingress_tags("shop/web", cluster="deleted"))
    mine = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web", cluster="prod"))
    inv = b.inventory(
        lbs=[other, dead, mine], ingresses=[b.ingress("blog", "web", lb=mine)], cluster=None, cluster_names=["prod"]
    )
    got = by_name(run(RULE, inv))
    assert got["k8s-prod-web"].status == Status.UNKNOWN
    assert got["k8s-prod-web"].evidence["orphan"] is None
    assert "cluster's name is not known" in got["k8s-prod-web"].message
    assert "delete-load-balancer" not in got["k8s-prod-web"].remediation
    # what was read still decides: a cluster that does not exist, an owner found
    assert got["k8s-gone-web"].status == Status.FAIL and got["k8s-gone-web"].evidence["orphan"] == "cluster-gone"
    assert got["k8s-blog-web"].status == Status.PASS


def test_a_load_balancer_whose_tags_were_not_read_is_unknown_by_name():
    # one DescribeTags batch failed: its load balancers' tags stay None and the facet is partial; each of them
    # gets an UNKNOWN of its own, not only the scope's (a user looking for that load balancer finds it)
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"))
    lb.tags = None
    inv = b.inventory(lbs=[lb])
    inv.coverage = [c for c in inv.coverage if c.collector != "elbv2"] + [
        b.partial_coverage("elbv2", Facet.ELBV2_TAGS, code="Throttling")
    ]
    got = [f for f in judged(RULE, inv) if f.resource_arn == lb.arn]
    assert [f.status for f in got] == [Status.UNKNOWN]
    assert "tags of load balancer k8s-shop-web were not read" in got[0].message


# ---------------------------------------------------------------- Gateway-made load balancers


def test_gateway_load_balancer_whose_gateway_is_gone_fails():
    lb = b.load_balancer("k8s-shop-old-gw", tags=b.gateway_tags("shop/old"))
    f = only(RULE, b.inventory(lbs=[lb], gateways=[]))
    assert f.status == Status.FAIL and f.evidence["orphan"] == "owner-gone"
    assert "Gateway shop/old no longer exists" in f.message
    assert "gateway.k8s.aws/alb" in f.remediation and "delete-load-balancer" in f.remediation


@pytest.mark.parametrize("kind", ["alb", "nlb"])
def test_a_gone_gateways_managed_security_group_is_deleted_with_it_and_a_users_is_not(kind):
    lb = b.load_balancer(
        "k8s-shop-old-gw",
        type="application" if kind == "alb" else "network",
        tags=b.gateway_tags("shop/old", kind=kind),
        sgs=["sg-managed", "sg-users"],
    )
    managed, users = b.security_group("sg-managed", 443), b.security_group("sg-users", 443)
    resource = f"gateway.k8s.aws.{kind}/resource"
    managed.tags = {**b.gateway_tags("shop/old", kind=kind), resource: "ManagedLBSecurityGroup"}
    f = only(RULE, b.inventory(lbs=[lb], gateways=[], security_groups=[managed, users]))
    assert f.status == Status.FAIL and f.evidence["orphan"] == "owner-gone"
    assert "aws ec2 delete-security-group --region eu-west-1 --group-id sg-managed" in f.remediation
    assert "sg-users" not in f.remediation


def test_live_gateway_load_balancer_passes_with_its_gateway_as_owner():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    inv = b.inventory(
        lbs=[lb],
        gateways=[b.gateway("shop", "web", lb=lb)],
        routes=[b.route("shop", "store", gateway="web", backends=("store",))],
    )
    f = only(RULE, inv)
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["owner"] == "Gateway shop/web" and f.evidence["owner_evidence"] == "stack-tag"
    assert f.evidence["routes"] == ["HTTPRoute shop/store"]


def test_gateway_load_balancer_is_unknown_when_gateways_were_not_read():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    f = only(RULE, b.inventory(lbs=[lb], gateways_read=False))  # e.g. a snapshot older than Gateway support
    assert f.status == Status.UNKNOWN and "Gateways were not read" in f.message
    # a refused Gateway list: every verdict resting on it is UNKNOWN, never a delete-me FAIL
    inv = facet_failed(b.inventory(lbs=[lb], gateways=[]), Facet.KUBE_GATEWAYS)
    statuses = {f.resource_name: f.status for f in judged(RULE, inv)}
    assert statuses["k8s-shop-web-gw"] == Status.UNKNOWN
