"""What AWS billed for each load balancer over the last 14 days, from Cost Explorer's resource-level data.

``GetCostAndUsageWithResources`` (daily, UnblendedCost, service Elastic Load Balancing, grouped by
RESOURCE_ID; the resource-level data covers the last 14 days and must be enabled in the account's Cost
Explorer settings: https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_GetCostAndUsageWithResources.html)
through the Cost Explorer endpoint in us-east-1. The billed cost stands beside the estimate; nothing is
judged on it. So when it is not available — resource-level data not enabled, the call denied, any error —
coverage says so (SKIPPED, with the reason and the error code) and nothing else changes: the audit is not
partial for it.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from auditor.collect.aws.base import CollectorContext, actions_of, call
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import BilledCost

log = logging.getLogger(__name__)

NAME = "costexplorer"
SERVICE = "ce"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {Facet.COSTEXPLORER_RESOURCE_COSTS: ("ce:GetCostAndUsageWithResources",)}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)
ENDPOINT_REGION = "us-east-1"
WINDOW_DAYS = 14  # resource-level data goes back 14 days
ELB_SERVICE = "Amazon Elastic Load Balancing"  # Cost Explorer's SERVICE dimension value
MAX_PAGES = 100  # a guard against an endless NextPageToken


def collect(ctx: CollectorContext, today: date | None = None) -> list[BilledCost]:
    """Billed cost per load balancer ARN over the 14 days before ``today`` (UTC); [] when not available."""
    if ctx.session.partition != "aws":
        ctx.skip(f"Cost Explorer not read: partition {ctx.session.partition}", Facet.COSTEXPLORER_RESOURCE_COSTS)
        return []
    end = today or datetime.now(UTC).date()
    start = end - timedelta(days=WINDOW_DAYS)
    client = ctx.client(SERVICE)
    totals: dict[str, float] = {}
    unreadable: set[str] = set()
    token: str | None = None
    try:
        for _ in range(MAX_PAGES):
            answer = call(client, "GetCostAndUsageWithResources", **_request(start, end, token))
            for period in answer.get("ResultsByTime", []):
                for group in period.get("Groups", []):
                    _add(totals, unreadable, group)
            token = answer.get("NextPageToken")
            if not token:
                break
    except CollectionError as exc:
        reason = f"billed cost not read ({exc.code or 'error'}: {exc}); estimates only"
        ctx.skip(reason, Facet.COSTEXPLORER_RESOURCE_COSTS)
        return []
    if token:  # cut short: a load balancer's days may sit on the pages not read, so no total is known to be whole
        reason = f"billed cost not read (more than {MAX_PAGES} pages); estimates only"
        ctx.skip(reason, Facet.COSTEXPLORER_RESOURCE_COSTS)
        return []
    if unreadable:  # estimates only for them, as for a load balancer Cost Explorer does not list
        log.warning("Cost Explorer amounts that are not finite numbers, estimates only for: %s", sorted(unreadable))
        ctx.count("load balancers whose billed amounts were not numbers (estimates only)", len(unreadable))
    known = {arn: usd for arn, usd in totals.items() if arn not in unreadable}
    ctx.count("load balancers with a billed cost", len(known))
    return [
        BilledCost(resource_id=arn, account=ctx.account, start=start, end=end, usd=round(usd, 4))
        for arn, usd in sorted(known.items())
    ]


def _request(start: date, end: date, token: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [ELB_SERVICE]}},
        "GroupBy": [{"Type": "DIMENSION", "Key": "RESOURCE_ID"}],
    }
    if token:
        request["NextPageToken"] = token
    return request


def _add(totals: dict[str, float], unreadable: set[str], group: dict[str, Any]) -> None:
    """Add a day's amount to its load balancer's total; an amount that is not a finite number makes the whole total
    unknown (``unreadable``): a total without that day would be too low, one with a NaN or infinity no total."""
    keys = group.get("Keys") or []
    amount = (group.get("Metrics") or {}).get("UnblendedCost", {}).get("Amount")
    if not keys or ":loadbalancer/" not in str(keys[0]):
        return  # not a load balancer (ELB bills nothing else by resource, but keep to what is asked)
    try:
        usd = float(amount)
    except (TypeError, ValueError):
        usd = math.nan
    if not math.isfinite(usd):
        unreadable.add(str(keys[0]))
        return
    totals[str(keys[0])] = totals.get(str(keys[0]), 0.0) + usd
