"""implicit-public-scheme: in-tree Services that are public only by the provider's default."""

from auditor.findings import KubeRef, Severity, Status
from auditor.rules.exposure.implicit_public_scheme import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

SVC = "service.beta.kubernetes.io/"


def _clb(name="a0123", stack="legacy/app", scheme="internet-facing"):
    return b.load_balancer(name, type="classic", scheme=scheme, tags=b.intree_tags(stack))


def test_default_scheme_fails_with_internal_annotation_fix():
    clb = _clb()
    f = only(RULE, b.inventory(lbs=[clb], services=[b.service("legacy", "app", lb=clb)]))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH
    assert f.kubernetes == KubeRef(kind="Service", namespace="legacy", name="app")
    assert f.resource_arn is None and f.evidence["load_balancer_arn"] == clb.arn and f.region == b.REGION
    assert "internet-facing Classic Load Balancer" in f.message and "no " + SVC in f.message
    assert f"kubectl -n legacy annotate service app {SVC}aws-load-balancer-internal='true' --overwrite" in f.remediation


def test_scheme_annotation_is_ignored_by_the_intree_provider():
    svc = b.service("legacy", "app", annotations={SVC + "aws-load-balancer-scheme": "internal"})
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and "is ignored by the in-tree provider" in f.message
    assert "load_balancer" not in f.evidence  # not provisioned yet: the Service is still the subject


def test_intree_nlb_is_covered_too():
    svc = b.service("edge", "dns", annotations={SVC + "aws-load-balancer-type": "nlb"})
    f = only(RULE, b.inventory(services=[svc]))
    assert f.status == Status.FAIL and "Network Load Balancer" in f.message


def test_fix_keeps_the_fingerprint_although_the_load_balancer_is_replaced():
    public = _clb()
    before = only(RULE, b.inventory(lbs=[public], services=[b.service("legacy", "app", lb=public)]))
    internal = _clb(name="a0456", scheme="internal")
    fixed = b.service("legacy", "app", lb=internal, annotations={SVC + "aws-load-balancer-internal": "true"})
    after = only(RULE, b.inventory(lbs=[internal], services=[fixed]))
    assert (before.status, after.status) == (Status.FAIL, Status.PASS)
    assert before.fingerprint == after.fingerprint


def test_internal_or_explicitly_public_passes():
    internal = b.service("a", "internal", annotations={SVC + "aws-load-balancer-internal": "true"})
    public = b.service("a", "public", annotations={SVC + "aws-load-balancer-internal": "false"})
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(services=[internal, public]))}
    assert found["internal"].status == Status.PASS and "is internal" in found["internal"].message
    assert found["public"].status == Status.PASS and "on purpose" in found["public"].message


def test_internal_is_any_value_but_false_as_the_in_tree_provider_reads_it():
    values = {"zero": "0", "no": "no", "caps": "False", "false": "false", "empty": ""}
    services = [b.service("a", name, annotations={SVC + "aws-load-balancer-internal": v}) for name, v in values.items()]
    found = {f.kubernetes.name: f for f in run(RULE, b.inventory(services=services))}
    for name in ("zero", "no", "caps"):
        assert found[name].status == Status.PASS and "is internal" in found[name].message, name
        assert found[name].evidence["scheme"] == "internal"
    assert found["false"].status == Status.PASS and "on purpose" in found["false"].message
    assert found["empty"].status == Status.FAIL  # an empty value is no annotation to the in-tree provider


def test_lbc_services_and_cluster_ip_are_not_examined():
    lbc = b.service("a", "lbc", annotations={SVC + "aws-load-balancer-type": "external"})
    cls = b.service("a", "cls", lb_class="service.k8s.aws/nlb")
    cip = b.service("a", "cip", type="ClusterIP")
    assert run(RULE, b.inventory(services=[lbc, cls, cip])) == []


def test_no_kubernetes_no_findings():
    clb = _clb()
    assert run(RULE, b.inventory(lbs=[clb], kube=False)) == []
