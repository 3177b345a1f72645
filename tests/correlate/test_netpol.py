"""NetworkPolicy evaluation as tables: selection, peers, ports, policy types, several policies adding up."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auditor.correlate.netpol import (
    CidrSource,
    MalformedPolicy,
    PodSource,
    admission,
    enforcement,
    ip_block_rule,
)
from auditor.inventory.models import (
    ContainerPort,
    DaemonSetContainer,
    KubeInventory,
    NetworkDaemonSet,
    NetworkPolicy,
    Pod,
    VpcCniAddon,
)

POD = Pod(
    namespace="shop",
    name="web-1",
    labels={"app": "web", "tier": "front"},
    ips=["10.0.1.5"],
    container_ports=[ContainerPort(name="http", port=8080), ContainerPort(name="dns", port=53, protocol="UDP")],
)
LB = CidrSource("10.0.0.0/24")  # a load balancer's subnet
VPC = "10.0.0.0/16"


def pol(spec: dict[str, Any], name: str = "p", namespace: str = "shop") -> NetworkPolicy:
    return NetworkPolicy(namespace=namespace, name=name, spec=spec)


def allow(peers: list[dict[str, Any]] | None = None, ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if peers is not None:
        rule["from"] = peers
    if ports is not None:
        rule["ports"] = ports
    return rule


DENY_ALL = {"podSelector": {}, "policyTypes": ["Ingress"]}
ALL_PODS = {"podSelector": {}}


@pytest.mark.parametrize(
    ("policies", "source", "port", "protocol", "admitted"),
    [
        # no policy selects the pod: everything is admitted
        ([], LB, 8080, "TCP", True),
        ([pol({**DENY_ALL, "podSelector": {"matchLabels": {"app": "db"}}})], LB, 8080, "TCP", True),
        ([pol(DENY_ALL, namespace="other")], LB, 8080, "TCP", True),  # another namespace's policy
        # default deny
        ([pol(DENY_ALL)], LB, 8080, "TCP", False),
        # policyTypes: Egress only does not restrict ingress; no policyTypes means Ingress
        ([pol({"podSelector": {}, "policyTypes": ["Egress"]})], LB, 8080, "TCP", True),
        ([pol({"podSelector": {}})], LB, 8080, "TCP", False),
        # a rule with no from and no ports admits everything
        ([pol({**ALL_PODS, "ingress": [{}]})], LB, 8080, "TCP", True),
        # podSelector / namespaceSelector peers never admit a load balancer's addresses (even kube-system)
        ([pol({**ALL_PODS, "ingress": [allow([{"podSelector": {}}])]})], LB, 8080, "TCP", False),
        (
            [pol({**ALL_PODS, "ingress": [allow([{"namespaceSelector": {"matchLabels": {"x": "y"}}}])]})],
            LB,
            8080,
            "TCP",
            False,
        ),
        # ipBlock: the whole source must lie in cidr and outside every except
        ([pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC}}])]})], LB, 8080, "TCP", True),
        ([pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": "10.0.0.0/25"}}])]})], LB, 8080, "TCP", False),
        (
            [pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": ["10.0.0.128/25"]}}])]})],
            LB,
            8080,
            "TCP",
            False,
        ),
        (
            [pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": ["10.0.9.0/24"]}}])]})],
            LB,
            8080,
            "TCP",
            True,
        ),
        # ports by number, range (endPort), name (resolved against the pod's container ports) and protocol
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": 8080}])]})], LB, 8080, "TCP", True),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": 80}])]})], LB, 8080, "TCP", False),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": 8000, "endPort": 8100}])]})], LB, 8080, "TCP", True),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": 8000, "endPort": 8079}])]})], LB, 8080, "TCP", False),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": "http"}])]})], LB, 8080, "TCP", True),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": "metrics"}])]})], LB, 8080, "TCP", False),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": 8080, "protocol": "UDP"}])]})], LB, 8080, "TCP", False),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"port": "dns", "protocol": "UDP"}])]})], LB, 53, "UDP", True),
        ([pol({**ALL_PODS, "ingress": [allow(None, [{"protocol": "TCP"}])]})], LB, 9999, "TCP", True),
        # peer and port in one rule must both match
        (
            [pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC}}], [{"port": 9090}])]})],
            LB,
            8080,
            "TCP",
            False,
        ),
        # several policies add up: deny-all plus an allow for the VPC
        (
            [pol(DENY_ALL, "deny"), pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC}}])]}, "allow")],
            LB,
            8080,
            "TCP",
            True,
        ),
        # matchExpressions select the pod
        (
            [pol({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]}})],
            LB,
            8080,
            "TCP",
            False,
        ),
        (
            [pol({"podSelector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}})],
            LB,
            8080,
            "TCP",
            True,
        ),
    ],
)
def test_admission_of_a_cidr(
    policies: list[NetworkPolicy], source: CidrSource, port: int, protocol: str, admitted: bool
):
    assert admission(policies, POD, source, port, protocol).admitted is admitted


@pytest.mark.parametrize(
    ("peer", "source", "admitted"),
    [
        ({"podSelector": {"matchLabels": {"role": "lb"}}}, PodSource("shop", {"role": "lb"}, {}), True),
        ({"podSelector": {"matchLabels": {"role": "lb"}}}, PodSource("ops", {"role": "lb"}, {}), False),
        ({"namespaceSelector": {"matchLabels": {"team": "ops"}}}, PodSource("ops", {}, {"team": "ops"}), True),
        ({"namespaceSelector": {"matchLabels": {"team": "ops"}}}, PodSource("dev", {}, {"team": "dev"}), False),
        (
            {"namespaceSelector": {"matchLabels": {"team": "ops"}}, "podSelector": {"matchLabels": {"r": "x"}}},
            PodSource("ops", {"r": "y"}, {"team": "ops"}),
            False,
        ),
        ({"ipBlock": {"cidr": "0.0.0.0/0"}}, PodSource("shop", {}, {}), False),
    ],
)
def test_admission_of_a_pod(peer: dict[str, Any], source: PodSource, admitted: bool):
    policy = pol({**ALL_PODS, "ingress": [allow([peer])]})
    assert admission([policy], POD, source, 8080).admitted is admitted


def test_evidence_names_the_selecting_and_admitting_policies():
    deny, allow_vpc = pol(DENY_ALL, "deny"), pol({**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC}}])]}, "vpc")
    result = admission([deny, allow_vpc], POD, LB, 8080)
    assert result.selecting == ["shop/deny", "shop/vpc"] and result.admitted_by == ["shop/vpc"]


@pytest.mark.parametrize(
    "spec",
    [
        {"podSelector": "app=web"},
        {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Near"}]}},
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": "not-a-cidr"}}])]},
        {**ALL_PODS, "ingress": [allow(None, [{"port": 1.5}])]},
        {**ALL_PODS, "ingress": "all"},
        {"podSelector": {}, "policyTypes": "Ingress"},
        # these raised TypeError / ValueError, which no caller expects (a rule crash, not an UNKNOWN pod)
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": 5}}])]},
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": "10.0.0.0/24"}}])]},
        {**ALL_PODS, "ingress": [allow(None, [{"port": "²"}])]},  # isdigit(), but int() refuses it
        # neither a number nor a name the API server accepts: "８０８０" was read as 8080, "HTTP" as a name
        {**ALL_PODS, "ingress": [allow(None, [{"port": "８０８０"}])]},
        {**ALL_PODS, "ingress": [allow(None, [{"port": "HTTP"}])]},
        {**ALL_PODS, "ingress": [allow(None, [{"port": "http\n"}])]},  # "$" matched before the final newline
        # falsy non-lists were read as "no exception" and admitted the source
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": 0}}])]},
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": ""}}])]},
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": {}}}])]},
        {**ALL_PODS, "ingress": [allow([{"ipBlock": {"cidr": VPC, "except": False}}])]},
    ],
)
def test_a_malformed_policy_raises_naming_it(spec: dict[str, Any]):
    with pytest.raises(MalformedPolicy, match="NetworkPolicy shop/bad"):
        admission([pol(spec, "bad")], POD, LB, 8080)


def test_ip_block_rule_is_the_fix():
    policy = pol({**ALL_PODS, "ingress": [ip_block_rule(["10.0.0.0/24"], [(8080, "TCP")])]})
    assert admission([pol(DENY_ALL), policy], POD, LB, 8080).admitted


def _ds(name: str, *containers: DaemonSetContainer) -> NetworkDaemonSet:
    return NetworkDaemonSet(namespace="kube-system", name=name, containers=list(containers))


CNI = DaemonSetContainer(name="aws-node", image="602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.0")


def _agent(flag: str | None) -> DaemonSetContainer:
    args = [f"--enable-network-policy={flag}"] if flag is not None else []
    return DaemonSetContainer(name="aws-eks-nodeagent", image="x/amazon/aws-network-policy-agent:v1.2.0", args=args)


@pytest.mark.parametrize(
    ("sets", "state"),
    [
        (None, "unknown"),
        ([], "unknown"),
        ([_ds("aws-node", CNI, _agent("true"))], "enforced"),
        ([_ds("aws-node", CNI, _agent("false"))], "not-enforced"),
        ([_ds("aws-node", CNI, _agent(None))], "not-enforced"),
        ([_ds("aws-node", CNI)], "not-enforced"),
        (
            [
                _ds("aws-node", CNI, _agent("false")),
                _ds("calico-node", DaemonSetContainer(name="c", image="calico/node:v3")),
            ],
            "enforced",
        ),
        ([_ds("cilium", DaemonSetContainer(name="cilium-agent", image="quay.io/cilium/cilium:v1.16"))], "enforced"),
    ],
)
def test_enforcement(sets: list[NetworkDaemonSet] | None, state: str):
    assert enforcement(KubeInventory(network_daemon_sets=sets)).state == state
    assert enforcement(None).state == "unknown"


# --------------------------------------------------------------------------- any spec: a verdict or MalformedPolicy

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.text(max_size=8)
    | st.sampled_from(
        ["10.0.0.0/8", "In", "NotIn", "Exists", "DoesNotExist", "TCP", "UDP", "http", "Ingress", "Egress", "80"]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_KEYS = [
    "podSelector",
    "policyTypes",
    "ingress",
    "from",
    "ports",
    "ipBlock",
    "cidr",
    "except",
    "port",
    "endPort",
    "protocol",
    "namespaceSelector",
    "matchLabels",
    "matchExpressions",
    "key",
    "operator",
    "values",
]
_SPEC = st.recursive(
    _JSON,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(spec=st.dictionaries(st.sampled_from(_KEYS), _SPEC, max_size=4))
@example(spec={"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": 0}}]}]})
@example(spec={"ingress": [{"ports": [{"port": "²"}]}]})
def test_any_spec_gives_a_verdict_or_malformed_policy(spec: dict[str, Any]):
    policy = pol(spec, "fuzz")
    for source in (LB, PodSource("shop", {"app": "web"}, {"team": "x"})):
        try:
            admission([policy], POD, source, 8080)
        except MalformedPolicy as exc:
            assert "NetworkPolicy shop/fuzz" in str(exc)


def test_the_vpc_cni_addon_speaks_when_the_daemon_sets_were_not_read_or_explains_them():
    asked, unset = VpcCniAddon(installed=True, network_policy=True), VpcCniAddon(installed=True)
    assert enforcement(KubeInventory(network_daemon_sets=None), asked).state == "enforced"
    assert enforcement(KubeInventory(network_daemon_sets=None), unset).state == "unknown"
    assert enforcement(KubeInventory(network_daemon_sets=None), VpcCniAddon(installed=False)).state == "unknown"
    off = KubeInventory(network_daemon_sets=[_ds("aws-node", CNI, _agent("false"))])
    found = enforcement(off, asked)  # what runs wins over what was asked for, and the message says both
    assert found.state == "not-enforced" and "enableNetworkPolicy" in found.by
