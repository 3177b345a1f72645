"""public-sensitive-port: database/admin ports on internet-facing load balancers reachable from the internet."""

from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import (
    CoverageStatus,
    FacetCoverage,
    IngressClass,
    IngressClassParametersRef,
    IngressClassParams,
    Listener,
    ManagedPrefixList,
    SecurityGroup,
    SecurityGroupPermission,
)
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
    assert f.evidence["reachability"] == "open-to-world"
    assert "PostgreSQL port 5432 to the internet" in f.message and "open to the world (0.0.0.0/0)" in f.message
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


def test_source_ranges_no_controller_applied_narrow_nothing():
    """What the controller did not apply is no limit: the key no controller reads, and (in-tree) a value with an
    empty entry, which the provider refuses whole, keeping what it applied before (UNKNOWN, not PASS)."""
    lb = _nlb()
    unread = _pg(lb)
    unread.annotations = {
        **LBC,
        SVC + "load-balancer-source-ranges": ",",
        SVC + "aws-load-balancer-source-ranges": "10.0.0.0/8",
    }
    assert only(RULE, b.inventory(lbs=[lb], services=[unread])).status == Status.FAIL  # the default: the world
    listeners = [b.listener(5432, "TCP", default=b.forward("tg"), lb_name="a0123")]
    legacy = b.load_balancer("a0123", type="network", tags=b.intree_tags("db/pg"), listeners=listeners)
    svc = b.service(
        "db",
        "pg",
        ports=(5432,),
        lb=legacy,
        annotations={SVC + "aws-load-balancer-type": "nlb", SVC + "load-balancer-source-ranges": "10.0.0.0/8,"},
    )
    f = only(RULE, b.inventory(lbs=[legacy], services=[svc]))
    assert f.status == Status.UNKNOWN and "in-tree provider refused it" in f.message


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
    assert f.status == Status.FAIL and "security group sg-a0123 leaves it open to the world" in f.message
    [public] = f.evidence["public_ranges"]
    assert public["cidr"] == "0.0.0.0/0" and public["from"] == ["0.0.0.0/0 (security group sg-a0123 tcp 22)"]
    assert f"{SVC}aws-load-balancer-internal='true'" in f.remediation


def test_security_group_open_only_to_private_range_passes_all_traffic_rule_fails():
    lb = b.load_balancer("k8s-logs", tags=b.ingress_tags("logs/es"), listeners=[b.listener(9200, "HTTP")])
    ing = b.ingress("logs", "es", lb=lb)
    private = b.security_group("sg-k8s-logs", 9200, cidr="10.0.0.0/8")
    f = only(RULE, b.inventory(lbs=[lb], ingresses=[ing], security_groups=[private]))
    assert f.status == Status.PASS and f.evidence["security_groups"] == ["sg-k8s-logs"]
    assert f.evidence["reachability"] == "limited" and "limited to 10.0.0.0/8" in f.message

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
    assert f.status == Status.FAIL
    assert (
        "aws ec2 revoke-security-group-ingress --group-id sg-manual "
        "--ip-permissions 'IpProtocol=tcp,FromPort=3306,ToPort=3306,IpRanges=[{CidrIp=0.0.0.0/0}]'"
    ) in f.remediation


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


# --------------------------------------------------------------------------- computed, not string-matched


def _manual(port=5432, *perms: SecurityGroupPermission, sg_id="sg-manual"):
    lb = b.load_balancer("manual", listeners=[b.listener(port, "HTTP")])
    sg = SecurityGroup(id=sg_id, name="manual", account=b.ACCOUNT, region=b.REGION, ingress=list(perms))
    return lb, sg


def _pg_rule(**kw) -> SecurityGroupPermission:
    return SecurityGroupPermission(protocol="tcp", from_port=5432, to_port=5432, **kw)


def test_source_ranges_split_in_halves_are_the_world():
    lb = _nlb()
    f = only(RULE, b.inventory(lbs=[lb], services=[_pg(lb, source_ranges=("0.0.0.0/1", "128.0.0.0/1"))]))
    assert f.status == Status.FAIL and "open to the world (0.0.0.0/0)" in f.message
    [public] = f.evidence["public_ranges"]
    assert public["cidr"] == "0.0.0.0/0"
    assert public["from"] == [
        "0.0.0.0/1 (spec.loadBalancerSourceRanges)",
        "128.0.0.0/1 (spec.loadBalancerSourceRanges)",
    ]


def test_security_group_halves_are_the_world():
    lb, sg = _manual(5432, _pg_rule(ipv4_ranges=["0.0.0.0/1", "128.0.0.0/1"]))
    f = only(RULE, b.inventory(lbs=[lb], security_groups=[sg]))
    assert f.status == Status.FAIL and f.evidence["reachability"] == "open-to-world"
    assert "IpRanges=[{CidrIp=0.0.0.0/1}]" in f.remediation and "IpRanges=[{CidrIp=128.0.0.0/1}]" in f.remediation


def test_security_group_open_to_half_the_internet_on_5432_is_broadly_open():
    lb, sg = _manual(5432, _pg_rule(ipv4_ranges=["0.0.0.0/1"]))
    f = only(RULE, b.inventory(lbs=[lb], security_groups=[sg]))
    assert f.status == Status.FAIL and f.evidence["reachability"] == "broadly-open"
    assert "exposes PostgreSQL port 5432 to the internet: security group sg-manual leaves it broadly open" in f.message
    assert f.evidence["public_ipv4_addresses"] > 2**24


def test_security_group_open_to_all_ipv6_fails():
    lb, sg = _manual(5432, _pg_rule(ipv6_ranges=["::/0"]))
    f = only(RULE, b.inventory(lbs=[lb], security_groups=[sg]))
    assert f.status == Status.FAIL and "open to the world (::/0)" in f.message
    assert "Ipv6Ranges=[{CidrIpv6=::/0}]" in f.remediation


def test_security_group_of_trusted_ranges_and_group_references_passes():
    lb, sg = _manual(5432, _pg_rule(ipv4_ranges=["203.0.113.0/24", "10.0.0.0/8"], source_group_ids=["sg-bastion"]))
    f = only(RULE, b.inventory(lbs=[lb], security_groups=[sg]))
    assert f.status == Status.PASS and f.evidence["reachability"] == "limited"
    assert f.evidence["not_public_sources"] == ["security group sg-bastion (in security group sg-manual tcp 5432)"]


def _with_prefix_list(inv, cidrs):
    inv.aws.prefix_lists = [
        ManagedPrefixList(id="pl-0123", account=b.ACCOUNT, region=b.REGION, name="partners", cidrs=cidrs)
    ]
    return inv


def test_prefix_list_resolving_to_the_world_fails():
    lb, sg = _manual(5432, _pg_rule(prefix_list_ids=["pl-0123"]))
    f = only(RULE, _with_prefix_list(b.inventory(lbs=[lb], security_groups=[sg]), ["0.0.0.0/0"]))
    assert f.status == Status.FAIL
    assert f.evidence["public_ranges"][0]["from"] == [
        "0.0.0.0/0 (prefix list pl-0123 partners in security group sg-manual tcp 5432)"
    ]
    assert "PrefixListIds=[{PrefixListId=pl-0123}]" in f.remediation


def test_prefix_list_of_trusted_ranges_passes():
    lb, sg = _manual(5432, _pg_rule(prefix_list_ids=["pl-0123"]))
    f = only(RULE, _with_prefix_list(b.inventory(lbs=[lb], security_groups=[sg]), ["198.51.100.0/24"]))
    assert f.status == Status.PASS


def test_prefix_list_unreadable_is_unknown_never_pass():
    lb, sg = _manual(5432, _pg_rule(prefix_list_ids=["pl-0123"]))
    f = only(RULE, _with_prefix_list(b.inventory(lbs=[lb], security_groups=[sg]), None))
    assert f.status == Status.UNKNOWN
    assert "prefix list pl-0123 (in security group sg-manual tcp 5432) was not read" in f.message
    assert f.evidence["not_read"] == ["prefix list pl-0123 (in security group sg-manual tcp 5432) was not read"]
    # not in the snapshot at all (older snapshot, or the listing failed): the same
    assert only(RULE, b.inventory(lbs=[lb], security_groups=[sg])).status == Status.UNKNOWN


def test_a_failed_prefix_list_elsewhere_does_not_make_a_closed_group_unknown():
    # ec2 is partial because of a prefix list no rule of this load balancer refers to; its groups were read
    lb, sg = _manual(5432, _pg_rule(ipv4_ranges=["10.0.0.0/8"]))
    inv = b.inventory(lbs=[lb], security_groups=[sg])
    ec2 = next(c for c in inv.coverage if c.collector == "ec2")
    ec2.status = CoverageStatus.PARTIAL
    ec2.facets = {
        Facet.EC2_PREFIX_LISTS.value: FacetCoverage(status=CoverageStatus.PARTIAL, error_code="UnauthorizedOperation"),
        Facet.EC2_SECURITY_GROUPS.value: FacetCoverage(status=CoverageStatus.OK),
    }
    assert only(RULE, inv).status == Status.PASS
    ec2.facets[Facet.EC2_SECURITY_GROUPS.value] = FacetCoverage(status=CoverageStatus.PARTIAL)
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and "were not completely read (ec2 partial)" in f.message


def test_unreadable_prefix_list_does_not_hide_a_known_open_rule():
    lb, sg = _manual(5432, _pg_rule(prefix_list_ids=["pl-0123"], ipv4_ranges=["0.0.0.0/0"]))
    f = only(RULE, _with_prefix_list(b.inventory(lbs=[lb], security_groups=[sg]), None))
    assert f.status == Status.FAIL and f.evidence["not_read"]


def test_malformed_source_range_annotation_is_unknown():
    lb = _nlb()
    svc = _pg(lb)
    svc.annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] = "10.0.0.0/8, 0.0.0.0/O"
    f = only(RULE, b.inventory(lbs=[lb], services=[svc]))
    assert f.status == Status.UNKNOWN and "'0.0.0.0/O'" in f.message
    assert f.evidence["invalid_cidrs"] == [
        {"cidr": "0.0.0.0/O", "from": "service.beta.kubernetes.io/load-balancer-source-ranges"}
    ]


def test_a_source_range_annotation_of_only_commas_is_the_default_world_not_no_range():
    """The controller drops empty entries and admits 0.0.0.0/0; "," was read as admitting nothing (PASS)."""
    lb = _nlb()
    svc = _pg(lb)
    svc.annotations["service.beta.kubernetes.io/load-balancer-source-ranges"] = " , "
    f = only(RULE, b.inventory(lbs=[lb], services=[svc]))
    assert f.status == Status.FAIL and f.evidence["source_ranges"] == ["0.0.0.0/0"]
    assert f.evidence["source_ranges_from"] == "default (no loadBalancerSourceRanges)"


def test_ingress_alb_without_its_security_group_is_unknown_and_names_what_the_ingress_declares():
    lb = b.load_balancer("k8s-logs", tags=b.ingress_tags("logs/es"), listeners=[b.listener(9200, "HTTP")])
    ing = b.ingress("logs", "es", lb=lb, ingress_class="restricted")
    inv = b.inventory(lbs=[lb], ingresses=[ing], failed={"ec2": "UnauthorizedOperation"})
    inv.kubernetes.ingress_classes.append(
        IngressClass(
            name="restricted",
            controller="ingress.k8s.aws/alb",
            parameters=IngressClassParametersRef(kind="IngressClassParams", name="restricted"),
        )
    )
    inv.kubernetes.ingress_class_params = [
        IngressClassParams(name="restricted", spec={"inboundCIDRs": ["0.0.0.0/1", "128.0.0.0/1"]})
    ]
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and "security group sg-k8s-logs was not collected" in f.message
    assert f.evidence["declared"] == {
        "reachability": "open-to-world",
        "from": "Ingress logs/es: IngressClassParams restricted spec.inboundCIDRs",
    }


# ---------------------------------------------------------------- Gateway-made NLBs


def _gateway_nlb_case(config=None, *, sgs=True):
    listeners = [b.listener(5432, "TCP", default=b.forward("tg"), lb_name="k8s-db-tcp-gw")]
    lb = b.load_balancer(
        "k8s-db-tcp-gw",
        type="network",
        tags=b.gateway_tags("db/tcp", kind="nlb"),
        listeners=listeners,
        sgs=["sg-gw"] if sgs else [],
    )
    gw = b.gateway("db", "tcp", cls="nlb", lb=lb, listeners=[b.gw_listener("pg", 5432, "TCP")], config="cfg")
    configs = [b.lb_configuration("db", "cfg", **(config or {"scheme": "internet-facing"}))]
    return lb, b.inventory(
        lbs=[lb],
        gateway_classes=[b.gateway_class("nlb", "gateway.k8s.aws/nlb")],
        gateways=[gw],
        routes=[b.route("db", "pg", gateway="tcp", kind="TCPRoute", backends=("pg",), port=5432)],
        gateway_configurations=configs,
        security_groups=[b.security_group("sg-gw", 5432, cidr="0.0.0.0/0")],
    )


def test_gateway_nlb_open_to_the_world_fails_with_source_ranges_fix():
    _, inv = _gateway_nlb_case()
    f = only(RULE, inv)
    assert f.status == Status.FAIL and f.kubernetes == KubeRef(kind="Gateway", namespace="db", name="tcp")
    assert "spec.sourceRanges: [<trusted CIDR>] in LoadBalancerConfiguration db/cfg" in f.remediation
    assert "remove listener pg from Gateway db/tcp" in f.remediation and "annotate" not in f.remediation


def test_gateway_nlb_restricted_to_private_ranges_passes():
    _, inv = _gateway_nlb_case({"scheme": "internet-facing", "sourceRanges": ["10.0.0.0/8"]})
    inv.aws.security_groups = [b.security_group("sg-gw", 5432, cidr="10.0.0.0/8")]
    f = only(RULE, inv)
    assert f.status == Status.PASS and f.kubernetes == KubeRef(kind="Gateway", namespace="db", name="tcp")


def test_gateway_nlb_security_groups_not_read_is_unknown():
    _, inv = _gateway_nlb_case()
    inv.aws.security_groups = []  # its group was not collected
    f = only(RULE, inv)
    assert f.status == Status.UNKNOWN and f.kubernetes == KubeRef(kind="Gateway", namespace="db", name="tcp")
