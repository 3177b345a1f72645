"""The auditor next to Cloud Custodian and Prowler on one fleet, in one run (issue #11's peer table).

The fleet of bench/fleet.py (``--lbs N``, default 569: ALB/NLB/CLB 50/35/15) is seeded into the embedded
moto server before each tool, and the tools run one after another against it, each in its own process,
timed by wall clock from process start to exit:

- Cloud Custodian (``custodian run --cache-period 0``) with six policies for the five checks
  (``custodian_policies``: the weak-TLS check needs one policy per resource type);
- Prowler with its five closest checks (``PROWLER_CHECKS``), region limited to the fleet's;
- the auditor, the five checks (``--rules five``) and the full audit, through audit_bench.run_size (the
  same child process and measurements as ``bench/audit_bench.py``).

Every tool's AWS calls are counted the same way, on the server: each HTTP request moto receives is
named ``service:Operation`` (the service from the SigV4 credential scope; the operation from the
``X-Amz-Target`` header, the Query protocol's ``Action`` parameter, or for REST APIs method + path
matched against botocore's service model). Seeding goes into moto's backends in-process and is not
counted (the count after each seeding is printed, and is 0). For the auditor the server's count is
compared with the auditor's own call counter. Every tool process also logs each HTTP attempt botocore
makes, each socket it connects and each host name it resolves (a ``sitecustomize`` put on its
PYTHONPATH): the botocore count is compared with the server's for every tool, and a tool that talks to
anything but 127.0.0.1 is reported.

The peers are benchmark-only tools, not project dependencies: they live in their own venvs (they
cannot share one: c7n 0.9.53 and prowler 5.46.0 pin different boto3 versions) under ``--peers-venv``:

    python3.11 -m venv /tmp/peers-venv/custodian && /tmp/peers-venv/custodian/bin/pip install c7n==0.9.53
    python3.11 -m venv /tmp/peers-venv/prowler && /tmp/peers-venv/prowler/bin/pip install prowler==5.46.0

    python bench/peers_bench.py                      # 569 LBs: Custodian, Prowler, the auditor (five, full)
    python bench/peers_bench.py --repeat 3           # three rounds of all tools: wall is their median
    python bench/peers_bench.py --lbs 100 --skip-prowler

moto prints "Unable to find appropriate backend for waf-regional..." while Prowler runs: Prowler also lists
WAF Classic (regional) web ACLs, which moto does not implement; those requests are answered 500, counted,
and listed with the other error answers.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import audit_bench
import fleet as fleet_mod
import yaml

from auditor.collect.aws.session import iam_action
from auditor.demo.motoserver import MotoServer, free_port, point_boto3_at

# Prowler's checks closest to the five (``prowler aws --list-checks``, 5.46.0): http-without-redirect,
# public-alb-without-waf, weak-tls-policy (v2 and Classic), certificate-expiring. Prowler has no
# "a Classic Load Balancer exists" check; elb_insecure_ssl_ciphers reads every Classic one.
PROWLER_CHECKS = (
    "elbv2_ssl_listeners",
    "elbv2_waf_acl_attached",
    "elbv2_insecure_ssl_ciphers",
    "elb_insecure_ssl_ciphers",
    "acm_certificates_expiration_check",
)

# The predefined policies auditor/rules/tls/weak_tls_policy.py calls weak, as one regular expression.
WEAK_TLS_POLICY = (
    r"ELBSecurityPolicy-(2016-08|2015-0[235]|2014-(01|10)|2011-08|TLS-1-[01]-.*|TLS13-1-[01]-.*"
    r"|FS-1-1-.*|FS-2018-06)$|ELBSample-.*"
)


def custodian_policies(warning_days: int = 30) -> dict[str, Any]:
    """The five checks as Custodian policies, written for few calls: cheap value filters first, and one
    ``listener`` filter per policy with the whole listener condition in its JMESPath key. (The documented
    two-filter form, ``matched: true``, reads every ALB's listeners a second time; and moto gives HTTP and TCP
    listeners an ``SslPolicy`` too, so the TLS check looks only at HTTPS and TLS listeners, as AWS would.)"""
    public_alb = [{"Type": "application"}, {"Scheme": "internet-facing"}]
    return {
        "policies": [
            {
                "name": "http-without-redirect",
                "resource": "app-elb",
                "filters": [
                    *public_alb,
                    {
                        "type": "listener",
                        "key": "Protocol == 'HTTP' && DefaultActions[0].Type != 'redirect'",
                        "value": True,
                    },
                ],
            },
            {
                "name": "public-alb-without-waf",
                "resource": "app-elb",
                "filters": [*public_alb, {"type": "wafv2-enabled", "state": False}],
            },
            {
                "name": "weak-tls-policy-v2",
                "resource": "app-elb",
                "filters": [
                    {
                        "type": "listener",
                        "key": "contains(['HTTPS', 'TLS'], Protocol) && SslPolicy",
                        "value": WEAK_TLS_POLICY,
                        "op": "regex",
                    }
                ],
            },
            {
                "name": "weak-tls-policy-classic",
                "resource": "elb",
                "filters": [
                    {"type": "ssl-policy", "blacklist": ["Protocol-SSLv3", "Protocol-TLSv1", "Protocol-TLSv1.1"]}
                ],
            },
            {
                "name": "certificate-expiring",
                "resource": "acm-certificate",
                "filters": [
                    {
                        "type": "value",
                        "key": "NotAfter",
                        "value_type": "expiration",
                        "op": "less-than",
                        "value": warning_days,
                    }
                ],
            },
            {"name": "classic-load-balancer", "resource": "elb"},
        ]
    }


# ----------------------------------------------------------------------------- counting on the server

_CREDENTIAL = re.compile(r"Credential=[^/,]+/[^/]+/[^/]+/([^/]+)/")
_RPC_V2 = re.compile(r"^/service/[^/]+/operation/([^/]+)$")  # Smithy RPC v2 CBOR (e.g. newer CloudWatch)
# SigV4 signing name -> botocore service name, where they differ among the services these tools call
# (elasticloadbalancing is elb or elbv2 by its Version parameter)
_SIGNING_NAMES = {"tagging": "resourcegroupstaggingapi", "monitoring": "cloudwatch"}
_ELB_VERSIONS = {"2015-12-01": "elbv2", "2012-06-01": "elb"}


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], str]]:
    """(method, path pattern, operation) of a REST service from botocore's model, most specific first."""
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        model = botocore.session.get_session().get_service_model(service)
    except UnknownServiceError:
        return []
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?")[0].rstrip("/") or "/"
        parts = re.split(r"(\{[^}]+\})", uri)
        pattern = "".join((".+" if p.endswith("+}") else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts)
        literal = sum(len(p) for p in parts if not p.startswith("{"))
        routes.append((literal, http["method"], re.compile(pattern), name))
    routes.sort(key=lambda r: -r[0])
    return [(method, pattern, name) for _, method, pattern, name in routes]


def request_name(environ: dict[str, Any]) -> str | None:
    """``service:Operation`` of one request to moto (None for moto's own /moto-api/ calls)."""
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/moto-api"):
        return None
    query = parse_qs(environ.get("QUERY_STRING", ""))
    signed = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "") or "".join(query.get("X-Amz-Credential", [])))
    if signed is None:
        return f"unsigned:{environ.get('REQUEST_METHOD')} {path}"
    service = signed.group(1)
    params = query
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        # the Query protocol's form body: read it and put it back for moto
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        params = {**query, **parse_qs(body.decode("utf-8", "replace"))}
    if service == "elasticloadbalancing":
        service = _ELB_VERSIONS.get((params.get("Version") or [""])[0], service)
    service = _SIGNING_NAMES.get(service, service)
    if target := environ.get("HTTP_X_AMZ_TARGET"):
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if "Action" in params:
        return f"{service}:{params['Action'][0]}"
    if rpc := _RPC_V2.match(path):
        return f"{service}:{rpc.group(1)}"
    method, bare = environ.get("REQUEST_METHOD", "GET"), path.rstrip("/") or "/"
    for route_method, pattern, name in _rest_routes(service):
        if route_method == method and pattern.fullmatch(bare):
            return f"{service}:{name}"
    return f"{service}:{method} {path}"


class ServerCounter:
    """Counts the requests moto's WSGI application receives, by ``service:Operation``, and the ones it
    answered with an error (status >= 400, or an exception: werkzeug then answers 500)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def install(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        inner = DomainDispatcherApplication.__call__
        record = self._record

        def counted(app: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
            name = request_name(environ)
            if name is None:
                return inner(app, environ, start_response)

            def recorded(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                record(name, int(status.split(maxsplit=1)[0]))
                return start_response(status, headers, exc_info)

            try:
                return inner(app, environ, recorded)
            except Exception:
                record(name, 500)
                raise

        DomainDispatcherApplication.__call__ = counted  # type: ignore[method-assign,assignment]

    def _record(self, name: str, status: int) -> None:
        with self._lock:
            self._calls[name] += 1
            if status >= 400:
                self._errors[f"{name} {status}"] += 1

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """The calls and the error answers since the last take."""
        with self._lock:
            taken = Counter(self._calls), Counter(self._errors)
            self._calls.clear()
            self._errors.clear()
        return taken


# ----------------------------------------------------------------------------- where each process connects

_SITECUSTOMIZE = '''"""peers_bench: log this process's socket connects, host name look-ups and botocore HTTP sends."""
import os
import socket
import sys

_log = os.environ.get("PEERS_BENCH_CONNECT_LOG")
if _log:
    def _write(line):
        try:
            with open(_log, "a") as f:
                f.write(line + "\\n")
        except OSError:
            pass

    _connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def connect(self, address):
        _write("connect " + repr(address))
        return _connect(self, address)

    def connect_ex(self, address):
        _write("connect " + repr(address))
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        _write("resolve " + repr(host))
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo

    def _patch_endpoint(module):
        # one line per HTTP attempt botocore makes (retries included), named as the server names it
        inner = module.Endpoint._do_get_response

        def _do_get_response(self, request, operation_model, context):
            _write("send " + operation_model.service_model.service_name + ":" + operation_model.name)
            return inner(self, request, operation_model, context)

        module.Endpoint._do_get_response = _do_get_response

    class _PatchBotocoreEndpoint:
        # patches botocore.endpoint when the tool imports it (importing botocore here would slow every start)
        def find_spec(self, name, path, target=None):
            if name != "botocore.endpoint":
                return None
            sys.meta_path.remove(self)
            import importlib.util

            spec = importlib.util.find_spec(name)
            if spec is not None and spec.loader is not None:
                execute = spec.loader.exec_module

                def exec_module(module):
                    execute(module)
                    _patch_endpoint(module)

                spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _PatchBotocoreEndpoint())
'''


def destinations(log: Path, moto_port: int) -> Counter[str]:
    """What a tool connected to and resolved: moto, other 127.0.0.1 ports (the Kubernetes emulator), else."""
    found: Counter[str] = Counter()
    if not log.exists():
        return found
    for line in log.read_text().splitlines():
        kind, _, what = line.partition(" ")
        if kind == "send":
            continue
        if kind == "resolve":
            if what.strip("'\"") not in ("127.0.0.1", "localhost", "None"):
                found[f"resolve {what}"] += 1
            continue
        address = re.match(r"\('([^']*)', (\d+)", what)
        if address is None:
            found[f"connect {what}"] += 1  # a Unix socket or similar
        elif address.group(1) == "127.0.0.1":
            found[
                "127.0.0.1 moto connections" if int(address.group(2)) == moto_port else "127.0.0.1 other connections"
            ] += 1
        else:
            found[f"connect {address.group(1)}:{address.group(2)}"] += 1
    return found


def client_sends(log: Path) -> Counter[str]:
    """The HTTP attempts botocore made in a tool's processes, by ``service:Operation``."""
    if not log.exists():
        return Counter()
    return Counter(line[5:] for line in log.read_text().splitlines() if line.startswith("send "))


def compare(label: str, theirs: dict[str, int], server: dict[str, int]) -> str:
    """'server count = <label>' or the operations where the two differ."""
    differences = {k: (theirs.get(k, 0), server.get(k, 0)) for k in set(theirs) | set(server)}
    differences = {k: v for k, v in differences.items() if v[0] != v[1]}
    if not differences:
        return f"server count = {label} ({sum(theirs.values())} calls, {len(theirs)} operations)"
    return f"server count differs from {label} (theirs, server): " + ", ".join(
        f"{k} {v}" for k, v in sorted(differences.items())
    )


# ----------------------------------------------------------------------------- the runs


@dataclass
class ToolRun:
    tool: str
    checks: str
    wall_s: float  # process start to exit
    cpu_s: float  # user + system CPU of the tool's process and its children
    calls: Counter[str]
    errors: Counter[str]  # 'service:Operation status' -> answers with status >= 400
    seeding_calls: int | None  # None: seeded by audit_bench.run_size (checked by the equal counts)
    connections: Counter[str]
    verdicts: str
    notes: list[str] = field(default_factory=list)


def version_of(venv: Path, distribution: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "?"


def seed(moto: MotoServer, counter: ServerCounter, fleet: fleet_mod.Fleet) -> int:
    """A fresh copy of the fleet in moto; the number of requests the server saw meanwhile (expected: 0)."""
    moto.reset()
    counter.take()
    fleet_mod.seed_aws(fleet)
    return sum(counter.take()[0].values())


def peer_env(sitedir: Path, log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(PYTHONPATH=str(sitedir), PEERS_BENCH_CONNECT_LOG=str(log))
    return env


def children_cpu_s() -> float:
    """User + system CPU of this process's children that have been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_peer(
    command: list[str], env: dict[str, str], cwd: Path
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU time of one tool process, from start to exit."""
    cpu, started = children_cpu_s(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=3600, check=False)
    return time.perf_counter() - started, children_cpu_s() - cpu, proc


def measure_peer(
    tool: str,
    checks: str,
    command: list[str],
    verdicts: Callable[[], str],
    log: Path,
    moto: MotoServer,
    counter: ServerCounter,
    fleet: fleet_mod.Fleet,
    work: Path,
    sitedir: Path,
) -> ToolRun:
    """One peer tool against a freshly seeded fleet: its wall and CPU time, the calls the server counted (checked
    against botocore's own sends in the tool, ``log``), where it connected, and ``verdicts()`` read from its
    output once it exited; a tool that fails stops the benchmark with its output."""
    seeded = seed(moto, counter, fleet)
    wall, cpu, proc = run_peer(command, peer_env(sitedir, log), work)
    calls, errors = counter.take()
    if proc.returncode != 0:
        raise SystemExit(f"{tool} failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")
    logged = [line for line in (proc.stdout + proc.stderr).splitlines() if "ERROR" in line or "Traceback" in line]
    return ToolRun(
        tool=tool,
        checks=checks,
        wall_s=wall,
        cpu_s=cpu,
        calls=calls,
        errors=errors,
        seeding_calls=seeded,
        connections=destinations(log, moto.port),
        verdicts=verdicts(),
        notes=[compare("botocore's sends in the tool", client_sends(log), calls), *logged[:5]],
    )


def run_custodian(
    venv: Path, moto: MotoServer, counter: ServerCounter, fleet: fleet_mod.Fleet, work: Path, sitedir: Path
) -> ToolRun:
    out = work / "custodian-out"
    policies = custodian_policies()["policies"]
    policy_file = work / "custodian.yml"
    policy_file.write_text(yaml.safe_dump(custodian_policies(), sort_keys=False))
    command = [str(venv / "bin" / "custodian"), "run", "--cache-period", "0", "-s", str(out)]
    command += ["--region", fleet_mod.REGION, str(policy_file)]

    def matched() -> str:
        counts = []
        for policy in policies:
            resources = out / policy["name"] / "resources.json"
            count = len(json.loads(resources.read_text())) if resources.exists() else "?"
            counts.append(f"{policy['name']} {count}")
        return "matched: " + ", ".join(counts)

    tool, checks = f"Cloud Custodian {version_of(venv, 'c7n')}", f"5 checks ({len(policies)} policies)"
    log = work / "custodian-connect.log"
    return measure_peer(tool, checks, command, matched, log, moto, counter, fleet, work, sitedir)


def run_prowler(
    venv: Path, moto: MotoServer, counter: ServerCounter, fleet: fleet_mod.Fleet, work: Path, sitedir: Path
) -> ToolRun:
    out = work / "prowler-out"
    command = [str(venv / "bin" / "prowler"), "aws", "--checks", *PROWLER_CHECKS, "--region", fleet_mod.REGION]
    command += ["--output-directory", str(out), "--output-formats", "json-ocsf", "--no-banner", "--ignore-exit-code-3"]

    def findings() -> str:
        by_check: Counter[str] = Counter()
        for found in out.glob("*.ocsf.json"):
            for finding in json.loads(found.read_text() or "[]"):
                by_check[f"{finding['metadata']['event_code']} {finding['status_code']}"] += 1
        return "findings: " + ", ".join(f"{k} {v}" for k, v in sorted(by_check.items()))

    tool, checks = f"Prowler {version_of(venv, 'prowler')}", f"{len(PROWLER_CHECKS)} checks"
    log = work / "prowler-connect.log"
    return measure_peer(tool, checks, command, findings, log, moto, counter, fleet, work, sitedir)


def run_auditor(
    n: int, rules: str | None, moto: MotoServer, counter: ServerCounter, work: Path, sitedir: Path
) -> ToolRun:
    """audit_bench's measurement (it seeds the fleet itself), with the server-side count checked against it."""
    from auditor.rules.registry import catalog

    log = work / f"auditor-{'five' if rules else 'full'}-connect.log"
    findings = log.with_suffix(".findings")
    counter.take()
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "PEERS_BENCH_CONNECT_LOG")}
    os.environ.update(peer_env(sitedir, log))
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(sitedir), saved["PYTHONPATH"]) if p)
    cpu = children_cpu_s()
    try:
        m = audit_bench.run_size(n, moto, work, rules, findings_file=str(findings))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    cpu = children_cpu_s() - cpu
    calls, errors = counter.take()
    own: dict[str, int] = m["api_calls"]
    as_actions: Counter[str] = Counter()
    for name, count in calls.items():
        service, _, operation = name.partition(":")
        as_actions[iam_action(service, operation)] += count
    count = len(rules.split(",")) if rules else len(catalog())
    return ToolRun(
        tool="auditor" + (" (five)" if rules else " (full)"),
        checks=f"{count} rules" + (" (--rules five)" if rules else " (full audit)"),
        wall_s=m["process_s"],
        cpu_s=cpu,
        calls=calls,
        errors=errors,
        seeding_calls=None,
        connections=destinations(log, moto.port),
        verdicts=f"{m['failed']} FAIL of {m['findings']} findings; FAIL by rule: " + failed_by_rule(findings),
        notes=[
            compare("the auditor's own count", own, as_actions),
            compare("botocore's sends in the tool", client_sends(log), calls),
            f"audit alone (collect + analyze, as audit_bench prints it) {m['wall_s']:.1f}s, "
            f"auditor CPU {m['cpu_s']:.1f}s, seeding {m['seed_s']:.1f}s (not timed)",
        ],
    )


def failed_by_rule(findings: Path) -> str:
    """FAIL findings per rule of the five checks, from audit_bench's ``--findings`` lines (rule ... status)."""
    failed = Counter(line.split()[0] for line in findings.read_text().splitlines() if line.endswith(" FAIL"))
    five = audit_bench.FIVE_CHECKS.split(",")
    others = sum(count for rule, count in failed.items() if rule not in five)
    return ", ".join([*(f"{rule} {failed[rule]}" for rule in five), *([f"other rules {others}"] if others else [])])


# ----------------------------------------------------------------------------- report


def print_report(rounds: list[list[ToolRun]], n: int, fleet: fleet_mod.Fleet, moto_version: str) -> None:
    """One table (wall: the median of the rounds, with min-max), then each tool's calls by operation."""
    load = os.getloadavg()
    print(
        f"\n== Peers in one run: {n} load balancers (ALB {len(fleet.albs)}, NLB {len(fleet.nlbs)}, "
        f"CLB {len(fleet.clbs)}) in moto {moto_version}, region {fleet_mod.REGION}; {len(rounds)} round(s)"
    )
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (1/5/15 min) at the end"
    )
    print(
        f"\n{'tool':24} {'checks':26} {'wall s':>7} {'(min-max)':>11} {'CPU s':>6} {'AWS calls':>9} {'per LB':>7} "
        f"{'errors':>6}"
    )
    for runs in zip(*rounds, strict=True):
        first, walls = runs[0], sorted(r.wall_s for r in runs)
        total = sum(first.calls.values())
        spread = f"({walls[0]:.1f}-{walls[-1]:.1f})" if len(runs) > 1 else ""
        same = "" if all(r.calls == first.calls for r in runs) else "  (calls differ between rounds)"
        print(
            f"{first.tool:24} {first.checks:26} {statistics.median(walls):7.1f} {spread:>11} "
            f"{statistics.median(r.cpu_s for r in runs):6.1f} {total:9d} {total / n:7.2f} "
            f"{sum(first.errors.values()):6d}{same}"
        )
    print("wall: process start to exit; CPU: user + system of the tool's processes; errors: answers >= 400")
    for r in rounds[0]:
        print(f"\n-- {r.tool}: {r.checks}; {r.verdicts}")
        for name, count in sorted(r.calls.items(), key=lambda item: (-item[1], item[0])):
            print(f"   {name:56} {count:6d}")
        print(f"   connections: {', '.join(f'{k} {v}' for k, v in sorted(r.connections.items())) or 'none logged'}")
        outside = [k for k in r.connections if not k.startswith("127.0.0.1")]
        seeding = "inside audit_bench.run_size" if r.seeding_calls is None else str(r.seeding_calls)
        print(f"   outside 127.0.0.1: {', '.join(outside) if outside else 'none'}; requests during seeding: {seeding}")
        if r.errors:
            print(f"   error answers: {', '.join(f'{k} x{v}' for k, v in sorted(r.errors.items()))}")
        for note in r.notes:
            print(f"   {note}")


def require(executable: Path, name: str, install: str, skip: str) -> None:
    if not executable.exists():
        raise SystemExit(f"{name} is not installed ({executable} not found): {install}  (or pass {skip})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lbs", type=int, default=569, help="fleet size (load balancers)")
    parser.add_argument(
        "--peers-venv", type=Path, default=Path("/tmp/peers-venv"), help="holds custodian/ and prowler/"
    )
    parser.add_argument("--skip-custodian", action="store_true")
    parser.add_argument("--skip-prowler", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all tools, one after another (wall: median)")
    args = parser.parse_args()
    custodian_venv, prowler_venv = args.peers_venv / "custodian", args.peers_venv / "prowler"
    if not args.skip_custodian:
        require(
            custodian_venv / "bin" / "custodian",
            "Cloud Custodian",
            f"python3.11 -m venv {custodian_venv} && {custodian_venv}/bin/pip install c7n==0.9.53",
            "--skip-custodian",
        )
    if not args.skip_prowler:
        require(
            prowler_venv / "bin" / "prowler",
            "Prowler",
            f"python3.11 -m venv {prowler_venv} && {prowler_venv}/bin/pip install prowler==5.46.0",
            "--skip-prowler",
        )
    import logging
    from importlib.metadata import version

    # moto's tracebacks for APIs it lacks (Prowler's waf-regional calls) would flood the output: the counter
    # records every error answer per tool instead, and the report lists them
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    port = free_port()
    point_boto3_at(port, fleet_mod.REGION)
    fleet = fleet_mod.plan(args.lbs)
    counter = ServerCounter()
    rounds: list[list[ToolRun]] = []
    with MotoServer(port=port) as moto, tempfile.TemporaryDirectory(prefix="peers-") as tmp:
        counter.install()
        sitedir = Path(tmp) / "site"
        sitedir.mkdir()
        (sitedir / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        for index in range(args.repeat):
            work = Path(tmp) / f"round-{index + 1}"
            work.mkdir()
            runs: list[ToolRun] = []
            if not args.skip_custodian:
                runs.append(run_custodian(custodian_venv, moto, counter, fleet, work, sitedir))
            if not args.skip_prowler:
                runs.append(run_prowler(prowler_venv, moto, counter, fleet, work, sitedir))
            for rules in (audit_bench.FIVE_CHECKS, None):
                runs.append(run_auditor(args.lbs, rules, moto, counter, work, sitedir))
            rounds.append(runs)
            print(
                f"round {index + 1}: "
                + ", ".join(f"{r.tool} {r.wall_s:.1f}s {sum(r.calls.values())} calls" for r in runs),
                flush=True,
            )
    print_report(rounds, args.lbs, fleet, version("moto"))


if __name__ == "__main__":
    main()
