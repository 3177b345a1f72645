"""The TLS/WAF/exposure/hygiene rules together: discovered by the registry, documented, stable over a busy snapshot."""

from auditor.config import RuleSettings
from auditor.correlate import correlate
from auditor.findings import Status
from auditor.rules.registry import all_rules, evaluate_all
from tests.support import builders as b

PACK = {
    "http-without-redirect": "tls",
    "certificate-expiring": "tls",
    "certificate-host-mismatch": "tls",
    "weak-tls-policy": "tls",
    "public-alb-without-waf": "waf",
    "public-sensitive-port": "exposure",
    "implicit-public-scheme": "exposure",
    "invalid-annotation": "hygiene",
    "ingress-not-provisioned": "hygiene",
    "lb-without-healthy-targets": "hygiene",
}


def test_rules_are_discovered_and_documented():
    metas = {r.meta.id: r.meta for r in all_rules()}
    for rule_id, category in PACK.items():
        meta = metas[rule_id]
        assert meta.category == category
        assert meta.references and meta.inputs and meta.rationale and meta.remediation


def _busy_snapshot():
    cert = b.certificate("shop", "*.example.com", days=10)
    alb = b.load_balancer(
        "k8s-shop",
        tags=b.ingress_tags("shop"),
        listeners=[
            b.listener(80, "HTTP", default=b.forward("tg")),
            b.listener(443, "HTTPS", certs=[cert.arn], ssl_policy="ELBSecurityPolicy-2016-08"),
        ],
    )
    tg = b.target_group("k8s-shop-tg", alb, tags={"ingress.k8s.aws/resource": "shop/web-web:80"})
    nlb = b.load_balancer(
        "k8s-db-pg", type="network", tags=b.service_tags("db/pg"), listeners=[b.listener(5432, "TCP")]
    )
    clb = b.load_balancer("a0123", type="classic", tags=b.intree_tags("legacy/app"), instances=[])
    clb.listeners = None
    group = {"alb.ingress.kubernetes.io/group.name": "shop"}
    return b.inventory(
        lbs=[alb, nlb, clb],
        target_groups=[tg],
        certificates=[cert],
        security_groups=[b.security_group("sg-k8s-shop", 80, 443)],
        ingresses=[
            b.ingress("shop", "web", lb=alb, annotations=group, hosts=("www.example.com", "example.com")),
            b.ingress("shop", "api", lb=alb, annotations={**group, "alb.ingress.kubernetes.io/scheme": "nope"}),
            b.ingress("blog", "site"),
        ],
        services=[
            b.service(
                "db",
                "pg",
                ports=(5432,),
                lb=nlb,
                annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "external"},
            ),
            b.service("legacy", "app", lb=clb),
            b.service("shop", "web", type="ClusterIP"),
        ],
        endpoint_slices=[b.endpoint_slice("shop", "web")],
        controllers=[b.controller()],
    )


def test_busy_snapshot_runs_clean_with_unique_fingerprints():
    graph = correlate(_busy_snapshot())
    findings = evaluate_all(graph, RuleSettings(), only=set(PACK))
    assert graph.rule_errors == []
    prints = [f.fingerprint for f in findings]
    assert len(prints) == len(set(prints))
    assert {f.rule_id for f in findings} == set(PACK)
    failed = {(f.rule_id, f.discriminator) for f in findings if f.status == Status.FAIL}
    assert {
        ("http-without-redirect", ""),
        ("certificate-expiring", b.arn("acm", "certificate/shop")),
        ("certificate-host-mismatch", "example.com"),
        ("weak-tls-policy", "443"),
        ("public-alb-without-waf", ""),
        ("public-sensitive-port", "5432"),
        ("implicit-public-scheme", ""),
        ("invalid-annotation", "alb.ingress.kubernetes.io/scheme"),
        ("ingress-not-provisioned", ""),
    } <= failed
    for f in findings:
        assert f.message.endswith(".") and f.message[0].isupper(), f.message
        if f.status == Status.FAIL:
            assert f.remediation, f.rule_id
