"""Build the shipped price book from Price List product documents.

    python -m auditor.cost.bookgen scripts/pricelist > auditor/cost/data/price_book.json

The input directory holds ``regions.json`` (the commercial regions to cover) and one ``<region>.json`` per
priced region: ``{"region", "source", "as_of", "unverified": [types], "PriceList": [product documents]}``,
``PriceList`` being what ``pricing:GetProducts`` returns for ServiceCode ``AWSELB`` (and ``AmazonVPC`` public
IPv4) filtered on ``regionCode``. ``--live`` first refreshes those files from the Price List API with the
caller's AWS credentials. Every region of ``regions.json`` without a file is listed under
``unpriced_regions``: the book says it has no price of its own there instead of borrowing silently.
A test fails when the shipped book differs from this module's output.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.cost.pricelist import (
    ELB_SERVICE,
    SOURCE,
    VPC_SERVICE,
    decoded,
    ipv4_filter,
    parse_region,
    region_filter,
)
from auditor.cost.prices import DEFAULT_REGION

GENERATOR = "python -m auditor.cost.bookgen scripts/pricelist > auditor/cost/data/price_book.json"


def build(directory: Path) -> dict[str, Any]:
    """The book document from the product documents in ``directory``."""
    commercial = json.loads((directory / "regions.json").read_text(encoding="utf-8"))["regions"]
    regions: dict[str, Any] = {}
    for path in sorted(directory.glob("*.json")):
        if path.name == "regions.json":
            continue
        raw = json.loads(path.read_text(encoding="utf-8"))
        region = raw["region"]
        as_of = datetime.fromisoformat(raw["as_of"]).replace(tzinfo=UTC)
        parsed = parse_region(decoded(raw["PriceList"]), region, source=raw["source"], as_of=as_of)
        if parsed is None:
            continue
        regions[region] = {
            "source": parsed.source,
            "as_of": parsed.as_of.date().isoformat(),
            "load_balancers": {
                t: {"hourly": p.hourly, "per_capacity_unit": p.per_capacity_unit}
                for t, p in sorted(parsed.load_balancers.items())
            },
            "public_ipv4_hourly": parsed.public_ipv4_hourly,
            "unverified": sorted(raw.get("unverified", [])),
        }
    return {
        "generator": GENERATOR,
        "fallback_region": DEFAULT_REGION,
        "regions": regions,
        "unpriced_regions": sorted(r for r in commercial if r not in regions),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def refresh(directory: Path) -> None:  # pragma: no cover - needs AWS credentials and the Price List API
    """Download every region's product documents from the Price List API into ``directory``."""
    import boto3

    client: Any = boto3.client("pricing", region_name="us-east-1")
    commercial = json.loads((directory / "regions.json").read_text(encoding="utf-8"))["regions"]
    today = datetime.now(UTC).date().isoformat()
    for region in commercial:
        products: list[Any] = []
        for service, filters in ((ELB_SERVICE, region_filter(region)), (VPC_SERVICE, ipv4_filter(region))):
            for page in client.get_paginator("get_products").paginate(
                ServiceCode=service, Filters=filters, FormatVersion="aws_v1"
            ):
                products.extend(decoded(page.get("PriceList", [])))
        if not products:
            continue
        doc = {"region": region, "source": SOURCE, "as_of": today, "unverified": [], "PriceList": products}
        (directory / f"{region}.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="the Price List product documents (scripts/pricelist)")
    parser.add_argument("--live", action="store_true", help="refresh the documents from the Price List API first")
    args = parser.parse_args(argv)
    if args.live:
        refresh(args.directory)
    sys.stdout.write(render(build(args.directory)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
