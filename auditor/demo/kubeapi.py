"""A small Kubernetes API server emulator over HTTP, enough for the official client and kubectl.

It stores objects in memory and answers like a real API server: discovery (``/api``, ``/apis``,
per group/version resource lists, custom resources registered by creating a
CustomResourceDefinition), namespaced and cluster-scoped CRUD, merge / strategic-merge / JSON
patches, server-side apply (field managers in ``managedFields``, fields a manager stops sending
removed, conflicts and ``force``), the ``status`` subresource, list paging (``limit`` + ``continue``), label and field
selectors, a minimal watch, and ``Status`` bodies with proper HTTP codes on errors (an unregistered
resource type is a 404, as on a real server). The demo embeds it and every Kubernetes test uses it.

Test and demo hooks: ``seed()`` stores an object as is (status included), ``objects()`` reads
state, ``requests_log`` records every request, ``fail()`` injects faults (``expire_continue()``: continue tokens
that have expired; ``stall()``: an answer that comes only after a wait), and ``auto_ready=True`` makes Deployments
report ready the way the deployment controller would.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

import yaml

logger = logging.getLogger(__name__)

JsonObj = dict[str, Any]
Payload = JsonObj | str | Iterator[JsonObj]

SERVER_VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.4-emulator",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True)
class ResourceType:
    """One servable resource: group/version/plural and how it is named and scoped."""

    group: str  # "" = core
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    status_subresource: bool = False
    categories: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: objects are shared across the served versions of one group/resource."""
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _rt(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    *short: str,
    status: bool = False,
    categories: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(group, version, plural, kind, namespaced, kind.lower(), tuple(short), status, categories)


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _rt("", "v1", "namespaces", "Namespace", False, "ns", status=True),
    _rt("", "v1", "services", "Service", True, "svc", status=True, categories=("all",)),
    _rt("", "v1", "serviceaccounts", "ServiceAccount", True, "sa"),
    _rt("", "v1", "pods", "Pod", True, "po", status=True, categories=("all",)),
    _rt("", "v1", "endpoints", "Endpoints", True, "ep"),
    _rt("", "v1", "secrets", "Secret", True),
    _rt("", "v1", "configmaps", "ConfigMap", True, "cm"),
    _rt("", "v1", "nodes", "Node", False, "no", status=True),
    _rt("", "v1", "events", "Event", True, "ev"),
    _rt("apps", "v1", "deployments", "Deployment", True, "deploy", status=True, categories=("all",)),
    _rt("apps", "v1", "replicasets", "ReplicaSet", True, "rs", status=True, categories=("all",)),
    _rt("apps", "v1", "daemonsets", "DaemonSet", True, "ds", status=True, categories=("all",)),
    _rt("networking.k8s.io", "v1", "ingresses", "Ingress", True, "ing", status=True),
    _rt("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _rt("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "netpol"),
    _rt("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _rt(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "crd",
        "crds",
        status=True,
    ),
    _rt("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _rt("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _rt("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _rt("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _rt("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False),
    _rt(
        "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False
    ),
    _rt("coordination.k8s.io", "v1", "leases", "Lease", True),
    _rt("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "pdb", status=True),
    _rt("batch", "v1", "jobs", "Job", True, status=True, categories=("all",)),
    _rt("batch", "v1", "cronjobs", "CronJob", True, "cj", status=True, categories=("all",)),
)

# Resources whose DELETE answers with the deleted object (the registry's ReturnDeletedObject), not a Status.
_RETURNS_DELETED_OBJECT = {("", "services"), ("", "serviceaccounts"), ("", "pods")}

_MAX_LOGGED_REQUESTS = 200_000

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered as a ``Status`` object."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: JsonObj | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, HTTPStatus(code).phrase.replace(" ", ""))
        self.details = details

    def status(self) -> JsonObj:
        body: JsonObj = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _not_found_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", details={})


def _not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(
        404, f'{rt.group_resource} "{name}" not found', details={"name": name, "group": rt.group, "kind": rt.plural}
    )


class RequestRecord(NamedTuple):
    """One request the server received (query values: last one wins)."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class _Fault:
    method: str
    path_prefix: str
    status: int
    times: int | None
    message: str | None
    body: JsonObj | str | None = None  # answered as is instead of a Status (answer())
    retry_after: int | None = None  # seconds, sent as the Retry-After header
    continued_only: bool = False  # only list requests that carry a continue token (expire_continue())
    delay_seconds: float = 0.0  # answered as usual, after this wait (stall())


@dataclass
class _ListRequest:
    namespace: str | None
    label_selector: str | None
    field_selector: str | None
    limit: int | None
    continue_token: str | None


# --------------------------------------------------------------------------- selectors


@dataclass(frozen=True)
class _Requirement:
    key: str
    op: str  # = != in notin exists !exists
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        raise AssertionError(self.op)


_LABEL_TOKEN = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_label_selector(text: str) -> list[_Requirement]:
    """Parse ``a=b,c!=d,e in (f,g),h notin (i),j,!k`` into requirements; bad syntax -> 400."""
    reqs: list[_Requirement] = []
    for part in _split_top_level(text):
        m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\(([^)]*)\)", part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            reqs.append(_Requirement(m.group(1), m.group(2), values))
        elif "!=" in part:
            key, value = (s.strip() for s in part.split("!=", 1))
            reqs.append(_Requirement(key, "!=", (value,)))
        elif "==" in part or "=" in part:
            key, value = (s.strip() for s in re.split("==?", part, maxsplit=1))
            reqs.append(_Requirement(key, "=", (value,)))
        elif part.startswith("!"):
            reqs.append(_Requirement(part[1:].strip(), "!exists"))
        else:
            reqs.append(_Requirement(part, "exists"))
    for req in reqs:
        if not _LABEL_TOKEN.match(req.key):
            raise ApiError(400, f"unable to parse requirement: invalid label key {req.key!r}")
    return reqs


_FIELD_SELECTABLE = ("metadata.name", "metadata.namespace")


def _field_matcher(text: str, rt: ResourceType) -> list[tuple[str, bool, str]]:
    """(field, equal?, value) triples for a field selector; unsupported field -> 400 as on a real server."""
    out: list[tuple[str, bool, str]] = []
    for part in _split_top_level(text):
        if "!=" in part:
            key, value = part.split("!=", 1)
            equal = False
        elif "=" in part:
            key, value = re.split("==?", part, maxsplit=1)
            equal = True
        else:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        key = key.strip()
        if key not in _FIELD_SELECTABLE:
            raise ApiError(400, f"field label not supported: {key}", details={})
        out.append((key, equal, value.strip()))
    return out


def _field_value(obj: JsonObj, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


# --------------------------------------------------------------------------- patches


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- server-side apply: field ownership
# https://kubernetes.io/docs/reference/using-api/server-side-apply/ -- every write records which manager set which
# fields (metadata.managedFields, FieldsV1); an apply owns exactly the fields of its configuration, drops the ones it
# owned and no longer sends, and conflicts with other managers' fields unless forced. Simplification: lists are
# atomic (one field each); a real server merges associative lists (containers by name) item by item.

FieldPath = tuple[str, ...]
_SERVER_SET_METADATA = frozenset(
    {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink"}
)
_ABSENT = object()


def field_paths(obj: JsonObj, *, with_status: bool = True) -> set[FieldPath]:
    """The fields an object sets: paths to scalars, lists and empty maps (server-set metadata left out)."""
    found: set[FieldPath] = set()

    def walk(value: Any, path: FieldPath) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, (*path, str(key)))
        else:
            found.add(path)

    for key, value in obj.items():
        if key in ("apiVersion", "kind") or (key == "status" and not with_status):
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _SERVER_SET_METADATA:
                    walk(meta_value, ("metadata", meta_key))
        else:
            walk(value, (key,))
    return found


def fields_v1(paths: set[FieldPath]) -> JsonObj:
    """Paths as the API's FieldsV1 document: {"f:spec": {"f:replicas": {}}}."""
    root: JsonObj = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return root


def paths_of_fields_v1(document: JsonObj) -> set[FieldPath]:
    found: set[FieldPath] = set()

    def walk(node: JsonObj, path: FieldPath) -> None:
        children = [k for k in node if k.startswith("f:")]
        if not children:
            found.add(path)
        for key in children:
            walk(node[key] or {}, (*path, key[2:]))

    for key, value in document.items():
        if key.startswith("f:"):
            walk(value or {}, (key[2:],))
    return found


def _value_at(obj: Any, path: FieldPath) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _ABSENT
        obj = obj[part]
    return obj


def _remove_path(obj: JsonObj, path: FieldPath) -> None:
    """Remove a field, then the maps it leaves empty (not the object's top-level fields)."""
    parents: list[tuple[JsonObj, str]] = []
    node: Any = obj
    for part in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(part), dict):
            return
        parents.append((node, part))
        node = node[part]
    if isinstance(node, dict):
        node.pop(path[-1], None)
    for parent, key in reversed(parents[1:]):
        if parent[key]:
            break
        del parent[key]


def _managed_entry(manager: str, operation: str, api_version: str, paths: set[FieldPath]) -> JsonObj:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": _now(),
        "fieldsType": "FieldsV1",
        "fieldsV1": fields_v1(paths),
    }


def _entry_paths(entry: JsonObj) -> set[FieldPath]:
    return paths_of_fields_v1(entry.get("fieldsV1") or {})


def _dotted(path: FieldPath) -> str:
    return "." + ".".join(path)


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A strategic merge patch, simplified: a merge patch where lists of objects that all carry a
    ``name`` are merged by name (containers, env, ports, volumes), and ``$patch``/``$setElementOrder``
    /``$retainKeys``/``$deleteFromPrimitiveList`` directives are honoured or dropped."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field_name = key.split("/", 1)[1]
            if isinstance(result.get(field_name), list):
                result[field_name] = [v for v in result[field_name] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and _named_list(value) and _named_list(result.get(key)):
            result[key] = _merge_named_lists(result[key], value)
        elif isinstance(value, list):
            result[key] = [strategic_merge_patch(None, v) if isinstance(v, dict) else v for v in value]
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and "name" in v for v in value)


def _merge_named_lists(current: list[JsonObj], patch: list[JsonObj]) -> list[JsonObj]:
    merged = [copy.deepcopy(item) for item in current]
    for item in patch:
        idx = next((i for i, cur in enumerate(merged) if cur.get("name") == item["name"]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                merged.pop(idx)
        elif idx is None:
            merged.append(strategic_merge_patch(None, item))
        else:
            merged[idx] = strategic_merge_patch(merged[idx], item)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError(422, f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve_parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(part)
    return node


def json_patch(doc: Any, ops: list[JsonObj]) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test); a failing op -> 422."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        try:
            parts = _pointer(op["path"])
            if kind in ("move", "copy"):
                src_parts = _pointer(op["from"])
                value = copy.deepcopy(_get_pointer(doc, src_parts))
                if kind == "move":
                    doc = _remove(doc, src_parts)
                doc = _add(doc, parts, value)
            elif kind == "add":
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "remove":
                doc = _remove(doc, parts)
            elif kind == "replace":
                doc = _remove(doc, parts)
                doc = _add(doc, parts, copy.deepcopy(op["value"]))
            elif kind == "test":
                if _get_pointer(doc, parts) != op["value"]:
                    raise ApiError(
                        422,
                        f"the server rejected our request due to an error in our request: "
                        f"testing value {op['path']} failed",
                    )
            else:
                raise ApiError(400, f"unknown JSON patch operation {kind!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise ApiError(
                422,
                f"the server rejected our request due to an error in our request: "
                f"{kind} operation does not apply: doc is missing path: {op.get('path')}",
            ) from exc
    return doc


def _get_pointer(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return doc
    parent = _resolve_parent(doc, parts)
    return parent[int(parts[-1])] if isinstance(parent, list) else parent[parts[-1]]


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve_parent(doc, parts)
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            idx = int(last)
            if idx > len(parent):
                raise IndexError(idx)
            parent.insert(idx, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise TypeError(last)
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return None
    parent = _resolve_parent(doc, parts)
    if isinstance(parent, list):
        parent.pop(int(parts[-1]))
    else:
        del parent[parts[-1]]
    return doc


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class TlsMaterial:
    """A throwaway CA and a serving certificate for 127.0.0.1/localhost (PEM)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


_TLS_CACHE: list[TlsMaterial] = []
_TLS_LOCK = threading.Lock()


def tls_material() -> TlsMaterial:
    """Generate (once per process) a CA and a server certificate signed by it.

    client-go sends credentials only over TLS, so kubectl needs HTTPS to use the token.
    """
    with _TLS_LOCK:
        if _TLS_CACHE:
            return _TLS_CACHE[0]
        import ipaddress
        from datetime import timedelta

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-emulator-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        material = TlsMaterial(
            ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        _TLS_CACHE.append(material)
        return material


def _server_ssl_context(material: TlsMaterial) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain wants files: write them to a private temporary directory, read, delete.
    with tempfile.TemporaryDirectory(prefix="kubeapi-tls-") as tmp:
        cert_file, key_file = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
        cert_file.write_bytes(material.cert_pem)
        key_file.write_bytes(material.key_pem)
        key_file.chmod(0o600)
        ctx.load_cert_chain(cert_file, key_file)
    return ctx


# --------------------------------------------------------------------------- the store


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": list(after)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        return int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ApiError(400, "continue key is not valid: incorrect encoded start resourceVersion") from exc


class KubeApiServer:
    """An in-memory Kubernetes API server on 127.0.0.1:<free port>, served from a daemon thread."""

    def __init__(
        self,
        *,
        token: str | None = None,
        tls: bool = True,
        auto_ready: bool = False,
        port: int = 0,
        require_namespaces: bool = True,
    ) -> None:
        self.token = token
        self.tls = tls
        self.auto_ready = auto_ready
        self.require_namespaces = require_namespaces
        self._port = port
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._types: dict[tuple[str, str, str], ResourceType] = {}  # (group, version, plural)
        self._store: dict[tuple[str, str], dict[tuple[str, str], JsonObj]] = {}
        self._rv = 0
        self._events: list[tuple[int, str, tuple[str, str], JsonObj]] = []  # rv, type, key, obj (for watch)
        self._faults: list[_Fault] = []
        self.requests_log: list[RequestRecord] = []
        self._request_context = threading.local()  # the request's User-Agent: its default field manager
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self.kubeconfig: Path | None = None  # the last file write_kubeconfig() wrote
        self.context: str | None = None
        for rt in BUILTIN_TYPES:
            self._register(rt)
        for ns in DEFAULT_NAMESPACES:
            self.seed(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}
            )

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("KubeApiServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> KubeApiServer:
        if self._httpd is not None:
            return self
        server = self

        class Handler(_Handler):
            api = server

        class Httpd(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def process_request(self, request: Any, client_address: Any) -> None:
                with server._lock:
                    server._connections.add(request)
                super().process_request(request, client_address)

            def handle_error(self, request: Any, client_address: Any) -> None:
                logger.debug("connection from %s failed", client_address, exc_info=True)

            def shutdown_request(self, request: Any) -> None:
                with server._lock:
                    server._connections.discard(request)
                super().shutdown_request(request)

        self._httpd = Httpd(("127.0.0.1", self._port), Handler)
        if self.tls:
            ctx = _server_ssl_context(tls_material())
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="kubeapi", daemon=True)
        self._thread.start()
        logger.debug("Kubernetes API emulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and drop open keep-alive connections (clients then see a refused connection)."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._connections)
            self._connections.clear()
            self._changed.notify_all()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def write_kubeconfig(self, path: Path, context: str = "demo", namespace: str | None = None) -> Path:
        """Write a kubeconfig (cluster, user with bearer token, context) pointing at this server."""
        ctx: JsonObj = {"cluster": context, "user": f"{context}-user"}
        if namespace:
            ctx["namespace"] = namespace
        user: JsonObj = {"token": self.token} if self.token else {}
        cluster: JsonObj = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(tls_material().ca_pem).decode()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": f"{context}-user", "user": user}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        self.kubeconfig, self.context = path, context
        return path

    # ------------------------------------------------------------------ hooks

    def seed(self, obj: JsonObj) -> JsonObj:
        """Store an object as given (status included), filling uid/resourceVersion/timestamps.

        Creates the object's namespace when missing; replaces an existing object of the same name.
        """
        rt = self._type_for_object(obj)
        new = copy.deepcopy(obj)
        meta = new.setdefault("metadata", {})
        if "name" not in meta:
            raise ValueError("seeded object has no metadata.name")
        with self._lock:
            if rt.namespaced:
                meta.setdefault("namespace", "default")
                if not self._get(("", "namespaces"), ("", meta["namespace"])):
                    self.seed(
                        {
                            "apiVersion": "v1",
                            "kind": "Namespace",
                            "metadata": {"name": meta["namespace"]},
                            "status": {"phase": "Active"},
                        }
                    )
            else:
                meta.pop("namespace", None)
            key = (meta.get("namespace", ""), meta["name"])
            old = self._get(rt.key, key)
            meta.setdefault("uid", old["metadata"]["uid"] if old else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta.setdefault("generation", 1)
            new["apiVersion"] = new.get("apiVersion", rt.api_version)
            new["kind"] = rt.kind
            self._put(rt, key, new, "MODIFIED" if old else "ADDED")
            if rt.plural == "customresourcedefinitions":
                self._register_crd(new)
            return copy.deepcopy(new)

    def objects(self, kind: str, namespace: str | None = None) -> list[JsonObj]:
        """Stored objects of a kind ("Deployment", "deployments" or "deployments.apps"), sorted by ns/name."""
        with self._lock:
            rt = self._type_by_name(kind)
            items = sorted(self._store.get(rt.key, {}).items())
            return [copy.deepcopy(o) for (ns, _), o in items if namespace is None or ns == namespace]

    def get_object(self, kind: str, name: str, namespace: str | None = None) -> JsonObj | None:
        with self._lock:
            rt = self._type_by_name(kind)
            obj = self._get(rt.key, (namespace or "" if rt.namespaced else "", name))
            return copy.deepcopy(obj) if obj else None

    def fail(
        self,
        method: str,
        path_prefix: str,
        status: int,
        times: int | None = None,
        message: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        """Answer requests matching method ("*" = any) and path prefix with an error Status.

        A prefix ending in ``$`` matches that exact path only (``/apis$``: the group list, not every group).
        ``times`` None = until cleared with ``clear_faults()``. ``retry_after`` sends that Retry-After header, as
        the server does with a 429 of API Priority and Fairness or the max-in-flight limit (``Retry-After: 1``,
        https://kubernetes.io/docs/concepts/cluster-administration/flow-control/) and with some 5xx answers.
        """
        with self._lock:
            self._faults.append(_Fault(method.upper(), path_prefix, status, times, message, retry_after=retry_after))

    def answer(
        self, method: str, path_prefix: str, body: JsonObj | str, *, status: int = 200, times: int | None = None
    ) -> None:
        """Answer requests matching method and path prefix (as ``fail()`` matches them) with ``body`` as is.

        Not what kube-apiserver itself sends -- it answers a list with ``<Kind>List`` and an ``items`` array, discovery
        with ``APIGroupList``/``APIGroup``/``APIResourceList``
        (https://kubernetes.io/docs/reference/using-api/api-concepts/#collections) -- but what a client can meet
        behind it: an aggregated API server or a proxy in the path answering with another kind of body.
        """
        with self._lock:
            self._faults.append(_Fault(method.upper(), path_prefix, status, times, None, body))

    def expire_continue(self, path_prefix: str, times: int | None = None) -> None:
        """Answer list requests matching the path prefix (as ``fail()`` matches them) that carry a continue token with
        410 Expired, as kube-apiserver does when etcd was compacted past the snapshot the token points into ("the
        client must start over",
        https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks; the
        message is apiserver's ``continueExpired``). A first page, without a token, is served as usual. ``times`` None
        = until cleared with ``clear_faults()``."""
        body = ApiError(
            410,
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter.",
        ).status()
        with self._lock:
            self._faults.append(_Fault("GET", path_prefix, 410, times, None, body, continued_only=True))

    def stall(self, method: str, path_prefix: str, seconds: float, times: int | None = None) -> None:
        """Answer requests matching method and path prefix (as ``fail()`` matches them) as usual, but only after
        ``seconds``: a server that took the request and is slow to answer it (a large list from etcd, an overloaded
        API server), which a client with a shorter read timeout sees as no answer. ``times`` None = until cleared with
        ``clear_faults()``."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), path_prefix, 200, times, None, delay_seconds=seconds))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests_log.clear()

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[RequestRecord]:
        """Logged requests filtered by method and path prefix."""
        with self._lock:
            return [
                r
                for r in self.requests_log
                if (method is None or r.method == method.upper()) and r.path.startswith(path_prefix)
            ]

    def resource_types(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    # ------------------------------------------------------------------ type registry

    def _register(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        self._store.setdefault(rt.key, {})

    def _register_crd(self, crd: JsonObj) -> None:
        spec = crd.get("spec") or {}
        names = spec.get("names") or {}
        group = spec.get("group", "")
        plural = names.get("plural", "")
        kind = names.get("kind", "")
        if not (group and plural and kind):
            return
        for ver in spec.get("versions") or []:
            if not ver.get("served", True):
                continue
            rt = ResourceType(
                group=group,
                version=ver["name"],
                plural=plural,
                kind=kind,
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular") or kind.lower(),
                short_names=tuple(names.get("shortNames") or ()),
                status_subresource="status" in (ver.get("subresources") or {}),
                categories=tuple(names.get("categories") or ()),
            )
            self._register(rt)
        status = crd.setdefault("status", {})
        status["acceptedNames"] = {
            k: v
            for k, v in names.items()
            if k in ("plural", "singular", "kind", "listKind", "shortNames", "categories")
        }
        status["storedVersions"] = [v["name"] for v in spec.get("versions") or [] if v.get("storage")]
        status["conditions"] = [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": _now(),
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": _now(),
            },
        ]

    def _unregister_crd(self, crd: JsonObj) -> None:
        spec = crd.get("spec") or {}
        group = spec.get("group", "")
        plural = (spec.get("names") or {}).get("plural", "")
        for key in [k for k in self._types if k[0] == group and k[2] == plural]:
            del self._types[key]
        self._store.pop((group, plural), None)

    def _type_for_object(self, obj: JsonObj) -> ResourceType:
        api_version = obj.get("apiVersion", "")
        kind = obj.get("kind", "")
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        raise ValueError(f"no resource type registered for {api_version} {kind}")

    def _type_by_name(self, name: str) -> ResourceType:
        lowered = name.lower()
        for rt in self._types.values():
            if lowered in (rt.kind.lower(), rt.plural, rt.group_resource, rt.singular, *rt.short_names):
                return rt
        raise KeyError(f"unknown resource type {name!r}")

    def _served_groups(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for rt in self._types.values():
            versions = groups.setdefault(rt.group, [])
            if rt.version not in versions:
                versions.append(rt.version)
        for versions in groups.values():
            versions.sort(key=_version_priority)
        return groups

    # ------------------------------------------------------------------ storage primitives (lock held)

    def _get(self, type_key: tuple[str, str], key: tuple[str, str]) -> JsonObj | None:
        return self._store.get(type_key, {}).get(key)

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _put(self, rt: ResourceType, key: tuple[str, str], obj: JsonObj, event: str) -> None:
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._store.setdefault(rt.key, {})[key] = obj
        self._record_event(event, rt, obj)

    def _record_event(self, event: str, rt: ResourceType, obj: JsonObj) -> None:
        self._events.append((self._rv, event, rt.key, copy.deepcopy(obj)))
        del self._events[:-2000]
        self._changed.notify_all()

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> tuple[int, Payload]:
        """Answer one request: (HTTP status, JSON body, plain text, or a stream of watch events)."""
        split = urlsplit(raw_path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        self._request_context.user_agent = headers.get("user-agent", "")
        self._request_context.response_headers = {}
        with self._lock:
            self.requests_log.append(RequestRecord(method, path, query))
            if len(self.requests_log) > _MAX_LOGGED_REQUESTS:  # a long-running demo must not grow without bound
                del self.requests_log[: _MAX_LOGGED_REQUESTS // 2]
            fault = self._match_fault(method, path, continued=bool(query.get("continue")))
        if fault is not None and fault.delay_seconds:
            time.sleep(fault.delay_seconds)  # this request's thread only; then answered like any other
            fault = None
        if fault is not None:
            if fault.retry_after is not None:
                self._request_context.response_headers = {"Retry-After": str(fault.retry_after)}
            if fault.body is not None:
                return fault.status, copy.deepcopy(fault.body)
            return fault.status, self._fault_status(fault, method, path).status()
        if self.token is not None and path not in ("/healthz", "/livez", "/readyz"):
            auth = headers.get("authorization", "")
            if auth != f"Bearer {self.token}":
                return 401, ApiError(401, "Unauthorized").status()
        try:
            return self._route(method, path, query, headers, body)
        except ApiError as err:
            return err.code, err.status()

    def _match_fault(self, method: str, path: str, *, continued: bool) -> _Fault | None:
        for fault in self._faults:
            if fault.method not in ("*", method) or (fault.continued_only and not continued):
                continue
            exact = fault.path_prefix.endswith("$")
            if (path != fault.path_prefix[:-1]) if exact else not path.startswith(fault.path_prefix):
                continue
            if fault.times is not None:
                if fault.times <= 0:
                    continue
                fault.times -= 1
            return fault
        return None

    def _fault_status(self, fault: _Fault, method: str, path: str) -> ApiError:
        if fault.message:
            return ApiError(fault.status, fault.message)
        if fault.status == 403:
            resource, group = self._describe_path(path)
            verb = {
                "GET": "list" if resource and path.rstrip("/").endswith(resource) else "get",
                "POST": "create",
                "PUT": "update",
                "PATCH": "patch",
                "DELETE": "delete",
            }.get(method, method)
            return ApiError(
                403,
                f"{resource}{'.' + group if group else ''} is forbidden: User "
                f'"system:serviceaccount:default:emulator" cannot {verb} resource "{resource}" '
                f'in API group "{group}"',
                details={"group": group, "kind": resource},
            )
        if fault.status == 500:
            return ApiError(500, "Internal error occurred: injected fault")
        if fault.status == 429:  # API Priority and Fairness rejecting a request
            return ApiError(429, "Too many requests, please try again later.")
        return ApiError(fault.status, f"injected fault ({fault.status})")

    @staticmethod
    def _describe_path(path: str) -> tuple[str, str]:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"] and len(parts) >= 3:
            rest, group = parts[2:], ""
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            rest, group = parts[3:], parts[1]
        else:
            return "", ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            return rest[2], group
        return rest[0], group

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[int, Payload]:
        parts = [p for p in path.split("/") if p]
        if path in ("/healthz", "/livez", "/readyz"):
            return 200, "ok"
        if path == "/version":
            return 200, dict(SERVER_VERSION)
        if parts[:2] == ["openapi", "v3"]:
            with self._lock:
                return 200, self._openapi_v3("/".join(parts[2:]))
        if not parts or parts[0] not in ("api", "apis"):
            raise _not_found_path()
        with self._lock:
            if parts == ["api"]:
                return 200, {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.port}"}
                    ],
                }
            if parts == ["apis"]:
                return 200, self._group_list()
            if parts[0] == "api":
                group, rest = "", parts[1:]
            elif len(parts) == 2:
                return 200, self._group(parts[1])
            else:
                group, rest = parts[1], parts[2:]
            version, rest = rest[0], rest[1:]
            if (group, version) not in {(rt.group, rt.version) for rt in self._types.values()}:
                raise _not_found_path()
            if not rest:
                return 200, self._resource_list(group, version)
            rt, namespace, name, sub = self._resolve(group, version, rest)
        if sub not in (None, "status"):
            raise _not_found_path()
        if name is None:
            if method == "GET":
                if query.get("watch") in ("true", "True", "1"):
                    return 200, self._watch(rt, namespace, query)
                return 200, self._list(rt, self._list_request(namespace, query))
            if method == "POST":
                return 201, self._create(rt, namespace, self._body(headers, body), query)
            if method == "DELETE":
                return 200, self._delete_collection(rt, self._list_request(namespace, query))
            raise ApiError(405, "the server does not allow this method on the requested resource")
        if method == "GET":
            return 200, self._read(rt, namespace, name)
        if method == "PUT":
            return 200, self._replace(rt, namespace, name, self._body(headers, body), sub=sub, query=query)
        if method == "PATCH":
            return self._patch(rt, namespace, name, headers=headers, body=body, sub=sub, query=query)
        if method == "DELETE" and sub is None:
            return 200, self._delete(rt, namespace, name)
        raise ApiError(405, "the server does not allow this method on the requested resource")

    def _resolve(
        self, group: str, version: str, rest: list[str]
    ) -> tuple[ResourceType, str | None, str | None, str | None]:
        """URL tail after group/version -> (type, namespace, name, subresource)."""
        namespace: str | None = None
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (group == "" and len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        rt = self._types.get((group, version, rest[0]))
        if rt is None or len(rest) > 3:
            raise _not_found_path()
        if namespace is not None and not rt.namespaced:
            raise _not_found_path()
        name = rest[1] if len(rest) >= 2 else None
        sub = rest[2] if len(rest) == 3 else None
        if rt.namespaced and name is not None and namespace is None:
            raise _not_found_path()
        return rt, namespace, name, sub

    @staticmethod
    def _body(headers: dict[str, str], body: bytes) -> JsonObj:
        ctype = headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype not in ("application/json", "application/yaml", "*/*", ""):
            raise ApiError(
                415,
                f"the body of the request was in an unknown format - accepted media types "
                f"include: application/json, application/yaml (got {ctype})",
            )
        try:
            data = yaml.safe_load(body) if ctype == "application/yaml" else json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "the body of the request must be an object")
        return data

    @staticmethod
    def _list_request(namespace: str | None, query: dict[str, str]) -> _ListRequest:
        limit: int | None = None
        if query.get("limit"):
            try:
                limit = int(query["limit"])
            except ValueError as exc:
                raise ApiError(400, f"invalid limit {query['limit']!r}") from exc
            limit = limit if limit > 0 else None
        return _ListRequest(
            namespace,
            query.get("labelSelector") or None,
            query.get("fieldSelector") or None,
            limit,
            query.get("continue") or None,
        )

    # ------------------------------------------------------------------ discovery

    def _group_list(self) -> JsonObj:
        groups = []
        for group in sorted(self._served_groups(), key=_group_order):
            if group == "":
                continue
            groups.append(self._group(group))
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _group(self, group: str) -> JsonObj:
        versions = self._served_groups().get(group)
        if not versions or group == "":
            raise _not_found_path()
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _resource_list(self, group: str, version: str) -> JsonObj:
        resources: list[JsonObj] = []
        for rt in sorted(
            (t for t in self._types.values() if t.group == group and t.version == version), key=lambda t: t.plural
        ):
            entry: JsonObj = {
                "name": rt.plural,
                "singularName": rt.singular,
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(ALL_VERBS),
            }
            if rt.short_names:
                entry["shortNames"] = list(rt.short_names)
            if rt.categories:
                entry["categories"] = list(rt.categories)
            resources.append(entry)
            if rt.status_subresource:
                resources.append(
                    {
                        "name": f"{rt.plural}/status",
                        "singularName": "",
                        "namespaced": rt.namespaced,
                        "kind": rt.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        gv = f"{group}/{version}" if group else version
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    def _openapi_v3(self, gv_path: str) -> JsonObj:
        """A minimal OpenAPI v3: the index, and per group/version the PATCH operations with the query
        parameters they accept. kubectl reads it to learn that validation happens on the server
        (``fieldValidation``), then builds patches from its compiled-in types."""
        groups = {(rt.group, rt.version) for rt in self._types.values()}
        if not gv_path:
            paths = {}
            for group, version in sorted(groups):
                key = f"apis/{group}/{version}" if group else f"api/{version}"
                paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={self._rv:016X}"}
            return {"paths": paths}
        parts = gv_path.split("/")
        if parts[0] == "api" and len(parts) == 2:
            group, version = "", parts[1]
        elif parts[0] == "apis" and len(parts) == 3:
            group, version = parts[1], parts[2]
        else:
            raise _not_found_path()
        if (group, version) not in groups:
            raise _not_found_path()
        params = [
            {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
            for name in ("dryRun", "fieldManager", "fieldValidation", "force")
        ]
        api_paths: JsonObj = {}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        for rt in sorted(
            (t for t in self._types.values() if (t.group, t.version) == (group, version)), key=lambda t: t.plural
        ):
            scope = "/namespaces/{namespace}" if rt.namespaced else ""
            gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
            api_paths[f"{prefix}{scope}/{rt.plural}/{{name}}"] = {
                "patch": {
                    "operationId": f"patch{rt.kind}",
                    "parameters": params,
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "responses": {"200": {"description": "OK"}},
                },
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
            "paths": api_paths,
            "components": {"schemas": {}},
        }

    # ------------------------------------------------------------------ verbs

    def _filter(self, rt: ResourceType, req: _ListRequest) -> list[tuple[tuple[str, str], JsonObj]]:
        labels = parse_label_selector(req.label_selector) if req.label_selector else []
        fields = _field_matcher(req.field_selector, rt) if req.field_selector else []
        out = []
        for key, obj in sorted(self._store.get(rt.key, {}).items()):
            if req.namespace is not None and key[0] != req.namespace:
                continue
            obj_labels = obj["metadata"].get("labels") or {}
            if not all(r.matches(obj_labels) for r in labels):
                continue
            if not all((_field_value(obj, f) == v) == eq for f, eq, v in fields):
                continue
            out.append((key, obj))
        return out

    def _list(self, rt: ResourceType, req: _ListRequest) -> JsonObj:
        with self._lock:
            matched = self._filter(rt, req)
            list_rv = self._rv
            if req.continue_token:
                list_rv, after = _decode_continue(req.continue_token)
                matched = [(k, o) for k, o in matched if k > after]
            meta: JsonObj = {"resourceVersion": str(list_rv)}
            if req.limit is not None and len(matched) > req.limit:
                page = matched[: req.limit]
                meta["continue"] = _encode_continue(list_rv, page[-1][0])
                meta["remainingItemCount"] = len(matched) - req.limit
            else:
                page = matched
            items = [self._present(rt, o) for _, o in page]
        return {"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta, "items": items}

    def _present(self, rt: ResourceType, obj: JsonObj) -> JsonObj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.api_version
        out["kind"] = rt.kind
        return out

    def _read(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObj:
        with self._lock:
            obj = self._get(rt.key, (namespace or "", name))
            if obj is None:
                raise _not_found(rt, name)
            return self._present(rt, obj)

    def _check_namespace(self, rt: ResourceType, namespace: str | None) -> None:
        if rt.namespaced and self.require_namespaces and namespace is not None:
            ns = self._get(("", "namespaces"), ("", namespace))
            if ns is None:
                raise ApiError(
                    404, f'namespaces "{namespace}" not found', details={"name": namespace, "kind": "namespaces"}
                )

    def _validate(self, rt: ResourceType, obj: JsonObj, namespace: str | None, name: str | None) -> JsonObj:
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if name is not None and meta.get("name") not in (None, name):
            raise ApiError(
                400, f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if name is not None:
            meta["name"] = name
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        if not meta.get("name"):
            raise ApiError(
                422,
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"metadata.name: Required value: name or generateName is required",
                details={"kind": rt.kind, "causes": [{"reason": "FieldValueRequired", "field": "metadata.name"}]},
            )
        if rt.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(
                    400, "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        expected_api = rt.api_version
        if obj.get("apiVersion") not in (None, expected_api) or obj.get("kind") not in (None, rt.kind):
            raise ApiError(
                400,
                f"the API version in the data ({obj.get('apiVersion')}) does not match the "
                f"expected API version ({expected_api}) or kind ({obj.get('kind')} != {rt.kind})",
            )
        if rt.plural == "customresourcedefinitions":
            spec = obj.get("spec") or {}
            expected = f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
            if meta["name"] != expected:
                raise ApiError(
                    422,
                    f'CustomResourceDefinition.apiextensions.k8s.io "{meta["name"]}" is invalid: '
                    f'metadata.name: Invalid value: must be spec.names.plural+"."+spec.group',
                )
        obj["apiVersion"], obj["kind"] = expected_api, rt.kind
        return obj

    def _create(self, rt: ResourceType, namespace: str | None, obj: JsonObj, query: dict[str, str]) -> JsonObj:
        if rt.namespaced and namespace is None:
            raise ApiError(405, "the server does not allow this method on the requested resource")
        with self._lock:
            obj = self._validate(rt, obj, namespace, None)
            self._check_namespace(rt, namespace)
            meta = obj["metadata"]
            key = (namespace or "", meta["name"])
            if self._get(rt.key, key) is not None:
                raise ApiError(
                    409,
                    f'{rt.group_resource} "{meta["name"]}" already exists',
                    reason="AlreadyExists",
                    details={"name": meta["name"], "group": rt.group, "kind": rt.plural},
                )
            if query.get("dryRun") == "All":
                return self._present(rt, obj)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = _now()
            meta["generation"] = 1
            for transient in ("resourceVersion", "deletionTimestamp", "selfLink"):
                meta.pop(transient, None)
            if rt.status_subresource and rt.plural not in ("customresourcedefinitions",):
                obj.pop("status", None)
            if not meta.get("managedFields"):  # an apply that creates brings its Apply entry
                with_status = not rt.status_subresource
                meta["managedFields"] = [
                    _managed_entry(
                        self._manager(query), "Update", rt.api_version, field_paths(obj, with_status=with_status)
                    )
                ]
            self._defaults(rt, obj)
            self._put(rt, key, obj, "ADDED")
            if rt.plural == "customresourcedefinitions":
                self._register_crd(obj)
            self._after_write(rt, key)
            return self._present(rt, self._store[rt.key][key])

    def _defaults(self, rt: ResourceType, obj: JsonObj) -> None:
        """The few defaults clients here rely on."""
        if rt.plural == "services":
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") in (None, "") and spec["type"] != "ExternalName":
                spec["clusterIP"] = f"10.100.{(self._rv // 250) % 250}.{self._rv % 250 + 1}"
            for port in spec.get("ports") or []:
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            obj.setdefault("status", {"loadBalancer": {}})
        elif rt.plural == "namespaces":
            obj.setdefault("status", {"phase": "Active"})
        elif rt.plural == "deployments":
            spec = obj.setdefault("spec", {})
            spec.setdefault("replicas", 1)
            obj.setdefault("status", {})

    def _replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: JsonObj,
        *,
        sub: str | None,
        query: dict[str, str],
    ) -> JsonObj:
        with self._lock:
            key = (namespace or "", name)
            current = self._get(rt.key, key)
            if current is None:
                raise _not_found(rt, name)
            obj = self._validate(rt, obj, namespace, name)
            rv = obj["metadata"].get("resourceVersion")
            if rv not in (None, "") and rv != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has '
                    f"been modified; please apply your changes to the latest version and try again",
                    details={"name": name, "group": rt.group, "kind": rt.plural},
                )
            if sub is None:
                self._record_update(rt, current, obj, query)
            return self._store_update(rt, key, current, obj, sub=sub, query=query)

    def _store_update(
        self,
        rt: ResourceType,
        key: tuple[str, str],
        current: JsonObj,
        obj: JsonObj,
        *,
        sub: str | None,
        query: dict[str, str],
    ) -> JsonObj:
        """Write an updated object: keep server-owned metadata, respect the status subresource."""
        if sub == "status":
            new = copy.deepcopy(current)
            new["status"] = copy.deepcopy(obj.get("status") or {})
            meta = obj.get("metadata") or {}
            for field_name in ("labels", "annotations"):
                if field_name in meta:
                    new["metadata"][field_name] = meta[field_name]
        else:
            new = copy.deepcopy(obj)
            if rt.status_subresource and rt.plural != "customresourcedefinitions":
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
        meta = new["metadata"]
        for owned in ("uid", "creationTimestamp"):
            meta[owned] = current["metadata"][owned]
        meta["namespace"] = current["metadata"].get("namespace")
        if meta["namespace"] is None:
            meta.pop("namespace")
        generation = int(current["metadata"].get("generation", 1))
        if sub is None and _spec_of(new) != _spec_of(current):
            generation += 1
        meta["generation"] = generation
        if query.get("dryRun") == "All":
            return self._present(rt, new)
        if _without_rv(new) == _without_rv(current):
            return self._present(rt, current)  # a no-op write keeps the resourceVersion, as on a real server
        self._put(rt, key, new, "MODIFIED")
        if rt.plural == "customresourcedefinitions":
            self._register_crd(new)
        if sub is None:
            self._after_write(rt, key)
        return self._present(rt, self._store[rt.key][key])

    def _patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        headers: dict[str, str],
        body: bytes,
        sub: str | None,
        query: dict[str, str],
    ) -> tuple[int, JsonObj]:
        ctype = headers.get("content-type", "").split(";")[0].strip()
        try:
            patch = yaml.safe_load(body) if ctype == "application/apply-patch+yaml" else json.loads(body or b"null")
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, f"the body of the request could not be decoded: {exc}") from exc
        with self._lock:
            key = (namespace or "", name)
            current = self._get(rt.key, key)
            if ctype == "application/apply-patch+yaml":
                if not isinstance(patch, dict):
                    raise ApiError(400, "apply patch must be an object")
                if "fieldManager" not in query:
                    raise ApiError(
                        422,
                        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                        "is required for apply patch",
                    )
                if current is None:
                    if sub is not None:
                        raise _not_found(rt, name)
                    config = self._validate(rt, copy.deepcopy(patch), namespace, name)
                    paths = field_paths(config, with_status=not rt.status_subresource)
                    config["metadata"]["managedFields"] = [
                        _managed_entry(query["fieldManager"], "Apply", rt.api_version, paths)
                    ]
                    return 201, self._create(rt, namespace, config, query)
                if sub is None:
                    return 200, self._server_side_apply(rt, key, current, patch, namespace, query)
                merged = merge_patch(current, patch)
            else:
                if current is None:
                    raise _not_found(rt, name)
                if ctype == "application/merge-patch+json":
                    merged = merge_patch(current, patch)
                elif ctype == "application/strategic-merge-patch+json":
                    if rt.group not in {b.group for b in BUILTIN_TYPES}:
                        raise ApiError(
                            415,
                            "strategic merge patch is not supported for custom resources",
                            reason="UnsupportedMediaType",
                        )
                    merged = strategic_merge_patch(current, patch)
                elif ctype == "application/json-patch+json":
                    if not isinstance(patch, list):
                        raise ApiError(400, "a JSON patch must be a list of operations")
                    merged = json_patch(current, patch)
                else:
                    raise ApiError(
                        415,
                        f"the body of the request was in an unknown format - accepted media types "
                        f"include: application/json-patch+json, application/merge-patch+json, "
                        f"application/apply-patch+yaml, application/strategic-merge-patch+json "
                        f"(got {ctype!r})",
                    )
            if not isinstance(merged, dict):
                raise ApiError(422, "the patch did not produce an object")
            merged = self._validate(rt, merged, namespace, name)
            if sub is None and ctype != "application/apply-patch+yaml":
                self._record_update(rt, current, merged, query)
            rv = (patch.get("metadata") or {}).get("resourceVersion") if isinstance(patch, dict) else None
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object has '
                    f"been modified; please apply your changes to the latest version and try again",
                )
            return 200, self._store_update(rt, key, current, merged, sub=sub, query=query)

    def _manager(self, query: dict[str, str]) -> str:
        """The request's field manager: ``?fieldManager``, else its User-Agent up to the first '/'."""
        agent = getattr(self._request_context, "user_agent", "") or "unknown"
        return query.get("fieldManager") or agent.split("/", 1)[0]

    def _record_update(self, rt: ResourceType, current: JsonObj, new: JsonObj, query: dict[str, str]) -> None:
        """A non-apply write: the fields it changed move to its manager (operation Update)."""
        with_status = not rt.status_subresource
        manager = self._manager(query)
        now_set = field_paths(new, with_status=with_status)
        changed = {p for p in now_set if _value_at(new, p) != _value_at(current, p)}
        entries: list[JsonObj] = []
        mine: JsonObj | None = None
        for entry in current["metadata"].get("managedFields") or []:
            if entry.get("manager") == manager and entry.get("operation") == "Update":
                mine = entry
                continue
            kept = (_entry_paths(entry) & now_set) - changed
            if kept == _entry_paths(entry):
                entries.append(entry)
            elif kept:
                entries.append({**entry, "fieldsV1": fields_v1(kept)})
        owned_by_me = ((_entry_paths(mine) if mine else set()) & now_set) | changed
        if mine is not None and owned_by_me == _entry_paths(mine):
            entries.append(mine)
        elif owned_by_me:
            entries.append(_managed_entry(manager, "Update", rt.api_version, owned_by_me))
        new["metadata"]["managedFields"] = entries

    def _server_side_apply(
        self,
        rt: ResourceType,
        key: tuple[str, str],
        current: JsonObj,
        patch: JsonObj,
        namespace: str | None,
        query: dict[str, str],
    ) -> JsonObj:
        """Apply a configuration to an existing object as its field manager (lock held)."""
        manager = query["fieldManager"]
        force = query.get("force", "").lower() in ("true", "1")
        config = self._validate(rt, copy.deepcopy(patch), namespace, key[1])
        if rt.status_subresource:
            config.pop("status", None)  # the status subresource's fields are applied there
        wanted = field_paths(config)
        entries: list[JsonObj | None] = []  # None: where this manager's entry goes (its place is kept)
        previous: set[FieldPath] = set()
        mine: JsonObj | None = None
        conflicts: list[tuple[str, FieldPath]] = []
        for entry in current["metadata"].get("managedFields") or []:
            if entry.get("manager") == manager and entry.get("operation") == "Apply":
                mine, previous = entry, _entry_paths(entry)
                entries.append(None)
                continue
            owned = _entry_paths(entry)
            clash = {p for p in owned & wanted if _value_at(current, p) != _value_at(config, p)}
            conflicts.extend((str(entry.get("manager")), p) for p in sorted(clash))
            if not (clash and force):
                entries.append(entry)
            elif owned - clash:  # forced: the conflicting fields change owner
                entries.append({**entry, "fieldsV1": fields_v1(owned - clash)})
        if conflicts and not force:
            fields = ", ".join(f'conflict with "{m}": {_dotted(p)}' for m, p in conflicts)
            raise ApiError(
                409,
                f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: {fields}",
                reason="Conflict",
                details={
                    "name": key[1],
                    "group": rt.group,
                    "kind": rt.plural,
                    "causes": [
                        {"reason": "FieldManagerConflict", "message": f'conflict with "{m}"', "field": _dotted(p)}
                        for m, p in conflicts
                    ],
                },
            )
        merged = merge_patch(current, config)
        others: set[FieldPath] = set()
        for entry in entries:
            others |= _entry_paths(entry) if entry is not None else set()
        for path in sorted(previous - wanted - others, key=len, reverse=True):
            _remove_path(merged, path)  # given up by this manager and owned by no one else
        own = (
            mine
            if mine is not None and previous == wanted
            else _managed_entry(manager, "Apply", rt.api_version, wanted)
        )
        if None not in entries:
            entries.append(None)
        merged["metadata"]["managedFields"] = [own if entry is None else entry for entry in entries]
        return self._store_update(rt, key, current, merged, sub=None, query=query)

    def _delete(self, rt: ResourceType, namespace: str | None, name: str) -> JsonObj:
        with self._lock:
            key = (namespace or "", name)
            obj = self._store.get(rt.key, {}).pop(key, None)
            if obj is None:
                raise _not_found(rt, name)
            self._next_rv()
            self._record_event("DELETED", rt, obj)
            if rt.plural == "customresourcedefinitions":
                self._unregister_crd(obj)
            if rt.plural == "namespaces":
                for objs in self._store.values():
                    for obj_key in [k for k in objs if k[0] == name]:
                        del objs[obj_key]
            if rt.key in _RETURNS_DELETED_OBJECT:
                return self._present(rt, obj)
            return {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {"name": name, "group": rt.group, "kind": rt.plural, "uid": obj["metadata"]["uid"]},
            }

    def _delete_collection(self, rt: ResourceType, req: _ListRequest) -> JsonObj:
        with self._lock:
            matched = self._filter(rt, req)
            for key, _ in matched:
                self._delete(rt, key[0] or None, key[1])
            return {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": [self._present(rt, o) for _, o in matched],
            }

    def _after_write(self, rt: ResourceType, key: tuple[str, str]) -> None:
        """What the controllers would do next: with auto_ready, a Deployment rolls out at once."""
        if not (self.auto_ready and rt.plural == "deployments"):
            return
        obj = self._store[rt.key][key]
        replicas = int((obj.get("spec") or {}).get("replicas", 1))
        new = copy.deepcopy(obj)
        new["status"] = {
            "observedGeneration": obj["metadata"].get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "reason": "MinimumReplicasAvailable",
                    "message": "Deployment has minimum availability.",
                    "lastUpdateTime": _now(),
                    "lastTransitionTime": _now(),
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": f'ReplicaSet "{key[1]}" has successfully progressed.',
                    "lastUpdateTime": _now(),
                    "lastTransitionTime": _now(),
                },
            ],
        }
        self._put(rt, key, new, "MODIFIED")

    # ------------------------------------------------------------------ watch

    def _watch(self, rt: ResourceType, namespace: str | None, query: dict[str, str]) -> Iterator[JsonObj]:
        """Events for a ``?watch=true`` list: the current objects as ADDED (unless ``resourceVersion``
        is given), then changes until ``timeoutSeconds`` (default 30) pass or the server stops."""
        req = self._list_request(namespace, query)
        with self._lock:
            if req.label_selector:
                parse_label_selector(req.label_selector)
            if req.field_selector:
                _field_matcher(req.field_selector, rt)
            start_rv = int(query["resourceVersion"]) if query.get("resourceVersion", "0") not in ("", "0") else None
            initial = [] if start_rv else [o for _, o in self._filter(rt, req)]
            since = start_rv if start_rv else self._rv
        try:
            timeout = float(query.get("timeoutSeconds") or 30)
        except ValueError as exc:
            raise ApiError(400, "invalid timeoutSeconds") from exc
        return self._watch_stream(rt, req, initial, since, time.monotonic() + timeout)

    def _watch_stream(
        self, rt: ResourceType, req: _ListRequest, initial: list[JsonObj], since: int, deadline: float
    ) -> Iterator[JsonObj]:
        for obj in initial:
            yield {"type": "ADDED", "object": self._present(rt, obj)}
        single = _ListRequest(req.namespace, req.label_selector, req.field_selector, None, None)
        while self.running and time.monotonic() < deadline:
            with self._lock:
                pending = [e for e in self._events if e[0] > since and e[2] == rt.key]
                if not pending:
                    self._changed.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                    continue
            for rv, kind, _, obj in pending:
                since = rv
                if self._event_matches(rt, single, obj):
                    yield {"type": kind, "object": self._present(rt, obj)}

    @staticmethod
    def _event_matches(rt: ResourceType, req: _ListRequest, obj: JsonObj) -> bool:
        meta = obj.get("metadata") or {}
        if req.namespace is not None and meta.get("namespace") != req.namespace:
            return False
        labels = parse_label_selector(req.label_selector) if req.label_selector else []
        fields = _field_matcher(req.field_selector, rt) if req.field_selector else []
        return all(r.matches(meta.get("labels") or {}) for r in labels) and all(
            (_field_value(obj, f) == v) == eq for f, eq, v in fields
        )


def _without_rv(obj: JsonObj) -> JsonObj:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta, "apiVersion": None, "kind": None}


def _spec_of(obj: JsonObj) -> JsonObj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version order: GA before beta before alpha, higher numbers first."""
    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0)
    stability = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    return (stability, -int(m.group(1)), -int(m.group(3) or 0))


_GROUP_ORDER = [b.group for b in BUILTIN_TYPES]


def _group_order(group: str) -> tuple[int, str]:
    return (_GROUP_ORDER.index(group), "") if group in _GROUP_ORDER else (len(_GROUP_ORDER), group)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler delegating to ``KubeApiServer.handle``."""

    api: KubeApiServer
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-emulator"
    timeout = 60
    # Keep-alive responses are written in two sends (headers, body): with Nagle on, the client's
    # delayed ACK stalls every response ~40 ms. A real API server sets TCP_NODELAY too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, payload = self.api.handle(self.command, self.path, headers, body)
        except Exception:  # a bug in the emulator must still answer like a server would
            logger.exception("emulator failed on %s %s", self.command, self.path)
            status, payload = 500, ApiError(500, "Internal error occurred: emulator failure").status()
        if isinstance(payload, (dict, str)):
            self._send(status, payload)
        else:
            self._stream(payload)

    def _send(self, status: int, payload: JsonObj | str) -> None:
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        for name, value in getattr(self.api._request_context, "response_headers", {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _stream(self, events: Iterator[JsonObj]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch
    do_DELETE = _dispatch
    do_HEAD = _dispatch


def main() -> None:  # pragma: no cover - manual use: python -m auditor.demo.kubeapi
    """Run an emulator in the foreground and write ./kubeconfig-emulator for kubectl."""
    logging.basicConfig(level=logging.INFO)
    with KubeApiServer(token="demo-token") as server:  # noqa: S106 - a local demo server's token
        path = server.write_kubeconfig(Path("kubeconfig-emulator"))
        logger.info("serving on %s; kubeconfig written to %s", server.url, path)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
