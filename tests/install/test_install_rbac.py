"""install-alb's declared Kubernetes rights (INSTALL_RBAC_RULES, with the audit's RBAC_RULES for its verify step)
cover every request it makes: the chart's `rbac.installAlb` ClusterRole is generated from them."""

from __future__ import annotations

from auditor.collect.kube import RBAC_RULES
from auditor.demo.kubeapi import RequestRecord
from auditor.install.kube import INSTALL_RBAC_RULES
from tests.collect.test_kube_rbac import _allows, authorization_attributes
from tests.install.test_install_prune import newer_chart


def undeclared(requests: list[RequestRecord]) -> list[str]:
    rules = (*RBAC_RULES, *INSTALL_RBAC_RULES)
    return sorted(
        {
            f"{r.method} {r.path}"
            for r in requests
            if not any(_allows(rule, authorization_attributes(r)) for rule in rules)
        }
    )


def test_every_request_install_alb_makes_is_declared(install, cluster_api, tmp_path):
    assert install("--dry-run").exit_code == 0
    old = install("--yes", "--controller-version", "v2.8.2")
    assert old.exit_code == 0, old.output
    again = install("--yes", "--controller-version", "v2.8.2")
    assert again.exit_code == 0, again.output
    upgrade = install("--yes", "--controller-version", "v2.13.0")
    assert upgrade.exit_code == 0, upgrade.output
    pruned = install("--yes", "--controller-version", "v2.13.0", chart_dir=newer_chart(tmp_path))
    assert pruned.exit_code == 0 and "changed: deleted" in pruned.output, pruned.output
    methods = {r.method for r in cluster_api.requests_log}
    assert {"GET", "PATCH", "DELETE"} <= methods and len(cluster_api.requests_log) > 50
    assert undeclared(cluster_api.requests_log) == []


def test_an_undeclared_write_is_caught():
    assert undeclared(
        [
            RequestRecord("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.elbv2.k8s.aws", {}),
            RequestRecord("POST", "/api/v1/namespaces/kube-system/configmaps", {}),
            RequestRecord("PATCH", "/apis/apps/v1/namespaces/kube-system/deployments/c", {}),  # declared
        ]
    ) == [
        "DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.elbv2.k8s.aws",
        "POST /api/v1/namespaces/kube-system/configmaps",
    ]
