"""The audited regions' load balancer and public IPv4 prices from the AWS Price List API.

Two paginated ``GetProducts`` calls per region (ServiceCode ``AWSELB`` filtered on ``regionCode``, and
``AmazonVPC`` on ``regionCode`` + the ``PublicIPv4:InUseAddress`` usage type), through the Price List
endpoint in us-east-1 (the API is served from us-east-1, eu-central-1 and ap-south-1 only:
https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/using-price-list-query-api.html). Prices cached
in the database (``auditor.store.prices``) and younger than the refresh interval are used without a call.
When the API is denied, the facet says so and estimates use the bundled book (``auditor.cost.prices``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from auditor.collect.aws.base import CollectorContext, actions_of, pages
from auditor.cost.pricelist import ELB_SERVICE, VPC_SERVICE, decoded, ipv4_filter, parse_region, region_filter
from auditor.errors import CollectionError, PermissionDenied
from auditor.inventory.facets import Facet
from auditor.inventory.models import RegionPriceList

NAME = "pricing"
SERVICE = "pricing"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {Facet.PRICING_PRODUCTS: ("pricing:GetProducts",)}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)
ENDPOINT_REGION = "us-east-1"
PAGE_SIZE = 100  # GetProducts MaxResults maximum


class PriceCache(Protocol):
    """Where prices read before are kept between audits (the history database)."""

    def fresh(self, regions: Iterable[str]) -> dict[str, RegionPriceList]: ...

    def store(self, lists: Iterable[RegionPriceList]) -> None: ...


def collect(ctx: CollectorContext, regions: list[str], cache: PriceCache | None = None) -> list[RegionPriceList]:
    if ctx.session.partition != "aws":
        ctx.skip(f"the Price List API prices commercial regions only (partition {ctx.session.partition})", *_facets())
        return []
    cached = cache.fresh(regions) if cache is not None else {}
    found = [cached[r] for r in regions if r in cached]
    if cached:
        ctx.count("regions priced from the cache", len(cached))
    client = ctx.client(SERVICE)
    read: list[RegionPriceList] = []
    for region in (r for r in regions if r not in cached):
        try:
            products = _products(client, region)
        except PermissionDenied as exc:
            # denied once is denied for every region: one problem, no more calls
            ctx.problem("GetProducts (the bundled price book is used)", exc, facet=Facet.PRICING_PRODUCTS)
            break
        except CollectionError as exc:
            ctx.problem(f"GetProducts of {region} (the bundled price book is used)", exc, facet=Facet.PRICING_PRODUCTS)
            continue
        parsed = parse_region(products, region, as_of=datetime.now(UTC))
        if parsed is not None:
            read.append(parsed)
    if read and cache is not None:
        cache.store(read)
    ctx.count("regions priced", len(found) + len(read))
    return found + read


def _products(client: Any, region: str) -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = []
    for service, filters in ((ELB_SERVICE, region_filter(region)), (VPC_SERVICE, ipv4_filter(region))):
        for page in pages(
            client, "GetProducts", page_size=PAGE_SIZE, ServiceCode=service, Filters=filters, FormatVersion="aws_v1"
        ):
            products.extend(decoded(page.get("PriceList", [])))
    return products


def _facets() -> tuple[Facet, ...]:
    return (Facet.PRICING_PRODUCTS,)
