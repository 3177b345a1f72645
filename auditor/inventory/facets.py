"""Facets: the parts of the inventory a collector reads and a rule's verdict depends on.

A facet is the unit of coverage below a collector: ``elbv2`` lists load balancers, then reads each one's
listeners, rules, certificates and target health; any of those parts can fail alone (one denied action,
one throttled call) while the others are complete. Collectors record per facet what they could not read
(``Coverage.facets``); rules declare the facets they need (``RuleMeta.inputs``); the rule engine
(``auditor.rules.coverage``) turns every verdict that rests on a facet not read into UNKNOWN.

Scope of a facet's coverage: account × region for regional AWS collectors, account for IAM (global),
the cluster for Kubernetes — the granularity at which collectors record coverage.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from auditor.inventory.models import Listener, LoadBalancer


class Facet(StrEnum):
    """``<collector>.<part>``: the collector that reads it, then what."""

    # elasticloadbalancing v2 (ALB, NLB, GWLB)
    ELBV2_LOAD_BALANCERS = "elbv2.load-balancers"  # DescribeLoadBalancers: the listing itself
    ELBV2_TAGS = "elbv2.tags"  # DescribeTags of load balancers and target groups (ownership)
    ELBV2_LISTENERS = "elbv2.listeners"  # DescribeListeners
    # SNI certificates: ACM's in-use lists where they decide, else DescribeListenerCertificates
    ELBV2_LISTENER_CERTIFICATES = "elbv2.listener-certificates"
    ELBV2_LISTENER_RULES = "elbv2.listener-rules"  # DescribeRules
    ELBV2_TARGET_GROUPS = "elbv2.target-groups"  # DescribeTargetGroups
    # CloudWatch HealthyHostCount of all target groups, DescribeTargetHealth of those it does not show healthy
    ELBV2_TARGET_HEALTH = "elbv2.target-health"
    # DescribeLoadBalancerAttributes of the internet-facing ALBs (one call each: read only for an opt-in rule)
    ELBV2_ATTRIBUTES = "elbv2.attributes"
    # elasticloadbalancing (Classic)
    ELB_LOAD_BALANCERS = "elb.load-balancers"  # DescribeLoadBalancers (listeners included)
    ELB_TAGS = "elb.tags"
    ELB_POLICIES = "elb.policies"  # DescribeLoadBalancerPolicies (TLS policy of SSL/HTTPS listeners)
    ELB_INSTANCE_HEALTH = "elb.instance-health"  # HealthyHostCount first, DescribeInstanceHealth where it shows none
    # DescribeLoadBalancerAttributes of the internet-facing Classic load balancers with an HTTP or HTTPS listener
    ELB_ATTRIBUTES = "elb.attributes"
    # ACM
    ACM_CERTIFICATES = "acm.certificates"  # ListCertificates (expiry, status, key type)
    ACM_CERTIFICATE_DETAILS = "acm.certificate-details"  # DescribeCertificate (names, InUseBy)
    # WAFv2
    WAFV2_WEB_ACLS = "wafv2.web-acls"  # ListWebACLs
    WAFV2_ASSOCIATIONS = "wafv2.associations"  # ListResourcesForWebACL
    # EC2
    EC2_SECURITY_GROUPS = "ec2.security-groups"  # DescribeSecurityGroups of the load balancers' groups
    EC2_PREFIX_LISTS = "ec2.prefix-lists"  # managed prefix lists referenced by those groups
    EC2_NETWORK_INTERFACES = "ec2.network-interfaces"  # DescribeNetworkInterfaces of the LBs (public IPv4 count)
    # Price List (global: scope is the account)
    PRICING_PRODUCTS = "pricing.products"  # GetProducts AWSELB + AmazonVPC public IPv4
    # CloudWatch
    CLOUDWATCH_METRICS = "cloudwatch.metrics"  # GetMetricData: LCUs, requests / new flows, bytes per LB
    # Cost Explorer (global: scope is the account)
    COSTEXPLORER_RESOURCE_COSTS = "costexplorer.resource-costs"  # GetCostAndUsageWithResources: billed per LB
    EC2_SUBNETS = "ec2.subnets"  # DescribeSubnets of the load balancers' subnets (their CIDRs)
    # EKS
    EKS_CLUSTERS = "eks.clusters"  # ListClusters (which clusters exist: orphans of dead clusters)
    EKS_CLUSTER = "eks.cluster"  # DescribeCluster of the target cluster (OIDC issuer, Auto Mode)
    EKS_POD_IDENTITY = "eks.pod-identity"  # Pod Identity associations of the controller
    EKS_ADDONS = "eks.addons"  # DescribeAddon vpc-cni of the target cluster (its network policy setting)
    # IAM (global: scope is the account)
    IAM_OIDC_PROVIDERS = "iam.oidc-providers"
    IAM_ROLES = "iam.roles"  # GetRole: existence and trust policy
    IAM_POLICIES = "iam.policies"  # attached and inline policies with their documents
    # Kubernetes (scope: the cluster)
    KUBE_SERVICES = "kubernetes.services"
    KUBE_INGRESSES = "kubernetes.ingresses"
    KUBE_INGRESS_CLASSES = "kubernetes.ingress-classes"
    KUBE_INGRESS_CLASS_PARAMS = "kubernetes.ingress-class-params"
    KUBE_TARGET_GROUP_BINDINGS = "kubernetes.target-group-bindings"
    KUBE_CRDS = "kubernetes.crds"  # API discovery of the controller's group
    KUBE_DEPLOYMENTS = "kubernetes.deployments"  # the controller's Deployment (version, replicas, args)
    KUBE_SERVICE_ACCOUNTS = "kubernetes.service-accounts"  # the controller's service account
    KUBE_ENDPOINT_SLICES = "kubernetes.endpoint-slices"
    # Gateway API (gateway.networking.k8s.io) and the controller's gateway.k8s.aws objects: ``absent`` when
    # the CRD is not installed
    KUBE_GATEWAY_CLASSES = "kubernetes.gateway-classes"
    KUBE_GATEWAYS = "kubernetes.gateways"
    KUBE_HTTP_ROUTES = "kubernetes.http-routes"
    KUBE_GRPC_ROUTES = "kubernetes.grpc-routes"
    KUBE_TCP_ROUTES = "kubernetes.tcp-routes"
    KUBE_UDP_ROUTES = "kubernetes.udp-routes"
    KUBE_TLS_ROUTES = "kubernetes.tls-routes"
    KUBE_REFERENCE_GRANTS = "kubernetes.reference-grants"
    KUBE_LOAD_BALANCER_CONFIGURATIONS = "kubernetes.load-balancer-configurations"
    KUBE_TARGET_GROUP_CONFIGURATIONS = "kubernetes.target-group-configurations"
    KUBE_LISTENER_RULE_CONFIGURATIONS = "kubernetes.listener-rule-configurations"
    # In-cluster ingress controllers (ingress-nginx, Traefik, HAProxy): their Deployments come with the
    # Deployments listing (KUBE_DEPLOYMENTS); their ConfigMaps are read one by one, by the name the controller's
    # --configmap argument gives
    KUBE_INGRESS_CONTROLLER_CONFIGS = "kubernetes.ingress-controller-configs"
    # NetworkPolicy: the policies, the namespaces' labels, the pods behind exposed Services, the pod network
    KUBE_NETWORK_POLICIES = "kubernetes.network-policies"
    KUBE_NAMESPACES = "kubernetes.namespaces"
    KUBE_PODS = "kubernetes.pods"
    KUBE_NETWORK_DAEMON_SETS = "kubernetes.network-daemon-sets"
    KUBE_NODES = "kubernetes.nodes"  # the nodes' InternalIPs: the source pods see behind instance targets

    @property
    def collector(self) -> str:
        return self.value.split(".", 1)[0]

    @property
    def is_listing(self) -> bool:
        """Whether failing it means the objects themselves could not be listed (not a detail of some)."""
        return self in LISTINGS


def facets_of(collector: str) -> tuple[Facet, ...]:
    """Every facet a collector reads (all of them fail when the collector fails as a whole)."""
    return _BY_COLLECTOR.get(collector, ())


_BY_COLLECTOR: dict[str, tuple[Facet, ...]] = {}
for _facet in Facet:
    _BY_COLLECTOR[_facet.collector] = (*_BY_COLLECTOR.get(_facet.collector, ()), _facet)

# Facets whose failure means the objects themselves could not be listed (not one detail of some of them).
LISTINGS = frozenset(
    {
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ACM_CERTIFICATES,
        Facet.WAFV2_WEB_ACLS,
        Facet.EC2_SECURITY_GROUPS,
        Facet.EKS_CLUSTERS,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_GATEWAY_CLASSES,
        Facet.KUBE_GATEWAYS,
        Facet.KUBE_HTTP_ROUTES,
        Facet.KUBE_GRPC_ROUTES,
        Facet.KUBE_TCP_ROUTES,
        Facet.KUBE_UDP_ROUTES,
        Facet.KUBE_TLS_ROUTES,
        Facet.KUBE_NETWORK_POLICIES,
    }
)

# Which facets describe which load balancers: a gap in a Classic facet says nothing about an ALB's
# verdict, and the other way round. Findings on anything else (certificates, roles, Kubernetes
# objects) depend on every facet the rule reads.
CLASSIC_ONLY = frozenset(f for f in Facet if f.collector == "elb")
V2_ONLY = frozenset(f for f in Facet if f.collector == "elbv2")

# Load balancer listings: the facets every rule over load balancers reads.
LOAD_BALANCERS = (Facet.ELBV2_LOAD_BALANCERS, Facet.ELB_LOAD_BALANCERS)
# What says which Kubernetes objects ask for a load balancer (and which Ingresses the controller serves).
KUBE_EXPOSURES = (Facet.KUBE_SERVICES, Facet.KUBE_INGRESSES, Facet.KUBE_INGRESS_CLASSES)
# What says which Gateways ask the controller for a load balancer (a Gateway's class names the implementation).
GATEWAYS = (Facet.KUBE_GATEWAY_CLASSES, Facet.KUBE_GATEWAYS)
# What says which Ingresses an in-cluster ingress controller serves through which Service: the Ingresses, their
# classes, the LoadBalancer Services and the controllers' Deployments.
IN_CLUSTER_CONTROLLERS = (*KUBE_EXPOSURES, Facet.KUBE_DEPLOYMENTS)
# What a load balancer's monthly cost estimate reads (auditor.cost.estimate): its region's prices, its measured usage
# (capacity units, Classic data processed) and its public IPv4 addresses. A rule that states a cost or a saving
# declares them, so that its figure alone is the figure of a full audit.
PRICED = (Facet.PRICING_PRODUCTS, Facet.CLOUDWATCH_METRICS, Facet.EC2_NETWORK_INTERFACES)
# The routes of every kind, which attach to Gateways and lead to backends.
ROUTES = (
    Facet.KUBE_HTTP_ROUTES,
    Facet.KUBE_GRPC_ROUTES,
    Facet.KUBE_TCP_ROUTES,
    Facet.KUBE_UDP_ROUTES,
    Facet.KUBE_TLS_ROUTES,
)


ListenerRulesNeed = Callable[["LoadBalancer", "Listener", "bool | None"], bool]
"""Whether a rule needs the rules (DescribeRules) of one listener: given its load balancer, the listener as
DescribeListeners gave it, and whether the load balancer has target groups (None: not known). A rule that
reads ``elbv2.listener-rules`` for some listeners only declares this (``RuleMeta.listener_rules_of``), so the
collector reads the rules a verdict depends on and no others (issue #11: "listener rules only where a verdict
depends on them")."""


HTTP_PROTOCOLS = frozenset({"HTTP", "HTTPS"})


def attributes_scope(lb: LoadBalancer) -> bool:
    """The load balancers whose attributes ``elbv2.attributes`` / ``elb.attributes`` read, one call each: those a
    rule judges by them (http-desync-unmitigated) -- internet-facing ALBs, and internet-facing Classic load
    balancers with an HTTP or HTTPS listener (desync mitigation concerns HTTP only)."""
    if not lb.is_public:
        return False
    if lb.type == "application":
        return True
    if lb.type == "classic":
        return lb.listeners is None or any(li.protocol.upper() in HTTP_PROTOCOLS for li in lb.listeners)
    return False
