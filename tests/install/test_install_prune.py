"""install-alb applies with server-side apply and prunes what a newer chart dropped: only objects it applied."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as kube_config

from auditor.install.kube import CHART_ANNOTATION, FIELD_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE, RELEASE_ANNOTATION
from auditor.install.plan import fields_given_up
from tests.install.conftest import CHART_DIR

DEPLOYMENT = ("Deployment", "aws-load-balancer-controller", "kube-system")
VERSION_LABEL = "app.kubernetes.io/version"


def newer_chart(tmp_path: Path) -> Path:
    """The fixture chart as a newer release might ship it: no IngressClass/IngressClassParams templates, and
    no version label on its objects."""
    chart = tmp_path / "aws-load-balancer-controller"
    shutil.copytree(CHART_DIR, chart)
    (chart / "templates" / "ingressclass.yaml").unlink()
    helpers = chart / "templates" / "_helpers.tpl"
    text = helpers.read_text(encoding="utf-8")
    line = "app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}\n"
    assert line in text
    helpers.write_text(text.replace(line, ""), encoding="utf-8")
    return chart


def _apps(kube: Any) -> Any:
    return k8s.AppsV1Api(kube_config.new_client_from_config(config_file=str(kube.kubeconfig)))


def test_newer_chart_prunes_what_it_dropped_and_only_that(install, cluster_api, tmp_path):
    assert install("--yes").exit_code == 0
    assert cluster_api.get_object("IngressClass", "alb") is not None
    # what must survive: a look-alike made by someone else, an object of another release, a label another
    # field manager added to our Deployment
    cluster_api.seed({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "nginx"},
                      "spec": {"controller": "k8s.io/ingress-nginx"}})  # fmt: skip
    other_release = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "other-controller-role",
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            "annotations": {
                RELEASE_ANNOTATION: "kube-system/other",
                CHART_ANNOTATION: "aws-load-balancer-controller-1.13.0",
            },
        },
        "rules": [],
    }
    cluster_api.seed(other_release)
    _apps(cluster_api).patch_namespaced_deployment(
        "aws-load-balancer-controller", "kube-system", {"metadata": {"labels": {"team": "platform"}}},
        field_manager="kubectl-label",
    )  # fmt: skip
    newer = newer_chart(tmp_path)

    dry = install("--dry-run", chart_dir=newer)
    assert dry.exit_code == 0, dry.output
    assert "delete IngressClass alb: install-alb applied it, chart 1.13.0 no longer has it" in dry.output
    assert "delete IngressClassParams alb" in dry.output
    assert f"update Deployment kube-system/aws-load-balancer-controller: removes .metadata.labels.{VERSION_LABEL}" in (
        dry.output
    )
    assert cluster_api.get_object("IngressClass", "alb") is not None  # a dry run deletes nothing

    result = install("--yes", chart_dir=newer)

    assert result.exit_code == 0, result.output
    assert "changed: deleted IngressClass alb (no longer in the chart)" in result.output
    assert "changed: deleted IngressClassParams alb (no longer in the chart)" in result.output
    assert cluster_api.get_object("IngressClass", "alb") is None
    assert cluster_api.get_object("IngressClassParams", "alb") is None
    assert cluster_api.get_object("IngressClass", "nginx") is not None
    assert cluster_api.get_object("ClusterRole", "other-controller-role") is not None
    assert cluster_api.get_object("CustomResourceDefinition", "ingressclassparams.elbv2.k8s.aws") is not None
    labels = cluster_api.get_object(*DEPLOYMENT)["metadata"]["labels"]
    assert VERSION_LABEL not in labels  # applied before, dropped by the chart: removed by the API server
    assert labels["team"] == "platform"  # another manager's field: kept
    assert labels[MANAGED_BY_LABEL] == MANAGED_BY_VALUE

    again = install("--yes", chart_dir=newer)
    assert again.exit_code == 0, again.output
    assert "0 to change" in again.output and "changed:" not in again.output


def test_objects_are_server_side_applied_and_drift_is_taken_back(install, cluster_api):
    assert install("--yes").exit_code == 0
    deployment = cluster_api.get_object(*DEPLOYMENT)
    (entry,) = [e for e in deployment["metadata"]["managedFields"] if e["manager"] == FIELD_MANAGER]
    assert entry["operation"] == "Apply" and "f:replicas" in entry["fieldsV1"]["f:spec"]
    applies = [r for r in cluster_api.requests("PATCH") if r.query.get("fieldManager") == FIELD_MANAGER]
    assert applies and all(r.query.get("force") in ("true", "True") for r in applies)
    assert cluster_api.requests("POST") == []  # every write is an apply

    _apps(cluster_api).patch_namespaced_deployment(
        "aws-load-balancer-controller", "kube-system", {"spec": {"replicas": 5}}, field_manager="kubectl-scale"
    )
    repaired = install("--yes")

    assert repaired.exit_code == 0, repaired.output
    assert "update Deployment kube-system/aws-load-balancer-controller" in repaired.output
    deployment = cluster_api.get_object(*DEPLOYMENT)
    assert deployment["spec"]["replicas"] == 2  # the chart's value, taken back from the other manager
    managers = {e["manager"]: e for e in deployment["metadata"]["managedFields"]}
    assert "f:replicas" not in (managers.get("kubectl-scale", {}).get("fieldsV1", {}).get("f:spec", {}))


def test_fields_given_up_reads_a_real_servers_granular_fields():
    """An API server tracks associative list items by key (``k:{"name":...}``) and maps with ``.``: a field
    dropped inside a container is found, server defaults and other managers' fields are not reported."""
    existing = {
        "metadata": {
            "name": "c",
            "labels": {"app": "c", "old": "x", "team": "t"},
            "managedFields": [
                {"manager": "auditor", "operation": "Apply", "fieldsV1": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}, "f:old": {}}},
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        'k:{"name":"main"}': {".": {}, "f:name": {}, "f:image": {}, "f:imagePullPolicy": {}},
                        'k:{"name":"sidecar"}': {".": {}, "f:name": {}},
                    }}}},
                }},
                {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {
                    "f:metadata": {"f:labels": {"f:team": {}}}}},
            ],
        },
    }  # fmt: skip
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "c", "labels": {"app": "c"}},
        "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "i:2"}]}}},
    }
    assert fields_given_up(existing, desired) == [
        ".metadata.labels.old",
        '.spec.template.spec.containers[{"name":"main"}].imagePullPolicy',
        '.spec.template.spec.containers[{"name":"sidecar"}].name',
    ]
    assert fields_given_up(existing, {**desired, "metadata": {"name": "c", "labels": {"app": "c", "old": "x"}},
        "spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "i", "imagePullPolicy": "Always"}, {"name": "sidecar"}]}}}}) == []  # fmt: skip
    assert fields_given_up({"metadata": {"name": "c"}}, desired) == []  # applied by no one: nothing to give up
