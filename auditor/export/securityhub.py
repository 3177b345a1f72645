"""Sends findings to AWS Security Hub with BatchImportFindings, in each finding's own account and region.

Used by ``auditor export securityhub`` and by the service after each run (``AUDITOR_EXPORT__SECURITYHUB``). The
findings are ``auditor.output.asff``'s. Security Hub takes a finding only from the account it names
(``AwsAccountId``) into the region of its ``ProductArn``, so findings are grouped by account and region and sent
with that account's credentials (the target's ``accounts``, as the collectors reach them). Limits of
BatchImportFindings (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html): at
most 100 findings and 6 MB per call, 240 KB per finding; botocore's standard retries absorb its throttling.

Nothing here raises on AWS's answer: every group's outcome — sent, refused per finding, denied, unreachable —
is a ``Coverage`` entry (source ``export``, collector ``securityhub``) and a log line; callers record it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from auditor.collect.aws.session import AwsAccountSession, CallCounter, open_account, translate_client_error
from auditor.config import AccountConfig, Settings
from auditor.errors import AuditorError, ConfigError
from auditor.findings import AuditResult, Finding
from auditor.inventory.models import Coverage, CoverageStatus
from auditor.output.asff import asff_findings
from auditor.output.common import home_scope

log = logging.getLogger(__name__)

# What the export calls, declared next to the calls (auditor.collect.permissions makes the policy from it).
# sts:GetCallerIdentity (which account the credentials are) is in the read-only policy already.
IAM_ACTIONS: tuple[str, ...] = ("securityhub:BatchImportFindings",)
MAX_FINDINGS_PER_CALL = 100
MAX_BYTES_PER_CALL = 5 * 1024 * 1024  # under the 6 MB request limit, with room for the request's own framing
COLLECTOR = "securityhub"


@dataclass
class ExportResult:
    """What one export did: findings accepted (active and archived), not accepted, calls, and per account and
    region the outcome as coverage entries (OK, PARTIAL: some refused, ERROR: none accepted)."""

    active: int = 0
    archived: int = 0
    failed: int = 0
    calls: int = 0
    coverage: list[Coverage] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(c.status == CoverageStatus.OK for c in self.coverage)

    def summary(self) -> str:
        """`12 findings sent to Security Hub (3 archived) in 1 call` plus what failed where."""
        sent = self.active + self.archived
        text = (
            f"{sent} finding{'s' if sent != 1 else ''} sent to Security Hub ({self.archived} archived) "
            f"in {self.calls} call{'s' if self.calls != 1 else ''}"
        )
        problems = [c for c in self.coverage if c.status != CoverageStatus.OK]
        if self.failed or problems:
            text += f"; {self.failed} not accepted: " + "; ".join(_problem(c) for c in problems)
        return text


def _problem(cov: Coverage) -> str:
    where = "/".join(p for p in (cov.account, cov.region) if p) or "?"
    code = f" {cov.error_code}" if cov.error_code else ""
    return f"{where}{code}: {cov.message or cov.status.value}"


def export_findings(
    result: AuditResult,
    settings: Settings,
    *,
    accounts: Iterable[AccountConfig] | None = None,
    resolved: Iterable[Finding] = (),
    include_pass: bool = False,
    region: str | None = None,
    first_seen: Mapping[str, datetime] | None = None,
    counter: CallCounter | None = None,
) -> ExportResult:
    """Send ``result``'s FAIL findings (active) and ``resolved`` (archived) — with ``include_pass`` its PASS
    findings too (archived) — to Security Hub. ``accounts``: whose credentials send (the target's; default: the
    ambient credentials); ``region``: where findings about Kubernetes objects alone go (default: the region the
    audit read most)."""
    counter = counter or CallCounter()
    outcome = ExportResult()
    home_account, home_region = home_scope(result)
    region = region or home_region or settings.aws.default_region
    sessions: dict[str, AwsAccountSession] = {}
    for account in accounts or [AccountConfig()]:
        try:
            opened = open_account(account, settings.aws, region=region, counter=counter)
        except (AuditorError, BotoCoreError) as exc:  # denied, unreachable, a bad profile or region
            who = account.role_arn or (f"profile {account.profile}" if account.profile else "the default credentials")
            code = getattr(exc, "code", "") or type(exc).__name__
            log.error("Security Hub export: no session for %s: %s", who, exc)
            outcome.coverage.append(_entry(account.id, region, CoverageStatus.ERROR, code, f"{who}: {exc}"))
            continue
        sessions.setdefault(opened.account_id, opened)
    default_account = home_account if home_account in sessions else next(iter(sessions), home_account)
    try:
        docs = asff_findings(
            result,
            include_pass=include_pass,
            resolved=resolved,
            account=default_account,
            region=region,
            first_seen=first_seen,
        )
    except ConfigError as exc:  # no account known at all: nothing can be filed
        log.error("Security Hub export of %s: %s", result.target, exc)
        outcome.coverage.append(_entry(None, region, CoverageStatus.ERROR, "NoAccount", str(exc)))
        outcome.failed += len(result.failed())
        return outcome
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in docs:
        groups.setdefault((doc["AwsAccountId"], doc["ProductArn"].split(":")[3]), []).append(doc)
    for (account_id, where), group in sorted(groups.items()):
        session = sessions.get(account_id)
        if session is None:
            outcome.failed += len(group)
            message = (
                f"{len(group)} finding(s) of account {account_id} not sent: no credentials for it "
                "(add the account to the target's accounts, with a role_arn)"
            )
            log.error("Security Hub export of %s: %s", result.target, message)
            outcome.coverage.append(_entry(account_id, where, CoverageStatus.ERROR, "NoCredentials", message))
            continue
        outcome.coverage.append(_send(session, where, group, outcome, target=result.target))
    if not outcome.coverage:  # nothing failed and nothing to send: say so, so the run shows the export happened
        outcome.coverage.append(_entry(default_account, region, CoverageStatus.OK, None, "no findings to send"))
    return outcome


def _send(
    session: AwsAccountSession, region: str, docs: list[dict[str, Any]], outcome: ExportResult, *, target: str
) -> Coverage:
    """One account and region: batches of ≤ 100 findings and ≤ MAX_BYTES_PER_CALL; stops at the first refused call
    (a denial or an outage would refuse the rest too) and counts what was not sent."""
    client = session.client("securityhub", region)
    archived_ids = {d["Id"] for d in docs if d["RecordState"] == "ARCHIVED"}
    accepted = calls = 0
    refused: list[str] = []  # "Id: ErrorCode ErrorMessage" of findings Security Hub rejected one by one
    error: tuple[str, str] | None = None
    sent_so_far = 0
    for batch in batches(docs):
        try:
            response = client.batch_import_findings(Findings=batch)
        except ClientError as exc:
            failure = translate_client_error(exc, "securityhub", "BatchImportFindings")
            error = (failure.code, str(failure))
        except BotoCoreError as exc:  # no answer at all (endpoint unreachable, timeout)
            error = (type(exc).__name__, f"securityhub:BatchImportFindings failed: {exc}")
        if error is not None:
            break
        calls += 1
        sent_so_far += len(batch)
        failed_ids = {str(f.get("Id", "")) for f in response.get("FailedFindings", [])}
        refused += [
            f"{f.get('Id', '?')}: {f.get('ErrorCode', '')} {f.get('ErrorMessage', '')}".strip()
            for f in response.get("FailedFindings", [])
        ]
        for doc in batch:
            if doc["Id"] in failed_ids:
                continue
            accepted += 1
            if doc["Id"] in archived_ids:
                outcome.archived += 1
            else:
                outcome.active += 1
    if error is not None:
        calls += 1  # the refused call was made too
    outcome.calls += calls
    not_accepted = len(docs) - accepted
    outcome.failed += not_accepted
    account = session.account_id
    if error is not None:
        code, message = error
        message = f"{message} ({accepted} of {len(docs)} findings sent before)"
        log.error("Security Hub export of %s to %s/%s failed: %s", target, account, region, message)
        status = CoverageStatus.PARTIAL if accepted else CoverageStatus.ERROR
        return _entry(account, region, status, code, message, calls=calls)
    if refused:
        message = f"Security Hub refused {len(refused)} of {len(docs)} findings: " + "; ".join(refused[:3])
        log.error("Security Hub export of %s to %s/%s: %s", target, account, region, message)
        status = CoverageStatus.PARTIAL if accepted else CoverageStatus.ERROR
        return _entry(account, region, status, "FailedFindings", message[:1000], calls=calls)
    log.info("Security Hub export of %s to %s/%s: %d findings in %d call(s)", target, account, region, accepted, calls)
    return _entry(account, region, CoverageStatus.OK, None, f"{accepted} findings sent", calls=calls)


def batches(docs: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Consecutive batches of at most MAX_FINDINGS_PER_CALL findings and MAX_BYTES_PER_CALL bytes of JSON."""
    batch: list[dict[str, Any]] = []
    size = 0
    for doc in docs:
        doc_size = len(json.dumps(doc, separators=(",", ":")).encode())
        if batch and (len(batch) == MAX_FINDINGS_PER_CALL or size + doc_size > MAX_BYTES_PER_CALL):
            yield batch
            batch, size = [], 0
        batch.append(doc)
        size += doc_size
    if batch:
        yield batch


def _entry(
    account: str | None,
    region: str | None,
    status: CoverageStatus,
    code: str | None,
    message: str,
    *,
    calls: int = 0,
) -> Coverage:
    return Coverage(
        source="export",
        collector=COLLECTOR,
        account=account,
        region=region,
        status=status,
        error_code=code,
        message=message,
        calls=calls,
    )
