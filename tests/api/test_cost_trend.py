"""The cost trend (issue #10, item 7): monthly cost per cluster / namespace across runs in the API, and its chart
in the HTML report of a stored run."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from auditor.cost.allocate import CostPoint
from auditor.output.charts import cost_trend_chart, line_chart
from auditor.store.db import make_engine, session_factory, transaction
from auditor.store.models import LoadBalancerRow
from tests.api.conftest import Api


def test_trend_per_cluster_and_namespace_oldest_first(api: Api) -> None:
    body = api.client.get("/api/v1/cost/trend?cluster=prod&group_by=namespace", headers=api.read).json()
    assert body["group_by"] == "namespace"
    points = body["points"]
    assert [p["target"] for p in points] == ["prod", "prod"]
    assert points[0]["started_at"] < points[1]["started_at"]
    assert points[1]["monthly_usd"] == {"(no namespace)": 18.0, "shop": 22.0}  # what GET /api/v1/cost says
    assert points[1]["total_monthly_usd"] == 40.0
    clusters = api.client.get("/api/v1/cost/trend", headers=api.read).json()["points"]
    assert {p["target"] for p in clusters} == {"prod", "stage"}
    assert all(set(p["monthly_usd"]) <= {"prod-eks"} for p in clusters)
    one = api.client.get("/api/v1/cost/trend?cluster=prod&runs=1", headers=api.read).json()["points"]
    assert [p["run_id"] for p in one] == [points[-1]["run_id"]]


def test_a_load_balancer_stored_without_shares_counts_whole_for_its_owner_namespace(api: Api) -> None:
    engine = make_engine(api.settings.database_url)
    with transaction(session_factory(engine)) as s:  # as an auditor from before cost shares stored it
        for row in s.scalars(select(LoadBalancerRow)).all():
            view = dict(row.view)
            view.pop("cost_shares", None)
            s.execute(update(LoadBalancerRow).where(LoadBalancerRow.id == row.id).values(view=view))
    engine.dispose()
    points = api.client.get("/api/v1/cost/trend?cluster=prod&group_by=namespace", headers=api.read).json()["points"]
    assert points[-1]["monthly_usd"] == {"(no namespace)": 18.0, "shop": 22.0}


def test_bad_trend_queries_are_4xx(api: Api) -> None:
    for query, code in (
        ("cluster=nowhere", 404),
        ("group_by=owner", 422),
        ("runs=0", 422),
        ("runs=501", 422),
        ("cluster=a%00b", 422),
    ):
        assert api.client.get(f"/api/v1/cost/trend?{query}", headers=api.read).status_code == code, query
    assert api.client.get("/api/v1/cost/trend").status_code == 401


def test_the_html_report_of_a_run_charts_the_trend_up_to_it(api: Api) -> None:
    runs = api.client.get("/api/v1/runs?cluster=prod", headers=api.read).json()["items"]
    latest, first = max(r["id"] for r in runs), min(r["id"] for r in runs)
    html = api.client.get(f"/api/v1/runs/{latest}/report?format=html", headers=api.read).text
    assert 'id="cost-trend"' in html and html.count("<polyline") == 3  # total, shop, (no namespace)
    assert "total: $40.00 a month" in html and "shop: $22.00 a month" in html
    # a report shows the trend up to its own run, not runs made after it
    earlier = api.client.get(f"/api/v1/runs/{first}/report?format=html", headers=api.read).text
    assert earlier.count("<polyline") == 3 and earlier.count('class="tick"') == 3  # one point: one x label


def test_chart_geometry() -> None:
    assert line_chart([], {"total": []}) is None and cost_trend_chart([]) is None
    chart = line_chart(["a", "b", "c"], {"total": [0.0, 5.0, 10.0]})
    assert chart is not None and chart.y_max == 10.0
    [series] = chart.series
    xs = [float(p.split(",")[0]) for p in series.points.split()]
    ys = [float(p.split(",")[1]) for p in series.points.split()]
    assert xs == sorted(xs) and ys[0] == chart.baseline and ys[2] < ys[1] < ys[0]  # higher cost, higher line
    flat = line_chart(["a"], {"total": [0.0]})  # nothing spent: a line on the baseline, no division by zero
    assert flat is not None and flat.series[0].points.endswith(f",{flat.baseline:.1f}")
    at = datetime(2030, 1, 1, tzinfo=UTC)
    points = [CostPoint(i, "prod", at, {f"ns{j}": float(j + i) for j in range(8)}) for i in range(3)]
    trend = cost_trend_chart(points)
    assert trend is not None and [s.name for s in trend.series] == ["total", "ns7", "ns6", "ns5", "ns4"]
    assert trend.series[0].last == points[-1].total


def test_reports_say_who_pays_per_namespace(api: Api) -> None:
    runs = api.client.get("/api/v1/runs?cluster=prod", headers=api.read).json()["items"]
    latest = max(r["id"] for r in runs)
    html = api.client.get(f"/api/v1/runs/{latest}/report?format=html", headers=api.read).text
    section = html[html.index('id="who-pays"') :]
    assert section.index("shop") < section.index("(no namespace)")  # biggest first
    assert "$22.00" in section and "$18.00" in section
    markdown = api.client.get(f"/api/v1/runs/{latest}/report?format=markdown", headers=api.read).text
    who = markdown[markdown.index("## Who pays") :]
    assert "| shop | $22.00 |" in who and "| (no namespace) | $18.00 |" in who


def test_reports_are_served_with_no_script_and_never_sniffed(api: Api) -> None:
    """A report quotes cluster text: no script may run in it, and a browser must not take it for another type."""
    runs = api.client.get("/api/v1/runs?cluster=prod", headers=api.read).json()["items"]
    for path in (f"/api/v1/runs/{runs[0]['id']}/report?format=html", "/api/v1/reports/latest?cluster=prod&format=csv"):
        r = api.client.get(path, headers=api.read)
        assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in r.headers["content-security-policy"]
        assert "script-src" not in r.headers["content-security-policy"]  # default-src 'none' covers scripts
