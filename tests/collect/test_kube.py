"""The Kubernetes collector against the API emulator, reached through a kubeconfig file like a user's cluster."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from kubernetes.client import Configuration
from kubernetes.client.exceptions import ApiException

from auditor.collect.kube import _Reader, collect_kube, image_tag, kube_client, parse_args
from auditor.config import KubeSettings, Settings, TargetConfig
from auditor.demo.kubeapi import KubeApiServer
from auditor.demo.seed_kube import gateway_api_crds
from auditor.errors import CollectionError, ConfigError, RunCancelled, TargetUnreachable
from auditor.inventory.models import CoverageStatus, KubeInventory
from auditor.progress import ProgressEvent

LBC_IMAGE = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon/aws-load-balancer-controller:v2.13.0"
IRSA = {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/lbc"}


def _crd(plural: str, kind: str, scope: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.elbv2.k8s.aws"},
        "spec": {
            "group": "elbv2.k8s.aws",
            "scope": scope,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [{"name": "v1beta1", "served": True, "storage": True, "subresources": {"status": {}}}],
        },
    }


def seed_lbc_crds(kube: KubeApiServer) -> None:
    kube.seed(_crd("ingressclassparams", "IngressClassParams", "Cluster"))
    kube.seed(_crd("targetgroupbindings", "TargetGroupBinding", "Namespaced"))


def _service(ns: str, name: str, type_: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": "2024-03-01T10:00:00Z"},
        "spec": {
            "type": type_,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            "selector": {"app": name},
            **spec,
        },
    }


def _slice(ns: str, service: str, ip: str) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-abcde", "namespace": ns, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": [ip],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "targetRef": {"kind": "Pod", "name": f"{service}-pod"},
                "nodeName": "node-1",
            }
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def _deployment(
    ns: str,
    name: str,
    image: str,
    *,
    labels: dict[str, str] | None = None,
    args: list[str] | None = None,
    sa: str | None = None,
) -> dict[str, Any]:
    pod: dict[str, Any] = {"containers": [{"name": "main", "image": image, "args": args or []}]}
    if sa:
        pod["serviceAccountName"] = sa
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": pod},
        },
        "status": {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1},
    }


GW = "gateway.networking.k8s.io"
GW_ADDRESS = "k8s-shop-web-0123.eu-west-1.elb.amazonaws.com"


# installed here: everything but UDPRoute and TLSRoute (absent, as on a cluster with only TCPRoute added)
GATEWAY_KINDS = (
    "GatewayClass",
    "Gateway",
    "HTTPRoute",
    "GRPCRoute",
    "ReferenceGrant",
    "TCPRoute",
    "LoadBalancerConfiguration",
    "TargetGroupConfiguration",
    "ListenerRuleConfiguration",
)


def seed_gateway_api(kube: KubeApiServer, *, objects: bool = True) -> None:
    """Gateway API CRDs (``GATEWAY_KINDS``) and, with ``objects``, one ALB Gateway with its routes."""
    for crd in gateway_api_crds(kinds=GATEWAY_KINDS):
        kube.seed(crd)
    if not objects:
        return
    kube.seed(
        {
            "apiVersion": f"{GW}/v1",
            "kind": "GatewayClass",
            "metadata": {"name": "alb"},
            "spec": {"controllerName": "gateway.k8s.aws/alb"},
            "status": {"conditions": [{"type": "Accepted", "status": "True"}]},
        }
    )
    kube.seed(
        {
            "apiVersion": f"{GW}/v1",
            "kind": "Gateway",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "gatewayClassName": "alb",
                "infrastructure": {
                    "parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": "pub"}
                },
                "listeners": [
                    {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}},
                    {
                        "name": "https",
                        "port": 443,
                        "protocol": "HTTPS",
                        "hostname": "shop.example.com",
                        "tls": {"mode": "Terminate", "certificateRefs": [{"name": "shop-cert"}]},
                    },
                    {"name": "broken", "port": "not-a-port", "protocol": "HTTP"},
                ],
            },
            "status": {
                "addresses": [{"type": "Hostname", "value": GW_ADDRESS}],
                "conditions": [{"type": "Programmed", "status": "True"}],
            },
        }
    )
    for name, version in (("store", "v1"), ("legacy", "v1beta1")):  # stored once, served at every version
        kube.seed(
            {
                "apiVersion": f"{GW}/{version}",
                "kind": "HTTPRoute",
                "metadata": {"name": name, "namespace": "shop"},
                "spec": {
                    "parentRefs": [{"name": "web", "sectionName": "http"}],
                    "hostnames": ["shop.example.com"],
                    "rules": [
                        {
                            "filters": [
                                {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
                            ]
                        },
                        {
                            "backendRefs": [
                                {"name": "api", "port": 80},
                                {"name": "cart", "namespace": "cart", "port": 8080},
                            ]
                        },
                    ],
                },
            }
        )
    kube.seed(
        {
            "apiVersion": f"{GW}/v1alpha2",
            "kind": "TCPRoute",
            "metadata": {"name": "pg", "namespace": "db"},
            "spec": {
                "parentRefs": [{"name": "tcp", "namespace": "db"}],
                "rules": [{"backendRefs": [{"name": "pg", "port": 5432}]}],
            },
        }
    )
    kube.seed(
        {
            "apiVersion": f"{GW}/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "from-shop", "namespace": "cart"},
            "spec": {
                "from": [{"group": GW, "kind": "HTTPRoute", "namespace": "shop"}],
                "to": [{"group": "", "kind": "Service"}],
            },
        }
    )
    kube.seed(
        {
            "apiVersion": "gateway.k8s.aws/v1beta1",
            "kind": "LoadBalancerConfiguration",
            "metadata": {"name": "pub", "namespace": "shop"},
            "spec": {"scheme": "internet-facing"},
        }
    )


def seed_cluster(
    kube: KubeApiServer, *, crds: bool = True, controller: bool = True, gateway_api: bool | None = None
) -> None:
    """A small cluster: an LB Service, an ALB Ingress with its backend, unrelated workloads, LBC + CRs, and (with
    ``gateway_api``, by default when ``crds``) the Gateway API with a Gateway and its routes."""
    if crds:
        seed_lbc_crds(kube)
    if crds if gateway_api is None else gateway_api:
        seed_gateway_api(kube)
    kube.seed(
        _service(
            "shop",
            "web-lb",
            "LoadBalancer",
            loadBalancerClass="service.k8s.aws/nlb",
            loadBalancerSourceRanges=["10.0.0.0/8"],
        )
        | {"status": {"loadBalancer": {"ingress": [{"hostname": "k8s-shop-weblb-1.elb.eu-west-1.amazonaws.com"}]}}}
    )
    kube.seed(_service("shop", "api"))
    kube.seed(_service("shop", "internal-only"))
    kube.seed(_service("blog", "front", "NodePort"))
    kube.seed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "alb", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {
                "controller": "ingress.k8s.aws/alb",
                "parameters": {"apiGroup": "elbv2.k8s.aws", "kind": "IngressClassParams", "name": "alb"},
            },
        }
    )
    kube.seed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "nginx"},
            "spec": {"controller": "k8s.io/ingress-nginx"},
        }
    )
    kube.seed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "shop",
                "namespace": "shop",
                "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"},
            },
            "spec": {
                "ingressClassName": "alb",
                "tls": [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}],
                "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "b"}},
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/api",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "api", "port": {"number": 80}}},
                                },
                                {
                                    "path": "/x",
                                    "pathType": "Exact",
                                    "backend": {"service": {"name": "api", "port": {"name": "http"}}},
                                },
                            ]
                        },
                    }
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"hostname": "k8s-shop-shop-1.eu-west-1.elb.amazonaws.com"}]}},
        }
    )
    for ns, svc, ip in (
        ("shop", "web-lb", "10.1.0.1"),
        ("shop", "api", "10.1.0.2"),
        ("shop", "internal-only", "10.1.0.3"),
        ("blog", "front", "10.1.0.4"),
    ):
        kube.seed(_slice(ns, svc, ip))
    kube.seed(_deployment("shop", "api", "nginx:1.25"))
    if controller:
        kube.seed(
            _deployment(
                "kube-system",
                "aws-load-balancer-controller",
                LBC_IMAGE,
                sa="aws-load-balancer-controller",
                args=[
                    "--cluster-name=prod",
                    "--ingress-class=alb",
                    "--load-balancer-class",
                    "service.k8s.aws/nlb",
                    "--enable-shield=false",
                ],
            )
        )
    kube.seed(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system", "annotations": IRSA},
        }
    )
    if crds:
        kube.seed(
            {
                "apiVersion": "elbv2.k8s.aws/v1beta1",
                "kind": "IngressClassParams",
                "metadata": {"name": "alb"},
                "spec": {
                    "scheme": "internet-facing",
                    "group": {"name": "shared"},
                    "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                },
            }
        )
        kube.seed(
            {
                "apiVersion": "elbv2.k8s.aws/v1beta1",
                "kind": "TargetGroupBinding",
                "metadata": {"name": "tgb", "namespace": "shop"},
                "spec": {
                    "targetGroupARN": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1",
                    "targetType": "ip",
                    "serviceRef": {"name": "internal-only", "port": 80},
                },
            }
        )


@pytest.fixture
def target(kube: KubeApiServer) -> TargetConfig:
    return TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="test")


def _settings(page_size: int = 500, request_timeout: float = 5) -> Settings:
    return Settings(kube=KubeSettings(page_size=page_size, request_timeout=request_timeout))


# A short request timeout, and a stall well past it: the tests of read timeouts stay fast.
TIMEOUT = 0.5
STALL = 1.5


def _collect(target: TargetConfig, settings: Settings | None = None) -> tuple[KubeInventory, Any]:
    inv, (cov,) = collect_kube(target, settings or _settings())
    assert inv is not None, cov.message
    return inv, cov


def test_collects_the_exposure_objects(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    events: list[ProgressEvent] = []
    inv, (cov,) = collect_kube(target, _settings(), progress=events.append)
    assert inv is not None
    assert cov.status == CoverageStatus.OK and cov.source == "kubernetes" and cov.collector == "kubernetes"
    assert cov.calls == len(kube.requests_log) and cov.calls > 0
    assert inv.context == "test" and inv.server == kube.url
    assert inv.server_version == "v1.31.4-emulator"

    services = {f"{s.namespace}/{s.name}": s for s in inv.services}
    assert set(services) == {"shop/web-lb", "shop/api", "shop/internal-only", "blog/front"}  # every type
    lb = services["shop/web-lb"]
    assert lb.type == "LoadBalancer" and lb.load_balancer_class == "service.k8s.aws/nlb"
    assert lb.load_balancer_source_ranges == ["10.0.0.0/8"]
    assert lb.status_ingress[0].hostname == "k8s-shop-weblb-1.elb.eu-west-1.amazonaws.com"
    assert lb.ports[0].port == 80 and lb.ports[0].target_port == "http" and lb.selector == {"app": "web-lb"}
    assert isinstance(lb.created_at, datetime) and lb.created_at.year == 2024 and lb.created_at.tzinfo is not None
    assert lb.uid

    (ing,) = inv.ingresses
    assert ing.ingress_class_name == "alb" and ing.annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    paths = ing.rules[0].paths
    assert (paths[0].path, paths[0].backend.service_name, paths[0].backend.service_port_number) == ("/api", "api", 80)
    assert paths[1].backend.service_port_name == "http"
    assert ing.tls[0].hosts == ["shop.example.com"] and ing.tls[0].secret_name == "shop-tls"
    assert ing.default_backend is not None and ing.default_backend.resource_kind == "StorageBucket"
    assert ing.status_ingress[0].hostname == "k8s-shop-shop-1.eu-west-1.elb.amazonaws.com"

    classes = {c.name: c for c in inv.ingress_classes}
    assert classes["alb"].is_default and not classes["nginx"].is_default
    assert classes["alb"].controller == "ingress.k8s.aws/alb"
    assert classes["alb"].parameters is not None and classes["alb"].parameters.kind == "IngressClassParams"

    assert inv.ingress_class_params is not None
    (params,) = inv.ingress_class_params
    assert params.name == "alb" and params.namespace is None and params.spec["group"] == {"name": "shared"}
    assert inv.target_group_bindings is not None
    (tgb,) = inv.target_group_bindings
    assert (tgb.namespace, tgb.service_name, tgb.service_port, tgb.target_type) == ("shop", "internal-only", 80, "ip")
    assert tgb.target_group_arn.endswith("targetgroup/t/1")
    assert inv.crds == ["ingressclassparams.elbv2.k8s.aws", "targetgroupbindings.elbv2.k8s.aws"]

    # kept: the LoadBalancer Service, the Ingress backend, the TargetGroupBinding's Service; not blog/front
    assert inv.endpoint_slices is not None
    kept = {(s.namespace, s.service_name) for s in inv.endpoint_slices}
    assert kept == {("shop", "web-lb"), ("shop", "api"), ("shop", "internal-only")}
    api_slice = next(s for s in inv.endpoint_slices if s.service_name == "api")
    assert api_slice.endpoints[0].addresses == ["10.1.0.2"] and api_slice.endpoints[0].ready is True
    assert api_slice.endpoints[0].target_ref_name == "api-pod" and api_slice.ports[0].port == 8080

    (ctrl,) = inv.controllers
    assert (ctrl.namespace, ctrl.name, ctrl.image, ctrl.version) == (
        "kube-system",
        "aws-load-balancer-controller",
        LBC_IMAGE,
        "v2.13.0",
    )
    assert (ctrl.replicas, ctrl.ready_replicas, ctrl.available_replicas) == (2, 1, 1)
    assert ctrl.service_account_name == "aws-load-balancer-controller"
    assert (ctrl.cluster_name_arg, ctrl.ingress_class_arg, ctrl.load_balancer_class_arg) == (
        "prod",
        "alb",
        "service.k8s.aws/nlb",
    )
    (sa,) = inv.service_accounts
    assert (sa.namespace, sa.name, sa.annotations) == ("kube-system", "aws-load-balancer-controller", IRSA)

    assert {e.stage for e in events} == {"kubernetes"}
    assert events[-1].status == "ok"
    # the snapshot round-trips
    assert KubeInventory.model_validate_json(inv.model_dump_json()) == inv


def test_each_discovery_document_is_read_once(kube: KubeApiServer, target: TargetConfig) -> None:
    """The controller's CRDs, its custom resources and the Gateway API ask for the same discovery documents
    (``/apis``, the group versions' resource lists): one GET each per collection."""
    seed_cluster(kube, crds=True)
    inv, cov = _collect(target, _settings())
    assert cov.status == CoverageStatus.OK and inv.target_group_bindings is not None and inv.crds
    discovery = [
        r.path for r in kube.requests("GET", "/apis") if r.path.count("/") <= 3 and not r.path.startswith("/apis/apps")
    ]
    assert "/apis" in discovery and f"/apis/elbv2.k8s.aws/{inv.api_versions['targetgroupbindings.elbv2.k8s.aws']}" in (
        discovery
    )
    assert len(discovery) == len(set(discovery)), sorted(discovery)


def test_every_list_is_paged(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, crds=True)
    kube.seed(_service("blog", "extra"))  # 5 services
    inv, cov = _collect(target, _settings(page_size=2))
    assert cov.status == CoverageStatus.OK
    assert len(inv.services) == 5
    service_lists = kube.requests("GET", "/api/v1/services")
    assert len(service_lists) == 3  # 2 + 2 + 1
    assert [("continue" in r.query) for r in service_lists] == [False, True, True]
    lists = [
        r
        for r in kube.requests_log
        if r.path.rsplit("/", 1)[-1]
        in {
            "services",
            "ingresses",
            "ingressclasses",
            "deployments",
            "endpointslices",
            "ingressclassparams",
            "targetgroupbindings",
        }
    ]
    assert lists and all(r.query.get("limit") == "2" for r in lists)
    assert len(kube.requests("GET", "/apis/discovery.k8s.io/v1/endpointslices")) == 2  # 4 slices


def test_a_list_whose_continue_token_expires_is_read_again_from_the_first_page(
    kube: KubeApiServer, target: TargetConfig, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A 410 Expired to a continued page: the pages read are dropped and the list starts over (client-go's pager), so
    the Services are the cluster's as it is when read again -- one that went away in between is not kept from the
    first pass, one that came is not lost, none is counted twice."""
    seed_cluster(kube)
    kube.seed(_service("blog", "extra"))  # 5 services; by namespace/name: blog/extra, blog/front on the first page
    kube.expire_continue("/api/v1/services", times=1)
    serve = kube.handle

    def churn_before_the_restart(method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Any:
        answer = serve(method, raw_path, headers, body)
        if answer[0] == 410:  # the cluster changed meanwhile, as it does when a token outlives compaction
            kube.seed(_service("default", "late"))
            auth = {"authorization": f"Bearer {kube.token}"}
            assert serve("DELETE", "/api/v1/namespaces/blog/services/extra", auth, b"")[0] == 200
        return answer

    monkeypatch.setattr(kube, "handle", churn_before_the_restart)
    with caplog.at_level(logging.WARNING, logger="auditor.collect.kube"):
        inv, cov = _collect(target, _settings(page_size=2))
    assert cov.status == CoverageStatus.OK
    assert sorted(f"{s.namespace}/{s.name}" for s in inv.services) == [
        "blog/front",
        "default/late",
        "shop/api",
        "shop/internal-only",
        "shop/web-lb",
    ]
    service_lists = kube.requests("GET", "/api/v1/services")
    assert [("continue" in r.query) for r in service_lists] == [False, True, False, True, True]
    (warning,) = [r.getMessage() for r in caplog.records if "/api/v1/services" in r.getMessage()]
    assert "expired while paging, after 2 object(s)" in warning and "(1 of 2)" in warning


def test_a_list_that_expires_on_every_restart_is_an_error_not_a_partial_list(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    seed_cluster(kube)
    kube.expire_continue("/api/v1/services")  # every continued page
    inv, cov = _collect(target, _settings(page_size=2))
    assert cov.status == CoverageStatus.PARTIAL
    services = cov.facet("kubernetes.services")
    assert services.status == CoverageStatus.ERROR and services.error_code == "410"
    assert "the list expired while paging" in (services.message or "")
    assert "read again from the first page 2 time(s)" in (services.message or "")
    assert inv.services == []  # the pages read before each 410 are not used
    service_lists = kube.requests("GET", "/api/v1/services")
    assert [("continue" in r.query) for r in service_lists] == [False, True] * 3  # the first pass and 2 restarts
    assert inv.controllers  # the rest is read


def test_a_410_to_the_first_page_is_an_error_not_a_restart(kube: KubeApiServer, target: TargetConfig) -> None:
    """Only a continue token expires; a 410 to a list without one is the server's answer, not a reason to ask again."""
    seed_cluster(kube)
    kube.fail("GET", "/api/v1/services", 410, times=1, message="The resourceVersion for the provided list is too old.")
    inv, cov = _collect(target, _settings(page_size=2))
    services = cov.facet("kubernetes.services")
    assert services.status == CoverageStatus.ERROR and services.error_code == "410"
    assert "too old" in (services.message or "") and "expired while paging" not in (services.message or "")
    assert inv.services == []
    assert len(kube.requests("GET", "/api/v1/services")) == 1


def test_gateway_api_is_read_at_the_preferred_version_of_each_resource(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    seed_cluster(kube)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    # the group's preferred version where it serves the resource, else the first version (in the server's
    # order) that does: ReferenceGrant only at v1beta1, TCPRoute only at v1alpha2 (experimental channel)
    assert inv.api_versions == {
        "ingressclassparams.elbv2.k8s.aws": "v1beta1",
        "targetgroupbindings.elbv2.k8s.aws": "v1beta1",
        "gatewayclasses.gateway.networking.k8s.io": "v1",
        "gateways.gateway.networking.k8s.io": "v1",
        "httproutes.gateway.networking.k8s.io": "v1",
        "grpcroutes.gateway.networking.k8s.io": "v1",
        "tcproutes.gateway.networking.k8s.io": "v1alpha2",
        "referencegrants.gateway.networking.k8s.io": "v1beta1",
        "loadbalancerconfigurations.gateway.k8s.aws": "v1beta1",
        "targetgroupconfigurations.gateway.k8s.aws": "v1beta1",
        "listenerruleconfigurations.gateway.k8s.aws": "v1beta1",
    }
    assert kube.requests("GET", f"/apis/{GW}/v1/gateways") and not kube.requests("GET", f"/apis/{GW}/v1beta1/gateways")
    # not installed (no CRD): absent, empty, and no list request
    for facet in ("kubernetes.udp-routes", "kubernetes.tls-routes"):
        assert cov.facet(facet).status == CoverageStatus.ABSENT
    assert not kube.requests("GET", f"/apis/{GW}/v1alpha2/udproutes")
    assert cov.facet("kubernetes.gateways").status == CoverageStatus.OK

    assert inv.gateway_classes is not None and inv.gateways is not None and inv.routes is not None
    (cls,) = inv.gateway_classes
    assert (cls.name, cls.controller_name, cls.accepted) == ("alb", "gateway.k8s.aws/alb", True)
    (gw,) = inv.gateways
    assert (gw.namespace, gw.name, gw.gateway_class_name, gw.addresses, gw.programmed) == (
        "shop",
        "web",
        "alb",
        [GW_ADDRESS],
        True,
    )
    assert [(li.name, li.port, li.protocol, li.allowed_namespaces) for li in gw.listeners] == [
        ("http", 80, "HTTP", "All"),
        ("https", 443, "HTTPS", None),
    ]  # the listener with a malformed port is left out, not the Gateway
    assert gw.listeners[1].certificate_refs == ["shop-cert"] and gw.listeners[1].tls_mode == "Terminate"
    assert gw.parameters is not None and gw.parameters.name == "pub"
    routes = {(r.kind, r.name): r for r in inv.routes}
    assert set(routes) == {("HTTPRoute", "store"), ("HTTPRoute", "legacy"), ("TCPRoute", "pg")}
    store = routes[("HTTPRoute", "store")]
    assert store.parent_refs[0].name == "web" and store.parent_refs[0].section_name == "http"
    assert store.rules[0].redirect is not None and store.rules[0].redirect.scheme == "https"
    assert [(b.namespace, b.name, b.port) for b in store.rules[1].backend_refs] == [
        (None, "api", 80),
        ("cart", "cart", 8080),
    ]
    assert inv.reference_grants is not None and inv.reference_grants[0].from_[0].namespace == "shop"
    assert inv.gateway_configurations is not None
    assert [(c.kind, c.name, c.spec) for c in inv.gateway_configurations] == [
        ("LoadBalancerConfiguration", "pub", {"scheme": "internet-facing"})
    ]
    # route backends count as exposed: their EndpointSlices are kept
    assert inv.endpoint_slices is not None and ("shop", "api") in {
        (s.namespace, s.service_name) for s in inv.endpoint_slices
    }
    assert KubeInventory.model_validate_json(inv.model_dump_json()) == inv


def test_gateway_api_not_installed_is_absent_not_an_error(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, gateway_api=False)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    assert (inv.gateway_classes, inv.gateways, inv.routes, inv.reference_grants, inv.gateway_configurations) == (
        [],
        [],
        [],
        [],
        [],
    )
    absent = {f for f, state in cov.facets.items() if state.status == CoverageStatus.ABSENT}
    assert "kubernetes.gateways" in absent and "kubernetes.load-balancer-configurations" in absent
    assert (
        cov.facet("kubernetes.gateways").message
        == "gateways.gateway.networking.k8s.io is not installed (no CRD serves it)"
    )
    assert not [r for r in kube.requests_log if r.path.startswith(f"/apis/{GW}")]  # nothing asked of an absent group


def test_installed_gateway_api_without_objects_is_read_empty(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, gateway_api=False)
    seed_gateway_api(kube, objects=False)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK and cov.facets.get("kubernetes.gateways") is None  # read: ok
    assert inv.gateways == [] and inv.routes == [] and inv.gateway_classes == []
    assert kube.requests("GET", f"/apis/{GW}/v1/gateways")


def test_gateway_lists_are_paged(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    inv, cov = _collect(target, _settings(page_size=1))
    assert cov.status == CoverageStatus.OK and inv.routes is not None and len(inv.routes) == 3
    route_lists = kube.requests("GET", f"/apis/{GW}/v1/httproutes")
    assert [("continue" in r.query) for r in route_lists] == [False, True]
    assert all(r.query.get("limit") == "1" for r in route_lists)


def test_forbidden_gateways_are_none_and_the_rest_is_read(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", f"/apis/{GW}/v1/gateways", 403)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL and "gateways" in (cov.message or "")
    assert inv.gateways is None
    assert cov.facet("kubernetes.gateways").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.gateways").error_code == "403"
    assert inv.gateway_classes is not None and inv.routes is not None and len(inv.routes) == 3
    assert cov.facet("kubernetes.udp-routes").status == CoverageStatus.ABSENT


def test_failed_api_discovery_leaves_every_gateway_facet_unread(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/apis$", 500)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert inv.gateways is None and inv.gateway_classes is None and inv.routes is None
    assert cov.facet("kubernetes.gateways").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.tcp-routes").error_code == "500"
    assert inv.ingresses  # the rest is read


def test_absent_crds_are_none(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, crds=False)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    assert inv.ingress_class_params is None
    assert inv.target_group_bindings is None
    assert inv.crds == []
    assert inv.ingresses and inv.controllers  # the rest is collected


def test_forbidden_ingresses_make_coverage_partial(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/apis/networking.k8s.io/v1/ingresses", 403)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert cov.error_code == "403"
    assert cov.message is not None and "ingresses" in cov.message
    assert inv.ingresses == []
    assert inv.endpoint_slices is None  # cannot tell which slices back an Ingress
    assert len(inv.services) == 4 and inv.controllers  # everything else still there
    # per facet: the Ingresses were not listed at all, the slices not read because of it, the rest complete
    assert cov.facet("kubernetes.ingresses").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.ingresses").error_code == "403"
    assert cov.facet("kubernetes.endpoint-slices").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.services").status == CoverageStatus.OK
    assert cov.facet("kubernetes.deployments").status == CoverageStatus.OK


def test_forbidden_custom_resources_are_none(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/apis/elbv2.k8s.aws/v1beta1/targetgroupbindings", 403)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL and "targetgroupbindings" in (cov.message or "")
    assert inv.target_group_bindings is None
    assert inv.ingress_class_params is not None
    assert cov.facet("kubernetes.target-group-bindings").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.ingress-class-params").status == CoverageStatus.OK


def test_server_error_on_deployments_is_partial(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/apis/apps/v1/deployments", 500)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL and cov.error_code == "500"
    assert "deployments" in (cov.message or "")
    assert inv.controllers == []
    # without a controller to follow, the default service account is still read
    assert [(s.namespace, s.name) for s in inv.service_accounts] == [("kube-system", "aws-load-balancer-controller")]
    assert cov.facet("kubernetes.deployments").error_code == "500"
    assert cov.facet("kubernetes.service-accounts").status == CoverageStatus.OK


def test_controller_found_by_label_anywhere(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, controller=False)
    kube.seed(
        _deployment(
            "platform",
            "alb-ctrl",
            "registry.internal:5000/mirror/lbc:v2.8.1@sha256:abc",
            labels={"app.kubernetes.io/name": "aws-load-balancer-controller"},
            args=["--cluster-name", "staging", "--ingress-class=alb-internal"],
            sa="lbc-sa",
        )
    )
    kube.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "lbc-sa", "namespace": "platform"}})
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    (ctrl,) = inv.controllers
    assert (ctrl.namespace, ctrl.version, ctrl.cluster_name_arg, ctrl.ingress_class_arg) == (
        "platform",
        "v2.8.1",
        "staging",
        "alb-internal",
    )
    assert [(s.namespace, s.name) for s in inv.service_accounts] == [("platform", "lbc-sa")]
    assert not kube.requests("GET", "/api/v1/namespaces/kube-system/serviceaccounts")


def test_no_controller_reads_the_default_service_account(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube, controller=False)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    assert inv.controllers == []
    assert [s.name for s in inv.service_accounts] == ["aws-load-balancer-controller"]
    assert len(kube.requests("GET", "/api/v1/namespaces/kube-system/serviceaccounts/aws-load-balancer-controller")) == 1


def test_missing_service_account_is_not_a_failure(kube: KubeApiServer, target: TargetConfig) -> None:
    kube.seed(_deployment("kube-system", "aws-load-balancer-controller", LBC_IMAGE, sa="gone"))
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    assert inv.service_accounts == [] and inv.controllers[0].service_account_name == "gone"


def test_stopped_server_is_an_error_with_a_clear_message(kube: KubeApiServer, target: TargetConfig) -> None:
    url = kube.url
    kube.stop()
    inv, (cov,) = collect_kube(target, _settings())
    assert inv is None
    assert cov.status == CoverageStatus.ERROR and cov.error_code == "Unreachable"
    assert cov.message == f"cannot reach the Kubernetes API server at {url}: connection refused"


def test_connection_dropped_mid_collection_is_an_error(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    api = kube_client(target, _settings())
    from kubernetes import client

    assert client.VersionApi(api).get_code().git_version  # a pooled keep-alive connection
    kube.stop()
    inv, (cov,) = collect_kube(target, _settings(), api_client=api)
    assert inv is None and cov.status == CoverageStatus.ERROR
    assert (cov.message or "").startswith("cannot reach the Kubernetes API server")


def test_a_request_not_answered_in_time_is_asked_once_more_and_logged(
    kube: KubeApiServer, target: TargetConfig, caplog: pytest.LogCaptureFixture
) -> None:
    """A read timeout -- the server took the request and did not answer within request_timeout -- may be a passing
    stall: the request is asked again, once, logged and counted, and the list is then read in full."""
    seed_cluster(kube)
    kube.stall("GET", "/apis/discovery.k8s.io/v1/endpointslices", STALL, times=1)
    with caplog.at_level(logging.WARNING, logger="auditor.collect.kube"):
        inv, cov = _collect(target, _settings(request_timeout=TIMEOUT))
    assert cov.status == CoverageStatus.OK and cov.facet("kubernetes.endpoint-slices").status == CoverageStatus.OK
    assert inv.endpoint_slices is not None
    assert {s.service_name for s in inv.endpoint_slices} == {"web-lb", "api", "internal-only"}
    assert inv.pods is not None  # read after the slices that name them
    assert len(kube.requests("GET", "/apis/discovery.k8s.io/v1/endpointslices")) == 2
    assert cov.calls == len(kube.requests_log)  # the second ask is a call too
    (warning,) = [r.getMessage() for r in caplog.records if "endpointslices" in r.getMessage()]
    assert "GET /apis/discovery.k8s.io/v1/endpointslices: no answer within 0.5 s; asking again (1 of 1)" in warning


def test_a_request_that_times_out_again_costs_its_facet_not_the_cluster(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    """A list that is never answered in time is that facet's error (code Timeout), as a 5xx would be; the cluster's
    other objects, read before and after it, are kept and the audit is partial, not complete."""
    seed_cluster(kube, crds=True)
    kube.stall("GET", "/apis/networking.k8s.io/v1/ingressclasses", STALL)  # every time
    inv, cov = _collect(target, _settings(request_timeout=TIMEOUT))
    assert cov.status == CoverageStatus.PARTIAL and cov.error_code == "Timeout"
    classes = cov.facet("kubernetes.ingress-classes")
    assert classes.status == CoverageStatus.ERROR and classes.error_code == "Timeout"
    assert classes.message == (
        "ingressclasses: GET /apis/networking.k8s.io/v1/ingressclasses: no answer within 0.5 s, asked 2 times"
    )
    assert inv.ingress_classes == []
    assert len(kube.requests("GET", "/apis/networking.k8s.io/v1/ingressclasses")) == 2
    others = {name: f.status for name, f in cov.facets.items() if name != "kubernetes.ingress-classes"}
    assert others and set(others.values()) <= {CoverageStatus.OK, CoverageStatus.ABSENT}
    assert len(inv.services) == 4 and len(inv.ingresses) == 1  # read before it
    assert inv.controllers and inv.endpoint_slices and inv.pods is not None  # and after it
    assert inv.target_group_bindings and inv.service_accounts
    assert cov.calls == len(kube.requests_log)


def test_a_server_that_answers_no_request_in_time_is_unreachable(kube: KubeApiServer, target: TargetConfig) -> None:
    """Every request times out, the first one included: nothing of the cluster can be read, so the collection fails
    closed as a whole (Unreachable), after the first request and its one retry -- not one timeout per facet."""
    seed_cluster(kube)
    kube.stall("GET", "/", STALL)  # every request
    inv, (cov,) = collect_kube(target, _settings(request_timeout=TIMEOUT))
    assert inv is None
    assert cov.status == CoverageStatus.ERROR and cov.error_code == "Unreachable"
    assert cov.message == (
        f"cannot reach the Kubernetes API server at {kube.url}: GET /version: no answer within 0.5 s, asked 2 times, "
        "and it has answered no request"
    )
    assert [r.path for r in kube.requests_log] == ["/version", "/version"]


def test_a_server_that_stops_answering_is_unreachable_after_a_few_requests(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    """It answered /version, then nothing: three requests in a row unanswered (each asked twice) and the cluster is
    lost as a whole, not after two timeouts for every remaining request."""
    seed_cluster(kube)
    kube.stall("GET", "/api", STALL)  # /api/v1/... and /apis/...: everything after /version
    inv, (cov,) = collect_kube(target, _settings(request_timeout=TIMEOUT))
    assert inv is None
    assert cov.status == CoverageStatus.ERROR and cov.error_code == "Unreachable"
    assert f"the Kubernetes API server at {kube.url} stopped answering" in (cov.message or "")
    assert "the 3 last requests unanswered" in (cov.message or "")
    stalled = [r for r in kube.requests_log if r.path.startswith("/api")]
    assert len(stalled) == 3 * 2


class _FailingApi:
    """An ApiClient whose every request fails with the urllib3 errors given, in turn."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.configuration = Configuration(host="https://api.example:6443")

    def param_serialize(self, method: str, path: str, **_: Any) -> tuple[str, str, dict[str, str], None, None]:
        return method, f"{self.configuration.host}{path}", {}, None, None

    def call_api(self, *_: Any, **__: Any) -> Any:
        raise self.errors.pop(0)


def _read_timeout() -> urllib3.exceptions.ReadTimeoutError:
    return urllib3.exceptions.ReadTimeoutError(None, "/api/v1/pods", "Read timed out. (read timeout=0.5)")  # type: ignore[arg-type]


def _gave_up(reason: Exception) -> urllib3.exceptions.MaxRetryError:
    return urllib3.exceptions.MaxRetryError(None, "/api/v1/pods", reason)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "error",
    [
        urllib3.exceptions.ConnectTimeoutError("Connection to api.example timed out. (connect timeout=0.5)"),
        _gave_up(urllib3.exceptions.ConnectTimeoutError("Connection to api.example timed out")),
        _gave_up(urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection")),  # type: ignore[arg-type]
        _gave_up(urllib3.exceptions.SSLError("certificate verify failed")),
        ApiException(status=0, reason="SSLError\ncertificate verify failed"),  # how the client raises some
    ],
    ids=["connect-timeout", "connect-timeout-retried-out", "no-connection", "tls", "tls-api-exception"],
)
def test_a_connection_that_cannot_be_opened_is_unreachable_at_once(error: Exception) -> None:
    """ConnectTimeoutError is a urllib3 TimeoutError too, but nothing was asked: the server is unreachable, not slow,
    and is not asked again."""
    reader = _Reader(_FailingApi(error, error), page_size=500, timeout=TIMEOUT)  # type: ignore[arg-type]
    reader.answered = True  # even mid-collection
    with pytest.raises(TargetUnreachable) as err:
        reader.get("/api/v1/pods")
    assert str(err.value).startswith("cannot reach the Kubernetes API server at https://api.example:6443: ")
    assert reader.calls == 1


@pytest.mark.parametrize("error", [_read_timeout(), _gave_up(_read_timeout())], ids=["as-is", "retried-out"])
def test_a_read_timeout_is_asked_once_more_then_a_timeout_of_that_request(error: Exception) -> None:
    """A ReadTimeoutError as urllib3 raises it -- alone (reading the body, or with the collector's retries) or as the
    reason of a MaxRetryError (a client with urllib3's default retries) -- is asked again once, then is that
    request's CollectionError."""
    reader = _Reader(_FailingApi(error, error), page_size=500, timeout=TIMEOUT)  # type: ignore[arg-type]
    reader.answered = True
    with pytest.raises(CollectionError) as err:
        reader.get("/api/v1/pods")
    assert not isinstance(err.value, TargetUnreachable)
    assert err.value.code == "Timeout" and str(err.value) == "GET /api/v1/pods: no answer within 0.5 s, asked 2 times"
    assert reader.calls == 2


def test_a_cancelled_collection_sends_no_further_request_and_ends(kube: KubeApiServer, target: TargetConfig) -> None:
    """Cancelled (the service's run lost its lease) after three requests: the fourth is not sent, and the collection
    ends with RunCancelled -- not a facet's error, not an inventory of what was read so far."""
    seed_cluster(kube)
    with pytest.raises(RunCancelled):
        collect_kube(target, _settings(), cancelled=lambda: len(kube.requests_log) >= 3)
    assert len(kube.requests_log) == 3


def test_a_request_of_a_cancelled_collection_is_not_asked_again() -> None:
    """A read timeout would be asked again; cancelled meanwhile, it is not."""
    reader = _Reader(_FailingApi(_read_timeout(), _read_timeout()), page_size=500, timeout=TIMEOUT)  # type: ignore[arg-type]
    reader.answered = True
    reader.cancelled = lambda: reader.calls >= 1
    with pytest.raises(RunCancelled):
        reader.get("/api/v1/pods")
    assert reader.calls == 1


def test_rejected_credentials(kube: KubeApiServer, target: TargetConfig) -> None:
    kube.token = "rotated"
    inv, (cov,) = collect_kube(target, _settings())
    assert inv is None
    assert cov.status == CoverageStatus.ERROR and cov.error_code == "401"
    assert "rejected the credentials" in (cov.message or "")


def test_missing_kubeconfig(tmp_path: Path) -> None:
    target = TargetConfig(name="prod", kubeconfig=tmp_path / "nope.yaml", context="x")
    with pytest.raises(ConfigError, match=r"kubeconfig file .*nope.yaml does not exist"):
        kube_client(target, _settings())
    inv, (cov,) = collect_kube(target, _settings())
    assert inv is None and cov.status == CoverageStatus.ERROR and cov.error_code == "ConfigError"
    assert "does not exist" in (cov.message or "")


def test_unknown_context(kube: KubeApiServer) -> None:
    target = TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="staging")
    with pytest.raises(ConfigError) as err:
        kube_client(target, _settings())
    assert str(err.value) == f"target 'prod': context 'staging' is not in {kube.kubeconfig} (contexts: test)"
    assert "\n" not in str(err.value)


def test_current_context_is_used_when_none_given(kube: KubeApiServer) -> None:
    seed_cluster(kube)
    inv, cov = _collect(TargetConfig(name="prod", kubeconfig=kube.kubeconfig))
    assert inv.context == "test" and cov.status == CoverageStatus.OK


def test_in_cluster_outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    target = TargetConfig(name="prod", in_cluster=True)
    with pytest.raises(ConfigError, match="not running in a pod"):
        kube_client(target, _settings())
    inv, (cov,) = collect_kube(target, _settings())
    assert inv is None and cov.status == CoverageStatus.ERROR
    assert "in-cluster" in (cov.message or "") and "\n" not in (cov.message or "")


def test_in_cluster_without_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.100.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    target = TargetConfig(name="prod", in_cluster=True)
    with pytest.raises(ConfigError, match="token file does not exist"):
        kube_client(target, _settings())


def test_image_tag_and_args() -> None:
    assert image_tag("public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0") == "v2.13.0"
    assert image_tag("registry:5000/x/aws-load-balancer-controller") is None
    assert image_tag("x/aws-load-balancer-controller:v2.7.1@sha256:00") == "v2.7.1"
    assert parse_args(["--a=1", "--b", "2", "--flag", "--c=x=y"]) == {"a": "1", "b": "2", "c": "x=y"}


def test_a_malformed_gateway_is_left_out_and_its_facet_is_partial(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.seed(
        {
            "apiVersion": f"{GW}/v1",
            "kind": "Gateway",
            "metadata": {"name": "broken", "namespace": "shop", "labels": ["not", "a", "map"]},
            "spec": {"gatewayClassName": "alb", "listeners": []},
        }
    )
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert inv.gateways is not None and [g.name for g in inv.gateways] == ["web"]
    state = cov.facet("kubernetes.gateways")
    assert state.status == CoverageStatus.PARTIAL and state.error_code == "Malformed"
    assert "Gateway shop/broken is malformed" in (state.message or "")


@pytest.mark.parametrize(
    ("api_version", "kind", "facet", "kept"),
    [
        ("v1", "Service", "kubernetes.services", lambda inv: inv.services),
        ("networking.k8s.io/v1", "Ingress", "kubernetes.ingresses", lambda inv: inv.ingresses),
        ("networking.k8s.io/v1", "IngressClass", "kubernetes.ingress-classes", lambda inv: inv.ingress_classes),
        ("elbv2.k8s.aws/v1beta1", "TargetGroupBinding", "kubernetes.target-group-bindings", None),
        ("apps/v1", "Deployment", "kubernetes.deployments", None),
        ("discovery.k8s.io/v1", "EndpointSlice", "kubernetes.endpoint-slices", None),
    ],
)
def test_one_malformed_object_is_left_out_and_its_facet_is_partial_not_the_audit_lost(
    kube: KubeApiServer, target: TargetConfig, api_version: str, kind: str, facet: str, kept: Any
) -> None:
    """A field of another shape (here labels as a list, from a snapshot or an odd server) costs that object only:
    the rest of its kind is read, the facet says which one, and the collection is partial (never a traceback)."""
    seed_cluster(kube)
    before, _ = _collect(target)
    kube.seed(
        {"apiVersion": api_version, "kind": kind, "metadata": {"name": "broken", "namespace": "shop", "labels": ["x"]}}
    )
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    state = cov.facet(facet)
    assert state.status == CoverageStatus.PARTIAL and state.error_code == "Malformed"
    name = "broken" if kind == "IngressClass" else "shop/broken"  # cluster-scoped: the server drops the namespace
    assert f"{kind} {name} is malformed" in (state.message or "")
    assert (cov.message or "").count(f"{kind} {name}") == 1  # reported once, whichever parsers read the kind
    if kept is not None:
        assert [o.name for o in kept(inv)] == [o.name for o in kept(before)]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"},  # no items: not "no Services"
        {"kind": "ServiceList", "apiVersion": "v1", "metadata": {}, "items": 5},
        {"kind": "ServiceList", "apiVersion": "v1", "metadata": "x", "items": []},
        {"kind": "ServiceList", "apiVersion": "v1", "metadata": {"continue": 7}, "items": []},
    ],
)
def test_a_list_answered_with_another_kind_of_body_is_an_error_not_an_empty_list(
    kube: KubeApiServer, target: TargetConfig, body: dict[str, Any]
) -> None:
    """What a proxy or an aggregated API in the path may send instead of a ServiceList: the Services are not read
    (the facet is an error, the audit partial), neither taken as none nor a traceback."""
    seed_cluster(kube)
    kube.answer("GET", "/api/v1/services", body, times=1)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    state = cov.facet("kubernetes.services")
    assert state.status == CoverageStatus.ERROR and state.error_code == "Malformed"
    assert "GET /api/v1/services: the server answered with" in (state.message or "")
    assert inv.ingresses and inv.controllers  # the rest is read


@pytest.mark.parametrize(
    ("path", "body", "facet"),
    [
        ("/apis$", {"kind": "Status", "status": "Success"}, "kubernetes.gateways"),
        ("/apis$", {"kind": "APIGroupList", "groups": "none"}, "kubernetes.http-routes"),
        (f"/apis/{GW}/v1", {"kind": "Status", "status": "Success"}, "kubernetes.gateway-classes"),
        ("/apis/elbv2.k8s.aws/v1beta1$", {"kind": "Status", "status": "Success"}, "kubernetes.crds"),
        ("/apis/elbv2.k8s.aws$", {"kind": "APIGroup", "versions": ["v1beta1"]}, None),
    ],
)
def test_discovery_answered_with_another_kind_of_body_is_not_an_absent_api(
    kube: KubeApiServer, target: TargetConfig, path: str, body: dict[str, Any], facet: str | None
) -> None:
    """A discovery document of another kind or shape says nothing about what is installed: the facets resting on
    it are errors, never ABSENT (complete and empty), and nothing raises."""
    seed_cluster(kube)
    kube.answer("GET", path, body)
    inv, cov = _collect(target)
    assert inv.ingresses and inv.controllers
    if facet is None:  # versions named without their documents: nothing to read there, and no traceback
        assert cov.facet("kubernetes.crds").status in (CoverageStatus.OK, CoverageStatus.ABSENT)
        return
    assert cov.status == CoverageStatus.PARTIAL
    assert cov.facet(facet).status == CoverageStatus.ERROR and cov.facet(facet).error_code == "Malformed"


def test_a_service_account_answered_with_another_kind_is_not_read_as_one(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    seed_cluster(kube)
    kube.answer("GET", "/api/v1/namespaces/kube-system/serviceaccounts/", {"kind": "Status", "status": "Success"})
    inv, cov = _collect(target)
    assert inv.service_accounts == []
    assert cov.facet("kubernetes.service-accounts").status == CoverageStatus.PARTIAL
    assert cov.facet("kubernetes.service-accounts").error_code == "Malformed"


@pytest.mark.parametrize(
    ("versions", "read_at"),
    [
        (["v1alpha1"], "v1alpha1"),  # a controller before v2.2 installed TargetGroupBinding at v1alpha1 only
        (["v1alpha1", "v1beta1"], "v1beta1"),  # both served: the one the server prefers
        (["v1beta1", "v1"], "v1"),  # a newer version than the collector was written for
    ],
)
def test_target_group_bindings_are_read_at_a_version_the_server_serves(
    kube: KubeApiServer, target: TargetConfig, versions: list[str], read_at: str
) -> None:
    seed_cluster(kube, crds=False)
    crd = _crd("targetgroupbindings", "TargetGroupBinding", "Namespaced")
    crd["spec"]["versions"] = [{"name": v, "served": True, "storage": v == versions[-1]} for v in versions]
    kube.seed(crd)
    kube.seed(
        {
            "apiVersion": f"elbv2.k8s.aws/{versions[0]}",
            "kind": "TargetGroupBinding",
            "metadata": {"name": "tgb", "namespace": "shop"},
            "spec": {
                "targetGroupARN": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1",
                "serviceRef": {"name": "internal-only", "port": 80},
            },
        }
    )
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK
    assert inv.target_group_bindings is not None and [t.name for t in inv.target_group_bindings] == ["tgb"]
    assert inv.api_versions["targetgroupbindings.elbv2.k8s.aws"] == read_at
    assert kube.requests("GET", f"/apis/elbv2.k8s.aws/{read_at}/targetgroupbindings")
    # not installed at all: absent (complete and empty), said so
    assert inv.ingress_class_params is None
    assert cov.facet("kubernetes.ingress-class-params").status == CoverageStatus.ABSENT


def test_a_crd_removed_between_discovery_and_the_list_is_absent(kube: KubeApiServer, target: TargetConfig) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/apis/elbv2.k8s.aws/v1beta1/targetgroupbindings", 404)
    inv, cov = _collect(target)
    assert inv.target_group_bindings is None and inv.ingress_class_params is not None
    state = cov.facet("kubernetes.target-group-bindings")
    assert state.status == CoverageStatus.ABSENT and "HTTP 404" in (state.message or "")


@pytest.mark.parametrize("status", [429, 503, 500])
def test_an_answer_with_retry_after_is_retried_as_client_go_does(
    kube: KubeApiServer, target: TargetConfig, status: int
) -> None:
    """API Priority and Fairness sheds load with 429 + Retry-After: the list is asked again after that wait and read
    completely, not given up as a partial audit."""
    seed_cluster(kube)
    kube.fail("GET", "/api/v1/services", status, times=1, retry_after=0)
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.OK and len(inv.services) == 4
    assert len(kube.requests("GET", "/api/v1/services")) == 2


def test_an_answer_without_retry_after_or_retried_out_is_that_facet_unread(
    kube: KubeApiServer, target: TargetConfig
) -> None:
    seed_cluster(kube)
    kube.fail("GET", "/api/v1/services", 429)  # no Retry-After: not retried (client-go neither)
    kube.fail("GET", "/apis/networking.k8s.io/v1/ingresses", 503, retry_after=0)  # every time: retried 10 times
    inv, cov = _collect(target)
    assert cov.status == CoverageStatus.PARTIAL
    assert cov.facet("kubernetes.services").status == CoverageStatus.ERROR
    assert cov.facet("kubernetes.services").error_code == "429"
    assert len(kube.requests("GET", "/api/v1/services")) == 1
    assert cov.facet("kubernetes.ingresses").error_code == "503"  # the status, not "unreachable"
    assert len(kube.requests("GET", "/apis/networking.k8s.io/v1/ingresses")) == 11
    assert inv.controllers  # the rest is read


def _exec_kubeconfig(kube: KubeApiServer, tmp_path: Path, command: str, *args: str) -> Path:
    """The emulator's kubeconfig with its user's token replaced by an exec credential plugin."""
    path = tmp_path / "exec-kubeconfig"
    doc = yaml.safe_load(Path(kube.kubeconfig).read_text(encoding="utf-8"))
    doc["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": command, "args": list(args)}
    }
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_a_failing_exec_credential_plugin_is_named_with_its_error_not_a_401(
    kube: KubeApiServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """kubeconfigs of EKS run `aws eks get-token`: a plugin missing or failing is said, with its own words."""
    failing = tmp_path / "get-token"
    failing.write_text("#!/bin/sh\necho 'Unable to locate credentials. You can configure credentials' >&2\nexit 255\n")
    failing.chmod(0o755)
    for command, says in (
        (str(tmp_path / "no-such-aws"), "No such file or directory"),
        (str(failing), "process returned 255. Unable to locate credentials"),
    ):
        target = TargetConfig(name="prod", kubeconfig=_exec_kubeconfig(kube, tmp_path, command, "eks", "get-token"))
        with caplog.at_level(logging.ERROR):
            caplog.clear()
            inv, (cov,) = collect_kube(target, _settings())
        assert inv is None and cov.status == CoverageStatus.ERROR and cov.error_code == "ConfigError"
        assert "the exec credential plugin of context 'test'" in (cov.message or "") and says in (cov.message or "")
        assert "401" not in (cov.message or "")
        # the client's own bare ERROR line is not logged beside ours
        assert not [r for r in caplog.records if r.pathname.endswith("kube_config.py")]
    # whatever the log level (AUDITOR_LOG_LEVEL=CRITICAL drops ERROR records before any filter could see them)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        inv, (cov,) = collect_kube(target, _settings())
    finally:
        root.setLevel(level)
    assert inv is None and "process returned 255" in (cov.message or "")


def test_a_working_exec_credential_plugin_authenticates(kube: KubeApiServer, tmp_path: Path) -> None:
    plugin = tmp_path / "get-token"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": kube.token},
    }
    plugin.write_text(f"#!/bin/sh\necho '{json.dumps(credential)}'\n")
    plugin.chmod(0o755)
    target = TargetConfig(name="prod", kubeconfig=_exec_kubeconfig(kube, tmp_path, str(plugin)))
    inv, (cov,) = collect_kube(target, _settings())
    assert inv is not None and cov.status == CoverageStatus.OK, cov.message
