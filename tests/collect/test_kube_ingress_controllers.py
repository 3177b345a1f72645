"""The Kubernetes collector finds in-cluster ingress controllers (ingress-nginx, Traefik, HAProxy) among the
Deployments and reads ingress-nginx's ConfigMap by the name its --configmap argument gives — only that one, and
only the keys the auditor judges by."""

from __future__ import annotations

from typing import Any

from auditor.collect.kube import collect_kube, parse_ingress_controller
from auditor.config import KubeSettings, Settings, TargetConfig
from auditor.demo.kubeapi import KubeApiServer
from auditor.inventory.models import CoverageStatus, KubeInventory

NGINX_IMAGE = "registry.k8s.io/ingress-nginx/controller:v1.11.3@sha256:0123"
NGINX_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/instance": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}
# the arguments the ingress-nginx Helm chart renders, with $(POD_NAMESPACE) from the downward API
NGINX_ARGS = [
    "/nginx-ingress-controller",
    "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller",
    "--election-id=ingress-nginx-leader",
    "--controller-class=k8s.io/ingress-nginx",
    "--ingress-class=nginx",
    "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
    "--watch-ingress-without-class=true",
]


def nginx_deployment(
    ns: str = "ingress-nginx", *, args: list[str] | None = None, image: str = NGINX_IMAGE
) -> dict[str, Any]:
    container = {
        "name": "controller",
        "image": image,
        "args": NGINX_ARGS if args is None else args,
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ingress-nginx-controller", "namespace": ns, "labels": dict(NGINX_LABELS)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": dict(NGINX_LABELS)},
            "template": {"metadata": {"labels": dict(NGINX_LABELS)}, "spec": {"containers": [container]}},
        },
        "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
    }


def config_map(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "annotations": {"note": "kept out"}},
        "data": data,
    }


def _collect(kube: KubeApiServer) -> tuple[KubeInventory, Any]:
    target = TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="test")
    inv, (cov,) = collect_kube(target, Settings(kube=KubeSettings(page_size=500, request_timeout=5)))
    assert inv is not None, cov.message
    return inv, cov


def test_ingress_nginx_and_its_configmap_keys(kube: KubeApiServer) -> None:
    kube.seed(nginx_deployment())
    kube.seed(
        config_map(
            "ingress-nginx",
            "ingress-nginx-controller",
            {"ssl-redirect": "false", "allow-snippet-annotations": "true", "proxy-body-size": "8m"},
        )
    )
    kube.seed(config_map("ingress-nginx", "something-else", {"ssl-redirect": "true"}))
    inv, cov = _collect(kube)
    assert cov.status == CoverageStatus.OK, cov.message
    (ctrl,) = inv.ingress_controllers or []
    assert ctrl.implementation == "ingress-nginx" and ctrl.version == "v1.11.3"
    assert ctrl.controller_class == "k8s.io/ingress-nginx" and ctrl.ingress_class_arg == "nginx"
    assert ctrl.publish_service == "ingress-nginx/ingress-nginx-controller"  # $(POD_NAMESPACE) expanded
    assert ctrl.config_map == "ingress-nginx/ingress-nginx-controller"
    assert ctrl.watch_without_class and ctrl.ready_replicas == 2
    assert ctrl.pod_labels["app.kubernetes.io/component"] == "controller"
    (cfg,) = inv.ingress_controller_configs or []
    assert (cfg.namespace, cfg.name) == ("ingress-nginx", "ingress-nginx-controller")
    assert cfg.data == {"ssl-redirect": "false"}  # only the keys judged by; nothing else of the map is kept
    assert cfg.annotations == {}
    reads = [r.path for r in kube.requests("GET") if "/configmaps" in r.path]
    assert reads == ["/api/v1/namespaces/ingress-nginx/configmaps/ingress-nginx-controller"]
    assert inv.controllers == []  # not the AWS Load Balancer Controller


def test_a_missing_configmap_is_not_a_failure(kube: KubeApiServer) -> None:
    kube.seed(nginx_deployment())
    inv, cov = _collect(kube)
    assert cov.status == CoverageStatus.OK
    assert inv.ingress_controller_configs == [] and inv.ingress_controllers


def test_a_forbidden_configmap_leaves_its_facet_partial(kube: KubeApiServer) -> None:
    kube.seed(nginx_deployment())
    kube.seed(config_map("ingress-nginx", "ingress-nginx-controller", {"ssl-redirect": "false"}))
    kube.fail("GET", "/api/v1/namespaces/ingress-nginx/configmaps/ingress-nginx-controller", 403)
    inv, cov = _collect(kube)
    assert cov.status == CoverageStatus.PARTIAL
    assert cov.facet("kubernetes.ingress-controller-configs").status == CoverageStatus.PARTIAL
    assert cov.facet("kubernetes.ingress-controller-configs").error_code == "403"
    assert inv.ingress_controller_configs == [] and inv.ingress_controllers  # the controller is still known


def test_a_malformed_configmap_is_left_out_and_its_facet_partial(kube: KubeApiServer) -> None:
    kube.seed(nginx_deployment())
    broken = config_map("ingress-nginx", "ingress-nginx-controller", {"ssl-redirect": "false"})
    broken["metadata"]["labels"] = ["not", "a", "map"]
    kube.seed(broken)
    inv, cov = _collect(kube)
    assert cov.status == CoverageStatus.PARTIAL
    state = cov.facet("kubernetes.ingress-controller-configs")
    assert state.status == CoverageStatus.PARTIAL and state.error_code == "Malformed"
    assert "ConfigMap ingress-nginx/ingress-nginx-controller is malformed" in (state.message or "")
    assert inv.ingress_controller_configs == [] and inv.ingress_controllers


def test_deployments_not_listed_leave_ingress_controllers_unread(kube: KubeApiServer) -> None:
    kube.seed(nginx_deployment())
    kube.fail("GET", "/apis/apps/v1/deployments", 403)
    inv, cov = _collect(kube)
    assert inv.ingress_controllers is None and inv.ingress_controller_configs is None
    assert cov.facet("kubernetes.deployments").status == CoverageStatus.ERROR


def test_controllers_found_by_image_or_labels() -> None:
    traefik = nginx_deployment(
        "traefik",
        image="docker.io/traefik:v3.1.2",
        args=["--providers.kubernetesingress.ingressendpoint.publishedservice=traefik/traefik"],
    )
    found = parse_ingress_controller(traefik)
    assert found is not None and found.implementation == "traefik"
    assert found.controller_class == "traefik.io/ingress-controller" and found.publish_service == "traefik/traefik"
    haproxy = nginx_deployment("haproxy", image="haproxytech/kubernetes-ingress:3.0", args=["--ingress.class=edge"])
    found = parse_ingress_controller(haproxy)
    assert found is not None and found.controller_class == "haproxy.org/ingress-controller/edge"
    mirrored = nginx_deployment(image="mirror.internal/ingress/custom-build:1", args=["--configmap=nginx-conf"])
    found = parse_ingress_controller(mirrored)  # unknown image: the chart's labels say what it is
    assert found is not None and found.implementation == "ingress-nginx"
    assert found.config_map == "ingress-nginx/nginx-conf" and found.controller_class == "k8s.io/ingress-nginx"
    plain = nginx_deployment(image="nginx:1.27")
    plain["metadata"]["labels"] = {}
    plain["spec"]["template"]["metadata"]["labels"] = {"app": "web"}
    assert parse_ingress_controller(plain) is None  # the NGINX web server is not an ingress controller


def test_a_malformed_deployment_is_left_out_and_the_facet_is_partial() -> None:
    from auditor.collect.kube import _ingress_controllers, _Reader

    broken = nginx_deployment("broken")
    broken["spec"]["template"]["spec"]["containers"][0]["args"] = "--configmap=x"  # a string, not a list
    broken["metadata"]["labels"]["replicas"] = 2  # a label value that is no string
    reader = _Reader(api=None, page_size=1, timeout=1)  # type: ignore[arg-type]  # no request is made
    found = _ingress_controllers(reader, [broken, nginx_deployment("other")])
    assert [c.namespace for c in found] == ["other"]
    assert reader.facets["kubernetes.deployments"].status == CoverageStatus.PARTIAL
