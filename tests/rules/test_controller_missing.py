"""controller-missing: ALB Ingresses / LBC Services without a ready controller."""

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.rules.controller.controller_missing import RULE
from tests.rules._harness import facet_failed, judged, only, run
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


# ---------------------------------------------------------------- Gateways of the controller's classes


def _gateway_verdict(controllers, *, gateways=None, classes=None):
    inv = b.inventory(
        gateways=gateways if gateways is not None else [b.gateway("shop", "web")],
        gateway_classes=classes,
        controllers=controllers,
    )
    found = [f for f in run(RULE, inv) if f.discriminator == "gateway-api"]
    assert len(found) <= 1
    return found[0] if found else None


def _with_gates(ctrl, gates):
    ctrl.args = [*ctrl.args, f"--feature-gates={gates}"]
    return ctrl


def test_gateways_without_a_controller_fail():
    f = _gateway_verdict([])
    assert f.status == Status.FAIL and "does not run" in f.message and "1 Gateway(s)" in f.message
    assert "auditor install-alb --cluster-name demo --region eu-west-1 --controller-version v3.5.0" in f.remediation


def test_controller_too_old_or_with_the_feature_off_fails():
    f = _gateway_verdict([b.controller("v2.12.0")])
    assert f.status == Status.FAIL and "older than v2.14.0" in f.message
    f = _gateway_verdict([b.controller("v2.14.1")])  # serves Gateways only with the gate on before v3.2.0
    assert f.status == Status.FAIL and "--feature-gates=ALBGatewayAPI=true" in f.message
    assert "--feature-gates=ALBGatewayAPI=true" in f.remediation
    f = _gateway_verdict([_with_gates(b.controller("v3.5.0"), "ALBGatewayAPI=false")])
    assert f.status == Status.FAIL and "switched off" in f.message
    # an NLB Gateway needs only v2.13.3 (with its gate): the message names the NLB gate
    nlb = [b.gateway("db", "tcp", cls="nlb")]
    classes = [b.gateway_class(), b.gateway_class("nlb", "gateway.k8s.aws/nlb")]
    f = _gateway_verdict([b.controller("v2.13.3")], gateways=nlb, classes=classes)
    assert f.status == Status.FAIL and "NLBGatewayAPI=true" in f.message


def test_controller_that_serves_gateways_passes():
    assert _gateway_verdict([b.controller("v3.2.2")]).status == Status.PASS
    gated = _with_gates(b.controller("v2.14.1"), "ALBGatewayAPI=true,NLBGatewayAPI=true")
    assert _gateway_verdict([gated]).status == Status.PASS
    # a Gateway of another implementation does not need this controller: no Gateway verdict at all
    foreign = [b.gateway("mesh", "edge", cls="istio")]
    classes = [b.gateway_class("istio", "istio.io/gateway-controller")]
    assert _gateway_verdict([], gateways=foreign, classes=classes) is None


def test_gateways_not_read_are_unknown():
    inv = facet_failed(b.inventory(gateways=[b.gateway("shop", "web")]), Facet.KUBE_GATEWAYS)
    findings = judged(RULE, inv)
    assert findings and all(f.status == Status.UNKNOWN for f in findings)
