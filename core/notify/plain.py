"""Each notification kind in words: a neutral subject and plain paragraphs, for any channel.

E-mail lays them out as text and HTML; a chat app without its own wording (Teams) shows
them as they are. Messages carry only aliases, times and modes: never a topic, a note or
anyone's address but the recipient's, since they rest where retention cannot reach.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.notify.wording import (
    ANONYMOUS_JOIN,
    count,
    duration,
    instant,
    join_url,
    mode_name,
    zone_of,
)
from core.ports import Notification
from core.schemas.programs import NOT_A_CRISIS_SERVICE


@dataclass(frozen=True)
class Content:
    """What one message says, before it is laid out as text and HTML."""

    subject: str
    paragraphs: tuple[str, ...]


Renderer = Callable[[Notification, ZoneInfo, bool], Content]


def render(notification: Notification, *, has_invite: bool = False) -> Content:
    """Subject and paragraphs for one kind; an unknown kind or missing key raises."""
    renderer = RENDERERS.get(notification.kind)
    if renderer is None:
        raise ValueError(f"no wording for kind {notification.kind!r}")
    return renderer(notification, zone_of(notification.data), has_invite)


def crisis_block(notification: Notification) -> dict[str, Any] | None:
    """Never a dead end: every requester message says what this is not and who can help now."""
    if notification.audience != "requester":
        return None
    resources = [
        {
            "name": str(r.get("name", "")),
            "contact": str(r.get("contact", "")),
            "description": str(r.get("description") or ""),
            "url": _safe_url(r.get("url")),
        }
        for r in notification.data.get("crisis_resources") or []
    ]
    not_a_crisis = str(notification.data.get("not_a_crisis") or NOT_A_CRISIS_SERVICE)
    return {"not_a_crisis": not_a_crisis, "resources": resources}


def footer(notification: Notification) -> str:
    program = notification.data.get("program") or {}
    name = str(program.get("name") or "your organisation")
    return f"Sent by the {name} peer support program through PeerLine."


def _safe_url(value: object) -> str:
    """Only web links become links; anything else (javascript:, data:) is dropped."""
    url = str(value or "")
    return url if url.startswith(("https://", "http://")) else ""


def _day(moment: datetime | date) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def _moment(value: str, zone: ZoneInfo) -> str:
    local = instant(value).astimezone(zone)
    return f"{_day(local)}, {local:%H:%M} ({zone.key}, {local.tzname()})"


def _span(booking: dict[str, Any], zone: ZoneInfo) -> str:
    start = instant(booking["starts_at"]).astimezone(zone)
    end = instant(booking["ends_at"]).astimezone(zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f"{_day(end)}, {end:%H:%M}"
    return f"{_day(start)}, {start:%H:%M} to {until} ({zone.key}, {start.tzname()})"


def _offer_made(n: Notification, zone: ZoneInfo, _invite: bool) -> Content:
    d = n.data
    ask = f"{d['request_alias']} would like a {mode_name(d['mode'])} (language: {d['language']})."
    if d.get("is_urgent"):
        ask += " It is marked urgent: please answer as soon as you can."
    until = f"The offer is open until {_moment(d['expires_at'], zone)}. "
    act = "Open PeerLine to accept or decline it; the details are there, never in e-mail."
    return Content("New peer chat request", (ask, until + act))


def _offer_closed(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    alias = n.data["request_alias"]
    if n.kind == "offer_taken":
        taken = f"Another supporter has taken {alias}'s request. Nothing to do."
        return Content("Peer chat request taken", (taken,))
    return Content("Peer chat offer expired", (f"The offer to talk with {alias} has expired.",))


def _matched(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    who, mode = n.data["supporter_alias"], mode_name(n.data["mode"])
    said = f"{who} will meet you for a {mode}. Look out for them where you asked for the chat."
    return Content("You have a peer supporter", (said,))


def _nobody_free(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    wait = duration(int(n.data["wait_minutes"]))
    said = [f"No peer supporter is free right now. We will keep trying for {wait}."]
    if n.data.get("can_book"):
        said.append("If you would rather not wait, you can book a time that suits you.")
    said.append("Other help, including the support lines below, is there for you meanwhile.")
    return Content("Nobody is free just now", tuple(said))


def _request_expired(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    said = ["Nobody became free in time, so your request has closed. We are sorry."]
    if n.data.get("can_book"):
        said.append("You can book a time that suits you instead.")
    return Content("Your peer chat request has closed", tuple(said))


def _booking(n: Notification, zone: ZoneInfo, invite: bool) -> Content:
    booking = n.data["booking"]
    chat, when = (
        f"{mode_name(booking.get('mode'))} with {n.data['other_alias']}",
        _span(booking, zone),
    )
    add = " The calendar invite in this e-mail adds it to your calendar." if invite else ""
    if n.kind == "booking_confirmed":
        return Content("Your peer chat is booked", (f"Your {chat} is booked for {when}.{add}",))
    if n.kind == "booking_changed":
        return Content("Your peer chat has moved", (f"Your {chat} has moved to {when}.{add}",))
    return Content("Peer chat cancelled", (f"Your {chat} on {when} has been cancelled.{_by(n)}",))


def _by(n: Notification) -> str:
    by = n.data.get("cancelled_by")
    if by == n.audience:
        return " You cancelled it."
    return f" {n.data['other_alias']} cancelled it." if by in ("requester", "supporter") else ""


def _booking_reminder(n: Notification, zone: ZoneInfo, _invite: bool) -> Content:
    booking, soon = n.data["booking"], duration(int(n.data["minutes_before"]))
    chat = f"{mode_name(booking.get('mode'))} with {n.data['other_alias']}"
    said = f"Your {chat} starts in {soon}: {_span(booking, zone)}."
    return Content(f"Reminder: peer chat in {soon}", (said,))


def _session_link(n: Notification, zone: ZoneInfo, _invite: bool) -> Content:
    """The video call's join link; a requester also learns how to join without their name."""
    booking, url = n.data["booking"], join_url(n.data)
    chat = f"{mode_name(booking.get('mode'))} with {n.data['other_alias']}"
    said = [f"Your {chat} on {_span(booking, zone)} is a Teams meeting. Join it here:\n{url}"]
    if n.audience == "requester":
        said.append(ANONYMOUS_JOIN)
    else:
        said.append('It is in your calendar as "Peer chat". Let them in from the lobby.')
    return Content("Your link for the peer chat", tuple(said))


def _feedback_prompt(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    thanks = f"Thank you for talking with {n.data['supporter_alias']}. If you have a moment, "
    ask = "tell us how it went where you asked for the chat."
    anonymous = "Feedback is anonymous: it is not linked to you or to your request."
    return Content("How was your peer chat?", (thanks + ask, anonymous))


def _training(n: Notification, _zone: ZoneInfo, _invite: bool) -> Content:
    d = n.data
    whose = "Your" if n.audience == "supporter" else f"{d['supporter_alias']}'s"
    what, on = f"{whose} {d['training']} training", _day(date.fromisoformat(d["expires_on"]))
    until = "No chats are offered until it is renewed."
    if n.kind == "training_expiring":
        left = count(int(d["days_left"]), "day")
        said = f"{what} expires on {on} ({left} from now). Renew it to keep being offered chats."
        return Content("Peer support training expires soon", (said,))
    return Content("Peer support training has lapsed", (f"{what} expired on {on}. {until}",))


RENDERERS: dict[str, Renderer] = {
    "offer_made": _offer_made,
    "offer_taken": _offer_closed,
    "offer_expired": _offer_closed,
    "matched": _matched,
    "nobody_free": _nobody_free,
    "request_expired": _request_expired,
    "booking_confirmed": _booking,
    "booking_changed": _booking,
    "booking_cancelled": _booking,
    "booking_reminder": _booking_reminder,
    "session_link": _session_link,
    "feedback_prompt": _feedback_prompt,
    "training_expiring": _training,
    "training_lapsed": _training,
}
