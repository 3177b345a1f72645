"""Kubernetes collection: Services, Ingresses, classes, the LB controller and its custom resources, the Gateway API,
and NetworkPolicy with what it applies to (namespaces, the pods behind exposed Services, the pod network, the nodes'
addresses).

Reads through the official client (kubeconfig context or in-cluster service account), every list
paged with ``limit`` + ``continue`` and read whole before any of it is used (a continue token that expires, HTTP
410, starts the list over from its first page, at most ``LIST_RESTARTS`` times; a request the server does not answer
within the timeout is asked once more, then costs only what it reads); custom resources (the Gateway API,
the controller's gateway.k8s.aws objects) at the version the server prefers for each, found through API discovery.
What the collector may call is declared in ``RBAC_RULES``; ``deploy/rbac.yaml`` is generated from it
(``python -m auditor.collect.kube rbac``) and a test fails when the collector makes a request the rules do not cover.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config import kube_config as kube_config_module
from kubernetes.config.config_exception import ConfigException
from urllib3.connectionpool import ConnectionPool
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from auditor.cancel import CancelCheck, never_cancelled, stop_if_cancelled
from auditor.config import Settings, TargetConfig
from auditor.errors import AuditorError, CollectionError, ConfigError, PermissionDenied, TargetUnreachable
from auditor.inventory.facets import Facet, facets_of
from auditor.inventory.ingress_controllers import (
    CONFIG_KEYS,
    InClusterImplementation,
    implementation_of_image,
    implementation_of_labels,
)
from auditor.inventory.models import (
    ContainerPort,
    ControllerDeployment,
    Coverage,
    CoverageStatus,
    DaemonSetContainer,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    FacetCoverage,
    Gateway,
    GatewayClass,
    GatewayConfiguration,
    GatewayListener,
    GatewayParametersRef,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressClassParametersRef,
    IngressClassParams,
    IngressControllerConfig,
    IngressControllerWorkload,
    IngressPath,
    IngressRule,
    IngressTls,
    KubeInventory,
    LoadBalancerIngress,
    Namespace,
    NetworkDaemonSet,
    NetworkPolicy,
    Node,
    Pod,
    ReferenceGrant,
    ReferenceGrantFrom,
    ReferenceGrantTo,
    Route,
    RouteBackendRef,
    RouteParentRef,
    RouteRedirect,
    RouteRule,
    Service,
    ServiceAccount,
    ServicePort,
    TargetGroupBinding,
)
from auditor.progress import ProgressEvent, ProgressFn, no_progress

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

LBC_IMAGE = "aws-load-balancer-controller"
LBC_NAME_LABEL = ("app.kubernetes.io/name", "aws-load-balancer-controller")
LBC_DEFAULT_SERVICE_ACCOUNT = ("kube-system", "aws-load-balancer-controller")
LBC_GROUP = "elbv2.k8s.aws"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
GATEWAY_GROUP = "gateway.networking.k8s.io"  # the Gateway API
LBC_GATEWAY_GROUP = "gateway.k8s.aws"  # the controller's Gateway configuration objects (facts §10)


@dataclass(frozen=True)
class _CustomResource:
    """A resource of an optional API group: read at the version the server prefers, ``absent`` when not served."""

    group: str
    plural: str
    kind: str
    facet: Facet


# Gateway API and the controller's gateway.k8s.aws objects, in the order they are read.
GATEWAY_RESOURCES: tuple[_CustomResource, ...] = (
    _CustomResource(GATEWAY_GROUP, "gatewayclasses", "GatewayClass", Facet.KUBE_GATEWAY_CLASSES),
    _CustomResource(GATEWAY_GROUP, "gateways", "Gateway", Facet.KUBE_GATEWAYS),
    _CustomResource(GATEWAY_GROUP, "httproutes", "HTTPRoute", Facet.KUBE_HTTP_ROUTES),
    _CustomResource(GATEWAY_GROUP, "grpcroutes", "GRPCRoute", Facet.KUBE_GRPC_ROUTES),
    _CustomResource(GATEWAY_GROUP, "tcproutes", "TCPRoute", Facet.KUBE_TCP_ROUTES),
    _CustomResource(GATEWAY_GROUP, "udproutes", "UDPRoute", Facet.KUBE_UDP_ROUTES),
    _CustomResource(GATEWAY_GROUP, "tlsroutes", "TLSRoute", Facet.KUBE_TLS_ROUTES),
    _CustomResource(GATEWAY_GROUP, "referencegrants", "ReferenceGrant", Facet.KUBE_REFERENCE_GRANTS),
    _CustomResource(
        LBC_GATEWAY_GROUP,
        "loadbalancerconfigurations",
        "LoadBalancerConfiguration",
        Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
    ),
    _CustomResource(
        LBC_GATEWAY_GROUP,
        "targetgroupconfigurations",
        "TargetGroupConfiguration",
        Facet.KUBE_TARGET_GROUP_CONFIGURATIONS,
    ),
    _CustomResource(
        LBC_GATEWAY_GROUP,
        "listenerruleconfigurations",
        "ListenerRuleConfiguration",
        Facet.KUBE_LISTENER_RULE_CONFIGURATIONS,
    ),
)

# The controller's elbv2.k8s.aws objects: read at the version discovery finds serving each, as its CRDs have served
# several (TargetGroupBinding v1alpha1 until controller v2.2, then v1beta1 as well).
LBC_RESOURCES: tuple[_CustomResource, ...] = (
    _CustomResource(LBC_GROUP, "ingressclassparams", "IngressClassParams", Facet.KUBE_INGRESS_CLASS_PARAMS),
    _CustomResource(LBC_GROUP, "targetgroupbindings", "TargetGroupBinding", Facet.KUBE_TARGET_GROUP_BINDINGS),
)

# --------------------------------------------------------------------------- RBAC declaration


@dataclass(frozen=True)
class RbacRule:
    """One ClusterRole rule: resources of API groups, or non-resource URLs, and the verbs on them."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    non_resource_urls: tuple[str, ...] = ()

    def as_dict(self) -> JsonObj:
        if self.non_resource_urls:
            return {"nonResourceURLs": list(self.non_resource_urls), "verbs": list(self.verbs)}
        return {"apiGroups": list(self.api_groups), "resources": list(self.resources), "verbs": list(self.verbs)}


# Everything collect_kube requests, and nothing more (read-only; no Secrets, so no certificate held in one; pods
# only in the namespaces of exposed Services, for their labels, IPs and container ports).
RBAC_RULES: tuple[RbacRule, ...] = (
    RbacRule(api_groups=("",), resources=("services",), verbs=("list",)),
    RbacRule(api_groups=("",), resources=("serviceaccounts",), verbs=("get",)),  # the controller's, by name
    RbacRule(api_groups=("networking.k8s.io",), resources=("ingresses", "ingressclasses"), verbs=("list",)),
    RbacRule(api_groups=("discovery.k8s.io",), resources=("endpointslices",), verbs=("list",)),
    RbacRule(api_groups=("apps",), resources=("deployments",), verbs=("list",)),  # finds the controllers
    # The ConfigMap of an in-cluster ingress controller (ingress-nginx's redirect defaults), read by the name its
    # --configmap argument gives. RBAC cannot name it in advance (resourceNames), so the role may get any ConfigMap;
    # the collector reads no other and keeps only the keys it judges by (auditor.inventory.ingress_controllers).
    RbacRule(api_groups=("",), resources=("configmaps",), verbs=("get",)),
    RbacRule(api_groups=(LBC_GROUP,), resources=tuple(r.plural for r in LBC_RESOURCES), verbs=("list",)),
    # NetworkPolicy against load-balancer traffic: the policies, namespace labels (namespaceSelector), the pods
    # behind exposed Services, and the pod network's DaemonSets (whether anything enforces the policies)
    RbacRule(api_groups=("networking.k8s.io",), resources=("networkpolicies",), verbs=("list",)),
    RbacRule(api_groups=("",), resources=("namespaces", "pods"), verbs=("list",)),
    # the nodes' addresses: behind instance targets with externalTrafficPolicy Cluster, pods see traffic from them
    RbacRule(api_groups=("",), resources=("nodes",), verbs=("list",)),
    RbacRule(api_groups=("apps",), resources=("daemonsets",), verbs=("list",)),
    RbacRule(
        api_groups=(GATEWAY_GROUP,),
        resources=tuple(r.plural for r in GATEWAY_RESOURCES if r.group == GATEWAY_GROUP),
        verbs=("list",),
    ),
    RbacRule(
        api_groups=(LBC_GATEWAY_GROUP,),
        resources=tuple(r.plural for r in GATEWAY_RESOURCES if r.group == LBC_GATEWAY_GROUP),
        verbs=("list",),
    ),
    # Server version and API discovery: the group list (which versions of the Gateway API are served, and
    # which one the server prefers) and the resources of each group read (granted to every authenticated user
    # by system:discovery / system:public-info-viewer; declared so the role is self-contained).
    RbacRule(
        non_resource_urls=(
            "/version",
            "/apis",
            f"/apis/{LBC_GROUP}",
            f"/apis/{LBC_GROUP}/*",
            f"/apis/{GATEWAY_GROUP}/*",
            f"/apis/{LBC_GATEWAY_GROUP}/*",
        ),
        verbs=("get",),
    ),
)

RBAC_NAME = "eks-exposure-auditor"
RBAC_NAMESPACE = "eks-exposure-auditor"
_RBAC_LABELS = {"app.kubernetes.io/name": "eks-exposure-auditor", "app.kubernetes.io/component": "auditor"}


def cluster_role() -> JsonObj:
    """The read-only ClusterRole the auditor needs, built from ``RBAC_RULES``."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": RBAC_NAME, "labels": dict(_RBAC_LABELS)},
        "rules": [rule.as_dict() for rule in RBAC_RULES],
    }


def rbac_manifests() -> list[JsonObj]:
    """Namespace, ServiceAccount, ClusterRole and ClusterRoleBinding for running the auditor in the cluster."""
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": RBAC_NAMESPACE, "labels": dict(_RBAC_LABELS)},
    }
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": RBAC_NAME, "namespace": RBAC_NAMESPACE, "labels": dict(_RBAC_LABELS)},
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": RBAC_NAME, "labels": dict(_RBAC_LABELS)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": RBAC_NAME},
        "subjects": [{"kind": "ServiceAccount", "name": RBAC_NAME, "namespace": RBAC_NAMESPACE}],
    }
    return [namespace, service_account, cluster_role(), binding]


def render_rbac() -> str:
    """deploy/rbac.yaml: the generated manifests as one multi-document YAML file."""
    header = (
        "# Generated by `python -m auditor.collect.kube rbac` from RBAC_RULES in auditor/collect/kube.py.\n"
        "# Do not edit by hand; tests/collect/test_kube_rbac.py fails when the two differ.\n"
        "# For AWS access through IRSA, annotate the ServiceAccount with\n"
        "#   eks.amazonaws.com/role-arn: <the role from infra/terraform/auditor-role>\n"
    )
    return header + yaml.safe_dump_all(rbac_manifests(), sort_keys=False, explicit_start=True)


# --------------------------------------------------------------------------- client


# What loading a kubeconfig can raise besides the client's ConfigException, each a bad file rather than a defect: the
# file itself (OSError), text that is not YAML (YAMLError) or not UTF-8 (UnicodeDecodeError, a ValueError), and YAML
# that is not a kubeconfig (a list, a string: ValueError, TypeError, AttributeError). The audit and install-alb.
KUBECONFIG_ERRORS: tuple[type[Exception], ...] = (
    ConfigException,
    OSError,
    yaml.YAMLError,
    ValueError,
    TypeError,
    AttributeError,
)


class _TransportRetry(Retry):
    """urllib3's retries of a request that did not get through, minus a read timeout: that one is raised at once, for
    ``_Reader.get`` to ask again once, logged and counted. urllib3 would ask three more times, silently, each after a
    full timeout -- and the collector's own retry on top would make a stalled request cost eight timeouts."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise error
        return super().increment(method, url, response, error, _pool, _stacktrace)


# urllib3's default, Retry(3) -- three retries of a connection that cannot be opened, one dropped mid-request (a stale
# keep-alive connection), a redirect -- each bounded by itself and without an overall ceiling: the client also reads
# ``total`` as its Retry-After ceiling, which stays client-go's 10 (kubernetes.utils.retry_after_max_retries).
_TRANSPORT_RETRIES = _TransportRetry(total=None, connect=3, read=3, redirect=3, other=3)


def kube_client(target: TargetConfig, settings: Settings) -> client.ApiClient:
    """An API client for the target's cluster: in-cluster service account, or a kubeconfig context.

    Raises ConfigError (one line: missing kubeconfig, unknown context, not in a pod) when no client
    can be built; reaching the server is checked later by the collector.
    """
    configuration = client.Configuration()
    configuration.retries = _TRANSPORT_RETRIES
    # client-go's rule for an answer that says when to come back: a 429 (API Priority and Fairness, the
    # max-in-flight limit) or a 5xx with Retry-After is retried after that many seconds, up to 10 times
    # (https://kubernetes.io/docs/concepts/cluster-administration/flow-control/); without the header it is the answer
    configuration.client_go_retries = True
    if target.in_cluster:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException as exc:
            raise ConfigError(
                f"target {target.name!r}: in-cluster Kubernetes access requested, but this process is not running "
                f"in a pod with a service account ({exc})"
            ) from exc
        return client.ApiClient(configuration)

    path = target.kubeconfig.expanduser() if target.kubeconfig is not None else None
    if path is not None and not path.is_file():
        raise ConfigError(f"target {target.name!r}: kubeconfig file {path} does not exist")
    where = str(path) if path is not None else "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
    try:
        contexts, current = config.list_kube_config_contexts(config_file=str(path) if path else None)  # type: ignore[no-untyped-call]
    except UnicodeDecodeError as exc:  # the client opens the file as UTF-8 text
        raise ConfigError(
            f"target {target.name!r}: {where} is not UTF-8 text: byte at offset {exc.start} ({exc.reason})"
        ) from exc
    except KUBECONFIG_ERRORS as exc:
        raise ConfigError(f"target {target.name!r}: cannot read {where}: {' '.join(str(exc).split())}") from exc
    names = [c["name"] for c in contexts or [] if isinstance(c, dict) and "name" in c]
    context = target.context or (current.get("name") if isinstance(current, dict) else None)
    if not context:
        raise ConfigError(f"target {target.name!r}: {where} has no current context; set `context` in the target")
    if context not in names:
        raise ConfigError(
            f"target {target.name!r}: context {context!r} is not in {where} (contexts: {', '.join(names) or 'none'})"
        )
    with _EXEC_PLUGIN_LOG.capture() as plugin_errors:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(path) if path else None,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError) as exc:
            raise ConfigError(f"target {target.name!r}: context {context!r} of {where} is unusable: {exc}") from exc
    if plugin_errors:
        said = " ".join(" ".join(plugin_errors).split())
        raise ConfigError(
            f"target {target.name!r}: the exec credential plugin of context {context!r} ({where}) failed: {said[:500]}"
        )
    return client.ApiClient(configuration)


class _ExecPluginLog:
    """Stands for the ``logging`` module inside kubernetes/config/kube_config.py, whose exec credential plugin loader
    (``_load_from_exec_plugin``) reports a plugin not found, its exit status and stderr, or an answer without a token
    with ``logging.error`` instead of raising. While this thread loads a kubeconfig (``capture``) those messages are
    kept for the audit to say the plugin failed and why, rather than go on without credentials to an HTTP 401;
    whatever the log level, and per thread (audits of several clusters load their kubeconfigs at once). Outside a
    capture -- a token refreshed mid-collection -- they are logged as the client logs them."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(logging, name)

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        sink: list[str] | None = getattr(self._local, "sink", None)
        if sink is None:
            logging.getLogger("kubernetes.config").error(msg, *args, **kwargs)
            return
        sink.append(str(msg) % args if args else str(msg))

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[str]]:
        sink: list[str] = []
        self._local.sink = sink
        try:
            yield sink
        finally:
            self._local.sink = None


_EXEC_PLUGIN_LOG = _ExecPluginLog()
kube_config_module.logging = _EXEC_PLUGIN_LOG  # type: ignore[assignment,attr-defined]


def _context_name(target: TargetConfig) -> str | None:
    if target.in_cluster:
        return "in-cluster"
    if target.context:
        return target.context
    try:
        path = target.kubeconfig.expanduser() if target.kubeconfig is not None else None
        _, current = config.list_kube_config_contexts(config_file=str(path) if path else None)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, yaml.YAMLError, ValueError, TypeError, AttributeError):
        return None
    name = current.get("name") if isinstance(current, dict) else None
    return str(name) if name else None


# --------------------------------------------------------------------------- requests


class _Unauthorized(CollectionError):
    """401: the credentials are not accepted at all; nothing else will work either."""


class _ListExpired(CollectionError):
    """410 to a continued page of a list: the snapshot its continue token points into is gone (compacted)."""


# How many times a list whose continue token expired is read again from the first page before it is an error. A
# token expires when etcd is compacted past the list's snapshot (kube-apiserver --etcd-compaction-interval, 5 minutes
# by default), so a restart usually finishes; the bound keeps a list that never does to three passes, not a loop.
LIST_RESTARTS = 2


# How many times a request the server took but did not answer within ``request_timeout`` (a read timeout) is asked
# again before it is a CollectionError ``Timeout``: a stall may pass (a slow etcd read, an API server busy for a
# moment), a second one is not waited out again. client-go asks a GET again only after a reset connection or an EOF,
# never after a timeout (k8s.io/client-go/rest/request.go, isErrRetryableFunc); one more ask is the middle ground.
TIMEOUT_RETRIES = 1
# How many requests in a row may go unanswered (each asked 1 + TIMEOUT_RETRIES times) before the server counts as gone:
# a server that answered once and then answers nothing would otherwise cost two timeouts per remaining request (about
# 30 requests: half an hour at the default 30 s) before a partial result.
TIMEOUTS_IN_A_ROW = 3


@dataclass
class _Reader:
    """Raw JSON requests through the official client: auth refresh, TLS, timeouts, paging, counting, cancelling."""

    api: client.ApiClient
    page_size: int
    timeout: float
    cancelled: CancelCheck = never_cancelled  # asked before every request, a retried one too (RunCancelled)
    calls: int = 0
    answered: bool = False  # the server has answered a request (any status): it is there, and alive
    unanswered: int = 0  # requests in a row that timed out (reset by any answer)
    problems: list[str] = field(default_factory=list)
    facets: dict[str, FacetCoverage] = field(default_factory=dict)  # facets not (fully) read
    _discovered: dict[str, JsonObj] = field(default_factory=dict)  # discovery documents read, by path

    @property
    def server(self) -> str:
        return str(self.api.configuration.host)

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> JsonObj:
        """GET one JSON document; HTTP errors become CollectionError (401: _Unauthorized, 403: PermissionDenied).

        No answer within ``timeout`` to a request the server took (a read timeout) is asked again, at most
        ``TIMEOUT_RETRIES`` times, then is a CollectionError with code ``Timeout``: it costs what this request reads
        (its facet), not the cluster. Unless the server has answered no request of this collection yet: then it is
        TargetUnreachable -- a server that answers nothing in time is lost as a whole, at the cost of one request, not
        one per facet. Any other transport failure (refused, connect timeout, name not resolved, TLS) is
        TargetUnreachable at once."""
        retries = 0
        while True:
            try:
                resp = self._send(path, query)
                break
            except urllib3.exceptions.HTTPError as exc:
                if not _read_timed_out(exc):
                    raise TargetUnreachable(
                        f"cannot reach the Kubernetes API server at {self.server}: {_transport_reason(exc)}"
                    ) from exc
                if retries < TIMEOUT_RETRIES:
                    retries += 1
                    log.warning(
                        "kubernetes: GET %s: no answer within %g s; asking again (%d of %d)",
                        path,
                        self.timeout,
                        retries,
                        TIMEOUT_RETRIES,
                    )
                    continue
                text = f"GET {path}: no answer within {self.timeout:g} s, asked {retries + 1} times"
                self.unanswered += 1
                if not self.answered:
                    raise TargetUnreachable(
                        f"cannot reach the Kubernetes API server at {self.server}: {text}, and it has answered no "
                        "request"
                    ) from exc
                if self.unanswered >= TIMEOUTS_IN_A_ROW:
                    raise TargetUnreachable(
                        f"the Kubernetes API server at {self.server} stopped answering: {text}, the "
                        f"{self.unanswered} last requests unanswered"
                    ) from exc
                raise CollectionError(text, service="kubernetes", operation=f"GET {path}", code="Timeout") from exc
        status = int(resp.status)
        try:
            body = json.loads(resp.data or b"null")
        except ValueError:
            body = None
        if 200 <= status < 300:
            if not isinstance(body, dict):
                raise CollectionError(
                    f"GET {path}: the server answered with something that is not a JSON object",
                    service="kubernetes",
                    operation=f"GET {path}",
                    code=str(status),
                )
            return body
        raise _http_error(path, status, body, resp.reason)

    def discovery(self, path: str, kind: str) -> JsonObj:
        """A discovery document (``/apis``: APIGroupList, ``/apis/<group>``: APIGroup, ``/apis/<group>/<version>``:
        APIResourceList) of the kind asked for, read once per collection: the controller's CRDs, its custom resources
        and the Gateway API's ask for the same ones. A failure is not kept: the next reader asks again."""
        doc = self._discovered.get(path)
        if doc is None:
            doc = self._discovered[path] = _expect_kind(path, self.get(path), kind)
        return doc

    def _send(self, path: str, query: list[tuple[str, str]] | None) -> Any:
        """One request, its answer read whole (the client's RESTResponse). An answer the client's Retry-After retries
        gave up on (429, 5xx) is that status's CollectionError; a TLS failure, which the client raises as an
        ApiException with status 0, is TargetUnreachable; urllib3's errors (no connection, no answer) are raised as
        they come. A cancelled audit (``cancelled``) sends nothing: RunCancelled, which no caller here catches."""
        stop_if_cancelled(self.cancelled)
        self.calls += 1
        try:
            method, url, headers, _, _ = self.api.param_serialize(
                "GET",
                path,
                query_params=query or [],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            resp = self.api.call_api(method, url, header_params=headers, _request_timeout=self.timeout)
            resp.read()  # type: ignore[no-untyped-call]
        except ApiException as exc:
            if exc.status:
                self.answered, self.unanswered = True, 0
                raise _http_error(path, int(exc.status), None, exc.reason) from exc
            raise TargetUnreachable(f"cannot reach the Kubernetes API server at {self.server}: {exc.reason}") from exc
        self.answered, self.unanswered = True, 0
        return resp

    def _read_pages(self, path: str, query: list[tuple[str, str]] | None) -> list[JsonObj]:
        """Every item of one pass over the pages; _ListExpired when a continued page answers 410. (Defined before
        ``list``: below it, ``list`` in an annotation names that method.)"""
        items: list[JsonObj] = []
        token: str | None = None
        while True:
            params = [*(query or []), ("limit", str(self.page_size))]
            if token:
                params.append(("continue", token))
            try:
                page = self.get(path, params)
            except CollectionError as exc:
                if not token or exc.code != "410":
                    raise
                answer = str(exc).removeprefix(f"GET {path}: ")
                raise _ListExpired(
                    f"GET {path}: the list expired while paging, after {len(items)} object(s) ({answer})",
                    service="kubernetes",
                    operation=exc.operation,
                    code=exc.code,
                ) from exc
            more, token = _list_page(path, page)
            items += more
            if not token:
                return items

    def list(self, path: str, query: list[tuple[str, str]] | None = None) -> list[JsonObj]:
        """Every item of a collection, read page by page (``limit`` + ``continue``) and returned only once the last
        page is in. A continued page answered 410 Expired -- the token outlived the server's compaction window, "the
        client must start over" (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks)
        -- drops the pages read and lists again from the first page, at most ``LIST_RESTARTS`` times; then the list
        is an error. client-go's pager does the same on the same answer (``FullListIfExpired``, though with one
        unpaged list, k8s.io/client-go/tools/pager); paging again keeps each answer within ``page_size``. A 410 to
        the first page is an error like any other."""
        restarts = 0
        while True:
            try:
                return self._read_pages(path, query)
            except _ListExpired as exc:
                if restarts == LIST_RESTARTS:
                    raise CollectionError(
                        f"{exc}; read again from the first page {restarts} time(s), it expired each time",
                        service="kubernetes",
                        operation=exc.operation,
                        code=exc.code,
                    ) from exc
                restarts += 1
                log.warning(
                    "kubernetes: %s; reading it again from its first page (%d of %d)", exc, restarts, LIST_RESTARTS
                )

    def problem(self, what: str, exc: CollectionError, facet: Facet | None, *, whole: bool = True) -> None:
        """A request failed: ``whole`` when the facet's objects could not be listed at all (facet ERROR),
        else one object of it (facet PARTIAL)."""
        log.warning("kubernetes: %s: %s", what, exc)
        self.problems.append(f"{what}: {exc.code or 'error'}")
        if facet is not None:
            status = CoverageStatus.ERROR if whole else CoverageStatus.PARTIAL
            self.facets[facet] = FacetCoverage(status=status, error_code=exc.code or "error", message=f"{what}: {exc}")


def _http_error(path: str, status: int, body: Any, reason: str | None) -> CollectionError:
    """An error answer as CollectionError (401: _Unauthorized, 403: PermissionDenied), with the Status message."""
    message = body.get("message") if isinstance(body, dict) else None
    text = f"GET {path}: HTTP {status} {message or reason or ''}".strip()
    kind: type[CollectionError] = CollectionError
    if status == 401:
        kind = _Unauthorized
    elif status == 403:
        kind = PermissionDenied
    return kind(text, service="kubernetes", operation=f"GET {path}", code=str(status))


def _malformed(path: str, what: str) -> CollectionError:
    return CollectionError(
        f"GET {path}: the server answered with {what}", service="kubernetes", operation=f"GET {path}", code="Malformed"
    )


def _list_page(path: str, page: JsonObj) -> tuple[list[Any], str | None]:
    """The items and the continue token of one page of a list. A body of another kind (a Status, one object) or
    with ``items``/``metadata`` of another shape -- what a proxy or an aggregated API server in the path may send
    -- is a CollectionError, never read as an empty or shorter list: the API server answers a list with kind
    ``<Kind>List``, an ``items`` array and the ``continue`` token in its metadata
    (https://kubernetes.io/docs/reference/using-api/api-concepts/#collections,
    https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks)."""
    kind = page.get("kind")
    if not isinstance(kind, str) or not kind.endswith("List"):
        raise _malformed(path, f"a {kind!r} where a list was expected" if isinstance(kind, str) else "no list kind")
    items = page.get("items")
    metadata = page.get("metadata", {})
    token = metadata.get("continue") if isinstance(metadata, dict) else None
    if not isinstance(items, list | None) or not isinstance(metadata, dict) or not isinstance(token, str | None):
        raise _malformed(path, f"a {kind} whose items or metadata are not of a list's shape")
    return items or [], token


def _expect_kind(path: str, doc: JsonObj, kind: str) -> JsonObj:
    """A discovery document of the kind asked for (APIGroupList, APIGroup, APIResourceList), else CollectionError:
    a body of another kind must not read as "this API is not installed"."""
    if doc.get("kind") != kind:
        raise _malformed(path, f"{doc.get('kind')!r} where {kind} was expected")
    return doc


def _innermost(exc: urllib3.exceptions.HTTPError) -> BaseException:
    """The failure itself: urllib3 wraps the last one in a MaxRetryError once its retries are spent."""
    reason: BaseException = exc
    while isinstance(reason, urllib3.exceptions.MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    return reason


def _read_timed_out(exc: urllib3.exceptions.HTTPError) -> bool:
    """The server took the request and sent no answer (or not all of it) within the read timeout: urllib3's
    ReadTimeoutError, raised as is (``_TransportRetry``; reading the body) or as a MaxRetryError's reason (a client
    with urllib3's default retries). Not ConnectTimeoutError -- also a urllib3 TimeoutError, and the parent of
    NewConnectionError and NameResolutionError: no connection, nothing was asked."""
    return isinstance(_innermost(exc), urllib3.exceptions.ReadTimeoutError)


def _transport_reason(exc: urllib3.exceptions.HTTPError) -> str:
    """The innermost cause of a urllib3 failure, in a few words (connection refused, timed out...)."""
    reason = _innermost(exc)
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if cause is not None:
            return str(cause.strerror if isinstance(cause, OSError) and cause.strerror else cause)
    if isinstance(reason, urllib3.exceptions.TimeoutError):
        return "timed out"
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "host name not resolved"
    return f"{type(reason).__name__}: {reason}"


# --------------------------------------------------------------------------- parsing


def _created(meta: JsonObj) -> datetime | None:
    raw = meta.get("creationTimestamp")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(str(raw))
    except ValueError:
        return None


def _object_fields(obj: JsonObj) -> JsonObj:
    meta = obj.get("metadata") or {}
    return {
        "namespace": meta.get("namespace"),
        "name": meta.get("name", ""),
        "uid": meta.get("uid"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "created_at": _created(meta),
    }


def _lb_ingress(status: JsonObj | None) -> list[LoadBalancerIngress]:
    entries = ((status or {}).get("loadBalancer") or {}).get("ingress") or []
    return [LoadBalancerIngress(hostname=e.get("hostname"), ip=e.get("ip")) for e in entries]


def parse_service(obj: JsonObj) -> Service:
    spec = obj.get("spec") or {}
    return Service(
        **_object_fields(obj),
        type=spec.get("type") or "ClusterIP",
        load_balancer_class=spec.get("loadBalancerClass"),
        selector=spec.get("selector"),
        ports=[
            ServicePort(
                name=p.get("name"),
                port=int(p.get("port", 0)),
                target_port=p.get("targetPort"),
                protocol=p.get("protocol") or "TCP",
                node_port=p.get("nodePort"),
                app_protocol=p.get("appProtocol"),
            )
            for p in spec.get("ports") or []
        ],
        load_balancer_source_ranges=list(spec.get("loadBalancerSourceRanges") or []),
        status_ingress=_lb_ingress(obj.get("status")),
        external_traffic_policy=_str(spec.get("externalTrafficPolicy")),
    )


def _backend(raw: JsonObj) -> IngressBackend:
    service = raw.get("service") or {}
    port = service.get("port") or {}
    resource = raw.get("resource") or {}
    return IngressBackend(
        service_name=service.get("name"),
        service_port_number=port.get("number"),
        service_port_name=port.get("name"),
        resource_kind=resource.get("kind"),
    )


def parse_ingress(obj: JsonObj) -> Ingress:
    spec = obj.get("spec") or {}
    rules = [
        IngressRule(
            host=rule.get("host"),
            paths=[
                IngressPath(path=p.get("path"), path_type=p.get("pathType"), backend=_backend(p.get("backend") or {}))
                for p in (rule.get("http") or {}).get("paths") or []
            ],
        )
        for rule in spec.get("rules") or []
    ]
    default = spec.get("defaultBackend")
    return Ingress(
        **_object_fields(obj),
        ingress_class_name=spec.get("ingressClassName"),
        rules=rules,
        tls=[
            IngressTls(hosts=list(t.get("hosts") or []), secret_name=t.get("secretName")) for t in spec.get("tls") or []
        ],
        default_backend=_backend(default) if default else None,
        status_ingress=_lb_ingress(obj.get("status")),
    )


def parse_ingress_class(obj: JsonObj) -> IngressClass:
    spec = obj.get("spec") or {}
    params = spec.get("parameters")
    fields = _object_fields(obj)
    return IngressClass(
        **fields,
        controller=spec.get("controller") or "",
        parameters=IngressClassParametersRef(
            api_group=params.get("apiGroup"),
            kind=params.get("kind") or "",
            name=params.get("name") or "",
            scope=params.get("scope"),
            namespace=params.get("namespace"),
        )
        if params
        else None,
        is_default=str(fields["annotations"].get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true",
    )


def parse_ingress_class_params(obj: JsonObj) -> IngressClassParams:
    return IngressClassParams(**_object_fields(obj), spec=dict(obj.get("spec") or {}))


def parse_target_group_binding(obj: JsonObj) -> TargetGroupBinding:
    spec = obj.get("spec") or {}
    ref = spec.get("serviceRef") or {}
    return TargetGroupBinding(
        **_object_fields(obj),
        target_group_arn=spec.get("targetGroupARN") or "",
        service_name=ref.get("name") or "",
        service_port=ref.get("port"),
        target_type=spec.get("targetType"),
    )


def parse_endpoint_slice(obj: JsonObj) -> EndpointSlice:
    fields = _object_fields(obj)
    endpoints = []
    for ep in obj.get("endpoints") or []:
        cond = ep.get("conditions") or {}
        ref = ep.get("targetRef") or {}
        endpoints.append(
            Endpoint(
                addresses=list(ep.get("addresses") or []),
                ready=cond.get("ready"),
                serving=cond.get("serving"),
                terminating=cond.get("terminating"),
                target_ref_kind=ref.get("kind"),
                target_ref_name=ref.get("name"),
                node_name=ep.get("nodeName"),
            )
        )
    return EndpointSlice(
        **fields,
        service_name=fields["labels"].get(SERVICE_NAME_LABEL),
        endpoints=endpoints,
        ports=[
            EndpointPort(name=p.get("name"), port=p.get("port"), protocol=p.get("protocol"))
            for p in obj.get("ports") or []
        ],
    )


# ---- NetworkPolicy and what it applies to (https://kubernetes.io/docs/concepts/services-networking/network-policies/)


def parse_network_policy(obj: JsonObj) -> NetworkPolicy:
    spec = obj.get("spec")
    return NetworkPolicy(**_object_fields(obj), spec=dict(spec) if isinstance(spec, dict) else {})


def parse_namespace(obj: JsonObj) -> Namespace:
    return Namespace(**_object_fields(obj))


def parse_pod(obj: JsonObj) -> Pod:
    spec = _obj(obj.get("spec"))
    status = _obj(obj.get("status"))
    ips = [str(i["ip"]) for i in _dicts(status.get("podIPs")) if _str(i.get("ip"))]
    if not ips and _str(status.get("podIP")):
        ips = [status["podIP"]]
    return Pod(
        **_object_fields(obj),
        ips=ips,
        node_name=_str(spec.get("nodeName")),
        host_network=spec.get("hostNetwork") is True,
        container_ports=[
            ContainerPort(name=_str(p.get("name")), port=p["containerPort"], protocol=_str(p.get("protocol")) or "TCP")
            for c in _dicts(spec.get("containers"))
            for p in _dicts(c.get("ports"))
            if _int(p.get("containerPort")) is not None
        ],
    )


def parse_node(obj: JsonObj) -> Node:
    """A node and its InternalIP addresses (nothing else of it is kept)."""
    addresses = _dicts(_obj(obj.get("status")).get("addresses"))
    return Node(
        **_object_fields(obj),
        internal_ips=[str(a["address"]) for a in addresses if a.get("type") == "InternalIP" and _str(a.get("address"))],
    )


# DaemonSets of pod networks that matter to NetworkPolicy: the VPC CNI (whose network policy agent runs in
# aws-node), Calico and Cilium (which enforce NetworkPolicy whenever they run). By name or by image.
NETWORK_DAEMON_SETS = ("aws-node", "calico-node", "cilium")
NETWORK_IMAGES = ("amazon-k8s-cni", "aws-network-policy-agent", "calico/node", "cilium/cilium")


def parse_network_daemon_set(obj: JsonObj) -> NetworkDaemonSet | None:
    """A pod network's DaemonSet (kept small: containers' names, images, args and literal env), else None."""
    fields = _object_fields(obj)
    spec = _obj(obj.get("spec"))
    containers = _dicts(_obj(_obj(spec.get("template")).get("spec")).get("containers"))
    images = [str(c.get("image", "")) for c in containers]
    if fields["name"] not in NETWORK_DAEMON_SETS and not any(m in i for i in images for m in NETWORK_IMAGES):
        return None
    status = _obj(obj.get("status"))
    return NetworkDaemonSet(
        **fields,
        containers=[
            DaemonSetContainer(
                name=_str(c.get("name")) or "",
                image=_str(c.get("image")) or "",
                args=[str(a) for a in [*(c.get("command") or [])[1:], *(c.get("args") or [])]]
                if isinstance(c.get("command") or [], list) and isinstance(c.get("args") or [], list)
                else [],
                env={
                    str(e["name"]): str(e["value"])
                    for e in _dicts(c.get("env"))
                    if _str(e.get("name")) and "value" in e
                },
            )
            for c in containers
        ],
        desired=_int(status.get("desiredNumberScheduled")),
        ready=_int(status.get("numberReady")),
    )


# ---- Gateway API (https://gateway-api.sigs.k8s.io/reference/spec/): fields read defensively, a malformed
# value is left out rather than failing the list.


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _obj(value: Any) -> JsonObj:
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[JsonObj]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _condition(status: Any, kind: str) -> bool | None:
    for cond in _dicts(_obj(status).get("conditions")):
        if cond.get("type") == kind:
            return str(cond.get("status")) == "True"
    return None


def _parameters_ref(raw: Any) -> GatewayParametersRef | None:
    if not isinstance(raw, dict) or not _str(raw.get("kind")) or not _str(raw.get("name")):
        return None
    return GatewayParametersRef(
        group=_str(raw.get("group")), kind=raw["kind"], name=raw["name"], namespace=_str(raw.get("namespace"))
    )


def parse_gateway_class(obj: JsonObj) -> GatewayClass:
    spec = _obj(obj.get("spec"))
    return GatewayClass(
        **_object_fields(obj),
        controller_name=_str(spec.get("controllerName")) or "",
        parameters=_parameters_ref(spec.get("parametersRef")),
        accepted=_condition(obj.get("status"), "Accepted"),
    )


def _gateway_listener(raw: JsonObj) -> GatewayListener | None:
    port = _int(raw.get("port"))
    if port is None:
        return None
    tls = _obj(raw.get("tls"))
    namespaces = _obj(_obj(raw.get("allowedRoutes")).get("namespaces"))
    return GatewayListener(
        name=_str(raw.get("name")) or "",
        port=port,
        protocol=_str(raw.get("protocol")) or "",
        hostname=_str(raw.get("hostname")),
        tls_mode=_str(tls.get("mode")) or ("Terminate" if tls else None),
        certificate_refs=[str(c.get("name")) for c in _dicts(tls.get("certificateRefs")) if _str(c.get("name"))],
        allowed_namespaces=_str(namespaces.get("from")),
    )


def parse_gateway(obj: JsonObj) -> Gateway:
    spec = _obj(obj.get("spec"))
    status = _obj(obj.get("status"))
    infrastructure = _obj(spec.get("infrastructure"))
    return Gateway(
        **_object_fields(obj),
        gateway_class_name=_str(spec.get("gatewayClassName")) or "",
        listeners=[li for li in map(_gateway_listener, _dicts(spec.get("listeners"))) if li is not None],
        parameters=_parameters_ref(infrastructure.get("parametersRef")),
        addresses=[str(a["value"]) for a in _dicts(status.get("addresses")) if _str(a.get("value"))],
        programmed=_condition(status, "Programmed"),
    )


def _redirect(filters: Any) -> RouteRedirect | None:
    for f in _dicts(filters):
        raw = f.get("requestRedirect")
        if f.get("type") == "RequestRedirect" and isinstance(raw, dict):
            return RouteRedirect(
                scheme=_str(raw.get("scheme")),
                port=_int(raw.get("port")),
                hostname=_str(raw.get("hostname")),
                status_code=_int(raw.get("statusCode")),
            )
    return None


def parse_route(obj: JsonObj, kind: str) -> Route:
    spec = _obj(obj.get("spec"))
    return Route(
        **_object_fields(obj),
        kind=kind,  # type: ignore[arg-type]  # one of GATEWAY_RESOURCES' route kinds
        hostnames=[h for h in spec.get("hostnames") or [] if isinstance(h, str)]
        if isinstance(spec.get("hostnames"), list)
        else [],
        parent_refs=[
            RouteParentRef(
                group=_str(p.get("group")),
                kind=_str(p.get("kind")),
                namespace=_str(p.get("namespace")),
                name=p["name"],
                section_name=_str(p.get("sectionName")),
                port=_int(p.get("port")),
            )
            for p in _dicts(spec.get("parentRefs"))
            if _str(p.get("name"))
        ],
        rules=[
            RouteRule(
                backend_refs=[
                    RouteBackendRef(
                        group=_str(b.get("group")),
                        kind=_str(b.get("kind")),
                        namespace=_str(b.get("namespace")),
                        name=b["name"],
                        port=_int(b.get("port")),
                    )
                    for b in _dicts(rule.get("backendRefs"))
                    if _str(b.get("name"))
                ],
                redirect=_redirect(rule.get("filters")),
            )
            for rule in _dicts(spec.get("rules"))
        ],
    )


def parse_reference_grant(obj: JsonObj) -> ReferenceGrant:
    spec = _obj(obj.get("spec"))
    return ReferenceGrant(
        **_object_fields(obj),
        from_=[
            ReferenceGrantFrom(group=_str(f.get("group")) or "", kind=f["kind"], namespace=f["namespace"])
            for f in _dicts(spec.get("from"))
            if _str(f.get("kind")) and _str(f.get("namespace"))
        ],
        to=[
            ReferenceGrantTo(group=_str(t.get("group")) or "", kind=t["kind"], name=_str(t.get("name")))
            for t in _dicts(spec.get("to"))
            if _str(t.get("kind"))
        ],
    )


def parse_gateway_configuration(obj: JsonObj, kind: str) -> GatewayConfiguration:
    spec = obj.get("spec")
    return GatewayConfiguration(
        **_object_fields(obj),
        kind=kind,  # type: ignore[arg-type]  # one of GATEWAY_RESOURCES' gateway.k8s.aws kinds
        spec=dict(spec) if isinstance(spec, dict) else {},
    )


def image_tag(image: str) -> str | None:
    """``registry:5000/x/aws-load-balancer-controller:v2.13.0@sha256:...`` -> ``v2.13.0`` (None: no tag)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def parse_args(args: list[str]) -> dict[str, str]:
    """``--flag=value`` and ``--flag value`` pairs of a container's args (flags without value are skipped)."""
    out: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            if "=" in arg:
                key, value = arg[2:].split("=", 1)
                out[key] = value
            elif i + 1 < len(args) and not args[i + 1].startswith("-"):
                out[arg[2:]] = args[i + 1]
                i += 1
        i += 1
    return out


def parse_controller(obj: JsonObj) -> ControllerDeployment | None:
    """The AWS Load Balancer Controller in a Deployment, found by its image (or its chart's name label)."""
    fields = _object_fields(obj)
    spec = obj.get("spec") or {}
    pod = (spec.get("template") or {}).get("spec") or {}
    containers = pod.get("containers") or []
    container = next((c for c in containers if LBC_IMAGE in str(c.get("image", ""))), None)
    if container is None and fields["labels"].get(LBC_NAME_LABEL[0]) == LBC_NAME_LABEL[1] and containers:
        container = containers[0]
    if container is None:
        return None
    args = [str(a) for a in [*(container.get("command") or [])[1:], *(container.get("args") or [])]]
    flags = parse_args(args)
    status = obj.get("status") or {}
    image = str(container.get("image", ""))
    return ControllerDeployment(
        **fields,
        image=image,
        version=image_tag(image),
        replicas=spec.get("replicas", 1),
        ready_replicas=int(status.get("readyReplicas") or 0),
        available_replicas=int(status.get("availableReplicas") or 0),
        service_account_name=pod.get("serviceAccountName") or pod.get("serviceAccount") or "default",
        args=args,
        cluster_name_arg=flags.get("cluster-name"),
        ingress_class_arg=flags.get("ingress-class"),
        load_balancer_class_arg=flags.get("load-balancer-class"),
    )


def _expand(arg: str, env: dict[str, str]) -> str:
    """``$(VAR)`` references in a container argument, expanded as the kubelet does for the variables known."""
    for name, value in env.items():
        arg = arg.replace(f"$({name})", value)
    return arg


def _container_env(container: JsonObj, namespace: str) -> dict[str, str]:
    """The container's environment variables whose value is known from the manifest: literal values, and the
    pod's namespace through the downward API (``fieldRef: metadata.namespace``, as the ingress-nginx chart sets
    POD_NAMESPACE)."""
    env: dict[str, str] = {}
    for var in _dicts(container.get("env")):
        name = _str(var.get("name"))
        if not name:
            continue
        if isinstance(var.get("value"), str):
            env[name] = var["value"]
        elif _obj(_obj(var.get("valueFrom")).get("fieldRef")).get("fieldPath") == "metadata.namespace":
            env[name] = namespace
    return env


def _truthy_flag(flags: dict[str, str], args: list[str], name: str | None) -> bool:
    if name is None:
        return False
    if f"--{name}" in args:  # a bare boolean flag
        return True
    return flags.get(name, "").lower() == "true"


def _qualified(value: str | None, namespace: str) -> str | None:
    """``name`` -> ``namespace/name``; ``ns/name`` stays (how the controllers read --publish-service and
    --configmap)."""
    if not value:
        return None
    return value if "/" in value else f"{namespace}/{value}"


def parse_ingress_controller(obj: JsonObj) -> IngressControllerWorkload | None:
    """An in-cluster ingress controller (ingress-nginx, Traefik, HAProxy) in a Deployment: found by its container
    image, or by the pod labels its install documents (then its first container)."""
    fields = _object_fields(obj)
    spec = _obj(obj.get("spec"))
    template = _obj(spec.get("template"))
    pod_labels = {str(k): str(v) for k, v in _obj(_obj(template.get("metadata")).get("labels")).items()}
    containers = _dicts(_obj(template.get("spec")).get("containers"))
    impl: InClusterImplementation | None = None
    container: JsonObj | None = None
    for c in containers:
        impl = implementation_of_image(str(c.get("image", "")))
        if impl is not None:
            container = c
            break
    if container is None:
        impl = implementation_of_labels(pod_labels) or implementation_of_labels(fields["labels"])
        container = containers[0] if impl is not None and containers else None
    if impl is None or container is None:
        return None
    namespace = fields["namespace"] or ""
    env = _container_env(container, namespace)
    raw = [str(a) for a in [*(container.get("command") or [])[1:], *(container.get("args") or [])]]
    args = [_expand(a, env) for a in raw]
    flags = parse_args(args)
    ingress_class = flags.get(impl.ingress_class_arg) if impl.ingress_class_arg else None
    controller = impl.controller
    if impl.class_arg is not None and flags.get(impl.class_arg):
        controller = flags[impl.class_arg]
    elif impl.class_prefix is not None and ingress_class:
        controller = impl.class_prefix + ingress_class
    image = str(container.get("image", ""))
    status = _obj(obj.get("status"))
    return IngressControllerWorkload(
        **fields,
        kind="Deployment",
        implementation=impl.name,
        image=image,
        version=image_tag(image),
        pod_labels=pod_labels,
        args=args,
        controller_class=controller,
        ingress_class_arg=ingress_class,
        watch_without_class=_truthy_flag(flags, args, impl.without_class_arg),
        publish_service=_qualified(flags.get(impl.publish_arg) if impl.publish_arg else None, namespace),
        config_map=_qualified(flags.get(impl.config_arg) if impl.config_arg else None, namespace),
        ready_replicas=_int(status.get("readyReplicas")) or 0,
    )


def parse_ingress_controller_config(obj: JsonObj) -> IngressControllerConfig:
    """An ingress controller's ConfigMap, reduced to the keys the auditor reads (the rest is never kept)."""
    fields = _object_fields(obj)
    data = _obj(obj.get("data"))
    return IngressControllerConfig(
        **{**fields, "labels": {}, "annotations": {}},
        data={k: str(data[k]) for k in CONFIG_KEYS if isinstance(data.get(k), str)},
    )


def _parse_each(
    reader: _Reader, kind: str, facet: Facet, objs: Iterable[JsonObj], parse: Callable[[JsonObj], Any]
) -> list[Any]:
    """Every object parsed; one the parser cannot take (a snapshot or a server giving a field of another shape) is
    left out, named in the facet's coverage, and the facet is partial: never a traceback, and one bad object does
    not cost the audit. A parser answering None skips the object (not one of ours)."""
    found: list[Any] = []
    for obj in objs:
        try:
            parsed = parse(obj)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # ValidationError is a ValueError
            meta = _obj(obj.get("metadata")) if isinstance(obj, dict) else {}
            name = f"{meta.get('namespace') or ''}/{meta.get('name') or '?'}".lstrip("/")
            error = CollectionError(f"{kind} {name} is malformed: {exc}".splitlines()[0], code="Malformed")
            reader.problem(f"{kind} {name}", error, facet, whole=False)
            continue
        if parsed is not None:
            found.append(parsed)
    return found


def _ingress_controllers(reader: _Reader, deployments: list[JsonObj]) -> list[IngressControllerWorkload]:
    """The in-cluster ingress controllers among the Deployments."""
    return _parse_each(reader, "Deployment", Facet.KUBE_DEPLOYMENTS, deployments, parse_ingress_controller)


def _collect_controller_configs(reader: _Reader, inv: KubeInventory) -> list[str]:
    """The ConfigMaps the in-cluster ingress controllers name (``--configmap``), each read by name. One that does
    not exist is no problem (the controller then runs on its defaults); one that could not be read is left out and
    the facet is partial."""
    missing: list[str] = []
    inv.ingress_controller_configs = []
    wanted = sorted({c.config_map for c in inv.ingress_controllers or [] if c.config_map})
    for ref in wanted:
        namespace, _, name = ref.partition("/")
        try:
            path = f"/api/v1/namespaces/{namespace}/configmaps/{name}"
            obj = _expect_kind(path, reader.get(path), "ConfigMap")
        except (_Unauthorized, TargetUnreachable):
            raise
        except CollectionError as exc:
            if exc.code != "404":
                reader.problem(f"configmap {ref}", exc, Facet.KUBE_INGRESS_CONTROLLER_CONFIGS, whole=False)
                missing.append(f"configmap {ref}")
            continue
        inv.ingress_controller_configs += _parse_each(
            reader, "ConfigMap", Facet.KUBE_INGRESS_CONTROLLER_CONFIGS, [obj], parse_ingress_controller_config
        )
    return missing


# --------------------------------------------------------------------------- collection


def _backend_services(ingresses: list[Ingress], bindings: list[TargetGroupBinding] | None) -> set[tuple[str, str]]:
    """(namespace, service) pairs traffic reaches through Ingresses and TargetGroupBindings."""
    wanted: set[tuple[str, str]] = set()
    for ing in ingresses:
        backends = [p.backend for rule in ing.rules for p in rule.paths]
        if ing.default_backend is not None:
            backends.append(ing.default_backend)
        wanted.update((ing.namespace or "", b.service_name) for b in backends if b.service_name)
    for tgb in bindings or []:
        wanted.add((tgb.namespace or "", tgb.service_name))
    return wanted


def _route_backend_services(routes: list[Route]) -> set[tuple[str, str]]:
    """(namespace, service) pairs the routes send traffic to (kind Service, the default)."""
    return {
        (b.namespace or r.namespace or "", b.name)
        for r in routes
        for rule in r.rules
        for b in rule.backend_refs
        if (b.kind or "Service") == "Service" and not b.group
    }


def _lbc_crds(reader: _Reader) -> list[str] | None:
    """Names of the elbv2.k8s.aws CRDs the server serves, from API discovery ([] = group absent)."""
    try:
        group = reader.discovery(f"/apis/{LBC_GROUP}", "APIGroup")
    except CollectionError as exc:
        if exc.code == "404":
            return []
        if isinstance(exc, _Unauthorized):
            raise
        reader.problem("API discovery of elbv2.k8s.aws", exc, Facet.KUBE_CRDS)
        return None
    names: set[str] = set()
    for version in _dicts(group.get("versions")):
        path = f"/apis/{LBC_GROUP}/{version.get('version')}"
        try:
            resources = reader.discovery(path, "APIResourceList")
        except _Unauthorized:
            raise
        except CollectionError as exc:
            reader.problem("API discovery of elbv2.k8s.aws", exc, Facet.KUBE_CRDS)
            return None
        names.update(
            f"{r['name']}.{LBC_GROUP}"
            for r in _dicts(resources.get("resources"))
            if _str(r.get("name")) and "/" not in r["name"]
        )
    return sorted(names)


def _served_versions(reader: _Reader, groups: set[str]) -> dict[str, list[str]]:
    """For each of ``groups`` the API server serves: its versions, the preferred one first (``GET /apis``)."""
    listing = reader.discovery("/apis", "APIGroupList")
    if not isinstance(listing.get("groups"), list):
        raise _malformed("/apis", "an APIGroupList without a list of groups")
    served: dict[str, list[str]] = {}
    for group in _dicts(listing.get("groups")):
        name = group.get("name")
        if name not in groups:
            continue
        versions = [str(v.get("version")) for v in _dicts(group.get("versions")) if _str(v.get("version"))]
        preferred = _obj(group.get("preferredVersion")).get("version")
        if isinstance(preferred, str) and preferred in versions:
            versions.remove(preferred)
            versions.insert(0, preferred)
        served[str(name)] = versions
    return served


def _read_custom_resources(
    reader: _Reader, inv: KubeInventory, wanted: tuple[_CustomResource, ...]
) -> tuple[dict[str, list[JsonObj] | None], list[str]]:
    """The objects of each custom resource, at the version the server prefers for it (the group's preferred version
    when it serves the resource, else the first version in the server's order that does: an experimental route such
    as TCPRoute may be served only at v1alpha2, an old controller's TargetGroupBinding only at v1alpha1). Not
    installed (no served version has it, or the list answers 404 because the CRD went away since discovery): None,
    its facet ``absent``. Not read: left out of the answer, its facet an error; the second value names those."""
    missing: list[str] = []
    try:
        served = _served_versions(reader, {r.group for r in wanted})
    except (_Unauthorized, TargetUnreachable):
        raise
    except CollectionError as exc:
        for res in wanted:
            reader.problem(f"API discovery for {res.plural}.{res.group}", exc, res.facet)
        return {}, [f"{r.plural}.{r.group}" for r in wanted]

    def resources(group: str, version: str) -> set[str]:
        """The plurals served at one group version."""
        doc = reader.discovery(f"/apis/{group}/{version}", "APIResourceList")
        return {str(r.get("name")) for r in _dicts(doc.get("resources"))}

    read: dict[str, list[JsonObj] | None] = {}
    for res in wanted:
        what = f"{res.plural}.{res.group}"
        try:
            version = next((v for v in served.get(res.group, []) if res.plural in resources(res.group, v)), None)
            if version is None:
                reader.facets[res.facet] = FacetCoverage(
                    status=CoverageStatus.ABSENT, message=f"{what} is not installed (no CRD serves it)"
                )
                read[res.plural] = None
                continue
            read[res.plural] = reader.list(f"/apis/{res.group}/{version}/{res.plural}")
            inv.api_versions[what] = version
        except (_Unauthorized, TargetUnreachable):
            raise
        except CollectionError as exc:
            if exc.code == "404":  # removed between discovery and the list: not installed
                reader.facets[res.facet] = FacetCoverage(status=CoverageStatus.ABSENT, message=f"{what}: {exc}")
                read[res.plural] = None
                continue
            reader.problem(what, exc, res.facet)
            missing.append(what)
    return read, missing


def _collect_gateway_api(reader: _Reader, inv: KubeInventory) -> list[str]:
    """Gateway API and gateway.k8s.aws objects, each at the version the server prefers for it. Not installed:
    ``absent``, empty."""
    read, missing = _read_custom_resources(reader, inv, GATEWAY_RESOURCES)

    def parsed(res: _CustomResource, parse: Any) -> list[Any]:
        """The objects of one resource; one the parser cannot take is left out and its facet is partial."""
        return _parse_each(reader, res.kind, res.facet, read.get(res.plural) or [], lambda o: parse(o, res.kind))

    by_plural = {r.plural: r for r in GATEWAY_RESOURCES}
    if "gatewayclasses" in read:
        inv.gateway_classes = parsed(by_plural["gatewayclasses"], lambda o, _: parse_gateway_class(o))
    if "gateways" in read:
        inv.gateways = parsed(by_plural["gateways"], lambda o, _: parse_gateway(o))
    if "referencegrants" in read:
        inv.reference_grants = parsed(by_plural["referencegrants"], lambda o, _: parse_reference_grant(o))
    routes = [res for res in GATEWAY_RESOURCES if res.kind.endswith("Route")]
    if any(r.plural in read for r in routes):
        inv.routes = [route for r in routes for route in parsed(r, parse_route)]
    configs = [res for res in GATEWAY_RESOURCES if res.group == LBC_GATEWAY_GROUP]
    if any(r.plural in read for r in configs):
        inv.gateway_configurations = [cfg for r in configs for cfg in parsed(r, parse_gateway_configuration)]
    return missing


def _collect(reader: _Reader, inv: KubeInventory, progress: ProgressFn) -> list[str]:
    """Fill the inventory section by section; returns the sections that could not be read."""
    missing: list[str] = []
    steps = 9

    def step(done: int, message: str) -> None:
        progress(ProgressEvent(stage="kubernetes", message=message, done=done, total=steps))

    def section(what: str, facet: Facet | None, fn: Any) -> Any:
        try:
            return fn()
        except (_Unauthorized, TargetUnreachable):
            raise
        except CollectionError as exc:
            reader.problem(what, exc, facet)
            missing.append(what)
            return None

    step(0, "server version")
    version = section("server version", None, lambda: reader.get("/version"))
    inv.server_version = version.get("gitVersion") if version else None

    step(1, "services")
    services = section(
        "services",
        Facet.KUBE_SERVICES,
        lambda: _parse_each(reader, "Service", Facet.KUBE_SERVICES, reader.list("/api/v1/services"), parse_service),
    )
    inv.services = services or []

    step(2, "ingresses")
    ingresses = section(
        "ingresses",
        Facet.KUBE_INGRESSES,
        lambda: _parse_each(
            reader, "Ingress", Facet.KUBE_INGRESSES, reader.list("/apis/networking.k8s.io/v1/ingresses"), parse_ingress
        ),
    )
    inv.ingresses = ingresses or []
    classes = section(
        "ingressclasses",
        Facet.KUBE_INGRESS_CLASSES,
        lambda: _parse_each(
            reader,
            "IngressClass",
            Facet.KUBE_INGRESS_CLASSES,
            reader.list("/apis/networking.k8s.io/v1/ingressclasses"),
            parse_ingress_class,
        ),
    )
    inv.ingress_classes = classes or []

    step(3, "LB controller custom resources")
    lbc, lbc_missing = _read_custom_resources(reader, inv, LBC_RESOURCES)
    missing += lbc_missing

    def lbc_objects(res: _CustomResource, parse: Callable[[JsonObj], Any]) -> list[Any] | None:
        """Its objects parsed; None when not installed or not read (the facet says which)."""
        objs = lbc.get(res.plural)
        return None if objs is None else _parse_each(reader, res.kind, res.facet, objs, parse)

    params_res, bindings_res = LBC_RESOURCES
    inv.ingress_class_params = lbc_objects(params_res, parse_ingress_class_params)
    inv.target_group_bindings = lbc_objects(bindings_res, parse_target_group_binding)
    inv.crds = _lbc_crds(reader)

    step(4, "Gateway API")
    missing += _collect_gateway_api(reader, inv)

    step(5, "load balancer controller deployments")
    deployments = section("deployments", Facet.KUBE_DEPLOYMENTS, lambda: reader.list("/apis/apps/v1/deployments"))
    # each Deployment parsed as the LB controller first: one that parser cannot take is reported once, left out
    parsed = _parse_each(
        reader, "Deployment", Facet.KUBE_DEPLOYMENTS, deployments or [], lambda d: (d, parse_controller(d))
    )
    inv.controllers = [c for _, c in parsed if c is not None]
    if deployments is not None:
        inv.ingress_controllers = _ingress_controllers(reader, [d for d, _ in parsed])
        missing += _collect_controller_configs(reader, inv)

    step(6, "controller service accounts")
    wanted = sorted({(c.namespace or "", c.service_account_name or "default") for c in inv.controllers})
    if not inv.controllers:
        wanted = [LBC_DEFAULT_SERVICE_ACCOUNT]
    for namespace, name in wanted:
        try:
            path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}"
            sa = _expect_kind(path, reader.get(path), "ServiceAccount")
        except (_Unauthorized, TargetUnreachable):
            raise
        except CollectionError as exc:
            if exc.code != "404":  # a missing service account is a finding, not a collection failure
                reader.problem(f"serviceaccount {namespace}/{name}", exc, Facet.KUBE_SERVICE_ACCOUNTS, whole=False)
                missing.append(f"serviceaccount {namespace}/{name}")
            continue
        inv.service_accounts += _parse_each(
            reader, "ServiceAccount", Facet.KUBE_SERVICE_ACCOUNTS, [sa], lambda o: ServiceAccount(**_object_fields(o))
        )

    step(7, "endpoint slices")
    if services is None or ingresses is None:
        inv.endpoint_slices = None  # without Services and Ingresses we cannot tell which slices matter
        reader.facets[Facet.KUBE_ENDPOINT_SLICES] = FacetCoverage(
            status=CoverageStatus.ERROR,
            error_code="NotRead",
            message="not read: the Services or Ingresses they belong to could not be listed",
        )
    else:
        keep = {(s.namespace or "", s.name) for s in services if s.type == "LoadBalancer"}
        keep |= _backend_services(ingresses, inv.target_group_bindings)
        keep |= _route_backend_services(inv.routes or [])
        slices = section(
            "endpointslices",
            Facet.KUBE_ENDPOINT_SLICES,
            lambda: _parse_each(
                reader,
                "EndpointSlice",
                Facet.KUBE_ENDPOINT_SLICES,
                reader.list("/apis/discovery.k8s.io/v1/endpointslices"),
                lambda o: (
                    parse_endpoint_slice(o)
                    if (_obj(o.get("metadata")).get("namespace", ""), _service_label(o)) in keep
                    else None
                ),
            ),
        )
        inv.endpoint_slices = slices
    missing += _collect_network_policy(reader, inv)
    step(8, "done")
    return missing


def _listed(reader: _Reader, what: str, path: str, facet: Facet, parse: Any, missing: list[str]) -> list[Any] | None:
    """Every object of one listing, parsed (one the parser cannot take is left out, its facet partial); None when
    the list failed (its facet is an error)."""
    try:
        raw = reader.list(path)
    except (_Unauthorized, TargetUnreachable):
        raise
    except CollectionError as exc:
        reader.problem(what, exc, facet)
        missing.append(what)
        return None
    return _parse_each(reader, what, facet, raw, parse)


def _collect_network_policy(reader: _Reader, inv: KubeInventory) -> list[str]:
    """NetworkPolicies, namespaces, the pod network's DaemonSets, the nodes' addresses, and the pods behind the
    exposed Services (only in the namespaces whose EndpointSlices name pods; only the pods they name are kept)."""
    missing: list[str] = []
    inv.network_policies = _listed(
        reader,
        "networkpolicies",
        "/apis/networking.k8s.io/v1/networkpolicies",
        Facet.KUBE_NETWORK_POLICIES,
        parse_network_policy,
        missing,
    )
    inv.namespaces = _listed(
        reader, "namespaces", "/api/v1/namespaces", Facet.KUBE_NAMESPACES, parse_namespace, missing
    )
    inv.network_daemon_sets = _listed(
        reader,
        "daemonsets",
        "/apis/apps/v1/daemonsets",
        Facet.KUBE_NETWORK_DAEMON_SETS,
        parse_network_daemon_set,
        missing,
    )
    inv.nodes = _listed(reader, "nodes", "/api/v1/nodes", Facet.KUBE_NODES, parse_node, missing)
    if inv.endpoint_slices is None:
        inv.pods = None
        reader.facets[Facet.KUBE_PODS] = FacetCoverage(
            status=CoverageStatus.ERROR,
            error_code="NotRead",
            message="not read: the EndpointSlices that name them could not be read",
        )
        return missing
    wanted: dict[str, set[str]] = {}
    for eps in inv.endpoint_slices:
        for ep in eps.endpoints:
            if ep.target_ref_kind == "Pod" and ep.target_ref_name:
                wanted.setdefault(eps.namespace or "", set()).add(ep.target_ref_name)
    pods: list[Pod] = []
    for namespace in sorted(wanted):
        found = _listed(
            reader, f"pods in {namespace}", f"/api/v1/namespaces/{namespace}/pods", Facet.KUBE_PODS, parse_pod, missing
        )
        if found is None:
            # one namespace failed: the others are kept, the facet says the pods are incomplete
            reader.facets[Facet.KUBE_PODS] = reader.facets[Facet.KUBE_PODS].model_copy(
                update={"status": CoverageStatus.PARTIAL}
            )
            continue
        pods.extend(p for p in found if p.name in wanted[namespace])
    inv.pods = pods
    return missing


def _service_label(obj: JsonObj) -> str:
    return str(((obj.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL, ""))


def collect_kube(
    target: TargetConfig,
    settings: Settings,
    *,
    progress: ProgressFn = no_progress,
    api_client: client.ApiClient | None = None,
    cancelled: CancelCheck = never_cancelled,
) -> tuple[KubeInventory | None, list[Coverage]]:
    """Read the cluster's exposure objects. Never raises: every failure becomes coverage data -- but RunCancelled,
    once ``cancelled()`` says so before a request: the audit ends, nothing read is returned.

    Unreachable server, unusable kubeconfig or rejected credentials -> (None, [ERROR]); a resource
    type the auditor may not read -> that field None (or [] where the model has no None) and PARTIAL.
    """
    started = time.monotonic()

    def coverage(
        status: CoverageStatus, *, code: str | None = None, message: str | None = None, calls: int = 0
    ) -> Coverage:
        return Coverage(
            source="kubernetes",
            collector="kubernetes",
            status=status,
            error_code=code,
            message=message,
            calls=calls,
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    progress(ProgressEvent(stage="kubernetes", message=f"connecting ({target.name})"))
    try:
        api = api_client if api_client is not None else kube_client(target, settings)
    except AuditorError as exc:
        log.error("kubernetes: %s", exc)
        progress(ProgressEvent(stage="kubernetes", message=str(exc), status="error"))
        return None, [coverage(CoverageStatus.ERROR, code=type(exc).__name__, message=str(exc))]

    reader = _Reader(api, page_size=settings.kube.page_size, timeout=settings.kube.request_timeout, cancelled=cancelled)
    inv = KubeInventory(context=_context_name(target) if api_client is None else target.context, server=reader.server)
    try:
        missing = _collect(reader, inv, progress)
    except TargetUnreachable as exc:
        log.error("kubernetes: %s", exc)
        progress(ProgressEvent(stage="kubernetes", message=str(exc), status="error"))
        return None, [coverage(CoverageStatus.ERROR, code="Unreachable", message=str(exc), calls=reader.calls)]
    except _Unauthorized as exc:
        message = f"the Kubernetes API server at {reader.server} rejected the credentials (HTTP 401): {exc}"
        log.error("kubernetes: %s", message)
        progress(ProgressEvent(stage="kubernetes", message=message, status="error"))
        return None, [coverage(CoverageStatus.ERROR, code="401", message=message, calls=reader.calls)]

    if reader.problems:
        codes = sorted({p.rsplit(": ", 1)[-1] for p in reader.problems})
        message = f"could not read: {'; '.join(reader.problems)}"
        if missing:
            message += f" (collected as empty: {', '.join(missing)})"
        progress(ProgressEvent(stage="kubernetes", message=message, status="partial"))
        partial = coverage(CoverageStatus.PARTIAL, code=",".join(codes), message=message, calls=reader.calls)
        partial.facets = {
            **{f: FacetCoverage(status=CoverageStatus.OK) for f in facets_of("kubernetes")},
            **reader.facets,
        }
        return inv, [partial]
    summary = f"{len(inv.services)} services, {len(inv.ingresses)} ingresses, {len(inv.controllers)} controller(s)"
    if inv.gateways:
        summary += f", {len(inv.gateways)} gateway(s)"
    progress(ProgressEvent(stage="kubernetes", message=summary, status="ok"))
    complete = coverage(CoverageStatus.OK, message=summary, calls=reader.calls)
    complete.facets = dict(reader.facets)  # only ``absent`` ones: an API that is not installed
    return inv, [complete]


def main(argv: list[str]) -> int:
    """``python -m auditor.collect.kube rbac`` prints deploy/rbac.yaml."""
    if argv[1:] == ["rbac"]:
        sys.stdout.write(render_rbac())
        return 0
    sys.stderr.write("usage: python -m auditor.collect.kube rbac > deploy/rbac.yaml\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))


__all__ = ["RBAC_RULES", "RbacRule", "cluster_role", "collect_kube", "kube_client", "render_rbac"]
