"""Collection of NetworkPolicy and what it applies to, against the Kubernetes emulator."""

from __future__ import annotations

from typing import Any

import pytest

from auditor.config import TargetConfig
from auditor.correlate.netpol import enforcement
from auditor.demo.kubeapi import KubeApiServer
from auditor.inventory.models import CoverageStatus
from tests.collect.test_kube import _collect, _settings, _slice, seed_cluster


@pytest.fixture
def target(kube: KubeApiServer) -> TargetConfig:
    return TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="test")


def _ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _pod(ns: str, name: str, ip: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": "app", "image": "app:1", "ports": [{"name": "http", "containerPort": 8080}]}],
        },
        "status": {"podIP": ip, "podIPs": [{"ip": ip}]},
    }


def _policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def _aws_node(flag: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "aws-node"}},
                "spec": {
                    "containers": [
                        {"name": "aws-node", "image": "amazon-k8s-cni:v1.19.0", "env": [{"name": "A", "value": "1"}]},
                        {
                            "name": "aws-eks-nodeagent",
                            "image": "amazon/aws-network-policy-agent:v1.2.0",
                            "args": [f"--enable-network-policy={flag}"],
                        },
                    ]
                },
            },
        },
    }


def _seed(kube: KubeApiServer) -> None:
    seed_cluster(kube)
    kube.seed(_ns("kube-system"))
    kube.seed(_ns("shop", team="shop"))
    kube.seed(_ns("blog"))
    kube.seed(_pod("shop", "web-lb-pod", "10.0.5.1", app="web-lb"))  # behind the LoadBalancer Service
    kube.seed(_pod("shop", "batch", "10.0.5.9", app="batch"))  # behind nothing exposed: not kept
    kube.seed(_pod("blog", "front-pod", "10.0.6.1", app="front"))  # a namespace with no exposed pods: not listed
    kube.seed(_policy("shop", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]}))
    kube.seed(_aws_node("false"))
    kube.seed(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "fluent-bit", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [{"name": "f", "image": "fluent-bit:3"}]},
                },
            },
        }
    )


def test_policies_namespaces_pods_and_the_pod_network_are_read(kube: KubeApiServer, target: TargetConfig) -> None:
    _seed(kube)
    kube.seed(_slice("shop", "web-lb", "10.0.5.1"))
    inv, cov = _collect(target, _settings(page_size=1))
    assert cov.status == CoverageStatus.OK, cov.message
    assert [(p.namespace, p.name) for p in inv.network_policies or []] == [("shop", "deny")]
    assert inv.network_policies[0].spec == {"podSelector": {}, "policyTypes": ["Ingress"]}  # type: ignore[index]
    assert {n.name: n.labels for n in inv.namespaces or []}["shop"] == {"team": "shop"}
    pods = inv.pods or []
    assert [(p.namespace, p.name, p.ips, p.labels) for p in pods] == [
        ("shop", "web-lb-pod", ["10.0.5.1"], {"app": "web-lb"})
    ]
    assert [(c.name, c.port, c.protocol) for c in pods[0].container_ports] == [("http", 8080, "TCP")]
    assert [d.name for d in inv.network_daemon_sets or []] == ["aws-node"]  # fluent-bit is not a pod network
    assert enforcement(inv).state == "not-enforced"
    # pods are listed only in the namespaces of exposed Services' endpoints, and every list is paged
    assert not kube.requests("GET", "/api/v1/namespaces/blog/pods")
    pod_lists = kube.requests("GET", "/api/v1/namespaces/shop/pods")
    assert len(pod_lists) >= 2 and all(r.query.get("limit") == "1" for r in pod_lists)
    assert not kube.requests("GET", "/api/v1/pods")


def test_forbidden_lists_leave_their_facets_unread(kube: KubeApiServer, target: TargetConfig) -> None:
    _seed(kube)
    kube.seed(_slice("shop", "web-lb", "10.0.5.1"))
    kube.fail("GET", "/apis/networking.k8s.io/v1/networkpolicies", 403)
    kube.fail("GET", "/api/v1/namespaces/shop/pods", 403)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert inv.network_policies is None
    assert cov.facet("kubernetes.network-policies").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.pods").status == CoverageStatus.PARTIAL and inv.pods == []
    assert inv.network_daemon_sets is not None and inv.namespaces is not None


def test_a_malformed_pod_is_left_out_and_its_facet_is_partial(kube: KubeApiServer, target: TargetConfig) -> None:
    _seed(kube)
    kube.seed(_slice("shop", "web-lb", "10.0.5.1"))
    bad = _pod("shop", "web-lb-pod-2", "10.0.5.2", app="web-lb")
    bad["metadata"]["labels"] = {"app": ["not", "a", "string"]}
    kube.seed(bad)
    inv, cov = _collect(target)
    assert cov.facet("kubernetes.pods").status == CoverageStatus.PARTIAL
    assert [p.name for p in inv.pods or []] == ["web-lb-pod"]


def _node(name: str, *addresses: tuple[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]},
    }


def test_nodes_are_read_with_their_internal_ips(kube: KubeApiServer, target: TargetConfig) -> None:
    _seed(kube)
    kube.seed(_node("node-1", ("InternalIP", "10.0.3.10"), ("ExternalIP", "54.1.2.3"), ("Hostname", "node-1")))
    kube.seed(_node("node-2", ("InternalIP", "10.0.4.11")))
    inv, cov = _collect(target, _settings(page_size=1))
    assert cov.status == CoverageStatus.OK, cov.message
    assert {n.name: n.internal_ips for n in inv.nodes or []} == {"node-1": ["10.0.3.10"], "node-2": ["10.0.4.11"]}
    node_lists = kube.requests("GET", "/api/v1/nodes")
    assert len(node_lists) >= 2 and all(r.query.get("limit") == "1" for r in node_lists)  # paged


def test_nodes_not_readable_leave_their_facet_unread(kube: KubeApiServer, target: TargetConfig) -> None:
    _seed(kube)
    kube.seed(_node("node-1", ("InternalIP", "10.0.3.10")))
    kube.fail("GET", "/api/v1/nodes", 403)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert inv.nodes is None and cov.facet("kubernetes.nodes").status == CoverageStatus.ERROR
    assert inv.network_policies is not None  # the other lists stand
