"""What a Teams chat line becomes before it is passed on: plain words, nothing that says who.

Teams sends a message's text with its mentions as `<at>Name</at>` and, depending on the
client, some HTML. Mentions, e-mail addresses, Entra object ids and links into Teams,
SharePoint, OneDrive or Outlook (which carry names and open profiles or files) are replaced
by a note; files are never passed on. Ordinary web links stay: they are how people share a
resource. Whatever app the other side is in escapes the result for itself.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urlsplit

SOMEONE = "@someone"
TEAMS_LINK = "(a link into Teams or Microsoft 365 was not passed on)"
EMAIL = "(an e-mail address was not passed on)"
AN_ID = "(an id was not passed on)"
FILE_NOTE = "(a file was not passed on: files could identify people)"
NOT_RUNNING = "This chat is no longer running."
FILES_KEPT = "Files are not passed on, because they could identify people. Your words were."
PICK_A_CHAT = (
    "You are in more than one chat right now, so this message was not passed on. Please use "
    "the reply box on the card of the chat you mean (\u201cChat with \u2026\u201d)."
)
SENT = "Sent."
MICROSOFT_HOSTS = (
    "teams.microsoft.com",
    "teams.live.com",
    "teams.cloud.microsoft",
    "sharepoint.com",
    "sharepoint-df.com",
    "onmicrosoft.com",
    "office.com",
    "office365.com",
    "officeapps.live.com",
    "onedrive.live.com",
    "1drv.ms",
    "microsoftstream.com",
    "outlook.com",
    "live.com",
)
TEXT_ATTACHMENTS = frozenset({"text/html", "text/plain"})  # the message itself, as rich text

_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<br\s*/?>|</p>|</div>|</li>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_EMAIL = re.compile(r"(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")
_BARE_HOST = re.compile(
    r"(?i)\b[\w.-]*\b(?:" + "|".join(re.escape(h) for h in MICROSOFT_HOSTS) + r")\b[^\s]*"
)
_GUID = re.compile(
    r"(?i)\b(?:8:orgid:)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)
_BLANK_LINES = re.compile(r"\n{3,}")


def has_files(activity: dict[str, Any]) -> bool:
    """Files, images or cards came with the message (the rich-text copy of it does not count)."""
    return any(
        isinstance(a, dict) and a.get("contentType") not in TEXT_ATTACHMENTS
        for a in activity.get("attachments") or []
    )


def clean(text: str, *, with_files: bool = False) -> str:
    """A Teams message as plain text without anything that points at a person."""
    plain = _MENTION.sub(SOMEONE, text)
    plain = _BREAK.sub("\n", plain)
    plain = html.unescape(_TAG.sub("", plain))
    plain = _URL.sub(_link, plain)
    plain = _BARE_HOST.sub(TEAMS_LINK, plain)
    plain = _EMAIL.sub(EMAIL, plain)
    plain = _GUID.sub(AN_ID, plain)
    plain = _BLANK_LINES.sub("\n\n", plain).strip()
    if with_files:
        plain = f"{plain}\n\n{FILE_NOTE}" if plain else FILE_NOTE
    return plain


def _link(match: re.Match[str]) -> str:
    url = match.group(0)
    host = (urlsplit(url if "://" in url else f"https://{url}").hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in MICROSOFT_HOSTS):
        return TEAMS_LINK
    if "@" in url:  # credentials or an address inside a link
        return EMAIL
    return url
