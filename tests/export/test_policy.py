"""The export's permission is declared next to its call and shipped as a policy of its own: the read-only one stays
read-only."""

from __future__ import annotations

from pathlib import Path

from auditor.collect.permissions import aws_readonly_policy, render, securityhub_export_policy
from auditor.export.securityhub import IAM_ACTIONS

POLICY_FILE = Path(__file__).resolve().parents[2] / "iam" / "auditor-securityhub-export.json"


def test_policy_file_is_generated_from_the_declaration():
    assert POLICY_FILE.read_text(encoding="utf-8") == render(securityhub_export_policy()), (
        "iam/auditor-securityhub-export.json is stale: "
        "python -m auditor.collect.permissions securityhub-export > iam/auditor-securityhub-export.json"
    )


def test_the_export_policy_grants_the_declared_import_and_nothing_else():
    (statement,) = securityhub_export_policy()["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == sorted(IAM_ACTIONS)
    assert statement["Action"] == ["securityhub:BatchImportFindings"]
    # the default product of a custom integration, in any account and region: not other products' findings
    assert statement["Resource"] == "arn:aws:securityhub:*:*:product/*/default"


def test_the_read_only_policy_stays_read_only():
    actions = {a for s in aws_readonly_policy()["Statement"] for a in s["Action"]}
    assert not actions & set(IAM_ACTIONS)
    assert not any(a.startswith("securityhub:") for a in actions)
