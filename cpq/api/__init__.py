"""REST API (flask-smorest): one package per resource, one JSON problem shape for every error."""

from __future__ import annotations

from flask import Flask, jsonify
from flask_smorest import Api
from marshmallow import INCLUDE, Schema, fields
from werkzeug.exceptions import HTTPException

from cpq.errors import CPQError


def problem(status: int, code: str, title: str, detail: str, **extra):
    """An RFC 9457 problem body; `code` is the stable machine code, extra members add details."""
    body = {"type": f"https://cpq.dev/problems/{code}", "title": title, "status": status,
            "detail": detail, "code": code, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


class ProblemSchema(Schema):
    """RFC 9457 problem details: every 4xx/5xx body has this shape (extra members give details)."""

    class Meta:
        unknown = INCLUDE  # RFC 9457 extension members (errors, allowed, line, …)

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "stable machine-readable error code"})
    errors = fields.Raw(metadata={"description": "the problems found, by field or by rule"})
    allowed = fields.List(fields.String(), metadata={"description": "actions allowed in the current state"})


class CPQApi(Api):
    """flask-smorest Api whose HTTP errors use the service's problem shape (documented as `default`)."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        # the error responses are documented as what they are: application/problem+json
        default = self.DEFAULT_RESPONSE_CONTENT_TYPE
        self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/problem+json"
        try:
            super()._register_responses()
        finally:
            self.DEFAULT_RESPONSE_CONTENT_TYPE = default

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        extra = {}
        if "messages" in data:  # webargs validation errors: field → messages
            extra["errors"] = data["messages"]
        code = (error.name or "error").lower().replace(" ", "_")
        if error.code == 422:
            code = "invalid_input"
        response = problem(error.code or 500, code, error.name, error.description or error.name, **extra)
        for key, value in (data.get("headers") or {}).items():
            response.headers[key] = value
        return response


def init_api(app: Flask) -> None:
    from cpq.api import accounts, catalog, health, orders, pricing, quotes
    from cpq.api import admin as admin_api
    from cpq.api import configure as configure_api
    from cpq.api import documents as documents_api

    api = CPQApi(app, spec_kwargs={"info": {"description": "Configure, price and quote from rule files."}})
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "An API key from `cpq keys create`."})
    api.register_blueprint(health.blp)
    api.register_blueprint(catalog.blp)
    api.register_blueprint(pricing.blp)
    api.register_blueprint(accounts.blp)
    api.register_blueprint(configure_api.blp)
    api.register_blueprint(quotes.blp)
    api.register_blueprint(orders.blp)
    api.register_blueprint(documents_api.blp)
    api.register_blueprint(admin_api.blp)

    @app.errorhandler(CPQError)
    def handle_cpq_error(error: CPQError):
        response = problem(error.status, error.code, error.title, error.detail, **error.extra)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="cpq"'
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return api.handle_http_exception(error)
        app.logger.exception("unhandled error")
        return problem(500, "internal_error", "Internal server error", "the service failed; the error is logged")
