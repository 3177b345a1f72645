"""A Gateway owner (with its routes) appears wherever owners appear: views, JSON, table, Markdown, SARIF."""

import json

from auditor.config import Settings
from auditor.output.json_report import render_json
from auditor.output.markdown import render_markdown
from auditor.output.sarif import render_sarif
from auditor.output.table import render_table
from auditor.pipeline import analyze
from tests.support import builders as b


def _result():
    lb = b.load_balancer("k8s-shop-web-gw", tags=b.gateway_tags("shop/web"), listeners=[b.listener(80, "HTTP")])
    inv = b.inventory(
        lbs=[lb],
        gateways=[b.gateway("shop", "web", lb=lb)],
        routes=[b.route("shop", "store", gateway="web", backends=("store",))],
    )
    return analyze(inv, Settings()).result


def test_gateway_owner_in_the_view_and_the_json():
    result = _result()
    (view,) = result.load_balancers
    assert view.owner is not None
    assert (view.owner.kind, view.owner.namespace, view.owner.name) == ("Gateway", "shop", "web")
    assert view.owner.routes == ["HTTPRoute shop/store"] and view.owner_evidence == "stack-tag"
    doc = json.loads(render_json(result))
    assert doc["load_balancers"][0]["owner"] == {
        "kind": "Gateway",
        "namespace": "shop",
        "name": "web",
        "routes": ["HTTPRoute shop/store"],
    }
    # findings about its load balancer name the Gateway as owner
    failed = [f for f in doc["findings"] if f["status"] == "FAIL"]
    assert failed and not any(f["rule_id"] == "orphaned-load-balancer" for f in failed)


def test_gateway_owner_in_the_table_markdown_and_sarif():
    result = _result()
    table = render_table(result, width=250)
    assert "Gateway shop/web ← HTTPRoute shop/store" in table
    assert "Gateway shop/web" in render_markdown(result)
    assert "Gateway/shop/web" in render_sarif(result)
