"""Region prices from the AWS Price List API (``pricing.get_products``) into a PriceBook.

ELB products (ServiceCode ``AWSELB``) are told apart by ``productFamily`` (``Load Balancer-Application``,
``-Network``, ``-Gateway``, plain ``Load Balancer`` = Classic) and priced by usage type, matched on its
suffix because it carries a region prefix (``EUW1-LoadBalancerUsage``; us-east-1 has none) together
with ``regionCode``. Public IPv4 is ServiceCode ``AmazonVPC``, usage type ``*-PublicIPv4:InUseAddress``.
The Price List endpoint lives in us-east-1 (also eu-central-1, ap-south-1): the caller builds the client.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from auditor.cost.prices import LbPrice, PriceBook, RegionPrices, default_price_book

log = logging.getLogger(__name__)

_FAMILY_TYPE = {
    "Load Balancer-Application": "application",
    "Load Balancer-Network": "network",
    "Load Balancer-Gateway": "gateway",
    "Load Balancer": "classic",
}
HOURLY_SUFFIX = "LoadBalancerUsage"
CAPACITY_SUFFIX = "LCUUsage"  # also matches NLCUUsage / GLCUUsage
CLB_DATA_SUFFIX = "DataProcessing-Bytes"
IPV4_SUFFIX = "PublicIPv4:InUseAddress"
SOURCE = "AWS Price List API"


class _Paginator(Protocol):
    def paginate(self, **kwargs: Any) -> Iterable[dict[str, Any]]: ...


class PricingClient(Protocol):
    """The part of a boto3 ``pricing`` client this module uses."""

    def get_paginator(self, operation_name: str) -> Any: ...


def _products(client: PricingClient, service_code: str, filters: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
    paginator: _Paginator = client.get_paginator("get_products")
    for page in paginator.paginate(ServiceCode=service_code, Filters=filters, FormatVersion="aws_v1"):
        for raw in page.get("PriceList", []):
            yield json.loads(raw) if isinstance(raw, str) else raw


def _usd_per_unit(product: dict[str, Any]) -> float | None:
    """The on-demand USD price of a product: its first non-zero price dimension (tiered prices: the first tier)."""
    for term in product.get("terms", {}).get("OnDemand", {}).values():
        for dim in term.get("priceDimensions", {}).values():
            try:
                value = float(dim.get("pricePerUnit", {}).get("USD", ""))
            except ValueError:
                continue
            if value > 0:
                return value
    return None


def _matches(usage_type: str, suffix: str) -> bool:
    return usage_type == suffix or usage_type.endswith("-" + suffix)


def load_price_book(pricing_client: PricingClient, regions: Iterable[str]) -> PriceBook:
    """Prices of ``regions`` from the Price List API, over the built-in table.

    A region or type the API does not price keeps the built-in figure (us-east-1 via the fallback), so the
    basis of an estimate always names where its price came from. ClientErrors propagate to the caller.
    """
    loaded: dict[str, RegionPrices] = {}
    builtin = default_price_book()
    for region in regions:
        hourly: dict[str, float] = {}
        capacity: dict[str, float] = {}
        region_filter = [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}]
        for product in _products(pricing_client, "AWSELB", region_filter):
            attrs = product.get("product", {}).get("attributes", {})
            family = product.get("product", {}).get("productFamily") or attrs.get("productFamily", "")
            lb_type = _FAMILY_TYPE.get(family)
            if lb_type is None or attrs.get("regionCode") != region:
                continue
            usage = attrs.get("usagetype", "")
            price = _usd_per_unit(product)
            if price is None:
                continue
            if _matches(usage, HOURLY_SUFFIX):
                hourly.setdefault(lb_type, price)
            elif usage.endswith(CAPACITY_SUFFIX) or (lb_type == "classic" and _matches(usage, CLB_DATA_SUFFIX)):
                capacity.setdefault(lb_type, price)
        ipv4: float | None = None
        ipv4_filter = [*region_filter, {"Type": "CONTAINS", "Field": "usagetype", "Value": IPV4_SUFFIX}]
        for product in _products(pricing_client, "AmazonVPC", ipv4_filter):
            attrs = product.get("product", {}).get("attributes", {})
            if attrs.get("regionCode") == region and _matches(attrs.get("usagetype", ""), IPV4_SUFFIX):
                ipv4 = _usd_per_unit(product)
                if ipv4 is not None:
                    break
        if not hourly and ipv4 is None:
            log.warning("the Price List API has no load balancer prices for %s; built-in prices apply", region)
            continue
        lbs = {
            t: LbPrice(hourly=h, per_capacity_unit=capacity.get(t), verified=True, source=SOURCE)
            for t, h in hourly.items()
        }
        loaded[region] = RegionPrices(load_balancers=lbs, public_ipv4_hourly=ipv4)
        log.info("loaded Price List prices for %s: %s", region, ", ".join(sorted(lbs)) or "public IPv4 only")
    return builtin.merged(PriceBook(regions=loaded))
