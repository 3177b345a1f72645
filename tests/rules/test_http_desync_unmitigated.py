"""http-desync-unmitigated (opt-in): internet-facing ALBs drop invalid headers and block ambiguous requests; Classic
load balancers with HTTP listeners block them; an attribute not read is UNKNOWN, never its documented default."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import IngressClassParametersRef, IngressClassParams
from auditor.rules.hardening.http_desync_unmitigated import ALB_DESYNC, CLASSIC_DESYNC, DROP_INVALID_HEADERS, RULE
from auditor.rules.selection import EVERYTHING, select
from tests.rules._harness import judged, only, run
from tests.support import builders as b

ATTRS = "alb.ingress.kubernetes.io/load-balancer-attributes"
GOOD = {DROP_INVALID_HEADERS: "true", ALB_DESYNC: "defensive"}


def _alb(attributes, name="k8s-shop-web", stack="shop/web", **kw):
    lb = b.load_balancer(name, tags=b.ingress_tags(stack), **kw)
    lb.attributes = attributes
    return lb


def _clb(attributes, *, protocol="HTTP", scheme="internet-facing"):
    lb = b.load_balancer(
        "legacy", type="classic", scheme=scheme, listeners=[b.listener(80, protocol)], tags=b.intree_tags("legacy/web")
    )
    lb.attributes = attributes
    return lb


def test_it_is_opt_in_and_named_by_id_category_or_all():
    assert RULE.meta.opt_in
    assert EVERYTHING.rule_ids is not None and RULE.meta.id not in EVERYTHING.rule_ids
    assert not EVERYTHING.wants(Facet.ELBV2_ATTRIBUTES) and not EVERYTHING.wants(Facet.ELB_ATTRIBUTES)
    assert select(None, ["tls"]).rule_ids is not None and RULE.meta.id not in select(None, ["tls"]).rule_ids
    for names in ([RULE.meta.id], ["hardening"], ["all"]):
        chosen = select(names)
        assert chosen.rule_ids is not None and RULE.meta.id in chosen.rule_ids, names
        assert chosen.wants(Facet.ELBV2_ATTRIBUTES) and chosen.wants(Facet.ELB_ATTRIBUTES), names
    assert select(["all"]).rule_ids == EVERYTHING.rule_ids | {RULE.meta.id}
    assert select(["all"], ["hardening"]).rule_ids == EVERYTHING.rule_ids


def test_alb_dropping_invalid_headers_with_defensive_or_strictest_mode_passes():
    for mode in ("defensive", "strictest"):
        lb = _alb({DROP_INVALID_HEADERS: "true", ALB_DESYNC: mode})
        f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
        assert f.status == Status.PASS and mode in f.message, mode
        assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")


def test_alb_keeping_invalid_headers_fails_with_the_annotation():
    lb = _alb({DROP_INVALID_HEADERS: "false", ALB_DESYNC: "defensive"})
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)]))
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert f"{DROP_INVALID_HEADERS} is 'false'" in f.message and ALB_DESYNC not in f.message
    assert f"kubectl -n shop annotate ingress web {ATTRS}='{DROP_INVALID_HEADERS}=true' --overwrite" in f.remediation
    assert f.evidence["attributes"] == {DROP_INVALID_HEADERS: "false", ALB_DESYNC: "defensive"}


def test_monitor_mode_fails_and_the_fix_keeps_the_other_attributes_of_the_annotation():
    lb = _alb({DROP_INVALID_HEADERS: "false", ALB_DESYNC: "monitor"}, name="k8s-shop", stack="shop")
    group = {"alb.ingress.kubernetes.io/group.name": "shop"}
    ings = [
        b.ingress("shop", "api", lb=lb, annotations={**group, "alb.ingress.kubernetes.io/group.order": "-1"}),
        b.ingress(
            "shop", "web", lb=lb, annotations={**group, ATTRS: f"idle_timeout.timeout_seconds=120,{ALB_DESYNC}=monitor"}
        ),
    ]
    f = only(RULE, b.inventory(lbs=[lb], ingresses=ings))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="IngressGroup", name="shop")
    assert f"{ALB_DESYNC} is 'monitor'" in f.message
    # the Ingress that sets the mode gets the good value (members must not disagree), its other pair kept
    assert (
        f"annotate ingress web {ATTRS}='idle_timeout.timeout_seconds=120,{ALB_DESYNC}=defensive,"
        f"{DROP_INVALID_HEADERS}=true' --overwrite" in f.remediation
    )
    # the IngressClassParams were read and set nothing: the annotation is the fix, without a caveat
    assert "annotate ingress api" not in f.remediation and "IngressClassParams" not in f.remediation


def test_ingress_class_params_that_set_the_attributes_are_the_fix():
    lb = _alb({DROP_INVALID_HEADERS: "false", ALB_DESYNC: "defensive"})
    inv = b.inventory(lbs=[lb], ingresses=[b.ingress("shop", "web", lb=lb)])
    inv.kubernetes.ingress_classes[0].parameters = IngressClassParametersRef(
        api_group="elbv2.k8s.aws", kind="IngressClassParams", name="alb"
    )
    spec = {"loadBalancerAttributes": [{"key": DROP_INVALID_HEADERS, "value": "false"}, {"key": "k", "value": "v"}]}
    inv.kubernetes.ingress_class_params = [IngressClassParams(name="alb", spec=spec)]
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "annotate" not in f.remediation
    assert "kubectl edit ingressclassparams alb" in f.remediation
    assert f'[{{key: {DROP_INVALID_HEADERS}, value: "true"}}, {{key: k, value: "v"}}]' in f.remediation
    # IngressClassParams not read: the annotation, with the caveat
    inv.kubernetes.ingress_class_params = None
    f = only(RULE, inv)
    assert "annotate ingress web" in f.remediation and "they were not read" in f.remediation
    # the IngressClasses listed only in part (which params apply is unknown): the caveat too
    inv.kubernetes.ingress_class_params = []
    inv.coverage = [c for c in inv.coverage if c.collector != "kubernetes"]
    inv.coverage.append(b.partial_coverage("kubernetes", Facet.KUBE_INGRESS_CLASSES))
    f = only(RULE, inv)
    assert "annotate ingress web" in f.remediation and "they were not read" in f.remediation


def test_attributes_not_read_or_not_returned_are_unknown_never_the_default():
    lb = _alb(None)
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.UNKNOWN and "were not read" in f.message
    lb = _alb({ALB_DESYNC: "defensive"})
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.UNKNOWN and f.evidence["missing"] == [DROP_INVALID_HEADERS]
    # a part that was read and is wrong still fails
    lb = _alb({ALB_DESYNC: "monitor"})
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.FAIL and f.evidence["missing"] == [DROP_INVALID_HEADERS]


def test_a_facet_that_failed_turns_verdicts_unknown():
    lb = _alb(dict(GOOD))
    inv = b.inventory(lbs=[lb])
    inv.coverage = [c for c in inv.coverage if c.collector != "elbv2"]
    inv.coverage.append(b.partial_coverage("elbv2", Facet.ELBV2_ATTRIBUTES))
    statuses = {f.status for f in judged(RULE, inv)}
    assert Status.PASS not in statuses and Status.UNKNOWN in statuses


def test_unmanaged_and_gateway_albs_get_their_own_fix():
    lb = b.load_balancer("hand-made")
    lb.attributes = {DROP_INVALID_HEADERS: "false", ALB_DESYNC: "defensive"}
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.FAIL
    assert f"aws elbv2 modify-load-balancer-attributes --region {lb.region} --load-balancer-arn {lb.arn}" in (
        f.remediation
    )
    assert f"Key={DROP_INVALID_HEADERS},Value=true" in f.remediation and ALB_DESYNC not in f.remediation

    gw_lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"))
    gw_lb.attributes = {DROP_INVALID_HEADERS: "true", ALB_DESYNC: "monitor"}
    gw = b.gateway("shop", "web", lb=gw_lb, config="pub")
    idle = {"key": "idle_timeout.timeout_seconds", "value": "120"}
    own = b.lb_configuration("shop", "pub", loadBalancerAttributes=[idle])
    inv = b.inventory(lbs=[gw_lb], gateways=[gw], gateway_configurations=[own])
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="shop", name="web")
    # its other entries kept
    assert (
        f'loadBalancerAttributes: [{{key: idle_timeout.timeout_seconds, value: "120"}}, '
        f'{{key: {ALB_DESYNC}, value: "defensive"}}]' in f.remediation
    )
    assert "LoadBalancerConfiguration shop/pub" in f.remediation

    # the GatewayClass's configuration sets the mode and wins by default (mergingMode): the fix is there
    of_class = b.lb_configuration("infra", "cls", loadBalancerAttributes=[{"key": ALB_DESYNC, "value": "monitor"}])
    inv = b.inventory(
        lbs=[gw_lb],
        gateways=[gw],
        gateway_classes=[b.gateway_class(config="cls")],
        gateway_configurations=[own, of_class],
    )
    f = only(RULE, inv)
    assert "LoadBalancerConfiguration infra/cls" in f.remediation and "shop/pub" not in f.remediation
    assert f'[{{key: {ALB_DESYNC}, value: "defensive"}}]' in f.remediation
    # unless it prefers the Gateway's
    of_class.spec["mergingMode"] = "prefer-gateway"
    assert "LoadBalancerConfiguration shop/pub" in only(RULE, inv).remediation


def test_classic_with_http_listeners_is_judged_by_its_desync_mode():
    f = only(RULE, b.inventory(lbs=[_clb({CLASSIC_DESYNC: "monitor"})]))
    assert f.status == Status.FAIL and f"{CLASSIC_DESYNC} is 'monitor'" in f.message
    assert "aws elb modify-load-balancer-attributes" in f.remediation and CLASSIC_DESYNC in f.remediation
    assert only(RULE, b.inventory(lbs=[_clb({CLASSIC_DESYNC: "strictest"})])).status == Status.PASS
    assert only(RULE, b.inventory(lbs=[_clb({})])).status == Status.UNKNOWN


def test_internal_nlb_and_tcp_only_classic_are_not_judged():
    internal = _alb({DROP_INVALID_HEADERS: "false"}, scheme="internal")
    nlb = b.load_balancer("k8s-data-pg", type="network", tags=b.service_tags("data/pg"))
    tcp = _clb(None, protocol="TCP")
    internal_clb = _clb(None, scheme="internal")
    assert run(RULE, b.inventory(lbs=[internal, nlb, tcp, internal_clb])) == []
