"""Load balancer list prices: the built-in us-east-1 table and the PriceBook that holds them per region.

Prices are USD list prices (facts §8). The built-in table is us-east-1 only; other regions differ, so a
``PriceBook`` can hold region-specific prices (``auditor.cost.pricelist.load_price_book`` fills it from the
AWS Price List API). A region without its own prices falls back to the book's fallback region, and the
cost basis says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOURS_PER_MONTH = 730.0
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class LbPrice:
    """What one load balancer type costs in one region."""

    hourly: float  # per load balancer-hour
    per_capacity_unit: float | None  # per LCU-hour (ALB, CLB: per GB instead), NLCU-hour (NLB), GLCU-hour (GWLB)
    verified: bool = True  # False: the figure has not been confirmed against AWS (UNVERIFIED in facts §8)
    source: str = "built-in us-east-1 list price"


@dataclass(frozen=True)
class RegionPrices:
    """The prices of one region: per load balancer type, plus the public IPv4 address-hour (None: not known)."""

    load_balancers: dict[str, LbPrice]  # "application" | "network" | "classic" | "gateway"
    public_ipv4_hourly: float | None


@dataclass
class PriceBook:
    """Prices per region; ``fallback_region`` answers what a region does not price itself (None: no answer)."""

    regions: dict[str, RegionPrices] = field(default_factory=dict)
    fallback_region: str | None = DEFAULT_REGION

    def _candidates(self, region: str) -> tuple[str, ...]:
        # the region itself, then the fallback (looked up once per load balancer per output: no lists built)
        fallback = self.fallback_region
        return (region,) if fallback is None or fallback == region else (region, fallback)

    def lb_price(self, region: str, lb_type: str) -> tuple[str, LbPrice] | None:
        """(region whose price applies, the price) of a load balancer type: the region's own, else the fallback's."""
        for name in self._candidates(region):
            prices = self.regions.get(name)
            if prices is not None and lb_type in prices.load_balancers:
                return name, prices.load_balancers[lb_type]
        return None

    def public_ipv4(self, region: str) -> tuple[str, float] | None:
        """(region whose price applies, USD per public IPv4 address-hour)."""
        for name in self._candidates(region):
            prices = self.regions.get(name)
            if prices is not None and prices.public_ipv4_hourly is not None:
                return name, prices.public_ipv4_hourly
        return None

    def merged(self, other: PriceBook) -> PriceBook:
        """A book with ``other``'s prices over this one's (e.g. Price List prices over the built-in table)."""
        regions = dict(self.regions)
        for name, prices in other.regions.items():
            base = regions.get(name)
            lbs = {**(base.load_balancers if base else {}), **prices.load_balancers}
            ipv4 = prices.public_ipv4_hourly
            if ipv4 is None and base is not None:
                ipv4 = base.public_ipv4_hourly
            regions[name] = RegionPrices(load_balancers=lbs, public_ipv4_hourly=ipv4)
        return PriceBook(regions=regions, fallback_region=self.fallback_region)


# us-east-1 list prices, facts §8. NLB hourly and CLB per-GB are UNVERIFIED there; the gateway figures are
# not in the facts at all (AWS pricing page as commonly quoted) and are marked unverified too.
US_EAST_1 = RegionPrices(
    load_balancers={
        "application": LbPrice(hourly=0.0225, per_capacity_unit=0.008),
        "network": LbPrice(hourly=0.0225, per_capacity_unit=0.006, verified=False),
        "classic": LbPrice(hourly=0.025, per_capacity_unit=0.008, verified=False),
        "gateway": LbPrice(hourly=0.0125, per_capacity_unit=0.004, verified=False),
    },
    public_ipv4_hourly=0.005,  # since February 2024
)


def default_price_book() -> PriceBook:
    """The built-in book: us-east-1 list prices, used for every region (the basis names the substitution)."""
    return PriceBook(regions={DEFAULT_REGION: US_EAST_1}, fallback_region=DEFAULT_REGION)
