"""Region prices from Price List product documents: parsing, the pricing collector against the moto server
(test support serves GetProducts, which moto lacks), the database cache, denial, and the shipped book."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auditor.collect.aws import pricing
from auditor.collect.aws.base import CollectorContext
from auditor.collect.aws.session import CallCounter, open_account
from auditor.config import AccountConfig, AwsSettings
from auditor.cost import bookgen, default_price_book, estimate, parse_region
from auditor.cost.prices import book_from_document
from auditor.inventory.facets import Facet
from auditor.inventory.models import CoverageStatus
from auditor.store.db import make_engine, session_factory, upgrade
from auditor.store.prices import StorePriceCache
from tests.support import builders as b
from tests.support.pricelist import region_products

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 6, tzinfo=UTC)
EU = region_products(
    "eu-central-1",
    {"application": ("0.0270000000", "0.0080000000"), "network": ("0.0270000000", "0.0060000000")},
    ipv4="0.0050000000",
)
US = region_products("us-east-1", {"application": ("0.0225000000", "0.0080000000")}, ipv4="0.0050000000")


def test_parses_region_prices_by_usage_type_suffix_and_region_code():
    other = region_products("eu-west-1", {"application": ("0.9", "0.9")}, ipv4="0.9")
    parsed = parse_region([*EU, *other], "eu-central-1", as_of=NOW)
    assert parsed is not None
    assert {t: (p.hourly, p.per_capacity_unit) for t, p in parsed.load_balancers.items()} == {
        "application": (0.027, 0.008),
        "network": (0.027, 0.006),
    }
    assert parsed.public_ipv4_hourly == 0.005  # InUseAddress, not IdleAddress; the TS- hour is not the LB-hour
    assert parsed.source == "AWS Price List API" and parsed.as_of == NOW
    assert parse_region(EU, "ap-south-1", as_of=NOW) is None


def test_zero_priced_dimension_is_never_the_price():
    free = region_products("eu-central-1", {"application": ("0.0000000000", "0.0080000000")}, ipv4=None)
    assert parse_region(free, "eu-central-1", as_of=NOW) is None


@pytest.mark.parametrize("odd", ["Infinity", "NaN", "-Infinity"])
def test_a_price_that_is_not_a_finite_number_is_never_the_price(odd):
    """float() reads "Infinity" and "NaN": such a dimension is skipped like a zero one, never a price."""
    broken = region_products("eu-central-1", {"application": (odd, "0.0080000000")}, ipv4=odd)
    assert parse_region(broken, "eu-central-1", as_of=NOW) is None


def _ctx(counter: CallCounter) -> CollectorContext:
    session = open_account(AccountConfig(), AwsSettings(max_attempts=1), region="us-east-1", counter=counter)
    return CollectorContext(name="pricing", session=session, region=pricing.ENDPOINT_REGION)


@pytest.fixture
def price_list(aws):
    aws.clear_price_list()
    aws.serve_price_list([*EU, *US])
    yield aws
    aws.clear_price_list()


def _get_products(counter: CallCounter) -> int:
    return counter.snapshot().get("pricing:GetProducts", 0)


def test_collector_reads_each_region_from_the_price_list_api(price_list):
    counter = CallCounter()
    ctx = _ctx(counter)
    lists = pricing.collect(ctx, ["eu-central-1", "us-east-1", "ap-south-1"])
    assert [pl.region for pl in lists] == ["eu-central-1", "us-east-1"]  # ap-south-1: no products
    assert _get_products(counter) == 6  # AWSELB + AmazonVPC per region, one page each
    assert ctx.facet_coverage(CoverageStatus.OK) == {}

    book = default_price_book().with_price_lists(lists)
    est = estimate(b.load_balancer("web", region="eu-central-1", azs=2), book)
    assert est is not None
    assert est.monthly_usd == pytest.approx(730 * 0.027 + 2 * 730 * 0.005, abs=0.01)
    assert "prices: eu-central-1, AWS Price List API, as of " in est.basis


def test_cached_prices_are_used_until_the_refresh_interval(price_list, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/cache.db")
    upgrade(engine)
    cache = StorePriceCache(session_factory(engine), timedelta(hours=24))
    first, second = CallCounter(), CallCounter()
    pricing.collect(_ctx(first), ["eu-central-1"], cache)
    again = pricing.collect(_ctx(second), ["eu-central-1"], cache)
    assert _get_products(first) == 2 and _get_products(second) == 0
    assert again[0].load_balancers["application"].hourly == 0.027
    # older than the interval: read again
    assert cache.fresh(["eu-central-1"], now=datetime.now(UTC) + timedelta(hours=25)) == {}
    engine.dispose()


def test_denied_price_list_is_coverage_and_the_bundled_book_prices(price_list):
    price_list.deny_price_list()
    counter = CallCounter()
    ctx = _ctx(counter)
    assert pricing.collect(ctx, ["eu-central-1", "us-east-1"]) == []
    assert _get_products(counter) == 1  # denied once: no call per region after that
    facet = ctx.facet_coverage(CoverageStatus.PARTIAL)[Facet.PRICING_PRODUCTS]
    assert facet.status == CoverageStatus.PARTIAL and "AccessDenied" in (facet.error_code or "")
    est = estimate(b.load_balancer("web", region="eu-central-1", azs=2), default_price_book())
    assert est is not None and "listed without prices in the bundled book" in est.basis


def test_shipped_book_is_the_generators_output_and_names_unpriced_regions():
    shipped = (ROOT / "auditor/cost/data/price_book.json").read_text()
    assert shipped == bookgen.render(bookgen.build(ROOT / "scripts/pricelist")), (
        "auditor/cost/data/price_book.json is stale: " + bookgen.GENERATOR
    )
    doc = json.loads(shipped)
    regions = json.loads((ROOT / "scripts/pricelist/regions.json").read_text())["regions"]
    assert set(doc["regions"]) | set(doc["unpriced_regions"]) == set(regions)
    for entry in doc["regions"].values():
        assert entry["source"] and entry["as_of"]  # every figure can name its source and date
    book = book_from_document(doc)
    assert "eu-central-1" in book.unpriced and "us-east-1" not in book.unpriced
    est = estimate(b.load_balancer("web", region="us-east-1", scheme="internal"), book)
    assert est is not None and f"as of {doc['regions']['us-east-1']['as_of']}" in est.basis
