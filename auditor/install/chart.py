"""Where the controller's chart comes from and how it is installed: the ``helm`` binary or a local chart.

Two backends behind one interface:
- ``HelmBinary``: ``helm upgrade --install`` from the official repository (https://aws.github.io/eks-charts)
  or a chart directory, chart version pinned per controller version.
- ``LocalChart``: a chart directory rendered offline with the Helm library (``helm-python-sdk``),
  every object server-side applied through the Kubernetes API (field manager ``auditor``), labelled
  as managed by the auditor with its release, so it never touches objects it did not create and
  prunes only its own objects a newer chart dropped. For air-gapped clusters and for tests.

CRDs are applied by the installer from the chart's ``crds/`` in both cases: ``helm upgrade`` skips them.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Protocol

import yaml

from auditor.errors import ConfigError, InstallError
from auditor.install.kube import (
    CHART_ANNOTATION,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    RELEASE_ANNOTATION,
)
from auditor.install.model import CHART_NAME, CHART_REPOSITORY, HelmReleaseInfo, JsonObj

log = logging.getLogger(__name__)

# Helm's install order (pkg/release/util/kind_sorter.go), trimmed to kinds a controller chart renders.
INSTALL_ORDER = (
    "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
    "ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
    "PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList",
    "ClusterRoleBinding", "ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList",
    "Service", "DaemonSet", "Pod", "ReplicationController", "ReplicaSet", "Deployment",
    "HorizontalPodAutoscaler", "StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
)  # fmt: skip


def parse_manifests(text: str) -> list[JsonObj]:
    """Every object of a multi-document YAML stream (empty documents and ``List`` wrappers handled)."""
    found: list[JsonObj] = []
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict) or not doc:
            continue
        if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
            found.extend(item for item in doc["items"] if isinstance(item, dict))
        else:
            found.append(doc)
    return found


def install_order(objects: list[JsonObj]) -> list[JsonObj]:
    def key(obj: JsonObj) -> tuple[int, str, str]:
        kind = str(obj.get("kind"))
        rank = INSTALL_ORDER.index(kind) if kind in INSTALL_ORDER else len(INSTALL_ORDER)
        meta = obj.get("metadata") or {}
        return rank, str(meta.get("namespace") or ""), str(meta.get("name"))

    return sorted(objects, key=key)


def mark_ours(obj: JsonObj, *, release: str, chart: str) -> JsonObj:
    """The object as the installer writes it: managed-by label and release/chart annotations."""
    marked = copy.deepcopy(obj)
    meta = marked.setdefault("metadata", {})
    meta.setdefault("labels", {})[MANAGED_BY_LABEL] = MANAGED_BY_VALUE
    annotations = meta.setdefault("annotations", {})
    annotations[RELEASE_ANNOTATION] = release
    annotations[CHART_ANNOTATION] = chart
    return marked


def chart_values(
    *, cluster_name: str, region: str, vpc_id: str | None, service_account: str, controller_version: str
) -> JsonObj:
    """The values every install sets (facts §7): the service account is ours, not the chart's."""
    values: JsonObj = {
        "clusterName": cluster_name,
        "region": region,
        "serviceAccount": {"create": False, "name": service_account},
        "image": {"tag": controller_version},
    }
    if vpc_id:
        values["vpcId"] = vpc_id
    return values


class ChartBackend(Protocol):
    """How the chart is read and installed."""

    name: str  # "helm" | "local"

    def describe(self) -> str: ...

    def chart_version(self) -> str: ...

    def crds(self) -> list[JsonObj]: ...

    def render(self, values: JsonObj, *, release: str, namespace: str) -> list[JsonObj]:
        """The objects the chart would create (local backend only; helm renders server-side)."""
        ...

    def release(self, *, release: str, namespace: str) -> HelmReleaseInfo | None: ...

    def upgrade_install(self, values: JsonObj, *, release: str, namespace: str) -> str: ...


class LocalChart:
    """A chart directory rendered with the Helm library; objects are applied by the installer."""

    name = "local"

    def __init__(self, directory: Path, *, expected_version: str | None = None) -> None:
        try:
            from helm_python import Chart, HelmError
        except ImportError as exc:  # an optional dependency: pip install eks-exposure-auditor[helm]
            raise ConfigError("--chart-dir needs the Helm library: pip install 'eks-exposure-auditor[helm]'") from exc
        if not (directory / "Chart.yaml").is_file():
            raise ConfigError(f"{directory} is not a chart directory (no Chart.yaml)")
        try:
            self._chart: Any = Chart.load(directory)
        except HelmError as exc:
            raise ConfigError(f"cannot load chart {directory}: {exc}") from exc
        self.directory = directory
        if self._chart.name != CHART_NAME:
            raise ConfigError(f"{directory} holds chart {self._chart.name!r}, not {CHART_NAME!r}")
        if expected_version and expected_version != self._chart.version:
            raise ConfigError(
                f"{directory} holds chart version {self._chart.version}, not the requested {expected_version}"
            )

    def describe(self) -> str:
        return f"local chart {self.directory} (version {self._chart.version})"

    def chart_version(self) -> str:
        return str(self._chart.version)

    def crds(self) -> list[JsonObj]:
        found: list[JsonObj] = []
        for crd in self._chart.crds:
            found.extend(parse_manifests(crd["data"]))
        return found

    def render(self, values: JsonObj, *, release: str, namespace: str) -> list[JsonObj]:
        from helm_python import HelmError

        try:
            rendered: dict[str, str] = self._chart.render(values, name=release, namespace=namespace, is_install=True)
        except HelmError as exc:
            raise InstallError(f"rendering {self.describe()} failed: {exc}") from exc
        objects: list[JsonObj] = []
        for path in sorted(rendered):
            if path.endswith((".yaml", ".yml")) and "/templates/tests/" not in path:
                objects.extend(parse_manifests(rendered[path]))
        return install_order(objects)

    def release(self, *, release: str, namespace: str) -> HelmReleaseInfo | None:
        return None  # the installer tracks a local chart through its objects, not a Helm release record

    def upgrade_install(self, values: JsonObj, *, release: str, namespace: str) -> str:
        raise InstallError("the local chart is applied object by object, not with helm")


class HelmBinary:
    """The ``helm`` command on PATH, installing from the official repository (or a chart directory)."""

    name = "helm"

    def __init__(
        self, chart_version: str, *, helm: str | None = None, repo: str = CHART_REPOSITORY, timeout: float = 300.0
    ) -> None:
        found = helm or shutil.which("helm")
        if not found:
            raise ConfigError("helm is not on PATH: install helm, or pass --chart-dir with a local chart")
        self.helm = found
        self.repo = repo
        self.version = chart_version
        self.timeout = timeout

    def describe(self) -> str:
        return f"{CHART_NAME} {self.version} from {self.repo} (helm)"

    def chart_version(self) -> str:
        return self.version

    def _run(self, *args: str) -> str:
        argv = [self.helm, *args]
        log.debug("running %s", " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"helm {args[0]} failed: {exc}") from exc
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().splitlines()
            raise InstallError(f"helm {args[0]} failed: {message[-1] if message else f'exit {done.returncode}'}")
        return done.stdout

    def crds(self) -> list[JsonObj]:
        return parse_manifests(self._run("show", "crds", CHART_NAME, "--repo", self.repo, "--version", self.version))

    def render(self, values: JsonObj, *, release: str, namespace: str) -> list[JsonObj]:
        raise InstallError("the helm backend installs the chart with helm, not object by object")

    def release(self, *, release: str, namespace: str) -> HelmReleaseInfo | None:
        listed = json.loads(self._run("list", "-n", namespace, "--filter", f"^{release}$", "-o", "json") or "[]")
        if not listed:
            return None
        entry = listed[0]
        chart = str(entry.get("chart", ""))
        values = json.loads(self._run("get", "values", release, "-n", namespace, "-o", "json") or "{}") or {}
        return HelmReleaseInfo(
            chart_version=chart.removeprefix(f"{CHART_NAME}-"),
            app_version=str(entry.get("app_version", "")),
            status=str(entry.get("status", "")),
            values=values,
        )

    def upgrade_install(self, values: JsonObj, *, release: str, namespace: str) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(values, handle)
            values_file = handle.name
        try:
            self._run(
                "upgrade", "--install", release, CHART_NAME, "--repo", self.repo, "--version", self.version,
                "--namespace", namespace, "--values", values_file, "--skip-crds",
            )  # fmt: skip
        finally:
            Path(values_file).unlink(missing_ok=True)
        return f"helm release {namespace}/{release} at chart {self.version}"
