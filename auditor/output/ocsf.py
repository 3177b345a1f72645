"""OCSF output: one Detection Finding (class_uid 2004) per finding, one JSON object per line (for a data lake).

Schema: https://schema.ocsf.io/1.5.0/classes/detection_finding (OCSF 1.5.0, with the ``cloud`` profile).
Statuses, in ``status_code`` as the auditor says them and normalised in ``status_id``:
- FAIL: status_id 1 New, activity 1 Create (type_uid 200401), the rule's severity.
- PASS (only with ``include_pass``): status_id 4 Resolved, activity 3 Close (type_uid 200403).
- UNKNOWN: status_id 99 Other with status "Not checked", activity 1 Create, severity_id 0 Unknown — whether
  there is a problem is not known; the rule's severity is kept in ``unmapped.rule_severity`` (as SARIF's
  ``review`` results keep it in their properties).
``finding_info.uid`` is ``<target>/<fingerprint>``, stable across runs.
"""

from __future__ import annotations

import json
from typing import Any

import auditor
from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.output.asff import resource_type
from auditor.output.common import OwnerIndex, home_scope, rule_catalog, visible_findings
from auditor.rules.base import RuleMeta

OCSF_VERSION = "1.5.0"
PRODUCT_NAME = "eks-exposure-auditor"
CLASS_UID, CATEGORY_UID = 2004, 2  # Detection Finding, Findings
ACTIVITY_CREATE, ACTIVITY_CLOSE = 1, 3
STATUS_NEW, STATUS_RESOLVED, STATUS_OTHER = 1, 4, 99
SEVERITY_ID = {Severity.INFO: 1, Severity.LOW: 2, Severity.MEDIUM: 3, Severity.HIGH: 4, Severity.CRITICAL: 5}
SEVERITY_UNKNOWN = 0
ACCOUNT_TYPE_AWS = 10  # account.type_id: AWS Account


def render_ocsf(result: AuditResult, *, include_pass: bool = False) -> str:
    """One compact JSON object per line, each line ending in a newline (nothing at all without findings)."""
    return "".join(
        json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n"
        for e in ocsf_events(result, include_pass=include_pass)
    )


def ocsf_events(result: AuditResult, *, include_pass: bool = False) -> list[dict[str, Any]]:
    """The visible findings (FAIL and UNKNOWN; PASS with ``include_pass``) as Detection Findings."""
    metas = rule_catalog()
    index = OwnerIndex(result.load_balancers)
    account, region = home_scope(result)
    return [
        detection_finding(f, result, meta=metas.get(f.rule_id), index=index, account=account, region=region)
        for f in visible_findings(result, include_pass=include_pass)
    ]


def detection_finding(
    finding: Finding,
    result: AuditResult,
    *,
    meta: RuleMeta | None,
    index: OwnerIndex,
    account: str | None,
    region: str | None,
) -> dict[str, Any]:
    time_ms = int(result.started_at.timestamp() * 1000)
    activity = ACTIVITY_CLOSE if finding.status == Status.PASS else ACTIVITY_CREATE
    if finding.status == Status.UNKNOWN:
        severity_id, severity = SEVERITY_UNKNOWN, "Unknown"
        status_id, status = STATUS_OTHER, "Not checked"
    else:
        severity_id, severity = SEVERITY_ID[finding.severity], _caption(finding.severity)
        status_id, status = (STATUS_RESOLVED, "Resolved") if finding.status == Status.PASS else (STATUS_NEW, "New")
    where_account = finding.account or account
    where_region = finding.region or region
    cloud: dict[str, Any] = {"provider": "AWS"}
    if where_region:
        cloud["region"] = where_region
    if where_account:
        cloud["account"] = {
            "uid": where_account,
            "name": where_account,
            "type_id": ACCOUNT_TYPE_AWS,
            "type": "AWS Account",
        }
    event: dict[str, Any] = {
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "activity_id": activity,
        "activity_name": "Close" if activity == ACTIVITY_CLOSE else "Create",
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"Detection Finding: {'Close' if activity == ACTIVITY_CLOSE else 'Create'}",
        "time": time_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "status_code": finding.status.value,
        "status_detail": finding.message,
        "message": finding.message,
        "metadata": {
            "version": OCSF_VERSION,
            "profiles": ["cloud"],
            "event_code": finding.rule_id,
            "product": {"name": PRODUCT_NAME, "vendor_name": PRODUCT_NAME, "version": auditor.__version__},
        },
        "finding_info": {
            "uid": f"{result.target}/{finding.fingerprint}",
            "title": finding.title,
            "desc": finding.message,
            "types": [meta.category if meta is not None else "exposure", finding.rule_id],
            "created_time": time_ms,
        },
        "resources": _resources(finding, result, index, where_region),
        "cloud": cloud,
        "unmapped": {
            "rule_severity": finding.severity.value,
            "target": result.target,
            "cluster": result.cluster_name,
            "fingerprint": finding.fingerprint,
            "evidence": finding.evidence,
        }
        | ({"monthly_saving_usd": finding.monthly_saving_usd} if finding.monthly_saving_usd is not None else {}),
    }
    if finding.remediation:
        remediation: dict[str, Any] = {"desc": finding.remediation}
        if meta is not None and meta.references:
            remediation["references"] = list(meta.references)
        event["remediation"] = remediation
    return event


def _resources(finding: Finding, result: AuditResult, index: OwnerIndex, region: str | None) -> list[dict[str, Any]]:
    """The AWS resource, its load balancer, and the Kubernetes owner (``namespace`` set) — what the finding is on."""
    out: list[dict[str, Any]] = []
    if finding.resource_arn:
        out.append(_aws(finding.resource_arn, finding.resource_name, region))
    lb = index.load_balancer_of(finding)
    if lb is not None and lb.arn != finding.resource_arn:
        out.append(_aws(lb.arn, lb.name, lb.region))
    ref = index.owner_ref(finding)
    if ref is not None:
        kind, namespace, name = ref
        cluster = result.cluster_name or result.target
        resource: dict[str, Any] = {
            "uid": "kubernetes://" + "/".join(p for p in (cluster, kind, namespace, name) if p),
            "name": name,
            "type": kind,
            "group": {"name": cluster, "type": "Kubernetes cluster"},
        }
        if namespace:
            resource["namespace"] = namespace
        if region:
            resource["region"] = region
        out.append(resource)
    return out


def _aws(arn: str, name: str | None, region: str | None) -> dict[str, Any]:
    parts = arn.split(":", 5)
    resource: dict[str, Any] = {"uid": arn, "type": resource_type(arn)}
    if name:
        resource["name"] = name
    if len(parts) == 6:
        resource["cloud_partition"] = parts[1]
        if parts[3] or region:
            resource["region"] = parts[3] or region
    return resource


def _caption(severity: Severity) -> str:
    return "Informational" if severity == Severity.INFO else severity.value.title()
