"""public-alb-without-waf: internet-facing ALBs need a WAFv2 web ACL; no WAF data means UNKNOWN."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import IngressClassParametersRef, IngressClassParams
from auditor.rules.waf.public_alb_without_waf import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

WAF = "alb.ingress.kubernetes.io/wafv2-acl-arn"


def _lb(name="k8s-shop-web", stack="shop/web", **kw):
    return b.load_balancer(name, tags=b.ingress_tags(stack), **kw)


def test_public_alb_without_acl_fails_with_annotation_fix():
    lb = _lb()
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert f.resource_arn == lb.arn and f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f"kubectl -n shop annotate ingress web {WAF}='<regional WAFv2 web ACL ARN>' --overwrite" in f.remediation
    assert f.evidence["wafv2_acl_arn_annotations"] == {}


def test_acl_attached_passes():
    lb = _lb()
    acl = b.web_acl("edge", lb.arn)
    f = only(RULE, b.inventory(lbs=[lb], web_acls=[acl], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.PASS and f.evidence["web_acl"] == acl.arn and "edge" in f.message


def test_wafv2_not_collected_is_unknown():
    lb = _lb()
    f = only(RULE, b.inventory(lbs=[lb], failed={"wafv2": "AccessDeniedException"}))
    assert f.status == Status.UNKNOWN and "not collected" in f.message


def test_acl_whose_associations_failed_to_list_is_unknown():
    lb = _lb()
    acl = b.web_acl("edge")
    acl.resource_arns = None
    f = only(RULE, b.inventory(lbs=[lb], web_acls=[acl]))
    assert f.status == Status.UNKNOWN and f.evidence["web_acls_not_listed"] == ["edge"]


def test_waf_classic_annotation_is_unknown_not_fail():
    # the controller attaches a WAF Classic (waf-regional) web ACL from waf-acl-id or its alias web-acl-id; the
    # auditor reads WAFv2 only, so it cannot say the ALB is unprotected
    lb, old = _lb(), _lb(name="k8s-shop-old", stack="shop/old")
    ings = [
        b.ingress("shop", "web", lb=lb, annotations={"alb.ingress.kubernetes.io/waf-acl-id": "abc-123"}),
        b.ingress("shop", "old", lb=old, annotations={"alb.ingress.kubernetes.io/web-acl-id": "def-456"}),
    ]
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(lbs=[lb, old], ingresses=ings))}
    assert found["web"].status == Status.UNKNOWN and "WAF Classic web ACL abc-123" in found["web"].message
    assert found["web"].evidence["waf_classic_acl_ids"] == {"shop/web": "abc-123"}
    assert found["old"].status == Status.UNKNOWN and "def-456" in found["old"].message


def test_waf_classic_none_detaches_and_still_fails():
    lb = _lb()
    ing = b.ingress("shop", "web", lb=lb, annotations={"alb.ingress.kubernetes.io/waf-acl-id": "none"})
    assert only(RULE, b.inventory(lbs=[lb], ingresses=[ing])).status == Status.FAIL


def test_none_annotation_is_evidence_and_named_in_the_fix():
    lb = _lb(name="k8s-shop", stack="shop")
    group = {"alb.ingress.kubernetes.io/group.name": "shop"}
    ings = [
        b.ingress("shop", "api", lb=lb, annotations={**group, "alb.ingress.kubernetes.io/group.order": "-1"}),
        b.ingress("shop", "web", lb=lb, annotations={**group, WAF: "none"}),
    ]
    f = only(RULE, b.inventory(lbs=[lb], ingresses=ings))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="IngressGroup", name="shop")
    assert f.evidence["wafv2_acl_arn_annotations"] == {"shop/web": "none"}
    # one Ingress of the group is enough (the ACL is per ALB): the first by group order
    assert f.remediation.count("kubectl") == 1 and "annotate ingress api" in f.remediation
    assert "shop/web sets" in f.remediation and "none" in f.remediation


def test_internal_albs_nlbs_and_other_clusters_are_not_examined():
    internal = _lb(name="k8s-int", scheme="internal")
    nlb = b.load_balancer("k8s-nlb", type="network")
    other = b.load_balancer("k8s-prod", tags=b.ingress_tags("a/b", cluster="prod"))
    assert run(RULE, b.inventory(lbs=[internal, nlb, other], cluster_names=["demo", "prod"])) == []


def test_unmanaged_alb_gets_aws_cli_fix():
    lb = b.load_balancer("manual")
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.FAIL and f.kubernetes is None
    assert f"aws wafv2 associate-web-acl --web-acl-arn <regional web ACL ARN> --resource-arn {lb.arn}" in f.remediation


def test_ingress_class_params_wafv2_acl_arn_is_evidence_too():
    lb = _lb()
    inv = b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)])
    inv.kubernetes.ingress_classes[0].parameters = IngressClassParametersRef(
        api_group="elbv2.k8s.aws", kind="IngressClassParams", name="alb"
    )
    inv.kubernetes.ingress_class_params = [IngressClassParams(name="alb", spec={"wafv2AclArn": "none"})]
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.evidence["wafv2_acl_arn_annotations"] == {"shop/web": "none"}


# ---------------------------------------------------------------- Gateway-made ALBs


def _gateway_inventory(lb, *, web_acls=(), config=None, failed=None):
    gw = b.gateway("shop", "web", lb=lb, config="pub" if config is not None else None)
    configs = [b.lb_configuration("shop", "pub", **config)] if config is not None else []
    return b.inventory(lbs=[lb], gateways=[gw], gateway_configurations=configs, web_acls=list(web_acls), failed=failed)


def test_public_gateway_alb_without_acl_fails_with_lb_configuration_fix():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    f = only(RULE, _gateway_inventory(lb, config={"scheme": "internet-facing"}))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert "spec.wafV2: {webACL: <regional WAFv2 web ACL ARN>} in LoadBalancerConfiguration shop/pub" in f.remediation
    assert "annotate" not in f.remediation and f.evidence["gateway_waf_v2"] is None
    # without a LoadBalancerConfiguration: create one and reference it from the Gateway
    f = only(RULE, _gateway_inventory(lb))
    assert "spec.infrastructure.parametersRef" in f.remediation and "Gateway shop/web" in f.remediation


def test_public_gateway_alb_with_acl_passes():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    acl = b.web_acl("edge", lb.arn)
    f = only(RULE, _gateway_inventory(lb, web_acls=[acl], config={"wafV2": {"webACL": acl.arn}}))
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    assert f.evidence["gateway_waf_v2"] == {"webACL": acl.arn}


def test_public_gateway_alb_is_unknown_without_waf_data():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    f = only(RULE, _gateway_inventory(lb, failed={"wafv2": "AccessDenied"}))
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
