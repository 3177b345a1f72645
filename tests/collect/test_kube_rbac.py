"""The collector's RBAC declaration covers every request it makes, and deploy/rbac.yaml is generated from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

from auditor.collect.kube import RBAC_RULES, RbacRule, cluster_role, collect_kube, render_rbac
from auditor.config import KubeSettings, Settings, TargetConfig
from auditor.demo.kubeapi import KubeApiServer, RequestRecord
from auditor.inventory.models import CoverageStatus
from tests.collect.test_kube import seed_cluster

REPO = Path(__file__).resolve().parents[2]
VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def authorization_attributes(req: RequestRecord) -> tuple[str, str, str] | tuple[str, str]:
    """What the API server's authorizer sees: (apiGroup, resource, verb) or (nonResourceURL, verb)."""
    parts = [p for p in req.path.split("/") if p]
    verb = VERBS[req.method]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return (req.path, verb)  # /version, /api, /apis, /apis/<group>[/<version>] discovery
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    if verb == "get" and len(rest) == 1:
        verb = "watch" if req.query.get("watch") in ("true", "1") else "list"
    return (group, resource, verb)


def _allows(rule: RbacRule, attrs: tuple[str, str, str] | tuple[str, str]) -> bool:
    if len(attrs) == 2:
        url, verb = attrs
        return verb in rule.verbs and any(
            url == pattern or (pattern.endswith("*") and url.startswith(pattern[:-1]))
            for pattern in rule.non_resource_urls
        )
    group, resource, verb = attrs
    return (verb in rule.verbs or "*" in rule.verbs) and group in rule.api_groups and resource in rule.resources


def undeclared(requests: Iterable[RequestRecord]) -> list[str]:
    return sorted(
        {
            f"{r.method} {r.path}"
            for r in requests
            if not any(_allows(rule, authorization_attributes(r)) for rule in RBAC_RULES)
        }
    )


@pytest.mark.parametrize("variant", ["full", "no-controller", "no-crds"])
def test_every_request_the_collector_makes_is_declared(kube: KubeApiServer, variant: str) -> None:
    seed_cluster(kube, crds=variant != "no-crds", controller=variant != "no-controller")
    target = TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="test")
    inv, (cov,) = collect_kube(target, Settings(kube=KubeSettings(page_size=2)))
    assert inv is not None and cov.status == CoverageStatus.OK
    assert len(kube.requests_log) > 10
    assert undeclared(kube.requests_log) == []


def test_reading_an_ingress_controllers_configmap_is_declared(kube: KubeApiServer) -> None:
    from tests.collect.test_kube_ingress_controllers import config_map, nginx_deployment

    seed_cluster(kube)
    kube.seed(nginx_deployment())
    kube.seed(config_map("ingress-nginx", "ingress-nginx-controller", {"ssl-redirect": "true"}))
    target = TargetConfig(name="prod", kubeconfig=kube.kubeconfig, context="test")
    inv, (cov,) = collect_kube(target, Settings(kube=KubeSettings(page_size=2)))
    assert inv is not None and cov.status == CoverageStatus.OK and inv.ingress_controller_configs
    assert any("/configmaps/" in r.path for r in kube.requests_log)
    assert undeclared(kube.requests_log) == []
    assert not any("secrets" in r.path for r in kube.requests_log)


def test_an_undeclared_request_is_caught() -> None:
    reqs = [
        RequestRecord("GET", "/api/v1/secrets", {}),
        RequestRecord("GET", "/api/v1/namespaces/kube-system/serviceaccounts", {}),  # list, only get declared
        RequestRecord("PATCH", "/api/v1/namespaces/a/services/b", {}),
        RequestRecord("GET", "/apis/apps/v1/namespaces/a/deployments/b/status", {}),
        RequestRecord("GET", "/openapi/v3", {}),
        RequestRecord("GET", "/api/v1/services", {"limit": "2"}),  # declared
    ]
    assert undeclared(reqs) == [
        "GET /api/v1/namespaces/kube-system/serviceaccounts",
        "GET /api/v1/secrets",
        "GET /apis/apps/v1/namespaces/a/deployments/b/status",
        "GET /openapi/v3",
        "PATCH /api/v1/namespaces/a/services/b",
    ]


def test_role_is_read_only() -> None:
    verbs = {v for rule in RBAC_RULES for v in rule.verbs}
    assert verbs <= {"get", "list", "watch"}
    resources = {r for rule in RBAC_RULES for r in rule.resources}
    assert "secrets" not in resources and "*" not in resources


def test_deploy_rbac_yaml_is_the_generated_role() -> None:
    committed = (REPO / "deploy" / "rbac.yaml").read_text(encoding="utf-8")
    assert committed == render_rbac(), "regenerate: python -m auditor.collect.kube rbac > deploy/rbac.yaml"
    docs = list(yaml.safe_load_all(committed))
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert role == cluster_role()
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    assert binding["roleRef"]["name"] == role["metadata"]["name"] == "eks-exposure-auditor"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
    ]
    assert (sa["metadata"]["namespace"], sa["metadata"]["name"]) == ("eks-exposure-auditor", "eks-exposure-auditor")


def test_module_prints_the_manifests() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "auditor.collect.kube", "rbac"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.stdout == render_rbac()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_applies_deploy_rbac(kube: KubeApiServer) -> None:
    proc = subprocess.run(
        ["kubectl", "--kubeconfig", str(kube.kubeconfig), "apply", "-f", str(REPO / "deploy" / "rbac.yaml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    (role,) = kube.objects("ClusterRole")
    assert role["rules"] == cluster_role()["rules"]
    assert [s["metadata"]["name"] for s in kube.objects("ServiceAccount", namespace="eks-exposure-auditor")] == [
        "eks-exposure-auditor"
    ]
