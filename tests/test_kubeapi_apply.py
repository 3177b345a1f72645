"""The emulator answers server-side apply as an API server does, for what install-alb and kubectl use:
field managers, ownership of the applied fields, removal of fields a manager stops sending, conflicts and force."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as kube_config
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ConflictError, UnprocessibleEntityError

from auditor.demo.kubeapi import KubeApiServer, field_paths, fields_v1, paths_of_fields_v1


def config_map(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "settings", "namespace": "default"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


@pytest.fixture
def api(kube: KubeApiServer) -> tuple[DynamicClient, Any]:
    api_client = kube_config.new_client_from_config(config_file=str(kube.kubeconfig))
    dynamic = DynamicClient(api_client)
    return dynamic, dynamic.resources.get(api_version="v1", kind="ConfigMap")


def _apply(api: tuple[DynamicClient, Any], body: dict[str, Any], manager: str = "auditor", **kw: Any) -> Any:
    dynamic, resource = api
    return dynamic.server_side_apply(resource, body=body, namespace="default", field_manager=manager, **kw).to_dict()


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"]["managedFields"]}


def test_apply_creates_then_owns_exactly_its_fields(kube, api):
    created = _apply(api, config_map({"a": "1", "b": "2"}, labels={"app": "x"}))
    assert created["data"] == {"a": "1", "b": "2"}
    assert _managers(created) == {
        ("auditor", "Apply"): {"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    }
    again = _apply(api, config_map({"a": "1", "b": "2"}, labels={"app": "x"}))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]  # a no-op apply


def test_fields_a_manager_stops_sending_are_removed_unless_another_owns_them(kube, api):
    _apply(api, config_map({"a": "1", "b": "2"}, labels={"app": "x", "tier": "web"}))
    core = k8s.CoreV1Api(kube_config.new_client_from_config(config_file=str(kube.kubeconfig)))
    core.patch_namespaced_config_map("settings", "default", {"data": {"c": "3"}}, field_manager="kubectl-edit")

    applied = _apply(api, config_map({"a": "1"}, labels={"app": "x"}))

    assert applied["data"] == {"a": "1", "c": "3"}  # b dropped; c is kubectl-edit's
    assert applied["metadata"]["labels"] == {"app": "x"}
    assert _managers(applied)[("kubectl-edit", "Update")] == {"f:data": {"f:c": {}}}
    assert _managers(applied)[("auditor", "Apply")] == {
        "f:data": {"f:a": {}},
        "f:metadata": {"f:labels": {"f:app": {}}},
    }


def test_a_field_another_manager_changed_conflicts_unless_forced(kube, api):
    _apply(api, config_map({"a": "1"}))
    core = k8s.CoreV1Api(kube_config.new_client_from_config(config_file=str(kube.kubeconfig)))
    core.patch_namespaced_config_map("settings", "default", {"data": {"a": "changed"}}, field_manager="kubectl-edit")

    with pytest.raises(ConflictError) as caught:
        _apply(api, config_map({"a": "1"}))
    assert 'Apply failed with 1 conflict: conflict with "kubectl-edit": .data.a' in caught.value.summary()
    assert kube.get_object("ConfigMap", "settings", "default")["data"] == {"a": "changed"}

    forced = _apply(api, config_map({"a": "1"}), force_conflicts=True)
    assert forced["data"] == {"a": "1"}
    assert ("kubectl-edit", "Update") not in _managers(forced)  # the field changed owner; it had no other


def test_the_same_value_is_shared_not_a_conflict(kube, api):
    _apply(api, config_map({"a": "1"}), manager="first")
    shared = _apply(api, config_map({"a": "1"}), manager="second")
    assert set(_managers(shared)) == {("first", "Apply"), ("second", "Apply")}
    # the first manager drops it: the second still owns it, so it stays
    assert _apply(api, config_map({}), manager="first")["data"] == {"a": "1"}


def test_apply_needs_a_field_manager_and_honours_dry_run(kube, api):
    dynamic, resource = api
    with pytest.raises(UnprocessibleEntityError):
        dynamic.server_side_apply(resource, body=config_map({"a": "1"}), namespace="default")
    dry = _apply(api, config_map({"a": "1"}), dry_run="All")
    assert dry["data"] == {"a": "1"}
    assert kube.get_object("ConfigMap", "settings", "default") is None


def test_field_sets_round_trip_through_fields_v1():
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "uid": "u", "labels": {"a": "b"}},
           "spec": {"ports": [{"port": 80}], "selector": {}}, "status": {"loadBalancer": {}}}  # fmt: skip
    paths = field_paths(obj, with_status=False)
    assert paths == {("metadata", "labels", "a"), ("spec", "ports"), ("spec", "selector")}
    assert paths_of_fields_v1(fields_v1(paths)) == paths
