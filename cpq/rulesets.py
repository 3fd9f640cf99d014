"""The live Ruleset of this process: the version the database says is active, else the files on disk.

Before the first publication the process answers from CPQ_RULES_DIR + CPQ_PRICEBOOKS_DIR (and
stores those files as a version, so quotes priced with them can be re-priced later). After it, the
active version is the one recorded in `ruleset_activations`; each process checks it with one small
`select` every POLL_SECONDS — from a watcher thread in a serving process (so an idle one keeps
up too, and no request waits for the query), else on the request that finds the check due. Versions that become active within PREFETCH_SECONDS are
compiled in a background thread ahead of time, so a process switches without compiling.

Each process reports itself in `ruleset_processes` (the version it serves, the versions it holds
compiled; a heartbeat every HEARTBEAT_SECONDS). A publication "now" is recorded a little ahead
(`cpq.admin.service.publish`), every live process compiles it meanwhile, and the publisher brings
it forward to the moment all of them report it compiled: from then on each process switches within
one poll. A version found active but not compiled (a process that was not ready) is compiled by the
check that finds it (other threads answer from the old version meanwhile), so a process never
answers from the old version once it has seen the new one.

Every request is bound to one Ruleset when it starts (flask.g) and finishes on it, and every
response says which version answered it in `X-CPQ-Ruleset-Version`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, current_app, g

from cpq.admin.files import RuleFiles, from_folders
from cpq.errors import CPQError, RulesetInvalid, RulesetUnavailable
from cpq.ruleset.model import Ruleset

log = logging.getLogger(__name__)
_KEY = "cpq.ruleset"
VERSION_HEADER = "X-CPQ-Ruleset-Version"
POLL_SECONDS = 0.5
PREFETCH_SECONDS = 60.0
COMPILED_KEPT = 4
HEARTBEAT_SECONDS = 2.0


class LiveRuleset:
    """The active Ruleset of this process (or why there is none); a bad set never replaces a good one."""

    def __init__(self, paths: list[str], engine: Callable[[], sa.Engine] | None = None,
                 poll_seconds: float = POLL_SECONDS, watch: bool = False):
        self.paths = paths
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.ruleset: Ruleset | None = None
        self.errors: RulesetInvalid | None = None
        self.source = "files"  # or "database": where the active version came from
        self.files: RuleFiles | None = None  # the files of the files-mode ruleset
        self._files_stored = False
        self._compiled: OrderedDict[str, Ruleset] = OrderedDict()
        self._failed: dict[str, str] = {}  # stored versions this code cannot load: not retried every poll
        self._loading: set[str] = set()  # versions a background thread compiles
        self._compiling: dict[str, threading.Lock] = {}  # held while a version compiles
        self._wanted: str | None = None  # the version the database says is active now
        self._checked_at = float("-inf")
        self._check_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.process = _process_name()
        self._started_at = datetime.now(UTC)
        self._reported: tuple | None = None  # what this process last wrote in ruleset_processes
        self._reported_at = float("-inf")
        self._report_lock = threading.Lock()
        self.watching = watch
        if watch:
            self._start_watcher()
            atexit.register(self.forget)

    # ------------------------------------------------------------------ files on disk
    def reload(self) -> Ruleset:
        """Load the files under `paths` (files mode); raise and keep the current set when they are bad."""
        try:
            files = from_folders(self.paths)
            ruleset = files.load()
        except (RulesetInvalid, FileNotFoundError) as exc:
            self.errors = exc if isinstance(exc, RulesetInvalid) else None
            log.error("rule files not loaded, keeping version %s: %s",
                      self.ruleset.short_version if self.ruleset else None, exc)
            raise
        with self._lock:
            self.ruleset, self.errors, self.files, self._files_stored = ruleset, None, files, False
            self._remember(ruleset)
        log.info("ruleset %s loaded from files: %s", ruleset.short_version, ruleset.summary_line())
        return ruleset

    # ------------------------------------------------------------------ the database's active version
    def install(self, ruleset: Ruleset) -> None:
        """A version this process compiled itself (it just published it): no need to compile it again."""
        with self._lock:
            self._remember(ruleset)
        self._checked_at = float("-inf")  # look at the database on the next request
        self.report()  # the publisher waits for every process to hold the new version: this one does

    def current(self) -> Ruleset | None:
        """The Ruleset a request starting now is answered from.

        A watching process leaves the database to its watcher thread (no query on a request's
        path); otherwise the request that finds the check due makes it.
        """
        if os.getpid() != self._pid:  # forked after start: no threads, no locks held in this process
            self._pid, self._loading, self._compiling = os.getpid(), set(), {}
            self._check_lock, self._lock, self._report_lock = threading.Lock(), threading.Lock(), threading.Lock()
            self.process, self._reported, self._reported_at = _process_name(), None, float("-inf")
            if self.watching:
                self._start_watcher()
        if not self.watching:
            self._check_when_due()
        return self.ruleset

    def _check_when_due(self) -> None:
        due = self.engine is not None and time.monotonic() - self._checked_at >= self.poll_seconds
        if due and self._check_lock.acquire(blocking=False):  # another thread is checking: use what is there
            try:
                self._checked_at = time.monotonic()
                self.check()
            finally:
                self._check_lock.release()

    def check(self) -> None:
        """Compare with the database; switch, or start compiling the active and upcoming versions."""
        now = datetime.now(UTC)
        try:
            engine = self.engine()
            with engine.connect() as conn:
                from cpq.store import rulesets as repo

                version = repo.active_version(conn, now)
                soon = repo.upcoming_versions(conn, now, now + timedelta(seconds=PREFETCH_SECONDS))
        except sa.exc.SQLAlchemyError as exc:  # no tables yet (not migrated) or the database is away
            log.debug("active ruleset version not checked: %s", exc)
            return
        self._wanted = version
        if version is None:
            self._store_files_version()
        elif self.ruleset is None or self.ruleset.version != version or self.source != "database":
            with self._lock:
                ready = self._compiled.get(version)
            if ready is not None:
                self._switch(ready)
            else:
                # Not compiled ahead (this process was not ready when it took effect): this check
                # compiles it, or waits for the background thread that is at it, rather than answer
                # from a version no longer active.
                self._compile(version)
        for upcoming in soon:
            if upcoming not in self._compiled:
                self._compile_in_background(upcoming)
        self.report()

    # ------------------------------------------------------------------ what this process holds
    def report(self) -> None:
        """Write this process's row when what it holds changed, or as a heartbeat when one is due."""
        if self.engine is None:
            return
        with self._report_lock:
            with self._lock:
                state = (self.ruleset.version if self.ruleset else None, tuple(self._compiled))
            if state == self._reported and time.monotonic() - self._reported_at < HEARTBEAT_SECONDS:
                return
            from cpq.store import rulesets as repo

            try:
                with self.engine().begin() as conn:
                    repo.report_process(conn, self.process, serving=state[0], compiled=list(state[1]),
                                        started_at=self._started_at, now=datetime.now(UTC))
            except sa.exc.SQLAlchemyError as exc:  # not migrated yet, or the database is away
                log.debug("process %s not reported: %s", self.process, exc)
                return
            self._reported, self._reported_at = state, time.monotonic()

    def stop(self) -> None:
        """Stop watching and leave ruleset_processes (an app shut down inside a living process)."""
        self.watching = False
        self.forget()

    def forget(self) -> None:
        """At exit: take this process out of ruleset_processes, so no publication waits for it."""
        if self.engine is None or self._reported is None or os.getpid() != self._pid:
            return
        from cpq.store import rulesets as repo

        # at interpreter shutdown: best effort, the row goes stale anyway
        with contextlib.suppress(Exception), self.engine().begin() as conn:
            repo.forget_process(conn, self.process)

    def _start_watcher(self) -> None:
        """Check the database every poll even while no request comes (an idle worker keeps up)."""
        def watch(pid: int) -> None:
            while os.getpid() == pid and self.watching:
                time.sleep(max(self.poll_seconds, 0.05))
                try:
                    self._check_when_due()
                except Exception:  # never let the watcher die: log and keep polling
                    log.exception("ruleset check failed")

        threading.Thread(target=watch, args=(os.getpid(),), name="cpq-ruleset-watch", daemon=True).start()

    def _switch(self, ruleset: Ruleset) -> None:
        with self._lock:
            previous = self.ruleset
            self.ruleset, self.errors, self.source = ruleset, None, "database"
        if previous is None or previous.version != ruleset.version:
            log.info("ruleset %s active (was %s)", ruleset.short_version, previous.short_version if previous else None)

    def _remember(self, ruleset: Ruleset) -> None:
        self._compiled[ruleset.version] = ruleset
        self._compiled.move_to_end(ruleset.version)
        while len(self._compiled) > COMPILED_KEPT:
            self._compiled.popitem(last=False)

    def compiled(self, version: str) -> Ruleset:
        """A stored version's Ruleset, from this process's cache or compiled from its stored files."""
        with self._lock:
            ready = self._compiled.get(version)
            compiling = self._compiling.setdefault(version, threading.Lock())
        if ready is not None:
            return ready
        from cpq.store import rulesets as repo

        with compiling:  # one compilation per version and process; later callers wait for it
            with self._lock:
                ready = self._compiled.get(version)
            if ready is not None:
                return ready
            with self.engine().connect() as conn:
                files = repo.load_files(conn, version)
            ruleset = files.load()
            if ruleset.version != version:  # pragma: no cover - the loader changed how it hashes
                raise RulesetInvalid([])
            with self._lock:
                self._remember(ruleset)
                self._compiling.pop(version, None)
        return ruleset

    def _compile(self, version: str) -> None:
        if version in self._failed:
            return
        try:
            ruleset = self.compiled(version)
        except (CPQError, sa.exc.SQLAlchemyError) as exc:
            self._failed[version] = str(exc)
            log.error("stored ruleset %s could not be loaded, keeping %s: %s", version[:12],
                      self.ruleset.short_version if self.ruleset else None, exc)
            return
        finally:
            self._loading.discard(version)
        if self._wanted == version:
            self._switch(ruleset)
        self.report()

    def _compile_in_background(self, version: str) -> None:
        with self._lock:
            if version in self._loading or version in self._failed:
                return
            self._loading.add(version)
        threading.Thread(target=self._compile, args=(version,), name=f"cpq-ruleset-{version[:8]}",
                         daemon=True).start()

    def _store_files_version(self) -> None:
        """Before any publication: keep the files this process answers from, for re-pricing later."""
        if self._files_stored or self.files is None or self.ruleset is None:
            return
        from cpq.store import rulesets as repo

        try:
            with self.engine().begin() as conn:
                repo.save_version(conn, self.files, self.ruleset, datetime.now(UTC))
            self._files_stored = True
        except sa.exc.SQLAlchemyError as exc:
            log.debug("files version not stored: %s", exc)


def _process_name() -> str:
    return f"{socket.gethostname()[:80]}:{os.getpid()}:{secrets.token_hex(4)}"


def init_rulesets(app: Flask) -> None:
    # Serving processes watch the database from a thread; test apps check on requests only.
    watch = app.config.get("RULESET_WATCH", not app.testing)
    live = LiveRuleset([app.config["RULES_DIR"], app.config["PRICEBOOKS_DIR"]],
                       engine=lambda: app.extensions["cpq.engine"],
                       poll_seconds=float(app.config.get("RULESET_POLL_SECONDS", POLL_SECONDS)), watch=bool(watch))
    # The service still starts with broken files: /health reports it, the API answers 503 with the errors.
    with contextlib.suppress(RulesetInvalid, FileNotFoundError):
        live.reload()
    app.extensions[_KEY] = live

    @app.before_request
    def bind_ruleset():
        # the request is answered from the version active when it started, whatever is published meanwhile
        g.cpq_ruleset = live.current()

    @app.after_request
    def tell_ruleset_version(response):
        ruleset = g.get("cpq_ruleset")
        if ruleset is not None:
            response.headers[VERSION_HEADER] = ruleset.version
        return response


def live_ruleset() -> LiveRuleset:
    return current_app.extensions[_KEY]


def active_ruleset() -> Ruleset:
    """The Ruleset this request is answered from, or a 503 error saying why there is none."""
    ruleset = g.get("cpq_ruleset") if g else None
    live = live_ruleset()
    if ruleset is None:
        ruleset = live.current()
    if ruleset is None:
        errors = [e.as_dict() for e in live.errors.errors] if live.errors else []
        raise RulesetUnavailable("the rule files could not be loaded; see 'errors' or run 'cpq lint'", errors=errors)
    return ruleset
