"""cpq: configure-price-quote service. `create_app` is the application factory."""

from __future__ import annotations

from flask import Flask

from cpq import config


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: settings, the live Ruleset, the database, the API and error handlers."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.update(config.from_environment())
    if test_config:
        app.config.update(test_config)

    from cpq.api import init_api
    from cpq.rulesets import init_rulesets
    from cpq.store import init_store

    init_rulesets(app)
    init_store(app)
    init_api(app)
    return app
