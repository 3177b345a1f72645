"""The AWS Load Balancer Controller as data: supported versions, IAM policy per version, chart versions."""

from auditor.controller.versions import (
    DEFAULT_VERSION,
    SUPPORTED_VERSIONS,
    UnsupportedVersion,
    chart_version_for,
    normalize_version,
    policy_document,
    policy_version_for,
    required_actions,
)

__all__ = [
    "DEFAULT_VERSION",
    "SUPPORTED_VERSIONS",
    "UnsupportedVersion",
    "chart_version_for",
    "normalize_version",
    "policy_document",
    "policy_version_for",
    "required_actions",
]
