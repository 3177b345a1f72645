"""Benchmark of the findings API: 100,000 findings in PostgreSQL, filtered paged lists under concurrent load.

Seeds a fresh database, starts a real `auditor serve --api-only` process, then drives it from this
process (same machine) with N concurrent keep-alive clients for a fixed time per phase, and prints
latency percentiles and throughput. Bounded in requests and time; only talks to 127.0.0.1.

    python bench/api_bench.py                       # 100k findings, phases 10 and 50 clients
    python bench/api_bench.py --findings 20000 --seconds 10 --workers 2
    python bench/api_bench.py --keep                 # keep the seeded database for...
    python bench/api_bench.py --database auditor_bench_XXXXXXXX   # ...re-runs without seeding

It also prints the CPU milliseconds per request of the API processes, the PostgreSQL backends, the load
generator and the rest of the machine (/proc), so a run on a busy shared machine shows itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import create_engine, insert, make_url, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from auditor.config import TargetConfig
from auditor.demo.motoserver import free_port
from auditor.findings import Severity
from auditor.store.db import make_engine, session_factory, transaction, upgrade
from auditor.store.models import FindingRow, RunRow
from auditor.store.targets import sync_targets
from auditor.store.tokens import create_token

SEVERITIES = list(Severity)
CLUSTERS = [f"cluster-{i:02d}" for i in range(10)]
NAMESPACES = [f"ns-{i:02d}" for i in range(40)]
RULES = [f"rule-{i:02d}" for i in range(25)]


def create_database(base_url: str) -> tuple[str, str]:
    base = make_url(base_url)
    name = f"auditor_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False), name


def drop_database(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def seed(url: str, count: int) -> str:
    """``count`` findings over 10 targets (one run each; ~80% open, 20% resolved); returns a read token."""
    engine = make_engine(url)
    upgrade(engine)
    factory = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(factory) as s:
        targets = sync_targets(s, [TargetConfig(name=c, cluster_name=c, regions=["eu-west-1"]) for c in CLUSTERS])
        runs = []
        for t in targets:
            run = RunRow(
                target_id=t.id, trigger="cli", status="complete", started_at=now, heartbeat_at=now, owner="bench"
            )
            s.add(run)
            runs.append(run)
        s.flush()
        target_runs = [(t.id, r.id) for t, r in zip(targets, runs, strict=True)]
        _, token = create_token(s, "bench", "read")
    rnd = random.Random(7)
    batch = []
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for i in range(count):
            target_id, run_id = target_runs[i % len(target_runs)]
            sev = SEVERITIES[rnd.randrange(5)]
            resolved = rnd.random() < 0.2
            first = now - timedelta(days=rnd.randrange(90))
            state = "resolved" if resolved else ("unknown" if rnd.random() < 0.05 else "open")
            batch.append(
                {
                    "target_id": target_id,
                    "fingerprint": f"{i:032x}",
                    "rule_id": RULES[rnd.randrange(len(RULES))],
                    "title": "An exposure finding title",
                    "severity": sev.value,
                    "severity_rank": sev.rank,
                    "state": state,
                    "is_open": not resolved,
                    "message": f"load balancer lb-{i} serves HTTP without redirecting to HTTPS",
                    "resource_arn": f"arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/lb-{i}/x",
                    "resource_name": f"lb-{i}",
                    "account": "123456789012",
                    "region": "eu-west-1",
                    "kube_kind": "Ingress",
                    "namespace": NAMESPACES[rnd.randrange(len(NAMESPACES))],
                    "kube_name": f"app-{i}",
                    "remediation": "annotate alb.ingress.kubernetes.io/ssl-redirect: '443'",
                    "monthly_cost_usd": 18.4,
                    "first_seen": first,
                    "last_seen": now,
                    "resolved_at": now if resolved else None,
                    "reopened": 0,
                    "last_run_id": run_id,
                    "evidence": {},
                }
            )
            if len(batch) == 5000:
                conn.execute(insert(FindingRow), batch)
                batch = []
        if batch:
            conn.execute(insert(FindingRow), batch)
        conn.execute(text("ANALYZE"))
    engine.dispose()
    print(f"seeded {count} findings in {time.perf_counter() - t0:.1f}s")
    return token


def reuse(url: str) -> str:
    """A read token for a database seeded by an earlier run."""
    engine = make_engine(url)
    factory = session_factory(engine)
    with transaction(factory) as s:
        count = s.execute(text("SELECT count(*) FROM findings")).scalar_one()
        _, token = create_token(s, f"bench-{uuid.uuid4().hex[:6]}", "read")
    engine.dispose()
    print(f"reusing {count} findings")
    return token


def queries() -> list[str]:
    """The mix of filtered, paged list requests a dashboard makes."""
    since = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = ["/api/v1/findings?limit=50", "/api/v1/findings?status=resolved&limit=50"]
    out += [f"/api/v1/findings?cluster={c}&limit=50" for c in CLUSTERS[:3]]
    out += [f"/api/v1/findings?cluster={c}&severity=critical&severity=high&limit=50" for c in CLUSTERS[3:6]]
    out += [f"/api/v1/findings?namespace={n}&limit=50" for n in NAMESPACES[:4]]
    out += [f"/api/v1/findings?rule={r}&cluster={CLUSTERS[1]}&limit=50" for r in RULES[:3]]
    out += [f"/api/v1/findings?since={since}&limit=50", "/api/v1/findings?cursor=2.50000&limit=50"]
    return out


async def phase(base: str, token: str, clients: int, seconds: float, max_requests: int) -> dict[str, float]:
    paths = queries()
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client(idx: int, session: aiohttp.ClientSession) -> None:
        nonlocal errors
        i = idx
        while time.perf_counter() < stop_at and len(latencies) < max_requests:
            path = paths[i % len(paths)]
            i += clients
            t = time.perf_counter()
            async with session.get(base + path, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - t)

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        for p in paths:  # warm up every query shape once
            async with session.get(base + p, headers=headers) as resp:
                assert resp.status == 200, (p, resp.status, await resp.text())
        started = time.perf_counter()
        await asyncio.gather(*(client(i, session) for i in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000,
    }


WRK_SCRIPT = """
local paths = {%s}
local i = 0
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def _ms(text_value: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    for unit in ("us", "ms", "s"):
        if text_value.endswith(unit):
            return float(text_value[: -len(unit)]) * units[unit]
    return float(text_value)


def phase_wrk(base: str, token: str, clients: int, seconds: float, script_dir: Path) -> dict[str, float]:
    """The same query mix driven by wrk (C, one thread per core): the load generator takes little CPU."""
    script = script_dir / "mix.lua"
    script.write_text(WRK_SCRIPT % (", ".join(f'"{q}"' for q in queries()), token))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{int(seconds)}s", "--timeout", "5s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    result: dict[str, float] = {"clients": clients, "errors": 0.0}
    for line in out.splitlines():
        parts = line.split()
        if line.strip().startswith(("50%", "90%", "99%")):
            result[f"p{parts[0].rstrip('%')}_ms"] = _ms(parts[1])
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif "requests in" in line:
            result["requests"] = float(parts[0])
        elif line.strip().startswith("Non-2xx"):
            result["errors"] += float(parts[-1])
        elif line.strip().startswith("Socket errors"):
            result["errors"] += sum(float(x.strip(",")) for x in parts[3::2])
    result.setdefault("p95_ms", float("nan"))
    return result


@dataclass
class CpuMeter:
    """Where the machine's CPU went during a phase, from /proc (Linux): the API processes, the PostgreSQL
    backends serving the benchmark database, the load generator (this process and its children), and
    everything else on the machine (other users of the shared cores)."""

    server_pid: int
    database_url: str
    backends: list[int] = field(default_factory=list)
    start: dict[str, float] = field(default_factory=dict)
    _backend_start: dict[int, float] = field(default_factory=dict)

    def _ticks(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _server_pids(self) -> list[int]:
        pids = [self.server_pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == self.server_pid:
                    pids.append(int(entry.name))
        return pids

    def _sample(self) -> dict[str, float]:
        total = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        kids = os.times()
        return {
            "busy": (sum(total) - total[3] - total[4]) / tick,
            "server": sum(self._ticks(p) for p in self._server_pids()),
            "postgres": sum(self._ticks(p) for p in self.backends),
            "client": kids.user + kids.system + kids.children_user + kids.children_system,
        }

    def _backends(self) -> list[int]:
        engine = create_engine(self.database_url)
        with engine.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
            )
            found = list(pids.scalars())
        engine.dispose()
        return found

    def begin(self) -> None:
        self.backends = self._backends()
        self._backend_start = {p: self._ticks(p) for p in self.backends}
        self.start = self._sample()

    def end(self, requests: float) -> dict[str, float]:
        """CPU milliseconds per request for each part, and 'others': the rest of the machine's busy time."""
        before = set(self.backends)
        self.backends = self._backends()  # the API's pools may have opened connections during the phase
        now = self._sample()
        # a backend opened during the phase counts from its start; one gone since counts for nothing
        self.start["postgres"] -= sum(self._backend_start.get(p, 0.0) for p in before - set(self.backends))
        used = {k: now[k] - self.start[k] for k in now}
        per = {k: v * 1000 / max(requests, 1) for k, v in used.items()}
        per["others"] = per["busy"] - per["server"] - per["postgres"] - per["client"]
        return per


def serve_api(url: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    """`auditor serve --api-only --no-access-log` on a free port over ``url``; (process, base URL) once ready."""
    port = free_port()
    env = {**os.environ, "AUDITOR_DATABASE_URL": url, "AUDITOR_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-m", "auditor.cli_service", "serve", "--api-only", "--no-access-log"]
    proc = subprocess.Popen([*command, "--port", str(port), *args], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("auditor serve did not become ready")
        time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--postgres",
        default=os.environ.get("AUDITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="API worker processes of auditor serve")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase, a hard bound")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--database", help="reuse a database that an earlier run seeded and kept (--keep): no seeding, a new token"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "aiohttp"],
        default="auto",
        help="load generator: wrk (apt install wrk) when present, else an asyncio/aiohttp client",
    )
    args = parser.parse_args()

    if args.database:
        name = args.database
        url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    else:
        url, name = create_database(args.postgres)
    if args.keep or args.database:
        print(f"database {name} (kept)")
    proc = None
    try:
        token = reuse(url) if args.database else seed(url, args.findings)
        proc, base = serve_api(url, "--workers", str(args.workers))
        time.sleep(1.0)  # every worker is up
        print(
            f"auditor serve --workers {args.workers} on {base}; {os.cpu_count()} CPUs shared with this load generator"
        )
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
        print(f"load generator: {'wrk -t2' if use_wrk else 'aiohttp (asyncio)'}; query mix: {len(queries())} filters")
        p95 = "p90 ms" if use_wrk else "p95 ms"
        print(
            f"{'clients':>7} {'requests':>9} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {p95:>7} {'p99 ms':>7}"
            "   CPU ms per request: API, PostgreSQL, load generator, rest of the machine"
        )
        meter = CpuMeter(proc.pid, url)
        with tempfile.TemporaryDirectory() as tmp:
            for clients in args.clients:
                meter.begin()
                if use_wrk:
                    r = phase_wrk(base, token, clients, args.seconds, Path(tmp))
                    r["p95_ms"] = r.get("p90_ms", float("nan"))
                else:
                    r = asyncio.run(phase(base, token, clients, args.seconds, args.max_requests))
                cpu = meter.end(r["requests"])
                print(
                    f"{r['clients']:>7.0f} {r['requests']:>9.0f} {r['errors']:>6.0f} {r['rps']:>8.0f} "
                    f"{r['p50_ms']:>7.1f} {r['p95_ms']:>7.1f} {r['p99_ms']:>7.1f}   "
                    f"{cpu['server']:.2f} {cpu['postgres']:.2f} {cpu['client']:.2f} {cpu['others']:.2f}"
                )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not (args.keep or args.database):
            drop_database(args.postgres, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
