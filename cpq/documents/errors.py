"""Errors of document rendering, each with a stable code (mapped to a problem response by the API)."""

from __future__ import annotations

from cpq.errors import CPQError


class DocumentTooLarge(CPQError):
    """The document would exceed the row or page limit of one rendering."""

    code = "document_too_large"
    status = 422
    title = "The document is too large to render"


class RenderTimeout(CPQError):
    """Rendering took longer than the time limit and was stopped."""

    code = "render_timeout"
    status = 503
    title = "Rendering the document took too long"


class RenderFailed(CPQError):
    """The renderer failed (a template or WeasyPrint error); the cause is logged."""

    code = "render_failed"
    status = 500
    title = "The document could not be rendered"


class BrandInvalid(CPQError):
    """A brand file under templates/brands/ is missing a field or has a bad value."""

    code = "brand_invalid"
    status = 503
    title = "The brand file has errors"


class UnknownDocument(CPQError):
    """No quote revision was ever sent with this document hash."""

    code = "unknown_document"
    status = 404
    title = "Unknown document"


RENDER_ERRORS = {cls.code: cls for cls in (DocumentTooLarge, RenderTimeout, RenderFailed, BrandInvalid)}
