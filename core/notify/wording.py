"""What every channel says alike: mode names, snapshot times, zones, counted units, chats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MODES = {"text": "text chat", "video": "video call", "in_person": "meeting in person"}


def mode_name(value: object) -> str:
    return MODES.get(str(value), "peer chat")


def instant(value: str) -> datetime:
    """An ISO 8601 time from the snapshot; a naive one (SQLite) is UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def zone_of(data: dict[str, Any]) -> ZoneInfo:
    """The reader's zone; an unknown name falls back to UTC rather than failing the message."""
    try:
        return ZoneInfo(str(data.get("time_zone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def count(number: int, unit: str) -> str:
    return f"{number} {unit}" + ("" if number == 1 else "s")


def duration(minutes: int) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        return count(minutes // 60, "hour")
    return count(minutes, "minute")


# -- a video session's link

ANONYMOUS_JOIN = (
    "Teams may show your name when you join. To stay anonymous, open the link in a private "
    "browser window, choose to join on the web, and enter your alias as your name."
)


def join_url(data: dict[str, Any]) -> str:
    """Only an https link is ever shown; anything else is a message we must not write."""
    url = str(data.get("join_url") or "")
    if not url.startswith("https://") or any(c.isspace() or c in '<>"' for c in url):
        raise ValueError("a session link needs an https join URL")
    return url


# -- relayed chats: what each side reads, whatever app either of them is in ---------------------

Bold = Callable[[str], str]
CHAT_NOT_PASSED = "Mentions, links into chat apps and files are not passed on."


def plain(text: str) -> str:
    return text


def chat_text(kind: str, audience: str, data: dict[str, Any], bold: Bold = plain) -> str:
    """A relay message's words; `bold` marks an alias up for the app that shows it."""
    if kind == "relay_line":
        return f"{bold(str(data['from_alias']))}: {data['text']}"
    if kind == "relay_started":
        requester, supporter = bold(data["requester_alias"]), bold(data["supporter_alias"])
        if audience == "supporter":
            return (
                f"You are now talking with {requester}. Write here: each message is passed on "
                f"under your alias, {supporter}. {CHAT_NOT_PASSED} "
                "Press End chat on the chat's card when you are done."
            )
        return (
            f"{supporter} is here to talk with you. Write here: they see only the alias "
            f"{requester}, never your name. {CHAT_NOT_PASSED} You can end the chat at any time."
        )
    if kind == "relay_ended":
        by, said = data.get("by"), ["The chat has ended."]
        if by is not None:
            said.append(
                "You ended the chat."
                if by == audience
                else f"{bold(data['other_alias'])} ended the chat."
            )
        said.append("Nothing you write here now is passed on.")
        if audience == "supporter":
            said.append("Thank you for being there. If it was a hard one, ask for a debrief.")
        return " ".join(said)
    raise KeyError(kind)
