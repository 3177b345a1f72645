"""The AWS side of the demo, made the way AWS gets it: boto3 calls, as the controllers would make them.

``AwsSeeder`` talks to whatever ``AWS_ENDPOINT_URL`` points at (the demo's moto server) with plain
boto3 clients. Besides the account basics (VPC, nodes, EKS clusters, OIDC providers, IAM roles,
ACM certificates, WAF web ACLs) it plays the two controllers that create load balancers for
Kubernetes, reading the same manifests the cluster holds:

- ``reconcile_ingress_group``: what the AWS Load Balancer Controller does for an IngressGroup
  (names, tags, managed + shared backend security groups, listeners from ``listen-ports``,
  ``ssl-redirect``, certificates, ``ssl-policy``, rules from the Ingress rules, one target group per
  backend, ``wafv2-acl-arn``);
- ``reconcile_service``: the controller's NLB for ``external``/``nlb-ip``/``loadBalancerClass``
  Services, or the legacy in-tree provider's NLB/Classic LB (named ``a`` + the Service UID).

The annotation reading here is deliberately separate from the product's own parser
(``auditor.correlate.annotations``): the demo is a test oracle and must not inherit the product's bugs.
Tags follow facts §1 (the controller's stack/resource tags; the in-tree provider's cluster and
service-name tags), so the audit's ownership logic sees what it would see in a real account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

JsonObj = dict[str, Any]

ALB = "alb.ingress.kubernetes.io/"
SVC = "service.beta.kubernetes.io/"
LBC_SERVICE_CLASS = "service.k8s.aws/nlb"
LBC_DEFAULT_SSL_POLICY = "ELBSecurityPolicy-2016-08"
NODE_AMI = "ami-0c1a7f89451184c8b"  # any id: moto runs whatever image it is given
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def short_hash(*parts: str) -> str:
    """The 10 hex characters the controller appends to names (a hash of what identifies the resource)."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:10]


def _clean(text: str) -> str:
    return _NOT_ALNUM.sub("", text)


def lbc_name(namespace: str, name: str, *salt: str) -> str:
    """``k8s-<ns[:8]>-<name[:8]>-<hash10>``: LBC names of ALBs, NLBs, target groups and managed SGs."""
    return f"k8s-{_clean(namespace)[:8]}-{_clean(name)[:8]}-{short_hash(namespace, name, *salt)}".lower()


def lbc_group_name(group: str, *salt: str) -> str:
    """``k8s-<group[:17]>-<hash10>``: the ALB of an explicit IngressGroup."""
    return f"k8s-{_clean(group)[:17]}-{short_hash(group, *salt)}".lower()


def in_tree_name(service_uid: str) -> str:
    """The in-tree provider's load balancer name: ``a`` + the Service UID without dashes, 32 characters."""
    return ("a" + service_uid.replace("-", ""))[:32]


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


# --------------------------------------------------------------------------- inputs and results


@dataclass
class ServiceFacts:
    """What the controllers read of a Service besides its manifest: node ports and ready pod IPs."""

    manifest: JsonObj
    ready_ips: list[str] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return str(self.manifest["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    def port(self, ref: int | str) -> JsonObj:
        for port in self.manifest["spec"].get("ports", []):
            if port["port"] == ref or port.get("name") == ref:
                return dict(port)
        raise KeyError(f"Service {self.namespace}/{self.name} has no port {ref!r}")


@dataclass
class Network:
    """One cluster's VPC: subnets for load balancers and the worker nodes (EC2 instances)."""

    vpc_id: str
    subnet_ids: list[str]
    node_ids: list[str]


@dataclass
class TargetGroupMade:
    arn: str
    name: str
    namespace: str
    service: str
    port: int  # the Service port
    target_type: str


@dataclass
class Provisioned:
    """A load balancer made for Kubernetes: what the status and the TargetGroupBindings need."""

    arn: str
    name: str
    dns_name: str
    target_groups: list[TargetGroupMade] = field(default_factory=list)
    listener_arns: dict[int, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- certificates


def self_signed_certificate(
    domain: str, sans: Sequence[str], *, days_valid: int, rsa_bits: int | None = None
) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its key, valid from 60 days ago for ``days_valid`` days: an EC P-256
    key, or an RSA key of ``rsa_bits``."""
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        ec.generate_private_key(ec.SECP256R1())
        if rsa_bits is None
        else rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    )
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    names = [x509.DNSName(n) for n in dict.fromkeys([domain, *sans])]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=60))
        .not_valid_after(now + dt.timedelta(days=days_valid))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


# --------------------------------------------------------------------------- the seeder


class AwsSeeder:
    """boto3 clients of one region (reaching moto through AWS_ENDPOINT_URL) and the seeding steps."""

    def __init__(self, region: str) -> None:
        session = boto3.session.Session(region_name=region)
        self.region = region
        self.ec2: Any = session.client("ec2")
        self.elbv2: Any = session.client("elbv2")
        self.elb: Any = session.client("elb")
        self.acm: Any = session.client("acm")
        self.wafv2: Any = session.client("wafv2")
        self.iam: Any = session.client("iam")
        self.eks: Any = session.client("eks")
        self.cloudwatch: Any = session.client("cloudwatch")
        self.account: str = session.client("sts").get_caller_identity()["Account"]
        self._backend_sgs: dict[str, str] = {}  # cluster -> shared backend SG id

    # ------------------------------------------------------------------ account basics

    def network(self, cluster: str, cidr_prefix: str, *, nodes: int) -> Network:
        """A VPC ``<prefix>.0.0/16`` with one subnet per AZ and ``nodes`` worker instances."""
        vpc = self.ec2.create_vpc(CidrBlock=f"{cidr_prefix}.0.0/16")["Vpc"]["VpcId"]
        self.ec2.create_tags(Resources=[vpc], Tags=_tags({"Name": f"eks-{cluster}"}))
        subnets = []
        for i, zone in enumerate("abc"):
            subnet = self.ec2.create_subnet(
                VpcId=vpc, CidrBlock=f"{cidr_prefix}.{i * 32}.0/19", AvailabilityZone=f"{self.region}{zone}"
            )["Subnet"]["SubnetId"]
            self.ec2.create_tags(
                Resources=[subnet],
                Tags=_tags({f"kubernetes.io/cluster/{cluster}": "shared", "kubernetes.io/role/elb": "1"}),
            )
            subnets.append(subnet)
        node_ids: list[str] = []
        if nodes:
            made = self.ec2.run_instances(
                ImageId=NODE_AMI,
                MinCount=nodes,
                MaxCount=nodes,
                InstanceType="m6i.large",
                SubnetId=subnets[0],
                TagSpecifications=[
                    {
                        "ResourceType": "instance",
                        "Tags": _tags({f"kubernetes.io/cluster/{cluster}": "owned", "eks:cluster-name": cluster}),
                    }
                ],
            )
            node_ids = [i["InstanceId"] for i in made["Instances"]]
        return Network(vpc_id=vpc, subnet_ids=subnets, node_ids=node_ids)

    def eks_cluster(self, name: str, network: Network, *, version: str = "1.31") -> str:
        """Create the EKS cluster (and its service role); returns the OIDC issuer URL EKS gives it."""
        role = self.iam.create_role(
            RoleName=f"{name}-eks-cluster-role",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "eks.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )["Role"]["Arn"]
        self.eks.create_cluster(
            name=name, version=version, roleArn=role, resourcesVpcConfig={"subnetIds": network.subnet_ids}
        )
        issuer: str = self.eks.describe_cluster(name=name)["cluster"]["identity"]["oidc"]["issuer"]
        return issuer

    def vpc_cni_addon(self, cluster: str, *, network_policy: bool) -> None:
        """The VPC CNI as an EKS add-on; ``network_policy`` sets its enableNetworkPolicy configuration value."""
        values = json.dumps({"enableNetworkPolicy": "true"}) if network_policy else ""
        self.eks.create_addon(clusterName=cluster, addonName="vpc-cni", configurationValues=values)

    def oidc_provider(self, issuer: str) -> str:
        """Register the cluster's issuer as an IAM OIDC provider (``eksctl utils associate-iam-oidc-provider``)."""
        arn: str = self.iam.create_open_id_connect_provider(
            Url=issuer, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
        )["OpenIDConnectProviderArn"]
        return arn

    def irsa_role(self, name: str, issuer: str, policy: JsonObj, *, policy_name: str) -> str:
        """A controller role trusting the cluster's OIDC provider for its service account, with a policy attached."""
        host = issuer.removeprefix("https://")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Federated": f"arn:aws:iam::{self.account}:oidc-provider/{host}"},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {
                            f"{host}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                            f"{host}:aud": "sts.amazonaws.com",
                        }
                    },
                }
            ],
        }
        arn: str = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        policy_arn = self.iam.create_policy(PolicyName=policy_name, PolicyDocument=json.dumps(policy))["Policy"]["Arn"]
        self.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return arn

    def certificate(self, domain: str, *sans: str, days_valid: int, rsa_bits: int | None = None) -> str:
        """Import a certificate into ACM (imported certificates never renew by themselves); EC P-256 unless
        ``rsa_bits`` asks for an RSA key (ACM imports RSA_1024 too)."""
        cert, key = self_signed_certificate(domain, sans, days_valid=days_valid, rsa_bits=rsa_bits)
        arn: str = self.acm.import_certificate(Certificate=cert, PrivateKey=key, Tags=_tags({"Name": domain}))[
            "CertificateArn"
        ]
        return arn

    def web_acl(self, name: str) -> str:
        """A regional WAFv2 web ACL with the AWS managed common rule set."""
        arn: str = self.wafv2.create_web_acl(
            Name=name,
            Scope="REGIONAL",
            DefaultAction={"Allow": {}},
            Rules=[
                {
                    "Name": "AWSManagedRulesCommonRuleSet",
                    "Priority": 0,
                    "Statement": {
                        "ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}
                    },
                    "OverrideAction": {"None": {}},
                    "VisibilityConfig": {
                        "SampledRequestsEnabled": True,
                        "CloudWatchMetricsEnabled": True,
                        "MetricName": f"{name}-common",
                    },
                }
            ],
            VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name},
        )["Summary"]["ARN"]
        return arn

    # ------------------------------------------------------------------ security groups

    def _security_group(self, name: str, description: str, vpc_id: str, tags: dict[str, str]) -> str:
        group_id: str = self.ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=vpc_id,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": _tags(tags)}],
        )["GroupId"]
        return group_id

    def _open(self, group_id: str, ports: Iterable[int], cidrs: Sequence[str], protocol: str = "tcp") -> None:
        permissions = [
            {
                "IpProtocol": protocol,
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": c} for c in cidrs if ":" not in c],
                "Ipv6Ranges": [{"CidrIpv6": c} for c in cidrs if ":" in c],
            }
            for port in sorted(set(ports))
        ]
        if permissions:
            self.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=permissions)

    def backend_security_group(self, cluster: str, vpc_id: str) -> str:
        """The controller's shared backend SG of a cluster, created once (``k8s-traffic-<cluster>-<hash>``)."""
        if cluster not in self._backend_sgs:
            self._backend_sgs[cluster] = self._security_group(
                f"k8s-traffic-{_clean(cluster)[:15]}-{short_hash(cluster, vpc_id)}".lower(),
                "[k8s] Shared Backend SecurityGroup for LoadBalancer",
                vpc_id,
                {"elbv2.k8s.aws/cluster": cluster, "elbv2.k8s.aws/resource": "backend-sg"},
            )
        return self._backend_sgs[cluster]

    # ------------------------------------------------------------------ the AWS Load Balancer Controller: Ingress

    def reconcile_ingress_group(
        self,
        cluster: str,
        members: Sequence[JsonObj],
        services: dict[tuple[str, str], ServiceFacts],
        network: Network,
    ) -> Provisioned:
        """Create the ALB of one IngressGroup (explicit ``group.name`` or a single Ingress) as LBC does."""
        first = members[0]["metadata"]
        ann = _merged_annotations(members)
        group = ann.get(ALB + "group.name")
        stack = group or f"{first['namespace']}/{first['name']}"
        scheme = ann.get(ALB + "scheme", "internal")
        target_type = ann.get(ALB + "target-type", "instance")
        certs = [c.strip() for m in members for c in _ann(m, ALB + "certificate-arn").split(",") if c.strip()]
        certs = list(dict.fromkeys(certs))
        listen = _listen_ports(ann.get(ALB + "listen-ports"), has_cert=bool(certs))
        redirect = ann.get(ALB + "ssl-redirect")
        ssl_policy = ann.get(ALB + "ssl-policy", LBC_DEFAULT_SSL_POLICY)
        cidrs = [c.strip() for c in ann.get(ALB + "inbound-cidrs", "0.0.0.0/0").split(",") if c.strip()]
        name = lbc_group_name(group, cluster, scheme) if group else lbc_name(first["namespace"], first["name"], scheme)
        base_tags = {"elbv2.k8s.aws/cluster": cluster, "ingress.k8s.aws/stack": stack}
        user_tags = dict(pair.split("=", 1) for pair in ann.get(ALB + "tags", "").split(",") if "=" in pair)

        managed_sg = self._security_group(
            name,
            "[k8s] Managed SecurityGroup for LoadBalancer",
            network.vpc_id,
            {**base_tags, "ingress.k8s.aws/resource": "ManagedLBSecurityGroup"},
        )
        self._open(managed_sg, (port for _, port in listen), cidrs)
        backend_sg = self.backend_security_group(cluster, network.vpc_id)
        lb = self.elbv2.create_load_balancer(
            Name=name,
            Subnets=network.subnet_ids,
            SecurityGroups=[managed_sg, backend_sg],
            Scheme=scheme,
            Type="application",
            IpAddressType="ipv4",
            Tags=_tags({**user_tags, **base_tags, "ingress.k8s.aws/resource": "LoadBalancer"}),
        )["LoadBalancers"][0]
        made = Provisioned(arn=lb["LoadBalancerArn"], name=name, dns_name=lb["DNSName"])
        attributes = [
            {"Key": key.strip(), "Value": value.strip()}
            for key, sep, value in (p.partition("=") for p in ann.get(ALB + "load-balancer-attributes", "").split(","))
            if sep and key.strip()
        ]
        if attributes:  # as the controller applies the annotation
            self.elbv2.modify_load_balancer_attributes(LoadBalancerArn=made.arn, Attributes=attributes)

        # One target group per (Ingress, Service, port) backend.
        tg_of: dict[tuple[str, str, str, int | str], str] = {}
        routes: list[tuple[str | None, list[str], str]] = []  # (host, path patterns, target group ARN)
        for member in members:
            meta = member["metadata"]
            ns = meta["namespace"]
            for host, path, path_type, svc_name, port_ref in _ingress_paths(member):
                key = (ns, meta["name"], svc_name, port_ref)
                if key not in tg_of:
                    facts = services[(ns, svc_name)]
                    svc_port = facts.port(port_ref)
                    tg = self._target_group(
                        lbc_name(ns, svc_name, meta["name"], str(svc_port["port"]), cluster),
                        protocol="HTTP",
                        facts=facts,
                        port=svc_port,
                        target_type=target_type,
                        network=network,
                        health_path=ann.get(ALB + "healthcheck-path", "/"),
                        tags={
                            **base_tags,
                            "ingress.k8s.aws/resource": f"{ns}/{meta['name']}-{svc_name}:{svc_port['port']}",
                        },
                    )
                    tg_of[key] = tg.arn
                    made.target_groups.append(tg)
                routes.append((host, _path_patterns(path, path_type), tg_of[key]))

        for protocol, port in listen:
            if protocol == "HTTP" and redirect is not None:
                actions: list[JsonObj] = [
                    {
                        "Type": "redirect",
                        "RedirectConfig": {"Protocol": "HTTPS", "Port": str(redirect), "StatusCode": "HTTP_301"},
                    }
                ]
                listener_routes: list[tuple[str | None, list[str], str]] = []
            else:
                actions = [
                    {
                        "Type": "fixed-response",
                        "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
                    }
                ]
                listener_routes = routes
            params: JsonObj = {
                "LoadBalancerArn": made.arn,
                "Protocol": protocol,
                "Port": port,
                "DefaultActions": actions,
                "Tags": _tags({**base_tags, "ingress.k8s.aws/resource": str(port)}),
            }
            if protocol == "HTTPS":
                params["SslPolicy"] = ssl_policy
                params["Certificates"] = [{"CertificateArn": certs[0]}] if certs else []
            listener_arn = self.elbv2.create_listener(**params)["Listeners"][0]["ListenerArn"]
            made.listener_arns[port] = listener_arn
            if protocol == "HTTPS" and len(certs) > 1:
                self.elbv2.add_listener_certificates(
                    ListenerArn=listener_arn, Certificates=[{"CertificateArn": c} for c in certs[1:]]
                )
            for priority, (host, patterns, tg_arn) in enumerate(listener_routes, start=1):
                conditions: list[JsonObj] = [{"Field": "path-pattern", "PathPatternConfig": {"Values": patterns}}]
                if host:
                    conditions.insert(0, {"Field": "host-header", "HostHeaderConfig": {"Values": [host]}})
                self.elbv2.create_rule(
                    ListenerArn=listener_arn,
                    Priority=priority,
                    Conditions=conditions,
                    Actions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
                    Tags=_tags({**base_tags, "ingress.k8s.aws/resource": f"{port}:{priority}"}),
                )

        acl = ann.get(ALB + "wafv2-acl-arn")
        if acl and acl != "none":
            self.wafv2.associate_web_acl(WebACLArn=acl, ResourceArn=made.arn)
        log.debug("ALB %s made for %s", name, stack)
        return made

    # ------------------------------------------------------------------ the AWS Load Balancer Controller: Gateway

    def reconcile_gateway(
        self,
        cluster: str,
        gateway: JsonObj,
        routes: Sequence[JsonObj],
        services: dict[tuple[str, str], ServiceFacts],
        network: Network,
        config: JsonObj | None = None,
        *,
        target_type: str = "ip",
    ) -> Provisioned:
        """Create the load balancer of one Gateway as the controller's Gateway support does (facts §10): an ALB for
        class gateway.k8s.aws/alb (HTTPRoutes -> listener rules, default action a fixed 404), an NLB for
        gateway.k8s.aws/nlb (a TCPRoute per listener -> its default forward), tagged
        ``gateway.k8s.aws.<alb|nlb>/stack`` = ``<namespace>/<name>``; scheme, certificates, TLS policy and web ACL
        from the LoadBalancerConfiguration."""
        meta, spec = gateway["metadata"], gateway["spec"]
        ns, gw_name = meta["namespace"], meta["name"]
        kind = "nlb" if any(li["protocol"] in ("TCP", "UDP", "TLS") for li in spec["listeners"]) else "alb"
        cfg = config or {}
        scheme = cfg.get("scheme", "internal")
        name = lbc_name(ns, gw_name, cluster, scheme)
        base_tags = {"elbv2.k8s.aws/cluster": cluster, f"gateway.k8s.aws.{kind}/stack": f"{ns}/{gw_name}"}
        managed_sg = self._security_group(
            name,
            "[k8s] Managed SecurityGroup for LoadBalancer",
            network.vpc_id,
            {**base_tags, f"gateway.k8s.aws.{kind}/resource": "ManagedLBSecurityGroup"},
        )
        self._open(managed_sg, (int(li["port"]) for li in spec["listeners"]), cfg.get("sourceRanges") or ["0.0.0.0/0"])
        lb = self.elbv2.create_load_balancer(
            Name=name,
            Subnets=network.subnet_ids,
            SecurityGroups=[managed_sg, self.backend_security_group(cluster, network.vpc_id)],
            Scheme=scheme,
            Type="network" if kind == "nlb" else "application",
            Tags=_tags({**base_tags, f"gateway.k8s.aws.{kind}/resource": "LoadBalancer"}),
        )["LoadBalancers"][0]
        made = Provisioned(arn=lb["LoadBalancerArn"], name=name, dns_name=lb["DNSName"])
        listener_cfg = {e["protocolPort"]: e for e in cfg.get("listenerConfigurations", [])}

        tg_of: dict[tuple[str, str, int], str] = {}

        def target_group(route_ns: str, svc_name: str, port: int, protocol: str) -> str:
            key = (route_ns, svc_name, port)
            if key not in tg_of:
                facts = services[(route_ns, svc_name)]
                tg = self._target_group(
                    lbc_name(route_ns, svc_name, gw_name, str(port), cluster),
                    protocol=protocol,
                    facts=facts,
                    port=facts.port(port),
                    target_type=target_type,
                    network=network,
                    health_path="/" if protocol == "HTTP" else None,
                    tags={**base_tags, f"gateway.k8s.aws.{kind}/resource": f"{route_ns}/{svc_name}:{port}"},
                )
                tg_of[key] = tg.arn
                made.target_groups.append(tg)
            return tg_of[key]

        for listener in spec["listeners"]:
            protocol, port = listener["protocol"], int(listener["port"])
            attached = [
                r
                for r in routes
                if any(
                    p["name"] == gw_name and p.get("sectionName") in (None, listener["name"])
                    for p in r["spec"]["parentRefs"]
                )
            ]
            params: JsonObj = {
                "LoadBalancerArn": made.arn,
                "Protocol": protocol,
                "Port": port,
                "Tags": _tags({**base_tags, f"gateway.k8s.aws.{kind}/resource": str(port)}),
            }
            entry = listener_cfg.get(f"{protocol}:{port}", {})
            if protocol in ("HTTPS", "TLS"):
                params["SslPolicy"] = entry.get("sslPolicy", LBC_DEFAULT_SSL_POLICY)
                cert = entry.get("defaultCertificate")
                params["Certificates"] = [{"CertificateArn": cert}] if cert else []
            if kind == "nlb":
                route = attached[0]
                backend = route["spec"]["rules"][0]["backendRefs"][0]
                params["DefaultActions"] = [
                    {
                        "Type": "forward",
                        "TargetGroupArn": target_group(
                            route["metadata"]["namespace"], backend["name"], int(backend["port"]), "TCP"
                        ),
                    }
                ]
                made.listener_arns[port] = self.elbv2.create_listener(**params)["Listeners"][0]["ListenerArn"]
                continue
            params["DefaultActions"] = [
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}
            ]
            listener_arn = self.elbv2.create_listener(**params)["Listeners"][0]["ListenerArn"]
            made.listener_arns[port] = listener_arn
            for priority, route in enumerate(attached, start=1):
                rule = route["spec"]["rules"][0]
                hosts = route["spec"].get("hostnames") or []
                conditions: list[JsonObj] = [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/*"]}}]
                if hosts:
                    conditions.insert(0, {"Field": "host-header", "HostHeaderConfig": {"Values": hosts}})
                redirect = next((f for f in rule.get("filters", []) if f["type"] == "RequestRedirect"), None)
                if redirect is not None:
                    actions: list[JsonObj] = [
                        {
                            "Type": "redirect",
                            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
                        }
                    ]
                else:
                    backend = rule["backendRefs"][0]
                    tg_arn = target_group(route["metadata"]["namespace"], backend["name"], int(backend["port"]), "HTTP")
                    actions = [{"Type": "forward", "TargetGroupArn": tg_arn}]
                self.elbv2.create_rule(
                    ListenerArn=listener_arn,
                    Priority=priority,
                    Conditions=conditions,
                    Actions=actions,
                    Tags=_tags({**base_tags, f"gateway.k8s.aws.{kind}/resource": f"{port}:{priority}"}),
                )
        acl = (cfg.get("wafV2") or {}).get("webACL")
        if acl:
            self.wafv2.associate_web_acl(WebACLArn=acl, ResourceArn=made.arn)
        log.debug("%s %s made for Gateway %s/%s", kind.upper(), name, ns, gw_name)
        return made

    def leaked_gateway_alb(self, cluster: str, namespace: str, gateway_name: str, network: Network) -> Provisioned:
        """The ALB of a Gateway deleted while the controller was down: tagged for it, listeners left, nothing behind."""
        name = lbc_name(namespace, gateway_name, cluster, "internal")
        base_tags = {"elbv2.k8s.aws/cluster": cluster, "gateway.k8s.aws.alb/stack": f"{namespace}/{gateway_name}"}
        lb = self.elbv2.create_load_balancer(
            Name=name,
            Subnets=network.subnet_ids,
            SecurityGroups=[self.backend_security_group(cluster, network.vpc_id)],
            Scheme="internal",
            Type="application",
            Tags=_tags({**base_tags, "gateway.k8s.aws.alb/resource": "LoadBalancer"}),
        )["LoadBalancers"][0]
        self.elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTP",
            Port=80,
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}
            ],
        )
        return Provisioned(arn=lb["LoadBalancerArn"], name=name, dns_name=lb["DNSName"])

    def redirect_http(self, made: Provisioned, http_port: int, https_port: int) -> None:
        """What LBC does when ``ssl-redirect`` is added: the HTTP listener becomes one redirect, its rules go."""
        listener_arn = made.listener_arns[http_port]
        for rule in self.elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]:
            if not rule.get("IsDefault"):
                self.elbv2.delete_rule(RuleArn=rule["RuleArn"])
        self.elbv2.modify_listener(
            ListenerArn=listener_arn,
            DefaultActions=[
                {
                    "Type": "redirect",
                    "RedirectConfig": {"Protocol": "HTTPS", "Port": str(https_port), "StatusCode": "HTTP_301"},
                }
            ],
        )

    def _target_group(
        self,
        name: str,
        *,
        protocol: str,
        facts: ServiceFacts,
        port: JsonObj,
        target_type: str,
        network: Network,
        health_path: str | None,
        tags: dict[str, str],
        register: bool = True,
    ) -> TargetGroupMade:
        ip_mode = target_type == "ip"
        target_port = int(port.get("targetPort") or port["port"]) if ip_mode else int(port["nodePort"])
        params: JsonObj = {
            "Name": name,
            "Protocol": protocol,
            "Port": target_port,
            "VpcId": network.vpc_id,
            "TargetType": target_type,
            "Tags": _tags(tags),
        }
        if health_path is not None:
            params["HealthCheckPath"] = health_path
        arn: str = self.elbv2.create_target_group(**params)["TargetGroups"][0]["TargetGroupArn"]
        targets = (
            [{"Id": ip, "Port": target_port} for ip in facts.ready_ips]
            if ip_mode
            else [{"Id": node, "Port": target_port} for node in network.node_ids]
        )
        if register and targets:
            self.elbv2.register_targets(TargetGroupArn=arn, Targets=targets)
        return TargetGroupMade(
            arn=arn,
            name=name,
            namespace=facts.namespace,
            service=facts.name,
            port=int(port["port"]),
            target_type=target_type,
        )

    # ------------------------------------------------------------------ Services: LBC NLB, in-tree NLB / CLB

    def traffic(self, *, idle: set[str], days: int = 14) -> int:
        """A day of CloudWatch metrics for each of the last ``days`` days for every load balancer of the region
        but the ``idle`` ones (ARNs), which get none: metrics exist only while traffic flows; and the public
        load balancers' network interfaces. Returns how many load balancers got traffic."""
        today = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        busy: list[tuple[str, str, str, list[tuple[str, float]]]] = []
        for page in self.elbv2.get_paginator("describe_load_balancers").paginate():
            for lb in page["LoadBalancers"]:
                if lb["LoadBalancerArn"] in idle:
                    continue
                dimension = lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1]
                if lb["Type"] == "network":
                    metrics = [("NewFlowCount", 8000.0), ("ConsumedLCUs", 0.2), ("ProcessedBytes", 3.0 * 1024**3)]
                    busy.append(("AWS/NetworkELB", "LoadBalancer", dimension, metrics))
                else:
                    metrics = [("RequestCount", 25000.0), ("ConsumedLCUs", 0.6), ("ProcessedBytes", 2.0 * 1024**3)]
                    busy.append(("AWS/ApplicationELB", "LoadBalancer", dimension, metrics))
                    self._target_group_requests(lb["LoadBalancerArn"], dimension, today, days)
        for desc in self.elb.describe_load_balancers()["LoadBalancerDescriptions"]:
            name = desc["LoadBalancerName"]
            if f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:loadbalancer/{name}" in idle:
                continue
            busy.append(
                (
                    "AWS/ELB",
                    "LoadBalancerName",
                    name,
                    [("RequestCount", 3000.0), ("EstimatedProcessedBytes", 1024.0**3)],
                )
            )
        self._network_interfaces()
        for namespace, dimension, value, metrics in busy:
            data = [
                {
                    "MetricName": metric,
                    "Dimensions": [{"Name": dimension, "Value": value}],
                    "Timestamp": today - dt.timedelta(days=day),
                    "Value": amount,
                }
                for metric, amount in metrics
                for day in range(1, days + 1)
            ]
            self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
        return len(busy)

    def target_health(self) -> int:
        """What ELB publishes each minute while health checks run and moto never does: every target group's
        HealthyHostCount per load balancer (dimensions TargetGroup + LoadBalancer, the namespace of the load
        balancer's type), stamped now, as many as moto's DescribeTargetHealth calls healthy — every registered
        target; a group without registered targets (nothing to check) gets none; and every Classic load balancer's
        with registered instances (dimension LoadBalancerName, its InService instances). An audit within the
        auditor's 5-minute window reads these instead of describing them; a later one describes them (the same
        verdicts). Returns how many target groups and Classic load balancers got a data point."""
        types = {
            lb["LoadBalancerArn"]: lb["Type"]
            for page in self.elbv2.get_paginator("describe_load_balancers").paginate()
            for lb in page["LoadBalancers"]
        }
        namespaces = {"application": "AWS/ApplicationELB", "network": "AWS/NetworkELB"}
        now = dt.datetime.now(dt.UTC)
        data: dict[str, list[JsonObj]] = {}
        published = 0
        for page in self.elbv2.get_paginator("describe_target_groups").paginate():
            for tg in page["TargetGroups"]:
                lbs = [arn for arn in tg.get("LoadBalancerArns", []) if types.get(arn) in namespaces]
                if not lbs:
                    continue
                health = self.elbv2.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
                states = [d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]]
                if not states:
                    continue
                published += 1
                for lb_arn in lbs:
                    dimensions = [
                        {"Name": "TargetGroup", "Value": tg["TargetGroupArn"].split(":", 5)[-1]},
                        {"Name": "LoadBalancer", "Value": lb_arn.split(":loadbalancer/", 1)[1]},
                    ]
                    data.setdefault(namespaces[types[lb_arn]], []).append(
                        {
                            "MetricName": "HealthyHostCount",
                            "Dimensions": dimensions,
                            "Timestamp": now,
                            "Value": float(states.count("healthy")),
                        }
                    )
        # Classic: per load balancer (dimension LoadBalancerName), as many as DescribeInstanceHealth calls InService
        for desc in self.elb.describe_load_balancers()["LoadBalancerDescriptions"]:
            if not desc.get("Instances"):
                continue
            health = self.elb.describe_instance_health(LoadBalancerName=desc["LoadBalancerName"])
            in_service = sum(1 for state in health["InstanceStates"] if state.get("State") == "InService")
            published += 1
            data.setdefault("AWS/ELB", []).append(
                {
                    "MetricName": "HealthyHostCount",
                    "Dimensions": [{"Name": "LoadBalancerName", "Value": desc["LoadBalancerName"]}],
                    "Timestamp": now,
                    "Value": float(in_service),
                }
            )
        for namespace, points in data.items():
            for start in range(0, len(points), 1000):  # PutMetricData takes at most 1,000 data points
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=points[start : start + 1000])
        return published

    def _target_group_requests(self, lb_arn: str, lb_dimension: str, today: dt.datetime, days: int) -> None:
        """RequestCount per target group of an ALB (unequal: the first serves least), as CloudWatch reports it
        with the dimensions TargetGroup and LoadBalancer."""
        try:
            groups = self.elbv2.describe_target_groups(LoadBalancerArn=lb_arn)["TargetGroups"]
        except self.elbv2.exceptions.TargetGroupNotFoundException:  # moto's answer for an ALB without any
            groups = []
        for n, tg in enumerate(sorted(groups, key=lambda g: g["TargetGroupArn"]), start=1):
            dimensions = [
                {"Name": "TargetGroup", "Value": tg["TargetGroupArn"].split(":", 5)[-1]},
                {"Name": "LoadBalancer", "Value": lb_dimension},
            ]
            data = [
                {
                    "MetricName": "RequestCount",
                    "Dimensions": dimensions,
                    "Timestamp": today - dt.timedelta(days=day),
                    "Value": 1000.0 * n,
                }
                for day in range(1, days + 1)
            ]
            self.cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=data)

    def _network_interfaces(self) -> None:
        """What ELB makes in each subnet of an internet-facing load balancer and moto does not: a network
        interface described ``ELB app/<name>/<id>`` (Classic: ``ELB <name>``) holding a public IPv4 address,
        which the auditor counts for the address charge. Idempotent: a load balancer that has them is skipped."""
        have = {
            eni.get("Description", "")
            for page in self.ec2.get_paginator("describe_network_interfaces").paginate()
            for eni in page["NetworkInterfaces"]
        }
        wanted: list[tuple[str, list[str]]] = []
        for page in self.elbv2.get_paginator("describe_load_balancers").paginate():
            for lb in page["LoadBalancers"]:
                if lb["Scheme"] == "internet-facing":
                    subnets = [z["SubnetId"] for z in lb.get("AvailabilityZones", []) if z.get("SubnetId")]
                    wanted.append(("ELB " + lb["LoadBalancerArn"].split(":loadbalancer/", 1)[1], subnets))
        for desc in self.elb.describe_load_balancers()["LoadBalancerDescriptions"]:
            if desc.get("Scheme") == "internet-facing":
                wanted.append((f"ELB {desc['LoadBalancerName']}", list(desc.get("Subnets", []))))
        for description, subnets in wanted:
            if description in have:
                continue
            for subnet in subnets:
                eni = self.ec2.create_network_interface(SubnetId=subnet, Description=description)
                address = self.ec2.allocate_address(Domain="vpc")["AllocationId"]
                self.ec2.associate_address(
                    AllocationId=address, NetworkInterfaceId=eni["NetworkInterface"]["NetworkInterfaceId"]
                )

    def reconcile_service(
        self, cluster: str, facts: ServiceFacts, network: Network, *, register_targets: bool = True
    ) -> Provisioned:
        """Create the load balancer of a ``type: LoadBalancer`` Service as whichever controller takes it would."""
        spec = facts.manifest["spec"]
        ann: dict[str, str] = facts.manifest["metadata"].get("annotations") or {}
        lb_type = ann.get(SVC + "aws-load-balancer-type")
        if spec.get("loadBalancerClass") == LBC_SERVICE_CLASS or lb_type in ("external", "nlb-ip"):
            return self._lbc_nlb(cluster, facts, network, ann, register_targets=register_targets)
        if lb_type == "nlb":
            return self._in_tree_nlb(cluster, facts, network, ann)
        return self._in_tree_clb(cluster, facts, network, ann)

    def _lbc_nlb(
        self, cluster: str, facts: ServiceFacts, network: Network, ann: dict[str, str], *, register_targets: bool
    ) -> Provisioned:
        ns, svc = facts.namespace, facts.name
        scheme = ann.get(SVC + "aws-load-balancer-scheme", "internal")
        target_type = ann.get(SVC + "aws-load-balancer-nlb-target-type", "instance")
        if ann.get(SVC + "aws-load-balancer-type") == "nlb-ip":
            target_type = "ip"
        name = lbc_name(ns, svc, cluster, scheme)
        base_tags = {"elbv2.k8s.aws/cluster": cluster, "service.k8s.aws/stack": f"{ns}/{svc}"}
        ports = facts.manifest["spec"].get("ports", [])
        cidrs = facts.manifest["spec"].get("loadBalancerSourceRanges") or ["0.0.0.0/0"]
        managed_sg = self._security_group(
            name,
            "[k8s] Managed SecurityGroup for LoadBalancer",
            network.vpc_id,
            {**base_tags, "service.k8s.aws/resource": "ManagedLBSecurityGroup"},
        )
        self._open(managed_sg, (int(p["port"]) for p in ports), cidrs)
        lb = self.elbv2.create_load_balancer(
            Name=name,
            Subnets=network.subnet_ids,
            SecurityGroups=[managed_sg, self.backend_security_group(cluster, network.vpc_id)],
            Scheme=scheme,
            Type="network",
            Tags=_tags({**base_tags, "service.k8s.aws/resource": "LoadBalancer"}),
        )["LoadBalancers"][0]
        made = Provisioned(arn=lb["LoadBalancerArn"], name=name, dns_name=lb["DNSName"])
        ssl_cert = ann.get(SVC + "aws-load-balancer-ssl-cert")
        ssl_ports = {p.strip() for p in ann.get(SVC + "aws-load-balancer-ssl-ports", "*").split(",")}
        for port in ports:
            tg = self._target_group(
                lbc_name(ns, svc, str(port["port"]), cluster),
                protocol="TCP",
                facts=facts,
                port=port,
                target_type=target_type,
                network=network,
                health_path=None,
                tags={**base_tags, "service.k8s.aws/resource": f"{ns}/{svc}:{port['port']}"},
                register=register_targets,
            )
            made.target_groups.append(tg)
            tls = bool(ssl_cert) and (
                "*" in ssl_ports or str(port["port"]) in ssl_ports or port.get("name") in ssl_ports
            )
            params: JsonObj = {
                "LoadBalancerArn": made.arn,
                "Protocol": "TLS" if tls else "TCP",
                "Port": int(port["port"]),
                "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg.arn}],
                "Tags": _tags({**base_tags, "service.k8s.aws/resource": str(port["port"])}),
            }
            if tls:
                params["Certificates"] = [{"CertificateArn": ssl_cert}]
                params["SslPolicy"] = ann.get(SVC + "aws-load-balancer-ssl-negotiation-policy", LBC_DEFAULT_SSL_POLICY)
            made.listener_arns[int(port["port"])] = self.elbv2.create_listener(**params)["Listeners"][0]["ListenerArn"]
        return made

    def _in_tree_nlb(self, cluster: str, facts: ServiceFacts, network: Network, ann: dict[str, str]) -> Provisioned:
        ns, svc = facts.namespace, facts.name
        internal = ann.get(SVC + "aws-load-balancer-internal", "false").lower() not in ("", "false", "0")
        name = in_tree_name(facts.manifest["metadata"]["uid"])
        tags = {f"kubernetes.io/cluster/{cluster}": "owned", "kubernetes.io/service-name": f"{ns}/{svc}"}
        lb = self.elbv2.create_load_balancer(
            Name=name,
            Subnets=network.subnet_ids,
            Scheme="internal" if internal else "internet-facing",
            Type="network",
            Tags=_tags(tags),
        )["LoadBalancers"][0]
        made = Provisioned(arn=lb["LoadBalancerArn"], name=name, dns_name=lb["DNSName"])
        for port in facts.manifest["spec"].get("ports", []):
            tg = self._target_group(
                lbc_name(ns, svc, str(port["nodePort"]), cluster, "in-tree"),
                protocol="TCP",
                facts=facts,
                port=port,
                target_type="instance",
                network=network,
                health_path=None,
                tags=tags,
            )
            made.target_groups.append(tg)
            made.listener_arns[int(port["port"])] = self.elbv2.create_listener(
                LoadBalancerArn=made.arn,
                Protocol="TCP",
                Port=int(port["port"]),
                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg.arn}],
            )["Listeners"][0]["ListenerArn"]
        return made

    def _in_tree_clb(self, cluster: str, facts: ServiceFacts, network: Network, ann: dict[str, str]) -> Provisioned:
        ns, svc = facts.namespace, facts.name
        internal = ann.get(SVC + "aws-load-balancer-internal", "false").lower() not in ("", "false", "0")
        name = in_tree_name(facts.manifest["metadata"]["uid"])
        tags = {f"kubernetes.io/cluster/{cluster}": "owned", "kubernetes.io/service-name": f"{ns}/{svc}"}
        ports = facts.manifest["spec"].get("ports", [])
        cidrs = facts.manifest["spec"].get("loadBalancerSourceRanges") or ["0.0.0.0/0"]
        sg = self._security_group(
            f"k8s-elb-{name}", f"Security group for Kubernetes ELB {name} ({ns}/{svc})", network.vpc_id, tags
        )
        self._open(sg, (int(p["port"]) for p in ports), cidrs)
        ssl_cert = ann.get(SVC + "aws-load-balancer-ssl-cert")
        ssl_ports = {p.strip() for p in ann.get(SVC + "aws-load-balancer-ssl-ports", "*").split(",")}
        listeners = []
        for port in ports:
            tls = bool(ssl_cert) and ("*" in ssl_ports or str(port["port"]) in ssl_ports)
            listener: JsonObj = {
                "Protocol": "SSL" if tls else "TCP",
                "LoadBalancerPort": int(port["port"]),
                "InstanceProtocol": "TCP",
                "InstancePort": int(port["nodePort"]),
            }
            if tls:
                listener["SSLCertificateId"] = ssl_cert
            listeners.append(listener)
        dns: str = self.elb.create_load_balancer(
            LoadBalancerName=name,
            Listeners=listeners,
            Subnets=network.subnet_ids,
            SecurityGroups=[sg],
            Scheme="internal" if internal else "internet-facing",
            Tags=_tags(tags),
        )["DNSName"]
        if network.node_ids:
            self.elb.register_instances_with_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in network.node_ids]
            )
        arn = f"arn:aws:elasticloadbalancing:{self.region}:{self.account}:loadbalancer/{name}"
        return Provisioned(arn=arn, name=name, dns_name=dns)


# --------------------------------------------------------------------------- reading Ingress manifests


def _ann(obj: JsonObj, key: str) -> str:
    return str((obj["metadata"].get("annotations") or {}).get(key, ""))


def _merged_annotations(members: Sequence[JsonObj]) -> dict[str, str]:
    """Group-wide annotations: the first member (in group order) that sets a key wins."""
    merged: dict[str, str] = {}
    for member in members:
        for key, value in (member["metadata"].get("annotations") or {}).items():
            merged.setdefault(key, value)
    return merged


def _listen_ports(raw: str | None, *, has_cert: bool) -> list[tuple[str, int]]:
    if raw is None:
        return [("HTTPS", 443)] if has_cert else [("HTTP", 80)]
    return [(proto, int(port)) for item in json.loads(raw) for proto, port in item.items()]


def _ingress_paths(ing: JsonObj) -> list[tuple[str | None, str, str, str, int | str]]:
    """(host, path, pathType, service, port) of every Ingress rule path."""
    found = []
    for rule in ing["spec"].get("rules", []):
        for path in (rule.get("http") or {}).get("paths", []):
            backend = path["backend"]["service"]
            port = backend["port"].get("number", backend["port"].get("name"))
            found.append(
                (rule.get("host"), path.get("path", "/"), path.get("pathType", "Prefix"), backend["name"], port)
            )
    return found


def _path_patterns(path: str, path_type: str) -> list[str]:
    """ALB path patterns of an Ingress path (Prefix /a -> /a and /a/*; Exact stays as is)."""
    if path_type == "Exact" or path == "/*":
        return [path]
    if path in ("", "/"):
        return ["/*"]
    return [path.rstrip("/"), path.rstrip("/") + "/*"]
