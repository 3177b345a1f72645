"""ExposureGraph: every load balancer with its Kubernetes owner, every Kubernetes exposure with its AWS reality.

Built by ``auditor.correlate.build.correlate`` from an Inventory; read by rules, cost and output.
All of it is plain data: no I/O, no clients. The graph is read-only once ``correlate`` returns it: the
look-up indexes rules use (sorted groups, service accounts, roles, coverage, target group bindings)
are built on first use and kept, so every rule can ask per item at dictionary cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeVar

from auditor.correlate.annotations import AnnotationProblem, IngressSettings, NginxSettings, ServiceSettings
from auditor.findings import KubeRef
from auditor.inventory.models import (
    BilledCost,
    Certificate,
    ControllerDeployment,
    EksCluster,
    EndpointSlice,
    Gateway,
    GatewayClass,
    GatewayConfiguration,
    IamRole,
    Ingress,
    IngressClass,
    IngressControllerConfig,
    IngressControllerWorkload,
    Inventory,
    LoadBalancer,
    LoadBalancerUsage,
    OidcProvider,
    Route,
    SecurityGroup,
    Service,
    ServiceAccount,
    TargetGroup,
    TargetGroupBinding,
    WebAcl,
)

if TYPE_CHECKING:
    from auditor.cost.prices import PriceBook

Controller = Literal["lbc", "in-tree"]
GatewayImplementation = Literal["alb", "nlb"]
# GatewayClass ``spec.controllerName`` of the AWS Load Balancer Controller (facts §10; the controller's docs:
# https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/gateway/gateway/).
LBC_GATEWAY_CONTROLLERS: dict[str, GatewayImplementation] = {"gateway.k8s.aws/alb": "alb", "gateway.k8s.aws/nlb": "nlb"}
OwnerEvidence = Literal["stack-tag", "legacy-tag", "hostname"]
OrphanReason = Literal["owner-gone", "cluster-gone", "superseded"]
Scope = Literal["cluster", "other-cluster", "unmanaged"]
T = TypeVar("T")


class BackendRef(NamedTuple):
    """One port of one Service that traffic reaches (port as the Service declares it).

    A named tuple: immutable, ordered field by field, and made and hashed in C (the correlator makes one per
    Ingress path and Service port and keys dictionaries with them)."""

    namespace: str
    service: str
    port: str  # the Service port number as text, or its name when the Ingress names it

    def __str__(self) -> str:
        return f"{self.namespace}/{self.service}:{self.port}"


@dataclass
class IngressGroup:
    """One IngressGroup: explicit (``group.name``) or implicit (a single Ingress, name ``ns/name``)."""

    name: str
    explicit: bool
    members: list[Ingress] = field(default_factory=list)
    settings: dict[str, IngressSettings] = field(default_factory=dict)  # "ns/name" -> settings
    load_balancers: list[LbNode] = field(default_factory=list)
    member_refs: dict[str, KubeRef] = field(default_factory=dict, repr=False)  # "ns/name" -> the Ingress's KubeRef

    @cached_property
    def ref(self) -> KubeRef:
        # cached: read only once the correlator has sorted the members (KubeRef is frozen, so shared safely)
        if self.explicit:
            return KubeRef(kind="IngressGroup", name=self.name)
        first = self.members[0]
        return self.member_refs.get(f"{first.namespace}/{first.name}") or KubeRef(
            kind="Ingress", namespace=first.namespace, name=first.name
        )

    def settings_of(self, ing: Ingress) -> IngressSettings:
        return self.settings[f"{ing.namespace}/{ing.name}"]

    def ref_of(self, ing: Ingress) -> KubeRef:
        """The KubeRef of a member Ingress (one shared instance per Ingress)."""
        return self.member_refs[f"{ing.namespace}/{ing.name}"]

    @property
    def scheme(self) -> str:
        schemes = {s.scheme for s in self.settings.values()}
        return "internet-facing" if "internet-facing" in schemes else "internal"

    @property
    def hosts(self) -> list[str]:
        found: list[str] = []
        for ing in self.members:
            for host in [r.host for r in ing.rules if r.host] + [h for t in ing.tls for h in t.hosts]:
                if host not in found:
                    found.append(host)
        return found

    @property
    def namespaces(self) -> list[str]:
        return sorted({m.namespace or "" for m in self.members})


@dataclass
class GatewayExposure:
    """A Gateway with its class, the routes attached to it and the load balancer the controller made for it.

    ``implementation`` is None for a Gateway of another implementation (or of a class that does not exist): it is
    listed, never judged — its load balancer, if any, is not the AWS Load Balancer Controller's."""

    gateway: Gateway
    gateway_class: GatewayClass | None
    implementation: GatewayImplementation | None
    configuration: GatewayConfiguration | None = (
        None  # the LoadBalancerConfiguration in force (Gateway's, else class's)
    )
    # the GatewayClass's own LoadBalancerConfiguration (unmerged): its values win the merge by default (mergingMode)
    class_configuration: GatewayConfiguration | None = None
    routes: list[Route] = field(default_factory=list)
    load_balancers: list[LbNode] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # backend references not allowed (no ReferenceGrant)
    ref: KubeRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ref = KubeRef(kind="Gateway", namespace=self.gateway.namespace, name=self.gateway.name)

    @property
    def managed(self) -> bool:
        """Whether the AWS Load Balancer Controller serves it (its class names the controller)."""
        return self.implementation is not None

    @property
    def scheme(self) -> str:
        """The scheme the Gateway asks for: its LoadBalancerConfiguration's, else the controller's default."""
        spec = self.configuration.spec if self.configuration is not None else {}
        return "internet-facing" if spec.get("scheme") == "internet-facing" else "internal"

    @property
    def route_refs(self) -> list[KubeRef]:
        return [KubeRef(kind=r.kind, namespace=r.namespace, name=r.name) for r in self.routes]

    @property
    def hosts(self) -> list[str]:
        """Hostnames it serves: of its listeners and of its attached routes, in order, without repeats."""
        found: list[str] = []
        for host in [li.hostname for li in self.gateway.listeners if li.hostname] + [
            h for r in self.routes for h in r.hostnames
        ]:
            if host not in found:
                found.append(host)
        return found


@dataclass(eq=False)
class IngressControllerExposure:
    """An ingress controller running in the cluster (ingress-nginx, Traefik, HAProxy ...): every Ingress of its
    IngressClasses is served through its own ``type: LoadBalancer`` Service, so through that Service's load balancer
    (facts §14). ``workload`` is None when only its Service (by the pod labels its install documents) or only its
    IngressClass was found; ``services`` is empty when no LoadBalancer Service of it was found."""

    implementation: str  # ingress-nginx | traefik | haproxy (auditor.inventory.ingress_controllers)
    controller: str  # the IngressClass spec.controller value it serves
    workload: IngressControllerWorkload | None = None
    services: list[ServiceExposure] = field(default_factory=list)
    classes: list[IngressClass] = field(default_factory=list)
    ingresses: list[Ingress] = field(default_factory=list)
    config: IngressControllerConfig | None = None  # its ConfigMap (ingress-nginx), when it has one and it was read
    config_known: bool = False  # its ConfigMap was read, or it names none / one that does not exist
    settings: dict[str, NginxSettings] = field(default_factory=dict)  # "ns/name" -> the Ingress's nginx annotations
    member_refs: dict[str, KubeRef] = field(default_factory=dict, repr=False)  # "ns/name" -> the Ingress's KubeRef
    ref: KubeRef = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.ref = self.workload_ref()

    def workload_ref(self) -> KubeRef:
        """The object findings about the controller itself name: its Deployment, else its Service, else its class."""
        if self.workload is not None:
            return KubeRef(kind=self.workload.kind, namespace=self.workload.namespace, name=self.workload.name)
        if self.services:
            return self.services[0].ref
        return KubeRef(kind="IngressClass", name=self.classes[0].name if self.classes else self.controller)

    def ref_of(self, ing: Ingress) -> KubeRef:
        return self.member_refs[f"{ing.namespace}/{ing.name}"]

    def settings_of(self, ing: Ingress) -> NginxSettings:
        return self.settings[f"{ing.namespace}/{ing.name}"]

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def ingress_refs(self) -> list[KubeRef]:
        return [self.ref_of(i) for i in self.ingresses]

    def load_balancers(self) -> list[LbNode]:
        """The current load balancers of its Services (orphans left out)."""
        return [n for exp in self.services for n in exp.load_balancers if n.orphan is None]


@dataclass(slots=True)
class Owner:
    """The Kubernetes owner of a load balancer."""

    kind: Literal["IngressGroup", "Ingress", "Service", "Gateway"]
    namespace: str | None
    name: str
    group: IngressGroup | None = None
    service: Service | None = None
    gateway: GatewayExposure | None = None
    ref: KubeRef = field(default=None, repr=False, compare=False)  # type: ignore[assignment]  # made if not given
    # the owning Service is an in-cluster ingress controller's: its load balancer carries that controller's Ingresses
    ingress_controller: IngressControllerExposure | None = None

    label: str = field(init=False, repr=False, compare=False)  # str(ref), as messages and evidence name the owner

    def __post_init__(self) -> None:
        # read for every finding on its load balancers: made once (or handed over by the correlator)
        if self.ref is None:
            self.ref = KubeRef(kind=self.kind, namespace=self.namespace, name=self.name)
        self.label = str(self.ref)


@dataclass(slots=True)
class LbNode:
    """A load balancer with everything correlated to it."""

    lb: LoadBalancer
    scope: Scope
    controller: Controller | None = None
    cluster_tag: str | None = None
    stack: str | None = None  # the stack tag value (group name, ns/name)
    owner: Owner | None = None
    owner_evidence: OwnerEvidence | None = None
    orphan: OrphanReason | None = None
    orphan_detail: str = ""
    target_groups: list[TargetGroup] = field(default_factory=list)
    certificates: dict[str, Certificate | None] = field(default_factory=dict)  # ARN -> cert (None: not seen)
    web_acl: WebAcl | None = None
    security_groups: list[SecurityGroup] = field(default_factory=list)
    backends: set[BackendRef] = field(default_factory=set)
    usage: LoadBalancerUsage | None = None  # traffic over the usage window (None: not read)
    billed: BilledCost | None = None  # what Cost Explorer says it cost over its window (None: not read)
    prices: PriceBook | None = field(default=None, repr=False, compare=False)  # the audit's book (None: bundled)
    arn: str = field(init=False, repr=False, compare=False)  # the load balancer's ARN (read very often)
    # What rules derive from this node alone (its description, cost, finding fields), computed by the first rule
    # that asks and reused by the others: see auditor.rules._helpers.node_memo.
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.arn = self.lb.arn

    @property
    def kube_ref(self) -> KubeRef | None:
        return self.owner.ref if self.owner else None


@dataclass(slots=True)
class ServiceExposure:
    """A ``type: LoadBalancer`` Service and what it got."""

    service: Service
    settings: ServiceSettings
    load_balancers: list[LbNode] = field(default_factory=list)
    ingress_controller: IngressControllerExposure | None = None  # the in-cluster ingress controller it fronts
    ref: KubeRef = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.ref = KubeRef(kind="Service", namespace=self.service.namespace, name=self.service.name)

    @property
    def backends(self) -> list[BackendRef]:
        return [BackendRef(self.service.namespace or "", self.service.name, str(p.port)) for p in self.service.ports]


class RuleError(NamedTuple):
    """A rule that raised while evaluating this graph (a defect): on one object (``object`` names it; that
    object's checks are UNKNOWN, the others were judged), or outside any object (all its checks are UNKNOWN)."""

    rule_id: str
    exception: str  # the exception's type name
    message: str
    object: str | None = None  # the object being judged, as its UNKNOWN finding names it; None: the whole rule


@dataclass(slots=True)
class ExposurePath:
    """One way traffic reaches a backend: through a load balancer (or an unprovisioned exposure)."""

    via: KubeRef
    load_balancer: LbNode | None


@dataclass
class ExposureGraph:
    inventory: Inventory
    cluster_name: str | None
    load_balancers: list[LbNode] = field(default_factory=list)
    groups: dict[str, IngressGroup] = field(default_factory=dict)
    other_ingresses: list[Ingress] = field(default_factory=list)  # Ingresses of other controllers
    services: list[ServiceExposure] = field(default_factory=list)
    gateways: list[GatewayExposure] = field(default_factory=list)  # every Gateway, of any implementation
    ingress_controllers: list[IngressControllerExposure] = field(default_factory=list)  # in-cluster controllers
    backends: dict[BackendRef, list[ExposurePath]] = field(default_factory=dict)
    annotation_problems: list[tuple[KubeRef, AnnotationProblem]] = field(default_factory=list)
    controllers: list[ControllerDeployment] = field(default_factory=list)
    eks_cluster: EksCluster | None = None
    rule_errors: list[RuleError] = field(default_factory=list)
    _service_index: dict[tuple[str, str], Service] = field(default_factory=dict)
    _slices_by_service: dict[tuple[str, str], list[EndpointSlice]] = field(default_factory=dict)
    _lb_by_arn: dict[str, LbNode] = field(default_factory=dict)

    # ------------------------------------------------------------------ look-ups

    def lb(self, arn: str) -> LbNode | None:
        return self._lb_by_arn.get(arn)

    def service(self, namespace: str, name: str) -> Service | None:
        return self._service_index.get((namespace, name))

    @property
    def ingress_controllers_read(self) -> bool:
        """Whether the in-cluster ingress controllers' Deployments were read (not in snapshots older than schema 4)."""
        kube = self.inventory.kubernetes
        return kube is not None and kube.ingress_controllers is not None

    @property
    def gateways_read(self) -> bool:
        """Whether Gateways and their classes were read (an API not installed counts as read: there are none)."""
        kube = self.inventory.kubernetes
        return kube is not None and kube.gateways is not None and kube.gateway_classes is not None

    def endpoint_slices(self, namespace: str, name: str) -> list[EndpointSlice] | None:
        """EndpointSlices of a Service; None when slices were not collected."""
        if self.inventory.kubernetes is None or self.inventory.kubernetes.endpoint_slices is None:
            return None
        return self._slices_by_service.get((namespace, name), [])

    def in_scope(self) -> list[LbNode]:
        """Load balancers this audit speaks for: this cluster's, untagged ones, and orphans of dead clusters."""
        return [n for n in self.load_balancers if n.scope != "other-cluster" or n.orphan is not None]

    def orphans(self) -> list[LbNode]:
        return [n for n in self.load_balancers if n.orphan]

    @property
    def kube_collected(self) -> bool:
        return self.inventory.kubernetes is not None and self.inventory.collected("kubernetes")

    def collected(self, collector: str, node: LbNode | None = None) -> bool:
        """Whether a collector's data is complete (for a load balancer's account/region if given)."""
        key = (collector, node.lb.account, node.lb.region) if node is not None else (collector, None, None)
        known = self._coverage_answers.get(key)
        if known is None:
            # rules ask per load balancer; the coverage list is scanned once per collector/account/region
            known = self._coverage_answers[key] = self.inventory.collected(collector, account=key[1], region=key[2])
        return known

    @cached_property
    def _coverage_answers(self) -> dict[tuple[str, str | None, str | None], bool]:
        return {}

    # ------------------------------------------------------------------ identity

    def service_account(self, namespace: str, name: str) -> ServiceAccount | None:
        return self._service_accounts.get((namespace, name))

    @cached_property
    def _service_accounts(self) -> dict[tuple[str | None, str], ServiceAccount]:
        found: dict[tuple[str | None, str], ServiceAccount] = {}
        for sa in self.inventory.kubernetes.service_accounts if self.inventory.kubernetes else []:
            found.setdefault((sa.namespace, sa.name), sa)  # the first one listed, as a scan would find
        return found

    def iam_role(self, arn: str) -> IamRole | None:
        return self._iam_roles.get(arn)

    @cached_property
    def _iam_roles(self) -> dict[str, IamRole]:
        found: dict[str, IamRole] = {}
        for role in self.inventory.aws.iam_roles:
            found.setdefault(role.arn, role)
        return found

    def oidc_provider_for(self, issuer: str, account: str | None = None) -> OidcProvider | None:
        """The IAM OIDC provider of an issuer; in ``account`` when given: a role trusts only a provider of its own
        account, so one registered in another audited account does not count."""
        host = issuer.removeprefix("https://").rstrip("/")
        for provider in self.inventory.aws.oidc_providers:
            if account and provider.account != account:
                continue
            if provider.arn.endswith(f":oidc-provider/{host}") or provider.url == host:
                return provider
        return None

    def derived(self, build: Callable[[ExposureGraph], T]) -> T:
        """``build(graph)``, computed once per graph and kept: an index or table that a rule module (or several
        rules) needs, built on first use instead of per item or per rule. Keyed by the function itself."""
        known = self._derived
        if build not in known:
            known[build] = build(self)
        return known[build]  # type: ignore[no-any-return]

    @cached_property
    def _derived(self) -> dict[Callable[[ExposureGraph], Any], Any]:
        return {}

    @cached_property
    def ingress_groups(self) -> list[IngressGroup]:
        """Every IngressGroup sorted by name (sorted once; callers must not modify the list)."""
        return [self.groups[k] for k in sorted(self.groups)]

    # ------------------------------------------------------------------ target groups

    def target_group_binding(self, target_group_arn: str) -> TargetGroupBinding | None:
        """The (first listed) TargetGroupBinding of a target group, if any."""
        return self._bindings_by_target_group.get(target_group_arn)

    @cached_property
    def _bindings_by_target_group(self) -> dict[str, TargetGroupBinding]:
        kube = self.inventory.kubernetes
        found: dict[str, TargetGroupBinding] = {}
        for tgb in (kube.target_group_bindings or []) if kube else []:
            found.setdefault(tgb.target_group_arn, tgb)
        return found

    def alb_ingress_rank(self, namespace: str | None, name: str) -> int | None:
        """Position of an ALB Ingress among all group members (groups in correlation order); None if absent."""
        return self._alb_ingress_ranks.get((namespace, name))

    @cached_property
    def _alb_ingress_ranks(self) -> dict[tuple[str | None, str], int]:
        ranks: dict[tuple[str | None, str], int] = {}
        for group in self.groups.values():
            for ing in group.members:
                ranks.setdefault((ing.namespace, ing.name), len(ranks))
        return ranks
