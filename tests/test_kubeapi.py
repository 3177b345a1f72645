"""The Kubernetes API emulator behaves like a real API server for the official client and kubectl."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from auditor.demo.kubeapi import KubeApiServer, parse_label_selector
from auditor.demo.seed_kube import gateway_api_crds

CRD_TGB = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
    "spec": {
        "group": "elbv2.k8s.aws",
        "scope": "Namespaced",
        "names": {
            "plural": "targetgroupbindings",
            "singular": "targetgroupbinding",
            "kind": "TargetGroupBinding",
            "listKind": "TargetGroupBindingList",
            "shortNames": ["tgb"],
        },
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            },
        ],
    },
}


@pytest.fixture
def api(kube: KubeApiServer) -> Any:
    return config.new_client_from_config(config_file=str(kube.kubeconfig), context="test")  # type: ignore[no-untyped-call]


def _svc(name: str, labels: dict[str, str] | None = None) -> client.V1Service:
    return client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=80)]),
    )


def _status(exc: ApiException) -> dict[str, Any]:
    """The Status object an error response carries."""
    body: dict[str, Any] = json.loads(exc.body or "{}")
    return body


def _raw(
    api: Any,
    method: str,
    path: str,
    body: Any,
    content_type: str,
    query: list[tuple[str, str]] | None = None,
) -> tuple[int, Any]:
    """A request the typed client has no method for (other patch content types)."""
    _, url, headers, data, _ = api.param_serialize(
        method,
        path,
        query_params=query or [],
        body=body,
        auth_settings=["BearerToken"],
        header_params={"Content-Type": content_type, "Accept": "application/json"},
    )
    resp = api.call_api(method, url, header_params=headers, body=data)
    resp.read()  # type: ignore[no-untyped-call]
    return resp.status, json.loads(resp.data or b"null")


def test_discovery_and_version(api: Any) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.31")
    core: Any = client.CoreV1Api(api).get_api_resources()
    names = {r.name for r in core.resources}
    assert {"services", "serviceaccounts", "namespaces", "pods", "endpoints", "secrets", "configmaps"} <= names
    groups = {g.name: g for g in client.ApisApi(api).get_api_versions().groups}
    assert {
        "apps",
        "networking.k8s.io",
        "discovery.k8s.io",
        "apiextensions.k8s.io",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
    } <= set(groups)
    assert "elbv2.k8s.aws" not in groups
    net: Any = client.NetworkingV1Api(api).get_api_resources()
    assert {r.name: r.namespaced for r in net.resources}["ingressclasses"] is False


def test_token_is_checked(kube: KubeApiServer, api: Any) -> None:
    assert client.CoreV1Api(api).list_namespace().items
    kube.token = "rotated"  # the kubeconfig still carries the old token
    with pytest.raises(ApiException) as err:
        client.CoreV1Api(api).list_namespace()
    assert err.value.status == 401
    assert _status(err.value)["reason"] == "Unauthorized"


def test_crud_conflict_and_not_found(api: Any, kube: KubeApiServer) -> None:
    core: Any = client.CoreV1Api(api)
    created = core.create_namespaced_service("default", _svc("web"))
    assert created.metadata.namespace == "default"
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    assert created.metadata.generation == 1
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("default", _svc("web"))
    assert err.value.status == 409
    body = _status(err.value)
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "AlreadyExists", 409)

    got = core.read_namespaced_service("web", "default")
    got.metadata.labels = {"tier": "front"}
    replaced = core.replace_namespaced_service("web", "default", got)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.labels == {"tier": "front"}

    stale = got
    stale.metadata.resource_version = created.metadata.resource_version
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service("web", "default", stale)
    assert err.value.status == 409

    core.delete_namespaced_service("web", "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_service("web", "default")
    assert err.value.status == 404
    assert _status(err.value)["reason"] == "NotFound"
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_service("web", "default")
    assert err.value.status == 404
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("no-such-ns", _svc("x"))
    assert err.value.status == 404


def test_paging_with_continue_token(api: Any, kube: KubeApiServer) -> None:
    core: Any = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    for i in range(3):
        core.create_namespaced_service("default", _svc(f"a{i}"))
    for i in range(2):
        core.create_namespaced_service("team", _svc(f"b{i}"))
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = core.list_service_for_all_namespaces(limit=2, _continue=token)
        pages += 1
        assert page.kind == "ServiceList" and page.api_version == "v1"
        seen += [f"{s.metadata.namespace}/{s.metadata.name}" for s in page.items]
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count > 0
    assert pages == 3
    assert seen == ["default/a0", "default/a1", "default/a2", "team/b0", "team/b1"]
    assert [s.metadata.name for s in core.list_namespaced_service("team").items] == ["b0", "b1"]
    with pytest.raises(ApiException) as err:
        core.list_service_for_all_namespaces(limit=2, _continue="not-a-token!")
    assert err.value.status == 400


def test_an_expired_continue_token_is_410_expired_and_a_first_page_is_served(api: Any, kube: KubeApiServer) -> None:
    core: Any = client.CoreV1Api(api)
    for i in range(3):
        core.create_namespaced_service("default", _svc(f"a{i}"))
    kube.expire_continue("/api/v1/services", times=1)
    first = core.list_service_for_all_namespaces(limit=2)  # no token: served
    assert [s.metadata.name for s in first.items] == ["a0", "a1"]
    with pytest.raises(ApiException) as err:
        core.list_service_for_all_namespaces(limit=2, _continue=first.metadata._continue)
    assert err.value.status == 410
    status = _status(err.value)
    assert (status["kind"], status["status"], status["reason"], status["code"]) == ("Status", "Failure", "Expired", 410)
    assert status["message"].startswith("The provided continue parameter is too old")
    rest = core.list_service_for_all_namespaces(limit=2, _continue=first.metadata._continue)  # only once
    assert [s.metadata.name for s in rest.items] == ["a2"]


def test_label_and_field_selectors(api: Any, kube: KubeApiServer) -> None:
    core: Any = client.CoreV1Api(api)
    core.create_namespaced_service("default", _svc("a", {"app": "shop", "tier": "web"}))
    core.create_namespaced_service("default", _svc("b", {"app": "shop", "tier": "db"}))
    core.create_namespaced_service("default", _svc("c", {"app": "blog"}))

    def names(**kw: Any) -> list[str]:
        return [s.metadata.name for s in core.list_namespaced_service("default", **kw).items]

    assert names(label_selector="app=shop") == ["a", "b"]
    assert names(label_selector="app==shop,tier!=db") == ["a"]
    assert names(label_selector="tier in (db, web)") == ["a", "b"]
    assert names(label_selector="tier notin (db)") == ["a", "c"]
    assert names(label_selector="tier") == ["a", "b"]
    assert names(label_selector="!tier") == ["c"]
    assert names(field_selector="metadata.name=b") == ["b"]
    assert names(field_selector="metadata.name!=b") == ["a", "c"]
    assert [
        s.metadata.name
        for s in core.list_service_for_all_namespaces(field_selector="metadata.namespace=kube-system").items
    ] == []
    with pytest.raises(ApiException) as err:
        names(field_selector="spec.type=ClusterIP")
    assert err.value.status == 400
    assert len(parse_label_selector("a in (x,y),b")) == 2


def test_unregistered_type_is_404_until_crd_is_created(api: Any, kube: KubeApiServer) -> None:
    custom: Any = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("elbv2.k8s.aws", "v1beta1", "targetgroupbindings")
    assert err.value.status == 404
    assert _status(err.value)["message"] == "the server could not find the requested resource"

    ext: Any = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(CRD_TGB)
    crd: Any = ext.read_custom_resource_definition("targetgroupbindings.elbv2.k8s.aws")
    assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
    assert "elbv2.k8s.aws" in {g.name for g in client.ApisApi(api).get_api_versions().groups}
    tgb = {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": "t1"},
        "spec": {
            "targetGroupARN": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/x/1",
            "serviceRef": {"name": "web", "port": 80},
        },
    }
    custom.create_namespaced_custom_object("elbv2.k8s.aws", "v1beta1", "default", "targetgroupbindings", tgb)
    listed = custom.list_cluster_custom_object("elbv2.k8s.aws", "v1beta1", "targetgroupbindings")
    assert listed["kind"] == "TargetGroupBindingList"
    assert [i["metadata"]["namespace"] for i in listed["items"]] == ["default"]
    status = custom.patch_namespaced_custom_object_status(
        "elbv2.k8s.aws", "v1beta1", "default", "targetgroupbindings", "t1", {"status": {"observedGeneration": 1}}
    )
    assert status["status"] == {"observedGeneration": 1}

    client.ApiextensionsV1Api(api).delete_custom_resource_definition("targetgroupbindings.elbv2.k8s.aws")
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("elbv2.k8s.aws", "v1beta1", "targetgroupbindings")
    assert err.value.status == 404


def test_gateway_api_groups_are_served_like_an_api_server(api: Any, kube: KubeApiServer) -> None:
    """The Gateway API and gateway.k8s.aws CRDs: discovery names each group's preferred version (GA before beta
    before alpha), a resource is listed only at the versions that serve it, an empty list is a 200 with its list
    kind, an object stored at one version reads at another, and a group with no CRD is a 404."""
    apis: Any = client.ApisApi(api)
    custom: Any = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as err:
        custom.list_cluster_custom_object("gateway.networking.k8s.io", "v1", "gateways")
    assert err.value.status == 404
    assert "gateway.networking.k8s.io" not in {g.name for g in apis.get_api_versions().groups}

    ext: Any = client.ApiextensionsV1Api(api)
    for crd in gateway_api_crds():
        ext.create_custom_resource_definition(crd)
    groups = {g.name: g for g in apis.get_api_versions().groups}
    gw = groups["gateway.networking.k8s.io"]
    assert gw.preferred_version.version == "v1"
    assert [v.version for v in gw.versions] == ["v1", "v1beta1", "v1alpha2"]
    assert groups["gateway.k8s.aws"].preferred_version.version == "v1beta1"

    def served(version: str) -> set[str]:
        doc = custom.get_api_resources("gateway.networking.k8s.io", version)
        return {r.name for r in doc.resources if "/" not in r.name}

    assert served("v1") == {"gatewayclasses", "gateways", "httproutes", "grpcroutes"}
    assert served("v1beta1") == {"gatewayclasses", "gateways", "httproutes", "referencegrants"}
    assert served("v1alpha2") == {"tcproutes", "udproutes", "tlsroutes"}

    empty = custom.list_cluster_custom_object("gateway.networking.k8s.io", "v1", "httproutes")
    assert empty["kind"] == "HTTPRouteList" and empty["items"] == []
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "HTTPRoute",
        "metadata": {"name": "r"},
        "spec": {"parentRefs": [{"name": "web"}]},
    }
    custom.create_namespaced_custom_object("gateway.networking.k8s.io", "v1beta1", "default", "httproutes", route)
    (read,) = custom.list_cluster_custom_object("gateway.networking.k8s.io", "v1", "httproutes")["items"]
    assert read["metadata"]["name"] == "r"
    with pytest.raises(ApiException) as err:  # TCPRoute is not served at v1
        custom.list_cluster_custom_object("gateway.networking.k8s.io", "v1", "tcproutes")
    assert err.value.status == 404


def test_patch_kinds(api: Any, kube: KubeApiServer) -> None:
    apps: Any = client.AppsV1Api(api)
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"a": "1", "b": "2"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1"}, {"name": "side", "image": "busybox"}]},
            },
        },
    }
    apps.create_namespaced_deployment("default", dep)
    # strategic merge (the client's default for a dict body): containers merged by name
    out = apps.patch_namespaced_deployment(
        "web", "default", {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    )
    images = {c.name: c.image for c in out.spec.template.spec.containers}
    assert images == {"web": "nginx:2", "side": "busybox"}
    assert out.metadata.generation == 2
    # JSON patch (a list body)
    out = apps.patch_namespaced_deployment(
        "web",
        "default",
        [{"op": "replace", "path": "/spec/replicas", "value": 3}, {"op": "remove", "path": "/metadata/labels/b"}],
    )
    assert out.spec.replicas == 3 and out.metadata.labels == {"a": "1"}
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment("web", "default", [{"op": "remove", "path": "/spec/nothing"}])
    assert err.value.status == 422
    # merge patch: lists are replaced, null deletes
    code, resp = _raw(
        api,
        "PATCH",
        "/apis/apps/v1/namespaces/default/deployments/web",
        {"metadata": {"labels": {"a": None, "c": "3"}}},
        "application/merge-patch+json",
    )
    assert code == 200
    assert resp["metadata"]["labels"] == {"c": "3"}
    # status subresource: the main resource ignores status, /status takes it
    apps.patch_namespaced_deployment("web", "default", {"status": {"readyReplicas": 9}})
    assert (apps.read_namespaced_deployment("web", "default").status.ready_replicas or 0) == 0
    apps.patch_namespaced_deployment_status("web", "default", {"status": {"readyReplicas": 3}})
    assert apps.read_namespaced_deployment("web", "default").status.ready_replicas == 3
    # server-side apply creates
    applied = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"k": "v"}}
    code, resp = _raw(
        api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/applied",
        applied,
        "application/apply-patch+yaml",
        [("fieldManager", "test")],
    )
    assert code == 201
    assert resp["data"] == {"k": "v"}


def test_fault_injection_and_request_log(api: Any, kube: KubeApiServer) -> None:
    net: Any = client.NetworkingV1Api(api)
    kube.fail("GET", "/apis/networking.k8s.io/v1/ingresses", 403)
    kube.fail("GET", "/apis/networking.k8s.io/v1/ingressclasses", 500, times=1)
    with pytest.raises(ApiException) as err:
        net.list_ingress_for_all_namespaces()
    assert err.value.status == 403
    assert 'cannot list resource "ingresses"' in _status(err.value)["message"]
    with pytest.raises(ApiException) as err:
        net.list_ingress_class()
    assert err.value.status == 500
    assert net.list_ingress_class().items == []  # only once
    kube.clear_faults()
    assert net.list_ingress_for_all_namespaces().items == []
    logged = kube.requests("GET", "/apis/networking.k8s.io/v1/ingress")
    assert [r.path.rsplit("/", 1)[1] for r in logged] == ["ingresses", "ingressclasses", "ingressclasses", "ingresses"]
    assert all(isinstance(r.query, dict) for r in logged)


def test_a_stalled_request_is_answered_after_the_wait(api: Any, kube: KubeApiServer) -> None:
    """``stall()``: the request is answered as usual, only late -- and only as many times as asked."""
    core: Any = client.CoreV1Api(api)
    kube.stall("GET", "/api/v1/namespaces", 1.0, times=1)
    started = time.monotonic()
    assert "default" in [n.metadata.name for n in core.list_namespace().items]
    assert time.monotonic() - started >= 1.0
    kube.stall("GET", "/api/v1/namespaces", 1.0, times=4)  # urllib3's default retries: three more asks
    with pytest.raises(urllib3.exceptions.MaxRetryError):  # a client that gives up sooner sees no answer
        core.list_namespace(_request_timeout=0.2)
    started = time.monotonic()
    core.list_namespace()
    assert time.monotonic() - started < 1.0  # the stalls are spent
    assert len(kube.requests("GET", "/api/v1/namespaces")) == 6


def test_auto_ready_and_watch(tmp_path: Path) -> None:
    with KubeApiServer(auto_ready=True) as server:
        kc = server.write_kubeconfig(tmp_path / "kc", context="demo", namespace="kube-system")
        api = config.new_client_from_config(config_file=str(kc))  # type: ignore[no-untyped-call]
        apps: Any = client.AppsV1Api(api)
        events: list[tuple[str, int]] = []

        def watcher() -> None:
            stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
                apps.list_namespaced_deployment, "kube-system", timeout_seconds=5
            )
            for ev in stream:
                events.append((ev["type"], ev["object"].status.ready_replicas or 0))
                if ev["object"].status.ready_replicas == 2:
                    return

        t = threading.Thread(target=watcher)
        t.start()
        apps.create_namespaced_deployment(
            "kube-system",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "c"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {
                        "metadata": {"labels": {"a": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "x:v1"}]},
                    },
                },
            },
        )
        t.join(timeout=10)
        dep = apps.read_namespaced_deployment("c", "kube-system")
        assert (dep.status.ready_replicas, dep.status.available_replicas, dep.status.updated_replicas) == (2, 2, 2)
        assert dep.status.observed_generation == dep.metadata.generation
        # The watch may start before the create (ADDED then MODIFIED) or after it (ADDED, already ready):
        # either way the last event it delivers shows the Deployment ready.
        assert events and events[-1][1] == 2


def test_stop_refuses_connections(kube: KubeApiServer, api: Any) -> None:
    core: Any = client.CoreV1Api(api)
    core.list_namespace()  # opens a keep-alive connection
    kube.stop()
    with pytest.raises(Exception) as err:  # urllib3 MaxRetryError / ProtocolError
        core.list_namespace(_request_timeout=2)
    assert not isinstance(err.value, ApiException)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_get_and_apply(kube: KubeApiServer, tmp_path: Path) -> None:
    def kubectl(*args: str) -> str:
        proc = subprocess.run(
            ["kubectl", "--kubeconfig", str(kube.kubeconfig), *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    kube.seed(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "lb", "namespace": "shop"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        }
    )
    out = kubectl("get", "svc", "-A")
    assert "shop" in out and "lb" in out
    manifest = tmp_path / "dep.yaml"
    manifest.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n"
        "    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: 'nginx:1.25'}]}\n"
    )
    assert "created" in kubectl("apply", "-f", str(manifest))
    assert "unchanged" in kubectl("apply", "-f", str(manifest))
    manifest.write_text(manifest.read_text().replace("nginx:1.25", "nginx:1.26"))
    assert "configured" in kubectl("apply", "-f", str(manifest))
    (dep,) = kube.objects("Deployment", namespace="shop")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert dep["metadata"]["generation"] == 2
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]
    assert "web" in kubectl("get", "deployments", "-n", "shop", "-o", "name")
