"""The finding lifecycle: what one run's observation of a fingerprint means, given where it stood before.

The one place that decides new / still open / reopened / not re-checked / resolved. The store
(``auditor.store.runs.record_result``) applies it to its finding rows; the reports' "what changed"
(``auditor.output.diff_results``) applies it to two results. Pure: no database, no I/O.

The rules, per fingerprint:

- FAIL opens a finding: new if it was never open, reopened if it had been resolved, still open if open.
- PASS resolves an open finding; on a finding that is not open it has nothing to report.
- UNKNOWN (the rule's inputs were not collected) neither opens nor resolves: an open finding stays open,
  marked not re-checked; a finding that was never open (or is resolved) stays as it was. So a finding
  that FAILed, then was UNKNOWN, then FAILs again was open all along: still open, not new.
- Absent from a complete run resolves an open finding (the resource or the problem is gone); absent from a
  partial run does not, its collector may have failed: the finding stays open, not re-checked. Nor does
  absence from a run whose rule selection (``AuditResult.rules``) left the finding's rule out: that rule
  did not look, so "complete" does not extend to it.

================  ==============  ==============  ==============  ==========================
before \\ seen     FAIL            PASS            UNKNOWN         absent (complete / partial)
================  ==============  ==============  ==============  ==========================
never open        new             nothing         nothing         nothing / nothing
open              still open      resolved        not re-checked  resolved / not re-checked
resolved          reopened        nothing         nothing         nothing / nothing
================  ==============  ==============  ==============  ==========================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from auditor.findings import AuditResult, Finding, Status


class Seen(StrEnum):
    """What one run said about a fingerprint."""

    FAIL = "FAIL"
    PASS = "PASS"
    UNKNOWN = "UNKNOWN"
    ABSENT = "ABSENT"  # the run reported nothing for it


class Standing(StrEnum):
    """Where a finding stands between runs."""

    NEVER_OPEN = "never open"  # never FAILed (an UNKNOWN or a PASS alone does not make a finding)
    OPEN = "open"
    RESOLVED = "resolved"


class Change(StrEnum):
    """What a run changed about a finding: the line it gets under "what changed"."""

    NEW = "new"
    REOPENED = "reopened"
    STILL_OPEN = "still open"
    NOT_RECHECKED = "not re-checked"  # open before; this run could not tell (UNKNOWN, or absent from a partial run)
    RESOLVED = "resolved"
    NOTHING = "nothing to report"

    @property
    def is_open(self) -> bool:
        """The finding is open after this change."""
        return self in _OPEN_AFTER

    def standing(self, before: Standing) -> Standing:
        """Where the finding stands after this change."""
        if self in _OPEN_AFTER:
            return Standing.OPEN
        if self == Change.RESOLVED:
            return Standing.RESOLVED
        return before


_OPEN_AFTER = frozenset({Change.NEW, Change.REOPENED, Change.STILL_OPEN, Change.NOT_RECHECKED})
_SEEN_OF_STATUS = {Status.FAIL: Seen.FAIL, Status.PASS: Seen.PASS, Status.UNKNOWN: Seen.UNKNOWN}


def decide(before: Standing, seen: Seen, *, complete: bool) -> Change:
    """The decision table of the module docstring; ``complete``: the run collected everything it should."""
    if seen == Seen.FAIL:
        if before == Standing.OPEN:
            return Change.STILL_OPEN
        return Change.REOPENED if before == Standing.RESOLVED else Change.NEW
    if before != Standing.OPEN:
        return Change.NOTHING  # UNKNOWN, PASS or silence never opens anything
    if seen == Seen.PASS or (seen == Seen.ABSENT and complete):
        return Change.RESOLVED
    return Change.NOT_RECHECKED  # UNKNOWN, or absent from a partial run


_STATUS_WEIGHT = {Status.FAIL: 2, Status.UNKNOWN: 1, Status.PASS: 0}


def observed(findings: Iterable[Finding]) -> dict[str, Finding]:
    """One finding per fingerprint; if a rule said two things about one, the worse one counts."""
    by_fp: dict[str, Finding] = {}
    for finding in findings:
        fp = finding.fingerprint
        seen = by_fp.get(fp)
        if seen is None or _STATUS_WEIGHT[finding.status] > _STATUS_WEIGHT[seen.status]:
            by_fp[fp] = finding
    return by_fp


@dataclass(frozen=True)
class Decision:
    """One fingerprint's change in a run, with what the run reported for it (None when absent)."""

    fingerprint: str
    change: Change
    finding: Finding | None


def decisions(
    before: Mapping[str, Standing], result: AuditResult, rule_of: Mapping[str, str] | None = None
) -> list[Decision]:
    """The change of every fingerprint the run reported or that stood somewhere before it (NOTHING included).

    ``before`` holds the fingerprints that were ever open; one missing from it was never open. ``rule_of``
    names the rule of each of them: when the run says which rules it ran (``rules``: every run does since opt-in
    rules exist), an absent fingerprint counts as checked only if its rule ran (one whose rule is not known is not
    re-checked). A rule this process does not know -- a newer replica's during a rolling update, or one a release
    removed -- is therefore never resolved by absence: a release that removes or renames a rule resolves its
    findings itself (a data migration), never a run.
    """
    now = observed(result.findings)
    complete = result.status == "complete"
    ran = None if result.rules is None else frozenset(result.rules)
    rule_of = rule_of or {}
    out = []
    for fp, finding in now.items():
        change = decide(before.get(fp, Standing.NEVER_OPEN), _SEEN_OF_STATUS[finding.status], complete=complete)
        out.append(Decision(fp, change, finding))
    for fp, standing in before.items():
        if fp not in now:
            looked = complete and (ran is None or rule_of.get(fp) in ran)
            out.append(Decision(fp, decide(standing, Seen.ABSENT, complete=looked), None))
    return out


@dataclass(frozen=True)
class Prior:
    """A fingerprint as it stood before a run, with the finding as last reported failing (None if never)."""

    standing: Standing
    finding: Finding | None


def rules_of(priors: Mapping[str, Prior]) -> dict[str, str]:
    """The rule of each prior that was ever reported failing (what ``decisions`` needs for selections)."""
    return {fp: p.finding.rule_id for fp, p in priors.items() if p.finding is not None}


def replay(results: Iterable[AuditResult]) -> dict[str, Prior]:
    """Where every fingerprint stands after these results, oldest first (finished runs of one target).

    The history a report needs when there is no store: ``replay([previous])`` treats the previous run
    as the first one.
    """
    priors: dict[str, Prior] = {}
    for result in results:
        for d in decisions({fp: p.standing for fp, p in priors.items()}, result, rules_of(priors)):
            prior = priors.get(d.fingerprint)
            standing = d.change.standing(prior.standing if prior else Standing.NEVER_OPEN)
            if standing == Standing.NEVER_OPEN:
                continue
            failing = d.finding if d.finding is not None and d.finding.status == Status.FAIL else None
            priors[d.fingerprint] = Prior(standing, failing or (prior.finding if prior else None))
    return priors


__all__ = ["Change", "Decision", "Prior", "Seen", "Standing", "decide", "decisions", "observed", "replay", "rules_of"]
