"""IAM documents the installer writes: trust documents, merges and diffs (the trust checks are the audit's,
auditor/rules/identity/_common.py)."""

from __future__ import annotations

import difflib
import json
from typing import Any

from auditor.install.model import JsonObj


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


def trust_document(statement: JsonObj) -> JsonObj:
    return {"Version": "2012-10-17", "Statement": [statement]}


def _statements(document: JsonObj) -> list[JsonObj]:
    return [s for s in as_list(document.get("Statement")) if isinstance(s, dict)]


def merged_trust(current: JsonObj, statement: JsonObj) -> JsonObj:
    """A role we did not create keeps its other statements; ours replaces the ones for the same principal."""
    principal = statement["Principal"]
    kept = [s for s in _statements(current) if s.get("Principal") != principal]
    return {"Version": current.get("Version", "2012-10-17"), "Statement": [*kept, statement]}
