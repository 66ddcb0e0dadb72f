"""The API token behind a bearer header, for plugin endpoints (which may not import core.api).

Only API tokens (`plt_…`) count: a requester's token manages no one's calendar feed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import API_TOKEN_PREFIX, token_digest
from core.errors import Unauthorized
from core.models import ApiToken
from core.services.access import Principal


def api_principal(session: Session, authorization: str) -> Principal:
    """The caller of an `Authorization: Bearer plt_…` header, or Unauthorized."""
    if not authorization:
        raise Unauthorized("this operation needs a bearer token")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    if token.startswith(API_TOKEN_PREFIX):
        found = session.scalar(
            select(ApiToken).where(
                ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)
            )
        )
        if found is not None:
            return Principal(
                role=found.role,
                program_id=found.program_id,
                supporter_id=found.supporter_id,
                token_id=found.id,
            )
    raise Unauthorized("unknown or revoked token")
