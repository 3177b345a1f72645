"""Small builders for Inventory snapshots, so correlation and rule tests read like the situation they test.

Defaults describe a healthy cluster "demo" in account 111122223333 / eu-west-1 with every collector
complete; each test changes only what it is about. ``coverage(failed=...)`` makes UNKNOWN cases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from auditor.inventory.facets import Facet
from auditor.inventory.models import (
    Action,
    AuditTarget,
    AwsInventory,
    Certificate,
    ContainerPort,
    ControllerDeployment,
    Coverage,
    CoverageStatus,
    DaemonSetContainer,
    EksCluster,
    EksClusterListing,
    Endpoint,
    EndpointSlice,
    FacetCoverage,
    Gateway,
    GatewayClass,
    GatewayConfiguration,
    GatewayListener,
    GatewayParametersRef,
    IamRole,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressControllerConfig,
    IngressControllerWorkload,
    IngressPath,
    IngressRule,
    IngressTls,
    Inventory,
    KubeInventory,
    Listener,
    ListenerRule,
    LoadBalancer,
    LoadBalancerIngress,
    ManagedPolicy,
    NetworkDaemonSet,
    NetworkPolicy,
    Node,
    OidcProvider,
    Pod,
    RedirectConfig,
    ReferenceGrant,
    ReferenceGrantFrom,
    ReferenceGrantTo,
    Route,
    RouteBackendRef,
    RouteParentRef,
    RouteRedirect,
    RouteRule,
    RuleCondition,
    SecurityGroup,
    SecurityGroupPermission,
    Service,
    ServiceAccount,
    ServicePort,
    Subnet,
    TargetGroup,
    TargetHealth,
    WebAcl,
)

ACCOUNT = "111122223333"
REGION = "eu-west-1"
CLUSTER = "demo"
AWS_COLLECTORS = ("elbv2", "elb", "acm", "wafv2", "ec2", "iam", "eks", "cloudwatch", "pricing")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ISSUER = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF0123456789"


def arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def dns(name: str, kind: str = "application") -> str:
    if kind == "network":
        return f"{name}-0123456789.elb.{REGION}.amazonaws.com"
    return f"{name}-0123456789.{REGION}.elb.amazonaws.com"


# ------------------------------------------------------------------ AWS


def forward(*tg_arns: str) -> Action:
    return Action(type="forward", target_group_arns=list(tg_arns))


def redirect_https(port: str = "443") -> Action:
    return Action(type="redirect", redirect=RedirectConfig(protocol="HTTPS", port=port, status_code="HTTP_301"))


def fixed_404() -> Action:
    return Action(type="fixed-response", fixed_response_status="404")


def rule(
    priority: int, *, hosts: tuple[str, ...] = (), paths: tuple[str, ...] = ("/*",), action: Action
) -> ListenerRule:
    conditions = []
    if hosts:
        conditions.append(RuleCondition(field="host-header", values=list(hosts)))
    if paths:
        conditions.append(RuleCondition(field="path-pattern", values=list(paths)))
    return ListenerRule(
        arn=arn("elasticloadbalancing", f"listener-rule/app/x/{priority}"),
        priority=str(priority),
        conditions=conditions,
        actions=[action],
    )


def listener(
    port: int,
    protocol: str,
    *,
    default: Action | None = None,
    rules: list[ListenerRule] | None = None,
    certs: list[str] | None = None,
    ssl_policy: str | None = None,
    lb_name: str = "x",
) -> Listener:
    tls = protocol in ("HTTPS", "TLS", "SSL")
    return Listener(
        arn=arn("elasticloadbalancing", f"listener/app/{lb_name}/{port}"),
        port=port,
        protocol=protocol,
        ssl_policy=ssl_policy if ssl_policy is not None else ("ELBSecurityPolicy-TLS13-1-2-2021-06" if tls else None),
        certificate_arns=certs if certs is not None else ([] if tls else None),
        default_actions=[default or fixed_404()],
        rules=rules if rules is not None else ([] if protocol in ("HTTP", "HTTPS") else None),
    )


def ingress_tags(stack: str, cluster: str = CLUSTER) -> dict[str, str]:
    return {
        "elbv2.k8s.aws/cluster": cluster,
        "ingress.k8s.aws/stack": stack,
        "ingress.k8s.aws/resource": "LoadBalancer",
    }


def service_tags(stack: str, cluster: str = CLUSTER) -> dict[str, str]:
    return {
        "elbv2.k8s.aws/cluster": cluster,
        "service.k8s.aws/stack": stack,
        "service.k8s.aws/resource": "LoadBalancer",
    }


def gateway_tags(stack: str, cluster: str = CLUSTER, *, kind: str = "alb") -> dict[str, str]:
    """Tags the controller puts on a Gateway's load balancer (facts §10)."""
    return {
        "elbv2.k8s.aws/cluster": cluster,
        f"gateway.k8s.aws.{kind}/stack": stack,
        f"gateway.k8s.aws.{kind}/resource": "LoadBalancer",
    }


def intree_tags(service: str, cluster: str = CLUSTER) -> dict[str, str]:
    return {f"kubernetes.io/cluster/{cluster}": "owned", "kubernetes.io/service-name": service}


def load_balancer(
    name: str,
    *,
    type: str = "application",
    scheme: str = "internet-facing",
    tags: dict[str, str] | None = None,
    listeners: list[Listener] | None = None,
    sgs: list[str] | None = None,
    instances: list[TargetHealth] | None = None,
    region: str = REGION,
    azs: int = 2,
) -> LoadBalancer:
    kind = {"application": "app", "network": "net", "classic": "", "gateway": "gwy"}[type]
    lb_arn = (
        arn("elasticloadbalancing", f"loadbalancer/{name}", region)
        if type == "classic"
        else arn("elasticloadbalancing", f"loadbalancer/{kind}/{name}/0123456789abcdef", region)
    )
    return LoadBalancer(
        arn=lb_arn,
        name=name,
        type=type,  # type: ignore[arg-type]
        scheme=scheme,  # type: ignore[arg-type]
        dns_name=dns(name, type),
        account=ACCOUNT,
        region=region,
        vpc_id="vpc-1",
        state="active",
        availability_zones=[f"{region}{z}" for z in "abc"[:azs]],
        security_group_ids=sgs if sgs is not None else ([] if type == "network" else [f"sg-{name}"]),
        tags=tags if tags is not None else {},
        listeners=listeners if listeners is not None else [],
        instances=instances,
    )


def target_group(
    name: str,
    lb: LoadBalancer,
    *,
    targets: list[TargetHealth] | None = None,
    tags: dict[str, str] | None = None,
    port: int = 80,
    protocol: str = "HTTP",
) -> TargetGroup:
    return TargetGroup(
        arn=arn("elasticloadbalancing", f"targetgroup/{name}/0123456789abcdef"),
        name=name,
        account=ACCOUNT,
        region=lb.region,
        protocol=protocol,
        port=port,
        target_type="ip",
        load_balancer_arns=[lb.arn],
        tags=tags or {},
        targets=targets if targets is not None else [TargetHealth(id="10.0.1.10", port=port, state="healthy")],
    )


def certificate(
    name: str,
    domain: str,
    *,
    sans: tuple[str, ...] = (),
    days: int = 300,
    status: str = "ISSUED",
    key: str = "RSA_2048",
) -> Certificate:
    return Certificate(
        arn=arn("acm", f"certificate/{name}"),
        account=ACCOUNT,
        region=REGION,
        domain_name=domain,
        subject_alternative_names=[domain, *sans],
        status=status,
        type="AMAZON_ISSUED",
        key_algorithm=key,
        not_after=NOW + timedelta(days=days),
        in_use=True,
    )


def web_acl(name: str, *resources: str) -> WebAcl:
    return WebAcl(
        arn=arn("wafv2", f"regional/webacl/{name}/0000"),
        id="0000",
        name=name,
        account=ACCOUNT,
        region=REGION,
        resource_arns=list(resources),
    )


def security_group(sg_id: str, *open_ports: int, cidr: str = "0.0.0.0/0") -> SecurityGroup:
    return SecurityGroup(
        id=sg_id,
        name=sg_id,
        account=ACCOUNT,
        region=REGION,
        vpc_id="vpc-1",
        ingress=[
            SecurityGroupPermission(protocol="tcp", from_port=p, to_port=p, ipv4_ranges=[cidr]) for p in open_ports
        ],
    )


# ------------------------------------------------------------------ Kubernetes


def ingress(
    namespace: str,
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    hosts: tuple[str, ...] = (),
    backend: tuple[str, int] = ("web", 80),
    tls_hosts: tuple[str, ...] = (),
    lb: LoadBalancer | None = None,
    ingress_class: str | None = "alb",
) -> Ingress:
    paths = [
        IngressPath(
            path="/",
            path_type="Prefix",
            backend=IngressBackend(service_name=backend[0], service_port_number=backend[1]),
        )
    ]
    rules = [IngressRule(host=h, paths=paths) for h in hosts] if hosts else [IngressRule(paths=paths)]
    return Ingress(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        annotations=annotations or {},
        ingress_class_name=ingress_class,
        rules=rules,
        tls=[IngressTls(hosts=list(tls_hosts))] if tls_hosts else [],
        status_ingress=[LoadBalancerIngress(hostname=lb.dns_name)] if lb else [],
    )


def service(
    namespace: str,
    name: str,
    *,
    type: str = "LoadBalancer",
    ports: tuple[int, ...] = (80,),
    annotations: dict[str, str] | None = None,
    lb_class: str | None = None,
    lb: LoadBalancer | None = None,
    source_ranges: tuple[str, ...] = (),
    selector: dict[str, str] | None = None,
    app_protocol: str | None = None,
) -> Service:
    return Service(
        namespace=namespace,
        name=name,
        uid=f"uid-{namespace}-{name}",
        annotations=annotations or {},
        type=type,
        load_balancer_class=lb_class,
        selector=selector if selector is not None else {"app": name},
        ports=[ServicePort(name=f"p{p}", port=p, target_port=p, app_protocol=app_protocol) for p in ports],
        load_balancer_source_ranges=list(source_ranges),
        status_ingress=[LoadBalancerIngress(hostname=lb.dns_name)] if lb else [],
    )


def gateway_class(
    name: str = "alb", controller: str = "gateway.k8s.aws/alb", *, config: str | None = None
) -> GatewayClass:
    params = (
        GatewayParametersRef(group="gateway.k8s.aws", kind="LoadBalancerConfiguration", name=config, namespace="infra")
        if config
        else None
    )
    return GatewayClass(name=name, controller_name=controller, parameters=params, accepted=True)


def gateway(
    namespace: str,
    name: str,
    *,
    cls: str = "alb",
    listeners: list[GatewayListener] | None = None,
    lb: LoadBalancer | None = None,
    config: str | None = None,
) -> Gateway:
    """A Gateway; ``lb`` sets its status address to that load balancer's DNS name (as the controller does)."""
    return Gateway(
        namespace=namespace,
        name=name,
        uid=f"uid-gw-{namespace}-{name}",
        gateway_class_name=cls,
        listeners=listeners if listeners is not None else [GatewayListener(name="http", port=80, protocol="HTTP")],
        parameters=GatewayParametersRef(group="gateway.k8s.aws", kind="LoadBalancerConfiguration", name=config)
        if config
        else None,
        addresses=[lb.dns_name] if lb else [],
        programmed=lb is not None,
    )


def gw_listener(
    name: str, port: int, protocol: str = "HTTP", *, hostname: str | None = None, allowed: str | None = None
) -> GatewayListener:
    return GatewayListener(name=name, port=port, protocol=protocol, hostname=hostname, allowed_namespaces=allowed)


def route(
    namespace: str,
    name: str,
    *,
    gateway: str,
    backends: tuple[str, ...] = (),
    kind: str = "HTTPRoute",
    gateway_namespace: str | None = None,
    hostnames: tuple[str, ...] = (),
    port: int = 80,
    redirect: RouteRedirect | None = None,
    section: str | None = None,
) -> Route:
    """A route attached to one Gateway; each backend is ``svc`` or ``ns/svc`` (port ``port``)."""
    refs = []
    for b in backends:
        ns, _, svc = b.rpartition("/")
        refs.append(RouteBackendRef(name=svc, namespace=ns or None, port=port))
    rules = [RouteRule(backend_refs=refs)] if refs else []
    if redirect is not None:
        rules.append(RouteRule(redirect=redirect))
    return Route(
        namespace=namespace,
        name=name,
        kind=kind,  # type: ignore[arg-type]
        hostnames=list(hostnames),
        parent_refs=[RouteParentRef(name=gateway, namespace=gateway_namespace, section_name=section)],
        rules=rules,
    )


def reference_grant(
    namespace: str, from_namespace: str, *, kind: str = "HTTPRoute", service: str | None = None
) -> ReferenceGrant:
    return ReferenceGrant(
        namespace=namespace,
        name=f"from-{from_namespace}",
        from_=[ReferenceGrantFrom(group="gateway.networking.k8s.io", kind=kind, namespace=from_namespace)],
        to=[ReferenceGrantTo(group="", kind="Service", name=service)],
    )


def lb_configuration(namespace: str, name: str, **spec: Any) -> GatewayConfiguration:
    return GatewayConfiguration(namespace=namespace, name=name, kind="LoadBalancerConfiguration", spec=spec)


def endpoint_slice(namespace: str, service_name: str, *, ready: int = 1, not_ready: int = 0) -> EndpointSlice:
    endpoints = [Endpoint(addresses=[f"10.0.1.{i}"], ready=True) for i in range(ready)]
    endpoints += [Endpoint(addresses=[f"10.0.2.{i}"], ready=False) for i in range(not_ready)]
    return EndpointSlice(
        namespace=namespace, name=f"{service_name}-abc", service_name=service_name, endpoints=endpoints
    )


def pod_slice(namespace: str, service_name: str, *pods: Pod) -> EndpointSlice:
    """The EndpointSlice of a Service whose ready endpoints are these pods (targetRef kind Pod)."""
    endpoints = [
        Endpoint(addresses=list(p.ips), ready=True, target_ref_kind="Pod", target_ref_name=p.name) for p in pods
    ]
    return EndpointSlice(
        namespace=namespace, name=f"{service_name}-pods", service_name=service_name, endpoints=endpoints
    )


def pod(
    namespace: str, name: str, ip: str, *, labels: dict[str, str] | None = None, ports: dict[str, int] | None = None
) -> Pod:
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels if labels is not None else {"app": name.rsplit("-", 1)[0]},
        ips=[ip],
        container_ports=[ContainerPort(name=n, port=p) for n, p in (ports or {}).items()],
    )


def network_policy(namespace: str, name: str, **spec: Any) -> NetworkPolicy:
    return NetworkPolicy(namespace=namespace, name=name, spec=spec)


def default_deny(namespace: str) -> NetworkPolicy:
    return network_policy(namespace, "default-deny", podSelector={}, policyTypes=["Ingress"])


def aws_node(*, enforcing: bool) -> NetworkDaemonSet:
    """The VPC CNI's DaemonSet, its network policy agent on or off."""
    flag = "true" if enforcing else "false"
    return NetworkDaemonSet(
        namespace="kube-system",
        name="aws-node",
        containers=[
            DaemonSetContainer(name="aws-node", image="amazon-k8s-cni:v1.19.0"),
            DaemonSetContainer(
                name="aws-eks-nodeagent",
                image="amazon/aws-network-policy-agent:v1.2.0",
                args=[f"--enable-network-policy={flag}"],
            ),
        ],
    )


def node(name: str, ip: str) -> Node:
    return Node(name=name, internal_ips=[ip])


def subnet(subnet_id: str, cidr: str, *, region: str = REGION) -> Subnet:
    return Subnet(id=subnet_id, account=ACCOUNT, region=region, vpc_id="vpc-1", cidr_block=cidr)


def alb_class() -> IngressClass:
    return IngressClass(name="alb", controller="ingress.k8s.aws/alb")


def nginx_class(name: str = "nginx", controller: str = "k8s.io/ingress-nginx") -> IngressClass:
    return IngressClass(name=name, controller=controller)


NGINX_LABELS = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}


def nginx_controller(
    namespace: str = "ingress-nginx",
    *,
    publish: str | None = "ingress-nginx/ingress-nginx-controller",
    config_map: str | None = "ingress-nginx/ingress-nginx-controller",
    version: str = "v1.11.3",
) -> IngressControllerWorkload:
    """An ingress-nginx controller Deployment as its Helm chart installs it."""
    return IngressControllerWorkload(
        namespace=namespace,
        name="ingress-nginx-controller",
        labels=dict(NGINX_LABELS),
        implementation="ingress-nginx",
        image=f"registry.k8s.io/ingress-nginx/controller:{version}",
        version=version,
        pod_labels=dict(NGINX_LABELS),
        controller_class="k8s.io/ingress-nginx",
        ingress_class_arg="nginx",
        publish_service=publish,
        config_map=config_map,
        ready_replicas=2,
    )


def nginx_service(lb: LoadBalancer | None = None, *, namespace: str = "ingress-nginx", **kw: Any) -> Service:
    """The ingress-nginx controller's LoadBalancer Service (ports 80 and 443, selecting the controller's pods)."""
    return service(namespace, "ingress-nginx-controller", ports=(80, 443), selector=dict(NGINX_LABELS), lb=lb, **kw)


def nginx_config(data: dict[str, str], namespace: str = "ingress-nginx") -> IngressControllerConfig:
    return IngressControllerConfig(namespace=namespace, name="ingress-nginx-controller", data=data)


def controller(
    version: str = "v2.13.0", *, ready: int = 2, sa: str = "aws-load-balancer-controller"
) -> ControllerDeployment:
    return ControllerDeployment(
        namespace="kube-system",
        name="aws-load-balancer-controller",
        image=f"public.ecr.aws/eks/aws-load-balancer-controller:{version}",
        version=version,
        replicas=2,
        ready_replicas=ready,
        available_replicas=ready,
        service_account_name=sa,
        args=[f"--cluster-name={CLUSTER}"],
        cluster_name_arg=CLUSTER,
    )


def controller_sa(role_arn: str | None = None) -> ServiceAccount:
    annotations = {"eks.amazonaws.com/role-arn": role_arn} if role_arn else {}
    return ServiceAccount(namespace="kube-system", name="aws-load-balancer-controller", annotations=annotations)


def oidc_provider(issuer: str = ISSUER) -> OidcProvider:
    host = issuer.removeprefix("https://")
    return OidcProvider(
        arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}", account=ACCOUNT, url=host, client_ids=["sts.amazonaws.com"]
    )


def irsa_trust(
    issuer: str = ISSUER, sa: str = "system:serviceaccount:kube-system:aws-load-balancer-controller"
) -> dict[str, Any]:
    host = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{host}:sub": sa, f"{host}:aud": "sts.amazonaws.com"}},
            }
        ],
    }


def role(name: str, *, actions: list[str], trust: dict[str, Any] | None = None, exists: bool = True) -> IamRole:
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    return IamRole(
        arn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
        name=name,
        account=ACCOUNT,
        exists=exists,
        trust_policy=(trust or irsa_trust()) if exists else None,
        attached_policies=[
            ManagedPolicy(arn=f"arn:aws:iam::{ACCOUNT}:policy/{name}", name=name, default_version_id="v1", document=doc)
        ]
        if exists
        else None,
        inline_policies={} if exists else None,
    )


def eks_cluster(name: str = CLUSTER, *, issuer: str = ISSUER, auto_mode: bool = False) -> EksCluster:
    return EksCluster(
        name=name,
        account=ACCOUNT,
        region=REGION,
        arn=arn("eks", f"cluster/{name}"),
        version="1.31",
        status="ACTIVE",
        oidc_issuer=issuer,
        vpc_id="vpc-1",
        auto_mode=auto_mode,
        pod_identity_associations=[],
    )


# ------------------------------------------------------------------ the snapshot


def coverage(
    *, failed: dict[str, str] | None = None, kube: bool = True, regions: tuple[str, ...] = (REGION,)
) -> list[Coverage]:
    """Complete coverage, except the collectors in ``failed`` (collector -> AWS error code)."""
    failed = failed or {}
    out: list[Coverage] = []
    for collector in AWS_COLLECTORS:
        for region in (None,) if collector in ("iam", "pricing") else regions:
            code = failed.get(collector)
            out.append(
                Coverage(
                    source="aws",
                    collector=collector,
                    account=ACCOUNT,
                    region=region,
                    status=CoverageStatus.ERROR if code else CoverageStatus.OK,
                    error_code=code,
                    message=f"{collector} failed: {code}" if code else None,
                )
            )
    if kube:
        code = failed.get("kubernetes")
        out.append(
            Coverage(
                source="kubernetes",
                collector="kubernetes",
                status=CoverageStatus.ERROR if code else CoverageStatus.OK,
                error_code=code,
            )
        )
    return out


def partial_coverage(collector: str, facet: Facet, region: str | None = REGION, code: str = "AccessDenied") -> Coverage:
    """One collector's coverage with one facet partly read (some of its calls failed with ``code``)."""
    return Coverage(
        source="kubernetes" if collector == "kubernetes" else "aws",
        collector=collector,
        account=None if collector == "kubernetes" else ACCOUNT,
        region=None if collector == "kubernetes" else region,
        status=CoverageStatus.PARTIAL,
        error_code=code,
        facets={facet: FacetCoverage(status=CoverageStatus.PARTIAL, error_code=code, message="denied")},
    )


def inventory(
    *,
    lbs: list[LoadBalancer] | None = None,
    target_groups: list[TargetGroup] | None = None,
    certificates: list[Certificate] | None = None,
    web_acls: list[WebAcl] | None = None,
    security_groups: list[SecurityGroup] | None = None,
    oidc_providers: list[OidcProvider] | None = None,
    iam_roles: list[IamRole] | None = None,
    eks_clusters: list[EksCluster] | None = None,
    cluster_names: list[str] | None = None,
    services: list[Service] | None = None,
    ingresses: list[Ingress] | None = None,
    ingress_classes: list[IngressClass] | None = None,
    controllers: list[ControllerDeployment] | None = None,
    service_accounts: list[ServiceAccount] | None = None,
    endpoint_slices: list[EndpointSlice] | None = None,
    gateway_classes: list[GatewayClass] | None = None,
    gateways: list[Gateway] | None = None,
    routes: list[Route] | None = None,
    reference_grants: list[ReferenceGrant] | None = None,
    gateway_configurations: list[GatewayConfiguration] | None = None,
    gateways_read: bool = True,
    ingress_controllers: list[IngressControllerWorkload] | None = None,
    ingress_controller_configs: list[IngressControllerConfig] | None = None,
    network_policies: list[NetworkPolicy] | None = None,
    pods: list[Pod] | None = None,
    network_daemon_sets: list[NetworkDaemonSet] | None = None,
    nodes: list[Node] | None = None,
    subnets: list[Subnet] | None = None,
    failed: dict[str, str] | None = None,
    kube: bool = True,
    cluster: str | None = CLUSTER,
) -> Inventory:
    """A snapshot; ``kube=False`` means no cluster was audited (AWS only). ``gateways_read=False``: the Gateway
    fields are None, as in a snapshot older than schema 3."""
    kube_inv = None
    if kube:
        kube_inv = KubeInventory(
            context="test",
            services=services or [],
            ingresses=ingresses or [],
            ingress_classes=ingress_classes if ingress_classes is not None else [alb_class()],
            ingress_class_params=[],
            service_accounts=service_accounts or [],
            endpoint_slices=endpoint_slices if endpoint_slices is not None else [],
            controllers=controllers or [],
            target_group_bindings=[],
            crds=[],
            ingress_controllers=ingress_controllers or [],
            ingress_controller_configs=ingress_controller_configs or [],
            network_policies=network_policies or [],
            namespaces=[],
            pods=pods or [],
            network_daemon_sets=network_daemon_sets if network_daemon_sets is not None else [aws_node(enforcing=True)],
            nodes=nodes or [],
        )
        if gateways_read:
            kube_inv.gateway_classes = gateway_classes if gateway_classes is not None else [gateway_class()]
            kube_inv.gateways = gateways or []
            kube_inv.routes = routes or []
            kube_inv.reference_grants = reference_grants or []
            kube_inv.gateway_configurations = gateway_configurations or []
    return Inventory(
        collected_at=NOW,
        target=AuditTarget(name=cluster or "aws", cluster_name=cluster, accounts=[ACCOUNT], regions=[REGION]),
        aws=AwsInventory(
            load_balancers=lbs or [],
            target_groups=target_groups or [],
            certificates=certificates or [],
            web_acls=web_acls or [],
            security_groups=security_groups or [],
            subnets=subnets or [],
            oidc_providers=oidc_providers or [],
            iam_roles=iam_roles or [],
            eks_clusters=eks_clusters if eks_clusters is not None else ([eks_cluster(cluster)] if cluster else []),
            eks_cluster_listings=[
                EksClusterListing(
                    account=ACCOUNT,
                    region=REGION,
                    names=cluster_names if cluster_names is not None else ([cluster] if cluster else []),
                )
            ],
        ),
        kubernetes=kube_inv,
        coverage=coverage(failed=failed, kube=kube),
    )


def nginx_lb(*, scheme: str = "internet-facing", listeners: list[Listener] | None = None) -> LoadBalancer:
    """The NLB the AWS Load Balancer Controller makes for the ingress-nginx controller's Service."""
    return load_balancer(
        "k8s-ingressn-ingressn-0a1b2c3d4e",
        type="network",
        scheme=scheme,
        tags=service_tags("ingress-nginx/ingress-nginx-controller"),
        listeners=listeners if listeners is not None else [listener(80, "TCP"), listener(443, "TCP")],
    )


def nginx_inventory(
    *ingresses: Ingress,
    lb: LoadBalancer | None = None,
    config: dict[str, str] | None = None,
    lbs: list[LoadBalancer] | None = None,
    services: list[Service] | None = None,
    **kw: Any,
) -> Inventory:
    """A cluster whose ingress-nginx controller (chart defaults) serves ``ingresses`` through ``lb`` (default: an
    internet-facing NLB with TCP 80 and 443); ``config`` is its ConfigMap's data (None: no such ConfigMap)."""
    lb = lb if lb is not None else nginx_lb()
    svc = nginx_service(
        lb,
        annotations={
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": lb.scheme,
        },
    )
    return inventory(
        lbs=[lb, *(lbs or [])],
        services=[svc, *(services or [])],
        ingresses=list(ingresses),
        ingress_classes=[alb_class(), nginx_class()],
        ingress_controllers=[nginx_controller()],
        ingress_controller_configs=[nginx_config(config)] if config is not None else [],
        **kw,
    )
