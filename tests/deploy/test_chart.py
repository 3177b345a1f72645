"""The service's Helm chart (deploy/chart): rendered by the Helm library, validated against the Kubernetes
schemas and the `restricted` Pod Security Standard, its RBAC equal to the declarations, applied to the emulator."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

helm_python = pytest.importorskip("helm_python")
kubernetes_validate = pytest.importorskip("kubernetes_validate")

from auditor.collect.kube import RBAC_RULES  # noqa: E402
from auditor.config import load_targets  # noqa: E402
from auditor.demo.kubeapi import KubeApiServer  # noqa: E402
from auditor.deploy_chart import chart_rbac_rules, render_chart_rbac  # noqa: E402
from auditor.install.chart import install_order, parse_manifests  # noqa: E402
from auditor.install.kube import INSTALL_RBAC_RULES, KubeClient  # noqa: E402
from auditor.install.plan import contains  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "chart"
RELEASE, NAMESPACE = "auditor", "security"
FULLNAME = "auditor-eks-exposure-auditor"
KUBE_VERSION = "1.31"  # the emulator's version; the chart's kubeVersion allows >= 1.25

ROLE_ARN = "arn:aws:iam::111122223333:role/eks-exposure-auditor"
CUSTOM: dict[str, Any] = {
    "replicaCount": 3,
    "image": {"repository": "registry.example.com/auditor", "tag": "1.2.3"},
    "targets": [
        {
            "name": "prod",
            "cluster_name": "prod",
            "in_cluster": True,
            "regions": ["eu-west-1", "us-east-1"],
            "schedule": "5 * * * *",
        },
        {
            "name": "shared-account",
            "kubernetes": False,
            "regions": ["eu-west-1"],
            "accounts": [{"role_arn": "arn:aws:iam::444455556666:role/auditor-readonly"}],
        },
    ],
    "database": {"existingSecret": "auditor-db", "secretKey": "url"},
    "webhook": {"existingSecret": "auditor-webhook"},
    "api": {"workers": 2},
    "env": {"AUDITOR_AWS__MAX_CONCURRENCY": "2"},
    "envFrom": [{"secretRef": {"name": "auditor-extra"}}],
    "aws": {"roleArn": ROLE_ARN},
    "serviceAccount": {"annotations": {"example.com/team": "platform"}},
    "rbac": {"installAlb": True},
    "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}, "tokenSecret": {"name": "auditor-scrape"}},
    "networkPolicy": {
        "ingressFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "extraEgress": [{"ports": [{"port": 8443, "protocol": "TCP"}]}],
    },
    "persistence": {"existingClaim": "auditor-data"},
    "podAnnotations": {"example.com/scrape": "false"},
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "tools", "effect": "NoSchedule"}],
    "topologySpreadConstraints": [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "eks-exposure-auditor"}},
        }
    ],
}
CRONJOB: dict[str, Any] = {
    "mode": "cronjob",
    "cronjob": {"schedule": "0 6 * * *", "timeZone": "Europe/Paris", "args": ["--output", "json", "--fail-on", "high"]},
    "serviceAccount": {"awsIdentity": "podIdentity"},
    "aws": {"roleArn": ROLE_ARN},
    "serviceMonitor": {"enabled": True, "tokenSecret": {"name": "ignored-in-cronjob-mode"}},
}
VARIANTS = {"default": {}, "custom": CUSTOM, "cronjob": CRONJOB}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """`helm template` through the Helm library: the chart's objects in Helm's install order."""
    chart = helm_python.Chart.load(CHART)
    rendered = chart.render(copy.deepcopy(values), name=RELEASE, namespace=NAMESPACE, is_install=True)
    objects = [
        obj for path, text in sorted(rendered.items()) if path.endswith(".yaml") for obj in parse_manifests(text)
    ]
    return install_order(objects)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str = FULLNAME) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for obj in objects:
        if obj["kind"] == "Deployment":
            found.append((f"Deployment {obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "CronJob":
            found.append((f"CronJob {obj['metadata']['name']}", obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
    return found


def env_of(pod: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod["containers"][0]["env"]}


# ---------------------------------------------------------------------- the restricted Pod Security Standard

# https://kubernetes.io/docs/concepts/security/pod-security-standards/ ("Restricted", with "Baseline")
RESTRICTED_VOLUME_TYPES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
}  # fmt: skip


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What keeps a pod spec from the `restricted` profile (plus a read-only root filesystem and a writable /tmp)."""
    problems = []
    pod_ctx = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{flag} is set")
    for volume in pod.get("volumes") or []:
        types = set(volume) - {"name"}
        if not types <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']} has type {sorted(types)}")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        ctx = container.get("securityContext") or {}
        name = container["name"]

        def effective(key: str, ctx: dict[str, Any] = ctx) -> Any:
            return ctx.get(key, pod_ctx.get(key))

        if effective("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if effective("runAsUser") == 0:
            problems.append(f"{name}: runAsUser is 0")
        if not isinstance(effective("runAsUser"), int):
            problems.append(f"{name}: no numeric runAsUser (the image's user name cannot be checked as non-root)")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if ctx.get("privileged"):
            problems.append(f"{name}: privileged")
        capabilities = ctx.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {capabilities['add']}")
        if (effective("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is not RuntimeDefault or Localhost")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            problems.append(f"{name}: hostPort")
        if ctx.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: root filesystem is writable")
        mounts = {m["mountPath"]: m for m in container.get("volumeMounts") or []}
        for path in ("/tmp", "/data"):
            mount = mounts.get(path)
            if mount is None or mount.get("readOnly") or mount["name"] not in volumes:
                problems.append(f"{name}: no writable volume at {path}")
    return problems


def test_restricted_check_finds_what_it_looks_for() -> None:
    (_, pod), *_ = pod_specs(render({}))
    assert restricted_violations(pod) == []
    bad = copy.deepcopy(pod)
    bad["hostNetwork"] = True
    bad["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    del bad["securityContext"]["runAsNonRoot"]
    ctx = bad["containers"][0]["securityContext"]
    del ctx["runAsNonRoot"]
    ctx.update(allowPrivilegeEscalation=True, readOnlyRootFilesystem=False, capabilities={"add": ["SYS_ADMIN"]})
    bad["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    del ctx["seccompProfile"]
    bad["containers"][0]["volumeMounts"] = [m for m in bad["containers"][0]["volumeMounts"] if m["mountPath"] != "/tmp"]
    assert len(restricted_violations(bad)) == 9, restricted_violations(bad)


# ---------------------------------------------------------------------- every variant


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_manifest_is_valid_for_kubernetes(variant: str) -> None:
    objects = render(VARIANTS[variant])
    assert objects
    for obj in objects:
        if obj["kind"] == "ServiceMonitor":  # a custom resource: no schema ships with Kubernetes
            assert obj["apiVersion"] == "monitoring.coreos.com/v1"
            assert obj["spec"]["endpoints"] and obj["spec"]["selector"]["matchLabels"]
            continue
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']} {obj['metadata']['name']}: {exc.message} at {list(exc.path)}")


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_meets_the_restricted_profile(variant: str) -> None:
    pods = pod_specs(render(VARIANTS[variant]))
    assert pods
    for where, pod in pods:
        assert restricted_violations(pod) == [], where
        assert pod["securityContext"]["runAsUser"] == 10001  # the image's numeric user


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_object_is_labelled_and_in_the_release_namespace(variant: str) -> None:
    for obj in render(VARIANTS[variant]):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        if obj["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == NAMESPACE


def test_helm_lint_is_clean() -> None:
    for values in VARIANTS.values():
        report = helm_python.lint(CHART, copy.deepcopy(values), strict=True, namespace=NAMESPACE)
        assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == [], report


# ---------------------------------------------------------------------- RBAC


def test_rbac_file_is_the_generated_one() -> None:
    committed = (CHART / "files" / "rbac.yaml").read_text(encoding="utf-8")
    assert committed == render_chart_rbac(), (
        "regenerate: python -m auditor.deploy_chart rbac > deploy/chart/files/rbac.yaml"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "auditor.deploy_chart", "rbac"], capture_output=True, text=True, check=True, cwd=REPO,
        timeout=60,
    )  # fmt: skip
    assert proc.stdout == committed


def test_cluster_role_is_the_declared_read_only_role() -> None:
    objects = render({})
    assert one(objects, "ClusterRole")["rules"] == [rule.as_dict() for rule in RBAC_RULES]
    assert [o["metadata"]["name"] for o in by_kind(objects, "ClusterRole")] == [FULLNAME]  # no install-alb rights
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": FULLNAME}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]
    verbs = {verb for rule in one(objects, "ClusterRole")["rules"] for verb in rule["verbs"]}
    assert verbs <= {"get", "list", "watch"}


def test_install_alb_rights_only_when_enabled() -> None:
    objects = render({"rbac": {"installAlb": True}})
    role = one(objects, "ClusterRole", f"{FULLNAME}-install-alb")
    assert role["rules"] == [rule.as_dict() for rule in INSTALL_RBAC_RULES] == chart_rbac_rules()["installAlb"]
    binding = one(objects, "ClusterRoleBinding", f"{FULLNAME}-install-alb")
    assert binding["roleRef"]["name"] == f"{FULLNAME}-install-alb"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]
    assert one(objects, "ClusterRole")["rules"] == [rule.as_dict() for rule in RBAC_RULES]
    assert by_kind(render({"rbac": {"create": False}}), "ClusterRole") == []


# ---------------------------------------------------------------------- what the values do


def test_defaults_run_one_service_replica_on_sqlite(tmp_path: Path) -> None:
    objects = render({})
    assert {o["kind"] for o in objects} == {
        "ConfigMap", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "PodDisruptionBudget", "NetworkPolicy",
    }  # fmt: skip
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # one SQLite writer at a time
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/example/eks-exposure-auditor:0.1.0"
    assert container["args"] == ["serve", "--config", "/etc/auditor/targets.yaml", "--workers", "1"]
    env = env_of(pod)
    assert env["AUDITOR_DATABASE_URL"] == "sqlite:////data/auditor.db"
    assert env["AUDITOR_API__PORT"] == "8080" and env["AUDITOR_API__HOST"] == "0.0.0.0"
    assert "AUDITOR_REPORTS__WEBHOOK_URL" not in env
    assert pod["serviceAccountName"] == FULLNAME
    assert "annotations" not in one(objects, "ServiceAccount")["metadata"]
    assert {v["name"]: sorted(set(v) - {"name"}) for v in pod["volumes"]} == {
        "targets": ["configMap"], "data": ["emptyDir"], "tmp": ["emptyDir"],
    }  # fmt: skip
    service = one(objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert one(objects, "PodDisruptionBudget")["spec"]["selector"] == deployment["spec"]["selector"]
    # the targets ConfigMap is a targets file the auditor accepts
    targets_file = tmp_path / "targets.yaml"
    targets_file.write_text(one(objects, "ConfigMap", f"{FULLNAME}-targets")["data"]["targets.yaml"])
    (target,) = load_targets(targets_file)
    assert (target.name, target.cluster_name, target.in_cluster, target.schedule) == (
        "this-cluster", "my-cluster", True, "17 * * * *"
    )  # fmt: skip


def test_custom_values(tmp_path: Path) -> None:
    objects = render(CUSTOM)
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "strategy" not in deployment["spec"]  # PostgreSQL: rolling updates (each audit still runs once)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "registry.example.com/auditor:1.2.3"
    assert container["args"][-2:] == ["--workers", "2"]
    env = env_of(pod)
    assert env["AUDITOR_DATABASE_URL"] == {"secretKeyRef": {"name": "auditor-db", "key": "url"}}
    assert env["AUDITOR_REPORTS__WEBHOOK_URL"] == {"secretKeyRef": {"name": "auditor-webhook", "key": "webhook-url"}}
    assert env["AUDITOR_AWS__MAX_CONCURRENCY"] == "2"
    assert container["envFrom"] == [{"secretRef": {"name": "auditor-extra"}}]
    assert one(objects, "ServiceAccount")["metadata"]["annotations"] == {
        "example.com/team": "platform", "eks.amazonaws.com/role-arn": ROLE_ARN,
    }  # fmt: skip
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": "auditor-data"}}
    assert pod["nodeSelector"] == CUSTOM["nodeSelector"] and pod["tolerations"] == CUSTOM["tolerations"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["example.com/scrape"] == "false"
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert endpoint["authorization"] == {"type": "Bearer", "credentials": {"name": "auditor-scrape", "key": "token"}}
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["ingress"] == [
        {"ports": [{"port": "http", "protocol": "TCP"}], "from": CUSTOM["networkPolicy"]["ingressFrom"]}
    ]
    assert policy["egress"][-1] == {"ports": [{"port": 8443, "protocol": "TCP"}]}
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 443, 5432, 8443}
    targets_file = tmp_path / "targets.yaml"
    targets_file.write_text(one(objects, "ConfigMap", f"{FULLNAME}-targets")["data"]["targets.yaml"])
    assert [t.name for t in load_targets(targets_file)] == ["prod", "shared-account"]
    # a changed targets file rolls the pods (they read it at start)
    changed = copy.deepcopy(CUSTOM)
    changed["targets"][0]["schedule"] = "6 * * * *"
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/targets"]
    assert (
        one(render(changed), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/targets"]
        != checksum
    )


def test_cronjob_mode_runs_one_shot_audits() -> None:
    objects = render(CRONJOB)
    kinds = {o["kind"] for o in objects}
    assert "CronJob" in kinds and not kinds & {"Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor"}
    cronjob = one(objects, "CronJob")
    assert cronjob["spec"]["schedule"] == "0 6 * * *" and cronjob["spec"]["timeZone"] == "Europe/Paris"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job = cronjob["spec"]["jobTemplate"]["spec"]
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and job["backoffLimit"] == 0
    container = pod["containers"][0]
    assert container["args"] == [
        "audit",
        "--config",
        "/etc/auditor/targets.yaml",
        "--output",
        "json",
        "--fail-on",
        "high",
    ]
    assert "ports" not in container and "readinessProbe" not in container
    assert one(objects, "NetworkPolicy")["spec"]["ingress"] == []  # nothing listens
    # Pod Identity: the role is associated on the AWS side, not annotated; the agent on the node is reachable
    assert "annotations" not in one(objects, "ServiceAccount")["metadata"]
    egress = one(objects, "NetworkPolicy")["spec"]["egress"]
    agent = [rule for rule in egress if {"ipBlock": {"cidr": "169.254.170.23/32"}} in rule.get("to", [])]
    assert agent and agent[0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert not any("to" in rule for rule in one(render({}), "NetworkPolicy")["spec"]["egress"])  # IRSA: no agent


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "replicaCount > 1 needs PostgreSQL"),
        ({"mode": "daemon"}, "at '/mode': value must be one of 'service', 'cronjob'"),
        ({"serviceAccount": {"awsIdentity": "keys"}}, "at '/serviceAccount/awsIdentity': value must be one of"),
        ({"replicas": 2}, "additional properties 'replicas' not allowed"),  # a typo of replicaCount
        ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
        ({"aws": {"roleArn": "eks-exposure-auditor"}}, "at '/aws/roleArn'"),
        ({"serviceMonitor": {"enabled": True}}, "serviceMonitor.enabled needs serviceMonitor.tokenSecret.name"),
    ],
)
def test_inconsistent_values_fail_with_the_reason(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmError, match=message):
        render(values)


def test_schema_covers_every_value() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    assert sorted(schema["properties"]) == sorted(values)
    for key, value in values.items():
        nested = schema["properties"][key]
        if isinstance(value, dict) and nested.get("additionalProperties") is False:
            assert sorted(nested["properties"]) == sorted(value), key


def test_app_version_is_the_package_version() -> None:
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"] == version


# ---------------------------------------------------------------------- applied to the API server

SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {"plural": "servicemonitors", "singular": "servicemonitor", "kind": "ServiceMonitor",
                  "listKind": "ServiceMonitorList"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
    },
}  # fmt: skip


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_objects_apply_to_the_api_server(kube: KubeApiServer, variant: str) -> None:
    kube.seed(SERVICE_MONITOR_CRD)  # the Prometheus operator's CRD, as on a cluster that has it
    kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    client = KubeClient.from_kubeconfig(kube.kubeconfig)
    objects = render(VARIANTS[variant])
    for obj in objects:
        client.apply(obj)  # what install-alb does: server-side apply, field manager "auditor"
    for obj in objects:
        meta = obj["metadata"]
        stored = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
        assert stored is not None, f"{obj['kind']} {meta['name']}"
        assert contains(stored, obj), f"{obj['kind']} {meta['name']} reads back different"
    # a second apply of the same chart is a no-op on the server (what makes a re-run "0 to change")
    versions = [
        client.get(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects
    ]
    for obj in objects:
        client.apply(obj)
    assert [
        client.get(o["apiVersion"], o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects
    ] == versions
    stored_kinds = sorted(o["kind"] for o in objects)
    assert stored_kinds == sorted(
        o["kind"]
        for rt in kube.resource_types()
        for o in kube.objects(f"{rt.plural}.{rt.group}" if rt.group else rt.plural)
        if (o["metadata"].get("labels") or {}).get("app.kubernetes.io/instance") == RELEASE
    )


# ---------------------------------------------------------------------- the README's values table


def readme_values_table() -> dict[str, str]:
    """`value` -> default cell of the README's chart values table."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Run it in a cluster with Helm", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            rows[cells[0].strip("`")] = cells[1]
    return rows


def _leaves(values: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths of values.yaml down to scalars, lists and empty maps."""
    if isinstance(values, dict) and values and prefix not in ("podSecurityContext", "securityContext", "resources"):
        found: dict[str, Any] = {}
        for key, value in values.items():
            found.update(_leaves(value, f"{prefix}.{key}" if prefix else key))
        return found
    return {prefix: values}


def test_readme_documents_every_value_with_its_default() -> None:
    defaults = _leaves(yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8")))
    table = readme_values_table()
    assert sorted(table) == sorted(defaults), "README values table and values.yaml list different keys"
    for key, cell in table.items():
        if cell == "see values.yaml":
            assert isinstance(defaults[key], list | dict) and defaults[key], key
            continue
        documented = yaml.safe_load(cell.strip("`")) if cell != '`""`' else ""
        assert documented == defaults[key], f"{key}: README says {cell}, values.yaml has {defaults[key]!r}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_server_side_applies_the_rendered_chart(kube: KubeApiServer, tmp_path: Path) -> None:
    """`helm template … | kubectl apply --server-side -f -` works, is idempotent and reports no diff after."""
    kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(render(CUSTOM | {"serviceMonitor": {"enabled": False}})))

    def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
        argv = ["kubectl", "--kubeconfig", str(kube.kubeconfig), *args]
        return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)

    for _ in range(2):
        applied = kubectl("apply", "--server-side", "-f", str(manifest))
        assert applied.returncode == 0, applied.stderr
        assert f"deployment.apps/{FULLNAME} serverside-applied" in applied.stdout
    diff = kubectl("diff", "--server-side", "-f", str(manifest))
    assert diff.returncode == 0, diff.stdout + diff.stderr
    deployment = kube.get_object("Deployment", FULLNAME, NAMESPACE)
    assert [(e["manager"], e["operation"]) for e in deployment["metadata"]["managedFields"]] == [("kubectl", "Apply")]
    assert deployment["spec"]["replicas"] == 3
