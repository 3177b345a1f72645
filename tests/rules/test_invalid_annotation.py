"""invalid-annotation: one FAIL per bad annotation key, a PASS per clean ALB Ingress / LoadBalancer Service."""

import pytest

from auditor.findings import KubeRef, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import GatewayConfiguration
from auditor.rules.hygiene.invalid_annotation import RULE
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"


def test_each_bad_key_is_one_fail_quoting_the_value():
    ing = b.ingress(
        "web",
        "bad",
        annotations={ALB + "listen-ports": '[{"HTTP": 80},', ALB + "scheme": "public", ALB + "ssl-redirect": "443"},
    )
    found = {f.discriminator: f for f in run(RULE, b.inventory(ingresses=[ing]))}
    assert set(found) == {ALB + "listen-ports", ALB + "scheme", ALB + "ssl-redirect"}
    scheme = found[ALB + "scheme"]
    assert scheme.status == Status.FAIL and scheme.kubernetes == KubeRef(kind="Ingress", namespace="web", name="bad")
    assert scheme.resource_arn is None
    assert "'public'" in scheme.message and "must be 'internal' or 'internet-facing'" in scheme.message
    assert f"kubectl -n web annotate ingress bad {ALB}scheme='<valid value>' --overwrite" in scheme.remediation
    assert f"kubectl -n web annotate ingress bad {ALB}scheme-" in scheme.remediation
    assert "not valid JSON" in found[ALB + "listen-ports"].message
    # ssl-redirect to a port that is not an HTTPS listen port (listen-ports fell back to HTTP:80)
    assert "not an HTTPS port in listen-ports" in found[ALB + "ssl-redirect"].message


def test_two_problems_of_one_key_are_one_finding():
    bad = "arn:aws:acm:eu-west-1:1:certificate/x,not-an-arn"
    ing = b.ingress("web", "certs", annotations={ALB + "certificate-arn": bad})
    f = only(RULE, b.inventory(ingresses=[ing]))
    assert f.status == Status.FAIL and len(f.evidence["problems"]) == 2
    assert f.evidence["values"] == ["arn:aws:acm:eu-west-1:1:certificate/x", "not-an-arn"]


def test_bad_annotation_in_a_group_says_it_blocks_the_group():
    lb = b.load_balancer("k8s-shop", tags=b.ingress_tags("shop"))
    group = {ALB + "group.name": "shop"}
    good = b.ingress("shop", "web", lb=lb, annotations=group)
    bad = b.ingress("shop", "api", lb=lb, annotations={**group, ALB + "target-type": "pod"})
    found = {(f.kubernetes.name, f.status) for f in run(RULE, b.inventory(lbs=[lb], ingresses=[good, bad]))}
    assert found == {("web", Status.PASS), ("api", Status.FAIL)}
    f = next(f for f in run(RULE, b.inventory(lbs=[lb], ingresses=[good, bad])) if f.status == Status.FAIL)
    assert "IngressGroup 'shop'" in f.remediation and f.evidence["load_balancer"] == "k8s-shop"


def test_clean_ingress_and_service_pass():
    ing = b.ingress("web", "ok", annotations={ALB + "scheme": "internet-facing"})
    svc = b.service("db", "pg", annotations={SVC + "aws-load-balancer-type": "external"})
    found = run(RULE, b.inventory(ingresses=[ing], services=[svc]))
    assert {(str(f.kubernetes), f.status) for f in found} == {
        ("Ingress web/ok", Status.PASS),
        ("Service db/pg", Status.PASS),
    }
    assert next(f for f in found if f.kubernetes.kind == "Ingress").evidence["annotations_checked"] == [ALB + "scheme"]


def test_service_annotation_problem():
    svc = b.service(
        "db", "pg", annotations={SVC + "aws-load-balancer-type": "external", SVC + "aws-load-balancer-scheme": "public"}
    )
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Service", namespace="db", name="pg")
    assert f"kubectl -n db annotate service pg {SVC}aws-load-balancer-scheme-" in f.remediation


@pytest.mark.parametrize(("value", "fails"), [("10.0.0.0/8,", True), (",", True), (" 10.0.0.0/8 ", False), ("", False)])
def test_an_empty_source_range_entry_fails_for_the_in_tree_provider_only(value: str, fails: bool) -> None:
    """The in-tree provider parses each comma-separated entry as a CIDR, so an empty one fails the whole value (the
    load balancer is not updated); the AWS Load Balancer Controller drops it."""
    key = SVC + "load-balancer-source-ranges"
    in_tree = b.service("db", "pg", annotations={key: value})
    lbc = b.service("db", "lbc", annotations={key: value, SVC + "aws-load-balancer-type": "external"})
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(services=[in_tree, lbc]))}
    assert found["pg"].status == (Status.FAIL if fails else Status.PASS)
    if fails:
        assert "has an empty entry: the in-tree provider refuses the whole value" in found["pg"].message
    assert found["lbc"].status == Status.PASS
    in_tree.load_balancer_source_ranges = ["10.0.0.0/8"]  # the spec field wins: the annotation is not read
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(services=[in_tree]))}
    assert found["pg"].status == Status.PASS


def test_a_source_ranges_key_no_controller_reads_fails():
    """service.beta.kubernetes.io/aws-load-balancer-source-ranges looks like it restricts the load balancer; neither
    controller reads it, so the load balancer admits the default."""
    svc = b.service("db", "pg", annotations={SVC + "aws-load-balancer-source-ranges": "10.0.0.0/8"})
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and "is read by no controller" in f.message


def test_long_values_are_cut_in_the_message_but_kept_in_evidence():
    value = "{" + "x" * 500
    ing = b.ingress("web", "long", annotations={ALB + "actions.big": value})
    f = only(RULE, b.inventory(ingresses=[ing]))
    assert len(f.message) < 400 and f.evidence["values"] == [value]


def test_non_alb_ingresses_cluster_ip_services_and_no_kubernetes_say_nothing():
    nginx = b.ingress("web", "nginx", ingress_class="nginx", annotations={ALB + "scheme": "public"})
    cip = b.service("web", "cip", type="ClusterIP")
    assert run(RULE, b.inventory(ingresses=[nginx], services=[cip])) == []
    assert run(RULE, b.inventory(kube=False)) == []


# ---------------------------------------------------------------- Gateway configuration objects


def _configs(*configs):
    return b.inventory(gateways=[b.gateway("shop", "web", config="pub")], gateway_configurations=list(configs))


def test_invalid_load_balancer_configuration_fails_with_an_edit_fix():
    bad = b.lb_configuration(
        "shop",
        "pub",
        scheme="public",
        sourceRanges=["10.0.0.0/8", "not-a-cidr"],
        listenerConfigurations=[{"protocolPort": "HTTPS:443", "defaultCertificate": "my-cert"}],
    )
    got = {f.discriminator: f for f in run(RULE, _configs(bad)) if f.kubernetes.kind == "LoadBalancerConfiguration"}
    assert set(got) == {"spec.scheme", "spec.sourceRanges", "spec.listenerConfigurations[0].certificates"}
    assert all(f.status == Status.FAIL for f in got.values())
    f = got["spec.scheme"]
    assert f.kubernetes == KubeRef(kind="LoadBalancerConfiguration", namespace="shop", name="pub")
    assert "must be one of internal, internet-facing" in f.message
    assert "kubectl -n shop edit loadbalancerconfiguration pub" in f.remediation
    assert "'not-a-cidr' is not a CIDR" in got["spec.sourceRanges"].message


def test_valid_gateway_configurations_pass():
    cert = "arn:aws:acm:eu-west-1:111122223333:certificate/abc-123"
    good = b.lb_configuration(
        "shop",
        "pub",
        scheme="internet-facing",
        sourceRanges=["10.0.0.0/8"],
        listenerConfigurations=[{"protocolPort": "HTTPS:443", "defaultCertificate": cert}],
    )
    tgc = GatewayConfiguration(
        namespace="shop",
        name="api",
        kind="TargetGroupConfiguration",
        spec={"targetReference": {"name": "api"}, "defaultConfiguration": {"targetType": "ip"}},
    )
    got = [f for f in run(RULE, _configs(good, tgc)) if f.kubernetes.kind.endswith("Configuration")]
    assert [(f.kubernetes.kind, f.status) for f in got] == [
        ("LoadBalancerConfiguration", Status.PASS),
        ("TargetGroupConfiguration", Status.PASS),
    ]


def test_a_target_group_configuration_route_entry_that_is_no_object_fails_on_its_field():
    """It raised AttributeError in correlation ('str' object has no attribute 'get'): UNKNOWN (unreadable)."""
    tgc = GatewayConfiguration(
        namespace="shop",
        name="api",
        kind="TargetGroupConfiguration",
        spec={"routeConfigurations": ["x", {"targetGroupProps": {"targetType": "pod"}}]},
    )
    got = {f.discriminator: f for f in run(RULE, _configs(tgc)) if f.kubernetes.kind == "TargetGroupConfiguration"}
    assert set(got) == {"spec.routeConfigurations[0]", "spec.routeConfigurations[1].targetGroupProps.targetType"}
    assert all(f.status == Status.FAIL for f in got.values())
    assert "must be an object" in got["spec.routeConfigurations[0]"].message
    tgc.spec = {"routeConfigurations": {"targetGroupProps": {}}}
    (f,) = [f for f in run(RULE, _configs(tgc)) if f.kubernetes.kind == "TargetGroupConfiguration"]
    assert (f.status, f.discriminator) == (Status.FAIL, "spec.routeConfigurations")


def test_listener_certificates_that_are_no_list_are_one_fail_not_one_per_character():
    """``certificates: 5`` raised TypeError in correlation (UNKNOWN, unreadable); a string was read character by
    character, one FAIL per character."""
    for value in (5, "arn:aws:acm:eu-west-1:111122223333:certificate/abc", {"arn": 1}):
        cfg = b.lb_configuration(
            "shop", "pub", listenerConfigurations=[{"protocolPort": "HTTPS:443", "certificates": value}]
        )
        got = [f for f in run(RULE, _configs(cfg)) if f.kubernetes.kind == "LoadBalancerConfiguration"]
        assert [(f.status, f.discriminator) for f in got] == [
            (Status.FAIL, "spec.listenerConfigurations[0].certificates")
        ], value
        assert "must be a list of certificate ARNs" in got[0].message


def test_gateway_configurations_not_read_are_unknown():
    bad = b.lb_configuration("shop", "pub", scheme="public")
    inv = facet_failed(_configs(bad), Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS)
    got = [
        f for f in judged(RULE, inv) if f.kubernetes is not None and f.kubernetes.kind == "LoadBalancerConfiguration"
    ]
    assert got and all(f.status == Status.UNKNOWN for f in got)
