"""Regional WAFv2 web ACLs and the ALBs each protects: O(#ACLs) calls, never one per load balancer."""

from __future__ import annotations

from typing import Any

from auditor.collect.aws.base import CollectorContext, actions_of, call
from auditor.errors import CollectionError
from auditor.inventory.facets import Facet
from auditor.inventory.models import WebAcl

NAME = "wafv2"
SERVICE = "wafv2"
# What each facet calls: the IAM policy is the union, and a call maps back to the facet it reads.
FACET_ACTIONS: dict[Facet, tuple[str, ...]] = {
    Facet.WAFV2_WEB_ACLS: ("wafv2:ListWebACLs",),
    Facet.WAFV2_ASSOCIATIONS: ("wafv2:ListResourcesForWebACL",),
}
IAM_ACTIONS: tuple[str, ...] = actions_of(FACET_ACTIONS)

PAGE_SIZE = 100  # ListWebACLs Limit maximum


def collect(ctx: CollectorContext) -> list[WebAcl]:
    client = ctx.client(SERVICE)
    summaries: list[dict[str, Any]] = []
    marker: str | None = None
    seen_markers: set[str] = set()
    while True:  # botocore has no paginator for ListWebACLs
        params: dict[str, Any] = {"Scope": "REGIONAL", "Limit": PAGE_SIZE}
        if marker:
            params["NextMarker"] = marker
        page = call(client, "ListWebACLs", **params)
        summaries.extend(page.get("WebACLs", []))
        marker = page.get("NextMarker")
        if not marker or not page.get("WebACLs") or marker in seen_markers:
            break
        seen_markers.add(marker)
    acls = [WebAcl(arn=s["ARN"], id=s["Id"], name=s["Name"], account=ctx.account, region=ctx.region) for s in summaries]
    ctx.fan_out.map(lambda acl: _resources(ctx, client, acl), acls)
    ctx.count("web ACLs", len(acls))
    return acls


def _resources(ctx: CollectorContext, client: Any, acl: WebAcl) -> None:
    try:
        answer = call(client, "ListResourcesForWebACL", WebACLArn=acl.arn, ResourceType="APPLICATION_LOAD_BALANCER")
    except CollectionError as exc:
        ctx.problem(f"ListResourcesForWebACL of {acl.name}", exc, facet=Facet.WAFV2_ASSOCIATIONS)
        return
    acl.resource_arns = list(answer.get("ResourceArns", []))
