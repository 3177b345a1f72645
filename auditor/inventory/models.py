"""Inventory: everything the collectors saw, as plain typed data that round-trips through JSON.

Conventions every consumer relies on:
- A field that is ``None`` means "not collected" (the call failed or was not made); an empty
  list means "collected, and there is none". Rules must turn ``None`` into UNKNOWN, never PASS.
- ``coverage`` has one entry per collector × account × region (Kubernetes: account/region None)
  saying whether that collector's data is complete.
- Everything after the Inventory (correlation, rules, cost, output) is pure and reads only this.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from auditor.errors import SnapshotError

# 2: Coverage.facets (per-facet coverage); version 1 snapshots read as complete facets.
# 3: Gateway API objects (KubeInventory.gateways ...) and the facet status ``absent``; in older snapshots the
#    Gateway fields are None: not read, so nothing is concluded from Gateways that were never looked at.
# 4: in-cluster ingress controllers (KubeInventory.ingress_controllers, ingress_controller_configs); in older
#    snapshots they are None: not read, so nothing is concluded about the Ingresses such controllers serve.
# 5: TargetGroup.healthy_count / healthy_count_at and, for Classic, LoadBalancer.healthy_count / healthy_count_at
#    (health from CloudWatch's HealthyHostCount); in older snapshots they are None: every target group's health is
#    in ``targets``, every Classic load balancer's in ``instances`` (or was not read).
# 6: LoadBalancer.attributes (DescribeLoadBalancerAttributes, read for an opt-in rule); in older snapshots None: not
#    read, so that rule is UNKNOWN on them.
SCHEMA_VERSION = 6
# Versions ``Inventory.parse`` reads: a release that adds an optional field bumps SCHEMA_VERSION and adds it here,
# and older snapshots stay readable. A version not in this set is refused with a message naming both.
READABLE_SCHEMA_VERSIONS = frozenset({1, 2, 3, 4, 5, 6})


class Model(BaseModel):
    """Base for inventory records: unknown keys are an error, so a snapshot cannot drift silently."""

    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- coverage


class CoverageStatus(StrEnum):
    OK = "ok"
    PARTIAL = "partial"  # the collector ran, but some per-resource calls failed (see the ``None`` fields)
    ERROR = "error"  # nothing usable was collected
    SKIPPED = "skipped"  # not asked for (e.g. no cluster context given)
    ABSENT = "absent"  # a facet only: its API (a CRD) is not installed, so there is nothing to read (complete, empty)

    @property
    def incomplete(self) -> bool:
        """Data was asked for and not (fully) read: the audit is partial (a skipped part was not asked for)."""
        return self in (CoverageStatus.ERROR, CoverageStatus.PARTIAL)


class FacetCoverage(Model):
    """How one facet of a collector fared (see auditor.inventory.facets), where it differs from the collector."""

    status: CoverageStatus
    error_code: str | None = None
    message: str | None = None


class Coverage(Model):
    """Whether one collector's view of one account/region is complete (source ``rule``: a rule that crashed;
    ``export``: where a run's findings were sent, recorded on the stored run only, never read by a rule)."""

    source: Literal["aws", "kubernetes", "rule", "export"]
    collector: str = Field(
        description="elbv2, elb, acm, wafv2, ec2, iam, eks, kubernetes; for a rule: its id; for an export: "
        "securityhub, webhook, reports"
    )
    account: str | None = None
    region: str | None = None
    status: CoverageStatus
    error_code: str | None = Field(
        default=None, description="AWS error code, Kubernetes HTTP status, or the exception type of a crashed rule"
    )
    message: str | None = None
    calls: int = 0
    duration_ms: int = 0
    facets: dict[str, FacetCoverage] = Field(
        default_factory=dict,
        description="facets whose status differs from the collector's (a facet not listed has the collector's)",
    )

    @property
    def complete(self) -> bool:
        return self.status == CoverageStatus.OK

    def facet(self, facet: str) -> FacetCoverage:
        """The coverage of one facet of this collector: its own entry, else the collector's status."""
        own = self.facets.get(facet)
        if own is not None:
            return own
        return FacetCoverage(status=self.status, error_code=self.error_code, message=self.message)


# --------------------------------------------------------------------------- AWS: load balancers


class RedirectConfig(Model):
    protocol: str | None = None  # "HTTPS", "#{protocol}"
    port: str | None = None
    host: str | None = None
    path: str | None = None
    query: str | None = None
    status_code: str | None = None  # HTTP_301 / HTTP_302


class Action(Model):
    type: str  # forward | redirect | fixed-response | authenticate-oidc | authenticate-cognito
    order: int | None = None
    target_group_arns: list[str] = Field(default_factory=list)
    redirect: RedirectConfig | None = None
    fixed_response_status: str | None = None


class RuleCondition(Model):
    field: str  # host-header | path-pattern | http-header | query-string | source-ip | http-request-method
    values: list[str] = Field(default_factory=list)


class ListenerRule(Model):
    arn: str
    priority: str  # "default" or a number as text, as the API returns it
    is_default: bool = False
    conditions: list[RuleCondition] = Field(default_factory=list)
    actions: list[Action] = Field(default_factory=list)


class Listener(Model):
    arn: str | None = None  # classic load balancers have no listener ARN
    port: int
    protocol: str  # HTTP HTTPS TCP TLS UDP TCP_UDP GENEVE; classic: HTTP HTTPS TCP SSL
    ssl_policy: str | None = None
    certificate_arns: list[str] | None = Field(
        default=None, description="default certificate first, then SNI certificates; None = not collected"
    )
    default_actions: list[Action] = Field(default_factory=list)
    rules: list[ListenerRule] | None = Field(
        default=None, description="ALB listeners only; None = not collected or not applicable"
    )
    instance_port: int | None = None  # classic only
    instance_protocol: str | None = None  # classic only
    ssl_protocols: list[str] | None = Field(
        default=None,
        description="classic only: the protocols its negotiation policy enables (its Protocol-* attributes, e.g. "
        "TLSv1.2); None = not read, or the policy states none (a bare Reference-Security-Policy)",
    )


class TargetHealth(Model):
    id: str
    port: int | None = None
    state: str  # healthy unhealthy initial draining unused unavailable; classic: InService OutOfService
    reason: str | None = None
    description: str | None = None


class TargetGroup(Model):
    arn: str
    name: str
    account: str
    region: str
    protocol: str | None = None
    port: int | None = None
    target_type: str = "instance"  # instance | ip | lambda | alb
    vpc_id: str | None = None
    load_balancer_arns: list[str] = Field(default_factory=list)
    health_check_path: str | None = None
    health_check_port: str | None = None  # "traffic-port" or a port number as text, as the API returns it
    tags: dict[str, str] | None = None
    targets: list[TargetHealth] | None = Field(
        default=None,
        description="DescribeTargetHealth; None = not described (not read, or CloudWatch showed the group healthy)",
    )
    healthy_count: int | None = Field(
        default=None,
        description="healthy targets by CloudWatch (HealthyHostCount, Minimum of its latest minute), set when that "
        "showed some and the group was therefore not described; None = not read that way",
    )
    healthy_count_at: datetime | None = Field(default=None, description="start of the minute healthy_count is of")

    @property
    def health_source(self) -> Literal["DescribeTargetHealth", "CloudWatch HealthyHostCount"] | None:
        """Where the group's health was read; None when it was not."""
        if self.targets is not None:
            return "DescribeTargetHealth"
        return "CloudWatch HealthyHostCount" if self.healthy_count is not None else None

    @property
    def healthy_targets(self) -> int | None:
        """How many targets are healthy, from whichever source read them; None when the health was not read."""
        if self.targets is not None:
            return sum(1 for t in self.targets if t.state == "healthy")
        return self.healthy_count


class LoadBalancer(Model):
    arn: str = Field(description="classic load balancers get the ARN AWS would give them")
    name: str
    type: Literal["application", "network", "gateway", "classic"]
    scheme: Literal["internet-facing", "internal"]
    dns_name: str
    account: str
    region: str
    vpc_id: str | None = None
    state: str | None = None
    created_at: datetime | None = None
    ip_address_type: str | None = None
    availability_zones: list[str] = Field(default_factory=list)
    security_group_ids: list[str] = Field(default_factory=list)
    subnet_ids: list[str] = Field(default_factory=list, description="AvailabilityZones[].SubnetId (ALB, NLB)")
    tags: dict[str, str] | None = None
    listeners: list[Listener] | None = None
    instances: list[TargetHealth] | None = Field(
        default=None,
        description="classic only: DescribeInstanceHealth; None = not described (not read, or CloudWatch showed an "
        "InService instance)",
    )
    healthy_count: int | None = Field(
        default=None,
        description="classic only: InService instances by CloudWatch (HealthyHostCount, Minimum of its latest minute), "
        "set when that showed some and the instances were therefore not described; None = not read that way",
    )
    healthy_count_at: datetime | None = Field(default=None, description="start of the minute healthy_count is of")
    public_ipv4_count: int | None = Field(
        default=None,
        description="public IPv4 addresses on the load balancer's network interfaces; None = not counted",
    )
    attributes: dict[str, str] | None = Field(
        default=None,
        description="DescribeLoadBalancerAttributes as key -> value (Classic: its AdditionalAttributes); None = not "
        "read (only internet-facing ALBs and HTTP Classic load balancers are, when a selected rule needs them)",
    )

    @property
    def is_public(self) -> bool:
        return self.scheme == "internet-facing"

    @property
    def healthy_instances(self) -> int | None:
        """Classic: how many instances are InService, described or counted by CloudWatch; None when not read."""
        if self.instances is not None:
            return sum(1 for i in self.instances if i.state == "InService")
        return self.healthy_count


# --------------------------------------------------------------------------- AWS: the rest


class Certificate(Model):
    arn: str
    account: str
    region: str
    domain_name: str | None = None
    subject_alternative_names: list[str] | None = None
    status: str | None = None  # ISSUED PENDING_VALIDATION EXPIRED REVOKED FAILED INACTIVE VALIDATION_TIMED_OUT
    type: str | None = None  # AMAZON_ISSUED IMPORTED PRIVATE
    key_algorithm: str | None = None
    not_after: datetime | None = None
    in_use: bool | None = None
    in_use_by: list[str] | None = None
    renewal_eligibility: str | None = None

    @property
    def names(self) -> list[str]:
        names = list(self.subject_alternative_names or [])
        if self.domain_name and self.domain_name not in names:
            names.insert(0, self.domain_name)
        return names


class WebAcl(Model):
    arn: str
    id: str
    name: str
    account: str
    region: str
    resource_arns: list[str] | None = None  # None = the association listing failed


class SecurityGroupPermission(Model):
    protocol: str  # "-1" = all, "tcp", "udp", "icmp"
    from_port: int | None = None
    to_port: int | None = None
    ipv4_ranges: list[str] = Field(default_factory=list)
    ipv6_ranges: list[str] = Field(default_factory=list)
    source_group_ids: list[str] = Field(default_factory=list)
    prefix_list_ids: list[str] = Field(default_factory=list)

    def covers_port(self, port: int) -> bool:
        if self.protocol == "-1" or self.from_port is None:
            return True
        return self.from_port <= port <= (self.to_port if self.to_port is not None else self.from_port)


class SecurityGroup(Model):
    id: str
    name: str
    account: str
    region: str
    vpc_id: str | None = None
    ingress: list[SecurityGroupPermission] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)


class ManagedPrefixList(Model):
    """A managed prefix list a collected security group refers to (customer- or AWS-managed)."""

    id: str
    account: str
    region: str
    name: str | None = None
    address_family: str | None = None  # IPv4 | IPv6
    owner_id: str | None = None  # "AWS" for AWS-managed lists
    cidrs: list[str] | None = Field(default=None, description="current entries; None = could not be read")


class Subnet(Model):
    """A subnet a load balancer is in: its addresses are where the load balancer's traffic comes from."""

    id: str
    account: str
    region: str
    vpc_id: str | None = None
    cidr_block: str | None = None
    ipv6_cidr_blocks: list[str] = Field(default_factory=list)


class OidcProvider(Model):
    arn: str
    account: str
    url: str | None = None  # without https://, as IAM stores it; None = GetOpenIDConnectProvider failed
    client_ids: list[str] = Field(default_factory=list)


class ManagedPolicy(Model):
    arn: str
    name: str
    default_version_id: str | None = None
    document: dict[str, Any] | None = None  # None = could not be read


class IamRole(Model):
    arn: str
    name: str
    account: str
    exists: bool = True  # False: the role named by a service account / association is not in IAM
    trust_policy: dict[str, Any] | None = None
    attached_policies: list[ManagedPolicy] | None = None
    inline_policies: dict[str, dict[str, Any]] | None = None


class PodIdentityAssociation(Model):
    association_id: str
    namespace: str
    service_account: str
    role_arn: str | None = Field(
        default=None,
        description="None = not described: ListPodIdentityAssociations has no role, so only the "
        "associations of the controller's service accounts are described",
    )


class VpcCniAddon(Model):
    """The vpc-cni EKS add-on of a cluster (DescribeAddon): whether it is one, and its network policy setting."""

    installed: bool  # False: the VPC CNI is self-managed (or absent); its DaemonSet is all there is to read
    version: str | None = None
    network_policy: bool | None = None  # configurationValues enableNetworkPolicy; None: not set (off by default)


class EksCluster(Model):
    name: str
    account: str
    region: str
    arn: str | None = None
    version: str | None = None
    status: str | None = None
    endpoint: str | None = None
    oidc_issuer: str | None = Field(default=None, description="https://oidc.eks.<region>.amazonaws.com/id/<ID>")
    vpc_id: str | None = None
    auto_mode: bool | None = None
    pod_identity_associations: list[PodIdentityAssociation] | None = None
    vpc_cni: VpcCniAddon | None = None  # None: not read


class EksClusterListing(Model):
    """The cluster names that exist in one account/region (orphans: tagged for a cluster not here)."""

    account: str
    region: str
    names: list[str]


class LbPriceEntry(Model):
    """What one load balancer type costs per hour and per capacity unit (ALB/NLB/GWLB: LCU-hour; CLB: per GB)."""

    hourly: float
    per_capacity_unit: float | None = None


class RegionPriceList(Model):
    """One region's load balancer and public IPv4 prices as the Price List API gave them (USD)."""

    region: str
    source: str = Field(description="where the figures come from, e.g. 'AWS Price List API'")
    as_of: datetime = Field(description="when they were read from the source")
    load_balancers: dict[str, LbPriceEntry] = Field(default_factory=dict)  # application | network | classic | gateway
    public_ipv4_hourly: float | None = None


class LoadBalancerUsage(Model):
    """A load balancer's traffic over the usage window, from CloudWatch; a day without data counts as zero."""

    arn: str
    window_days: int
    daily_requests: list[float] = Field(
        default_factory=list, description="ALB/CLB RequestCount, NLB NewFlowCount: one sum per day, oldest first"
    )
    average_lcus: float | None = Field(default=None, description="ALB/NLB ConsumedLCUs averaged over the window")
    processed_gb: float = Field(default=0.0, description="bytes processed over the window, in GB")
    target_group_requests: dict[str, float] | None = Field(
        default=None, description="ALB: RequestCount over the window per target group ARN; None = not read"
    )
    healthy_hosts_max: float | None = Field(
        default=None, description="the most healthy targets (HealthyHostCount) seen in the window; None = no data"
    )
    healthy_hosts_days: int = Field(default=0, description="days of the window with HealthyHostCount data")


class BilledCost(Model):
    """What AWS billed for one resource over a window, from Cost Explorer's resource-level data (USD)."""

    resource_id: str = Field(description="Cost Explorer's RESOURCE_ID: a load balancer's ARN")
    account: str
    start: date
    end: date = Field(description="exclusive, as Cost Explorer's TimePeriod")
    usd: float


class AwsInventory(Model):
    load_balancers: list[LoadBalancer] = Field(default_factory=list)
    target_groups: list[TargetGroup] = Field(default_factory=list)
    certificates: list[Certificate] = Field(default_factory=list)
    web_acls: list[WebAcl] = Field(default_factory=list)
    security_groups: list[SecurityGroup] = Field(default_factory=list)
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    iam_roles: list[IamRole] = Field(default_factory=list)
    eks_clusters: list[EksCluster] = Field(default_factory=list)
    eks_cluster_listings: list[EksClusterListing] = Field(default_factory=list)
    prefix_lists: list[ManagedPrefixList] = Field(default_factory=list)
    price_lists: list[RegionPriceList] = Field(default_factory=list)
    lb_usage: list[LoadBalancerUsage] = Field(default_factory=list)
    billed_costs: list[BilledCost] = Field(default_factory=list)
    subnets: list[Subnet] = Field(default_factory=list)  # the load balancers' subnets


# --------------------------------------------------------------------------- Kubernetes


class KubeObject(Model):
    namespace: str | None = None
    name: str
    uid: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    created_at: datetime | None = None


class LoadBalancerIngress(Model):
    hostname: str | None = None
    ip: str | None = None


class ServicePort(Model):
    name: str | None = None
    port: int
    target_port: int | str | None = None
    protocol: str = "TCP"
    node_port: int | None = None
    app_protocol: str | None = None


class Service(KubeObject):
    type: str = "ClusterIP"
    load_balancer_class: str | None = None
    selector: dict[str, str] | None = None
    ports: list[ServicePort] = Field(default_factory=list)
    load_balancer_source_ranges: list[str] = Field(default_factory=list)
    status_ingress: list[LoadBalancerIngress] = Field(default_factory=list)
    external_traffic_policy: str | None = Field(
        default=None, description="spec.externalTrafficPolicy (None: not set, Kubernetes' default Cluster)"
    )


class IngressBackend(Model):
    service_name: str | None = None
    service_port_number: int | None = None
    service_port_name: str | None = None
    resource_kind: str | None = None  # a non-Service backend


class IngressPath(Model):
    path: str | None = None
    path_type: str | None = None
    backend: IngressBackend


class IngressRule(Model):
    host: str | None = None
    paths: list[IngressPath] = Field(default_factory=list)


class IngressTls(Model):
    hosts: list[str] = Field(default_factory=list)
    secret_name: str | None = None


class Ingress(KubeObject):
    ingress_class_name: str | None = None
    rules: list[IngressRule] = Field(default_factory=list)
    tls: list[IngressTls] = Field(default_factory=list)
    default_backend: IngressBackend | None = None
    status_ingress: list[LoadBalancerIngress] = Field(default_factory=list)


class IngressClassParametersRef(Model):
    api_group: str | None = None
    kind: str
    name: str
    scope: str | None = None
    namespace: str | None = None


class IngressClass(KubeObject):
    controller: str
    parameters: IngressClassParametersRef | None = None
    is_default: bool = False


class IngressClassParams(KubeObject):
    """elbv2.k8s.aws/v1beta1 IngressClassParams; spec kept as the API returns it (camelCase keys)."""

    spec: dict[str, Any] = Field(default_factory=dict)


class ServiceAccount(KubeObject):
    pass


class Endpoint(Model):
    addresses: list[str] = Field(default_factory=list)
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None
    target_ref_kind: str | None = None
    target_ref_name: str | None = None
    node_name: str | None = None


class EndpointPort(Model):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None


class EndpointSlice(KubeObject):
    service_name: str | None = None
    endpoints: list[Endpoint] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)


class ControllerDeployment(KubeObject):
    """A Deployment running the AWS Load Balancer Controller image."""

    image: str
    version: str | None = Field(default=None, description="image tag, e.g. v2.13.0")
    replicas: int | None = None
    ready_replicas: int = 0
    available_replicas: int = 0
    service_account_name: str | None = None
    args: list[str] = Field(default_factory=list)
    cluster_name_arg: str | None = None
    ingress_class_arg: str | None = None
    load_balancer_class_arg: str | None = None


class TargetGroupBinding(KubeObject):
    target_group_arn: str
    service_name: str
    service_port: int | str | None = None
    target_type: str | None = None


class GatewayParametersRef(Model):
    """``parametersRef`` of a GatewayClass or ``spec.infrastructure.parametersRef`` of a Gateway."""

    group: str | None = None
    kind: str
    name: str
    namespace: str | None = None


class GatewayClass(KubeObject):
    """gateway.networking.k8s.io GatewayClass: which implementation (``controllerName``) serves its Gateways."""

    controller_name: str
    parameters: GatewayParametersRef | None = None
    accepted: bool | None = None  # status condition Accepted; None: no such condition


class GatewayListener(Model):
    name: str
    port: int
    protocol: str  # HTTP HTTPS TLS TCP UDP
    hostname: str | None = None
    tls_mode: str | None = None  # Terminate | Passthrough
    certificate_refs: list[str] = Field(default_factory=list, description="names of spec.tls.certificateRefs")
    allowed_namespaces: str | None = None  # allowedRoutes.namespaces.from: Same (default) | All | Selector


class Gateway(KubeObject):
    """gateway.networking.k8s.io Gateway: the request for a load balancer under its class's implementation."""

    gateway_class_name: str
    listeners: list[GatewayListener] = Field(default_factory=list)
    parameters: GatewayParametersRef | None = None  # spec.infrastructure.parametersRef
    addresses: list[str] = Field(default_factory=list, description="status.addresses[].value (the LB DNS name)")
    programmed: bool | None = None  # status condition Programmed; None: no such condition


class RouteParentRef(Model):
    group: str | None = None  # default gateway.networking.k8s.io
    kind: str | None = None  # default Gateway
    namespace: str | None = None  # default: the route's namespace
    name: str
    section_name: str | None = None
    port: int | None = None


class RouteBackendRef(Model):
    group: str | None = None  # "" / None: core (a Service)
    kind: str | None = None  # default Service
    namespace: str | None = None  # default: the route's namespace
    name: str
    port: int | None = None


class RouteRedirect(Model):
    """A RequestRedirect filter of an HTTPRoute rule."""

    scheme: str | None = None
    port: int | None = None
    hostname: str | None = None
    status_code: int | None = None


class RouteRule(Model):
    backend_refs: list[RouteBackendRef] = Field(default_factory=list)
    redirect: RouteRedirect | None = None  # HTTPRoute only: the rule's RequestRedirect filter


class Route(KubeObject):
    """An HTTPRoute, GRPCRoute, TCPRoute, UDPRoute or TLSRoute, reduced to what exposure depends on."""

    kind: Literal["HTTPRoute", "GRPCRoute", "TCPRoute", "UDPRoute", "TLSRoute"]
    hostnames: list[str] = Field(default_factory=list)
    parent_refs: list[RouteParentRef] = Field(default_factory=list)
    rules: list[RouteRule] = Field(default_factory=list)


class ReferenceGrantFrom(Model):
    group: str
    kind: str
    namespace: str


class ReferenceGrantTo(Model):
    group: str
    kind: str
    name: str | None = None


class ReferenceGrant(KubeObject):
    """Lets objects of other namespaces (``from``) refer to objects of this one (``to``)."""

    from_: list[ReferenceGrantFrom] = Field(default_factory=list)
    to: list[ReferenceGrantTo] = Field(default_factory=list)


class GatewayConfiguration(KubeObject):
    """A gateway.k8s.aws object of the controller (LoadBalancerConfiguration, TargetGroupConfiguration,
    ListenerRuleConfiguration); spec kept as the API returns it (camelCase keys)."""

    kind: Literal["LoadBalancerConfiguration", "TargetGroupConfiguration", "ListenerRuleConfiguration"]
    spec: dict[str, Any] = Field(default_factory=dict)


class IngressControllerWorkload(KubeObject):
    """A Deployment running an ingress controller inside the cluster (ingress-nginx, Traefik, HAProxy ...), which
    serves the Ingresses of its IngressClasses through its own Service (usually ``type: LoadBalancer``)."""

    kind: Literal["Deployment", "DaemonSet"] = "Deployment"
    implementation: str = Field(description="ingress-nginx | traefik | haproxy (auditor.collect.kube)")
    image: str
    version: str | None = Field(default=None, description="image tag, e.g. v1.11.3")
    pod_labels: dict[str, str] = Field(default_factory=dict, description="the pod template's labels")
    args: list[str] = Field(default_factory=list, description="with $(VAR) references to the pod's namespace expanded")
    controller_class: str = Field(description="the IngressClass spec.controller it serves")
    ingress_class_arg: str | None = None  # --ingress-class
    watch_without_class: bool = False  # --watch-ingress-without-class: also serves Ingresses that name no class
    publish_service: str | None = Field(default=None, description="namespace/name of the Service it publishes")
    config_map: str | None = Field(default=None, description="namespace/name of its ConfigMap (--configmap)")
    ready_replicas: int = 0


class IngressControllerConfig(KubeObject):
    """The ConfigMap an in-cluster ingress controller reads its defaults from; only the keys the auditor reads are
    kept (``auditor.collect.kube.CONTROLLER_CONFIG_KEYS``), never the rest of the map."""

    data: dict[str, str] = Field(default_factory=dict)


class NetworkPolicy(KubeObject):
    """A networking.k8s.io/v1 NetworkPolicy; spec kept as the API returns it (camelCase keys), read by
    ``auditor.correlate.netpol``, which judges a malformed one unknown rather than guessing."""

    spec: dict[str, Any] = Field(default_factory=dict)


class Namespace(KubeObject):
    """A namespace and its labels (what a NetworkPolicy's ``namespaceSelector`` matches)."""


class ContainerPort(Model):
    name: str | None = None
    port: int
    protocol: str = "TCP"


class Pod(KubeObject):
    """A pod behind an exposed Service: what NetworkPolicy selects (labels) and admits (named ports)."""

    ips: list[str] = Field(default_factory=list)
    node_name: str | None = None
    host_network: bool = False
    container_ports: list[ContainerPort] = Field(default_factory=list)


class Node(KubeObject):
    """A node's addresses: with instance targets and externalTrafficPolicy Cluster, kube-proxy forwards the load
    balancer's traffic to the pods from the node's own address (SNAT)."""

    internal_ips: list[str] = Field(default_factory=list)  # status.addresses of type InternalIP


class DaemonSetContainer(Model):
    name: str
    image: str = ""
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)  # literal values only


class NetworkDaemonSet(KubeObject):
    """A DaemonSet of a pod network (the VPC CNI's ``aws-node``, Calico, Cilium): whether NetworkPolicy is enforced."""

    containers: list[DaemonSetContainer] = Field(default_factory=list)
    desired: int | None = None
    ready: int | None = None


class KubeInventory(Model):
    context: str | None = None
    server: str | None = None
    server_version: str | None = None
    services: list[Service] = Field(default_factory=list)
    ingresses: list[Ingress] = Field(default_factory=list)
    ingress_classes: list[IngressClass] = Field(default_factory=list)
    ingress_class_params: list[IngressClassParams] | None = None  # None: CRD absent or unreadable
    service_accounts: list[ServiceAccount] = Field(default_factory=list)
    endpoint_slices: list[EndpointSlice] | None = None
    controllers: list[ControllerDeployment] = Field(default_factory=list)
    target_group_bindings: list[TargetGroupBinding] | None = None  # None: CRD absent or unreadable
    crds: list[str] | None = None  # names of elbv2.k8s.aws CRDs present
    # Gateway API and the controller's gateway.k8s.aws objects. None: not read (the list failed, or a snapshot
    # older than schema 3); []: read, or the API is not installed (its facet's coverage says ``absent``).
    gateway_classes: list[GatewayClass] | None = None
    gateways: list[Gateway] | None = None
    routes: list[Route] | None = Field(
        default=None, description="every route kind read (a kind that failed is left out; its facet says so)"
    )
    reference_grants: list[ReferenceGrant] | None = None
    gateway_configurations: list[GatewayConfiguration] | None = None
    api_versions: dict[str, str] = Field(
        default_factory=dict, description="API group -> the version read (the server's preferred version)"
    )
    # In-cluster ingress controllers and their ConfigMaps. None: not read (the Deployments could not be listed, or
    # a snapshot older than schema 4); a controller whose ConfigMap could not be read has none in the list (its
    # facet says so).
    ingress_controllers: list[IngressControllerWorkload] | None = None
    ingress_controller_configs: list[IngressControllerConfig] | None = None
    # NetworkPolicy and what it applies to. None: not read (the list failed, or an older snapshot).
    network_policies: list[NetworkPolicy] | None = None
    namespaces: list[Namespace] | None = None
    pods: list[Pod] | None = Field(default=None, description="the pods behind exposed Services only")
    network_daemon_sets: list[NetworkDaemonSet] | None = Field(
        default=None, description="DaemonSets of known pod networks (aws-node, calico-node, cilium)"
    )
    nodes: list[Node] | None = Field(default=None, description="the nodes' addresses (instance targets)")


# --------------------------------------------------------------------------- the whole snapshot


class AuditTarget(Model):
    """What was audited: one cluster (optional) and its AWS accounts and regions."""

    name: str = Field(description="display name of the target, defaults to the cluster name")
    cluster_name: str | None = None
    context: str | None = None
    accounts: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)


class Inventory(Model):
    # strict: JSON true is no version (lax mode would read it as 1), nor is 1.0 or "1"
    schema_version: int = Field(default=SCHEMA_VERSION, strict=True)
    collected_at: datetime
    target: AuditTarget
    aws: AwsInventory = Field(default_factory=AwsInventory)
    kubernetes: KubeInventory | None = None
    coverage: list[Coverage] = Field(default_factory=list)
    api_calls: dict[str, int] = Field(default_factory=dict, description="'service:Operation' -> count")

    # ---------------------------------------------------------------- coverage look-ups

    def coverage_of(self, collector: str, *, account: str | None = None, region: str | None = None) -> Coverage | None:
        """The coverage entry of one collector; account/region None match any."""
        for cov in self.coverage:
            if cov.collector != collector:
                continue
            if account is not None and cov.account not in (None, account):
                continue
            if region is not None and cov.region not in (None, region):
                continue
            return cov
        return None

    def collected(self, collector: str, *, account: str | None = None, region: str | None = None) -> bool:
        """True when the collector ran and its data is complete for that account/region."""
        cov = self.coverage_of(collector, account=account, region=region)
        return cov is not None and cov.complete

    # ---------------------------------------------------------------- JSON round trip

    def dump_json(self) -> str:
        return self.model_dump_json(indent=1, exclude_none=False)

    def save(self, path: Path) -> None:
        path.write_text(self.dump_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Inventory:
        """Read a snapshot file; SnapshotError (one line naming the file) for anything but a readable snapshot."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SnapshotError(f"cannot read snapshot {path}: {exc.strerror or exc}") from exc
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SnapshotError(
                f"{path} is not UTF-8 text (a snapshot is UTF-8 JSON): byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start} ({exc.reason})"
            ) from exc
        return cls.parse(raw.removeprefix("\ufeff"), source=str(path))

    @classmethod
    def parse(cls, raw: str, *, source: str = "snapshot") -> Inventory:
        """Validate a snapshot document: JSON syntax, schema version, every field, timestamps with a time zone.

        Raises SnapshotError (one line) for every problem; never anything else."""
        try:
            inv = cls.model_validate_json(raw)
        except ValidationError as exc:
            _check_version(_peek_version(raw), source)  # a snapshot of another version: say that, not its fields
            first = exc.errors()[0]
            if first.get("type") == "json_invalid":
                reason = str(first.get("ctx", {}).get("error") or first.get("msg"))
                raise SnapshotError(f"{source} is not valid JSON: {reason}") from exc
            where = ".".join(_loc_part(p) for p in first.get("loc", ())) or "the document"
            raise SnapshotError(
                f"{source} is not an auditor snapshot: {where}: {first.get('msg')} ({exc.error_count()} errors)"
            ) from exc
        _check_version(inv.schema_version, source)
        problem = _timestamp_problem(inv)
        if problem is not None:
            raise SnapshotError(f"{source} is not an auditor snapshot: {problem}")
        return inv


def _loc_part(part: object) -> str:
    """One step of an error's location, printable and short (a key in a snapshot can be any string)."""
    text = str(part)
    return text[:60] if text.isprintable() and len(text) <= 60 else repr(text[:60])


def _versions_text() -> str:
    versions = sorted(READABLE_SCHEMA_VERSIONS)
    if len(versions) > 1 and versions == list(range(versions[0], versions[-1] + 1)):
        return f"{versions[0]}–{versions[-1]}"
    return ", ".join(str(v) for v in versions)


def _check_version(version: object, source: str) -> None:
    number = isinstance(version, int) and not isinstance(version, bool)
    if version is None or (number and version in READABLE_SCHEMA_VERSIONS):
        return
    if number:
        raise SnapshotError(f"{source} has schema version {version}; this auditor reads {_versions_text()}")
    shown = json.dumps(version, ensure_ascii=False)[:40]  # as the file spells it: true, 1.0, "1"
    raise SnapshotError(
        f"{source} has schema version {shown}, not a version number; this auditor reads {_versions_text()}"
    )


def _peek_version(raw: str) -> object:
    """The ``schema_version`` of a document that failed validation, if it is a JSON object that has one."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return doc.get("schema_version") if isinstance(doc, dict) else None


# Timestamps a snapshot holds are instants: with a time zone (the collectors write UTC), and far enough from
# datetime's limits that converting or adding days cannot overflow.
_LATEST_YEAR = 9000


def _timestamp_problem(inv: Inventory) -> str | None:
    """The first timestamp of the inventory that is naive or out of range, as "where: what"; None if all are fine."""
    stamped: list[tuple[str, datetime | None]] = [("collected_at", inv.collected_at)]
    stamped += [(f"aws.load_balancers.{i}.created_at", lb.created_at) for i, lb in enumerate(inv.aws.load_balancers)]
    stamped += [(f"aws.certificates.{i}.not_after", c.not_after) for i, c in enumerate(inv.aws.certificates)]
    stamped += [
        (f"aws.target_groups.{i}.healthy_count_at", tg.healthy_count_at) for i, tg in enumerate(inv.aws.target_groups)
    ]
    stamped += [
        (f"aws.load_balancers.{i}.healthy_count_at", lb.healthy_count_at) for i, lb in enumerate(inv.aws.load_balancers)
    ]
    kube = inv.kubernetes
    if kube is not None:
        for name in type(kube).model_fields:
            items = getattr(kube, name)
            if isinstance(items, list):
                stamped += [
                    (f"kubernetes.{name}.{i}.created_at", obj.created_at)
                    for i, obj in enumerate(items)
                    if isinstance(obj, KubeObject)
                ]
    for where, value in stamped:
        if value is None:
            continue
        if value.tzinfo is None or value.utcoffset() is None:
            return f"{where}: timestamp {value.isoformat()} has no time zone (write it with Z or an offset)"
        try:
            year = value.astimezone(UTC).year
        except OverflowError:
            year = _LATEST_YEAR + 1
        if year > _LATEST_YEAR:
            return f"{where}: timestamp {value.isoformat()} is out of range (after the year {_LATEST_YEAR})"
    return None
