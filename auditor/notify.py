"""Posts an audit summary to a Slack-compatible incoming webhook (``text`` fallback + ``blocks``).

A webhook URL is a secret (whoever has it can post to the channel): messages, errors and logs
name only its scheme and host, never its path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

import auditor
from auditor.errors import AuditorError
from auditor.findings import AuditResult, Finding, Status
from auditor.output.common import (
    Counts,
    OwnerIndex,
    coverage_detail,
    coverage_label,
    coverage_problems,
    money,
    resource_label,
    sorted_findings,
    timestamp,
)

if TYPE_CHECKING:
    from auditor.output import RunDiff

log = logging.getLogger(__name__)

TOP_FINDINGS = 5
LISTED_CHANGES = 5
_SECTION_LIMIT = 2900  # Slack rejects section text over 3000 characters
_HEADER_LIMIT = 150  # and header text over 150
_SEVERITY_MARK = {"critical": ":red_circle:", "high": ":large_orange_circle:", "medium": ":large_yellow_circle:"}


def post_webhook(url: str, result: AuditResult, diff: RunDiff | None, *, timeout: float = 10.0) -> None:
    """POST the Slack message; raise AuditorError (naming only scheme and host) unless answered 2xx."""
    where = public_part(url)
    payload = slack_message(result, diff)
    redact = _RedactUrl(url, where)
    httpx_log = logging.getLogger("httpx")  # httpx logs every request URL at INFO
    httpx_log.addFilter(redact)
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            response = client.post(
                url, json=payload, headers={"User-Agent": f"eks-exposure-auditor/{auditor.__version__}"}
            )
    except httpx.TimeoutException:
        raise AuditorError(f"webhook {where} did not answer within {timeout:g}s") from None
    except httpx.HTTPError as exc:
        detail = redact.scrub(str(exc)) or type(exc).__name__
        raise AuditorError(f"webhook {where} unreachable: {detail}") from None
    finally:
        httpx_log.removeFilter(redact)
    if not response.is_success:
        body = redact.scrub(" ".join(response.text.split()))[:200]
        raise AuditorError(f"webhook {where} answered HTTP {response.status_code}" + (f": {body}" if body else ""))
    log.info("posted audit of %s to webhook %s", result.target, where)


def public_part(url: str) -> str:
    """`https://hooks.slack.com` — what may be shown of a webhook URL."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise AuditorError("webhook URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise AuditorError("webhook URL must be an http(s) URL with a host")
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


class _RedactUrl(logging.Filter):
    """Replaces the full webhook URL (and its secret path) with its public part in log records."""

    def __init__(self, url: str, public: str) -> None:
        super().__init__()
        parsed = httpx.URL(url)
        self._secrets = [s for s in (url, str(parsed), parsed.raw_path.decode("ascii", "replace")) if len(s) > 1]
        self._public = public

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, self._public if "://" in secret else "/<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.scrub(str(a)) if self._leaks(a) else a for a in record.args)
        if isinstance(record.msg, str) and self._leaks(record.msg):
            record.msg = self.scrub(record.msg)
        return True

    def _leaks(self, value: object) -> bool:
        text = str(value)
        return any(secret in text for secret in self._secrets)


# --------------------------------------------------------------------------- the message


def _escape(text: str) -> str:
    """Slack mrkdwn needs only these three escaped; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> dict[str, Any]:
    # verbatim: Slack's default (false) turns plain "@here", "#channel" and URLs in cluster text into live mentions,
    # channel links and links; our own markup (*bold*, :emoji:) is still rendered
    # (https://docs.slack.dev/reference/block-kit/composition-objects/text-object)
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_LIMIT), "verbatim": True}}


def _line(finding: Finding, index: OwnerIndex) -> str:
    mark = _SEVERITY_MARK.get(finding.severity.value, ":white_circle:")
    return (
        f"{mark} *{finding.severity.value.upper()}* `{_escape(finding.rule_id)}` "
        f"{_escape(index.owner(finding))} ({_escape(resource_label(finding))}): {_escape(finding.message)}"
    )


def slack_message(result: AuditResult, diff: RunDiff | None) -> dict[str, Any]:
    """The webhook payload: a plain ``text`` fallback (notifications) and Block Kit ``blocks``."""
    counts = Counts.of(result)
    index = OwnerIndex(result.load_balancers)
    problems = coverage_problems(result)
    failed = counts.failed
    title = f"EKS exposure audit: {result.target}: {failed} open finding{'s' if failed != 1 else ''}"

    text = f"{title} ({counts.severity_phrase() or 'none'})"
    if diff is not None and diff.previous_run_at is not None:
        text += f"; {len(diff.new)} new, {len(diff.resolved)} resolved since the last run"
    if problems:
        text += f"; data missing from {len(problems)} collector(s)"

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, _HEADER_LIMIT), "emoji": True}},
        _section(
            f"*Cluster:* {_escape(result.cluster_name or '(none: AWS only)')}   "
            f"*Run:* {timestamp(result.started_at)}   *Status:* {result.status}\n"
            f"*Failed:* {counts.severity_phrase() or 'none'}   "
            f"*Not checked:* {counts.by_status[Status.UNKNOWN.value]}   "
            f"*Load balancers:* {counts.load_balancers} ({money(counts.known_monthly_cost)}/month known)"
        ),
    ]
    if problems:
        lines = [f"• {_escape(coverage_label(c))}: {_escape(coverage_detail(c))}" for c in problems]
        blocks.append(
            _section(":warning: *Data missing: the checks resting on it could not be checked:*\n" + "\n".join(lines))
        )
    if diff is not None:
        blocks.append(_section(_changes_text(diff, index)))
    top = sorted_findings(result.failed())[:TOP_FINDINGS]
    if top:
        blocks.append({"type": "divider"})
        more = f" (of {failed})" if failed > len(top) else ""
        blocks.append(_section(f"*Top findings{more}:*\n" + "\n".join(_line(f, index) for f in top)))
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"eks-exposure-auditor {auditor.__version__}"}]}
    )
    return {"text": text, "blocks": blocks}


def _changes_text(diff: RunDiff, index: OwnerIndex) -> str:
    if diff.previous_run_at is None:
        return f"*First run of this target:* {len(diff.new)} open finding(s)."
    lines = [
        f"*Since {timestamp(diff.previous_run_at)}:* {len(diff.new)} new, {len(diff.resolved)} resolved, "
        f"{diff.still_open} still open"
        + (f", {len(diff.reopened)} reopened" if diff.reopened else "")
        + (f", {len(diff.not_rechecked)} not re-checked (still open)" if diff.not_rechecked else "")
    ]
    for label, group in (("New", diff.new), ("Reopened", diff.reopened), ("Resolved", diff.resolved)):
        if group:
            lines.append(f"*{label}:*")
            lines += [_line(f, index) for f in group[:LISTED_CHANGES]]
            if len(group) > LISTED_CHANGES:
                lines.append(f"…and {len(group) - LISTED_CHANGES} more")
    return "\n".join(lines)
