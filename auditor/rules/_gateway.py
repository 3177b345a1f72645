"""Remediations in Gateway terms: the LoadBalancerConfiguration field (and its listener entry) that sets what a rule
found on a Gateway's load balancer. The controller reconciles the load balancer from these objects, so an AWS-side
edit would be reverted (https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/
loadbalancerconfig/)."""

from __future__ import annotations

from auditor.correlate.graph import GatewayExposure, LbNode

LB_CONFIG_KIND = "LoadBalancerConfiguration"
LB_CONFIG_GROUP = "gateway.k8s.aws"


def gateway_of(node: LbNode) -> GatewayExposure | None:
    """The Gateway that owns a load balancer, if a Gateway does."""
    return node.owner.gateway if node.owner is not None else None


def lb_configuration_fix(gwx: GatewayExposure, setting: str) -> str:
    """Where to set ``setting`` (YAML under ``spec``, e.g. ``wafV2: {webACL: <ARN>}``) for a Gateway's load balancer:
    its LoadBalancerConfiguration in force, or a new one referenced from the Gateway."""
    gw = gwx.gateway
    cfg = gwx.configuration
    if cfg is not None:
        shared = (
            f" (it is the GatewayClass {gwx.gateway_class.name}'s: every Gateway of the class gets it)"
            if gwx.gateway_class is not None
            and gwx.gateway_class.parameters is not None
            and gwx.gateway_class.parameters.name == cfg.name
            and (gw.parameters is None or gw.parameters.name != cfg.name)
            else ""
        )
        return (
            f"Set spec.{setting} in {LB_CONFIG_KIND} {cfg.namespace}/{cfg.name}{shared}: kubectl -n {cfg.namespace} "
            f"edit loadbalancerconfigurations.{LB_CONFIG_GROUP} {cfg.name}."
        )
    return (
        f"Create a {LB_CONFIG_KIND} (apiVersion {LB_CONFIG_GROUP}/v1beta1) in namespace {gw.namespace} with "
        f"spec.{setting}, and reference it from Gateway {gw.namespace}/{gw.name}: spec.infrastructure.parametersRef: "
        f"{{group: {LB_CONFIG_GROUP}, kind: {LB_CONFIG_KIND}, name: <its name>}}."
    )


def listener_configuration_fix(gwx: GatewayExposure, protocol: str, port: int, setting: str) -> str:
    """``setting`` (e.g. ``sslPolicy: X``) on the listener ``protocol:port`` of a Gateway's load balancer."""
    return lb_configuration_fix(gwx, f"listenerConfigurations[] entry {{protocolPort: {protocol}:{port}, {setting}}}")
