"""The finding lifecycle's decision table, and replaying results through it."""

from __future__ import annotations

import pytest

from auditor.findings import Status
from auditor.lifecycle import Change, Seen, Standing, decide, decisions, observed, replay
from tests.store.results import finding, result

NEVER, OPEN, RESOLVED = Standing.NEVER_OPEN, Standing.OPEN, Standing.RESOLVED

TABLE = [
    # before, seen, complete run?, change, standing after
    (NEVER, Seen.FAIL, True, Change.NEW, OPEN),
    (NEVER, Seen.FAIL, False, Change.NEW, OPEN),
    (NEVER, Seen.PASS, True, Change.NOTHING, NEVER),
    (NEVER, Seen.UNKNOWN, True, Change.NOTHING, NEVER),  # UNKNOWN first is not a finding
    (NEVER, Seen.ABSENT, True, Change.NOTHING, NEVER),
    (OPEN, Seen.FAIL, True, Change.STILL_OPEN, OPEN),
    (OPEN, Seen.FAIL, False, Change.STILL_OPEN, OPEN),
    (OPEN, Seen.PASS, True, Change.RESOLVED, RESOLVED),
    (OPEN, Seen.PASS, False, Change.RESOLVED, RESOLVED),  # a PASS is a check, even in a partial run
    (OPEN, Seen.UNKNOWN, True, Change.NOT_RECHECKED, OPEN),  # UNKNOWN never resolves
    (OPEN, Seen.UNKNOWN, False, Change.NOT_RECHECKED, OPEN),
    (OPEN, Seen.ABSENT, True, Change.RESOLVED, RESOLVED),
    (OPEN, Seen.ABSENT, False, Change.NOT_RECHECKED, OPEN),  # its collector may have failed
    (RESOLVED, Seen.FAIL, True, Change.REOPENED, OPEN),
    (RESOLVED, Seen.PASS, True, Change.NOTHING, RESOLVED),
    (RESOLVED, Seen.UNKNOWN, True, Change.NOTHING, RESOLVED),  # UNKNOWN never reopens
    (RESOLVED, Seen.ABSENT, False, Change.NOTHING, RESOLVED),
]


@pytest.mark.parametrize(("before", "seen", "complete", "change", "after"), TABLE)
def test_decision_table(before: Standing, seen: Seen, complete: bool, change: Change, after: Standing) -> None:
    got = decide(before, seen, complete=complete)
    assert got == change
    assert got.standing(before) == after
    assert got.is_open == (after == OPEN and change != Change.NOTHING)


def test_every_case_is_in_the_table() -> None:
    covered = {(b, s) for b, s, *_ in TABLE}
    assert covered == {(b, s) for b in Standing for s in Seen}


def test_the_worse_status_of_one_fingerprint_counts() -> None:
    fail, unknown, ok = (finding("r", status=s) for s in (Status.FAIL, Status.UNKNOWN, Status.PASS))
    assert observed([ok, fail, unknown])[fail.fingerprint].status == Status.FAIL
    assert observed([ok, unknown])[fail.fingerprint].status == Status.UNKNOWN


def test_decisions_cover_what_was_reported_and_what_stood_before() -> None:
    a, b, c = finding("rule-a"), finding("rule-b"), finding("rule-c", status=Status.UNKNOWN)
    got = {
        d.fingerprint: d.change
        for d in decisions({a.fingerprint: OPEN, b.fingerprint: OPEN}, result([a, c], status="partial"))
    }
    assert got == {a.fingerprint: Change.STILL_OPEN, b.fingerprint: Change.NOT_RECHECKED, c.fingerprint: Change.NOTHING}


def _states(*statuses: Status | None, partial: tuple[int, ...] = ()) -> list[Standing]:
    """A finding's standing after each run; None: not reported by that run."""
    out = []
    for n in range(1, len(statuses) + 1):
        runs = [
            result(
                [] if s is None else [finding("rule-a", status=s)],
                n=i,
                status="partial" if i in partial else "complete",
            )
            for i, s in enumerate(statuses[:n])
        ]
        prior = replay(runs).get(finding("rule-a").fingerprint)
        out.append(prior.standing if prior else NEVER)
    return out


def test_replay_follows_the_table_over_sequences() -> None:
    F, P, U = Status.FAIL, Status.PASS, Status.UNKNOWN
    assert _states(F, U, F) == [OPEN, OPEN, OPEN]
    assert _states(F, P, F) == [OPEN, RESOLVED, OPEN]
    assert _states(U, F) == [NEVER, OPEN]
    assert _states(U, P) == [NEVER, NEVER]
    assert _states(F, None, None, partial=(1,)) == [OPEN, OPEN, RESOLVED]


def test_replay_keeps_the_finding_as_last_reported_failing() -> None:
    fail = finding("rule-a")
    unknown = finding("rule-a", status=Status.UNKNOWN)
    prior = replay([result([fail], n=0), result([unknown], n=1)])[fail.fingerprint]
    assert prior.standing == OPEN and prior.finding is not None and prior.finding.status == Status.FAIL


def test_absent_from_a_run_that_did_not_select_its_rule_is_not_rechecked() -> None:
    a, b = finding("rule-a"), finding("rule-b")
    before = {a.fingerprint: OPEN, b.fingerprint: OPEN}
    rule_of = {a.fingerprint: "rule-a", b.fingerprint: "rule-b"}
    narrowed = result([], status="complete").model_copy(update={"rules": ["rule-b"]})
    got = {d.fingerprint: d.change for d in decisions(before, narrowed, rule_of)}
    assert got == {a.fingerprint: Change.NOT_RECHECKED, b.fingerprint: Change.RESOLVED}
    # a fingerprint whose rule is not known cannot be said to have been looked at
    assert {d.change for d in decisions(before, narrowed)} == {Change.NOT_RECHECKED}
    # without a selection, absence from a complete run resolves
    assert {d.change for d in decisions(before, result([], status="complete"), rule_of)} == {Change.RESOLVED}
    # replay (the reports' history without a store) takes the rules from the findings themselves
    assert replay([result([a, b], n=0), narrowed])[a.fingerprint].standing == OPEN


def test_a_rule_the_run_did_not_run_or_does_not_know_is_never_resolved_by_absence() -> None:
    """A default run names the rules it ran: an opt-in rule's finding, and one of a rule this process does not know
    (a newer replica's in a rolling update), stay open, not re-checked -- never resolved without being looked at."""
    opt_in, newer, kept = finding("opt-in-rule"), finding("rule-of-a-newer-release"), finding("rule-a")
    before = {f.fingerprint: OPEN for f in (opt_in, newer, kept)}
    rule_of = {f.fingerprint: f.rule_id for f in (opt_in, newer, kept)}
    default = result([], status="complete").model_copy(update={"rules": ["rule-a"]})
    got = {d.fingerprint: d.change for d in decisions(before, default, rule_of)}
    assert got == {
        opt_in.fingerprint: Change.NOT_RECHECKED,
        newer.fingerprint: Change.NOT_RECHECKED,
        kept.fingerprint: Change.RESOLVED,
    }
