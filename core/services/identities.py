"""Requester identities: stored encrypted, looked up by keyed hash, never sent over HTTP."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from core.crypto import IdentityCipher
from core.errors import Forbidden, NotFound
from core.models import RequesterIdentity, SupportRequest
from core.services.access import Ctx, require


def store(
    ctx: Ctx, request: SupportRequest, platform: str, subject: str, email: str | None = None
) -> None:
    """Keep who asked (and where to e-mail them, if they said), encrypted."""
    cipher = _cipher(ctx)
    ctx.session.add(
        RequesterIdentity(
            request_id=request.id,
            platform=platform,
            lookup_hash=cipher.lookup_hash(platform, subject),
            ciphertext=cipher.encrypt(subject),
            email_ciphertext=cipher.encrypt(email) if email else None,
            created_at=ctx.now,
        )
    )


def _cipher(ctx: Ctx) -> IdentityCipher:
    if ctx.cipher is None:
        raise RuntimeError("this unit of work has no identity cipher")
    return ctx.cipher


def requests_of(
    ctx: Ctx, program_id: uuid.UUID, platform: str, subject: str
) -> list[SupportRequest]:
    """An integration's look-up of its user's requests, newest first (service tokens only)."""
    require(ctx.principal, program_id, "service")
    digest = _cipher(ctx).lookup_hash(platform, subject)
    return list(
        ctx.session.scalars(
            select(SupportRequest)
            .join(RequesterIdentity)
            .where(SupportRequest.program_id == program_id, RequesterIdentity.lookup_hash == digest)
            .order_by(SupportRequest.created_at.desc())
        )
    )


def identity_of(ctx: Ctx, request_id: uuid.UUID) -> tuple[str, str] | None:
    """(platform, subject) so an integration can message its own user; never over HTTP."""
    request = ctx.session.get(SupportRequest, request_id)
    if request is None:
        raise NotFound("no such request", field="request_id")
    require(ctx.principal, request.program_id, "service")
    row = ctx.session.scalar(
        select(RequesterIdentity).where(RequesterIdentity.request_id == request_id)
    )
    return (row.platform, _cipher(ctx).decrypt(row.ciphertext)) if row else None


def rotate_identities(ctx: Ctx, batch: int = 500) -> int:
    """Re-encrypt identities under the newest key, in batches (operator only)."""
    if ctx.principal.role != "system":
        raise Forbidden("only the operator's console rotates keys")
    cipher, done, last = _cipher(ctx), 0, None
    while True:
        query = select(RequesterIdentity).order_by(RequesterIdentity.id).limit(batch)
        if last is not None:
            query = query.where(RequesterIdentity.id > last)
        rows = ctx.session.scalars(query).all()
        if not rows:
            return done
        for row in rows:
            row.ciphertext = cipher.rotate(row.ciphertext)
            if row.email_ciphertext is not None:
                row.email_ciphertext = cipher.rotate(row.email_ciphertext)
        ctx.session.commit()
        done, last = done + len(rows), rows[-1].id
