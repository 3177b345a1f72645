"""The controller version table: policy per version, action diffs (facts §5), chart versions."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from auditor.controller import versions
from auditor.controller.versions import (
    DEFAULT_VERSION,
    POLICY_RELEASES,
    SUPPORTED_VERSIONS,
    UnsupportedVersion,
    actions_in,
    chart_version_for,
    installable,
    normalize_version,
    parse_version,
    policy_document,
    policy_version_for,
    required_actions,
)

REPO = Path(__file__).resolve().parents[2]
PACKAGE_POLICIES = REPO / "auditor" / "controller" / "policies"
IAM_COPIES = REPO / "iam" / "controller"

# Facts §5: what each policy change added (actions only).
ADDED = {
    "v2.7.0": {"elasticloadbalancing:DescribeTrustStores"},
    "v2.9.0": {
        "elasticloadbalancing:DescribeListenerAttributes",
        "elasticloadbalancing:ModifyListenerAttributes",
    },
    "v2.10.0": {"ec2:GetSecurityGroupsForVpc"},
    "v2.11.0": {
        "elasticloadbalancing:DescribeCapacityReservation",
        "elasticloadbalancing:ModifyCapacityReservation",
    },
    "v2.12.0": {
        "ec2:DescribeIpamPools",
        "elasticloadbalancing:ModifyIpPools",
        "elasticloadbalancing:SetRulePriorities",
    },
    "v2.13.0": {"ec2:DescribeRouteTables"},
}


def test_supported_versions_are_sorted_normalized_and_default_is_newest():
    parsed = [versions.parse_version(v) for v in SUPPORTED_VERSIONS]
    assert parsed == sorted(parsed)  # type: ignore[type-var]
    assert all(normalize_version(v) == v for v in SUPPORTED_VERSIONS)
    assert DEFAULT_VERSION == SUPPORTED_VERSIONS[-1] == "v3.5.0"


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_required_actions_equal_policy_document_actions(version):
    document = policy_document(version)
    assert document["Version"] == "2012-10-17"
    assert required_actions(version) == actions_in(document)
    assert "elasticloadbalancing:CreateLoadBalancer" in required_actions(version)


def test_consecutive_policies_differ_exactly_as_the_facts_say():
    for older, newer in itertools.pairwise(POLICY_RELEASES):
        old, new = required_actions(older), required_actions(newer)
        assert new - old == ADDED[newer], newer
        assert old - new == set(), f"{newer} removed actions"


def test_every_policy_change_is_covered_by_a_supported_version():
    releases_in_use = {versions.policy_release_for(v) for v in SUPPORTED_VERSIONS}
    assert releases_in_use == set(POLICY_RELEASES)


def test_v2_4_7_allows_addtags_on_create_and_v3_keeps_the_v2_13_policy():
    create_tagging = [
        s
        for s in policy_document("v2.4.7")["Statement"]
        if s["Action"] == ["elasticloadbalancing:AddTags"] and "StringEquals" in s.get("Condition", {})
    ]
    assert create_tagging
    assert create_tagging[0]["Condition"]["StringEquals"]["elasticloadbalancing:CreateAction"] == [
        "CreateTargetGroup",
        "CreateLoadBalancer",
    ]
    assert required_actions("v3.5.0") == required_actions("v2.13.0")
    assert required_actions("v2.8.2") == required_actions("v2.7.2")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v2.13.0", "v2.13.0"),
        ("2.13.0", "v2.13.0"),
        ("v2.13.0-eks-abc", "v2.13.0"),
        ("v2.13", "v2.13.0"),
        (" v3.0.0 ", "v3.0.0"),
        ("latest", None),
        ("", None),
        ("sha256:abc", None),
    ],
)
def test_normalize_version(tag, expected):
    assert normalize_version(tag) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v2.4.7", "v2.4.7"),
        ("v2.8.9", "v2.8.2"),
        ("v2.9.0", "v2.8.2"),  # v2.9.0 itself is older than the supported v2.9.2 ...
        ("v2.9.2", "v2.9.2"),
        ("v2.13.4-eks-1", "v2.13.0"),
        ("v2.17.1", "v2.13.0"),
        ("v9.0.0", "v3.5.0"),
    ],
)
def test_policy_version_for_picks_newest_supported_at_or_below(version, expected):
    assert policy_version_for(version) == expected


def test_v2_9_0_still_needs_listener_attribute_actions():
    # ... but the policy in force is chosen by release, not by the supported patch below the version.
    assert versions.policy_release_for("v2.9.0") == "v2.9.0"
    assert "elasticloadbalancing:ModifyListenerAttributes" in required_actions("v2.9.0")
    assert "elasticloadbalancing:ModifyListenerAttributes" not in required_actions("v2.8.9")


@pytest.mark.parametrize("bad", ["v2.4.6", "v1.1.9", "latest"])
def test_too_old_or_unparsable_versions_are_refused(bad):
    with pytest.raises(UnsupportedVersion):
        policy_version_for(bad)


@pytest.mark.parametrize(
    ("version", "chart"),
    [
        ("v2.4.7", "1.4.8"),
        ("v2.5.4", "1.5.5"),
        ("v2.13.0", "1.13.0"),
        ("2.14.1", "1.14.1"),
        ("v3.0.0", "3.0.0"),
        ("v3.2.2", "3.2.2"),
    ],
)
def test_chart_version_for(version, chart):
    assert chart_version_for(version) == chart


def test_chart_version_for_refuses_v1_and_garbage():
    for bad in ("v1.1.0", "nope"):
        with pytest.raises(UnsupportedVersion):
            chart_version_for(bad)


def test_iam_copies_are_identical_to_package_policies():
    packaged = {p.name: p.read_bytes() for p in PACKAGE_POLICIES.glob("*.json")}
    copies = {p.name: p.read_bytes() for p in IAM_COPIES.glob("*.json")}
    assert set(packaged) == {f"{r}.json" for r in POLICY_RELEASES}
    assert copies == packaged, "iam/controller/ drifted from auditor/controller/policies/ - copy them over"
    for raw in packaged.values():
        json.loads(raw)


def test_policy_document_returns_a_fresh_copy():
    first = policy_document(DEFAULT_VERSION)
    first["Statement"].clear()
    assert policy_document(DEFAULT_VERSION)["Statement"]


def test_installable_takes_newer_patches_of_a_known_line_only() -> None:
    newest = SUPPORTED_VERSIONS[-1]
    major, minor, patch = parse_version(newest) or (0, 0, 0)
    assert installable(newest) == newest
    assert installable(f"v{major}.{minor}.{patch + 7}") == f"v{major}.{minor}.{patch + 7}"
    for newer in (f"v{major}.{minor + 1}.0", f"v{major + 1}.0.0"):
        with pytest.raises(UnsupportedVersion, match="newer than this auditor knows"):
            installable(newer)
    with pytest.raises(UnsupportedVersion, match="older than the oldest supported"):
        installable("v1.0.0")
