"""After an install: run the audit's controller and identity rules against the cluster, and re-plan.

Two checks, both on fresh reads of the cluster:
- ``verify``: the audit pipeline (``pipeline.run_audit``), keeping the findings of the controller
  and IRSA / Pod Identity rules, so install and audit judge the same way.
- ``drift_findings``: discover + plan again; any step that still wants a change is a failure.
"""

from __future__ import annotations

import logging

from auditor.config import Settings, TargetConfig
from auditor.findings import Finding, Severity, Status
from auditor.install.model import InstallOptions, Plan

log = logging.getLogger(__name__)

VERIFY_RULES: tuple[str, ...] = (
    "controller-missing",
    "irsa-not-configured",
    "irsa-role-invalid",
    "irsa-policy-missing-actions",
)

DRIFT_RULE = "install-alb-drift"


def verification_target(options: InstallOptions) -> TargetConfig:
    """The audit target for the cluster just installed (same kubeconfig, context and region)."""
    return TargetConfig(
        name=options.cluster_name,
        cluster_name=options.cluster_name,
        context=options.context,
        kubeconfig=options.kubeconfig,
        regions=[options.region],
    )


def verify(target: TargetConfig, settings: Settings, *, rules: tuple[str, ...] = VERIFY_RULES) -> list[Finding]:
    """The audit's verdict on the controller and its identity: findings of ``rules`` only."""
    from auditor.pipeline import run_audit

    outcome = run_audit(target, settings)
    return [f for f in outcome.result.findings if f.rule_id in rules]


def drift_findings(replan: Plan, options: InstallOptions) -> list[Finding]:
    """One FAIL per step that a fresh plan still wants to change (or a refusal it now meets)."""
    findings: list[Finding] = []
    for step in replan.steps:
        if step.action.changes:
            findings.append(
                Finding(
                    rule_id=DRIFT_RULE,
                    title="install-alb left something not as planned",
                    severity=Severity.HIGH,
                    status=Status.FAIL,
                    message=f"{step.name}: {step.target} still needs {step.action.value} ({step.summary})",
                    resource_name=step.target,
                    region=options.region,
                    discriminator=step.name,
                    remediation="re-run `auditor install-alb`; if it persists, the message names what changes it",
                )
            )
    return findings
