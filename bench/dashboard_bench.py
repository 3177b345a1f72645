"""Benchmark of the web dashboard: every page's render time with 100,000 findings in PostgreSQL.

Seeds a fresh database as bench/api_bench.py does (100,000 findings over 10 targets), adds what the other
pages show — 30 finished runs per target, 60 load balancers per latest run with owners and costs over 8
namespaces, 5 suppressions — starts a real `auditor serve --api-only` process, signs in with an API token
like a browser (form, session cookie) and fetches every page in turn, one request at a time, for a number
of rounds. Prints p50 / p95 / max per page and over all pages. Only talks to 127.0.0.1.

    python bench/dashboard_bench.py                    # 100k findings, 30 rounds
    python bench/dashboard_bench.py --findings 20000 --rounds 10
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, make_url, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.store.db import make_engine, session_factory, transaction
from auditor.store.models import FindingRow, LoadBalancerRow, RunRow, SuppressionRow, TargetRow
from auditor.store.tokens import create_token
from bench.api_bench import create_database, drop_database, seed, serve_api

TYPES = ["application", "network", "classic"]
NAMESPACES = [f"team-{i}" for i in range(8)]


def seed_history(url: str, runs_per_target: int = 30, lbs: int = 60) -> None:
    """Past runs (for the trend charts), load balancers of each target's latest run, a few suppressions."""
    engine = make_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        targets = [row[0] for row in conn.execute(select(TargetRow.id).order_by(TargetRow.id))]
        latest: dict[int, int] = {}
        for t in targets:
            for k in range(runs_per_target, 0, -1):
                started = now - timedelta(hours=k)
                run_id = conn.execute(
                    insert(RunRow)
                    .values(
                        target_id=t,
                        trigger="schedule",
                        status="complete",
                        started_at=started,
                        finished_at=started + timedelta(seconds=40),
                        heartbeat_at=started,
                        owner="bench",
                        findings_failed=7000 + 40 * k,
                        load_balancers=lbs,
                        coverage=[{"source": "aws", "collector": "elbv2", "status": "ok", "calls": 12}],
                    )
                    .returning(RunRow.id)
                ).scalar_one()
            latest[t] = run_id
        rows = []
        for t, run_id in latest.items():
            for i in range(lbs):
                owned = i % 10 != 0
                rows.append(
                    {
                        "run_id": run_id,
                        "target_id": t,
                        "arn": f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lb-{i}/x",
                        "name": f"lb-{i}",
                        "type": TYPES[i % 3],
                        "scheme": "internet-facing",
                        "dns_name": f"lb-{i}.eu-west-1.elb.amazonaws.com",
                        "account": "123456789012",
                        "region": "eu-west-1",
                        "owner_kind": "Ingress" if owned else None,
                        "owner_namespace": NAMESPACES[i % len(NAMESPACES)] if owned else None,
                        "owner_name": f"app-{i}" if owned else None,
                        "controller": "aws-load-balancer-controller",
                        "orphan": None if owned else "owner-gone",
                        "monthly_cost_usd": 16.43 + i % 4,
                        "cost_basis": "hourly rate x 730 h + LCU",
                        "view": {  # who pays (auditor.cost.allocate): every 4th ALB shared by two namespaces
                            "cost_shares": [
                                {
                                    "owner": f"Ingress {ns}/app-{i}",
                                    "namespace": ns,
                                    "cluster": f"cluster-{t}",
                                    "team": "(no team)",
                                    "monthly_usd": round((16.43 + i % 4) / parts, 2),
                                    "method": "requests" if parts > 1 else "sole-owner",
                                }
                                for parts in [2 if owned and i % 4 == 0 else 1]
                                for ns in (
                                    [NAMESPACES[i % len(NAMESPACES)], NAMESPACES[(i + 1) % len(NAMESPACES)]][:parts]
                                    if owned
                                    else ["(no namespace)"]
                                )
                            ]
                        },
                    }
                )
        conn.execute(insert(LoadBalancerRow), rows)
        conn.execute(
            insert(SuppressionRow),
            [
                {"rule_id": f"rule-{i:02d}", "namespace": f"ns-{i:02d}", "reason": "bench", "created_by": "bench"}
                for i in range(5)
            ],
        )
    engine.dispose()


def sign_in(client: httpx.Client, token: str) -> None:
    form = client.get("/signin").text
    match = re.search(r'name="csrf" value="([^"]+)"', form)
    assert match, form
    r = client.post("/signin", data={"token": token, "csrf": match.group(1)})
    assert r.status_code == 303 and "auditor_session" in client.cookies, r.text


def pages(url: str) -> list[str]:
    engine = make_engine(url)
    with transaction(session_factory(engine)) as s:
        finding_ids = list(s.scalars(select(FindingRow.id).order_by(FindingRow.id).limit(3)))
        run_id = s.scalar(select(RunRow.id).order_by(RunRow.id.desc()).limit(1))
    engine.dispose()
    return [
        "/",
        "/findings",
        "/findings?cluster=cluster-03",
        "/findings?cluster=cluster-04&severity=critical&severity=high",
        "/findings?namespace=ns-07",
        "/findings?rule=rule-02&cluster=cluster-01",
        "/findings?status=resolved",
        "/findings?status=suppressed",
        "/findings?cursor=2.50000",
        *[f"/findings/{i}" for i in finding_ids],
        "/load-balancers",
        "/load-balancers?cluster=cluster-02&orphan=true",
        "/runs",
        "/runs?cluster=cluster-05",
        f"/runs/{run_id}",
        "/suppressions",
    ]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("AUDITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30, help="times every page is fetched")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    url, name = create_database(args.postgres)
    proc = None
    try:
        token = seed(url, args.findings)
        seed_history(url)
        engine = make_engine(url)
        with transaction(session_factory(engine)) as s:
            _, token = create_token(s, "bench-admin", "admin")  # admin: the pages with their forms
        engine.dispose()
        proc, base = serve_api(url)
        paths = pages(url)
        timings: dict[str, list[float]] = {p: [] for p in paths}
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
            sign_in(client, token)
            for path in paths:  # warm-up: every statement prepared once
                r = client.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:500])
            for _ in range(args.rounds):
                for path in paths:
                    t = time.perf_counter()
                    r = client.get(path)
                    timings[path].append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (path, r.status_code)
        cpus = os.cpu_count()
        print(f"{args.findings} findings in PostgreSQL, {args.rounds} rounds, one request at a time, {cpus} CPUs")
        print(f"{'page':<62} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
        for path, values in timings.items():
            print(f"{path:<62} {statistics.median(values):>7.1f} {pct(values, 0.95):>7.1f} {max(values):>7.1f}")
        every = [v for values in timings.values() for v in values]
        print(
            f"{'all pages':<62} {statistics.median(every):>7.1f} {pct(every, 0.95):>7.1f} {max(every):>7.1f}"
            f"   ({len(every)} requests)"
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if args.keep:
            print(f"database {name} kept: {make_url(url).render_as_string(hide_password=True)}")
        else:
            drop_database(args.postgres, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
