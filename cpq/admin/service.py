"""Rule administration use cases: publish, roll back, preview a candidate set — one transaction each.

Publishing checks the files (every loader error, the static-analysis errors and the rule test cases)
before anything is written; then the version's files and its activation are stored in one
transaction, so a rejected set changes nothing and an accepted one is active for every process at
its `effective_at`. Each activation row carries the diff summary against the version it replaces.

A publication or rollback "now" is recorded up to `wait_seconds` ahead; every serving process
compiles it meanwhile (cpq/rulesets.py) and `activate_when_ready` brings it forward to the moment
all live processes report it compiled, so none of them spends the first second after the
switch compiling. A process that is not ready by then compiles it when it finds it active.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from cpq.admin.analysis import analyse
from cpq.admin.diff import RulesetDiff, diff_rulesets
from cpq.admin.files import RuleFiles
from cpq.admin.impact import ImpactReport, QuoteImpact, reprice
from cpq.admin.ruletests import TestReport, run_rule_tests
from cpq.errors import CPQError, InvalidInput, RulesetInvalid
from cpq.quotes import lifecycle
from cpq.ruleset.model import Ruleset
from cpq.store import people
from cpq.store import quotes as quote_repo
from cpq.store import rulesets as repo
from cpq.store.tables import quotes as quotes_table

RulesetOf = Callable[[str], Ruleset]  # a stored version → its Ruleset (compiled once per process)
WAIT_SECONDS = 15.0  # a publication "now" waits at most this long for the processes to compile it
LIVE_SECONDS = 10.0  # a process that has not reported for this long is not waited for


class PublicationRejected(CPQError):
    """The candidate files have errors or failing rule tests; nothing was stored or activated."""

    code = "ruleset_rejected"
    status = 422
    title = "The rule set was not published"


@dataclass(frozen=True)
class Publication:
    activation: repo.Activation
    ruleset: Ruleset
    diff: RulesetDiff
    tests: TestReport
    stored: bool  # False when the same files were published before
    pending: bool = False  # "now": recorded ahead, to be brought forward by activate_when_ready
    processes: dict = field(default_factory=dict)  # who was ready when it was activated
    # publications scheduled to take effect after this one, which it does not cancel: each will still
    # take effect at its time and replace this version (what a rollback's caller most needs to know)
    still_scheduled: tuple[repo.Activation, ...] = ()

    def as_dict(self) -> dict:
        return {**self.activation.as_dict(), "diff": self.diff.as_dict(), "tests": self.tests.as_dict(),
                "newly_stored": self.stored, "summary_line": self.ruleset.summary_line(),
                "processes": self.processes, "still_scheduled": [a.as_dict() for a in self.still_scheduled]}


def check_candidate(files: RuleFiles, today: date, *, refuse_failing_tests: bool = True) -> tuple[Ruleset, TestReport]:
    """Load the candidate and run its rule tests; PublicationRejected with every problem otherwise.

    A preview passes `refuse_failing_tests=False`: it shows the failing cases beside the impact.
    """
    try:
        ruleset = files.load()
    except RulesetInvalid as exc:
        raise PublicationRejected(f"{len(exc.errors)} error(s) in the rule files; the active version is unchanged",
                                  errors=[e.as_dict() for e in exc.errors], tests=None) from None
    findings = [f for f in analyse(ruleset) if f.severity == "error"]
    if findings:
        raise PublicationRejected(f"{len(findings)} static-analysis error(s); the active version is unchanged",
                                  errors=[f.as_dict() for f in findings], tests=None)
    report = run_rule_tests(ruleset, files.tests, today)
    if not report.ok and refuse_failing_tests:
        raise PublicationRejected(f"{len(report.failed)} rule test case(s) failed; the active version is unchanged",
                                  errors=[], tests=report.as_dict())
    return ruleset, report


def active_ruleset(conn: sa.Connection, now: datetime, ruleset_of: RulesetOf) -> Ruleset | None:
    """The Ruleset in force now according to the database (None before the first publication)."""
    version = repo.active_version(conn, now)
    return None if version is None else ruleset_of(version)


def publish(conn: sa.Connection, files: RuleFiles, *, actor: str, user_id: int | None, now: datetime,
            ruleset_of: RulesetOf, current: Ruleset | None = None, effective_at: datetime | None = None,
            note: str | None = None, wait_seconds: float = WAIT_SECONDS) -> Publication:
    """Check, store and activate `files` (from `effective_at`; default now, see `activate_when_ready`).

    `current` is what the caller answers from before any publication (the files on disk), so the
    first publication's diff is against it.
    """
    if effective_at is not None and effective_at.tzinfo is None:
        raise InvalidInput("effective_at needs a time zone (e.g. 2026-12-01T18:00:00Z)",
                           errors={"effective_at": ["give a time zone"]})
    ruleset, report = check_candidate(files, now.date())
    previous = active_ruleset(conn, now, ruleset_of) or current
    diff = diff_rulesets(previous, ruleset)
    stored = repo.save_version(conn, files, ruleset, now)
    activation = repo.record_activation(
        conn, version=ruleset.version, action="publish", effective_at=effective_at or now + timedelta(seconds=wait_seconds),
        actor=actor, user_id=user_id, previous_version=previous.version if previous else None,
        summary=diff.summary(), note=note, now=now)
    return Publication(activation, ruleset, diff, report, stored, pending=effective_at is None,
                       still_scheduled=_scheduled_after(conn, activation, effective_at or now))


def rollback(conn: sa.Connection, version: str, *, actor: str, user_id: int | None, now: datetime,
             ruleset_of: RulesetOf, current: Ruleset | None = None, note: str | None = None,
             wait_seconds: float = WAIT_SECONDS) -> Publication:
    """Make an earlier stored version active again, now (its files are loaded to prove they still load)."""
    full = repo.resolve(conn, version)
    target = ruleset_of(full)
    previous = active_ruleset(conn, now, ruleset_of) or current
    diff = diff_rulesets(previous, target)
    activation = repo.record_activation(
        conn, version=full, action="rollback", effective_at=now + timedelta(seconds=wait_seconds), actor=actor,
        user_id=user_id, previous_version=previous.version if previous else None, summary=diff.summary(),
        note=note, now=now)
    return Publication(activation, target, diff, TestReport(), False, pending=True,
                       still_scheduled=_scheduled_after(conn, activation, now))


def _scheduled_after(conn: sa.Connection, activation: repo.Activation, since: datetime) -> tuple[repo.Activation, ...]:
    """The other activations that take effect after `since` (for one "now": now; else its own time)."""
    later = repo.upcoming(conn, since, datetime.max.replace(tzinfo=UTC))
    return tuple(a for a in later if a.id != activation.id)


def live_processes(conn: sa.Connection, now: datetime) -> list[repo.Process]:
    """The serving processes that reported in the last LIVE_SECONDS: the ones a publication waits for."""
    return repo.live_processes(conn, now - timedelta(seconds=LIVE_SECONDS))


def activate_when_ready(engine: sa.Engine, done: Publication, *, poll_seconds: float = 0.05) -> Publication:
    """Bring a publication "now" forward to the moment every live process holds its version compiled.

    Called after the publication's transaction committed (the processes see it as upcoming and
    compile it). Returns at once for a publication with its own effective_at; waits at most until
    the recorded effective_at otherwise, which is when the version takes effect anyway.
    """
    if not done.pending:
        return done
    version, started = done.activation.version, time.monotonic()
    while True:
        now = datetime.now(UTC)
        with engine.connect() as conn:
            live = live_processes(conn, now)
        waiting = [p.process for p in live if version not in p.compiled]
        if not waiting or now >= done.activation.effective_at:
            break
        time.sleep(poll_seconds)
    with engine.begin() as conn:
        activation = repo.advance(conn, done.activation.id, datetime.now(UTC))
        repo.forget_processes_seen_before(conn, now - timedelta(days=1))
    processes = {"live": len(live), "ready": len(live) - len(waiting), "not_ready": waiting,
                 "waited_seconds": round(time.monotonic() - started, 3)}
    return replace(done, activation=activation, pending=False, processes=processes)


def preview(conn: sa.Connection, files: RuleFiles, *, against: Ruleset, today: date,
            progress: Callable[[int], None] | None = None) -> dict:
    """What publishing `files` would change: the semantic diff, the test cases, and every open quote re-priced."""
    candidate, report = check_candidate(files, today, refuse_failing_tests=False)
    diff = diff_rulesets(against, candidate)
    effect = open_quotes_impact(conn, against, candidate, today, progress=progress)
    return {"candidate_version": candidate.version, "against_version": against.version,
            "diff": diff.as_dict(), "tests": report.as_dict(), "quotes": effect.as_dict()}


def open_quotes(conn: sa.Connection, today: date) -> list[str]:
    """Numbers of the quotes a rule change can still affect: not final, not expired."""
    rows = conn.execute(sa.select(quotes_table.c.number, quotes_table.c.state, quotes_table.c.valid_until)
                        .where(quotes_table.c.state.not_in(sorted(lifecycle.FINAL)))
                        .order_by(quotes_table.c.id)).all()
    return [r.number for r in rows if lifecycle.effective_state(r.state, r.valid_until, today) not in lifecycle.FINAL
            and lifecycle.effective_state(r.state, r.valid_until, today) != lifecycle.EXPIRED]


def open_quotes_impact(conn: sa.Connection, against: Ruleset, candidate: Ruleset, today: date, *,
                       progress: Callable[[int], None] | None = None) -> ImpactReport:
    """Every open quote's current revision re-validated and re-priced under both sets, today."""
    from cpq.services.quotes import _pricing_role, _terms

    accounts = people.all_accounts(conn)
    owners: dict[int, str] = {}
    report = ImpactReport()
    for number in open_quotes(conn, today):
        quote = quote_repo.get_quote(conn, number)
        revision = quote_repo.get_revision(conn, quote.id, quote.current_revision)
        if quote.owner_id not in owners:
            owners[quote.owner_id] = _pricing_role(people.get_user(conn, quote.owner_id))
        args = (_terms(quote), revision.request, accounts[quote.account_id], owners[quote.owner_id], today)
        report.quotes.append(QuoteImpact.of(number, quote.current_revision, quote.state, quote.currency,
                                            revision.grand_total, reprice(against, *args), reprice(candidate, *args)))
        if progress is not None:
            progress(1)
    return report
