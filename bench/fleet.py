"""A synthetic fleet of N load balancers with their Kubernetes owners, for the audit and engine benchmarks.

``plan(n)`` decides the fleet deterministically (ALB/NLB/CLB about 50/35/15; ALBs with an HTTP
redirect and an HTTPS listener, some with an SNI certificate and a WAF web ACL; NLBs with TCP or TLS;
CLBs with TCP or SSL), and three consumers turn it into data:

- ``seed_aws(fleet)``: the AWS side in the (process-wide) moto backends. For speed it runs under
  ``moto.mock_aws`` in this process (boto3 -> moto's request handlers without the HTTP hop, about
  twice as fast); the data lands in the same backends the moto *server* serves, and the audit then
  reads it over HTTP like any account.
- ``seed_kube(fleet, server, made)``: Ingresses, Services, EndpointSlices and the controller written
  into the Kubernetes API emulator's store in-process (``KubeApiServer.seed``), with status hostnames
  equal to the load balancers' DNS names. The audit reads them over HTTPS.
- ``inventory(fleet)``: the same fleet directly as an ``Inventory`` (no servers) for the engine benchmark; there a
  fifth of all load balancers (two ALBs in five) are made for a Gateway with its HTTPRoutes instead of an Ingress
  (``gateway_made``), so correlation and rules are measured with Gateways in the mix.

``lower_bound(fleet)`` is the fewest AWS calls any collector can make for this fleet under the API's
own limits (facts §9): pages of 400, tag batches of 20, one DescribeListeners per v2 load balancer,
DescribeRules per ALB listener, DescribeListenerCertificates per HTTPS/TLS listener,
target health from HealthyHostCount (GetMetricData, 500 target groups a call; DescribeTargetHealth only for
groups CloudWatch does not show healthy: none here; the same for Classic instance health with
DescribeInstanceHealth),
DescribeLoadBalancerPolicies per CLB with an SSL listener, ListResourcesForWebACL per web ACL,
certificate pages of 1000, security-group pages (200 ids per filter), and the fixed per-region and
identity calls.
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.controller.versions import policy_document
from auditor.demo.kubeapi import KubeApiServer
from auditor.demo.seed_aws import self_signed_certificate
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
    Gateway,
    GatewayClass,
    GatewayListener,
    IamRole,
    Ingress,
    IngressBackend,
    IngressClass,
    IngressControllerWorkload,
    IngressPath,
    IngressRule,
    Inventory,
    KubeInventory,
    Listener,
    LoadBalancer,
    LoadBalancerIngress,
    ManagedPolicy,
    NetworkDaemonSet,
    NetworkPolicy,
    OidcProvider,
    Pod,
    RedirectConfig,
    Route,
    RouteBackendRef,
    RouteParentRef,
    RouteRedirect,
    RouteRule,
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

CLUSTER = "bench"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
NAMESPACES = 20
CERTIFICATES = 40
WEB_ACLS = 5
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CONTROLLER_VERSION = "v2.13.0"
NGINX_INGRESSES = 2000  # Ingresses of an in-cluster ingress-nginx controller behind one NLB (engine benchmark)

JsonObj = dict[str, Any]


@dataclass
class LbPlan:
    index: int
    kind: str  # alb | nlb | clb
    namespace: str
    name: str  # the owning Ingress / Service name
    scheme: str
    tls: bool  # NLB: TLS listener; CLB: SSL listener (ALBs always have HTTPS)
    cert: int  # default certificate index
    sni_cert: int | None = None  # ALB: an extra SNI certificate
    web_acl: int | None = None  # ALB: associated web ACL

    @property
    def lb_name(self) -> str:
        prefix = {"alb": "k8s", "nlb": "k8s", "clb": "a"}[self.kind]
        return f"{prefix}-{self.namespace}-{self.name}"[:32] if self.kind != "clb" else f"a{self.index:031d}"


@dataclass
class Fleet:
    lbs: list[LbPlan]
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def albs(self) -> list[LbPlan]:
        return [p for p in self.lbs if p.kind == "alb"]

    @property
    def nlbs(self) -> list[LbPlan]:
        return [p for p in self.lbs if p.kind == "nlb"]

    @property
    def clbs(self) -> list[LbPlan]:
        return [p for p in self.lbs if p.kind == "clb"]


def plan(n: int) -> Fleet:
    """N load balancers: ALB/NLB/CLB 50/35/15, deterministic."""
    lbs = []
    for i in range(n):
        slot = i % 20
        kind = "alb" if slot < 10 else "nlb" if slot < 17 else "clb"
        ns = f"team{i % NAMESPACES:02d}"
        p = LbPlan(
            index=i,
            kind=kind,
            namespace=ns,
            name=f"app{i:05d}",
            scheme="internal" if i % 7 == 0 else "internet-facing",
            tls=kind != "alb" and i % 3 == 0,
            cert=i % CERTIFICATES,
        )
        if kind == "alb":
            p.sni_cert = (i + 1) % CERTIFICATES if i % 4 == 0 else None
            p.web_acl = i % WEB_ACLS if i % 3 == 0 and p.scheme == "internet-facing" else None
        lbs.append(p)
    return Fleet(lbs=lbs)


# --------------------------------------------------------------------------- the fewest calls possible


def lower_bound(fleet: Fleet) -> dict[str, int]:
    """The fewest calls per IAM action a complete collection of this fleet needs (facts §9)."""
    albs, nlbs, clbs = fleet.albs, fleet.nlbs, fleet.clbs
    v2 = len(albs) + len(nlbs)
    tgs = v2  # one target group per ALB / NLB
    alb_listeners = 2 * len(albs)
    # every ALB and NLB has at most one TLS listener: ACM's in-use lists give its SNI certificates (no
    # DescribeListenerCertificates), one DescribeCertificate per certificate in use
    in_use = {p.cert for p in (*albs, *nlbs, *clbs) if p.kind == "alb" or p.tls}
    in_use |= {p.sni_cert for p in albs if p.sni_cert is not None}
    security_groups = NAMESPACES + 1  # a managed SG per namespace + the shared backend SG
    elb = "elasticloadbalancing:"
    # cost: 3 metrics per ALB and NLB (+ RequestCount per ALB target group, HealthyHostCount per ALB/NLB target
    # group), 2 per CLB (+ its HealthyHostCount), 500 queries a call; the public load balancers' network
    # interfaces, 200 descriptions a call; Price List: AWSELB + AmazonVPC
    metric_queries = 5 * len(albs) + 4 * len(nlbs) + 3 * len(clbs)
    public = sum(1 for p in (*albs, *nlbs, *clbs) if p.scheme == "internet-facing")
    return {
        # usage (the cloudwatch collector) + the current HealthyHostCount of every target group (elbv2's target
        # health) and Classic load balancer (elb's instance health)
        "cloudwatch:GetMetricData": math.ceil(metric_queries / 500) + math.ceil(tgs / 500) + math.ceil(len(clbs) / 500),
        "ec2:DescribeNetworkInterfaces": math.ceil(public / 200),
        "pricing:GetProducts": 2,
        f"{elb}DescribeLoadBalancers": math.ceil(v2 / 400) + max(1, math.ceil(len(clbs) / 400)),
        f"{elb}DescribeTargetGroups": max(1, math.ceil(tgs / 400)),
        f"{elb}DescribeTags": math.ceil((v2 + tgs) / 20) + math.ceil(len(clbs) / 20),  # LBs and TGs in one batch
        f"{elb}DescribeListeners": v2,
        f"{elb}DescribeRules": alb_listeners,
        f"{elb}DescribeListenerCertificates": 0,
        "acm:DescribeCertificate": len(in_use),
        "iam:ListServerCertificates": 1,  # none in the account: ACM's in-use lists are the whole answer
        f"{elb}DescribeTargetHealth": 0,  # CloudWatch shows every group healthy (``_healthy_host_counts``)
        f"{elb}DescribeInstanceHealth": 0,  # CloudWatch shows every Classic load balancer with InService instances
        f"{elb}DescribeLoadBalancerPolicies": sum(1 for p in clbs if p.tls),
        "wafv2:ListWebACLs": 1,
        "wafv2:ListResourcesForWebACL": WEB_ACLS,
        "acm:ListCertificates": max(1, math.ceil(CERTIFICATES / 1000)),
        "ec2:DescribeSecurityGroups": max(1, math.ceil(security_groups / 200)),
        "eks:ListClusters": 1,
        "eks:DescribeCluster": 1,
        "eks:ListPodIdentityAssociations": 1,
        "iam:ListOpenIDConnectProviders": 1,
        "iam:GetOpenIDConnectProvider": 1,
        "iam:GetRole": 1,
        "iam:ListAttachedRolePolicies": 1,
        "iam:GetPolicy": 1,
        "iam:GetPolicyVersion": 1,
        "iam:ListRolePolicies": 1,
        "sts:GetCallerIdentity": 1,
    }


# --------------------------------------------------------------------------- AWS side (moto backends)


@dataclass
class Made:
    dns: dict[int, str] = field(default_factory=dict)  # plan index -> DNS name
    issuer: str = ""
    role_arn: str = ""


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def seed_aws(fleet: Fleet) -> Made:
    """Create the fleet in moto's backends (in-process under mock_aws; see the module docstring)."""
    import boto3
    from moto import mock_aws

    endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    mock = mock_aws()
    mock.start(reset=False)
    try:
        return _seed(fleet, boto3.session.Session(region_name=REGION))
    finally:
        mock.stop(remove_data=False)
        if endpoint is not None:
            os.environ["AWS_ENDPOINT_URL"] = endpoint


def _seed(fleet: Fleet, session: Any) -> Made:
    ec2, elbv2, elb = session.client("ec2"), session.client("elbv2"), session.client("elb")
    acm, wafv2, iam, eks = session.client("acm"), session.client("wafv2"), session.client("iam"), session.client("eks")
    made = Made()
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i * 32}.0/19", AvailabilityZone=f"{REGION}{z}")["Subnet"][
            "SubnetId"
        ]
        for i, z in enumerate("abc")
    ]
    nodes = [
        i["InstanceId"] for i in ec2.run_instances(ImageId="ami-0c1a7f89451184c8b", MinCount=2, MaxCount=2)["Instances"]
    ]
    backend_sg = ec2.create_security_group(GroupName="k8s-traffic-bench", Description="backend", VpcId=vpc)["GroupId"]
    ns_sgs = {}
    for i in range(NAMESPACES):
        sg = ec2.create_security_group(GroupName=f"k8s-team{i:02d}", Description="managed", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=sg,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                for p in (80, 443)
            ],
        )
        ns_sgs[f"team{i:02d}"] = sg

    cluster_role = iam.create_role(RoleName="bench-cluster", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eks.create_cluster(name=CLUSTER, roleArn=cluster_role, resourcesVpcConfig={"subnetIds": subnets})
    made.issuer = eks.describe_cluster(name=CLUSTER)["cluster"]["identity"]["oidc"]["issuer"]
    host = made.issuer.removeprefix("https://")
    iam.create_open_id_connect_provider(Url=made.issuer, ClientIDList=["sts.amazonaws.com"])
    trust = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::'
        + f'{ACCOUNT}:oidc-provider/{host}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{{"StringEquals":'
        + f'{{"{host}:sub":"system:serviceaccount:kube-system:aws-load-balancer-controller",'
        + f'"{host}:aud":"sts.amazonaws.com"}}}}}}]}}'
    )
    made.role_arn = iam.create_role(RoleName="bench-lbc", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    import json

    policy = iam.create_policy(PolicyName="bench-lbc", PolicyDocument=json.dumps(policy_document(CONTROLLER_VERSION)))
    iam.attach_role_policy(RoleName="bench-lbc", PolicyArn=policy["Policy"]["Arn"])

    certs = []
    for i in range(CERTIFICATES):
        cert, key = self_signed_certificate(f"svc{i}.example.com", [f"*.svc{i}.example.com"], days_valid=200)
        certs.append(acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"])
    acls = [
        wafv2.create_web_acl(
            Name=f"acl{i}",
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            VisibilityConfig={
                "SampledRequestsEnabled": False,
                "CloudWatchMetricsEnabled": False,
                "MetricName": f"a{i}",
            },
        )["Summary"]["ARN"]
        for i in range(WEB_ACLS)
    ]

    # (kind, target group ARN, LB ARN — Classic: "", its name —, healthy targets)
    healthy: list[tuple[str, str, str, int]] = []
    for p in fleet.lbs:
        stack = f"{p.namespace}/{p.name}"
        if p.kind == "clb":
            tags = {f"kubernetes.io/cluster/{CLUSTER}": "owned", "kubernetes.io/service-name": stack}
            listener: JsonObj = {
                "Protocol": "TCP",
                "LoadBalancerPort": 80,
                "InstanceProtocol": "TCP",
                "InstancePort": 30080,
            }
            if p.tls:
                listener.update(Protocol="SSL", LoadBalancerPort=443, SSLCertificateId=certs[p.cert])
            made.dns[p.index] = elb.create_load_balancer(
                LoadBalancerName=p.lb_name,
                Listeners=[listener],
                Subnets=subnets,
                SecurityGroups=[ns_sgs[p.namespace]],
                Scheme=p.scheme,
                Tags=_tags(tags),
            )["DNSName"]
            elb.register_instances_with_load_balancer(
                LoadBalancerName=p.lb_name, Instances=[{"InstanceId": i} for i in nodes]
            )
            healthy.append((p.kind, "", p.lb_name, len(nodes)))  # moto: every registered instance InService
            if p.tls:
                elb.create_load_balancer_policy(
                    LoadBalancerName=p.lb_name,
                    PolicyName="k8s-SSLNegotiationPolicy",
                    PolicyTypeName="SSLNegotiationPolicyType",
                    PolicyAttributes=[{"AttributeName": "Reference-Security-Policy", "AttributeValue": TLS_POLICY}],
                )
                elb.set_load_balancer_policies_of_listener(
                    LoadBalancerName=p.lb_name, LoadBalancerPort=443, PolicyNames=["k8s-SSLNegotiationPolicy"]
                )
            continue
        stack_key = "ingress.k8s.aws/stack" if p.kind == "alb" else "service.k8s.aws/stack"
        tags = {"elbv2.k8s.aws/cluster": CLUSTER, stack_key: stack}
        lb = elbv2.create_load_balancer(
            Name=p.lb_name,
            Subnets=subnets,
            SecurityGroups=[ns_sgs[p.namespace], backend_sg],
            Scheme=p.scheme,
            Type="application" if p.kind == "alb" else "network",
            Tags=_tags(tags),
        )["LoadBalancers"][0]
        made.dns[p.index] = lb["DNSName"]
        arn = lb["LoadBalancerArn"]
        tg = elbv2.create_target_group(
            Name=f"tg{p.index:05d}",
            Protocol="HTTP" if p.kind == "alb" else "TCP",
            Port=8080,
            VpcId=vpc,
            TargetType="ip",
            Tags=_tags({**tags, stack_key.replace("stack", "resource"): f"{stack}:80"}),
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(
            TargetGroupArn=tg, Targets=[{"Id": f"10.0.{p.index % 250}.{j + 10}", "Port": 8080} for j in range(2)]
        )
        healthy.append((p.kind, tg, arn, 2))
        forward = [{"Type": "forward", "TargetGroupArn": tg}]
        if p.kind == "alb":
            elbv2.create_listener(
                LoadBalancerArn=arn,
                Protocol="HTTP",
                Port=80,
                DefaultActions=[
                    {
                        "Type": "redirect",
                        "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
                    }
                ],
            )
            https = elbv2.create_listener(
                LoadBalancerArn=arn,
                Protocol="HTTPS",
                Port=443,
                SslPolicy=TLS_POLICY,
                Certificates=[{"CertificateArn": certs[p.cert]}],
                DefaultActions=[
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                    }
                ],
            )["Listeners"][0]["ListenerArn"]
            elbv2.create_rule(
                ListenerArn=https,
                Priority=1,
                Conditions=[
                    {"Field": "host-header", "HostHeaderConfig": {"Values": [f"{p.name}.svc{p.cert}.example.com"]}}
                ],
                Actions=forward,
            )
            if p.sni_cert is not None:
                elbv2.add_listener_certificates(ListenerArn=https, Certificates=[{"CertificateArn": certs[p.sni_cert]}])
            if p.web_acl is not None:
                wafv2.associate_web_acl(WebACLArn=acls[p.web_acl], ResourceArn=arn)
        else:
            params: JsonObj = {"LoadBalancerArn": arn, "Protocol": "TCP", "Port": 5000, "DefaultActions": forward}
            if p.tls:
                params.update(
                    Protocol="TLS", Port=443, SslPolicy=TLS_POLICY, Certificates=[{"CertificateArn": certs[p.cert]}]
                )
            elbv2.create_listener(**params)
    _healthy_host_counts(session.client("cloudwatch"), healthy)
    return made


def _healthy_host_counts(cloudwatch: Any, healthy: list[tuple[str, str, str, int]]) -> None:
    """What ELB publishes each minute and moto does not: every target group's HealthyHostCount, here the count
    moto's DescribeTargetHealth gives (every registered target healthy), stamped now — the audit that follows
    must start within the collector's ``HEALTH_WINDOW`` (5 min) of it, or it describes each group instead (the
    same verdicts, more calls). Dimensions TargetGroup + LoadBalancer and the namespace of the load balancer's
    type, as ELB publishes them (moto gives NLBs ``app/`` ARNs: the namespace does not come from those)."""
    now = datetime.now(UTC)
    by_namespace: dict[str, list[JsonObj]] = {}
    for kind, tg, lb_arn, count in healthy:
        namespace = {"alb": "AWS/ApplicationELB", "nlb": "AWS/NetworkELB", "clb": "AWS/ELB"}[kind]
        dimensions = (
            [{"Name": "LoadBalancerName", "Value": lb_arn}]  # Classic: the name stands for the ARN
            if kind == "clb"
            else [
                {"Name": "TargetGroup", "Value": tg.split(":", 5)[-1]},
                {"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]},
            ]
        )
        datum = {"MetricName": "HealthyHostCount", "Dimensions": dimensions, "Timestamp": now, "Value": float(count)}
        by_namespace.setdefault(namespace, []).append(datum)
    for namespace, data in by_namespace.items():
        for start in range(0, len(data), 1000):  # PutMetricData takes at most 1,000 data points
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 1000])


# --------------------------------------------------------------------------- Kubernetes side (emulator store)


def kube_manifests(fleet: Fleet, made: Made) -> list[JsonObj]:
    """The controller, and per load balancer its Ingress or Service, backing Service and EndpointSlice."""
    objs: list[JsonObj] = [
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "alb"},
            "spec": {"controller": "ingress.k8s.aws/alb"},
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": "aws-load-balancer-controller",
                "namespace": "kube-system",
                "annotations": {"eks.amazonaws.com/role-arn": made.role_arn},
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "aws-load-balancer-controller", "namespace": "kube-system"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
                "template": {
                    "metadata": {"labels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
                    "spec": {
                        "serviceAccountName": "aws-load-balancer-controller",
                        "containers": [
                            {
                                "name": "aws-load-balancer-controller",
                                "image": f"public.ecr.aws/eks/aws-load-balancer-controller:{CONTROLLER_VERSION}",
                                "args": [f"--cluster-name={CLUSTER}", "--ingress-class=alb"],
                            }
                        ],
                    },
                },
            },
            "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2},
        },
    ]
    for p in fleet.lbs:
        ns, name = p.namespace, p.name
        hostname = {"loadBalancer": {"ingress": [{"hostname": made.dns[p.index]}]}}
        svc: JsonObj = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "annotations": {}},
            "spec": {
                "type": "ClusterIP",
                "selector": {"app": name},
                "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
            },
        }
        if p.kind == "alb":
            objs.append(
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "Ingress",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "annotations": {
                            "alb.ingress.kubernetes.io/scheme": p.scheme,
                            "alb.ingress.kubernetes.io/target-type": "ip",
                            "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                            "alb.ingress.kubernetes.io/ssl-redirect": "443",
                            "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
                        },
                    },
                    "spec": {
                        "ingressClassName": "alb",
                        "rules": [
                            {
                                "host": f"{name}.svc{p.cert}.example.com",
                                "http": {
                                    "paths": [
                                        {
                                            "path": "/",
                                            "pathType": "Prefix",
                                            "backend": {"service": {"name": name, "port": {"number": 80}}},
                                        }
                                    ]
                                },
                            }
                        ],
                    },
                    "status": hostname,
                }
            )
        else:
            svc["spec"]["type"] = "LoadBalancer"
            svc["spec"]["ports"][0]["nodePort"] = 30080
            if p.kind == "nlb":
                svc["metadata"]["annotations"] = {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": p.scheme,
                }
            elif p.scheme == "internal":
                svc["metadata"]["annotations"] = {"service.beta.kubernetes.io/aws-load-balancer-internal": "true"}
            svc["status"] = hostname
        objs.append(svc)
        objs.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": f"{name}-x1", "namespace": ns, "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "endpoints": [
                    {"addresses": [f"10.0.{p.index % 250}.{j + 10}"], "conditions": {"ready": True}} for j in range(2)
                ],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        )
    return objs


def seed_kube(fleet: Fleet, server: KubeApiServer, made: Made) -> int:
    """Store the manifests in the emulator (in-process); returns how many objects were written."""
    objs = kube_manifests(fleet, made)
    for obj in objs:
        server.seed(obj)
    return len(objs)


# --------------------------------------------------------------------------- the same fleet as an Inventory


def gateway_made(p: LbPlan) -> bool:
    """Whether the engine benchmark's inventory makes this ALB for a Gateway (two ALBs in five: a fifth of all)."""
    return p.kind == "alb" and p.index % 5 in (1, 3)


def _gateway_objects(p: LbPlan, dns: str) -> tuple[Gateway, list[Route]]:
    ns, name = p.namespace, p.name
    gateway = Gateway(
        namespace=ns,
        name=name,
        gateway_class_name="alb",
        listeners=[
            GatewayListener(name="http", port=80, protocol="HTTP"),
            GatewayListener(name="https", port=443, protocol="HTTPS"),
        ],
        addresses=[dns],
        programmed=True,
    )
    parent = RouteParentRef(name=name)
    routes = [
        Route(
            namespace=ns,
            name=name,
            kind="HTTPRoute",
            hostnames=[f"{name}.svc{p.cert}.example.com"],
            parent_refs=[parent.model_copy(update={"section_name": "https"})],
            rules=[RouteRule(backend_refs=[RouteBackendRef(name=name, port=80)])],
        ),
        Route(
            namespace=ns,
            name=f"{name}-redirect",
            kind="HTTPRoute",
            parent_refs=[parent.model_copy(update={"section_name": "http"})],
            rules=[RouteRule(redirect=RouteRedirect(scheme="https", status_code=301))],
        ),
    ]
    return gateway, routes


def inventory(fleet: Fleet) -> Inventory:
    """The fleet as a collected Inventory (what the collectors would return), for the engine benchmark."""
    now = datetime.now(UTC)
    arn = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}"
    certs = [
        Certificate(
            arn=f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{i:08d}-0000-0000-0000-000000000000",
            account=ACCOUNT,
            region=REGION,
            domain_name=f"svc{i}.example.com",
            subject_alternative_names=[f"svc{i}.example.com", f"*.svc{i}.example.com"],
            status="ISSUED",
            type="IMPORTED",
            key_algorithm="EC_prime256v1",
            not_after=now + timedelta(days=200),
            in_use=True,
        )
        for i in range(CERTIFICATES)
    ]
    lbs: list[LoadBalancer] = []
    tgs: list[TargetGroup] = []
    acl_members: dict[int, list[str]] = {i: [] for i in range(WEB_ACLS)}
    kube = KubeInventory(context=CLUSTER, ingress_classes=[IngressClass(name="alb", controller="ingress.k8s.aws/alb")])
    kube.endpoint_slices = []
    kube.target_group_bindings = []
    kube.gateway_classes = [GatewayClass(name="alb", controller_name="gateway.k8s.aws/alb", accepted=True)]
    kube.gateways, kube.routes, kube.reference_grants, kube.gateway_configurations = [], [], [], []
    kube.ingress_controllers, kube.ingress_controller_configs = [], []
    # NetworkPolicy in every namespace (issue #9): the guide's default-deny plus an allow for the VPC, enforced by
    # the VPC CNI's agent; every endpoint is a pod the policies select
    kube.pods, kube.namespaces, kube.network_policies = [], [], []
    kube.network_daemon_sets = [
        NetworkDaemonSet(
            namespace="kube-system",
            name="aws-node",
            containers=[
                DaemonSetContainer(
                    name="aws-eks-nodeagent",
                    image="amazon/aws-network-policy-agent:v1.2.0",
                    args=["--enable-network-policy=true"],
                )
            ],
        )
    ]
    subnets = [
        Subnet(id=f"subnet-{z}", account=ACCOUNT, region=REGION, vpc_id="vpc-bench", cidr_block=f"10.0.{i * 64}.0/18")
        for i, z in enumerate("abc")
    ]
    for p in fleet.lbs:
        ns, name, stack = p.namespace, p.name, f"{p.namespace}/{p.name}"
        dns = f"{p.lb_name}-{p.index}.{REGION}.elb.amazonaws.com"
        lb_type = {"alb": "application", "nlb": "network", "clb": "classic"}[p.kind]
        lb_arn = f"{arn}:loadbalancer/{'app' if p.kind == 'alb' else 'net'}/{p.lb_name}/{p.index:016x}"
        if p.kind == "clb":
            lb_arn = f"{arn}:loadbalancer/{p.lb_name}"
        tg_arn = f"{arn}:targetgroup/tg{p.index:05d}/{p.index:016x}"
        forward = Action(type="forward", target_group_arns=[tg_arn])
        if p.kind == "alb":
            stack_tag = "gateway.k8s.aws.alb/stack" if gateway_made(p) else "ingress.k8s.aws/stack"
            tags = {"elbv2.k8s.aws/cluster": CLUSTER, stack_tag: stack}
            cert_arns = [certs[p.cert].arn] + ([certs[p.sni_cert].arn] if p.sni_cert is not None else [])
            listeners = [
                Listener(
                    arn=f"{lb_arn}/l80",
                    port=80,
                    protocol="HTTP",
                    certificate_arns=[],
                    default_actions=[Action(type="redirect", redirect=RedirectConfig(protocol="HTTPS", port="443"))],
                    rules=[],
                ),
                Listener(
                    arn=f"{lb_arn}/l443",
                    port=443,
                    protocol="HTTPS",
                    ssl_policy=TLS_POLICY,
                    certificate_arns=cert_arns,
                    default_actions=[Action(type="fixed-response", fixed_response_status="404")],
                    rules=[],
                ),
            ]
            if p.web_acl is not None:
                acl_members[p.web_acl].append(lb_arn)
        elif p.kind == "nlb":
            tags = {"elbv2.k8s.aws/cluster": CLUSTER, "service.k8s.aws/stack": stack}
            listeners = [
                Listener(
                    arn=f"{lb_arn}/l",
                    port=443 if p.tls else 5000,
                    protocol="TLS" if p.tls else "TCP",
                    ssl_policy=TLS_POLICY if p.tls else None,
                    certificate_arns=[certs[p.cert].arn] if p.tls else [],
                    default_actions=[forward],
                )
            ]
        else:
            tags = {f"kubernetes.io/cluster/{CLUSTER}": "owned", "kubernetes.io/service-name": stack}
            listeners = [
                Listener(
                    port=443 if p.tls else 80,
                    protocol="SSL" if p.tls else "TCP",
                    ssl_policy=TLS_POLICY if p.tls else None,
                    certificate_arns=[certs[p.cert].arn] if p.tls else [],
                    instance_port=30080,
                    instance_protocol="TCP",
                )
            ]
        lbs.append(
            LoadBalancer(
                arn=lb_arn,
                name=p.lb_name,
                type=lb_type,  # type: ignore[arg-type]
                scheme=p.scheme,  # type: ignore[arg-type]
                dns_name=dns,
                account=ACCOUNT,
                region=REGION,
                security_group_ids=[f"sg-{ns}"],
                subnet_ids=[] if p.kind == "clb" else [sn.id for sn in subnets],
                tags=tags,
                listeners=listeners,
                instances=[TargetHealth(id="i-1", state="InService")] if p.kind == "clb" else None,
            )
        )
        if p.kind != "clb":
            tgs.append(
                TargetGroup(
                    arn=tg_arn,
                    name=f"tg{p.index:05d}",
                    account=ACCOUNT,
                    region=REGION,
                    protocol="HTTP" if p.kind == "alb" else "TCP",
                    port=8080,
                    target_type="ip",
                    load_balancer_arns=[lb_arn],
                    tags={**tags},
                    targets=[
                        TargetHealth(id=f"10.0.{p.index % 250}.{j + 10}", port=8080, state="healthy") for j in range(2)
                    ],
                )
            )
        status = [LoadBalancerIngress(hostname=dns)]
        port = ServicePort(name="http", port=80, target_port=8080)
        if gateway_made(p):
            gateway, routes = _gateway_objects(p, dns)
            kube.gateways.append(gateway)
            kube.routes.extend(routes)
            kube.services.append(Service(namespace=ns, name=name, selector={"app": name}, ports=[port]))
        elif p.kind == "alb":
            kube.ingresses.append(
                Ingress(
                    namespace=ns,
                    name=name,
                    ingress_class_name="alb",
                    annotations={
                        "alb.ingress.kubernetes.io/scheme": p.scheme,
                        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
                        "alb.ingress.kubernetes.io/ssl-redirect": "443",
                        "alb.ingress.kubernetes.io/ssl-policy": TLS_POLICY,
                    },
                    rules=[
                        IngressRule(
                            host=f"{name}.svc{p.cert}.example.com",
                            paths=[
                                IngressPath(
                                    path="/",
                                    path_type="Prefix",
                                    backend=IngressBackend(service_name=name, service_port_number=80),
                                )
                            ],
                        )
                    ],
                    status_ingress=status,
                )
            )
            kube.services.append(Service(namespace=ns, name=name, selector={"app": name}, ports=[port]))
        else:
            annotations = (
                {
                    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
                    "service.beta.kubernetes.io/aws-load-balancer-scheme": p.scheme,
                }
                if p.kind == "nlb"
                else {}
            )
            kube.services.append(
                Service(
                    namespace=ns,
                    name=name,
                    type="LoadBalancer",
                    annotations=annotations,
                    selector={"app": name},
                    ports=[port.model_copy(update={"node_port": 30080})],
                    status_ingress=status,
                )
            )
        kube.endpoint_slices.append(
            EndpointSlice(
                namespace=ns,
                name=f"{name}-x1",
                service_name=name,
                endpoints=[
                    Endpoint(
                        addresses=[f"10.0.{p.index % 250}.{j + 10}"],
                        ready=True,
                        target_ref_kind="Pod",
                        target_ref_name=f"{name}-{j}",
                    )
                    for j in range(2)
                ],
            )
        )
        kube.pods.extend(
            Pod(
                namespace=ns,
                name=f"{name}-{j}",
                labels={"app": name},
                ips=[f"10.0.{p.index % 250}.{j + 10}"],
                container_ports=[ContainerPort(name="http", port=8080)],
            )
            for j in range(2)
        )
    for ns in sorted({p.namespace for p in fleet.lbs}):
        kube.network_policies.append(
            NetworkPolicy(namespace=ns, name="default-deny", spec={"podSelector": {}, "policyTypes": ["Ingress"]})
        )
        kube.network_policies.append(
            NetworkPolicy(
                namespace=ns,
                name="allow-vpc",
                spec={"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]}]},
            )
        )
    kube.service_accounts.append(
        ServiceAccount(
            namespace="kube-system",
            name="aws-load-balancer-controller",
            annotations={"eks.amazonaws.com/role-arn": f"arn:aws:iam::{ACCOUNT}:role/bench-lbc"},
        )
    )
    kube.controllers.append(
        ControllerDeployment(
            namespace="kube-system",
            name="aws-load-balancer-controller",
            image=f"public.ecr.aws/eks/aws-load-balancer-controller:{CONTROLLER_VERSION}",
            version=CONTROLLER_VERSION,
            replicas=2,
            ready_replicas=2,
            service_account_name="aws-load-balancer-controller",
            cluster_name_arg=CLUSTER,
        )
    )
    lbs.append(_ingress_nginx(kube, arn))
    issuer = "https://oidc.eks.eu-west-1.amazonaws.com/id/BENCH0000000000000000000000000000"
    host = issuer.removeprefix("https://")
    aws = AwsInventory(
        load_balancers=lbs,
        target_groups=tgs,
        certificates=certs,
        subnets=subnets,
        web_acls=[
            WebAcl(
                arn=f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/acl{i}/{i}",
                id=str(i),
                name=f"acl{i}",
                account=ACCOUNT,
                region=REGION,
                resource_arns=members,
            )
            for i, members in acl_members.items()
        ],
        security_groups=[
            SecurityGroup(
                id=f"sg-team{i:02d}",
                name=f"k8s-team{i:02d}",
                account=ACCOUNT,
                region=REGION,
                ingress=[
                    SecurityGroupPermission(protocol="tcp", from_port=p, to_port=p, ipv4_ranges=["0.0.0.0/0"])
                    for p in (80, 443)
                ],
            )
            for i in range(NAMESPACES)
        ],
        oidc_providers=[
            OidcProvider(
                arn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}",
                account=ACCOUNT,
                url=host,
                client_ids=["sts.amazonaws.com"],
            )
        ],
        iam_roles=[
            IamRole(
                arn=f"arn:aws:iam::{ACCOUNT}:role/bench-lbc",
                name="bench-lbc",
                account=ACCOUNT,
                trust_policy={
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host}"},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {
                                    f"{host}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                                    f"{host}:aud": "sts.amazonaws.com",
                                }
                            },
                        }
                    ]
                },
                attached_policies=[
                    ManagedPolicy(
                        arn=f"arn:aws:iam::{ACCOUNT}:policy/bench-lbc",
                        name="bench-lbc",
                        default_version_id="v1",
                        document=policy_document(CONTROLLER_VERSION),
                    )
                ],
                inline_policies={},
            )
        ],
        eks_clusters=[
            EksCluster(name=CLUSTER, account=ACCOUNT, region=REGION, oidc_issuer=issuer, pod_identity_associations=[])
        ],
        eks_cluster_listings=[EksClusterListing(account=ACCOUNT, region=REGION, names=[CLUSTER])],
    )
    collectors = ("elbv2", "elb", "acm", "wafv2", "ec2", "eks")
    coverage = [
        Coverage(source="aws", collector=c, account=ACCOUNT, region=REGION, status=CoverageStatus.OK)
        for c in collectors
    ]
    coverage.append(Coverage(source="aws", collector="iam", account=ACCOUNT, status=CoverageStatus.OK))
    coverage.append(Coverage(source="kubernetes", collector="kubernetes", status=CoverageStatus.OK))
    return Inventory(
        collected_at=now,
        target=AuditTarget(name=CLUSTER, cluster_name=CLUSTER, context=CLUSTER, accounts=[ACCOUNT], regions=[REGION]),
        aws=aws,
        kubernetes=kube,
        coverage=coverage,
    )


def _ingress_nginx(kube: KubeInventory, arn: str) -> LoadBalancer:
    """An ingress-nginx controller (chart labels and arguments) behind one internet-facing NLB, serving
    NGINX_INGRESSES Ingresses of class nginx across the namespaces; returns its NLB."""
    labels = {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
    name = "k8s-ingressn-ingressn-0a1b2c3d4e"
    dns = f"{name}-0.elb.{REGION}.amazonaws.com"
    kube.ingress_classes.append(IngressClass(name="nginx", controller="k8s.io/ingress-nginx"))
    assert kube.ingress_controllers is not None
    kube.ingress_controllers.append(
        IngressControllerWorkload(
            namespace="ingress-nginx",
            name="ingress-nginx-controller",
            labels=labels,
            implementation="ingress-nginx",
            image="registry.k8s.io/ingress-nginx/controller:v1.11.3",
            version="v1.11.3",
            pod_labels=labels,
            controller_class="k8s.io/ingress-nginx",
            ingress_class_arg="nginx",
            publish_service="ingress-nginx/ingress-nginx-controller",
            config_map="ingress-nginx/ingress-nginx-controller",
            ready_replicas=2,
        )
    )
    kube.services.append(
        Service(
            namespace="ingress-nginx",
            name="ingress-nginx-controller",
            type="LoadBalancer",
            selector=labels,
            annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"},
            ports=[ServicePort(name="http", port=80, target_port="http"), ServicePort(name="https", port=443)],
            status_ingress=[LoadBalancerIngress(hostname=dns)],
        )
    )
    for i in range(NGINX_INGRESSES):
        ns = f"team{i % NAMESPACES:02d}"
        backend = IngressBackend(service_name=f"wiki{i}", service_port_number=80)
        kube.ingresses.append(
            Ingress(
                namespace=ns,
                name=f"wiki{i}",
                ingress_class_name="nginx",
                rules=[IngressRule(host=f"wiki{i}.example.com", paths=[IngressPath(path="/", backend=backend)])],
                status_ingress=[LoadBalancerIngress(hostname=dns)],
            )
        )
    return LoadBalancer(
        arn=f"{arn}:loadbalancer/net/{name}/{0:016x}",
        name=name,
        type="network",
        scheme="internet-facing",
        dns_name=dns,
        account=ACCOUNT,
        region=REGION,
        tags={"elbv2.k8s.aws/cluster": CLUSTER, "service.k8s.aws/stack": "ingress-nginx/ingress-nginx-controller"},
        listeners=[Listener(port=80, protocol="TCP"), Listener(port=443, protocol="TCP")],
    )


def kube_object_count(inv: Inventory) -> int:
    kube = inv.kubernetes
    assert kube is not None
    return (
        len(kube.services)
        + len(kube.ingresses)
        + len(kube.endpoint_slices or [])
        + len(kube.service_accounts)
        + len(kube.controllers)
        + len(kube.ingress_classes)
        + len(kube.gateway_classes or [])
        + len(kube.gateways or [])
        + len(kube.routes or [])
        + len(kube.pods or [])
        + len(kube.network_policies or [])
    )
