"""The private link: the requester token in a URL is the only key to a booking."""

from __future__ import annotations

from flask import request, url_for

from core.runtime import runtime


def private_link(token: str) -> str:
    """Absolute, from PEERLINE_PUBLIC_URL when set (behind a proxy), else this request's host."""
    base = runtime().settings.public_url or request.host_url
    return base.rstrip("/") + url_for("lms_booking.manage_page", token=token)
