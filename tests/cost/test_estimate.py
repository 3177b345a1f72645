"""Monthly cost per load balancer and per namespace, from the built-in us-east-1 table and custom books."""

import pytest

from auditor.correlate import correlate
from auditor.cost import (
    UNATTRIBUTED,
    LbPrice,
    PriceBook,
    RegionPrices,
    cost_by_namespace,
    default_price_book,
    estimate,
)
from tests.support import builders as b

ALB_HOURS = 730 * 0.0225  # 16.425
IP_MONTH = 730 * 0.005  # 3.65


def test_internet_facing_alb_pays_hours_and_one_ipv4_per_az_with_assumption_stated():
    lb = b.load_balancer("web", region="us-east-1", azs=3)
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(ALB_HOURS + 3 * IP_MONTH, abs=0.01)
    assert est.public_ipv4_count == 3
    assert "excludes LCU usage" in est.basis
    assert "unverified for ALB" in est.basis  # the per-AZ IP count is an assumption for ALBs
    assert "prices: us-east-1" in est.basis


def test_internal_nlb_has_no_public_ip_and_says_its_price_is_unverified():
    lb = b.load_balancer("db", type="network", scheme="internal", region="us-east-1")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(16.43, abs=0.01)
    assert est.public_ipv4_count == 0
    assert "hourly price unverified" in est.basis
    assert "excludes NLCU usage" in est.basis


def test_internet_facing_nlb_ip_count_is_not_an_assumption():
    lb = b.load_balancer("db", type="network", region="us-east-1", azs=2)
    est = estimate(lb, default_price_book())
    assert est is not None and est.public_ipv4_count == 2
    assert "assumption" not in est.basis
    assert est.public_ipv4_usd == pytest.approx(2 * IP_MONTH, abs=0.01)


def test_classic_price_and_data_processing_excluded():
    lb = b.load_balancer("a01", type="classic", scheme="internal", region="us-east-1")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.monthly_usd == pytest.approx(730 * 0.025, abs=0.01)
    assert "excludes per-GB data processing usage" in est.basis


def test_other_region_uses_us_east_1_and_says_so():
    lb = b.load_balancer("web", region="eu-west-1", scheme="internal")
    est = estimate(lb, default_price_book())
    assert est is not None
    assert est.price_region == "us-east-1"
    assert "used for eu-west-1" in est.basis


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


def test_cost_by_namespace_splits_a_shared_alb_evenly_across_namespaces():
    shared = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"), azs=2)
    group = {"alb.ingress.kubernetes.io/group.name": "shared"}
    nlb = b.load_balancer("k8s-db-pg", type="network", scheme="internal", tags=b.service_tags("db/pg"))
    orphan = b.load_balancer("k8s-gone", type="network", scheme="internal", tags=b.service_tags("old/gone"))
    foreign = b.load_balancer("k8s-other", tags=b.ingress_tags("x/y", cluster="prod"))
    inv = b.inventory(
        lbs=[shared, nlb, orphan, foreign],
        cluster_names=["demo", "prod"],
        ingresses=[
            b.ingress("shop", "web", annotations=group, lb=shared),
            b.ingress("shop", "api", annotations=group, backend=("api", 80), lb=shared),
            b.ingress("blog", "web", annotations=group, lb=shared),
        ],
        services=[
            b.service(
                "db",
                "pg",
                ports=(5432,),
                lb=nlb,
                annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"},
            )
        ],
    )
    graph = correlate(inv)
    book = default_price_book()
    alb = estimate(shared, book).monthly_usd
    nlb_cost = estimate(nlb, book).monthly_usd
    got = cost_by_namespace(graph, book)
    # three Ingresses but two namespaces: half each, not thirds
    assert got["shop"] == pytest.approx(alb / 2, abs=0.01)
    assert got["blog"] == pytest.approx(alb / 2, abs=0.01)
    assert got["db"] == pytest.approx(nlb_cost, abs=0.01)
    assert got[UNATTRIBUTED] == pytest.approx(estimate(orphan, book).monthly_usd, abs=0.01)
    # another live cluster's ALB is not ours to charge
    assert sum(got.values()) == pytest.approx(alb + nlb_cost + estimate(orphan, book).monthly_usd, abs=0.02)
