"""Shared pieces of rules on in-cluster ingress controllers (ingress-nginx first; facts §14): which controller a load
balancer fronts, whether what its verdicts rest on was read, how ingress-nginx answers plain HTTP, and how its
annotations translate to the AWS Load Balancer Controller (ALB Ingress or Gateway API)."""

from __future__ import annotations

from auditor.correlate.annotations import NGINX, NginxRedirect, nginx_redirect
from auditor.correlate.graph import ExposureGraph, IngressControllerExposure, LbNode
from auditor.inventory.facets import IN_CLUSTER_CONTROLLERS, Facet
from auditor.inventory.ingress_controllers import INGRESS_NGINX
from auditor.inventory.models import Ingress

# what a verdict on an in-cluster controller's Ingress rests on: the Ingresses, classes, Services and controller
# Deployments (which Ingresses go through which load balancer), and the controllers' ConfigMaps (their defaults)
CONTROLLER_FACETS = (*IN_CLUSTER_CONTROLLERS, Facet.KUBE_INGRESS_CONTROLLER_CONFIGS)

NGINX_DOCS = "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/annotations/"
NGINX_REDIRECT_DOCS = NGINX_DOCS + "#server-side-https-enforcement-through-redirect"
NGINX_CONFIGMAP_DOCS = (
    "https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/#ssl-redirect"
)
RETIREMENT = "https://kubernetes.io/blog/2025/11/11/ingress-nginx-retirement/"


def ingress_controller_of(node: LbNode) -> IngressControllerExposure | None:
    """The in-cluster ingress controller whose Service owns this load balancer, if one does."""
    return node.owner.ingress_controller if node.owner is not None else None


def unread(graph: ExposureGraph) -> list[str]:
    """The facets an in-cluster controller's verdicts rest on that were not read completely (empty: all read)."""
    kube = graph.inventory.kubernetes
    if kube is None:
        return ["kubernetes (not audited)"]
    missing = [] if kube.ingress_controllers is not None else ["kubernetes.ingress-controllers (not read)"]
    cov = graph.inventory.coverage_of("kubernetes")
    if cov is None:
        return [*missing, "kubernetes (not collected)"]
    return missing + [
        f"{f.value} {cov.facet(f).status.value}" for f in CONTROLLER_FACETS if cov.facet(f).status.incomplete
    ]


def redirect_of(icx: IngressControllerExposure, ing: Ingress) -> NginxRedirect | None:
    """How ingress-nginx answers plain HTTP for one of its Ingresses; None for another implementation."""
    if icx.implementation != INGRESS_NGINX.name:
        return None
    config = (icx.config.data if icx.config is not None else {}) if icx.config_known else None
    return nginx_redirect(ing, icx.settings_of(ing), config)


def http_listener_ports(node: LbNode) -> list[int] | None:
    """The listener ports of a controller Service's load balancer that pass plain HTTP on to the controller: a TCP (or
    HTTP) listener on a Service port whose target is the controller's HTTP port (named ``http``, or 80). None:
    listeners not collected."""
    if node.lb.listeners is None:
        return None
    owner = node.owner.service if node.owner is not None else None
    ports = owner.ports if owner is not None else []
    http = {p.port for p in ports if p.target_port in ("http", 80) or (p.target_port is None and p.port == 80)}
    protocols = ("TCP", "TCP_UDP", "HTTP")
    return [li.port for li in node.lb.listeners if li.protocol.upper() in protocols and li.port in http]


# ingress-nginx annotation -> what carries it on the AWS Load Balancer Controller (ALB Ingress; Gateway API).
# ALB: https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/;
# Gateway API: https://gateway-api.sigs.k8s.io/reference/spec/ and the controller's LoadBalancerConfiguration.
TRANSLATIONS: dict[str, str] = {
    "ssl-redirect": "ALB: alb.ingress.kubernetes.io/ssl-redirect: '443'; Gateway: an HTTPRoute RequestRedirect filter "
    "(scheme: https) on the HTTP listener",
    "force-ssl-redirect": "ALB: alb.ingress.kubernetes.io/ssl-redirect: '443'; Gateway: an HTTPRoute RequestRedirect "
    "filter (scheme: https)",
    "whitelist-source-range": "ALB: alb.ingress.kubernetes.io/inbound-cidrs; Gateway: LoadBalancerConfiguration "
    "spec.sourceRanges",
    "allowlist-source-range": "ALB: alb.ingress.kubernetes.io/inbound-cidrs; Gateway: LoadBalancerConfiguration "
    "spec.sourceRanges",
    "backend-protocol": "ALB: alb.ingress.kubernetes.io/backend-protocol (and backend-protocol-version: GRPC); "
    "Gateway: a GRPCRoute, or TargetGroupConfiguration protocol",
    "rewrite-target": "Gateway: an HTTPRoute URLRewrite filter",
    "use-regex": "ALB: path patterns in the Ingress paths; Gateway: HTTPRoute path match type RegularExpression",
    "affinity": "ALB: alb.ingress.kubernetes.io/target-group-attributes: stickiness.enabled=true; Gateway: "
    "TargetGroupConfiguration targetGroupAttributes",
    "proxy-read-timeout": "ALB: alb.ingress.kubernetes.io/load-balancer-attributes: idle_timeout.timeout_seconds=<s>",
    "auth-url": "ALB: alb.ingress.kubernetes.io/auth-type: oidc or cognito (with auth-idp-*)",
    "canary": "ALB: a weighted forward action (alb.ingress.kubernetes.io/actions.<name>); Gateway: weighted "
    "backendRefs in an HTTPRoute",
    "enable-cors": "Gateway: an HTTPRoute ResponseHeaderModifier filter (or CORS in the application)",
    "configuration-snippet": "no equivalent: raw NGINX configuration must be redesigned",
    "server-snippet": "no equivalent: raw NGINX configuration must be redesigned",
}


def translation(annotation: str) -> str:
    """What an ``nginx.ingress.kubernetes.io/`` annotation becomes on the AWS Load Balancer Controller."""
    name = annotation.removeprefix(NGINX)
    for key, text in TRANSLATIONS.items():
        if name == key or name.startswith(key + "-"):
            return text
    return "no direct equivalent known to the auditor: review it by hand"
