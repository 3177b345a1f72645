"""The Kubernetes side of the demo: manifests, written through the official client as a user would.

``KubeWriter`` opens the official ``kubernetes`` client from a kubeconfig context and creates
objects over HTTPS exactly as ``kubectl apply`` would. Status fields are written through the
``status`` subresource — what the controllers write in a real cluster: the load balancer hostname of
Services and Ingresses (the load balancer controllers), Deployment readiness (the deployment
controller). EndpointSlices are created as the EndpointSlice controller would keep them.

The builders below return plain manifests (dicts) with the fields the scenario needs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from kubernetes import client, config

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

LBC_IMAGE = "public.ecr.aws/eks/aws-load-balancer-controller"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
_MERGE = "application/merge-patch+json"

# kind -> (API class, method suffix, namespaced); custom resources go through CustomObjectsApi.
_TYPED: dict[str, tuple[type[Any], str, bool]] = {
    "Namespace": (client.CoreV1Api, "namespace", False),
    "Service": (client.CoreV1Api, "namespaced_service", True),
    "ServiceAccount": (client.CoreV1Api, "namespaced_service_account", True),
    "ConfigMap": (client.CoreV1Api, "namespaced_config_map", True),
    "Deployment": (client.AppsV1Api, "namespaced_deployment", True),
    "Ingress": (client.NetworkingV1Api, "namespaced_ingress", True),
    "IngressClass": (client.NetworkingV1Api, "ingress_class", False),
    "EndpointSlice": (client.DiscoveryV1Api, "namespaced_endpoint_slice", True),
    "Pod": (client.CoreV1Api, "namespaced_pod", True),
    "NetworkPolicy": (client.NetworkingV1Api, "namespaced_network_policy", True),
    "DaemonSet": (client.AppsV1Api, "namespaced_daemon_set", True),
    "CustomResourceDefinition": (client.ApiextensionsV1Api, "custom_resource_definition", False),
}
_CUSTOM: dict[str, tuple[str, str, str, bool]] = {  # kind -> group, version, plural, namespaced
    "TargetGroupBinding": ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings", True),
    "IngressClassParams": ("elbv2.k8s.aws", "v1beta1", "ingressclassparams", False),
    "GatewayClass": ("gateway.networking.k8s.io", "v1", "gatewayclasses", False),
    "Gateway": ("gateway.networking.k8s.io", "v1", "gateways", True),
    "HTTPRoute": ("gateway.networking.k8s.io", "v1", "httproutes", True),
    "TCPRoute": ("gateway.networking.k8s.io", "v1alpha2", "tcproutes", True),
    "LoadBalancerConfiguration": ("gateway.k8s.aws", "v1beta1", "loadbalancerconfigurations", True),
    "TargetGroupConfiguration": ("gateway.k8s.aws", "v1beta1", "targetgroupconfigurations", True),
}
GATEWAY_API = "gateway.networking.k8s.io"


class KubeWriter:
    """Creates, patches and deletes objects of one cluster through its kubeconfig context."""

    def __init__(self, kubeconfig: Path, context: str) -> None:
        self.api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig), context=context
        )
        self._apis: dict[type[Any], Any] = {}

    def close(self) -> None:
        self.api.close()

    def _typed(self, kind: str) -> tuple[Any, str, bool]:
        api_class, suffix, namespaced = _TYPED[kind]
        if api_class not in self._apis:
            self._apis[api_class] = api_class(self.api)
        return self._apis[api_class], suffix, namespaced

    def create(self, obj: JsonObj) -> JsonObj:
        """Create one object; returns it as the server stored it (uid, defaults)."""
        kind = obj["kind"]
        ns = obj["metadata"].get("namespace")
        answer: Any
        if kind in _CUSTOM:
            group, version, plural, namespaced = _CUSTOM[kind]
            custom = client.CustomObjectsApi(self.api)
            if namespaced:
                answer = custom.create_namespaced_custom_object(group, version, ns, plural, obj, _preload_content=False)
            else:
                answer = custom.create_cluster_custom_object(group, version, plural, obj, _preload_content=False)
        else:
            api, suffix, namespaced = self._typed(kind)
            method = getattr(api, f"create_{suffix}")
            answer = method(ns, obj, _preload_content=False) if namespaced else method(obj, _preload_content=False)
        created: JsonObj = json.loads(answer.data)
        return created

    def create_all(self, objs: list[JsonObj]) -> list[JsonObj]:
        return [self.create(o) for o in objs]

    def patch(self, kind: str, namespace: str | None, name: str, patch: JsonObj, *, status: bool = False) -> JsonObj:
        """Merge-patch an object (or its ``status`` subresource, as a controller does)."""
        api, suffix, namespaced = self._typed(kind)
        method = getattr(api, f"patch_{suffix}{'_status' if status else ''}")
        args = (name, namespace, patch) if namespaced else (name, patch)
        answer = method(*args, _content_type=_MERGE, _preload_content=False)
        patched: JsonObj = json.loads(answer.data)
        return patched

    def set_gateway_address(self, namespace: str, name: str, hostname: str) -> None:
        """What the controller writes into a Gateway's status once its load balancer exists."""
        group, version, plural, _ = _CUSTOM["Gateway"]
        status = {
            "status": {
                "addresses": [{"type": "Hostname", "value": hostname}],
                "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed", "message": ""}],
            }
        }
        client.CustomObjectsApi(self.api).patch_namespaced_custom_object_status(
            group, version, namespace, plural, name, status, _content_type=_MERGE, _preload_content=False
        )

    def set_load_balancer_hostname(self, kind: str, namespace: str, name: str, hostname: str) -> None:
        """What the load balancer controllers write once the load balancer exists."""
        self.patch(
            kind, namespace, name, {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}, status=True
        )


# --------------------------------------------------------------------------- manifests


def namespace(name: str, **labels: str) -> JsonObj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(ns: str, name: str, labels: dict[str, str], image: str, port: int, port_name: str) -> JsonObj:
    """A pod of a Deployment (its IP is written into its status afterwards, as the kubelet does)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "nodeName": "ip-10-0-0-10.ec2.internal",
            "containers": [{"name": "app", "image": image, "ports": [{"name": port_name, "containerPort": port}]}],
        },
    }


def network_policy(ns: str, name: str, spec: JsonObj) -> JsonObj:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def aws_node(*, network_policy_agent: bool) -> JsonObj:
    """The VPC CNI's DaemonSet as the EKS add-on installs it: aws-node and the network policy agent, which
    enforces NetworkPolicy only with --enable-network-policy=true (the add-on's enableNetworkPolicy)."""
    labels = {"k8s-app": "aws-node"}
    flag = "true" if network_policy_agent else "false"
    registry = "602401143452.dkr.ecr.eu-west-1.amazonaws.com/amazon"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "aws-node", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "containers": [
                        {
                            "name": "aws-node",
                            "image": f"{registry}-k8s-cni:v1.19.2-eksbuild.1",
                            "env": [{"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"}],
                        },
                        {
                            "name": "aws-eks-nodeagent",
                            "image": f"{registry}/aws-network-policy-agent:v1.1.6-eksbuild.1",
                            "args": [
                                "--enable-ipv6=false",
                                f"--enable-network-policy={flag}",
                                "--enable-cloudwatch-logs=false",
                            ],
                        },
                    ],
                },
            },
        },
    }


def deployment(
    ns: str,
    name: str,
    image: str,
    *,
    replicas: int = 2,
    port: int | None = 8080,
    service_account: str | None = None,
    args: list[str] | None = None,
    labels: dict[str, str] | None = None,
) -> JsonObj:
    labels = labels or {"app.kubernetes.io/name": name}
    container: JsonObj = {"name": name, "image": image}
    if port is not None:
        container["ports"] = [{"containerPort": port, "name": "http"}]
    if args:
        container["args"] = args
    pod_spec: JsonObj = {"containers": [container]}
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def service(
    ns: str,
    name: str,
    ports: list[JsonObj],
    *,
    service_type: str = "ClusterIP",
    annotations: dict[str, str] | None = None,
    load_balancer_class: str | None = None,
    selector: dict[str, str] | None = None,
) -> JsonObj:
    """A Service; ports are dicts with port / targetPort / name / nodePort (LoadBalancer Services)."""
    spec: JsonObj = {
        "type": service_type,
        "selector": selector or {"app.kubernetes.io/name": name},
        "ports": [{"protocol": "TCP", **p} for p in ports],
    }
    if load_balancer_class:
        spec["loadBalancerClass"] = load_balancer_class
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": spec,
    }


def http_path(path: str, service_name: str, port: int, path_type: str = "Prefix") -> JsonObj:
    return {
        "path": path,
        "pathType": path_type,
        "backend": {"service": {"name": service_name, "port": {"number": port}}},
    }


def ingress(
    ns: str,
    name: str,
    rules: list[tuple[str | None, list[JsonObj]]],
    *,
    annotations: dict[str, str] | None = None,
    ingress_class: str = "alb",
    tls_hosts: list[str] | None = None,
) -> JsonObj:
    """An Ingress: rules are (host, [http_path(...)]) pairs."""
    spec: JsonObj = {
        "ingressClassName": ingress_class,
        "rules": [{**({"host": host} if host else {}), "http": {"paths": paths}} for host, paths in rules],
    }
    if tls_hosts:
        spec["tls"] = [{"hosts": tls_hosts}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": spec,
    }


def endpoint_slice(
    ns: str, service_name: str, ports: list[JsonObj], *, ready: list[str], not_ready: list[str]
) -> JsonObj:
    """The EndpointSlice the EndpointSlice controller keeps for a Service's pods."""
    endpoints = [
        {
            "addresses": [ip],
            "conditions": {"ready": is_ready, "serving": is_ready, "terminating": False},
            "targetRef": {"kind": "Pod", "namespace": ns, "name": f"{service_name}-{ip.replace('.', '-')}"},
        }
        for ips, is_ready in ((ready, True), (not_ready, False))
        for ip in ips
    ]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abc12",
            "namespace": ns,
            "labels": {
                "kubernetes.io/service-name": service_name,
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
            },
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [
            {"name": p.get("name", ""), "port": int(p.get("targetPort") or p["port"]), "protocol": "TCP"} for p in ports
        ],
    }


def service_account(ns: str, name: str, role_arn: str | None = None) -> JsonObj:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": ns, "annotations": {ROLE_ANNOTATION: role_arn} if role_arn else {}},
    }


def alb_ingress_class() -> JsonObj:
    """The IngressClass the controller's chart creates."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "alb", "labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
        "spec": {"controller": "ingress.k8s.aws/alb"},
    }


def lbc_crds() -> list[JsonObj]:
    """The controller's CRDs (TargetGroupBinding, IngressClassParams), as the chart installs them."""
    return [
        _crd("elbv2.k8s.aws", "IngressClassParams", "ingressclassparams", "Cluster", ("v1beta1",)),
        _crd("elbv2.k8s.aws", "TargetGroupBinding", "targetgroupbindings", "Namespaced", ("v1beta1",)),
    ]


def _crd(group: str, kind: str, plural: str, scope: str, versions: tuple[str, ...]) -> JsonObj:
    """A CustomResourceDefinition serving ``versions`` (the first is the storage version)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "listKind": f"{kind}List", "plural": plural, "singular": kind.lower()},
            "scope": scope,
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": i == 0,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
                for i, version in enumerate(versions)
            ],
        },
    }


# The Gateway API CRDs with the versions each serves (v1.3 release: standard channel, plus the experimental
# channel's TCPRoute/UDPRoute/TLSRoute at v1alpha2), https://github.com/kubernetes-sigs/gateway-api/releases
GATEWAY_API_CRDS: dict[str, tuple[str, str, tuple[str, ...]]] = {  # kind -> plural, scope, versions
    "GatewayClass": ("gatewayclasses", "Cluster", ("v1", "v1beta1")),
    "Gateway": ("gateways", "Namespaced", ("v1", "v1beta1")),
    "HTTPRoute": ("httproutes", "Namespaced", ("v1", "v1beta1")),
    "GRPCRoute": ("grpcroutes", "Namespaced", ("v1",)),
    "ReferenceGrant": ("referencegrants", "Namespaced", ("v1beta1",)),
    "TCPRoute": ("tcproutes", "Namespaced", ("v1alpha2",)),
    "UDPRoute": ("udproutes", "Namespaced", ("v1alpha2",)),
    "TLSRoute": ("tlsroutes", "Namespaced", ("v1alpha2",)),
}
# The controller's gateway.k8s.aws CRDs (its chart, v2.13+; facts §10).
LBC_GATEWAY_CRDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "LoadBalancerConfiguration": ("loadbalancerconfigurations", "Namespaced", ("v1beta1",)),
    "TargetGroupConfiguration": ("targetgroupconfigurations", "Namespaced", ("v1beta1",)),
    "ListenerRuleConfiguration": ("listenerruleconfigurations", "Namespaced", ("v1beta1",)),
}


def gateway_api_crds(*, kinds: tuple[str, ...] | None = None) -> list[JsonObj]:
    """The Gateway API CRDs (``kinds``: only those) and the controller's gateway.k8s.aws CRDs."""
    found = [
        _crd("gateway.networking.k8s.io", kind, plural, scope, versions)
        for kind, (plural, scope, versions) in GATEWAY_API_CRDS.items()
        if kinds is None or kind in kinds
    ]
    found += [
        _crd("gateway.k8s.aws", kind, plural, scope, versions)
        for kind, (plural, scope, versions) in LBC_GATEWAY_CRDS.items()
        if kinds is None or kind in kinds
    ]
    return found


def gateway_class(name: str, controller_name: str) -> JsonObj:
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "GatewayClass",
        "metadata": {"name": name},
        "spec": {"controllerName": controller_name},
    }


def gateway(ns: str, name: str, gateway_class: str, listeners: list[JsonObj], *, config: str | None = None) -> JsonObj:
    """A Gateway; listeners are dicts with name / port / protocol; ``config`` names its LoadBalancerConfiguration."""
    spec: JsonObj = {"gatewayClassName": gateway_class, "listeners": listeners}
    if config:
        spec["infrastructure"] = {
            "parametersRef": {"group": "gateway.k8s.aws", "kind": "LoadBalancerConfiguration", "name": config}
        }
    return {
        "apiVersion": f"{GATEWAY_API}/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def route(
    kind: str,
    ns: str,
    name: str,
    gateway_name: str,
    *,
    section: str | None = None,
    hostnames: list[str] | None = None,
    backend: tuple[str, int] | None = None,
    redirect_https: bool = False,
) -> JsonObj:
    """An HTTPRoute or TCPRoute attached to one Gateway (one listener with ``section``): one rule forwarding to
    ``backend`` (Service name, port), or redirecting to HTTPS."""
    parent: JsonObj = {"name": gateway_name}
    if section:
        parent["sectionName"] = section
    rule: JsonObj = {}
    if backend is not None:
        rule["backendRefs"] = [{"name": backend[0], "port": backend[1]}]
    if redirect_https:
        rule["filters"] = [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    spec: JsonObj = {"parentRefs": [parent], "rules": [rule]}
    if hostnames:
        spec["hostnames"] = hostnames
    group, version, _, _ = _CUSTOM[kind]
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec}


def load_balancer_configuration(ns: str, name: str, spec: JsonObj) -> JsonObj:
    return {
        "apiVersion": "gateway.k8s.aws/v1beta1",
        "kind": "LoadBalancerConfiguration",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def target_group_configuration(ns: str, service_name: str, target_type: str) -> JsonObj:
    """Per Service: the target type of the target groups the controller makes for Gateway routes to it."""
    return {
        "apiVersion": "gateway.k8s.aws/v1beta1",
        "kind": "TargetGroupConfiguration",
        "metadata": {"name": service_name, "namespace": ns},
        "spec": {"targetReference": {"name": service_name}, "defaultConfiguration": {"targetType": target_type}},
    }


def controller(cluster: str, version: str, *, replicas: int = 2, feature_gates: str | None = None) -> JsonObj:
    """The controller Deployment as the eks-charts chart renders it (the parts an audit reads)."""
    labels = {
        "app.kubernetes.io/name": "aws-load-balancer-controller",
        "app.kubernetes.io/instance": "aws-load-balancer-controller",
    }
    obj = deployment(
        "kube-system",
        "aws-load-balancer-controller",
        f"{LBC_IMAGE}:{version}",
        replicas=replicas,
        port=9443,
        service_account="aws-load-balancer-controller",
        args=[
            f"--cluster-name={cluster}",
            "--ingress-class=alb",
            *([f"--feature-gates={feature_gates}"] if feature_gates else []),
        ],
        labels=labels,
    )
    obj["spec"]["template"]["spec"]["containers"][0]["name"] = "aws-load-balancer-controller"
    return obj


def target_group_binding(ns: str, name: str, tg_arn: str, service_name: str, port: int, target_type: str) -> JsonObj:
    """The TargetGroupBinding the controller creates for each target group it manages."""
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": {"name": name, "namespace": ns, "labels": {"ingress.k8s.aws/stack-name": service_name}},
        "spec": {
            "targetGroupARN": tg_arn,
            "targetType": target_type,
            "serviceRef": {"name": service_name, "port": port},
        },
    }


# ---- ingress-nginx, as its Helm chart installs it (https://github.com/kubernetes/ingress-nginx, charts/ingress-nginx):
# the controller Deployment with the chart's labels and arguments, its ConfigMap and its IngressClass.

INGRESS_NGINX_IMAGE = "registry.k8s.io/ingress-nginx/controller"
INGRESS_NGINX_LABELS = {
    "app.kubernetes.io/name": "ingress-nginx",
    "app.kubernetes.io/instance": "ingress-nginx",
    "app.kubernetes.io/component": "controller",
}


def ingress_nginx_controller(version: str, *, replicas: int = 2) -> JsonObj:
    """The ingress-nginx controller Deployment the chart renders (the parts an audit reads)."""
    obj = deployment(
        "ingress-nginx",
        "ingress-nginx-controller",
        f"{INGRESS_NGINX_IMAGE}:{version}",
        replicas=replicas,
        port=80,
        service_account="ingress-nginx",
        args=[
            "/nginx-ingress-controller",
            "--publish-service=$(POD_NAMESPACE)/ingress-nginx-controller",
            "--election-id=ingress-nginx-leader",
            "--controller-class=k8s.io/ingress-nginx",
            "--ingress-class=nginx",
            "--configmap=$(POD_NAMESPACE)/ingress-nginx-controller",
        ],
        labels=dict(INGRESS_NGINX_LABELS),
    )
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["name"] = "controller"
    container["env"] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    return obj


def ingress_nginx_class() -> JsonObj:
    """The IngressClass the ingress-nginx chart creates."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "nginx", "labels": dict(INGRESS_NGINX_LABELS)},
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }


def config_map(ns: str, name: str, data: dict[str, str], *, labels: dict[str, str] | None = None) -> JsonObj:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "data": data,
    }
