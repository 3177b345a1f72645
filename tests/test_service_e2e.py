"""End to end: a real `auditor serve` process audits moto + the Kubernetes emulator and answers over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from click.testing import CliRunner

from auditor.cli_service import token
from auditor.demo.kubeapi import KubeApiServer
from auditor.demo.motoserver import MotoServer, free_port

pytestmark = pytest.mark.slow

REGION = "eu-west-1"
CLUSTER = "test"


def seed_aws() -> tuple[str, str]:
    """An ALB made by the controller for Ingress shop/web, HTTP only (no redirect): findings to report."""
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("ab")
    ]
    boto3.client("eks", region_name=REGION).create_cluster(
        name=CLUSTER,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": subnets},
    )
    elbv2 = boto3.client("elbv2", region_name=REGION)
    lb = elbv2.create_load_balancer(
        Name="k8s-shop-web-0123456789",
        Subnets=subnets,
        Scheme="internet-facing",
        Tags=[
            {"Key": "elbv2.k8s.aws/cluster", "Value": CLUSTER},
            {"Key": "ingress.k8s.aws/stack", "Value": "shop/web"},
        ],
    )["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="k8s-shop-web", Protocol="HTTP", Port=80, VpcId=vpc)["TargetGroups"][0]
    elbv2.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}],
    )
    return lb["LoadBalancerArn"], lb["DNSName"]


def seed_kube(kube: KubeApiServer, hostname: str) -> None:
    kube.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
    kube.seed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "IngressClass",
            "metadata": {"name": "alb"},
            "spec": {"controller": "ingress.k8s.aws/alb"},
        }
    )
    kube.seed(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "annotations": {"alb.ingress.kubernetes.io/scheme": "internet-facing"},
            },
            "spec": {
                "ingressClassName": "alb",
                "rules": [
                    {
                        "host": "shop.example.com",
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {"service": {"name": "web", "port": {"number": 80}}},
                                }
                            ]
                        },
                    }
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}},
        }
    )


@pytest.fixture
def server(aws: MotoServer, kube: KubeApiServer, tmp_path: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    _, dns = seed_aws()
    seed_kube(kube, dns)
    config = tmp_path / "targets.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "targets": [
                    {
                        "name": "e2e",
                        "cluster_name": CLUSTER,
                        "kubeconfig": str(kube.kubeconfig),
                        "context": "test",
                        "regions": [REGION],
                    }
                ]
            }
        )
    )
    env = {**os.environ, "AUDITOR_DATABASE_URL": f"sqlite:///{tmp_path}/service.db", "AUDITOR_LOG_LEVEL": "DEBUG"}
    created = CliRunner().invoke(token, ["create", "--name", "e2e", "--scope", "admin"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "auditor.cli_service", "serve", "--port", str(port), "--config", str(config)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()
                try:
                    if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "auditor serve did not become ready:\n" + log_path.read_text()
                time.sleep(0.2)
            yield base, {"Authorization": f"Bearer {secret}"}, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert secret not in log_path.read_text()


def _run(client: httpx.Client) -> dict[str, Any]:
    r = client.post("/api/v1/runs", json={"target": "e2e"})
    assert r.status_code == 202, r.text
    run: dict[str, Any] = r.json()
    assert run["status"] == "running" and r.headers["location"] == f"/api/v1/runs/{run['id']}"
    deadline = time.monotonic() + 90
    while run["status"] == "running":
        assert time.monotonic() < deadline, "run did not finish"
        time.sleep(0.5)
        run = client.get(f"/api/v1/runs/{run['id']}").json()
    return run


def test_serve_runs_an_audit_and_serves_findings_and_reports(server: tuple[str, dict[str, str], Path]) -> None:
    base, auth, _ = server
    assert httpx.get(f"{base}/api/v1/findings").status_code == 401
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        assert [t["name"] for t in client.get("/api/v1/targets").json()] == ["e2e"]
        run = _run(client)
        assert run["status"] in ("complete", "partial"), run
        assert run["aws_calls"] > 0 and run["load_balancers"] == 1
        assert {c["collector"] for c in run["coverage"]} >= {"elbv2", "kubernetes"}

        findings = client.get("/api/v1/findings", params={"cluster": "e2e"}).json()["items"]
        assert findings, "an HTTP-only public ALB must produce findings"
        assert all(f["cluster"] == "e2e" and f["status"] in ("open", "unknown") for f in findings)
        owned = [f for f in findings if f["kubernetes"]]
        assert owned and owned[0]["kubernetes"]["namespace"] == "shop"
        detail = client.get(f"/api/v1/findings/{findings[0]['id']}").json()
        assert detail["history"][0]["run_id"] == run["id"]

        lbs = client.get("/api/v1/load-balancers").json()["items"]
        assert lbs[0]["owner"] == {"kind": "Ingress", "namespace": "shop", "name": "web"}

        second = _run(client)
        assert second["status"] in ("complete", "partial")
        assert second["findings_new"] == 0  # same world, same fingerprints
        report = client.get(f"/api/v1/runs/{second['id']}/report", params={"format": "html"})
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "shop" in report.text
        md = client.get("/api/v1/reports/latest", params={"cluster": "e2e", "format": "markdown"})
        assert md.status_code == 200 and findings[0]["rule_id"] in md.text
        sarif = client.get(f"/api/v1/runs/{second['id']}/report", params={"format": "sarif"}).json()
        assert sarif["version"] == "2.1.0"
        metrics = client.get("/metrics").text
        assert 'auditor_runs_total{cluster="e2e"' in metrics
