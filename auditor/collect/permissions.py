"""The least-privilege IAM policy of the auditor, generated from the actions each collector declares.

``iam/auditor-readonly.json`` is this module's output (``python -m auditor.collect.permissions >
iam/auditor-readonly.json``) and a test fails when the two differ. Attach it to the identity the
auditor runs as, or to the role named by an account's ``role_arn``; in the latter case the
*calling* identity also needs ``sts:AssumeRole`` on that role (see ``assume_role_policy``).

The Security Hub export writes, so its one action is a policy of its own, attached only where findings are
exported: ``iam/auditor-securityhub-export.json`` (``python -m auditor.collect.permissions securityhub-export >
iam/auditor-securityhub-export.json``), made from ``auditor.export.securityhub.IAM_ACTIONS``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from auditor.collect.aws import all_iam_actions

# IAM action prefix -> (Sid, why) of its statement; unknown prefixes get a generated Sid.
_GROUPS: dict[str, str] = {
    "elasticloadbalancing": "ReadLoadBalancers",
    "acm": "ReadCertificates",
    "wafv2": "ReadWebAcls",
    "ec2": "ReadLoadBalancerSecurityGroups",
    "eks": "ReadEksClusters",
    "iam": "ReadControllerIdentity",
    "sts": "IdentifyAccount",
}


def aws_readonly_policy() -> dict[str, Any]:
    """The policy document: one Allow statement per service, actions sorted, on every resource."""
    by_prefix: dict[str, list[str]] = {}
    for action in sorted(all_iam_actions()):
        by_prefix.setdefault(action.split(":", 1)[0], []).append(action)
    statements = [
        {
            "Sid": _GROUPS.get(prefix, "Read" + prefix.title().replace("-", "")),
            "Effect": "Allow",
            "Action": actions,
            # Describe/List calls of these services do not support resource-level permissions.
            "Resource": "*",
        }
        for prefix, actions in sorted(by_prefix.items())
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def securityhub_export_policy() -> dict[str, Any]:
    """The export's policy: BatchImportFindings into the default product of a custom integration, which every
    account has in every region (https://docs.aws.amazon.com/securityhub/latest/userguide/securityhub-custom-providers.html);
    for another partition than ``aws``, change the ARN's second field."""
    from auditor.export.securityhub import IAM_ACTIONS

    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ImportFindingsIntoSecurityHub",
                "Effect": "Allow",
                "Action": sorted(IAM_ACTIONS),
                "Resource": "arn:aws:securityhub:*:*:product/*/default",
            }
        ],
    }


POLICIES = {"readonly": aws_readonly_policy, "securityhub-export": securityhub_export_policy}


def assume_role_policy(role_arns: list[str]) -> dict[str, Any]:
    """What the calling identity needs when accounts are reached through ``role_arn``."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AssumeAuditorRoles", "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": sorted(role_arns)}
        ],
    }


def render(policy: dict[str, Any]) -> str:
    """Pretty JSON with a trailing newline, the form committed under iam/."""
    return json.dumps(policy, indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(POLICIES[sys.argv[1] if len(sys.argv) > 1 else "readonly"]()))
