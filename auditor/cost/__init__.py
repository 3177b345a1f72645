"""Load balancer cost: list prices per region, monthly estimates with their basis, cost per namespace."""

from auditor.cost.allocate import UNATTRIBUTED, CostShare, allocate, cost_by, cost_by_namespace, owner_namespaces
from auditor.cost.estimate import CostEstimate, estimate, node_estimate, public_ipv4_count
from auditor.cost.pricelist import parse_region
from auditor.cost.prices import HOURS_PER_MONTH, LbPrice, PriceBook, RegionPrices, default_price_book

__all__ = [
    "HOURS_PER_MONTH",
    "UNATTRIBUTED",
    "CostEstimate",
    "CostShare",
    "LbPrice",
    "PriceBook",
    "RegionPrices",
    "allocate",
    "cost_by",
    "cost_by_namespace",
    "default_price_book",
    "estimate",
    "node_estimate",
    "owner_namespaces",
    "parse_region",
    "public_ipv4_count",
]
