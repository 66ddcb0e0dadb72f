"""What every booking page sends and refuses: its headers, framing, and cross-site form posts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request

# The one place that says who may frame these pages. They open inside an LMS iframe, so
# any site may for now; the issue that registers LMS hosts narrows this to those hosts.
FRAME_ANCESTORS: tuple[str, ...] = ("*",)
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def content_security_policy() -> str:
    """Our own files only: no inline script or style, forms post back here, nothing else."""
    return "; ".join(
        (
            "default-src 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "form-action 'self'",
            f"frame-ancestors {' '.join(FRAME_ANCESTORS)}",
        )
    )


def add_headers(response: Response) -> Response:
    """Sealed sessions and private links travel in URLs: never as a referrer, never cached."""
    response.headers["Content-Security-Policy"] = content_security_policy()
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if request.endpoint is None or not request.endpoint.endswith(".static"):
        response.headers["Cache-Control"] = "no-store"
    return response


def is_cross_site() -> bool:
    """A form sent from another site: the browser says so (Fetch Metadata), else the Origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site not in SAME_SITE_FETCHES
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser form post (or a very old browser): the token decides
        return False
    return urlsplit(origin).netloc.lower() != request.host.lower()
