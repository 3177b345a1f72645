"""classic-load-balancer: in-tree Classic LBs and Services asking for one."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.rules.ownership.classic_load_balancer import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

SVC = "service.beta.kubernetes.io/"


def test_in_tree_clb_fails_with_migration_annotations():
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"))
    svc = b.service("legacy", "app", lb=clb, ports=(443,), annotations={SVC + "aws-load-balancer-ssl-cert": "arn:cert"})
    f = only(RULE, b.inventory(lbs=[clb], services=[svc]))
    assert f.status == Status.FAIL and f.resource_arn == clb.arn
    assert f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="app")
    assert f.evidence["cost_basis"].startswith("CLB")
    # replacing it with an NLB saves the hour price difference: 730 × (0.025 − 0.0225), same public IPv4
    assert f.monthly_saving_usd == pytest.approx(730 * (0.025 - 0.0225), abs=0.01)
    assert "capacity units are not known yet" in f.evidence["saving_basis"]
    assert f"{SVC}aws-load-balancer-type: external" in f.remediation
    assert f"{SVC}aws-load-balancer-nlb-target-type: ip" in f.remediation
    assert f"{SVC}aws-load-balancer-scheme: internet-facing" in f.remediation  # keeps today's scheme
    assert "REPLACES the load balancer and its DNS name" in f.remediation
    assert f"{SVC}aws-load-balancer-ssl-cert" in f.remediation.split("Keep ")[1]


def test_internal_clb_keeps_internal_scheme():
    clb = b.load_balancer("a0456", type="classic", scheme="internal", tags=b.intree_tags("legacy/int"))
    svc = b.service("legacy", "int", lb=clb, annotations={SVC + "aws-load-balancer-internal": "true"})
    f = only(RULE, b.inventory(lbs=[clb], services=[svc]))
    assert f"{SVC}aws-load-balancer-scheme: internal" in f.remediation


@pytest.mark.parametrize("value", ["0", "no", "False", "TRUE"])
def test_unprovisioned_service_keeps_the_scheme_the_in_tree_provider_reads(value):
    # the in-tree provider makes it internal for any aws-load-balancer-internal value but exactly "false": the
    # migration must not turn it internet-facing
    svc = b.service("legacy", "int", annotations={SVC + "aws-load-balancer-internal": value})
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and "none exists in AWS yet" in f.message
    assert f"{SVC}aws-load-balancer-scheme: internal\n" in f.remediation


def test_lbc_nlb_passes_and_ingress_albs_are_not_judged():
    nlb = b.load_balancer("k8s-db-pg", type="network", tags=b.service_tags("db/pg"))
    alb = b.load_balancer("k8s-blog-web", tags=b.ingress_tags("blog/web"))
    svc = b.service("db", "pg", lb=nlb, annotations={SVC + "aws-load-balancer-type": "external"})
    f = only(RULE, b.inventory(lbs=[nlb, alb], services=[svc], ingresses=[b.ingress("blog", "web", lb=alb)]))
    assert f.status == Status.PASS and f.resource_arn == nlb.arn


def test_clb_found_by_tags_without_kubernetes_still_fails():
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"))
    f = only(RULE, b.inventory(lbs=[clb], kube=False))
    assert f.status == Status.FAIL and f.kubernetes is None
    assert "legacy/app" in f.remediation


def test_service_asking_for_a_clb_when_classic_lbs_not_collected_is_unknown():
    svc = b.service("legacy", "app")
    f = only(RULE, b.inventory(services=[svc], failed={"elb": "AccessDenied"}))
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="app")
    # collected and still none: the Service asks for a Classic LB
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and "none exists in AWS yet" in f.message


def test_orphaned_and_unmanaged_clbs_are_left_to_other_rules():
    orphan = b.load_balancer("a0999", type="classic", tags=b.intree_tags("gone/svc"))
    unmanaged = b.load_balancer("hand-made", type="classic", tags={})
    assert run(RULE, b.inventory(lbs=[orphan, unmanaged])) == []


def test_nothing_collected_is_unknown():
    f = only(RULE, b.inventory(kube=False, failed={"elb": "AccessDenied"}))
    assert f.status == Status.UNKNOWN
