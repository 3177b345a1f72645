"""IAM documents the installer writes and checks: trust policies for IRSA / Pod Identity, and diffs."""

from __future__ import annotations

import difflib
import json
from typing import Any

from auditor.install.model import POD_IDENTITY_SERVICE, WEB_IDENTITY_AUDIENCE, JsonObj


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def canonical(document: JsonObj) -> str:
    """A stable text form: equal documents give equal text (key order does not matter, list order does)."""
    return json.dumps(document, indent=2, sort_keys=True)


def same_document(a: JsonObj, b: JsonObj) -> bool:
    return canonical(a) == canonical(b)


def document_diff(current: JsonObj | None, desired: JsonObj, *, label: str) -> str:
    """A unified diff of two documents ('' when equal); a missing current document diffs from nothing."""
    before = canonical(current).splitlines() if current is not None else []
    after = canonical(desired).splitlines()
    lines = difflib.unified_diff(before, after, f"{label} (current)", f"{label} (desired)", lineterm="", n=2)
    return "\n".join(lines)


def irsa_statement(provider_arn: str, issuer_host: str, subject: str) -> JsonObj:
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{issuer_host}:sub": subject, f"{issuer_host}:aud": WEB_IDENTITY_AUDIENCE}},
    }


def pod_identity_statement() -> JsonObj:
    return {
        "Effect": "Allow",
        "Principal": {"Service": POD_IDENTITY_SERVICE},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }


def trust_document(statement: JsonObj) -> JsonObj:
    return {"Version": "2012-10-17", "Statement": [statement]}


def _statements(document: JsonObj) -> list[JsonObj]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def _condition_values(statement: JsonObj, key: str) -> list[str]:
    values: list[str] = []
    for operator in ("StringEquals", "StringLike"):
        block = (statement.get("Condition") or {}).get(operator) or {}
        values += [str(v) for v in as_list(block.get(key))]
    return values


def irsa_trust_problems(document: JsonObj, provider_arn: str, issuer_host: str, subject: str) -> list[str]:
    """Why this trust policy does not let the controller's service account assume the role ([] = fine)."""
    candidates = [
        s
        for s in _statements(document)
        if s.get("Effect") == "Allow" and provider_arn in as_list((s.get("Principal") or {}).get("Federated"))
    ]
    if not candidates:
        return [f"no statement trusts the OIDC provider {provider_arn}"]
    best: list[str] = []
    for statement in candidates:
        problems: list[str] = []
        if "sts:AssumeRoleWithWebIdentity" not in as_list(statement.get("Action")):
            problems.append("action sts:AssumeRoleWithWebIdentity is not allowed")
        if subject not in _condition_values(statement, f"{issuer_host}:sub"):
            problems.append(f"condition {issuer_host}:sub is not {subject}")
        if WEB_IDENTITY_AUDIENCE not in _condition_values(statement, f"{issuer_host}:aud"):
            problems.append(f"condition {issuer_host}:aud is not {WEB_IDENTITY_AUDIENCE}")
        if not problems:
            return []
        if not best or len(problems) < len(best):
            best = problems
    return best


def pod_identity_trust_problems(document: JsonObj) -> list[str]:
    for statement in _statements(document):
        principals = as_list((statement.get("Principal") or {}).get("Service"))
        actions = as_list(statement.get("Action"))
        if (
            statement.get("Effect") == "Allow"
            and POD_IDENTITY_SERVICE in principals
            and {"sts:AssumeRole", "sts:TagSession"} <= set(actions)
        ):
            return []
    return [f"no statement lets {POD_IDENTITY_SERVICE} call sts:AssumeRole and sts:TagSession"]


def merged_trust(current: JsonObj, statement: JsonObj) -> JsonObj:
    """A role we did not create keeps its other statements; ours replaces the ones for the same principal."""
    principal = statement["Principal"]
    kept = [s for s in _statements(current) if s.get("Principal") != principal]
    return {"Version": current.get("Version", "2012-10-17"), "Statement": [*kept, statement]}
