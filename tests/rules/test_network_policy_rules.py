"""The NetworkPolicy rules: blocks-load-balancer, public backend without policy, not enforced; and the reason
lb-without-healthy-targets gives."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from auditor.correlate.netpol import CidrSource, admission
from auditor.findings import KubeRef, Severity, Status
from auditor.inventory.facets import Facet, facets_of
from auditor.inventory.models import CoverageStatus, FacetCoverage, Inventory, NetworkPolicy, TargetHealth
from auditor.rules.exposure.network_policy_not_enforced import RULE as NOT_ENFORCED
from auditor.rules.exposure.public_backend_without_network_policy import RULE as NO_POLICY
from auditor.rules.hygiene.lb_without_healthy_targets import RULE as HEALTHY
from auditor.rules.hygiene.network_policy_blocks_load_balancer import RULE as BLOCKS
from tests.rules._harness import facet_failed, judged, only, run
from tests.support import builders as b

SUBNETS = [b.subnet("subnet-a", "10.0.0.0/24"), b.subnet("subnet-b", "10.0.1.0/24")]
POD = b.pod("shop", "web-1", "10.0.8.5", labels={"app": "web"}, ports={"http": 8080})
ALLOW_VPC = b.network_policy(
    "shop",
    "allow-vpc",
    podSelector={},
    ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}], "ports": [{"port": "http"}]}],
)
ONLY_PODS = b.network_policy(
    "shop", "only-pods", podSelector={"matchLabels": {"app": "web"}}, ingress=[{"from": [{"podSelector": {}}]}]
)


def _setup(
    policies: list[NetworkPolicy],
    *,
    target_type: str = "ip",
    enforcing: bool = True,
    subnets: list[Any] | None = None,
    state: str = "healthy",
    scheme: str = "internet-facing",
    **more: Any,
) -> Inventory:
    lb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"), scheme=scheme)
    lb.subnet_ids = ["subnet-a", "subnet-b"]
    tg = b.target_group(
        "k8s-shop-web-tg",
        lb,
        port=8080,
        targets=[
            TargetHealth(id="10.0.8.5", port=8080, state=state, reason=None if state == "healthy" else "Target.Timeout")
        ],
        tags={"ingress.k8s.aws/resource": "shop/web-web:80", "ingress.k8s.aws/stack": "shop/web"},
    )
    tg.target_type = target_type
    tg.health_check_port = "traffic-port"
    svc = b.service("shop", "web", type="ClusterIP")
    svc.ports[0].target_port = "http"
    return b.inventory(
        lbs=[lb],
        target_groups=[tg],
        ingresses=[b.ingress("shop", "web", lb=lb)],
        services=[svc],
        endpoint_slices=[b.pod_slice("shop", "web", POD)],
        pods=[POD],
        network_policies=policies,
        network_daemon_sets=[b.aws_node(enforcing=enforcing)],
        subnets=SUBNETS if subnets is None else subnets,
        **more,
    )


# --------------------------------------------------------------------------- network-policy-blocks-load-balancer


def test_default_deny_blocks_the_albs_ip_targets_and_the_fix_admits_them():
    f = only(BLOCKS, _setup([b.default_deny("shop")]))
    assert f.status == Status.FAIL and f.severity == Severity.HIGH
    assert f.kubernetes == KubeRef(kind="Ingress", namespace="shop", name="web")
    assert f.evidence["policies"] == ["shop/default-deny"] and f.evidence["pods"] == ["shop/web-1"]
    assert "10.0.0.0/24" in f.message and "8080/TCP" in f.message
    manifest = yaml.safe_load(f.remediation.split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0])
    assert manifest["kind"] == "NetworkPolicy" and manifest["metadata"]["namespace"] == "shop"
    fix = NetworkPolicy(namespace="shop", name="fix", spec=manifest["spec"])
    for cidr in ("10.0.0.0/24", "10.0.1.0/24"):  # applied next to the deny, it admits both subnets
        assert admission([b.default_deny("shop"), fix], POD, CidrSource(cidr), 8080).admitted


def test_a_backend_port_no_service_port_matches_takes_the_registered_port_and_without_targets_is_unknown():
    """No Service port to follow: the pod's registration says where traffic goes. When the targets were not
    described (CloudWatch showed the group healthy), the group's port is no evidence of the pod's: UNKNOWN."""
    inv = _setup([b.default_deny("shop")])
    inv.kubernetes.services[0].ports[0].port = 81  # the Ingress asks for port 80: no Service port matches
    assert only(BLOCKS, inv).status == Status.FAIL  # judged on the registered 8080
    inv.aws.target_groups[0].port = 9999  # the group's default port: never taken for the pod's
    for targets in (
        None,  # not described
        [],  # the pod registered on no port
        [
            TargetHealth(id="10.0.8.5", port=8080, state="healthy"),
            TargetHealth(id="10.0.8.5", port=8081, state="healthy"),
        ],
    ):
        inv.aws.target_groups[0].targets = targets
        f = only(BLOCKS, inv)
        assert f.status == Status.UNKNOWN and "pod port" in f.message, targets


def test_a_service_target_port_in_other_digits_is_a_name_not_a_number():
    """targetPort "²" crashed the rule (int() refuses it); "８０８０" was judged as port 8080. Neither is a number
    the API server takes: as a name no container port has, the pod port is unknown."""
    for odd in ("\u00b2", "\uff18\uff10\uff18\uff10"):
        inv = _setup([b.default_deny("shop")])
        inv.kubernetes.services[0].ports[0].target_port = odd
        f = only(BLOCKS, inv)
        assert f.status == Status.UNKNOWN and "pod port" in f.message, odd


def test_policies_admitting_only_pods_block_too():
    f = only(BLOCKS, _setup([ONLY_PODS]))
    assert f.status == Status.FAIL and f.evidence["policies"] == ["shop/only-pods"]


def test_an_ip_block_for_the_vpc_on_the_named_port_passes():
    f = only(BLOCKS, _setup([b.default_deny("shop"), ALLOW_VPC]))
    assert f.status == Status.PASS


def test_a_health_check_port_the_policy_does_not_admit_fails():
    inv = _setup([b.default_deny("shop"), ALLOW_VPC])
    inv.aws.target_groups[0].health_check_port = "9000"
    f = only(BLOCKS, inv)
    assert f.status == Status.FAIL and "9000/TCP" in f.message


def test_no_policies_pass():
    assert only(BLOCKS, _setup([])).status == Status.PASS


# instance targets: the load balancer sends to the nodePort, kube-proxy forwards to the pods' targetPort
NODES = [b.node("node-1", "10.0.3.10"), b.node("node-2", "10.0.4.11")]
ONLY_LB_SUBNETS = b.network_policy(
    "shop",
    "allow-lb-subnets",
    podSelector={},
    ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/23"}}], "ports": [{"port": "http"}]}],
)
ONLY_NODES = b.network_policy(
    "shop",
    "allow-nodes",
    podSelector={},
    ingress=[{"from": [{"ipBlock": {"cidr": "10.0.2.0/23"}}, {"ipBlock": {"cidr": "10.0.4.0/24"}}]}],
)


def _instance(policies: list[NetworkPolicy], *, local: bool = False, nodes: list[Any] | None = NODES) -> Inventory:
    inv = _setup(policies, target_type="instance")
    tg = inv.aws.target_groups[0]
    tg.port = 30080  # the nodePort
    tg.targets = [TargetHealth(id="i-0123456789abcdef0", port=30080, state="healthy")]
    svc = inv.kubernetes.services[0]
    svc.type = "NodePort"
    svc.ports[0].node_port = 30080
    svc.external_traffic_policy = "Local" if local else None
    inv.kubernetes.nodes = nodes
    return inv


def _nodes_not_read(inv: Inventory) -> Inventory:
    """``inv`` with the nodes listing refused and every other Kubernetes facet read, as the collector records it."""
    inv = facet_failed(inv, Facet.KUBE_NODES)
    facets = inv.coverage[-1].facets
    read = {f: FacetCoverage(status=CoverageStatus.OK) for f in facets_of("kubernetes")}
    inv.coverage[-1].facets = {**read, **facets}
    return inv


def test_instance_targets_cluster_policy_must_admit_the_nodes_on_the_target_port():
    f = only(BLOCKS, _instance([b.default_deny("shop"), ONLY_LB_SUBNETS]))
    assert f.status == Status.FAIL
    assert "the nodes' addresses 10.0.3.10/32, 10.0.4.11/32" in f.message and "8080/TCP" in f.message
    assert "30080" not in f.message  # the pods see the targetPort, not the nodePort
    assert "externalTrafficPolicy Cluster" in f.message and f.evidence["rests_on"] == ["kubernetes.nodes"]
    manifest_text = f.remediation.split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0]
    assert "VPC CIDR" in manifest_text  # the note: single node addresses come and go
    fix = NetworkPolicy(namespace="shop", name="fix", spec=yaml.safe_load(manifest_text)["spec"])
    for ip in ("10.0.3.10/32", "10.0.4.11/32"):
        assert admission([b.default_deny("shop"), fix], POD, CidrSource(ip), 8080).admitted
    # lb-without-healthy-targets names the policy when the instance targets are unhealthy
    inv = _instance([b.default_deny("shop"), ONLY_LB_SUBNETS])
    inv.aws.target_groups[0].targets = [TargetHealth(id="i-0123456789abcdef0", port=30080, state="unhealthy")]
    message = only(HEALTHY, inv).message
    assert "NetworkPolicies shop/allow-lb-subnets, shop/default-deny drop traffic from the nodes" in message


def test_instance_targets_cluster_policy_pass_when_the_nodes_are_admitted():
    f = only(BLOCKS, _instance([b.default_deny("shop"), ONLY_NODES]))
    assert f.status == Status.PASS and "externalTrafficPolicy Cluster" in f.message
    assert only(BLOCKS, _instance([b.default_deny("shop"), ALLOW_VPC])).status == Status.PASS


def test_instance_targets_cluster_policy_without_the_nodes_is_unknown():
    f = only(BLOCKS, _instance([b.default_deny("shop")], nodes=None))
    assert f.status == Status.UNKNOWN and "nodes' addresses were not read" in f.message
    f = only(BLOCKS, _instance([b.default_deny("shop")], nodes=[]))
    assert f.status == Status.UNKNOWN and "no node address" in f.message
    f = only(BLOCKS, _instance([b.default_deny("shop")], nodes=[*NODES, b.node("node-3", "not-an-ip")]))
    assert f.status == Status.UNKNOWN and "'not-an-ip' is not an IP address" in f.message
    # the nodes listing failed part-way: a verdict on them does not stand
    found = judged(BLOCKS, _nodes_not_read(_instance([b.default_deny("shop"), ONLY_NODES])))
    assert [f.status for f in found] == [Status.UNKNOWN, Status.UNKNOWN]
    assert "kubernetes.nodes" in found[0].message and "admit the load balancer's traffic" in found[0].message
    # no policy selects the pods: nothing rests on the nodes
    assert only(BLOCKS, _instance([], nodes=None)).status == Status.PASS


def test_instance_targets_local_policy_see_the_load_balancer_not_the_nodes():
    f = only(BLOCKS, _instance([b.default_deny("shop"), ONLY_NODES], local=True, nodes=None))
    assert f.status == Status.FAIL and "10.0.0.0/24" in f.message and "externalTrafficPolicy Local" in f.message
    assert "rests_on" not in f.evidence
    f = only(BLOCKS, _instance([b.default_deny("shop"), ONLY_LB_SUBNETS], local=True, nodes=None))
    assert f.status == Status.PASS
    # the nodes facet failing does not touch a verdict that does not rest on it
    inv = _nodes_not_read(_instance([b.default_deny("shop"), ONLY_LB_SUBNETS], local=True))
    assert [f.status for f in judged(BLOCKS, inv)] == [Status.PASS, Status.UNKNOWN]  # the PASS, and the gap's own
    inv = _instance([b.default_deny("shop"), ONLY_LB_SUBNETS], local=True, nodes=None)
    inv.kubernetes.network_policies = None
    assert only(BLOCKS, inv).status == Status.UNKNOWN


def test_instance_health_checks_on_node_ports():
    # kube-proxy's healthCheckNodePort (Local) is answered on the node: the pods' policies do not see it
    inv = _instance([b.default_deny("shop"), ONLY_LB_SUBNETS], local=True)
    inv.aws.target_groups[0].health_check_port = "32123"
    assert only(BLOCKS, inv).status == Status.PASS
    # another port of the Service: its nodePort leads to its targetPort, which the policy does not admit
    svc = inv.kubernetes.services[0]
    svc.ports.append(svc.ports[0].model_copy(update={"name": "admin", "port": 9090, "target_port": 9000}))
    svc.ports[1].node_port = 32123
    f = only(BLOCKS, inv)
    assert f.status == Status.FAIL and "9000/TCP" in f.message and "8080/TCP" not in f.message


def test_instance_targets_of_an_nlb_preserve_client_ips_by_default():
    inv = _instance([b.default_deny("shop"), ONLY_LB_SUBNETS], local=True)
    inv.aws.load_balancers[0].type = "network"
    f = only(BLOCKS, inv)
    assert f.status == Status.FAIL and "0.0.0.0/0" in f.message
    inv.kubernetes.services[0].annotations["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"] = (
        "preserve_client_ip.enabled=false"
    )
    assert only(BLOCKS, inv).status == Status.PASS


def test_policies_not_enforced_do_not_block():
    f = only(BLOCKS, _setup([b.default_deny("shop")], enforcing=False))
    assert f.status == Status.PASS and "not enforced" in f.message


def test_unknown_enforcement_subnets_or_malformed_policy_is_unknown():
    inv = _setup([b.default_deny("shop")])
    inv.kubernetes.network_daemon_sets = []  # no known pod network
    assert only(BLOCKS, inv).status == Status.UNKNOWN
    f = only(BLOCKS, _setup([b.default_deny("shop")], subnets=[]))
    assert f.status == Status.UNKNOWN and "subnet-a" in f.message
    bad = b.network_policy("shop", "bad", podSelector={"matchExpressions": [{"key": "a", "operator": "Near"}]})
    f = only(BLOCKS, _setup([bad]))
    assert f.status == Status.UNKNOWN and "NetworkPolicy shop/bad cannot be read" in f.message


def test_policies_not_read_make_the_verdict_unknown():
    inv = facet_failed(_setup([]), Facet.KUBE_NETWORK_POLICIES)
    inv.kubernetes.network_policies = None
    assert {f.status for f in judged(BLOCKS, inv)} == {Status.UNKNOWN}


def test_nlb_preserving_client_ips_must_admit_the_clients():
    svc_annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=true"
    }
    lb = b.load_balancer("k8s-shop-api", type="network", tags=b.service_tags("shop/api"))
    lb.subnet_ids = ["subnet-a"]
    tg = b.target_group("k8s-shop-api-tg", lb, port=8080, tags={"service.k8s.aws/resource": "shop/api:80"})
    svc = b.service("shop", "api", annotations=svc_annotations, lb=lb, source_ranges=("203.0.113.0/24",))
    svc.ports[0].target_port = 8080
    pod = b.pod("shop", "api-1", "10.0.8.9", labels={"app": "api"})
    subnet_only = b.network_policy(
        "shop", "subnets", podSelector={}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]
    )
    inv = b.inventory(
        lbs=[lb],
        target_groups=[tg],
        services=[svc],
        endpoint_slices=[b.pod_slice("shop", "api", pod)],
        pods=[pod],
        network_policies=[subnet_only],
        subnets=SUBNETS,
    )
    f = only(BLOCKS, inv)
    assert (
        f.status == Status.FAIL
        and "203.0.113.0/24" in f.message
        and "10.0.0.0/24" not in f.evidence["target_groups"][0]["sources"]
    )


@pytest.mark.parametrize("protocol", ["UDP", "TCP_UDP"])
def test_nlb_udp_ip_targets_always_preserve_client_ips(protocol):
    # for UDP and TCP_UDP groups preservation is on, ip targets too, and preserve_client_ip.enabled=false cannot
    # turn it off: admitting the subnets alone still drops the clients
    svc_annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-target-group-attributes": "preserve_client_ip.enabled=false"
    }
    lb = b.load_balancer("k8s-dns-udp", type="network", tags=b.service_tags("dns/udp"))
    lb.subnet_ids = ["subnet-a"]
    tg = b.target_group("k8s-dns-udp-tg", lb, port=53, tags={"service.k8s.aws/resource": "dns/udp:53"})
    tg.target_type, tg.protocol = "ip", protocol
    svc = b.service("dns", "udp", annotations=svc_annotations, lb=lb, ports=(53,), source_ranges=("198.51.100.0/24",))
    svc.ports[0].target_port = 53
    svc.ports[0].protocol = "UDP"
    pod = b.pod("dns", "udp-1", "10.0.8.9", labels={"app": "udp"})
    subnet_only = b.network_policy(
        "dns", "subnets", podSelector={}, ingress=[{"from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}]
    )
    inv = b.inventory(
        lbs=[lb],
        target_groups=[tg],
        services=[svc],
        endpoint_slices=[b.pod_slice("dns", "udp", pod)],
        pods=[pod],
        network_policies=[subnet_only],
        subnets=SUBNETS,
    )
    f = only(BLOCKS, inv)
    assert f.status == Status.FAIL and "198.51.100.0/24" in f.message


# --------------------------------------------------------------------------- lb-without-healthy-targets


def test_unhealthy_targets_name_the_policy_as_the_kubernetes_reason():
    f = only(HEALTHY, _setup([b.default_deny("shop")], state="unhealthy"))
    assert f.status == Status.FAIL and "NetworkPolicy shop/default-deny drops traffic" in f.message
    assert "ipBlock" in f.remediation and "kind: NetworkPolicy" in f.evidence["target_groups"][0]["network_policy_fix"]
    f = only(HEALTHY, _setup([b.default_deny("shop"), ALLOW_VPC], state="unhealthy"))
    assert "NetworkPolicy" not in f.message and "health check" in f.message


# --------------------------------------------------------------------------- public-backend-without-network-policy


def test_public_backend_in_a_namespace_without_ingress_policy():
    f = only(NO_POLICY, _setup([]))
    assert f.status == Status.FAIL and f.severity == Severity.LOW
    assert f.kubernetes == KubeRef(kind="Service", namespace="shop", name="web")
    assert "default-deny-ingress" in f.remediation
    egress_only = b.network_policy("shop", "egress", podSelector={}, policyTypes=["Egress"])
    assert only(NO_POLICY, _setup([egress_only])).status == Status.FAIL
    assert only(NO_POLICY, _setup([b.default_deny("shop")])).status == Status.PASS
    assert run(NO_POLICY, _setup([], scheme="internal")) == []


def test_public_backend_unknown_without_policies_or_with_a_malformed_one():
    inv = facet_failed(_setup([]), Facet.KUBE_NETWORK_POLICIES)
    inv.kubernetes.network_policies = None
    assert {f.status for f in judged(NO_POLICY, inv)} == {Status.UNKNOWN}
    bad = b.network_policy("shop", "bad", podSelector={}, policyTypes="Ingress")
    f = only(NO_POLICY, _setup([bad]))
    assert f.status == Status.UNKNOWN and "shop/bad" in f.message


# --------------------------------------------------------------------------- network-policy-not-enforced


def test_policies_without_enforcement_fail_with_the_addon_fix():
    f = only(NOT_ENFORCED, _setup([b.default_deny("shop")], enforcing=False))
    assert f.status == Status.FAIL and f.severity == Severity.MEDIUM
    assert "--enable-network-policy=false" in f.message and "enableNetworkPolicy" in f.remediation
    assert f.resource_name == "demo"


def test_enforced_or_no_policies_pass_and_unknown_pod_network_is_unknown():
    assert only(NOT_ENFORCED, _setup([b.default_deny("shop")])).status == Status.PASS
    assert only(NOT_ENFORCED, _setup([], enforcing=False)).status == Status.PASS
    inv = _setup([b.default_deny("shop")])
    inv.kubernetes.network_daemon_sets = []
    assert only(NOT_ENFORCED, inv).status == Status.UNKNOWN
    inv = facet_failed(_setup([b.default_deny("shop")]), Facet.KUBE_NETWORK_DAEMON_SETS)
    inv.kubernetes.network_daemon_sets = None
    assert {f.status for f in judged(NOT_ENFORCED, inv)} == {Status.UNKNOWN}


def test_a_udp_target_group_is_health_checked_over_tcp_on_the_traffic_port():
    lb = b.load_balancer("k8s-shop-dns", type="network", tags=b.service_tags("shop/dns"))
    lb.subnet_ids = ["subnet-a"]
    tg = b.target_group(
        "k8s-shop-dns-tg", lb, port=53, protocol="UDP", tags={"service.k8s.aws/resource": "shop/dns:53"}
    )
    svc = b.service("shop", "dns", ports=(53,), lb=lb)
    svc.ports[0].protocol = "UDP"
    pod = b.pod("shop", "dns-1", "10.0.8.7", labels={"app": "dns"})
    # UDP from anywhere: the subnets and the clients (a UDP group always preserves client IPs)
    udp_only = b.network_policy(
        "shop",
        "udp",
        podSelector={},
        ingress=[{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 53, "protocol": "UDP"}]}],
    )
    inv = b.inventory(
        lbs=[lb],
        target_groups=[tg],
        services=[svc],
        endpoint_slices=[b.pod_slice("shop", "dns", pod)],
        pods=[pod],
        network_policies=[udp_only],
        subnets=SUBNETS,
    )
    f = only(BLOCKS, inv)
    assert f.status == Status.FAIL and "53/TCP" in f.message and "53/UDP" not in f.message
