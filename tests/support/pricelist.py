"""Price List product documents in the shape ``pricing:GetProducts`` returns (moto has no pricing backend).

One document per (family, usage type, region), as in the AWSELB and AmazonVPC offers: the region appears
both as ``regionCode`` and as the usage type's prefix (``EUC1-``; us-east-1 has none for ELB, ``USE1-`` for
VPC), prices are strings in ``terms.OnDemand.<sku>.<offer>.priceDimensions.<rate>.pricePerUnit.USD``.
"""

from __future__ import annotations

import hashlib
from typing import Any

PREFIX = {"us-east-1": "", "eu-central-1": "EUC1-", "eu-west-1": "EU-", "ap-south-1": "APS3-"}
LOCATION = {
    "us-east-1": "US East (N. Virginia)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-west-1": "EU (Ireland)",
    "ap-south-1": "Asia Pacific (Mumbai)",
}
FAMILY = {
    "application": "Load Balancer-Application",
    "network": "Load Balancer-Network",
    "classic": "Load Balancer",
    "gateway": "Load Balancer-Gateway",
}


def product(
    service: str, usage: str, region: str, usd: str, *, family: str | None = None, unit: str = "Hrs"
) -> dict[str, Any]:
    sku = hashlib.sha256(f"{service}{usage}{region}{family}".encode()).hexdigest()[:16].upper()
    attrs = {"servicecode": service, "location": LOCATION.get(region, region), "locationType": "AWS Region"}
    attrs |= {"usagetype": usage, "regionCode": region, "operation": "LoadBalancing" if service == "AWSELB" else ""}
    body: dict[str, Any] = {"attributes": attrs, "sku": sku}
    if family:
        body["productFamily"] = family
    rate = f"{sku}.JRTCKXETXF.6YS6EN2CT7"
    return {
        "product": body,
        "serviceCode": service,
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF",
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "priceDimensions": {
                        rate: {
                            "unit": unit,
                            "endRange": "Inf",
                            "description": f"{usage} in {region}",
                            "appliesTo": [],
                            "rateCode": rate,
                            "beginRange": "0",
                            "pricePerUnit": {"USD": usd},
                        }
                    },
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }


def region_products(region: str, prices: dict[str, tuple[str, str]], ipv4: str | None) -> list[dict[str, Any]]:
    """AWSELB products of ``region``: type -> (hourly, per capacity unit); plus AmazonVPC in-use and idle IPv4."""
    pre = PREFIX.get(region, "XX1-")
    docs = []
    for lb_type, (hourly, unit_price) in prices.items():
        family = FAMILY[lb_type]
        docs.append(product("AWSELB", f"{pre}LoadBalancerUsage", region, hourly, family=family))
        usage = f"{pre}DataProcessing-Bytes" if lb_type == "classic" else f"{pre}LCUUsage"
        docs.append(product("AWSELB", usage, region, unit_price, family=family, unit="LCU-Hrs"))
        # a Trust Store hour is not the load balancer-hour
        docs.append(product("AWSELB", f"{pre}TS-LoadBalancerUsage", region, "0.0055", family=family))
    vpc = pre or "USE1-"
    if ipv4 is not None:
        docs.append(product("AmazonVPC", f"{vpc}PublicIPv4:IdleAddress", region, "0.0050000000", family="IP Address"))
        docs.append(product("AmazonVPC", f"{vpc}PublicIPv4:InUseAddress", region, ipv4, family="IP Address"))
    return docs
