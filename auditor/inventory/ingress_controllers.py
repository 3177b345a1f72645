"""What identifies an ingress controller that runs inside the cluster (not the AWS Load Balancer Controller, which
makes a load balancer per Ingress): its image, the labels its install documents for its pods, the IngressClass
``spec.controller`` value it serves and the arguments that name its class, its published Service and its ConfigMap.

Such a controller serves every Ingress of its classes through one Service of its own, usually ``type:
LoadBalancer`` (facts: https://kubernetes.io/docs/concepts/services-networking/ingress-controllers/). The collector
finds the controllers' Deployments with this table; the correlator ties IngressClasses, Ingresses and the Service to
them.

Sources: ingress-nginx — https://kubernetes.github.io/ingress-nginx/user-guide/cli-arguments/ and its Helm chart
(labels ``app.kubernetes.io/name: ingress-nginx``, ``app.kubernetes.io/component: controller``); Traefik —
https://doc.traefik.io/traefik/providers/kubernetes-ingress/ (``traefik.io/ingress-controller``,
``providers.kubernetesingress.ingressendpoint.publishedservice``); HAProxy Kubernetes Ingress Controller —
https://www.haproxy.com/documentation/kubernetes-ingress/ (``haproxy.org/ingress-controller/<ingress.class>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class InClusterImplementation:
    """One in-cluster ingress controller implementation and how to recognise it."""

    name: str  # ingress-nginx | traefik | haproxy
    controller: str  # the IngressClass spec.controller value it serves by default
    images: tuple[str, ...]  # an image whose path (without registry host and tag) ends with one of these
    labels: dict[str, str] = field(default_factory=dict)  # the pod labels its install documents
    class_arg: str | None = None  # the argument that changes ``controller`` (ingress-nginx --controller-class)
    class_prefix: str | None = None  # ``controller`` is this + the --ingress-class value (HAProxy)
    ingress_class_arg: str | None = None  # the argument naming the IngressClass it serves
    publish_arg: str | None = None  # the argument naming the Service whose address it publishes
    config_arg: str | None = None  # the argument naming its ConfigMap
    without_class_arg: str | None = None  # the argument that makes it serve Ingresses naming no class


INGRESS_NGINX = InClusterImplementation(
    name="ingress-nginx",
    controller="k8s.io/ingress-nginx",
    images=("ingress-nginx/controller", "ingress-nginx/controller-chroot"),
    labels={"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
    class_arg="controller-class",
    ingress_class_arg="ingress-class",
    publish_arg="publish-service",
    config_arg="configmap",
    without_class_arg="watch-ingress-without-class",
)
TRAEFIK = InClusterImplementation(
    name="traefik",
    controller="traefik.io/ingress-controller",
    images=("traefik",),
    labels={"app.kubernetes.io/name": "traefik"},
    ingress_class_arg="providers.kubernetesingress.ingressclass",
    publish_arg="providers.kubernetesingress.ingressendpoint.publishedservice",
)
HAPROXY = InClusterImplementation(
    name="haproxy",
    controller="haproxy.org/ingress-controller/haproxy",
    images=("haproxytech/kubernetes-ingress",),
    labels={"app.kubernetes.io/name": "kubernetes-ingress"},
    class_prefix="haproxy.org/ingress-controller/",
    ingress_class_arg="ingress.class",
    publish_arg="publish-service",
    config_arg="configmap",
    without_class_arg="empty-ingress-class",
)
IMPLEMENTATIONS: tuple[InClusterImplementation, ...] = (INGRESS_NGINX, TRAEFIK, HAPROXY)
BY_NAME = {impl.name: impl for impl in IMPLEMENTATIONS}


def image_path(image: str) -> str:
    """``registry.k8s.io/ingress-nginx/controller:v1.11.3@sha256:...`` -> ``ingress-nginx/controller``: the
    repository path without registry host, tag and digest (a first part with a dot or colon is a registry)."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    parts = [*head.split("/"), last] if head else [last]
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[:1] == ["library"]:  # Docker Hub's official images
        parts = parts[1:]
    return "/".join(parts)


def implementation_of_image(image: str) -> InClusterImplementation | None:
    """The implementation an image runs, by its repository path."""
    path = image_path(image)
    for impl in IMPLEMENTATIONS:
        if any(path == suffix or path.endswith("/" + suffix) for suffix in impl.images):
            return impl
    return None


def implementation_of_labels(labels: dict[str, str]) -> InClusterImplementation | None:
    """The implementation whose documented pod labels ``labels`` carry (a Deployment's or a Service selector's)."""
    for impl in IMPLEMENTATIONS:
        if impl.labels and all(labels.get(k) == v for k, v in impl.labels.items()):
            return impl
    return None


def implementation_of_controller(controller: str) -> InClusterImplementation | None:
    """The implementation an IngressClass ``spec.controller`` value names (its default value or prefix)."""
    for impl in IMPLEMENTATIONS:
        prefixed = impl.class_prefix is not None and controller.startswith(impl.class_prefix)
        if controller == impl.controller or prefixed:
            return impl
    return None


# ConfigMap keys the auditor reads (ingress-nginx's redirect defaults,
# https://kubernetes.github.io/ingress-nginx/user-guide/nginx-configuration/configmap/); the collector keeps these
# and drops every other key of the map.
CONFIG_KEYS = ("ssl-redirect", "force-ssl-redirect")
