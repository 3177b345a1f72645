"""Benchmark of a full audit (collect over HTTP + analyze) of a fleet of N load balancers.

The fleet (bench/fleet.py) is seeded into an embedded moto server and a Kubernetes API emulator in
this process; the audit runs in a child process (``run_audit``, the same entry point as the CLI) that
reaches them over HTTP(S), so its wall time, calls and peak memory are the auditor's own. Printed:
AWS calls by operation next to the lower bound computed from the fleet, the ratio, wall time and
peak RSS of the auditing process.

    python bench/audit_bench.py --lbs 1000
    python bench/audit_bench.py --sizes 250,500,1000
    python bench/audit_bench.py --lbs 1000 --rules five     # the five checks the peers run (FIVE_CHECKS)
    python bench/audit_bench.py --lbs 569 --findings a.json # ... and write every finding's fingerprint and
                                                            # status, to compare the verdicts of two versions
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

if TYPE_CHECKING or __name__ != "__main__" or "--child" not in sys.argv:
    # the fleet and the emulator serve the parent; the measured child imports only what an audit needs
    import fleet as fleet_mod

    from auditor.demo.kubeapi import KubeApiServer

if TYPE_CHECKING:
    from auditor.demo.motoserver import MotoServer


def peak_rss_kb() -> int:
    """Peak resident memory of this process in KiB: VmHWM (Linux), else ru_maxrss.

    ru_maxrss is not used first: after fork + exec Linux keeps the parent's high-water mark in it, so a
    child started from this big seeding process would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# The load-balancer checks Cloud Custodian and Prowler were compared on (issue #11's table).
FIVE_CHECKS = "http-without-redirect,public-alb-without-waf,weak-tls-policy,certificate-expiring,classic-load-balancer"


def child(kubeconfig: str, rules: str | None, findings_file: str | None, cluster: str, region: str) -> None:
    """Run one audit and print its measurements as JSON (this is the process being measured)."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from auditor.config import Settings, TargetConfig
    from auditor.pipeline import analyze, collect
    from auditor.rules.selection import select

    base_rss = peak_rss_kb()
    target = TargetConfig(
        name=cluster,
        cluster_name=cluster,
        kubeconfig=Path(kubeconfig),
        context=cluster,
        regions=[region],
    )
    settings = Settings()
    selection = select([rules] if rules else None)
    started = time.perf_counter()
    inventory = collect(target, settings, selection=selection)
    collected = time.perf_counter()
    outcome = analyze(inventory, settings, selection=selection)
    done = time.perf_counter()
    result = outcome.result
    if findings_file:
        # by what names the finding across two seedings (moto makes new ARNs and ids each time): rule,
        # resource name, Kubernetes owner and discriminator (the fingerprint without the ARN)
        def key(f: Any) -> str:
            owner = f"{f.kubernetes.kind}/{f.kubernetes.namespace}/{f.kubernetes.name}" if f.kubernetes else "-"
            return f"{f.rule_id} {f.resource_name} {owner} {f.discriminator} {f.status.value}"

        verdicts = sorted(key(f) for f in result.findings)
        Path(findings_file).write_text("\n".join(verdicts) + "\n")
    print(
        json.dumps(
            {
                "api_calls": inventory.api_calls,
                "collect_s": collected - started,
                "analyze_s": done - collected,
                "wall_s": done - started,
                # the auditor's own CPU (user + system): what it costs apart from waiting for the servers
                "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "base_rss_kb": base_rss,
                "peak_rss_kb": peak_rss_kb(),
                "load_balancers": len(inventory.aws.load_balancers),
                "kube_objects": sum(
                    len(getattr(inventory.kubernetes, f) or [])
                    for f in ("services", "ingresses", "endpoint_slices", "service_accounts", "controllers")
                )
                if inventory.kubernetes
                else 0,
                "findings": len(result.findings),
                "failed": len(result.failed()),
                "coverage": sorted({c.status.value for c in inventory.coverage}),
                # where the collection's wall goes: each collector run's own time (they overlap)
                "collector_ms": {
                    f"{c.collector}/{c.region or 'global'}": c.duration_ms for c in inventory.coverage if c.duration_ms
                },
                "status": result.status,
            }
        )
    )


def run_size(
    n: int, moto: MotoServer, workdir: Path, rules: str | None = None, findings_file: str | None = None
) -> dict[str, Any]:
    moto.reset()
    fleet = fleet_mod.plan(n)
    t0 = time.perf_counter()
    made = fleet_mod.seed_aws(fleet)
    with KubeApiServer(token="bench") as kube:
        objects = fleet_mod.seed_kube(fleet, kube, made)
        kubeconfig = kube.write_kubeconfig(workdir / f"kubeconfig-{n}", context=fleet_mod.CLUSTER)
        seeded = time.perf_counter() - t0
        # the auditing process from start to exit (interpreter start and imports included), as the peers are timed
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(kubeconfig),
                "--cluster",
                fleet_mod.CLUSTER,
                "--region",
                fleet_mod.REGION,
                *(["--rules", rules] if rules else []),
                *(["--findings", findings_file] if findings_file else []),
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=3600,
            check=False,
        )
        process_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"audit of {n} load balancers failed:\n{proc.stderr}")
    measured: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    measured.update(size=n, seed_s=seeded, seeded_kube_objects=objects, bound=fleet_mod.lower_bound(fleet))
    measured.update(rules=rules, process_s=process_s)
    return measured


def print_detail(m: dict[str, Any]) -> None:
    calls: dict[str, int] = m["api_calls"]
    bound: dict[str, int] = m["bound"]
    print(f"\n== {m['size']} load balancers (ALB/NLB/CLB 50/35/15), {m['kube_objects']} Kubernetes objects read")
    print(f"{'operation':58} {'calls':>7} {'bound':>7}")
    for op in sorted(set(calls) | set(bound)):
        flag = "" if calls.get(op, 0) <= bound.get(op, 0) else "  +"
        print(f"{op:58} {calls.get(op, 0):7d} {bound.get(op, 0):7d}{flag}")
    total, low = sum(calls.values()), sum(bound.values())
    print(f"{'total':58} {total:7d} {low:7d}   ratio {total / low:.3f}   {total / m['size']:.2f} calls per LB")
    if m["rules"]:
        print(f"rules: {m['rules']} (the bound is the full audit's)")
    slowest = sorted(m["collector_ms"].items(), key=lambda kv: -kv[1])[:8]
    print("collector runs (they overlap): " + ", ".join(f"{name} {ms / 1000:.1f}s" for name, ms in slowest))
    print(
        f"audit wall {m['wall_s']:.1f}s (collect {m['collect_s']:.1f}s, analyze {m['analyze_s']:.2f}s), "
        f"auditor CPU {m['cpu_s']:.1f}s; "
        f"peak RSS {m['peak_rss_kb'] / 1024:.0f} MiB (after imports {m['base_rss_kb'] / 1024:.0f} MiB); "
        f"{m['findings']} findings, {m['failed']} failed; coverage {','.join(m['coverage'])}; "
        f"seeding {m['seed_s']:.1f}s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=1000, help="fleet size (load balancers)")
    parser.add_argument("--sizes", help="comma-separated fleet sizes: prints a growth table")
    parser.add_argument("--rules", help=f"audit only these rules (ids or categories); 'five': {FIVE_CHECKS}")
    parser.add_argument("--findings", metavar="FILE", help="write each finding's fingerprint, rule and status")
    parser.add_argument("--child", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    parser.add_argument("--cluster", help=argparse.SUPPRESS)  # the child's target (the fleet's cluster and region)
    parser.add_argument("--region", help=argparse.SUPPRESS)
    args = parser.parse_args()
    rules = FIVE_CHECKS if args.rules == "five" else args.rules
    if args.child:
        if args.cluster is None or args.region is None:  # started by an older parent: the fleet's own
            import fleet

            args.cluster, args.region = fleet.CLUSTER, fleet.REGION
        child(args.child, rules, args.findings, args.cluster, args.region)
        return
    import logging

    from auditor.demo.motoserver import (  # not in the measured child: moto is heavy
        MotoServer,
        free_port,
        point_boto3_at,
    )

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else [args.lbs]
    port = free_port()
    point_boto3_at(port, fleet_mod.REGION)
    results = []
    with MotoServer(port=port) as moto, tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            m = run_size(n, moto, Path(tmp), rules, args.findings)
            print_detail(m)
            results.append(m)
    if len(results) > 1:
        first = results[0]
        print(
            f"\n{'LBs':>6} {'calls':>7} {'bound':>7} {'ratio':>6} {'wall s':>7} {'s/LB (ms)':>9} "
            f"{'x size':>6} {'x time':>6} {'CPU s':>6} {'x CPU':>6} {'RSS MiB':>8}"
        )
        for m in results:
            total, low = sum(m["api_calls"].values()), sum(m["bound"].values())
            print(
                f"{m['size']:6d} {total:7d} {low:7d} {total / low:6.3f} {m['wall_s']:7.1f} "
                f"{1000 * m['wall_s'] / m['size']:9.1f} {m['size'] / first['size']:6.1f} "
                f"{m['wall_s'] / first['wall_s']:6.1f} {m['cpu_s']:6.1f} {m['cpu_s'] / first['cpu_s']:6.1f} "
                f"{m['peak_rss_kb'] / 1024:8.0f}"
            )


if __name__ == "__main__":
    main()
