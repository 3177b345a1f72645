"""public-sensitive-port: database/admin ports on internet-facing load balancers reachable from 0.0.0.0/0 or ::/0."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.models import Listener, SecurityGroup, SecurityGroupPermission
from auditor.rules.exposure.public_sensitive_port import RULE
from tests.rules._harness import only, run
from tests.support import builders as b

SVC = "service.beta.kubernetes.io/"
LBC = {SVC + "aws-load-balancer-type": "external", SVC + "aws-load-balancer-scheme": "internet-facing"}


def _nlb(port=5432, name="k8s-db-pg", stack="db/pg", **kw):
    listeners = [b.listener(port, "TCP", default=b.forward("tg"), lb_name=name)]
    return b.load_balancer(name, type="network", tags=b.service_tags(stack), listeners=listeners, **kw)


def _pg(lb, **kw):
    return b.service("db", "pg", ports=(5432,), lb=lb, annotations=LBC, **kw)


def test_nlb_without_source_ranges_is_open_by_default():
    lb = _nlb()
    f = only(RULE, b.inventory(lbs=[lb], services=[_pg(lb)]))
    assert f.status == Status.FAIL and f.severity == Severity.CRITICAL
    assert f.resource_arn == lb.arn and f.discriminator == "5432"
    assert f.kubernetes == KubeRef(kind="Service", namespace="db", name="pg")
    assert f.evidence["service"] == "PostgreSQL"
    assert f.evidence["source_ranges"] == ["0.0.0.0/0"]
    assert f.evidence["source_ranges_from"] == "default (no loadBalancerSourceRanges)"
    assert "PostgreSQL port 5432 to the internet" in f.message
    assert (
        "kubectl -n db patch service pg --type merge" in f.remediation and "loadBalancerSourceRanges" in f.remediation
    )
    assert f"kubectl -n db annotate service pg {SVC}aws-load-balancer-scheme='internal' --overwrite" in f.remediation


def test_nlb_with_private_source_ranges_passes():
    lb = _nlb()
    f = only(RULE, b.inventory(lbs=[lb], services=[_pg(lb, source_ranges=("10.0.0.0/8",))]))
    assert f.status == Status.PASS and f.evidence["source_ranges"] == ["10.0.0.0/8"]


def test_source_ranges_containing_the_world_and_the_annotation():
    lb = _nlb()
    explicit_world = _pg(lb, source_ranges=("10.0.0.0/8", "0.0.0.0/0"))
    assert only(RULE, b.inventory(lbs=[lb], services=[explicit_world])).status == Status.FAIL

    narrowed = _pg(lb)
    narrowed.annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] = "203.0.113.0/24"
    f = only(RULE, b.inventory(lbs=[lb], services=[narrowed]))
    assert f.status == Status.PASS and f.evidence["source_ranges_from"].endswith("load-balancer-source-ranges")

    ipv6_world = _pg(lb)
    ipv6_world.annotations[SVC + "aws-load-balancer-source-ranges"] = "203.0.113.0/24, ::/0"
    assert only(RULE, b.inventory(lbs=[lb], services=[ipv6_world])).status == Status.FAIL


def test_field_wins_over_annotation():
    lb = _nlb()
    svc = _pg(lb, source_ranges=("10.0.0.0/8",))
    svc.annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] = "0.0.0.0/0"
    assert only(RULE, b.inventory(lbs=[lb], services=[svc])).status == Status.PASS


def test_intree_clb_with_world_open_security_group_fails():
    clb = b.load_balancer(
        "a0123",
        type="classic",
        tags=b.intree_tags("ops/ssh"),
        listeners=[Listener(port=22, protocol="TCP", instance_port=30022)],
    )
    inv = b.inventory(
        lbs=[clb],
        security_groups=[b.security_group("sg-a0123", 22)],
        services=[b.service("ops", "ssh", ports=(22,), lb=clb)],
    )
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.evidence["open_rules"][0]["security_group"] == "sg-a0123"
    assert f"{SVC}aws-load-balancer-internal='true'" in f.remediation


def test_security_group_open_only_to_private_range_passes_all_traffic_rule_fails():
    lb = b.load_balancer("k8s-logs", tags=b.ingress_tags("logs/es"), listeners=[b.listener(9200, "HTTP")])
    ing = b.ingress("logs", "es", lb=lb)
    private = b.security_group("sg-k8s-logs", 9200, cidr="10.0.0.0/8")
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], security_groups=[private]))
    assert f.status == Status.PASS and f.evidence["security_groups"] == ["sg-k8s-logs"]

    everything = SecurityGroup(
        id="sg-k8s-logs",
        name="all",
        account=b.ACCOUNT,
        region=b.REGION,
        ingress=[SecurityGroupPermission(protocol="-1", ipv6_ranges=["::/0"])],
    )
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], security_groups=[everything]))
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Ingress", namespace="logs", name="es")
    assert "alb.ingress.kubernetes.io/inbound-cidrs='<trusted CIDR>'" in f.remediation


def test_udp_rule_does_not_open_a_tcp_listener():
    lb = b.load_balancer("manual", listeners=[b.listener(6379, "HTTP")])
    udp = SecurityGroup(
        id="sg-manual",
        name="udp",
        account=b.ACCOUNT,
        region=b.REGION,
        ingress=[SecurityGroupPermission(protocol="udp", from_port=0, to_port=65535, ipv4_ranges=["0.0.0.0/0"])],
    )
    assert only(RULE, b.inventory(lbs=[lb], security_groups=[udp])).status == Status.PASS


def test_security_groups_not_collected_is_unknown():
    lb = b.load_balancer("manual", listeners=[b.listener(3306, "HTTP")])
    f = only(RULE, b.inventory(lbs=[lb], failed={"ec2": "UnauthorizedOperation"}))
    assert f.status == Status.UNKNOWN and "sg-manual was not collected" in f.message
    # the group is there but ec2 coverage is incomplete: a closed group is not proof
    closed = b.security_group("sg-manual", 443)
    inv = b.inventory(lbs=[lb], security_groups=[closed], failed={"ec2": "Throttling"})
    assert only(RULE, inv).status == Status.UNKNOWN


def test_known_open_rule_fails_even_when_coverage_is_partial():
    lb = b.load_balancer("manual", listeners=[b.listener(3306, "HTTP")])
    inv = b.inventory(lbs=[lb], security_groups=[b.security_group("sg-manual", 3306)], failed={"ec2": "Throttling"})
    f = only(RULE, inv)
    assert f.status == Status.FAIL and "aws ec2 revoke-security-group-ingress --group-id sg-manual" in f.remediation


def test_unowned_nlb_without_security_groups_is_unknown():
    lb = _nlb(name="manual-nlb", stack="x/y")
    lb.tags = {}
    f = only(RULE, b.inventory(lbs=[lb]))
    assert f.status == Status.UNKNOWN and "no security groups" in f.message


def test_plain_web_load_balancer_passes_and_internal_ones_are_not_examined():
    web = b.load_balancer("web", listeners=[b.listener(443, "HTTPS"), b.listener(80, "HTTP")])
    internal = _nlb(name="k8s-int", scheme="internal")
    found = run(RULE, b.inventory(lbs=[web, internal]))
    assert len(found) == 1 and found[0].status == Status.PASS and found[0].evidence["ports"] == [80, 443]


def test_listeners_not_collected_is_unknown():
    lb = _nlb()
    lb.listeners = None
    assert only(RULE, b.inventory(lbs=[lb], services=[_pg(lb)])).status == Status.UNKNOWN
