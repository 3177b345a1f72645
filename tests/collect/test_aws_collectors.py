"""collect_aws over a seeded moto account: every collector's data comes back correctly typed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import boto3
import pytest

from auditor.collect.aws import all_iam_actions, collect_aws
from auditor.collect.aws.session import CallCounter
from auditor.config import Settings, TargetConfig
from auditor.correlate import reachability
from auditor.correlate.reachability import Openness
from auditor.inventory.models import AwsInventory, Coverage, CoverageStatus
from auditor.progress import ProgressEvent
from tests.collect.test_aws_seed import (
    ACCOUNT,
    CLUSTER,
    LBC_ROLE,
    POD_ROLE,
    REGION,
    Rich,
    controller_kube,
    moto_env,
    network,
    seed_rich,
)


@pytest.fixture(scope="module")
def collected(moto_server) -> Iterator[tuple[Rich, AwsInventory, list[Coverage], CallCounter, list[ProgressEvent]]]:
    """Seeded and collected once for the module: the tests below only read the result."""
    with moto_env(moto_server):
        rich = seed_rich()
        counter = CallCounter()
        events: list[ProgressEvent] = []
        inv, cov = collect_aws(
            TargetConfig(name="t", cluster_name=CLUSTER, regions=[REGION]),
            Settings(),
            counter=counter,
            kube=controller_kube(),
            progress=events.append,
        )
        yield rich, inv, cov, counter, events


def by_name(inv: AwsInventory, name: str):
    return next(lb for lb in inv.load_balancers if lb.name == name)


def test_every_collector_complete(collected):
    _, _, cov, _, events = collected
    assert {(c.collector, c.region, c.status) for c in cov} == {
        *((name, REGION, CoverageStatus.OK) for name in ("elbv2", "elb", "acm", "wafv2", "ec2", "eks", "cloudwatch")),
        ("iam", None, CoverageStatus.OK),
        ("pricing", None, CoverageStatus.OK),
        ("costexplorer", None, CoverageStatus.OK),
    }
    assert all(c.account == ACCOUNT and c.calls > 0 for c in cov)
    # each collector reports its start and its end with counts
    ends = {e.stage: e for e in events if e.status != "running"}
    assert set(ends) == {f"aws:{c.collector}" for c in cov}
    assert "2 load balancers" in ends["aws:elbv2"].message
    assert ends["aws:elbv2"].total == 10


def test_application_load_balancer(collected):
    r, inv, *_ = collected
    alb = by_name(inv, "web")
    assert (alb.type, alb.scheme, alb.arn, alb.security_group_ids) == (
        "application",
        "internet-facing",
        r.alb,
        [r.sg_alb],
    )
    assert alb.tags == {"elbv2.k8s.aws/cluster": CLUSTER, "ingress.k8s.aws/stack": "shop/web"}
    listeners = {listener.port: listener for listener in alb.listeners}
    http, https = listeners[80], listeners[443]
    assert http.default_actions[0].type == "redirect"
    assert http.default_actions[0].redirect.protocol == "HTTPS"
    assert http.certificate_arns == [] and http.ssl_policy is None
    assert https.ssl_policy == "ELBSecurityPolicy-2016-08"
    assert https.certificate_arns == [r.rsa_cert, r.ec_cert]  # default first, then SNI
    hosts = {rule.priority: rule.conditions[0].values for rule in https.rules if not rule.is_default}
    assert hosts == {"10": ["app.example.com"], "20": ["api.example.com"]}
    default = next(rule for rule in https.rules if rule.is_default)
    assert default.actions[0].fixed_response_status == "404"
    assert next(rule for rule in https.rules if rule.priority == "10").actions[0].target_group_arns == [r.tg_web]


def test_network_load_balancer_typed_from_api_not_arn(collected):
    r, inv, *_ = collected
    nlb = by_name(inv, "tcp")
    assert "/app/" in nlb.arn  # moto's wrong ARN shape...
    assert nlb.type == "network"  # ...does not fool the collector
    assert nlb.scheme == "internal"
    tls = next(listener for listener in nlb.listeners if listener.protocol == "TLS")
    assert tls.certificate_arns == [r.ec_cert]
    assert tls.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert all(listener.rules is None for listener in nlb.listeners)  # not applicable to NLBs


def test_classic_load_balancer(collected):
    r, inv, *_ = collected
    clb = by_name(inv, "legacy-clb")
    assert clb.type == "classic"
    assert clb.arn == f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/legacy-clb"
    assert clb.tags["kubernetes.io/service-name"] == "legacy/app"
    https = next(listener for listener in clb.listeners if listener.port == 443)
    assert (https.protocol, https.ssl_policy, https.certificate_arns, https.instance_port) == (
        "HTTPS",
        "ELBSecurityPolicy-2016-08",
        [r.rsa_cert],
        30080,
    )
    tcp = next(listener for listener in clb.listeners if listener.port == 22)
    assert tcp.ssl_policy is None and tcp.certificate_arns == []
    assert sorted(i.id for i in clb.instances) == sorted(r.instance_ids)
    assert {i.state for i in clb.instances} == {"InService"}


def test_a_classic_custom_policy_states_the_protocols_it_enables(aws):
    """A custom negotiation policy (no Reference-Security-Policy), here named like a strong predefined one: its
    Protocol-* attributes are read, so the rule rates what it enables rather than its name."""
    net = network()
    elb = boto3.client("elb", region_name=REGION)
    cert = boto3.client("acm", region_name=REGION).request_certificate(DomainName="x.example.com")["CertificateArn"]
    ssl = {"Protocol": "SSL", "LoadBalancerPort": 443, "InstanceProtocol": "TCP", "InstancePort": 30443}
    elb.create_load_balancer(
        LoadBalancerName="custom-tls", Listeners=[ssl | {"SSLCertificateId": cert}], Subnets=[net.subnets[0]]
    )
    on = [{"AttributeName": f"Protocol-{p}", "AttributeValue": "true"} for p in ("TLSv1", "TLSv1.2")]
    off = [{"AttributeName": f"Protocol-{p}", "AttributeValue": "false"} for p in ("SSLv3", "TLSv1.1")]
    elb.create_load_balancer_policy(
        LoadBalancerName="custom-tls",
        PolicyName="ELBSecurityPolicy-TLS-1-2-2017-01",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=on + off,
    )
    elb.set_load_balancer_policies_of_listener(
        LoadBalancerName="custom-tls", LoadBalancerPort=443, PolicyNames=["ELBSecurityPolicy-TLS-1-2-2017-01"]
    )
    inv, _ = collect_aws(TargetConfig(name="t", regions=[REGION]), Settings(), counter=CallCounter())
    [listener] = by_name(inv, "custom-tls").listeners
    assert listener.ssl_policy == "ELBSecurityPolicy-TLS-1-2-2017-01" and listener.ssl_protocols == ["TLSv1", "TLSv1.2"]


def test_load_balancers_name_their_subnets(collected):
    r, inv, *_ = collected
    alb = next(lb for lb in inv.load_balancers if lb.arn == r.alb)
    assert alb.subnet_ids and set(alb.subnet_ids) <= set(r.net.subnets)
    assert by_name(inv, "legacy-clb").subnet_ids == []  # Classic: not read (no ip targets)


def test_target_groups(collected):
    r, inv, *_ = collected
    tgs = {tg.name: tg for tg in inv.target_groups}
    web, db = tgs["web"], tgs["db"]
    assert web.load_balancer_arns == [r.alb]
    assert web.health_check_path == "/healthz"
    assert web.health_check_port == "traffic-port"  # the API's default: NetworkPolicy must admit the traffic port
    assert web.tags == {"service.k8s.aws/stack": "shop/web"}
    assert sorted(t.id for t in web.targets) == sorted(r.instance_ids)
    assert (db.target_type, db.protocol, db.port) == ("ip", "TCP", 5432)
    assert [(t.id, t.port, t.state) for t in db.targets] == [("10.0.0.10", 5432, "healthy")]


def test_certificates_of_every_key_type(collected):
    r, inv, *_ = collected
    certs = {c.arn: c for c in inv.certificates}
    rsa_cert, ec_cert = certs[r.rsa_cert], certs[r.ec_cert]
    assert rsa_cert.key_algorithm == "RSA_2048"
    assert ec_cert.key_algorithm == "EC_prime256v1"  # only listed when keyTypes names EC keys
    assert rsa_cert.type == "IMPORTED" and rsa_cert.status == "ISSUED"
    assert rsa_cert.subject_alternative_names == ["app.example.com", "www.example.com"]
    days_left = (rsa_cert.not_after - dt.datetime.now(dt.UTC)).days
    assert 3 <= days_left <= 5
    assert rsa_cert.in_use is True
    # described once, by elbv2 (which load balancers serve it: SNI without DescribeListenerCertificates)
    clb = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/legacy-clb"
    assert rsa_cert.in_use_by == sorted([r.alb, clb])


def test_certificate_with_more_names_than_the_summary_is_described(collected):
    r, inv, _, counter, _ = collected
    many = next(c for c in inv.certificates if c.arn == r.many_names_cert)
    assert len(many.subject_alternative_names) == 101
    assert many.in_use_by == [] and many.in_use is False
    # described: the certificates in use (whose InUseBy gives the SNI certificates) and this one, each once
    in_use = sum(1 for c in inv.certificates if c.in_use)
    assert counter.snapshot()["acm:DescribeCertificate"] == in_use + 1


def test_web_acls(collected):
    r, inv, *_ = collected
    acls = {a.arn: a for a in inv.web_acls}
    assert acls[r.acl_on_alb].resource_arns == [r.alb]
    assert acls[r.acl_unused].resource_arns == []


def test_security_groups_of_load_balancers_only(collected):
    r, inv, *_ = collected
    groups = {g.id: g for g in inv.security_groups}
    assert set(groups) == {r.sg_alb, r.sg_db}  # "unrelated" is not attached to any LB
    db = next(p for p in groups[r.sg_db].ingress if p.from_port == 5432)
    assert db.covers_port(5432) and db.ipv4_ranges == ["0.0.0.0/0"] and not db.covers_port(443)
    # the prefix list the db group refers to is resolved to its entries, and judged through them
    [office] = inv.prefix_lists
    assert (office.id, office.name, office.cidrs, office.account, office.region) == (
        r.pl_office,
        "office",
        ["203.0.113.0/24"],
        ACCOUNT,
        REGION,
    )
    lists = {office.id: office}
    tcp = frozenset({"tcp"})
    assert reachability.security_groups([groups[r.sg_db]], 5432, tcp, lists).judge().openness == Openness.WORLD
    assert reachability.security_groups([groups[r.sg_db]], 6379, tcp, lists).judge().openness == Openness.LIMITED


def test_eks_cluster_and_listing(collected):
    r, inv, *_ = collected
    assert inv.eks_cluster_listings[0].names == ["demo", "other"]
    [cluster] = inv.eks_clusters
    assert (cluster.name, cluster.oidc_issuer, cluster.vpc_id, cluster.auto_mode) == (
        CLUSTER,
        r.issuer,
        r.net.vpc,
        False,
    )
    associations = {(a.namespace, a.service_account): a for a in cluster.pod_identity_associations}
    assert associations[("kube-system", "aws-load-balancer-controller")].role_arn.endswith(f"role/{POD_ROLE}")
    assert associations[("apps", "other")].role_arn is None  # not the controller's: not described
    assert cluster.vpc_cni is not None and cluster.vpc_cni.installed is False  # no vpc-cni add-on: self-managed


def test_iam_controller_identity(collected):
    r, inv, *_ = collected
    providers = {p.arn: p for p in inv.oidc_providers}
    mine = providers[r.oidc_arn]
    assert mine.url == r.issuer.removeprefix("https://")
    assert mine.client_ids == ["sts.amazonaws.com"]
    other = next(p for p in providers.values() if p.arn != r.oidc_arn)
    assert other.url == "oidc.eks.us-east-1.amazonaws.com/id/OTHER"  # from the ARN, not described
    roles = {role.name: role for role in inv.iam_roles}
    assert set(roles) == {LBC_ROLE, POD_ROLE}
    irsa = roles[LBC_ROLE]
    statement = irsa.trust_policy["Statement"][0]
    assert statement["Principal"]["Federated"] == r.oidc_arn
    [attached] = irsa.attached_policies
    assert attached.name == "AWSLoadBalancerControllerIAMPolicy"
    assert attached.document["Statement"][0]["Action"] == "elasticloadbalancing:*"
    assert irsa.inline_policies["extra"]["Statement"][0]["Action"] == "ec2:Describe*"
    assert roles[POD_ROLE].exists is False


def test_every_call_is_declared(collected):
    """A call the collectors did not declare in IAM_ACTIONS would be missing from the shipped policy."""
    *_, counter, _ = collected
    made = set(counter.snapshot())
    assert made  # the collection did call AWS
    assert made <= all_iam_actions(), f"undeclared: {sorted(made - all_iam_actions())}"


def test_without_cluster_name_eks_describe_is_skipped(aws):
    client = boto3.client("eks", region_name=REGION)
    for name in ("demo", "other"):
        client.create_cluster(name=name, roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={})
    inv, cov = collect_aws(TargetConfig(name="t", regions=[REGION]), Settings(), counter=CallCounter())
    eks = next(c for c in cov if c.collector == "eks")
    assert eks.status == CoverageStatus.SKIPPED
    assert inv.eks_clusters == []
    assert inv.eks_cluster_listings[0].names == ["demo", "other"]  # still listed for orphan detection
    # no kube inventory: the chart's default service account is assumed; its Pod Identity role is
    # unknown without a described cluster, so no role is read
    assert inv.iam_roles == []


def test_a_named_cluster_in_no_audited_region_is_a_gap_not_a_complete_audit(aws):
    """cluster_name misspelt, or its region not in the target: every listing was read and none holds it, so the
    identity checks have nothing to stand on; the eks.cluster facet says so and the collection is partial."""
    client = boto3.client("eks", region_name=REGION)
    client.create_cluster(name="other", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks", resourcesVpcConfig={})
    inv, cov = collect_aws(
        TargetConfig(name="t", cluster_name="prod", regions=[REGION]), Settings(), counter=CallCounter()
    )
    eks = next(c for c in cov if c.collector == "eks")
    assert inv.eks_clusters == [] and inv.eks_cluster_listings[0].names == ["other"]
    assert eks.status == CoverageStatus.PARTIAL and eks.error_code == "ClusterNotFound"
    state = eks.facet("eks.cluster")
    assert state.status == CoverageStatus.ERROR
    assert f"cluster prod is not among the EKS clusters of {ACCOUNT}/{REGION}" in (state.message or "")
    assert eks.facet("eks.clusters").status == CoverageStatus.OK  # the listing itself is complete
    # found under its name, nothing is added
    _, cov = collect_aws(
        TargetConfig(name="t", cluster_name="other", regions=[REGION]), Settings(), counter=CallCounter()
    )
    found = next(c for c in cov if c.collector == "eks")
    assert found.status == CoverageStatus.OK, found


def test_default_region_from_settings(aws, monkeypatch):
    monkeypatch.setenv("AUDITOR_AWS__DEFAULT_REGION", "us-west-2")
    inv, cov = collect_aws(TargetConfig(name="t"), Settings(), counter=CallCounter())
    assert {c.region for c in cov} == {"us-west-2", None}
    assert inv.load_balancers == []
