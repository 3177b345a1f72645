"""IAM policies as moto's enforcement reads them (a naming gap of moto, worked around here)."""

from __future__ import annotations

import copy
from typing import Any


def moto_names(policy: dict[str, Any]) -> dict[str, Any]:
    """``policy`` with each ``cloudwatch:*`` action also granted as ``monitoring:*``: moto checks CloudWatch
    calls under its internal name ``monitoring`` (AWS: ``cloudwatch``), see facts/test-doubles.md."""
    policy = copy.deepcopy(policy)
    for statement in policy["Statement"]:
        actions = statement["Action"]
        aliases = [a.replace("cloudwatch:", "monitoring:", 1) for a in actions if a.startswith("cloudwatch:")]
        statement["Action"] = [*actions, *aliases]
    return policy
