"""The only way a quote document reads anything: files under templates/, nothing else.

WeasyPrint asks its URL fetcher for every stylesheet, image, font and attachment. This one answers
for `file:` URLs whose real path (symbolic links and `..` resolved) lies inside the templates folder
and whose type is a style, an image or a font. Every other URL — `file:///etc/passwd`, `http://…`,
`data:`, FTP, a path that escapes the folder — is refused without being opened, so there are no
redirects to follow and no attachment can embed a file from elsewhere.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

ALLOWED_TYPES = {
    ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg", ".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
}
MAX_BYTES = 5 * 1024 * 1024


class FetchRefused(ValueError):
    """A resource outside templates/ (or of a type a document never needs) was asked for."""


class TemplateFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves files under one folder and refuses everything else."""

    def __init__(self, root: str | Path):
        super().__init__(allowed_protocols=("file",), allow_redirects=False, fail_on_errors=False)
        self.root = Path(os.path.realpath(root))

    def resolve(self, url: str) -> Path:
        """The file `url` names, if it is one this fetcher may serve; FetchRefused otherwise."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "file":
            raise FetchRefused(f"refused {url!r}: only files under the templates folder are served")
        if parts.netloc not in ("", "localhost"):
            raise FetchRefused(f"refused {url!r}: remote file hosts are not served")
        path = Path(os.path.realpath(unquote(parts.path)))
        if path != self.root and self.root not in path.parents:
            raise FetchRefused(f"refused {url!r}: outside the templates folder")
        if path.suffix.lower() not in ALLOWED_TYPES:
            raise FetchRefused(f"refused {url!r}: not a stylesheet, image or font")
        if not path.is_file():
            raise FetchRefused(f"refused {url!r}: no such file")
        return path

    def fetch(self, url, headers=None):
        try:
            path = self.resolve(url)
        except FetchRefused as exc:
            log.warning("%s", exc)
            raise
        if path.stat().st_size > MAX_BYTES:
            raise FetchRefused(f"refused {url!r}: larger than {MAX_BYTES} bytes")
        content_type = ALLOWED_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
        return URLFetcherResponse(path.as_uri(), body=path.read_bytes(), headers={"Content-Type": content_type})
