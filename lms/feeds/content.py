"""What a feed holds, and its ETag: worked out from what changed, without writing the feed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from core.notify.wording import join_url, mode_name
from core.ports import CalendarEvent
from core.services.access import Principal
from core.services.feed_data import FeedSession, FeedState
from lms.calendar import NEUTRAL_TITLE, IcsCalendarWriter
from lms.feeds.tokens import Feed

CALENDAR_NAME = "Peer chats"
LAYOUT = "2"  # bump when what a feed says changes, so every subscriber fetches it again
WRITER = IcsCalendarWriter()


def reader(feed: Feed) -> Principal:
    """Who a poll acts as: the supporter themselves, or the LMS integration for a student."""
    owner = feed.owner
    if owner.supporter_id is not None:
        return Principal(
            role="supporter", program_id=owner.program_id, supporter_id=owner.supporter_id
        )
    return Principal(role="service", program_id=owner.program_id)


def etag(feed: Feed, seen: FeedState) -> str:
    """Changes with any session added, moved, cancelled or aged out, a rotation or the layout.

    The owner's calendar version is changed by the database with every write to one of their
    bookings (core.models.calendar); sessions age out only when the window's start moves, at
    a day's turn. A request's alias is fixed when the request is made.
    """
    parts = (LAYOUT, feed.id, feed.revision, seen.version, seen.since.isoformat())
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:32]


def calendar(
    found: list[FeedSession], *, for_supporter: bool, join_links: Mapping[str, str] | None = None
) -> bytes:
    """The feed: neutral titles, no topic or note; the supporter sees the requester's alias.

    `join_links` (booking UID to an https link) adds a video session's link where one is known.
    """
    links = join_links or {}
    return WRITER.feed(CALENDAR_NAME, [_event(s, for_supporter, links.get(s.uid)) for s in found])


def _event(session: FeedSession, for_supporter: bool, link: str | None) -> CalendarEvent:
    with_whom = f" with {session.request_alias}" if for_supporter else ""
    description = f"A {mode_name(session.mode)}{with_whom}, booked through PeerLine."
    location = _checked_link(link) if session.mode == "video" else ""
    if location:
        description += f"\nJoin: {location}"
    return CalendarEvent(
        uid=session.uid,
        sequence=session.sequence,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        stamp=session.updated_at,  # this version of the event was made when the booking changed
        title=NEUTRAL_TITLE + with_whom,
        description=description,
        location=location,
    )


def _checked_link(link: str | None) -> str:
    """Only an https link without spaces or markup is ever written."""
    try:
        return join_url({"join_url": link}) if link else ""
    except ValueError:
        return ""
