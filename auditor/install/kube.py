"""The installer's Kubernetes access: the official client's DynamicClient with API discovery and server-side apply.

Rendered chart objects of any kind are read, applied and deleted without one typed API class per
kind: discovery (``/api``, ``/apis``, per group/version resource lists; refreshed when a kind is
unknown, e.g. a CRD applied a moment ago) finds each kind's resource, and writes are server-side
apply with the field manager ``auditor`` (https://kubernetes.io/docs/reference/using-api/server-side-apply/):
the API server merges what the installer sends, owns those fields for it, and removes the fields it
stops sending. Its declared rights are ``INSTALL_RBAC_RULES``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError, ResourceNotUniqueError

from auditor.collect.kube import KUBECONFIG_ERRORS, RbacRule
from auditor.errors import ConfigError, TargetUnreachable

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

# What the installer writes on every object it creates, and how it recognises its own objects.
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "eks-exposure-auditor"
RELEASE_ANNOTATION = "eks-exposure-auditor/release"
CHART_ANNOTATION = "eks-exposure-auditor/chart"
# The field manager of every server-side apply: the fields the installer set are recorded under it.
FIELD_MANAGER = "auditor"

# ------------------------------------------------------------------ RBAC declaration

# The kinds install-alb writes: the controller chart's objects (the eks-charts chart renders these; a
# PodDisruptionBudget when replicaCount > 1) and its ServiceAccount, as (apiVersion, kind, plural). The same list
# says which objects a newer chart may have dropped: the installer prunes its own objects of these kinds.
CHART_KINDS: tuple[tuple[str, str, str], ...] = (
    ("v1", "ServiceAccount", "serviceaccounts"),
    ("v1", "Service", "services"),
    ("v1", "Secret", "secrets"),  # the webhook's TLS certificate
    ("apps/v1", "Deployment", "deployments"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings"),
    ("rbac.authorization.k8s.io/v1", "Role", "roles"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    ("networking.k8s.io/v1", "IngressClass", "ingressclasses"),
    ("elbv2.k8s.aws/v1beta1", "IngressClassParams", "ingressclassparams"),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
)
# read, apply (server-side apply is a PATCH that may create), list and delete (pruning)
_OBJECT_VERBS = ("get", "list", "create", "patch", "delete")


def _kind_rules() -> tuple[RbacRule, ...]:
    groups: dict[str, list[str]] = {}
    for api_version, _, plural in CHART_KINDS:
        groups.setdefault(api_version.rpartition("/")[0], []).append(plural)
    return tuple(
        RbacRule(api_groups=(g,), resources=tuple(plurals), verbs=_OBJECT_VERBS) for g, plurals in groups.items()
    )


# What `auditor install-alb` may do in the cluster, on top of the audit's read-only RBAC_RULES (its verify
# step runs the audit). Write access by design: it is granted only where install-alb runs.
INSTALL_RBAC_RULES: tuple[RbacRule, ...] = (
    *_kind_rules(),
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
    RbacRule(non_resource_urls=("/version", "/api", "/api/*", "/apis", "/apis/*"), verbs=("get",)),
)


class KubeApiError(Exception):
    """A Kubernetes API call answered with an error status (or did not answer: status 0)."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        where = " ".join(part for part in (method, path) if part)
        super().__init__(f"{where}: HTTP {status}: {message}" if where else f"HTTP {status}: {message}")
        self.status = status
        self.reason_message = message


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


T = TypeVar("T")


def _status_message(exc: DynamicApiError) -> str:
    """The API server's one-line message from a Status body (else the HTTP reason)."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        body = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
        return str(json.loads(str(body)).get("message") or exc.reason)
    return str(exc.reason or f"HTTP {exc.status}")


class KubeClient:
    """Generic object access through one kubeconfig context (DynamicClient, discovery on first use)."""

    def __init__(self, api: ApiClient, *, request_timeout: float = 30.0) -> None:
        self.api = api
        self.request_timeout = request_timeout
        self._dynamic: DynamicClient | None = None
        # The discovery cache is this client's own (the library's default file in /tmp is shared by every
        # process talking to the same URL, and outlives the resources it lists).
        self._cache_dir = tempfile.mkdtemp(prefix="auditor-discovery-")
        weakref.finalize(self, shutil.rmtree, self._cache_dir, ignore_errors=True)

    @classmethod
    def from_kubeconfig(
        cls, kubeconfig: Path | None = None, context: str | None = None, *, request_timeout: float = 30.0
    ) -> KubeClient:
        """A client for a kubeconfig file/context (None = KUBECONFIG or ~/.kube/config, current context)."""
        try:
            api = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
                config_file=str(kubeconfig) if kubeconfig else None, context=context, persist_config=False
            )
        except UnicodeDecodeError as exc:  # the client opens the file as UTF-8 text
            raise ConfigError(
                f"cannot load kubeconfig {kubeconfig or ''}: not UTF-8 text: byte at offset {exc.start} ({exc.reason})"
            ) from exc
        except KUBECONFIG_ERRORS as exc:
            where = f" context {context!r}" if context else ""
            raise ConfigError(f"cannot load kubeconfig{where}: {' '.join(str(exc).split())}") from exc
        return cls(api, request_timeout=request_timeout)

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one client call; API errors become KubeApiError, transport errors TargetUnreachable."""
        try:
            return call()
        except DynamicApiError as exc:
            raise KubeApiError(int(exc.status or 0), _status_message(exc), method=what) from exc
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise TargetUnreachable(f"Kubernetes API not reachable ({what}): {exc}") from exc

    @property
    def dynamic(self) -> DynamicClient:
        if self._dynamic is None:
            cache = str(Path(self._cache_dir) / "discovery.json")
            self._dynamic = self._call("discovery", lambda: DynamicClient(self.api, cache_file=cache))  # type: ignore[no-untyped-call]
        return self._dynamic

    # ------------------------------------------------------------------ discovery

    def resource(self, api_version: str, kind: str) -> Any:
        """The discovered resource of ``apiVersion`` + ``kind``; KubeApiError 404 when the server does not serve it."""
        try:
            return self._call(
                f"discovery of {kind} {api_version}",
                lambda: self.dynamic.resources.get(api_version=api_version, kind=kind),
            )
        except (ResourceNotFoundError, ResourceNotUniqueError) as exc:
            raise KubeApiError(404, f"the server does not serve {kind} in {api_version}") from exc

    def namespace_of(self, resource: Any, obj: JsonObj) -> str | None:
        return (obj.get("metadata") or {}).get("namespace") if resource.namespaced else None

    # ------------------------------------------------------------------ objects

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> JsonObj | None:
        """The object, or None when it (or its kind) does not exist."""
        try:
            res = self.resource(api_version, kind)
            found = self._call(
                f"GET {kind} {name}",
                lambda: res.get(
                    name=name, namespace=namespace if res.namespaced else None, _request_timeout=self.request_timeout
                ),
            )
        except KubeApiError as exc:
            if exc.status == 404:
                return None
            raise
        obj: JsonObj = found.to_dict()
        return obj

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
        return list(self._pages(res, api_version, kind, namespace if res.namespaced else None, label_selector))

    def _pages(
        self, res: Any, api_version: str, kind: str, namespace: str | None, label_selector: str | None
    ) -> Iterator[JsonObj]:
        token: str | None = None
        while True:
            page = self._call(
                f"LIST {kind}",
                lambda token=token: res.get(  # type: ignore[misc]
                    namespace=namespace,
                    label_selector=label_selector,
                    limit=500,
                    _continue=token,
                    _request_timeout=self.request_timeout,
                ),
            ).to_dict()
            for item in page.get("items") or []:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return

    def apply(self, obj: JsonObj) -> JsonObj:
        """Server-side apply of the object as field manager ``auditor``, taking over fields others changed
        (``force``: the installer repairs drift on the objects it manages)."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        applied = self._call(
            f"APPLY {object_ref(obj)}",
            lambda: self.dynamic.server_side_apply(  # type: ignore[no-untyped-call]
                res,
                body=obj,
                namespace=self.namespace_of(res, obj),
                field_manager=FIELD_MANAGER,
                force_conflicts=True,
                _request_timeout=self.request_timeout,
            ),
        )
        result: JsonObj = applied.to_dict()
        return result

    def delete(self, obj: JsonObj) -> None:
        """Delete the object (gone already is fine)."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata") or {}
        try:
            self._call(
                f"DELETE {object_ref(obj)}",
                lambda: res.delete(
                    name=meta["name"], namespace=self.namespace_of(res, obj), _request_timeout=self.request_timeout
                ),
            )
        except KubeApiError as exc:
            if exc.status != 404:
                raise
