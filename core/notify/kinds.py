"""The notification kinds and the keys of their `data` snapshot (what channels render).

Every snapshot has:
  program: {"name": str, "slug": str}
  time_zone: IANA zone to show times in (the supporter's, or the program's for others)
  locale: e.g. "en-US"
and, for the requester audience, never a dead end:
  not_a_crisis: the "not a crisis service" line
  crisis_resources: [{"name", "contact", "description", "url"}]

Per kind (times are ISO 8601 UTC strings):
  offer_made         supporter    request_alias, topic, mode, language, is_urgent, expires_at
  offer_taken        supporter    request_alias                       (optional: card update)
  offer_expired      supporter    request_alias                       (optional: card update)
  matched            requester    supporter_alias, mode
  nobody_free        requester    wait_minutes, can_book
  request_expired    requester    can_book
  booking_confirmed  both         booking, other_alias, method="REQUEST"
  booking_changed    both         booking, other_alias, method="REQUEST"
  booking_cancelled  both         booking, other_alias, method="CANCEL", cancelled_by
  booking_reminder   both         booking, other_alias, minutes_before
  session_link       both         booking, other_alias, join_url (https; forget_after_sending)
  feedback_prompt    requester    supporter_alias
  training_expiring  supporter, coordinator   supporter_alias, training, expires_on, days_left
  training_lapsed    supporter, coordinator   supporter_alias, training, expires_on

booking = {"uid", "sequence", "starts_at", "ends_at", "mode"}; other_alias is the
other side's alias (the supporter's for the requester, the request's for the supporter).

A plugin's own kinds (e.g. teams_meeting, a calendar event to write) name their one channel
in data["via"]: no other channel is asked, so none renders them as a message by mistake.
"""

from __future__ import annotations

VIA = "via"
"""A `data` key: the name of the only channel that may carry this notification."""

OPTIONAL = frozenset({"offer_taken", "offer_expired"})
"""Updates a chat card can show; a channel without cards may decline them (no dead letter)."""

CALENDAR = frozenset({"booking_confirmed", "booking_changed", "booking_cancelled"})
"""Kinds that carry a calendar invite (data["method"] says REQUEST or CANCEL)."""

KINDS = frozenset(
    {
        "offer_made",
        "matched",
        "nobody_free",
        "request_expired",
        "booking_reminder",
        "session_link",
        "feedback_prompt",
        "training_expiring",
        "training_lapsed",
    }
    | OPTIONAL
    | CALENDAR
)


def conversation_order(request_id: object, side: str) -> str:
    """The order key of everything one side of a request hears: a chat's lines, its end, the
    feedback prompt after it, so they arrive in the order they were decided."""
    return f"relay:{request_id}:{side}"
