"""HTML pages for buyers and sales: sign-in, catalog, configurator, quotes.

The pages are thin shells: their scripts (cpq/web/static/) call the same REST API as every other
client (`/api/v1/…`), authenticated by the signed-in session cookie plus the `X-CSRF-Token`
header (cpq/api/auth.py). No business decision is made here.
"""

from __future__ import annotations

import os

from flask import Flask

from cpq.web.pages import blp


def init_web(app: Flask) -> None:
    """Register the pages; the session cookie is HttpOnly and SameSite=Lax (Secure behind HTTPS)."""
    app.config.update(SESSION_COOKIE_NAME="cpq_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=os.environ.get("CPQ_PUBLIC_URL", "").startswith("https://"))
    app.template_folder = app.config["TEMPLATES_DIR"]  # templates/web/*.html
    app.register_blueprint(blp)
