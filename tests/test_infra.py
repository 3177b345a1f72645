"""infra/ Terraform modules use the generated policy and the service account deploy/ runs the auditor as."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from auditor.collect.permissions import aws_readonly_policy

ROOT = Path(__file__).resolve().parents[1]
MODULES = [ROOT / "infra/terraform/auditor-role", ROOT / "infra/terraform/audited-account-role"]


def test_modules_attach_the_generated_readonly_policy_file():
    for module in MODULES:
        tf = (module / "main.tf").read_text()
        refs = re.findall(r'file\("\$\{path\.module\}/([^"]+)"\)', tf)
        assert refs, f"{module} does not load a policy file"
        for ref in refs:
            target = (module / ref).resolve()
            assert target == ROOT / "iam/auditor-readonly.json"
            assert json.loads(target.read_text()) == aws_readonly_policy()


def test_irsa_trust_defaults_match_the_deployed_service_account():
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy/rbac.yaml").read_text()) if d]
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    tf = (MODULES[0] / "main.tf").read_text()

    def default(var: str) -> str:
        match = re.search(rf'variable "{var}" \{{[^}}]*?default\s*=\s*"([^"]+)"', tf, re.S)
        assert match, var
        return match.group(1)

    assert default("namespace") == sa["metadata"]["namespace"]
    assert default("service_account") == sa["metadata"]["name"]
    assert "sts:AssumeRoleWithWebIdentity" in tf and ":aud" in tf and ":sub" in tf
