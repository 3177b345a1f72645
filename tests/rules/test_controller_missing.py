"""controller-missing: ALB Ingresses / LBC Services without a ready controller."""

from auditor.findings import KubeRef, Status
from auditor.rules.controller.controller_missing import RULE
from tests.rules._harness import only
from tests.support import builders as b

LBC_SVC = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}


def test_alb_ingress_without_controller_fails_with_install_command():
    f = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")]))
    assert f.status == Status.FAIL and f.rule_id == "controller-missing"
    assert f.evidence["alb_ingresses"] == {"count": 1, "first": ["shop/web"]}
    assert f.resource_arn == b.arn("eks", "cluster/demo")
    assert "No AWS Load Balancer Controller runs in cluster demo" in f.message
    assert "auditor install-alb --cluster-name demo --region eu-west-1" in f.remediation


def test_lbc_service_with_controller_at_zero_ready_replicas_fails():
    inv = b.inventory(services=[b.service("db", "pg", annotations=LBC_SVC)], controllers=[b.controller(ready=0)])
    f = only(RULE, inv)
    assert f.status == Status.FAIL
    assert f.evidence["lbc_services"] == {"count": 1, "first": ["db/pg"]}
    assert f.kubernetes == KubeRef(kind="Deployment", namespace="kube-system", name="aws-load-balancer-controller")
    assert "has no ready replica" in f.message
    assert "kubectl -n kube-system describe deployment aws-load-balancer-controller" in f.remediation


def test_running_controller_passes():
    f = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")], controllers=[b.controller()]))
    assert f.status == Status.PASS
    assert f.evidence["controller_deployments"]["kube-system/aws-load-balancer-controller"]["ready_replicas"] == 2


def test_nothing_needs_the_controller_passes():
    # an in-tree Service and an Ingress of another class do not need LBC
    inv = b.inventory(services=[b.service("web", "front")], ingresses=[b.ingress("a", "b", ingress_class="nginx")])
    f = only(RULE, inv)
    assert f.status == Status.PASS and "no ALB Ingresses" in f.message


def test_kubernetes_not_collected_is_unknown():
    f = only(RULE, b.inventory(kube=False))
    assert f.status == Status.UNKNOWN and "was not audited" in f.message
    f = only(RULE, b.inventory(ingresses=[b.ingress("shop", "web")], failed={"kubernetes": "403"}))
    assert f.status == Status.UNKNOWN and "not fully collected" in f.message


def test_evidence_of_a_large_cluster_counts_every_ingress_and_names_the_first_few():
    ingresses = [b.ingress("shop", f"web-{i:03d}") for i in range(50)]
    f = only(RULE, b.inventory(ingresses=ingresses))
    assert f.status == Status.FAIL
    assert f.evidence["alb_ingresses"]["count"] == 50
    assert f.evidence["alb_ingresses"]["first"] == [f"shop/web-{i:03d}" for i in range(20)]
    assert "50 ALB Ingress(es)" in f.message
