"""The consolidation plan: hand-checked moves, counts and costs; fail closed; never a limit breached, a scheme
changed, a WAF dropped or a group-wide setting mixed (property tests)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.correlate import correlate
from auditor.cost.consolidation import plan_consolidation
from auditor.findings import ConsolidationPlan
from tests.support import builders as b

ALB = "alb.ingress.kubernetes.io/"
LBC = {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}
PUBLIC_LBC = {**LBC, "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing"}
# eu-west-1 (the builders' region), bundled book: $0.0225/h for an ALB or NLB, $0.005/h per public IPv4 address
PUBLIC = 730 * 0.0225 + 2 * 730 * 0.005  # two AZs, one address each: 23.725
INTERNAL = 730 * 0.0225  # no public address: 16.425


def implicit(ns, name, *, scheme="internet-facing", hosts=(), annotations=None, backend=("web", 80)):
    lb = b.load_balancer(f"k8s-{ns}-{name}", scheme=scheme, tags=b.ingress_tags(f"{ns}/{name}"))
    ann = {ALB + "scheme": scheme, **(annotations or {})}
    return lb, b.ingress(ns, name, annotations=ann, hosts=hosts, backend=backend, lb=lb)


def nlb_service(ns, name, *, port=8080, scheme="internet-facing", source_ranges=()):
    lb = b.load_balancer(f"k8s-{ns}-{name}", type="network", scheme=scheme, tags=b.service_tags(f"{ns}/{name}"))
    ann = PUBLIC_LBC if scheme == "internet-facing" else LBC
    svc = b.service(ns, name, ports=(port,), lb=lb, annotations=ann, source_ranges=source_ranges)
    return lb, svc


def cluster(**kw):
    """An explicit group 'shared' (blog/home), two compatible single Ingresses (shop/web, shop/api), an internal
    one (ops/admin), one behind a WAF attached outside Kubernetes (shop/pay), HTTP Services public (blog/front)
    and internal (ops/ui), and a database Service (db/pg)."""
    shared = b.load_balancer("k8s-shared", tags=b.ingress_tags("shared"))
    home = b.ingress(
        "blog", "home", annotations={ALB + "group.name": "shared", ALB + "scheme": "internet-facing"}, lb=shared
    )
    web = implicit("shop", "web", hosts=("www.example.com",))
    api = implicit("shop", "api", hosts=("api.example.com",), backend=("api", 8080))
    admin = implicit("ops", "admin", scheme="internal", hosts=("admin.internal",))
    pay = implicit("shop", "pay", hosts=("pay.example.com",), backend=("pay", 80))
    front = nlb_service("blog", "front")
    ui = nlb_service("ops", "ui", scheme="internal", port=80)
    pg = nlb_service("db", "pg", port=5432)
    pairs = [web, api, admin, pay]
    return b.inventory(
        lbs=[shared, *(p[0] for p in pairs), front[0], ui[0], pg[0]],
        ingresses=[home, *(p[1] for p in pairs)],
        services=[front[1], ui[1], pg[1]],
        web_acls=[b.web_acl("pay-acl", pay[0].arn)],
        **kw,
    )


def plan_of(inv) -> ConsolidationPlan:
    return plan_consolidation(correlate(inv))


def test_the_plan_moves_what_fits_and_counts_load_balancers_and_cost_before_and_after():
    plan = plan_of(cluster())
    assert plan.complete and plan.not_planned == []
    joins = [m for m in plan.moves if m.kind == "join-group"]
    assert len(joins) == 1
    join = joins[0]
    assert join.group == "shared" and join.joins_existing_group and join.load_balancer == "k8s-shared"
    assert join.moves == ["Ingress shop/api", "Ingress shop/web"]
    assert join.retires == ["k8s-shop-api", "k8s-shop-web"]
    assert join.commands == [
        f"kubectl -n shop annotate ingress api {ALB}group.name='shared' --overwrite",
        f"kubectl -n shop annotate ingress web {ALB}group.name='shared' --overwrite",
    ]
    assert (join.load_balancers_before, join.load_balancers_after) == (3, 1)
    assert join.rules == 3 and join.target_groups == 3 and join.certificates == 0
    assert join.monthly_usd_before == pytest.approx(3 * PUBLIC, abs=0.02)
    assert join.monthly_saving_usd == pytest.approx(2 * PUBLIC, abs=0.02)
    assert join.monthly_usd_after == pytest.approx(PUBLIC, abs=0.02)

    services = {m.moves[0]: m for m in plan.moves if m.kind == "service-behind-alb"}
    assert set(services) == {"Service blog/front", "Service ops/ui"}  # db/pg speaks no HTTP
    front = services["Service blog/front"]
    assert front.group == "shared" and front.retires == ["k8s-blog-front"] and front.scheme == "internet-facing"
    assert "type: ClusterIP" in front.manifest and f"{ALB}group.name: shared" in front.manifest
    assert front.rules == 4 and front.target_groups == 4  # after the Ingresses joined
    assert front.monthly_saving_usd == pytest.approx(PUBLIC, abs=0.01)
    ui = services["Service ops/ui"]  # same namespace as the only internal Ingress: a rule on it, no group
    assert ui.group == "ops/admin" and ui.scheme == "internal" and ui.load_balancer == "k8s-ops-admin"
    assert "add a rule to Ingress ops/admin" in ui.manifest and ui.commands == []
    assert ui.monthly_saving_usd == pytest.approx(INTERNAL, abs=0.01)

    # 8 load balancers of the cluster; 2 ALBs and 2 NLBs go away
    assert (plan.load_balancers_before, plan.load_balancers_after) == (8, 4)
    whole = 4 * PUBLIC + INTERNAL + 2 * PUBLIC + INTERNAL  # ALBs: 4 public + 1 internal; NLBs: 2 public + 1 internal
    assert plan.monthly_usd_before == pytest.approx(whole, abs=0.05)
    assert plan.monthly_saving_usd == pytest.approx(3 * PUBLIC + INTERNAL, abs=0.05)
    assert plan.monthly_usd_after == pytest.approx(plan.monthly_usd_before - plan.monthly_saving_usd, abs=0.001)
    assert plan.limits == {"rules": 100, "certificates": 25, "target_groups": 100}


def test_a_waf_attached_outside_kubernetes_is_never_dropped():
    plan = plan_of(cluster())
    touched = {name for m in plan.moves for name in m.retires} | {m.load_balancer for m in plan.moves}
    assert "k8s-shop-pay" not in touched  # the only ALB with a WAF: nothing compatible to merge with


def test_an_ingress_of_the_same_waf_joins_and_keeps_it():
    acl = b.web_acl("acl")
    a = implicit("shop", "a", hosts=("a.example.com",), annotations={ALB + "wafv2-acl-arn": acl.arn})
    c = implicit("shop", "c", hosts=("c.example.com",))  # no annotation, but AWS shows the same ACL attached
    acl.resource_arns = [a[0].arn, c[0].arn]
    plan = plan_of(b.inventory(lbs=[a[0], c[0]], ingresses=[a[1], c[1]], web_acls=[acl]))
    (move,) = plan.moves
    assert move.wafv2_acl_arn == acl.arn and move.group == "shop" and not move.joins_existing_group
    assert move.load_balancer == "(new ALB of group shop)" and move.retires == ["k8s-shop-a", "k8s-shop-c"]
    assert (plan.load_balancers_before, plan.load_balancers_after) == (2, 1)


def test_different_ingress_class_params_or_load_balancer_attributes_are_not_mixed():
    attrs = {ALB + "load-balancer-attributes": "idle_timeout.timeout_seconds=120"}
    a = implicit("shop", "a", hosts=("a.example.com",), annotations=attrs)
    c = implicit("shop", "c", hosts=("c.example.com",))
    assert plan_of(b.inventory(lbs=[a[0], c[0]], ingresses=[a[1], c[1]])).moves == []
    same = {ALB + "load-balancer-attributes": "routing.http2.enabled=true, idle_timeout.timeout_seconds=120"}
    d = implicit("shop", "d", hosts=("d.example.com",), annotations=same)  # the same pairs in another order
    assert len(plan_of(b.inventory(lbs=[a[0], d[0]], ingresses=[a[1], d[1]])).moves) == 0  # http2 differs
    e = implicit("shop", "e", hosts=("e.example.com",), annotations={ALB + "load-balancer-attributes": "x=1,y=2"})
    f = implicit("shop", "f", hosts=("f.example.com",), annotations={ALB + "load-balancer-attributes": "y=2,x=1"})
    assert len(plan_of(b.inventory(lbs=[e[0], f[0]], ingresses=[e[1], f[1]])).moves) == 1


def test_a_service_needs_an_alb_of_its_scheme_and_its_source_ranges():
    a = implicit("shop", "a", hosts=("a.example.com",))
    internal = nlb_service("ops", "ui", scheme="internal", port=80)
    closed = nlb_service("shop", "admin", source_ranges=("10.0.0.0/8",))
    plan = plan_of(b.inventory(lbs=[a[0], internal[0], closed[0]], ingresses=[a[1]], services=[internal[1], closed[1]]))
    assert plan.moves == []
    assert {n.object for n in plan.not_planned} == {
        "Service ops/ui (k8s-ops-ui)",
        "Service shop/admin (k8s-shop-admin)",
    }
    assert plan.complete  # nothing was missing: they just have nowhere to go


def test_a_service_of_another_namespace_makes_a_group_with_the_single_ingress():
    a = implicit("shop", "a", hosts=("a.example.com",))
    front = nlb_service("blog", "front")
    (move,) = plan_of(b.inventory(lbs=[a[0], front[0]], ingresses=[a[1]], services=[front[1]])).moves
    assert move.group == "shop" and move.moves == ["Service blog/front", "Ingress shop/a"]
    assert move.commands == [f"kubectl -n shop annotate ingress a {ALB}group.name='shop' --overwrite"]
    assert f"{ALB}group.name: shop" in move.manifest and move.load_balancer == "(new ALB of group shop)"


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"kube": False}, "Kubernetes was not read"),
        ({"failed": {"elbv2": "Throttling"}}, "application load balancers were not fully read"),
    ],
)
def test_without_its_inputs_the_plan_proposes_nothing_and_says_why(kw, why):
    plan = plan_of(cluster(**kw))
    assert not plan.complete and plan.moves == []
    assert any(why in n.reason for n in plan.not_planned)
    assert plan.load_balancers_after == plan.load_balancers_before


def test_without_waf_associations_no_ingress_moves():
    plan = plan_of(cluster(failed={"wafv2": "AccessDeniedException"}))
    assert not plan.complete
    assert [m for m in plan.moves if m.kind == "join-group"] == []
    assert all("WAF" in n.reason or "were not read" in n.reason for n in plan.not_planned)
    left_out = {n.object for n in plan.not_planned}
    assert left_out >= {"Ingress shop/web (k8s-shop-web)", "IngressGroup shared (k8s-shared)"}


def test_unread_listener_certificates_keep_a_group_out():
    https = b.listener(443, "HTTPS", certs=None)
    https.certificate_arns = None
    lb = b.load_balancer("k8s-shop-tls", tags=b.ingress_tags("shop/tls"), listeners=[https])
    tls = b.ingress("shop", "tls", annotations={ALB + "scheme": "internet-facing"}, hosts=("t.example.com",), lb=lb)
    web = implicit("shop", "web", hosts=("www.example.com",))
    plan = plan_of(b.inventory(lbs=[lb, web[0]], ingresses=[tls, web[1]]))
    assert plan.moves == [] and not plan.complete
    assert [n.object for n in plan.not_planned] == ["Ingress shop/tls (k8s-shop-tls)"]


# ------------------------------------------------------------------ properties

PROPS = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
CERTS = [b.arn("acm", f"certificate/c{i}") for i in range(40)]
ACLS = [b.arn("wafv2", "regional/webacl/one/1"), b.arn("wafv2", "regional/webacl/two/2")]

ingress_spec = st.fixed_dictionaries(
    {
        "ns": st.sampled_from(["a", "b"]),
        "scheme": st.sampled_from(["internet-facing", "internal"]),
        "policy": st.sampled_from([None, "ELBSecurityPolicy-TLS13-1-2-2021-06"]),
        "waf": st.sampled_from([None, "annotated-0", "annotated-1", "attached-0", "attached-1"]),
        "cidrs": st.sampled_from([None, "10.0.0.0/8"]),
        "attrs": st.sampled_from([None, "idle_timeout.timeout_seconds=120"]),
        "hosts": st.integers(0, 70),
        "certs": st.lists(st.integers(0, 39), max_size=16, unique=True),
        "group": st.sampled_from([None, None, None, "g1", "g2"]),
    }
)
service_spec = st.fixed_dictionaries(
    {
        "scheme": st.sampled_from(["internet-facing", "internal"]),
        "port": st.sampled_from([80, 443, 5432]),
        "ranges": st.sampled_from([(), ("10.0.0.0/8",)]),
    }
)


def _world(ingress_specs, service_specs):
    lbs, ingresses, services, acls = [], [], [], {a: [] for a in ACLS}
    expected = {}  # "ns/name" -> the settings the ALB would get (as generated, not as the product reads them)
    group_lbs = {}
    for i, s in enumerate(ingress_specs):
        name = f"i{i}"
        stack = s["group"] or f"{s['ns']}/{name}"
        lb = group_lbs.get(stack)
        if lb is None:
            lb = group_lbs[stack] = b.load_balancer(f"lb-{i}", scheme=s["scheme"], tags=b.ingress_tags(stack))
            lbs.append(lb)
        ann = {ALB + "scheme": s["scheme"]}
        if s["group"]:
            ann[ALB + "group.name"] = s["group"]
        if s["policy"]:
            ann[ALB + "ssl-policy"] = s["policy"]
        if s["cidrs"]:
            ann[ALB + "inbound-cidrs"] = s["cidrs"]
        if s["attrs"]:
            ann[ALB + "load-balancer-attributes"] = s["attrs"]
        if s["certs"]:
            ann[ALB + "certificate-arn"] = ",".join(CERTS[c] for c in s["certs"])
        waf = None
        if s["waf"]:
            how, n = s["waf"].split("-")
            waf = ACLS[int(n)]
            if how == "annotated":
                ann[ALB + "wafv2-acl-arn"] = waf
            else:
                acls[waf].append(lb.arn)
        hosts = tuple(f"h{j}.{name}.example.com" for j in range(s["hosts"]))
        ingresses.append(b.ingress(s["ns"], name, annotations=ann, hosts=hosts, backend=(f"svc{i}", 80), lb=lb))
        expected[f"{s['ns']}/{name}"] = {
            "key": (s["scheme"], s["policy"], s["cidrs"], s["attrs"]),
            "waf": waf,
            "waf_annotated": bool(s["waf"]) and s["waf"].startswith("annotated"),
            "lb": lb,
            "rules": max(1, s["hosts"]),
            "certs": {CERTS[c] for c in s["certs"]},
            "group": stack,
        }
    for i, s in enumerate(service_specs):
        lb, svc = nlb_service("svc", f"s{i}", port=s["port"], scheme=s["scheme"], source_ranges=s["ranges"])
        lbs.append(lb)
        services.append(svc)
    web_acls = [b.web_acl(a.split("/")[-2], *arns) for a, arns in acls.items()]
    for acl, arn in zip(web_acls, ACLS, strict=True):
        acl.arn = arn
    return b.inventory(lbs=lbs, ingresses=ingresses, services=services, web_acls=web_acls), expected


def _effective(stack_members, expected, waf_of_lb):
    """The settings a group's ALB gets, as generated: per field the one value its members set (unset joins any),
    the WAF annotated else attached; None when two members set a field differently (a broken group)."""
    fields = []
    for i in range(4):
        values = {expected[m]["key"][i] for m in stack_members} - {None}
        if len(values) > 1:
            return None
        fields.append(next(iter(values), None))
    annotated = {expected[m]["waf"] for m in stack_members if expected[m]["waf_annotated"]}
    if len(annotated) > 1:
        return None
    lb = expected[next(iter(stack_members))]["lb"]
    fields.append(next(iter(annotated), None) or waf_of_lb.get(lb.arn))
    return tuple(fields)


@PROPS
@given(st.lists(ingress_spec, min_size=2, max_size=8), st.lists(service_spec, max_size=3))
def test_no_plan_breaches_a_limit_mixes_settings_changes_a_scheme_or_drops_a_waf(ingress_specs, service_specs):
    inv, expected = _world(ingress_specs, service_specs)
    plan = plan_consolidation(correlate(inv))
    waf_of_lb = {arn: acl.arn for acl in inv.aws.web_acls for arn in acl.resource_arns or []}
    stacks: dict[str, set[str]] = {}  # the groups as generated -> their Ingresses
    for ing, e in expected.items():
        stacks.setdefault(e["group"], set()).add(ing)
    effective = {stack: _effective(ings, expected, waf_of_lb) for stack, ings in stacks.items()}
    final: dict[str, set[str]] = {k: set(v) for k, v in stacks.items()}  # group after the plan -> Ingresses
    touched: set[str] = set()
    services: dict[str, list] = {}  # group after the plan -> the Services moved behind its ALB
    retired: list[str] = []
    for move in plan.moves:
        retired += move.retires
        assert move.rules <= 100 and move.certificates <= 25 and move.target_groups <= 100
        touched.add(move.group)
        for ing in (m.removeprefix("Ingress ") for m in move.moves if m.startswith("Ingress ")):
            final[expected[ing]["group"]].discard(ing)
            final.setdefault(move.group, set()).add(ing)
        if move.kind == "service-behind-alb":
            (svc_lb,) = move.retires
            lb = next(x for x in inv.aws.load_balancers if x.name == svc_lb)
            svc = next(s for s in inv.kubernetes.services if s.name == svc_lb.removeprefix("k8s-svc-"))
            assert lb.scheme == move.scheme
            services.setdefault(move.group, []).append((svc, lb))
    assert len(retired) == len(set(retired))  # no load balancer retired twice
    for group in touched:
        ings = final.get(group, set())
        assert ings, group  # a Service always lands on an ALB of some Ingress
        origins = {expected[i]["group"] for i in ings}
        settings_of = {effective[o] for o in origins}
        assert None not in settings_of, group  # a broken group is never a move's target or source
        assert len(settings_of) == 1, (group, settings_of)  # scheme, TLS policy, CIDRs, attributes, WAF: one value
        (scheme, _, cidrs, _, _) = next(iter(settings_of))
        moved = services.get(group, [])
        for svc, lb in moved:  # never a scheme changed; the Service's source ranges are the ALB's inbound CIDRs
            assert lb.scheme == (scheme or "internal")
            assert tuple(svc.load_balancer_source_ranges) == ((cidrs,) if cidrs else ())
        tls = {f"new-{svc.name}" for svc, _ in moved if svc.ports[0].port == 443}
        assert sum(expected[i]["rules"] for i in ings) + len(moved) <= 100
        assert len(set().union(*(expected[i]["certs"] for i in ings)) | tls) <= 25
        assert len(ings) + len(moved) <= 100  # one backend per Ingress here, one per Service
    assert plan.load_balancers_after == plan.load_balancers_before - sum(
        m.load_balancers_before - m.load_balancers_after for m in plan.moves
    )
    assert plan.monthly_usd_after <= plan.monthly_usd_before


def test_the_rule_ungrouped_ingresses_reports_the_plans_groupings():
    """One packing: the rule FAILs on exactly the Ingress groups a join move merges, and neither pairs ALBs
    whose load balancer attributes or out-of-band WAF differ (kept apart since the packing moved to cost/plan)."""
    from auditor.findings import Status
    from auditor.rules.cost.ungrouped_ingresses import RULE
    from tests.rules._harness import run

    attrs = implicit("web", "a", hosts=("a.example.com",), annotations={ALB + "load-balancer-attributes": "x=1"})
    plain = implicit("web", "b", hosts=("b.example.com",))
    walled = implicit("web", "c", hosts=("c.example.com",))
    also = implicit("web", "d", hosts=("d.example.com",))
    base = cluster()
    inv = b.inventory(
        lbs=[*base.aws.load_balancers, attrs[0], plain[0], walled[0], also[0]],
        ingresses=[*base.kubernetes.ingresses, attrs[1], plain[1], walled[1], also[1]],
        services=base.kubernetes.services,
        web_acls=[*base.aws.web_acls, b.web_acl("walled", walled[0].arn)],
    )
    fails = {f.discriminator for f in run(RULE, inv) if f.status == Status.FAIL}
    plan = plan_of(inv)
    joined = set()
    for move in plan.moves:
        if move.kind == "join-group":
            groups = {m.removeprefix("Ingress ") for m in move.moves}
            if move.joins_existing_group:
                groups.add(move.group)
            joined.add(",".join(sorted(groups)))
    assert fails == joined == {"shared,shop/api,shop/web,web/b,web/d"}
