"""Monthly cost per load balancer and per namespace, from the built-in us-east-1 table and custom books."""

import pytest

from auditor.cost import (
    LbPrice,
    PriceBook,
    RegionPrices,
    default_price_book,
    estimate,
)
from auditor.inventory.models import LoadBalancerUsage
from tests.support import builders as b

ALB_HOURS = 730 * 0.0225  # 16.425
IP_MONTH = 730 * 0.005  # 3.65


def test_internet_facing_alb_pays_hours_and_one_ipv4_per_az_with_assumption_stated():
    lb = b.load_balancer("web", region="us-east-1", azs=3)
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(ALB_HOURS + 3 * IP_MONTH, abs=0.01)
    assert est.public_ipv4_count == 3
    assert "excludes LCU usage (traffic metrics not read)" in est.basis
    assert "assumption for ALB" in est.basis  # the per-AZ IP count is an assumption for ALBs
    assert "prices: us-east-1" in est.basis
    assert est.measured == ()
    assert "LCUs: not measured, left out" in est.assumed
    assert any(a.startswith("public IPv4:") for a in est.assumed)


def test_internal_nlb_has_no_public_ip_and_says_its_price_is_unverified():
    lb = b.load_balancer("db", type="network", scheme="internal", region="us-east-1")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(16.43, abs=0.01)
    assert est.public_ipv4_count == 0
    assert "hourly price unverified" in est.basis
    assert "excludes NLCU usage" in est.basis


def test_counted_public_ipv4_addresses_are_measured():
    lb = b.load_balancer("web", region="us-east-1", azs=2)
    lb.public_ipv4_count = 5  # an ALB scaled out: more addresses than AZs
    est = estimate(lb, default_price_book())
    assert est is not None and est.public_ipv4_count == 5
    assert est.public_ipv4_usd == pytest.approx(5 * IP_MONTH, abs=0.01)
    assert "public IPv4: counted on its network interfaces" in est.measured


def test_classic_without_metrics_leaves_data_processing_out_and_says_so():
    lb = b.load_balancer("a01", type="classic", scheme="internal", region="us-east-1")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(730 * 0.025, abs=0.01)
    assert "excludes per-GB data processing" in est.basis


def test_unpriced_region_borrows_us_east_1_and_says_so():
    lb = b.load_balancer("web", region="eu-west-1", scheme="internal")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.price_region == "us-east-1"
    assert "used for eu-west-1, which is listed without prices in the bundled book" in est.basis
    assert "prices: us-east-1's used for eu-west-1" in est.assumed


# Two regions with different (made-up) prices: every figure below is worked out by hand.
FRA = RegionPrices(
    load_balancers={
        "application": LbPrice(hourly=0.027, per_capacity_unit=0.0081, source="test", as_of="2026-11-01"),
        "network": LbPrice(hourly=0.0243, per_capacity_unit=0.0065, source="test", as_of="2026-11-01"),
        "classic": LbPrice(hourly=0.028, per_capacity_unit=0.0085, source="test", as_of="2026-11-01"),
    },
    public_ipv4_hourly=0.005,
    source="test",
    as_of="2026-11-01",
)
VIRGINIA = RegionPrices(
    load_balancers={
        "application": LbPrice(hourly=0.0225, per_capacity_unit=0.008, source="test", as_of="2026-11-01"),
        "network": LbPrice(hourly=0.0225, per_capacity_unit=0.006, source="test", as_of="2026-11-01"),
        "classic": LbPrice(hourly=0.025, per_capacity_unit=0.008, source="test", as_of="2026-11-01"),
    },
    public_ipv4_hourly=0.005,
    source="test",
    as_of="2026-11-01",
)
TWO_REGIONS = PriceBook(regions={"eu-central-1": FRA, "us-east-1": VIRGINIA}, fallback_region=None)


def _usage(lb, *, lcus=None, gb=0.0, days=14):
    return LoadBalancerUsage(
        arn=lb.arn, window_days=days, daily_requests=[0.0] * days, average_lcus=lcus, processed_gb=gb
    )


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # 730 × 0.027 = 19.71; 2.5 LCU × 730 × 0.0081 = 14.7825; 3 IPs × 730 × 0.005 = 10.95 → 45.4425
        ("eu-central-1", 45.44),
        # 730 × 0.0225 = 16.425; 2.5 × 730 × 0.008 = 14.6; 10.95 → 41.975
        ("us-east-1", 41.98),
    ],
)
def test_alb_hours_lcus_and_counted_addresses(region, expected):
    lb = b.load_balancer("web", region=region, azs=2)
    lb.public_ipv4_count = 3
    est = estimate(lb, TWO_REGIONS, _usage(lb, lcus=2.5))
    assert est is not None
    assert est.monthly_usd == pytest.approx(expected, abs=0.005)
    assert est.measured == ("LCUs", "public IPv4: counted on its network interfaces")
    assert est.assumed == ("hours: runs all month",)
    assert "2.5 LCU average (CloudWatch ConsumedLCUs, 14-day window)" in est.basis


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # 730 × 0.0243 = 17.739; 0.4 NLCU × 730 × 0.0065 = 1.898; internal: no IPv4 → 19.637
        ("eu-central-1", 19.64),
        # 730 × 0.0225 = 16.425; 0.4 × 730 × 0.006 = 1.752 → 18.177
        ("us-east-1", 18.18),
    ],
)
def test_nlb_hours_and_nlcus(region, expected):
    lb = b.load_balancer("db", type="network", scheme="internal", region=region)
    est = estimate(lb, TWO_REGIONS, _usage(lb, lcus=0.4))
    assert est is not None
    assert est.monthly_usd == pytest.approx(expected, abs=0.005)
    assert est.capacity_usd == pytest.approx(expected - est.hours_usd, abs=0.01)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        # 730 × 0.028 = 20.44; 28 GB in 14 days = 2 GB/day × 30.4167 days = 60.833 GB × 0.0085 = 0.5171
        # ; 1 AZ assumed → 1 IP × 3.65 → 24.607
        ("eu-central-1", 24.61),
        # 730 × 0.025 = 18.25; 60.833 × 0.008 = 0.4867; 3.65 → 22.387
        ("us-east-1", 22.39),
    ],
)
def test_classic_hours_and_data_processed(region, expected):
    lb = b.load_balancer("a01", type="classic", region=region, azs=1)
    est = estimate(lb, TWO_REGIONS, _usage(lb, gb=28.0))
    assert est is not None
    assert est.monthly_usd == pytest.approx(expected, abs=0.005)
    assert "data processed" in est.measured


def test_region_specific_prices_win_and_no_fallback_means_no_price():
    eu = RegionPrices(
        load_balancers={"application": LbPrice(hourly=0.03, per_capacity_unit=0.01, source="custom")},
        public_ipv4_hourly=0.006,
    )
    book = PriceBook(regions={"eu-west-1": eu}, fallback_region=None)
    est = estimate(b.load_balancer("web", region="eu-west-1", azs=2), book)
    assert est is not None
    assert est.monthly_usd == pytest.approx(730 * 0.03 + 2 * 730 * 0.006, abs=0.01)
    assert "prices: eu-west-1, custom" in est.basis
    assert estimate(b.load_balancer("web", region="ap-south-1"), book) is None
    assert estimate(b.load_balancer("nlb", type="network", region="eu-west-1"), book) is None


def test_dualstack_without_public_ipv4_and_unknown_azs():
    lb = b.load_balancer("v6", region="us-east-1")
    lb.ip_address_type = "dualstack-without-public-ipv4"
    est = estimate(lb, default_price_book())
    assert est is not None and est.public_ipv4_count == 0
    assert est.monthly_usd == pytest.approx(ALB_HOURS, abs=0.01)

    no_azs = b.load_balancer("web", region="us-east-1", azs=0)
    est = estimate(no_azs, default_price_book())
    assert est is not None and est.public_ipv4_count == 2  # an ALB spans at least two AZs
    assert "assumed the minimum of 2" in est.basis
