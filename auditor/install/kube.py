"""A small generic Kubernetes REST client for the installer: get / list / create / merge-patch any object.

Built on the official client's ``ApiClient`` (kubeconfig context, auth, TLS) so rendered chart
objects of any kind can be applied without one typed API class per kind; resource paths come from
API discovery (``/api/v1``, ``/apis/<group>/<version>``), cached per client and refreshed once when
a kind is unknown (a CRD applied a moment ago).
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from auditor.collect.kube import RbacRule
from auditor.errors import ConfigError, TargetUnreachable

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

# What the installer writes on every object it creates, and how it recognises its own objects.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "eks-exposure-auditor"
RELEASE_ANNOTATION = "eks-exposure-auditor/release"
CHART_ANNOTATION = "eks-exposure-auditor/chart"

# ------------------------------------------------------------------ RBAC declaration

# The kinds install-alb writes: the controller chart's objects (the eks-charts chart renders these; a
# PodDisruptionBudget when replicaCount > 1), its ServiceAccount, and the chart's CRDs. (group, plural).
CHART_KINDS: tuple[tuple[str, str], ...] = (
    ("", "serviceaccounts"),
    ("", "services"),
    ("", "secrets"),  # the webhook's TLS certificate
    ("apps", "deployments"),
    ("rbac.authorization.k8s.io", "clusterroles"),
    ("rbac.authorization.k8s.io", "clusterrolebindings"),
    ("rbac.authorization.k8s.io", "roles"),
    ("rbac.authorization.k8s.io", "rolebindings"),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
    ("networking.k8s.io", "ingressclasses"),
    ("elbv2.k8s.aws", "ingressclassparams"),
    ("policy", "poddisruptionbudgets"),
)
_OBJECT_VERBS = ("get", "create", "patch")


def _kind_rules() -> tuple[RbacRule, ...]:
    groups: dict[str, list[str]] = {}
    for group, plural in CHART_KINDS:
        groups.setdefault(group, []).append(plural)
    return tuple(
        RbacRule(api_groups=(g,), resources=tuple(plurals), verbs=_OBJECT_VERBS) for g, plurals in groups.items()
    )


# What `auditor install-alb` may do in the cluster, on top of the audit's read-only RBAC_RULES (its verify
# step runs the audit). Write access by design: it is granted only where install-alb runs.
INSTALL_RBAC_RULES: tuple[RbacRule, ...] = (
    *_kind_rules(),
    # discovery finds controllers installed by any means by their label, in every namespace
    RbacRule(api_groups=("apps",), resources=("deployments",), verbs=("list",)),
    # CRDs are created and upgraded, never deleted (that would delete every custom resource; Helm does not either).
    RbacRule(
        api_groups=("apiextensions.k8s.io",), resources=("customresourcedefinitions",), verbs=("get", "create", "patch")
    ),
    # The controller's roles grant rights the installer may not hold itself; creating them needs `escalate`
    # and binding them `bind` (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#privilege-escalation-prevention-and-bootstrapping).
    RbacRule(
        api_groups=("rbac.authorization.k8s.io",), resources=("clusterroles", "roles"), verbs=("bind", "escalate")
    ),
    # API discovery: which resources each group/version serves.
    RbacRule(non_resource_urls=("/api", "/api/*", "/apis", "/apis/*"), verbs=("get",)),
)


class KubeApiError(Exception):
    """A Kubernetes API call answered with an error status (or did not answer: status 0)."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path}: HTTP {status}: {message}" if method else f"HTTP {status}: {message}")
        self.status = status
        self.reason_message = message


@dataclass(frozen=True)
class Resource:
    """Where objects of one kind live: ``/apis/<group>/<version>/[namespaces/<ns>/]<plural>``."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        if self.namespaced and namespace:  # no namespace: every namespace (lists only)
            base += f"/namespaces/{namespace}"
        elif self.namespaced and name:
            raise ValueError(f"{self.kind} is namespaced: a namespace is required")
        base += f"/{self.plural}"
        return f"{base}/{name}" if name else base


def owned_by_us(obj: JsonObj) -> bool:
    """True when the installer created the object (its managed-by label)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def helm_release_of(obj: JsonObj) -> str | None:
    """``namespace/name`` of the Helm release that manages the object, or None."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    if labels.get(MANAGED_BY_LABEL) != "Helm" or "meta.helm.sh/release-name" not in annotations:
        return None
    return f"{annotations.get('meta.helm.sh/release-namespace', '')}/{annotations['meta.helm.sh/release-name']}"


def object_ref(obj: JsonObj) -> str:
    """``Kind namespace/name`` (or ``Kind name`` for cluster-scoped objects), as logs and plans print it."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{obj.get('kind')} {namespace}/{meta.get('name')}" if namespace else f"{obj.get('kind')} {meta.get('name')}"


class KubeClient:
    """Generic object access through one kubeconfig context."""

    def __init__(self, api: ApiClient, *, request_timeout: float = 30.0) -> None:
        self.api = api
        self.request_timeout = request_timeout
        self._resources: dict[str, list[Resource]] = {}

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: Path | None = None, context: str | None = None, *, request_timeout: float = 30.0
    ) -> KubeClient:
        """A client for a kubeconfig file/context (None = KUBECONFIG or ~/.kube/config, current context)."""
        try:
            api = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
            )
        except (ConfigException, OSError) as exc:
            raise ConfigError(f"cannot load kubeconfig{f' context {context!r}' if context else ''}: {exc}") from exc
        return cls(api, request_timeout=request_timeout)

    # ------------------------------------------------------------------ raw calls

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> JsonObj:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        method_, url, header_params, body_, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()) or None,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(
                method_, url, header_params=header_params, body=body_, _request_timeout=self.request_timeout
            )
            raw = response.read()  # type: ignore[no-untyped-call]
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TargetUnreachable(f"Kubernetes API not reachable ({method} {path}): {exc}") from exc
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
        if response.status >= 400:
            message = text[:300]
            with contextlib.suppress(ValueError, AttributeError):
                message = str(json.loads(text).get("message") or message)
            raise KubeApiError(response.status, message, method=method, path=path)
        parsed: JsonObj = json.loads(text) if text else {}
        return parsed

    # ------------------------------------------------------------------ discovery

    def _group_resources(self, api_version: str, *, refresh: bool = False) -> list[Resource]:
        if refresh or api_version not in self._resources:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            try:
                listed = self.request("GET", path)
            except KubeApiError as exc:
                if exc.status != 404:
                    raise
                listed = {"resources": []}
            self._resources[api_version] = [
                Resource(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                for r in listed.get("resources", [])
                if "/" not in r.get("name", "")  # subresources such as deployments/status
            ]
        return self._resources[api_version]

    def resource(self, api_version: str, kind: str) -> Resource:
        """The resource for ``apiVersion`` + ``kind``; KubeApiError 404 when the server does not serve it."""
        for refresh in (False, True):
            for res in self._group_resources(api_version, refresh=refresh):
                if res.kind == kind:
                    return res
        raise KubeApiError(404, f"the server does not serve {kind} in {api_version}")

    # ------------------------------------------------------------------ objects

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> JsonObj | None:
        """The object, or None when it (or its kind) does not exist."""
        try:
            res = self.resource(api_version, kind)
            return self.request("GET", res.path(namespace if res.namespaced else None, name))
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None
    ) -> list[JsonObj]:
        """Every object of a kind (paged with limit + continue); [] when the kind is not served."""
        try:
            res = self.resource(api_version, kind)
        except KubeApiError as exc:
            if exc.status == 404:
                return []
            raise
        items: list[JsonObj] = []
        query: dict[str, str] = {"limit": "500"}
        if label_selector:
            query["labelSelector"] = label_selector
        while True:
            page = self.request("GET", res.path(namespace if res.namespaced else None), query=query)
            for item in page.get("items", []):
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def create(self, obj: JsonObj) -> JsonObj:
        res = self.resource(obj["apiVersion"], obj["kind"])
        namespace = (obj.get("metadata") or {}).get("namespace") if res.namespaced else None
        return self.request("POST", res.path(namespace), body=obj)

    def merge_patch(self, obj: JsonObj) -> JsonObj:
        """Patch the object to the given content (JSON merge patch of the full desired object)."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") if res.namespaced else None
        return self.request(
            "PATCH", res.path(namespace, meta["name"]), body=obj, content_type="application/merge-patch+json"
        )
