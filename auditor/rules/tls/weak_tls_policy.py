"""weak-tls-policy: an HTTPS/TLS/SSL listener negotiates TLS 1.0/1.1 (or SSL 3.0) through an outdated security policy.

The AWS Load Balancer Controller's default policy, ``ELBSecurityPolicy-2016-08``, is one of them. A
Classic policy whose description states its protocols (``Protocol-TLSv1`` ... attributes) is rated by them,
whatever its name (a custom policy may be named like a predefined one); any other policy by its name, and a
name in neither list below (a policy newer than this table) is UNKNOWN.
"""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import lru_cache

from auditor.config import RuleSettings
from auditor.correlate.annotations import ALB, LBC_DEFAULT_SSL_POLICY, SVC
from auditor.correlate.graph import ExposureGraph, LbNode
from auditor.findings import Finding, Severity, Status
from auditor.inventory.facets import Facet
from auditor.inventory.models import Listener
from auditor.rules._gateway import gateway_of, listener_configuration_fix
from auditor.rules._helpers import describe_lb, lb_fields, owner_annotate, owner_evidence, sentence, tls_listeners
from auditor.rules.base import Rule, RuleMeta
from auditor.rules.coverage import guarded

RECOMMENDED = "ELBSecurityPolicy-TLS13-1-2-2021-06"
RECOMMENDED_CLASSIC = "ELBSecurityPolicy-TLS-1-2-2017-01"  # CLBs have no TLS 1.3 policy

# Predefined policies that accept TLS 1.2 or newer only.
ACCEPTABLE: tuple[str, ...] = (
    "ELBSecurityPolicy-TLS13-1-3-*",  # TLS 1.3 only (incl. -FIPS-, -PQ- variants)
    "ELBSecurityPolicy-TLS13-1-2-*",  # TLS 1.2 + 1.3: plain, -Res-, -Ext0/1/2-, -FIPS-, -PQ- variants
    "ELBSecurityPolicy-TLS-1-2-*",  # TLS-1-2-2017-01 (also CLB), TLS-1-2-Ext-2018-06
    "ELBSecurityPolicy-FS-1-2-*",  # FS-1-2-2019-08, FS-1-2-Res-2019-08, FS-1-2-Res-2020-10
)
# Predefined policies that still accept older protocols -> the oldest protocol they accept.
WEAK: dict[str, str] = {
    "ELBSecurityPolicy-TLS13-1-1-*": "TLS 1.1",
    "ELBSecurityPolicy-TLS13-1-0-*": "TLS 1.0",
    "ELBSecurityPolicy-TLS-1-1-*": "TLS 1.1",  # TLS-1-1-2017-01
    "ELBSecurityPolicy-TLS-1-0-*": "TLS 1.0",  # TLS-1-0-2015-04
    "ELBSecurityPolicy-FS-1-1-*": "TLS 1.1",  # FS-1-1-2019-08
    "ELBSecurityPolicy-FS-2018-06": "TLS 1.0",
    "ELBSecurityPolicy-2016-08": "TLS 1.0",  # the controller's and the API's default
    "ELBSecurityPolicy-2015-05": "TLS 1.0",
    "ELBSecurityPolicy-2015-03": "TLS 1.0",
    "ELBSecurityPolicy-2015-02": "TLS 1.0",
    "ELBSecurityPolicy-2014-10": "TLS 1.0",
    "ELBSecurityPolicy-2014-01": "SSL 3.0",
    "ELBSecurityPolicy-2011-08": "SSL 3.0",
    "ELBSample-*": "SSL 3.0",
}

META = RuleMeta(
    id="weak-tls-policy",
    title="TLS listener uses an outdated security policy",
    severity=Severity.MEDIUM,
    category="tls",
    rationale=(
        "TLS 1.0 and 1.1 are deprecated (RFC 8996) and come with weak CBC/SHA-1 cipher suites. The AWS Load "
        f"Balancer Controller creates HTTPS listeners with {LBC_DEFAULT_SSL_POLICY} unless told otherwise, so "
        "most ALBs made from Ingresses accept them."
    ),
    remediation=(
        f"Ingress: alb.ingress.kubernetes.io/ssl-policy: {RECOMMENDED} on every Ingress of the group (or sslPolicy "
        "in IngressClassParams). Service (NLB/CLB): service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-"
        f"policy: {RECOMMENDED} ({RECOMMENDED_CLASSIC} for a Classic Load Balancer). Gateway: sslPolicy of the "
        "listener's entry in spec.listenerConfigurations of its LoadBalancerConfiguration."
    ),
    references=(
        "AWS Security Hub ELB.17: Application and Network Load Balancers with listeners should use recommended "
        "security policies",
        "AWS Security Hub ELB.8: Classic Load Balancers with SSL listeners should use a predefined security "
        "policy that has strong AWS Configuration",
        "Prowler elbv2_insecure_ssl_ciphers, elb_insecure_ssl_ciphers",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-security-policy-table.html",
        "https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/ingress/annotations/#ssl-policy",
        "RFC 8996: Deprecating TLS 1.0 and TLS 1.1",
    ),
    inputs=(Facet.ELBV2_LOAD_BALANCERS, Facet.ELBV2_LISTENERS, Facet.ELB_LOAD_BALANCERS, Facet.ELB_POLICIES),
    enrich=(
        Facet.KUBE_INGRESSES,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESS_CLASS_PARAMS,
        Facet.KUBE_GATEWAYS,
        Facet.KUBE_LOAD_BALANCER_CONFIGURATIONS,
    ),
)


# A Classic policy's Protocol-* attributes, oldest first, as the rule names them.
PROTOCOLS: dict[str, str] = {"SSLv2": "SSL 2.0", "SSLv3": "SSL 3.0", "TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1"}
MODERN_PROTOCOLS = ("TLSv1.2", "TLSv1.3")


def classify_protocols(enabled: list[str]) -> tuple[bool | None, str | None]:
    """``classify`` for a Classic policy from the protocols it enables: what it states, whatever its name."""
    oldest = next((label for protocol, label in PROTOCOLS.items() if protocol in enabled), None)
    if oldest is not None:
        return False, oldest
    return (True, None) if any(p in enabled for p in MODERN_PROTOCOLS) else (None, None)


def rate(listener: Listener) -> tuple[bool | None, str | None]:
    """A listener's policy rated by the protocols it enables where they were read (Classic), else by its name."""
    if listener.ssl_protocols is not None:
        return classify_protocols(listener.ssl_protocols)
    return classify(listener.ssl_policy or "")


@lru_cache(maxsize=256)  # a fleet uses a handful of policies; fnmatch per listener was the cost
def classify(policy: str) -> tuple[bool | None, str | None]:
    """(acceptable?, oldest protocol accepted if weak); (None, None) for a policy this table does not know."""
    if any(fnmatchcase(policy, pattern) for pattern in ACCEPTABLE):
        return True, None
    for pattern, oldest in WEAK.items():
        if fnmatchcase(policy, pattern):
            return False, oldest
    return None, None


def _stated(listener: Listener) -> str:
    """Where the rating came from the policy's own attributes, the protocols they enable."""
    if listener.ssl_protocols is None:
        return ""
    return f"; its attributes enable {', '.join(listener.ssl_protocols) or 'no protocol'}"


def _remediation(node: LbNode, listener: Listener) -> str:
    lb = node.lb
    gwx = gateway_of(node)
    if gwx is not None:
        return listener_configuration_fix(gwx, listener.protocol, listener.port, f"sslPolicy: {RECOMMENDED}") + (
            f" Without it the controller uses {LBC_DEFAULT_SSL_POLICY}."
        )
    if lb.type == "application":
        commands = owner_annotate(node, {ALB + "ssl-policy": RECOMMENDED})
        if commands:
            return (
                "Set the policy on every Ingress of the group (they share the listener): "
                + " && ".join(commands)
                + f". Or set sslPolicy: {RECOMMENDED} in the IngressClassParams of their class."
            )
    recommended = RECOMMENDED_CLASSIC if lb.type == "classic" else RECOMMENDED
    commands = owner_annotate(node, {SVC + "aws-load-balancer-ssl-negotiation-policy": recommended})
    if commands and node.owner is not None and node.owner.kind == "Service":
        return f"Run {commands[0]}."
    if lb.type == "classic":
        return (
            f"Not managed by Kubernetes: aws elb create-load-balancer-policy --load-balancer-name {lb.name} "
            "--policy-name tls12 --policy-type-name SSLNegotiationPolicyType --policy-attributes "
            f"AttributeName=Reference-Security-Policy,AttributeValue={recommended} && aws elb "
            f"set-load-balancer-policies-of-listener --load-balancer-name {lb.name} --load-balancer-port "
            f"{listener.port} --policy-names tls12."
        )
    return (
        f"Not managed by Kubernetes: aws elbv2 modify-listener --listener-arn {listener.arn or '<listener ARN>'} "
        f"--ssl-policy {recommended}."
    )


def _annotated_policies(node: LbNode) -> dict[str, str]:
    """The ssl-policy each owning Kubernetes object asks for (annotation or IngressClassParams)."""
    owner = node.owner
    if owner is None:
        return {}
    if owner.gateway is not None:
        cfg = owner.gateway.configuration
        entries = cfg.spec.get("listenerConfigurations") if cfg is not None else None
        return (
            {
                f"{cfg.namespace}/{cfg.name} {e['protocolPort']}": str(e["sslPolicy"])
                for e in entries
                if isinstance(e, dict) and e.get("sslPolicy") and e.get("protocolPort")
            }
            if cfg is not None and isinstance(entries, list)
            else {}
        )
    if owner.group is not None:
        return {
            f"{m.namespace}/{m.name}": p
            for m in owner.group.members
            if (p := owner.group.settings_of(m).ssl_policy) is not None
        }
    if owner.service is not None and (
        p := owner.service.annotations.get(SVC + "aws-load-balancer-ssl-negotiation-policy")
    ):
        return {f"{owner.namespace}/{owner.name}": p}
    return {}


def evaluate(graph: ExposureGraph, settings: RuleSettings) -> Iterator[Finding]:
    def judge(node: LbNode) -> Iterator[Finding]:
        lb = node.lb
        fields = lb_fields(node)
        if lb.listeners is None:
            yield META.finding(
                Status.UNKNOWN,
                f"The listeners of {describe_lb(node)} were not collected, so their TLS policies are unknown.",
                evidence=owner_evidence(node),
                **fields,
            )
            return
        annotated = _annotated_policies(node)
        for listener in tls_listeners(lb):
            where = f"{listener.protocol} listener {listener.port} of {describe_lb(node)}"
            policy = listener.ssl_policy
            evidence = owner_evidence(
                node, port=listener.port, protocol=listener.protocol, ssl_policy=policy, requested_policies=annotated
            )
            if listener.ssl_protocols is not None:
                evidence["ssl_protocols"] = listener.ssl_protocols
            if policy is None:
                yield META.finding(
                    Status.UNKNOWN,
                    f"The security policy of the {where} was not collected.",
                    evidence=evidence,
                    discriminator=str(listener.port),
                    **fields,
                )
                continue
            acceptable, oldest = rate(listener)
            if acceptable is None:
                states = "enables no protocol it knows" if listener.ssl_protocols is not None else "custom or unknown"
                yield META.finding(
                    Status.UNKNOWN,
                    f"The {where} uses policy {policy}, which the auditor cannot rate ({states} policy).",
                    evidence=evidence,
                    discriminator=str(listener.port),
                    **fields,
                )
            elif acceptable:
                yield META.finding(
                    Status.PASS,
                    f"{sentence(where)} uses {policy} (TLS 1.2 or newer only{_stated(listener)}).",
                    evidence=evidence,
                    discriminator=str(listener.port),
                    **fields,
                )
            else:
                gateway = gateway_of(node) is not None
                # the controller's --default-ssl-policy serves Ingresses, Services (NLB TLS listeners) and Gateways
                default = node.controller == "lbc" and not annotated
                evidence.update(oldest_protocol=oldest, controller_default=default and policy == LBC_DEFAULT_SSL_POLICY)
                unset = (
                    "no sslPolicy in its LoadBalancerConfiguration"
                    if gateway
                    else "no ssl-policy annotation"
                    if lb.type == "application"
                    else "no ssl-negotiation-policy annotation"
                )
                suffix = f" (the controller's default, {unset})" if evidence["controller_default"] else ""
                yield META.finding(
                    Status.FAIL,
                    f"{sentence(where)} uses {policy}{suffix}, which still accepts {oldest}{_stated(listener)}.",
                    remediation=_remediation(node, listener),
                    evidence=evidence,
                    discriminator=str(listener.port),
                    **fields,
                )

    yield from guarded(META, graph, graph.in_scope(), judge, describe=lb_fields)


RULE = Rule(META, evaluate)
