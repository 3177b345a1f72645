"""The one place that builds boto3 sessions and clients: retries, timeouts, assume-role, call accounting.

Every client made here counts its calls by IAM action (``elasticloadbalancing:DescribeListeners``),
which feeds the benchmark, the ``/metrics`` endpoint and the test that fails when code calls an
action its collector did not declare; and it refuses to start a call once its audit is cancelled
(``auditor.cancel``: the service's run that lost its lease). ``AWS_ENDPOINT_URL`` (and the
per-service variants) are honoured by botocore itself, which is how the demo and the tests reach
moto: no test-only path.
"""

from __future__ import annotations

import functools
import threading
from collections import Counter, defaultdict
from collections.abc import Hashable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from auditor import __version__
from auditor.cancel import CancelCheck, never_cancelled, stop_if_cancelled
from auditor.collect.aws.ratelimit import RATE_LIMITS
from auditor.config import AccountConfig, AwsSettings
from auditor.errors import CollectionError, ConfigError, PermissionDenied, TargetUnreachable

# boto3 service name -> IAM action prefix, where they differ.
IAM_PREFIX = {
    "elbv2": "elasticloadbalancing",
    "elb": "elasticloadbalancing",
    "resourcegroupstaggingapi": "tag",
}

DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "403",
        "AuthorizationError",
    }
)


# Not rate-limited here: STS answers once per account and audit (identity, AssumeRole), before the account is known.
_UNLIMITED = frozenset({"sts"})


def iam_action(service_name: str, operation_name: str) -> str:
    """``elbv2`` + ``DescribeListeners`` -> ``elasticloadbalancing:DescribeListeners``."""
    return f"{IAM_PREFIX.get(service_name, service_name)}:{operation_name}"


# Whom an AWS call is made for: the collection sets it for each collector run (account × collector × region) and
# the fan-out carries it into its threads, so a run's coverage counts exactly its own calls, through any client —
# elbv2 also asks ACM, IAM and CloudWatch, and runs at the same time as elb, which asks CloudWatch too.
CALLER: ContextVar[Hashable | None] = ContextVar("aws_caller", default=None)


class CallCounter:
    """Thread-safe count of AWS API calls by IAM action (logical calls, retries not included)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, action: str) -> None:
        with self._lock:
            self._counts[action] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())


def client_config(settings: AwsSettings, *, max_pool: int = 10) -> Config:
    """botocore config shared by every client: standard retries, timeouts, a recognisable user agent."""
    return Config(
        # max_attempts only when set: an explicit value here would override AWS_MAX_ATTEMPTS.
        retries=(
            {"mode": "standard", "max_attempts": settings.max_attempts}
            if settings.max_attempts is not None
            else {"mode": "standard"}
        ),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        user_agent_extra=f"eks-exposure-auditor/{__version__}",
        max_pool_connections=max_pool,
    )


@dataclass
class AwsAccountSession:
    """Clients for one AWS account, counted; create every client before fanning out to threads."""

    session: boto3.Session
    account_id: str
    settings: AwsSettings
    counter: CallCounter
    partition: str = "aws"
    cancelled: CancelCheck = never_cancelled  # asked before each call and each attempt of it (RunCancelled)
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _caller_calls: Counter[Hashable] = field(default_factory=Counter)
    _caller_waited: defaultdict[Hashable, float] = field(default_factory=lambda: defaultdict(float))

    def client(self, service: str, region: str) -> Any:
        """A counted client for ``service`` in ``region`` (cached: clients are thread-safe once built)."""
        key = (service, region)
        with self._lock:
            existing = self._clients.get(key)
            if existing is not None:
                return existing
            try:
                made = self.session.client(  # type: ignore[call-overload]
                    service,
                    region_name=region,
                    config=client_config(self.settings, max_pool=self.settings.max_concurrency + 2),
                )
            except (BotoCoreError, ValueError) as exc:  # botocore reads its environment here: a bad value is a setting
                raise ConfigError(
                    f"AWS client settings for {service} in {region}: {exc} (check AWS_ENDPOINT_URL, "
                    "AWS_ENDPOINT_URL_<SERVICE>, AWS_MAX_ATTEMPTS and the AWS config file)"
                ) from exc
            # first: a call refused for a cancelled audit is not counted as made
            made.meta.events.register("before-call.*.*", self._stop_if_cancelled)
            made.meta.events.register("before-call.*.*", self._count)
            made.meta.events.register("before-call.*.*", self._count_caller)
            if service not in _UNLIMITED:  # every attempt (retries included) takes a token, before it is signed
                made.meta.events.register("before-sign.*.*", functools.partial(self._take_token, service, region))
            # and again before each attempt is signed, after its wait for a token: a retry, or a call that waited
            # for the rate limit while its audit was cancelled, is not sent either
            made.meta.events.register("before-sign.*.*", self._stop_if_cancelled)
            self._clients[key] = made
            return made

    def _stop_if_cancelled(self, **_: Any) -> None:
        stop_if_cancelled(self.cancelled)  # botocore lets a hook's exception through: the call is not made

    def _count(self, model: Any, **_: Any) -> None:
        self.counter.record(iam_action(model.service_model.service_name, model.name))

    def _count_caller(self, **_: Any) -> None:
        caller = CALLER.get()
        if caller is not None:
            with self._lock:
                self._caller_calls[caller] += 1

    def _take_token(self, service: str, region: str, **_: Any) -> None:
        limits = self.settings
        bucket = RATE_LIMITS.bucket((self.account_id, region, service), limits.calls_per_second, limits.calls_burst)
        waited = bucket.acquire() if bucket is not None else 0.0
        caller = CALLER.get()
        if waited and caller is not None:
            with self._lock:
                self._caller_waited[caller] += waited

    def waited_by(self, caller: Hashable) -> float:
        """Seconds ``caller``'s requests waited so far for the rate limit (``aws.calls_per_second``)."""
        with self._lock:
            return self._caller_waited[caller]

    def calls_by(self, caller: Hashable) -> int:
        """Calls made so far for ``caller`` (``CALLER``: one collector run), whichever clients it used."""
        with self._lock:
            return self._caller_calls[caller]

    def arn(self, service: str, region: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{region}:{self.account_id}:{resource}"


def open_account(
    account: AccountConfig,
    settings: AwsSettings,
    *,
    region: str,
    counter: CallCounter | None = None,
    base_session: boto3.Session | None = None,
    cancelled: CancelCheck = never_cancelled,
) -> AwsAccountSession:
    """Resolve credentials (standard chain, profile, or assume-role) and the account id.

    Raises TargetUnreachable when no endpoint answers, PermissionDenied when credentials are refused, RunCancelled
    when ``cancelled()`` says so before a call (STS's included).
    """
    counter = counter or CallCounter()
    try:
        base = base_session or boto3.Session(profile_name=account.profile, region_name=region)
    except BotoCoreError as exc:
        raise CollectionError(f"AWS profile {account.profile!r}: {exc}", service="sts") from exc
    probe = AwsAccountSession(
        base, account_id=account.id or "", settings=settings, counter=counter, cancelled=cancelled
    )
    sts = probe.client("sts", region)
    try:
        if account.role_arn:
            kwargs: dict[str, Any] = {"RoleArn": account.role_arn, "RoleSessionName": "eks-exposure-auditor"}
            if account.external_id:
                kwargs["ExternalId"] = account.external_id
            creds = sts.assume_role(**kwargs)["Credentials"]
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
                region_name=region,
                botocore_session=botocore.session.Session(),
            )
            counted = AwsAccountSession(session, account_id="", settings=settings, counter=counter, cancelled=cancelled)
            ident = counted.client("sts", region).get_caller_identity()
        else:
            counted = probe
            ident = sts.get_caller_identity()
    except ClientError as exc:
        raise translate_client_error(exc, "sts", "AssumeRole" if account.role_arn else "GetCallerIdentity") from exc
    except NoCredentialsError as exc:
        raise PermissionDenied(
            "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
            "or run where an IAM role is available)",
            service="sts",
            operation="GetCallerIdentity",
            code="NoCredentials",
        ) from exc
    except BotoCoreError as exc:
        raise TargetUnreachable(f"AWS is not reachable in {region}: {exc}") from exc
    counted.account_id = ident["Account"]
    counted.partition = ident["Arn"].split(":")[1] if ident.get("Arn", "").startswith("arn:") else "aws"
    if account.id and account.id != counted.account_id:
        raise CollectionError(
            f"credentials belong to account {counted.account_id}, the config says {account.id}", service="sts"
        )
    return counted


def error_code(exc: ClientError) -> str:
    return str(
        exc.response.get("Error", {}).get("Code")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        or "Unknown"
    )


def translate_client_error(exc: ClientError, service: str, operation: str) -> CollectionError:
    """One boto3 ClientError -> CollectionError (PermissionDenied for denials), message on one line."""
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message") or exc).splitlines()[0][:300]
    cls = PermissionDenied if code in DENIED_CODES or "AccessDenied" in message else CollectionError
    return cls(f"{service}:{operation} failed: {code}: {message}", service=service, operation=operation, code=code)
