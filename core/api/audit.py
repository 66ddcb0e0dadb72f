"""/api/v1/audit and /api/v1/tokens"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from core.api.context import ctx
from core.api.framework import ApiBlueprint
from core.api.supporters import _program
from core.schemas.common import Body, Name, Out, Query, Timestamp
from core.services import audit, tokens

bp = ApiBlueprint("audit", __name__, tag="audit")


class AuditQuery(Query):
    program: str | None = None
    action: str | None = Field(None, max_length=64)
    start: Timestamp | None = Field(None, alias="from")
    end: Timestamp | None = Field(None, alias="to")
    limit: int = Field(100, ge=1, le=1000)


class AuditOut(Out):
    id: uuid.UUID
    at: datetime
    actor: str
    actor_role: str
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]


class TokenIn(Body):
    role: Literal["admin", "coordinator", "supporter", "service"]
    name: Name
    supporter_id: uuid.UUID | None = None


class TokenOut(Out):
    id: uuid.UUID
    role: str
    name: str
    supporter_id: uuid.UUID | None
    created_at: datetime
    revoked_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="Shown once; store it in your secret manager")


class ProgramQuery(Query):
    program: str | None = None


@bp.operation(
    "GET",
    "/audit",
    summary="Admin and coordinator actions, newest first",
    roles={"admin", "coordinator"},
    query=AuditQuery,
    response=list[AuditOut],
)
def list_audit(principal: Any, query: AuditQuery) -> list[AuditOut]:
    c = ctx()
    program = _program(c, query.program)
    found = audit.list_events(
        c, program.id, action=query.action, since=query.start, until=query.end, limit=query.limit
    )
    return [AuditOut.model_validate(e) for e in found]


@bp.operation(
    "GET",
    "/tokens",
    summary="The program's API tokens (never their secrets)",
    roles={"admin"},
    query=ProgramQuery,
    response=list[TokenOut],
)
def list_tokens(principal: Any, query: ProgramQuery) -> list[TokenOut]:
    c = ctx()
    return [TokenOut.model_validate(t) for t in tokens.list_tokens(c, _program(c, query.program))]


@bp.operation(
    "POST",
    "/tokens",
    summary="Issue an API token for this program",
    roles={"admin"},
    query=ProgramQuery,
    body=TokenIn,
    response=TokenCreatedOut,
    status=201,
)
def create_token(principal: Any, query: ProgramQuery, body: TokenIn) -> TokenCreatedOut:
    c = ctx()
    token, secret = tokens.create(
        c,
        role=body.role,
        program=_program(c, query.program),
        name=body.name,
        supporter_id=body.supporter_id,
    )
    return TokenCreatedOut(**TokenOut.model_validate(token).model_dump(), token=secret)


@bp.operation(
    "POST",
    "/tokens/<uuid:token_id>/revoke",
    summary="Revoke a token at once",
    roles={"admin"},
    errors=(404,),
)
def revoke_token(principal: Any, token_id: uuid.UUID) -> None:
    tokens.revoke(ctx(), token_id)
