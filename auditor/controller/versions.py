"""The AWS Load Balancer Controller version table: supported versions, their IAM policy and chart version.

One table answers three questions for both the installer and the audit, so they never disagree:
which IAM actions a running controller version needs (``irsa-policy-missing-actions``), which policy
document ``auditor install-alb`` writes, and which eks-charts chart version ships an app version.

The policy documents live in ``auditor/controller/policies/<version>.json`` (package data, the one
source of truth), named after the controller version that introduced that policy; ``iam/controller/``
holds identical copies for people who read the repository (a test fails when they drift). The action
changes follow the LBC repo's ``docs/install/iam_policy.json`` per tag (facts §5):

    v2.4.7   AddTags allowed on create (condition on elasticloadbalancing:CreateAction)
    v2.7.0   + elasticloadbalancing:DescribeTrustStores
    v2.9.0   + elasticloadbalancing:DescribeListenerAttributes, ModifyListenerAttributes
    v2.10.0  + ec2:GetSecurityGroupsForVpc
    v2.11.0  + elasticloadbalancing:DescribeCapacityReservation, ModifyCapacityReservation
    v2.12.0  + ec2:DescribeIpamPools, elasticloadbalancing:ModifyIpPools, SetRulePriorities
    v2.13.0  + ec2:DescribeRouteTables (no change after this up to v3.5.0)
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

# Controller versions the installer offers and the audit knows, oldest first: the newest patch of each minor line
# up to v2.13 (every policy change is at or before v2.13.0), then v3.0.0 and v3.5.0, the newest checked (facts:
# iam_policy.json has no new action from v2.13.1 to v3.5.0). A version between two entries (v2.14.1, v3.2.2) is
# accepted as well: its policy is that of the entry below it, its chart derived (``chart_version_for``). Chart
# versions pinned here are eks-charts'.
_CHART_VERSIONS: dict[str, str] = {
    "v2.4.7": "1.4.8",
    "v2.5.4": "1.5.5",
    "v2.6.2": "1.6.2",
    "v2.7.2": "1.7.2",
    "v2.8.2": "1.8.2",
    "v2.9.2": "1.9.2",
    "v2.10.1": "1.10.1",
    "v2.11.0": "1.11.0",
    "v2.12.0": "1.12.0",
    "v2.13.0": "1.13.0",
    "v3.0.0": "3.0.0",
    "v3.5.0": "3.5.0",
}

SUPPORTED_VERSIONS: tuple[str, ...] = tuple(_CHART_VERSIONS)
DEFAULT_VERSION: str = SUPPORTED_VERSIONS[-1]

# Controller version that introduced each distinct policy document -> file name in policies/.
POLICY_RELEASES: tuple[str, ...] = ("v2.4.7", "v2.7.0", "v2.9.0", "v2.10.0", "v2.11.0", "v2.12.0", "v2.13.0")

# Actions the controller uses only when a feature gate is on (not required for a PASS).
OPTIONAL_ACTIONS: frozenset[str] = frozenset({"tag:GetResources"})

# ASCII digits, at most 9 each: int() refuses a string of more than 4300 digits (a ValueError, not a None)
_VERSION_RE = re.compile(r"^v?([0-9]{1,9})\.([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:[-+].*)?$")


class UnsupportedVersion(ValueError):
    """A controller version older than the oldest supported one, or not a version at all."""


def parse_version(tag: str) -> tuple[int, int, int] | None:
    """``"v2.13.0"``, ``"2.13.0"``, ``"v2.13.0-eks-1"``, ``"v2.13"`` -> ``(2, 13, 0)``; None if unparsable."""
    match = _VERSION_RE.match(tag.strip())
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def normalize_version(tag: str) -> str | None:
    """An image tag or chart appVersion -> ``"vMAJOR.MINOR.PATCH"``; None if it is not a version."""
    parsed = parse_version(tag)
    return None if parsed is None else "v{}.{}.{}".format(*parsed)


def _require(version: str) -> tuple[int, int, int]:
    parsed = parse_version(version)
    if parsed is None:
        raise UnsupportedVersion(f"not a controller version: {version!r}")
    return parsed


def _newest_at_or_below(version: str, candidates: tuple[str, ...]) -> str:
    wanted = _require(version)
    found = [c for c in candidates if _require(c) <= wanted]
    if not found:
        raise UnsupportedVersion(
            f"controller {version} is older than the oldest supported version {SUPPORTED_VERSIONS[0]}"
        )
    return max(found, key=_require)


def policy_version_for(version: str) -> str:
    """The supported version whose policy applies to ``version``: the newest supported one <= it.

    Raises UnsupportedVersion for versions older than ``SUPPORTED_VERSIONS[0]`` or unparsable tags
    (the audit reports UNKNOWN then, never a guess).
    """
    return _newest_at_or_below(version, SUPPORTED_VERSIONS)


def beyond_known(version: str) -> bool:
    """Whether ``version`` is of a minor or major line newer than any this auditor has a policy for: it may need
    actions no policy here has (v2.9 added listener attributes, v2.13 the Gateway API's)."""
    return _require(version)[:2] > _require(SUPPORTED_VERSIONS[-1])[:2]


def installable(version: str) -> str:
    """``version`` when this auditor knows its IAM policy: supported, or a newer patch of a known line; a newer
    line is UnsupportedVersion, rather than installed with an older line's policy."""
    if beyond_known(version):
        newest = _require(SUPPORTED_VERSIONS[-1])
        raise UnsupportedVersion(
            f"controller {version} is newer than this auditor knows (newest: {SUPPORTED_VERSIONS[-1]}; newer patches "
            f"of v{newest[0]}.{newest[1]} are accepted): its IAM policy is not known here, so upgrade the auditor"
        )
    policy_version_for(version)  # refuses versions older than the oldest supported one
    return version


def policy_release_for(version: str) -> str:
    """The controller release that introduced the policy in force at ``version`` (a file in policies/).

    Chosen from the version itself, not from the supported patch below it: v2.9.0 needs the v2.9
    listener-attribute actions although the supported v2.9 line is v2.9.2.
    """
    policy_version_for(version)  # refuses versions older than the oldest supported one
    return _newest_at_or_below(version, POLICY_RELEASES)


@cache
def _load(release: str) -> str:
    return resources.files("auditor.controller").joinpath("policies", f"{release}.json").read_text(encoding="utf-8")


def policy_document(version: str) -> dict[str, Any]:
    """The controller's IAM policy document for ``version`` (a fresh copy: callers may modify it)."""
    loaded: dict[str, Any] = json.loads(_load(policy_release_for(version)))
    return loaded


def actions_in(document: dict[str, Any]) -> frozenset[str]:
    """Every action an IAM policy document allows (Allow statements; ``Action`` as string or list)."""
    found: set[str] = set()
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        action = statement.get("Action", [])
        found.update([action] if isinstance(action, str) else action)
    return frozenset(found)


def required_actions(version: str) -> frozenset[str]:
    """Every IAM action the controller at ``version`` needs (its policy document's actions)."""
    return actions_in(policy_document(version))


def chart_version_for(version: str) -> str:
    """The eks-charts chart version that ships ``version``: the pinned one, else chart 1.N <-> app v2.N.

    Pinned for supported versions (chart patch numbers do not always equal app patch numbers, e.g.
    app v2.4.7 is chart 1.4.8); otherwise app v2.N.P -> chart 1.N.P and app v3.x -> chart 3.x.
    """
    normalized = normalize_version(version)
    if normalized is None:
        raise UnsupportedVersion(f"not a controller version: {version!r}")
    if normalized in _CHART_VERSIONS:
        return _CHART_VERSIONS[normalized]
    major, minor, patch = _require(normalized)
    if major == 2:
        return f"1.{minor}.{patch}"
    if major >= 3:
        return f"{major}.{minor}.{patch}"
    raise UnsupportedVersion(f"no eks-charts chart ships controller {version}")
