"""Stopping an audit under way from outside: a check asked before every AWS and Kubernetes request.

The service's run that lost its lease (``service.Heartbeat.lost``) is the one caller that cancels: another replica
may already be auditing the target, and the AWS APIs' rate limits are shared with the load balancer controllers, so
the requests its result would have been discarded for are not made. Checked in two places only: the AWS clients'
event hooks (``collect.aws.session.AwsAccountSession``) and the Kubernetes reader (``collect.kube._Reader._send``).
"""

from __future__ import annotations

from collections.abc import Callable

from auditor.errors import RunCancelled

CancelCheck = Callable[[], bool]  # True once the audit is to stop, e.g. ``threading.Event().is_set``


def never_cancelled() -> bool:
    """The default: an audit of the CLI is stopped by nobody."""
    return False


def stop_if_cancelled(cancelled: CancelCheck) -> None:
    """RunCancelled when ``cancelled()`` says so; called before a request is started."""
    if cancelled():
        raise RunCancelled("the audit was cancelled: no further AWS or Kubernetes request is made")


__all__ = ["CancelCheck", "never_cancelled", "stop_if_cancelled"]
