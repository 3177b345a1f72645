"""Reachability is computed from merged ranges: the cases string matching on 0.0.0.0/0 got wrong, one per row."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from auditor.correlate.annotations import ingress_settings
from auditor.correlate.reachability import (
    BROAD_IPV4,
    PUBLIC_V4,
    PUBLIC_V6,
    Openness,
    Source,
    ingress_inbound_cidrs,
    judge,
    parse_cidr,
    security_groups,
    service_source_ranges,
)
from auditor.inventory.models import IngressClassParams, ManagedPrefixList, SecurityGroup, SecurityGroupPermission
from tests.support import builders as b

WORLD, BROAD, LIMITED, UNKNOWN = Openness.WORLD, Openness.BROAD, Openness.LIMITED, Openness.UNKNOWN


def _judge(*cidrs: str, unresolved: tuple[str, ...] = ()):
    return judge([Source(c, "test") for c in cidrs], unresolved=unresolved)


@pytest.mark.parametrize(
    ("cidrs", "expected"),
    [
        (("0.0.0.0/0",), WORLD),
        (("0.0.0.0/1", "128.0.0.0/1"), WORLD),  # two halves are the whole
        (("128.0.0.0/1", "0.0.0.0/2", "64.0.0.0/2"), WORLD),  # in any order, in any split
        (("0.0.0.0/1",), BROAD),  # half the internet is not the world, but it is not restricted either
        (("::/0",), WORLD),
        (("::/1", "8000::/1"), WORLD),  # the two IPv6 halves
        (("2000::/3",), BROAD),  # all of today's global unicast IPv6, but not ::/0
        (("4.0.0.0/7",), BROAD),  # a /7 of public space: 2^25 public addresses
        (("4.0.0.0/8",), LIMITED),  # exactly 2^24: not more than the threshold
        (("10.0.0.0/9",), LIMITED),  # a /9 of 10/8 holds no public address at all
        (("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"), LIMITED),
        (("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"), LIMITED),  # special-purpose, 224/4, 240/4
        (("fc00::/7", "fe80::/10", "2001:db8::/32"), LIMITED),  # ULA, link local, documentation
        (("203.0.113.0/24", "198.51.100.7/32"), LIMITED),
        (("10.0.0.1/8",), LIMITED),  # host bits set: read as 10.0.0.0/8, as Kubernetes and AWS do
        ((), LIMITED),  # nothing admitted
    ],
)
def test_merged_ranges(cidrs, expected):
    assert _judge(*cidrs).openness == expected


def test_the_public_tables_follow_the_special_purpose_registries():
    public = sum(n.num_addresses for n in PUBLIC_V4)
    # 2^32 less RFC 1918, CGNAT, loopback, "this network", link local, documentation, benchmarking, 192.0.0/24
    # (but its two globally reachable /32s), multicast and reserved
    private = 2**24 + 2**20 + 2**16 + 2**22 + 2**24 + 2**24 + 2**16 + 3 * 2**8 + 2**17 + 2**8 - 2 + 2**28 + 2**28
    assert public == 2**32 - private
    assert ipaddress.ip_network("192.0.0.9/32") in PUBLIC_V4
    assert not any(n.overlaps(ipaddress.ip_network("2001:db8::/32")) for n in PUBLIC_V6)
    assert any(ipaddress.ip_network("2a00::/12").subnet_of(n) for n in PUBLIC_V6)


def test_broad_counts_only_public_addresses():
    # 0.0.0.0/4 holds 0/8 and 10/8 (not public) and 14 public /8s
    r = _judge("0.0.0.0/4")
    assert r.openness == BROAD and r.public_ipv4 == 14 * 2**24
    assert r.public_ipv4 > BROAD_IPV4
    assert "broadly open" in r.summary() and "234,881,024 public IPv4 addresses" in r.summary()


def test_malformed_cidrs_never_raise_and_are_judged_conservatively():
    for garbage in ("", "  ", "garbage", "0.0.0.0/33", "1.2.3.4", "10.0.0.0/8/8", "::/129", "0.0.0.0/-1", "١٠.0.0.0/8"):
        assert parse_cidr(garbage) is None, garbage
    assert parse_cidr(None) is None and parse_cidr(8) is None  # not even a string (an edited snapshot)

    r = _judge("10.0.0.0/8", "0.0.0.0/O")  # a typo could be the world
    assert r.openness == UNKNOWN
    assert r.evidence()["invalid_cidrs"] == [{"cidr": "0.0.0.0/O", "from": "test"}]
    assert "'0.0.0.0/O' (test) is not a CIDR" in r.summary()
    # what is known is already open: an input can only add addresses, so the verdict stands
    assert _judge("0.0.0.0/1", "128.0.0.0/1", "nonsense").openness == WORLD
    assert _judge("4.0.0.0/7", "nonsense").openness == BROAD


def test_unresolved_inputs_make_a_closed_answer_unknown_but_not_an_open_one():
    assert _judge("10.0.0.0/8", unresolved=("prefix list pl-1 was not read",)).openness == UNKNOWN
    assert _judge("0.0.0.0/0", unresolved=("prefix list pl-1 was not read",)).openness == WORLD


@pytest.mark.parametrize(
    ("cidr", "as_ipv4"),
    [
        ("::ffff:0.0.0.0/96", "0.0.0.0/0"),  # Go's net package prints this as 0.0.0.0/0
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:203.0.113.7/128", "203.0.113.7/32"),
    ],
)
def test_ipv4_mapped_ranges_are_read_as_the_ipv4_they_map(cidr, as_ipv4):
    assert parse_cidr(cidr) == ipaddress.ip_network(as_ipv4)


def test_ipv4_mapped_weirdness_in_verdicts():
    assert _judge("::ffff:0.0.0.0/96").openness == WORLD
    assert _judge("::ffff:0.0.0.0/97", "::ffff:128.0.0.0/97").openness == WORLD  # mapped halves
    assert _judge("::ffff:10.0.0.0/104").openness == LIMITED
    # a range that merely contains the mapped block is IPv6 (::/64 is not an IPv4 range)
    r = _judge("::/64")
    assert r.openness == LIMITED and r.ipv4 == () and r.public_ipv6 == 0


def test_evidence_names_the_merged_public_ranges_and_their_sources():
    r = judge([Source("0.0.0.0/1", "sg-a tcp 5432"), Source("128.0.0.0/1", "sg-b tcp 5432"), Source("::/0", "sg-b")])
    ev = r.evidence()
    assert ev["reachability"] == "open-to-world"
    assert [p["cidr"] for p in ev["public_ranges"]] == ["0.0.0.0/0", "::/0"]
    assert ev["public_ranges"][0]["from"] == ["0.0.0.0/1 (sg-a tcp 5432)", "128.0.0.0/1 (sg-b tcp 5432)"]
    assert r.summary() == "open to the world (0.0.0.0/0, ::/0)"
    assert r.world_families == ["IPv4", "IPv6"]


# --------------------------------------------------------------------------- security groups

TCP = frozenset({"tcp", "6"})


def _sg(*perms: SecurityGroupPermission, sg_id: str = "sg-1") -> SecurityGroup:
    return SecurityGroup(id=sg_id, name=sg_id, account=b.ACCOUNT, region=b.REGION, ingress=list(perms))


def _pl(pl_id: str, cidrs: list[str] | None, name: str = "office") -> ManagedPrefixList:
    return ManagedPrefixList(id=pl_id, account=b.ACCOUNT, region=b.REGION, name=name, cidrs=cidrs)


def _perm(**kw) -> SecurityGroupPermission:
    return SecurityGroupPermission(protocol=kw.pop("protocol", "tcp"), from_port=5432, to_port=5432, **kw)


def test_security_group_halves_across_groups_are_merged():
    groups = [
        _sg(_perm(ipv4_ranges=["0.0.0.0/1"]), sg_id="sg-a"),
        _sg(_perm(ipv4_ranges=["128.0.0.0/1"]), sg_id="sg-b"),
    ]
    r = security_groups(groups, 5432, TCP, {}).judge()
    assert r.openness == WORLD
    assert {s.security_group for s in r.public_sources()} == {"sg-a", "sg-b"}


def test_security_group_rules_for_other_ports_or_protocols_do_not_count():
    groups = [
        _sg(
            SecurityGroupPermission(protocol="tcp", from_port=443, to_port=443, ipv4_ranges=["0.0.0.0/0"]),
            SecurityGroupPermission(protocol="udp", from_port=0, to_port=65535, ipv4_ranges=["0.0.0.0/0"]),
            SecurityGroupPermission(protocol="tcp", from_port=5000, to_port=6000, ipv4_ranges=["10.0.0.0/8"]),
        )
    ]
    r = security_groups(groups, 5432, TCP, {}).judge()
    assert r.openness == LIMITED and [str(n) for n in r.ipv4] == ["10.0.0.0/8"]
    everything = _sg(SecurityGroupPermission(protocol="-1", ipv6_ranges=["::/0"]))
    assert security_groups([everything], 5432, TCP, {}).judge().openness == WORLD


def test_prefix_list_resolving_to_the_world():
    groups = [_sg(_perm(prefix_list_ids=["pl-1"]))]
    r = security_groups(groups, 5432, TCP, {"pl-1": _pl("pl-1", ["0.0.0.0/0"], name="everyone")}).judge()
    assert r.openness == WORLD
    assert r.public_ranges()[0]["from"] == ["0.0.0.0/0 (prefix list pl-1 everyone in security group sg-1 tcp 5432)"]
    [source] = r.public_sources()
    assert (source.security_group, source.prefix_list) == ("sg-1", "pl-1")


def test_prefix_list_of_trusted_ranges_is_limited():
    groups = [_sg(_perm(prefix_list_ids=["pl-1"]))]
    r = security_groups(groups, 5432, TCP, {"pl-1": _pl("pl-1", ["198.51.100.0/24", "2001:db8::/48"])}).judge()
    assert r.openness == LIMITED


def test_prefix_list_not_read_or_not_collected_is_unknown():
    groups = [_sg(_perm(prefix_list_ids=["pl-1"]))]
    unread = security_groups(groups, 5432, TCP, {"pl-1": _pl("pl-1", None)}).judge()
    assert unread.openness == UNKNOWN and "prefix list pl-1" in unread.summary()
    absent = security_groups(groups, 5432, TCP, {}).judge()  # e.g. a snapshot from before prefix lists were read
    assert absent.openness == UNKNOWN


def test_security_group_reference_is_not_public():
    groups = [_sg(_perm(source_group_ids=["sg-nodes"]))]
    r = security_groups(groups, 5432, TCP, {}).judge()
    assert r.openness == LIMITED
    assert r.evidence()["not_public_sources"] == ["security group sg-nodes (in security group sg-1 tcp 5432)"]


# --------------------------------------------------------------------------- Kubernetes declarations

SVC = "service.beta.kubernetes.io/"


@pytest.mark.parametrize(
    ("spec", "annotations", "origin", "expected"),
    [
        ((), {}, "default (no loadBalancerSourceRanges)", WORLD),  # empty = 0.0.0.0/0 (Kubernetes docs)
        (("0.0.0.0/1", "128.0.0.0/1"), {}, "spec.loadBalancerSourceRanges", WORLD),
        (("10.0.0.0/8",), {SVC + "load-balancer-source-ranges": "0.0.0.0/0"}, "spec.loadBalancerSourceRanges", LIMITED),
        ((), {SVC + "load-balancer-source-ranges": "203.0.113.0/24"}, SVC + "load-balancer-source-ranges", LIMITED),
        (
            (),
            {SVC + "load-balancer-source-ranges": " 0.0.0.0/1 , 128.0.0.0/1 "},
            SVC + "load-balancer-source-ranges",
            WORLD,
        ),
        ((), {SVC + "load-balancer-source-ranges": "   "}, "default (no loadBalancerSourceRanges)", WORLD),
        # only empty entries: the controller drops them and admits its default (this was "no range": LIMITED)
        ((), {SVC + "load-balancer-source-ranges": ","}, "default (no loadBalancerSourceRanges)", WORLD),
        ((), {SVC + "load-balancer-source-ranges": " , ,"}, "default (no loadBalancerSourceRanges)", WORLD),
        # aws-load-balancer-source-ranges is read by no controller: it narrows nothing (this was LIMITED: fail-open)
        (
            (),
            {SVC + "load-balancer-source-ranges": ",", SVC + "aws-load-balancer-source-ranges": "10.0.0.0/8"},
            "default (no loadBalancerSourceRanges)",
            WORLD,
        ),
        (
            (),
            {SVC + "aws-load-balancer-source-ranges": "203.0.113.0/24"},
            "default (no loadBalancerSourceRanges)",
            WORLD,
        ),
        (
            (),
            {SVC + "load-balancer-source-ranges": "10.0.0.0/8,10.0.0.0/33"},
            SVC + "load-balancer-source-ranges",
            UNKNOWN,
        ),
        ((), {SVC + "load-balancer-source-ranges": "::ffff:0.0.0.0/96"}, SVC + "load-balancer-source-ranges", WORLD),
    ],
)
def test_service_source_ranges(spec, annotations, origin, expected):
    svc = b.service("db", "pg", ports=(5432,), annotations=annotations, source_ranges=spec)
    admitted, found_origin = service_source_ranges(svc)
    assert found_origin == origin
    assert admitted.judge().openness == expected


@pytest.mark.parametrize(
    ("value", "expected"), [("10.0.0.0/8,", UNKNOWN), (",", UNKNOWN), ("10.0.0.0/8", LIMITED), ("  ", WORLD)]
)
def test_an_empty_entry_the_in_tree_provider_refuses_leaves_what_it_applied_unknown(value, expected):
    """The in-tree provider refuses the whole value (it keeps what it applied before): no range stands on it. The
    AWS Load Balancer Controller drops the empty entry; the spec field, when set, wins for both."""
    svc = b.service("db", "pg", ports=(5432,), annotations={SVC + "load-balancer-source-ranges": value})
    admitted, origin = service_source_ranges(svc, "in-tree")
    assert admitted.judge().openness == expected
    if expected == UNKNOWN:
        assert origin == SVC + "load-balancer-source-ranges" and "in-tree provider refused it" in admitted.unresolved[0]
    assert service_source_ranges(svc, "lbc")[0].judge().openness == (LIMITED if "10." in value else WORLD)
    svc.load_balancer_source_ranges = ["10.0.0.0/8"]
    assert service_source_ranges(svc, "in-tree")[0].judge().openness == LIMITED


def test_service_default_is_dualstack_when_the_load_balancer_is():
    svc = b.service("db", "pg", annotations={SVC + "aws-load-balancer-ip-address-type": "dualstack"})
    admitted, _ = service_source_ranges(svc)
    assert [s.cidr for s in admitted.sources] == ["0.0.0.0/0", "::/0"]


ALB = "alb.ingress.kubernetes.io/"


def _params(cidrs) -> IngressClassParams:
    return IngressClassParams(name="restricted", spec={"inboundCIDRs": cidrs})


@pytest.mark.parametrize(
    ("annotations", "params", "origin", "expected"),
    [
        ({}, None, "default (no inbound-cidrs)", WORLD),
        ({ALB + "inbound-cidrs": "10.0.0.0/8, 192.168.0.0/16"}, None, ALB + "inbound-cidrs", LIMITED),
        ({ALB + "inbound-cidrs": "0.0.0.0/1,128.0.0.0/1"}, None, ALB + "inbound-cidrs", WORLD),
        ({ALB + "inbound-cidrs": "10.0.0.0/8,not-a-cidr"}, None, ALB + "inbound-cidrs", UNKNOWN),
        ({ALB + "inbound-cidrs": ""}, None, "default (no inbound-cidrs)", WORLD),  # an empty value is no value
        # IngressClassParams spec.inboundCIDRs wins over the annotation, both ways
        (
            {ALB + "inbound-cidrs": "10.0.0.0/8"},
            ["0.0.0.0/0"],
            "IngressClassParams restricted spec.inboundCIDRs",
            WORLD,
        ),
        (
            {ALB + "inbound-cidrs": "0.0.0.0/0"},
            ["10.0.0.0/8"],
            "IngressClassParams restricted spec.inboundCIDRs",
            LIMITED,
        ),
        ({}, ["4.0.0.0/7"], "IngressClassParams restricted spec.inboundCIDRs", BROAD),
        ({}, ["10.0.0.0/8", "10.0.0.0/99"], "IngressClassParams restricted spec.inboundCIDRs", UNKNOWN),
    ],
)
def test_ingress_inbound_cidrs(annotations, params, origin, expected):
    ing = b.ingress("web", "shop", annotations=annotations)
    settings = ingress_settings(ing, _params(params) if params is not None else None)
    admitted, found_origin = ingress_inbound_cidrs(settings, ing.annotations)
    assert found_origin == origin
    assert admitted.judge().openness == expected


def test_ingress_rejected_entry_is_reported_not_dropped():
    ing = b.ingress("web", "shop", annotations={ALB + "inbound-cidrs": "10.0.0.0/8, 0.0.0.0/O"})
    admitted, _ = ingress_inbound_cidrs(ingress_settings(ing), ing.annotations)
    r = admitted.judge()
    assert [s.cidr for s in r.invalid] == ["0.0.0.0/O"] and r.openness == UNKNOWN


# --------------------------------------------------------------------------- properties


@given(st.lists(st.one_of(st.text(max_size=60), st.none(), st.integers()), max_size=8))
def test_judging_never_raises_on_any_input(values):
    r = judge([Source(str(v), "fuzz") for v in values])
    assert r.openness in Openness
    r.summary(), r.evidence()  # and its reporting never raises either


@given(st.integers(min_value=0, max_value=12), st.randoms(use_true_random=False))
def test_any_split_of_the_whole_space_is_the_world(depth, rnd):
    """Cut 0.0.0.0/0 into random pieces (each split halves a piece): together they are always the world,
    and without any one piece they never are."""
    pieces = [ipaddress.ip_network("0.0.0.0/0")]
    for _ in range(depth):
        piece = pieces.pop(rnd.randrange(len(pieces)))
        pieces.extend(piece.subnets())
    rnd.shuffle(pieces)
    assert _judge(*map(str, pieces)).openness == WORLD
    if len(pieces) > 1:
        assert _judge(*map(str, pieces[1:])).openness != WORLD
