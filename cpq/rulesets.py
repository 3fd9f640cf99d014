"""The live Ruleset of this process: loaded at start from CPQ_RULES_DIR + CPQ_PRICEBOOKS_DIR."""

from __future__ import annotations

import contextlib
import logging

from flask import Flask, current_app

from cpq.errors import RulesetInvalid, RulesetUnavailable
from cpq.ruleset.loader import load_ruleset
from cpq.ruleset.model import Ruleset

log = logging.getLogger(__name__)
_KEY = "cpq.ruleset"


class LiveRuleset:
    """Holds the active Ruleset (or why there is none); a bad set never replaces a good one."""

    def __init__(self, paths: list[str]):
        self.paths = paths
        self.ruleset: Ruleset | None = None
        self.errors: RulesetInvalid | None = None

    def reload(self) -> Ruleset:
        try:
            ruleset = load_ruleset(self.paths)
        except (RulesetInvalid, FileNotFoundError) as exc:
            self.errors = exc if isinstance(exc, RulesetInvalid) else None
            log.error("rule files not loaded, keeping version %s: %s",
                      self.ruleset.short_version if self.ruleset else None, exc)
            raise
        self.ruleset, self.errors = ruleset, None
        log.info("ruleset %s loaded: %s", ruleset.short_version, ruleset.summary_line())
        return ruleset


def init_rulesets(app: Flask) -> None:
    live = LiveRuleset([app.config["RULES_DIR"], app.config["PRICEBOOKS_DIR"]])
    # The service still starts with broken files: /health reports it, the API answers 503 with the errors.
    with contextlib.suppress(RulesetInvalid, FileNotFoundError):
        live.reload()
    app.extensions[_KEY] = live


def live_ruleset() -> LiveRuleset:
    return current_app.extensions[_KEY]


def active_ruleset() -> Ruleset:
    """The Ruleset requests are answered from, or a 503 error saying why there is none."""
    live = live_ruleset()
    if live.ruleset is None:
        errors = [e.as_dict() for e in live.errors.errors] if live.errors else []
        raise RulesetUnavailable("the rule files could not be loaded; see 'errors' or run 'cpq lint'", errors=errors)
    return live.ruleset
