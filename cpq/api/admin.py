"""Rule administration over REST: publish a rule set, preview its impact, roll back, read the audit trail.

A rule set travels as JSON: `files` maps each path (`rules/servers.yaml`, `pricebooks/list-eur.yaml`,
`rules/tests/servers.yaml`) to the file's text. The first path segment is the root folder, so the
same files give the same version as `cpq rules publish` on a checkout. Role pricing_admin or admin.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates

from cpq.admin import service
from cpq.admin.files import MAX_FILES, from_mapping
from cpq.api.auth import BEARER, require_role
from cpq.rulesets import active_ruleset, live_ruleset
from cpq.store import engine
from cpq.store import rulesets as repo

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin",
                description="Rule administration: versions, publication, impact, audit (pricing_admin, admin)")

ADMINS = ("pricing_admin", "admin")


class Strict(Schema):
    class Meta:
        unknown = RAISE


def rule_files_field() -> fields.Dict:
    """{path: file text}; paths are `root/inside/the/root.yaml`."""
    return fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=500)), values=fields.String(),
                       required=True, metadata={"description": "path → file text, e.g. {'rules/servers.yaml': '…', "
                                                "'pricebooks/list-eur.yaml': '…'}; test cases under <root>/tests/"})


def _check_count(value) -> None:
    if not value:
        raise ValidationError("give at least one rule file")
    if len(value) > MAX_FILES:
        raise ValidationError(f"at most {MAX_FILES} files")


class PublishSchema(Strict):
    files = rule_files_field()
    effective_at = fields.AwareDateTime(metadata={"description": "activate at this time (default: now)"})
    note = fields.String(validate=validate.Length(max=2000), metadata={"description": "why, for the audit trail"})

    @validates("files")
    def not_too_many(self, value, **kw):
        _check_count(value)


class PreviewSchema(Strict):
    files = rule_files_field()
    against = fields.String(validate=validate.Length(min=8, max=64),
                            metadata={"description": "a stored version to compare with (default: the active one)"})

    @validates("files")
    def not_too_many(self, value, **kw):
        _check_count(value)


class RollbackSchema(Strict):
    version = fields.String(required=True, validate=validate.Length(min=8, max=64))
    note = fields.String(validate=validate.Length(max=2000))


class AuditQuerySchema(Strict):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    before = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={"description": "entries older than this id"})


class ActivationSchema(Schema):
    id = fields.Integer()
    version = fields.String()
    action = fields.String(metadata={"description": "publish | rollback"})
    effective_at = fields.DateTime()
    previous_version = fields.String(allow_none=True)
    actor = fields.String()
    user_id = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    summary = fields.Dict(metadata={"description": "what changed against the previous version (counts)"})
    created_at = fields.DateTime()


class PublicationSchema(ActivationSchema):
    diff = fields.Dict(metadata={"description": "prices changed (book, sku, old → new) and definitions "
                                                "added / removed / changed by kind"})
    tests = fields.Dict(metadata={"description": "the rule test cases run before publishing"})
    newly_stored = fields.Boolean()
    summary_line = fields.String()
    processes = fields.Dict(metadata={"description": "for a publication or rollback now: the serving processes "
                                                     "live, ready (holding the version compiled) when it took "
                                                     "effect, not_ready, and waited_seconds"})
    still_scheduled = fields.List(fields.Nested(ActivationSchema), metadata={
        "description": "the activations that take effect after this one (after now, for one now): neither a "
                       "publication nor a rollback cancels them, each still takes effect at its time"})


class PreviewResultSchema(Schema):
    candidate_version = fields.String()
    against_version = fields.String()
    diff = fields.Dict()
    tests = fields.Dict()
    quotes = fields.Dict(metadata={"description": "open quotes re-priced: affected (with delta), becoming_invalid, "
                                                  "total_delta per currency"})


class VersionSchema(Schema):
    version = fields.String()
    first_loaded_at = fields.DateTime()
    summary = fields.Dict()


class ProcessSchema(Schema):
    process = fields.String(metadata={"description": "host:pid:token"})
    serving = fields.String(allow_none=True, metadata={"description": "the version it answers from"})
    compiled = fields.List(fields.String(), metadata={"description": "versions it holds compiled"})
    started_at = fields.DateTime()
    seen_at = fields.DateTime()


class RulesetsSchema(Schema):
    active = fields.Nested(ActivationSchema, allow_none=True)
    serving = fields.String(allow_none=True, metadata={"description": "the version this process answers from"})
    processes = fields.List(fields.Nested(ProcessSchema), metadata={"description": "serving processes seen lately"})
    scheduled = fields.List(fields.Nested(ActivationSchema))
    versions = fields.List(fields.Nested(VersionSchema))


class AuditSchema(Schema):
    entries = fields.List(fields.Nested(ActivationSchema))


def _wait_seconds() -> float:
    """How long a publication "now" waits for the serving processes (RULESET_PUBLISH_WAIT_SECONDS)."""
    return current_app.config["RULESET_PUBLISH_WAIT_SECONDS"]


@blp.route("/rulesets")
class Rulesets(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, RulesetsSchema)
    def get(self):
        """The active version, the scheduled publications and every stored version."""
        require_role(*ADMINS)
        now = datetime.now(UTC)
        with engine().connect() as conn:
            current = repo.active(conn, now)
            return {"active": current.as_dict() if current else None,
                    "serving": live_ruleset().ruleset.version if live_ruleset().ruleset else None,
                    "scheduled": [a.as_dict() for a in repo.upcoming(conn, now, datetime.max.replace(tzinfo=UTC))],
                    "processes": [p.as_dict() for p in service.live_processes(conn, now)],
                    "versions": repo.stored_versions(conn)}

    @blp.doc(security=[BEARER])
    @blp.arguments(PublishSchema)
    @blp.response(201, PublicationSchema)
    def post(self, data):
        """Publish a rule set: checked (errors, static analysis, test cases), stored, active from effective_at.

        A set with errors or failing test cases is a 422 listing every problem; nothing changes.
        Without effective_at the answer comes once the set is active: when every serving process
        holds it compiled (at most RULESET_PUBLISH_WAIT_SECONDS); `processes` says who was ready.
        """
        user = require_role(*ADMINS)
        files = from_mapping(data["files"])
        live = live_ruleset()
        with engine().begin() as conn:
            done = service.publish(conn, files, actor=user.email, user_id=user.id, now=datetime.now(UTC),
                                   ruleset_of=live.compiled, current=live.ruleset,
                                   effective_at=data.get("effective_at"), note=data.get("note"),
                                   wait_seconds=_wait_seconds())
        live.install(done.ruleset)
        return service.activate_when_ready(engine(), done).as_dict()


@blp.route("/rulesets:preview")
class RulesetPreview(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(PreviewSchema)
    @blp.response(200, PreviewResultSchema)
    def post(self, data):
        """What publishing these files would change: the diff, the test cases, every open quote re-priced."""
        require_role(*ADMINS)
        files = from_mapping(data["files"])
        live = live_ruleset()
        with engine().connect() as conn:
            against = live.compiled(repo.resolve(conn, data["against"])) if data.get("against") else active_ruleset()
            return service.preview(conn, files, against=against, today=date.today())


@blp.route("/rulesets/rollback")
class RulesetRollback(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(RollbackSchema)
    @blp.response(201, PublicationSchema)
    def post(self, data):
        """Make an earlier stored version active again, now (once every serving process holds it compiled)."""
        user = require_role(*ADMINS)
        live = live_ruleset()
        with engine().begin() as conn:
            done = service.rollback(conn, data["version"], actor=user.email, user_id=user.id, now=datetime.now(UTC),
                                    ruleset_of=live.compiled, current=live.ruleset, note=data.get("note"),
                                    wait_seconds=_wait_seconds())
        live.install(done.ruleset)
        return service.activate_when_ready(engine(), done).as_dict()


@blp.route("/audit")
class Audit(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditSchema)
    def get(self, query):
        """Who published or rolled back which version, when, with the diff summary (newest first)."""
        require_role(*ADMINS)
        with engine().connect() as conn:
            return {"entries": [a.as_dict() for a in repo.audit(conn, limit=query["limit"],
                                                                before_id=query.get("before"))]}
