"""A student's feed of their own bookings, for the booking page to link to."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from lms.feeds import tokens
from lms.student import PLATFORM

if TYPE_CHECKING:
    from core.runtime import Runtime


def student_feed_url(runtime: Runtime, program_id: uuid.UUID, subject: str) -> str:
    """The student's private feed URL: made on first use, the same while it lives."""
    ctx = runtime.system_ctx()
    with ctx.session:
        _, token, _ = tokens.issue(runtime, ctx, _owner(runtime, program_id, subject))
        ctx.session.commit()
    return tokens.url_of(runtime, token)


def revoke_student_feed(runtime: Runtime, program_id: uuid.UUID, subject: str) -> bool:
    """Stop the student's feed URL working; a later student_feed_url makes a new one."""
    ctx = runtime.system_ctx()
    with ctx.session:
        revoked = tokens.revoke(ctx, _owner(runtime, program_id, subject))
        ctx.session.commit()
    return revoked


def _owner(runtime: Runtime, program_id: uuid.UUID, subject: str) -> tokens.Owner:
    """Keyed by the core's keyed hash of the identity: the subject itself is never stored."""
    return tokens.Owner(program_id, student_key=runtime.cipher.lookup_hash(PLATFORM, subject))
