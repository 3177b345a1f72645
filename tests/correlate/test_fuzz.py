"""Property tests: no annotation value, object shape or snapshot document makes the audit raise.

Random annotation values (every key the product reads, plus random keys), odd Kubernetes objects (huge ints,
deep JSON, NUL bytes, unicode) and random or mutated snapshot documents go through ``Inventory.parse`` ->
``correlate`` -> every rule (``pipeline.analyze``). The only exception allowed is ``SnapshotError`` from parsing
a document that is not a snapshot; a rule that crashes (caught by the engine, recorded in ``rule_errors``) fails
the test too, and so does an object the correlator had to record as unreadable (a parser that let it through).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auditor.config import Settings
from auditor.correlate.annotations import ALB, SVC, UNREADABLE
from auditor.errors import SnapshotError
from auditor.inventory.models import (
    READABLE_SCHEMA_VERSIONS,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    GatewayConfiguration,
    IngressBackend,
    IngressClass,
    IngressClassParametersRef,
    IngressClassParams,
    Inventory,
    SecurityGroup,
    SecurityGroupPermission,
    TargetGroupBinding,
)
from auditor.pipeline import AuditOutcome, analyze
from tests.support import builders as b

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a failure here is reproducible, not flaky
)

# every annotation key the product reads (auditor/correlate/annotations.py and the rules)
ANNOTATION_KEYS = [
    *(
        ALB + k
        for k in (
            "scheme",
            "group.name",
            "group.order",
            "certificate-arn",
            "listen-ports",
            "ssl-redirect",
            "ssl-policy",
            "wafv2-acl-arn",
            "target-type",
            "inbound-cidrs",
            "actions.forward-x",
            "actions.ssl-redirect",
            "conditions.rule-path1",
            "load-balancer-attributes",
            "healthcheck-path",
            "ip-address-type",
            "tags",
        )
    ),
    *(
        SVC + k
        for k in (
            "aws-load-balancer-type",
            "aws-load-balancer-scheme",
            "aws-load-balancer-internal",
            "aws-load-balancer-nlb-target-type",
            "aws-load-balancer-ssl-ports",
            "aws-load-balancer-ssl-cert",
            "aws-load-balancer-ssl-negotiation-policy",
            "aws-load-balancer-source-ranges",
            "aws-load-balancer-ip-address-type",
            "load-balancer-source-ranges",
        )
    ),
    "kubernetes.io/ingress.class",
    "eks.amazonaws.com/role-arn",
]

DEEP = 5000
HOSTILE = [
    "[" * DEEP + "]" * DEEP,
    '{"type":' * DEEP + '"forward"' + "}" * DEEP,
    '[{"HTTP": ' + "9" * DEEP + "}]",
    '[{"HTTPS": 443.0}, {"HTTP": -1}]',
    '[{"HTTPS": 1e999}]',
    "9" * DEEP,
    "-" + "9" * DEEP,
    "1_000",
    " 443 ",
    "٤٤٣",  # Arabic-Indic digits: int() reads them, the controller does not
    "443\x00",
    "\x00",
    "",
    "internet-facing\x00",
    "0.0.0.0/0," * 2000,
    "not-a-cidr," * 2000,
    "arn:aws:acm:eu-west-1:111122223333:certificate/x," * 500,
    "a=b," * 2000 + "broken",
    "NaN",
    "[NaN, Infinity]",
    '{"type": "forward", "forwardConfig": {"targetGroups": [{"serviceName": null, "servicePort": []}]}}',
    '[{"field": "host-header", "hostHeaderConfig": {"values": [' + "1," * 100 + "1]}}]",
    "\ud7ff\ue000\U0010ffff",
    "🙂" * 50,
]
GOOD = [
    "internet-facing",
    "internal",
    "ip",
    "instance",
    "443",
    "-5",
    "shared",
    '[{"HTTP": 80}, {"HTTPS": 443}]',
    "10.0.0.0/8, 192.168.0.0/16",
    "arn:aws:acm:eu-west-1:111122223333:certificate/abc",
    "arn:aws:wafv2:eu-west-1:111122223333:regional/webacl/x/1",
    "none",
    "ELBSecurityPolicy-2016-08",
    "external",
    "nlb",
    "nlb-ip",
    "true",
    '{"type": "redirect", "redirectConfig": {"protocol": "HTTPS", "port": "443"}}',
    '[{"field": "path-pattern", "pathPatternConfig": {"values": ["/x"]}}]',
    "/healthz",
]

# text with everything a JSON string can carry: NUL, control characters, any plane (no lone surrogates)
odd_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
name_text = st.one_of(st.sampled_from(["web", "api", "a.b", "x" * 300]), st.text(min_size=1, max_size=20))
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), odd_text)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=12,
)
annotation_values = st.one_of(
    st.sampled_from(HOSTILE),
    st.sampled_from(GOOD),
    odd_text,
    json_values.map(json.dumps),
    st.integers(1, DEEP).map(lambda n: "[" * n + "]" * n),
)
annotations = st.dictionaries(st.one_of(st.sampled_from(ANNOTATION_KEYS), odd_text), annotation_values, max_size=6)
ports = st.one_of(st.sampled_from([80, 443, 5432, 0, -1, 65535, 65536]), st.integers(-(10**30), 10**30))


def _analyze(inv: Inventory) -> AuditOutcome:
    outcome = analyze(inv, Settings())
    crashed = [e for e in outcome.graph.rule_errors]
    assert not crashed, f"rules crashed: {crashed}"
    unreadable = [ref for ref, p in outcome.graph.annotation_problems if p.annotation == UNREADABLE]
    assert not unreadable, f"objects the correlator could not read: {unreadable}"
    return outcome


@st.composite
def kube_inventories(draw: st.DrawFn) -> Inventory:
    """A cluster of a few odd Ingresses, Services, classes, params, bindings and slices, with load balancers
    tagged for some of them (so correlation reaches the owner, backend and target-group paths)."""
    namespaces = ["shop", "x" * 63, "ns\x00", "ü"]
    ingresses = []
    services = []
    lbs = []
    tgs = []
    for i in range(draw(st.integers(0, 4))):
        ns, name = draw(st.sampled_from(namespaces)), draw(name_text)
        lb = b.load_balancer(f"k8s-ing-{i}", tags=b.ingress_tags(f"{ns}/{name}")) if draw(st.booleans()) else None
        ing = b.ingress(
            ns,
            name,
            annotations=draw(annotations),
            hosts=tuple(draw(st.lists(odd_text, max_size=2))),
            backend=(draw(name_text), draw(ports)),
            tls_hosts=tuple(draw(st.lists(odd_text, max_size=2))),
            lb=lb,
            ingress_class=draw(st.sampled_from(["alb", None, "nginx", "alb\x00", "params"])),
        )
        if draw(st.booleans()):
            ing.default_backend = IngressBackend(
                service_name=draw(st.none() | name_text),
                service_port_name=draw(st.none() | odd_text),
                resource_kind=draw(st.none() | odd_text),
            )
        ingresses.append(ing)
        if lb is not None:
            lb.listeners = [b.listener(draw(ports), draw(st.sampled_from(["HTTP", "HTTPS", "TCP", "?"])))]
            lbs.append(lb)
            tgs.append(
                b.target_group(
                    f"tg-{i}",
                    lb,
                    port=draw(ports),
                    tags={"ingress.k8s.aws/resource": draw(odd_text)},
                )
            )
    for i in range(draw(st.integers(0, 4))):
        ns, name = draw(st.sampled_from(namespaces)), draw(name_text)
        kind = draw(st.sampled_from(["network", "classic"]))
        lb = b.load_balancer(f"k8s-svc-{i}", type=kind, tags=b.service_tags(f"{ns}/{name}"))
        svc = b.service(
            ns,
            name,
            type=draw(st.sampled_from(["LoadBalancer", "ClusterIP", "NodePort", "", "LoadBalancer\x00"])),
            ports=tuple(draw(st.lists(ports, max_size=3))),
            annotations=draw(annotations),
            lb_class=draw(st.sampled_from([None, "service.k8s.aws/nlb", "other", ""])),
            lb=lb if draw(st.booleans()) else None,
            source_ranges=tuple(draw(st.lists(odd_text, max_size=2))),
            app_protocol=draw(st.none() | odd_text),
        )
        services.append(svc)
        lbs.append(lb)
    params = IngressClassParams(
        name="params",
        spec=draw(
            st.dictionaries(
                st.sampled_from(["scheme", "group", "certificateArn", "sslPolicy", "inboundCIDRs", "wafv2AclArn"]),
                json_values,
                max_size=4,
            )
        ),
    )
    classes = [
        b.alb_class(),
        IngressClass(
            name="params",
            controller="ingress.k8s.aws/alb",
            parameters=IngressClassParametersRef(kind="IngressClassParams", name="params"),
            is_default=draw(st.booleans()),
        ),
    ]
    bindings = [
        TargetGroupBinding(
            namespace=draw(st.sampled_from(namespaces)),
            name=f"tgb-{i}",
            target_group_arn=tgs[i].arn if i < len(tgs) and draw(st.booleans()) else draw(odd_text),
            service_name=draw(name_text),
            service_port=draw(st.none() | ports | odd_text),
            target_type=draw(st.none() | odd_text),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    slices = [
        EndpointSlice(
            namespace=draw(st.sampled_from(namespaces)),
            name=f"eps-{i}",
            service_name=draw(st.none() | name_text),
            endpoints=[
                Endpoint(
                    addresses=draw(st.lists(odd_text, max_size=2)),
                    ready=draw(st.none() | st.booleans()),
                    serving=draw(st.none() | st.booleans()),
                    terminating=draw(st.none() | st.booleans()),
                    target_ref_kind=draw(st.none() | odd_text),
                    node_name=draw(st.none() | odd_text),
                )
                for _ in range(draw(st.integers(0, 2)))
            ],
            ports=[EndpointPort(name=draw(st.none() | odd_text), port=draw(st.none() | ports))],
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    sgs = [
        SecurityGroup(
            id=f"sg-{lb.name}",
            name="sg",
            account=b.ACCOUNT,
            region=b.REGION,
            ingress=[
                SecurityGroupPermission(
                    protocol=draw(st.sampled_from(["tcp", "-1", "udp", "?"])),
                    from_port=draw(st.none() | ports),
                    to_port=draw(st.none() | ports),
                    ipv4_ranges=draw(st.lists(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "bad"]) | odd_text)),
                )
            ],
        )
        for lb in lbs
    ]
    inv = b.inventory(
        lbs=lbs,
        target_groups=tgs,
        ingresses=ingresses,
        services=services,
        ingress_classes=classes,
        endpoint_slices=slices,
        security_groups=sgs,
        controllers=[b.controller()] if draw(st.booleans()) else [],
    )
    assert inv.kubernetes is not None
    inv.kubernetes.ingress_class_params = [params]
    inv.kubernetes.target_group_bindings = bindings
    return inv


@FUZZ
@given(inv=kube_inventories())
def test_odd_objects_and_annotations_never_crash_the_audit(inv: Inventory) -> None:
    _analyze(inv)


@FUZZ
@given(inv=kube_inventories())
def test_every_kubernetes_object_survives_a_snapshot_round_trip(inv: Inventory) -> None:
    """What the correlator accepts in memory it accepts from a snapshot (the CLI's --snapshot path)."""
    try:
        parsed = Inventory.parse(inv.dump_json())
    except SnapshotError:
        return  # e.g. a 10**30 port written as JSON and read back: refused with one line, which is the contract
    _analyze(parsed)


@FUZZ
@given(key=st.sampled_from(ANNOTATION_KEYS), value=annotation_values, kind=st.sampled_from(["ingress", "service"]))
def test_one_bad_annotation_is_reported_and_the_rest_is_audited(key: str, value: str, kind: str) -> None:
    """One hostile annotation on one object: the other object's findings are what they are without it."""
    healthy = b.ingress("ok", "fine")
    if kind == "ingress":
        odd: Any = b.ingress("bad", "odd", annotations={key: value})
        inv = b.inventory(ingresses=[odd, healthy], controllers=[b.controller()])
    else:
        odd = b.service("bad", "odd", annotations={key: value})
        inv = b.inventory(ingresses=[healthy], services=[odd], controllers=[b.controller()])
    outcome = _analyze(inv)
    fine = [f for f in outcome.result.findings if f.kubernetes and f.kubernetes.namespace == "ok"]
    assert fine, "the healthy Ingress was not audited"
    alone = _analyze(b.inventory(ingresses=[healthy], controllers=[b.controller()]))
    assert {(f.rule_id, f.status) for f in fine} == {
        (f.rule_id, f.status) for f in alone.result.findings if f.kubernetes and f.kubernetes.namespace == "ok"
    }


# LoadBalancerConfiguration / TargetGroupConfiguration specs: the CRDs' fields with any JSON in them (a CRD
# without validation, or an edited snapshot)
_CERT = b.arn("acm", "certificate/c")
_gw_json = st.one_of(
    json_values, st.sampled_from(["HTTPS:443", "HTTP:80", "0.0.0.0/0", "::/0", "internet-facing", _CERT])
)
_tg_props = st.fixed_dictionaries(
    {}, optional={k: _gw_json for k in ("targetType", "ipAddressType", "protocolVersion", "healthCheckConfig")}
)
_listener_entry = st.fixed_dictionaries(
    {},
    optional={
        "protocolPort": _gw_json,
        "defaultCertificate": _gw_json,
        "certificates": _gw_json | st.lists(_gw_json, max_size=2),
        "sslPolicy": _gw_json,
    },
)
gateway_specs = st.fixed_dictionaries(
    {},
    optional={
        "scheme": _gw_json,
        "sourceRanges": _gw_json | st.lists(_gw_json, max_size=3),
        "ipAddressType": _gw_json,
        "mergingMode": _gw_json,
        "wafV2": _gw_json | st.fixed_dictionaries({}, optional={"webACL": _gw_json}),
        "listenerConfigurations": _gw_json | st.lists(_listener_entry | _gw_json, max_size=3),
        "defaultConfiguration": _tg_props | _gw_json,
        "routeConfigurations": _gw_json
        | st.lists(
            st.fixed_dictionaries({}, optional={"targetGroupProps": _tg_props | _gw_json}) | _gw_json, max_size=2
        ),
    },
)


@FUZZ
@given(
    specs=st.lists(gateway_specs, min_size=1, max_size=3),
    kinds=st.lists(st.sampled_from(["LoadBalancerConfiguration", "TargetGroupConfiguration"]), min_size=3, max_size=3),
)
@example(specs=[{"routeConfigurations": ["x"]}], kinds=["TargetGroupConfiguration"] * 3)
@example(specs=[{"listenerConfigurations": [{"certificates": 5}]}], kinds=["LoadBalancerConfiguration"] * 3)
def test_odd_gateway_configurations_are_findings_not_crashes(specs: list[dict[str, Any]], kinds: list[str]) -> None:
    """The Gateway's LoadBalancerConfiguration (and its class's) with any spec: each bad field an invalid-annotation
    finding, never an object the correlator could not read nor a crashed rule (certificate-expiring, weak-tls-policy,
    public-alb-without-waf and public-sensitive-port read the spec too)."""
    cert = b.certificate("c", "a.example.com", days=3)
    lb = b.load_balancer(
        "k8s-gw",
        tags=b.gateway_tags("shop/gw"),
        listeners=[b.listener(443, "HTTPS", certs=[cert.arn], lb_name="k8s-gw")],
    )
    configs = [
        GatewayConfiguration(namespace="shop" if i % 2 else "infra", name="c", kind=kinds[i], spec=spec)  # type: ignore[arg-type]
        for i, spec in enumerate(specs)
    ]
    inv = b.inventory(
        lbs=[lb],
        gateways=[b.gateway("shop", "gw", lb=lb, config="c")],
        gateway_classes=[b.gateway_class(config="c")],
        gateway_configurations=configs,
        certificates=[cert],
        security_groups=[b.security_group("sg-1", 443)],
        controllers=[b.controller("v2.14.0")],
    )
    _analyze(inv)


def _sample_document() -> dict[str, Any]:
    alb = b.load_balancer("k8s-shop-web", tags=b.ingress_tags("shop/web"), listeners=[b.listener(80, "HTTP")])
    inv = b.inventory(
        lbs=[alb],
        target_groups=[b.target_group("tg", alb)],
        certificates=[b.certificate("c", "shop.example.com")],
        ingresses=[b.ingress("shop", "web", lb=alb, annotations={ALB + "group.order": "1"})],
        services=[b.service("db", "pg", ports=(5432,))],
        endpoint_slices=[b.endpoint_slice("shop", "web")],
        controllers=[b.controller()],
    )
    doc: dict[str, Any] = json.loads(inv.dump_json())
    return doc


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


SAMPLE = _sample_document()
SAMPLE_PATHS = _paths(SAMPLE)[1:]
replacement_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "2026-01-01T00:00:00",  # naive
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
            "yesterday",
            10**30,
            -(10**30),
            "[" * 300,
            "\x00",
            {"unexpected": True},
        ]
    ),
)


def _parse_or_refuse(raw: str) -> Inventory | None:
    try:
        return Inventory.parse(raw, source="fuzz.json")
    except SnapshotError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith("fuzz.json"), message
        return None


@FUZZ
@given(path=st.sampled_from(SAMPLE_PATHS), value=replacement_values)
def test_a_mutated_snapshot_is_refused_in_one_line_or_audited(path: tuple[Any, ...], value: Any) -> None:
    doc = json.loads(json.dumps(SAMPLE))
    holder = doc
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    inv = _parse_or_refuse(json.dumps(doc))
    if inv is not None:
        _analyze(inv)


@FUZZ
@given(doc=json_values)
def test_random_json_documents_are_refused_in_one_line(doc: Any) -> None:
    inv = _parse_or_refuse(json.dumps(doc))
    if inv is not None:
        _analyze(inv)


@FUZZ
@given(
    raw=st.one_of(st.text(max_size=200), st.sampled_from(["", "{", "[" * DEEP, '{"schema_version": 7}', "\ufeff{}"]))
)
def test_random_text_is_refused_in_one_line(raw: str) -> None:
    _parse_or_refuse(raw)


@pytest.mark.parametrize("version", [0, 7, -1, 10**30, "x", []])
def test_another_schema_version_is_named(version: Any) -> None:
    doc = {**SAMPLE, "schema_version": version}
    with pytest.raises(SnapshotError) as err:
        Inventory.parse(json.dumps(doc), source="snapshot.json")
    readable = sorted(READABLE_SCHEMA_VERSIONS)
    assert str(err.value).startswith("snapshot.json has schema version ")
    assert str(err.value).endswith(f"; this auditor reads {readable[0]}–{readable[-1]}" if len(readable) > 1 else "")


def test_every_readable_schema_version_is_read() -> None:
    for version in READABLE_SCHEMA_VERSIONS:
        assert Inventory.parse(json.dumps({**SAMPLE, "schema_version": version})).schema_version == version


def test_deep_json_annotation_is_an_invalid_annotation_fail_naming_the_object() -> None:
    deep = "[" * DEEP + "]" * DEEP
    ing = b.ingress("shop", "deep", annotations={ALB + "actions.x": deep, ALB + "conditions.y": deep})
    outcome = _analyze(b.inventory(ingresses=[ing, b.ingress("shop", "fine")], controllers=[b.controller()]))
    fails = [f for f in outcome.result.findings if f.rule_id == "invalid-annotation" and f.status == "FAIL"]
    assert {(str(f.kubernetes), f.discriminator) for f in fails} == {
        ("Ingress shop/deep", ALB + "actions.x"),
        ("Ingress shop/deep", ALB + "conditions.y"),
    }
    assert all("nested deeper than" in f.message for f in fails)


def test_an_object_the_correlator_cannot_read_is_unknown_and_the_rest_is_audited(monkeypatch) -> None:
    """The per-object guard: a parser bug on one Ingress costs that Ingress (UNKNOWN, named), not the audit."""
    import auditor.correlate.build as build

    real = build.ingress_settings

    def broken(ing, params=None):  # type: ignore[no-untyped-def]
        if ing.name == "boom":
            raise RuntimeError("parser bug")
        return real(ing, params)

    monkeypatch.setattr(build, "ingress_settings", broken)
    inv = b.inventory(ingresses=[b.ingress("shop", "boom"), b.ingress("shop", "fine")], controllers=[b.controller()])
    outcome = analyze(inv, Settings())
    unknown = [f for f in outcome.result.findings if f.rule_id == "invalid-annotation" and f.status == "UNKNOWN"]
    assert [str(f.kubernetes) for f in unknown] == ["Ingress shop/boom"]
    assert "RuntimeError: parser bug" in unknown[0].message
    fine = {f.rule_id for f in outcome.result.findings if str(f.kubernetes) == "Ingress shop/fine"}
    assert "invalid-annotation" in fine and "ingress-not-provisioned" in fine


def test_timestamps_need_a_time_zone() -> None:
    doc = {**SAMPLE, "collected_at": datetime(2026, 1, 1).isoformat()}  # naive on purpose
    with pytest.raises(SnapshotError, match="collected_at: timestamp 2026-01-01T00:00:00 has no time zone"):
        Inventory.parse(json.dumps(doc), source="snapshot.json")
    doc = {**SAMPLE, "collected_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat()}
    assert Inventory.parse(json.dumps(doc)).collected_at.tzinfo is not None


def test_malformed_ingress_class_params_fields_are_named_on_the_params_object() -> None:
    inv = b.inventory(
        ingresses=[b.ingress("shop", "web", ingress_class="params")],
        ingress_classes=[
            IngressClass(
                name="params",
                controller="ingress.k8s.aws/alb",
                parameters=IngressClassParametersRef(kind="IngressClassParams", name="p"),
            )
        ],
        controllers=[b.controller()],
    )
    assert inv.kubernetes is not None
    inv.kubernetes.ingress_class_params = [
        IngressClassParams(name="p", spec={"scheme": ["internet-facing"], "group": {"name": 7}, "inboundCIDRs": "x"})
    ]
    outcome = _analyze(inv)
    fails = {
        f.discriminator: f
        for f in outcome.result.findings
        if f.rule_id == "invalid-annotation" and f.status == "FAIL" and str(f.kubernetes) == "IngressClassParams p"
    }
    assert sorted(fails) == ["spec.group.name", "spec.inboundCIDRs", "spec.scheme"]
    assert "kubectl edit ingressclassparams p" in fails["spec.scheme"].remediation
    # the Ingress reads them as absent: the default scheme, and no problem of its own
    assert outcome.graph.groups["shop/web"].settings["shop/web"].scheme == "internal"
