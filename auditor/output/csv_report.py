"""CSV output: one row per finding, for spreadsheets and ad-hoc analysis."""

from __future__ import annotations

import csv
import io
import re
from typing import TYPE_CHECKING

from auditor.findings import AuditResult, Finding, Status
from auditor.output.common import OwnerIndex, visible_findings

if TYPE_CHECKING:
    from auditor.output import RunDiff

COLUMNS = (
    "rule_id",
    "severity",
    "status",
    "target",
    "cluster",
    "namespace",  # namespace/kind/name: the Kubernetes owner (the finding's, else its load balancer's)
    "kind",
    "name",
    "resource_arn",
    "region",
    "message",
    "remediation",
    "fingerprint",
    "account",
    "resource_name",
    "title",
    "owner",
    "monthly_saving_usd",
    # new | reopened | unchanged (FAIL rows) | not re-checked (UNKNOWN rows); only when the previous run is known
    "change",
)

# A cell starting with one of these is a formula to Excel/LibreOffice; cluster data must never run.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A spreadsheet that splits on ";" (Excel in many locales opens a .csv with its list separator) or that loses
# track of the quoting starts a cell after any of these, so a would-be formula there is neutralized as well.
_FORMULA_INSIDE = re.compile(r"([;\t\r\n])(?=[=+\-@\t\r])")


def neutralize(value: str) -> str:
    """Prefix every would-be formula with an apostrophe (OWASP's advice against CSV injection).

    Both at the start of the value and after a ";", tab or line break inside it, where a spreadsheet reading
    the file with another separator would start a cell; text elsewhere is unchanged.
    """
    value = _FORMULA_INSIDE.sub(r"\1'", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(result: AuditResult, *, diff: RunDiff | None = None, include_pass: bool = False) -> str:
    index = OwnerIndex(result.load_balancers)
    changes: dict[str, str] | None = None
    if diff is not None and diff.previous_run_at is not None:
        changes = {f.fingerprint: "new" for f in diff.new}
        changes |= {f.fingerprint: "reopened" for f in diff.reopened}
        changes |= {f.fingerprint: "not re-checked" for f in diff.not_rechecked}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writeheader()
    for finding in visible_findings(result, include_pass=include_pass):
        writer.writerow(_row(result, finding, index, changes))
    return out.getvalue()


def _row(result: AuditResult, finding: Finding, index: OwnerIndex, changes: dict[str, str] | None) -> dict[str, str]:
    kind, namespace, name = index.owner_ref(finding) or ("", None, "")
    change = ""
    if changes is not None and finding.status != Status.PASS:
        # a FAIL not new nor reopened was open before; an UNKNOWN is listed only if it kept a finding open
        change = changes.get(finding.fingerprint, "unchanged" if finding.status == Status.FAIL else "")
    row = {
        "rule_id": finding.rule_id,
        "severity": finding.severity.value,
        "status": finding.status.value,
        "target": result.target,
        "cluster": result.cluster_name or "",
        "namespace": namespace or "",
        "kind": kind,
        "name": name,
        "resource_arn": finding.resource_arn or "",
        "region": finding.region or "",
        "message": finding.message,
        "remediation": finding.remediation,
        "fingerprint": finding.fingerprint,
        "account": finding.account or "",
        "resource_name": finding.resource_name or "",
        "title": finding.title,
        "owner": index.owner(finding),
        "monthly_saving_usd": "" if finding.monthly_saving_usd is None else f"{finding.monthly_saving_usd:.2f}",
        "change": change,
    }
    return {k: neutralize(v) for k, v in row.items()}
