"""Who is calling: an API token (by role), a requester's secret token, or nobody."""

from __future__ import annotations

from flask import g, request
from sqlalchemy import select

from core.crypto import API_TOKEN_PREFIX, REQUESTER_TOKEN_PREFIX, token_digest
from core.errors import Forbidden, Unauthorized
from core.models import ApiToken, SupportRequest
from core.runtime import db_session
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
    header = request.headers.get("Authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    session = db_session()
    digest = token_digest(token.strip())
    if token.startswith(API_TOKEN_PREFIX):
        api_token = session.scalar(
            select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
        )
        if api_token is not None:
            return Principal(
                role=api_token.role,
                program_id=api_token.program_id,
                supporter_id=api_token.supporter_id,
                token_id=api_token.id,
            )
    elif token.startswith(REQUESTER_TOKEN_PREFIX):
        found = session.execute(
            select(SupportRequest.id, SupportRequest.program_id).where(
                SupportRequest.token_hash == digest
            )
        ).first()
        if found is not None:
            return Principal(role="requester", program_id=found.program_id, request_id=found.id)
    raise Unauthorized("unknown or revoked token")
