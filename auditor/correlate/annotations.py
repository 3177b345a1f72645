"""Read what Ingress and Service annotations ask the controllers for, and what the controller would reject.

Parsing never raises: a bad value becomes an ``AnnotationProblem`` (the ``invalid-annotation`` rule)
and the setting falls back to what the controller would do without it. Values are bounded before they are
parsed (size, JSON depth, integer ranges), so a hostile snapshot costs no more than a valid one.

Formats and ranges: the controller's annotation reference,
https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/ and
.../guide/service/annotations/, and the IngressClassParams CRD,
https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/ingress_class/.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from auditor.inventory.models import GatewayConfiguration, Ingress, IngressClassParams, Service

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"
LBC_INGRESS_CONTROLLER = "ingress.k8s.aws/alb"
LBC_SERVICE_CLASS = "service.k8s.aws/nlb"
LBC_DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"

# group.name: up to 63 lowercase letters, digits, "-" and "." (the controller's IngressGroup docs)
GROUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")
_IAM_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:server-certificate/.+$")
_WAFV2_ARN = re.compile(r"^arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/.+$")
_SCHEMES = ("internal", "internet-facing")
_TRUE = ("true", "yes", "1", "0.0.0.0/0")
# An integer as the controller's Go strconv.Atoi reads it: ASCII digits only (Python's int() also takes
# "1_000", " 8 " and other scripts' digits), and short, so int() never meets a 5,000-digit string.
_INT = re.compile(r"^[+-]?[0-9]{1,9}$")
# The API server rejects an object whose annotations total more than 256 KiB
# (apimachinery's TotalAnnotationSizeLimitB); a longer value can only come from a tampered snapshot.
MAX_VALUE_CHARS = 256 * 1024
# Actions and conditions nest about five levels (forward config -> target groups -> stickiness);
# anything this deep is not one, and walking it must not recurse.
MAX_JSON_DEPTH = 32


# The ``annotation`` of a problem that is no annotation: the correlator could not evaluate the object at all
# (``auditor.correlate.build``); ``invalid-annotation`` reports it UNKNOWN, naming the object.
UNREADABLE = "(unreadable)"


@dataclass(frozen=True)
class AnnotationProblem:
    annotation: str  # an annotation key; "spec.<field>" on an IngressClassParams; or UNREADABLE
    value: str
    message: str


@dataclass(slots=True)
class IngressSettings:
    """What one Ingress asks the AWS Load Balancer Controller for (after IngressClassParams)."""

    scheme: Literal["internal", "internet-facing"] = "internal"
    scheme_explicit: bool = False
    group_name: str | None = None
    group_order: int = 0
    listen_ports: list[tuple[str, int]] = field(default_factory=list)
    ssl_redirect: int | None = None
    certificate_arns: list[str] = field(default_factory=list)
    ssl_policy: str | None = None  # None = the controller's default (ELBSecurityPolicy-2016-08)
    wafv2_acl_arn: str | None = None  # "none" = detach, None = leave as is
    waf_classic_acl_id: str | None = None  # WAF Classic (waf-regional) web ACL ID: waf-acl-id, else web-acl-id
    target_type: str = "instance"
    inbound_cidrs: list[str] = field(default_factory=list)
    inbound_cidrs_from: str | None = None  # IngressClassParams spec.inboundCIDRs, the annotation; None: default
    class_params: str | None = None  # the name of the IngressClassParams of its class, if any
    problems: list[AnnotationProblem] = field(default_factory=list)

    @property
    def effective_ssl_policy(self) -> str:
        return self.ssl_policy or LBC_DEFAULT_SSL_POLICY


@dataclass(slots=True)
class ServiceSettings:
    """Which controller handles a LoadBalancer Service and what it asks for (facts §2)."""

    controller: Literal["lbc", "in-tree", "other", "none"]
    lb_type: Literal["network", "classic", "unknown"] = "unknown"
    scheme: Literal["internal", "internet-facing"] = "internet-facing"
    scheme_explicit: bool = False
    ssl_ports: list[str] = field(default_factory=list)
    ssl_cert: str | None = None
    ssl_policy: str | None = None
    problems: list[AnnotationProblem] = field(default_factory=list)


def _problem(problems: list[AnnotationProblem], key: str, value: str, message: str) -> None:
    problems.append(AnnotationProblem(key, value, message))


def parse_int(value: str, low: int, high: int) -> int | None:
    """An annotation integer within [low, high], or None (not an integer, or out of range)."""
    text = value.strip()
    if not _INT.match(text):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _too_long(problems: list[AnnotationProblem], key: str, value: str) -> bool:
    if len(value) <= MAX_VALUE_CHARS:
        return False
    _problem(problems, key, value, f"is {len(value):,} characters, more than Kubernetes' 256 KiB annotation limit")
    return True


def _depth(data: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _parse_json(problems: list[AnnotationProblem], key: str, value: str) -> Any:
    if _too_long(problems, key, value):
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        _problem(problems, key, value, f"not valid JSON: {exc.msg} at character {exc.pos}")
        return None
    except RecursionError:
        _problem(problems, key, value, f"not usable JSON: nested deeper than {MAX_JSON_DEPTH} levels")
        return None
    except ValueError as exc:  # e.g. a number of more than 4,300 digits (int_max_str_digits)
        _problem(problems, key, value, f"not usable JSON: {exc}")
        return None
    if _depth(data) > MAX_JSON_DEPTH:
        _problem(problems, key, value, f"not usable JSON: nested deeper than {MAX_JSON_DEPTH} levels")
        return None
    return data


def _listen_ports(problems: list[AnnotationProblem], key: str, value: str) -> list[tuple[str, int]] | None:
    data = _parse_json(problems, key, value)
    if data is None:
        return None
    if not isinstance(data, list) or not data:
        _problem(problems, key, value, 'must be a non-empty JSON list like [{"HTTP": 80}, {"HTTPS": 443}]')
        return None
    ports: list[tuple[str, int]] = []
    for item in data:
        if not isinstance(item, dict) or len(item) != 1:
            shown = json.dumps(item)  # bounded: the value passed _parse_json's size and depth checks
            _problem(problems, key, value, f"each entry must be one protocol: port pair, got {shown[:80]}")
            return None
        ((proto, port),) = item.items()
        if proto not in ("HTTP", "HTTPS"):
            _problem(problems, key, value, f"protocol must be HTTP or HTTPS, got {proto!r}")
            return None
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            _problem(problems, key, value, f"port must be an integer 1-65535, got {port!r}")
            return None
        ports.append((proto, port))
    return ports


@lru_cache(maxsize=1024)
def _listen_ports_of(value: str) -> tuple[tuple[tuple[str, int], ...] | None, tuple[AnnotationProblem, ...]]:
    """``_listen_ports`` of one annotation value, memoised: a cluster repeats a few values on many Ingresses."""
    problems: list[AnnotationProblem] = []
    ports = _listen_ports(problems, ALB + "listen-ports", value)
    return (tuple(ports) if ports is not None else None), tuple(problems)


def _cidrs(problems: list[AnnotationProblem], key: str, value: str) -> list[str]:
    cidrs, found = _cidrs_of(key, value)
    problems.extend(found)
    return list(cidrs)


@lru_cache(maxsize=1024)
def _cidrs_of(key: str, value: str) -> tuple[tuple[str, ...], tuple[AnnotationProblem, ...]]:
    """The CIDRs of one annotation value and its problems, memoised (values repeat across a cluster)."""
    out: list[str] = []
    problems: list[AnnotationProblem] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            _problem(problems, key, value, f"{item[:80]!r} is not a CIDR")
            if len(problems) >= 5:  # enough to name the value; a hostile one may hold thousands
                break
    return tuple(out), tuple(problems)


@lru_cache(maxsize=1024)
def _is_certificate_arn(arn: str) -> bool:
    return bool(_ACM_ARN.match(arn) or _IAM_CERT_ARN.match(arn))


def _params_spec(params: IngressClassParams | None) -> dict[str, Any]:
    return params.spec if params else {}


def _spec_str(spec: dict[str, Any], *path: str) -> str | None:
    """A string field of an IngressClassParams spec; None when absent or not a string (``params_problems``
    reports the latter once, on the IngressClassParams)."""
    value: Any = spec
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else None


def _spec_strs(spec: dict[str, Any], key: str) -> list[str] | None:
    """A list-of-strings field of an IngressClassParams spec; None when absent or malformed."""
    value = spec.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


# IngressClassParams spec fields the auditor reads, and their shape in the CRD (elbv2.k8s.aws/v1beta1)
_SPEC_STRINGS = (("scheme",), ("group", "name"), ("sslPolicy",), ("wafv2AclArn",))
_SPEC_LISTS = ("certificateArn", "inboundCIDRs")


def params_problems(params: IngressClassParams) -> list[AnnotationProblem]:
    """Spec fields of an IngressClassParams that are not the type the CRD declares (the API server would have
    refused them, so they come from an edited snapshot); the Ingresses of its class read them as absent."""
    problems: list[AnnotationProblem] = []
    spec = params.spec
    for path in _SPEC_STRINGS:
        value: Any = spec
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and not isinstance(value, str):
            shown = _shown(value)
            _problem(problems, "spec." + ".".join(path), shown, "must be a string")
    group = spec.get("group")
    if group is not None and not isinstance(group, dict):
        _problem(problems, "spec.group", _shown(group), "must be an object with a name")
    for key in _SPEC_LISTS:
        value = spec.get(key)
        if value is not None and _spec_strs(spec, key) is None:
            _problem(problems, f"spec.{key}", _shown(value), "must be a list of strings")
    return problems


# gateway.k8s.aws objects: the values the controller's API declares (apis/gateway/v1/*_types.go in
# https://github.com/kubernetes-sigs/aws-load-balancer-controller; the guide:
# https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/loadbalancerconfig/).
_LB_CONFIG_ENUMS: dict[str, tuple[str, ...]] = {
    "mergingMode": ("prefer-gateway", "prefer-gateway-class"),
    "scheme": ("internal", "internet-facing"),
    "ipAddressType": ("ipv4", "dualstack", "dualstack-without-public-ipv4"),
}
_PROTOCOL_PORT = re.compile(
    r"^(HTTP|HTTPS|TLS|TCP|UDP|TCP_UDP)?:(6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})?$"
)
_TG_ENUMS: dict[str, tuple[str, ...]] = {
    "targetType": ("instance", "ip"),
    "ipAddressType": ("ipv4", "ipv6"),
    "protocolVersion": ("HTTP1", "HTTP2", "GRPC"),
}
_HEALTH_CHECK_PROTOCOLS = ("HTTP", "HTTPS", "TCP")


def gateway_configuration_problems(cfg: GatewayConfiguration) -> list[AnnotationProblem]:
    """Fields of a LoadBalancerConfiguration or TargetGroupConfiguration the controller cannot use: a value
    outside what its API allows (only an edited snapshot or a CRD without validation has one), a certificate
    that is not an ACM or IAM certificate ARN, a source range that is not a CIDR, a health check path not
    starting with "/". The controller then stops reconciling the Gateways that use it."""
    problems: list[AnnotationProblem] = []
    spec = cfg.spec
    if cfg.kind == "LoadBalancerConfiguration":
        for key, allowed in _LB_CONFIG_ENUMS.items():
            _enum(problems, f"spec.{key}", spec.get(key), allowed)
        ranges = spec.get("sourceRanges")
        if ranges is not None:
            if not isinstance(ranges, list):
                _problem(problems, "spec.sourceRanges", _shown(ranges), "must be a list of CIDRs")
            for item in ranges if isinstance(ranges, list) else []:
                try:
                    ipaddress.ip_network(str(item).strip(), strict=False)
                except ValueError:
                    _problem(problems, "spec.sourceRanges", _shown(item), f"{str(item)[:80]!r} is not a CIDR")
        listeners = spec.get("listenerConfigurations")
        if listeners is not None and not isinstance(listeners, list):
            _problem(problems, "spec.listenerConfigurations", _shown(listeners), "must be a list")
        for i, entry in enumerate(listeners if isinstance(listeners, list) else []):
            where = f"spec.listenerConfigurations[{i}]"
            if not isinstance(entry, dict):
                _problem(problems, where, _shown(entry), "must be an object")
                continue
            port = entry.get("protocolPort")
            if not isinstance(port, str) or not _PROTOCOL_PORT.match(port):
                _problem(problems, f"{where}.protocolPort", _shown(port), "must be PROTOCOL:PORT, e.g. HTTPS:443")
            more = entry.get("certificates")
            if more is not None and not isinstance(more, list):
                _problem(problems, f"{where}.certificates", _shown(more), "must be a list of certificate ARNs")
            for cert in listener_certificates(entry):
                if not (isinstance(cert, str) and _is_certificate_arn(cert)):
                    _problem(problems, f"{where}.certificates", _shown(cert), "is not an ACM or IAM certificate ARN")
    elif cfg.kind == "TargetGroupConfiguration":
        props = [("spec.defaultConfiguration", spec.get("defaultConfiguration"))]
        routes = spec.get("routeConfigurations")
        if routes is not None and not isinstance(routes, list):
            _problem(problems, "spec.routeConfigurations", _shown(routes), "must be a list")
        for i, route in enumerate(routes if isinstance(routes, list) else []):
            if not isinstance(route, dict):
                _problem(problems, f"spec.routeConfigurations[{i}]", _shown(route), "must be an object")
                continue
            props.append((f"spec.routeConfigurations[{i}].targetGroupProps", route.get("targetGroupProps")))
        for where, value in props:
            if not isinstance(value, dict):
                continue
            for key, allowed in _TG_ENUMS.items():
                _enum(problems, f"{where}.{key}", value.get(key), allowed)
            check = value.get("healthCheckConfig")
            if isinstance(check, dict):
                _enum(
                    problems,
                    f"{where}.healthCheckConfig.healthCheckProtocol",
                    check.get("healthCheckProtocol"),
                    _HEALTH_CHECK_PROTOCOLS,
                )
                path = check.get("healthCheckPath")
                if path is not None and not (isinstance(path, str) and path.startswith("/")):
                    _problem(
                        problems, f"{where}.healthCheckConfig.healthCheckPath", _shown(path), 'must start with "/"'
                    )
    return problems


def listener_certificates(entry: dict[str, Any]) -> list[Any]:
    """The certificates one ``spec.listenerConfigurations[]`` entry names: ``defaultCertificate`` and the list
    ``certificates`` (not a list: none; ``gateway_configuration_problems`` reports it), as written (any type)."""
    more = entry.get("certificates")
    return [c for c in [entry.get("defaultCertificate"), *(more if isinstance(more, list) else [])] if c is not None]


def _enum(problems: list[AnnotationProblem], key: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        _problem(problems, key, _shown(value), f"must be one of {', '.join(allowed)}")


def _shown(value: Any) -> str:
    """A spec value as text for a message, bounded (it may be deep or huge)."""
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 200 else text[:200] + "…"


# annotation keys every Ingress's annotations are compared with
_ACTIONS = ALB + "actions."
_CONDITIONS = ALB + "conditions."
_JSON_PREFIXES = (_ACTIONS, _CONDITIONS)
_LB_ATTRIBUTES = ALB + "load-balancer-attributes"
_HEALTHCHECK_PATH = ALB + "healthcheck-path"


def ingress_settings(ing: Ingress, params: IngressClassParams | None = None) -> IngressSettings:
    """Settings of an ALB Ingress; IngressClassParams override annotations as the controller does."""
    a = ing.annotations
    s = IngressSettings()
    problems = s.problems
    spec = _params_spec(params)
    s.class_params = params.name if params is not None else None

    scheme = _spec_str(spec, "scheme") or a.get(ALB + "scheme")
    if scheme is not None:
        if scheme in _SCHEMES:
            s.scheme = "internet-facing" if scheme == "internet-facing" else "internal"
            s.scheme_explicit = True
        else:
            _problem(problems, ALB + "scheme", scheme, "must be 'internal' or 'internet-facing'")

    group = _spec_str(spec, "group", "name") or a.get(ALB + "group.name")
    if group is not None:
        if GROUP_NAME.match(group):
            s.group_name = group
        else:
            _problem(
                problems,
                ALB + "group.name",
                group,
                "must be at most 63 characters of lowercase letters, digits, '-' and '.'",
            )
    order = a.get(ALB + "group.order")
    if order is not None:
        number = parse_int(order, -1000, 1000)
        if number is None:
            _problem(problems, ALB + "group.order", order, "must be an integer from -1000 to 1000")
        else:
            s.group_order = number

    spec_certs = _spec_strs(spec, "certificateArn")
    if spec_certs:
        s.certificate_arns = list(spec_certs)
    elif certs := a.get(ALB + "certificate-arn"):
        s.certificate_arns = [c.strip() for c in certs.split(",") if c.strip()]
    bad_arns = [arn for arn in s.certificate_arns if not _is_certificate_arn(arn)]
    for arn in bad_arns[:5]:  # enough to name the value; a hostile one may hold thousands
        _problem(problems, ALB + "certificate-arn", arn, "not an ACM or IAM server certificate ARN")

    ports_raw = a.get(ALB + "listen-ports")
    parsed = None
    if ports_raw is not None:
        parsed, found = _listen_ports_of(ports_raw)
        problems.extend(found)
    if parsed is not None:
        s.listen_ports = list(parsed)
    else:
        has_tls = bool(s.certificate_arns) or bool(ing.tls)
        s.listen_ports = [("HTTPS", 443)] if has_tls else [("HTTP", 80)]

    redirect = a.get(ALB + "ssl-redirect")
    if redirect is not None:
        port = parse_int(redirect, 1, 65535)
        if port is None:
            _problem(problems, ALB + "ssl-redirect", redirect, "must be the HTTPS port number (1-65535), e.g. '443'")
        else:
            s.ssl_redirect = port
            if ("HTTPS", port) not in s.listen_ports:
                _problem(problems, ALB + "ssl-redirect", redirect, f"port {port} is not an HTTPS port in listen-ports")

    s.ssl_policy = _spec_str(spec, "sslPolicy") or a.get(ALB + "ssl-policy")
    s.wafv2_acl_arn = _spec_str(spec, "wafv2AclArn") or a.get(ALB + "wafv2-acl-arn")
    if s.wafv2_acl_arn is not None and s.wafv2_acl_arn != "none" and not _WAFV2_ARN.match(s.wafv2_acl_arn):
        _problem(problems, ALB + "wafv2-acl-arn", s.wafv2_acl_arn, "must be a regional WAFv2 web ACL ARN or 'none'")

    # WAF Classic: waf-acl-id, else its deprecated alias web-acl-id ("none" detaches), as the controller reads them
    # (pkg/ingress/model_build_load_balancer_addons.go in kubernetes-sigs/aws-load-balancer-controller)
    s.waf_classic_acl_id = a.get(ALB + "waf-acl-id", a.get(ALB + "web-acl-id"))

    target_type = a.get(ALB + "target-type")
    if target_type is not None:
        if target_type in ("instance", "ip"):
            s.target_type = target_type
        else:
            _problem(problems, ALB + "target-type", target_type, "must be 'instance' or 'ip'")

    cidrs = _spec_strs(spec, "inboundCIDRs")
    if cidrs is not None:
        s.inbound_cidrs = list(cidrs)
        s.inbound_cidrs_from = f"IngressClassParams {params.name} spec.inboundCIDRs" if params else "spec.inboundCIDRs"
    elif (raw := a.get(ALB + "inbound-cidrs")) is not None:
        s.inbound_cidrs = _cidrs(problems, ALB + "inbound-cidrs", raw)
        s.inbound_cidrs_from = ALB + "inbound-cidrs"

    for key, value in a.items():
        if key.startswith(_JSON_PREFIXES):
            problems.extend(_json_annotation_problems(key, value))
        elif key == _LB_ATTRIBUTES:
            for pair in value.split(","):
                if pair.strip() and "=" not in pair:
                    _problem(problems, key, value, f"{pair.strip()[:80]!r} is not key=value")
                    break  # one is enough to name the value; a hostile one may hold thousands
        elif key == _HEALTHCHECK_PATH and not value.startswith("/"):
            _problem(problems, key, value, "must start with '/'")
    return s


def load_balancer_attributes(value: str) -> dict[str, str]:
    """``alb.ingress.kubernetes.io/load-balancer-attributes`` (``k=v,k=v``) as the controller reads it; a pair
    without ``=`` is left out (``ingress_settings`` reports it as a problem)."""
    found: dict[str, str] = {}
    for pair in value.split(","):
        key, sep, val = pair.partition("=")
        if sep and key.strip():
            found[key.strip()] = val.strip()
    return found


@lru_cache(maxsize=1024)
def _json_annotation_problems(key: str, value: str) -> tuple[AnnotationProblem, ...]:
    """Problems of one actions.* or conditions.* value, memoised (a cluster repeats a few values on many Ingresses)."""
    problems: list[AnnotationProblem] = []
    data = _parse_json(problems, key, value)
    if data is None:
        return tuple(problems)
    if key.startswith(_ACTIONS) and (not isinstance(data, dict) or "type" not in data):
        _problem(problems, key, value, 'must be a JSON object with a "type" (forward, redirect, fixed-response)')
    if key.startswith(_CONDITIONS) and not isinstance(data, list):
        _problem(problems, key, value, "must be a JSON list of conditions")
    return tuple(problems)


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("", "false", "no", "0")


def _in_tree_scheme(internal: str) -> Literal["internal", "internet-facing"]:
    """The scheme the in-tree provider gives a Service whose ``aws-load-balancer-internal`` is ``internal``: internal
    for every value but exactly "false" (and "", read as unset), so "0", "no" and "False" make it internal
    (EnsureLoadBalancer in https://github.com/kubernetes/cloud-provider-aws, pkg/providers/v1/aws.go:
    ``if internalAnnotation == "false" {...} else if internalAnnotation != "" { internalELB = true }``)."""
    return "internet-facing" if internal in ("", "false") else "internal"


def service_settings(svc: Service, lbc_class: str = LBC_SERVICE_CLASS) -> ServiceSettings:
    """Which controller takes a Service and the scheme it gets (facts §2)."""
    if svc.type != "LoadBalancer":
        return ServiceSettings(controller="none")
    a = svc.annotations
    problems: list[AnnotationProblem] = []
    lb_type_ann = a.get(SVC + "aws-load-balancer-type")
    if svc.load_balancer_class:
        controller: Literal["lbc", "in-tree", "other", "none"] = (
            "lbc" if svc.load_balancer_class == lbc_class else "other"
        )
    elif lb_type_ann in ("external", "nlb-ip"):
        controller = "lbc"
    else:
        controller = "in-tree"
    if lb_type_ann is not None and lb_type_ann not in ("nlb", "external", "nlb-ip", "classic", "clb"):
        _problem(problems, SVC + "aws-load-balancer-type", lb_type_ann, "must be 'external', 'nlb' or 'nlb-ip'")

    settings = ServiceSettings(controller=controller, problems=problems)
    if controller == "lbc":
        settings.lb_type = "network"
        settings.scheme = "internal"
        scheme = a.get(SVC + "aws-load-balancer-scheme")
        if scheme is not None:
            if scheme in _SCHEMES:
                settings.scheme = scheme  # type: ignore[assignment]
                settings.scheme_explicit = True
            else:
                _problem(problems, SVC + "aws-load-balancer-scheme", scheme, "must be 'internal' or 'internet-facing'")
        elif _truthy(a.get(SVC + "aws-load-balancer-internal")):
            settings.scheme = "internal"
            settings.scheme_explicit = True
        target_type = a.get(SVC + "aws-load-balancer-nlb-target-type")
        if target_type is not None and target_type not in ("ip", "instance"):
            _problem(problems, SVC + "aws-load-balancer-nlb-target-type", target_type, "must be 'ip' or 'instance'")
    elif controller == "in-tree":
        settings.lb_type = "network" if lb_type_ann == "nlb" else "classic"
        internal = a.get(SVC + "aws-load-balancer-internal")
        if internal:
            settings.scheme_explicit = True
            settings.scheme = _in_tree_scheme(internal)
        # The in-tree provider ignores aws-load-balancer-scheme; a user who set it believes it took effect.
        elif (scheme := a.get(SVC + "aws-load-balancer-scheme")) is not None:
            settings.scheme_explicit = scheme == "internet-facing"
    ssl_ports = a.get(SVC + "aws-load-balancer-ssl-ports")
    if ssl_ports:
        settings.ssl_ports = [p.strip() for p in ssl_ports.split(",") if p.strip()]
    settings.ssl_cert = a.get(SVC + "aws-load-balancer-ssl-cert")
    settings.ssl_policy = a.get(SVC + "aws-load-balancer-ssl-negotiation-policy")
    if (raw := a.get(SOURCE_RANGES)) is not None:
        _cidrs(problems, SOURCE_RANGES, raw)
        if source_ranges_refused(svc, controller):
            _problem(
                problems,
                SOURCE_RANGES,
                raw,
                "has an empty entry: the in-tree provider refuses the whole value and leaves the load balancer as it "
                "was",
            )
    if controller in ("lbc", "in-tree") and (unread := a.get(UNREAD_SOURCE_RANGES)) is not None:
        _problem(
            problems,
            UNREAD_SOURCE_RANGES,
            unread,
            f"is read by no controller: the load balancer admits what {SOURCE_RANGES} (or "
            "spec.loadBalancerSourceRanges) says, 0.0.0.0/0 when neither is set",
        )
    return settings


# The Kubernetes key both controllers read for a Service's source ranges (after spec.loadBalancerSourceRanges), and
# one seen in the wild that neither reads (the controller's Service annotation reference lists only the first).
SOURCE_RANGES = SVC + "load-balancer-source-ranges"
UNREAD_SOURCE_RANGES = SVC + "aws-load-balancer-source-ranges"


def source_ranges_refused(svc: Service, controller: str | None) -> bool:
    """Whether the in-tree provider refuses the Service's source-ranges annotation: it reads it only without
    spec.loadBalancerSourceRanges, and parses every comma-separated entry as a CIDR (k8s.io/cloud-provider service
    helpers, GetLoadBalancerSourceRanges), so an empty one ("10.0.0.0/8,") fails the whole value and the load
    balancer is not updated. The AWS Load Balancer Controller drops empty entries."""
    raw = (svc.annotations.get(SOURCE_RANGES) or "").strip()
    return (
        controller == "in-tree"
        and not svc.load_balancer_source_ranges
        and bool(raw)
        and any(not part.strip() for part in raw.split(","))
    )


def ingress_class_of(ing: Ingress) -> str | None:
    """The IngressClass name an Ingress asks for: spec field first, then the legacy annotation."""
    return ing.ingress_class_name or ing.annotations.get("kubernetes.io/ingress.class")


# ---- ingress-nginx (an in-cluster controller; facts §14). Annotation formats: the controller's annotation reference,
# https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/ — booleans are read with Go's
# strconv.ParseBool, and a value that does not parse is logged and ignored (the default applies).

NGINX = "nginx.ingress.kubernetes.io/"
INGRESS_NGINX_CONTROLLER = "k8s.io/ingress-nginx"
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
# boolean annotations of ingress-nginx (the reference lists them as "true" or "false")
NGINX_BOOLEANS = (
    "ssl-redirect",
    "force-ssl-redirect",
    "ssl-passthrough",
    "use-regex",
    "enable-cors",
    "enable-access-log",
    "preserve-trailing-slash",
    "from-to-www-redirect",
    "proxy-ssl-verify",
)
NGINX_BACKEND_PROTOCOLS = ("HTTP", "HTTPS", "GRPC", "GRPCS", "AUTO_HTTP", "FCGI")
_NGINX_CIDR_LISTS = ("whitelist-source-range", "allowlist-source-range", "denylist-source-range")


def go_bool(value: str) -> bool | None:
    """A boolean as Go's strconv.ParseBool reads it; None when it does not parse."""
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return None


@dataclass(slots=True)
class NginxSettings:
    """What one Ingress of an ingress-nginx class asks the controller for (None: the annotation is not set or does
    not parse, so the controller's default applies)."""

    ssl_redirect: bool | None = None
    force_ssl_redirect: bool | None = None
    problems: list[AnnotationProblem] = field(default_factory=list)


def nginx_settings(ing: Ingress) -> NginxSettings:
    """The ingress-nginx annotations of an Ingress that decide its redirect, and every documented-format annotation
    whose value the controller would ignore."""
    s = NginxSettings()
    for key, value in ing.annotations.items():
        if not key.startswith(NGINX):
            continue
        name = key[len(NGINX) :]
        if _too_long(s.problems, key, value):
            continue
        if name in NGINX_BOOLEANS:
            parsed = go_bool(value)
            if parsed is None:
                _problem(s.problems, key, value, "must be a boolean ('true' or 'false'); the controller ignores it")
            elif name == "ssl-redirect":
                s.ssl_redirect = parsed
            elif name == "force-ssl-redirect":
                s.force_ssl_redirect = parsed
        elif name == "backend-protocol" and value.upper() not in NGINX_BACKEND_PROTOCOLS:
            _problem(s.problems, key, value, f"must be one of {', '.join(NGINX_BACKEND_PROTOCOLS)}")
        elif name in _NGINX_CIDR_LISTS:
            _cidrs(s.problems, key, value)
    return s


@dataclass(frozen=True, slots=True)
class NginxRedirect:
    """How ingress-nginx answers plain HTTP for one Ingress: ``redirects`` None when it cannot be known (the
    controller's ConfigMap, which holds the defaults, was not read or holds a value that does not parse)."""

    redirects: bool | None
    plain_hosts: tuple[str, ...]  # hosts (or "*" for a rule without host) answered over plain HTTP
    why: str


def nginx_redirect(ing: Ingress, settings: NginxSettings, config: dict[str, str] | None) -> NginxRedirect:
    """Whether ingress-nginx redirects an Ingress's HTTP requests to HTTPS (308): ``force-ssl-redirect`` (annotation,
    else the ConfigMap key, default false) redirects every host; otherwise ``ssl-redirect`` (annotation, else the
    ConfigMap key, default true) redirects the hosts that have TLS (listed under ``spec.tls``) and no other
    (https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/
    #server-side-https-enforcement-through-redirect). ``config`` None: the ConfigMap was not read."""
    hosts = tuple(dict.fromkeys(r.host or "*" for r in ing.rules)) or ("*",)

    def default(key: str, fallback: bool) -> bool | None:
        if config is None:
            return None
        raw = config.get(key)
        return fallback if raw is None else go_bool(raw)

    force = settings.force_ssl_redirect
    force_from = f"annotation {NGINX}force-ssl-redirect"
    if force is None:
        force, force_from = default("force-ssl-redirect", False), "ConfigMap key force-ssl-redirect"
    if force is True:
        return NginxRedirect(True, (), f"{force_from} is true")
    ssl = settings.ssl_redirect
    ssl_from = f"annotation {NGINX}ssl-redirect"
    if ssl is None:
        ssl, ssl_from = default("ssl-redirect", True), "ConfigMap key ssl-redirect"
    tls_hosts = {h for t in ing.tls for h in t.hosts}
    catch_all_tls = any(not t.hosts for t in ing.tls)
    covered = [h for h in hosts if catch_all_tls or h in tls_hosts or (h == "*" and bool(ing.tls))]
    plain = tuple(h for h in hosts if h not in covered)
    if force is None:
        return NginxRedirect(
            None, plain, "the controller's ConfigMap (its redirect defaults) was not read or does not parse"
        )
    if ssl is False:
        return NginxRedirect(False, hosts, f"{ssl_from} is false")
    if ssl is None and covered:
        return NginxRedirect(
            None, plain, "the controller's ConfigMap (its redirect defaults) was not read or does not parse"
        )
    if not plain:
        return NginxRedirect(True, (), f"every host has TLS and {ssl_from} is not false")
    why = "no spec.tls" if not ing.tls else f"host {', '.join(plain)} not under spec.tls"
    return NginxRedirect(False, plain, f"{why} and no force-ssl-redirect")
