"""Correlation (pure): tie each load balancer to its Kubernetes owner and each exposure to its AWS reality.

Ownership, strongest evidence first (facts §1, §10): the controller's stack tags
(``ingress.k8s.aws/stack``, ``service.k8s.aws/stack``, and for Gateways ``gateway.k8s.aws.alb/stack`` /
``gateway.k8s.aws.nlb/stack`` = ``<namespace>/<gateway>``), the in-tree provider's
``kubernetes.io/service-name``, the legacy ALB-ingress tags, and last the Service/Ingress status
hostname or the Gateway's status address equal to the load balancer's DNS name (compared
case-insensitively). Only Gateways whose GatewayClass names the AWS Load Balancer Controller own load
balancers; a Gateway of another implementation is listed in the graph, never an owner.

Gateway routes lead to backends: a route attaches to the Gateways its ``parentRefs`` name (where the
listener's ``allowedRoutes`` admits its namespace), and its ``backendRefs`` name Services — in another
namespace only where a ReferenceGrant there allows it (https://gateway-api.sigs.k8s.io/api-types/referencegrant/).
A Service reached through a Gateway and through an Ingress or its own load balancer is one backend with
several exposure paths.

One malformed object never stops the audit: each Ingress, Service, IngressClassParams and load balancer
is correlated under a guard, and an object that raises is logged with its traceback, left out of the
graph and recorded as an ``UNREADABLE`` problem naming it (the ``invalid-annotation`` rule reports it
UNKNOWN), so every other object is still audited.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Literal

from auditor.correlate.annotations import (
    LBC_INGRESS_CONTROLLER,
    LBC_SERVICE_CLASS,
    UNREADABLE,
    AnnotationProblem,
    gateway_configuration_problems,
    ingress_class_of,
    ingress_settings,
    nginx_settings,
    params_problems,
    service_settings,
)
from auditor.correlate.gc_pause import gc_paused
from auditor.correlate.graph import (
    LBC_GATEWAY_CONTROLLERS,
    BackendRef,
    ExposureGraph,
    ExposurePath,
    GatewayExposure,
    IngressControllerExposure,
    IngressGroup,
    LbNode,
    Owner,
    Scope,
    ServiceExposure,
)
from auditor.cost.prices import default_price_book
from auditor.findings import KubeRef
from auditor.inventory.facets import Facet
from auditor.inventory.ingress_controllers import (
    INGRESS_NGINX,
    implementation_of_controller,
    implementation_of_labels,
)
from auditor.inventory.models import (
    Certificate,
    GatewayConfiguration,
    Ingress,
    IngressBackend,
    IngressClassParams,
    IngressControllerWorkload,
    Inventory,
    KubeInventory,
    LoadBalancer,
    ReferenceGrant,
    Route,
    SecurityGroup,
    Service,
    TargetGroup,
    WebAcl,
)

log = logging.getLogger(__name__)

TAG_LBC_CLUSTER = "elbv2.k8s.aws/cluster"
TAG_INGRESS_STACK = "ingress.k8s.aws/stack"
TAG_SERVICE_STACK = "service.k8s.aws/stack"
TAG_INGRESS_RESOURCE = "ingress.k8s.aws/resource"
TAG_SERVICE_RESOURCE = "service.k8s.aws/resource"
TAG_SERVICE_NAME = "kubernetes.io/service-name"
TAG_LEGACY_NAMESPACE = "kubernetes.io/namespace"
TAG_LEGACY_INGRESS = "kubernetes.io/ingress-name"
TAG_CLUSTER_PREFIX = "kubernetes.io/cluster/"
TAG_GATEWAY_ALB_STACK = "gateway.k8s.aws.alb/stack"
TAG_GATEWAY_NLB_STACK = "gateway.k8s.aws.nlb/stack"
GATEWAY_API_GROUP = "gateway.networking.k8s.io"


def gateway_stack(tags: dict[str, str]) -> str | None:
    """``<namespace>/<gateway>`` of a load balancer the controller made for a Gateway, else None."""
    return tags.get(TAG_GATEWAY_ALB_STACK) or tags.get(TAG_GATEWAY_NLB_STACK)


def cluster_of(tags: dict[str, str]) -> str | None:
    """The cluster a load balancer is tagged for, if any."""
    if TAG_LBC_CLUSTER in tags:
        return tags[TAG_LBC_CLUSTER]
    for key in tags:
        if key.startswith(TAG_CLUSTER_PREFIX):
            return key[len(TAG_CLUSTER_PREFIX) :]
    return None


def controller_of(tags: dict[str, str]) -> str | None:
    if (
        TAG_LBC_CLUSTER in tags
        or TAG_INGRESS_STACK in tags
        or TAG_SERVICE_STACK in tags
        or TAG_LEGACY_INGRESS in tags
        or gateway_stack(tags) is not None
    ):
        return "lbc"
    if TAG_SERVICE_NAME in tags or any(k.startswith(TAG_CLUSTER_PREFIX) for k in tags):
        return "in-tree"
    return None


def _key(namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}"


class _Correlator:
    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self.kube: KubeInventory | None = inv.kubernetes
        cluster = inv.target.cluster_name
        if cluster is None and self.kube is not None:
            cluster = next((c.cluster_name_arg for c in self.kube.controllers if c.cluster_name_arg), None)
        self.g = ExposureGraph(inventory=inv, cluster_name=cluster)
        self.hostname_owner: dict[str, Owner] = {}
        self.service_exposures: dict[tuple[str, str], ServiceExposure] = {}
        self.group_of_member: dict[tuple[str | None, str], IngressGroup] = {}  # (ns, name) -> its (first) group
        self.owners: dict[int, Owner] = {}  # id(group or exposure) -> its Owner, shared by its load balancers
        self.gateway_index: dict[tuple[str, str], GatewayExposure] = {}
        # what every load balancer is priced with: the bundled book under the prices this audit read
        self.prices = default_price_book().with_price_lists(inv.aws.price_lists)
        self.usage = {u.arn: u for u in inv.aws.lb_usage}
        self.billed = {b.resource_id: b for b in inv.aws.billed_costs}

    def unreadable(self, ref: KubeRef, exc: Exception) -> None:
        """Record an object whose correlation raised: logged with the traceback, reported UNKNOWN by name.

        A bug or an input no check foresaw costs that one object, not every later object and target.
        (Each loop uses a plain try/except: free when nothing raises, on 35,000 objects.)"""
        log.error("could not correlate %s; it is reported as unreadable and left out", ref, exc_info=exc)
        message = f"the auditor could not evaluate it ({type(exc).__name__}: {str(exc)[:200]})"
        self.g.annotation_problems.append((ref, AnnotationProblem(UNREADABLE, "", message)))

    # ---------------------------------------------------------------- Kubernetes side

    def kube_side(self) -> None:
        kube = self.kube
        if kube is None:
            return
        g = self.g
        g.controllers = list(kube.controllers)
        for svc in kube.services:
            g._service_index[(svc.namespace or "", svc.name)] = svc
        for eps in kube.endpoint_slices or []:
            if eps.service_name:
                g._slices_by_service.setdefault((eps.namespace or "", eps.service_name), []).append(eps)

        alb_classes = {ic.name for ic in kube.ingress_classes if ic.controller == LBC_INGRESS_CONTROLLER}
        default_class = next((ic.name for ic in kube.ingress_classes if ic.is_default), None)
        params_by_name = {p.name: p for p in kube.ingress_class_params or []}
        for params in params_by_name.values():
            params_ref = KubeRef(kind="IngressClassParams", name=params.name)
            try:
                g.annotation_problems.extend((params_ref, p) for p in params_problems(params))
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(params_ref, exc)
        class_params: dict[str, IngressClassParams] = {}
        for ic in kube.ingress_classes:
            pref = ic.parameters
            if pref is not None and pref.kind == "IngressClassParams" and pref.name in params_by_name:
                class_params[ic.name] = params_by_name[pref.name]

        for ing in kube.ingresses:
            cls = ingress_class_of(ing) or default_class
            if not (cls in alb_classes or (cls == "alb" and "kubernetes.io/ingress.class" in ing.annotations)):
                g.other_ingresses.append(ing)
                continue
            ref = KubeRef(kind="Ingress", namespace=ing.namespace, name=ing.name)
            try:
                self._add_ingress(ing, ref, class_params.get(cls or ""))
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(ref, exc)
        for group in g.groups.values():
            if len(group.members) > 1:
                group.members.sort(key=lambda i: (group.settings_of(i).group_order, i.namespace or "", i.name))
            owner = self._group_owner(group)
            for ing in group.members:
                self.group_of_member.setdefault((ing.namespace, ing.name), group)
                for st in ing.status_ingress:
                    if st.hostname:
                        self.hostname_owner[st.hostname.lower()] = owner

        lbc_class = next((c.load_balancer_class_arg for c in kube.controllers if c.load_balancer_class_arg), None)
        for svc in kube.services:
            try:
                self._add_service(svc, lbc_class or LBC_SERVICE_CLASS)
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(KubeRef(kind="Service", namespace=svc.namespace, name=svc.name), exc)
        self._add_gateways(kube)
        self._add_ingress_controllers(kube, default_class)

    # ---------------------------------------------------------------- in-cluster ingress controllers

    def _add_ingress_controllers(self, kube: KubeInventory, default_class: str | None) -> None:
        """Tie in-cluster ingress controllers to their LoadBalancer Services and the Ingresses of their classes.

        A controller's Service: the one its publish argument names (ingress-nginx ``--publish-service``), else the
        LoadBalancer Services of its namespace whose selector picks its pods. A LoadBalancer Service whose selector
        carries a known controller's documented pod labels is one too when no Deployment was found for it (a
        DaemonSet, or Deployments not read). An IngressClass of a known implementation with no controller found
        still gets an exposure (its Ingresses have nowhere to go: ingress-not-provisioned says so)."""
        g = self.g
        claimed: set[int] = set()
        configs = {(c.namespace or "", c.name): c for c in kube.ingress_controller_configs or []}
        for wl in kube.ingress_controllers or []:
            icx = IngressControllerExposure(
                implementation=wl.implementation, controller=wl.controller_class, workload=wl
            )
            icx.services = self._controller_services(wl)
            if wl.config_map is None:
                icx.config_known = True  # runs on its defaults
            elif kube.ingress_controller_configs is not None:
                icx.config = configs.get(tuple(wl.config_map.split("/", 1)))  # type: ignore[arg-type]
                # read, or absent (404: the defaults apply); unread ones are not in the list and their facet says so
                icx.config_known = icx.config is not None or not self._configs_unread()
            claimed.update(id(exp) for exp in icx.services)
            g.ingress_controllers.append(icx)
        for exp in g.services:
            impl = implementation_of_labels(exp.service.selector or {}) if id(exp) not in claimed else None
            if impl is not None:
                icx = IngressControllerExposure(implementation=impl.name, controller=impl.controller, services=[exp])
                icx.ref = icx.workload_ref()
                g.ingress_controllers.append(icx)
        for ic in kube.ingress_classes:
            if ic.controller == LBC_INGRESS_CONTROLLER:
                continue
            serving = [x for x in g.ingress_controllers if x.controller == ic.controller]
            if not serving:
                impl = implementation_of_controller(ic.controller)
                if impl is None:
                    continue  # an implementation the auditor does not know: its Ingresses stay unjudged
                # a class whose controller was not found: only its implementation's default class is taken by a
                # Service found by labels (which does not say which class it serves)
                serving = [x for x in g.ingress_controllers if x.workload is None and x.implementation == impl.name][
                    :1
                ] or [IngressControllerExposure(implementation=impl.name, controller=ic.controller)]
                if serving[0] not in g.ingress_controllers:
                    g.ingress_controllers.append(serving[0])
            for x in serving:
                x.classes.append(ic)
                x.ref = x.workload_ref()
        if not g.ingress_controllers:
            return
        by_class = {c.name: x for x in g.ingress_controllers for c in x.classes}
        by_arg = {
            x.workload.ingress_class_arg: x
            for x in g.ingress_controllers
            if x.workload and x.workload.ingress_class_arg
        }
        without_class = next((x for x in g.ingress_controllers if x.workload and x.workload.watch_without_class), None)
        for ing in g.other_ingresses:
            # its class (or the default class), else the controller whose --ingress-class the legacy annotation
            # names, else the controller that also serves Ingresses naming no class
            name = ingress_class_of(ing)
            cls = name or default_class
            served = by_class.get(cls) if cls else None
            if served is None:
                served = by_arg.get(name) if name else without_class
            if served is None:
                continue
            ref = KubeRef(kind="Ingress", namespace=ing.namespace, name=ing.name)
            try:
                settings = nginx_settings(ing) if served.implementation == INGRESS_NGINX.name else None
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(ref, exc)
                continue
            key = _key(ing.namespace, ing.name)
            served.ingresses.append(ing)
            served.member_refs[key] = ref
            if settings is not None:
                served.settings[key] = settings
                g.annotation_problems.extend((ref, p) for p in settings.problems)
        for icx in g.ingress_controllers:
            for exp in icx.services:
                exp.ingress_controller = icx
                owner = self.owners.get(id(exp))
                if owner is not None:
                    owner.ingress_controller = icx

    def _controller_services(self, wl: IngressControllerWorkload) -> list[ServiceExposure]:
        if wl.publish_service:
            ns, _, name = wl.publish_service.partition("/")
            published = self.service_exposures.get((ns, name))
            if published is not None:
                return [published]
        labels = wl.pod_labels
        return [
            exp
            for exp in self.g.services
            if (exp.service.namespace or "") == (wl.namespace or "")
            and exp.service.selector
            and all(labels.get(k) == v for k, v in exp.service.selector.items())
        ]

    def _configs_unread(self) -> bool:
        """Whether some controller ConfigMap could not be read (its facet is not complete): the collector leaves an
        unread one out of the list, as it does one that does not exist, so only the facet tells them apart."""
        cov = self.inv.coverage_of("kubernetes")
        return cov is not None and cov.facet(Facet.KUBE_INGRESS_CONTROLLER_CONFIGS).status.incomplete

    def _add_gateways(self, kube: KubeInventory) -> None:
        g = self.g
        for cfg in kube.gateway_configurations or []:
            cfg_ref = KubeRef(kind=cfg.kind, namespace=cfg.namespace, name=cfg.name)
            try:
                g.annotation_problems.extend((cfg_ref, p) for p in gateway_configuration_problems(cfg))
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(cfg_ref, exc)
        classes = {c.name: c for c in kube.gateway_classes or []}
        lb_configs = {
            (c.namespace or "", c.name): c
            for c in kube.gateway_configurations or []
            if c.kind == "LoadBalancerConfiguration"
        }
        for gw in kube.gateways or []:
            cls = classes.get(gw.gateway_class_name)
            implementation = LBC_GATEWAY_CONTROLLERS.get(cls.controller_name) if cls is not None else None
            exposure = GatewayExposure(gateway=gw, gateway_class=cls, implementation=implementation)
            exposure.class_configuration = _class_lb_configuration(exposure, lb_configs)
            exposure.configuration = _lb_configuration(exposure, lb_configs)
            g.gateways.append(exposure)
            self.gateway_index[(gw.namespace or "", gw.name)] = exposure
            if implementation is not None:
                for address in gw.addresses:
                    self.hostname_owner[address.lower()] = self._gateway_owner(exposure)
        for route in kube.routes or []:
            try:
                self._attach_route(route)
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(KubeRef(kind=route.kind, namespace=route.namespace, name=route.name), exc)

    def _attach_route(self, route: Route) -> None:
        attached: set[int] = set()
        for parent in route.parent_refs:
            if (parent.group or GATEWAY_API_GROUP) != GATEWAY_API_GROUP or (parent.kind or "Gateway") != "Gateway":
                continue
            exposure = self.gateway_index.get((parent.namespace or route.namespace or "", parent.name))
            if exposure is None or id(exposure) in attached or not _admits(exposure, route, parent.section_name):
                continue
            attached.add(id(exposure))
            exposure.routes.append(route)

    def _gateway_owner(self, exposure: GatewayExposure) -> Owner:
        owner = self.owners.get(id(exposure))
        if owner is None:
            gw = exposure.gateway
            owner = self.owners[id(exposure)] = Owner(
                kind="Gateway", namespace=gw.namespace, name=gw.name, gateway=exposure, ref=exposure.ref
            )
        return owner

    def _add_ingress(self, ing: Ingress, ref: KubeRef, params: IngressClassParams | None) -> None:
        g = self.g
        ing_settings = ingress_settings(ing, params)
        g.annotation_problems.extend((ref, p) for p in ing_settings.problems)
        key = ing_settings.group_name or _key(ing.namespace, ing.name)
        group = g.groups.get(key)
        if group is None:
            group = g.groups[key] = IngressGroup(name=key, explicit=ing_settings.group_name is not None)
        group.members.append(ing)
        group.settings[_key(ing.namespace, ing.name)] = ing_settings
        group.member_refs[_key(ing.namespace, ing.name)] = ref

    def _add_service(self, svc: Service, lbc_class: str) -> None:
        g = self.g
        settings = service_settings(svc, lbc_class)
        if settings.controller == "none":
            return
        exposure = ServiceExposure(service=svc, settings=settings)
        g.annotation_problems.extend((exposure.ref, p) for p in settings.problems)
        g.services.append(exposure)
        self.service_exposures[(svc.namespace or "", svc.name)] = exposure
        for st in svc.status_ingress:
            if st.hostname:
                self.hostname_owner[st.hostname.lower()] = self._service_owner(exposure)

    def _group_owner(self, group: IngressGroup) -> Owner:
        owner = self.owners.get(id(group))
        if owner is None:
            ref = group.ref
            kind: Literal["IngressGroup", "Ingress"] = "IngressGroup" if group.explicit else "Ingress"
            owner = self.owners[id(group)] = Owner(kind, ref.namespace, ref.name, group=group, ref=ref)
        return owner

    def _service_owner(self, exposure: ServiceExposure) -> Owner:
        owner = self.owners.get(id(exposure))
        if owner is None:
            svc = exposure.service
            owner = self.owners[id(exposure)] = Owner(
                kind="Service", namespace=svc.namespace, name=svc.name, service=svc, ref=exposure.ref
            )
        return owner

    # ---------------------------------------------------------------- AWS side

    def aws_side(self) -> None:
        inv, g = self.inv, self.g
        certs: dict[str, Certificate] = {c.arn: c for c in inv.aws.certificates}
        sgs: dict[str, SecurityGroup] = {s.id: s for s in inv.aws.security_groups}
        acl_of: dict[str, WebAcl] = {}
        for acl in inv.aws.web_acls:
            for arn in acl.resource_arns or []:
                acl_of[arn] = acl
        tgs_of: dict[str, list[TargetGroup]] = defaultdict(list)
        for tg in inv.aws.target_groups:
            for arn in tg.load_balancer_arns:
                tgs_of[arn].append(tg)
        listings = {(li.account, li.region): set(li.names) for li in inv.aws.eks_cluster_listings}
        if self.inv.target.cluster_name:
            g.eks_cluster = next((c for c in inv.aws.eks_clusters if c.name == g.cluster_name), None)
        elif inv.aws.eks_clusters:
            g.eks_cluster = inv.aws.eks_clusters[0]

        for lb in inv.aws.load_balancers:
            try:
                self._add_node(lb, listings, certs, sgs, acl_of, tgs_of)
            except Exception as exc:  # recorded and logged by unreadable()
                self.unreadable(KubeRef(kind="LoadBalancer", name=lb.arn), exc)
        self._mark_superseded()

    def _add_node(
        self,
        lb: LoadBalancer,
        listings: dict[tuple[str, str], set[str]],
        certs: dict[str, Certificate],
        sgs: dict[str, SecurityGroup],
        acl_of: dict[str, WebAcl],
        tgs_of: dict[str, list[TargetGroup]],
    ) -> None:
        g = self.g
        node = self._node(lb, listings)
        node.target_groups = tgs_of.get(lb.arn, [])
        node.web_acl = acl_of.get(lb.arn)
        node.security_groups = [sgs[i] for i in lb.security_group_ids if i in sgs]
        for listener in lb.listeners or []:
            for arn in listener.certificate_arns or []:
                node.certificates[arn] = certs.get(arn)
        g.load_balancers.append(node)
        g._lb_by_arn[lb.arn] = node
        if node.owner is not None:
            target = node.owner.group.load_balancers if node.owner.group else None
            if target is not None:
                target.append(node)
            elif node.owner.gateway is not None:
                node.owner.gateway.load_balancers.append(node)
            elif node.owner.service is not None:
                exp = self.service_exposures.get((node.owner.namespace or "", node.owner.name))
                if exp is not None:
                    exp.load_balancers.append(node)
                    node.owner.ingress_controller = exp.ingress_controller

    def _node(self, lb: LoadBalancer, listings: dict[tuple[str, str], set[str]]) -> LbNode:
        tags = lb.tags or {}
        cluster_tag = cluster_of(tags)
        controller = controller_of(tags)
        ours = self.g.cluster_name
        scope: Scope
        if cluster_tag is None:
            scope = "unmanaged"
        elif ours is not None:
            scope = "cluster" if cluster_tag == ours else "other-cluster"
        else:
            scope = "cluster" if self.kube is not None else "other-cluster"
        node = LbNode(
            lb=lb,
            scope=scope,  # type: ignore[arg-type]
            controller=controller,  # type: ignore[arg-type]
            cluster_tag=cluster_tag,
            usage=self.usage.get(lb.arn),
            billed=self.billed.get(lb.arn),
            prices=self.prices,
        )

        legacy = (
            _key(tags[TAG_LEGACY_NAMESPACE], tags[TAG_LEGACY_INGRESS])
            if TAG_LEGACY_INGRESS in tags and TAG_LEGACY_NAMESPACE in tags
            else None
        )
        gateway = gateway_stack(tags)
        node.stack = (
            tags.get(TAG_INGRESS_STACK)
            or tags.get(TAG_SERVICE_STACK)
            or gateway
            or tags.get(TAG_SERVICE_NAME)
            or legacy
        )

        if scope != "other-cluster" and self.kube is not None:
            self._find_owner(node, tags, legacy)

        if cluster_tag is not None and node.owner is None:
            names = listings.get((lb.account, lb.region))
            if names is not None and cluster_tag not in names:
                node.orphan = "cluster-gone"
                node.orphan_detail = (
                    f"tagged for cluster {cluster_tag!r}, which does not exist in {lb.account}/{lb.region}"
                )
            elif (
                scope == "cluster"
                and ours is not None
                and self.g.kube_collected
                and (gateway is None or self.g.gateways_read)
            ):
                # a Gateway's load balancer is ownerless only once Gateways were read (not in older snapshots);
                # without the audited cluster's name a load balancer tagged for some cluster may be another's
                node.orphan = "owner-gone"
                node.orphan_detail = self._owner_gone_detail(node, tags)
        return node

    def _find_owner(self, node: LbNode, tags: dict[str, str], legacy: str | None) -> None:
        g = self.g
        stack = node.stack
        if stack is not None:
            if gateway_stack(tags) is not None and TAG_INGRESS_STACK not in tags and TAG_SERVICE_STACK not in tags:
                ns, _, name = stack.partition("/")
                gwx = self.gateway_index.get((ns, name))
                if gwx is not None and gwx.managed:
                    node.owner = self._gateway_owner(gwx)
                    node.owner_evidence = "stack-tag"
            elif TAG_INGRESS_STACK in tags or (legacy is not None and stack == legacy):
                group = g.groups.get(stack)
                if group is not None:
                    node.owner = self._group_owner(group)
                    node.owner_evidence = "stack-tag" if TAG_INGRESS_STACK in tags else "legacy-tag"
            elif "/" in stack:
                ns, _, name = stack.partition("/")
                exposure = self.service_exposures.get((ns, name))
                if exposure is not None:
                    node.owner = self._service_owner(exposure)
                    node.owner_evidence = "stack-tag" if TAG_SERVICE_STACK in tags else "legacy-tag"
        if node.owner is None:
            owner = self.hostname_owner.get(node.lb.dns_name.lower())
            if owner is not None:
                node.owner = owner
                node.owner_evidence = "hostname"
                if node.scope == "unmanaged":
                    node.scope = "cluster"

    def _owner_gone_detail(self, node: LbNode, tags: dict[str, str]) -> str:
        stack = node.stack or "?"
        if gateway_stack(tags) is not None and TAG_INGRESS_STACK not in tags and TAG_SERVICE_STACK not in tags:
            ns, _, name = stack.partition("/")
            exposure = self.gateway_index.get((ns, name))
            if exposure is not None:
                cls = exposure.gateway.gateway_class_name
                return f"Gateway {stack} is no longer served by the AWS Load Balancer Controller (class {cls!r})"
            return f"Gateway {stack} no longer exists"
        if TAG_INGRESS_STACK in tags and "/" in stack:
            ns, _, name = stack.partition("/")
            group = self.group_of_member.get((ns, name))
            if group is not None:
                node.orphan = "superseded"
                return f"Ingress {stack} moved to IngressGroup {group.name!r}; this ALB was left behind"
            return f"Ingress {stack} no longer exists"
        if TAG_INGRESS_STACK in tags:
            return f"IngressGroup {stack!r} has no Ingresses left"
        return f"Service {stack} no longer exists (or is no longer type LoadBalancer)"

    def _mark_superseded(self) -> None:
        """An owner with several load balancers: the one its status points at is current, the rest leaked."""
        owners: list[tuple[list[LbNode], list[str]]] = []
        for group in self.g.groups.values():
            if len(group.load_balancers) >= 2:
                hosts = [s.hostname.lower() for m in group.members for s in m.status_ingress if s.hostname]
                owners.append((group.load_balancers, hosts))
        for exp in self.g.services:
            if len(exp.load_balancers) >= 2:
                hosts = [s.hostname.lower() for s in exp.service.status_ingress if s.hostname]
                owners.append((exp.load_balancers, hosts))
        for gwx in self.g.gateways:
            if len(gwx.load_balancers) >= 2:
                owners.append((gwx.load_balancers, [a.lower() for a in gwx.gateway.addresses]))
        for nodes, hosts in owners:
            if not hosts:
                continue
            current = [n for n in nodes if n.lb.dns_name.lower() in hosts]
            if not current:
                continue
            for n in nodes:
                if n not in current:
                    n.orphan = "superseded"
                    n.orphan_detail = (
                        f"{n.owner.ref if n.owner else 'its owner'} now uses {current[0].lb.name}; "
                        f"this {n.lb.scheme} load balancer is left over (scheme change or regrouping)"
                    )
            nodes[:] = current

    # ---------------------------------------------------------------- backends

    def backends(self) -> None:
        g = self.g
        for group in g.groups.values():
            lb = next((n for n in group.load_balancers if not n.orphan), None)
            for ing in group.members:
                for backend in _ingress_backends(ing):
                    ref = self._backend_ref(ing.namespace or "", backend)
                    if ref is None:
                        continue
                    g.backends.setdefault(ref, []).append(ExposurePath(via=group.ref, load_balancer=lb))
                    if lb is not None:
                        lb.backends.add(ref)
        for exp in g.services:
            lb = next((n for n in exp.load_balancers if not n.orphan), None)
            for ref in exp.backends:
                g.backends.setdefault(ref, []).append(ExposurePath(via=exp.ref, load_balancer=lb))
                if lb is not None:
                    lb.backends.add(ref)
        for icx in g.ingress_controllers:
            nodes: list[LbNode | None] = [*icx.load_balancers()] or [None]
            for ing in icx.ingresses:
                via = icx.ref_of(ing)
                for backend in _ingress_backends(ing):
                    ref = self._backend_ref(ing.namespace or "", backend)
                    if ref is None:
                        continue
                    paths = g.backends.setdefault(ref, [])
                    for lb in nodes:
                        paths.append(ExposurePath(via=via, load_balancer=lb))
                        if lb is not None:
                            lb.backends.add(ref)
        grants = _grants_by_namespace(self.kube.reference_grants or []) if self.kube is not None else {}
        for gwx in g.gateways:
            if not gwx.managed:
                continue  # another implementation: listed, not part of what this controller exposes
            lb = next((n for n in gwx.load_balancers if not n.orphan), None)
            for route in gwx.routes:
                for ref in self._route_backends(route, grants, gwx):
                    g.backends.setdefault(ref, []).append(ExposurePath(via=gwx.ref, load_balancer=lb))
                    if lb is not None:
                        lb.backends.add(ref)
        for paths in g.backends.values():
            if len(paths) < 2:
                continue
            # one path per (via, load balancer): an Ingress routing two paths to one port is one exposure
            seen: set[tuple[str, str]] = set()
            unique = []
            for p in paths:
                key = (str(p.via), p.load_balancer.arn if p.load_balancer else "")
                if key not in seen:
                    seen.add(key)
                    unique.append(p)
            paths[:] = unique

    def _route_backends(
        self, route: Route, grants: dict[str, list[ReferenceGrant]], gwx: GatewayExposure
    ) -> list[BackendRef]:
        """The Service ports a route sends traffic to; a reference into another namespace counts only where a
        ReferenceGrant of that namespace allows it (otherwise it is refused, as the implementation would)."""
        found: list[BackendRef] = []
        namespace = route.namespace or ""
        for rule in route.rules:
            for ref in rule.backend_refs:
                if (ref.group or "") != "" or (ref.kind or "Service") != "Service":
                    continue
                target_ns = ref.namespace or namespace
                if target_ns != namespace and not _granted(grants.get(target_ns, []), route, ref.name):
                    refusal = (
                        f"{route.kind} {namespace}/{route.name} -> Service {target_ns}/{ref.name}: "
                        f"no ReferenceGrant in {target_ns} allows it"
                    )
                    if refusal not in gwx.refused:
                        gwx.refused.append(refusal)
                    continue
                found.append(BackendRef(target_ns, ref.name, str(ref.port) if ref.port is not None else ""))
        return found

    def _backend_ref(self, namespace: str, backend: IngressBackend) -> BackendRef | None:
        if not backend.service_name:
            return None
        port: str | None = str(backend.service_port_number) if backend.service_port_number is not None else None
        if port is None and backend.service_port_name:
            svc = self.g.service(namespace, backend.service_name)
            match = next((p for p in svc.ports if p.name == backend.service_port_name), None) if svc else None
            port = str(match.port) if match else backend.service_port_name
        return BackendRef(namespace, backend.service_name, port or "")


def _class_lb_configuration(
    exposure: GatewayExposure, configs: dict[tuple[str, str], GatewayConfiguration]
) -> GatewayConfiguration | None:
    """The LoadBalancerConfiguration its GatewayClass's ``parametersRef`` names, if it exists."""
    cls = exposure.gateway_class
    if cls is None or cls.parameters is None or cls.parameters.kind != "LoadBalancerConfiguration":
        return None
    return configs.get((cls.parameters.namespace or "", cls.parameters.name))


def _lb_configuration(
    exposure: GatewayExposure, configs: dict[tuple[str, str], GatewayConfiguration]
) -> GatewayConfiguration | None:
    """The LoadBalancerConfiguration in force: the Gateway's ``infrastructure.parametersRef`` (same namespace),
    else its class's ``parametersRef`` (the controller merges the two; the class's wins by default)."""
    gw = exposure.gateway
    class_cfg = exposure.class_configuration
    gateway_cfg = (
        configs.get((gw.namespace or "", gw.parameters.name))
        if gw.parameters is not None and gw.parameters.kind == "LoadBalancerConfiguration"
        else None
    )
    if class_cfg is None or gateway_cfg is None:
        return gateway_cfg if gateway_cfg is not None else class_cfg
    prefer_gateway = class_cfg.spec.get("mergingMode") == "prefer-gateway"
    merged = {**class_cfg.spec, **gateway_cfg.spec} if prefer_gateway else {**gateway_cfg.spec, **class_cfg.spec}
    return gateway_cfg.model_copy(update={"spec": merged})


def _admits(exposure: GatewayExposure, route: Route, section: str | None) -> bool:
    """Whether a listener of the Gateway (the one ``sectionName`` names, else any) admits routes of the route's
    namespace: ``Same`` (the default) only its own, ``All`` any; ``Selector`` is taken to admit (namespace labels
    are not read)."""
    listeners = [li for li in exposure.gateway.listeners if section is None or li.name == section]
    same = (route.namespace or "") == (exposure.gateway.namespace or "")
    return any(same or li.allowed_namespaces in ("All", "Selector") for li in listeners)


def _grants_by_namespace(grants: list[ReferenceGrant]) -> dict[str, list[ReferenceGrant]]:
    found: dict[str, list[ReferenceGrant]] = {}
    for grant in grants:
        found.setdefault(grant.namespace or "", []).append(grant)
    return found


def _granted(grants: list[ReferenceGrant], route: Route, service: str) -> bool:
    for grant in grants:
        if not any(
            f.group == GATEWAY_API_GROUP and f.kind == route.kind and f.namespace == route.namespace
            for f in grant.from_
        ):
            continue
        if any(t.group == "" and t.kind == "Service" and t.name in (None, service) for t in grant.to):
            return True
    return False


def _ingress_backends(ing: Ingress) -> list[IngressBackend]:
    found = [p.backend for r in ing.rules for p in r.paths]
    if ing.default_backend is not None:
        found.append(ing.default_backend)
    return found


def target_group_backend(graph: ExposureGraph, tg: TargetGroup) -> BackendRef | None:
    """The Service port behind a target group: TargetGroupBinding first, then the controller's tags."""
    tgb = graph.target_group_binding(tg.arn)
    if tgb is not None:
        return BackendRef(tgb.namespace or "", tgb.service_name, str(tgb.service_port or ""))
    tags = tg.tags or {}
    if TAG_SERVICE_RESOURCE in tags:
        ns_svc, _, port = tags[TAG_SERVICE_RESOURCE].rpartition(":")
        ns, _, svc = ns_svc.partition("/")
        return BackendRef(ns, svc, port)
    if TAG_INGRESS_RESOURCE in tags:
        # "<ns>/<ingress>-<service>:<port>": find which Ingress of the stack the prefix names.
        ns_rest, _, port = tags[TAG_INGRESS_RESOURCE].rpartition(":")
        ns, _, rest = ns_rest.partition("/")
        name = _resource_ingress(graph, ns, rest)
        if name is not None:
            return BackendRef(ns, rest[len(name) + 1 :], port)
    return None


def _resource_ingress(graph: ExposureGraph, namespace: str, rest: str) -> str | None:
    """The ALB Ingress of ``namespace`` whose name followed by "-" starts ``rest``; the first in group order
    when several do (``web`` and ``web-api`` both prefix ``web-api-svc``). Only the text before each "-" can be
    such a name, so those prefixes are looked up instead of walking every Ingress."""
    best: tuple[int, str] | None = None
    dash = rest.find("-")
    while dash != -1:
        name = rest[:dash]
        rank = graph.alb_ingress_rank(namespace, name)
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, name)
        dash = rest.find("-", dash + 1)
    return best[1] if best is not None else None


def correlate(inv: Inventory) -> ExposureGraph:
    """Build the ExposureGraph of one inventory."""
    with gc_paused():  # it allocates a lot and keeps all of it: no full collections rescanning the inventory
        c = _Correlator(inv)
        c.kube_side()
        c.aws_side()
        c.backends()
        return c.g


__all__ = ["ExposureGraph", "Service", "correlate", "target_group_backend"]
