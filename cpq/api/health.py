"""GET /health: is the service up, and which ruleset version does it answer from."""

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from cpq.rulesets import live_ruleset

blp = Blueprint("health", __name__, description="Liveness and the live ruleset version")


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok, or degraded when no ruleset is loaded"})
    ruleset_version = fields.String(allow_none=True)
    ruleset_errors = fields.Integer()


@blp.route("/health")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    def get(self):
        """Report liveness and the live ruleset version."""
        live = live_ruleset()
        if live.ruleset is None:
            return {"status": "degraded", "ruleset_version": None,
                    "ruleset_errors": len(live.errors.errors) if live.errors else 0}
        return {"status": "ok", "ruleset_version": live.ruleset.version, "ruleset_errors": 0}
