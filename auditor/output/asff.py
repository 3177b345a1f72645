"""AWS Security Finding Format (ASFF) output: the findings as AWS Security Hub imports them.

``auditor audit --output asff`` prints a JSON array that ``aws securityhub batch-import-findings --findings
file://...`` accepts; ``auditor.export.securityhub`` sends the same objects with BatchImportFindings.
Format: https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-findings-format.html

Statuses (Security Hub keeps *findings*, in the sense of ``auditor.lifecycle``):
- FAIL: ``RecordState`` ACTIVE, ``Compliance.Status`` FAILED, ``Workflow.Status`` NEW.
- PASS (only with ``include_pass``) and a finding resolved since the last run (``resolved``): ARCHIVED, PASSED,
  RESOLVED — sent again under the same ``Id``, which closes what an earlier import opened. Security Hub itself
  moves the workflow to RESOLVED when a finding is archived or passes; after creation it ignores ``Workflow``
  from BatchImportFindings (https://docs.aws.amazon.com/securityhub/1.0/APIReference/API_BatchImportFindings.html).
- UNKNOWN: not in ASFF. An UNKNOWN neither opens nor resolves a finding: one open in Security Hub stays as last
  sent (FAILED), and a NOT_AVAILABLE record of a check that later passes would stay active, since nothing
  archives what was never a finding. The run's coverage (every other format) says what could not be checked.

``Id`` is ``eks-exposure-auditor/<target>/<fingerprint>``: stable across runs, one per finding and target.
Severity and Types are also given as ``FindingProviderFields``, the only way a provider may update them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import auditor
from auditor.errors import ConfigError
from auditor.findings import AuditResult, Finding, Severity, Status
from auditor.output.common import OwnerIndex, home_scope, rule_catalog, sorted_findings, utc_iso
from auditor.rules.base import RuleMeta

SCHEMA_VERSION = "2018-10-08"
PRODUCT_NAME = "eks-exposure-auditor"
# Security Hub's documented limits for these fields (characters).
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 1024
RECOMMENDATION_LIMIT = 512
PRODUCT_FIELD_LIMIT = 2048

SEVERITY_LABEL = {
    Severity.CRITICAL: "CRITICAL",
    Severity.HIGH: "HIGH",
    Severity.MEDIUM: "MEDIUM",
    Severity.LOW: "LOW",
    Severity.INFO: "INFORMATIONAL",
}
# Finding types are namespace/category/classifier; the namespaces and categories are Security Hub's own
# (https://docs.aws.amazon.com/securityhub/latest/userguide/asff-required-attributes.html#Types).
SECURITY_TYPE = "Software and Configuration Checks/AWS Security Best Practices"
COST_TYPE = "Effects/Resource Consumption"


def render_asff(result: AuditResult, *, include_pass: bool = False) -> str:
    """The result's findings as one ASFF JSON array (FAIL, and PASS as archived with ``include_pass``)."""
    return json.dumps(asff_findings(result, include_pass=include_pass), indent=2, ensure_ascii=False) + "\n"


def asff_findings(
    result: AuditResult,
    *,
    include_pass: bool = False,
    resolved: Iterable[Finding] = (),
    account: str | None = None,
    region: str | None = None,
    first_seen: Mapping[str, datetime] | None = None,
) -> list[dict[str, Any]]:
    """ASFF findings of ``result``: its FAIL findings active, ``resolved`` (findings open before and resolved by
    this run, as last seen failing) archived, and with ``include_pass`` its PASS findings archived.

    A finding is filed in its own account and region; one about a Kubernetes object alone goes to ``account``
    and ``region`` (default: where the audit read most, ``home_scope``). ``first_seen`` (fingerprint -> time, from
    the store) sets ``CreatedAt``; without it, this run's start. ConfigError when no account is known at all.
    """
    home_account, home_region = home_scope(result)
    account = account or home_account
    region = region or home_region
    metas = rule_catalog()
    index = OwnerIndex(result.load_balancers)
    chosen: dict[str, tuple[Finding, bool]] = {}  # fingerprint -> (finding, archived)
    for finding in sorted_findings(list(resolved)):
        chosen[finding.fingerprint] = (finding, True)
    for finding in sorted_findings(result.findings):
        if finding.status == Status.FAIL:
            chosen[finding.fingerprint] = (finding, False)
        elif finding.status == Status.PASS and include_pass:
            chosen.setdefault(finding.fingerprint, (finding, True))
    out = []
    for finding, archived in chosen.values():
        where_account = finding.account or account
        if where_account is None:
            raise ConfigError(
                f"ASFF needs an AWS account for every finding: {finding.rule_id} ({index.owner(finding)}) has none "
                "and the audit read no AWS account"
            )
        out.append(
            asff_finding(
                finding,
                result,
                archived=archived,
                account=where_account,
                region=finding.region or region or "us-east-1",
                meta=metas.get(finding.rule_id),
                index=index,
                created=(first_seen or {}).get(finding.fingerprint),
            )
        )
    return out


def asff_finding(
    finding: Finding,
    result: AuditResult,
    *,
    archived: bool,
    account: str,
    region: str,
    meta: RuleMeta | None = None,
    index: OwnerIndex | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """One finding in ASFF, filed in ``account`` and ``region`` (Security Hub's: it must be the caller's)."""
    index = index or OwnerIndex(result.load_balancers)
    partition = _partition(finding.resource_arn)
    severity = {"Label": SEVERITY_LABEL[finding.severity], "Original": finding.severity.value}
    types = [_type(finding, meta)]
    owner = index.owner(finding)
    description = finding.message if owner.startswith("(") else f"{finding.message} Kubernetes owner: {owner}."
    doc: dict[str, Any] = {
        "SchemaVersion": SCHEMA_VERSION,
        "Id": finding_id(result.target, finding),
        "ProductArn": product_arn(partition, region, account),
        "ProductName": PRODUCT_NAME,
        "GeneratorId": f"{PRODUCT_NAME}/{finding.rule_id}",
        "AwsAccountId": account,
        "Types": types,
        "CreatedAt": utc_iso(created or result.started_at),
        "UpdatedAt": utc_iso(result.finished_at),
        "FirstObservedAt": utc_iso(created or result.started_at),
        "LastObservedAt": utc_iso(result.started_at),
        "Severity": severity,
        "FindingProviderFields": {"Severity": severity, "Types": types},
        "Title": _cut(finding.title, TITLE_LIMIT),
        "Description": _cut(description, DESCRIPTION_LIMIT),
        "Resources": resources(finding, result, index=index, account=account, region=region),
        "Compliance": {"Status": "PASSED" if archived else "FAILED"},
        "RecordState": "ARCHIVED" if archived else "ACTIVE",
        "Workflow": {"Status": "RESOLVED" if archived else "NEW"},
        "ProductFields": _product_fields(finding, result, owner),
    }
    if finding.remediation.strip():  # Security Hub refuses a blank string (.*\S.*)
        recommendation: dict[str, str] = {"Text": _cut(finding.remediation, RECOMMENDATION_LIMIT)}
        if meta is not None and meta.references:
            recommendation["Url"] = meta.references[0]
        doc["Remediation"] = {"Recommendation": recommendation}
    return doc


def finding_id(target: str, finding: Finding) -> str:
    """The finding's stable Security Hub id: the same finding of the same target keeps it across runs."""
    return f"{PRODUCT_NAME}/{target}/{finding.fingerprint}"


def product_arn(partition: str, region: str, account: str) -> str:
    """The default product of a custom integration: every account has one per region."""
    return f"arn:{partition}:securityhub:{region}:{account}:product/{account}/default"


def resources(
    finding: Finding, result: AuditResult, *, index: OwnerIndex, account: str, region: str
) -> list[dict[str, Any]]:
    """The AWS resource, its load balancer (for a listener or rule), the Kubernetes owner; at least one."""
    out: list[dict[str, Any]] = []
    if finding.resource_arn:
        out.append(_aws_resource(finding.resource_arn, region))
    lb = index.load_balancer_of(finding)
    if lb is not None and lb.arn != finding.resource_arn:
        out.append(_aws_resource(lb.arn, lb.region))
    ref = index.owner_ref(finding)
    if ref is not None:
        kind, namespace, name = ref
        cluster = result.cluster_name or result.target
        other = {"Cluster": cluster, "Kind": kind, "Name": name} | ({"Namespace": namespace} if namespace else {})
        out.append(
            {
                "Type": "Other",
                "Id": "kubernetes://" + "/".join(p for p in (cluster, kind, namespace, name) if p),
                "Region": region,
                "Details": {"Other": other},
            }
        )
    if not out:  # a finding about the cluster itself (a missing controller, say)
        cluster = result.cluster_name or result.target
        out.append(
            {
                "Type": "AwsEksCluster",
                "Id": f"arn:{_partition(None)}:eks:{region}:{account}:cluster/{cluster}",
                "Region": region,
            }
        )
    return out


def _aws_resource(arn: str, fallback_region: str) -> dict[str, Any]:
    parts = arn.split(":", 5)
    return {
        "Type": resource_type(arn),
        "Id": arn,
        "Partition": _partition(arn),
        "Region": parts[3] if len(parts) == 6 and parts[3] else fallback_region,
    }


def resource_type(arn: str) -> str:
    """Security Hub's resource type for an ARN, or ``Other`` where ASFF has none (listeners, target groups)."""
    parts = arn.split(":", 5)
    if len(parts) != 6:
        return "Other"
    service, resource = parts[2], parts[5]
    kind, _, rest = resource.partition("/")
    if service == "elasticloadbalancing" and kind == "loadbalancer":
        return "AwsElbv2LoadBalancer" if rest.startswith(("app/", "net/", "gwy/")) else "AwsElbLoadBalancer"
    return {
        ("acm", "certificate"): "AwsCertificateManagerCertificate",
        ("wafv2", "regional"): "AwsWafv2WebAcl",
        ("iam", "role"): "AwsIamRole",
        ("iam", "policy"): "AwsIamPolicy",
        ("ec2", "security-group"): "AwsEc2SecurityGroup",
        ("eks", "cluster"): "AwsEksCluster",
    }.get((service, kind), "Other")


def _partition(arn: str | None) -> str:
    if arn and arn.startswith("arn:") and arn.count(":") >= 5:
        return arn.split(":", 2)[1]
    return "aws"


def _type(finding: Finding, meta: RuleMeta | None) -> str:
    if meta is not None and meta.category == "cost":
        return f"{COST_TYPE}/{finding.rule_id}"
    return f"{SECURITY_TYPE}/{finding.rule_id}"


def _product_fields(finding: Finding, result: AuditResult, owner: str) -> dict[str, str]:
    """Strings only (Security Hub's rule); what a Security Hub user filters on that ASFF has no field for."""
    fields = {
        "eks-exposure-auditor/RuleId": finding.rule_id,
        "eks-exposure-auditor/Status": finding.status.value,
        "eks-exposure-auditor/Fingerprint": finding.fingerprint,
        "eks-exposure-auditor/Target": result.target,
        "eks-exposure-auditor/Cluster": result.cluster_name or "",
        "eks-exposure-auditor/KubernetesOwner": "" if owner.startswith("(") else owner,
        "eks-exposure-auditor/Version": auditor.__version__,
    }
    if finding.monthly_saving_usd is not None:
        fields["eks-exposure-auditor/MonthlySavingUsd"] = f"{finding.monthly_saving_usd:.2f}"
    return {k: _cut(v, PRODUCT_FIELD_LIMIT) for k, v in fields.items() if v.strip()}


def _cut(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters.

    Security Hub's strings follow the pattern ``.*\\S.*`` of its API model, whose ``.`` matches no line break, so
    a multi-line annotation value quoted in a message would get the whole finding refused: lines become spaces.
    """
    text = " ".join(text.splitlines())
    return text if len(text) <= limit else text[: limit - 1] + "…"
