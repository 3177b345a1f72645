"""Region prices from AWS Price List product documents (what ``pricing:GetProducts`` returns).

ELB products (ServiceCode ``AWSELB``) are told apart by ``productFamily`` (``Load Balancer-Application``,
``-Network``, ``-Gateway``, plain ``Load Balancer`` = Classic) and priced by usage type, matched on its
suffix because it carries a region prefix (``EUW1-LoadBalancerUsage``; us-east-1 has none or ``USE1-``)
together with ``regionCode``. Public IPv4 is ServiceCode ``AmazonVPC``, usage type
``*-PublicIPv4:InUseAddress``. Usage types with another qualifier (``TS-LoadBalancerUsage``: Trust Store)
are not the load balancer-hour. https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_pricing_GetProducts.html

Used by the ``pricing`` collector (live prices) and by ``scripts/build_price_book.py`` (the shipped book).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from auditor.inventory.models import LbPriceEntry, RegionPriceList

log = logging.getLogger(__name__)

FAMILY_TYPE = {
    "Load Balancer-Application": "application",
    "Load Balancer-Network": "network",
    "Load Balancer-Gateway": "gateway",
    "Load Balancer": "classic",
}
HOURLY_SUFFIX = "LoadBalancerUsage"
CAPACITY_SUFFIXES = ("LCUUsage", "NLCUUsage", "GLCUUsage")
CLB_DATA_SUFFIX = "DataProcessing-Bytes"
IPV4_SUFFIX = "PublicIPv4:InUseAddress"
SOURCE = "AWS Price List API"
ELB_SERVICE = "AWSELB"
VPC_SERVICE = "AmazonVPC"


def region_filter(region: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]


def ipv4_filter(region: str) -> list[dict[str, str]]:
    return [*region_filter(region), {"Type": "CONTAINS", "Field": "usagetype", "Value": IPV4_SUFFIX}]


def decoded(raw: Iterable[str | dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Product documents from a GetProducts ``PriceList`` (JSON strings) or already decoded."""
    for item in raw:
        yield json.loads(item) if isinstance(item, str) else item


def usd_per_unit(product: dict[str, Any]) -> float | None:
    """The on-demand USD price of a product: its first non-zero price dimension (tiered prices: the first tier)."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            try:
                value = float(dim.get("pricePerUnit", {}).get("USD", ""))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value) and value > 0:  # float() also reads "Infinity" and "NaN"
                return value
    return None


def _usage_matches(usage_type: str, suffix: str) -> bool:
    # "LoadBalancerUsage", "USE1-LoadBalancerUsage", "EUW1-LoadBalancerUsage" — not "EUW1-TS-LoadBalancerUsage"
    if usage_type == suffix:
        return True
    if not usage_type.endswith("-" + suffix):
        return False
    return "-" not in usage_type[: -len(suffix) - 1]


def parse_region(
    products: Iterable[dict[str, Any]], region: str, *, source: str = SOURCE, as_of: datetime
) -> RegionPriceList | None:
    """The region's prices from AWSELB and AmazonVPC product documents; None when none of them prices it."""
    hourly: dict[str, float] = {}
    capacity: dict[str, float] = {}
    ipv4: float | None = None
    for product in products:
        body = product.get("product", {})
        attrs = body.get("attributes", {})
        if attrs.get("regionCode") != region:
            continue
        usage = str(attrs.get("usagetype", ""))
        price = usd_per_unit(product)
        if price is None:
            continue
        if _usage_matches(usage, IPV4_SUFFIX):
            ipv4 = ipv4 if ipv4 is not None else price
            continue
        lb_type = FAMILY_TYPE.get(body.get("productFamily") or attrs.get("productFamily", ""))
        if lb_type is None:
            continue
        if _usage_matches(usage, HOURLY_SUFFIX):
            hourly.setdefault(lb_type, price)
        elif any(_usage_matches(usage, s) for s in CAPACITY_SUFFIXES) or (
            lb_type == "classic" and _usage_matches(usage, CLB_DATA_SUFFIX)
        ):
            capacity.setdefault(lb_type, price)
    if not hourly and ipv4 is None:
        return None
    return RegionPriceList(
        region=region,
        source=source,
        as_of=as_of,
        load_balancers={t: LbPriceEntry(hourly=h, per_capacity_unit=capacity.get(t)) for t, h in hourly.items()},
        public_ipv4_hourly=ipv4,
    )
