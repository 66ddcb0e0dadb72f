"""Who is calling: an API token (by role), a requester's secret token, or nobody."""

from __future__ import annotations

from flask import g, request

from core.errors import Forbidden, Unauthorized
from core.runtime import db_session
from core.services import tokens
from core.services.access import ANONYMOUS, Principal


def authenticate(allowed: frozenset[str]) -> Principal:
    """Resolve the bearer token and check its role is one the operation allows."""
    principal = _resolve()
    g.principal = principal
    if principal.role not in allowed:
        if principal.role == "anonymous":
            raise Unauthorized("this operation needs a bearer token")
        raise Forbidden(f"the {principal.role} role may not do this")
    return principal


def _resolve() -> Principal:
    found = tokens.bearer(db_session(), request.headers.get("Authorization", ""))
    return found if found is not None else ANONYMOUS
