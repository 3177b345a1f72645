"""Fleet benchmark: 20 clusters spread over 2 accounts × 2 regions, audited in one run (issue #11, "fleets").

Each account × region gets ``--lbs`` load balancers (ALBs with an HTTP redirect and a forwarding listener
and a target group, NLBs with a TCP listener, a Classic one) in a moto server; the second account is reached
by AssumeRole, as a real multi-account targets file would. Twenty targets (five per account × region, AWS
only: the clusters' Kubernetes side is not what is shared) are audited one after the other with
``pipeline.run_audit`` — the CLI's ``audit --config`` loop — three ways:

- once per account × region (4 audits): the cost of reading those 4 account-regions once;
- all 20 sharing one ``SharedInventory`` (the default: ``aws.shared_inventory_seconds``);
- all 20 with sharing off (``shared_inventory_seconds: 0``), for contrast.

    python bench/fleet_bench.py              # 50 load balancers per account × region
    python bench/fleet_bench.py --lbs 200
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.collect.aws.shared import SharedInventory
from auditor.config import AccountConfig, Settings, TargetConfig
from auditor.demo.motoserver import MotoServer, free_port, point_boto3_at
from auditor.pipeline import run_audit

REGIONS = ("eu-west-1", "us-east-1")
SECOND_ACCOUNT_ROLE = "arn:aws:iam::210987654321:role/auditor"
ACCOUNTS = (AccountConfig(), AccountConfig(role_arn=SECOND_ACCOUNT_ROLE))
CLUSTERS_PER_ACCOUNT_REGION = 5


def _session(account: AccountConfig, region: str) -> Any:
    import boto3

    if account.role_arn is None:
        return boto3.session.Session(region_name=region)
    creds = boto3.client("sts", region_name=region).assume_role(RoleArn=account.role_arn, RoleSessionName="seed")
    c = creds["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=region,
    )


def seed(lbs: int) -> None:
    redirect = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]
    for account in ACCOUNTS:
        for region in REGIONS:
            s = _session(account, region)
            ec2, elbv2, elb = s.client("ec2"), s.client("elbv2"), s.client("elb")
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnets = [
                ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{region}{z}")["Subnet"][
                    "SubnetId"
                ]
                for i, z in enumerate("ab")
            ]
            for i in range(lbs):
                kind = "classic" if i % 10 == 0 else ("network" if i % 3 == 0 else "application")
                if kind == "classic":
                    elb.create_load_balancer(
                        LoadBalancerName=f"clb-{i}",
                        Listeners=[{"Protocol": "TCP", "LoadBalancerPort": 80, "InstancePort": 30080}],
                        Subnets=subnets,
                    )
                    continue
                lb = elbv2.create_load_balancer(
                    Name=f"{kind[:3]}-{i}", Subnets=subnets, Type=kind, Scheme="internet-facing"
                )["LoadBalancers"][0]["LoadBalancerArn"]
                protocol = "HTTP" if kind == "application" else "TCP"
                tg = elbv2.create_target_group(Name=f"tg-{i}", Protocol=protocol, Port=80, VpcId=vpc)["TargetGroups"][0]
                forward = [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
                elbv2.create_listener(LoadBalancerArn=lb, Protocol=protocol, Port=8080, DefaultActions=forward)
                if kind == "application":
                    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80, DefaultActions=redirect)


def targets() -> list[TargetConfig]:
    return [
        TargetConfig(name=f"c{a}-{region}-{i}", kubernetes=False, regions=[region], accounts=[account])
        for a, account in enumerate(ACCOUNTS)
        for region in REGIONS
        for i in range(CLUSTERS_PER_ACCOUNT_REGION)
    ]


def audit(fleet: list[TargetConfig], seconds: float) -> tuple[int, float, list[int]]:
    settings = Settings.model_validate({"aws": {"shared_inventory_seconds": seconds}})
    shared = SharedInventory(seconds)
    started, per_target = time.perf_counter(), []
    for target in fleet:
        result = run_audit(target, settings, shared=shared).result
        if result.status != "complete":
            raise SystemExit(f"{target.name}: {result.status}: {[c.message for c in result.coverage if c.message]}")
        per_target.append(sum(result.api_calls.values()))
    return sum(per_target), time.perf_counter() - started, per_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=50, help="load balancers per account × region")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    point_boto3_at(port, REGIONS[0])
    with MotoServer(port=port):
        t0 = time.perf_counter()
        seed(args.lbs)
        print(
            f"seeded {len(ACCOUNTS)} accounts × {len(REGIONS)} regions × {args.lbs} load balancers "
            f"in {time.perf_counter() - t0:.1f}s"
        )
        fleet = targets()
        once, once_s, _ = audit(fleet[::CLUSTERS_PER_ACCOUNT_REGION], 0)
        shared, shared_s, per = audit(fleet, 300)
        alone, alone_s, _ = audit(fleet, 0)
    print(f"{'audits':34} {'AWS calls':>9} {'wall s':>7} {'x once':>7}")
    print(f"{'4 account-regions read once':34} {once:9d} {once_s:7.1f} {1:7.2f}")
    print(f"{'20 clusters, shared (default)':34} {shared:9d} {shared_s:7.1f} {shared / once:7.2f}")
    print(f"{'20 clusters, sharing off':34} {alone:9d} {alone_s:7.1f} {alone / once:7.2f}")
    print(f"calls per audit when shared: first of each account-region {per[0]}, the others {sorted(set(per[1:]))}")


if __name__ == "__main__":
    main()
