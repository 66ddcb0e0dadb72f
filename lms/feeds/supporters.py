"""A supporter's feed URL: made and rotated by the supporter; revoked by them or their staff.

A feed names requesters' aliases, which admins and coordinators never see (aggregate-only
reporting), so staff can stop a feed (a lost phone, an offboarding) but never get its URL.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from core.errors import Conflict, Forbidden, ValidationFailed
from core.services import audit, roster
from core.services.access import STAFF, Ctx
from lms.feeds import tokens

if TYPE_CHECKING:
    from core.runtime import Runtime


def issue(runtime: Runtime, ctx: Ctx, supporter_id: uuid.UUID | None) -> tuple[str, bool]:
    """The feed URL, made if there is none: (url, made now)."""
    owner = _owner(ctx, supporter_id, live=True, reading=True)
    _, token, made = tokens.issue(runtime, ctx, owner)
    if made:
        audit.record(ctx, owner.program_id, "feed.issued", "supporter", owner.supporter_id)
    ctx.session.commit()
    return tokens.url_of(runtime, token), made


def rotate(runtime: Runtime, ctx: Ctx, supporter_id: uuid.UUID | None) -> str:
    """A new URL; calendars subscribed to the old one stop getting sessions."""
    owner = _owner(ctx, supporter_id, live=True, reading=True)
    _, token = tokens.rotate(runtime, ctx, owner)
    audit.record(ctx, owner.program_id, "feed.rotated", "supporter", owner.supporter_id)
    ctx.session.commit()
    return tokens.url_of(runtime, token)


def revoke(ctx: Ctx, supporter_id: uuid.UUID | None) -> bool:
    """The URL stops working at once; True when there was one."""
    owner = _owner(ctx, supporter_id, live=False)
    revoked = tokens.revoke(ctx, owner)
    if revoked:
        audit.record(ctx, owner.program_id, "feed.revoked", "supporter", owner.supporter_id)
    ctx.session.commit()
    return revoked


def _owner(
    ctx: Ctx, supporter_id: uuid.UUID | None, *, live: bool, reading: bool = False
) -> tokens.Owner:
    """A supporter their own feed; staff may revoke any supporter's feed in their program."""
    if reading and ctx.principal.role != "supporter":
        raise Forbidden(
            "only the supporter gets their feed's URL (it names requesters' aliases); "
            "staff can revoke it"
        )
    if reading and supporter_id not in (None, ctx.principal.supporter_id):
        raise Forbidden("a supporter gets only their own calendar feed")
    if supporter_id is None:
        if ctx.principal.role != "supporter" or ctx.principal.supporter_id is None:
            raise ValidationFailed(
                "supporter_id: say whose calendar feed this is", field="supporter_id"
            )
        supporter_id = ctx.principal.supporter_id
    supporter, program = roster.get_supporter(ctx, supporter_id, *STAFF)
    if live and supporter.status == "offboarded":
        raise Conflict("an offboarded supporter has no calendar feed", field="supporter_id")
    return tokens.Owner(program.id, supporter_id=supporter.id)
