"""Region prices from the AWS Price List API.

moto has no ``pricing`` backend at all (see /work/shared/facts/test-doubles.md), so these tests put
``botocore.stub.Stubber`` on a real boto3 pricing client: the requests are validated against the
service model and the responses have the Price List's real shape (JSON strings, OnDemand terms).
"""

import json

import boto3
import pytest
from botocore.stub import Stubber

from auditor.cost import estimate, load_price_book
from tests.support import builders as b


def product(family: str, usage: str, region: str, usd: str, *, service: str = "AWSELB") -> str:
    sku = f"SKU{abs(hash((family, usage, region))) % 10**8}"
    return json.dumps(
        {
            "product": {
                "productFamily": family,
                "attributes": {"servicecode": service, "usagetype": usage, "regionCode": region},
                "sku": sku,
            },
            "serviceCode": service,
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": {
                            f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": usd},
                                "description": f"{usage} in {region}",
                            }
                        }
                    }
                }
            },
        }
    )


def elb_params(region: str, token: str | None = None) -> dict:
    params = {
        "ServiceCode": "AWSELB",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        "FormatVersion": "aws_v1",
    }
    if token:
        params["NextToken"] = token
    return params


def vpc_params(region: str) -> dict:
    return {
        "ServiceCode": "AmazonVPC",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": "PublicIPv4:InUseAddress"},
        ],
        "FormatVersion": "aws_v1",
    }


@pytest.fixture
def pricing():
    client = boto3.client(
        "pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def test_loads_region_prices_by_usage_type_suffix_across_pages(pricing):
    client, stub = pricing
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                product("Load Balancer-Application", "EUW1-LoadBalancerUsage", "eu-west-1", "0.0252000000"),
                product("Load Balancer-Application", "EUW1-LCUUsage", "eu-west-1", "0.0080000000"),
                # a zero-priced dimension (free tier style) is never taken as the price
                product("Load Balancer-Network", "EUW1-LoadBalancerUsage", "eu-west-1", "0.0000000000"),
            ],
            "NextToken": "page2",
        },
        elb_params("eu-west-1"),
    )
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                product("Load Balancer-Network", "EUW1-LoadBalancerUsage", "eu-west-1", "0.0252000000"),
                product("Load Balancer-Network", "EUW1-LCUUsage", "eu-west-1", "0.0060000000"),
                product("Load Balancer", "EUW1-LoadBalancerUsage", "eu-west-1", "0.0280000000"),
                product("Load Balancer", "EUW1-DataProcessing-Bytes", "eu-west-1", "0.0080000000"),
                # another region's product that slipped through is ignored
                product("Load Balancer-Application", "USE2-LoadBalancerUsage", "us-east-2", "0.9"),
            ],
        },
        elb_params("eu-west-1", "page2"),
    )
    stub.add_response(
        "get_products",
        {
            "FormatVersion": "aws_v1",
            "PriceList": [
                product("IP Address", "EUW1-PublicIPv4:IdleAddress", "eu-west-1", "0.0050000000", service="AmazonVPC"),
                product("IP Address", "EUW1-PublicIPv4:InUseAddress", "eu-west-1", "0.0060000000", service="AmazonVPC"),
            ],
        },
        vpc_params("eu-west-1"),
    )

    book = load_price_book(client, ["eu-west-1"])

    eu = book.regions["eu-west-1"]
    assert {t: p.hourly for t, p in eu.load_balancers.items()} == {
        "application": 0.0252,
        "network": 0.0252,
        "classic": 0.028,
    }
    assert eu.load_balancers["application"].per_capacity_unit == 0.008
    assert eu.load_balancers["network"].per_capacity_unit == 0.006
    assert eu.load_balancers["classic"].per_capacity_unit == 0.008
    assert eu.public_ipv4_hourly == 0.006  # InUseAddress, not IdleAddress

    est = estimate(b.load_balancer("web", region="eu-west-1", azs=2), book)
    assert est is not None
    assert est.monthly_usd == pytest.approx(730 * 0.0252 + 2 * 730 * 0.006, abs=0.01)
    assert "prices: eu-west-1, AWS Price List API" in est.basis
    # gateway is not in the Price List answer: the built-in us-east-1 figure still prices it, and says so
    gw = estimate(b.load_balancer("gw", type="gateway", scheme="internal", region="eu-west-1"), book)
    assert gw is not None and "used for eu-west-1" in gw.basis


def test_region_without_products_keeps_builtin_prices(pricing):
    client, stub = pricing
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, elb_params("xx-nowhere-1"))
    stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, vpc_params("xx-nowhere-1"))
    book = load_price_book(client, ["xx-nowhere-1"])
    assert "xx-nowhere-1" not in book.regions
    est = estimate(b.load_balancer("web", region="xx-nowhere-1", scheme="internal"), book)
    assert est is not None and est.price_region == "us-east-1"


def test_api_errors_reach_the_caller(pricing):
    client, stub = pricing
    stub.add_client_error(
        "get_products", "AccessDeniedException", "not allowed", 400, expected_params=elb_params("eu-west-1")
    )
    with pytest.raises(client.exceptions.ClientError):
        load_price_book(client, ["eu-west-1"])
