"""A Bot Framework token vouches for its sender for an hour, not for one activity: each
activity id is handled once.

The Bot Connector resends an activity it thinks failed, and a captured request (token and
body) stays valid until the token expires. Either way a second "Ask" would file a second
support request. So each authenticated activity is claimed, by a hash of its conversation
and activity id, until its token's expiry plus the allowed skew; a repeat is not handled.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from integrations.teams.auth import CLOCK_SKEW, Claims
from integrations.teams.storage import ACTIVITIES_SEEN

if TYPE_CHECKING:
    from core.runtime import Runtime

MIN_KEEP = timedelta(minutes=10)  # a token without exp is refused anyway; this is a floor


def activity_key(activity: Mapping[str, Any]) -> str | None:
    """Who said what where, as one opaque key; None when Teams gave the activity no id."""
    activity_id = activity.get("id")
    conversation = activity.get("conversation")
    chat = conversation.get("id") if isinstance(conversation, dict) else None
    if not isinstance(activity_id, str) or not activity_id:
        return None
    return hashlib.sha256(f"{chat}\n{activity_id}".encode()).hexdigest()


class ActivityLedger:
    """An insert that skips a known key claims an activity; expired keys go as new ones come."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def claim(self, key: str, claims: Claims) -> bool:
        """True the first time; False for an activity already handled under a live token."""
        now = self.runtime.clock.now()
        until = max(_expiry(claims) + CLOCK_SKEW, now + MIN_KEEP)
        engine = self.runtime.engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        with engine.begin() as connection:
            connection.execute(delete(ACTIVITIES_SEEN).where(ACTIVITIES_SEEN.c.keep_until < now))
            added = connection.execute(
                insert(ACTIVITIES_SEEN)
                .values(activity_key=key, keep_until=until)
                .on_conflict_do_nothing(index_elements=["activity_key"])
                .returning(ACTIVITIES_SEEN.c.activity_key)
            ).scalar()
        return added is not None

    def forget(self, key: str) -> None:
        """An activity whose handling failed is forgotten, so the Connector's retry runs it."""
        with self.runtime.engine.begin() as connection:
            connection.execute(delete(ACTIVITIES_SEEN).where(ACTIVITIES_SEEN.c.activity_key == key))


def _expiry(claims: Claims) -> datetime:
    exp = claims.raw.get("exp")
    moment = float(exp) if isinstance(exp, int | float) else 0.0
    return datetime.fromtimestamp(moment, UTC)
