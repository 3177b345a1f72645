"""Monthly cost of one load balancer, each part saying whether it was measured or assumed.

Monthly cost = hours + capacity units from measured usage + Classic data processed + public IPv4 addresses
(https://aws.amazon.com/elasticloadbalancing/pricing/, https://aws.amazon.com/vpc/pricing/):
- hours: 730 a month × the hourly price of the type (assumed: the load balancer runs all month);
- capacity units (ALB LCU, NLB NLCU, GWLB GLCU): CloudWatch ``ConsumedLCUs`` averaged over the usage
  window × 730 h × the LCU-hour price — measured when the metrics were read, else left out and said so;
- Classic data processed: GB processed over the window, scaled to a month, × the per-GB price;
- public IPv4: the addresses on the load balancer's network interfaces (measured, ``ec2:DescribeNetworkInterfaces``)
  × 730 h × the address-hour price; when they were not counted, one per Availability Zone (assumed).
Prices come from the audit's Price List read or the shipped book; each part names the source and date.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from auditor.cost.prices import HOURS_PER_MONTH, LbPrice, PriceBook, default_price_book
from auditor.inventory.models import LoadBalancer, LoadBalancerUsage

if TYPE_CHECKING:
    from auditor.correlate.graph import LbNode

log = logging.getLogger(__name__)

_KIND = {"application": "ALB", "network": "NLB", "classic": "CLB", "gateway": "GWLB"}
_UNIT = {"application": "LCU", "network": "NLCU", "gateway": "GLCU"}
# An internet-facing load balancer needs at least this many AZs (ALB: two subnets); used when the AZ list is empty.
_MIN_AZS = {"application": 2, "network": 1, "classic": 1, "gateway": 0}
DAYS_PER_MONTH = HOURS_PER_MONTH / 24


@dataclass(frozen=True)
class CostEstimate:
    """A monthly cost in USD, its parts, and the sentence that says how it was reached."""

    monthly_usd: float
    basis: str
    hours_usd: float = 0.0
    capacity_usd: float = 0.0  # LCU / NLCU / GLCU from measured usage
    data_usd: float = 0.0  # Classic: per GB processed
    public_ipv4_usd: float = 0.0
    public_ipv4_count: int = 0
    price_region: str = ""
    measured: tuple[str, ...] = ()  # the parts read from the account (usage, addresses)
    assumed: tuple[str, ...] = ()  # the parts taken on assumption


def public_ipv4_count(lb: LoadBalancer) -> tuple[int, str, bool]:
    """How many public IPv4 addresses a load balancer is billed for, the note behind the count, and whether
    it was measured (counted on its network interfaces) rather than assumed."""
    if lb.scheme != "internet-facing" or lb.type == "gateway":
        return 0, "", True
    if (lb.ip_address_type or "").lower() == "dualstack-without-public-ipv4":
        return 0, "dualstack without public IPv4: no public IPv4 addresses", True
    if lb.public_ipv4_count is not None:
        return lb.public_ipv4_count, "counted on its network interfaces", True
    azs = len(lb.availability_zones)
    note = "one public IPv4 per Availability Zone"
    if azs == 0:
        azs = _MIN_AZS.get(lb.type, 1)
        note += f"; AZs not known, assumed the minimum of {azs}"
    if lb.type == "network":
        return azs, note + " (network interfaces not counted)", False
    # ALB and CLB nodes scale out and can hold more addresses than AZs: the count is an assumption.
    return azs, note + f" (assumption for {_KIND[lb.type]}: it can hold more as it scales)", False


def estimate(lb: LoadBalancer, book: PriceBook, usage: LoadBalancerUsage | None = None) -> CostEstimate | None:
    """The monthly cost of ``lb`` under ``book`` with its measured ``usage`` (None: not read); None when the
    book has no price for its region and type."""
    found = book.lb_price(lb.region, lb.type)
    if found is None:
        log.debug("no %s price for %s: %s is not priced", lb.type, lb.region, lb.name)
        return None
    ips, ip_note, ips_measured = public_ipv4_count(lb)
    ipv4 = book.public_ipv4(lb.region) if ips else None
    lcus = gb_month = None
    window = 0
    if usage is not None:
        window = usage.window_days
        lcus = usage.average_lcus
        gb_month = usage.processed_gb / max(1, usage.window_days) * DAYS_PER_MONTH
    return _estimate(
        lb.type,
        lb.region,
        found,
        ips,
        ip_note,
        ips_measured,
        ipv4,
        usage is not None,
        window,
        lcus,
        gb_month,
        lb.region in book.unpriced,
    )


def node_estimate(node: LbNode) -> CostEstimate | None:
    """The monthly cost of a correlated load balancer: the audit's prices and its measured usage."""
    return estimate(node.lb, node.prices or default_price_book(), node.usage)


@lru_cache(maxsize=4096)
def _estimate(
    lb_type: str,
    region: str,
    found: tuple[str, LbPrice],
    ips: int,
    ip_note: str,
    ips_measured: bool,
    ipv4_found: tuple[str, float, str] | None,
    usage_read: bool,
    window: int,
    lcus: float | None,
    gb_month: float | None,
    known_unpriced: bool,
) -> CostEstimate:
    # Memoised on everything the figure and its basis depend on: without usage a fleet has few distinct
    # combinations, and every output (rules, views, namespace costs) prices each load balancer again.
    price_region, price = found
    kind = _KIND.get(lb_type, lb_type)
    measured: list[str] = []
    assumed: list[str] = ["hours: runs all month"]
    hours_usd = HOURS_PER_MONTH * price.hourly
    parts = [f"{kind} {HOURS_PER_MONTH:.0f} h × ${price.hourly:g}/h = ${hours_usd:.2f}"]
    if not price.verified:
        parts[0] += " (hourly price unverified)"

    capacity_usd = data_usd = 0.0
    unit = _UNIT.get(lb_type)
    if lb_type == "classic":
        if not usage_read or gb_month is None:
            parts.append("excludes per-GB data processing (traffic metrics not read)")
            assumed.append("data processed: not measured, left out")
        elif price.per_capacity_unit is None:
            parts.append(f"{gb_month:.1f} GB/month processed not priced (no per-GB price)")
            measured.append("data processed")
        else:
            data_usd = gb_month * price.per_capacity_unit
            parts.append(
                f"{gb_month:.1f} GB/month processed (CloudWatch, {window}-day window) × "
                f"${price.per_capacity_unit:g}/GB = ${data_usd:.2f}"
            )
            measured.append("data processed")
    elif unit is not None:
        if not usage_read:
            parts.append(f"excludes {unit} usage (traffic metrics not read)")
            assumed.append(f"{unit}s: not measured, left out")
        elif price.per_capacity_unit is None:
            parts.append(f"{unit} usage not priced (no {unit}-hour price)")
            measured.append(f"{unit}s")
        else:
            capacity_usd = (lcus or 0.0) * HOURS_PER_MONTH * price.per_capacity_unit
            parts.append(
                f"{lcus or 0.0:.3g} {unit} average (CloudWatch ConsumedLCUs, {window}-day window) × "
                f"{HOURS_PER_MONTH:.0f} h × ${price.per_capacity_unit:g}/{unit}-h = ${capacity_usd:.2f}"
            )
            measured.append(f"{unit}s")

    ipv4_usd = 0.0
    if ips and ipv4_found is None:
        parts.append(f"{ips} public IPv4 not priced (no public IPv4 price for {region})")
        ips = 0
    elif ipv4_found is not None:
        ipv4_region, rate, cited = ipv4_found
        ipv4_usd = ips * HOURS_PER_MONTH * rate
        where = "" if ipv4_region == region else f"; {ipv4_region} price ({cited}) used for {region}"
        parts.append(f"{ips} public IPv4 × {HOURS_PER_MONTH:.0f} h × ${rate:g}/h = ${ipv4_usd:.2f} ({ip_note}{where})")
        (measured if ips_measured else assumed).append(f"public IPv4: {ip_note}")
    elif ip_note:
        parts.append(ip_note)
    if price_region == region:
        parts.append(f"prices: {region}, {price.cited}")
    else:
        why = "is listed without prices in the bundled book" if known_unpriced else "has no price of its own"
        parts.append(f"prices: {price_region} ({price.cited}) used for {region}, which {why}")
        assumed.append(f"prices: {price_region}'s used for {region}")
    return CostEstimate(
        monthly_usd=round(hours_usd + capacity_usd + data_usd + ipv4_usd, 2),
        basis="; ".join(parts),
        hours_usd=round(hours_usd, 2),
        capacity_usd=round(capacity_usd, 2),
        data_usd=round(data_usd, 2),
        public_ipv4_usd=round(ipv4_usd, 2),
        public_ipv4_count=ips,
        price_region=price_region,
        measured=tuple(measured),
        assumed=tuple(assumed),
    )
