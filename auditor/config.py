"""Settings (environment, prefix ``AUDITOR_``) and the targets file listing clusters and accounts."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from auditor.errors import ConfigError

# ------------------------------------------------------------------ validators shared by settings, targets files,
# flags and the API (TargetConfig is the API's request body): one home for what a valid value is

# AWS region names in every partition: eu-west-1, cn-north-1, us-gov-west-1, us-isob-east-1, eu-isoe-west-1,
# eusc-de-east-1 (the "regionRegex" of each partition in botocore/data/partitions.json;
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html). A shape check: an
# unknown region of the right shape still fails later, at the endpoint, with AWS's own message.
REGION_NAME = re.compile(r"^[a-z]{2,4}(-[a-z]{2,4})?-[a-z]+-[0-9]{1,2}$")
# EKS cluster names: "alphanumeric characters (case-sensitive), hyphens, and underscores. It must start with an
# alphanumeric character and can't be longer than 100 characters" (EKS API reference, CreateCluster).
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,99}$")
# Names a person gives (targets, API tokens): the API's /targets/{name} path parameter takes at most this many
# characters, and a name is printed in tables and log lines, where a control character (a newline) breaks them.
MAX_NAME = 200
# control characters (C0, DEL, C1: 0x9b acts as CSI on some terminals) and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# An account: 12 digits; a role ARN in any partition, its path and name of IAM's characters (RoleName 64, Path 512:
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_Role.html); ExternalId "2-1224 characters of
# [\w+=,.@:/-]" (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
ACCOUNT_ID = re.compile(r"[0-9]{12}")
ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,576}")
EXTERNAL_ID = re.compile(r"[A-Za-z0-9_+=,.@:/-]{2,1224}")
MAX_REGIONS = 64  # AWS has about 40: more is a mistake (a pasted list), not a fleet
MAX_CONTEXT = 1024  # a kubeconfig context name (an EKS one is the cluster ARN, ~100 characters)


def check_region(region: str) -> str:
    """A region name, or ValueError saying what one looks like."""
    if not REGION_NAME.fullmatch(region):  # fullmatch: "$" also matches before a trailing newline
        raise ValueError(f"region {region[:80]!r} is not an AWS region name (like eu-west-1 or us-gov-west-1)")
    return region


def check_name(name: str, what: str) -> str:
    """A target's or API token's name, or ValueError saying what one is: 1-MAX_NAME characters, no control
    characters or surrounding spaces. The one rule for both (targets files, the API, ``auditor token create``)."""
    if not name.strip() or name != name.strip() or len(name) > MAX_NAME or _CONTROL.search(name):
        raise ValueError(
            f"name {name[:80]!r} is not a {what} name: 1-{MAX_NAME} characters, "
            "no control characters or surrounding spaces"
        )
    return name


def check_cluster_name(name: str, what: str = "cluster_name") -> str:
    """An EKS cluster name, or ValueError saying what one looks like (``what``: the field or flag)."""
    if not CLUSTER_NAME.fullmatch(name):
        raise ValueError(
            f"{what} {name[:80]!r} is not an EKS cluster name: up to 100 letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return name


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab(5): 0 (and 7) is Sunday


def _weekday(token: str) -> int:
    day = token.lower()
    if day in _WEEKDAYS:
        return _WEEKDAYS.index(day)
    if day.isdigit() and int(day) <= 7:
        return int(day)
    raise ValueError(f"day of week {token[:20]!r} is not 0-7 or sun-sat")


def _weekdays(field: str) -> str:
    """crontab(5)'s day-of-week field in APScheduler's terms, as day names: APScheduler counts from Monday = 0, so
    its own reading of ``1`` fires on Tuesdays. Lists, ranges, steps and names are expanded to the days they mean."""
    if field == "*":
        return field
    days: set[int] = set()
    for part in field.split(","):
        base, slash, step_text = part.partition("/")
        if slash and not (step_text.isdigit() and int(step_text) > 0):
            raise ValueError(f"day-of-week step {step_text[:20]!r} is not a positive number")
        step = int(step_text) if slash else 1
        if base == "*":
            first, last = 0, 7
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _weekday(start), _weekday(end)
        else:
            first = _weekday(base)
            last = 7 if slash else first  # "1/2": from Monday on, every other day
        if first > last:
            raise ValueError(f"day-of-week range {base[:20]!r} runs backwards")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def cron_trigger(expression: str, timezone: str = "UTC") -> BaseTrigger:
    """A 5-field cron expression as a trigger, read as crontab(5) reads it; ConfigError with the reason when it is
    not one. Two readings differ from APScheduler's own ``from_crontab``: the day of week counts from Sunday = 0
    (7 too), and when both the day of month and the day of week are restricted, either one matching fires it.

    The one parser of schedules: targets files and API targets are validated with it, the scheduler fires with it.
    """
    if not expression.isascii():  # int() would read other scripts' digits; crontab(5) does not
        raise ConfigError(f"schedule {expression[:80]!r} is not a valid 5-field cron expression: only ASCII is allowed")
    fields = expression.split()
    try:
        zone = ZoneInfo(timezone)
        if len(fields) != 5:
            raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
        minute, hour, day, month, weekday = fields

        def cron(day: str, weekday: str) -> CronTrigger:
            return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=weekday, timezone=zone)

        if day.startswith("*") or weekday.startswith("*"):
            halves = [cron(day, _weekdays(weekday))]
        else:  # crontab(5): "the command will be run when either field matches the current time"
            halves = [cron(day, "*"), cron("*", _weekdays(weekday))]
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"schedule {expression[:80]!r} is not a valid 5-field cron expression: {exc}") from exc
    # A date no calendar has (0 0 31 2 *) parses, and would never run. A schedule that fires is found at once (about
    # 0.05 ms); only one that never does costs the search to APScheduler's last year (about 0.1 s). A half of an
    # either-day schedule that never fires (the 31st of February, or Mondays) is dropped: kept, it would cost that
    # search on every tick.
    now = datetime.now(zone)
    live = [half for half in halves if half.get_next_fire_time(None, now) is not None]
    if not live:
        raise ConfigError(f"schedule {expression[:80]!r} never fires: no date matches its day, month and weekday")
    return live[0] if len(live) == 1 else OrTrigger(live)


class AwsSettings(BaseModel):
    """How the auditor talks to AWS. It shares rate limits with the running controller: be gentle."""

    max_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Collector calls in flight at once across accounts × regions × collectors (the rate is "
        "calls_per_second's).",
    )
    calls_per_second: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="Requests per second, retries included, per account × region × AWS API (elbv2, elb, ec2, acm, "
        "wafv2, cloudwatch, ...) from this process; 0: no limit. AWS refills Elastic Load Balancing's Describe* "
        "bucket at 10/s per account and region for everyone, the running controller included: 5 leaves it half "
        "while one process audits an account; replicas (and other tools) each take their own share.",
    )
    calls_burst: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Requests that may go at once before calls_per_second paces them (AWS's Describe* bucket "
        "holds 40).",
    )
    max_attempts: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="botocore 'standard' retry mode attempts, the first included. None leaves it to "
        "AWS_MAX_ATTEMPTS / the AWS config file, else botocore's standard default (3).",
    )
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to open a connection.")
    read_timeout: float = Field(default=30.0, gt=0, description="Seconds to wait for a response.")
    default_region: str = Field(default="us-east-1", description="Region used when none is given.")
    shared_inventory_seconds: float = Field(
        default=300.0,
        ge=0,
        le=86400,
        description="How long what one audit read of an account and region (load balancers, listeners, "
        "target groups, WAF, security groups, certificates) serves the audits of the other clusters in it, "
        "in one `audit --config` run, or the scheduled runs of `serve` (every replica on the database); "
        "0 reads each time.",
    )

    @field_validator("default_region")
    @classmethod
    def _region_shape(cls, v: str) -> str:
        return check_region(v)


class KubeSettings(BaseModel):
    """How the auditor talks to the Kubernetes API server."""

    page_size: int = Field(
        default=500,
        ge=1,
        le=5000,
        description="Objects per list page (limit + continue); 500 is what kubectl uses.",
    )
    request_timeout: float = Field(default=30.0, gt=0, description="Seconds per API request.")


class RuleSettings(BaseModel):
    """Thresholds of the rules."""

    certificate_warning_days: int = Field(
        default=30, ge=1, description="A certificate in use expiring within this many days is a finding."
    )
    certificate_critical_days: int = Field(
        default=7, ge=0, description="...and critical within this many days (or already expired)."
    )
    idle_requests_per_day: int = Field(
        default=100,
        ge=0,
        description="idle-load-balancer: fewer requests (ALB, CLB) or new flows (NLB) than this on every one of "
        "the last idle_days days is idle (Trusted Advisor's 'Idle Load Balancers' uses 100 a day over 7 days).",
    )
    idle_days: int = Field(default=7, ge=1, le=63, description="idle-load-balancer: the days looked at.")


class CostSettings(BaseModel):
    """How load balancer cost is measured: prices from the AWS Price List API, usage from CloudWatch."""

    price_refresh_hours: float = Field(
        default=168.0,
        gt=0,
        description="Hours the Price List prices cached in the database are used before they are read again. "
        "List prices change a few times a year; a week keeps the calls to the Price List API rare.",
    )
    billed_refresh_hours: float = Field(
        default=24.0,
        ge=0,
        description="Hours an account's billed cost from Cost Explorer is reused by the scheduled runs of `auditor "
        "serve` (every replica on the database) and the targets of one `audit --config` before it is read again: "
        "daily data, and every GetCostAndUsageWithResources request is billed ($0.01). 0 reads it with every audit.",
    )
    usage_window_days: int = Field(
        default=14,
        ge=1,
        le=63,
        description="Days of CloudWatch metrics a cost estimate and the idle rule read (one data point per day "
        "per metric; 63 days is the retention of 5-minute data).",
    )
    team_key: str = Field(
        default="team",
        min_length=1,
        description="The label (else annotation) of an Ingress or Service that names the team paying for it "
        "(`auditor cost --group-by team`).",
    )


class ApiSettings(BaseModel):
    """The REST API of `auditor serve`."""

    host: str = Field(default="127.0.0.1", description="Address to listen on; 0.0.0.0 in a container.")
    port: int = Field(default=8080, ge=1, le=65535, description="TCP port to listen on.")
    page_size: int = Field(
        default=50, ge=1, le=1000, description="Items per page of list endpoints when the client gives no limit."
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics without a token (it shows finding counts per cluster). Default: a read "
        "token is needed, which Prometheus sends with `authorization: {credentials: ...}`.",
    )
    token_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="How long a verified token is trusted without asking the database again; a revoked "
        "token stops working within this many seconds. Saves one query per request.",
    )
    read_pool_size: int = Field(
        default=2,
        ge=1,
        le=100,
        description="PostgreSQL connections per API worker process for the findings list (async reads; "
        "the other routes use the SQLAlchemy pool). Two let a slow query (with_total) overlap the others; "
        "more mainly adds PostgreSQL backends competing for CPU when it shares the machine.",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="Mixed into the key that signs the dashboard's session cookies (the same on every replica). "
        "Without it a cookie is signed with a key derived from the API token's stored hash alone, so whoever "
        "can read the database's api_tokens table could make one.",
    )


class SchedulerSettings(BaseModel):
    """The audit scheduler of `auditor serve` (cron per target, leases in the database)."""

    lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A running run whose heartbeat is older than this is marked failed (its process died). "
        "Keep it several heartbeats long so a busy process is not declared dead.",
    )
    heartbeat_seconds: float = Field(default=15.0, gt=0, description="How often a running run renews its lease.")
    misfire_grace_seconds: int = Field(
        default=3600,
        ge=1,
        description="A scheduled run missed by up to this long (process down, run still going) still runs "
        "once when possible; missed runs are coalesced into one.",
    )
    max_parallel_runs: int = Field(
        default=2, ge=1, le=16, description="Audits of different targets running at once in one process."
    )
    timezone: str = Field(default="UTC", description="Time zone of the cron expressions.")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"time zone {v[:80]!r} is not known (an IANA name like UTC or Europe/Paris)") from exc
        return v


# The formats a finished run's reports are written in (reports.formats), and each one's file extension.
REPORT_EXTENSIONS = {"markdown": "md", "html": "html", "json": "json", "csv": "csv", "sarif": "sarif"}


class ReportSettings(BaseModel):
    """What happens with the report of a finished run."""

    report_dir: Path | None = Field(
        default=None, description="Write each finished run's reports (md, html, json, csv, sarif) here."
    )
    formats: list[str] = Field(
        default_factory=lambda: list(REPORT_EXTENSIONS),
        description="Formats written to report_dir: any of markdown, html, json, csv, sarif.",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Slack-compatible webhook posted after each scheduled run; a secret, never logged.",
    )
    webhook_timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the webhook.")

    @field_validator("formats")
    @classmethod
    def _formats_known(cls, v: list[str]) -> list[str]:  # found at start, not by the first run's reports failing
        unknown = [fmt for fmt in v if fmt not in REPORT_EXTENSIONS]
        if unknown:
            raise ValueError(f"report format {unknown[0][:40]!r} is not one of {', '.join(REPORT_EXTENSIONS)}")
        return v


class ExportSettings(BaseModel):
    """Where the service sends each finished run's findings besides its own history (`auditor serve`)."""

    securityhub: bool = Field(
        default=False,
        description="Send each finished run's findings to AWS Security Hub (BatchImportFindings, in each finding's "
        "account and region, with the target's credentials) and archive the ones the run resolved. Off by default: "
        "it writes to AWS and needs iam/auditor-securityhub-export.json on top of the read-only policy. A refused or "
        "failed call is logged and recorded in the run's coverage (source 'export'); it never fails the run.",
    )


class Settings(BaseSettings):
    """All runtime settings. Environment variables: AUDITOR_<FIELD>, nested with '__'."""

    model_config = SettingsConfigDict(env_prefix="AUDITOR_", env_nested_delimiter="__", extra="ignore")

    config_file: Path | None = Field(
        default=None, description="YAML file listing targets (clusters, accounts, regions, schedules)."
    )
    database_url: str = Field(
        default="sqlite:///auditor.db",
        description="SQLAlchemy URL of the history database; PostgreSQL: postgresql+psycopg://...",
    )
    log_format: str = Field(default="text", description="'text' for a terminal, 'json' in a cluster.")
    log_level: str = Field(default="INFO", description="Root log level.")
    aws: AwsSettings = Field(default_factory=AwsSettings)
    kube: KubeSettings = Field(default_factory=KubeSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)

    @field_validator("log_format")
    @classmethod
    def _log_format_known(cls, v: str) -> str:  # AUDITOR_LOG_FORMAT=JSON or =xml gave text logs without a word
        if v.strip().lower() not in ("text", "json"):
            raise ValueError(f"log format {v[:40]!r} is not 'text' or 'json'")
        return v.strip().lower()


class AccountConfig(BaseModel):
    """One AWS account of a target: credentials from the standard chain, or a role to assume."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="Account id (informational; checked against STS).")
    role_arn: str | None = Field(default=None, description="Role to assume for this account.")
    external_id: str | None = Field(default=None, description="ExternalId for the assume-role call.")
    profile: str | None = Field(default=None, description="Named profile from ~/.aws/config.")

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str | None) -> str | None:
        if v is not None and not ACCOUNT_ID.fullmatch(v):
            raise ValueError(f"account id {v[:80]!r} is not an AWS account id (12 digits)")
        return v

    @field_validator("role_arn")
    @classmethod
    def _role_arn_shape(cls, v: str | None) -> str | None:
        if v is not None and not ROLE_ARN.fullmatch(v):
            raise ValueError(f"not an IAM role ARN: {v[:200]!r} (arn:aws:iam::<12 digits>:role/<path and name>)")
        return v

    @field_validator("external_id")
    @classmethod
    def _external_id_shape(cls, v: str | None) -> str | None:
        if v is not None and not EXTERNAL_ID.fullmatch(v):
            raise ValueError("external_id is not one STS accepts: 2-1224 letters, digits and any of _+=,.@:/-")
        return v


class TargetConfig(BaseModel):
    """One audit target: a cluster (optional) and the AWS accounts and regions it lives in."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Display name; unique in the file.")
    cluster_name: str | None = Field(default=None, description="EKS cluster name (the controller's clusterName).")
    context: str | None = Field(default=None, description="kubeconfig context; None = current context.")
    kubeconfig: Path | None = Field(default=None, description="kubeconfig file; None = KUBECONFIG or ~/.kube/config.")
    in_cluster: bool = Field(default=False, description="Use the pod's service account instead of a kubeconfig.")
    kubernetes: bool = Field(default=True, description="False: audit AWS only (no cluster access).")
    regions: list[str] = Field(default_factory=list, min_length=0)
    accounts: list[AccountConfig] = Field(default_factory=lambda: [AccountConfig()])
    schedule: str | None = Field(default=None, description="Cron expression (5 fields) for `auditor serve`.")
    rules: list[str] | None = Field(
        default=None,
        description="Only these rule ids or categories, or `all` (None: every rule but the opt-in ones); `--rules` "
        "replaces it.",
    )
    skip_rules: list[str] | None = Field(
        default=None, description="Rule ids or categories not to run; `--skip-rules` adds to it."
    )

    @field_validator("accounts")
    @classmethod
    def _at_least_one_account(cls, v: list[AccountConfig]) -> list[AccountConfig]:
        return v or [AccountConfig()]

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        return check_name(v, "target")

    @field_validator("cluster_name")
    @classmethod
    def _cluster_name_shape(cls, v: str | None) -> str | None:
        return v if v is None else check_cluster_name(v)

    @field_validator("context")
    @classmethod
    def _context_shape(cls, v: str | None) -> str | None:
        if v is not None and (not v or len(v) > MAX_CONTEXT or _CONTROL.search(v)):
            raise ValueError(f"context {v[:80]!r} is not a kubeconfig context name (1-{MAX_CONTEXT} characters)")
        return v

    @field_validator("regions")
    @classmethod
    def _regions_shape(cls, v: list[str]) -> list[str]:
        if len(v) > MAX_REGIONS:
            raise ValueError(f"{len(v)} regions: a target names at most {MAX_REGIONS}")
        for region in v:
            check_region(region)
        return v

    @model_validator(mode="after")
    def _rule_selection_valid(self) -> TargetConfig:
        if self.rules is not None or self.skip_rules:
            from auditor.rules.selection import select  # imported here: the rules import this module

            try:
                select(self.rules, self.skip_rules)
            except ConfigError as exc:
                raise ValueError(str(exc)) from exc
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                cron_trigger(v)
            except ConfigError as exc:
                raise ValueError(str(exc)) from exc
        return v


class TargetsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targets: list[TargetConfig] = Field(min_length=1)


def read_text_file(path: Path, what: str) -> str:
    """A UTF-8 text file's content; ConfigError (one line, naming the file and the problem) otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # a NUL in the path (a targets file can name one)
        raise ConfigError(f"cannot read {what} {str(path)[:200]!r}: {exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} ({exc.reason})"
        ) from exc


def validation_message(exc: ValidationError, prefix: tuple[Any, ...] = ()) -> str:
    """The first error of a ValidationError as one line: a validator's own sentence, else "field: problem"."""
    first = exc.errors()[0]
    msg = str(first.get("msg", "invalid"))
    if first.get("type") == "value_error":  # our validators' messages name the field and the value
        return msg.removeprefix("Value error, ")
    where = ".".join(str(p) for p in first.get("loc", ())[len(prefix) :])
    return f"{where}: {msg}" if where else msg


class _DuplicateKey(yaml.constructor.ConstructorError):
    """A key given twice in one mapping of a targets file (YAML keeps the last one without a word)."""

    def __init__(self, key: object, line: int, first_line: int) -> None:
        super().__init__(problem=f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class _TargetsLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (standard tags only) that refuses a key given twice in one mapping (YAML 1.2 requires
    keys to be unique: https://yaml.org/spec/1.2.2/#mapping); a merge key (``<<``) may still be overridden."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error says so
                continue
            if first is not None:
                raise _DuplicateKey(key, key_node.start_mark.line + 1, first + 1)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_targets(path: Path) -> list[TargetConfig]:
    """Read and validate a targets file; every problem becomes one ConfigError line naming the target."""
    text = read_text_file(path, "config file")
    try:
        raw = yaml.load(text, Loader=_TargetsLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise ConfigError(
            f"config file {path}: duplicate key {exc.key!r} on line {exc.line} (first on line {exc.first_line})"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    except RecursionError as exc:
        raise ConfigError(f"config file {path} is nested too deeply to be a targets file") from exc
    if raw is None or (isinstance(raw, dict) and not raw.get("targets") and set(raw) <= {"targets"}):
        raise ConfigError(
            f"config file {path} {'is empty' if raw is None else 'has no targets'}: it needs a `targets:` list "
            "with at least one target"
        )
    try:
        parsed = TargetsFile.model_validate(raw)
    except ValidationError as exc:
        loc = exc.errors()[0].get("loc", ())
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            entry = raw["targets"][loc[1]]
            name = entry.get("name") if isinstance(entry, dict) else None
            who = f"target {name!r}" if isinstance(name, str) else f"target #{loc[1] + 1}"
            raise ConfigError(f"{path}: {who}: {validation_message(exc, loc[:2])}") from exc
        raise ConfigError(f"{path}: {validation_message(exc)}") from exc
    names = [t.name for t in parsed.targets]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"config file {path}: duplicate target names: {', '.join(dupes)}")
    return parsed.targets


def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "AUDITOR_" + "__".join(str(p) for p in first.get("loc", ())).upper()
        raise ConfigError(f"bad setting {where}: {str(first.get('msg')).removeprefix('Value error, ')}") from exc
    except SettingsError as exc:  # a variable of a list or object setting (AUDITOR_AWS, ..._FORMATS) is not JSON
        cause = f" ({' '.join(str(exc.__cause__).split())})" if exc.__cause__ is not None else ""
        raise ConfigError(
            f"bad setting: {exc}{cause}; a list or object setting takes JSON, "
            "e.g. AUDITOR_REPORTS__FORMATS='[\"html\"]'"
        ) from exc
