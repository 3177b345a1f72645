"""AWS collection: every collector over every account × region, on one bounded pool, failures as coverage.

Order: ``elbv2``, ``elb``, ``wafv2``, ``eks`` and ``pricing`` (per account, through the Price List
endpoint) start at once; ``ec2`` (the load balancers' security groups and network interfaces), ``acm``
(which certificates listeners serve) and ``cloudwatch`` (their traffic) wait for ``elbv2`` + ``elb`` of
their region; ``iam`` (global) waits for the account's ``eks`` (cluster issuer, Pod Identity).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from auditor.cancel import CancelCheck, never_cancelled
from auditor.collect.aws import acm, cloudwatch, costexplorer, ec2, eks, elb, elbv2, iam, pricing, wafv2
from auditor.collect.aws.base import CollectorContext, FanOut
from auditor.collect.aws.session import CALLER, AwsAccountSession, CallCounter, open_account
from auditor.collect.aws.shared import SHAREABLE, SharedInventory
from auditor.config import AccountConfig, Settings, TargetConfig
from auditor.errors import AuditorError, CollectionError, ConfigError, RunCancelled
from auditor.inventory.facets import Facet, ListenerRulesNeed, facets_of
from auditor.inventory.models import AwsInventory, Coverage, CoverageStatus, KubeInventory, LoadBalancer
from auditor.progress import ProgressEvent, ProgressFn, no_progress

__all__ = ["COLLECTORS", "all_iam_actions", "collect_aws"]

log = logging.getLogger(__name__)

COLLECTORS = (elbv2, elb, acm, wafv2, ec2, eks, iam, pricing, cloudwatch, costexplorer)
REGIONAL = ("elbv2", "elb", "wafv2", "eks", "ec2", "acm", "cloudwatch")
GLOBAL = ("iam", "pricing", "costexplorer")
# Collectors whose client lives in a fixed region whatever the audited ones (the Price List endpoint).
_CLIENT_REGION = {"pricing": pricing.ENDPOINT_REGION, "costexplorer": costexplorer.ENDPOINT_REGION}
_SERVICE = {m.NAME: m.SERVICE for m in COLLECTORS}
# Needed by open_account (identity of every account; AssumeRole is granted on the caller's side).
SESSION_ACTIONS: tuple[str, ...] = ("sts:GetCallerIdentity",)


def all_iam_actions() -> set[str]:
    """Every IAM action a collection may call: the union of the collectors' declarations."""
    return {action for module in COLLECTORS for action in module.IAM_ACTIONS} | set(SESSION_ACTIONS)


Key = tuple[int, str, str | None]  # (account index, collector, region or None for global)


@dataclass
class _Task:
    key: Key
    needs: tuple[Key, ...]
    run: Callable[[CollectorContext], Any]  # runs once every key of ``needs`` is in ``_Plan.results``


@dataclass
class _Plan:
    """The collector tasks of all accounts and what each waits for; results filled as they finish."""

    tasks: list[_Task] = field(default_factory=list)
    wanted: frozenset[Facet] | None = None  # facets the selected rules need; None: all
    listener_rules: ListenerRulesNeed | None = None  # the listeners whose rules they read; None: all
    shared: SharedInventory | None = None  # regional reads shared with other audits of the same accounts
    account_keys: dict[int, Hashable] = field(default_factory=dict)  # account index -> its key in ``shared``
    results: dict[Key, Any] = field(default_factory=dict)
    coverage: dict[Key, Coverage] = field(default_factory=dict)


class _Progress:
    """Serialises progress events from worker threads and numbers finished collectors."""

    def __init__(self, sink: ProgressFn, total: int) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self.total = total
        self.done = 0

    def emit(self, stage: str, message: str, status: str = "running", *, finished: bool = False) -> None:
        with self._lock:
            if finished:
                self.done += 1
            self._sink(ProgressEvent(stage=stage, message=message, done=self.done, total=self.total, status=status))


def collect_aws(
    target: TargetConfig,
    settings: Settings,
    *,
    counter: CallCounter,
    progress: ProgressFn = no_progress,
    kube: KubeInventory | None = None,
    sessions: list[AwsAccountSession] | None = None,
    wanted: frozenset[Facet] | None = None,
    listener_rules: ListenerRulesNeed | None = None,
    shared: SharedInventory | None = None,
    share_as: Hashable = None,
    price_cache: pricing.PriceCache | None = None,
    cancelled: CancelCheck = never_cancelled,
) -> tuple[AwsInventory, list[Coverage]]:
    """Collect every AWS collector for the target's accounts and regions; never raises for one account.

    ``wanted``: the facets the selected rules need (``auditor.rules.selection``); a collector none of whose
    facets is wanted is not run (coverage SKIPPED), and the others skip the calls of unwanted facets.
    ``listener_rules``: the listeners whose rules they read (None: every listener's). ``shared``: reads of the
    cluster-independent regional collectors kept for the other audits of the same account and region, under
    ``share_as`` (what decides ``wanted`` and ``listener_rules``: the rule selection). ``cancelled``: asked before
    every call (given ``sessions`` too); once it says so the collection ends with RunCancelled, the collectors not
    started yet are not started, and nothing read is returned or shared."""
    regions = list(dict.fromkeys(target.regions)) or [settings.aws.default_region]
    coverage: list[Coverage] = []
    opened: list[AwsAccountSession] = []
    account_keys: dict[int, Hashable] = {}
    if sessions is not None:
        opened = list(sessions)
    else:
        for account in target.accounts:
            try:
                session = open_account(account, settings.aws, region=regions[0], counter=counter, cancelled=cancelled)
                _build_clients(session, regions)
                opened.append(session)
                account_keys[len(opened) - 1] = (share_as, session.account_id, account.model_dump_json())
            except RunCancelled:
                raise  # the audit ends, not this account
            except AuditorError as exc:
                log.warning("AWS account %s cannot be opened: %s", _account_label(account), exc)
                coverage.extend(_account_failed(account, regions, exc))
                progress(
                    ProgressEvent(stage="aws:account", message=f"{_account_label(account)}: {exc}", status="error")
                )

    if sessions is not None:
        for session in opened:
            session.cancelled = cancelled
            _build_clients(session, regions)

    plan = _plan(opened, regions, target, kube, wanted, settings.cost.usage_window_days, price_cache)
    plan.listener_rules = listener_rules
    plan.shared, plan.account_keys = shared, account_keys
    reporter = _Progress(progress, total=len(plan.tasks))
    with ThreadPoolExecutor(max_workers=settings.aws.max_concurrency, thread_name_prefix="aws") as pool:
        fan_out = FanOut(pool, settings.aws.max_concurrency)
        try:
            _execute(plan, opened, regions, pool, fan_out, reporter)
        except BaseException:  # RunCancelled: the collectors still queued are not started (those going stop too)
            pool.shutdown(cancel_futures=True)
            raise

    inventory = AwsInventory()
    for task in plan.tasks:  # plan order: deterministic output whatever finished first
        _merge(inventory, task.key[1], plan.results.get(task.key))
        coverage.append(plan.coverage[task.key])
    _count_public_ipv4(inventory, plan)
    return inventory, eks.not_found(target.cluster_name, inventory.eks_clusters, coverage)


def _build_clients(session: AwsAccountSession, regions: list[str]) -> None:
    """Every client of an account, before fanning out (client creation is not thread-safe in botocore). A setting
    botocore cannot take for one service (AWS_ENDPOINT_URL_<SERVICE> that is no URL) is logged here and fails only
    the collectors that ask for that client (their coverage an error), not the account: one no selected rule
    needs is never asked for."""
    wanted = [(_SERVICE[name], region) for region in regions for name in REGIONAL]
    wanted += [(_SERVICE["iam"], region) for region in regions]  # global; elbv2 asks it for IAM server certificates
    wanted += [(_SERVICE["pricing"], pricing.ENDPOINT_REGION), (_SERVICE["costexplorer"], costexplorer.ENDPOINT_REGION)]
    for service, region in wanted:
        try:
            session.client(service, region)
        except ConfigError as exc:
            log.warning("AWS account %s: %s", session.account_id, exc)


def _count_public_ipv4(inventory: AwsInventory, plan: _Plan) -> None:
    """Each load balancer's public IPv4 count, as ec2 found it on its network interfaces."""
    counted: dict[str, int] = {}
    for key, result in plan.results.items():
        if key[1] == "ec2" and result is not None:
            counted.update(result.public_ipv4)
    for lb in inventory.load_balancers:
        if lb.arn in counted:
            lb.public_ipv4_count = counted[lb.arn]


# --------------------------------------------------------------------------- planning


def _plan(
    sessions: list[AwsAccountSession],
    regions: list[str],
    target: TargetConfig,
    kube: KubeInventory | None,
    wanted: frozenset[Facet] | None = None,
    usage_days: int = 14,
    price_cache: pricing.PriceCache | None = None,
) -> _Plan:
    plan = _Plan(wanted=wanted)
    controller_sas = iam.controller_service_accounts(kube)
    for index in range(len(sessions)):
        for region in regions:
            lb_keys: tuple[Key, ...] = ((index, "elbv2", region), (index, "elb", region))
            plan.tasks += [
                _Task((index, "elbv2", region), (), elbv2.collect),
                _Task((index, "elb", region), (), elb.collect),
                _Task((index, "wafv2", region), (), wafv2.collect),
                _Task((index, "eks", region), (), partial(_run_eks, target.cluster_name, controller_sas)),
                _Task((index, "ec2", region), lb_keys, partial(_run_ec2, plan, index, region)),
                _Task((index, "acm", region), lb_keys, partial(_run_acm, plan, index, region)),
                _Task(
                    (index, "cloudwatch", region), lb_keys, partial(_run_cloudwatch, plan, index, region, usage_days)
                ),
            ]
        plan.tasks.append(_Task((index, "pricing", None), (), partial(_run_pricing, list(regions), price_cache)))
        plan.tasks.append(_Task((index, "costexplorer", None), (), costexplorer.collect))
        eks_keys = tuple((index, "eks", region) for region in regions)
        plan.tasks.append(_Task((index, "iam", None), eks_keys, partial(_run_iam, plan, kube, eks_keys)))
    if wanted is not None:
        for task in plan.tasks:
            if not any(f in wanted for f in facets_of(task.key[1])):
                task.run = _not_needed
    return plan


def _not_needed(ctx: CollectorContext) -> None:
    """A collector whose facets no selected rule needs: nothing is read, coverage says SKIPPED and why."""
    ctx.skip(f"{ctx.name} not read: no selected rule needs it", *facets_of(ctx.name))


def _load_balancers(plan: _Plan, index: int, region: str) -> list[LoadBalancer]:
    found: list[LoadBalancer] = []
    v2 = plan.results.get((index, "elbv2", region))
    if v2 is not None:
        found.extend(v2.load_balancers)
    found.extend(plan.results.get((index, "elb", region)) or [])
    return found


def _run_eks(cluster_name: str | None, controller_sas: list[tuple[str, str]], ctx: CollectorContext) -> Any:
    return eks.collect(ctx, cluster_name, controller_sas)


def _run_ec2(plan: _Plan, index: int, region: str, ctx: CollectorContext) -> Any:
    lbs = _load_balancers(plan, index, region)
    return ec2.collect(
        ctx,
        (sg for lb in lbs for sg in lb.security_group_ids),
        lbs,
        (subnet for lb in lbs for subnet in lb.subnet_ids),
    )


def _run_cloudwatch(plan: _Plan, index: int, region: str, days: int, ctx: CollectorContext) -> Any:
    v2 = plan.results.get((index, "elbv2", region))
    target_groups = v2.target_groups if v2 is not None else []
    return cloudwatch.collect(ctx, _load_balancers(plan, index, region), days, target_groups)


def _run_pricing(regions: list[str], cache: pricing.PriceCache | None, ctx: CollectorContext) -> Any:
    return pricing.collect(ctx, regions, cache)


def _run_acm(plan: _Plan, index: int, region: str, ctx: CollectorContext) -> Any:
    served = {
        arn
        for lb in _load_balancers(plan, index, region)
        for listener in lb.listeners or []
        for arn in listener.certificate_arns or []
    }
    v2 = plan.results.get((index, "elbv2", region))
    return acm.collect(ctx, served, v2.acm if v2 is not None else None)


def _run_iam(plan: _Plan, kube: KubeInventory | None, eks_keys: tuple[Key, ...], ctx: CollectorContext) -> Any:
    clusters = [r.cluster for k in eks_keys if (r := plan.results.get(k)) is not None and r.cluster]
    issuers = [c.oidc_issuer for c in clusters if c.oidc_issuer]
    associations = [a for c in clusters for a in c.pod_identity_associations or []]
    return iam.collect(ctx, issuers, iam.controller_role_arns(kube, associations))


# --------------------------------------------------------------------------- execution


def _execute(
    plan: _Plan,
    sessions: list[AwsAccountSession],
    regions: list[str],
    pool: ThreadPoolExecutor,
    fan_out: FanOut,
    reporter: _Progress,
) -> None:
    waiting = list(plan.tasks)
    finished: set[Key] = set()
    running: dict[Future[tuple[Any, Coverage]], Key] = {}
    while waiting or running:
        ready = [t for t in waiting if all(n in finished for n in t.needs)]
        for task in ready:
            waiting.remove(task)
            index, name, region = task.key
            ctx = CollectorContext(
                name=name,
                session=sessions[index],
                region=_CLIENT_REGION.get(name, region or regions[0]),
                fan_out=fan_out,
                wanted=plan.wanted,
                listener_rules=plan.listener_rules,
            )
            running[pool.submit(_shared_or_run, plan, task, ctx, region, reporter)] = task.key
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            key = running.pop(future)
            result, cov = future.result()
            plan.results[key] = result
            plan.coverage[key] = cov
            finished.add(key)


def _shared_or_run(
    plan: _Plan, task: _Task, ctx: CollectorContext, region: str | None, reporter: _Progress
) -> tuple[Any, Coverage]:
    """``_run``, or what an earlier audit of the same account and region read (``SharedInventory``)."""
    index, name, _ = task.key
    account_key = plan.account_keys.get(index)
    if plan.shared is None or name not in SHAREABLE or account_key is None:
        return _run(task, ctx, region, reporter)
    read = partial(_run, task, ctx, region, reporter)
    where = f"{ctx.account}/{region or 'global'}"
    (result, coverage), reused = plan.shared.read((account_key, region, name), read, name, f"{where} {name}")
    if reused:
        message = f"{where}: {coverage.status.value} (read by an earlier audit of this account and region, shared)"
        reporter.emit(f"aws:{name}", message, coverage.status.value, finished=True)
    return result, coverage


def _run(task: _Task, ctx: CollectorContext, region: str | None, reporter: _Progress) -> tuple[Any, Coverage]:
    """One collector in one account/region; whatever happens becomes its Coverage."""
    caller = CALLER.set(task.key)  # counts this run's calls, whichever clients make them (the fan-out included)
    try:
        return _run_counted(task, ctx, region, reporter)
    finally:
        CALLER.reset(caller)


def _run_counted(task: _Task, ctx: CollectorContext, region: str | None, reporter: _Progress) -> tuple[Any, Coverage]:
    stage = f"aws:{ctx.name}"
    where = f"{ctx.account}/{region or 'global'}"
    calls_before = ctx.session.calls_by(task.key)  # a session given for several collections counts on
    waited_before = ctx.session.waited_by(task.key)
    started = time.monotonic()
    reporter.emit(stage, f"{where}: started")
    result: Any = None
    error_code: str | None = None
    message: str | None
    try:
        result = task.run(ctx)
    except RunCancelled:
        raise  # the whole audit stops: not this collector's failure, and not a read to share
    except CollectionError as exc:
        status, message, error_code = CoverageStatus.ERROR, str(exc), exc.code or "Unknown"
    except ConfigError as exc:  # a client setting botocore cannot take (see _build_clients)
        status, message, error_code = CoverageStatus.ERROR, str(exc), "ClientSettings"
    except Exception as exc:  # a defect must not sink the other collectors: recorded and logged in full
        log.exception("collector %s failed in %s", ctx.name, where)
        status, message, error_code = (
            CoverageStatus.ERROR,
            f"internal error: {type(exc).__name__}: {exc}",
            "InternalError",
        )
    else:
        problems = ctx.problem_summary()
        if problems:
            status, message = CoverageStatus.PARTIAL, problems
        elif ctx.skipped:
            status, message = CoverageStatus.SKIPPED, ctx.skipped
        else:
            status, message = CoverageStatus.OK, None
    coverage = Coverage(
        source="aws",
        collector=ctx.name,
        account=ctx.account,
        region=region,
        status=status,
        error_code=error_code,
        message=message,
        calls=ctx.session.calls_by(task.key) - calls_before,
        duration_ms=int((time.monotonic() - started) * 1000),
        # a collector that failed as a whole failed every facet: nothing to say per facet
        facets=ctx.facet_coverage(status) if status != CoverageStatus.ERROR else {},
    )
    counts = ", ".join(f"{n} {what}" for what, n in ctx.counts.items())
    paced = ctx.session.waited_by(task.key) - waited_before
    if paced >= 1:  # why a run takes long on a real account: say it rather than seem stuck (parallel waits add up)
        counts += f"{', ' if counts else ''}its requests waited {paced:.0f}s in all for aws.calls_per_second"
    summary = f"{where}: {status.value}" + (f" ({counts})" if counts else "") + (f": {message}" if message else "")
    reporter.emit(stage, summary, status.value, finished=True)
    return result, coverage


def _merge(inventory: AwsInventory, name: str, result: Any) -> None:
    if result is None:
        return
    if name == "elbv2":
        inventory.load_balancers.extend(result.load_balancers)
        inventory.target_groups.extend(result.target_groups)
    elif name == "elb":
        inventory.load_balancers.extend(result)
    elif name == "acm":
        inventory.certificates.extend(result)
    elif name == "wafv2":
        inventory.web_acls.extend(result)
    elif name == "ec2":
        inventory.security_groups.extend(result.security_groups)
        inventory.prefix_lists.extend(result.prefix_lists)
        inventory.subnets.extend(result.subnets)
    elif name == "eks":
        inventory.eks_cluster_listings.append(result.listing)
        if result.cluster is not None:
            inventory.eks_clusters.append(result.cluster)
    elif name == "cloudwatch":
        inventory.lb_usage.extend(result)
    elif name == "costexplorer":
        inventory.billed_costs.extend(result)
    elif name == "pricing":
        known = {pl.region for pl in inventory.price_lists}  # the same prices whichever account read them
        inventory.price_lists.extend(pl for pl in result if pl.region not in known)
    elif name == "iam":
        providers, roles = result
        inventory.oidc_providers.extend(providers)
        inventory.iam_roles.extend(roles)


# --------------------------------------------------------------------------- accounts that cannot be opened


def _account_label(account: AccountConfig) -> str:
    return account.id or account.role_arn or account.profile or "default credentials"


def _account_failed(account: AccountConfig, regions: list[str], exc: AuditorError) -> list[Coverage]:
    """An account whose credentials fail: every collector of it is recorded as an error."""
    account_id: str | None = account.id
    if account_id is None and account.role_arn:
        account_id = account.role_arn.split(":")[4] or None
    code = exc.code if isinstance(exc, CollectionError) and exc.code else type(exc).__name__
    message = f"account {_account_label(account)} could not be opened: {exc}"
    keys: list[tuple[str, str | None]] = [(name, region) for region in regions for name in REGIONAL]
    keys += [(name, None) for name in GLOBAL]
    return [
        Coverage(
            source="aws",
            collector=name,
            account=account_id,
            region=region,
            status=CoverageStatus.ERROR,
            error_code=code,
            message=message,
        )
        for name, region in keys
    ]
