"""Quote documents over REST: a revision as PDF, and the public check of a document hash.

`GET /api/v1/quotes/{id}.pdf` renders the current revision, `…/revisions/{n}.pdf` any revision, from
the stored priced content (no re-pricing). Who may not see the quote gets a 404, as for its JSON.
`GET /api/v1/quotes/verify/{hash}` needs no key: it is what the QR code on a document opens.
"""

from __future__ import annotations

import os
from datetime import date

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from cpq.api.auth import BEARER, current_user
from cpq.documents import service
from cpq.documents.formatting import LANGUAGES, PAPERS
from cpq.documents.pdf import RenderLimits, render_pdf
from cpq.store import engine

blp = Blueprint("documents", __name__, url_prefix="/api/v1/quotes",
                description="Quote documents (PDF) and their verification")

PDF = {"type": "string", "format": "binary"}


class DocumentQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    lang = fields.String(validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "document language; default from the customer's country"})
    paper = fields.String(validate=validate.OneOf(PAPERS),
                          metadata={"description": "a4 or letter; default from the customer's country"})
    hide_component_prices = fields.Boolean(load_default=False,
                                           metadata={"description": "bundles show their totals only"})
    hide_discounts = fields.Boolean(load_default=False,
                                    metadata={"description": "net prices only: no list prices or discounts"})
    waterfall = fields.Boolean(load_default=False,
                               metadata={"description": "append each item's price steps"})


class VerificationSchema(Schema):
    document_hash = fields.String(required=True)
    genuine = fields.Boolean(required=True, metadata={"description": "a sent revision has this hash"})
    number = fields.String(required=True)
    revision = fields.Integer(required=True)
    state = fields.String(required=True)
    current = fields.Boolean(required=True, metadata={"description": "it is the quote's current revision"})


def _public_url() -> str:
    return current_app.config.get("PUBLIC_URL") or os.environ.get("CPQ_PUBLIC_URL") or request.host_url


def _pdf(quote_id: str, revision: int | None, query: dict) -> Response:
    user = current_user()
    asked = service.DocumentRequest(language=query.get("lang"), paper=query.get("paper"),
                                    hide_component_prices=query["hide_component_prices"],
                                    hide_discounts=query["hide_discounts"], waterfall=query["waterfall"])
    limits = RenderLimits.from_settings(current_app.config)
    templates = current_app.config["TEMPLATES_DIR"]
    with engine().connect() as conn:  # released before rendering, which takes far longer than the reads
        doc, brand = service.load_document(conn, user, quote_id, revision, asked, templates_dir=templates,
                                           public_url=_public_url(), today=date.today(), max_rows=limits.max_rows)
    pdf = render_pdf(doc, brand, templates, limits)
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{service.filename(doc.number, doc.revision)}"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blp.route("/<quote_id>.pdf")
class CurrentRevisionPdf(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(DocumentQuerySchema, location="query")
    @blp.response(200, PDF, content_type="application/pdf", description="The quote document")
    def get(self, query, quote_id: str):
        """The current revision of the quote as a PDF document."""
        return _pdf(quote_id, None, query)


@blp.route("/<quote_id>/revisions/<int:n>.pdf")
class RevisionPdf(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(DocumentQuerySchema, location="query")
    @blp.response(200, PDF, content_type="application/pdf", description="The quote document")
    def get(self, query, quote_id: str, n: int):
        """Revision n of the quote as a PDF document, exactly as it was priced."""
        return _pdf(quote_id, n, query)


@blp.route("/verify/<document_hash>")
class Verify(MethodView):
    @blp.doc(security=[])
    @blp.response(200, VerificationSchema)
    def get(self, document_hash: str):
        """Public: is a quote document genuine (a sent revision), and is it still the current one?"""
        with engine().connect() as conn:
            return service.verify(conn, document_hash, date.today())
