"""Fleet benchmark: 20 clusters spread over 2 accounts × 2 regions, audited in one run (issue #11, "fleets").

Each account × region gets ``--lbs`` load balancers (ALBs with an HTTP redirect and a forwarding listener
and a target group, NLBs with a TCP listener, a Classic one) in a moto server; the second account is reached
by AssumeRole, as a real multi-account targets file would. Twenty targets (five per account × region, AWS
only: the clusters' Kubernetes side is not what is shared) are audited one after the other with
``pipeline.run_audit`` — the CLI's ``audit --config`` loop — three ways:

- once per account × region (4 audits): the cost of reading those 4 account-regions once;
- all 20 sharing one ``SharedInventory`` (the default: ``aws.shared_inventory_seconds``);
- all 20 with sharing off (``shared_inventory_seconds: 0``), for contrast;
- with ``--replicas N`` (and PostgreSQL: ``--database-url``, default ``AUDITOR_TEST_POSTGRES_URL``), the service
  case: N ``AuditService`` replicas on one fresh PostgreSQL database (dropped afterwards), every replica firing
  every target at the same cron tick as its scheduler does (``AuditScheduler.fire`` on a pool of
  ``max_parallel_runs`` + 1 threads, APScheduler's): each target must be audited exactly once, and the table
  says how the 20 spread over the replicas and what they cost — the replicas share reads through the database
  (``auditor.store.shared_reads``).

    python bench/fleet_bench.py              # 50 load balancers per account × region
    python bench/fleet_bench.py --lbs 200
    python bench/fleet_bench.py --lbs 100 --replicas 3
"""

from __future__ import annotations

import argparse
import logging
import os
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


def service_case(fleet: list[TargetConfig], base_url: str, replicas: int) -> tuple[int, float, list[int]]:
    """``replicas`` services on one new PostgreSQL database fire every target at one tick; (calls, wall, runs per
    replica). Fails loudly unless each target ran exactly once, complete."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    import api_bench

    from auditor.scheduler import AuditScheduler
    from auditor.service import AuditService
    from auditor.store.db import make_engine, session_factory, transaction, upgrade
    from auditor.store.models import RunRow
    from auditor.store.runs import run_result
    from auditor.store.targets import sync_targets

    every_minute = "* * * * *"
    url, name = api_bench.create_database(base_url)
    services: list[AuditService] = []
    try:
        upgrade(make_engine(url))
        services = [
            AuditService(Settings.model_validate({"database_url": url}), session_factory(make_engine(url)))
            for _ in range(replicas)
        ]
        with transaction(services[0].factory) as s:
            sync_targets(s, [t.model_copy(update={"schedule": every_minute}) for t in fleet])
        workers = services[0].settings.scheduler.max_parallel_runs + 1  # the scheduler's pool
        pools = [ThreadPoolExecutor(max_workers=workers) for _ in services]
        schedulers = [AuditScheduler(service) for service in services]
        now = datetime.now(UTC)
        started = time.perf_counter()
        fired = [
            (i, pool.submit(scheduler.fire, target.name, every_minute, now))
            for target in fleet
            for i, (pool, scheduler) in enumerate(zip(pools, schedulers, strict=True))
        ]
        ran = [(i, run_id) for i, future in fired if (run_id := future.result(timeout=1800)) is not None]
        wall = time.perf_counter() - started
        for pool in pools:
            pool.shutdown()
        with services[0].factory() as s:
            results = [run_result(s, row) for _, run_id in ran if (row := s.get(RunRow, run_id)) is not None]
        names = sorted(r.target for r in results)
        if names != sorted(t.name for t in fleet) or any(r.status != "complete" for r in results):
            raise SystemExit(f"each target once and complete expected, got {names} {[r.status for r in results]}")
        per_replica = [sum(1 for i, _ in ran if i == n) for n in range(replicas)]
        return sum(sum(r.api_calls.values()) for r in results), wall, per_replica
    finally:
        for service in services:
            service.shutdown()
        api_bench.drop_database(base_url, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=50, help="load balancers per account × region")
    parser.add_argument("--replicas", type=int, default=0, help="also the service case with this many replicas")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("AUDITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="PostgreSQL the service case creates its database in",
    )
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
        service = service_case(fleet, args.database_url, args.replicas) if args.replicas else None
    print(f"{'audits':34} {'AWS calls':>9} {'wall s':>7} {'x once':>7}")
    print(f"{'4 account-regions read once':34} {once:9d} {once_s:7.1f} {1:7.2f}")
    print(f"{'20 clusters, shared (default)':34} {shared:9d} {shared_s:7.1f} {shared / once:7.2f}")
    print(f"{'20 clusters, sharing off':34} {alone:9d} {alone_s:7.1f} {alone / once:7.2f}")
    print(f"calls per audit when shared: first of each account-region {per[0]}, the others {sorted(set(per[1:]))}")
    if service is not None:
        calls, wall, per_replica = service
        label = f"20 clusters, {args.replicas} service replicas"
        print(f"{label:34} {calls:9d} {wall:7.1f} {calls / once:7.2f}")
        print(f"runs per replica at the tick: {per_replica} (each target exactly once, complete)")


if __name__ == "__main__":
    main()
