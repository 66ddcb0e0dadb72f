"""What an e-mail says for each notification kind: neutral subject, plain text and HTML.

E-mail sits in mailboxes and relays that retention cannot reach, so messages carry only
aliases, times and modes: never a topic, a note or anyone's address but the recipient's.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader

from core.notify.wording import count, duration, instant, mode_name, zone_of
from core.ports import Notification
from core.schemas.programs import NOT_A_CRISIS_SERVICE

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# 7bit: bodies go out quoted-printable or base64 when needed, so no relay must speak 8BITMIME
POLICY = default_policy.clone(cte_type="7bit")
_html = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


@dataclass(frozen=True)
class Content:
    """What one message says, before it is laid out as text and HTML."""

    subject: str
    paragraphs: tuple[str, ...]


Renderer = Callable[[Notification, ZoneInfo, bool], Content]
ANONYMOUS_JOIN = (
    "Teams may show your name when you join. To stay anonymous, open the link in a private "
    "browser window, choose to join on the web, and enter your alias as your name."
)


def build_message(
    notification: Notification,
    *,
    sender: str,
    recipient: str,
    now: datetime,
    invite: bytes | None = None,
) -> EmailMessage:
    """The whole e-mail; an invite is a text/calendar alternative, as Outlook and Gmail expect."""
    content = render(notification, has_invite=invite is not None)
    message = EmailMessage(policy=POLICY)
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = format_datetime(now.astimezone(UTC))
    message["Message-ID"] = message_id(notification.dedupe_key, sender)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to us
    message.set_content(text_body(notification, content))
    message.add_alternative(html_body(notification, content), subtype="html")
    if invite is not None:
        method = str(notification.data["method"])
        message.add_alternative(
            invite.decode("utf-8"), subtype="calendar", params={"method": method}
        )
    return message


def message_id(dedupe_key: str, sender: str) -> str:
    """The same notification always gets the same Message-ID, so a resend is recognisable."""
    digest = hashlib.sha256(f"peerline-email:{dedupe_key}".encode()).hexdigest()[:40]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "peerline.invalid"
    return f"<{digest}@{domain}>"


def render(notification: Notification, *, has_invite: bool = False) -> Content:
    """Subject and paragraphs for one kind; an unknown kind or missing key raises."""
    renderer = RENDERERS.get(notification.kind)
    if renderer is None:
        raise ValueError(f"no e-mail wording for kind {notification.kind!r}")
    return renderer(notification, zone_of(notification.data), has_invite)


def text_body(notification: Notification, content: Content) -> str:
    """Plain text, wrapped for reading in any client; requesters always get the resources."""
    blocks = ["Hello,", *content.paragraphs]
    crisis = crisis_block(notification)
    if crisis is not None:
        resources = [_resource_lines(r) for r in crisis["resources"]]
        blocks += [crisis["not_a_crisis"], "\n".join(resources)]
    wrapped = [_wrap(block) for block in blocks]
    return "\n\n".join([*wrapped, "-- \n" + _wrap(footer(notification))]) + "\n"


def html_body(notification: Notification, content: Content) -> str:
    """HTML from one template with autoescape on, so nothing in `data` can inject markup."""
    return _html.get_template("email_message.html").render(
        lang=str(notification.data.get("locale", "en")),
        subject=content.subject,
        paragraphs=content.paragraphs,
        crisis=crisis_block(notification),
        footer=footer(notification),
    )


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


def _resource_lines(resource: dict[str, str]) -> str:
    lines = [f"- {resource['name']}: {resource['contact']}"]
    lines += [f"  {extra}" for extra in (resource["description"], resource["url"]) if extra]
    return "\n".join(lines)


def _safe_url(value: object) -> str:
    """Only web links become links; anything else (javascript:, data:) is dropped."""
    url = str(value or "")
    return url if url.startswith(("https://", "http://")) else ""


def _wrap(block: str) -> str:
    """Wrap at 72 columns; list items keep their hanging indent, links are never broken."""
    return "\n".join(
        textwrap.fill(
            line,
            72,
            subsequent_indent="  " if line.startswith(("- ", "  ")) else "",
            break_long_words=False,
            break_on_hyphens=False,
        )
        for line in block.split("\n")
    )


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


def join_url(data: dict[str, Any]) -> str:
    """Only an https link is ever shown; anything else is a message we must not write."""
    url = str(data.get("join_url") or "")
    if not url.startswith("https://") or any(c.isspace() or c in '<>"' for c in url):
        raise ValueError("a session link needs an https join URL")
    return url


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
