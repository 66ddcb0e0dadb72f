"""What every booking page sends and refuses: its headers, framing, and cross-site form posts."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, request

from lms.lti.pages import frame_ancestors

SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def content_security_policy(ancestors: str) -> str:
    """Our own files only: no inline script or style, forms post back here, nothing else;
    framed only by `ancestors` (the registered LMS platforms' sites, as the LTI pages are)."""
    return "; ".join(
        (
            "default-src 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


def add_headers(response: Response) -> Response:
    """Sealed sessions and private links travel in URLs: never as a referrer, never cached."""
    static = request.endpoint is not None and request.endpoint.endswith(".static")
    page = response.mimetype == "text/html"
    ancestors = frame_ancestors() if page else "'none'"  # only a page is ever framed
    response.headers["Content-Security-Policy"] = content_security_policy(ancestors)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not static:
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
