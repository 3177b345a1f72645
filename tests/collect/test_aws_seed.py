"""Seeding moto over HTTP for the AWS collector tests (helpers only; the tests live next to it).

Everything is created with plain boto3 through AWS_ENDPOINT_URL, the way a user's resources exist.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from auditor.demo.motoserver import MotoServer
from auditor.inventory.models import ControllerDeployment, KubeInventory, ServiceAccount

REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLUSTER = "demo"
LBC_ROLE = "lbc-irsa"
POD_ROLE = "lbc-pod-identity"
AMI = "ami-12c6146b"  # moto does not validate AMIs (listing them all is slow)
VISIBILITY: Any = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False, "MetricName": "m"}


@contextmanager
def moto_env(server: MotoServer) -> Iterator[MotoServer]:
    """The ``aws`` fixture's environment for module-scoped fixtures (seed once, assert many times)."""
    with pytest.MonkeyPatch.context() as mp:
        server.set_iam_enforcement(False)
        server.reset()
        mp.setenv("AWS_ENDPOINT_URL", server.url)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_MAX_ATTEMPTS", "1")
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("AWS_SESSION_TOKEN", raising=False)
        for key in [k for k in os.environ if k.startswith("AUDITOR_")]:
            mp.delenv(key)
        yield server


def self_signed(cn: str, sans: list[str], *, days: int, key_type: str = "rsa") -> tuple[bytes, bytes]:
    """PEM certificate + key, valid from yesterday for ``days`` days."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = rsa.generate_private_key(65537, 2048) if key_type == "rsa" else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in sans]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), pem_key


@dataclass
class Network:
    vpc: str
    subnets: list[str]


def network(region: str = REGION) -> Network:
    ec2 = boto3.client("ec2", region_name=region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"]["SubnetId"]
        for i, z in enumerate("ab")
    ]
    return Network(vpc, subnets)


@dataclass
class Rich:
    """ARNs and ids of a seeded account, for assertions."""

    net: Network
    alb: str = ""
    nlb: str = ""
    clb: str = "legacy-clb"
    alb_http: str = ""
    alb_https: str = ""
    nlb_tls: str = ""
    tg_web: str = ""
    tg_db: str = ""
    rsa_cert: str = ""
    ec_cert: str = ""
    many_names_cert: str = ""
    sg_alb: str = ""
    sg_db: str = ""
    pl_office: str = ""
    acl_on_alb: str = ""
    acl_unused: str = ""
    issuer: str = ""
    oidc_arn: str = ""
    instance_ids: list[str] = field(default_factory=list)
    association_id: str = ""


def seed_rich(region: str = REGION) -> Rich:
    """One of everything the collectors read, in one account/region."""
    net = network(region)
    r = Rich(net=net)
    ec2 = boto3.client("ec2", region_name=region)
    r.sg_alb = ec2.create_security_group(GroupName="alb", Description="alb", VpcId=net.vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=r.sg_alb,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    r.sg_db = ec2.create_security_group(GroupName="db", Description="db", VpcId=net.vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=r.sg_db,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    r.pl_office = ec2.create_managed_prefix_list(
        PrefixListName="office", AddressFamily="IPv4", MaxEntries=5, Entries=[{"Cidr": "203.0.113.0/24"}]
    )["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(
        GroupId=r.sg_db,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 6379, "ToPort": 6379, "PrefixListIds": [{"PrefixListId": r.pl_office}]}
        ],
    )
    ec2.create_security_group(GroupName="unrelated", Description="not on any LB", VpcId=net.vpc)
    r.instance_ids = [
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=AMI, MinCount=2, MaxCount=2, SubnetId=net.subnets[0])["Instances"]
    ]

    acm = boto3.client("acm", region_name=region)
    cert, key = self_signed("app.example.com", ["app.example.com", "www.example.com"], days=5)
    r.rsa_cert = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    cert, key = self_signed("api.example.com", ["api.example.com"], days=300, key_type="ec")
    r.ec_cert = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
    # more names than a ListCertificates summary carries (100): only this one needs DescribeCertificate
    cert, key = self_signed("many.example.com", [f"h{i}.example.com" for i in range(101)], days=90)
    r.many_names_cert = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]

    elbv2 = boto3.client("elbv2", region_name=region)
    r.alb = elbv2.create_load_balancer(
        Name="web",
        Subnets=net.subnets,
        SecurityGroups=[r.sg_alb],
        Scheme="internet-facing",
        Tags=[
            {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
            {"Key": "ingress.k8s.aws/stack", "Value": "shop/web"},
        ],
    )["LoadBalancers"][0]["LoadBalancerArn"]
    r.nlb = elbv2.create_load_balancer(
        Name="tcp", Subnets=net.subnets, Type="network", Scheme="internal", SecurityGroups=[r.sg_db]
    )["LoadBalancers"][0]["LoadBalancerArn"]
    r.tg_web = elbv2.create_target_group(
        Name="web",
        Protocol="HTTP",
        Port=80,
        VpcId=net.vpc,
        HealthCheckPath="/healthz",
        Tags=[{"Key": "service.k8s.aws/stack", "Value": "shop/web"}],
    )["TargetGroups"][0]["TargetGroupArn"]
    r.tg_db = elbv2.create_target_group(Name="db", Protocol="TCP", Port=5432, VpcId=net.vpc, TargetType="ip")[
        "TargetGroups"
    ][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=r.tg_web, Targets=[{"Id": i, "Port": 80} for i in r.instance_ids])
    elbv2.register_targets(TargetGroupArn=r.tg_db, Targets=[{"Id": "10.0.0.10", "Port": 5432}])
    r.alb_http = elbv2.create_listener(
        LoadBalancerArn=r.alb,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
        ],
    )["Listeners"][0]["ListenerArn"]
    r.alb_https = elbv2.create_listener(
        LoadBalancerArn=r.alb,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-2016-08",
        Certificates=[{"CertificateArn": r.rsa_cert}],
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.add_listener_certificates(ListenerArn=r.alb_https, Certificates=[{"CertificateArn": r.ec_cert}])
    elbv2.create_rule(
        ListenerArn=r.alb_https,
        Priority=10,
        Conditions=[{"Field": "host-header", "Values": ["app.example.com"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": r.tg_web}],
    )
    elbv2.create_rule(
        ListenerArn=r.alb_https,
        Priority=20,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["api.example.com"]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": r.tg_web}],
    )
    r.nlb_tls = elbv2.create_listener(
        LoadBalancerArn=r.nlb,
        Protocol="TLS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": r.ec_cert}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": r.tg_db}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_listener(
        LoadBalancerArn=r.nlb,
        Protocol="TCP",
        Port=5432,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": r.tg_db}],
    )

    elb = boto3.client("elb", region_name=region)
    elb.create_load_balancer(
        LoadBalancerName=r.clb,
        Listeners=[
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": 30080,
                "SSLCertificateId": r.rsa_cert,
            },
            {"Protocol": "TCP", "LoadBalancerPort": 22, "InstanceProtocol": "TCP", "InstancePort": 30022},
        ],
        Subnets=[net.subnets[0]],
        SecurityGroups=[r.sg_db],
        Tags=[
            {"Key": f"kubernetes.io/cluster/{CLUSTER}", "Value": "owned"},
            {"Key": "kubernetes.io/service-name", "Value": "legacy/app"},
        ],
    )
    elb.create_load_balancer_policy(
        LoadBalancerName=r.clb,
        PolicyName="ELBSecurityPolicy-2016-08",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {"AttributeName": "Reference-Security-Policy", "AttributeValue": "ELBSecurityPolicy-2016-08"}
        ],
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName=r.clb, LoadBalancerPort=443, PolicyNames=["ELBSecurityPolicy-2016-08"]
    )
    elb.register_instances_with_load_balancer(
        LoadBalancerName=r.clb, Instances=[{"InstanceId": i} for i in r.instance_ids]
    )

    waf = boto3.client("wafv2", region_name=region)
    r.acl_on_alb = waf.create_web_acl(
        Name="protect", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY
    )["Summary"]["ARN"]
    r.acl_unused = waf.create_web_acl(
        Name="spare", Scope="REGIONAL", DefaultAction={"Allow": {}}, VisibilityConfig=VISIBILITY
    )["Summary"]["ARN"]
    waf.associate_web_acl(WebACLArn=r.acl_on_alb, ResourceArn=r.alb)

    eks = boto3.client("eks", region_name=region)
    cluster = eks.create_cluster(
        name=CLUSTER, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={"subnetIds": net.subnets}
    )["cluster"]
    eks.create_cluster(name="other", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={})
    r.issuer = cluster["identity"]["oidc"]["issuer"]
    r.association_id = eks.create_pod_identity_association(
        clusterName=CLUSTER,
        namespace="kube-system",
        serviceAccount="aws-load-balancer-controller",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/{POD_ROLE}",
    )["association"]["associationId"]
    eks.create_pod_identity_association(
        clusterName=CLUSTER, namespace="apps", serviceAccount="other", roleArn=f"arn:aws:iam::{ACCOUNT}:role/other"
    )

    iam = boto3.client("iam", region_name=region)
    r.oidc_arn = iam.create_open_id_connect_provider(Url=r.issuer, ClientIDList=["sts.amazonaws.com"])[
        "OpenIDConnectProviderArn"
    ]
    iam.create_open_id_connect_provider(Url="https://oidc.eks.us-east-1.amazonaws.com/id/OTHER", ClientIDList=["x"])
    host = r.issuer.removeprefix("https://")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": r.oidc_arn},
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
    iam.create_role(RoleName=LBC_ROLE, AssumeRolePolicyDocument=json.dumps(trust))
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:*", "Resource": "*"}],
    }
    managed = iam.create_policy(PolicyName="AWSLoadBalancerControllerIAMPolicy", PolicyDocument=json.dumps(policy))
    iam.attach_role_policy(RoleName=LBC_ROLE, PolicyArn=managed["Policy"]["Arn"])
    inline = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=LBC_ROLE, PolicyName="extra", PolicyDocument=json.dumps(inline))
    # the Pod Identity role named by the association does not exist: collected as exists=False
    return r


def controller_kube(role_arn: str = f"arn:aws:iam::{ACCOUNT}:role/{LBC_ROLE}") -> KubeInventory:
    """A cluster view with the controller deployment and its IRSA-annotated service account."""
    return KubeInventory(
        controllers=[
            ControllerDeployment(
                namespace="kube-system",
                name="aws-load-balancer-controller",
                image="public.ecr.aws/eks/aws-load-balancer-controller:v2.13.0",
                version="v2.13.0",
                service_account_name="aws-load-balancer-controller",
            )
        ],
        service_accounts=[
            ServiceAccount(
                namespace="kube-system",
                name="aws-load-balancer-controller",
                annotations={"eks.amazonaws.com/role-arn": role_arn},
            ),
            ServiceAccount(
                namespace="apps", name="other", annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/x"}
            ),
        ],
    )
