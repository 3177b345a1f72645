"""SARIF 2.1.0 output for code-scanning dashboards.

Results: every FAIL finding (kind "fail", level by severity). UNKNOWN findings are results of
kind "review" with level "none" — a human must look because the data was missing — and PASS
findings (only with ``include_pass``) are kind "pass", level "none". Coverage problems become
tool execution notifications, and ``executionSuccessful`` is false for a partial run.
Locations are logical: the Kubernetes owner (``Ingress/shop/web``) and the AWS ARN; there is no
source file to point at, so there is no physicalLocation.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import auditor
from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.inventory.models import CoverageStatus
from auditor.output.common import (
    OwnerIndex,
    coverage_detail,
    coverage_label,
    coverage_problems,
    rule_catalog,
    utc_iso,
    visible_findings,
)
from auditor.rules.base import RuleMeta

log = logging.getLogger(__name__)

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "eks-exposure-auditor"
# Where a SARIF viewer sends people for documentation of the tool itself.
INFORMATION_URI = "https://github.com/eks-exposure-auditor/eks-exposure-auditor"
FINGERPRINT_KEY = "auditorFingerprint/v1"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning reads properties.security-severity: >=9 critical, 7-8.9 high, 4-6.9 medium, <4 low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
KIND = {Status.FAIL: "fail", Status.UNKNOWN: "review", Status.PASS: "pass"}


def render_sarif(result: AuditResult, *, include_pass: bool = False) -> str:
    return json.dumps(sarif_log(result, include_pass=include_pass), indent=2, ensure_ascii=False) + "\n"


def sarif_log(result: AuditResult, *, include_pass: bool = False) -> dict[str, Any]:
    findings = visible_findings(result, include_pass=include_pass)
    descriptors = _rule_descriptors(findings)
    rule_index = {d["id"]: i for i, d in enumerate(descriptors)}
    index = OwnerIndex(result.load_balancers)
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": auditor.__version__,
                "semanticVersion": auditor.__version__,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }
        },
        # category/run-id: code scanning tracks alerts per category (tool + target + selection), not per run
        "automationDetails": {"id": f"{_category(result)}/{utc_iso(result.started_at)}"},
        "invocations": [_invocation(result)],
        "results": [_result(f, rule_index[f.rule_id], index) for f in findings],
        "properties": {
            "target": result.target,
            "cluster": result.cluster_name,
            "status": result.status,
            "rules": result.rules,
            "selection": result.selection,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _category(result: AuditResult) -> str:
    """Code scanning closes an alert that an upload of the same category no longer reports. The default audit (every
    rule but the opt-in ones) is ``<tool>/<target>``; another selection gets a category of its own, named by the
    selection as given (``AuditResult.selection``: the same whatever rules a release adds), so that its upload neither
    closes the default audit's alerts of rules it did not run nor has its own closed by them
    (https://docs.github.com/en/code-security/code-scanning/integrating-with-code-scanning/
    sarif-support-for-code-scanning#runautomationdetails-object)."""
    base = f"{TOOL_NAME}/{result.target}"
    if result.selection is None:
        return base
    return f"{base}/rules-{hashlib.sha256(result.selection.encode()).hexdigest()[:12]}"


def _rule_descriptors(findings: list[Finding]) -> list[dict[str, Any]]:
    """Every catalog rule, plus rules only known from findings (not in the catalog yet)."""
    metas = rule_catalog()
    descriptors = [_descriptor_from_meta(m) for m in sorted(metas.values(), key=lambda m: m.id)]
    seen = set(metas)
    for f in sorted(findings, key=lambda f: f.rule_id):
        if f.rule_id not in seen:
            seen.add(f.rule_id)
            descriptors.append(_descriptor_from_finding(f))
    return descriptors


def _descriptor(
    rule_id: str, title: str, *, description: str, remediation: str, severity: Severity, extra: dict[str, Any]
) -> dict[str, Any]:
    help_text = remediation or title
    return {
        "id": rule_id,
        "name": _pascal(title) or rule_id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": description or title},
        "help": {"text": help_text, "markdown": f"**Fix:** {help_text}"},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {"security-severity": SECURITY_SEVERITY[severity], "severity": severity.value, **extra},
    }


def _descriptor_from_meta(meta: RuleMeta) -> dict[str, Any]:
    extra: dict[str, Any] = {"category": meta.category, "tags": ["security", meta.category]}
    descriptor = _descriptor(
        meta.id,
        meta.title,
        description=meta.rationale,
        remediation=meta.remediation,
        severity=meta.severity,
        extra=extra,
    )
    if meta.references:
        descriptor["helpUri"] = meta.references[0]
        descriptor["properties"]["references"] = list(meta.references)
    return descriptor


def _descriptor_from_finding(finding: Finding) -> dict[str, Any]:
    return _descriptor(
        finding.rule_id,
        finding.title,
        description=finding.title,
        remediation=finding.remediation,
        severity=finding.severity,
        extra={"tags": ["security"]},
    )


def _pascal(title: str) -> str:
    """SARIF's rule ``name`` is an identifier-like string: "HTTP listener without redirect" -> HttpListener..."""
    return "".join(w[:1].upper() + w[1:].lower() for w in "".join(c if c.isalnum() else " " for c in title).split())


def _result(finding: Finding, rule_index: int, index: OwnerIndex) -> dict[str, Any]:
    logical: list[dict[str, Any]] = []
    owner = index.owner_path(finding)
    if owner is not None:
        logical.append({"name": owner.rsplit("/", 1)[-1], "fullyQualifiedName": owner, "kind": "resource"})
    if finding.resource_arn:
        logical.append(
            {
                "name": finding.resource_name or finding.resource_arn,
                "fullyQualifiedName": finding.resource_arn,
                "kind": "resource",
            }
        )
    text = finding.message
    if finding.status == Status.UNKNOWN:
        text = f"Could not be checked: {finding.message}"
    elif finding.remediation and finding.status == Status.FAIL:
        text = f"{finding.message} Fix: {finding.remediation}"
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "kind": KIND[finding.status],
        "level": LEVEL[finding.severity] if finding.status == Status.FAIL else "none",
        "message": {"text": text},
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "severity": finding.severity.value,
            "status": finding.status.value,
            "account": finding.account,
            "region": finding.region,
            "evidence": finding.evidence,
        },
    }
    if logical:
        result["locations"] = [{"logicalLocations": logical}]
    if finding.monthly_saving_usd is not None:
        result["properties"]["monthlySavingUsd"] = finding.monthly_saving_usd
    return result


def _invocation(result: AuditResult) -> dict[str, Any]:
    notifications = [
        {
            "level": "note" if cov.status == CoverageStatus.SKIPPED else "error",
            "message": {"text": f"{coverage_label(cov)}: {coverage_detail(cov)}"},
            "descriptor": {"id": f"coverage/{cov.collector}"},
            "properties": {"errorCode": cov.error_code, "status": cov.status.value},
        }
        for cov in coverage_problems(result)
    ]
    return {
        "executionSuccessful": result.status == "complete",
        "startTimeUtc": utc_iso(result.started_at),
        "endTimeUtc": utc_iso(result.finished_at),
        "toolExecutionNotifications": notifications,
    }
