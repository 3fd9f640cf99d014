"""The document URL fetcher serves files under templates/ and refuses everything else."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cpq.documents.fetcher import FetchRefused, TemplateFetcher

TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


@pytest.fixture
def fetcher():
    return TemplateFetcher(TEMPLATES)


def test_serves_the_quote_stylesheet_and_a_brand_logo(fetcher):
    css = fetcher((TEMPLATES / "quote" / "quote.css").as_uri())
    assert css.content_type == "text/css"
    assert b"@page" in css.read()
    logo = fetcher((TEMPLATES / "brands" / "default" / "logo.svg").as_uri())
    assert logo.content_type == "image/svg+xml"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "http://127.0.0.1:8000/api/v1/quotes",
    "https://example.com/logo.png",
    "ftp://example.com/x.css",
    "data:text/css,body{color:red}",
    "file://evil.example/share/x.css",
])
def test_refuses_anything_that_is_not_a_file_under_templates(fetcher, url):
    with pytest.raises(FetchRefused):
        fetcher(url)


def test_refuses_paths_that_climb_out_of_templates(fetcher):
    sneaky = TEMPLATES.as_uri() + "/quote/../../../../etc/passwd"
    with pytest.raises(FetchRefused, match="outside"):
        fetcher(sneaky)
    encoded = TEMPLATES.as_uri() + "/quote/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd"
    with pytest.raises(FetchRefused):
        fetcher(encoded)


def test_refuses_a_symbolic_link_inside_templates_that_points_outside(tmp_path):
    root = tmp_path / "templates"
    root.mkdir()
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    os.symlink(secret, root / "looks-local.css")
    with pytest.raises(FetchRefused, match="outside"):
        TemplateFetcher(root)((root / "looks-local.css").as_uri())


def test_refuses_files_of_types_a_document_never_needs(fetcher):
    with pytest.raises(FetchRefused, match="not a stylesheet"):
        fetcher((TEMPLATES / "quote" / "quote.html").as_uri())
    with pytest.raises(FetchRefused, match="not a stylesheet"):
        fetcher((TEMPLATES / "brands" / "default" / "brand.yaml").as_uri())
