"""API tokens: shown once, stored as SHA-256 digests, revocable."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from core.crypto import API_TOKEN_PREFIX, REQUESTER_TOKEN_PREFIX, new_secret_token, token_digest
from core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from core.models import ApiToken, Program, Supporter, SupportRequest
from core.services import audit
from core.services.access import ROLES, Ctx, Principal, require


def create(
    ctx: Ctx,
    *,
    role: str,
    program: Program | None,
    name: str,
    supporter_id: uuid.UUID | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token; admins of a program may issue tokens for their own program only."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if program is None and role not in ("admin", "service"):
        raise ValidationFailed(f"a {role} token needs a program", field="program")
    if program is not None:
        require(ctx.principal, program.id, "admin")
    elif not ctx.principal.deployment_wide:
        raise Forbidden("only a deployment admin may issue deployment-wide tokens")
    if role == "supporter":
        supporter = ctx.session.get(Supporter, supporter_id) if supporter_id else None
        if supporter is None or program is None or supporter.program_id != program.id:
            raise ValidationFailed(
                "a supporter token needs a supporter of this program", field="supporter_id"
            )
    secret = new_secret_token(API_TOKEN_PREFIX)
    token = ApiToken(
        id=uuid.uuid4(),
        program_id=program.id if program else None,
        role=role,
        supporter_id=supporter_id if role == "supporter" else None,
        name=name,
        token_hash=token_digest(secret),
        created_at=ctx.now,
    )
    ctx.session.add(token)
    audit.record(ctx, token.program_id, "token.created", "token", token.id, role=role)
    ctx.session.commit()
    return token, secret


def revoke(ctx: Ctx, token_id: uuid.UUID) -> None:
    token = ctx.session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("no such token", field="token_id")
    if token.program_id is not None:
        require(ctx.principal, token.program_id, "admin")
    elif not ctx.principal.deployment_wide:
        raise NotFound("no such token", field="token_id")
    token.revoked_at = ctx.now
    audit.record(ctx, token.program_id, "token.revoked", "token", token.id)
    ctx.session.commit()


def revoke_requester(ctx: Ctx, request_id: uuid.UUID) -> None:
    """End a request's `plr_` token (a private link shared by mistake); the request stays.

    The stored digest becomes that of a fresh secret nobody is given, so the old token, and
    every link made from it, is refused like one that never existed.
    """
    from core.services.requests import get_request  # it imports much; keep this module light

    if ctx.principal.role not in ("requester", "service", "system"):
        raise Forbidden(f"the {ctx.principal.role} role may not do this")
    request = get_request(ctx, request_id)
    request.token_hash = token_digest(new_secret_token(REQUESTER_TOKEN_PREFIX))
    ctx.session.commit()


def list_tokens(ctx: Ctx, program: Program) -> list[ApiToken]:
    require(ctx.principal, program.id, "admin")
    return list(
        ctx.session.scalars(
            select(ApiToken).where(ApiToken.program_id == program.id).order_by(ApiToken.created_at)
        )
    )


def requester(ctx: Ctx, token: str) -> Principal | None:
    """The requester a `plr_` token speaks for (that one request), or None for any other string.

    For a plugin page whose link carries the token, as the API's bearer header does.
    """
    return requester_caller(ctx.session, token)


def api_caller(session: Session, token: str) -> Principal | None:
    """The caller behind an API token (`plt_…`), or None if it is unknown or revoked."""
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 100:
        return None
    found = session.scalar(_API_CALLER, {"digest": token_digest(token)})
    if found is None:
        return None
    return Principal(
        role=found.role,
        program_id=found.program_id,
        supporter_id=found.supporter_id,
        token_id=found.id,
    )


def requester_caller(session: Session, token: str) -> Principal | None:
    """The requester behind a `plr_` token (that one request), or None."""
    if not token.startswith(REQUESTER_TOKEN_PREFIX) or len(token) > 100:
        return None
    found = session.execute(_REQUESTER_CALLER, {"digest": token_digest(token)}).first()
    if found is None:
        return None
    return Principal(role="requester", program_id=found.program_id, request_id=found.id)


# built once: every API call with a token runs one of these
_API_CALLER = select(ApiToken).where(
    ApiToken.token_hash == bindparam("digest"), ApiToken.revoked_at.is_(None)
)
_REQUESTER_CALLER = select(SupportRequest.id, SupportRequest.program_id).where(
    SupportRequest.token_hash == bindparam("digest")
)


def bearer(session: Session, authorization: str, *, requesters: bool = True) -> Principal | None:
    """The caller of an `Authorization` header: None without one; Unauthorized if it is bad.

    The API and plugins' own endpoints resolve callers here, so a token means the same
    everywhere; `requesters=False` refuses requester tokens (a plugin's staff endpoint).
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    found = api_caller(session, token) or (requester_caller(session, token) if requesters else None)
    if found is None:
        raise Unauthorized("unknown or revoked token")
    return found
