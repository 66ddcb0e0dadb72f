"""What the Home tab shows: the data read for one person, and its Block Kit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.notify.wording import MODES
from core.schemas.programs import CrisisResourceOut
from integrations.slack.blocks import span
from integrations.slack.modals import escape

Block = dict[str, Any]
ASK, CANCEL, PAUSE, RESUME = "home_ask", "home_cancel", "home_pause", "home_resume"
PAUSE_UNTIL = "home_pause_until"
MAX_RESOURCES_SHOWN = 30  # what a program may hold
MAX_REQUESTS_SHOWN = 10
MAX_SESSIONS_SHOWN = 20
CANCELLABLE = frozenset({"open", "offered", "matched", "scheduled"})
WAITING, MATCHED = "waiting for a supporter", "matched with a supporter"
STATUS_WORDS = {"open": WAITING, "offered": WAITING, "matched": MATCHED, "in_chat": "in chat now"}


@dataclass(frozen=True)
class OwnRequest:
    """One of the viewer's requests: its alias, its status and, when booked, its time."""

    id: uuid.UUID
    alias: str
    status: str
    slot: tuple[datetime, datetime] | None


@dataclass(frozen=True)
class SupporterPanel:
    """What a supporter sees of their own record: pause state, load and upcoming sessions."""

    paused: bool
    time_zone: str
    blocked: tuple[str, ...]
    this_week: int
    weekly_cap: int
    concurrent_cap: int
    sessions: tuple[tuple[datetime, datetime, str, str], ...]  # start, end, mode, alias


@dataclass(frozen=True)
class Home:
    """Everything one person's Home tab shows, read in one unit of work."""

    notice: str
    resources: list[CrisisResourceOut]
    time_zone: str
    linked: bool = False
    requests: tuple[OwnRequest, ...] = ()
    supporter: SupporterPanel | None = None


def home_view(home: Home, zone: ZoneInfo, command: str, said: str | None = None) -> Block:
    """Notice and resources first, always; then asking, one's requests, a supporter's panel."""
    blocks: list[Block] = [{"type": "header", "text": _plain("Peer support")}]
    if said:
        blocks.append(_section(said))
    blocks += _safety(home)
    if home.linked:
        blocks += _asking(command) + _requests(home.requests, zone)
    if home.supporter is not None:
        blocks += _supporting(home.supporter, zone)
    return {"type": "home", "blocks": blocks}


def _safety(home: Home) -> list[Block]:
    lines = [_resource(r) for r in home.resources[:MAX_RESOURCES_SHOWN]]
    chunks: list[str] = []
    for line in lines:  # sections under Slack's 3,000 characters, no resource dropped
        if chunks and len(chunks[-1]) + 1 + len(line) <= 3000:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return [
        _section(escape(home.notice)),
        _section("*If you need help now*"),
        *(_section(chunk) for chunk in chunks),
    ]


def _resource(resource: CrisisResourceOut) -> str:
    line = f"• *{escape(resource.name)}*: {escape(resource.contact)}"
    if resource.description:
        line += f" ({escape(resource.description)})"
    return line + (f" {escape(resource.url)}" if resource.url else "")


def _asking(command: str) -> list[Block]:
    said = (
        "*Talk to a trained peer supporter*, in confidence: nobody at work learns who asked. "
        f"You can also type `{command}` in any message box."
    )
    return [{"type": "divider"}, _section(said, _button(ASK, "Talk to a peer", "ask", "primary"))]


def _requests(own: tuple[OwnRequest, ...], zone: ZoneInfo) -> list[Block]:
    if not own:
        return [_section("*Your requests*\nYou have not asked for a chat here yet.")]
    blocks = [_section("*Your requests*")]
    for request in own:
        words = STATUS_WORDS.get(request.status, request.status.replace("_", " "))
        if request.slot is not None:
            words = f"scheduled for {escape(_span(request.slot, zone))}"
        cancel = _button(CANCEL, "Cancel", str(request.id), confirm=True)
        accessory = cancel if request.status in CANCELLABLE else None
        blocks.append(_section(f"*{escape(request.alias)}*: {words}", accessory))
    return blocks


def _supporting(panel: SupporterPanel, zone: ZoneInfo) -> list[Block]:
    if panel.paused:
        state = "You are *paused*: no requests are offered to you. Booked sessions stay."
        toggle = _button(RESUME, "I'm available", "resume", "primary")
    else:
        state = "You are *available*: new requests can be offered to you."
        toggle = _button(PAUSE, "Pause now", "pause")
    if panel.blocked:
        state += "\nNot offered chats until this is fixed: " + escape("; ".join(panel.blocked))
    load = (
        f"This week: *{panel.this_week}* of *{panel.weekly_cap}* sessions. "
        f"At most *{panel.concurrent_cap}* chats at once."
    )
    sessions = [
        f"• {escape(_span((start, end), zone))}: {MODES.get(mode, 'chat')} with *{escape(who)}*"
        for start, end, mode, who in panel.sessions
    ] or ["No sessions booked in the next 14 days."]
    return [
        {"type": "divider"},
        {"type": "header", "text": _plain("Your peer supporter role")},
        _section(state, toggle),
        _pause_until(),
        _section(load),
        _section("*Upcoming sessions*\n" + "\n".join(sessions)),
    ]


def _pause_until() -> Block:
    """A pause that ends by itself: pick the first day back."""
    return {
        "type": "section",
        "block_id": "pause_until",
        "text": {"type": "mrkdwn", "text": "Or pause until a date (you are back that day):"},
        "accessory": {
            "type": "datepicker",
            "action_id": PAUSE_UNTIL,
            "placeholder": _plain("Back on"),
        },
    }


def _span(slot: tuple[datetime, datetime], zone: ZoneInfo) -> str:
    return span({"starts_at": slot[0].isoformat(), "ends_at": slot[1].isoformat()}, zone)


def _button(
    action_id: str, label: str, value: str, style: str | None = None, *, confirm: bool = False
) -> Block:
    button: Block = {"type": "button", "action_id": action_id, "text": _plain(label)}
    button["value"] = value
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = {
            "title": _plain("Cancel this request?"),
            "text": _plain("Any chat or booked time for it is cancelled too."),
            "confirm": _plain("Cancel it"),
            "deny": _plain("Keep it"),
        }
    return button


def _section(mrkdwn: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}
    return block | ({"accessory": accessory} if accessory else {})


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": True}
