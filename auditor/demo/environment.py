"""The built-in demo: a moto AWS account and three emulated EKS clusters, seeded with a realistic mess.

``DemoEnvironment`` starts an embedded moto server and one Kubernetes API emulator per cluster on
free 127.0.0.1 ports, points the process's AWS settings at moto (restored on exit) and seeds both
sides over HTTP exactly as a real account and cluster get filled: Kubernetes objects through the
official client and a kubeconfig, AWS resources through boto3, created the way the AWS Load
Balancer Controller (LBC) and the legacy in-tree provider create them (names, tags, listeners,
target groups, security groups; see ``seed_aws``). Status fields (load balancer hostnames,
Deployment readiness) are written through the ``status`` subresource: what the controllers would
have written. The audit then reads everything back over HTTP, as it would a real cluster.

Why three clusters (targets): the controller and identity rules judge the one controller Deployment
of a cluster, and their failure situations exclude each other (a controller without a role has no
policy to check; a role whose trust is broken cannot run a working controller). So:

- ``demo`` (the main target): LBC v2.14.1 runs with its Gateway API feature gates on, its IRSA role is fine but
  carries the v2.7.0 policy.
- ``staging``: the controller's role is annotated but the cluster's OIDC provider was never
  registered in IAM, so the controller pods crash (0 ready replicas) and a Service waits for its NLB.
- ``sandbox``: the controller runs on the node's instance role (no IRSA, no Pod Identity).

What fails where (cluster ``demo`` unless noted; every other object passes its checks):

==============================  ============================================================================
rule                            FAIL on
==============================  ============================================================================
http-without-redirect           Ingress blog/blog (HTTP and HTTPS listeners, no ssl-redirect);
                                Gateway edge/public (HTTPRoute edge/promo on its HTTP listener, no redirect)
public-alb-without-waf          Ingress blog/blog (internet-facing, no wafv2-acl-arn)
certificate-expiring            Service payments/api (imported certificate, 9 days left)
certificate-host-mismatch       Ingress blog/media (host media.example.com, certificate for cdn.example.com)
weak-certificate-key            Ingress blog/media (its certificate for cdn.example.com has an RSA 1024-bit key)
weak-tls-policy                 Ingress blog/media (no ssl-policy: the controller's ELBSecurityPolicy-2016-08)
public-sensitive-port           Service data/postgres (internet-facing NLB on 5432)
implicit-public-scheme          Service data/postgres (in-tree NLB, public because nothing said internal)
duplicate-load-balancer         Service shop/cart (its own NLB and the shop ALB both reach cart:80)
http-service-on-own-lb          Service shop/cart (HTTP on a dedicated NLB beside the shared ALB)
ungrouped-ingresses             blog: Ingresses blog/blog and blog/media, one ALB each
orphaned-load-balancer          NLB of the deleted Service data/redis (owner null, still tagged for demo);
                                ALB of the deleted Gateway edge/preview (tagged gateway.k8s.aws.alb/stack)
classic-load-balancer           Service legacy/smtp-relay (in-tree Classic LB)
idle-load-balancer              NLB of the deleted Service data/redis (no CloudWatch traffic; all others have some)
invalid-annotation              Ingress legacy/admin (listen-ports with the port as a string)
ingress-not-provisioned         Ingress legacy/admin (the controller rejects it: no load balancer)
lb-without-healthy-targets      Service data/search (pods not ready; its target group has no targets)
irsa-policy-missing-actions     ServiceAccount kube-system/aws-load-balancer-controller (v2.7.0 policy)
controller-missing              staging: Deployment kube-system/aws-load-balancer-controller (0 ready)
irsa-role-invalid               staging: its role trusts an OIDC provider not registered in IAM
irsa-not-configured             sandbox: controller service account without role or association
network-policy-blocks-load-     Ingress orders/checkout (internal ALB, ip targets; the namespace's default-deny
balancer                        and a namespaceSelector allow drop the ALB's traffic from its subnets)
public-backend-without-         Services blog/blog and blog/media (internet-facing ALBs, namespace blog has no
network-policy                  ingress NetworkPolicy)
network-policy-not-enforced     sandbox: a default-deny policy, and the VPC CNI's network policy agent is off
http-desync-unmitigated         (opt-in) Ingress blog/blog, blog/media and Gateway edge/public (their ALBs keep
                                the default drop_invalid_header_fields.enabled=false); the shop ALB drops them
==============================  ============================================================================

NetworkPolicy (cluster ``demo``, enforced by the VPC CNI's network policy agent): namespaces shop, payments, data and
edge have a default-deny ingress policy plus an allow for the VPC CIDR (what the guide recommends); orders has
the deny and an allow for pods only; blog has none. The pods behind every workload exist (labels, IPs, ports).

Healthy reference: IngressGroup ``shop`` (shop/storefront, shop/cart, payments/webhooks) on one
internet-facing ALB with redirect, WAF, TLS 1.3 policy and a valid certificate.

Gateway API (namespace ``edge`` and ``data``): Gateway ``edge/public`` (class ``alb``) on an internet-facing ALB
configured by LoadBalancerConfiguration ``edge/public`` (web ACL, certificate, TLS 1.3 policy) with HTTPRoutes
``edge/catalog`` (HTTPS only, its HTTP twin ``edge/catalog-redirect`` redirects) and ``edge/promo`` (on both
listeners: served over plain HTTP); Gateway ``data/queue`` (class ``nlb``, no configuration: internal) with a
TCPRoute to RabbitMQ; and the leaked ALB of a deleted Gateway ``edge/preview``.

Cost: every load balancer but the leaked NLB has 14 days of CloudWatch traffic (the ``shop`` ALB's split
unequally across its target groups, so its cost is shared by requests), and every internet-facing one has a
network interface with a public IPv4 address per subnet: the demo's costs are measured, not assumed.

In-cluster ingress controller (namespace ``ingress-nginx``): ingress-nginx as its chart installs it (IngressClass
``nginx``, ConfigMap without redirect keys) behind an internet-facing NLB the AWS Load Balancer Controller made for
its Service; it serves Ingresses ``wiki/wiki`` (plain HTTP) and ``wiki/docs`` (TLS, so redirected). Its Service is an
ingress controller's, not an HTTP Service to move behind the ALB. Fails there: ``unmaintained-ingress-controller`` on
Deployment ``ingress-nginx/ingress-nginx-controller`` (the retired ingress-nginx behind an internet-facing NLB) and
``http-without-redirect`` on Ingress ``wiki/wiki`` (class nginx: no spec.tls, no force-ssl-redirect).

moto gaps met on the way: EKS issuers are random (the OIDC provider is registered from what
DescribeCluster returns), NLB ARNs read ``app/`` (the product reads the Type field), registered
targets are always healthy (``data/search`` has none registered), ``ListResourcesForWebACL`` is
filled in by ``motoserver``, and ELB's metrics are published by the seeder — traffic, and each target group's
current HealthyHostCount (what moto's DescribeTargetHealth says; none for a group without targets), so an audit
in the first five minutes reads target health from CloudWatch and describes only the other groups.

``evolve()`` makes the change between two runs the service demo diffs: blog/blog gets its redirect
(one finding fixed) and a new internet-facing MySQL Service appears in ``data`` (one introduced).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from auditor.config import TargetConfig
from auditor.controller.versions import policy_document
from auditor.demo import seed_kube as k
from auditor.demo.kubeapi import KubeApiServer
from auditor.demo.motoserver import MotoServer, free_port
from auditor.demo.seed_aws import ALB, SVC, AwsSeeder, Network, Provisioned, ServiceFacts
from auditor.progress import ProgressEvent, ProgressFn, no_progress

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

CONTROLLER_VERSION = "v2.14.1"
INGRESS_NGINX_VERSION = "v1.11.3"  # a release of the retired community controller (facts §14)
# Gateway API support is behind feature gates before v3.2.0 (facts §10): the demo cluster turns it on.
GATEWAY_FEATURE_GATES = "ALBGatewayAPI=true,NLBGatewayAPI=true"
OUTDATED_POLICY_VERSION = "v2.7.0"  # the policy the demo role was created with, two upgrades ago
MODERN_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
TOKEN = "demo-token"

_FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "demo",
    "AWS_SECRET_ACCESS_KEY": "demo",
    "AWS_MAX_ATTEMPTS": "2",
}
_ACTIVE = False  # moto's backends are process-wide: one demo environment at a time
_ACTIVE_LOCK = threading.Lock()
# Variables that would take the clients somewhere else (or fail them): unset while the demo runs.
_CLEARED_AWS = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_REGION")


@dataclass
class _Cluster:
    """One emulated cluster: its API server, its client and the AWS network it lives in."""

    name: str
    kube: KubeApiServer
    cidr_prefix: str
    writer: k.KubeWriter | None = None
    network: Network | None = None
    services: dict[tuple[str, str], ServiceFacts] = field(default_factory=dict)
    lbs: dict[str, Provisioned] = field(default_factory=dict)  # "Ingress ns/name" | "Service ns/name" -> LB


class DemoEnvironment:
    """Context manager: moto + Kubernetes emulators started, the process pointed at them, everything seeded."""

    def __init__(
        self, *, progress: ProgressFn = no_progress, cluster_name: str = "demo", region: str = "eu-west-1"
    ) -> None:
        self.progress = progress
        self.cluster_name = cluster_name
        self.region = region
        self._moto_port = free_port()
        self._moto: MotoServer | None = None
        self._clusters = {
            name: _Cluster(name, KubeApiServer(token=TOKEN, auto_ready=True), prefix)
            for name, prefix in ((cluster_name, "10.0"), ("staging", "10.1"), ("sandbox", "10.2"))
        }
        self.kube: KubeApiServer = self._clusters[cluster_name].kube
        self._dir: Path | None = None
        self._saved_env: dict[str, str | None] = {}
        self._aws: AwsSeeder | None = None
        self.kubeconfig: Path | None = None
        self.config_file: Path | None = None
        self.targets: list[TargetConfig] = []
        self.evolved = False
        self._idle: set[str] = set()  # ARNs of the load balancers that get no traffic metrics
        self._entered = False

    @property
    def moto(self) -> MotoServer:
        """The moto server (exists while the environment is entered)."""
        if self._moto is None:
            raise RuntimeError("the demo environment is not running")
        return self._moto

    @property
    def target(self) -> TargetConfig:
        """The main target (cluster ``demo``)."""
        return self.targets[0]

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> DemoEnvironment:
        global _ACTIVE
        with _ACTIVE_LOCK:
            if _ACTIVE:
                raise RuntimeError("a demo environment is already running in this process (moto state is per process)")
            _ACTIVE = True
        self._entered = True
        started = time.monotonic()
        self._dir = Path(tempfile.mkdtemp(prefix="auditor-demo-"))
        try:
            # moto reads AWS settings when it is imported: point them at moto first
            self._point_env_at_moto()
            self._moto = MotoServer(port=self._moto_port).start()
            self.moto.reset()  # moto's backends are per process: start from an empty account
            for cluster in self._clusters.values():
                cluster.kube.start()
            self._write_kubeconfig()
            self._report(f"moto on {self.moto.url}, Kubernetes API emulators for {', '.join(self._clusters)}")
            self._aws = AwsSeeder(self.region)
            self._seed_main()
            self._seed_staging()
            self._seed_sandbox()
            self._traffic()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._report(f"seeded in {time.monotonic() - started:.1f}s (account {self._aws.account}, {self.region})")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for cluster in self._clusters.values():
            if cluster.writer is not None:
                cluster.writer.close()
                cluster.writer = None
            cluster.kube.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._restore_env()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        global _ACTIVE
        if self._entered:
            with _ACTIVE_LOCK:
                _ACTIVE = False
            self._entered = False

    def _report(self, message: str) -> None:
        self.progress(ProgressEvent(stage="demo", message=message, status="ok"))

    def _point_env_at_moto(self) -> None:
        assert self._dir is not None
        wanted: dict[str, str | None] = {
            **_FAKE_AWS,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{self._moto_port}",
            "AWS_DEFAULT_REGION": self.region,
            # A user's ~/.aws files could name a profile, an endpoint or ignore_configured_endpoint_urls.
            "AWS_CONFIG_FILE": str(self._dir / "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self._dir / "aws-credentials"),
            # moto has no bucket shared with a controller to leave room in: the client-side rate limit is off
            "AUDITOR_AWS__CALLS_PER_SECOND": "0",
        }
        wanted.update(dict.fromkeys(_CLEARED_AWS))
        wanted.update(dict.fromkeys(key for key in os.environ if key.startswith("AWS_ENDPOINT_URL_")))
        for key, value in wanted.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    def _write_kubeconfig(self) -> None:
        """One kubeconfig with a context per cluster (``kubectl --context staging get svc -A`` works)."""
        assert self._dir is not None
        merged: JsonObj = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [], "contexts": []}
        for cluster in self._clusters.values():
            own = cluster.kube.write_kubeconfig(self._dir / f"{cluster.name}.kubeconfig", context=cluster.name)
            doc = yaml.safe_load(own.read_text(encoding="utf-8"))
            for key in ("clusters", "users", "contexts"):
                merged[key].extend(doc[key])
        merged["current-context"] = self.cluster_name
        self.kubeconfig = self._dir / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
        self.kubeconfig.chmod(0o600)
        for cluster in self._clusters.values():
            cluster.writer = k.KubeWriter(self.kubeconfig, cluster.name)
        self.targets = [
            TargetConfig(name=name, cluster_name=name, kubeconfig=self.kubeconfig, context=name, regions=[self.region])
            for name in self._clusters
        ]
        self.config_file = self._dir / "targets.yaml"
        self.config_file.write_text(
            yaml.safe_dump({"targets": [t.model_dump(mode="json", exclude_defaults=True) for t in self.targets]}),
            encoding="utf-8",
        )

    # ------------------------------------------------------------------ helpers

    def _app(
        self,
        cluster: _Cluster,
        ns: str,
        name: str,
        ports: list[JsonObj],
        *,
        ready: bool = True,
        replicas: int = 2,
        image: str | None = None,
        **service: Any,
    ) -> ServiceFacts:
        """A workload: Deployment, Service and the EndpointSlice of its pods (ready or crash-looping)."""
        writer = cluster.writer
        assert writer is not None
        target_port = int(ports[0].get("targetPort") or ports[0]["port"])
        writer.create(
            k.deployment(
                ns, name, image or f"registry.example.com/{ns}/{name}:1.4.2", replicas=replicas, port=target_port
            )
        )
        if not ready:
            # what the deployment controller reports while the pods crash-loop
            writer.patch(
                "Deployment",
                ns,
                name,
                {
                    "status": {
                        "replicas": replicas,
                        "readyReplicas": 0,
                        "availableReplicas": 0,
                        "unavailableReplicas": replicas,
                    }
                },
                status=True,
            )
        created = writer.create(k.service(ns, name, ports, **service))
        base = 8 + len(cluster.services)
        ips = [f"{cluster.cidr_prefix}.{base}.{10 + i}" for i in range(replicas)]
        writer.create(k.endpoint_slice(ns, name, ports, ready=ips if ready else [], not_ready=[] if ready else ips))
        labels = service.get("selector") or {"app.kubernetes.io/name": name}
        for ip in ips:  # the pods the slice names (what NetworkPolicy selects), with the IPs the kubelet reports
            pod = f"{name}-{ip.replace('.', '-')}"
            image_name = image or f"registry.example.com/{ns}/{name}:1.4.2"
            writer.create(k.pod(ns, pod, labels, image_name, target_port, str(ports[0].get("name") or "http")))
            status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
            writer.patch("Pod", ns, pod, {"status": status}, status=True)
        facts = ServiceFacts(manifest=created, ready_ips=ips if ready else [])
        cluster.services[(ns, name)] = facts
        return facts

    def _expose_ingresses(self, cluster: _Cluster, members: list[JsonObj]) -> Provisioned:
        """Play LBC for one IngressGroup: the ALB, its TargetGroupBindings, every member's status."""
        assert self._aws is not None and cluster.writer is not None and cluster.network is not None
        made = self._aws.reconcile_ingress_group(cluster.name, members, cluster.services, cluster.network)
        self._bind(cluster, made)
        for member in members:
            meta = member["metadata"]
            cluster.writer.set_load_balancer_hostname("Ingress", meta["namespace"], meta["name"], made.dns_name)
            cluster.lbs[f"Ingress {meta['namespace']}/{meta['name']}"] = made
        return made

    def _expose_service(self, cluster: _Cluster, facts: ServiceFacts) -> Provisioned:
        """Play the controller that takes a LoadBalancer Service: the load balancer, bindings, status."""
        assert self._aws is not None and cluster.writer is not None and cluster.network is not None
        made = self._aws.reconcile_service(cluster.name, facts, cluster.network)
        self._bind(cluster, made)
        cluster.writer.set_load_balancer_hostname("Service", facts.namespace, facts.name, made.dns_name)
        cluster.lbs[f"Service {facts.namespace}/{facts.name}"] = made
        return made

    @staticmethod
    def _bind(cluster: _Cluster, made: Provisioned) -> None:
        """LBC keeps a TargetGroupBinding per target group it manages (in-tree target groups have none)."""
        assert cluster.writer is not None
        for tg in made.target_groups:
            if made.name.startswith("k8s-"):
                cluster.writer.create(
                    k.target_group_binding(tg.namespace, tg.name, tg.arn, tg.service, tg.port, tg.target_type)
                )

    def _install_controller(
        self,
        cluster: _Cluster,
        *,
        role_arn: str | None,
        ready: bool = True,
        replicas: int = 2,
        feature_gates: str | None = None,
    ) -> None:
        """What the eks-charts chart installs: CRDs, IngressClass, service account, Deployment."""
        writer = cluster.writer
        assert writer is not None
        writer.create_all(k.lbc_crds())
        writer.create(k.alb_ingress_class())
        writer.create(k.service_account("kube-system", "aws-load-balancer-controller", role_arn))
        writer.create(k.controller(cluster.name, CONTROLLER_VERSION, replicas=replicas, feature_gates=feature_gates))
        if not ready:
            writer.patch(
                "Deployment",
                "kube-system",
                "aws-load-balancer-controller",
                {
                    "status": {
                        "observedGeneration": 1,
                        "replicas": replicas,
                        "updatedReplicas": replicas,
                        "readyReplicas": 0,
                        "availableReplicas": 0,
                        "unavailableReplicas": replicas,
                        "conditions": [
                            {
                                "type": "Available",
                                "status": "False",
                                "reason": "MinimumReplicasUnavailable",
                                "message": "Deployment does not have minimum availability.",
                            }
                        ],
                    }
                },
                status=True,
            )

    # ------------------------------------------------------------------ cluster "demo"

    def _seed_main(self) -> None:
        aws = self._aws
        assert aws is not None
        c = self._clusters[self.cluster_name]
        writer = c.writer
        assert writer is not None
        c.network = aws.network(c.name, c.cidr_prefix, nodes=3)
        issuer = aws.eks_cluster(c.name, c.network)
        aws.oidc_provider(issuer)
        role = aws.irsa_role(
            f"{c.name}-aws-load-balancer-controller",
            issuer,
            policy_document(OUTDATED_POLICY_VERSION),
            policy_name=f"AWSLoadBalancerControllerIAMPolicy-{c.name}",
        )
        self._install_controller(c, role_arn=role, feature_gates=GATEWAY_FEATURE_GATES)
        writer.create_all(k.gateway_api_crds())  # the Gateway API CRDs, installed by the cluster's admins
        for ns in ("shop", "blog", "payments", "data", "legacy", "edge", "orders"):
            writer.create(k.namespace(ns, team=ns))
        # NetworkPolicy is enforced in this cluster: the vpc-cni add-on asks for it and its agent runs so
        aws.vpc_cni_addon(c.name, network_policy=True)
        writer.create(k.aws_node(network_policy_agent=True))
        self._seed_network_policies(c)

        shop_cert = aws.certificate("shop.example.com", "*.shop.example.com", days_valid=240)
        blog_cert = aws.certificate("blog.example.com", "www.blog.example.com", days_valid=200)
        cdn_cert = aws.certificate("cdn.example.com", days_valid=300, rsa_bits=1024)  # weak-certificate-key
        api_cert = aws.certificate("api.payments.example.com", days_valid=9)
        edge_cert = aws.certificate("catalog.example.com", "promo.example.com", days_valid=320)
        shop_waf = aws.web_acl("shop-waf")
        media_waf = aws.web_acl("media-waf")
        edge_waf = aws.web_acl("edge-waf")
        self._report("cluster demo: network, EKS, OIDC provider, controller role, certificates, web ACLs")

        # --- shop: the healthy reference, one IngressGroup across two namespaces
        http = [{"name": "http", "port": 80, "targetPort": 8080}]
        self._app(c, "shop", "storefront", http)
        cart = self._app(
            c,
            "shop",
            "cart",
            [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31080}],
            service_type="LoadBalancer",
            annotations={
                SVC + "aws-load-balancer-type": "external",
                SVC + "aws-load-balancer-nlb-target-type": "ip",
                SVC + "aws-load-balancer-scheme": "internal",
            },
        )
        self._app(c, "payments", "webhooks", http)
        group = {
            ALB + "group.name": "shop",
            ALB + "scheme": "internet-facing",
            ALB + "target-type": "ip",
            ALB + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
            ALB + "ssl-redirect": "443",
            ALB + "certificate-arn": shop_cert,
            ALB + "ssl-policy": MODERN_TLS_POLICY,
            ALB + "wafv2-acl-arn": shop_waf,
            ALB + "healthcheck-path": "/healthz",
            ALB + "load-balancer-attributes": "routing.http.drop_invalid_header_fields.enabled=true",
        }
        shop_members = [
            writer.create(
                k.ingress(
                    "shop",
                    "storefront",
                    [("shop.example.com", [k.http_path("/", "storefront", 80)])],
                    annotations={**group, ALB + "group.order": "20"},
                    tls_hosts=["shop.example.com"],
                )
            ),
            writer.create(
                k.ingress(
                    "shop",
                    "cart",
                    [("shop.example.com", [k.http_path("/cart", "cart", 80)])],
                    annotations={**group, ALB + "group.order": "10"},
                    tls_hosts=["shop.example.com"],
                )
            ),
            writer.create(
                k.ingress(
                    "payments",
                    "webhooks",
                    [("hooks.shop.example.com", [k.http_path("/", "webhooks", 80)])],
                    annotations={**group, ALB + "group.order": "30"},
                    tls_hosts=["hooks.shop.example.com"],
                )
            ),
        ]
        shop_members.sort(key=lambda m: int(m["metadata"]["annotations"][ALB + "group.order"]))
        self._expose_ingresses(c, shop_members)
        # cart was a LoadBalancer Service for the mobile app before the Ingress existed: its own NLB stayed
        self._expose_service(c, cart)

        # --- blog: two ungrouped Ingresses, one ALB each
        self._app(c, "blog", "blog", http)
        self._app(c, "blog", "media", http)
        blog = writer.create(
            k.ingress(
                "blog",
                "blog",
                [
                    ("blog.example.com", [k.http_path("/", "blog", 80)]),
                    ("www.blog.example.com", [k.http_path("/", "blog", 80)]),
                ],
                annotations={
                    ALB + "scheme": "internet-facing",
                    ALB + "target-type": "ip",
                    ALB + "listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                    ALB + "certificate-arn": blog_cert,
                    ALB + "ssl-policy": MODERN_TLS_POLICY,
                },
            )
        )
        self._expose_ingresses(c, [blog])
        media = writer.create(
            k.ingress(
                "blog",
                "media",
                [("media.example.com", [k.http_path("/", "media", 80)])],
                annotations={
                    ALB + "scheme": "internet-facing",
                    ALB + "target-type": "ip",
                    ALB + "listen-ports": '[{"HTTPS": 443}]',
                    ALB + "certificate-arn": cdn_cert,
                    ALB + "wafv2-acl-arn": media_waf,
                },
            )
        )
        self._expose_ingresses(c, [media])

        # --- payments: a TLS NLB whose imported certificate runs out
        api = self._app(
            c,
            "payments",
            "api",
            [{"name": "https", "port": 443, "targetPort": 8443, "nodePort": 31443}],
            service_type="LoadBalancer",
            annotations={
                SVC + "aws-load-balancer-type": "external",
                SVC + "aws-load-balancer-nlb-target-type": "ip",
                SVC + "aws-load-balancer-scheme": "internet-facing",
                SVC + "aws-load-balancer-ssl-cert": api_cert,
                SVC + "aws-load-balancer-ssl-ports": "443",
                SVC + "aws-load-balancer-ssl-negotiation-policy": MODERN_TLS_POLICY,
            },
        )
        self._expose_service(c, api)

        # --- data: a public database, a search cluster without ready pods, a leaked NLB
        postgres = self._app(
            c,
            "data",
            "postgres",
            [{"name": "postgres", "port": 5432, "targetPort": 5432, "nodePort": 30432}],
            replicas=1,
            image="postgres:16.4",
            service_type="LoadBalancer",
            annotations={SVC + "aws-load-balancer-type": "nlb"},
        )
        self._expose_service(c, postgres)
        search = self._app(
            c,
            "data",
            "search",
            [{"name": "http", "port": 9200, "targetPort": 9200, "nodePort": 30920}],
            ready=False,
            image="opensearchproject/opensearch:2.17.0",
            service_type="LoadBalancer",
            annotations={
                SVC + "aws-load-balancer-type": "external",
                SVC + "aws-load-balancer-nlb-target-type": "ip",
                SVC + "aws-load-balancer-scheme": "internal",
            },
        )
        self._expose_service(c, search)
        self._leak_nlb(c)
        # two internal dashboards, each with its own ALB although they could share one
        tools = {ALB + "scheme": "internal", ALB + "target-type": "ip", ALB + "healthcheck-path": "/api/health"}
        for name, port in (("grafana", 3000), ("dashboards", 5601)):
            self._app(c, "data", name, [{"name": "http", "port": 80, "targetPort": port}], replicas=1)
            tool = writer.create(
                k.ingress("data", name, [(f"{name}.data.internal", [k.http_path("/", name, 80)])], annotations=tools)
            )
            self._expose_ingresses(c, [tool])

        # --- legacy: an in-tree Classic LB and an Ingress the controller rejects
        smtp = self._app(
            c,
            "legacy",
            "smtp-relay",
            [{"name": "submission", "port": 587, "targetPort": 587, "nodePort": 30587}],
            replicas=1,
            service_type="LoadBalancer",
            annotations={SVC + "aws-load-balancer-internal": "true"},
        )
        self._expose_service(c, smtp)
        self._app(c, "legacy", "admin", http, replicas=1)
        writer.create(
            k.ingress(
                "legacy",
                "admin",
                [("admin.example.com", [k.http_path("/", "admin", 80)])],
                annotations={
                    ALB + "scheme": "internal",
                    ALB + "listen-ports": '[{"HTTP": 80}, {"HTTPS": "443"}]',
                    ALB + "certificate-arn": blog_cert,
                },
            )
        )
        self._seed_gateways(c, edge_cert, edge_waf)
        self._seed_ingress_nginx(c)
        self._seed_orders(c)
        self._report(
            f"cluster demo: {len(c.lbs)} Kubernetes exposures, {len({p.arn for p in c.lbs.values()})} load balancers"
        )

    def _seed_network_policies(self, c: _Cluster) -> None:
        """Default-deny plus an allow for the VPC (load balancers send from its subnets) where the guide is
        followed; orders admits only pods (which drops its ALB's traffic); blog has no policy at all."""
        writer = c.writer
        assert writer is not None
        deny = {"podSelector": {}, "policyTypes": ["Ingress"]}
        vpc = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": f"{c.cidr_prefix}.0.0/16"}}]}],
        }
        for ns in ("shop", "payments", "data", "edge", "orders"):
            writer.create(k.network_policy(ns, "default-deny-ingress", deny))
            if ns != "orders":
                writer.create(k.network_policy(ns, "allow-from-vpc", vpc))
        pods_only = {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}]}],
        }
        writer.create(k.network_policy("orders", "allow-from-shop", pods_only))

    def _seed_orders(self, c: _Cluster) -> None:
        """orders/checkout: an internal ALB with ip targets whose traffic the namespace's policies drop (facts §13).
        Its own inbound range keeps it out of the dashboards' would-be group (ungrouped-ingresses)."""
        writer = c.writer
        assert writer is not None
        self._app(c, "orders", "checkout", [{"name": "http", "port": 80, "targetPort": 8080}])
        checkout = writer.create(
            k.ingress(
                "orders",
                "checkout",
                [("checkout.orders.internal", [k.http_path("/", "checkout", 80)])],
                annotations={
                    ALB + "scheme": "internal",
                    ALB + "target-type": "ip",
                    ALB + "inbound-cidrs": f"{c.cidr_prefix}.0.0/16",
                    ALB + "healthcheck-path": "/healthz",
                },
            )
        )
        self._expose_ingresses(c, [checkout])

    def _seed_gateways(self, c: _Cluster, certificate: str, web_acl: str) -> None:
        """Gateway API through the controller: an ALB Gateway, an NLB Gateway, and a leaked Gateway ALB."""
        aws, writer = self._aws, c.writer
        assert aws is not None and writer is not None and c.network is not None
        writer.create(k.gateway_class("alb", "gateway.k8s.aws/alb"))
        writer.create(k.gateway_class("nlb", "gateway.k8s.aws/nlb"))

        # --- edge/public: internet-facing ALB; promo is attached to both listeners and so served over HTTP
        http = [{"name": "http", "port": 80, "targetPort": 8080}]
        for name in ("catalog", "promo"):
            self._app(c, "edge", name, http)
            writer.create(k.target_group_configuration("edge", name, "ip"))
        config = {
            "scheme": "internet-facing",
            "wafV2": {"webACL": web_acl},
            "listenerConfigurations": [
                {"protocolPort": "HTTPS:443", "defaultCertificate": certificate, "sslPolicy": MODERN_TLS_POLICY}
            ],
        }
        writer.create(k.load_balancer_configuration("edge", "public", config))
        public = writer.create(
            k.gateway(
                "edge",
                "public",
                "alb",
                [{"name": "http", "port": 80, "protocol": "HTTP"}, {"name": "https", "port": 443, "protocol": "HTTPS"}],
                config="public",
            )
        )
        routes = [
            writer.create(
                k.route(
                    "HTTPRoute",
                    "edge",
                    "catalog",
                    "public",
                    section="https",
                    hostnames=["catalog.example.com"],
                    backend=("catalog", 80),
                )
            ),
            writer.create(
                k.route(
                    "HTTPRoute",
                    "edge",
                    "catalog-redirect",
                    "public",
                    section="http",
                    hostnames=["catalog.example.com"],
                    redirect_https=True,
                )
            ),
            writer.create(
                k.route("HTTPRoute", "edge", "promo", "public", hostnames=["promo.example.com"], backend=("promo", 80))
            ),
        ]
        made = aws.reconcile_gateway(c.name, public, routes, c.services, c.network, config)
        self._bind(c, made)
        writer.set_gateway_address("edge", "public", made.dns_name)
        c.lbs["Gateway edge/public"] = made

        # --- data/queue: an NLB Gateway without configuration (internal, the controller's default)
        self._app(c, "data", "rabbitmq", [{"name": "amqp", "port": 5672, "targetPort": 5672}], replicas=1)
        writer.create(k.target_group_configuration("data", "rabbitmq", "ip"))
        queue = writer.create(k.gateway("data", "queue", "nlb", [{"name": "amqp", "port": 5672, "protocol": "TCP"}]))
        tcp = writer.create(k.route("TCPRoute", "data", "rabbitmq", "queue", backend=("rabbitmq", 5672)))
        made = aws.reconcile_gateway(c.name, queue, [tcp], c.services, c.network)
        self._bind(c, made)
        writer.set_gateway_address("data", "queue", made.dns_name)
        c.lbs["Gateway data/queue"] = made

        # --- edge/preview was deleted while the controller was down: its ALB stayed
        aws.leaked_gateway_alb(c.name, "edge", "preview", c.network)

    def _traffic(self) -> None:
        """CloudWatch traffic for every load balancer but the idle ones, and every target group's current
        HealthyHostCount (seeded again after evolve: new ones)."""
        assert self._aws is not None
        busy = self._aws.traffic(idle=self._idle)
        healthy = self._aws.target_health()
        self._report(
            f"traffic: {busy} load balancers busy, {len(self._idle)} idle; HealthyHostCount of {healthy} target groups"
        )

    def _seed_ingress_nginx(self, c: _Cluster) -> None:
        """ingress-nginx installed by its chart behind an internet-facing NLB the AWS Load Balancer Controller made for
        its Service: Ingress wiki/wiki is served over plain HTTP (no spec.tls, no force-ssl-redirect), wiki/docs has
        TLS and so is redirected by the controller's default."""
        writer = c.writer
        assert writer is not None
        ns, name = "ingress-nginx", "ingress-nginx-controller"
        writer.create(k.namespace(ns))
        writer.create(k.namespace("wiki", team="wiki"))
        writer.create(k.ingress_nginx_class())
        # the chart's ConfigMap: no redirect keys, so the controller's defaults apply
        writer.create(k.config_map(ns, name, {"allow-snippet-annotations": "false"}, labels=k.INGRESS_NGINX_LABELS))
        writer.create(k.ingress_nginx_controller(INGRESS_NGINX_VERSION))
        ports = [
            {"name": "http", "port": 80, "targetPort": 80, "nodePort": 30080},
            {"name": "https", "port": 443, "targetPort": 443, "nodePort": 30443},
        ]
        manifest = writer.create(
            k.service(
                ns,
                name,
                ports,
                service_type="LoadBalancer",
                selector=dict(k.INGRESS_NGINX_LABELS),
                annotations={
                    SVC + "aws-load-balancer-type": "external",
                    SVC + "aws-load-balancer-nlb-target-type": "ip",
                    SVC + "aws-load-balancer-scheme": "internet-facing",
                },
            )
        )
        base = 8 + len(c.services)
        ips = [f"{c.cidr_prefix}.{base}.{10 + i}" for i in range(2)]
        writer.create(k.endpoint_slice(ns, name, ports, ready=ips, not_ready=[]))
        facts = ServiceFacts(manifest=manifest, ready_ips=ips)
        c.services[(ns, name)] = facts
        made = self._expose_service(c, facts)
        for app, host, tls in (("wiki", "wiki.example.com", None), ("docs", "docs.example.com", ["docs.example.com"])):
            self._app(c, "wiki", app, [{"name": "http", "port": 80, "targetPort": 3000}], replicas=1)
            writer.create(
                k.ingress("wiki", app, [(host, [k.http_path("/", app, 80)])], ingress_class="nginx", tls_hosts=tls)
            )
            # ingress-nginx publishes its Service's address (--publish-service) on the Ingresses it serves
            writer.set_load_balancer_hostname("Ingress", "wiki", app, made.dns_name)

    def _leak_nlb(self, c: _Cluster) -> None:
        """data/redis was deleted while the controller was down (LBC #3841): its NLB stayed, its Service is gone."""
        assert self._aws is not None and c.network is not None
        gone = k.service(
            "data",
            "redis",
            [{"name": "redis", "port": 6379, "targetPort": 6379, "nodePort": 30379}],
            service_type="LoadBalancer",
            annotations={
                SVC + "aws-load-balancer-type": "external",
                SVC + "aws-load-balancer-nlb-target-type": "ip",
                SVC + "aws-load-balancer-scheme": "internal",
            },
        )
        gone["metadata"]["uid"] = "5f0c4a8e-2d1b-4c3e-9a7f-6b8d0e1f2a3c"
        # Its pods are gone too. AWS would show the stale targets unhealthy; moto reports every registered
        # target healthy, so none are registered (the same verdict: nothing healthy behind it).
        made = self._aws.reconcile_service(c.name, ServiceFacts(gone), c.network, register_targets=False)
        self._idle.add(made.arn)  # nothing sends it traffic: idle-load-balancer

    # ------------------------------------------------------------------ clusters "staging" and "sandbox"

    def _seed_staging(self) -> None:
        """The OIDC provider was never registered: the controller cannot get credentials and crash-loops."""
        aws = self._aws
        assert aws is not None
        c = self._clusters["staging"]
        c.network = aws.network(c.name, c.cidr_prefix, nodes=2)
        issuer = aws.eks_cluster(c.name, c.network)
        role = aws.irsa_role(
            f"{c.name}-aws-load-balancer-controller",
            issuer,
            policy_document(CONTROLLER_VERSION),
            policy_name=f"AWSLoadBalancerControllerIAMPolicy-{c.name}",
        )
        self._install_controller(c, role_arn=role, ready=False)
        assert c.writer is not None
        c.writer.create(k.namespace("web", team="web"))
        self._app(
            c,
            "web",
            "frontend",
            [{"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443}],
            service_type="LoadBalancer",
            load_balancer_class="service.k8s.aws/nlb",
            annotations={SVC + "aws-load-balancer-scheme": "internal"},
        )  # stays <pending>: nobody reconciles it
        self._report("cluster staging: controller crash-looping, one Service waiting for its NLB")

    def _seed_sandbox(self) -> None:
        """A playground whose controller runs on the node's instance role (no IRSA, no Pod Identity)."""
        aws = self._aws
        assert aws is not None
        c = self._clusters["sandbox"]
        c.network = aws.network(c.name, c.cidr_prefix, nodes=1)
        aws.oidc_provider(aws.eks_cluster(c.name, c.network))
        self._install_controller(c, role_arn=None, replicas=1)
        assert c.writer is not None
        c.writer.create(k.namespace("playground"))
        self._app(c, "playground", "echo", [{"name": "http", "port": 80, "targetPort": 8080}], replicas=1)
        # a default-deny nobody enforces: the vpc-cni add-on without enableNetworkPolicy, its agent off
        aws.vpc_cni_addon(c.name, network_policy=False)
        c.writer.create(k.aws_node(network_policy_agent=False))
        c.writer.create(
            k.network_policy("playground", "default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
        )
        self._report("cluster sandbox: controller without IRSA, NetworkPolicy not enforced")

    # ------------------------------------------------------------------ between two runs

    def evolve(self) -> None:
        """One finding fixed, one introduced: blog/blog gets its HTTPS redirect; data/mysql goes public."""
        if self.evolved:
            return
        aws = self._aws
        c = self._clusters[self.cluster_name]
        assert aws is not None and c.writer is not None
        c.writer.patch("Ingress", "blog", "blog", {"metadata": {"annotations": {ALB + "ssl-redirect": "443"}}})
        aws.redirect_http(c.lbs["Ingress blog/blog"], 80, 443)
        mysql = self._app(
            c,
            "data",
            "mysql",
            [{"name": "mysql", "port": 3306, "targetPort": 3306, "nodePort": 30306}],
            replicas=1,
            image="mysql:8.4",
            service_type="LoadBalancer",
            annotations={
                SVC + "aws-load-balancer-type": "external",
                SVC + "aws-load-balancer-nlb-target-type": "ip",
                SVC + "aws-load-balancer-scheme": "internet-facing",
            },
        )
        self._expose_service(c, mysql)
        self._traffic()
        self.evolved = True
        self._report("evolved: blog/blog now redirects HTTP to HTTPS; data/mysql exposed on an internet-facing NLB")
