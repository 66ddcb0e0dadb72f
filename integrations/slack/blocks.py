"""What a Slack DM says for each notification kind, as fallback text and Block Kit blocks.

Slack keeps messages beyond PeerLine's retention window, so requesters' messages carry only
aliases, times and modes: never a topic or a note. Every value from a snapshot is escaped,
so an alias or a resource name can never become a mention (`<!channel>`) or a link.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from core.notify.wording import (
    ANONYMOUS_JOIN,
    chat_text,
    count,
    duration,
    instant,
    join_url,
    mode_name,
    zone_of,
)
from core.ports import Notification
from integrations.slack.relay_text import Side, chat_buttons

Block = dict[str, Any]
NOT_A_CRISIS = (
    "PeerLine connects you with a trained peer supporter. It is not a crisis or emergency "
    "service. If you are in danger, contact one of the resources below or your local "
    "emergency number now."
)
SECTION_LIMIT = 3000  # Slack refuses a section whose text is longer
ACCEPT, DECLINE = "offer_accept", "offer_decline"
FEEDBACK = "feedback_open"
EN_DASH = "\u2013"


@dataclass(frozen=True)
class Content:
    """One message before layout: a plain-text title, mrkdwn paragraphs, any extra blocks."""

    title: str
    paragraphs: tuple[str, ...]
    extra: tuple[Block, ...] = field(default=())


Renderer = Callable[[Notification, ZoneInfo], Content]


def render(notification: Notification) -> tuple[str, list[Block]]:
    """Fallback text (push notifications, screen readers) and blocks; a missing key raises."""
    renderer = RENDERERS.get(notification.kind, _generic)
    content = renderer(notification, zone_of(notification.data))
    blocks: list[Block] = [_header(content.title)]
    blocks += [_section(p) for p in content.paragraphs]
    blocks += content.extra
    program = notification.data.get("program") or {}
    blocks.append(_context(f"{escape(program.get('name') or 'PeerLine')} peer support"))
    text = " ".join([content.title + ".", *(_plain(p) for p in content.paragraphs)])
    if notification.audience == "requester":
        crisis_text, crisis = crisis_blocks(notification)
        blocks += crisis
        text += " " + crisis_text
    return text, blocks


def escape(value: object) -> str:
    """Slack mrkdwn's control characters, so snapshot text is shown, never interpreted."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def offer_id_of(notification: Notification) -> str:
    """The offer's id, which the snapshot lacks: dedupe keys are `<offer kind>:<offer uuid>`."""
    kind, _, rest = notification.dedupe_key.partition(":")
    if not kind.startswith("offer_") or not rest:
        raise ValueError("this notification is not about an offer")
    return str(uuid.UUID(rest))


def crisis_blocks(notification: Notification) -> tuple[str, list[Block]]:
    """Never a dead end: what this service is not, and who can help now, in text and blocks."""
    resources = notification.data.get("crisis_resources") or []
    not_a_crisis = escape(notification.data.get("not_a_crisis") or NOT_A_CRISIS)
    blocks: list[Block] = [{"type": "divider"}, _section(f":information_source: {not_a_crisis}")]
    blocks += [_section(chunk) for chunk in _chunks([_resource(r) for r in resources])]
    names = [f"{escape(r.get('name', ''))}: {escape(r.get('contact', ''))}" for r in resources]
    return " ".join([not_a_crisis, "; ".join(names)]).strip(), blocks


def moment(value: str, zone: ZoneInfo) -> str:
    """e.g. "Thu 5 Mar, 14:00 (Europe/London)"."""
    local = instant(value).astimezone(zone)
    return f"{_day(local)}, {local:%H:%M} ({zone.key})"


def span(booking: dict[str, Any], zone: ZoneInfo) -> str:
    """e.g. "Thu 5 Mar, 14:00 to 14:45" with an en dash; the end date only when it differs."""
    start = instant(booking["starts_at"]).astimezone(zone)
    end = instant(booking["ends_at"]).astimezone(zone)
    until = f"{end:%H:%M}" if end.date() == start.date() else f" {_day(end)}, {end:%H:%M}"
    return f"{_day(start)}, {start:%H:%M}{EN_DASH}{until} ({zone.key})"


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b}"


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:SECTION_LIMIT]}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def _plain(mrkdwn: str) -> str:
    """Fallback text is mrkdwn too; only our own bold markers need to go."""
    return mrkdwn.replace("*", "")


def _resource(resource: dict[str, Any]) -> str:
    line = f"• *{escape(resource.get('name', ''))}*: {escape(resource.get('contact', ''))}"
    if resource.get("description"):
        line += f" — {escape(resource['description'])}"
    url = str(resource.get("url") or "")
    if url.startswith(("https://", "http://")):  # only web links; javascript: and the like go
        line += f" <{escape(url).replace('|', '%7C')}>"
    return line


def _chunks(lines: list[str]) -> list[str]:
    """Resource lines grouped into sections under Slack's length limit, none dropped."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= SECTION_LIMIT:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


def _button(action_id: str, label: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


def _offer_made(n: Notification, zone: ZoneInfo) -> Content:
    d, offer = n.data, offer_id_of(n)
    urgent = bool(d.get("is_urgent"))
    facts = [
        ("Request", escape(d["request_alias"])),
        ("Topic", escape(d["topic"])),
        ("Mode", mode_name(d["mode"])),
        ("Language", escape(d["language"])),
        ("Urgent", ":rotating_light: Yes" if urgent else "No"),
    ]
    fields = {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{value}"} for name, value in facts],
    }
    ask = f"*{escape(d['request_alias'])}* would like a {mode_name(d['mode'])}."
    if urgent:
        ask += " It is marked *urgent*: please answer as soon as you can."
    until = f"The offer is open until {escape(moment(d['expires_at'], zone))}."
    actions = {
        "type": "actions",
        "block_id": "offer",
        "elements": [
            _button(ACCEPT, "Accept", offer, "primary"),
            _button(DECLINE, "Decline", offer),
        ],
    }
    return Content("New peer chat request", (ask, until), (fields, actions))


def _offer_closed(n: Notification, _zone: ZoneInfo) -> Content:
    alias = escape(n.data["request_alias"])
    if n.kind == "offer_taken":
        said = f"Another supporter has taken *{alias}*'s request. Nothing to do."
        return Content("Request taken by someone else", (said,))
    return Content("This offer has expired", (f"The offer to talk with *{alias}* has expired.",))


def _matched(n: Notification, _zone: ZoneInfo) -> Content:
    who, mode = escape(n.data["supporter_alias"]), mode_name(n.data["mode"])
    said = f"*{who}* will meet you for a {mode}. Look out for them where you asked for the chat."
    return Content("You have a peer supporter", (said,))


def _nobody_free(n: Notification, _zone: ZoneInfo) -> Content:
    wait = duration(int(n.data["wait_minutes"]))
    said = [f"No peer supporter is free right now. We will keep trying for {wait}."]
    if n.data.get("can_book"):
        said.append("If you would rather not wait, you can book a time that suits you.")
    said.append("Other help, including the support lines below, is there for you meanwhile.")
    return Content("Nobody is free just now", tuple(said))


def _request_expired(n: Notification, _zone: ZoneInfo) -> Content:
    said = ["Nobody became free in time, so your request has closed. We are sorry."]
    if n.data.get("can_book"):
        said.append("You can book a time that suits you instead.")
    return Content("Your peer chat request has closed", tuple(said))


def _booking(n: Notification, zone: ZoneInfo) -> Content:
    booking = n.data["booking"]
    chat = f"{mode_name(booking.get('mode'))} with *{escape(n.data['other_alias'])}*"
    when = f"*{escape(span(booking, zone))}*"
    if n.kind == "booking_confirmed":
        return Content("Your peer chat is booked", (f"Your {chat} is booked for {when}.",))
    if n.kind == "booking_changed":
        return Content("Your peer chat has moved", (f"Your {chat} has moved to {when}.",))
    return Content("Peer chat cancelled", (f"Your {chat} on {when} has been cancelled.{_by(n)}",))


def _by(n: Notification) -> str:
    by = n.data.get("cancelled_by")
    if by == n.audience:
        return " You cancelled it."
    other = escape(n.data["other_alias"])
    return f" {other} cancelled it." if by in ("requester", "supporter") else ""


def _booking_reminder(n: Notification, zone: ZoneInfo) -> Content:
    booking, soon = n.data["booking"], duration(int(n.data["minutes_before"]))
    chat = f"{mode_name(booking.get('mode'))} with *{escape(n.data['other_alias'])}*"
    said = f"Your {chat} starts in {soon}: {escape(span(booking, zone))}."
    return Content(f"Reminder: peer chat in {soon}", (said,))


def _session_link(n: Notification, zone: ZoneInfo) -> Content:
    """The video call's join link; a requester also learns how to join without their name."""
    booking, url = n.data["booking"], join_url(n.data)
    chat = f"{mode_name(booking.get('mode'))} with *{escape(n.data['other_alias'])}*"
    link = f"<{escape(url).replace('|', '%7C')}|Join the video call>"
    said = [f"Your {chat} on *{escape(span(booking, zone))}* is a Teams meeting. {link}"]
    said.append(
        escape(ANONYMOUS_JOIN)
        if n.audience == "requester"
        else 'It is in your calendar as "Peer chat". Let them in from the lobby.'
    )
    return Content("Your link for the peer chat", tuple(said))


def _feedback_prompt(n: Notification, _zone: ZoneInfo) -> Content:
    thanks = f"Thank you for talking with *{escape(n.data['supporter_alias'])}*."
    ask = "If you have a moment, tell us how it went."
    anonymous = "Feedback is anonymous: it is not linked to you or to your request."
    actions: tuple[Block, ...] = ()
    if n.request_id is not None:
        button = _button(FEEDBACK, "Give feedback", str(n.request_id), "primary")
        actions = ({"type": "actions", "block_id": "feedback", "elements": [button]},)
    return Content("How was your peer chat?", (f"{thanks} {ask}", anonymous), actions)


def _training(n: Notification, _zone: ZoneInfo) -> Content:
    d = n.data
    whose = "Your" if n.audience == "supporter" else f"{escape(d['supporter_alias'])}'s"
    what = f"{whose} *{escape(d['training'])}* training"
    expires = date.fromisoformat(d["expires_on"])
    on = f"{expires:%A} {expires.day} {expires:%B %Y}"
    if n.kind == "training_expiring":
        left = count(int(d["days_left"]), "day")
        said = f"{what} expires on {on} ({left} from now). Renew it to keep being offered chats."
        return Content("Peer support training expires soon", (said,))
    said = f"{what} expired on {on}. No chats are offered until it is renewed."
    return Content("Peer support training has lapsed", (said,))


def _chat(n: Notification, _zone: ZoneInfo) -> Content:
    """A relayed chat's start (with its card's buttons), lines and end; aliases in bold."""
    if n.kind == "relay_line":  # the sender's words: shown as written, never interpreted
        said = f"*{escape(n.data['from_alias'])}*: {escape(n.data['text'])}"
    else:
        said = chat_text(n.kind, n.audience, n.data, bold=lambda alias: f"*{escape(alias)}*")
    if n.kind != "relay_started" or n.request_id is None:
        return Content("The chat has ended" if n.kind == "relay_ended" else "PeerLine", (said,))
    other = n.data["supporter_alias" if n.audience == "requester" else "requester_alias"]
    side: Side = "requester" if n.audience == "requester" else "supporter"
    buttons = chat_buttons(side, str(n.request_id), other)
    return Content(f"Chat with {other}", (said,), tuple(buttons))


def _generic(n: Notification, _zone: ZoneInfo) -> Content:
    """A kind this module does not know (a plugin's own): its `text`, or a neutral line."""
    text = n.data.get("text")
    said = escape(text) if isinstance(text, str) and text.strip() else "You have a new update."
    return Content("PeerLine", (said,))


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
    "relay_started": _chat,
    "relay_line": _chat,
    "relay_ended": _chat,
}
