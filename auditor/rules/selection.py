"""Which rules an audit runs (``--rules`` / ``--skip-rules``, a target's ``rules`` / ``skip_rules``) and
which facets their collection must read: collection is driven by what the selected rules declare.

A name is a rule id, a category (``RuleMeta.category``) or ``all``. With no selection every rule runs but
the opt-in ones (``RuleMeta.opt_in``: their facets cost calls a full audit does not make), and every facet
is read but theirs. An opt-in rule runs when named: its id, its category, or ``all`` (every rule). With a
selection, collectors read only the facets the selected rules declare (``inputs`` and ``enrich``), those
correlation needs to tie load balancers to their owners, and those other collectors need to know what to
read; a facet nobody needs is not read (coverage SKIPPED) and no rule resting on it runs, so none reports
UNKNOWN for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from auditor.config import TargetConfig
from auditor.errors import ConfigError
from auditor.inventory.facets import Facet, ListenerRulesNeed
from auditor.inventory.models import Listener, LoadBalancer
from auditor.rules.base import RuleMeta
from auditor.rules.registry import catalog

# What correlation (auditor.correlate.build) reads whatever the rules: the load balancers with their tags,
# the target groups (which Service a target group serves), the clusters that exist (an owner's cluster
# gone), the target cluster, and the Kubernetes objects that ask for load balancers. Listed generously:
# a facet wrongly left out would silently change ownership, one wrongly kept only costs calls.
CORRELATION: frozenset[Facet] = frozenset(
    {
        Facet.ELBV2_LOAD_BALANCERS,
        Facet.ELBV2_TAGS,
        Facet.ELBV2_TARGET_GROUPS,
        Facet.ELB_LOAD_BALANCERS,
        Facet.ELB_TAGS,
        Facet.EKS_CLUSTERS,
        Facet.EKS_CLUSTER,
        Facet.KUBE_SERVICES,
        Facet.KUBE_INGRESSES,
        Facet.KUBE_INGRESS_CLASSES,
        Facet.KUBE_TARGET_GROUP_BINDINGS,
        Facet.KUBE_ENDPOINT_SLICES,
        Facet.KUBE_DEPLOYMENTS,
        Facet.KUBE_SERVICE_ACCOUNTS,
    }
)

# Facets a collector reads only to find what to read for another facet: wanting the key means the values.
_PREREQUISITES: dict[Facet, frozenset[Facet]] = {
    # rules and SNI certificates are read per listener
    Facet.ELBV2_LISTENER_RULES: frozenset({Facet.ELBV2_LISTENERS}),
    Facet.ELBV2_LISTENER_CERTIFICATES: frozenset({Facet.ELBV2_LISTENERS}),
    Facet.ELBV2_TARGET_HEALTH: frozenset({Facet.ELBV2_TARGET_GROUPS}),
    # ACM reads the certificates the listeners serve
    Facet.ACM_CERTIFICATES: frozenset({Facet.ELBV2_LISTENERS, Facet.ELBV2_LISTENER_CERTIFICATES}),
    Facet.ACM_CERTIFICATE_DETAILS: frozenset({Facet.ELBV2_LISTENERS, Facet.ELBV2_LISTENER_CERTIFICATES}),
    # IAM reads the controller's roles: from the cluster's issuer, its Pod Identity and service accounts
    Facet.IAM_OIDC_PROVIDERS: frozenset({Facet.EKS_CLUSTER}),
    Facet.IAM_ROLES: frozenset({Facet.EKS_CLUSTER, Facet.EKS_POD_IDENTITY}),
    Facet.IAM_POLICIES: frozenset({Facet.EKS_CLUSTER, Facet.EKS_POD_IDENTITY}),
}


# The name that selects every rule, the opt-in ones too.
ALL = "all"


@dataclass(frozen=True)
class RuleSelection:
    """The rules to run and the facets to read; ``None`` for either means all of them."""

    rule_ids: frozenset[str] | None = None
    facets: frozenset[Facet] | None = None
    # the listeners whose rules (elbv2.listener-rules) the selected rules read; None: every listener's
    listener_rules: ListenerRulesNeed | None = None
    # the selection as given, names sorted (``rules=all``, ``rules=tls,waf;skip=weak-tls-policy``); None: the default
    # audit. It names the selection whatever the catalogue holds (a release adding a rule does not change it).
    names: str | None = None

    def wants(self, facet: Facet) -> bool:
        return self.facets is None or facet in self.facets


def split_names(values: Iterable[str] | None) -> list[str] | None:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]`` (flags are comma lists and repeatable); None stays None."""
    if values is None:
        return None
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def check_names(names: Iterable[str]) -> None:
    """ConfigError naming the valid ids and categories when a name is neither."""
    metas = catalog()
    known = {m.id for m in metas} | {m.category for m in metas} | {ALL}
    unknown = sorted(set(names) - known)
    if unknown:
        # categories first: they are few, and the error line is cut at 500 characters as the rule list grows
        categories = ", ".join(sorted({m.category for m in metas}))
        raise ConfigError(
            f"unknown rule or category {', '.join(unknown)}; '{ALL}' selects every rule; categories: {categories}"
            f"; rule ids: {', '.join(sorted(m.id for m in metas))}"
        )


def _matching(names: Iterable[str], metas: list[RuleMeta]) -> set[str]:
    wanted = set(names)
    return {m.id for m in metas if ALL in wanted or m.id in wanted or m.category in wanted}


def default_rules(metas: Iterable[RuleMeta]) -> list[RuleMeta]:
    """The rules an audit runs when none are named: every one but the opt-in ones."""
    return [m for m in metas if not m.opt_in]


def needed_facets(metas: Iterable[RuleMeta]) -> frozenset[Facet]:
    """What collecting for these rules reads: their inputs and enrich, correlation's, and prerequisites."""
    facets = set(CORRELATION)
    for meta in metas:
        facets.update(meta.inputs)
        facets.update(meta.enrich)
        facets.update(meta.partial_inputs)
    for facet in list(facets):
        facets.update(_PREREQUISITES.get(facet, ()))
    return frozenset(facets)


def listener_rules_need(metas: Iterable[RuleMeta]) -> ListenerRulesNeed | None:
    """The listeners whose rules these rules read (``RuleMeta.listener_rules_of``, any of them); None when one
    reads every listener's rules."""
    needs: list[ListenerRulesNeed] = []
    for meta in metas:
        if Facet.ELBV2_LISTENER_RULES in meta.inputs or Facet.ELBV2_LISTENER_RULES in meta.enrich:
            if meta.listener_rules_of is None:
                return None
            needs.append(meta.listener_rules_of)

    def need(lb: LoadBalancer, listener: Listener, has_target_groups: bool | None) -> bool:
        return any(n(lb, listener, has_target_groups) for n in needs)

    return need


def _everything() -> RuleSelection:
    """No selection: every rule but the opt-in ones, every facet but those only opt-in rules read."""
    metas = catalog()
    defaults = default_rules(metas)
    opt_in_only = needed_facets([m for m in metas if m.opt_in]) - needed_facets(defaults)
    return RuleSelection(
        rule_ids=frozenset(m.id for m in defaults),
        facets=frozenset(Facet) - opt_in_only,
        listener_rules=listener_rules_need(defaults),
    )


EVERYTHING = _everything()


def select(rules: Iterable[str] | None = None, skip_rules: Iterable[str] | None = None) -> RuleSelection:
    """The selection of ``rules`` (None: every rule) minus ``skip_rules``; ConfigError on an unknown name or
    on a selection that leaves no rule."""
    chosen = split_names(rules)
    skipped = split_names(skip_rules) or []
    if chosen is None and not skipped:
        return EVERYTHING
    check_names([*(chosen or []), *skipped])
    metas = catalog()
    names = ";".join(
        part
        for part in (
            f"rules={','.join(sorted(set(chosen)))}" if chosen is not None else "",
            f"skip={','.join(sorted(set(skipped)))}" if skipped else "",
        )
        if part
    )
    if chosen is not None and ALL in chosen and not skipped:
        # every rule: every facet, those no rule declares too (the billed costs), as the default audit reads them
        return RuleSelection(
            rule_ids=frozenset(m.id for m in metas), listener_rules=listener_rules_need(metas), names=names
        )
    ids = {m.id for m in default_rules(metas)} if chosen is None else _matching(chosen, metas)
    ids -= _matching(skipped, metas)
    if not ids:
        raise ConfigError("the rule selection leaves no rule to run (--rules / --skip-rules)")
    selected = [m for m in metas if m.id in ids]
    return RuleSelection(
        rule_ids=frozenset(ids),
        facets=needed_facets(selected),
        listener_rules=listener_rules_need(selected),
        names=names,
    )


@dataclass(frozen=True)
class Narrowing:
    """A run's own choice of rules on top of its target's (``--rules`` / ``--skip-rules``, a run triggered
    through the API): ``rules`` replace the target's ``rules``, ``skip_rules`` add to its ``skip_rules``."""

    rules: Sequence[str] | None = None
    skip_rules: Sequence[str] | None = None

    def apply(self, target: TargetConfig) -> TargetConfig:
        """The narrowed target (unchanged when both are empty); ConfigError when a name is unknown or
        nothing is left to run."""
        chosen = split_names(self.rules or None)
        skip = split_names(self.skip_rules or None) or []
        if chosen is None and not skip:
            return target
        merged = target.model_copy(
            update={
                "rules": chosen if chosen is not None else target.rules,
                "skip_rules": [*(target.skip_rules or []), *skip],
            }
        )
        select(merged.rules, merged.skip_rules)  # validated before any collection
        return merged


NO_NARROWING = Narrowing()
