"""The install flow end to end: open clients, discover, plan, apply, check — used by the CLI and tests."""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field

from auditor.collect.aws.session import AwsAccountSession, open_account
from auditor.config import AccountConfig, Settings, check_cluster_name, check_region
from auditor.controller.versions import UnsupportedVersion, chart_version_for, installable, normalize_version
from auditor.errors import AuditorError, ConfigError
from auditor.findings import Finding, Status
from auditor.install.apply import ApplyContext, apply
from auditor.install.chart import ChartBackend, HelmBinary, LocalChart
from auditor.install.discover import discover
from auditor.install.kube import KubeClient
from auditor.install.model import ApplyReport, InstallOptions, Plan, State
from auditor.install.plan import plan
from auditor.install.verify import VERIFY_RULES, drift_findings, verification_target, verify
from auditor.progress import ProgressEvent, ProgressFn, no_progress

log = logging.getLogger(__name__)

# What IAM and EC2 accept (CreateRole RoleName: 1-64, CreatePolicy PolicyName: 1-128, of [\w+=,.@-];
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html): a name IAM would refuse is refused
# here, before a plan (--dry-run) that says nothing of it.
_IAM_NAME = re.compile(r"[A-Za-z0-9_+=,.@-]+")
_VPC_ID = re.compile(r"vpc-([0-9a-f]{8}|[0-9a-f]{17})")


@dataclass
class InstallSession:
    """The clients one install works through."""

    options: InstallOptions
    aws: AwsAccountSession
    kube: KubeClient
    chart: ChartBackend


@dataclass
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.FAIL]


def resolve_options(options: InstallOptions) -> InstallOptions:
    """Validate the flags and normalise the requested versions (ConfigError on a bad one): before any AWS or
    Kubernetes call, so a bad value is one line (exit 2), never an error from botocore's endpoint resolution
    or a DescribeCluster of an empty name."""
    try:
        check_region(options.region)
        check_cluster_name(options.cluster_name, "--cluster-name")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if not (math.isfinite(options.timeout) and options.timeout > 0):
        raise ConfigError(f"--timeout {options.timeout} is not a number of seconds above 0")
    for flag, name, longest in (("--role-name", options.role_name, 64), ("--policy-name", options.policy_name, 128)):
        if name is not None and not (len(name) <= longest and _IAM_NAME.fullmatch(name)):
            raise ConfigError(
                f"{flag} {name[:80]!r} is not an IAM name: 1-{longest} letters, digits and any of _+=,.@-"
            )
    if options.vpc_id is not None and not _VPC_ID.fullmatch(options.vpc_id):
        raise ConfigError(f"--vpc-id {options.vpc_id[:80]!r} is not a VPC id (vpc- and 8 or 17 hex digits)")
    version = normalize_version(options.controller_version)
    if version is None:
        raise ConfigError(f"--controller-version {options.controller_version!r} is not a version (e.g. v2.13.0)")
    try:
        chart_version_for(version)
        installable(version)
    except UnsupportedVersion as exc:
        raise ConfigError(str(exc)) from exc
    if options.chart_dir is not None and not options.chart_dir.is_dir():
        raise ConfigError(f"--chart-dir {options.chart_dir} is not a directory")
    return InstallOptions(**{**options.__dict__, "controller_version": version})


def open_session(options: InstallOptions, settings: Settings) -> InstallSession:
    """AWS clients (through the one session factory), the kubeconfig context, and the chart backend."""
    aws = open_account(AccountConfig(), settings.aws, region=options.region)
    kube = KubeClient.from_kubeconfig(
        options.kubeconfig, options.context, request_timeout=settings.kube.request_timeout
    )
    chart: ChartBackend
    if options.chart_dir is not None:
        chart = LocalChart(options.chart_dir, expected_version=options.chart_version)
    else:
        chart = HelmBinary(
            options.chart_version or chart_version_for(options.controller_version), timeout=options.timeout
        )
    return InstallSession(options=options, aws=aws, kube=kube, chart=chart)


def make_plan(session: InstallSession) -> tuple[State, Plan]:
    state = discover(session.aws, session.kube, session.chart, session.options)
    return state, plan(state, session.options)


def run_plan(session: InstallSession, the_plan: Plan, *, progress: ProgressFn = no_progress) -> ApplyReport:
    ctx = ApplyContext(session.aws, session.kube, session.chart, session.options, progress=progress)
    return apply(the_plan, ctx)


def check(session: InstallSession, settings: Settings, *, progress: ProgressFn = no_progress) -> CheckResult:
    """After applying: a fresh plan must have nothing left to change, and the audit's rules must pass."""
    result = CheckResult()
    progress(ProgressEvent("install:verify", "re-reading the cluster"))
    _, replan = make_plan(session)
    result.findings.extend(drift_findings(replan, session.options))
    progress(ProgressEvent("install:verify", f"running the audit rules {', '.join(VERIFY_RULES)}"))
    try:
        audited = verify(verification_target(session.options), settings)
    except ImportError as exc:  # a partial checkout without the audit pipeline: say so, never pretend
        result.notes.append(f"the audit pipeline is unavailable ({exc}); only the re-plan was checked")
        audited = []
    except AuditorError as exc:
        result.notes.append(f"the audit could not run: {exc}")
        audited = []
    missing = sorted(set(VERIFY_RULES) - {f.rule_id for f in audited})
    if missing:
        result.notes.append(f"no verdict from audit rules {', '.join(missing)}")
    result.findings.extend(audited)
    status = "error" if result.failed else "ok"
    progress(ProgressEvent("install:verify", f"{len(result.failed)} checks failed", status=status))
    return result
