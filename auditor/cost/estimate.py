"""Monthly cost of one load balancer: load balancer-hours plus public IPv4 addresses, with the basis spelled out.

What is counted (facts §8): 730 hours a month × the hourly price of the type, and for internet-facing
load balancers one public IPv4 address per Availability Zone × $/IP-hour. Capacity units (LCU, NLCU,
GLCU) and CLB data processing depend on traffic, which the auditor does not collect: every basis says
they are excluded, so the figure is a floor, not a bill.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from auditor.cost.prices import HOURS_PER_MONTH, LbPrice, PriceBook
from auditor.inventory.models import LoadBalancer

log = logging.getLogger(__name__)

_KIND = {"application": "ALB", "network": "NLB", "classic": "CLB", "gateway": "GWLB"}
_USAGE_UNIT = {"application": "LCU", "network": "NLCU", "classic": "per-GB data processing", "gateway": "GLCU"}
# An internet-facing load balancer needs at least this many AZs (ALB: two subnets); used when the AZ list is empty.
_MIN_AZS = {"application": 2, "network": 1, "classic": 1, "gateway": 0}


@dataclass(frozen=True)
class CostEstimate:
    """A monthly cost in USD and the sentence that says how it was reached."""

    monthly_usd: float
    basis: str
    hours_usd: float = 0.0
    public_ipv4_usd: float = 0.0
    public_ipv4_count: int = 0
    price_region: str = ""


def public_ipv4_count(lb: LoadBalancer) -> tuple[int, str]:
    """How many public IPv4 addresses a load balancer is billed for, and the assumption behind the count."""
    if lb.scheme != "internet-facing" or lb.type == "gateway":
        return 0, ""
    if (lb.ip_address_type or "").lower() == "dualstack-without-public-ipv4":
        return 0, "dualstack without public IPv4: no public IPv4 addresses"
    azs = len(lb.availability_zones)
    note = "one public IPv4 per Availability Zone"
    if azs == 0:
        azs = _MIN_AZS.get(lb.type, 1)
        note += f"; AZs not known, assumed the minimum of {azs}"
    if lb.type == "network":
        return azs, note
    # ALB and CLB nodes scale out and can hold more addresses than AZs; facts §8 leave the per-AZ count UNVERIFIED.
    return azs, note + f" (assumption, unverified for {_KIND[lb.type]}: it can hold more as it scales)"


def estimate(lb: LoadBalancer, book: PriceBook) -> CostEstimate | None:
    """The monthly cost of ``lb`` under ``book``; None when the book has no price for its region and type."""
    found = book.lb_price(lb.region, lb.type)
    if found is None:
        log.debug("no %s price for %s: %s is not priced", lb.type, lb.region, lb.name)
        return None
    ips, ip_note = public_ipv4_count(lb)
    return _estimate(lb.type, lb.region, found, ips, ip_note, book.public_ipv4(lb.region) if ips else None)


@lru_cache(maxsize=1024)
def _estimate(
    lb_type: str,
    region: str,
    found: tuple[str, LbPrice],
    ips: int,
    ip_note: str,
    ipv4_found: tuple[str, float] | None,
) -> CostEstimate:
    # Memoised on everything the figure and its basis depend on: a fleet has few distinct combinations, and
    # every output (rules, views, namespace costs) prices each load balancer again.
    price_region, price = found
    kind = _KIND.get(lb_type, lb_type)
    hours_usd = HOURS_PER_MONTH * price.hourly
    parts = [f"{kind} {HOURS_PER_MONTH:.0f} h × ${price.hourly:g}/h = ${hours_usd:.2f}"]
    if not price.verified:
        parts[0] += " (hourly price unverified)"
    ipv4_usd = 0.0
    if ips and ipv4_found is None:
        parts.append(f"{ips} public IPv4 not priced (no public IPv4 price for {region})")
        ips = 0
    elif ipv4_found is not None:
        ipv4_region, rate = ipv4_found
        ipv4_usd = ips * HOURS_PER_MONTH * rate
        where = "" if ipv4_region == region else f", {ipv4_region} price"
        parts.append(f"{ips} public IPv4 × {HOURS_PER_MONTH:.0f} h × ${rate:g}/h = ${ipv4_usd:.2f} ({ip_note}{where})")
    elif ip_note:
        parts.append(ip_note)
    parts.append(f"excludes {_USAGE_UNIT.get(lb_type, 'capacity unit')} usage (traffic not collected)")
    if price_region == region:
        parts.append(f"prices: {price_region}, {price.source}")
    else:
        parts.append(f"prices: {price_region} ({price.source}) used for {region}, which has no price of its own")
    return CostEstimate(
        monthly_usd=round(hours_usd + ipv4_usd, 2),
        basis="; ".join(parts),
        hours_usd=round(hours_usd, 2),
        public_ipv4_usd=round(ipv4_usd, 2),
        public_ipv4_count=ips,
        price_region=price_region,
    )
