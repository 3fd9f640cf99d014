"""cpq: configure-price-quote service. `create_app` is the application factory.

Flask is imported inside the factory so that the pure core (catalog, ruleset, configurator,
pricing) can be imported without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: settings, the live Ruleset, the database, the API and error handlers."""
    from flask import Flask

    from cpq import config
    from cpq.api import init_api
    from cpq.rulesets import init_rulesets
    from cpq.store import init_store
    from cpq.web import init_web

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)
    init_rulesets(app)
    init_store(app)
    init_api(app)
    init_web(app)
    return app
